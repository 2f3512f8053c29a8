/**
 * Broadcast across processes and machines over Redis pub/sub (opt-in; needs the
 * `ioredis` package, an optional peer dependency loaded only when an adapter is made).
 *
 *   const bus = await RedisBroadcast.create({ redis: 'redis://127.0.0.1:6379', endpoint: server });
 *   server.setOpenHandler((hdl) => void bus.subscribe(hdl, 'news'));
 *   server.setCloseHandler((hdl) => bus.unsubscribe(hdl));
 *   await bus.broadcast('news', 'hello everyone');   // every subscribed connection, every process
 *
 * Every broadcast goes through Redis, also to this process's own connections, so all
 * connections everywhere see one channel's broadcasts in the order Redis received them
 * (publish order per publisher). Each message carries its publisher's id and a sequence
 * number per channel, so nothing is lost silently:
 * - a broadcast Redis did not confirm (Redis down, connection lost) is reported to the
 *   publisher (the error from tryBroadcast / broadcast, the 'dropped' event, stats.dropped);
 * - a subscriber that misses messages (it was disconnected while others published) sees
 *   the gap in the sequence and reports it ('dropped' with reason 'missed', stats.missed);
 * - a duplicate (same publisher, same or older sequence number) is never delivered twice.
 * After a Redis restart both clients reconnect (ioredis, with its retry strategy) and the
 * subscriber subscribes to its channels again ('resubscribed').
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { ConnectionHdl } from '../handle.js';
import type { DataOpcode } from '../protocol/constants.js';
import { WsppError } from '../protocol/errors.js';
import type { PreparedMessage } from '../protocol/processor.js';

/** The part of an ioredis client this adapter uses (an ioredis `Redis` instance fits). */
export interface RedisClientLike {
  readonly status: string;
  publish(channel: string | Buffer, message: string | Buffer): Promise<number>;
  subscribe(...channels: string[]): Promise<unknown>;
  unsubscribe(...channels: string[]): Promise<unknown>;
  connect?(): Promise<void>;
  on(event: string, listener: (...args: any[]) => void): unknown;
  removeListener(event: string, listener: (...args: any[]) => void): unknown;
  quit(): Promise<unknown>;
  disconnect(): void;
}

/** What the adapter needs from an endpoint (a wspp Server or Client fits). */
export interface BroadcastEndpoint {
  prepare(payload: Uint8Array | string, opcode?: DataOpcode): PreparedMessage;
  trySend(hdl: ConnectionHdl, payload: PreparedMessage): WsppError | undefined;
}

export interface RedisBroadcastOptions {
  /**
   * Where Redis is: a redis:// URL or ioredis options (the adapter creates and owns two
   * clients: publisher and subscriber), or two clients of yours (not closed by close();
   * create them with `enableOfflineQueue: false, autoResubscribe: false,
   * autoResendUnfulfilledCommands: false` so that outages are reported, not hidden).
   */
  redis: string | Readonly<Record<string, unknown>> | { readonly publisher: RedisClientLike; readonly subscriber: RedisClientLike };
  /** The endpoint whose connections receive broadcasts; omit it for a publish-only adapter. */
  endpoint?: BroadcastEndpoint;
  /** Prefix of the Redis channel names (default "wspp:"). */
  prefix?: string;
  /** How long create() waits for Redis (ms, default 5000). */
  connectTimeout?: number;
}

export interface BroadcastStats {
  /** Broadcasts of this process that Redis confirmed. */
  readonly published: number;
  /** Broadcasts of this process that Redis did not confirm (reported, never retried). */
  readonly dropped: number;
  /** Messages that arrived from Redis. */
  readonly received: number;
  /** Messages handed to local connections (one per connection per broadcast). */
  readonly delivered: number;
  /** Broadcasts of other publishers this process never received (sequence gaps). */
  readonly missed: number;
  /** Duplicates discarded. */
  readonly duplicates: number;
  /** Local sends that failed (the connection was gone: it was unsubscribed). */
  readonly sendErrors: number;
  /** Local (connection, channel) subscriptions. */
  readonly subscriptions: number;
  /** Channels this process is subscribed to in Redis. */
  readonly channels: number;
  /** Times the subscriber subscribed again after a reconnect. */
  readonly resubscriptions: number;
  readonly publisherReady: boolean;
  readonly subscriberReady: boolean;
}

