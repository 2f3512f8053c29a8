import type { ConcurrencySpec } from './types.js';

/** Handlers run inline, synchronously, as frames are parsed (the fastest). */
export const none: ConcurrencySpec<'none'> = Object.freeze({ kind: 'none' });
