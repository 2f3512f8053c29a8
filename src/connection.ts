/**
 * One WebSocket session, from the first byte to the closed transport: owns the protocol
 * processor, the transport link, the per-connection handlers (copied from the endpoint),
 * the timers, and the user's `data`. Implements the processor's host interface.
 */
import type { Config } from './config/types.js';
import { ConnectionHdl } from './handle.js';
import { Message } from './message.js';
import { AccessChannel, ErrorChannel } from './policies/logging/channels.js';
import { closeCodeName } from './protocol/close.js';
import { Opcode, type DataOpcode } from './protocol/constants.js';
import { WsppError } from './protocol/errors.js';
import { orThrow } from './or-throw.js';
import type { ClientRequestInfo } from './protocol/handshake.js';
import type { HttpHead, HttpHeaders } from './protocol/http.js';
import {
  ClientProcessor,
  ServerProcessor,
  type PreparedMessage,
  type ProcessorOptions,
  type ProcessorState,
  type ServerProcessorHost,
} from './protocol/processor.js';
import { IostreamLink } from './transports/iostream/link.js';
import type { Link, LinkEvents } from './transports/types.js';
import type { DeflateAgreement } from './protocol/deflate-params.js';
import type { MessageCodec } from './protocol/extension.js';
import type { EndpointCore } from './endpoint-core.js';
import { installHandlerSetters, type HandlerTable } from './handlers.js';
import type { WsUri } from './uri.js';

export type ConnectionState = ProcessorState;
export type Role = 'server' | 'client';

