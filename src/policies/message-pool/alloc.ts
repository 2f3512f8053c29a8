import type { MessagePoolSpec } from './types.js';

/** Allocate per message: payloads are owned by the handler. */
export const alloc: MessagePoolSpec<'alloc'> = Object.freeze({ kind: 'alloc', buffers: 0, size: 0 });
