/**
 * The per-connection state machine as pure code (Sans-I/O), for both roles.
 *
 * Input: bytes (`feed`), the end of input (`eof`), and user actions (send, ping, pong,
 * close; on servers accept/reject/respond). Output: bytes and requests to end the
 * transport through the host's `write` / `end`, and events through the host's handlers.
 * No timers here: the host (a transport) arms them, reading `state` and the events.
 *
 * Lifecycle: connecting → open → closing → closed, or connecting → failed.
 * - `onFail` reports a session that never opened; `onClose` one that did, exactly once.
 * - Protocol errors after open send a close frame with the error's close code (unless
 *   `dropOnProtocolError`), end the transport and report `onClose` with the error in
 *   `error`. Input after the peer's close frame is ignored.
 */
import { Opcode, type ControlOpcode, type DataOpcode } from './constants.js';
import { buildClosePayload, parseClosePayload } from './close.js';
import { WsppError } from './errors.js';
import type { MessageCodec } from './extension.js';
import { headerSize, RSV1, writeHeader } from './frame.js';
import {
  buildClientRequest,
  buildErrorResponse,
  buildHttpResponse,
  buildServerResponse,
  generateKey,
  isWebSocketRequest,
  validateClientRequest,
  validateServerResponse,
  type ClientRequestInfo,
} from './handshake.js';
import { HttpHeadParser, parseHead, type HttpHead, type HttpLimits } from './http.js';
import { mask } from './mask.js';
import { FrameParser } from './parser.js';
import { isValidUtf8, Utf8Validator } from './utf8.js';
import { MessageReceiver, type ReceiverEvents, type ReceiverLimits } from './receiver.js';

export type ProcessorState = 'connecting' | 'open' | 'closing' | 'closed' | 'failed';

/** What the processor needs from its surroundings. */
export interface ProcessorHost {
  /** Bytes for the peer, in order. The processor never touches a buffer after handing it over. */
  write(data: Uint8Array): void;
  /** Optional, used with the option `hostAssembles`: join a message's pieces (`size` bytes in all) into one buffer. */
  assemble?(pieces: readonly Uint8Array[], size: number): Uint8Array;
  /**
   * Optional: reserve `length` bytes of the transport's output buffer, to frame a small
   * message in place (no intermediate buffer, no second copy). Returns the offset into
   * `outputBuffer`, or -1 when the transport cannot (then `write` is used).
   */
  reserve?(length: number): number;
  /** The buffer `reserve` offsets point into (valid right after `reserve`). */
  readonly outputBuffer?: Uint8Array;
  /**
   * End the transport once written bytes are flushed. `release`: the closing handshake is
   * complete and this side closes the TCP connection first (the server, RFC 6455 7.1.1);
   * nothing more may come from the peer, so the transport may close outright instead of
   * half-closing and waiting for the peer's end.
   */
  end(release?: boolean): void;
  onOpen(): void;
  onMessage(opcode: DataOpcode, payload: Uint8Array): void;
  /** Return false to suppress the automatic pong. */
  onPing(payload: Uint8Array): boolean | void;
  onPong(payload: Uint8Array): void;
  /** A close frame arrived from the peer (before the processor answers it). */
  onCloseFrame?(code: number, reason: string): void;
  /** The session ended after it had opened (clean or not); read the close fields. */
  onClose(): void;
  /** The session ended before it opened. */
  onFail(error: WsppError): void;
}

export interface ServerProcessorHost extends ProcessorHost {
  /** A valid upgrade request: call `accept()` or `reject()`, now or later. Absent: accept. */
  onUpgradeRequest?(request: ClientRequestInfo): void;
  /** A request without `Upgrade`: call `respond()`. Absent: answer 426. */
  onHttpRequest?(head: HttpHead): void;
}

export interface ProcessorOptions extends Partial<ReceiverLimits>, Partial<HttpLimits> {
  /** Close the TCP connection on protocol errors without a close frame. */
  dropOnProtocolError?: boolean;
  /** Send close frames without code or reason when closing because of an error. */
  silentClose?: boolean;
  /** Payloads up to this size are copied next to their header (one write); larger go as two writes. */
  copyThreshold?: number;
  /** A message received in several pieces is joined by `ProcessorHost.assemble` (default: a fresh Buffer.concat). */
  hostAssembles?: boolean;
}

