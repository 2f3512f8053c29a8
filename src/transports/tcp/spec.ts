import type { LookupFunction } from 'node:net';
import type { TransportSpec } from '../types.js';

export interface NetOptions {
  /** Disable Nagle's algorithm (default true: WebSocket frames are latency-sensitive). */
  noDelay?: boolean;
  /** Listen backlog (default 511, node's). */
  backlog?: number;
  /** Listen on IPv6 only when bound to '::' (default false: dual stack). */
  ipv6Only?: boolean;
  /**
   * Clients: how host names are resolved (default node:dns `lookup`), node:net's
   * signature, so a caching resolver drops in. Bounded by `timeouts.dnsResolve`.
   */
  lookup?: LookupFunction;
}

/** The socket settings tcp and tls share, defaults applied. */
export interface NetSpec {
  readonly noDelay: boolean;
  readonly backlog: number;
  readonly ipv6Only: boolean;
  readonly lookup?: LookupFunction;
}

export interface TcpSpec extends TransportSpec<'tcp'>, NetSpec {}

/** NetOptions with their defaults (for the tcp and tls specs). */
export function netSpec(options: NetOptions): NetSpec {
  return {
    noDelay: options.noDelay ?? true,
    backlog: options.backlog ?? 511,
    ipv6Only: options.ipv6Only ?? false,
    ...(options.lookup === undefined ? {} : { lookup: options.lookup }),
  };
}

/** Plain TCP through node:net. */
export function tcp(options: NetOptions = {}): TcpSpec {
  return Object.freeze({ kind: 'tcp', ...netSpec(options) });
}
