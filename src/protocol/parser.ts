/**
 * Incremental frame parser (RFC 6455 section 5.2): bytes in, frame events out.
 *
 * - Accepts chunks of any size; header bytes that straddle chunks are copied into a
 *   14-byte scratch, nothing else is ever copied or rescanned.
 * - Payload is unmasked in place and handed on as views of the input chunk (a frame that
 *   sits in one chunk arrives as one view, zero copies). A masked data frame that goes on
 *   past its first chunk is gathered instead: one buffer of the frame's length, each
 *   piece unmasked while it is copied in (one pass, not unmask-then-join) and handed on as
 *   the next consecutive view of that buffer (so a receiver needs no copy to join them).
 * - Frame-local rules are checked at the header, before any payload is accepted:
 *   reserved opcodes, RSV bits not granted by an extension, fragmented or oversized
 *   control frames, the masking rule of the role, non-minimal and >2^53-1 lengths.
 * - A handler may `pause()` the parser from inside any callback (backpressure,
 *   serialized dispatch); input that arrives meanwhile is queued until `resume()`.
 */
import { isControlOpcode } from './constants.js';
import { WsppError } from './errors.js';
import { RSV_MASK } from './frame.js';
import { mask, unmask } from './mask.js';

/** The key of the piece being unmasked: parsers run one at a time, so one scratch serves all. */
const KEY = new Uint8Array(4);

/** Receives frame events. A callback returns an error to stop the parser. */
export interface FrameHandler {
  onFrameHeader(fin: boolean, rsv: number, opcode: number, length: number): WsppError | undefined;
  /** Unmasked payload bytes; the view aliases the input chunk. */
  onFrameData(data: Uint8Array): WsppError | undefined;
  onFrameEnd(): WsppError | undefined;
}

export interface FrameParserOptions {
  /** Whose frames are parsed: a server parses client frames (masked), a client server frames (unmasked). */
  role: 'server' | 'client';
  /** RSV bits (frame.ts RSV1|RSV2|RSV3) that a negotiated extension allows; default none. */
  allowedRsv?: number;
  /**
   * Gather masked data frames that span chunks into one buffer (default true). Off, every
   * piece is a view of its chunk (a message-buffer policy that joins pieces into reused
   * buffers wants that).
   */
  gather?: boolean;
}

const enum State {
  Header = 0,
  Payload = 1,
  Failed = 2,
}

// Opcodes 3-7 and 0xB-0xF are reserved.
const VALID_OPCODE = 0b0000_0111_0000_0111;

export class FrameParser {
  private state = State.Header;
  /** Scratch for a header that straddles chunks (allocated the first time one does). */
  private head: Uint8Array | undefined;
  private headLen = 0;
  private remaining = 0;
  private masked = false;
  /** The masking key, big-endian in an int32 (no per-connection buffer for it). */
  private key = 0;
  private paused = false;
  private running = false;
  private rest: Uint8Array | undefined;
  private queue: Uint8Array[] | undefined;
  private readonly expectMasked: boolean;
  /** RSV bits allowed by negotiated extensions; may be changed once the handshake is done. */
  allowedRsv: number;
  /** Gather masked data frames that span chunks (see the file comment); off: views only. */
  private readonly gatherFrames: boolean;
  /** Payload length of the current frame. */
  private frameLength = 0;
  /** The buffer the current frame is gathered into, and how much of it is filled. */
  private gather: Uint8Array | undefined;
  private gathered = 0;

  constructor(
    private readonly handler: FrameHandler,
    options: FrameParserOptions,
  ) {
    this.expectMasked = options.role === 'server';
    this.allowedRsv = options.allowedRsv ?? 0;
    this.gatherFrames = options.gather ?? true;
  }

