/**
 * Frame header codec (RFC 6455 section 5.2): what we send always uses the minimal
 * length encoding; the parser (parser.ts) decodes.
 */
import { MAX_SAFE_PAYLOAD } from './constants.js';
import { mask } from './mask.js';

export const FIN = 0x80;
export const RSV1 = 0x40;
export const RSV2 = 0x20;
export const RSV3 = 0x10;
export const RSV_MASK = 0x70;

/** Size of the header for a payload of `length` bytes. */
export function headerSize(length: number, masked: boolean): number {
  const base = length < 126 ? 2 : length < 65536 ? 4 : 10;
  return masked ? base + 4 : base;
}

/**
 * Write a frame header into `target` at `offset` and return the offset after it.
 * `rsv` holds the RSV bits in their byte-0 positions (RSV1 | RSV2 | RSV3).
 */
export function writeHeader(
  target: Uint8Array,
  offset: number,
  fin: boolean,
  rsv: number,
  opcode: number,
  length: number,
  maskKey?: Uint8Array,
): number {
  if (!(length >= 0 && length <= MAX_SAFE_PAYLOAD)) throw new RangeError(`invalid payload length ${length}`);
  target[offset++] = (fin ? FIN : 0) | (rsv & RSV_MASK) | (opcode & 0x0f);
  const maskBit = maskKey === undefined ? 0 : 0x80;
  if (length < 126) {
    target[offset++] = maskBit | length;
  } else if (length < 65536) {
    target[offset++] = maskBit | 126;
    target[offset++] = length >>> 8;
    target[offset++] = length & 0xff;
  } else {
    target[offset++] = maskBit | 127;
    const high = Math.floor(length / 0x100000000);
    const low = length >>> 0;
    target[offset++] = 0;
    target[offset++] = (high >>> 16) & 0xff;
    target[offset++] = (high >>> 8) & 0xff;
    target[offset++] = high & 0xff;
    target[offset++] = low >>> 24;
    target[offset++] = (low >>> 16) & 0xff;
    target[offset++] = (low >>> 8) & 0xff;
    target[offset++] = low & 0xff;
  }
  if (maskKey !== undefined) {
    target[offset++] = maskKey[0]!;
    target[offset++] = maskKey[1]!;
    target[offset++] = maskKey[2]!;
    target[offset++] = maskKey[3]!;
  }
  return offset;
}

export interface FrameOptions {
  fin?: boolean;
  rsv?: number;
  /** 4-byte masking key: clients mask every frame, servers never. */
  maskKey?: Uint8Array | undefined;
}

/** One buffer with header and (masked) payload: for small frames and tests. */
export function encodeFrame(opcode: number, payload: Uint8Array, options: FrameOptions = {}): Uint8Array {
  const { fin = true, rsv = 0, maskKey } = options;
  const size = headerSize(payload.length, maskKey !== undefined);
  const out = Buffer.allocUnsafe(size + payload.length);
  writeHeader(out, 0, fin, rsv, opcode, payload.length, maskKey);
  if (maskKey !== undefined) mask(payload, maskKey, out, size, payload.length);
  else out.set(payload, size);
  return out;
}
