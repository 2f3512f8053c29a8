import type { MessagePoolSpec } from './types.js';

export interface PoolOptions {
  /** Buffers kept on the free list at most (default 256). */
  buffers?: number;
  /** Bytes per buffer (default 64 KiB). */
  size?: number;
}

/** Reuse buffers across messages and connections, bounded to `buffers * size` bytes. */
export function pool(options: PoolOptions = {}): MessagePoolSpec<'pool'> {
  const buffers = options.buffers ?? 256;
  const size = options.size ?? 64 * 1024;
  if (!Number.isInteger(buffers) || buffers < 1) throw new RangeError('pool: buffers must be a positive integer');
  if (!Number.isInteger(size) || size < 1024) throw new RangeError('pool: size must be an integer >= 1024');
  return Object.freeze({ kind: 'pool', buffers, size });
}

/** The endpoint-wide free list behind a `pool` spec. */
export class BufferPool {
  private readonly free: Buffer[] = [];
  /** Every buffer this pool made, to recognise lent payloads handed back to send(). */
  private readonly made = new WeakSet<ArrayBufferLike>();
  /** Buffers handed out and not yet released. */
  outstanding = 0;

  constructor(
    readonly size: number,
    readonly capacity: number,
  ) {}

  /** A buffer of `size` bytes (contents undefined). */
  acquire(): Buffer {
    this.outstanding++;
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    const buffer = Buffer.allocUnsafeSlow(this.size);
    this.made.add(buffer.buffer);
    return buffer;
  }

  /**
   * Is `payload` a view of one of this pool's buffers while buffers are lent out (a lent
   * payload)? With none outstanding it skips the lookup (`.buffer` is a runtime call).
   */
  lends(payload: Uint8Array | string): payload is Uint8Array {
    return this.outstanding !== 0 && typeof payload !== 'string' && this.made.has(payload.buffer);
  }

  /**
   * `bytes` (a view of one of this pool's buffers) may be read after its handler returns,
   * by a socket still writing it or a compressor: its buffer is never reused, and is left
   * to the GC once released.
   */
  forfeit(bytes: Uint8Array): void {
    this.made.delete(bytes.buffer);
  }

  /** Give a buffer back; beyond capacity, or forfeited, it is left to the GC. */
  release(buffer: Buffer): void {
    this.outstanding--;
    if (this.free.length < this.capacity && this.made.has(buffer.buffer)) this.free.push(buffer);
  }

  get available(): number {
    return this.free.length;
  }
}
