/**
 * The conformance testees (what the Autobahn fuzzing server and fuzzing client drive):
 *
 * - `wspp testee-server`: echoes every message with its opcode.
 * - `wspp testee-client`: the fuzzing-server convention — read the case count from
 *   `/getCaseCount` (a text message), run each case at `/runCase?case=N&agent=NAME`
 *   echoing every message until the server closes, then `/updateReports?agent=NAME`.
 *
 * `--deflate` turns permessage-deflate on (see deflateConfig in args.ts).
 */
import { serverLogging, serveUntilSignal } from './serve.js';
import type { ConnectionHdl } from '../handle.js';
import { config, extend } from '../config/index.js';
import { closeCodeName } from '../protocol/close.js';
import { WsppError } from '../protocol/errors.js';
import { Server } from '../roles/server.js';
import { parseWsUri } from '../uri.js';
import { boolFlag, deflateConfig, intFlag, stringFlag, UsageError, type CommandSpec, type ParsedArgs } from './args.js';
import { DualClient, type ReceivedMessage } from './client.js';

/** Autobahn's largest messages are 16 MiB; leave room. */
const TESTEE_MAX_MESSAGE = 64 * 1024 * 1024;

function announceDeflate(requested: boolean): void {
}

// --- testee-server -------------------------------------------------------------------

export const TESTEE_SERVER_SPEC: CommandSpec = {
  name: 'testee-server',
  summary: 'the conformance testee server: echoes every message with its opcode',
  description: `
The testee server for a WebSocket conformance suite (Autobahn's fuzzing client): every
message comes back with the same opcode. Prints "listening on ws://HOST:PORT/" first;
SIGINT or SIGTERM stops it.`,
  options: [
    { name: 'port', kind: 'port', value: 'P', help: 'port to listen on (default 9002; 0 picks a free one)' },
    { name: 'host', kind: 'string', value: 'H', help: 'address to listen on (default 127.0.0.1)' },
    { name: 'deflate', kind: 'boolean', help: 'enable permessage-deflate (RFC 7692)' },
    { name: 'verbose', kind: 'boolean', help: 'log connections and errors to stderr' },
  ],
};

export async function runTesteeServer(args: ParsedArgs): Promise<number> {
  const port = intFlag(args, 'port', 9002);
  const host = stringFlag(args, 'host') ?? '127.0.0.1';
  const deflate = boolFlag(args, 'deflate');
  announceDeflate(deflate);
  const server = new Server(
    extend(config.tcp, {
      ...deflateConfig(deflate),
      logging: serverLogging(boolFlag(args, 'verbose')),
      keepAlive: false,
      maxMessageSize: TESTEE_MAX_MESSAGE,
    }),
  );
  server.setMessageHandler((hdl, msg) => {
    server.trySend(hdl, msg.payload, msg.opcode);
  });
  return serveUntilSignal(await server.listen(port, host), 'ws', () => server.stop());
}

// --- testee-client -------------------------------------------------------------------

export const TESTEE_CLIENT_SPEC: CommandSpec = {
  name: 'testee-client',
  summary: 'the conformance testee client: runs every case of a fuzzing server',
  description: `
The testee client for a WebSocket conformance suite (Autobahn's fuzzing server): reads
the case count from URL/getCaseCount, runs each case at URL/runCase?case=N&agent=NAME
(echoing every message with its opcode until the server closes), then asks the server
to write its reports at URL/updateReports?agent=NAME. Exits 0 when the case count and
the report update worked (whatever the cases' verdicts), 1 otherwise.`,
  options: [
    { name: 'url', kind: 'string', value: 'URL', help: 'the fuzzing server, e.g. ws://127.0.0.1:9001 (required)' },
    { name: 'agent', kind: 'string', value: 'NAME', help: 'the agent name in the reports (default "wspp")' },
    { name: 'deflate', kind: 'boolean', help: 'offer permessage-deflate (RFC 7692)' },
    { name: 'verbose', kind: 'boolean', help: 'log connections and errors to stderr' },
  ],
};

