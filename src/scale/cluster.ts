/**
 * A multi-process server on one port (node:cluster): N processes, each with its own
 * server endpoint, sharing one listening socket that the primary hands connections
 * from. Per-process connection counts and stats over IPC; a graceful restart replaces
 * one process (its successor listens first, then it closes its own connections with
 * 1001) without touching the other processes' connections.
 *
 * The node:cluster idiom: the same script runs in the primary and in every worker, and
 * `startCluster` does the right thing in each:
 *
 *   const node = await startCluster({
 *     config: config.tcp, port: 9002, workers: 4,
 *     setup(server, worker) { server.setMessageHandler((hdl, msg) => server.send(hdl, msg.payload, msg.opcode)); },
 *   });
 *   if (node.role === 'primary') { console.log(await node.stats()); await node.restart(0); }
 */
import cluster, { type Worker as ClusterWorker } from 'node:cluster';
import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import { extend } from '../config/extend.js';
import type { Config, Extended } from '../config/types.js';
import { WsppError } from '../protocol/errors.js';
import { Server } from '../roles/server.js';
import type { ServerEndpoint } from '../roles/types.js';

/** The server a cluster process runs: the config's, with the connection registry on (`connections()`). */
export type ClusterServer<C extends Config> = ServerEndpoint<Extended<C, { readonly registry: true }>>;

export interface ClusterWorkerInfo {
  /** The process's slot, 0 ≤ index < workers; a restarted process keeps its slot. */
  readonly index: number;
  /** How many times this slot has been (re)started: 0 for the first process. */
  readonly generation: number;
  readonly workers: number;
}

export interface ClusterOptions<C extends Config> {
  /** The server config (tcp or tls transport) of every process. */
  config: C;
  /** The port all processes share (0: one free port, chosen once, shared by all). */
  port: number;
  host?: string;
  backlog?: number;
  /** Number of processes. Default: os.availableParallelism(). */
  workers?: number;
  /** Runs in each worker process before it listens: set handlers on its server. */
  setup(server: ClusterServer<C>, worker: ClusterWorkerInfo): void | Promise<void>;
  /** Runs in each worker: extra, JSON-serialisable stats for the primary's stats() (`app`). */
  stats?(): unknown;
  /** Runs in each worker after its connections ended, before it exits (close your Redis clients here). */
  teardown?(): void | Promise<void>;
  /** The script the workers run (default: this process's main script, as node:cluster does). */
  exec?: string;
  args?: string[];
  execArgv?: string[];
  /** Replace a worker that exits unexpectedly (default true; gives up on a slot after 5 deaths before listening in a row). */
  respawn?: boolean;
  /** How long a stopping process may take to close its connections before it is killed (ms, default 10,000). */
  stopTimeout?: number;
}

/** One process's numbers. Messages and bytes count the endpoint-level handlers and sends. */
export interface ClusterProcessStats {
  readonly index: number;
  readonly generation: number;
  readonly pid: number;
  /** Connections not yet ended (including those in their opening handshake). */
  readonly connections: number;
  readonly opened: number;
  readonly closed: number;
  readonly failed: number;
  readonly messagesIn: number;
  readonly messagesOut: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** What the `stats` option returned. */
  readonly app?: unknown;
}

export interface ClusterStats {
  readonly processes: readonly ClusterProcessStats[];
  readonly total: Omit<ClusterProcessStats, 'index' | 'generation' | 'pid' | 'app'>;
}

export interface ClusterProcessInfo {
  readonly index: number;
  readonly generation: number;
  readonly pid: number;
  readonly state: 'starting' | 'listening' | 'stopping';
}

export interface ClusterWorkerExit {
  readonly index: number;
  readonly generation: number;
  readonly pid: number;
  readonly code: number | null;
  readonly signal: string | null;
  /** False when the process died on its own (it is then respawned, unless `respawn: false`). */
  readonly expected: boolean;
}

