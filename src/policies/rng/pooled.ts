import { randomFillSync } from 'node:crypto';
import type { RngSpec } from './types.js';

/**
 * CSPRNG bytes drawn in blocks: one `randomFillSync` call per `blockSize` bytes instead
 * of one per 4-byte masking key. The bytes are as random as crypto()'s; only the system
 * call is amortised. The default for clients, which mask every frame.
 */
export function pooled(blockSize = 16 * 1024): RngSpec<'pooled'> {
  if (!Number.isInteger(blockSize) || blockSize < 64) throw new RangeError('pooled rng: blockSize must be an integer >= 64');
  return {
    kind: 'pooled',
    create: () => {
      const block = Buffer.allocUnsafe(blockSize);
      let used = blockSize;
      return (target, offset, length) => {
        if (length > blockSize) {
          randomFillSync(target, offset, length);
          return;
        }
        if (used + length > blockSize) {
          randomFillSync(block);
          used = 0;
        }
        for (let i = 0; i < length; i++) target[offset + i] = block[used + i]!;
        // Never hand out the same bytes twice.
        used += length;
      };
    },
  };
}
