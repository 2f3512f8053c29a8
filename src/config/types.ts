/**
 * The Config type: a plain object whose *type* carries the policy choices and whose
 * values carry the runtime settings — WebSocket++'s config struct, as data.
 */
import type { A } from 'ts-toolbelt';
import type { ConcurrencySpec } from '../policies/concurrency/types.js';
import type { DeflateSpec } from '../policies/extensions/types.js';
import type { AccessSpec, ErrorSpec } from '../policies/logging/types.js';
import type { MessagePoolSpec } from '../policies/message-pool/types.js';
import type { RngSpec } from '../policies/rng/types.js';
import type { TransportSpec } from '../transports/types.js';

/** All in milliseconds; 0 disables a timeout. WebSocket++'s defaults are 5000 each. */
export interface Timeouts {
  /** From the start of the connection until the opening handshake completes. */
  readonly openHandshake: number;
  /** From our close frame until the peer's close frame arrives. */
  readonly closeHandshake: number;
  /** From a ping until its pong. */
  readonly pong: number;
  /** Until a socket is ready for the transport to use (tcp_pre_init). */
  readonly socketPreInit: number;
  /** Until the transport is ready for WebSocket (the TLS handshake, tcp_post_init). */
  readonly socketPostInit: number;
  /** Client: DNS resolution of the host. */
  readonly dnsResolve: number;
  /** Client: the TCP connect. */
  readonly connect: number;
  /** After our side ended, until the peer closes the connection (then it is destroyed). */
  readonly socketShutdown: number;
  /** Client: the HTTP CONNECT exchange with a proxy. */
  readonly proxy: number;
}

export interface SlowConsumerPolicy {
  /** Close when this many bytes are queued for a peer that does not read. */
  readonly limit: number;
  /** 1008 (policy violation) or 1013 (try again later). */
  readonly closeCode: 1008 | 1013;
}

export interface KeepAlive {
  /** Send a ping after this many ms without input; no pong within timeouts.pong closes (1006). */
  readonly interval: number;
}

export interface LoggingConfig {
  readonly access: AccessSpec;
  readonly error: ErrorSpec;
}

export interface ExtensionsConfig {
  readonly permessageDeflate: DeflateSpec;
}

export interface Config {
  readonly transport: TransportSpec;
  readonly concurrency: ConcurrencySpec;
  readonly logging: LoggingConfig;
  readonly messagePool: MessagePoolSpec;
  readonly rng: RngSpec;
  readonly extensions: ExtensionsConfig;
  /** Offer `connections()`, the live connections (for broadcast). `stop()` reaches every connection either way. */
  readonly registry: boolean;
  /** Creates each connection's `con.data` (typed dependency injection). */
  readonly connectionData: () => unknown;
  readonly timeouts: Timeouts;
  /** Largest message received; larger closes with 1009. WebSocket++: 32,000,000. */
  readonly maxMessageSize: number;
  /** Most fragments per message; more closes with 1009. */
  readonly maxFragments: number;
  /** Largest opening-handshake head (request or response); larger answers 431. */
  readonly maxHttpHeadSize: number;
  /** Most header fields in the head; more answers 431. */
  readonly maxHttpHeaders: number;
  /** Bytes queued for a peer above which `bufferedAmount` reports pressure and the drain handler is armed. */
  readonly sendQueueHighWaterMark: number;
  /** Close connections whose peer does not read, or `false`. */
  readonly slowConsumer: SlowConsumerPolicy | false;
  /** Ping idle connections, or `false`. */
  readonly keepAlive: KeepAlive | false;
  /** Drop the TCP connection on protocol errors without a close frame. */
  readonly dropOnProtocolError: boolean;
  /** Close frames sent because of errors carry no code or reason. */
  readonly silentClose: boolean;
  /** User-Agent of client requests, Server header of server responses. */
  readonly userAgent: string;
  /** The WebSocket version a client requests. */
  readonly clientVersion: 13;
}

/** What `extend` accepts: any member replaced; timeouts, logging and extensions merged one level deep. */
export type ConfigOverrides = {
  readonly [K in keyof Config]?: K extends NestedKeys ? Partial<Config[K]> : Config[K];
};

type NestedKeys = 'timeouts' | 'logging' | 'extensions';

/** The members whose *types* decide an endpoint's API; the others are plain runtime settings. */
type DecidingKeys = 'transport' | 'concurrency' | 'logging' | 'messagePool' | 'rng' | 'extensions' | 'registry' | 'connectionData';

type MergeNested<Base, Over> = {
  readonly [P in keyof Base | keyof Over]: P extends keyof Over ? Over[P] : P extends keyof Base ? Base[P] : never;
};

/**
 * The type `extend(B, O)` returns: deciding members keep their literal types (the
 * override's where given), runtime settings are widened to their Config types
 * (timeouts: Timeouts, maxMessageSize: number) so hovers stay short and assignable.
 */
export type Extended<B extends Config, O extends ConfigOverrides> = A.Compute<
  {
    readonly [K in keyof Config]: K extends DecidingKeys
      ? K extends keyof O
        ? K extends NestedKeys
          ? MergeNested<B[K], O[K]>
          : O[K]
        : B[K]
      : Config[K];
  },
  'flat'
>;

/** A config value's type with its runtime settings widened (what the stock configs are). */
export type Widened<B extends Config> = Extended<B, {}>;

// --- What the types decide (DESIGN.md section 2) ---

export type TransportKindOf<C extends Config> = C['transport']['kind'];
export type IsSerialized<C extends Config> = C['concurrency']['kind'] extends 'serialized' ? true : false;
export type IsPooled<C extends Config> = C['messagePool']['kind'] extends 'pool' ? true : false;
export type DeflateEnabled<C extends Config> = C['extensions']['permessageDeflate']['kind'] extends 'enabled' ? true : false;
export type ConnectionData<C extends Config> = ReturnType<C['connectionData']>;
export type HasRegistry<C extends Config> = C['registry'] extends true ? true : false;