export interface ClientProcessorOptions extends ProcessorOptions {
  host: string;
  port?: number;
  secure?: boolean;
  resource?: string;
  origin?: string;
  userAgent?: string;
  subprotocols?: string[];
  extensions?: string;
  headers?: [string, string][];
  /** Fills `length` random bytes at `offset`: masking keys and Sec-WebSocket-Key. */
  random: (target: Uint8Array, offset: number, length: number) => void;
  /** The server accepted our `extensions` offer with this answer: the codec, or why it is unacceptable. */
  negotiateExtensions?: (answer: string) => MessageCodec | WsppError;
}

export interface AcceptOptions {
  subprotocol?: string;
  /** The Sec-WebSocket-Extensions answer, with the codec that implements it. */
  extensions?: string;
  codec?: MessageCodec;
  headers?: [string, string][];
  server?: string;
}

export interface HttpAnswer {
  reason?: string;
  headers?: [string, string][];
  body?: string | Uint8Array;
}

/** A message framed once, to be written to many connections (unmasked: server side). */
export interface PreparedMessage {
  readonly opcode: DataOpcode;
  readonly payload: Uint8Array;
  /** Header + payload, built on first use by a server connection and shared. */
  framed: Uint8Array | undefined;
}

const DEFAULT_COPY_THRESHOLD = 16 * 1024;

abstract class Processor implements ReceiverEvents {
  state: ProcessorState = 'connecting';
  /** The error that ended the session, if any (WebSocket++'s get_ec). */
  error: WsppError | undefined;
  /** Negotiated subprotocol ('' for none) and the extensions header value in force. */
  subprotocol = '';
  extensions = '';
  localCloseCode = 1006;
  localCloseReason = '';
  remoteCloseCode = 1006;
  remoteCloseReason = '';
  /** Whether we sent a close frame / received one. */
  closeSent = false;
  closeReceived = false;

  protected readonly parser: FrameParser;
  protected readonly receiver: MessageReceiver;
  private readonly dropOnProtocolError: boolean;
  private readonly silentClose: boolean;
  private readonly copyThreshold: number;
  /** Opcode of the fragmented message being sent with sendFrame, 0 for none. */
  private sendingFragmented = 0;
  /** UTF-8 state of a text message being sent in fragments of bytes. */
  private sendUtf8: Utf8Validator | undefined;
  /** The user asked to pause reading (the parser is also paused internally while connecting). */
  private userPaused = false;
  /** The negotiated per-message extension (permessage-deflate), if any. */
  protected codec: MessageCodec | undefined;
  /** A compressed message is being decoded: reading waits for it. */
  private decoding = false;
  /**
   * Output waiting behind a message being encoded, in send order; undefined when nothing
   * waits (the common case: frames go straight to the host).
   */
  private outQueue: OutItem[] | undefined;
  private endWhenDrained = false;

  protected constructor(
    protected readonly host: ProcessorHost,
    role: 'server' | 'client',
    options: ProcessorOptions,
  ) {
    this.dropOnProtocolError = options.dropOnProtocolError ?? false;
    this.silentClose = options.silentClose ?? false;
    this.copyThreshold = options.copyThreshold ?? DEFAULT_COPY_THRESHOLD;
    this.receiver = new MessageReceiver(this, options, options.hostAssembles === true);
    // A host that joins pieces itself (a pooled message buffer) gets them as chunk views.
    this.parser = new FrameParser(this.receiver, { role, gather: options.hostAssembles !== true });
    // Frames that arrive with the handshake wait until the session is open.
    this.parser.pause();
  }

  /** Use a negotiated per-message extension: RSV1 becomes legal on first data frames. */
  protected useCodec(codec: MessageCodec): void {
    this.codec = codec;
    this.parser.allowedRsv = RSV1;
  }