// IPC messages, tagged so they never collide with the application's own.
type ToChild = { wspp: 'cluster'; t: 'stats'; req: number } | { wspp: 'cluster'; t: 'stop'; code: number; reason: string };
type FromChild =
  | { wspp: 'cluster'; t: 'listening'; port: number }
  | { wspp: 'cluster'; t: 'failed'; message: string }
  | { wspp: 'cluster'; t: 'stats'; req: number; stats: ClusterProcessStats };

const ENV_INDEX = 'WSPP_CLUSTER_INDEX';
const ENV_GENERATION = 'WSPP_CLUSTER_GENERATION';
const ENV_WORKERS = 'WSPP_CLUSTER_WORKERS';

function isClusterMessage(m: unknown): m is FromChild & ToChild {
  return typeof m === 'object' && m !== null && (m as { wspp?: unknown }).wspp === 'cluster';
}

/**
 * Start the cluster: in the primary, fork the workers and resolve once all of them
 * listen (a ClusterPrimary); in a worker, build its server, run `setup`, listen, and
 * resolve with a ClusterMember. Throws a WsppError if the cluster cannot start.
 */
export async function startCluster<const C extends Config>(options: ClusterOptions<C>): Promise<ClusterPrimary | ClusterMember<C>> {
  const result = await tryStartCluster(options);
  if (result instanceof WsppError) throw result;
  return result;
}

export async function tryStartCluster<const C extends Config>(options: ClusterOptions<C>): Promise<ClusterPrimary | ClusterMember<C> | WsppError> {
  if (cluster.isPrimary) {
    const primary = new ClusterPrimary(options);
    const err = await primary.start();
    return err ?? primary;
  }
  return startMember(options);
}

// --- the worker side ----------------------------------------------------------------

/** The cluster as one worker process sees it. */
export interface ClusterMember<C extends Config> extends ClusterWorkerInfo {
  readonly role: 'worker';
  readonly server: ClusterServer<C>;
  /** This process's numbers. */
  stats(): ClusterProcessStats;
}

interface Counts {
  opened: number;
  closed: number;
  failed: number;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
}

type AnyFn = (...args: any[]) => any;

/** Count opens, closes, messages and sends at the endpoint level, around the user's handlers. */
function instrument(server: Record<string, AnyFn>, counts: Counts): void {
  const wrap = (setter: string, before: (...args: any[]) => void): void => {
    const original = server[setter]!.bind(server);
    let user: AnyFn | undefined;
    original((...args: unknown[]) => {
      before(...args);
      return user?.(...args);
    });
    server[setter] = (handler: AnyFn | undefined) => {
      user = handler;
    };
  };
  wrap('setOpenHandler', () => counts.opened++);
  wrap('setCloseHandler', () => counts.closed++);
  wrap('setFailHandler', () => counts.failed++);
  wrap('setMessageHandler', (_hdl, msg: { payload: Buffer }) => {
    counts.messagesIn++;
    counts.bytesIn += msg.payload.length;
  });
  const size = (p: unknown): number => (typeof p === 'string' ? Buffer.byteLength(p) : p instanceof Uint8Array ? p.byteLength : ((p as { payload?: Uint8Array }).payload?.byteLength ?? 0));
  const trySend = server.trySend!.bind(server);
  server.trySend = (hdl: unknown, payload: unknown, ...rest: unknown[]) => {
    const err = trySend(hdl, payload, ...rest);
    if (err === undefined) {
      counts.messagesOut++;
      counts.bytesOut += size(payload);
    }
    return err;
  };
  server.send = (hdl: unknown, payload: unknown, ...rest: unknown[]) => {
    const err = server.trySend!(hdl, payload, ...rest);
    if (err !== undefined) throw err;
  };
}

