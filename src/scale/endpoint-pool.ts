/**
 * EndpointPool: N client endpoints, each on its own worker thread with its own event
 * loop (DESIGN.md section 6; the seed's `endpoint_pool_c`). The user's per-connection
 * logic lives in a *callbacks module* that every worker imports, so a connection's
 * frames are handled by the thread that owns its socket and never cross threads;
 * the main thread creates, sends to and closes connections by id, and reads stats
 * from shared memory.
 *
 *   const pool = await EndpointPool.create({ module: new URL('./callbacks.js', import.meta.url) });
 *   const { id, opened } = pool.endpoint(0).createConnection('ws://127.0.0.1:9002/', 'echo', { data: { n: 0 } });
 *   await opened;                       // rejects with the WsppError that failed it
 *   pool.send(id, 'Hello');             // throws WsppError; trySend returns it
 *   await pool.shutdown();              // every connection closed with 1001, workers joined
 *
 * The callbacks module (see `definePoolModule`) exports the config of the worker's
 * client endpoint, a per-endpoint context factory, named callback sets
 * (onOpen / onMessage / onClose(code, reason) / onFail) and named commands.
 * Workers load the built files: the worker entry is `pool-worker.js` beside this module.
 */
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import type { Config } from '../config/types.js';
import type { DataOpcode } from '../protocol/constants.js';
import { WsppError, type ErrorCode } from '../protocol/errors.js';
import type { ClientEndpoint, Connection } from '../roles/types.js';
import { parseWsUri } from '../uri.js';

// --- stats -------------------------------------------------------------------------

/** The counters every endpoint keeps (payload bytes, not wire bytes). */
export const POOL_STAT_FIELDS = [
  'connections',
  'connecting',
  'opened',
  'failed',
  'closed',
  'messagesIn',
  'messagesOut',
  'bytesIn',
  'bytesOut',
  'errors',
] as const;
export type PoolStatField = (typeof POOL_STAT_FIELDS)[number];

/**
 * One endpoint's counters. `connections`/`connecting`: now; the others: totals since start.
 * `messagesOut`/`bytesOut` count sends made through the pool API (con.send in a callback,
 * endpoint.send from the main thread); `errors` counts failed sends and callbacks that threw.
 */
export type EndpointStats = { readonly [K in PoolStatField]: number };

export interface PoolStats {
  readonly endpoints: readonly EndpointStats[];
  /** The sum over the endpoints. */
  readonly total: EndpointStats;
}

/** @internal Slot of a field in an endpoint's row of the shared stats array. */
export const STAT: { readonly [K in PoolStatField]: number } = Object.freeze(
  Object.fromEntries(POOL_STAT_FIELDS.map((f, i) => [f, i])) as { [K in PoolStatField]: number },
);
/**
 * @internal Slots per endpoint row: 16 doubles = 128 bytes, so two workers' rows never
 * share a cache line (each worker writes its row on every message).
 */
export const STAT_WIDTH = 16;

/** @internal */
export function readStats(view: Float64Array, index: number): EndpointStats {
  const out: Record<string, number> = {};
  const base = index * STAT_WIDTH;
  for (let i = 0; i < POOL_STAT_FIELDS.length; i++) out[POOL_STAT_FIELDS[i]!] = view[base + i]!;
  return out as EndpointStats;
}

function sumStats(rows: readonly EndpointStats[]): EndpointStats {
  const out: Record<string, number> = {};
  for (const f of POOL_STAT_FIELDS) out[f] = rows.reduce((s, r) => s + r[f], 0);
  return out as EndpointStats;
}

// --- what runs in the worker (the callbacks module's types) ---------------------------

/** A received message as the callbacks see it; `text` and `json()` are computed once, on first use. */
export interface PoolMessage {
  readonly opcode: DataOpcode;
  readonly isText: boolean;
  /** The payload bytes (owned: the callback may keep them). */
  readonly payload: Buffer;
  /** The payload decoded as UTF-8 (decoded on first access, then cached). */
  readonly text: string;
  /** The payload parsed as JSON on first call (then cached); throws a WsppError (`websocket.payload_violation`) for invalid JSON. */
  json<T = unknown>(): T;
  /** As json(), returning the error instead of throwing. */
  tryJson<T = unknown>(): T | WsppError;
}

