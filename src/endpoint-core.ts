/**
 * What both roles share at run time: the handler registry, settings copied into new
 * connections, the loggers, the RNG, the opt-in connection registry, perpetual mode, and
 * every operation by handle (each in a throwing and an error-returning form).
 * The typed faces of this class are in roles/types.ts.
 */
import type { Config } from './config/types.js';
import { ConnectionImpl } from './connection.js';
import type { AnyHandler, HandlerName, HandlerTable } from './handlers.js';
export { installHandlerSetters, type HandlerTable, type HandlerName } from './handlers.js';
import { ConnectionHdl } from './handle.js';
import { ChannelLogger } from './policies/logging/logger.js';
import { AccessChannel } from './policies/logging/channels.js';
import type { RandomFill } from './policies/rng/types.js';
import { BufferPool } from './policies/message-pool/pool.js';
import { DeflateRuntime, type DeflateEnabledSpec } from './policies/extensions/deflate.js';
import type { DataOpcode } from './protocol/constants.js';
import { WsppError } from './protocol/errors.js';
import { orThrow } from './or-throw.js';
import { useNativeHelpers } from './native.js';

// Every endpoint masks with bufferutil when it is installed (WSPP_NO_NATIVE=1 opts out).
useNativeHelpers();
import { ServerProcessor, type PreparedMessage } from './protocol/processor.js';

/** Runtime settings an endpoint copies into each new connection (WebSocket++'s set_* overrides). */
export interface EndpointSettings {
  maxMessageSize: number;
  openHandshakeTimeout: number;
  closeHandshakeTimeout: number;
  pongTimeout: number;
  userAgent: string;
}

/** Per-message send options (with permessage-deflate: `compress`). */
export interface SendOptions {
  compress?: boolean;
}

/** A message framed once for many connections: the broadcast fast path. */
export type Prepared = PreparedMessage;

export class EndpointCore {
  readonly config: Config;
  /**
   * The handlers new connections start with. Replaced (never mutated) on each change, so
   * connections share it until one of them sets its own.
   */
  handlers: Readonly<HandlerTable> = Object.freeze({});
  readonly settings: EndpointSettings;
  readonly alog: ChannelLogger;
  readonly elog: ChannelLogger;
  readonly random: RandomFill;
  readonly pool: BufferPool | undefined;
  /** permessage-deflate, when the config enables it. */
  readonly deflate: DeflateRuntime | undefined;
  /**
   * Connections not yet released, as an intrusive list (two fields per connection, no
   * allocation): stop() reaches every one; `connections()` lists them with a registry.
   */
  private liveHead: ConnectionImpl | undefined;
  liveConnections = 0;
  private perpetualTimer: NodeJS.Timeout | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(config: Config) {
    this.config = config;
    this.settings = {
      maxMessageSize: config.maxMessageSize,
      openHandshakeTimeout: config.timeouts.openHandshake,
      closeHandshakeTimeout: config.timeouts.closeHandshake,
      pongTimeout: config.timeouts.pong,
      userAgent: config.userAgent,
    };
    this.alog = new ChannelLogger('access', config.logging.access);
    this.elog = new ChannelLogger('error', config.logging.error);
    this.random = config.rng.create();
    this.pool = config.messagePool.kind === 'pool' ? new BufferPool(config.messagePool.size, config.messagePool.buffers) : undefined;
    const pmd = config.extensions.permessageDeflate;
    this.deflate = pmd.kind === 'enabled' ? new DeflateRuntime(pmd as DeflateEnabledSpec) : undefined;
  }

  // --- handlers ---------------------------------------------------------------

  /** @internal */
  setHandler(name: HandlerName, handler: AnyHandler | undefined): void {
    const next: HandlerTable = { ...this.handlers };
    if (handler === undefined) delete next[name];
    else next[name] = handler;
    this.handlers = Object.freeze(next);
  }

  // --- connections ------------------------------------------------------------

  /**
   * @internal A new connection of this endpoint. Servers' connections are live at once;
   * a client's becomes live when it is submitted (`track`), so one created and never
   * connected holds nothing.
   */
  newConnection(role: 'server' | 'client'): ConnectionImpl {
    const con = new ConnectionImpl(this, role);
    if (role === 'server') this.track(con);
    return con;
  }

