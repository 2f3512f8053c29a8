/**
 * A Link over a node:net Socket (plain or TLS). Small frames written in one tick are
 * copied into one batch buffer and written once at the end of the tick (a writev of
 * thousands of 20-byte buffers costs more than the copy); the socket's events reach the
 * connection through module-level functions (no closures per socket: idle connections
 * stay small).
 */
import type { Socket } from 'node:net';
import type { Link, LinkEvents } from './types.js';

const kEvents = Symbol('wspp.link');

type LinkedSocket = Socket & { [kEvents]: LinkEvents };

function onData(this: LinkedSocket, chunk: Buffer): void {
  this[kEvents].linkData(chunk);
}
function onEnd(this: LinkedSocket): void {
  this[kEvents].linkEnd();
}
function onError(this: LinkedSocket, err: Error): void {
  this[kEvents].linkError(err);
}
function onDrain(this: LinkedSocket): void {
  this[kEvents].linkDrain();
}
function onClose(this: LinkedSocket): void {
  this[kEvents].linkClosed();
}
function flush(link: SocketLink): void {
  link.flushBatch();
}

/** Frames up to this size are copied into the tick's batch; larger ones are written as they are. */
const SMALL = 4096;
/** Size of the shared arena that batches are cut from. */
const ARENA = 64 * 1024;

/**
 * One arena shared by every link: a link's batch is a segment of it, so an idle
 * connection holds no output buffer at all. Bytes handed to a socket are never
 * touched again; a full arena is replaced and left to the sockets still writing it.
 */
let arena = Buffer.allocUnsafeSlow(ARENA);
let arenaCursor = 0;

export class SocketLink implements Link {
  /** This tick's batched bytes: arena[segStart, segEnd) of `segArena`. */
  private segArena: Buffer | undefined;
  private segStart = 0;
  private segEnd = 0;
  private flushScheduled = false;
  private remote: string | undefined;

  constructor(
    readonly socket: Socket,
    events: LinkEvents,
  ) {
    (socket as LinkedSocket)[kEvents] = events;
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.on('drain', onDrain);
    socket.on('close', onClose);
    // A socket handed over paused (a held accept, a proxy tunnel) must flow now.
    socket.resume();
    if (socket.destroyed) process.nextTick(() => events.linkClosed());
  }

  write(data: Uint8Array): void {
    const socket = this.socket;
    if (socket.destroyed) return;
    const length = data.length;
    if (length > SMALL) {
      // Keep the order: what is batched (typically this payload's header) goes first,
      // in the same writev.
      if (this.segEnd !== this.segStart) {
        socket.cork();
        this.flushBatch();
        socket.write(data);
        socket.uncork();
      } else {
        socket.write(data);
      }
      return;
    }
    // reserve() may move to a new arena: read `arena` after it.
    const at = this.reserve(length);
    arena.set(data, at);
  }

  /**
   * Room for `length` (≤ 4 KiB) bytes at the end of this tick's batch: returns the offset
   * into `outputBuffer`, where the caller writes them now. -1 when too large or closed.
   */
  reserve(length: number): number {
    if (length > SMALL || this.socket.destroyed) return -1;
    // Append to our segment if it ends where the arena's free space starts.
    if (this.segArena !== arena || this.segEnd !== arenaCursor || arenaCursor + length > ARENA) {
      this.flushBatch();
      if (arenaCursor + length > ARENA) {
        arena = Buffer.allocUnsafeSlow(ARENA);
        arenaCursor = 0;
      }
      this.segArena = arena;
      this.segStart = this.segEnd = arenaCursor;
    }
    const at = arenaCursor;
    arenaCursor += length;
    this.segEnd = arenaCursor;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(flush, this);
    }
    return at;
  }

  /** The buffer `reserve` offsets point into. */
  get outputBuffer(): Buffer {
    return arena;
  }

  /** @internal Write the batched bytes as one chunk and let go of the arena. */
  flushBatch(): void {
    this.flushScheduled = false;
    const seg = this.segArena;
    if (seg === undefined) return;
    this.segArena = undefined;
    const start = this.segStart;
    const end = this.segEnd;
    this.segStart = this.segEnd = 0;
    if (end !== start && !this.socket.destroyed) this.socket.write(seg.subarray(start, end));
  }

  end(): void {
    this.flushBatch();
    this.socket.end();
  }

  release(): boolean {
    this.flushBatch();
    const socket = this.socket;
    // TLS ends with a close_notify alert, which only end() sends.
    if (socket.writableLength !== 0 || (socket as { encrypted?: boolean }).encrypted === true) return false;
    socket.destroy();
    return true;
  }

  destroy(): void {
    this.socket.destroy();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** Node keeps a written buffer until its write completes; a complete write leaves length 0. */
  get holdsWrites(): boolean {
    return this.socket.writableLength !== 0;
  }

  get bufferedAmount(): number {
    return this.socket.writableLength + this.segEnd - this.segStart;
  }

  get remoteEndpoint(): string {
    if (this.remote === undefined) {
      const { remoteAddress, remotePort } = this.socket;
      if (remoteAddress === undefined) return 'unknown';
      this.remote = remoteAddress.includes(':') ? `[${remoteAddress}]:${remotePort}` : `${remoteAddress}:${remotePort}`;
    }
    return this.remote;
  }
}
