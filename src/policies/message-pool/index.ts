export type { MessagePoolSpec } from './types.js';
export type { PoolOptions } from './pool.js';
import { alloc } from './alloc.js';
import { pool, BufferPool } from './pool.js';
export { alloc, pool, BufferPool };