  /** @internal Count and list a connection until it is released. */
  track(con: ConnectionImpl): void {
    if (con.tracked) return;
    con.tracked = true;
    this.liveConnections++;
    const head = this.liveHead;
    con.liveNext = head;
    if (head !== undefined) head.livePrev = con;
    this.liveHead = con;
  }

  /** @internal Called once when a connection has ended (closed or failed). */
  released(con: ConnectionImpl): void {
    con.hdl.release();
    if (!con.tracked) return;
    con.tracked = false;
    this.liveConnections--;
    const { livePrev: prev, liveNext: next } = con;
    if (prev === undefined) this.liveHead = next;
    else prev.liveNext = next;
    if (next !== undefined) next.livePrev = prev;
    con.livePrev = con.liveNext = undefined;
    if (this.liveConnections === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Resolves when no connection is left. */
  protected whenIdle(): Promise<void> {
    if (this.liveConnections === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** The connection behind a handle, or `websocket.bad_connection`. */
  tryGetConFromHdl(hdl: ConnectionHdl): ConnectionImpl | WsppError {
    if (!(hdl instanceof ConnectionHdl) || hdl.owner !== this) return new WsppError('websocket.bad_connection');
    const con = hdl.target as ConnectionImpl | undefined;
    if (con === undefined || con.state === 'closed' || con.state === 'failed') return new WsppError('websocket.bad_connection');
    return con;
  }

  getConFromHdl(hdl: ConnectionHdl): ConnectionImpl {
    return orThrow(this.tryGetConFromHdl(hdl));
  }

  /** The live connections (config `registry: true`), as of this call: ending ones may still be listed. */
  connections(): IterableIterator<ConnectionImpl> {
    if (!this.config.registry) throw new WsppError('websocket.invalid_state', 'this endpoint keeps no registry (config registry: true)');
    return this.liveList().values();
  }

  /** @internal A snapshot of the live connections, newest first. */
  protected liveList(): ConnectionImpl[] {
    const list: ConnectionImpl[] = [];
    for (let con = this.liveHead; con !== undefined; con = con.liveNext) list.push(con);
    return list;
  }

  get connectionCount(): number {
    return this.liveConnections;
  }

  // --- operations by handle ----------------------------------------------------

  trySend(hdl: ConnectionHdl, payload: Uint8Array | string | Prepared, opcode?: DataOpcode, options?: SendOptions): WsppError | undefined {
    const con = this.tryGetConFromHdl(hdl);
    if (con instanceof WsppError) return con;
    if (typeof payload === 'object' && 'framed' in payload) return con.trySendPrepared(payload);
    return con.trySend(payload, opcode, options);
  }

  send(hdl: ConnectionHdl, payload: Uint8Array | string | Prepared, opcode?: DataOpcode, options?: SendOptions): void {
    orThrow(this.trySend(hdl, payload, opcode, options));
  }

  trySendFragment(hdl: ConnectionHdl, payload: Uint8Array | string, fin: boolean, opcode?: DataOpcode): WsppError | undefined {
    const con = this.tryGetConFromHdl(hdl);
    if (con instanceof WsppError) return con;
    return con.trySendFragment(payload, fin, opcode);
  }

  sendFragment(hdl: ConnectionHdl, payload: Uint8Array | string, fin: boolean, opcode?: DataOpcode): void {
    orThrow(this.trySendFragment(hdl, payload, fin, opcode));
  }

  /** Frame a message once; send it to many connections with send(hdl, prepared). */
  prepare(payload: Uint8Array | string, opcode?: DataOpcode): Prepared {
    // A prepared message keeps its payload and is framed on first send: a lent one is kept.
    if (this.pool?.lends(payload) === true) this.pool.forfeit(payload);
    return ServerProcessor.prepare(opcode ?? (typeof payload === 'string' ? 1 : 2), payload);
  }

  tryClose(hdl: ConnectionHdl, code = 1000, reason = ''): WsppError | undefined {
    const con = this.tryGetConFromHdl(hdl);
    if (con instanceof WsppError) return con;
    return con.tryClose(code, reason);
  }

  close(hdl: ConnectionHdl, code = 1000, reason = ''): void {
    orThrow(this.tryClose(hdl, code, reason));
  }

  tryPing(hdl: ConnectionHdl, payload: Uint8Array | string = ''): WsppError | undefined {
    const con = this.tryGetConFromHdl(hdl);
    if (con instanceof WsppError) return con;
    return con.tryPing(payload);
  }

  ping(hdl: ConnectionHdl, payload: Uint8Array | string = ''): void {
    orThrow(this.tryPing(hdl, payload));
  }

  tryPong(hdl: ConnectionHdl, payload: Uint8Array | string = ''): WsppError | undefined {
    const con = this.tryGetConFromHdl(hdl);
    if (con instanceof WsppError) return con;
    return con.tryPong(payload);
  }

  pong(hdl: ConnectionHdl, payload: Uint8Array | string = ''): void {
    orThrow(this.tryPong(hdl, payload));
  }

  tryPauseReading(hdl: ConnectionHdl): WsppError | undefined {
    const con = this.tryGetConFromHdl(hdl);
    return con instanceof WsppError ? con : con.tryPauseReading();
  }

  pauseReading(hdl: ConnectionHdl): void {
    orThrow(this.tryPauseReading(hdl));
  }

  tryResumeReading(hdl: ConnectionHdl): WsppError | undefined {
    const con = this.tryGetConFromHdl(hdl);
    return con instanceof WsppError ? con : con.tryResumeReading();
  }

  resumeReading(hdl: ConnectionHdl): void {
    orThrow(this.tryResumeReading(hdl));
  }

  tryInterrupt(hdl: ConnectionHdl): WsppError | undefined {
    const con = this.tryGetConFromHdl(hdl);
    return con instanceof WsppError ? con : con.tryInterrupt();
  }

  interrupt(hdl: ConnectionHdl): void {
    orThrow(this.tryInterrupt(hdl));
  }

  // --- settings for future connections -----------------------------------------

  setMaxMessageSize(bytes: number): void {
    this.settings.maxMessageSize = bytes;
  }

  setOpenHandshakeTimeout(ms: number): void {
    this.settings.openHandshakeTimeout = ms;
  }

  setCloseHandshakeTimeout(ms: number): void {
    this.settings.closeHandshakeTimeout = ms;
  }

  setPongTimeout(ms: number): void {
    this.settings.pongTimeout = ms;
  }

  setUserAgent(userAgent: string): void {
    this.settings.userAgent = userAgent;
  }

  // --- logging ------------------------------------------------------------------

  setAccessChannels(channels: string | readonly string[]): void {
    this.alog.setChannels(channels as never);
  }

  clearAccessChannels(channels: string | readonly string[]): void {
    this.alog.clearChannels(channels as never);
  }

  setErrorChannels(channels: string | readonly string[]): void {
    this.elog.setChannels(channels as never);
  }

  clearErrorChannels(channels: string | readonly string[]): void {
    this.elog.clearChannels(channels as never);
  }

  getAlog(): ChannelLogger {
    return this.alog;
  }

  getElog(): ChannelLogger {
    return this.elog;
  }

  // --- perpetual mode -------------------------------------------------------------

  /** Keep the process alive while the endpoint has no connections (WebSocket++'s start_perpetual). */
  startPerpetual(): void {
    if (this.perpetualTimer !== undefined) return;
    this.perpetualTimer = setInterval(() => undefined, 0x7fffffff);
    const alog = this.alog;
    if ((alog.mask & AccessChannel.endpoint) !== 0) alog.write(AccessChannel.endpoint, 'perpetual mode on');
  }

  /** Let the process end once the last connection has closed. */
  stopPerpetual(): void {
    if (this.perpetualTimer === undefined) return;
    clearInterval(this.perpetualTimer);
    this.perpetualTimer = undefined;
  }

  get isPerpetual(): boolean {
    return this.perpetualTimer !== undefined;
  }
}

