/**
 * The wspp side of every interop pairing, in this process:
 * - `startWsppServer`: a wspp echo server obeying the in-band commands (protocol.ts) and
 *   recording, per request path, what it saw: subprotocols, messages (opcode, length,
 *   sha256), pings, and its view of the close.
 * - `WsppClientSession`: a wspp client connection with a message queue and the same
 *   views, for the pairings where the peer is the server.
 * Both take the interop variant: deflate=on enables permessage-deflate (INTEROP_DEFLATE, or
 * the options a feature gives) and records the agreement (`con.extensions.permessageDeflate`).
 */
import { Client, Server, config, deflate, extend, logging, type Config, type ConnectionHdl, type DeflateOptions } from '../../src/index.js';
import { HOST, bounded, deferred, trackCon, type Deferred } from '../integration/helpers.js';
import { testCert } from '../integration/tls-cert.js';
import { hex, parseCommand, sha256, unhex, type Agreement, type CloseView } from './protocol.js';
import type { Variant } from './matrix.js';

const quiet = { access: logging.stub(), error: logging.stub() };

/** Accept 16 MiB messages with room to spare (the stock 32,000,000 would do; be explicit). */
const MAX_MESSAGE = 64 * 1024 * 1024;

/**
 * wspp's permessage-deflate in the deflate=on variant: every message compressed (threshold
 * 0, so 0-byte and 125-byte compressed messages cross too), and compression contexts kept
 * while a connection lives (idleRelease 0: the context-takeover checks compare message
 * sizes on the wire and must not depend on how fast the machine is).
 */
export const INTEROP_DEFLATE: DeflateOptions = { threshold: 0, idleRelease: 0 };

/** The config overrides of a variant: the extension when deflate is on. */
function extensionsFor(variant: Variant, options: DeflateOptions | undefined): { extensions?: { permessageDeflate: ReturnType<typeof deflate> } } {
  return variant.deflate ? { extensions: { permessageDeflate: deflate({ ...INTEROP_DEFLATE, ...options }) } } : {};
}

/** The agreement of a connection (undefined without the extension or when declined). */
function agreementOf(con: object): Agreement | undefined {
  return (con as { extensions?: { permessageDeflate?: Agreement } }).extensions?.permessageDeflate;
}

export interface ReceivedMessage {
  opcode: number;
  length: number;
  sha256: string;
}

/** What wspp saw of one connection. */
export interface WsppView {
  /** extensions: getExtensions() (the Sec-WebSocket-Extensions answer); agreement: con.extensions.permessageDeflate. */
  opened: Deferred<{ subprotocol: string; requested: string[]; extensions: string; agreement: Agreement | undefined }>;
  /** Server: the Sec-WebSocket-Extensions the client offered. */
  offeredExtensions: string;
  received: ReceivedMessage[];
  /** Texts received (only those up to 4 KiB, for the UTF-8 checks). */
  texts: string[];
  pings: string[];
  pongs: string[];
  closed: Deferred<WsppCloseView>;
  failed: Deferred<string>;
}

export interface WsppCloseView {
  state: string;
  localCode: number;
  localReason: string;
  remoteCode: number;
  remoteReason: string;
  ec: string | undefined;
}

function newView(): WsppView {
  return { opened: deferred(), offeredExtensions: '', received: [], texts: [], pings: [], pongs: [], closed: deferred(), failed: deferred() };
}

function closeView(con: {
  state: string;
  getLocalCloseCode(): number;
  getLocalCloseReason(): string;
  getRemoteCloseCode(): number;
  getRemoteCloseReason(): string;
  getEc(): { code: string } | undefined;
}): WsppCloseView {
  return {
    state: con.state,
    localCode: con.getLocalCloseCode(),
    localReason: con.getLocalCloseReason(),
    remoteCode: con.getRemoteCloseCode(),
    remoteReason: con.getRemoteCloseReason(),
    ec: con.getEc()?.code,
  };
}

export interface WsppServer {
  /** ws://127.0.0.1:PORT or wss://... (no path). */
  base: string;
  port: number;
  /** A fresh path for one test's connection: /t/N. */
  nextPath(): string;
  view(path: string): WsppView;
  stop(): Promise<void>;
}

let pathCounter = 0;