export type PoolConnectionState = 'connecting' | 'open' | 'closing' | 'closed' | 'failed';

/** A connection as the callbacks in its worker see it. */
export interface WorkerConnection<Ctx = unknown, Data = unknown> {
  /** The pool-wide id the main thread knows it by. */
  readonly id: number;
  /** The value given as `data` to createConnection (structured-cloned into the worker). */
  readonly data: Data;
  readonly uri: string;
  readonly state: PoolConnectionState;
  /** The worker's endpoint. */
  readonly endpoint: WorkerEndpoint<Ctx>;
  /** The endpoint's context (the module's createContext result): `con.endpoint.context`. */
  readonly context: Ctx;
  /** The wspp connection underneath, for everything else (headers, ping, bufferedAmount...). */
  readonly connection: Connection<Config, 'client'>;
  send(payload: string | Uint8Array, opcode?: DataOpcode): void;
  trySend(payload: string | Uint8Array, opcode?: DataOpcode): WsppError | undefined;
  close(code?: number, reason?: string): void;
  tryClose(code?: number, reason?: string): WsppError | undefined;
  /** Hand a (structured-cloneable) value to the main thread: the connection's `onNotify` and the pool's 'notify' event. */
  notify(value: unknown): void;
}

/** A worker's endpoint, as callbacks and commands see it. */
export interface WorkerEndpoint<Ctx = unknown> {
  readonly index: number;
  /** Endpoints in the pool. */
  readonly size: number;
  /** What the module's createContext returned for this endpoint. */
  readonly context: Ctx;
  /** The wspp client endpoint of this worker. */
  readonly client: ClientEndpoint<Config>;
  stats(): EndpointStats;
  connection(id: number): WorkerConnection<Ctx> | undefined;
  connections(): IterableIterator<WorkerConnection<Ctx>>;
  /** A value for the pool's 'notify' event (id 0: from the endpoint, not a connection). */
  notify(value: unknown): void;
}

/** One named set of callbacks; each connection is created with one. Exceptions are caught and counted. */
export interface PoolCallbacks<Ctx = any, Data = any> {
  onOpen?(con: WorkerConnection<Ctx, Data>): void;
  onMessage?(con: WorkerConnection<Ctx, Data>, msg: PoolMessage): void;
  /** The connection ended after it opened: the close code and reason the peer sent (1006: dropped). */
  onClose?(con: WorkerConnection<Ctx, Data>, code: number, reason: string): void;
  /** The connection never opened. */
  onFail?(con: WorkerConnection<Ctx, Data>, error: WsppError): void;
}

export interface PoolContextInfo {
  readonly index: number;
  readonly size: number;
  /** The pool option `context` (structured-cloned). */
  readonly init: unknown;
}

/** What a callbacks module provides (as its default export, or as named exports). */
export interface PoolModule<Ctx = any> {
  /** The worker's client config (tcp or tls). Default: config.minimalTcpClient. */
  readonly config?: Config;
  /** Builds the per-endpoint context, once per worker. */
  createContext?(info: PoolContextInfo): Ctx | Promise<Ctx>;
  /** The callback sets, by name; `createConnection(uri, name)` picks one. */
  readonly callbacks: { readonly [name: string]: PoolCallbacks<Ctx, any> };
  /** Functions the main thread runs in a worker with `endpoint.call(name, arg)`; results are structured-cloned back. */
  readonly commands?: { readonly [name: string]: (endpoint: WorkerEndpoint<Ctx>, arg: any) => unknown };
}

/**
 * Declare a callbacks module with its types checked and kept
 * (`export default definePoolModule({ createContext, callbacks: { echo: {...} } })`).
 * `EndpointPool<typeof module>` then checks callback names, data and commands.
 */
