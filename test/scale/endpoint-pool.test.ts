/**
 * EndpointPool over real sockets: workers load the BUILT files (dist/), so this file
 * imports the library from dist too (one WsppError class on both sides). `npm test`
 * builds first; alone: `npm run build && npx vitest run test/scale`.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { threadId } from 'node:worker_threads';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type * as Wspp from '../../dist/index.js';

const DIST = new URL('../../dist/index.js', import.meta.url);
const CALLBACKS = new URL('./fixtures/pool-callbacks.mjs', import.meta.url);
const BAD_MODULE = fileURLToPath(new URL('./fixtures/pool-bad-module.mjs', import.meta.url));

let w: typeof Wspp;
let server: { stop(): Promise<void> } & Record<string, any>;
let url = '';
let refusedUrl = '';
const serverCloseCodes: number[] = [];
const pools: Wspp.EndpointPool[] = [];

type Note = Record<string, any>;

beforeAll(async () => {
  if (!existsSync(new URL('../../dist/scale/pool-worker.js', import.meta.url))) {
    throw new Error('dist/scale/pool-worker.js is missing: run `npm run build` before these tests (pool workers load the built files)');
  }
  w = (await import(DIST.href)) as typeof Wspp;
  const s = new w.Server(w.extend(w.config.minimalTcp, { registry: true }));
  s.setValidateHandler((_hdl, con) => con.getResource() !== '/reject');
  s.setMessageHandler((hdl, msg) => s.send(hdl, msg.payload, msg.opcode));
  s.setCloseHandler((_hdl, con) => {
    serverCloseCodes.push(con.getRemoteCloseCode());
  });
  const addr = await s.listen(0, '127.0.0.1');
  server = s as never;
  url = `ws://127.0.0.1:${addr.port}/`;
  // A port nobody listens on.
  const probe = new w.Server(w.config.minimalTcp);
  const p = await probe.listen(0, '127.0.0.1');
  await probe.stopListening();
  refusedUrl = `ws://127.0.0.1:${p.port}/`;
});

afterEach(async () => {
  for (const pool of pools.splice(0)) await pool.shutdown();
});

afterAll(async () => {
  await server?.stop();
});

async function newPool(size = 2, context: unknown = { name: 'ctx' }): Promise<Wspp.EndpointPool> {
  const pool = await w.EndpointPool.create({ module: CALLBACKS, size, context });
  pools.push(pool);
  return pool;
}

/** Collect a connection's notifications; `next()` waits (bounded by the test timeout) for the next one. */
function notes(): { onNotify: (v: unknown) => void; next: () => Promise<Note>; all: Note[] } {
  const all: Note[] = [];
  const waiters: ((v: Note) => void)[] = [];
  let read = 0;
  return {
    all,
    onNotify: (v) => {
      all.push(v as Note);
      const waiter = waiters.shift();
      if (waiter !== undefined) waiter(all[read++]!);
    },
    next: () => (read < all.length ? Promise.resolve(all[read++]!) : new Promise((r) => waiters.push(r))),
  };
}