  /** Masking key for the next frame (clients), or undefined (servers). */
  protected abstract nextMaskKey(): Uint8Array | undefined;
  /** Bytes while connecting: the handshake. */
  protected abstract feedHandshake(chunk: Uint8Array): void;

  /** Bytes from the peer. */
  feed(chunk: Uint8Array): void {
    switch (this.state) {
      case 'connecting':
        this.feedHandshake(chunk);
        return;
      case 'open':
      case 'closing': {
        const err = this.parser.push(chunk);
        if (err !== undefined) this.protocolError(err);
        return;
      }
      default:
        return; // after close: ignored
    }
  }

  /** The peer ended the stream (TCP FIN, reset, or the user's iostream eof). */
  eof(error?: WsppError): void {
    switch (this.state) {
      case 'connecting':
        this.fail(error ?? new WsppError('processor.no_handshake'));
        return;
      case 'open':
      case 'closing': {
        const cause = error ?? (this.parser.midFrame ? new WsppError('processor.incomplete_frame') : new WsppError('transport.eof'));
        if (!this.closeReceived) {
          this.remoteCloseCode = 1006;
          this.remoteCloseReason = '';
          this.error ??= cause;
        }
        this.finish();
        return;
      }
      default:
        return;
    }
  }

  /** Stop delivering messages until `resumeReading` (input is queued meanwhile). */
  pauseReading(): void {
    this.userPaused = true;
    this.parser.pause();
  }

  resumeReading(): void {
    this.userPaused = false;
    if (this.state !== 'open' && this.state !== 'closing') return;
    if (this.decoding) return; // the decode's completion resumes
    const err = this.parser.resume();
    if (err !== undefined) this.protocolError(err);
  }

  get readingPaused(): boolean {
    return this.parser.isPaused;
  }

  /** Input received but not yet parsed (while paused). */
  get queuedBytes(): number {
    return this.parser.queuedBytes;
  }

  /** Change the message limits for messages that start after this call. */
  setLimits(limits: Partial<ReceiverLimits>): void {
    this.receiver.limits = { ...this.receiver.limits, ...limits };
  }

  /**
   * Send a whole message. With a negotiated extension, `compress` chooses per message
   * (default: the extension's threshold decides).
   */
  send(opcode: DataOpcode, payload: Uint8Array | string, compress?: boolean): WsppError | undefined {
    if (this.state !== 'open') return new WsppError('websocket.invalid_state', `cannot send while ${this.state}`);
    if (this.sendingFragmented !== 0) return new WsppError('websocket.invalid_state', 'a fragmented message is being sent');
    // Text from bytes must be UTF-8 (strings always encode to valid UTF-8).
    if (opcode === Opcode.Text && typeof payload !== 'string' && !isValidUtf8(payload)) {
      return new WsppError('processor.invalid_payload', 'a text message must be valid UTF-8');
    }
    const codec = this.codec;
    if (codec !== undefined && compress !== false) {
      const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
      if (compress === true || codec.shouldCompress(bytes.length)) {
        this.sendCompressed(codec, opcode, bytes);
        return undefined;
      }
    }
    this.writeFrame(true, opcode, payload);
    return undefined;
  }

  /** Encode, then frame with RSV1; frames sent meanwhile queue behind it. */
  private sendCompressed(codec: MessageCodec, opcode: DataOpcode, payload: Uint8Array): void {
    const item: OutItem = { bytes: undefined };
    (this.outQueue ??= []).push(item);
    codec.compress(payload, (err, out) => {
      if (err !== undefined || out === undefined) {
        item.bytes = [];
        this.drainOut();
        this.protocolError(err ?? new WsppError('extension.zlib_error'));
        return;
      }
      item.bytes = this.frame(true, RSV1, opcode, out);
      this.drainOut();
    });
  }

  /** Output waits behind a message being compressed: payloads sent now are kept until then. */
  get holdsOutput(): boolean {
    return this.outQueue !== undefined;
  }