export function definePoolModule<Ctx, const M extends PoolModule<Ctx>>(module: M & { createContext?(info: PoolContextInfo): Ctx | Promise<Ctx> }): M {
  return module;
}

type CallbackName<M extends PoolModule> = keyof M['callbacks'] & string;
type DataOf<M extends PoolModule, K extends CallbackName<M>> = M['callbacks'][K] extends PoolCallbacks<any, infer D> ? D : unknown;
type Commands<M extends PoolModule> = NonNullable<M['commands']>;
type CommandName<M extends PoolModule> = keyof Commands<M> & string;
type CommandFn<M extends PoolModule, K extends CommandName<M>> = Commands<M>[K] extends (e: never, a: infer A) => infer R ? [A, R] : [unknown, unknown];
export type CommandArg<M extends PoolModule, K extends CommandName<M>> = CommandFn<M, K>[0];
export type CommandResult<M extends PoolModule, K extends CommandName<M>> = Awaited<CommandFn<M, K>[1]>;

// --- the main thread's side --------------------------------------------------------

export interface CreateConnectionOptions<Data = unknown> {
  /** Per-connection data for the callbacks (`con.data`); structured-cloned into the worker. */
  data?: Data;
  /** Extra request headers. */
  headers?: Readonly<Record<string, string>>;
  /** Subprotocols to offer. */
  subprotocols?: readonly string[];
  /** Runs on the main thread for each `con.notify(value)` of this connection. */
  onNotify?: (value: unknown) => void;
}

export interface PoolOpened {
  readonly id: number;
  readonly endpoint: number;
  readonly subprotocol: string;
}

export interface PoolClosed {
  readonly id: number;
  /** The code the peer sent (1006: none, the connection dropped or never opened). */
  readonly code: number;
  readonly reason: string;
  /** The error that ended it, if any (for a connection that never opened: why). */
  readonly error: WsppError | undefined;
}

/** What createConnection returns: the id at once, the outcome later. */
export interface PoolConnection {
  readonly id: number;
  /** Index of the endpoint that owns it. */
  readonly endpoint: number;
  /** Resolves when the connection is open; rejects with the WsppError that failed it. */
  readonly opened: Promise<PoolOpened>;
  /** The same outcome without throwing: the opened status or the error. */
  readonly openResult: Promise<PoolOpened | WsppError>;
  /** Resolves (never rejects) when the connection has ended, however it ended. */
  readonly closed: Promise<PoolClosed>;
}

export interface EndpointPoolOptions {
  /** The callbacks module every worker imports: a file: URL, a path (relative to the working directory) or a package specifier. */
  module: string | URL;
  /** Number of endpoints (worker threads). Default: os.availableParallelism(). */
  size?: number;
  /** A structured-cloneable value handed to the module's createContext in each worker. */
  context?: unknown;
  /** How long shutdown waits for a worker's connections to close before terminating it (ms, default 10,000). */
  shutdownTimeout?: number;
  /** Passed to each Worker. */
  execArgv?: string[];
  resourceLimits?: ResourceLimits;
}

export interface PoolNotification {
  readonly endpoint: number;
  /** 0 for endpoint.notify(). */
  readonly id: number;
  readonly value: unknown;
}

export interface PoolConnectionError {
  readonly endpoint: number;
  /** 0 when the error belongs to no connection. */
  readonly id: number;
  readonly error: WsppError;
}

export interface PoolEndpointError {
  readonly endpoint: number;
  readonly error: WsppError;
}

// --- wire messages between the threads (@internal) ----------------------------------

/** @internal main → worker (posted in batches: one array per tick) */
export type ToWorker =
  | { t: 'open'; id: number; uri: string; cb: string; data: unknown; headers: Readonly<Record<string, string>> | undefined; protocols: readonly string[] | undefined }
  | { t: 'send'; id: number; payload: string | Uint8Array; opcode: DataOpcode | undefined }
  | { t: 'close'; id: number; code: number; reason: string }
  | { t: 'call'; req: number; name: string; arg: unknown }
  | { t: 'shutdown'; code: number; reason: string; timeout: number };

