#!/usr/bin/env node
/**
 * The `wspp` command: subcommand dispatch, `--help` for every command, and exit code 2
 * (with a message naming the problem) for bad options.
 */
import { commandHelp, parseCommandArgs, UsageError, type CommandSpec, type ParsedArgs } from './args.js';
import { BROADCAST_SPEC, runBroadcast } from './broadcast.js';
import { CLIENT_SPEC, runClient } from './client.js';
import { runDemo } from './demo.js';
import { runEcho } from './echo.js';
import { runStart, START_SPEC } from './start.js';
import { runTesteeClient, runTesteeServer, TESTEE_CLIENT_SPEC, TESTEE_SERVER_SPEC } from './testee.js';

interface Command {
  readonly spec: CommandSpec;
  readonly run: (args: ParsedArgs, argv: readonly string[]) => Promise<number>;
  /** Interactive commands end the process when they are done, whatever handles linger. */
  readonly exits?: boolean;
}

const ECHO_SPEC: CommandSpec = {
  name: 'echo',
  summary: 'an echo server: every message back with its opcode',
  description: `
An echo server: every message comes back with the same opcode. Prints
"listening on ws://HOST:PORT/" first; a "stats" line on (piped) stdin prints the
process's CPU time and RSS as JSON. SIGINT or SIGTERM stops it.`,
  options: [
    { name: 'port', kind: 'port', value: 'P', help: 'port to listen on (default 9002; 0 picks a free one)' },
    { name: 'host', kind: 'string', value: 'H', help: 'address to listen on (default 127.0.0.1)' },
    { name: 'tls-cert', kind: 'string', value: 'FILE', help: 'serve wss:// with this certificate (PEM; needs --tls-key)' },
    { name: 'tls-key', kind: 'string', value: 'FILE', help: 'the certificate\'s private key (PEM; needs --tls-cert)' },
    { name: 'deflate', kind: 'boolean', help: 'enable permessage-deflate' },
    { name: 'verbose', kind: 'boolean', help: 'log connections and errors to stderr' },
  ],
};

const DEMO_SPEC: CommandSpec = {
  name: 'demo',
  summary: 'a client and a server talking through in-memory buffers, step by step',
  description: `
A client processor and a server processor talking through in-memory buffers (no
sockets): the opening handshake, an echoed text and binary message, a ping and the
closing handshake, printed as they happen.`,
  options: [],
};

const COMMANDS: Record<string, Command> = {
  client: { spec: CLIENT_SPEC, run: (args) => runClient(args), exits: true },
  start: { spec: START_SPEC, run: (args) => runStart(args), exits: true },
  echo: {
    spec: ECHO_SPEC,
    run: (args, argv) => {
      if (args.flags.has('tls-cert') !== args.flags.has('tls-key')) throw new UsageError('--tls-cert and --tls-key go together');
      return runEcho(argv);
    },
  },
  broadcast: { spec: BROADCAST_SPEC, run: (args) => runBroadcast(args) },
  'testee-server': { spec: TESTEE_SERVER_SPEC, run: (args) => runTesteeServer(args) },
  'testee-client': { spec: TESTEE_CLIENT_SPEC, run: (args) => runTesteeClient(args) },
  demo: { spec: DEMO_SPEC, run: async () => (runDemo() ? 0 : 1) },
};

function mainHelp(): string {
  const names = Object.keys(COMMANDS);
  const width = Math.max(...names.map((n) => n.length)) + 2;
  const lines = names.map((n) => `  ${n.padEnd(width)}${COMMANDS[n]!.spec.summary}`);
  return `usage: wspp <command> [options]

commands:
${lines.join('\n')}
  ${'help'.padEnd(width)}this text

"wspp <command> --help" describes a command's options.
`;
}

/** Runs a command line; resolves to the exit code. */
async function main(argv: readonly string[]): Promise<{ code: number; exits: boolean }> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    const topic = name === 'help' ? rest[0] : undefined;
    const command = topic === undefined ? undefined : COMMANDS[topic];
    process.stdout.write(command === undefined ? mainHelp() : commandHelp(command.spec));
    return { code: 0, exits: false };
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    process.stderr.write(`wspp: unknown command "${name}"\n\n${mainHelp()}`);
    return { code: 2, exits: false };
  }
  try {
    const args = parseCommandArgs(command.spec, rest);
    if (args === undefined) {
      process.stdout.write(commandHelp(command.spec));
      return { code: 0, exits: false };
    }
    return { code: await command.run(args, rest), exits: command.exits === true };
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`wspp ${name}: ${err.message}\nTry "wspp ${name} --help".\n`);
      return { code: 2, exits: false };
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  ({ code, exits }) => {
    process.exitCode = code;
    // The interactive commands are done: do not let a lingering socket keep the user waiting.
    if (exits) setTimeout(() => process.exit(code), 1000).unref();
  },
  (err: unknown) => {
    process.stderr.write(`wspp: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