interface SessionEnd {
  /** The first text message received (getCaseCount). */
  readonly firstText: string | undefined;
  readonly error: WsppError | undefined;
  /** The remote close code, or undefined when the connection failed. */
  readonly closeCode: number | undefined;
}

interface Session {
  readonly echo: boolean;
  firstText: string | undefined;
  readonly done: (end: SessionEnd) => void;
}

/** One connection at a time to the fuzzing server, each resolved when it ends. */
class Sessions {
  private readonly live = new Map<ConnectionHdl, Session>();
  private readonly client: DualClient;

  constructor(deflate: boolean, verbose: boolean) {
    this.client = new DualClient(
      {
        message: (hdl, msg: ReceivedMessage) => {
          const s = this.live.get(hdl);
          if (s === undefined) return;
          if (s.echo) this.client.send(hdl, msg.payload, msg.opcode);
          else if (s.firstText === undefined && msg.opcode === 1) s.firstText = msg.payload.toString('utf8');
        },
        close: (hdl, con) => {
          const s = this.live.get(hdl);
          this.live.delete(hdl);
          s?.done({ firstText: s.firstText, error: con.getEc(), closeCode: con.getRemoteCloseCode() });
        },
        fail: (hdl, con) => {
          const s = this.live.get(hdl);
          this.live.delete(hdl);
          s?.done({ firstText: s.firstText, error: con.getEc() ?? new WsppError('websocket.general'), closeCode: undefined });
        },
      },
      { deflate, verbose, maxMessageSize: TESTEE_MAX_MESSAGE },
    );
  }

  run(uri: string, echo: boolean): Promise<SessionEnd> {
    return new Promise((resolve) => {
      const hdl = this.client.open(uri);
      if (hdl instanceof WsppError) {
        resolve({ firstText: undefined, error: hdl, closeCode: undefined });
        return;
      }
      this.live.set(hdl, { echo, firstText: undefined, done: resolve });
    });
  }
}

function describeEnd(end: SessionEnd): string {
  if (end.closeCode === undefined) return `failed: ${end.error?.message ?? 'unknown error'}`;
  const error = end.error === undefined ? '' : `, error: ${end.error.message}`;
  return `closed ${end.closeCode} (${closeCodeName(end.closeCode)})${error}`;
}

export async function runTesteeClient(args: ParsedArgs): Promise<number> {
  const url = stringFlag(args, 'url');
  if (url === undefined) throw new UsageError('--url is required (e.g. --url ws://127.0.0.1:9001)');
  const parsed = parseWsUri(url);
  if (parsed instanceof WsppError) throw new UsageError(`--url: ${parsed.message}: ${url}`);
  if (parsed.resource.includes('?')) throw new UsageError('--url: no query string, please (the cases add their own)');
  const agent = stringFlag(args, 'agent') ?? 'wspp';
  const deflate = boolFlag(args, 'deflate');
  announceDeflate(deflate);
  const base = url.replace(/\/+$/, '');
  const who = encodeURIComponent(agent);
  const print = (line: string): void => void process.stdout.write(`${line}\n`);
  const sessions = new Sessions(deflate, boolFlag(args, 'verbose'));

  const counted = await sessions.run(`${base}/getCaseCount`, false);
  const count = counted.firstText === undefined ? NaN : Number(counted.firstText.trim());
  if (!Number.isInteger(count) || count < 0) {
    const why = counted.firstText === undefined ? describeEnd(counted) : `not a case count: ${JSON.stringify(counted.firstText)}`;
    process.stderr.write(`wspp testee-client: ${base}/getCaseCount: ${why}\n`);
    return 1;
  }
  print(`${count} case${count === 1 ? '' : 's'} to run as agent "${agent}"`);

  for (let n = 1; n <= count; n++) {
    const end = await sessions.run(`${base}/runCase?case=${n}&agent=${who}`, true);
    print(`case ${n}/${count}: ${describeEnd(end)}`);
  }

  const updated = await sessions.run(`${base}/updateReports?agent=${who}`, false);
  if (updated.closeCode === undefined) {
    process.stderr.write(`wspp testee-client: ${base}/updateReports: ${describeEnd(updated)}\n`);
    return 1;
  }
  print('reports updated');
  return 0;
}
