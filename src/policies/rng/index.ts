export type { RandomFill, RngSpec } from './types.js';
import { crypto } from './crypto.js';
import { pooled } from './pooled.js';
export { crypto, pooled };
export const rng = { crypto, pooled } as const;
