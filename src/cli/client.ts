/**
 * `wspp client`: the utility client of WebSocket++'s tutorial, made complete. A prompt
 * (`Enter Command: `) reads commands line by line while the endpoints run in the
 * background; every connection gets a sequential id and a metadata record (status, the
 * server's `Server` header, the error or close reason, subprotocol, extensions, messages)
 * that `show` prints in the tutorial's format.
 *
 * One WebSocket++ client endpoint speaks either ws:// or wss://, so the connection table
 * hides two endpoints (a tcp client and a tls client) behind one id space: DualClient.
 *
 * Interactive (stdin is a terminal): node:readline line editing and history; commands
 * return at once (the connection opens in the background); Ctrl-C and Ctrl-D quit.
 * Scripted (stdin is not a terminal, or --wait): each command waits for what it started
 * (connect: open or fail; close: closed; ping: the pong) before the next line is read, and
 * the prompt and the command are echoed, so the output reads like the tutorial's transcripts.
 */
import { readFileSync } from 'node:fs';
import { clearLine, createInterface, cursorTo, type Interface } from 'node:readline';
import type { ConnectionOptions } from 'node:tls';
import { config, extend } from '../config/index.js';
import type { ConnectionHdl } from '../handle.js';
import { logging } from '../policies/logging/index.js';
import { closeCodeName } from '../protocol/close.js';
import { Opcode, type DataOpcode } from '../protocol/constants.js';
import { errorMessage, WsppError } from '../protocol/errors.js';
import { Client } from '../roles/client.js';
import { parseWsUri } from '../uri.js';
import { boolFlag, deflateConfig, stringFlag, UsageError, type CommandSpec, type ParsedArgs } from './args.js';

// --- the endpoints: one id space over a tcp client and a tls client -------------------

/** What the command needs to read from a connection in its handlers. */
export interface ConnectionView {
  readonly hdl: ConnectionHdl;
  getEc(): WsppError | undefined;
  getResponseHeader(name: string): string;
  getSubprotocol(): string;
  getExtensions(): string;
  getRemoteCloseCode(): number;
  getRemoteCloseReason(): string;
}

/** A received data message, as the handlers see it (message pool `alloc`: owned). */
export interface ReceivedMessage {
  readonly opcode: DataOpcode;
  readonly payload: Buffer;
}

export interface DualClientEvents {
  open?(hdl: ConnectionHdl, con: ConnectionView): void;
  fail?(hdl: ConnectionHdl, con: ConnectionView): void;
  close?(hdl: ConnectionHdl, con: ConnectionView): void;
  message?(hdl: ConnectionHdl, msg: ReceivedMessage): void;
  pong?(hdl: ConnectionHdl, payload: Buffer): void;
  pongTimeout?(hdl: ConnectionHdl, payload: Buffer): void;
}

export interface DualClientOptions {
  /** wss://: do not verify the server's certificate. */
  readonly insecure?: boolean;
  /** wss://: trust these CA certificates (PEM). */
  readonly ca?: Buffer;
  /** Log connections and errors to stderr. */
  readonly verbose?: boolean;
  /** Ask for permessage-deflate (see deflateConfig). */
  readonly deflate?: boolean;
  readonly maxMessageSize?: number;
}

function endpointOverrides(options: DualClientOptions) {
  const log = options.verbose === true
    ? { access: logging.stream(process.stderr, ['access_core']), error: logging.stream(process.stderr, ['all']) }
    : { access: logging.stub(), error: logging.stub() };
  return {
    ...deflateConfig(options.deflate === true),
    logging: log,
    maxMessageSize: options.maxMessageSize ?? 32_000_000,
  };
}

const makeTcp = (options: DualClientOptions) => new Client(extend(config.tcpClient, endpointOverrides(options)));
const makeTls = (options: DualClientOptions) => new Client(extend(config.tlsClient, endpointOverrides(options)));
type TcpClient = ReturnType<typeof makeTcp>;
type TlsClient = ReturnType<typeof makeTls>;