  /** Hand queued output to the host up to the first item still being encoded. */
  private drainOut(): void {
    const queue = this.outQueue;
    if (queue === undefined) return;
    while (queue.length > 0) {
      const bytes = queue[0]!.bytes;
      if (bytes === undefined) return;
      queue.shift();
      for (const b of bytes) this.host.write(b);
    }
    this.outQueue = undefined;
    if (this.endWhenDrained) {
      this.endWhenDrained = false;
      this.host.end(this.releasesTransport());
    }
  }

  /** End the transport once queued output is out. */
  private endTransport(): void {
    if (this.outQueue !== undefined) this.endWhenDrained = true;
    else this.host.end(this.releasesTransport());
  }

  /** Whether this side closes the transport at once when the session ends (see ProcessorHost.end). */
  private releasesTransport(): boolean {
    return this.closesTransportFirst && this.closeSent && this.closeReceived;
  }

  /** The server closes the TCP connection first; a client waits for it (RFC 6455 7.1.1). */
  protected abstract readonly closesTransportFirst: boolean;

  /**
   * Send one fragment of a message: the first call names the message's opcode, later
   * calls continue it; `fin` ends it. Control frames may be sent in between.
   */
  sendFrame(opcode: DataOpcode | undefined, payload: Uint8Array | string, fin: boolean): WsppError | undefined {
    if (this.state !== 'open') return new WsppError('websocket.invalid_state', `cannot send while ${this.state}`);
    const continuing = this.sendingFragmented;
    // No opcode: the message's, or for its first fragment the payload's kind.
    const messageOpcode = opcode ?? ((continuing || (typeof payload === 'string' ? Opcode.Text : Opcode.Binary)) as DataOpcode);
    if (continuing !== 0 && continuing !== messageOpcode) {
      return new WsppError('processor.invalid_arguments', 'a fragmented message keeps its opcode');
    }
    // Text bytes must be UTF-8 across the fragments (a code point may straddle two).
    if (messageOpcode === Opcode.Text && typeof payload !== 'string') {
      const utf8 = (this.sendUtf8 ??= new Utf8Validator());
      if (continuing === 0) utf8.reset();
      if (!utf8.update(payload) || (fin && !utf8.finish())) {
        utf8.reset();
        return new WsppError('processor.invalid_payload', 'a text message must be valid UTF-8');
      }
    }
    this.sendingFragmented = fin ? 0 : messageOpcode;
    this.writeFrame(fin, continuing === 0 ? messageOpcode : Opcode.Continuation, payload);
    return undefined;
  }

  /** Frame a message once for many connections (see `sendPrepared`). */
  /** Throws `processor.invalid_payload` for text bytes that are not UTF-8. */
  static prepare(opcode: DataOpcode, payload: Uint8Array | string): PreparedMessage {
    if (opcode === Opcode.Text && typeof payload !== 'string' && !isValidUtf8(payload)) {
      throw new WsppError('processor.invalid_payload', 'a text message must be valid UTF-8');
    }
    return { opcode, payload: typeof payload === 'string' ? Buffer.from(payload) : payload, framed: undefined };
  }

  sendPrepared(message: PreparedMessage): WsppError | undefined {
    if (this.state !== 'open') return new WsppError('websocket.invalid_state', `cannot send while ${this.state}`);
    if (this.sendingFragmented !== 0) return new WsppError('websocket.invalid_state', 'a fragmented message is being sent');
    const key = this.nextMaskKey();
    if (key !== undefined) {
      this.writeFrame(true, message.opcode, message.payload);
      return undefined;
    }
    if (message.framed === undefined) {
      const payload = message.payload;
      const size = headerSize(payload.length, false);
      const framed = Buffer.allocUnsafe(size + payload.length);
      writeHeader(framed, 0, true, 0, message.opcode, payload.length);
      framed.set(payload, size);
      message.framed = framed;
    }
    this.host.write(message.framed);
    return undefined;
  }

  ping(payload: Uint8Array | string = EMPTY): WsppError | undefined {
    return this.sendControl(Opcode.Ping, payload);
  }

  pong(payload: Uint8Array | string = EMPTY): WsppError | undefined {
    return this.sendControl(Opcode.Pong, payload);
  }

