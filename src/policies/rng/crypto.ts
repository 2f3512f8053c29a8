import { randomFillSync } from 'node:crypto';
import type { RngSpec } from './types.js';

/** Every draw goes to the operating system's CSPRNG (node:crypto). */
export function crypto(): RngSpec<'crypto'> {
  return {
    kind: 'crypto',
    create: () => (target, offset, length) => {
      randomFillSync(target, offset, length);
    },
  };
}
