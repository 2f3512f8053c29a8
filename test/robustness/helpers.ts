/**
 * Helpers for the robustness tests: frames built by hand (including illegal ones), a
 * parser for what a server answers, memory and fd measurements, open-handle snapshots.
 * The socket helpers of test/integration/helpers.ts are imported, not copied.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { encodeFrame } from '../../src/protocol/frame.js';
import type { ConfigOverrides, ConnectionHdl } from '../../src/index.js';
import { bounded, socketClosed, type RawPeer } from '../integration/helpers.js';

/** The runtime settings the robustness servers vary (the policy choices stay the stock ones). */
export type Settings = Pick<ConfigOverrides, 'maxMessageSize' | 'maxFragments' | 'maxHttpHeadSize' | 'maxHttpHeaders' | 'timeouts' | 'keepAlive' | 'slowConsumer'>;

/** What the recorders read of a connection. */
export interface ConView {
  getResource(): string;
  getEc(): { code: string } | undefined;
  getLocalCloseCode(): number;
  getRemoteCloseCode(): number;
}

/** Any endpoint's close and fail handler setters. */
export interface Recordable {
  setCloseHandler(handler: (hdl: ConnectionHdl, con: ConView) => void): void;
  setFailHandler(handler: (hdl: ConnectionHdl, con: ConView) => void): void;
}

export const KiB = 1024;
export const MiB = 1024 * 1024;

// --- frames ------------------------------------------------------------------------------------

/** A masked client frame (the legal encoding of any header the codec can write). */
export function clientFrame(opcode: number, payload: Uint8Array | string = '', options: { fin?: boolean; rsv?: number } = {}): Buffer {
  const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
  return Buffer.from(encodeFrame(opcode, bytes, { fin: options.fin ?? true, rsv: options.rsv ?? 0, maskKey: randomBytes(4) }));
}

/** An unmasked frame (what a server sends; illegal from a client). */
export function serverFrame(opcode: number, payload: Uint8Array | string = '', options: { fin?: boolean; rsv?: number } = {}): Buffer {
  const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
  return Buffer.from(encodeFrame(opcode, bytes, { fin: options.fin ?? true, rsv: options.rsv ?? 0 }));
}

/** A masked frame header claiming a 64-bit length (no payload follows). */
export function header64(opcode: number, length: bigint, fin = true, masked = true): Buffer {
  const out = Buffer.alloc(masked ? 14 : 10);
  out[0] = (fin ? 0x80 : 0) | opcode;
  out[1] = (masked ? 0x80 : 0) | 127;
  out.writeBigUInt64BE(length, 2);
  if (masked) randomBytes(4).copy(out, 10);
  return out;
}

/** A masked frame whose length uses the 16-bit form even when it is < 126 (non-minimal). */
export function nonMinimalFrame(opcode: number, payload: Buffer): Buffer {
  const key = randomBytes(4);
  const out = Buffer.alloc(8 + payload.length);
  out[0] = 0x80 | opcode;
  out[1] = 0x80 | 126;
  out.writeUInt16BE(payload.length, 2);
  key.copy(out, 4);
  for (let i = 0; i < payload.length; i++) out[8 + i] = payload[i]! ^ key[i & 3]!;
  return out;
}

export function closePayload(code: number, reason: Uint8Array | string = ''): Buffer {
  const r = typeof reason === 'string' ? Buffer.from(reason) : Buffer.from(reason);
  const out = Buffer.alloc(2 + r.length);
  out.writeUInt16BE(code, 0);
  r.copy(out, 2);
  return out;
}

export interface ParsedFrame {
  opcode: number;
  fin: boolean;
  masked: boolean;
  payload: Buffer;
}

/**
 * Parse frames from bytes (after the HTTP head). Returns the frames and the unparsed
 * rest. Only for what our servers send in tests (lengths < 2^53).
 */
export function parseFrames(bytes: Buffer): { frames: ParsedFrame[]; rest: Buffer } {
  const frames: ParsedFrame[] = [];
  let at = 0;
  for (;;) {
    if (bytes.length - at < 2) break;
    const b0 = bytes[at]!;
    const b1 = bytes[at + 1]!;
    let len = b1 & 0x7f;
    let off = at + 2;
    if (len === 126) {
      if (bytes.length - at < 4) break;
      len = bytes.readUInt16BE(at + 2);
      off = at + 4;
    } else if (len === 127) {
      if (bytes.length - at < 10) break;
      len = Number(bytes.readBigUInt64BE(at + 2));
      off = at + 10;
    }
    const masked = (b1 & 0x80) !== 0;
    const key = masked ? bytes.subarray(off, off + 4) : undefined;
    if (masked) off += 4;
    if (bytes.length < off + len) break;
    const payload = Buffer.from(bytes.subarray(off, off + len));
    if (key !== undefined) for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ key[i & 3]!;
    frames.push({ opcode: b0 & 0x0f, fin: (b0 & 0x80) !== 0, masked, payload });
    at = off + len;
  }
  return { frames, rest: bytes.subarray(at) };
}

/** The close code of a close frame payload (1005 for an empty one). */
export function closeCodeOf(payload: Buffer): number {
  return payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
}

/**
 * How a raw peer's connection ended: waits (bounded) for the socket to close, then
 * reports the close frame the server sent, if any.
 */
export async function rawOutcome(peer: RawPeer, ms = 5000): Promise<{ closeCode: number | undefined; closeReason: string; socketClosed: boolean }> {
  const gone = await bounded(peer.closedPromise.then(() => true), ms);
  const close = peer.frames.find((f) => f.opcode === 8);
  return {
    closeCode: close === undefined ? undefined : closeCodeOf(close.payload),
    closeReason: close === undefined ? '' : close.payload.subarray(2).toString(),
    socketClosed: gone === true,
  };
}

export { socketClosed };

// --- memory, fds, handles ------------------------------------------------------------------------

let gcFn: (() => void) | undefined;

/** A full garbage collection (exposes gc at run time if the process was not started with it). */
export function gc(): void {
  if (gcFn === undefined) {
    const existing = (globalThis as { gc?: () => void }).gc;
    if (existing !== undefined) gcFn = existing;
    else {
      setFlagsFromString('--expose-gc');
      gcFn = runInNewContext('gc') as () => void;
    }
  }
  gcFn();
}

/** RSS after a few GCs and a pause (lets sockets and timers wind down). */
export async function settledRss(rounds = 4): Promise<number> {
  for (let i = 0; i < rounds; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 50));
  }
  return process.memoryUsage.rss();
}

/** The soft limit on open files of this process (Linux /proc), or undefined. */
export function fdLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined || soft === 'unlimited' ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}

/** Counts of the active resources that sockets, servers and timers hold. */
export function socketHandles(): { sockets: number; servers: number; tls: number; timers: number } {
  const info = process.getActiveResourcesInfo();
  return {
    sockets: info.filter((t) => t === 'TCPSocketWrap').length,
    servers: info.filter((t) => t === 'TCPServerWrap').length,
    tls: info.filter((t) => t === 'TLSWrap').length,
    timers: info.filter((t) => t === 'Timeout').length,
  };
}
