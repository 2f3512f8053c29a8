/**
 * wspp: WebSocket++'s policy-based design in TypeScript. The public API.
 */
export { nativeHelpersActive, useNativeHelpers } from './native.js';
export { Server } from './roles/server.js';
export { Client } from './roles/client.js';
export type * from './roles/types.js';
export type { ListenAddress, ListenOptions } from './roles/server-impl.js';
export { config, extend } from './config/index.js';
export type * from './config/types.js';
export type * from './config/stock.js';
export { ConnectionHdl } from './handle.js';
export type { ConnectionState } from './connection.js';
export type { Lent, LentMessage, OwnedMessage, AnyMessage } from './message.js';
export { parseWsUri, type WsUri } from './uri.js';

// Policies, by kind (DESIGN.md section 3).
export { concurrency, type ConcurrencySpec } from './policies/concurrency/index.js';
export { logging } from './policies/logging/index.js';
export type { LoggerSpec, AccessSpec, ErrorSpec, LogSink } from './policies/logging/types.js';
export * as log from './policies/logging/index.js';
export { alloc, pool, BufferPool, type MessagePoolSpec, type PoolOptions } from './policies/message-pool/index.js';
export { rng, type RngSpec, type RandomFill } from './policies/rng/index.js';
export { disabled as deflateDisabled, deflate, type DeflateSpec, type DeflateOptions, type DeflateEnabledSpec } from './policies/extensions/index.js';
import { tcp } from './transports/tcp/spec.js';
import { tls } from './transports/tls/spec.js';
import { iostream } from './transports/iostream/spec.js';
export const transports = { tcp, tls, iostream } as const;
export type { TcpSpec, NetOptions } from './transports/tcp/spec.js';
export type { TlsSpec } from './transports/tls/spec.js';
export type { IostreamSpec } from './transports/iostream/spec.js';
export type { TransportSpec, TransportKind, Link } from './transports/types.js';
export type { OutputSink } from './transports/iostream/link.js';

// The protocol core (also importable alone as 'wspp/protocol').
export * from './protocol/index.js';

// --- scale: beyond one core, beyond one machine (DESIGN.md section 6; issue 7) -------------
export {
  EndpointPool,
  PoolEndpoint,
  definePoolModule,
  POOL_STAT_FIELDS,
  type EndpointPoolOptions,
  type EndpointStats,
  type PoolStats,
  type PoolStatField,
  type PoolModule,
  type PoolCallbacks,
  type PoolContextInfo,
  type PoolMessage,
  type PoolConnection,
  type PoolConnectionState,
  type PoolOpened,
  type PoolClosed,
  type PoolNotification,
  type PoolConnectionError,
  type PoolEndpointError,
  type CreateConnectionOptions,
  type CommandArg,
  type CommandResult,
  type WorkerConnection,
  type WorkerEndpoint,
} from './scale/endpoint-pool.js';
export {
  startCluster,
  tryStartCluster,
  ClusterPrimary,
  type ClusterMember,
  type ClusterOptions,
  type ClusterServer,
  type ClusterWorkerInfo,
  type ClusterProcessStats,
  type ClusterStats,
  type ClusterProcessInfo,
  type ClusterWorkerExit,
} from './scale/cluster.js';
export {
  RedisBroadcast,
  type RedisBroadcastOptions,
  type RedisClientLike,
  type BroadcastEndpoint,
  type BroadcastStats,
  type BroadcastDropped,
} from './scale/redis-broadcast.js';
// --- end scale ---
