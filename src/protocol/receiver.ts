/**
 * Frames to messages: fragmentation rules, the message size and fragment-count limits,
 * streaming UTF-8 validation of text (fail fast, across fragment boundaries), and
 * control frames interleaved between fragments. One copy at most per message: a message
 * that arrived as one view is handed on as that view.
 */
import { Opcode, type ControlOpcode, type DataOpcode } from './constants.js';
import { WsppError } from './errors.js';
import type { FrameHandler } from './parser.js';
import { Utf8Validator } from './utf8.js';

export interface ReceiverEvents {
  onMessage(opcode: DataOpcode, payload: Uint8Array): WsppError | undefined;
  /**
   * Optional, used when the receiver was made with `handlerAssembles`: joins the pieces of a
   * message that arrived in several views into one buffer of `size` bytes (a message-buffer
   * policy hands out a reused buffer here).
   */
  assemble?(pieces: readonly Uint8Array[], size: number): Uint8Array;
  /** A whole message whose first frame had RSV1 (compressed by a negotiated extension). */
  onCompressedMessage(opcode: DataOpcode, payload: Uint8Array): WsppError | undefined;
  /** A whole control frame; the payload is a fresh copy the handler may keep. */
  onControl(opcode: ControlOpcode, payload: Uint8Array): WsppError | undefined;
}

export interface ReceiverLimits {
  /** Largest message (sum of its fragments' payloads); larger closes with 1009. */
  maxMessageSize: number;
  /** Most fragments in one message; more closes with 1009 (a flood of tiny fragments). */
  maxFragments: number;
}

/** The pieces joined without a copy when they are consecutive views of one buffer (a gathered frame), else undefined. */
function consecutive(pieces: readonly Uint8Array[], size: number): Uint8Array | undefined {
  const first = pieces[0]!;
  let end = first.byteOffset + first.length;
  for (let i = 1; i < pieces.length; i++) {
    const piece = pieces[i]!;
    if (piece.buffer !== first.buffer || piece.byteOffset !== end) return undefined;
    end += piece.length;
  }
  return Buffer.from(first.buffer, first.byteOffset, size);
}

export const DEFAULT_RECEIVER_LIMITS: ReceiverLimits = {
  maxMessageSize: 32_000_000,
  maxFragments: 65_536,
};

const EMPTY = new Uint8Array(0);

export class MessageReceiver implements FrameHandler {
  /** Limits may be changed between messages (WebSocket++'s set_max_message_size). */
  limits: ReceiverLimits;
  // Current frame.
  private frameOpcode = 0;
  private frameFin = false;
  // Current message (opcode 0 = none in progress).
  private messageOpcode = 0;
  /** The message being received had RSV1 on its first frame. */
  private compressed = false;
  private size = 0;
  private fragments = 0;
  private first: Uint8Array | undefined;
  private readonly pieces: Uint8Array[] = [];
  /** Created with the first text message. */
  private utf8: Utf8Validator | undefined;
  // Control frame payloads (at most 125 bytes) are gathered here (allocated with the first one).
  private control: Uint8Array | undefined;
  private controlLen = 0;

  /**
   * `handlerAssembles`: multi-piece messages are joined by `handler.assemble` instead of a
   * fresh Buffer.concat. A flag and a method rather than a function per receiver: a
   * function-valued option cost idle server connections ~1 KB of RSS each (measured).
   */
  constructor(
    private readonly handler: ReceiverEvents,
    limits: Partial<ReceiverLimits> = {},
    private readonly handlerAssembles = false,
  ) {
    this.limits = { maxMessageSize: limits.maxMessageSize ?? DEFAULT_RECEIVER_LIMITS.maxMessageSize, maxFragments: limits.maxFragments ?? DEFAULT_RECEIVER_LIMITS.maxFragments };
  }

  /** True while a fragmented message is incomplete. */
  get midMessage(): boolean {
    return this.messageOpcode !== 0;
  }

  onFrameHeader(fin: boolean, rsv: number, opcode: number, length: number): WsppError | undefined {
    this.frameOpcode = opcode;
    this.frameFin = fin;
    // The parser only lets RSV bits through that an extension negotiated; RFC 7692 puts
    // RSV1 on the first frame of a compressed message only.
    if (opcode >= 0x8) {
      if (rsv !== 0) return new WsppError('processor.invalid_rsv_bit', 'RSV bit on a control frame');
      this.controlLen = 0;
      return undefined;
    }
    if (opcode === Opcode.Continuation) {
      if (this.messageOpcode === 0) return new WsppError('processor.invalid_continuation', 'continuation frame without a message to continue');
      if (rsv !== 0) return new WsppError('processor.invalid_rsv_bit', 'RSV bit on a continuation frame');
    } else {
      if (this.messageOpcode !== 0) return new WsppError('processor.invalid_continuation', 'new data frame before the fragmented message ended');
      this.messageOpcode = opcode;
      this.compressed = rsv !== 0;
      this.size = 0;
      this.fragments = 0;
    }
    const limits = this.limits;
    if (++this.fragments > limits.maxFragments) return new WsppError('processor.too_many_fragments');
    this.size += length;
    if (this.size > limits.maxMessageSize) {
      return new WsppError('processor.message_too_big', `${this.size} bytes > maxMessageSize ${limits.maxMessageSize}`);
    }
    return undefined;
  }

  onFrameData(data: Uint8Array): WsppError | undefined {
    if (this.frameOpcode >= 0x8) {
      (this.control ??= new Uint8Array(125)).set(data, this.controlLen);
      this.controlLen += data.length;
      return undefined;
    }
    if (this.messageOpcode === Opcode.Text && !this.compressed && !(this.utf8 ??= new Utf8Validator()).update(data)) {
      return new WsppError('processor.invalid_utf8');
    }
    // Most messages are one piece: keep it aside and touch the array only for more.
    if (this.first === undefined) this.first = data;
    else this.pieces.push(data);
    return undefined;
  }

  onFrameEnd(): WsppError | undefined {
    if (this.frameOpcode >= 0x8) {
      const payload = this.controlLen === 0 ? new Uint8Array(0) : this.control!.slice(0, this.controlLen);
      return this.handler.onControl(this.frameOpcode as ControlOpcode, payload);
    }
    if (!this.frameFin) return undefined;
    const opcode = this.messageOpcode as DataOpcode;
    this.messageOpcode = 0;
    if (opcode === Opcode.Text && !this.compressed && !(this.utf8 ??= new Utf8Validator()).finish()) {
      this.utf8.reset();
      return new WsppError('processor.invalid_utf8', 'truncated UTF-8 sequence at the end of the message');
    }
    const first = this.first;
    let payload: Uint8Array;
    if (first === undefined) {
      payload = EMPTY;
    } else if (this.pieces.length === 0) {
      payload = first;
    } else {
      this.pieces.unshift(first);
      payload =
        consecutive(this.pieces, this.size) ??
        (this.handlerAssembles ? this.handler.assemble!(this.pieces, this.size) : Buffer.concat(this.pieces, this.size));
      this.pieces.length = 0;
    }
    this.first = undefined;
    return this.compressed ? this.handler.onCompressedMessage(opcode, payload) : this.handler.onMessage(opcode, payload);
  }
}
