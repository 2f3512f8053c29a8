/**
 * The multi-process server (node:cluster): a primary and 2 worker processes share one port;
 * both serve; a graceful restart of one leaves the other's connections up. The cluster runs
 * from the built files (test/scale/fixtures/cluster-app.mjs imports dist/).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnJson, type JsonChild } from './helpers.js';

const APP = fileURLToPath(new URL('./fixtures/cluster-app.mjs', import.meta.url));
const children: JsonChild[] = [];
const sockets: WebSocket[] = [];

beforeAll(() => {
  if (!existsSync(new URL('../../dist/scale/cluster.js', import.meta.url))) {
    throw new Error('dist/scale/cluster.js is missing: run `npm run build` before these tests');
  }
});

afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  for (const c of children.splice(0)) await c.stop();
});

interface Who {
  index: number;
  generation: number;
  pid: number;
}

interface Client {
  ws: WebSocket;
  who: Who;
  closed: Promise<{ code: number }>;
  ask(text: string): Promise<string>;
}

async function connect(port: number): Promise<Client> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  sockets.push(ws);
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const closed = new Promise<{ code: number }>((resolve) => ws.once('close', (code) => resolve({ code })));
  const ask = (text: string): Promise<string> =>
    new Promise((resolve, reject) => {
      ws.once('message', (data) => resolve(String(data)));
      ws.once('close', () => reject(new Error('closed')));
      ws.send(text);
    });
  const who = JSON.parse(await ask('who')) as Who;
  return { ws, who, closed, ask };
}

describe('cluster server', () => {
  it('2 processes share one port, both serve, stats per process, and a graceful restart keeps the other process connections', async () => {
    const app = spawnJson(APP, ['--workers', '2']);
    children.push(app);
    const ready = await app.next((l) => l.ready === true);
    const port = ready.port as number;
    expect(port).toBeGreaterThan(0);
    expect(ready.processes).toHaveLength(2);
    const pids = new Set((ready.processes as { pid: number }[]).map((p) => p.pid));
    expect(pids.size).toBe(2);
    expect(pids.has(app.pid)).toBe(false);

    // Both processes serve the one port.
    const clients: Client[] = [];
    for (let i = 0; i < 8; i++) clients.push(await connect(port));
    const byIndex = (i: number): Client[] => clients.filter((c) => c.who.index === i);
    expect(byIndex(0).length).toBeGreaterThan(0);
    expect(byIndex(1).length).toBeGreaterThan(0);
    expect(new Set(clients.map((c) => c.who.pid))).toEqual(pids);

    // Per-process counts and stats over IPC.
    app.send('stats');
    const { stats } = await app.next((l) => l.stats !== undefined);
    const procs = (stats.processes as { index: number; connections: number; messagesIn: number; messagesOut: number; app: unknown }[]).sort((a, b) => a.index - b.index);
    expect(procs).toHaveLength(2);
    expect(procs[0]!.connections).toBe(byIndex(0).length);
    expect(procs[1]!.connections).toBe(byIndex(1).length);
    expect(procs[0]!.messagesIn).toBe(byIndex(0).length);
    expect(procs[0]!.messagesOut).toBe(byIndex(0).length);
    expect(procs[0]!.app).toEqual({ argv: 4 });
    expect(stats.total.connections).toBe(8);

    // Restart process 0: its connections close with 1001, process 1's stay up and keep working.
    const old0 = byIndex(0)[0]!.who.pid;
    const mark = app.lines.length;
    app.send('restart 0');
    const restarted = await app.next((l) => l.restarted === 0, 20_000, mark);
    expect(restarted.error).toBeNull();
    for (const c of byIndex(0)) expect((await c.closed).code).toBe(1001);
    const exit = await app.next((l) => l.exit !== undefined && l.exit.pid === old0, 20_000, mark);
    expect(exit.exit).toMatchObject({ index: 0, generation: 0, expected: true });
    for (const c of byIndex(1)) {
      expect(c.ws.readyState).toBe(WebSocket.OPEN);
      expect(await c.ask('still there')).toBe('still there');
    }
    const after = restarted.processes as { index: number; generation: number; pid: number }[];
    const new0 = after.find((p) => p.index === 0)!;
    expect(new0.generation).toBe(1);
    expect(new0.pid).not.toBe(old0);

    // The replacement serves the same port.
    const more: Client[] = [];
    for (let i = 0; i < 4; i++) more.push(await connect(port));
    expect(more.some((c) => c.who.index === 0 && c.who.pid === new0.pid && c.who.generation === 1)).toBe(true);
    expect(more.some((c) => c.who.index === 1)).toBe(true);

    // A clean stop: everything closes with 1001 and the primary exits 0.
    app.send('stop');
    await app.next((l) => l.stopped === true);
    for (const c of [...byIndex(1), ...more]) expect((await c.closed).code).toBe(1001);
    expect((await app.exited).code).toBe(0);
  });

  it('respawns a process that dies on its own', async () => {
    const app = spawnJson(APP, ['--workers', '2']);
    children.push(app);
    const ready = await app.next((l) => l.ready === true);
    const victim = (ready.processes as { index: number; pid: number }[]).find((p) => p.index === 1)!;
    const survivor = await connect(ready.port as number);
    const mark = app.lines.length;
    process.kill(victim.pid, 'SIGKILL'); // a crash (a process this test's child started)
    const exit = await app.next((l) => l.exit?.pid === victim.pid, 20_000, mark);
    expect(exit.exit).toMatchObject({ index: 1, expected: false, signal: 'SIGKILL' });
    // The slot comes back (generation 1) and serves.
    await app.next((l) => l.listening?.index === 1 && l.listening.generation === 1, 20_000, mark);
    let replaced = false;
    for (let i = 0; i < 6 && !replaced; i++) {
      const c = await connect(ready.port as number);
      replaced = c.who.index === 1 && c.who.generation === 1;
      c.ws.close();
    }
    expect(replaced).toBe(true);
    if (survivor.who.index === 0) expect(await survivor.ask('ok')).toBe('ok');
  });
});