  /**
   * Start the closing handshake. 1005 (no status) sends a close frame without a code.
   * Invalid codes and over-long reasons are returned as errors and nothing is sent.
   */
  close(code = 1000, reason = ''): WsppError | undefined {
    if (this.state !== 'open') {
      return new WsppError('websocket.invalid_state', `cannot close while ${this.state}`);
    }
    const payload = buildClosePayload(code, reason);
    if (payload instanceof WsppError) return payload;
    this.localCloseCode = code;
    this.localCloseReason = reason;
    this.sendClose(payload);
    return undefined;
  }

  /** Drop the connection without a closing handshake (WebSocket++'s terminate / force_tcp_drop). */
  terminate(error?: WsppError): void {
    if (this.state === 'closed' || this.state === 'failed') return;
    if (this.state === 'connecting') {
      this.fail(error ?? new WsppError('websocket.operation_canceled'));
      return;
    }
    this.error ??= error;
    this.finish();
  }

  // --- ReceiverEvents (called by the receiver while parsing) ---

  assemble(pieces: readonly Uint8Array[], size: number): Uint8Array {
    return this.host.assemble!(pieces, size);
  }

  onMessage(opcode: DataOpcode, payload: Uint8Array): WsppError | undefined {
    this.host.onMessage(opcode, payload);
    return undefined;
  }

  onCompressedMessage(opcode: DataOpcode, payload: Uint8Array): WsppError | undefined {
    const codec = this.codec;
    if (codec === undefined) return new WsppError('processor.invalid_rsv_bit');
    // Messages are delivered in order: nothing more is parsed until this one is decoded.
    this.decoding = true;
    this.parser.pause();
    codec.decompress(payload, this.receiver.limits.maxMessageSize, (err, out) => {
      this.decoding = false;
      if (this.state !== 'open' && this.state !== 'closing') return;
      if (err !== undefined || out === undefined) {
        this.protocolError(err ?? new WsppError('extension.zlib_error'));
        return;
      }
      if (opcode === Opcode.Text && !isValidUtf8(out)) {
        this.protocolError(new WsppError('processor.invalid_utf8'));
        return;
      }
      this.host.onMessage(opcode, out);
      if (!this.userPaused && (this.state === 'open' || this.state === 'closing')) {
        const next = this.parser.resume();
        if (next !== undefined) this.protocolError(next);
      }
    });
    return undefined;
  }

  onControl(opcode: ControlOpcode, payload: Uint8Array): WsppError | undefined {
    if (opcode === Opcode.Ping) {
      if (this.host.onPing(payload) !== false && this.state === 'open') this.writeFrame(true, Opcode.Pong, payload);
      return undefined;
    }
    if (opcode === Opcode.Pong) {
      this.host.onPong(payload);
      return undefined;
    }
    return this.receiveClose(payload);
  }

  // --- internals ---

  protected open(): void {
    this.state = 'open';
    this.host.onOpen();
    // The open handler may have closed the session or paused reading.
    if (this.state === 'open' && !this.userPaused) {
      const err = this.parser.resume();
      if (err !== undefined) this.protocolError(err);
    }
  }

  protected fail(error: WsppError): void {
    if (this.state !== 'connecting') return;
    this.state = 'failed';
    this.error = error;
    this.parser.fail();
    this.codec?.close();
    this.host.end();
    this.host.onFail(error);
  }

  private receiveClose(payload: Uint8Array): WsppError | undefined {
    const parsed = parseClosePayload(payload);
    if (parsed instanceof WsppError) return parsed;
    this.closeReceived = true;
    this.remoteCloseCode = parsed.code;
    this.remoteCloseReason = parsed.reason;
    this.host.onCloseFrame?.(parsed.code, parsed.reason);
    // Nothing after the close frame is read.
    this.parser.fail();
    if (!this.closeSent && this.state === 'open') {
      // Echo the peer's code and reason (RFC 6455 5.5.1, as WebSocket++ does); no status
      // is answered with no status.
      this.localCloseCode = parsed.code;
      this.localCloseReason = parsed.code === 1005 ? '' : parsed.reason;
      const answer = parsed.code === 1005 ? EMPTY : buildClosePayload(parsed.code, parsed.reason);
      this.sendClose(answer instanceof WsppError ? EMPTY : answer);
    }
    this.finish();
    return undefined;
  }