export interface BroadcastDropped {
  readonly channel: string;
  readonly count: number;
  /** 'publish': this process could not publish; 'missed': this process did not receive another publisher's broadcasts. */
  readonly reason: 'publish' | 'missed';
  /** The publisher whose broadcasts were missed (reason 'missed'). */
  readonly publisher?: string;
  readonly error?: WsppError;
}

export interface RedisBroadcast {
  on(event: 'dropped', listener: (e: BroadcastDropped) => void): this;
  on(event: 'disconnected', listener: (e: { client: 'publisher' | 'subscriber' }) => void): this;
  on(event: 'resubscribed', listener: (e: { channels: number }) => void): this;
  on(event: 'redisError', listener: (e: WsppError) => void): this;
  once(event: 'dropped', listener: (e: BroadcastDropped) => void): this;
  once(event: 'disconnected', listener: (e: { client: 'publisher' | 'subscriber' }) => void): this;
  once(event: 'resubscribed', listener: (e: { channels: number }) => void): this;
  once(event: 'redisError', listener: (e: WsppError) => void): this;
}

const VERSION = 1;
const IOREDIS = 'ioredis';
const SEQ_BYTES = 6;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Connection-level pub/sub broadcast over Redis. Events: 'dropped', 'disconnected', 'resubscribed', 'redisError'. */
export class RedisBroadcast extends EventEmitter {
  /** This adapter's publisher id (in every message it publishes). */
  readonly id: string;
  private readonly idBytes: Buffer;
  private readonly publisher: RedisClientLike;
  private readonly subscriber: RedisClientLike;
  private readonly owned: boolean;
  private readonly endpoint: BroadcastEndpoint | undefined;
  private readonly prefix: string;
  /** channel → its local subscribers. */
  private readonly members = new Map<string, Set<ConnectionHdl>>();
  /** connection → its channels. */
  private readonly channelsOf = new Map<ConnectionHdl, Set<string>>();
  /** Next sequence number per channel (this publisher). */
  private readonly nextSeq = new Map<string, number>();
  /** Last sequence number seen per publisher and channel. */
  private readonly lastSeen = new Map<string, number>();
  private readonly counters: Mutable<Omit<BroadcastStats, 'subscriptions' | 'channels' | 'publisherReady' | 'subscriberReady'>> = {
    published: 0,
    dropped: 0,
    received: 0,
    delivered: 0,
    missed: 0,
    duplicates: 0,
    sendErrors: 0,
    resubscriptions: 0,
  };
  private subscriptions = 0;
  private batch: { channel: string; prepared: PreparedMessage }[] = [];
  private deliveryScheduled = false;
  private readonly deliverBound = (): void => this.deliver();
  private readyOnce = false;
  private closed = false;
  private readonly hooks: [RedisClientLike, string, (...args: any[]) => void][] = [];

  private constructor(options: RedisBroadcastOptions, publisher: RedisClientLike, subscriber: RedisClientLike, owned: boolean) {
    super();
    this.idBytes = randomBytes(8);
    this.id = this.idBytes.toString('hex');
    this.publisher = publisher;
    this.subscriber = subscriber;
    this.owned = owned;
    this.endpoint = options.endpoint;
    this.prefix = options.prefix ?? 'wspp:';
    // A client that is ready already will not announce its first 'ready'.
    this.readyOnce = subscriber.status === 'ready';
    this.listen(subscriber, 'messageBuffer', (channel: Buffer, message: Buffer) => this.onMessage(channel, message));
    this.listen(subscriber, 'ready', () => this.onSubscriberReady());
    for (const [client, name] of [
      [publisher, 'publisher'],
      [subscriber, 'subscriber'],
    ] as const) {
      this.listen(client, 'close', () => {
        if (!this.closed) this.emit('disconnected', { client: name });
      });
      this.listen(client, 'error', (err: Error) => {
        if (!this.closed && this.listenerCount('redisError') > 0) this.emit('redisError', new WsppError('transport.pass_through', `redis ${name}: ${err.message}`, { cause: err }));
      });
    }
  }

