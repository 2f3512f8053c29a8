/**
 * permessage-deflate (RFC 7692) enabled: the policy a config names with
 * `extensions: { permessageDeflate: deflate({...}) }`.
 *
 * - Negotiation is the protocol layer's (protocol/deflate-params.ts); this file makes
 *   the codec a negotiated connection uses.
 * - zlib contexts are made on first use and released when the connection ends; with
 *   no_context_takeover they are released after every message, so idle connections
 *   hold none.
 * - Inflating stops as soon as the output passes the size limit (a decompression bomb
 *   costs at most maxMessageSize bytes of memory and closes with 1009).
 * - zlib jobs of one endpoint run through one queue with a concurrency limit, so
 *   thousands of connections compressing at once cannot exhaust memory.
 */
import * as zlib from 'node:zlib';
import {
  acceptDeflateResponse,
  buildDeflateOffer,
  chooseDeflateOffer,
  DEFAULT_DEFLATE_NEGOTIATION,
  type DeflateAgreement,
  type DeflateNegotiation,
} from '../../protocol/deflate-params.js';
import { WsppError } from '../../protocol/errors.js';
import type { CodecCallback, MessageCodec } from '../../protocol/extension.js';
import type { DeflateSpec } from './types.js';

export interface DeflateOptions extends Partial<DeflateNegotiation> {
  /** zlib compression level 0-9 (default: zlib's, 6). */
  level?: number;
  /** zlib memLevel 1-9 (default 8): memory per compression context. */
  memLevel?: number;
  /** Messages smaller than this many bytes are sent uncompressed (default 1024). */
  threshold?: number;
  /** zlib jobs of one endpoint running at once (default 10). */
  concurrency?: number;
  /**
   * Release a connection's compression context after this many ms without sending a
   * compressed message (default 1000; 0 keeps it). A compressor may always start
   * afresh — the peer's decompressor does not care — so idle connections need not hold
   * zlib's ~256 KiB; the next message just compresses without history.
   */
  idleRelease?: number;
  /**
   * Compression contexts kept alive per endpoint at most (default 256, about 64 MiB with
   * the default memLevel and window); past it the least recently used one is released
   * (its next message compresses without history). 0: no limit.
   */
  maxCompressors?: number;
}

export interface DeflateEnabledSpec extends DeflateSpec<'enabled'> {
  readonly negotiation: Readonly<DeflateNegotiation>;
  readonly level: number;
  readonly memLevel: number;
  readonly threshold: number;
  readonly concurrency: number;
  readonly idleRelease: number;
  readonly maxCompressors: number;
}

function checkBits(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 8 || value > 15) throw new RangeError(`deflate: ${name} must be an integer in 8..15`);
}

/** permessage-deflate enabled with these choices. */
export function deflate(options: DeflateOptions = {}): DeflateEnabledSpec {
  const negotiation: DeflateNegotiation = {
    serverNoContextTakeover: options.serverNoContextTakeover ?? DEFAULT_DEFLATE_NEGOTIATION.serverNoContextTakeover,
    clientNoContextTakeover: options.clientNoContextTakeover ?? DEFAULT_DEFLATE_NEGOTIATION.clientNoContextTakeover,
    serverMaxWindowBits: options.serverMaxWindowBits ?? DEFAULT_DEFLATE_NEGOTIATION.serverMaxWindowBits,
    clientMaxWindowBits: options.clientMaxWindowBits ?? DEFAULT_DEFLATE_NEGOTIATION.clientMaxWindowBits,
    allowDisablingContextTakeover: options.allowDisablingContextTakeover ?? DEFAULT_DEFLATE_NEGOTIATION.allowDisablingContextTakeover,
    minimumOutgoingWindowBits: options.minimumOutgoingWindowBits ?? DEFAULT_DEFLATE_NEGOTIATION.minimumOutgoingWindowBits,
  };
  checkBits('serverMaxWindowBits', negotiation.serverMaxWindowBits);
  checkBits('clientMaxWindowBits', negotiation.clientMaxWindowBits);
  checkBits('minimumOutgoingWindowBits', negotiation.minimumOutgoingWindowBits);
  if (negotiation.minimumOutgoingWindowBits < 9) throw new RangeError('deflate: zlib cannot compress with an 8-bit window: minimumOutgoingWindowBits >= 9');
  const level = options.level ?? zlib.constants.Z_DEFAULT_COMPRESSION;
  const memLevel = options.memLevel ?? 8;
  const threshold = options.threshold ?? 1024;
  const concurrency = options.concurrency ?? 10;
  const idleRelease = options.idleRelease ?? 1000;
  if (!(idleRelease >= 0)) throw new RangeError('deflate: idleRelease must be >= 0');
  const maxCompressors = options.maxCompressors ?? 256;
  if (!Number.isInteger(maxCompressors) || maxCompressors < 0) throw new RangeError('deflate: maxCompressors must be an integer >= 0');
  if (!Number.isInteger(level) || level < -1 || level > 9) throw new RangeError('deflate: level must be -1..9');
  if (!Number.isInteger(memLevel) || memLevel < 1 || memLevel > 9) throw new RangeError('deflate: memLevel must be 1..9');
  if (!(threshold >= 0)) throw new RangeError('deflate: threshold must be >= 0');
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError('deflate: concurrency must be a positive integer');
  return Object.freeze({ kind: 'enabled', negotiation: Object.freeze(negotiation), level, memLevel, threshold, concurrency, idleRelease, maxCompressors });
}

