/**
 * A wire tap for the deflate dimension of the interop matrix: a TCP (or TLS-terminating)
 * relay between a peer and wspp that reads the frame headers going each way, so a test
 * can say what travelled compressed (RSV1 on a message's first frame), how many bytes a
 * message took on the wire, and whether any frame broke RFC 7692's RSV1 rules (RSV1 on a
 * continuation or control frame, RSV2/RSV3 anywhere). Payloads are relayed untouched and
 * never buffered: 16 MiB messages cost nothing extra here.
 *
 * Connections are told apart by the request path (one connection per path in the matrix).
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { HOST, bounded, deferred, type Deferred } from '../integration/helpers.js';

export interface WireFrame {
  opcode: number;
  fin: boolean;
  rsv1: boolean;
  /** RSV2 or RSV3 set. */
  rsvOther: boolean;
  /** Payload bytes on the wire (compressed size for a compressed frame). */
  length: number;
}

/** One data message as it travelled: its frames put together. */
export interface WireMessage {
  opcode: number;
  compressed: boolean;
  frames: number;
  /** Payload bytes on the wire, all frames. */
  bytes: number;
}

export interface WireRecord {
  path: string;
  /** Frames client → server, and server → client. */
  toServer: WireFrame[];
  toClient: WireFrame[];
  /** Resolves once both sockets of the relayed connection have closed. */
  done: Promise<void>;
}

export interface WireTap {
  /** ws://127.0.0.1:PORT or wss://... (no path) of the tap. */
  base: string;
  port: number;
  /** The record of the connection on `path`, once it has ended (bounded wait). */
  record(path: string): Promise<WireRecord>;
  stop(): Promise<void>;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const MAX_HEAD = 64 * 1024;

/** Reads an HTTP head, then frame headers, skipping payloads; calls `frame` for each. */
class FrameScanner {
  private head: Buffer | undefined = Buffer.alloc(0);
  private header = Buffer.alloc(0);
  private skip = 0;

  constructor(
    private readonly onHead: (head: string) => void,
    private readonly frame: (f: WireFrame) => void,
  ) {}

  push(chunk: Buffer): void {
    let data = chunk;
    if (this.head !== undefined) {
      const joined = Buffer.concat([this.head, data]);
      const end = joined.indexOf(HEAD_END);
      if (end < 0) {
        this.head = joined.length > MAX_HEAD ? undefined : joined;
        return;
      }
      this.head = undefined;
      this.onHead(joined.subarray(0, end).toString('latin1'));
      data = joined.subarray(end + 4);
    }
    while (data.length > 0) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, data.length);
        this.skip -= n;
        data = data.subarray(n);
        continue;
      }
      this.header = Buffer.concat([this.header, data]);
      data = Buffer.alloc(0);
      const h = this.header;
      if (h.length < 2) return;
      const len7 = h[1]! & 0x7f;
      const masked = (h[1]! & 0x80) !== 0;
      const extra = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
      const size = 2 + extra + (masked ? 4 : 0);
      if (h.length < size) return;
      const length = len7 === 126 ? h.readUInt16BE(2) : len7 === 127 ? Number(h.readBigUInt64BE(2)) : len7;
      const b0 = h[0]!;
      this.frame({ opcode: b0 & 0x0f, fin: (b0 & 0x80) !== 0, rsv1: (b0 & 0x40) !== 0, rsvOther: (b0 & 0x30) !== 0, length });
      data = h.subarray(size);
      this.header = Buffer.alloc(0);
      this.skip = length;
    }
  }
}

/**
 * Start a tap relaying to `target` (a port on 127.0.0.1). With `tls`, the tap is a TLS
 * server (with that certificate) and reaches the target over TLS (any certificate).
 */
export async function startWireTap(target: { port: number; tls?: { cert: string | Buffer; key: string | Buffer } }): Promise<WireTap> {
  const records = new Map<string, Deferred<WireRecord>>();
  const slot = (path: string): Deferred<WireRecord> => {
    let d = records.get(path);
    if (d === undefined) records.set(path, (d = deferred<WireRecord>()));
    return d;
  };
  const live = new Set<net.Socket>();

  const relay = (down: net.Socket): void => {
    const up: net.Socket = target.tls !== undefined ? tls.connect({ host: HOST, port: target.port, rejectUnauthorized: false }) : net.connect({ host: HOST, port: target.port, allowHalfOpen: true });
    live.add(down);
    live.add(up);
    const toServer: WireFrame[] = [];
    const toClient: WireFrame[] = [];
    let closed = 0;
    const ended = deferred<void>();
    const onClose = (s: net.Socket) => () => {
      live.delete(s);
      if (++closed === 2) ended.resolve();
    };
    down.once('close', onClose(down));
    up.once('close', onClose(up));
    const fromClient = new FrameScanner(
      (head) => {
        const path = head.split(' ')[1] ?? '';
        slot(path).resolve({ path, toServer, toClient, done: ended.promise });
      },
      (f) => toServer.push(f),
    );
    const fromServer = new FrameScanner(() => undefined, (f) => toClient.push(f));
    down.on('data', (d: Buffer) => fromClient.push(d));
    up.on('data', (d: Buffer) => fromServer.push(d));
    // pipe() forwards each end (FIN) to the other side; an error drops both.
    down.pipe(up);
    up.pipe(down);
    down.on('error', () => up.destroy());
    up.on('error', () => down.destroy());
  };

  const server: net.Server =
    target.tls !== undefined ? tls.createServer({ cert: target.tls.cert, key: target.tls.key }, relay) : net.createServer({ allowHalfOpen: true }, relay);
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    base: `${target.tls !== undefined ? 'wss' : 'ws'}://${HOST}:${port}`,
    port,
    async record(path) {
      const rec = await bounded(slot(path).promise, 5000);
      if (rec === 'timed out') throw new Error(`wire tap: no connection for ${path}`);
      await bounded(rec.done, 5000);
      return rec;
    },
    async stop() {
      for (const s of live) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The data messages among some frames (control frames interleaved are skipped). */
export function messagesOf(frames: readonly WireFrame[]): WireMessage[] {
  const out: WireMessage[] = [];
  let current: WireMessage | undefined;
  for (const f of frames) {
    if (f.opcode >= 8) continue;
    if (f.opcode !== 0) current = { opcode: f.opcode, compressed: f.rsv1, frames: 0, bytes: 0 };
    if (current === undefined) continue;
    current.frames++;
    current.bytes += f.length;
    if (f.fin) {
      out.push(current);
      current = undefined;
    }
  }
  return out;
}

/** Frames that break RFC 7692 / RFC 6455's RSV rules, described (empty: none). */
export function rsvViolations(frames: readonly WireFrame[]): string[] {
  const out: string[] = [];
  frames.forEach((f, i) => {
    if (f.rsvOther) out.push(`frame ${i}: RSV2/RSV3 set (opcode ${f.opcode})`);
    if (f.rsv1 && f.opcode === 0) out.push(`frame ${i}: RSV1 on a continuation frame`);
    if (f.rsv1 && f.opcode >= 8) out.push(`frame ${i}: RSV1 on a control frame (opcode ${f.opcode})`);
  });
  return out;
}
