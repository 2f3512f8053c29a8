/**
 * The typed faces of endpoints and connections: what a Server<C> or Client<C> offers is
 * computed from its config C (DESIGN.md section 2). One runtime class per role; these
 * types decide which of its members a program may use.
 */
import type { Socket } from 'node:net';
import type { ConnectionOptions, SecureContext, SecureContextOptions, TLSSocket } from 'node:tls';
import type { IncomingMessage } from 'node:http';
import type {
  Config,
  ConnectionData,
  DeflateEnabled,
  HasRegistry,
  IsPooled,
  IsSerialized,
  TransportKindOf,
} from '../config/types.js';
import type { ConnectionState } from '../connection.js';
import type { ConnectionHdl } from '../handle.js';
import type { LentMessage, OwnedMessage } from '../message.js';
import type { ChannelLogger } from '../policies/logging/logger.js';
import type { ChannelSelection, StaticChannels } from '../policies/logging/types.js';
import type { DataOpcode } from '../protocol/constants.js';
import type { WsppError } from '../protocol/errors.js';
import type { HttpHeaders } from '../protocol/http.js';
import type { PreparedMessage } from '../protocol/processor.js';
import type { DeflateAgreement } from '../protocol/deflate-params.js';
import type { OutputSink } from '../transports/iostream/link.js';
import type { ListenAddress, ListenOptions } from './server-impl.js';

export type Role = 'server' | 'client';

/** The message handlers receive: lent with the `pool` message policy, owned with `alloc`. */
export type MessageOf<C extends Config> = IsPooled<C> extends true ? LentMessage : OwnedMessage;

/** What a handler that may be async returns: void, or with `serialized` concurrency a promise. */
export type HandlerResult<C extends Config> = IsSerialized<C> extends true ? void | Promise<void> : void;

/**
 * Under `none` concurrency an async handler would not be awaited: refuse it at compile
 * time (a function returning a promise is otherwise assignable to one returning void).
 */
export type SyncUnlessSerialized<C extends Config, F extends (...args: never[]) => unknown> =
  IsSerialized<C> extends true
    ? F
    : ReturnType<F> extends PromiseLike<unknown>
      ? F & { readonly 'async handlers need concurrency: serialized': never }
      : F;

/** Per-kind static log channels of a config. */
export type AccessChannelsOf<C extends Config> = ChannelSelection<StaticChannels<C['logging']['access'], 'access'>, 'access'>;
export type ErrorChannelsOf<C extends Config> = ChannelSelection<StaticChannels<C['logging']['error'], 'error'>, 'error'>;

/** Per-message send options: `compress` exists only with permessage-deflate enabled. */
export type SendOptionsOf<C extends Config> = DeflateEnabled<C> extends true ? { compress?: boolean } : never;

/** The optional trailing options argument of send: present only when there are options to give. */
export type SendOptionArgs<C extends Config> = DeflateEnabled<C> extends true ? [options?: SendOptionsOf<C>] : [];

/** What a connection's negotiated extensions look like, with permessage-deflate enabled. */
export interface NegotiatedExtensions {
  /** The parameters in force, or undefined when the peer did not agree to compression. */
  readonly permessageDeflate: DeflateAgreement | undefined;
}

/** The URIs a client of this transport opens. */
export type UriOf<C extends Config> = TransportKindOf<C> extends 'tcp'
  ? `ws://${string}`
  : TransportKindOf<C> extends 'tls'
    ? `wss://${string}`
    : `ws://${string}` | `wss://${string}`;

// --- connections -------------------------------------------------------------------

interface ConnectionCore<C extends Config, R extends Role> {
  readonly hdl: ConnectionHdl;
  /** The user's per-connection data, made by the config's connectionData(). */
  data: ConnectionData<C>;
  readonly role: R;
  readonly state: ConnectionState;
  /** Bytes written and not yet handed to the OS. */
  readonly bufferedAmount: number;
  /** The error that ended (or is ending) the connection. */
  getEc(): WsppError | undefined;
  getRemoteEndpoint(): string;
  getResource(): string;
  getHost(): string;
  getOrigin(): string;
  getSubprotocol(): string;
  getRequestedSubprotocols(): string[];
  getExtensions(): string;
  getRequestHeader(name: string): string;
  getResponseHeader(name: string): string;
  getResponseStatus(): number;
  getLocalCloseCode(): number;
  getLocalCloseReason(): string;
  getRemoteCloseCode(): number;
  getRemoteCloseReason(): string;