/** Runs at most `limit` jobs at once; the others wait in order. */
export class Limiter {
  private running = 0;
  private readonly waiting: ((release: () => void) => void)[] = [];

  constructor(readonly limit: number) {}

  run(job: (release: () => void) => void): void {
    if (this.running < this.limit) {
      this.running++;
      job(this.release);
    } else {
      this.waiting.push(job);
    }
  }

  get queued(): number {
    return this.waiting.length;
  }

  get active(): number {
    return this.running;
  }

  private readonly release = (): void => {
    const next = this.waiting.shift();
    if (next === undefined) this.running--;
    else process.nextTick(next, this.release);
  };
}

const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** The last `size` bytes of `older` followed by `newer`. */
function lastBytes(older: Buffer | undefined, newer: Buffer, size: number): Buffer {
  if (newer.length >= size) return Buffer.from(newer.subarray(newer.length - size));
  if (older === undefined || older.length === 0) return Buffer.from(newer);
  const keep = Math.min(older.length, size - newer.length);
  return Buffer.concat([older.subarray(older.length - keep), newer]);
}

/** One connection's compression state. */
class DeflateCodec implements MessageCodec {
  private inflater: zlib.InflateRaw | undefined;
  private deflater: zlib.DeflateRaw | undefined;
  private closed = false;
  /** Jobs whose zlib callback has not come yet: close() ends them, so no queue slot leaks. */
  private readonly inflight = new Set<(err: WsppError) => void>();
  private compressing = false;
  /** Bytes written to the current inflater (to see a DEFLATE stream that ended early). */
  private inflaterIn = 0;
  /** The peer's last window of output, kept once it ends messages with final blocks. */
  private history: Buffer | undefined;
  private compressQueue: [Uint8Array, CodecCallback][] | undefined;

  /** When this codec last compressed (ms, performance.now()). */
  lastCompress = 0;

  constructor(
    private readonly spec: DeflateEnabledSpec,
    private readonly limiter: Limiter,
    private readonly budget: CompressorBudget,
    /** Window of the peer's compressor (what we inflate) and whether it resets per message. */
    private readonly inflateBits: number,
    private readonly inflateReset: boolean,
    /** Our compressor's window and whether we reset per message. */
    private readonly deflateBits: number,
    private readonly deflateReset: boolean,
  ) {}

  shouldCompress(length: number): boolean {
    return length >= this.spec.threshold;
  }

