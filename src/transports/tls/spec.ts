import type { TransportSpec } from '../types.js';
import { netSpec, type NetOptions, type NetSpec } from '../tcp/spec.js';

export interface TlsSpec extends TransportSpec<'tls'>, NetSpec {}

/** TLS through node:tls; the endpoint's tlsInit handler supplies each connection's context. */
export function tls(options: NetOptions = {}): TlsSpec {
  return Object.freeze({ kind: 'tls', ...netSpec(options) });
}