  /** Connect to Redis and resolve with a ready adapter; throws a WsppError if Redis cannot be reached. */
  static async create(options: RedisBroadcastOptions): Promise<RedisBroadcast> {
    const result = await RedisBroadcast.tryCreate(options);
    if (result instanceof WsppError) throw result;
    return result;
  }

  static async tryCreate(options: RedisBroadcastOptions): Promise<RedisBroadcast | WsppError> {
    let publisher: RedisClientLike;
    let subscriber: RedisClientLike;
    let owned = false;
    const given = options.redis as { publisher?: RedisClientLike; subscriber?: RedisClientLike };
    if (typeof options.redis === 'object' && given.publisher !== undefined && given.subscriber !== undefined) {
      publisher = given.publisher;
      subscriber = given.subscriber;
    } else {
      let Redis: new (...args: unknown[]) => RedisClientLike;
      try {
        const mod = (await import(IOREDIS)) as { Redis?: typeof Redis; default?: typeof Redis };
        Redis = (mod.Redis ?? mod.default)!;
      } catch (err) {
        return new WsppError('websocket.general', 'the Redis broadcast adapter needs the ioredis package: npm install ioredis', { cause: err });
      }
      const common = {
        lazyConnect: true,
        enableOfflineQueue: false,
        autoResubscribe: false,
        autoResendUnfulfilledCommands: false,
        maxRetriesPerRequest: 0,
        connectTimeout: options.connectTimeout ?? 5000,
      };
      const make = (): RedisClientLike => (typeof options.redis === 'string' ? new Redis(options.redis, common) : new Redis({ ...(options.redis as object), ...common }));
      publisher = make();
      subscriber = make();
      owned = true;
      // No unhandled 'error' events: failures are reported through the adapter.
      publisher.on('error', () => undefined);
      subscriber.on('error', () => undefined);
    }
    const bus = new RedisBroadcast(options, publisher, subscriber, owned);
    const ready = await bus.waitReady(options.connectTimeout ?? 5000);
    if (ready !== undefined) {
      await bus.close();
      return ready;
    }
    return bus;
  }