  decompress(data: Uint8Array, maxSize: number, done: CodecCallback): void {
    // zlib inflates any window up to its own: 9 bits also reads 8-bit streams.
    const windowBits = Math.max(9, this.inflateBits);
    this.job(
      () => {
        let inflater = this.inflater;
        if (inflater === undefined) {
          const dictionary = this.history;
          inflater = this.inflater = zlib.createInflateRaw(dictionary === undefined ? { windowBits } : { windowBits, dictionary });
          this.inflaterIn = 0;
        }
        return inflater;
      },
      maxSize,
      (inflater, flushed) => {
        this.inflaterIn += data.length + TRAILER.length;
        inflater.write(data);
        inflater.write(TRAILER);
        inflater.flush(flushed);
      },
      (inflater, err, output) => {
        if (inflater === undefined) {
          done(err);
          return;
        }
        // A peer may end a message with a final block (BFINAL, RFC 7692 7.2.3.4): the DEFLATE
        // stream is over, so the next message starts a new one, which may still refer to
        // the window; keep the window's bytes from then on to seed each new stream.
        const streamEnded = inflater.bytesWritten < this.inflaterIn;
        if (output !== undefined && !this.inflateReset && (streamEnded || this.history !== undefined)) {
          this.history = lastBytes(this.history, output, 1 << windowBits);
        }
        if (err !== undefined || this.inflateReset || streamEnded) {
          // A failed, per-message or finished context is dropped: its memory goes now.
          inflater.close();
          if (this.inflater === inflater) this.inflater = undefined;
        }
        done(err, output);
      },
      (err) => new WsppError('processor.invalid_payload', `inflate: ${err.message}`, { cause: err }),
    );
  }

  /**
   * One zlib job, through the endpoint's queue: `feed` writes to the stream and flushes;
   * output is collected (more than `maxSize` bytes is `extension.inflate_too_big`, found
   * as it comes); `end` runs exactly once — after the flush, an error, an overflow or
   * close() — with the stream (undefined if the codec was closed before the job ran),
   * the error or the whole output.
   */
  private job<S extends zlib.InflateRaw | zlib.DeflateRaw>(
    open: () => S,
    maxSize: number,
    feed: (stream: S, flushed: () => void) => void,
    end: (stream: S | undefined, err: WsppError | undefined, output: Buffer | undefined) => void,
    zlibError: (err: Error) => WsppError,
  ): void {
    this.limiter.run((release) => {
      if (this.closed) {
        release();
        end(undefined, new WsppError('extension.uninitialized', 'the connection has ended'), undefined);
        return;
      }
      const stream = open();
      const chunks: Buffer[] = [];
      let total = 0;
      let finished = false;
      const finish = (err: WsppError | undefined): void => {
        if (finished) return;
        finished = true;
        this.inflight.delete(finish);
        stream.removeListener('data', onData);
        stream.removeListener('error', onError);
        release();
        end(stream, err, err === undefined ? (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total)) : undefined);
      };
      const onData = (chunk: Buffer): void => {
        total += chunk.length;
        if (total > maxSize) {
          finish(new WsppError('extension.inflate_too_big', `more than ${maxSize} bytes`));
          return;
        }
        chunks.push(chunk);
      };
      const onError = (err: Error): void => finish(zlibError(err));
      this.inflight.add(finish);
      stream.on('data', onData);
      stream.on('error', onError);
      feed(stream, () => finish(undefined));
    });
  }

  /**
   * Messages of one connection share one deflate stream, so they are compressed one at a
   * time, in order; the others wait here.
   */
  compress(data: Uint8Array, done: CodecCallback): void {
    if (this.compressing) {
      (this.compressQueue ??= []).push([data, done]);
      return;
    }
    this.compressing = true;
    this.compressNow(data, (err, out) => {
      done(err, out);
      this.compressing = false;
      const next = this.compressQueue?.shift();
      if (next !== undefined) this.compress(next[0], next[1]);
    });
  }

  /** Drop the compression context if it is idle, or now with `force` (the endpoint's budget). */
  releaseCompressor(now: number, force = false): boolean {
    if (this.compressing || this.deflater === undefined) return false;
    if (!force && now - this.lastCompress < this.spec.idleRelease) return false;
    this.deflater.close();
    this.deflater = undefined;
    return true;
  }

  private compressNow(data: Uint8Array, done: CodecCallback): void {
    this.job(
      () =>
        (this.deflater ??= zlib.createDeflateRaw({
          windowBits: this.deflateBits,
          level: this.spec.level,
          memLevel: this.spec.memLevel,
        })),
      Number.MAX_SAFE_INTEGER,
      (deflater, flushed) => {
        deflater.write(data);
        deflater.flush(zlib.constants.Z_SYNC_FLUSH, flushed);
      },
      (deflater, err, out) => {
        if (deflater === undefined) {
          done(err);
          return;
        }
        if (err !== undefined || this.deflateReset) {
          deflater.close();
          if (this.deflater === deflater) this.deflater = undefined;
        } else {
          this.lastCompress = performance.now();
          this.budget.used(this);
        }
        if (err !== undefined || out === undefined) {
          done(err);
          return;
        }
        // A sync flush ends in 00 00 ff ff, which the wire format leaves out (RFC 7692 7.2.1).
        const n = out.length;
        if (n >= 4 && out[n - 4] === 0 && out[n - 3] === 0 && out[n - 2] === 0xff && out[n - 1] === 0xff) out = out.subarray(0, n - 4);
        done(undefined, out);
      },
      (err) => new WsppError('extension.zlib_error', err.message, { cause: err }),
    );
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.budget.forget(this);
    const ended = new WsppError('extension.uninitialized', 'the connection has ended');
    for (const finish of [...this.inflight]) finish(ended);
    this.inflater?.close();
    this.deflater?.close();
    this.inflater = undefined;
    this.deflater = undefined;
  }
}