async function startMember<C extends Config>(options: ClusterOptions<C>): Promise<ClusterMember<C> | WsppError> {
  const index = Number(process.env[ENV_INDEX] ?? '0');
  const generation = Number(process.env[ENV_GENERATION] ?? '0');
  const workers = Number(process.env[ENV_WORKERS] ?? '1');
  const report = (m: FromChild): void => {
    process.send?.(m);
  };
  const server = new Server(extend(options.config as Config, { registry: true })) as unknown as ClusterServer<C>;
  const counts: Counts = { opened: 0, closed: 0, failed: 0, messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 };
  instrument(server as unknown as Record<string, AnyFn>, counts);
  const info: ClusterWorkerInfo = { index, generation, workers };
  const stats = (): ClusterProcessStats => {
    let app: unknown;
    try {
      app = options.stats?.();
    } catch (err) {
      app = { error: String(err) };
    }
    return { index, generation, pid: process.pid, connections: server.connectionCount, ...counts, ...(app === undefined ? {} : { app }) };
  };

  let stopping = false;
  process.on('message', (m: unknown) => {
    if (!isClusterMessage(m)) return;
    const msg = m as ToChild;
    if (msg.t === 'stats') report({ wspp: 'cluster', t: 'stats', req: msg.req, stats: stats() });
    else if (msg.t === 'stop' && !stopping) {
      stopping = true;
      void (async () => {
        try {
          await server.stop(msg.code, msg.reason);
          await options.teardown?.();
        } finally {
          process.exit(0);
        }
      })();
    }
  });

  try {
    await options.setup(server, info);
  } catch (err) {
    const error = new WsppError('websocket.general', `cluster setup threw: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    report({ wspp: 'cluster', t: 'failed', message: error.message });
    return error;
  }
  const listenOptions = { ...(options.host === undefined ? {} : { host: options.host }), ...(options.backlog === undefined ? {} : { backlog: options.backlog }) };
  const addr = await (server as unknown as { tryListen(port: number, o: object): Promise<{ port: number } | WsppError> }).tryListen(options.port, listenOptions);
  if (addr instanceof WsppError) {
    report({ wspp: 'cluster', t: 'failed', message: addr.message });
    return addr;
  }
  report({ wspp: 'cluster', t: 'listening', port: addr.port });
  return { role: 'worker', index, generation, workers, server, stats };
}

// --- the primary ------------------------------------------------------------------------

interface Slot {
  readonly index: number;
  generation: number;
  worker: ClusterWorker | undefined;
  state: 'starting' | 'listening' | 'stopping';
  /** Deaths before listening in a row. */
  deaths: number;
}

interface Waiting {
  resolve(error: WsppError | undefined): void;
}

export interface ClusterPrimary {
  on(event: 'workerExit', listener: (e: ClusterWorkerExit) => void): this;
  on(event: 'workerListening', listener: (e: ClusterProcessInfo) => void): this;
  once(event: 'workerExit', listener: (e: ClusterWorkerExit) => void): this;
  once(event: 'workerListening', listener: (e: ClusterProcessInfo) => void): this;
}

/**
 * The primary process of a cluster. Events: 'workerListening', 'workerExit'
 * (with `expected: false` for a process that died on its own).
 */
export class ClusterPrimary extends EventEmitter {
  readonly role = 'primary' as const;
  readonly workers: number;
  private readonly options: ClusterOptions<Config>;
  private readonly slots: Slot[] = [];
  /** Processes on their way out (restarted or stopped): pid → resolves on exit. */
  private readonly leaving = new Map<number, Promise<void>>();
  private readonly starting = new Map<number, Waiting>();
  private readonly statsWaiters = new Map<number, (s: ClusterProcessStats) => void>();
  private nextReq = 0;
  private stopping = false;
  private stopPromise: Promise<void> | undefined;
  private boundPort = 0;

  /** @internal Use startCluster(). */
  constructor(options: ClusterOptions<Config>) {
    super();
    this.options = options;
    this.workers = options.workers ?? availableParallelism();
    cluster.setupPrimary({
      ...(options.exec === undefined ? {} : { exec: options.exec }),
      ...(options.args === undefined ? {} : { args: options.args }),
      ...(options.execArgv === undefined ? {} : { execArgv: options.execArgv }),
    });
  }

  /** The port every process listens on. */
  get port(): number {
    return this.boundPort;
  }

  /** @internal */
  async start(): Promise<WsppError | undefined> {
    if (!Number.isInteger(this.workers) || this.workers < 1) return new WsppError('websocket.invalid_state', `workers must be a positive integer, not ${this.workers}`);
    // The first process binds the port (so port 0 is chosen once); the others share it.
    const first: Slot = { index: 0, generation: 0, worker: undefined, state: 'starting', deaths: 0 };
    this.slots.push(first);
    let err = await this.spawn(first);
    if (err === undefined) {
      const rest: Slot[] = [];
      for (let i = 1; i < this.workers; i++) rest.push({ index: i, generation: 0, worker: undefined, state: 'starting', deaths: 0 });
      this.slots.push(...rest);
      const errors = await Promise.all(rest.map((s) => this.spawn(s)));
      err = errors.find((e) => e !== undefined);
    }
    if (err !== undefined) {
      await this.stop();
      return err;
    }
    return undefined;
  }

  /** The processes now serving (and those starting or stopping). */
  processes(): ClusterProcessInfo[] {
    const out: ClusterProcessInfo[] = [];
    for (const s of this.slots) {
      const pid = s.worker?.process.pid;
      if (pid !== undefined) out.push({ index: s.index, generation: s.generation, pid, state: s.state });
    }
    return out;
  }

  /** Every serving process's stats (asked over IPC; a process that does not answer within `timeout` ms is left out). */
  async stats(timeout = 2000): Promise<ClusterStats> {
    const asks = this.slots
      .filter((s) => s.worker !== undefined && s.state === 'listening')
      .map(
        (s) =>
          new Promise<ClusterProcessStats | undefined>((resolve) => {
            const req = ++this.nextReq;
            const timer = setTimeout(() => {
              this.statsWaiters.delete(req);
              resolve(undefined);
            }, timeout);
            this.statsWaiters.set(req, (st) => {
              clearTimeout(timer);
              this.statsWaiters.delete(req);
              resolve(st);
            });
            try {
              s.worker!.send({ wspp: 'cluster', t: 'stats', req } satisfies ToChild);
            } catch {
              clearTimeout(timer);
              this.statsWaiters.delete(req);
              resolve(undefined);
            }
          }),
      );
    const processes = (await Promise.all(asks)).filter((s): s is ClusterProcessStats => s !== undefined);
    const sum = (k: keyof ClusterStats['total']): number => processes.reduce((n, p) => n + p[k], 0);
    return {
      processes,
      total: {
        connections: sum('connections'),
        opened: sum('opened'),
        closed: sum('closed'),
        failed: sum('failed'),
        messagesIn: sum('messagesIn'),
        messagesOut: sum('messagesOut'),
        bytesIn: sum('bytesIn'),
        bytesOut: sum('bytesOut'),
      },
    };
  }

  /**
   * Replace process `index` gracefully: its successor starts and listens first, then the
   * old process stops accepting, closes its own connections (1001 by default) and exits.
   * Other processes' connections are untouched. Returns the error if the successor failed
   * to start (the old process then keeps serving).
   */
  async tryRestart(index: number, code = 1001, reason = 'server restarting'): Promise<WsppError | undefined> {
    const slot = this.slots[index];
    if (slot === undefined) return new WsppError('websocket.invalid_state', `no cluster process ${index}`);
    if (this.stopping) return new WsppError('websocket.invalid_state', 'the cluster is stopping');
    if (slot.state !== 'listening') return new WsppError('websocket.invalid_state', `cluster process ${index} is ${slot.state}`);
    const old = slot.worker!;
    const oldGeneration = slot.generation;
    slot.generation++;
    const err = await this.spawn(slot);
    if (err !== undefined) {
      slot.worker = old;
      slot.generation = oldGeneration;
      slot.state = 'listening';
      return err;
    }
    await this.retire(old, code, reason);
    return undefined;
  }

  async restart(index: number, code?: number, reason?: string): Promise<void> {
    const err = await this.tryRestart(index, code, reason);
    if (err !== undefined) throw err;
  }

  /** Stop every process (each closes its connections with 1001) and wait for them to exit. */
  stop(code = 1001, reason = 'server stopping'): Promise<void> {
    this.stopPromise ??= (async () => {
      this.stopping = true;
      const workers = this.slots.map((s) => s.worker).filter((w): w is ClusterWorker => w !== undefined);
      await Promise.all([...workers.map((w) => this.retire(w, code, reason)), ...this.leaving.values()]);
    })();
    return this.stopPromise;
  }

  /** Fork a process for `slot` and wait until it listens (or fails). */
  private spawn(slot: Slot): Promise<WsppError | undefined> {
    slot.state = 'starting';
    const worker = cluster.fork({ [ENV_INDEX]: String(slot.index), [ENV_GENERATION]: String(slot.generation), [ENV_WORKERS]: String(this.workers) });
    slot.worker = worker;
    const generation = slot.generation;
    const pid = worker.process.pid ?? -1;
    const done = new Promise<WsppError | undefined>((resolve) => this.starting.set(worker.id, { resolve }));
    worker.on('message', (m: unknown) => {
      if (!isClusterMessage(m)) return;
      const msg = m as FromChild;
      if (msg.t === 'listening') {
        if (this.boundPort === 0) this.boundPort = msg.port;
        if (slot.worker === worker) slot.state = 'listening';
        slot.deaths = 0;
        this.finishStart(worker, undefined);
        this.emit('workerListening', { index: slot.index, generation, pid, state: 'listening' } satisfies ClusterProcessInfo);
      } else if (msg.t === 'failed') {
        this.finishStart(worker, new WsppError('websocket.general', `cluster process ${slot.index}: ${msg.message}`));
      } else if (msg.t === 'stats') {
        this.statsWaiters.get(msg.req)?.(msg.stats);
      }
    });
    worker.once('exit', (code, signal) => {
      const expected = this.leaving.has(pid) || this.stopping;
      this.finishStart(worker, new WsppError('websocket.general', `cluster process ${slot.index} exited (${signal ?? code}) before listening`));
      this.emit('workerExit', { index: slot.index, generation, pid, code, signal, expected } satisfies ClusterWorkerExit);
      if (slot.worker !== worker) return; // replaced already
      slot.worker = undefined;
      if (expected || this.options.respawn === false) return;
      if (slot.state === 'starting') slot.deaths++;
      if (slot.deaths >= 5) return;
      slot.generation++;
      void this.spawn(slot);
    });
    return done;
  }

  private finishStart(worker: ClusterWorker, error: WsppError | undefined): void {
    const waiting = this.starting.get(worker.id);
    if (waiting === undefined) return;
    this.starting.delete(worker.id);
    if (error !== undefined && worker.isConnected()) {
      // A process that could not start is of no use: end it (by its pid).
      this.leaving.set(worker.process.pid ?? -1, new Promise((r) => worker.once('exit', () => r())));
      worker.process.kill('SIGKILL');
    }
    waiting.resolve(error);
  }

  /** Ask a process to leave gracefully; kill it if it has not exited within stopTimeout. */
  private retire(worker: ClusterWorker, code: number, reason: string): Promise<void> {
    const pid = worker.process.pid ?? -1;
    const existing = this.leaving.get(pid);
    if (existing !== undefined) return existing;
    for (const s of this.slots) if (s.worker === worker) s.state = 'stopping';
    if (worker.process.exitCode !== null || worker.process.signalCode !== null) return Promise.resolve();
    const exited = new Promise<void>((resolve) => {
      const limit = this.options.stopTimeout ?? 10_000;
      const timer = setTimeout(() => worker.process.kill('SIGKILL'), limit + 2000);
      worker.once('exit', () => {
        clearTimeout(timer);
        this.leaving.delete(pid);
        resolve();
      });
    });
    this.leaving.set(pid, exited);
    try {
      worker.send({ wspp: 'cluster', t: 'stop', code, reason } satisfies ToChild);
    } catch {
      worker.process.kill('SIGKILL');
    }
    return exited;
  }
}
