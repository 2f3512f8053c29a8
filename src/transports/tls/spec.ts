import type { LookupFunction } from 'node:net';
import type { TransportSpec } from '../types.js';
import type { NetOptions } from '../tcp/spec.js';

export interface TlsSpec extends TransportSpec<'tls'> {
  readonly noDelay: boolean;
  readonly backlog: number;
  readonly ipv6Only: boolean;
  readonly lookup?: LookupFunction;
}

/** TLS through node:tls; the endpoint's tlsInit handler supplies each connection's context. */
export function tls(options: NetOptions = {}): TlsSpec {
  return Object.freeze({
    kind: 'tls',
    noDelay: options.noDelay ?? true,
    backlog: options.backlog ?? 511,
    ipv6Only: options.ipv6Only ?? false,
    ...(options.lookup === undefined ? {} : { lookup: options.lookup }),
  });
}