/**
 * The compression contexts an endpoint keeps: released when idle (one timer per endpoint)
 * and, past `maxCompressors`, least recently used first, so memory stays bounded however
 * many connections compress at once.
 */
class CompressorBudget {
  /** Codecs holding a compression context, least recently used first. */
  private readonly codecs = new Set<DeflateCodec>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly idleRelease: number,
    private readonly max: number,
  ) {}

  get size(): number {
    return this.codecs.size;
  }

  used(codec: DeflateCodec): void {
    this.codecs.delete(codec);
    this.codecs.add(codec);
    if (this.max > 0 && this.codecs.size > this.max) {
      const now = performance.now();
      for (const oldest of this.codecs) {
        if (this.codecs.size <= this.max) break;
        if (oldest !== codec && oldest.releaseCompressor(now, true)) this.codecs.delete(oldest);
      }
    }
    if (this.idleRelease > 0 && this.timer === undefined) {
      this.timer = setInterval(() => this.sweep(), Math.max(50, this.idleRelease / 2));
      this.timer.unref();
    }
  }

  forget(codec: DeflateCodec): void {
    this.codecs.delete(codec);
    if (this.codecs.size === 0) this.stop();
  }

  private sweep(): void {
    const now = performance.now();
    for (const codec of this.codecs) if (codec.releaseCompressor(now)) this.codecs.delete(codec);
    if (this.codecs.size === 0) this.stop();
  }

  private stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** An endpoint's permessage-deflate: negotiation by role, codecs, and the shared zlib queue. */
export class DeflateRuntime {
  readonly limiter: Limiter;
  /** The compression contexts alive, bounded by maxCompressors. */
  readonly compressors: CompressorBudget;

  constructor(readonly spec: DeflateEnabledSpec) {
    this.limiter = new Limiter(spec.concurrency);
    this.compressors = new CompressorBudget(spec.idleRelease, spec.maxCompressors);
  }

  /** Client: the offer to send. */
  offer(): string {
    return buildDeflateOffer(this.spec.negotiation);
  }

  /** Client: the server's answer → the codec, or why the connection must fail. */
  accept(answer: string): { codec: MessageCodec; agreement: DeflateAgreement } | WsppError {
    const agreement = acceptDeflateResponse(answer, this.spec.negotiation);
    if (agreement instanceof WsppError) return agreement;
    return { agreement, codec: this.codec('client', agreement) };
  }

  /** Server: the offers in a request → the answer and codec, nothing (declined), or a parse error. */
  choose(offers: string): { response: string; codec: MessageCodec; agreement: DeflateAgreement } | undefined | WsppError {
    const choice = chooseDeflateOffer(offers, this.spec.negotiation);
    if (choice === undefined || choice instanceof WsppError) return choice;
    return { response: choice.response, agreement: choice.agreement, codec: this.codec('server', choice.agreement) };
  }

  private codec(role: 'server' | 'client', a: DeflateAgreement): MessageCodec {
    return role === 'server'
      ? new DeflateCodec(this.spec, this.limiter, this.compressors, a.clientMaxWindowBits, a.clientNoContextTakeover, a.serverMaxWindowBits, a.serverNoContextTakeover)
      : new DeflateCodec(this.spec, this.limiter, this.compressors, a.serverMaxWindowBits, a.serverNoContextTakeover, a.clientMaxWindowBits, a.clientNoContextTakeover);
  }
}
