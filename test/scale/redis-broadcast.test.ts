/**
 * Broadcast across processes over Redis pub/sub: a real `redis-server` (Debian package
 * redis-server) on a free loopback port, a 2-process cluster (fixtures/broadcast-app.mjs)
 * with 500 connections per process, 1,000 broadcasts that every connection receives
 * exactly once and in publish order; then Redis restarts mid-way and every broadcast is
 * accounted for (delivered, or reported dropped by the publisher), and subscribers that
 * lose their Redis connection report what they missed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as Wspp from '../../dist/index.js';
import { spawnJson, type JsonChild } from './helpers.js';

const APP = fileURLToPath(new URL('./fixtures/broadcast-app.mjs', import.meta.url));
const PER_PROCESS = 500;
const BROADCASTS = 1000;

const haveRedis = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
let haveIoredis = true;
try {
  await import('ioredis');
} catch {
  haveIoredis = false;
}
if (!haveRedis) console.warn('\n*** SKIPPING the Redis broadcast tests: redis-server is not installed (Debian package "redis-server": apt-get install -y redis-server) ***\n');
if (!haveIoredis) console.warn('\n*** SKIPPING the Redis broadcast tests: the npm package "ioredis" is not installed (npm install ioredis) ***\n');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll (bounded) until `check` holds; throws with `what` if it never does. */
async function until(what: string, check: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

class RedisProcess {
  child: ChildProcess | undefined;
  constructor(readonly port: number) {}

  async start(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out.slice(-500)}`)), 15_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}): ${out.slice(-500)}`));
      });
    });
    child.stdout!.resume();
  }

  /** Stop it by its PID and wait until it has exited. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    process.kill(child.pid!, 'SIGTERM');
    const timer = setTimeout(() => child.exitCode === null && child.signalCode === null && process.kill(child.pid!, 'SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/** A receiving connection: every message after "subscribed", in order. */
interface Receiver {
  con: { close(code?: number): void; terminate(): void; state: string };
  got: number[];
  /** The process that serves it (from its "subscribed N" message). */
  index: number | undefined;
  problems: string[];
}

