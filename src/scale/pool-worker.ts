/**
 * The worker entry of an EndpointPool: one client endpoint on this thread's event loop.
 * It imports the user's callbacks module, runs the callbacks of the connections it owns
 * (frames never leave this thread), counts into the shared stats row, and talks to the
 * main thread in batches (one postMessage per tick each way).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { config as stock } from '../config/index.js';
import type { Config } from '../config/types.js';
import type { ConnectionHdl } from '../handle.js';
import type { DataOpcode } from '../protocol/constants.js';
import { WsppError } from '../protocol/errors.js';
import { Client } from '../roles/client.js';
import type { ClientEndpoint, Connection } from '../roles/types.js';
import {
  readStats,
  STAT,
  STAT_WIDTH,
  type EndpointStats,
  type FromWorker,
  type PoolCallbacks,
  type PoolConnectionState,
  type PoolMessage,
  type PoolModule,
  type PoolWorkerData,
  type ToWorker,
  type WorkerConnection,
  type WorkerEndpoint,
} from './endpoint-pool.js';

/** The few members of a client connection this file uses. */
interface Con {
  readonly hdl: ConnectionHdl;
  readonly state: string;
  trySend(payload: string | Uint8Array, opcode?: DataOpcode): WsppError | undefined;
  tryClose(code?: number, reason?: string): WsppError | undefined;
  terminate(error?: WsppError): void;
  appendHeader(name: string, value: string): void;
  addSubprotocol(subprotocol: string): WsppError | undefined;
  getSubprotocol(): string;
  getRemoteCloseCode(): number;
  getRemoteCloseReason(): string;
  getEc(): WsppError | undefined;
}

interface Msg {
  readonly opcode: DataOpcode;
  readonly payload: Buffer;
}

interface LooseClient {
  setOpenHandler(h: (hdl: ConnectionHdl, con: Con) => void): void;
  setMessageHandler(h: (hdl: ConnectionHdl, msg: Msg) => void): void;
  setCloseHandler(h: (hdl: ConnectionHdl, con: Con) => void): void;
  setFailHandler(h: (hdl: ConnectionHdl, con: Con) => void): void;
  tryGetConnection(uri: string): Con | WsppError;
  connect(con: Con): Con;
}

const port = parentPort;
if (port === null) throw new Error('pool-worker.js runs as a worker thread of an EndpointPool');
const init = workerData as PoolWorkerData;
const statsView = new Float64Array(init.stats);
const row = init.index * STAT_WIDTH;
const S_CONNECTIONS = row + STAT.connections;
const S_CONNECTING = row + STAT.connecting;
const S_OPENED = row + STAT.opened;
const S_FAILED = row + STAT.failed;
const S_CLOSED = row + STAT.closed;
const S_MSG_IN = row + STAT.messagesIn;
const S_MSG_OUT = row + STAT.messagesOut;
const S_BYTES_IN = row + STAT.bytesIn;
const S_BYTES_OUT = row + STAT.bytesOut;
const S_ERRORS = row + STAT.errors;

// --- outgoing events, batched per tick ------------------------------------------------

let outbox: FromWorker[] = [];
let flushScheduled = false;

function emit(ev: FromWorker): void {
  outbox.push(ev);
  if (flushScheduled) return;
  flushScheduled = true;
  queueMicrotask(flush);
}

function flush(): void {
  flushScheduled = false;
  const batch = outbox;
  if (batch.length === 0) return;
  outbox = [];
  try {
    port!.postMessage(batch);
  } catch {
    // A value that cannot be cloned (a notify or command result): send the rest one by one.
    for (const ev of batch) {
      try {
        port!.postMessage([ev]);
      } catch (err) {
        const message = `cannot pass a value to the main thread: ${(err as Error).message}`;
        statsView[S_ERRORS]!++;
        if (ev.t === 'result') port!.postMessage([{ t: 'result', req: ev.req, ok: false, code: 'websocket.general', message }]);
        else port!.postMessage([{ t: 'error', id: 'id' in ev ? ev.id : 0, code: 'websocket.general', message }]);
      }
    }
  }
}

function errorEvent(id: number, err: WsppError): void {
  statsView[S_ERRORS]!++;
  emit({ t: 'error', id, code: err.code, message: err.message });
}

// --- messages, connections, the endpoint ---------------------------------------------