/** A wspp echo server for the pairings where the peer is the client. Stopped by the caller (afterAll). */
export async function startWsppServer(options: { tls: boolean; variant: Variant; deflate?: DeflateOptions }): Promise<WsppServer> {
  const views = new Map<string, WsppView>();
  const view = (path: string): WsppView => {
    let v = views.get(path);
    if (v === undefined) views.set(path, (v = newView()));
    return v;
  };
  const common = { logging: quiet, keepAlive: false, registry: true, maxMessageSize: MAX_MESSAGE } as const;
  const base: Config = options.tls ? extend(config.tls, common) : extend(config.tcp, common);
  const server = new Server(extend(base, extensionsFor(options.variant, options.deflate)));
  if (options.tls) {
    const { cert, key } = testCert();
    (server as unknown as Server<typeof config.tls>).setTlsInitHandler(() => ({ cert, key }));
  }
  // One set of handlers for both transports: the tcp face has everything they use.
  const s = server as unknown as Server<typeof config.tcp>;
  s.setValidateHandler((_hdl, con) => {
    if (con.getRequestedSubprotocols().includes('chat.v2')) con.selectSubprotocol('chat.v2');
    return true;
  });
  s.setOpenHandler((_hdl, con) => {
    const v = view(con.getResource());
    v.offeredExtensions = con.getRequestHeader('sec-websocket-extensions');
    v.opened.resolve({ subprotocol: con.getSubprotocol(), requested: con.getRequestedSubprotocols(), extensions: con.getExtensions(), agreement: agreementOf(con) });
  });
  s.setMessageHandler((hdl, msg, con) => {
    const v = view(con.getResource());
    v.received.push({ opcode: msg.opcode, length: msg.payload.length, sha256: sha256(msg.payload) });
    if (msg.isText && msg.payload.length <= 4096) v.texts.push(msg.text);
    const command = msg.isText ? parseCommand(msg.text) : undefined;
    if (command === undefined) {
      s.send(hdl, msg.payload, msg.opcode);
      return;
    }
    runCommand(hdl, command, s);
  });
  s.setPingHandler((_hdl, payload, con) => {
    view(con.getResource()).pings.push(payload.toString());
    return true;
  });
  s.setPongHandler((hdl, payload, con) => {
    view(con.getResource()).pongs.push(payload.toString());
    s.send(hdl, `pong:${hex(payload)}`);
  });
  s.setCloseHandler((_hdl, con) => view(con.getResource()).closed.resolve(closeView(con)));
  s.setFailHandler((_hdl, con) => view(con.getResource()).failed.resolve(con.getEc()?.code ?? 'unknown'));
  const { port } = await s.listen(0, HOST);
  return {
    base: `${options.tls ? 'wss' : 'ws'}://${HOST}:${port}`,
    port,
    nextPath: () => `/t/${++pathCounter}`,
    view,
    stop: async () => {
      await bounded(s.stop(), 5000);
    },
  };
}

function runCommand(hdl: ConnectionHdl, command: { name: string; args: string[] }, s: Server<typeof config.tcp>): void {
  const [a = '', b = ''] = command.args;
  switch (command.name) {
    case 'ping':
      s.ping(hdl, Buffer.from(a, 'hex'));
      return;
    case 'close':
      s.close(hdl, Number(a), unhex(b));
      return;
    default:
      s.send(hdl, `unknown command ${command.name}`);
  }
}

// --- the wspp client ------------------------------------------------------------------------

export interface ClientMessage {
  opcode: number;
  payload: Buffer;
}

/** One wspp client connection to a peer server, with a queue of received messages. */
export class WsppClientSession {
  readonly view: WsppView = newView();
  private readonly queue: ClientMessage[] = [];
  private waiter: ((m: ClientMessage) => void) | undefined;
  private constructor(
    readonly client: Client<typeof config.tcpClient>,
    readonly hdl: ConnectionHdl,
  ) {}

  /** `deflate`: the client's permessage-deflate options in the deflate=on variant (INTEROP_DEFLATE by default). */
  static async open(url: `ws://${string}`, protocols: string[], variant: Variant, deflate?: DeflateOptions): Promise<WsppClientSession> {
    const base: Config = extend(config.tcpClient, { logging: quiet, maxMessageSize: MAX_MESSAGE });
    const client = new Client(extend(base, extensionsFor(variant, deflate))) as unknown as Client<typeof config.tcpClient>;
    const con = client.getConnection(url);
    trackCon(con);
    for (const p of protocols) con.addSubprotocol(p);
    const session = new WsppClientSession(client, con.hdl);
    const v = session.view;
    con.setOpenHandler((_hdl, c) => v.opened.resolve({ subprotocol: c.getSubprotocol(), requested: c.getRequestedSubprotocols(), extensions: c.getExtensions(), agreement: agreementOf(c) }));
    con.setMessageHandler((_hdl, msg) => {
      const m = { opcode: msg.opcode, payload: msg.payload };
      v.received.push({ opcode: msg.opcode, length: msg.payload.length, sha256: sha256(msg.payload) });
      const w = session.waiter;
      session.waiter = undefined;
      if (w !== undefined) w(m);
      else session.queue.push(m);
    });
    con.setPingHandler((_hdl, payload) => {
      v.pings.push(payload.toString());
      return true;
    });
    con.setPongHandler((_hdl, payload) => v.pongs.push(payload.toString()));
    con.setCloseHandler((_hdl, c) => v.closed.resolve(closeView(c)));
    con.setFailHandler((_hdl, c) => {
      v.failed.resolve(c.getEc()?.code ?? 'unknown');
      v.opened.reject(new Error(`wspp client failed: ${c.getEc()?.code} ${c.getEc()?.message}`));
    });
    client.connect(con);
    await v.opened.promise;
    return session;
  }

  /** The next message received (in order). */
  next(): Promise<ClientMessage> {
    const m = this.queue.shift();
    if (m !== undefined) return Promise.resolve(m);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  send(payload: Uint8Array | string, opcode?: 1 | 2): void {
    this.client.send(this.hdl, payload, opcode);
  }

  /** Send and return the next message. */
  async request(payload: Uint8Array | string, opcode?: 1 | 2): Promise<ClientMessage> {
    const next = this.next();
    this.send(payload, opcode);
    return next;
  }

  close(code: number, reason: string): void {
    this.client.close(this.hdl, code, reason);
  }
}

export type { CloseView };
