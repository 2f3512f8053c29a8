#!/usr/bin/env node
/** The `wspp` command. */
import { runDemo } from './demo.js';

const HELP = `usage: wspp <command>

commands:
  demo    a client and a server talking through in-memory buffers: handshake,
          echo, ping and close, printed step by step
  help    this text
`;

function main(argv: string[]): number {
  const [command = 'help'] = argv;
  switch (command) {
    case 'demo':
      return runDemo() ? 0 : 1;
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return 0;
    default:
      process.stderr.write(`wspp: unknown command "${command}"\n\n${HELP}`);
      return 2;
  }
}

process.exitCode = main(process.argv.slice(2));