class PoolMessageImpl implements PoolMessage {
  private textCache: string | undefined;
  private parsed = false;
  private jsonCache: unknown;
  constructor(
    readonly opcode: DataOpcode,
    readonly payload: Buffer,
  ) {}

  get isText(): boolean {
    return this.opcode === 1;
  }

  get text(): string {
    if (this.textCache === undefined) this.textCache = this.payload.toString('utf8');
    return this.textCache;
  }

  tryJson<T = unknown>(): T | WsppError {
    if (!this.parsed) {
      this.parsed = true;
      try {
        this.jsonCache = JSON.parse(this.text);
      } catch (err) {
        this.jsonCache = new WsppError('websocket.payload_violation', `invalid JSON: ${(err as Error).message}`);
      }
    }
    return this.jsonCache as T | WsppError;
  }

  json<T = unknown>(): T {
    const v = this.tryJson<T>();
    if (v instanceof WsppError) throw v;
    return v;
  }
}

function payloadBytes(payload: string | Uint8Array): number {
  return typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength;
}

class WConn implements WorkerConnection {
  state: PoolConnectionState = 'connecting';
  constructor(
    readonly id: number,
    readonly uri: string,
    readonly data: unknown,
    readonly callbacks: PoolCallbacks,
    readonly endpoint: WEndpoint,
    readonly con: Con,
  ) {}

  get context(): unknown {
    return this.endpoint.context;
  }

  get connection(): Connection<Config, 'client'> {
    return this.con as unknown as Connection<Config, 'client'>;
  }

  trySend(payload: string | Uint8Array, opcode?: DataOpcode): WsppError | undefined {
    const err = this.con.trySend(payload, opcode);
    if (err !== undefined) {
      statsView[S_ERRORS]!++;
      return err;
    }
    statsView[S_MSG_OUT]!++;
    statsView[S_BYTES_OUT]! += payloadBytes(payload);
    return undefined;
  }

  send(payload: string | Uint8Array, opcode?: DataOpcode): void {
    const err = this.trySend(payload, opcode);
    if (err !== undefined) throw err;
  }

  tryClose(code = 1000, reason = ''): WsppError | undefined {
    if (this.state === 'closed' || this.state === 'failed') return new WsppError('websocket.bad_connection', `connection ${this.id} has ended`);
    if (this.state === 'connecting') {
      this.state = 'closing';
      this.con.terminate(new WsppError('websocket.operation_canceled', 'closed before it opened'));
      return undefined;
    }
    this.state = 'closing';
    return this.con.tryClose(code, reason);
  }

  close(code?: number, reason?: string): void {
    const err = this.tryClose(code, reason);
    if (err !== undefined) throw err;
  }

  notify(value: unknown): void {
    emit({ t: 'notify', id: this.id, value });
  }
}

class WEndpoint implements WorkerEndpoint {
  readonly index = init.index;
  readonly size = init.size;
  context: unknown = undefined;
  readonly conns = new Map<number, WConn>();
  readonly byHdl = new Map<number, WConn>();
  constructor(readonly client: ClientEndpoint<Config>) {}

  stats(): EndpointStats {
    return readStats(statsView, this.index);
  }

  connection(id: number): WorkerConnection | undefined {
    return this.conns.get(id);
  }

  connections(): IterableIterator<WorkerConnection> {
    return this.conns.values();
  }

  notify(value: unknown): void {
    emit({ t: 'notify', id: 0, value });
  }
}

function safely(w: WConn, what: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    const e = err instanceof WsppError ? err : new WsppError('websocket.general', `${what} callback threw: ${err instanceof Error ? err.message : String(err)}`);
    errorEvent(w.id, e);
  }
}

// --- start-up ---------------------------------------------------------------------------

let endpoint: WEndpoint | undefined;
let mod: PoolModule | undefined;
let stopping = false;
const inbox: ToWorker[][] = [];

port.on('message', (ops: ToWorker[]) => {
  if (endpoint === undefined) inbox.push(ops);
  else handle(ops);
});

