/**
 * Config-as-types (DESIGN.md section 2): the stock configs and extend() keep the literal
 * kinds of their policies, so endpoints can compute their API from them.
 */
import { expectAssignable, expectError, expectNotAssignable, expectType } from 'tsd';
import {
  concurrency,
  config,
  extend,
  logging,
  pool,
  transports,
  type Config,
  type ConfigOverrides,
} from '../dist/index.js';
import type { LoggerSpec } from '../dist/policies/logging/index.js';

// --- The stock configs: each one a Config, its policy kinds literal.

for (const stock of Object.values(config)) expectAssignable<Config>(stock);
expectType<'iostream'>(config.core.transport.kind);
expectType<'tcp'>(config.tcp.transport.kind);
expectType<'tls'>(config.tls.transport.kind);
expectType<'iostream'>(config.coreClient.transport.kind);
expectType<'tcp'>(config.tcpClient.transport.kind);
expectType<'tls'>(config.tlsClient.transport.kind);
expectType<'tcp'>(config.debugTcp.transport.kind);
expectType<'tls'>(config.debugTls.transport.kind);
expectType<'tcp'>(config.minimalTcp.transport.kind);
expectType<'tcp'>(config.minimalTcpClient.transport.kind);
expectType<'none'>(config.tcp.concurrency.kind);
expectType<'alloc'>(config.tcp.messagePool.kind);
expectType<'disabled'>(config.tcp.extensions.permessageDeflate.kind);
expectType<'crypto'>(config.tcp.rng.kind);
expectType<'pooled'>(config.tcpClient.rng.kind);
expectType<false>(config.tcp.registry);
expectType<undefined>(config.tcp.connectionData());
expectType<LoggerSpec<'access_core' | 'app'>>(config.tcp.logging.access);
expectType<LoggerSpec<'library' | 'info' | 'warn' | 'rerror' | 'fatal'>>(config.tcp.logging.error);
expectType<LoggerSpec<'all'>>(config.debug.logging.access);
expectType<LoggerSpec<never>>(config.minimal.logging.error);
// Runtime settings read as numbers, whatever the stock values are.
expectType<number>(config.tcp.maxMessageSize);
expectType<number>(config.tcp.timeouts.openHandshake);

// The stock configs are frozen.
expectError((config.tcp.maxMessageSize = 1));
expectError((config.tcp.timeouts.connect = 1));
expectError((config.tcp = config.tls));

// --- extend(): members replaced, timeouts / logging / extensions merged one level deep.

const quick = extend(config.tcp, { timeouts: { openHandshake: 100 } });
expectType<number>(quick.timeouts.openHandshake);
expectType<number>(quick.timeouts.connect);
expectType<number>(quick.timeouts.closeHandshake);
expectType<number>(quick.timeouts.proxy);
expectType<'tcp'>(quick.transport.kind);
expectAssignable<Config>(quick);

const secure = extend(config.tls, {
  maxMessageSize: 1 << 20,
  concurrency: concurrency.serialized,
  messagePool: pool({ buffers: 256, size: 64 * 1024 }),
  logging: { access: logging.stream(process.stdout, ['connect', 'disconnect', 'fail']) },
  connectionData: () => ({ user: '' as string, joined: 0 }),
});
expectAssignable<Config>(secure);
expectType<'tls'>(secure.transport.kind);
expectType<'serialized'>(secure.concurrency.kind);
expectType<'pool'>(secure.messagePool.kind);
expectType<'disabled'>(secure.extensions.permessageDeflate.kind);
expectType<'crypto'>(secure.rng.kind);
expectType<number>(secure.maxMessageSize);
expectType<LoggerSpec<'connect' | 'disconnect' | 'fail'>>(secure.logging.access);
expectType<LoggerSpec<'library' | 'info' | 'warn' | 'rerror' | 'fatal'>>(secure.logging.error);
expectType<{ user: string; joined: number }>(secure.connectionData());
expectType<number>(secure.timeouts.pong);

// extend() of an extended config keeps both layers.
const twice = extend(secure, { registry: true, timeouts: { pong: 1000 } });
expectType<'tls'>(twice.transport.kind);
expectType<'serialized'>(twice.concurrency.kind);
expectType<true>(twice.registry);
expectType<number>(twice.timeouts.pong);
expectType<number>(twice.timeouts.openHandshake);
expectType<LoggerSpec<'connect' | 'disconnect' | 'fail'>>(twice.logging.access);

// Replacing the transport changes the kind.
expectType<'tls'>(extend(config.tcp, { transport: transports.tls() }).transport.kind);
expectType<'iostream'>(extend(config.tcp, { transport: transports.iostream() }).transport.kind);

// Overrides are checked against the Config members.
expectAssignable<ConfigOverrides>({ timeouts: { pong: 1 } });
expectAssignable<ConfigOverrides>({ logging: { error: logging.stub() } });
expectNotAssignable<ConfigOverrides>({ timeouts: { pong: '1' } });
expectNotAssignable<ConfigOverrides>({ logging: { access: logging.stream(process.stdout, ['warn']) } });
expectNotAssignable<ConfigOverrides>({ logging: { error: logging.stream(process.stdout, ['connect']) } });
expectNotAssignable<ConfigOverrides>({ concurrency: { kind: 'parallel' } });
expectNotAssignable<ConfigOverrides>({ slowConsumer: { limit: 1, closeCode: 1000 } });
expectError(extend(config.tcp, { maxMessageSize: '1MB' }));
expectError(extend(config.tcp, { timeouts: { openHandshake: '100' } }));
expectError(extend(config.tcp, { logging: { access: logging.stream(process.stdout, ['warn']) } }));
expectError(extend(config.tcp, { connectionData: 42 }));
expectError(extend(config.tcp, { maxMesageSize: 1 })); // a typo (no known member) is refused
expectError(extend({ transport: transports.tcp() }, {})); // the base must be a whole Config