/**
 * A client that opens ws:// and wss:// URIs alike: a tcp endpoint and a tls endpoint
 * (created together, cheap until used) with the same handlers, and operations by handle
 * routed to the endpoint that made the connection.
 */
export class DualClient {
  private readonly tcp: TcpClient;
  private readonly tls: TlsClient;
  /** Which endpoint each live connection belongs to. */
  private readonly owners = new Map<ConnectionHdl, TcpClient | TlsClient>();

  constructor(events: DualClientEvents, options: DualClientOptions = {}) {
    this.tcp = makeTcp(options);
    this.tls = makeTls(options);
    const tlsOptions: ConnectionOptions = options.insecure === true ? { rejectUnauthorized: false } : options.ca !== undefined ? { ca: options.ca } : {};
    this.tls.setTlsInitHandler(() => tlsOptions);

    const open = (hdl: ConnectionHdl, con: ConnectionView): void => events.open?.(hdl, con);
    const fail = (hdl: ConnectionHdl, con: ConnectionView): void => {
      this.owners.delete(hdl);
      events.fail?.(hdl, con);
    };
    const close = (hdl: ConnectionHdl, con: ConnectionView): void => {
      this.owners.delete(hdl);
      events.close?.(hdl, con);
    };
    const message = (hdl: ConnectionHdl, msg: ReceivedMessage): void => events.message?.(hdl, msg);
    const pong = (hdl: ConnectionHdl, payload: Buffer): void => events.pong?.(hdl, payload);
    const pongTimeout = (hdl: ConnectionHdl, payload: Buffer): void => events.pongTimeout?.(hdl, payload);
    this.tcp.setOpenHandler(open);
    this.tcp.setFailHandler(fail);
    this.tcp.setCloseHandler(close);
    this.tcp.setMessageHandler(message);
    this.tcp.setPongHandler(pong);
    this.tcp.setPongTimeoutHandler(pongTimeout);
    this.tls.setOpenHandler(open);
    this.tls.setFailHandler(fail);
    this.tls.setCloseHandler(close);
    this.tls.setMessageHandler(message);
    this.tls.setPongHandler(pong);
    this.tls.setPongTimeoutHandler(pongTimeout);
  }

  /**
   * WebSocket++'s three steps in one: getConnection(uri), configure (subprotocols),
   * connect. Errors (a bad URI, a bad subprotocol) are returned and nothing is started.
   */
  open(uri: string, subprotocols: readonly string[] = []): ConnectionHdl | WsppError {
    const parsed = parseWsUri(uri);
    if (parsed instanceof WsppError) return parsed;
    if (parsed.secure) {
      const con = this.tls.tryGetConnection(uri as `wss://${string}`);
      if (con instanceof WsppError) return con;
      for (const p of subprotocols) {
        const err = con.addSubprotocol(p);
        if (err !== undefined) return err;
      }
      this.owners.set(con.hdl, this.tls);
      this.tls.connect(con);
      return con.hdl;
    }
    const con = this.tcp.tryGetConnection(uri as `ws://${string}`);
    if (con instanceof WsppError) return con;
    for (const p of subprotocols) {
      const err = con.addSubprotocol(p);
      if (err !== undefined) return err;
    }
    this.owners.set(con.hdl, this.tcp);
    this.tcp.connect(con);
    return con.hdl;
  }

  private owner(hdl: ConnectionHdl): TcpClient | TlsClient | WsppError {
    return this.owners.get(hdl) ?? new WsppError('websocket.bad_connection');
  }

  send(hdl: ConnectionHdl, payload: Uint8Array | string, opcode: DataOpcode): WsppError | undefined {
    const ep = this.owner(hdl);
    return ep instanceof WsppError ? ep : ep.trySend(hdl, payload, opcode);
  }

  close(hdl: ConnectionHdl, code: number, reason: string): WsppError | undefined {
    const ep = this.owner(hdl);
    return ep instanceof WsppError ? ep : ep.tryClose(hdl, code, reason);
  }