  private async waitReady(timeout: number): Promise<WsppError | undefined> {
    const one = async (client: RedisClientLike): Promise<WsppError | undefined> => {
      if (client.status === 'ready') return undefined;
      if (client.status === 'wait' && client.connect !== undefined) {
        try {
          await client.connect();
          return undefined;
        } catch (err) {
          return new WsppError('transport.pass_through', `redis: ${(err as Error).message}`, { cause: err });
        }
      }
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          client.removeListener('ready', onReady);
          resolve(new WsppError('transport.timeout', `redis not ready within ${timeout} ms`));
        }, timeout);
        const onReady = (): void => {
          clearTimeout(timer);
          resolve(undefined);
        };
        client.on('ready', onReady);
      });
    };
    const errors = await Promise.all([one(this.publisher), one(this.subscriber)]);
    return errors.find((e) => e !== undefined);
  }

  // --- subscriptions ---------------------------------------------------------------------

  /**
   * Add a connection to a channel. Resolves once Redis confirmed the subscription (at once
   * if this process is subscribed already); the error says Redis is unavailable — the
   * membership stays and the subscription is made when Redis is back.
   */
  async trySubscribe(hdl: ConnectionHdl, channel: string): Promise<WsppError | undefined> {
    if (this.closed) return new WsppError('websocket.invalid_state', 'the broadcast adapter is closed');
    if (this.endpoint === undefined) return new WsppError('websocket.invalid_state', 'a publish-only adapter has no connections: give it an endpoint');
    let mine = this.channelsOf.get(hdl);
    if (mine === undefined) this.channelsOf.set(hdl, (mine = new Set()));
    if (mine.has(channel)) return undefined;
    mine.add(channel);
    this.subscriptions++;
    let set = this.members.get(channel);
    if (set !== undefined) {
      set.add(hdl);
      return undefined;
    }
    this.members.set(channel, (set = new Set([hdl])));
    if (this.subscriber.status !== 'ready') return new WsppError('transport.pass_through', 'redis is unavailable: the subscription is made when it is back');
    try {
      await this.subscriber.subscribe(this.prefix + channel);
      return undefined;
    } catch (err) {
      return new WsppError('transport.pass_through', `redis subscribe: ${(err as Error).message}`, { cause: err });
    }
  }

  async subscribe(hdl: ConnectionHdl, channel: string): Promise<void> {
    const err = await this.trySubscribe(hdl, channel);
    if (err !== undefined) throw err;
  }

  /** Remove a connection from a channel, or from all its channels (call it from the close handler). */
  unsubscribe(hdl: ConnectionHdl, channel?: string): void {
    const mine = this.channelsOf.get(hdl);
    if (mine === undefined) return;
    const channels = channel === undefined ? [...mine] : mine.has(channel) ? [channel] : [];
    for (const ch of channels) {
      mine.delete(ch);
      this.subscriptions--;
      const set = this.members.get(ch);
      if (set === undefined) continue;
      set.delete(hdl);
      if (set.size === 0) {
        this.members.delete(ch);
        if (this.subscriber.status === 'ready') this.subscriber.unsubscribe(this.prefix + ch).catch(() => undefined);
      }
    }
    if (mine.size === 0) this.channelsOf.delete(hdl);
  }

  /** The channels a connection is subscribed to. */
  channels(hdl: ConnectionHdl): string[] {
    return [...(this.channelsOf.get(hdl) ?? [])];
  }

  // --- publishing ---------------------------------------------------------------------------

  /**
   * Publish to every connection subscribed to `channel` on every process. Resolves with
   * undefined once Redis confirmed it, or with the error when it did not (the broadcast is
   * then counted as dropped and reported by the 'dropped' event; it is not retried).
   */
  async tryBroadcast(channel: string, message: string | Uint8Array, opcode?: DataOpcode): Promise<WsppError | undefined> {
    if (this.closed) return this.drop(channel, new WsppError('websocket.invalid_state', 'the broadcast adapter is closed'));
    if (this.publisher.status !== 'ready') return this.drop(channel, new WsppError('transport.pass_through', `redis is unavailable (${this.publisher.status}): broadcast dropped`));
    const seq = (this.nextSeq.get(channel) ?? 0) + 1;
    this.nextSeq.set(channel, seq);
    const payload = typeof message === 'string' ? Buffer.from(message) : message;
    const op = opcode ?? (typeof message === 'string' ? 1 : 2);
    const head = Buffer.allocUnsafe(3 + this.idBytes.length + SEQ_BYTES);
    head[0] = VERSION;
    head[1] = op;
    head[2] = this.idBytes.length;
    this.idBytes.copy(head, 3);
    head.writeUIntBE(seq, 3 + this.idBytes.length, SEQ_BYTES);
    try {
      await this.publisher.publish(this.prefix + channel, Buffer.concat([head, payload]));
    } catch (err) {
      return this.drop(channel, new WsppError('transport.pass_through', `redis publish: ${(err as Error).message}`, { cause: err }));
    }
    this.counters.published++;
    return undefined;
  }

  async broadcast(channel: string, message: string | Uint8Array, opcode?: DataOpcode): Promise<void> {
    const err = await this.tryBroadcast(channel, message, opcode);
    if (err !== undefined) throw err;
  }

  private drop(channel: string, error: WsppError): WsppError {
    this.counters.dropped++;
    this.emit('dropped', { channel, count: 1, reason: 'publish', error } satisfies BroadcastDropped);
    return error;
  }

  // --- receiving --------------------------------------------------------------------------------

  private onMessage(channelBytes: Buffer, message: Buffer): void {
    const full = channelBytes.toString();
    if (!full.startsWith(this.prefix)) return;
    const channel = full.slice(this.prefix.length);
    const idLen = message[2];
    if (message[0] !== VERSION || idLen === undefined || message.length < 3 + idLen + SEQ_BYTES) return;
    this.counters.received++;
    const opcode = message[1] === 2 ? 2 : 1;
    const publisher = message.toString('hex', 3, 3 + idLen);
    const seq = message.readUIntBE(3 + idLen, SEQ_BYTES);
    const key = `${publisher}\u0000${channel}`;
    const last = this.lastSeen.get(key);
    if (last !== undefined) {
      if (seq <= last) {
        this.counters.duplicates++;
        return;
      }
      if (seq > last + 1) {
        const count = seq - last - 1;
        this.counters.missed += count;
        this.emit('dropped', { channel, count, reason: 'missed', publisher } satisfies BroadcastDropped);
      }
    }
    this.lastSeen.set(key, seq);
    const endpoint = this.endpoint;
    if (endpoint === undefined || !this.members.has(channel)) return;
    // Messages that arrive together (one read from Redis) are delivered together: each
    // connection gets its share back to back, which the transport writes as one chunk.
    this.batch.push({ channel, prepared: endpoint.prepare(message.subarray(3 + idLen + SEQ_BYTES), opcode) });
    if (!this.deliveryScheduled) {
      this.deliveryScheduled = true;
      queueMicrotask(this.deliverBound);
    }
  }

  private deliver(): void {
    this.deliveryScheduled = false;
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    const endpoint = this.endpoint!;
    let gone: ConnectionHdl[] | undefined;
    const send = (hdl: ConnectionHdl, prepared: PreparedMessage): void => {
      const err = endpoint.trySend(hdl, prepared);
      if (err === undefined) this.counters.delivered++;
      else {
        this.counters.sendErrors++;
        if (err.code === 'websocket.bad_connection' && !(gone ??= []).includes(hdl)) gone.push(hdl);
      }
    };
    const first = batch[0]!.channel;
    if (batch.every((m) => m.channel === first)) {
      const set = this.members.get(first);
      if (set !== undefined) for (const hdl of set) for (const m of batch) send(hdl, m.prepared);
    } else {
      // Several channels: every connection still gets its messages in arrival order.
      const targets = new Set<ConnectionHdl>();
      for (const m of batch) for (const hdl of this.members.get(m.channel) ?? []) targets.add(hdl);
      for (const hdl of targets) {
        const mine = this.channelsOf.get(hdl);
        for (const m of batch) if (mine?.has(m.channel) === true) send(hdl, m.prepared);
      }
    }
    if (gone !== undefined) for (const hdl of gone) this.unsubscribe(hdl);
  }

  private onSubscriberReady(): void {
    const first = !this.readyOnce;
    this.readyOnce = true;
    const channels = [...this.members.keys()].map((c) => this.prefix + c);
    if (channels.length === 0) {
      if (!first) {
        this.counters.resubscriptions++;
        this.emit('resubscribed', { channels: 0 });
      }
      return;
    }
    this.subscriber.subscribe(...channels).then(
      () => {
        if (first) return;
        this.counters.resubscriptions++;
        this.emit('resubscribed', { channels: channels.length });
      },
      (err: Error) => {
        if (this.listenerCount('redisError') > 0) this.emit('redisError', new WsppError('transport.pass_through', `redis resubscribe: ${err.message}`, { cause: err }));
      },
    );
  }

  // --- the rest ---------------------------------------------------------------------------------

  stats(): BroadcastStats {
    return {
      ...this.counters,
      subscriptions: this.subscriptions,
      channels: this.members.size,
      publisherReady: this.publisher.status === 'ready',
      subscriberReady: this.subscriber.status === 'ready',
    };
  }

  /** Stop: forget every subscription; close the Redis clients the adapter created. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const [client, event, fn] of this.hooks) client.removeListener(event, fn);
    const channels = [...this.members.keys()].map((c) => this.prefix + c);
    this.members.clear();
    this.channelsOf.clear();
    this.subscriptions = 0;
    if (!this.owned) {
      if (channels.length > 0 && this.subscriber.status === 'ready') await this.subscriber.unsubscribe(...channels).catch(() => undefined);
      return;
    }
    await Promise.all(
      [this.publisher, this.subscriber].map(async (client) => {
        if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
        else client.disconnect();
      }),
    );
  }

  private listen(client: RedisClientLike, event: string, fn: (...args: any[]) => void): void {
    client.on(event, fn);
    this.hooks.push([client, event, fn]);
  }
}