  send(payload: Uint8Array | string, opcode?: DataOpcode, ...options: SendOptionArgs<C>): void;
  trySend(payload: Uint8Array | string, opcode?: DataOpcode, ...options: SendOptionArgs<C>): WsppError | undefined;
  sendPrepared(message: PreparedMessage): void;
  trySendPrepared(message: PreparedMessage): WsppError | undefined;
  /**
   * Send one fragment of a message (ws's `send(data, { fin })`): the first fragment's
   * opcode names the message, `fin` ends it; other sends wait for the end (invalid_state),
   * control frames may go in between. Fragments are never compressed.
   */
  sendFragment(payload: Uint8Array | string, fin: boolean, opcode?: DataOpcode): void;
  trySendFragment(payload: Uint8Array | string, fin: boolean, opcode?: DataOpcode): WsppError | undefined;
  close(code?: number, reason?: string): void;
  tryClose(code?: number, reason?: string): WsppError | undefined;
  ping(payload?: Uint8Array | string): void;
  tryPing(payload?: Uint8Array | string): WsppError | undefined;
  pong(payload?: Uint8Array | string): void;
  tryPong(payload?: Uint8Array | string): WsppError | undefined;
  pauseReading(): void;
  tryPauseReading(): WsppError | undefined;
  resumeReading(): void;
  tryResumeReading(): WsppError | undefined;
  interrupt(): void;
  tryInterrupt(): WsppError | undefined;
  /** Drop the transport without a closing handshake. */
  terminate(error?: WsppError): void;
  setMaxMessageSize(bytes: number): void;
}

interface ServerConnectionMembers {
  /** In validate/http handlers: the HTTP status (validate: rejection status, default 403). */
  setStatus(code: number, reason?: string): void;
  setBody(body: string | Uint8Array): void;
  /** A response header. */
  appendHeader(name: string, value: string): void;
  replaceHeader(name: string, value: string): void;
  removeHeader(name: string): void;
  /** In the validate handler: accept one of the offered subprotocols. */
  selectSubprotocol(subprotocol: string): WsppError | undefined;
  getRequestHeaders(): HttpHeaders | undefined;
}

interface ClientConnectionMembers {
  getUri(): string;
  /** Before connect: a request header. */
  appendHeader(name: string, value: string): void;
  replaceHeader(name: string, value: string): void;
  removeHeader(name: string): void;
  /** Before connect: offer a subprotocol. */
  addSubprotocol(subprotocol: string): WsppError | undefined;
  /** Before connect: tunnel through an HTTP CONNECT proxy (http://host:port). */
  setProxy(url: string): WsppError | undefined;
  setProxyBasicAuth(user: string, password: string): void;
}

interface IostreamMembers {
  /** Feed bytes read from the peer. */
  readSome(bytes: Uint8Array): void;
  /** The input ended. */
  eof(): void;
  /** The stream broke. */
  fatalError(err?: Error): void;
}

type ConnectionHandlerSetters<C extends Config, R extends Role> = HandlerSetters<C, R>;

interface DeflateMembers {
  /** The negotiated extensions (permessage-deflate enabled in the config). */
  readonly extensions: NegotiatedExtensions;
}

export type Connection<C extends Config, R extends Role = Role> = ConnectionCore<C, R> &
  (DeflateEnabled<C> extends true ? DeflateMembers : unknown) &
  (R extends 'server' ? ServerConnectionMembers : ClientConnectionMembers) &
  (TransportKindOf<C> extends 'iostream' ? IostreamMembers : unknown) &
  ConnectionHandlerSetters<C, R>;

// --- handlers ------------------------------------------------------------------------