  ping(hdl: ConnectionHdl, payload: Uint8Array | string): WsppError | undefined {
    const ep = this.owner(hdl);
    return ep instanceof WsppError ? ep : ep.tryPing(hdl, payload);
  }

  /** The endpoints' close handshake and socket shutdown bounds (ms). */
  get closeBound(): number {
    const t = this.tcp.config.timeouts;
    return t.closeHandshake + t.socketShutdown;
  }

  get connectBound(): number {
    const t = this.tcp.config.timeouts;
    return t.dnsResolve + t.connect + t.socketPostInit + t.openHandshake;
  }

  get pongBound(): number {
    return this.tcp.config.timeouts.pong;
  }
}

// --- connection metadata (the tutorial's connection_metadata) -----------------------

type Status = 'Connecting' | 'Open' | 'Failed' | 'Closed';

/** Messages kept per connection for `show`; older ones are counted, not kept. */
const KEPT_MESSAGES = 1000;
const SHOWN_TEXT = 2000;
const SHOWN_BYTES = 64;

class Metadata {
  status: Status = 'Connecting';
  server = '';
  reason = '';
  subprotocol = '';
  extensions = '';
  readonly messages: string[] = [];
  sent = 0;
  received = 0;
  pongs = 0;
  pongTimeouts = 0;

  constructor(
    readonly id: number,
    readonly hdl: ConnectionHdl,
    readonly uri: string,
    readonly offered: readonly string[],
  ) {}

  get ended(): boolean {
    return this.status === 'Failed' || this.status === 'Closed';
  }

  record(line: string): void {
    this.messages.push(line);
    if (this.messages.length > KEPT_MESSAGES) this.messages.shift();
  }

  /** The tutorial's `operator<<`, plus subprotocol, extensions and messages when there are any. */
  describe(): string[] {
    const lines = [
      `> URI: ${this.uri}`,
      `> Status: ${this.status}`,
      `> Remote Server: ${this.server === '' ? 'None Specified' : this.server}`,
      `> Error/close reason: ${this.reason === '' ? 'N/A' : this.reason}`,
    ];
    if (this.offered.length > 0 || this.subprotocol !== '') {
      const offered = this.offered.length > 0 ? ` (offered: ${this.offered.join(', ')})` : '';
      lines.push(`> Subprotocol: ${this.subprotocol === '' ? 'none' : this.subprotocol}${offered}`);
    }
    if (this.extensions !== '') lines.push(`> Extensions: ${this.extensions}`);
    const total = this.sent + this.received;
    if (total > 0) {
      const dropped = total - this.messages.length;
      lines.push(`> Messages Processed: (${total})${dropped > 0 ? ` (the first ${dropped} not kept)` : ''}`);
      lines.push(...this.messages);
    }
    return lines;
  }

  summary(): string {
    return `> ${this.id}: ${this.status} ${this.uri} (sent ${this.sent}, received ${this.received})`;
  }
}

/** Control characters (and escape sequences a server might send) shown as escapes. */
export function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => {
    switch (c) {
      case '\n':
        return '\\n';
      case '\r':
        return '\\r';
      case '\t':
        return '\\t';
      default:
        return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
    }
  });
}

function showText(text: string): string {
  const shown = text.length > SHOWN_TEXT ? `${text.slice(0, SHOWN_TEXT)}... (${text.length} characters)` : text;
  return printable(shown);
}

function showBinary(bytes: Uint8Array): string {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, SHOWN_BYTES));
  const hex = head.toString('hex').replace(/(..)(?=.)/g, '$1 ');
  return `binary (${bytes.length} byte${bytes.length === 1 ? '' : 's'}): ${hex}${bytes.length > SHOWN_BYTES ? ' ...' : ''}`;
}