describe.runIf(haveRedis && haveIoredis)('Redis broadcast', () => {
  let w: typeof Wspp;
  let redis: RedisProcess;
  let app: JsonChild | undefined;
  let publisher: Wspp.RedisBroadcast | undefined;
  let client: Wspp.Client<typeof Wspp.config.minimalTcpClient> | undefined;
  const receivers: Receiver[] = [];

  beforeAll(async () => {
    if (!existsSync(new URL('../../dist/scale/redis-broadcast.js', import.meta.url))) {
      throw new Error('dist/scale/redis-broadcast.js is missing: run `npm run build` before these tests');
    }
    w = (await import('../../dist/index.js')) as typeof Wspp;
    redis = new RedisProcess(await freePort());
    await redis.start();
  });

  afterAll(async () => {
    for (const r of receivers) if (r.con.state !== 'closed' && r.con.state !== 'failed') r.con.terminate();
    await publisher?.close();
    await app?.stop();
    await redis?.stop();
  });

  async function processStats(): Promise<{ index: number; app: Wspp.BroadcastStats }[]> {
    const mark = app!.lines.length;
    app!.send('stats');
    const line = await app!.next((l) => l.stats !== undefined, 10_000, mark);
    return line.stats.processes as { index: number; app: Wspp.BroadcastStats }[];
  }

  it(`2 processes x ${PER_PROCESS} connections: ${BROADCASTS} broadcasts reach every connection exactly once, in order; a Redis restart is accounted for`, { timeout: 120_000 }, async () => {
    app = spawnJson(APP, ['--redis-port', String(redis.port), '--workers', '2']);
    const { port } = await app.next((l) => l.ready === true);
    publisher = await w.RedisBroadcast.create({ redis: `redis://127.0.0.1:${redis.port}`, prefix: 'test:' });
    const dropped: Wspp.BroadcastDropped[] = [];
    publisher.on('dropped', (e) => dropped.push(e));

    // 1,000 connections, 500 on each process: the primary deals them out round-robin, not
    // necessarily evenly, so surplus connections are closed and more opened (bounded rounds).
    client = new w.Client(w.config.minimalTcpClient);
    const c = client;
    const byHdl = new Map<number, Receiver>();
    c.setMessageHandler((hdl, msg) => {
      const r = byHdl.get(hdl.id)!;
      const text = msg.text;
      if (r.index === undefined) {
        const m = /^subscribed (\d)$/.exec(text);
        if (m !== null) r.index = Number(m[1]);
        else r.problems.push(text);
        return;
      }
      r.got.push(Number(text));
    });
    const openMany = async (count: number): Promise<void> => {
      const batch: Receiver[] = [];
      const opened: Promise<void>[] = [];
      for (let i = 0; i < count; i++) {
        const con = c.getConnection(`ws://127.0.0.1:${port}/`);
        const r: Receiver = { con, got: [], index: undefined, problems: [] };
        batch.push(r);
        byHdl.set(con.hdl.id, r);
        opened.push(
          new Promise<void>((resolve, reject) => {
            con.setOpenHandler(() => resolve());
            con.setFailHandler(() => reject(con.getEc()));
          }),
        );
        c.connect(con);
      }
      await Promise.all(opened);
      await until('every new connection subscribed', () => batch.every((r) => r.index !== undefined || r.problems.length > 0));
      receivers.push(...batch);
    };
    for (let i = 0; i < 2 * PER_PROCESS; i += 250) await openMany(250);
    for (let round = 0; round < 20; round++) {
      const on = (k: number): Receiver[] => receivers.filter((r) => r.index === k);
      const excess = [0, 1].map((k) => on(k).length - PER_PROCESS);
      if (excess[0] === 0 && excess[1] === 0) break;
      for (const k of [0, 1]) {
        for (const r of on(k).slice(0, Math.max(0, excess[k]!))) {
          r.con.close();
          receivers.splice(receivers.indexOf(r), 1);
        }
      }
      await openMany(Math.max(0, -excess[0]!) + Math.max(0, -excess[1]!));
    }
    expect(receivers.flatMap((r) => r.problems)).toEqual([]);
    expect([0, 1].map((k) => receivers.filter((r) => r.index === k).length)).toEqual([PER_PROCESS, PER_PROCESS]);
    await until('surplus connections closed', async () => (await processStats()).every((p) => p.app.subscriptions === PER_PROCESS));

    // Phase 1: 1,000 broadcasts, all up.
    let n = 0;
    const publish = async (count: number): Promise<(Wspp.WsppError | undefined)[]> => {
      const results: (Wspp.WsppError | undefined)[] = [];
      for (let i = 0; i < count; i += 50) {
        const batch = [];
        for (let k = i; k < Math.min(count, i + 50); k++) batch.push(publisher!.tryBroadcast('news', String(++n)));
        results.push(...(await Promise.all(batch)));
      }
      return results;
    };
    expect((await publish(BROADCASTS)).filter((e) => e !== undefined)).toEqual([]);
    await until('phase 1 delivered', () => receivers.every((r) => r.got.length >= BROADCASTS), 60_000);
    const phase1 = Array.from({ length: BROADCASTS }, (_, i) => i + 1);
    for (const r of receivers) expect(r.got).toEqual(phase1);
    expect(publisher.stats()).toMatchObject({ published: BROADCASTS, dropped: 0 });

    // Phase 2: Redis goes down. What is published meanwhile is reported dropped, not lost silently.
    await redis.stop();
    await until('the publisher sees Redis gone', () => !publisher!.stats().publisherReady);
    const outage = await publish(50);
    expect(outage.every((e) => e instanceof w.WsppError && e.code === 'transport.pass_through')).toBe(true);
    expect(publisher.stats().dropped).toBe(50);
    expect(dropped).toHaveLength(50);
    expect(dropped.every((d) => d.reason === 'publish' && d.channel === 'news')).toBe(true);

    // Redis comes back on the same port: both clients reconnect, the subscribers resubscribe.
    await redis.start();
    await until('the publisher reconnected', () => publisher!.stats().publisherReady);
    await until('both processes resubscribed', async () => {
      const ps = await processStats();
      return ps.length === 2 && ps.every((p) => p.app.subscriberReady && p.app.resubscriptions >= 1);
    });
    expect((await publish(100)).filter((e) => e !== undefined)).toEqual([]);
    await until('phase 2 delivered', () => receivers.every((r) => r.got.length >= BROADCASTS + 100), 30_000);
    // Exactly: 1..1000, then 1051..1150 (1001..1050 were reported dropped).
    const phase2 = [...phase1, ...Array.from({ length: 100 }, (_, i) => 1051 + i)];
    for (const r of receivers) expect(r.got).toEqual(phase2);
    const ps2 = await processStats();
    for (const p of ps2) {
      expect(p.app.missed).toBe(0);
      expect(p.app.duplicates).toBe(0);
      expect(p.app.delivered).toBe(PER_PROCESS * (BROADCASTS + 100));
    }
    // Every attempt is either delivered to every connection or reported dropped.
    expect(publisher.stats().published + publisher.stats().dropped).toBe(n);

    // Phase 3: the subscribers (only) lose Redis while the publisher goes on: they report the
    // gap they missed when the next broadcast arrives; a connection's lost broadcasts are
    // exactly its process's reported `missed`.
    const { Redis } = (await import('ioredis')) as unknown as { Redis: new (url: string) => { call(...a: string[]): Promise<unknown>; quit(): Promise<unknown> } };
    const admin = new Redis(`redis://127.0.0.1:${redis.port}`);
    const start3 = n;
    const resubBefore = new Map((await processStats()).map((p) => [p.index, p.app.resubscriptions]));
    await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await admin.quit();
    expect((await publish(20)).filter((e) => e !== undefined)).toEqual([]);
    await until('both processes resubscribed again', async () => {
      const ps = await processStats();
      return ps.length === 2 && ps.every((p) => p.app.subscriberReady && p.app.resubscriptions > resubBefore.get(p.index)!);
    });
    expect((await publish(30)).filter((e) => e !== undefined)).toEqual([]);
    const last = n;
    await until('phase 3 delivered', () => receivers.every((r) => r.got[r.got.length - 1] === last), 30_000);
    const ps3 = await processStats();
    const missedBy = new Map(ps3.map((p) => [p.index, p.app.missed]));
    for (const r of receivers) {
      const tail = r.got.slice(BROADCASTS + 100);
      // In order, no duplicates, only what was published in phase 3 ...
      expect(tail.every((v, i) => v > start3 && v <= last && (i === 0 || v > tail[i - 1]!))).toBe(true);
      // ... and what a connection lost is exactly what its process reported missed.
      expect(last - start3 - tail.length).toBe(missedBy.get(r.index!));
    }
    // Only broadcasts of the outage window can be missed.
    expect([...missedBy.values()].every((m) => m <= 20)).toBe(true);
  });
});
