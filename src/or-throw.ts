import { WsppError } from './protocol/errors.js';

/** The throwing form of a fallible call (WebSocket++'s exception overload). */
export function orThrow<T>(result: T | WsppError): T {
  if (result instanceof WsppError) throw result;
  return result;
}
