export type { ConcurrencySpec } from './types.js';
import { none } from './none.js';
import { serialized } from './serialized.js';
export { none, serialized };
export const concurrency = { none, serialized } as const;