/** @internal worker → main (posted in batches) */
export type FromWorker =
  | { t: 'ready' }
  | { t: 'fatal'; message: string }
  | { t: 'opened'; id: number; subprotocol: string }
  | { t: 'failed'; id: number; code: string; message: string }
  | { t: 'closed'; id: number; code: number; reason: string; ecode: string | undefined; emessage: string | undefined }
  | { t: 'notify'; id: number; value: unknown }
  | { t: 'error'; id: number; code: string; message: string }
  | { t: 'result'; req: number; ok: true; value: unknown }
  | { t: 'result'; req: number; ok: false; code: string; message: string }
  | { t: 'down' };

/** @internal What a worker is started with. */
export interface PoolWorkerData {
  index: number;
  size: number;
  module: string;
  init: unknown;
  stats: SharedArrayBuffer;
}

/** @internal A WsppError rebuilt from its code and message (errors cross threads as data). */
export function reviveError(code: string, message: string): WsppError {
  let err: WsppError;
  try {
    err = new WsppError(code as ErrorCode);
  } catch {
    err = new WsppError('websocket.general');
  }
  if (err.message !== message) err.message = message;
  return err;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  // A rejection nobody awaits must not crash the process: the error is also in `closed`.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

interface ConnRecord {
  readonly id: number;
  readonly endpoint: PoolEndpoint;
  state: PoolConnectionState;
  didOpen: boolean;
  readonly opened: Deferred<PoolOpened>;
  readonly closed: Deferred<PoolClosed>;
  readonly onNotify: ((value: unknown) => void) | undefined;
}

/** One endpoint of the pool, seen from the main thread: operations by connection id. */
export class PoolEndpoint<M extends PoolModule = PoolModule> {
  readonly index: number;
  /** @internal */
  readonly worker: Worker;
  /** @internal Connections created here that have not ended. */
  readonly live = new Map<number, ConnRecord>();
  /** @internal */
  alive = true;
  /** @internal */
  down: Deferred<void> | undefined;
  private queue: ToWorker[] = [];
  private scheduled = false;
  private readonly calls = new Map<number, Deferred<unknown>>();
  private readonly pool: EndpointPool<M>;
  private readonly view: Float64Array;

  /** @internal */
  constructor(pool: EndpointPool<M>, index: number, worker: Worker, view: Float64Array) {
    this.pool = pool;
    this.index = index;
    this.worker = worker;
    this.view = view;
  }

  /** This endpoint's counters (read from shared memory: no round trip). */
  stats(): EndpointStats {
    return readStats(this.view, this.index);
  }

  /** Connections created through the pool on this endpoint that have not ended yet. */
  get connectionCount(): number {
    return this.live.size;
  }

  /** Open a connection to `uri` handled by the module's callback set `callbacks` (default "default"). */
  tryCreateConnection<K extends CallbackName<M>>(uri: string, callbacks?: K, options: CreateConnectionOptions<DataOf<M, K>> = {}): PoolConnection | WsppError {
    if (!this.alive || this.pool.stopping) return new WsppError('websocket.endpoint_unavailable', this.alive ? 'the pool is shutting down' : `endpoint ${this.index} is down`);
    const parsed = parseWsUri(uri);
    if (parsed instanceof WsppError) return parsed;
    const id = this.pool.nextId();
    const rec: ConnRecord = { id, endpoint: this as unknown as PoolEndpoint, state: 'connecting', didOpen: false, opened: deferred(), closed: deferred(), onNotify: options.onNotify };
    this.live.set(id, rec);
    this.pool.index.set(id, rec);
    this.post({ t: 'open', id, uri, cb: callbacks ?? 'default', data: options.data, headers: options.headers, protocols: options.subprotocols });
    const openResult = rec.opened.promise.then(
      (v) => v,
      (e: unknown) => e as WsppError,
    );
    return { id, endpoint: this.index, opened: rec.opened.promise, openResult, closed: rec.closed.promise };
  }

  createConnection<K extends CallbackName<M>>(uri: string, callbacks?: K, options?: CreateConnectionOptions<DataOf<M, K>>): PoolConnection {
    const result = this.tryCreateConnection(uri, callbacks, options);
    if (result instanceof WsppError) throw result;
    return result;
  }

  /**
   * Send a message on an open connection. Errors found here (unknown id, not open, endpoint
   * down) are returned; a send that fails later in the worker (the connection ended meanwhile)
   * is counted in `errors` and reported by the pool's 'connectionError' event.
   */
  trySend(id: number, payload: string | Uint8Array, opcode?: DataOpcode): WsppError | undefined {
    const rec = this.live.get(id);
    if (rec === undefined) return new WsppError('websocket.bad_connection', `no connection ${id} on endpoint ${this.index}`);
    if (rec.state !== 'open') return new WsppError('websocket.invalid_state', `connection ${id} is ${rec.state}`);
    this.post({ t: 'send', id, payload, opcode });
    return undefined;
  }

  send(id: number, payload: string | Uint8Array, opcode?: DataOpcode): void {
    const err = this.trySend(id, payload, opcode);
    if (err !== undefined) throw err;
  }

  /** Start the closing handshake (or abandon a connection still connecting). */
  tryClose(id: number, code = 1000, reason = ''): WsppError | undefined {
    const rec = this.live.get(id);
    if (rec === undefined) return new WsppError('websocket.bad_connection', `no connection ${id} on endpoint ${this.index}`);
    if (rec.state === 'closing') return undefined;
    rec.state = 'closing';
    this.post({ t: 'close', id, code, reason });
    return undefined;
  }

  close(id: number, code?: number, reason?: string): void {
    const err = this.tryClose(id, code, reason);
    if (err !== undefined) throw err;
  }

  /** Run the module's command `name` in this endpoint's worker; resolves with its (structured-cloned) result. */
  tryCall<K extends CommandName<M>>(name: K, arg?: CommandArg<M, K>): Promise<CommandResult<M, K> | WsppError> {
    if (!this.alive) return Promise.resolve(new WsppError('websocket.endpoint_unavailable', `endpoint ${this.index} is down`));
    const req = this.pool.nextId();
    const d = deferred<unknown>();
    this.calls.set(req, d);
    this.post({ t: 'call', req, name, arg });
    return d.promise.then(
      (v) => v as CommandResult<M, K>,
      (e: unknown) => e as WsppError,
    );
  }

  async call<K extends CommandName<M>>(name: K, arg?: CommandArg<M, K>): Promise<CommandResult<M, K>> {
    const result = await this.tryCall(name, arg);
    if (result instanceof WsppError) throw result;
    return result as CommandResult<M, K>;
  }

  /** @internal */
  post(op: ToWorker): void {
    this.queue.push(op);
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const ops = this.queue;
    if (ops.length === 0) return;
    this.queue = [];
    if (this.alive) this.worker.postMessage(ops);
  }

  /** @internal A batch of events from the worker. */
  receive(events: readonly FromWorker[]): void {
    for (const ev of events) {
      switch (ev.t) {
        case 'opened': {
          const rec = this.live.get(ev.id);
          if (rec === undefined) break;
          if (rec.state === 'connecting') rec.state = 'open';
          rec.didOpen = true;
          rec.opened.resolve({ id: ev.id, endpoint: this.index, subprotocol: ev.subprotocol });
          break;
        }
        case 'failed': {
          const rec = this.live.get(ev.id);
          if (rec === undefined) break;
          const error = reviveError(ev.code, ev.message);
          this.end(rec, 'failed', { id: ev.id, code: 1006, reason: '', error });
          break;
        }
        case 'closed': {
          const rec = this.live.get(ev.id);
          if (rec === undefined) break;
          const error = ev.ecode === undefined ? undefined : reviveError(ev.ecode, ev.emessage ?? '');
          this.end(rec, 'closed', { id: ev.id, code: ev.code, reason: ev.reason, error });
          break;
        }
        case 'notify': {
          const rec = ev.id === 0 ? undefined : this.live.get(ev.id);
          if (rec?.onNotify !== undefined) {
            try {
              rec.onNotify(ev.value);
            } catch (err) {
              queueMicrotask(() => {
                throw err;
              });
            }
          }
          this.pool.emit('notify', { endpoint: this.index, id: ev.id, value: ev.value } satisfies PoolNotification);
          break;
        }
        case 'error':
          this.pool.emit('connectionError', { endpoint: this.index, id: ev.id, error: reviveError(ev.code, ev.message) } satisfies PoolConnectionError);
          break;
        case 'result': {
          const d = this.calls.get(ev.req);
          if (d === undefined) break;
          this.calls.delete(ev.req);
          if (ev.ok) d.resolve(ev.value);
          else d.reject(reviveError(ev.code, ev.message));
          break;
        }
        case 'ready':
          this.pool.workerReady(this.index, undefined);
          break;
        case 'fatal':
          this.pool.workerReady(this.index, ev.message);
          break;
        case 'down':
          this.down?.resolve();
          break;
      }
    }
  }

  private end(rec: ConnRecord, state: 'failed' | 'closed', info: PoolClosed): void {
    rec.state = state;
    this.live.delete(rec.id);
    this.pool.index.delete(rec.id);
    if (!rec.didOpen) rec.opened.reject(info.error ?? new WsppError('websocket.con_creation_failed'));
    rec.closed.resolve(info);
  }

  /** @internal The worker is gone: every connection and call it had ends with `error`. */
  lost(error: WsppError): void {
    this.alive = false;
    this.queue = [];
    for (const rec of [...this.live.values()]) {
      rec.state = rec.didOpen ? 'closed' : 'failed';
      this.live.delete(rec.id);
      this.pool.index.delete(rec.id);
      if (!rec.didOpen) rec.opened.reject(error);
      rec.closed.resolve({ id: rec.id, code: 1006, reason: '', error });
    }
    for (const d of this.calls.values()) d.reject(error);
    this.calls.clear();
    this.down?.resolve();
  }
}

function moduleHref(module: string | URL): string {
  if (module instanceof URL) return module.href;
  if (/^(file|data|node):/.test(module)) return module;
  if (isAbsolute(module) || module.startsWith('.')) return pathToFileURL(resolvePath(module)).href;
  return module; // a package specifier, resolved by the worker
}

export interface EndpointPool<M extends PoolModule = PoolModule> {
  on(event: 'notify', listener: (n: PoolNotification) => void): this;
  on(event: 'connectionError', listener: (e: PoolConnectionError) => void): this;
  on(event: 'endpointError', listener: (e: PoolEndpointError) => void): this;
  once(event: 'notify', listener: (n: PoolNotification) => void): this;
  once(event: 'connectionError', listener: (e: PoolConnectionError) => void): this;
  once(event: 'endpointError', listener: (e: PoolEndpointError) => void): this;
  off(event: 'notify' | 'connectionError' | 'endpointError', listener: (...args: any[]) => void): this;
}

/**
 * N endpoints on N worker threads. Events: 'notify' (a callback called con.notify),
 * 'connectionError' (a send failed in the worker, a callback threw), 'endpointError'
 * (a worker died: its connections end with `websocket.endpoint_unavailable`).
 */
export class EndpointPool<M extends PoolModule = PoolModule> extends EventEmitter {
  /** Resolves once every worker has loaded the callbacks module; rejects with the first failure. */
  readonly ready: Promise<void>;
  /** @internal Every live connection by id, for the pool-level operations. */
  readonly index = new Map<number, ConnRecord>();
  /** @internal */
  stopping = false;
  private readonly eps: PoolEndpoint<M>[] = [];
  private readonly view: Float64Array;
  private readonly readyState: Deferred<void>;
  private pendingReady: number;
  private lastId = 0;
  private rr = 0;
  private shutdownPromise: Promise<void> | undefined;
  private readonly shutdownTimeout: number;

  constructor(options: EndpointPoolOptions) {
    super();
    const size = options.size ?? availableParallelism();
    if (!Number.isInteger(size) || size < 1) throw new WsppError('websocket.invalid_state', `pool size must be a positive integer, not ${String(size)}`);
    this.shutdownTimeout = options.shutdownTimeout ?? 10_000;
    const shared = new SharedArrayBuffer(size * STAT_WIDTH * Float64Array.BYTES_PER_ELEMENT);
    this.view = new Float64Array(shared);
    this.readyState = deferred();
    this.ready = this.readyState.promise;
    this.pendingReady = size;
    const entry = new URL('./pool-worker.js', import.meta.url);
    if (entry.protocol === 'file:' && !existsSync(entry)) {
      throw new WsppError('websocket.endpoint_unavailable', `the pool's worker entry ${fileURLToPath(entry)} is missing: EndpointPool runs from the built library (npm run build, and import it from dist/)`);
    }
    const href = moduleHref(options.module);
    for (let i = 0; i < size; i++) {
      const workerData: PoolWorkerData = { index: i, size, module: href, init: options.context, stats: shared };
      const worker = new Worker(entry, {
        workerData,
        ...(options.execArgv === undefined ? {} : { execArgv: options.execArgv }),
        ...(options.resourceLimits === undefined ? {} : { resourceLimits: options.resourceLimits }),
      });
      const ep = new PoolEndpoint<M>(this, i, worker, this.view);
      this.eps.push(ep);
      worker.on('message', (events: FromWorker[]) => ep.receive(events));
      worker.on('error', (err) => this.workerLost(ep, `worker error: ${err.message}`));
      worker.on('exit', (code) => {
        if (ep.alive) this.workerLost(ep, `worker exited (${code})`);
      });
    }
  }

  /** A pool whose workers are all ready; throws (after stopping the workers) if one failed to start. */
  static async create<M extends PoolModule = PoolModule>(options: EndpointPoolOptions): Promise<EndpointPool<M>> {
    const pool = await EndpointPool.tryCreate<M>(options);
    if (pool instanceof WsppError) throw pool;
    return pool;
  }

  static async tryCreate<M extends PoolModule = PoolModule>(options: EndpointPoolOptions): Promise<EndpointPool<M> | WsppError> {
    let pool: EndpointPool<M>;
    try {
      pool = new EndpointPool<M>(options);
    } catch (err) {
      return err instanceof WsppError ? err : new WsppError('websocket.general', String(err), { cause: err });
    }
    try {
      await pool.ready;
    } catch (err) {
      await pool.shutdown();
      return err as WsppError;
    }
    return pool;
  }

  get size(): number {
    return this.eps.length;
  }

  /** Endpoint i (0 ≤ i < size). */
  tryEndpoint(i: number): PoolEndpoint<M> | WsppError {
    const ep = this.eps[i];
    return ep === undefined ? new WsppError('websocket.endpoint_unavailable', `no endpoint ${i} in a pool of ${this.size}`) : ep;
  }

  endpoint(i: number): PoolEndpoint<M> {
    const ep = this.tryEndpoint(i);
    if (ep instanceof WsppError) throw ep;
    return ep;
  }

  endpoints(): IterableIterator<PoolEndpoint<M>> {
    return this.eps.values();
  }

  /** Open a connection on the endpoint with the fewest live connections (ties: round robin). */
  tryCreateConnection<K extends CallbackName<M>>(uri: string, callbacks?: K, options?: CreateConnectionOptions<DataOf<M, K>>): PoolConnection | WsppError {
    let best: PoolEndpoint<M> | undefined;
    const n = this.eps.length;
    for (let k = 0; k < n; k++) {
      const ep = this.eps[(this.rr + k) % n]!;
      if (!ep.alive) continue;
      if (best === undefined || ep.live.size < best.live.size) best = ep;
    }
    this.rr = (this.rr + 1) % n;
    if (best === undefined) return new WsppError('websocket.endpoint_unavailable', 'no endpoint of the pool is up');
    return best.tryCreateConnection(uri, callbacks, options);
  }

  createConnection<K extends CallbackName<M>>(uri: string, callbacks?: K, options?: CreateConnectionOptions<DataOf<M, K>>): PoolConnection {
    const result = this.tryCreateConnection(uri, callbacks, options);
    if (result instanceof WsppError) throw result;
    return result;
  }

  /** Send on a connection of any endpoint, by id. */
  trySend(id: number, payload: string | Uint8Array, opcode?: DataOpcode): WsppError | undefined {
    const rec = this.index.get(id);
    if (rec === undefined) return new WsppError('websocket.bad_connection', `no connection ${id} in the pool`);
    return rec.endpoint.trySend(id, payload, opcode);
  }

  send(id: number, payload: string | Uint8Array, opcode?: DataOpcode): void {
    const err = this.trySend(id, payload, opcode);
    if (err !== undefined) throw err;
  }

  tryClose(id: number, code?: number, reason?: string): WsppError | undefined {
    const rec = this.index.get(id);
    if (rec === undefined) return new WsppError('websocket.bad_connection', `no connection ${id} in the pool`);
    return rec.endpoint.tryClose(id, code, reason);
  }

  close(id: number, code?: number, reason?: string): void {
    const err = this.tryClose(id, code, reason);
    if (err !== undefined) throw err;
  }

  /** Per-endpoint counters and their sum (shared memory: no round trip). */
  stats(): PoolStats {
    const endpoints = this.eps.map((ep) => ep.stats());
    return { endpoints, total: sumStats(endpoints) };
  }

  /**
   * Close every connection (default 1001 Going away; connections still connecting are
   * abandoned), wait for them to end (bounded by `shutdownTimeout`), and join the workers.
   * Idempotent: later calls return the same promise.
   */
  shutdown(code = 1001, reason = 'going away'): Promise<void> {
    this.shutdownPromise ??= this.doShutdown(code, reason);
    return this.shutdownPromise;
  }

  private async doShutdown(code: number, reason: string): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.eps.map(async (ep) => {
        if (ep.alive) {
          ep.down = deferred();
          ep.post({ t: 'shutdown', code, reason, timeout: this.shutdownTimeout });
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([ep.down.promise, new Promise<void>((r) => (timer = setTimeout(r, this.shutdownTimeout + 2000)))]);
          clearTimeout(timer);
        }
        ep.alive = false;
        await ep.worker.terminate();
        ep.lost(new WsppError('websocket.operation_canceled', 'the pool shut down'));
      }),
    );
    // Workers that failed to start never report ready.
    this.workerReadyAll(new WsppError('websocket.operation_canceled', 'the pool shut down'));
  }

  /** @internal */
  nextId(): number {
    return ++this.lastId;
  }

  /** @internal */
  workerReady(index: number, failure: string | undefined): void {
    if (failure !== undefined) {
      const ep = this.eps[index];
      if (ep !== undefined) this.workerLost(ep, failure);
      return;
    }
    if (--this.pendingReady === 0) this.readyState.resolve();
  }

  private workerReadyAll(error: WsppError): void {
    if (this.pendingReady > 0) {
      this.pendingReady = 0;
      this.readyState.reject(error);
    }
  }

  private workerLost(ep: PoolEndpoint<M>, why: string): void {
    if (!ep.alive) return;
    const error = new WsppError('websocket.endpoint_unavailable', `endpoint ${ep.index}: ${why}`);
    ep.lost(error);
    void ep.worker.terminate();
    if (this.pendingReady > 0) {
      this.pendingReady = 0;
      this.readyState.reject(error);
    }
    if (!this.stopping) this.emit('endpointError', { endpoint: ep.index, error } satisfies PoolEndpointError);
  }
}