  private protocolError(err: WsppError): void {
    this.parser.fail();
    this.error ??= err;
    if (this.state === 'open' && !this.dropOnProtocolError) {
      this.localCloseCode = err.closeCode;
      this.localCloseReason = this.silentClose ? '' : truncateReason(err.message);
      const payload = this.silentClose ? EMPTY : buildClosePayload(err.closeCode, this.localCloseReason);
      this.sendClose(payload instanceof WsppError ? EMPTY : payload);
    } else if (this.state === 'open') {
      this.localCloseCode = 1006;
    }
    this.finish();
  }

  private sendClose(payload: Uint8Array): void {
    this.closeSent = true;
    this.state = 'closing';
    this.writeFrame(true, Opcode.Close, payload);
  }

  /** The session is over: end the transport and report once. */
  private finish(): void {
    if (this.state === 'closed' || this.state === 'failed') return;
    this.state = 'closed';
    this.parser.fail();
    this.codec?.close();
    this.endTransport();
    this.host.onClose();
  }

  private sendControl(opcode: ControlOpcode, payload: Uint8Array | string): WsppError | undefined {
    if (this.state !== 'open') return new WsppError('websocket.invalid_state', `cannot send while ${this.state}`);
    const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
    if (bytes.length > 125) return new WsppError('processor.control_too_big');
    this.writeFrame(true, opcode, bytes);
    return undefined;
  }

  private writeFrame(fin: boolean, opcode: number, payload: Uint8Array | string): void {
    const queue = this.outQueue;
    if (queue !== undefined) {
      queue.push({ bytes: this.frame(fin, 0, opcode, payload) });
      return;
    }
    const key = this.nextMaskKey();
    const host = this.host;
    if (host.reserve !== undefined) {
      const length = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
      const at = host.reserve(headerSize(length, key !== undefined) + length);
      if (at >= 0) {
        // Framed in place in the transport's batch: the common small-message path.
        this.fillFrame(host.outputBuffer!, at, fin, 0, opcode, payload, length, key);
        return;
      }
    }
    for (const bytes of this.frame(fin, 0, opcode, payload, key)) host.write(bytes);
  }

  /**
   * A frame as buffers to write: header and payload as they are for large unmasked
   * payloads (no copy), else one buffer with both.
   */
  private frame(fin: boolean, rsv: number, opcode: number, payload: Uint8Array | string, key = this.nextMaskKey()): Uint8Array[] {
    const length = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    const size = headerSize(length, key !== undefined);
    if (key === undefined && typeof payload !== 'string' && length > this.copyThreshold) {
      const header = Buffer.allocUnsafe(size);
      writeHeader(header, 0, fin, rsv, opcode, length);
      return [header, payload];
    }
    const out = Buffer.allocUnsafe(size + length);
    this.fillFrame(out, 0, fin, rsv, opcode, payload, length, key);
    return [out];
  }

  /** Header and (masked) payload at `out[at..]`, which has room for `size + length` bytes. */
  private fillFrame(
    out: Uint8Array,
    at: number,
    fin: boolean,
    rsv: number,
    opcode: number,
    payload: Uint8Array | string,
    length: number,
    key: Uint8Array | undefined,
  ): void {
    const start = writeHeader(out, at, fin, rsv, opcode, length, key);
    if (typeof payload === 'string') {
      (out as Buffer).write(payload, start, length, 'utf8');
      if (key !== undefined) {
        const region = out.subarray(start, start + length);
        mask(region, key, out, start, length);
      }
    } else if (key !== undefined) {
      mask(payload, key, out, start, length);
    } else {
      out.set(payload, start);
    }
  }
}

interface OutItem {
  /** The frame's buffers once ready; undefined while its message is being encoded. */
  bytes: Uint8Array[] | undefined;
}

const EMPTY = new Uint8Array(0);