const EMPTY = Buffer.alloc(0);

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** "example.com:8080" → "example.com", "[::1]:80" → "::1" (WebSocket++'s get_host). */
function hostWithoutPort(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(1, end);
  }
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** @internal The runtime class behind the typed `Connection<C, R>` views. */
export class ConnectionImpl implements ServerProcessorHost, LinkEvents {
  readonly hdl: ConnectionHdl;
  data: unknown;
  readonly role: Role;
  /** The endpoint's handlers when the connection was made (shared); copied on a per-connection change. */
  handlers: Readonly<HandlerTable>;
  /** The processor exists once the transport is ready (servers: at once; clients: at connect). */
  processor: ServerProcessor | ClientProcessor | undefined;
  link: Link | undefined;
  /** Set while the transport is being set up (DNS, connect, TLS), for errors before the processor. */
  ec: WsppError | undefined;
  /** The client's target. */
  uri: WsUri | undefined;
  /** Server: the response customisation the validate/http handlers make. */
  status = 0;
  statusReason: string | undefined;
  body: string | Uint8Array | undefined;
  /** Headers the user added: the response's on servers, the request's on clients (made on first use). */
  private headerList: [string, string][] | undefined;
  selectedSubprotocol = '';
  /** Client: the request customisation before connect. */
  /** Client: subprotocols to offer (made on first use). */
  private offered: string[] | undefined;
  proxy: string | undefined;
  /** The permessage-deflate parameters in force, when negotiated. */
  deflateAgreement: DeflateAgreement | undefined;
  /** Client: connect() was called. */
  started = false;
  /** @internal Counted by the endpoint (from accept or connect until released). */
  tracked = false;
  /** @internal Neighbours in the endpoint's list of live connections (see EndpointCore.track). */
  livePrev: ConnectionImpl | undefined = undefined;
  liveNext: ConnectionImpl | undefined = undefined;
  proxyAuth: [string, string] | undefined;

  // Settings copied from the endpoint (runtime overrides, WebSocket++'s set_* per connection).
  maxMessageSize: number;
  openHandshakeTimeout: number;
  closeHandshakeTimeout: number;
  pongTimeout: number;

  private readonly endpoint: EndpointCore;
  private readonly config: Config;
  private openTimer: NodeJS.Timeout | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  private pongTimer: NodeJS.Timeout | undefined;
  private shutdownTimer: NodeJS.Timeout | undefined;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private sawInput = false;
  private keepAlivePing = false;
  private drainArmed = false;
  private ended = false;
  private finished = false;
  /** Serialized concurrency: a handler promise is pending. */
  private busy = false;
  private userPaused = false;
  /** Pooled buffer holding the payload of the message being handled (message pool `pool`). */
  private lentBuffer: Buffer | undefined;
  /** While a lent payload is being sent: its buffer, and whether the link kept a reference. */
  private sendingLent: ArrayBufferLike | undefined;
  private lentHeld = false;
  private readonly serialized: boolean;
  private readonly lendPayloads: boolean;

  constructor(endpoint: EndpointCore, role: Role) {
    this.endpoint = endpoint;
    this.config = endpoint.config;
    this.role = role;
    this.hdl = new ConnectionHdl(this, endpoint);
    this.handlers = endpoint.handlers;
    this.serialized = this.config.concurrency.kind === 'serialized';
    this.lendPayloads = this.config.messagePool.kind === 'pool';
    this.maxMessageSize = endpoint.settings.maxMessageSize;
    this.openHandshakeTimeout = endpoint.settings.openHandshakeTimeout;
    this.closeHandshakeTimeout = endpoint.settings.closeHandshakeTimeout;
    this.pongTimeout = endpoint.settings.pongTimeout;
    this.data = this.config.connectionData();
  }

  // --- lifecycle -----------------------------------------------------------

  /** Server side: the transport is ready; read the opening handshake. */
  startServer(link: Link): void {
    this.link = link;
    this.processor = new ServerProcessor(this, this.processorOptions());
    this.armOpenTimer();
  }

  /** Client side: the transport is ready; send the opening handshake. */
  startClient(link: Link): void {
    const uri = this.uri!;
    this.link = link;
    const deflate = this.endpoint.deflate;
    let processor: ClientProcessor;
    try {
      processor = new ClientProcessor(this, {
        ...this.processorOptions(),
        host: uri.host,
        port: uri.port,
        secure: uri.secure,
        resource: uri.resource,
        userAgent: this.endpoint.settings.userAgent,
        subprotocols: this.offered ?? [],
        headers: this.headerList ?? [],
        random: this.endpoint.random,
        ...(deflate === undefined
          ? {}
          : {
              extensions: deflate.offer(),
              negotiateExtensions: (answer: string) => {
                const accepted = deflate.accept(answer);
                if (accepted instanceof WsppError) return accepted;
                this.deflateAgreement = accepted.agreement;
                return accepted.codec;
              },
            }),
      });
    } catch (err) {
      this.failEarly(new WsppError('websocket.con_creation_failed', (err as Error).message, { cause: err }));
      return;
    }
    this.processor = processor;
    this.armOpenTimer();
    processor.start();
  }

  /** The transport could not be set up (DNS, connect, TLS, proxy): fail before any processor. */
  failEarly(error: WsppError): void {
    if (this.finished) return;
    this.ec = error;
    this.finished = true;
    this.clearTimers();
    this.link?.destroy();
    this.logFail(error);
    this.call('fail', this.handlers.fail);
    this.endpoint.released(this);
  }

  private processorOptions(): ProcessorOptions {
    const c = this.config;
    const pool = this.endpoint.pool;
    return {
      hostAssembles: pool !== undefined,
      maxMessageSize: this.maxMessageSize,
      maxFragments: c.maxFragments,
      maxHeadSize: c.maxHttpHeadSize,
      maxHeaders: c.maxHttpHeaders,
      dropOnProtocolError: c.dropOnProtocolError,
      silentClose: c.silentClose,
    };
  }

  /** Message pool `pool` (ProcessorHost.assemble): join a multi-piece message in a reused buffer, lent to the handler. */
  assemble(pieces: readonly Uint8Array[], size: number): Uint8Array {
    const pool = this.endpoint.pool!;
    if (size > pool.size) return Buffer.concat(pieces as Uint8Array[], size);
    const buffer = pool.acquire();
    let at = 0;
    for (const piece of pieces) {
      buffer.set(piece, at);
      at += piece.length;
    }
    this.lentBuffer = buffer;
    return buffer.subarray(0, size);
  }

  /** Give the pooled buffer of the last message back, once its handler is done with it. */
  private releaseLent(): void {
    const buffer = this.lentBuffer;
    if (buffer === undefined) return;
    this.lentBuffer = undefined;
    this.endpoint.pool!.release(buffer);
  }

  // --- LinkEvents (transport → connection) ---------------------------------

  linkData(chunk: Uint8Array): void {
    this.sawInput = true;
    this.processor?.feed(chunk);
  }

  linkEnd(): void {
    this.processor?.eof();
  }

  linkError(err: Error): void {
    const code = (err as NodeJS.ErrnoException).code;
    const wrapped = new WsppError(code === 'ECONNRESET' ? 'transport.connection_reset' : 'transport.pass_through', err.message, { cause: err });
    if (this.processor === undefined) this.failEarly(wrapped);
    else this.processor.eof(wrapped);
  }

  linkDrain(): void {
    if (!this.drainArmed) return;
    this.drainArmed = false;
    this.call('drain', this.handlers.drain);
  }

  linkClosed(): void {
    if (this.shutdownTimer !== undefined) clearTimeout(this.shutdownTimer);
    this.shutdownTimer = undefined;
    if (this.processor === undefined) {
      this.failEarly(this.ec ?? new WsppError('transport.eof'));
      return;
    }
    this.processor.eof();
  }

  // --- ProcessorHost (processor → connection) ------------------------------

  write(data: Uint8Array): void {
    const link = this.link;
    if (link === undefined || this.ended) return;
    link.write(data);
    if (this.sendingLent !== undefined && data.buffer === this.sendingLent && link.holdsWrites !== false) this.lentHeld = true;
    if (link.bufferedAmount > this.config.sendQueueHighWaterMark) this.pressure(link);
  }

  /** Frame small messages in place in the link's batch (see ProcessorHost.reserve). */
  reserve(length: number): number {
    const link = this.link;
    if (link === undefined || this.ended || link.reserve === undefined) return -1;
    const at = link.reserve(length);
    if (at >= 0 && link.bufferedAmount > this.config.sendQueueHighWaterMark) this.pressure(link);
    return at;
  }

  get outputBuffer(): Uint8Array | undefined {
    return this.link?.outputBuffer;
  }

  /** The processor is done with the transport: end our side, destroy it if the peer lingers. */
  end(release = false): void {
    if (this.ended) return;
    this.ended = true;
    const link = this.link;
    if (link === undefined) return;
    if (release && link.release?.() === true) return;
    link.end();
    const wait = this.config.timeouts.socketShutdown;
    if (wait > 0) {
      this.shutdownTimer = setTimeout(() => link.destroy(), wait);
      this.shutdownTimer.unref();
    }
  }

  onOpen(): void {
    this.clearTimer('openTimer');
    const alog = this.endpoint.alog;
    if ((alog.mask & AccessChannel.connect) !== 0) alog.write(AccessChannel.connect, () => this.describeOpen());
    this.startKeepAlive();
    const handler = this.handlers.open;
    if (handler === undefined) return;
    let result: unknown;
    try {
      result = handler(this.hdl, this as never);
    } catch (err) {
      this.handlerThrew('open', err);
      return;
    }
    this.track('open', result);
  }

  onMessage(opcode: DataOpcode, payload: Uint8Array): void {
    const alog = this.endpoint.alog;
    if ((alog.mask & AccessChannel.message_header) !== 0) {
      alog.write(AccessChannel.message_header, () => `Message received: opcode ${opcode}, ${payload.length} bytes`);
    }
    const handler = this.handlers.message;
    if (handler === undefined) {
      this.releaseLent();
      return;
    }
    const msg = new Message(opcode, asBuffer(payload), this.lendPayloads);
    let result: unknown;
    try {
      result = handler(this.hdl, msg as never, this as never);
    } catch (err) {
      this.releaseLent();
      this.handlerThrew('message', err);
      return;
    }
    if (this.serialized && isThenable(result)) {
      this.track('message', result);
      return;
    }
    this.releaseLent();
  }

  onPing(payload: Uint8Array): boolean {
    const alog = this.endpoint.alog;
    if ((alog.mask & AccessChannel.control) !== 0) alog.write(AccessChannel.control, () => `Control frame received with opcode 9 (ping), ${payload.length} bytes`);
    const handler = this.handlers.ping;
    if (handler === undefined) return true;
    try {
      return handler(this.hdl, asBuffer(payload), this) !== false;
    } catch (err) {
      this.handlerThrew('ping', err);
      return true;
    }
  }

  onPong(payload: Uint8Array): void {
    this.clearTimer('pongTimer');
    this.keepAlivePing = false;
    const alog = this.endpoint.alog;
    if ((alog.mask & AccessChannel.control) !== 0) alog.write(AccessChannel.control, () => `Control frame received with opcode 10 (pong), ${payload.length} bytes`);
    const handler = this.handlers.pong;
    if (handler !== undefined) this.call('pong', handler, asBuffer(payload));
  }

  onCloseSent(): void {
    const wait = this.closeHandshakeTimeout;
    if (wait > 0 && this.closeTimer === undefined) {
      this.closeTimer = setTimeout(() => {
        this.closeTimer = undefined;
        this.processor?.terminate(new WsppError('websocket.close_handshake_timeout'));
      }, wait);
      this.closeTimer.unref();
    }
  }

  onClose(): void {
    if (this.finished) return;
    this.finished = true;
    this.clearTimers();
    const alog = this.endpoint.alog;
    if ((alog.mask & AccessChannel.disconnect) !== 0) alog.write(AccessChannel.disconnect, () => this.describeClose());
    this.call('close', this.handlers.close);
    this.endpoint.released(this);
  }

  onFail(error: WsppError): void {
    if (this.finished) return;
    this.finished = true;
    this.clearTimers();
    this.logFail(error);
    this.call('fail', this.handlers.fail);
    this.endpoint.released(this);
  }

  onUpgradeRequest(request: ClientRequestInfo): void {
    const alog = this.endpoint.alog;
    if ((alog.mask & AccessChannel.debug_handshake) !== 0) alog.write(AccessChannel.debug_handshake, () => `Upgrade request for ${request.resource} from ${this.getRemoteEndpoint()}`);
    const validate = this.handlers.validate;
    if (validate === undefined) {
      this.acceptUpgrade();
      return;
    }
    let verdict: unknown;
    try {
      verdict = validate(this.hdl, this);
    } catch (err) {
      this.handlerThrew('validate', err);
      verdict = false;
      this.status ||= 500;
    }
    if (isThenable(verdict)) {
      this.link?.pause();
      verdict.then(
        (ok) => {
          this.link?.resume();
          this.decide(ok === true);
        },
        (err: unknown) => {
          this.link?.resume();
          this.handlerThrew('validate', err);
          this.status ||= 500;
          this.decide(false);
        },
      );
      return;
    }
    this.decide(verdict === true);
  }

  onHttpRequest(head: HttpHead): void {
    const alog = this.endpoint.alog;
    const handler = this.handlers.http;
    if ((alog.mask & AccessChannel.http) !== 0) alog.write(AccessChannel.http, () => `${head.method} ${head.target} from ${this.getRemoteEndpoint()}`);
    const server = this.processor as ServerProcessor;
    if (handler === undefined) {
      this.status = 426;
      server.respond(426, { body: 'Upgrade Required: this is a WebSocket endpoint\n' });
      this.httpDone();
      return;
    }
    const answer = (): void => {
      if (server.state !== 'connecting') return;
      const status = (this.status ||= 200);
      server.respond(status, {
        ...(this.statusReason === undefined ? {} : { reason: this.statusReason }),
        headers: this.headerList ?? [],
        ...(this.body === undefined ? {} : { body: this.body }),
      });
      this.httpDone();
    };
    let result: unknown;
    try {
      result = handler(this.hdl, this);
    } catch (err) {
      this.handlerThrew('http', err);
      this.status = 500;
      this.body = undefined;
    }
    if (isThenable(result)) {
      result.then(answer, (err: unknown) => {
        this.handlerThrew('http', err);
        this.status = 500;
        this.body = undefined;
        answer();
      });
      return;
    }
    answer();
  }

  /** A plain HTTP exchange is over: neither open nor fail happened, but the connection ended. */
  private httpDone(): void {
    if (this.finished) return;
    this.finished = true;
    this.clearTimers();
    this.endpoint.released(this);
  }

  // --- user actions ----------------------------------------------------------

  trySend(payload: Uint8Array | string, opcode?: DataOpcode, options?: { compress?: boolean }): WsppError | undefined {
    const processor = this.processor;
    if (processor === undefined) return new WsppError('websocket.invalid_state', 'the connection is not open');
    const op = opcode ?? (typeof payload === 'string' ? Opcode.Text : Opcode.Binary);
    const lent = this.lentView(payload);
    if (lent === undefined) return processor.send(op, payload, options?.compress);
    return this.sendLent(lent, processor.send(op, lent, options?.compress));
  }

  trySendFragment(payload: Uint8Array | string, fin: boolean, opcode?: DataOpcode): WsppError | undefined {
    const processor = this.processor;
    if (processor === undefined) return new WsppError('websocket.invalid_state', 'the connection is not open');
    const lent = this.lentView(payload);
    if (lent === undefined) return processor.sendFrame(opcode, payload, fin);
    return this.sendLent(lent, processor.sendFrame(opcode, lent, fin));
  }

  /** `payload` if it is a view of a pooled buffer (a lent payload), watched by write() while it is sent. */
  private lentView(payload: Uint8Array | string): Uint8Array | undefined {
    const pool = this.endpoint.pool;
    if (pool === undefined || !pool.lends(payload)) return undefined;
    this.sendingLent = payload.buffer;
    this.lentHeld = false;
    return payload;
  }

  /**
   * A lent payload was just sent (the echo pattern) without a copy. If anything may still
   * read it (a socket write not yet complete, a compressor, output queued behind one), its
   * pooled buffer is forfeited instead of reused.
   */
  private sendLent(lent: Uint8Array, result: WsppError | undefined): WsppError | undefined {
    if (this.lentHeld || this.processor?.holdsOutput === true) this.endpoint.pool!.forfeit(lent);
    this.sendingLent = undefined;
    return result;
  }

  trySendPrepared(message: PreparedMessage): WsppError | undefined {
    const processor = this.processor;
    if (processor === undefined) return new WsppError('websocket.invalid_state', 'the connection is not open');
    return processor.sendPrepared(message);
  }

  tryClose(code = 1000, reason = ''): WsppError | undefined {
    const processor = this.processor;
    if (processor === undefined) {
      if (this.finished) return new WsppError('websocket.invalid_state', 'the connection is closed');
      // Closing before the transport is up cancels the attempt.
      this.failEarly(new WsppError('websocket.operation_canceled'));
      return undefined;
    }
    if (processor.state === 'connecting') {
      processor.terminate(new WsppError('websocket.operation_canceled'));
      return undefined;
    }
    const err = processor.close(code, reason);
    if (err === undefined) this.onCloseSent();
    return err;
  }

  tryPing(payload: Uint8Array | string = EMPTY): WsppError | undefined {
    const processor = this.processor;
    if (processor === undefined) return new WsppError('websocket.invalid_state', 'the connection is not open');
    const err = processor.ping(payload);
    if (err === undefined) this.armPongTimer(typeof payload === 'string' ? Buffer.from(payload) : asBuffer(payload));
    return err;
  }

  tryPong(payload: Uint8Array | string = EMPTY): WsppError | undefined {
    const processor = this.processor;
    if (processor === undefined) return new WsppError('websocket.invalid_state', 'the connection is not open');
    return processor.pong(payload);
  }

  tryPauseReading(): WsppError | undefined {
    const processor = this.processor;
    if (processor === undefined || this.finished) return new WsppError('websocket.invalid_state', 'the connection is not open');
    this.userPaused = true;
    processor.pauseReading();
    this.link?.pause();
    return undefined;
  }

  tryResumeReading(): WsppError | undefined {
    const processor = this.processor;
    if (processor === undefined || this.finished) return new WsppError('websocket.invalid_state', 'the connection is not open');
    this.userPaused = false;
    // A pending serialized handler keeps reading paused until it settles.
    if (this.busy) return undefined;
    this.link?.resume();
    processor.resumeReading();
    return undefined;
  }

  tryInterrupt(): WsppError | undefined {
    if (this.finished) return new WsppError('websocket.invalid_state', 'the connection is closed');
    setImmediate(() => {
      if (!this.finished) this.call('interrupt', this.handlers.interrupt);
    });
    return undefined;
  }

  // Throwing forms (WebSocket++'s exception overloads).
  send(payload: Uint8Array | string, opcode?: DataOpcode, options?: { compress?: boolean }): void {
    orThrow(this.trySend(payload, opcode, options));
  }

  sendPrepared(message: PreparedMessage): void {
    orThrow(this.trySendPrepared(message));
  }

  sendFragment(payload: Uint8Array | string, fin: boolean, opcode?: DataOpcode): void {
    orThrow(this.trySendFragment(payload, fin, opcode));
  }

  close(code = 1000, reason = ''): void {
    orThrow(this.tryClose(code, reason));
  }

  ping(payload: Uint8Array | string = EMPTY): void {
    orThrow(this.tryPing(payload));
  }

  pong(payload: Uint8Array | string = EMPTY): void {
    orThrow(this.tryPong(payload));
  }

  pauseReading(): void {
    orThrow(this.tryPauseReading());
  }

  resumeReading(): void {
    orThrow(this.tryResumeReading());
  }

  interrupt(): void {
    orThrow(this.tryInterrupt());
  }

  // --- handlers of this connection only ------------------------------------------

  /** @internal */
  setHandler(name: keyof HandlerTable, handler: HandlerTable[keyof HandlerTable]): void {
    const next: HandlerTable = { ...this.handlers };
    if (handler === undefined) delete next[name];
    else next[name] = handler;
    this.handlers = next;
  }

  // --- iostream transport: the user moves the bytes ------------------------------

  /** iostream: feed bytes read from the peer. */
  readSome(bytes: Uint8Array): void {
    if (this.link instanceof IostreamLink) this.link.readSome(bytes);
  }

  /** iostream: the input ended. */
  eof(): void {
    if (this.link instanceof IostreamLink) this.link.eof();
  }

  /** iostream: the stream broke. */
  fatalError(err?: Error): void {
    if (this.link instanceof IostreamLink) this.link.fatalError(err);
  }

  /** Drop the transport now (WebSocket++'s terminate). */
  terminate(error?: WsppError): void {
    if (this.processor === undefined) this.failEarly(error ?? new WsppError('websocket.operation_canceled'));
    else this.processor.terminate(error);
  }

  // --- getters ---------------------------------------------------------------

  get state(): ConnectionState {
    if (this.processor !== undefined) return this.processor.state;
    return this.finished ? 'failed' : 'connecting';
  }

  getEc(): WsppError | undefined {
    return this.processor?.error ?? this.ec;
  }

  get bufferedAmount(): number {
    return this.link?.bufferedAmount ?? 0;
  }

  getRemoteEndpoint(): string {
    return this.link?.remoteEndpoint ?? 'unknown';
  }

  getRequestHeaders(): HttpHeaders | undefined {
    const p = this.processor;
    if (p instanceof ServerProcessor) return p.requestHead?.headers;
    return undefined;
  }

  getRequestHeader(name: string): string {
    const p = this.processor;
    if (p instanceof ServerProcessor) return p.requestHead?.headers.get(name) ?? '';
    const lower = name.toLowerCase();
    return this.headerList?.find(([n]) => n.toLowerCase() === lower)?.[1] ?? '';
  }

  getResponseHeader(name: string): string {
    const p = this.processor;
    if (p instanceof ClientProcessor) return p.response?.headers.get(name) ?? '';
    const lower = name.toLowerCase();
    return this.headerList?.find(([n]) => n.toLowerCase() === lower)?.[1] ?? '';
  }

  getResponseStatus(): number {
    const p = this.processor;
    if (p instanceof ClientProcessor) return p.response?.status ?? 0;
    return this.status;
  }

  getResource(): string {
    const p = this.processor;
    if (p instanceof ServerProcessor) return p.request?.resource ?? p.requestHead?.target ?? '';
    return this.uri?.resource ?? '';
  }

  getHost(): string {
    const p = this.processor;
    if (p instanceof ServerProcessor) return hostWithoutPort(p.request?.host ?? p.requestHead?.headers.get('host') ?? '');
    return this.uri?.host ?? '';
  }

  getOrigin(): string {
    const p = this.processor;
    if (p instanceof ServerProcessor) return p.request?.origin ?? '';
    return this.getRequestHeader('origin');
  }

  getUri(): string {
    return this.uri?.href ?? '';
  }

  getSubprotocol(): string {
    return this.processor?.subprotocol ?? '';
  }

  getRequestedSubprotocols(): string[] {
    const p = this.processor;
    if (p instanceof ServerProcessor) return p.request?.subprotocols.slice() ?? [];
    return this.offered?.slice() ?? [];
  }

  getExtensions(): string {
    return this.processor?.extensions ?? '';
  }

  /** The negotiated extensions, typed (with permessage-deflate enabled in the config). */
  get extensions(): { permessageDeflate: DeflateAgreement | undefined } {
    return { permessageDeflate: this.deflateAgreement };
  }

  getLocalCloseCode(): number {
    return this.processor?.localCloseCode ?? 1006;
  }

  getLocalCloseReason(): string {
    return this.processor?.localCloseReason ?? '';
  }

  getRemoteCloseCode(): number {
    return this.processor?.remoteCloseCode ?? 1006;
  }

  getRemoteCloseReason(): string {
    return this.processor?.remoteCloseReason ?? '';
  }

  // --- handshake customisation ----------------------------------------------

  /** Server, in validate/http handlers: the HTTP status to answer with. */
  setStatus(code: number, reason?: string): void {
    this.status = code;
    this.statusReason = reason;
  }

  setBody(body: string | Uint8Array): void {
    this.body = body;
  }

  /** Server: a response header; client (before connect): a request header. */
  appendHeader(name: string, value: string): void {
    (this.headerList ??= []).push([name, value]);
  }

  replaceHeader(name: string, value: string): void {
    const lower = name.toLowerCase();
    this.headerList = (this.headerList ?? []).filter(([n]) => n.toLowerCase() !== lower);
    this.headerList.push([name, value]);
  }

  removeHeader(name: string): void {
    const lower = name.toLowerCase();
    this.headerList = this.headerList?.filter(([n]) => n.toLowerCase() !== lower);
  }

  /** Server, in the validate handler: the subprotocol to accept (one the client offered). */
  selectSubprotocol(subprotocol: string): WsppError | undefined {
    const offered = this.getRequestedSubprotocols();
    if (!offered.includes(subprotocol)) return new WsppError('websocket.invalid_subprotocol', `the client did not offer ${subprotocol}`);
    this.selectedSubprotocol = subprotocol;
    return undefined;
  }

  /** Client, before connect: offer a subprotocol. */
  addSubprotocol(subprotocol: string): WsppError | undefined {
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(subprotocol)) return new WsppError('websocket.invalid_subprotocol', subprotocol);
    (this.offered ??= []).push(subprotocol);
    return undefined;
  }

  /** Client, before connect: reach the server through an HTTP CONNECT proxy. */
  setProxy(url: string): WsppError | undefined {
    try {
      const parsed = new URL(url);
      if (parsed.protocol !== 'http:') return new WsppError('transport.proxy_invalid', 'only http:// proxies are supported');
    } catch {
      return new WsppError('transport.proxy_invalid', url);
    }
    this.proxy = url;
    return undefined;
  }

  setProxyBasicAuth(user: string, password: string): void {
    this.proxyAuth = [user, password];
  }

  setMaxMessageSize(bytes: number): void {
    this.maxMessageSize = bytes;
    this.processor?.setLimits({ maxMessageSize: bytes });
  }

  // --- internals -------------------------------------------------------------

  private decide(ok: boolean): void {
    const server = this.processor as ServerProcessor;
    if (server.state !== 'connecting') return;
    if (ok) {
      this.acceptUpgrade();
      return;
    }
    const status = (this.status ||= 403);
    server.reject(status, {
      ...(this.statusReason === undefined ? {} : { reason: this.statusReason }),
      headers: this.headerList ?? [],
      ...(this.body === undefined ? {} : { body: this.body }),
    });
  }

  private acceptUpgrade(): void {
    const server = this.processor as ServerProcessor;
    let extensions: { response: string; codec: MessageCodec } | undefined;
    const deflate = this.endpoint.deflate;
    if (deflate !== undefined) {
      const choice = deflate.choose(server.request?.extensions ?? '');
      if (choice instanceof WsppError) {
        this.status = choice.status;
        server.reject(choice.status, { body: choice.message });
        return;
      }
      if (choice !== undefined) {
        extensions = choice;
        this.deflateAgreement = choice.agreement;
      }
    }
    this.status = 101;
    const err = server.accept({
      subprotocol: this.selectedSubprotocol,
      headers: this.headerList ?? [],
      server: this.endpoint.settings.userAgent,
      ...(extensions === undefined ? {} : { extensions: extensions.response, codec: extensions.codec }),
    });
    if (err !== undefined) {
      extensions?.codec.close();
      server.reject(500, { body: err.message });
    }
  }

  /**
   * After a handler that may be async: under serialized concurrency a pending promise
   * pauses reading until it settles, so the next event waits for it.
   */
  private track(name: string, result: unknown): void {
    if (!this.serialized || !isThenable(result)) return;
    this.busy = true;
    this.processor?.pauseReading();
    this.link?.pause();
    result.then(
      () => this.settled(),
      (err: unknown) => {
        this.handlerThrew(name, err);
        this.settled();
      },
    );
  }

  private settled(): void {
    this.busy = false;
    this.releaseLent();
    if (this.finished || this.userPaused) return;
    this.link?.resume();
    this.processor?.resumeReading();
  }

  /** Call a handler whose result does not matter; exceptions are logged, never escape. */
  private call(name: string, handler: ((...args: any[]) => unknown) | undefined, arg?: unknown): void {
    if (handler === undefined) return;
    try {
      const result = arg === undefined
        ? (handler as (hdl: ConnectionHdl, con: this) => unknown)(this.hdl, this)
        : (handler as (hdl: ConnectionHdl, arg: unknown, con: this) => unknown)(this.hdl, arg, this);
      if (isThenable(result)) result.then(undefined, (err: unknown) => this.handlerThrew(name, err));
    } catch (err) {
      this.handlerThrew(name, err);
    }
  }

  /** A user handler threw: log it; a broken message handler closes the session with 1011. */
  private handlerThrew(name: string, err: unknown): void {
    const elog = this.endpoint.elog;
    if ((elog.mask & ErrorChannel.rerror) !== 0) {
      elog.write(ErrorChannel.rerror, () => `${name} handler threw: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
    if (name === 'message' && this.processor?.state === 'open') this.tryClose(1011, `${name} handler failed`);
  }

  private pressure(link: Link): void {
    const slow = this.config.slowConsumer;
    if (slow !== false && link.bufferedAmount > slow.limit) {
      const processor = this.processor;
      if (processor !== undefined && (processor.state === 'open' || processor.state === 'closing')) {
        processor.localCloseCode = slow.closeCode;
        processor.localCloseReason = 'slow consumer';
        processor.terminate(new WsppError('websocket.slow_consumer', `${link.bufferedAmount} bytes queued`));
        link.destroy();
      }
      return;
    }
    this.drainArmed = true;
  }

  private armOpenTimer(): void {
    const wait = this.openHandshakeTimeout;
    if (wait <= 0) return;
    this.openTimer = setTimeout(() => {
      this.openTimer = undefined;
      const err = new WsppError('websocket.open_handshake_timeout');
      this.processor?.terminate(err);
      this.link?.destroy();
    }, wait);
    this.openTimer.unref();
  }

  private armPongTimer(payload: Buffer): void {
    const wait = this.pongTimeout;
    if (wait <= 0 || this.pongTimer !== undefined) return;
    this.pongTimer = setTimeout(() => {
      this.pongTimer = undefined;
      this.call('pongTimeout', this.handlers.pongTimeout, payload);
      if (this.keepAlivePing) {
        // A peer that does not answer keep-alive pings is gone: drop it (1006 locally).
        this.processor?.terminate(new WsppError('websocket.pong_timeout'));
        this.link?.destroy();
      }
    }, wait);
    this.pongTimer.unref();
  }

  private startKeepAlive(): void {
    const keepAlive = this.config.keepAlive;
    if (keepAlive === false || keepAlive.interval <= 0) return;
    this.keepAliveTimer = setInterval(() => {
      if (this.sawInput) {
        this.sawInput = false;
        return;
      }
      if (this.pongTimer !== undefined || this.processor?.state !== 'open') return;
      this.keepAlivePing = true;
      if (this.processor.ping(EMPTY) === undefined) this.armPongTimer(EMPTY);
    }, keepAlive.interval);
    this.keepAliveTimer.unref();
  }

  private clearTimer(name: 'openTimer' | 'closeTimer' | 'pongTimer'): void {
    const t = this[name];
    if (t !== undefined) {
      clearTimeout(t);
      this[name] = undefined;
    }
  }

  private clearTimers(): void {
    this.clearTimer('openTimer');
    this.clearTimer('closeTimer');
    this.clearTimer('pongTimer');
    if (this.keepAliveTimer !== undefined) clearInterval(this.keepAliveTimer);
    this.keepAliveTimer = undefined;
  }

  private logFail(error: WsppError): void {
    const alog = this.endpoint.alog;
    if ((alog.mask & AccessChannel.fail) !== 0) {
      alog.write(AccessChannel.fail, () => `WebSocket Connection ${this.getRemoteEndpoint()} ${this.role} failed: ${error.code} ${error.message}`);
    }
  }

  private describeOpen(): string {
    const ua = this.role === 'server' ? this.getRequestHeader('user-agent') : this.getResponseHeader('server');
    return `${this.getRemoteEndpoint()} v13 "${ua}" ${this.getResource()} 101`;
  }

  private describeClose(): string {
    const local = this.getLocalCloseCode();
    const remote = this.getRemoteCloseCode();
    return `Disconnect close local:[${local}${this.getLocalCloseReason() ? `,${this.getLocalCloseReason()}` : ''}] remote:[${remote}${this.getRemoteCloseReason() ? `,${this.getRemoteCloseReason()}` : ''}] (${closeCodeName(remote)})`;
  }
}

installHandlerSetters(ConnectionImpl);
