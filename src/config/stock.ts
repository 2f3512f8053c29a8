/**
 * The stock configs, WebSocket++'s `config::core`, `config::asio`, `config::asio_tls`,
 * their client and debug variants, and the minimal ones. Server variants ping idle peers
 * every 30 s (keep-alive); client variants do not, and draw masking keys from a pooled
 * CSPRNG. Default logging: connections, HTTP and failures (plus app) to stdout, errors
 * except devel to stderr — the channels a config names are its static set.
 */
import { none } from '../policies/concurrency/none.js';
import { disabled } from '../policies/extensions/disabled.js';
import { stream } from '../policies/logging/stream.js';
import { stub } from '../policies/logging/stub.js';
import { alloc } from '../policies/message-pool/alloc.js';
import { crypto } from '../policies/rng/crypto.js';
import { pooled } from '../policies/rng/pooled.js';
import { iostream } from '../transports/iostream/spec.js';
import { tcp as tcpTransport } from '../transports/tcp/spec.js';
import { tls as tlsTransport } from '../transports/tls/spec.js';
import { extend } from './extend.js';
import type { Config, ConfigOverrides, Extended, Widened } from './types.js';
import type { TcpSpec } from '../transports/tcp/spec.js';
import type { TlsSpec } from '../transports/tls/spec.js';

const VERSION = '0.1.0';

const timeouts = Object.freeze({
  openHandshake: 5000,
  closeHandshake: 5000,
  pong: 5000,
  socketPreInit: 5000,
  socketPostInit: 5000,
  dnsResolve: 5000,
  connect: 5000,
  socketShutdown: 5000,
  proxy: 5000,
});

const standardLogging = Object.freeze({
  access: stream(process.stdout, ['access_core', 'app']),
  error: stream(process.stderr, ['library', 'info', 'warn', 'rerror', 'fatal']),
});

const debugLogging = Object.freeze({
  access: stream(process.stdout, ['all']),
  error: stream(process.stderr, ['all']),
});

const quietLogging = Object.freeze({ access: stub(), error: stub() });

/** config::core: the iostream server. */
const coreLiteral = Object.freeze({
  transport: iostream(),
  concurrency: none,
  logging: standardLogging,
  messagePool: alloc,
  rng: crypto(),
  extensions: Object.freeze({ permessageDeflate: disabled }),
  registry: false,
  connectionData: (): undefined => undefined,
  timeouts,
  maxMessageSize: 32_000_000,
  maxFragments: 16_384,
  maxHttpHeadSize: 16_000,
  maxHttpHeaders: 100,
  sendQueueHighWaterMark: 1 << 20,
  slowConsumer: false,
  keepAlive: Object.freeze({ interval: 30_000 }),
  dropOnProtocolError: false,
  silentClose: false,
  userAgent: `wspp/${VERSION}`,
  clientVersion: 13,
} as const) satisfies Config;
// Each stock config has a named type, so hovers read `Server<TcpConfig>` rather than
// every member of the config spelled out.
/** config::core: runtime settings widened, policy choices literal. */
export interface CoreConfig extends Widened<typeof coreLiteral> {}
type Derive<B extends Config, O extends ConfigOverrides> = Extended<B, O>;
const clientDefaults = { rng: pooled(), keepAlive: false } as const;
type ClientDefaults = typeof clientDefaults;
type Quiet = { logging: typeof quietLogging; keepAlive: false };
type Debug = { logging: typeof debugLogging };

export interface TcpConfig extends Derive<CoreConfig, { transport: TcpSpec }> {}
export interface TlsConfig extends Derive<CoreConfig, { transport: TlsSpec }> {}
export interface CoreClientConfig extends Derive<CoreConfig, ClientDefaults> {}
export interface TcpClientConfig extends Derive<TcpConfig, ClientDefaults> {}
export interface TlsClientConfig extends Derive<TlsConfig, ClientDefaults> {}
export interface DebugConfig extends Derive<CoreConfig, Debug> {}
export interface DebugTcpConfig extends Derive<TcpConfig, Debug> {}
export interface DebugTlsConfig extends Derive<TlsConfig, Debug> {}
export interface MinimalConfig extends Derive<CoreConfig, Quiet> {}
export interface MinimalTcpConfig extends Derive<TcpConfig, Quiet> {}
export interface MinimalClientConfig extends Derive<CoreConfig, { logging: typeof quietLogging } & ClientDefaults> {}
export interface MinimalTcpClientConfig extends Derive<TcpConfig, { logging: typeof quietLogging } & ClientDefaults> {}

const core: CoreConfig = coreLiteral;
const tcp: TcpConfig = extend(core, { transport: tcpTransport() });
const tls: TlsConfig = extend(core, { transport: tlsTransport() });

export const config = Object.freeze({
  /** Server over iostream (WebSocket++ config::core). */
  core,
  /** Server over TCP (config::asio). Keep-alive pings every 30 s. */
  tcp,
  /** Server over TLS (config::asio_tls); needs a tlsInit handler. */
  tls,
  /** Client over iostream (config::core_client). */
  coreClient: extend(core, clientDefaults) as CoreClientConfig,
  /** Client over TCP, ws:// URIs (config::asio_client). */
  tcpClient: extend(tcp, clientDefaults) as TcpClientConfig,
  /** Client over TLS, wss:// URIs (config::asio_tls_client). */
  tlsClient: extend(tls, clientDefaults) as TlsClientConfig,
  /** Every log channel on, devel included (config::debug_core / debug_asio / debug_asio_tls). */
  debug: extend(core, { logging: debugLogging }) as DebugConfig,
  debugTcp: extend(tcp, { logging: debugLogging }) as DebugTcpConfig,
  debugTls: extend(tls, { logging: debugLogging }) as DebugTlsConfig,
  /** Nothing logged, no extensions, no keep-alive: the smallest server (minimal_server). */
  minimal: extend(core, { logging: quietLogging, keepAlive: false }) as MinimalConfig,
  minimalTcp: extend(tcp, { logging: quietLogging, keepAlive: false }) as MinimalTcpConfig,
  /** The smallest client (minimal_client). */
  minimalClient: extend(core, { logging: quietLogging, ...clientDefaults }) as MinimalClientConfig,
  minimalTcpClient: extend(tcp, { logging: quietLogging, ...clientDefaults }) as MinimalTcpClientConfig,
});