describe('EndpointPool', () => {
  it('has size endpoints, each a worker with its own context; endpoint(i) out of range is a typed error', async () => {
    const pool = await newPool(2, { name: 'ctx' });
    expect(pool.size).toBe(2);
    const infos = await Promise.all([0, 1].map((i) => pool.endpoint(i).call('info', { hello: i })));
    expect(infos.map((x: any) => x.index)).toEqual([0, 1]);
    for (const info of infos as any[]) {
      expect(info.size).toBe(2);
      expect(info.init).toEqual({ name: 'ctx' });
      expect(info.threadId).not.toBe(threadId);
    }
    expect((infos[1] as any).arg).toEqual({ hello: 1 });
    expect(new Set(infos.map((x: any) => x.threadId)).size).toBe(2);
    const missing = pool.tryEndpoint(2);
    expect(missing).toBeInstanceOf(w.WsppError);
    expect((missing as Wspp.WsppError).code).toBe('websocket.endpoint_unavailable');
    expect(() => pool.endpoint(-1)).toThrow(w.WsppError);
  });

  it('creates, sends to and closes connections by id; callbacks run in the owning worker; JSON parsed lazily, once', async () => {
    const pool = await newPool(2);
    const ep = pool.endpoint(1);
    const n = notes();
    const con = ep.createConnection(url, 'default', { data: { who: 'me' }, onNotify: n.onNotify });
    expect(typeof con.id).toBe('number');
    expect(con.endpoint).toBe(1);
    // Not open yet: sending is an invalid_state error, returned or thrown.
    expect(ep.trySend(con.id, 'early')?.code).toBe('websocket.invalid_state');
    const opened = await con.opened;
    expect(opened).toEqual({ id: con.id, endpoint: 1, subprotocol: '' });
    const open = await n.next();
    expect(open).toMatchObject({ ev: 'open', id: con.id, data: { who: 'me' }, endpoint: 1, isMainThread: false });
    expect(open.threadId).not.toBe(threadId);

    ep.send(con.id, JSON.stringify({ a: [1, 2, 3] }));
    const m1 = await n.next();
    expect(m1).toMatchObject({ ev: 'message', isText: true, json: { a: [1, 2, 3] }, cached: true, threadId: open.threadId });
    pool.send(con.id, 'not json');
    expect(await n.next()).toMatchObject({ text: 'not json', json: { error: 'websocket.payload_violation' } });
    pool.send(con.id, new Uint8Array([1, 2, 3, 4]));
    expect(await n.next()).toMatchObject({ isText: false, bytes: 4 });

    ep.close(con.id, 1000, 'bye');
    const closed = await con.closed;
    // The code and reason the peer answered with (whether the server echoes the reason is its choice).
    expect(closed).toMatchObject({ id: con.id, code: 1000, error: undefined });
    expect(['', 'bye']).toContain(closed.reason);
    expect(await n.next()).toEqual({ ev: 'close', code: 1000, reason: closed.reason });
    // The id is gone: operations report bad_connection.
    expect(pool.trySend(con.id, 'late')?.code).toBe('websocket.bad_connection');
    expect(() => ep.close(con.id)).toThrow(/Bad Connection/);
    expect(await ep.call('context')).toMatchObject({ opened: 1, messages: 3, closes: [1000] });
  });

  it('the opened promise rejects with a typed error; openResult returns it; bad URIs are refused at once', async () => {
    const pool = await newPool(1);
    const ep = pool.endpoint(0);

    const refused = ep.createConnection(refusedUrl);
    const err = await refused.opened.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(w.WsppError);
    expect((err as Wspp.WsppError).code).toBe('transport.pass_through');
    expect((err as Wspp.WsppError).message).toMatch(/ECONNREFUSED/);
    const closed = await refused.closed;
    expect(closed.code).toBe(1006);
    expect(closed.error?.code).toBe('transport.pass_through');

    const rejected = ep.createConnection(url.replace(/\/$/, '/reject'));
    const result = await rejected.openResult;
    expect(result).toBeInstanceOf(w.WsppError);
    expect((result as Wspp.WsppError).code).toBe('processor.invalid_http_status');

    const unknownSet = ep.createConnection(url, 'no-such-callbacks' as never);
    await expect(unknownSet.opened).rejects.toMatchObject({ code: 'websocket.con_creation_failed' });

    const bad = ep.tryCreateConnection('http://example.invalid/');
    expect(bad).toBeInstanceOf(w.WsppError);
    expect((bad as Wspp.WsppError).code).toBe('websocket.invalid_uri');
    expect(() => pool.createConnection('not a uri')).toThrow(w.WsppError);

    const s = pool.stats().total;
    expect(s.failed).toBe(3);
    expect(s.opened).toBe(0);
    expect(s.connecting).toBe(0);
  });

  it('runs the seed example: one connection per endpoint, "Hello from endpoint i", wait for the echo, close', async () => {
    const pool = await newPool(2);
    const results = await Promise.all(
      [...pool.endpoints()].map(async (ep, i) => {
        let echoed!: () => void;
        const echo = new Promise<void>((r) => (echoed = r));
        const con = ep.createConnection(url, 'hello', { data: { threadId: i }, onNotify: () => echoed() });
        await con.opened;
        ep.send(con.id, `Hello from endpoint ${i}`);
        await echo;
        ep.close(con.id);
        return (await con.closed).code;
      }),
    );
    expect(results).toEqual([1000, 1000]);
  });

  it('spreads pool-level connections over the endpoints and aggregates their stats', async () => {
    const pool = await newPool(2);
    const done: Promise<unknown>[] = [];
    const cons = Array.from({ length: 6 }, () => {
      let finish!: () => void;
      done.push(new Promise<void>((r) => (finish = r)));
      return pool.createConnection(url, 'pingpong', { onNotify: () => finish() });
    });
    expect(cons.map((c) => c.endpoint).sort()).toEqual([0, 0, 0, 1, 1, 1]);
    await Promise.all(done);
    for (const c of cons) pool.close(c.id);
    await Promise.all(cons.map((c) => c.closed));
    const stats = pool.stats();
    expect(stats.endpoints).toHaveLength(2);
    // Each worker's context counts messages over its connections: 3 connections, 10 echoes in all
    // per worker (the callback stops answering at the 10th), whatever the interleaving.
    const total = stats.total;
    expect(total.opened).toBe(6);
    expect(total.closed).toBe(6);
    expect(total.connections).toBe(0);
    expect(total.messagesIn).toBe(stats.endpoints[0]!.messagesIn + stats.endpoints[1]!.messagesIn);
    expect(total.messagesIn).toBeGreaterThanOrEqual(6);
    expect(total.messagesOut).toBeGreaterThanOrEqual(6);
    expect(total.bytesIn).toBe(total.messagesIn * 4);
    expect(total.errors).toBe(0);
    expect(await pool.endpoint(0).call('stats')).toEqual(stats.endpoints[0]);
  });

  it('reports callbacks that throw and failed commands as errors, without losing the worker', async () => {
    const pool = await newPool(1);
    const errors: Wspp.PoolConnectionError[] = [];
    let first!: () => void;
    const reported = new Promise<void>((r) => (first = r));
    pool.on('connectionError', (e) => {
      errors.push(e);
      first();
    });
    const con = pool.createConnection(url, 'throws');
    await con.opened;
    pool.send(con.id, 'x');
    await reported;
    await expect(pool.endpoint(0).call('fails')).rejects.toMatchObject({ code: 'websocket.general', message: expect.stringMatching(/command failed/) });
    await expect(pool.endpoint(0).tryCall('nope' as never)).resolves.toBeInstanceOf(w.WsppError);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ endpoint: 0, id: con.id });
    expect(errors[0]!.error.message).toMatch(/onMessage callback threw: boom/);
    expect(pool.stats().total.errors).toBe(1);
    // The worker goes on.
    pool.send(con.id, 'y');
    pool.close(con.id);
    expect((await con.closed).code).toBe(1000);
  });

  it('a worker that dies ends its connections with a typed error; the other endpoints go on', async () => {
    const pool = await newPool(2);
    const lost: Wspp.PoolEndpointError[] = [];
    let reported!: () => void;
    const down = new Promise<void>((r) => (reported = r));
    pool.on('endpointError', (e) => {
      lost.push(e);
      reported();
    });
    const victim = pool.endpoint(0).createConnection(url);
    const survivor = pool.endpoint(1).createConnection(url);
    await Promise.all([victim.opened, survivor.opened]);
    expect(await pool.endpoint(0).call('crash')).toBe('bye');
    await down;
    expect(lost[0]!.endpoint).toBe(0);
    expect(lost[0]!.error.code).toBe('websocket.endpoint_unavailable');
    expect(lost[0]!.error.message).toMatch(/worker crashed on purpose/);
    const closed = await victim.closed;
    expect(closed.code).toBe(1006);
    expect(closed.error?.code).toBe('websocket.endpoint_unavailable');
    expect(pool.endpoint(0).tryCreateConnection(url)).toMatchObject({ code: 'websocket.endpoint_unavailable' });
    // Pool-level creation skips the dead endpoint.
    const next = pool.createConnection(url);
    expect(next.endpoint).toBe(1);
    await next.opened;
    pool.send(survivor.id, 'still here');
    pool.close(survivor.id);
    pool.close(next.id);
    expect((await survivor.closed).code).toBe(1000);
  });

  it('shutdown closes every connection with 1001 and joins the workers', async () => {
    const pool = await newPool(2);
    serverCloseCodes.length = 0;
    const cons = Array.from({ length: 4 }, () => pool.createConnection(url));
    await Promise.all(cons.map((c) => c.opened));
    const pending = pool.createConnection(refusedUrl); // may still be connecting
    await pool.shutdown();
    const closed = await Promise.all(cons.map((c) => c.closed));
    expect(closed.map((c) => c.code)).toEqual([1001, 1001, 1001, 1001]);
    expect(serverCloseCodes.filter((c) => c === 1001)).toHaveLength(4);
    expect(await pending.openResult).toBeInstanceOf(w.WsppError);
    // Nothing is left: the endpoints are down.
    expect(pool.tryCreateConnection(url)).toBeInstanceOf(w.WsppError);
    expect(await pool.endpoint(0).tryCall('info')).toMatchObject({ code: 'websocket.endpoint_unavailable' });
    expect(pool.stats().total.connections).toBe(0);
    await pool.shutdown(); // idempotent
  });

  it('a module that is not a callbacks module fails start-up with a typed error', async () => {
    const result = await w.EndpointPool.tryCreate({ module: BAD_MODULE, size: 1 });
    expect(result).toBeInstanceOf(w.WsppError);
    expect((result as Wspp.WsppError).code).toBe('websocket.endpoint_unavailable');
    expect((result as Wspp.WsppError).message).toMatch(/exports no "callbacks"/);
    await expect(w.EndpointPool.create({ module: '/nonexistent/module.mjs', size: 1 })).rejects.toMatchObject({ message: expect.stringMatching(/cannot import/) });
  });
});