/** "de ad be ef", "deadbeef", "0xde 0xad" → bytes; undefined when it is not hex. */
export function parseHex(input: string): Buffer | undefined {
  const digits = input.replace(/0x/gi, '').replace(/[\s:,]/g, '');
  if (digits.length % 2 !== 0 || !/^[0-9a-f]*$/i.test(digits)) return undefined;
  return Buffer.from(digits, 'hex');
}

// --- the command loop --------------------------------------------------------------

export const PROMPT = 'Enter Command: ';

const COMMAND_HELP = `
Command List:
connect <ws uri> [<subprotocol> ...]: open a connection (ws:// or wss://)
send <connection id> <message>: send a text message
send-binary <connection id> <hex bytes>: send a binary message, e.g. de ad be ef
ping <connection id> [<payload>]: send a ping; its pong is shown when it arrives
close <connection id> [<close code:default=1000>] [<close reason>]: start the close handshake
show <connection id>: the connection's status, server, close reason and messages
list: one line per connection
wait <connection id> [<messages>]: wait until the connection has received that many
    messages (default: as many as it has sent), or has ended
help: Display this help text
quit: Exit the program (closes open connections with 1001, Going away)
`;

const USAGE: Record<string, string> = {
  connect: 'connect <ws uri> [<subprotocol> ...]',
  send: 'send <connection id> <message>',
  'send-binary': 'send-binary <connection id> <hex bytes>',
  ping: 'ping <connection id> [<payload>]',
  close: 'close <connection id> [<close code>] [<close reason>]',
  show: 'show <connection id>',
  wait: 'wait <connection id> [<messages>]',
};

/** How long the `wait` command waits at most. */
const WAIT_BOUND = 5000;

export interface UtilityClientOptions extends DualClientOptions {
  readonly input?: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly output?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Wait for each command's outcome before reading the next (default: when input is not a terminal). */
  readonly wait?: boolean;
  /** A line printed before the first prompt. */
  readonly banner?: string;
}

interface Waiter {
  readonly pred: () => boolean;
  readonly resolve: (met: boolean) => void;
  readonly timer: NodeJS.Timeout;
}

/** The utility client: its connection table, its prompt, its commands. */
export class UtilityClient {
  private readonly client: DualClient;
  private readonly table = new Map<number, Metadata>();
  private readonly byHdl = new Map<ConnectionHdl, Metadata>();
  private nextId = 0;
  private readonly waiters = new Set<Waiter>();
  private readonly out: NodeJS.WritableStream;
  private readonly tty: boolean;
  private readonly wait: boolean;
  private rl: Interface | undefined;
  private promptShown = false;
  private quitting: Promise<void> | undefined;
  private aborted = false;

  constructor(private readonly options: UtilityClientOptions = {}) {
    this.out = options.output ?? process.stdout;
    const input = options.input ?? process.stdin;
    this.tty = input.isTTY === true;
    this.wait = options.wait ?? !this.tty;
    this.client = new DualClient(
      {
        open: (hdl, con) => this.update(hdl, (m) => {
          m.status = 'Open';
          m.server = con.getResponseHeader('server');
          m.subprotocol = con.getSubprotocol();
          m.extensions = con.getExtensions();
        }),
        fail: (hdl, con) => this.update(hdl, (m) => {
          m.status = 'Failed';
          m.server = con.getResponseHeader('server');
          m.reason = printable(con.getEc()?.message.trim() ?? 'Unknown error');
        }),
        close: (hdl, con) => this.update(hdl, (m) => {
          m.status = 'Closed';
          const code = con.getRemoteCloseCode();
          const error = con.getEc();
          m.reason = `close code: ${code} (${closeCodeName(code)}), close reason: ${printable(con.getRemoteCloseReason())}`;
          if (error !== undefined) m.reason += `, error: ${printable(error.message.trim())}`;
        }),
        message: (hdl, msg) => this.update(hdl, (m) => {
          m.received++;
          m.record(`<< ${msg.opcode === Opcode.Text ? showText(msg.payload.toString('utf8')) : showBinary(msg.payload)}`);
        }),
        pong: (hdl, payload) => this.update(hdl, (m) => {
          m.pongs++;
          this.notify(`> Pong from connection ${m.id}${payload.length > 0 ? `: ${printable(payload.toString('utf8'))}` : ''}`);
        }),
        pongTimeout: (hdl) => this.update(hdl, (m) => {
          m.pongTimeouts++;
          this.notify(`> No pong from connection ${m.id} within ${this.client.pongBound} ms`);
        }),
      },
      options,
    );
  }