  /** True while a frame is partly received: the stream must not end here. */
  get midFrame(): boolean {
    return this.state === State.Payload || this.headLen > 0;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  get failed(): boolean {
    return this.state === State.Failed;
  }

  /** Bytes received but not yet parsed because the parser is paused. */
  get queuedBytes(): number {
    let n = this.rest === undefined ? 0 : this.rest.length;
    for (const c of this.queue ?? []) n += c.length;
    return n;
  }

  /** Parse `chunk`. Returns the error that stopped parsing, if any. */
  push(chunk: Uint8Array): WsppError | undefined {
    if (this.state === State.Failed) return undefined;
    if (this.paused || this.running || this.rest !== undefined || (this.queue !== undefined && this.queue.length !== 0)) {
      (this.queue ??= []).push(chunk);
      return undefined;
    }
    return this.run(chunk);
  }

  /** Stop after the current event; called from a handler callback or from outside. */
  pause(): void {
    this.paused = true;
  }

  /**
   * Continue with queued input. Returns the error that stopped parsing, if any. Called
   * from inside a callback, it only lifts the pause: the running loop goes on.
   */
  resume(): WsppError | undefined {
    if (!this.paused) return undefined;
    this.paused = false;
    if (this.running || this.state === State.Failed) return undefined;
    const next = this.rest ?? this.queue?.shift();
    this.rest = undefined;
    return next === undefined ? undefined : this.run(next);
  }

  private run(chunk: Uint8Array): WsppError | undefined {
    this.running = true;
    try {
      let err = this.consume(chunk);
      while (err === undefined && !this.paused && this.state !== State.Failed) {
        const next = this.rest ?? this.queue?.shift();
        this.rest = undefined;
        if (next === undefined) break;
        err = this.consume(next);
      }
      return err;
    } finally {
      this.running = false;
    }
  }

  /** Drop all state and input; further input is ignored. */
  fail(): void {
    this.state = State.Failed;
    this.rest = undefined;
    this.queue = undefined;
    this.head = undefined;
    this.gather = undefined;
  }

  private consume(chunk: Uint8Array): WsppError | undefined {
    const len = chunk.length;
    let pos = 0;
    const handler = this.handler;
    for (;;) {
      if (this.paused) {
        if (pos < len) this.rest = chunk.subarray(pos);
        return undefined;
      }
      if (this.state === State.Header) {
        if (pos >= len) return undefined;
        let buf: Uint8Array;
        let at: number;
        if (this.headLen === 0 && len - pos >= 2) {
          const need = headerLength(chunk[pos + 1]!);
          if (len - pos >= need) {
            buf = chunk;
            at = pos;
            pos += need;
          } else {
            (this.head ??= new Uint8Array(14)).set(chunk.subarray(pos), 0);
            this.headLen = len - pos;
            return undefined;
          }
        } else {
          // Slow path: the header straddles chunks.
          const head = (this.head ??= new Uint8Array(14));
          if (this.headLen < 2) {
            head[this.headLen++] = chunk[pos++]!;
            if (this.headLen < 2) continue;
          }
          const need = headerLength(head[1]!);
          const take = Math.min(need - this.headLen, len - pos);
          head.set(chunk.subarray(pos, pos + take), this.headLen);
          this.headLen += take;
          pos += take;
          if (this.headLen < need) return undefined;
          this.headLen = 0;
          buf = head;
          at = 0;
        }
        const err = this.header(buf, at);
        if (err !== undefined) return this.stop(err);
        if (this.remaining === 0) {
          const endErr = handler.onFrameEnd();
          if (endErr !== undefined) return this.stop(endErr);
        } else {
          this.state = State.Payload;
        }
        continue;
      }
      if (this.state !== State.Payload) return undefined;
      if (pos >= len) return undefined;
      const n = this.remaining < len - pos ? this.remaining : len - pos;
      let data = pos === 0 && n === len ? chunk : chunk.subarray(pos, pos + n);
      pos += n;
      const frameStart = this.remaining === this.frameLength;
      this.remaining -= n;
      if (this.masked) {
        const key = this.key;
        KEY[0] = key >>> 24;
        KEY[1] = (key >>> 16) & 0xff;
        KEY[2] = (key >>> 8) & 0xff;
        KEY[3] = key & 0xff;
        // The first piece of a data frame that goes on past this chunk: gather the frame.
        if (frameStart && this.remaining !== 0 && this.gatherFrames) {
          this.gather = Buffer.allocUnsafe(this.frameLength);
          this.gathered = 0;
        }
        const gather = this.gather;
        if (gather !== undefined) {
          const at = this.gathered;
          mask(data, KEY, gather, at, n);
          this.gathered = at + n;
          data = gather.subarray(at, at + n);
          if (this.remaining === 0) this.gather = undefined;
        } else {
          unmask(data, KEY);
        }
        // Continue the key where this piece stopped.
        const shift = (n & 3) * 8;
        if (this.remaining !== 0 && shift !== 0) this.key = (key << shift) | (key >>> (32 - shift));
      }
      const dataErr = handler.onFrameData(data);
      if (dataErr !== undefined) return this.stop(dataErr);
      if (this.remaining === 0) {
        this.state = State.Header;
        const endErr = handler.onFrameEnd();
        if (endErr !== undefined) return this.stop(endErr);
      }
    }
  }

  /** Decode and check the header at buf[at..]; the caller made sure it is complete. */
  private header(buf: Uint8Array, at: number): WsppError | undefined {
    const b0 = buf[at]!;
    const b1 = buf[at + 1]!;
    const opcode = b0 & 0x0f;
    const fin = (b0 & 0x80) !== 0;
    const rsv = b0 & RSV_MASK;
    if (((VALID_OPCODE >>> opcode) & 1) === 0) return new WsppError('processor.invalid_opcode', `opcode ${opcode}`);
    if ((rsv & ~this.allowedRsv) !== 0) return new WsppError('processor.invalid_rsv_bit');
    const masked = (b1 & 0x80) !== 0;
    if (masked !== this.expectMasked) {
      return new WsppError(this.expectMasked ? 'processor.masking_required' : 'processor.masking_forbidden');
    }
    let length = b1 & 0x7f;
    let p = at + 2;
    if (isControlOpcode(opcode)) {
      if (!fin) return new WsppError('processor.fragmented_control');
      if (length > 125) return new WsppError('processor.control_too_big');
    } else if (length === 126) {
      length = (buf[p]! << 8) | buf[p + 1]!;
      p += 2;
      if (length < 126) return new WsppError('processor.non_minimal_encoding');
    } else if (length === 127) {
      const high = ((buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!) >>> 0;
      const low = ((buf[p + 4]! << 24) | (buf[p + 5]! << 16) | (buf[p + 6]! << 8) | buf[p + 7]!) >>> 0;
      p += 8;
      if (high > 0x7fffffff) return new WsppError('processor.protocol_violation', 'the most significant bit of a 64-bit length is set');
      if (high > 0x1fffff) return new WsppError('processor.requires_64bit');
      length = high * 0x100000000 + low;
      if (length < 65536) return new WsppError('processor.non_minimal_encoding');
    }
    this.masked = masked;
    if (masked) this.key = (buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!;
    this.remaining = length;
    // Control frames (≤ 125 bytes) are never gathered: the receiver copies them anyway.
    this.frameLength = isControlOpcode(opcode) ? -1 : length;
    return this.handler.onFrameHeader(fin, rsv, opcode, length);
  }

  private stop(err: WsppError): WsppError {
    this.fail();
    return err;
  }
}

/** Header size implied by the second header byte. */
function headerLength(b1: number): number {
  const len7 = b1 & 0x7f;
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + ((b1 & 0x80) !== 0 ? 4 : 0);
}