async function start(): Promise<void> {
  let ns: Record<string, unknown>;
  try {
    ns = (await import(init.module)) as Record<string, unknown>;
  } catch (err) {
    emit({ t: 'fatal', message: `cannot import the callbacks module ${init.module}: ${(err as Error).message}` });
    return;
  }
  const def = ns.default as Partial<PoolModule> | undefined;
  const m = (def !== null && typeof def === 'object' && 'callbacks' in def ? def : ns) as Partial<PoolModule>;
  if (m.callbacks === null || typeof m.callbacks !== 'object') {
    emit({ t: 'fatal', message: `the callbacks module ${init.module} exports no "callbacks" object` });
    return;
  }
  mod = m as PoolModule;
  const cfg: Config = mod.config ?? stock.minimalTcpClient;
  if (cfg.transport.kind !== 'tcp' && cfg.transport.kind !== 'tls') {
    emit({ t: 'fatal', message: `the pool's config must use the tcp or tls transport, not ${cfg.transport.kind}` });
    return;
  }
  const client = new Client(cfg) as unknown as ClientEndpoint<Config>;
  const ep = new WEndpoint(client);
  try {
    ep.context = await mod.createContext?.({ index: init.index, size: init.size, init: init.init });
  } catch (err) {
    emit({ t: 'fatal', message: `createContext threw: ${(err as Error).message}` });
    return;
  }
  install(client as unknown as LooseClient, ep);
  endpoint = ep;
  emit({ t: 'ready' });
  for (const ops of inbox.splice(0)) handle(ops);
}

function install(client: LooseClient, ep: WEndpoint): void {
  client.setOpenHandler((hdl, con) => {
    const w = ep.byHdl.get(hdl.id);
    if (w === undefined) return;
    if (w.state === 'connecting') w.state = 'open';
    statsView[S_CONNECTING]!--;
    statsView[S_CONNECTIONS]!++;
    statsView[S_OPENED]!++;
    emit({ t: 'opened', id: w.id, subprotocol: con.getSubprotocol() });
    const cb = w.callbacks.onOpen;
    if (cb !== undefined) safely(w, 'onOpen', () => cb.call(w.callbacks, w));
    // shutdown raced the opening handshake
    if (stopping && w.state === 'open') w.tryClose(shutdownCode, shutdownReason);
  });
  client.setMessageHandler((hdl, msg) => {
    const w = ep.byHdl.get(hdl.id);
    statsView[S_MSG_IN]!++;
    statsView[S_BYTES_IN]! += msg.payload.length;
    if (w === undefined) return;
    const cb = w.callbacks.onMessage;
    if (cb === undefined) return;
    try {
      cb.call(w.callbacks, w, new PoolMessageImpl(msg.opcode, msg.payload));
    } catch (err) {
      const e = err instanceof WsppError ? err : new WsppError('websocket.general', `onMessage callback threw: ${err instanceof Error ? err.message : String(err)}`);
      errorEvent(w.id, e);
    }
  });
  client.setCloseHandler((hdl, con) => {
    const w = ep.byHdl.get(hdl.id);
    if (w === undefined) return;
    forget(ep, w);
    w.state = 'closed';
    statsView[S_CONNECTIONS]!--;
    statsView[S_CLOSED]!++;
    const code = con.getRemoteCloseCode();
    const reason = con.getRemoteCloseReason();
    const cb = w.callbacks.onClose;
    if (cb !== undefined) safely(w, 'onClose', () => cb.call(w.callbacks, w, code, reason));
    const ec = con.getEc();
    emit({ t: 'closed', id: w.id, code, reason, ecode: ec?.code, emessage: ec?.message });
    idleCheck();
  });
  client.setFailHandler((hdl, con) => {
    const w = ep.byHdl.get(hdl.id);
    if (w === undefined) return;
    forget(ep, w);
    w.state = 'failed';
    statsView[S_CONNECTING]!--;
    statsView[S_FAILED]!++;
    const error = con.getEc() ?? new WsppError('websocket.con_creation_failed');
    const cb = w.callbacks.onFail;
    if (cb !== undefined) safely(w, 'onFail', () => cb.call(w.callbacks, w, error));
    emit({ t: 'failed', id: w.id, code: error.code, message: error.message });
    idleCheck();
  });
}

function forget(ep: WEndpoint, w: WConn): void {
  ep.conns.delete(w.id);
  ep.byHdl.delete(w.con.hdl.id);
}

// --- operations from the main thread ----------------------------------------------------