  private update(hdl: ConnectionHdl, change: (m: Metadata) => void): void {
    const m = this.byHdl.get(hdl);
    if (m === undefined) return;
    change(m);
    if (m.ended) this.byHdl.delete(hdl);
    this.settle();
  }

  // --- output ---------------------------------------------------------------------

  private print(line: string): void {
    this.out.write(`${line}\n`);
  }

  /** Output that arrives on its own (a pong): above the prompt and the line being typed. */
  private notify(line: string): void {
    if (this.tty && this.promptShown && this.rl !== undefined) {
      clearLine(this.out, 0);
      cursorTo(this.out, 0);
      this.print(line);
      this.rl.prompt(true);
    } else {
      this.print(line);
    }
  }

  // --- waiting ----------------------------------------------------------------------

  /** Resolves true when `pred` holds, false after `ms` (or when quitting aborts the wait). */
  private until(pred: () => boolean, ms: number): Promise<boolean> {
    if (pred()) return Promise.resolve(true);
    if (this.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        pred,
        resolve,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          resolve(false);
        }, ms),
      };
      this.waiters.add(waiter);
    });
  }

  private settle(): void {
    for (const w of [...this.waiters]) {
      const met = w.pred();
      if (!met && !this.aborted) continue;
      this.waiters.delete(w);
      clearTimeout(w.timer);
      w.resolve(met);
    }
  }

  // --- the loop -----------------------------------------------------------------------

  /** Run until `quit`, end of input, Ctrl-C / Ctrl-D or SIGINT / SIGTERM. Resolves to the exit code. */
  run(): Promise<number> {
    const input = this.options.input ?? process.stdin;
    const rl = this.tty
      ? createInterface({ input, output: this.out, prompt: PROMPT, terminal: true, historySize: 1000, removeHistoryDuplicates: true })
      : createInterface({ input, terminal: false });
    this.rl = rl;
    const lines: string[] = [];
    let busy = false;
    let eof = false;

    return new Promise<number>((resolve) => {
      let stopping = false;
      const onSignal = (): void => void stop(true);
      const stop = async (interrupted: boolean): Promise<void> => {
        if (stopping) return;
        stopping = true;
        if (interrupted && this.tty && this.promptShown) this.out.write('\n');
        this.promptShown = false;
        await this.quit();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        rl.close();
        resolve(0);
      };
      const prompt = (): void => {
        if (this.quitting !== undefined) return;
        if (this.tty) {
          this.promptShown = true;
          rl.prompt();
        }
      };
      const pump = async (): Promise<void> => {
        if (busy) return;
        busy = true;
        while (lines.length > 0 && this.quitting === undefined) {
          const line = lines.shift()!;
          this.promptShown = false;
          if (!this.tty) this.out.write(`${PROMPT}${line}\n`);
          const quit = await this.execute(line);
          if (quit) {
            await stop(false);
            break;
          }
          prompt();
        }
        busy = false;
        if (eof && this.quitting === undefined) await stop(true);
      };

      rl.on('line', (line) => {
        if (this.quitting !== undefined) return;
        lines.push(line);
        void pump();
      });
      rl.on('close', () => {
        // End of input (Ctrl-D, or the pipe ended): quit once the queued lines ran.
        eof = true;
        if (!busy && this.quitting === undefined) void stop(true);
      });
      rl.on('SIGINT', onSignal);
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      if (this.options.banner !== undefined) this.print(this.options.banner);
      prompt();
    });
  }

  /** Close every open connection with 1001, wait for the close handshakes (bounded), and stop. */
  quit(): Promise<void> {
    this.quitting ??= (async () => {
      this.aborted = true;
      this.settle();
      for (const m of this.table.values()) {
        if (m.status === 'Open') {
          this.print(`> Closing connection ${m.id}`);
          const err = this.client.close(m.hdl, 1001, '');
          if (err !== undefined) this.print(`> Error closing connection ${m.id}: ${err.message}`);
        } else if (m.status === 'Connecting') {
          // Not open yet: cancel the attempt (it ends as Failed, "Operation canceled").
          this.client.close(m.hdl, 1001, '');
        }
      }
      this.aborted = false;
      await this.until(() => [...this.table.values()].every((m) => m.ended), this.client.closeBound + 1000);
    })();
    return this.quitting;
  }

  /** Run one command line; true for `quit`. */
  async execute(line: string): Promise<boolean> {
    const match = /^\s*(\S+)\s*(.*)$/s.exec(line);
    if (match === null) return false;
    const command = match[1]!;
    const rest = match[2]!;
    switch (command) {
      case 'quit':
      case 'exit':
        return true;
      case 'help':
        this.out.write(`${COMMAND_HELP}\n`);
        return false;
      case 'connect':
        await this.connect(rest);
        return false;
      case 'list':
        if (this.table.size === 0) this.print('> No connections');
        for (const m of this.table.values()) this.print(m.summary());
        return false;
      case 'show':
      case 'send':
      case 'send-binary':
      case 'ping':
      case 'close':
      case 'wait':
        await this.withConnection(command, rest);
        return false;
      default:
        this.print('> Unrecognized Command');
        return false;
    }
  }

  private async connect(rest: string): Promise<void> {
    const [uri, ...subprotocols] = rest.split(/\s+/).filter((w) => w !== '');
    if (uri === undefined) {
      this.print(`> Usage: ${USAGE['connect']}`);
      return;
    }
    const hdl = this.client.open(uri, subprotocols);
    if (hdl instanceof WsppError) {
      this.print(`> Connect initialization error: ${hdl.message}`);
      return;
    }
    const m = new Metadata(this.nextId++, hdl, uri, subprotocols);
    this.table.set(m.id, m);
    this.byHdl.set(hdl, m);
    this.print(`> Created connection with id ${m.id}`);
    if (this.wait) await this.until(() => m.status !== 'Connecting', this.client.connectBound + 1000);
  }

  /** The commands that name a connection: `<command> <id> [rest]`. */
  private async withConnection(command: string, args: string): Promise<void> {
    const match = /^(\d+)(?:\s+(.*))?$/s.exec(args);
    if (match === null) {
      this.print(`> Usage: ${USAGE[command] ?? command}`);
      return;
    }
    const id = Number(match[1]);
    const rest = match[2] ?? '';
    const m = this.table.get(id);
    if (m === undefined) {
      this.print(command === 'show' ? `> Unknown connection id ${id}` : `> No connection found with id ${id}`);
      return;
    }
    switch (command) {
      case 'show':
        for (const line of m.describe()) this.print(line);
        return;
      case 'send':
        return this.send(m, rest, Opcode.Text);
      case 'send-binary': {
        const bytes = parseHex(rest);
        if (bytes === undefined) {
          this.print(`> Not hex bytes: ${printable(rest)} (${USAGE['send-binary']})`);
          return;
        }
        return this.send(m, bytes, Opcode.Binary);
      }
      case 'ping': {
        const before = m.pongs + m.pongTimeouts;
        const err = this.client.ping(m.hdl, rest);
        if (err !== undefined) {
          this.print(`> Error sending ping: ${err.message}`);
          return;
        }
        if (this.wait) await this.until(() => m.pongs + m.pongTimeouts > before || m.ended, this.client.pongBound + 1000);
        return;
      }
      case 'close': {
        const parts = /^(?:(\d+)(?:\s+(.*))?)?$/s.exec(rest);
        if (parts === null) {
          this.print(`> Usage: ${USAGE['close']}`);
          return;
        }
        const code = parts[1] === undefined ? 1000 : Number(parts[1]);
        const err = this.client.close(m.hdl, code, parts[2] ?? '');
        if (err !== undefined) {
          // WebSocket++ prints the error's own message (ec.message()), without detail.
          this.print(`> Error initiating close: ${errorMessage(err.code)}`);
          return;
        }
        if (this.wait) await this.until(() => m.ended, this.client.closeBound + 1000);
        return;
      }
      case 'wait': {
        if (rest !== '' && !/^\d+$/.test(rest)) {
          this.print(`> Usage: ${USAGE['wait']}`);
          return;
        }
        const want = rest === '' ? m.sent : Number(rest);
        const met = await this.until(() => m.received >= want || m.ended, WAIT_BOUND);
        if (!met && this.quitting === undefined) {
          this.print(`> Timed out waiting for connection ${id}: ${m.received} of ${want} messages received`);
        }
        return;
      }
    }
  }

  private send(m: Metadata, payload: string | Buffer, opcode: DataOpcode): void {
    const err = this.client.send(m.hdl, payload, opcode);
    if (err !== undefined) {
      this.print(`> Error sending message: ${err.message}`);
      return;
    }
    m.sent++;
    m.record(`>> ${typeof payload === 'string' ? showText(payload) : showBinary(payload)}`);
  }
}

