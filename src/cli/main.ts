#!/usr/bin/env node
/** The `wspp` command. */
import { runDemo } from './demo.js';
import { runEcho } from './echo.js';

const HELP = `usage: wspp <command>

commands:
  demo    a client and a server talking through in-memory buffers: handshake,
          echo, ping and close, printed step by step
  echo    an echo server: --port P (0 picks one) [--host H] [--tls-cert F --tls-key F]
          [--verbose]; prints "listening on ws://HOST:PORT/" first
  help    this text
`;

async function main(argv: string[]): Promise<number> {
  const [command = 'help', ...rest] = argv;
  switch (command) {
    case 'demo':
      return runDemo() ? 0 : 1;
    case 'echo':
      return runEcho(rest);
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

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`wspp: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