function truncateReason(message: string): string {
  const bytes = Buffer.from(message);
  if (bytes.length <= 123) return message;
  // Cut at a code point boundary.
  let end = 123;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString();
}

export class ServerProcessor extends Processor {
  protected readonly closesTransportFirst = true;
  /** Until the head is complete. */
  private head: HttpHeadParser | undefined;
  private decided = false;
  /** The request head's text, kept after the handshake instead of its parsed form. */
  private headText: string | undefined;
  private parsedHead: HttpHead | undefined;
  private parsedRequest: ClientRequestInfo | undefined;

  constructor(
    protected override readonly host: ServerProcessorHost,
    options: ProcessorOptions = {},
  ) {
    super(host, 'server', options);
    this.head = new HttpHeadParser('request', options);
  }

  /** The raw request head (also for plain HTTP requests), once complete. */
  get requestHead(): HttpHead | undefined {
    if (this.parsedHead === undefined && this.headText !== undefined) {
      const head = parseHead('request', this.headText, EMPTY);
      if (!(head instanceof WsppError)) this.parsedHead = head;
    }
    return this.parsedHead;
  }

  /** The opening handshake request, once parsed and valid. */
  get request(): ClientRequestInfo | undefined {
    if (this.parsedRequest === undefined && this.state !== 'connecting' && this.state !== 'failed') {
      const head = this.requestHead;
      const info = head === undefined ? undefined : validateClientRequest(head);
      if (info !== undefined && !(info instanceof WsppError)) this.parsedRequest = info;
    }
    return this.parsedRequest;
  }

  protected nextMaskKey(): undefined {
    return undefined;
  }

  protected feedHandshake(chunk: Uint8Array): void {
    const parser = this.head;
    if (parser === undefined) {
      // Waiting for accept/reject: keep what the client pipelined.
      this.parser.push(chunk);
      return;
    }
    const result = parser.push(chunk);
    if (result === undefined) return;
    this.head = undefined;
    if (result instanceof WsppError) {
      this.rejectWith(result);
      return;
    }
    this.parsedHead = result;
    this.headText = result.text;
    if (!isWebSocketRequest(result.headers)) {
      if (this.host.onHttpRequest === undefined) this.rejectWith(new WsppError('websocket.upgrade_required'));
      else this.host.onHttpRequest(result);
      return;
    }
    const info = validateClientRequest(result);
    if (info instanceof WsppError) {
      this.rejectWith(info);
      return;
    }
    this.parsedRequest = info;
    if (result.rest.length > 0) this.parser.push(result.rest);
    if (this.host.onUpgradeRequest === undefined) this.accept();
    else this.host.onUpgradeRequest(info);
  }

  protected override open(): void {
    // Idle connections keep the head as one string; getters re-parse it on demand.
    this.parsedHead = undefined;
    this.parsedRequest = undefined;
    super.open();
  }

  /** Complete the opening handshake with 101 Switching Protocols. */
  accept(options: AcceptOptions = {}): WsppError | undefined {
    const request = this.parsedRequest;
    if (this.state !== 'connecting' || request === undefined || this.decided) {
      return new WsppError('websocket.invalid_state', 'no upgrade request waiting for a decision');
    }
    if (options.subprotocol !== undefined && options.subprotocol !== '' && !request.subprotocols.includes(options.subprotocol)) {
      return new WsppError('websocket.invalid_subprotocol', `the client did not offer ${options.subprotocol}`);
    }
    this.decided = true;
    this.subprotocol = options.subprotocol ?? '';
    this.extensions = options.extensions ?? '';
    this.host.write(
      buildServerResponse({
        key: request.key,
        ...(options.subprotocol === undefined ? {} : { subprotocol: options.subprotocol }),
        ...(options.extensions === undefined ? {} : { extensions: options.extensions }),
        ...(options.headers === undefined ? {} : { headers: options.headers }),
        ...(options.server === undefined ? {} : { server: options.server }),
      }),
    );
    if (options.codec !== undefined) this.useCodec(options.codec);
    this.open();
    return undefined;
  }