export type OpenHandler<C extends Config, R extends Role> = (hdl: ConnectionHdl, con: Connection<C, R>) => HandlerResult<C>;
export type MessageHandler<C extends Config, R extends Role> = (hdl: ConnectionHdl, msg: MessageOf<C>, con: Connection<C, R>) => HandlerResult<C>;
export type EventHandler<C extends Config, R extends Role> = (hdl: ConnectionHdl, con: Connection<C, R>) => void;
export type PingHandler<C extends Config, R extends Role> = (hdl: ConnectionHdl, payload: Buffer, con: Connection<C, R>) => boolean;
export type PongHandler<C extends Config, R extends Role> = (hdl: ConnectionHdl, payload: Buffer, con: Connection<C, R>) => void;
export type ValidateHandler<C extends Config> = (hdl: ConnectionHdl, con: Connection<C, 'server'>) => boolean | Promise<boolean>;
export type HttpHandler<C extends Config> = (hdl: ConnectionHdl, con: Connection<C, 'server'>) => void | Promise<void>;
export type SocketInitHandler<C extends Config, R extends Role> = (
  hdl: ConnectionHdl,
  socket: TransportKindOf<C> extends 'tls' ? Socket | TLSSocket : Socket,
  con: Connection<C, R>,
) => void;
export type TlsInitHandler<C extends Config, R extends Role> = R extends 'server'
  ? (hdl: ConnectionHdl, con: Connection<C, R>) => SecureContextOptions | SecureContext
  : (hdl: ConnectionHdl, con: Connection<C, R>) => ConnectionOptions;

interface CommonHandlerSetters<C extends Config, R extends Role> {
  setOpenHandler<F extends OpenHandler<C, R>>(handler: SyncUnlessSerialized<C, F> | undefined): void;
  setCloseHandler(handler: EventHandler<C, R> | undefined): void;
  setFailHandler(handler: EventHandler<C, R> | undefined): void;
  setMessageHandler<F extends MessageHandler<C, R>>(handler: SyncUnlessSerialized<C, F> | undefined): void;
  /** Return false to suppress the automatic pong. */
  setPingHandler(handler: PingHandler<C, R> | undefined): void;
  setPongHandler(handler: PongHandler<C, R> | undefined): void;
  setPongTimeoutHandler(handler: PongHandler<C, R> | undefined): void;
  setInterruptHandler(handler: EventHandler<C, R> | undefined): void;
  /** Called when the send queue, after passing the high-water mark, has been flushed. */
  setDrainHandler(handler: EventHandler<C, R> | undefined): void;
}

interface ServerHandlerSetters<C extends Config> {
  /** Decide an upgrade request: true accepts, false rejects (con.setStatus picks the status). */
  setValidateHandler(handler: ValidateHandler<C> | undefined): void;
  /** Answer plain HTTP requests on the same port (con.setStatus / setBody / appendHeader). */
  setHttpHandler(handler: HttpHandler<C> | undefined): void;
}

interface SocketHandlerSetters<C extends Config, R extends Role> {
  setSocketInitHandler(handler: SocketInitHandler<C, R> | undefined): void;
  setTcpPreInitHandler(handler: EventHandler<C, R> | undefined): void;
  setTcpPostInitHandler(handler: EventHandler<C, R> | undefined): void;
}

interface TlsHandlerSetters<C extends Config, R extends Role> {
  setTlsInitHandler(handler: TlsInitHandler<C, R> | undefined): void;
}

export type HandlerSetters<C extends Config, R extends Role> = CommonHandlerSetters<C, R> &
  (R extends 'server' ? ServerHandlerSetters<C> : unknown) &
  (TransportKindOf<C> extends 'tcp' | 'tls' ? SocketHandlerSetters<C, R> : unknown) &
  (TransportKindOf<C> extends 'tls' ? TlsHandlerSetters<C, R> : unknown);

// --- endpoints -----------------------------------------------------------------------

interface EndpointMembers<C extends Config, R extends Role> {
  readonly config: C;
  /** Connections not yet ended. */
  readonly connectionCount: number;
  getConFromHdl(hdl: ConnectionHdl): Connection<C, R>;
  tryGetConFromHdl(hdl: ConnectionHdl): Connection<C, R> | WsppError;

