/**
 * A concurrency policy. JavaScript has one thread per event loop, so WebSocket++'s mutex
 * policies become dispatch policies:
 * - none: handlers run inline as frames are parsed; their return value is ignored.
 * - serialized: a per-connection strand. A handler may return a promise; the connection
 *   delivers the next event only after it settled, and stops reading meanwhile
 *   (backpressure), so events arrive in order.
 */
export interface ConcurrencySpec<K extends 'none' | 'serialized' = 'none' | 'serialized'> {
  readonly kind: K;
}
