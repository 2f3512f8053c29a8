import type { ConcurrencySpec } from './types.js';

/** Async handlers are awaited in order per connection; reading pauses while one runs. */
export const serialized: ConcurrencySpec<'serialized'> = Object.freeze({ kind: 'serialized' });
