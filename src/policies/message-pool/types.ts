/**
 * A message-buffer policy.
 * - alloc: every received message owns its payload; output buffers are allocated per write.
 * - pool: reassembly and output buffers come from a bounded free list shared by the
 *   endpoint's connections. A received payload that lives in a pooled buffer is *lent*
 *   for the duration of the message handler: keep it with `msg.retain()` or a copy.
 */
export interface MessagePoolSpec<K extends 'alloc' | 'pool' = 'alloc' | 'pool'> {
  readonly kind: K;
  /** How many buffers the free list keeps at most (pool only). */
  readonly buffers: number;
  /** Size of each pooled buffer in bytes; larger messages are allocated (pool only). */
  readonly size: number;
}