  /** Refuse the upgrade with an HTTP answer (default 403) and fail the session. */
  reject(status = 403, answer: HttpAnswer = {}): WsppError | undefined {
    if (this.state !== 'connecting' || this.headText === undefined || this.decided) {
      return new WsppError('websocket.invalid_state', 'no request waiting for a decision');
    }
    this.decided = true;
    this.host.write(buildHttpResponse(status, answer));
    this.fail(new WsppError('websocket.rejected', `HTTP ${status}`));
    return undefined;
  }

  /** Answer a plain HTTP request (the http handler's response) and end the connection. */
  respond(status: number, answer: HttpAnswer = {}): WsppError | undefined {
    if (this.state !== 'connecting' || this.headText === undefined || this.decided) {
      return new WsppError('websocket.invalid_state', 'no HTTP request waiting for an answer');
    }
    this.decided = true;
    this.host.write(buildHttpResponse(status, answer));
    this.state = 'closed';
    this.parser.fail();
    this.host.end();
    return undefined;
  }

  private rejectWith(error: WsppError): void {
    this.decided = true;
    this.host.write(buildErrorResponse(error, { body: error.message }));
    this.fail(error);
  }
}

export class ClientProcessor extends Processor {
  protected readonly closesTransportFirst = false;
  /** The key sent in the request (for tests and logging). */
  readonly key: string;
  /** The request bytes, available before `start()`. */
  readonly requestBytes: Uint8Array;
  response: HttpHead | undefined;
  private head: HttpHeadParser | undefined;
  private readonly random: ClientProcessorOptions['random'];
  private readonly maskKey = new Uint8Array(4);
  private readonly offered: string[];
  private readonly offeredExtensions: boolean;
  private readonly negotiate: ClientProcessorOptions['negotiateExtensions'];

  /** Throws TypeError for options that cannot make a request (bad host, resource, header). */
  constructor(host: ProcessorHost, options: ClientProcessorOptions) {
    super(host, 'client', options);
    this.random = options.random;
    this.head = new HttpHeadParser('response', options);
    this.key = generateKey((n) => {
      const bytes = new Uint8Array(n);
      options.random(bytes, 0, n);
      return bytes;
    });
    this.offered = options.subprotocols ?? [];
    this.offeredExtensions = (options.extensions ?? '') !== '';
    this.negotiate = options.negotiateExtensions;
    this.requestBytes = buildClientRequest({
      host: options.host,
      ...(options.port === undefined ? {} : { port: options.port }),
      secure: options.secure ?? false,
      resource: options.resource ?? '/',
      key: this.key,
      ...(options.origin === undefined ? {} : { origin: options.origin }),
      ...(options.userAgent === undefined ? {} : { userAgent: options.userAgent }),
      subprotocols: this.offered,
      ...(options.extensions === undefined ? {} : { extensions: options.extensions }),
      headers: options.headers ?? [],
    });
  }

  /** Send the opening handshake request. */
  start(): void {
    this.host.write(this.requestBytes);
  }

  protected nextMaskKey(): Uint8Array {
    this.random(this.maskKey, 0, 4);
    return this.maskKey;
  }

  protected feedHandshake(chunk: Uint8Array): void {
    const result = this.head?.push(chunk);
    if (result === undefined) return;
    this.head = undefined;
    if (result instanceof WsppError) {
      this.fail(result);
      return;
    }
    this.response = result;
    const checked = validateServerResponse(result, {
      key: this.key,
      subprotocols: this.offered,
      extensionsOffered: this.offeredExtensions,
    });
    if (checked instanceof WsppError) {
      this.fail(checked);
      return;
    }
    this.subprotocol = checked.subprotocol;
    this.extensions = checked.extensions;
    if (checked.extensions !== '') {
      const codec = this.negotiate?.(checked.extensions) ?? new WsppError('processor.unrequested_extension');
      if (codec instanceof WsppError) {
        this.fail(codec);
        return;
      }
      this.useCodec(codec);
    }
    if (result.rest.length > 0) this.parser.push(result.rest);
    this.open();
  }
}