  send(hdl: ConnectionHdl, payload: Uint8Array | string | PreparedMessage, opcode?: DataOpcode, ...options: SendOptionArgs<C>): void;
  trySend(hdl: ConnectionHdl, payload: Uint8Array | string | PreparedMessage, opcode?: DataOpcode, ...options: SendOptionArgs<C>): WsppError | undefined;
  /** One fragment of a message (see Connection.sendFragment). */
  sendFragment(hdl: ConnectionHdl, payload: Uint8Array | string, fin: boolean, opcode?: DataOpcode): void;
  trySendFragment(hdl: ConnectionHdl, payload: Uint8Array | string, fin: boolean, opcode?: DataOpcode): WsppError | undefined;
  /** Frame a message once; send it to many connections without copying. */
  prepare(payload: Uint8Array | string, opcode?: DataOpcode): PreparedMessage;
  close(hdl: ConnectionHdl, code?: number, reason?: string): void;
  tryClose(hdl: ConnectionHdl, code?: number, reason?: string): WsppError | undefined;
  ping(hdl: ConnectionHdl, payload?: Uint8Array | string): void;
  tryPing(hdl: ConnectionHdl, payload?: Uint8Array | string): WsppError | undefined;
  pong(hdl: ConnectionHdl, payload?: Uint8Array | string): void;
  tryPong(hdl: ConnectionHdl, payload?: Uint8Array | string): WsppError | undefined;
  pauseReading(hdl: ConnectionHdl): void;
  tryPauseReading(hdl: ConnectionHdl): WsppError | undefined;
  resumeReading(hdl: ConnectionHdl): void;
  tryResumeReading(hdl: ConnectionHdl): WsppError | undefined;
  interrupt(hdl: ConnectionHdl): void;
  tryInterrupt(hdl: ConnectionHdl): WsppError | undefined;

  /** Enable channels of the config's static set; others are compile errors. */
  setAccessChannels(channels: AccessChannelsOf<C>): void;
  clearAccessChannels(channels: AccessChannelsOf<C>): void;
  setErrorChannels(channels: ErrorChannelsOf<C>): void;
  clearErrorChannels(channels: ErrorChannelsOf<C>): void;
  getAlog(): ChannelLogger<string, 'access'>;
  getElog(): ChannelLogger<string, 'error'>;

  setMaxMessageSize(bytes: number): void;
  setOpenHandshakeTimeout(ms: number): void;
  setCloseHandshakeTimeout(ms: number): void;
  setPongTimeout(ms: number): void;
  setUserAgent(userAgent: string): void;

  startPerpetual(): void;
  stopPerpetual(): void;
  readonly isPerpetual: boolean;
}

interface RegistryMembers<C extends Config, R extends Role> {
  /** The open connections (config `registry: true`). */
  connections(): IterableIterator<Connection<C, R>>;
}

interface ListeningServerMembers {
  listen(port: number, options?: ListenOptions | string): Promise<ListenAddress>;
  tryListen(port: number, options?: ListenOptions | string): Promise<ListenAddress | WsppError>;
  startAccept(): void;
  stopAccept(): void;
  stopListening(): Promise<void>;
  readonly isListening: boolean;
  address(): ListenAddress | undefined;
  /** Take over an upgrade from a node:http(s) server sharing the port. */
  handleUpgrade(req: IncomingMessage, socket: Socket, head?: Buffer): void;
}

interface IostreamServerMembers<C extends Config> {
  /** A connection whose output goes to `output`; feed it with readSome(). */
  createConnection(output: OutputSink): Connection<C, 'server'>;
  tryCreateConnection(output: OutputSink): Connection<C, 'server'> | WsppError;
}

interface ServerOnlyMembers {
  /** Stop listening, close every registered connection (1001), wait for all to end. */
  stop(code?: number, reason?: string): Promise<void>;
}

interface TcpClientMembers<C extends Config> {
  getConnection(uri: UriOf<C>): Connection<C, 'client'>;
  tryGetConnection(uri: UriOf<C>): Connection<C, 'client'> | WsppError;
  /** Start a configured connection; returns it. */
  connect(con: Connection<C, 'client'>): Connection<C, 'client'>;
}

interface IostreamClientMembers<C extends Config> {
  getConnection(uri: UriOf<C>): Connection<C, 'client'>;
  tryGetConnection(uri: UriOf<C>): Connection<C, 'client'> | WsppError;
  /** Start a configured connection writing to `output`; feed it with readSome(). */
  connect(con: Connection<C, 'client'>, output: OutputSink): Connection<C, 'client'>;
}

export type ServerEndpoint<C extends Config> = EndpointMembers<C, 'server'> &
  HandlerSetters<C, 'server'> &
  ServerOnlyMembers &
  (TransportKindOf<C> extends 'iostream' ? IostreamServerMembers<C> : ListeningServerMembers) &
  (HasRegistry<C> extends true ? RegistryMembers<C, 'server'> : unknown);

export type ClientEndpoint<C extends Config> = EndpointMembers<C, 'client'> &
  HandlerSetters<C, 'client'> &
  (TransportKindOf<C> extends 'iostream' ? IostreamClientMembers<C> : TcpClientMembers<C>) &
  (HasRegistry<C> extends true ? RegistryMembers<C, 'client'> : unknown);