function handle(ops: readonly ToWorker[]): void {
  const ep = endpoint!;
  for (const op of ops) {
    switch (op.t) {
      case 'send': {
        const w = ep.conns.get(op.id);
        if (w === undefined) {
          errorEvent(op.id, new WsppError('websocket.bad_connection', `connection ${op.id} has ended`));
          break;
        }
        const err = w.trySend(op.payload, op.opcode);
        if (err !== undefined) {
          statsView[S_ERRORS]!--; // counted once, by errorEvent
          errorEvent(op.id, err);
        }
        break;
      }
      case 'open':
        open(ep, op);
        break;
      case 'close': {
        const w = ep.conns.get(op.id);
        if (w === undefined) break; // already ended: its 'closed' / 'failed' is on its way
        const err = w.tryClose(op.code, op.reason);
        if (err !== undefined) errorEvent(op.id, err);
        break;
      }
      case 'call':
        void call(ep, op.req, op.name, op.arg);
        break;
      case 'shutdown':
        void shutdown(ep, op.code, op.reason, op.timeout);
        break;
    }
  }
}

function open(ep: WEndpoint, op: Extract<ToWorker, { t: 'open' }>): void {
  const fail = (error: WsppError): void => {
    statsView[S_FAILED]!++;
    emit({ t: 'failed', id: op.id, code: error.code, message: error.message });
  };
  if (stopping) return fail(new WsppError('websocket.endpoint_unavailable', 'the pool is shutting down'));
  const callbacks = Object.hasOwn(mod!.callbacks, op.cb) ? mod!.callbacks[op.cb] : undefined;
  if (callbacks === undefined) return fail(new WsppError('websocket.con_creation_failed', `the callbacks module has no callback set "${op.cb}"`));
  const client = ep.client as unknown as LooseClient;
  const con = client.tryGetConnection(op.uri);
  if (con instanceof WsppError) return fail(con);
  const w = new WConn(op.id, op.uri, op.data, callbacks, ep, con);
  ep.conns.set(op.id, w);
  ep.byHdl.set(con.hdl.id, w);
  statsView[S_CONNECTING]!++;
  let bad: WsppError | undefined;
  try {
    if (op.headers !== undefined) for (const [k, v] of Object.entries(op.headers)) con.appendHeader(k, v);
    if (op.protocols !== undefined) for (const p of op.protocols) bad ??= con.addSubprotocol(p);
  } catch (err) {
    bad = err instanceof WsppError ? err : new WsppError('websocket.con_creation_failed', String(err));
  }
  if (bad !== undefined) {
    con.terminate(bad); // the fail handler reports it
    return;
  }
  client.connect(con);
}

async function call(ep: WEndpoint, req: number, name: string, arg: unknown): Promise<void> {
  const commands = mod!.commands;
  const fn = commands !== undefined && Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (fn === undefined) {
    emit({ t: 'result', req, ok: false, code: 'websocket.general', message: `the callbacks module has no command "${name}"` });
    return;
  }
  try {
    const value = await fn(ep, arg);
    emit({ t: 'result', req, ok: true, value });
  } catch (err) {
    const e = err instanceof WsppError ? err : new WsppError('websocket.general', `command ${name} threw: ${err instanceof Error ? err.message : String(err)}`);
    emit({ t: 'result', req, ok: false, code: e.code, message: e.message });
  }
}

// --- shutdown ---------------------------------------------------------------------------

let shutdownCode = 1001;
let shutdownReason = 'going away';
let idleWaiter: (() => void) | undefined;

function idleCheck(): void {
  if (idleWaiter !== undefined && endpoint !== undefined && endpoint.conns.size === 0) idleWaiter();
}

async function shutdown(ep: WEndpoint, code: number, reason: string, timeout: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  shutdownCode = code;
  shutdownReason = reason;
  for (const w of [...ep.conns.values()]) {
    if (w.state === 'open') w.tryClose(code, reason);
    else if (w.state === 'connecting') w.tryClose();
  }
  if (ep.conns.size > 0) {
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      idleWaiter = resolve;
      timer = setTimeout(resolve, timeout);
    });
    clearTimeout(timer);
    // Whatever did not finish its closing handshake in time is dropped.
    for (const w of [...ep.conns.values()]) w.con.terminate(new WsppError('websocket.close_handshake_timeout', 'pool shutdown'));
    await new Promise((r) => setImmediate(r));
  }
  emit({ t: 'down' });
}

void start();
