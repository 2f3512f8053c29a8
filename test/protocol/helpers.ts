import { encodeFrame } from '../../src/protocol/frame.js';
import type { FrameHandler } from '../../src/protocol/parser.js';
import type { WsppError } from '../../src/protocol/errors.js';

export interface ParsedFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  payload: Buffer;
}

/** A FrameHandler that records whole frames. */
export class FrameRecorder implements FrameHandler {
  frames: ParsedFrame[] = [];
  dataCalls = 0;
  private current: ParsedFrame | undefined;
  private parts: Buffer[] = [];

  onFrameHeader(fin: boolean, rsv: number, opcode: number): WsppError | undefined {
    this.current = { fin, rsv, opcode, payload: Buffer.alloc(0) };
    this.parts = [];
    return undefined;
  }

  onFrameData(data: Uint8Array): WsppError | undefined {
    this.dataCalls++;
    this.parts.push(Buffer.from(data));
    return undefined;
  }

  onFrameEnd(): WsppError | undefined {
    const frame = this.current!;
    frame.payload = Buffer.concat(this.parts);
    this.frames.push(frame);
    return undefined;
  }
}

export const KEY = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);

/** A masked (client → server) frame. */
export function clientFrame(opcode: number, payload: Uint8Array | string, fin = true, rsv = 0): Uint8Array {
  const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
  return encodeFrame(opcode, bytes, { fin, rsv, maskKey: KEY });
}

/** An unmasked (server → client) frame. */
export function serverFrame(opcode: number, payload: Uint8Array | string, fin = true, rsv = 0): Uint8Array {
  const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
  return encodeFrame(opcode, bytes, { fin, rsv });
}

/** Split `bytes` at the given cut points. */
export function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const sorted = [...new Set(cuts.map((c) => Math.max(0, Math.min(bytes.length, c))))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of sorted) {
    out.push(bytes.subarray(prev, c));
    prev = c;
  }
  out.push(bytes.subarray(prev));
  return out;
}

/** Copy each piece so that in-place unmasking of one run does not affect another. */
export function copies(pieces: Uint8Array[]): Uint8Array[] {
  return pieces.map((p) => Uint8Array.from(p));
}