// --- the command ---------------------------------------------------------------------

export const CLIENT_SPEC: CommandSpec = {
  name: 'client',
  summary: 'the interactive utility client: open, inspect and close many connections',
  description: `
The utility client of WebSocket++'s tutorial: a prompt ("Enter Command: ") that reads
commands while connections run in the background. Type "help" at the prompt for the
commands (connect, send, send-binary, ping, close, show, list, wait, help, quit).

On a terminal it has line editing and history, and Ctrl-C / Ctrl-D quit. With stdin
piped (scripts) each command waits for its outcome before the next one runs, and the
prompt and command are echoed, so the output reads as a transcript. quit closes every
open connection with 1001 (Going away) and exits 0.`,
  options: [
    { name: 'wait', kind: 'boolean', help: 'wait for each command\'s outcome (open/fail, close, pong) before the next prompt (default when stdin is not a terminal)' },
    { name: 'no-wait', kind: 'boolean', help: 'return to the prompt at once, even with stdin piped' },
    { name: 'insecure', kind: 'boolean', help: 'wss://: do not verify server certificates' },
    { name: 'ca', kind: 'string', value: 'FILE', help: 'wss://: trust the CA certificates in this PEM file' },
    { name: 'deflate', kind: 'boolean', help: 'offer permessage-deflate (RFC 7692)' },
    { name: 'verbose', kind: 'boolean', help: 'log connections and errors to stderr' },
  ],
};

/** The client options that come from flags (shared with `wspp start`). */
export function clientOptionsFromArgs(args: ParsedArgs): UtilityClientOptions {
  const wait = boolFlag(args, 'wait');
  const noWait = boolFlag(args, 'no-wait');
  if (wait && noWait) throw new UsageError('--wait and --no-wait exclude each other');
  const caFile = stringFlag(args, 'ca');
  let ca: Buffer | undefined;
  if (caFile !== undefined) {
    try {
      ca = readFileSync(caFile);
    } catch (err) {
      throw new UsageError(`--ca: cannot read ${caFile}: ${(err as Error).message}`);
    }
  }
  const deflate = boolFlag(args, 'deflate');
  return {
    ...(wait ? { wait: true } : noWait ? { wait: false } : {}),
    ...(ca === undefined ? {} : { ca }),
    insecure: boolFlag(args, 'insecure'),
    verbose: boolFlag(args, 'verbose'),
    deflate,
  };
}

export function runClient(args: ParsedArgs): Promise<number> {
  return new UtilityClient(clientOptionsFromArgs(args)).run();
}
