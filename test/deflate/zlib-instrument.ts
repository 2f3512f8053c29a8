/** Test instrument shared by the deflate suites: counts of zlib streams in use and alive. */
import * as zlib from 'node:zlib';

/**
 * zlib itself, independently of the Limiter: raw inflate/deflate streams count as busy
 * from a write until their flush completes (or they close); also how many streams had
 * been written to and were not closed yet (live contexts). Patched on the prototypes for
 * the duration of a test: `onCleanup` gets the function that restores them.
 */
export function instrumentZlib(onCleanup: (restore: () => void) => void) {
  const stats = { busy: 0, peakBusy: 0, live: 0, peakLive: 0 };
  const busy = new WeakSet<object>();
  const live = new WeakSet<object>();
  const restores: (() => void)[] = [];
  const idle = (stream: object) => {
    if (busy.delete(stream)) stats.busy--;
  };
  for (const ctor of [zlib.InflateRaw, zlib.DeflateRaw]) {
    const proto = ctor.prototype as unknown as Record<'write' | 'flush' | 'close', (...args: unknown[]) => unknown>;
    const saved = (['write', 'flush', 'close'] as const).map((name) => [name, Object.getOwnPropertyDescriptor(proto, name), proto[name]] as const);
    const original = Object.fromEntries(saved.map(([name, , fn]) => [name, fn])) as typeof proto;
    proto.write = function (this: object, ...args: unknown[]) {
      if (!live.has(this)) {
        live.add(this);
        stats.peakLive = Math.max(stats.peakLive, ++stats.live);
      }
      if (!busy.has(this)) {
        busy.add(this);
        stats.peakBusy = Math.max(stats.peakBusy, ++stats.busy);
      }
      return original.write.apply(this, args);
    };
    proto.flush = function (this: object, ...args: unknown[]) {
      const at = args.findIndex((a) => typeof a === 'function');
      if (at >= 0) {
        const callback = args[at] as (...a: unknown[]) => unknown;
        args[at] = (...a: unknown[]) => {
          idle(this);
          return callback(...a);
        };
      }
      return original.flush.apply(this, args);
    };
    proto.close = function (this: object, ...args: unknown[]) {
      idle(this);
      if (live.delete(this)) stats.live--;
      return original.close.apply(this, args);
    };
    restores.push(() => {
      for (const [name, descriptor] of saved) {
        if (descriptor === undefined) delete proto[name];
        else Object.defineProperty(proto, name, descriptor);
      }
    });
  }
  onCleanup(() => restores.forEach((r) => r()));
  return stats;
}
