/**
 * `wspp echo` (its stdin stats protocol), `wspp broadcast`, `wspp testee-server` and
 * `wspp testee-client`, as separate processes, talked to by ws peers (and, for the testee
 * client, a tiny fake fuzzing server).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { CLI, count, HOST, killProcess, onCleanup, runCli, startCliServer, useCleanup } from './harness.js';

useCleanup();

interface Received {
  readonly data: Buffer;
  readonly isBinary: boolean;
}

/** A ws client that queues what it receives. */
async function wsClient(url: string, options: WebSocket.ClientOptions = {}): Promise<{ ws: WebSocket; next: () => Promise<Received> }> {
  const ws = new WebSocket(url, options);
  onCleanup(() => ws.terminate());
  const queue: Received[] = [];
  const waiting: ((r: Received) => void)[] = [];
  ws.on('message', (data: Buffer, isBinary) => {
    const r = { data, isBinary };
    const w = waiting.shift();
    if (w === undefined) queue.push(r);
    else w(r);
  });
  await once(ws, 'open');
  return { ws, next: () => new Promise((ok) => (queue.length > 0 ? ok(queue.shift()!) : waiting.push(ok))) };
}

describe('wspp echo with a piped stdin', () => {
  it('answers `stats` on stdin, and SIGTERM ends it (1001 to clients, exit 0) while the parent still holds the pipe', async () => {
    const child = spawn(process.execPath, [CLI, 'echo', '--port', '0'], { stdio: ['pipe', 'pipe', 'pipe'] });
    onCleanup(() => killProcess(child, 'SIGKILL'));
    child.stdout.setEncoding('utf8');
    const lines: string[] = [];
    const waiting: ((line: string) => void)[] = [];
    let buffered = '';
    child.stdout.on('data', (s: string) => {
      buffered += s;
      for (let at = buffered.indexOf('\n'); at >= 0; at = buffered.indexOf('\n')) {
        const line = buffered.slice(0, at);
        buffered = buffered.slice(at + 1);
        const w = waiting.shift();
        if (w === undefined) lines.push(line);
        else w(line);
      }
    });
    const nextLine = () => new Promise<string>((ok) => (lines.length > 0 ? ok(lines.shift()!) : waiting.push(ok)));
    const port = Number(/:(\d+)\/$/.exec(await nextLine())?.[1]);
    child.stdin.write('stats\n');
    expect(Object.keys(JSON.parse(await nextLine()) as object)).toEqual(['cpuUserMs', 'cpuSystemMs', 'rssBytes']);

    const client = await wsClient(`ws://${HOST}:${port}/`);
    client.ws.send('hi');
    expect((await client.next()).data.toString()).toBe('hi');
    const closed = once(client.ws, 'close') as Promise<[number, Buffer]>;
    const exit = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    child.kill('SIGTERM'); // stdin stays open: it must not keep the process alive
    expect((await closed)[0]).toBe(1001);
    expect(await exit).toEqual([0, null]);
  });
});

describe('wspp broadcast', () => {
  it('a message from any one of 3 clients reaches all 3, with its opcode', async () => {
    const server = await startCliServer(['broadcast']);
    const clients = [await wsClient(server.url), await wsClient(server.url), await wsClient(server.url)];

    clients[0]!.ws.send('hello, everyone');
    for (const c of clients) expect(await c.next()).toEqual({ data: Buffer.from('hello, everyone'), isBinary: false });

    clients[2]!.ws.send(Buffer.from([1, 2, 3, 255]));
    for (const c of clients) expect(await c.next()).toEqual({ data: Buffer.from([1, 2, 3, 255]), isBinary: true });

    // A client that left no longer counts; the others still get everything.
    clients[1]!.ws.close();
    await once(clients[1]!.ws, 'close');
    clients[1]!.ws.terminate();
    clients[0]!.ws.send('two left');
    expect((await clients[0]!.next()).data.toString()).toBe('two left');
    expect((await clients[2]!.next()).data.toString()).toBe('two left');

    // SIGTERM: the clients are closed with 1001 and the server exits 0.
    const closes = [clients[0]!, clients[2]!].map((c) => once(c.ws, 'close') as Promise<[number, Buffer]>);
    const exit = once(server.child, 'exit') as Promise<[number | null]>;
    await killProcess(server.child);
    expect((await exit)[0]).toBe(0);
    for (const closed of closes) expect((await closed)[0]).toBe(1001);
  });
});

describe('wspp testee-server', () => {
  it('echoes every message with its opcode (text, binary, empty, fragmented, 1 MiB)', async () => {
    const server = await startCliServer(['testee-server']);
    const { ws, next } = await wsClient(server.url);
    ws.send('text ✓');
    expect(await next()).toEqual({ data: Buffer.from('text ✓'), isBinary: false });
    ws.send(Buffer.from([0, 1, 2]));
    expect(await next()).toEqual({ data: Buffer.from([0, 1, 2]), isBinary: true });
    ws.send('');
    expect(await next()).toEqual({ data: Buffer.alloc(0), isBinary: false });
    ws.send('frag', { fin: false });
    ws.send('mented', { fin: true });
    expect(await next()).toEqual({ data: Buffer.from('fragmented'), isBinary: false });
    const big = Buffer.alloc(1 << 20, 7);
    ws.send(big);
    const got = await next();
    expect(got.isBinary).toBe(true);
    expect(got.data.equals(big)).toBe(true);
  });

  it('--deflate negotiates permessage-deflate and echoes compressed messages', async () => {
    const server = await startCliServer(['testee-server', '--deflate']);
    const { ws, next } = await wsClient(server.url, { perMessageDeflate: true });
    expect(ws.extensions).toContain('permessage-deflate');
    const big = 'compressible '.repeat(1000);
    ws.send(big);
    expect((await next()).data.toString()).toBe(big);
  });
});

describe('wspp testee-client', () => {
  /** The fuzzing server's side of the convention, with 3 cases. */
  async function fakeFuzzingServer(): Promise<{ url: string; requests: string[]; echoes: Map<number, Received[]> }> {
    const wss = new WebSocketServer({ host: HOST, port: 0 });
    await once(wss, 'listening');
    onCleanup(() => new Promise<void>((done) => {
      for (const c of wss.clients) c.terminate();
      wss.close(() => done());
    }));
    const requests: string[] = [];
    const echoes = new Map<number, Received[]>();
    wss.on('connection', (ws, req) => {
      const url = new URL(req.url ?? '/', 'ws://fuzzing');
      requests.push(`${url.pathname}${url.search}`);
      if (url.pathname === '/getCaseCount') {
        ws.send('3');
        ws.close(1000);
      } else if (url.pathname === '/runCase') {
        const n = Number(url.searchParams.get('case'));
        const got: Received[] = [];
        echoes.set(n, got);
        ws.on('message', (data: Buffer, isBinary) => {
          got.push({ data, isBinary });
          if (got.length === 2) ws.close(1000);
        });
        ws.send(`case ${n}`);
        ws.send(Buffer.from([n, 0, 255]));
      } else if (url.pathname === '/updateReports') {
        ws.close(1000);
      } else {
        ws.close(1008, 'unknown path');
      }
    });
    return { url: `ws://${HOST}:${(wss.address() as { port: number }).port}`, requests, echoes };
  }

  it('reads the case count, runs every case echoing its messages, then updates the reports', async () => {
    const fuzzing = await fakeFuzzingServer();
    const ran = await runCli(['testee-client', '--url', fuzzing.url, '--agent', 'my agent']);
    expect(ran.stderr).toBe('');
    expect(ran.code).toBe(0);
    expect(ran.stdout).toBe(
      [
        '3 cases to run as agent "my agent"',
        'case 1/3: closed 1000 (Normal close)',
        'case 2/3: closed 1000 (Normal close)',
        'case 3/3: closed 1000 (Normal close)',
        'reports updated',
        '',
      ].join('\n'),
    );
    expect(fuzzing.requests).toEqual([
      '/getCaseCount',
      '/runCase?case=1&agent=my%20agent',
      '/runCase?case=2&agent=my%20agent',
      '/runCase?case=3&agent=my%20agent',
      '/updateReports?agent=my%20agent',
    ]);
    for (const n of [1, 2, 3]) {
      expect(fuzzing.echoes.get(n)).toEqual([
        { data: Buffer.from(`case ${n}`), isBinary: false },
        { data: Buffer.from([n, 0, 255]), isBinary: true },
      ]);
    }
  });

  it('exits 1 when there is no fuzzing server', async () => {
    const wss = new WebSocketServer({ host: HOST, port: 0 });
    await once(wss, 'listening');
    const port = (wss.address() as { port: number }).port;
    await new Promise<void>((done) => wss.close(() => done()));
    const ran = await runCli(['testee-client', '--url', `ws://${HOST}:${port}`]);
    expect(ran.code).toBe(1);
    expect(ran.stderr).toMatch(new RegExp(`^wspp testee-client: ws://${HOST}:${port}/getCaseCount: failed: .*ECONNREFUSED`));
  });
});

describe('permessage-deflate through the command line', () => {
  it('`wspp client --deflate` against `wspp echo --deflate` shows the negotiated extension and echoes', async () => {
    const { url } = await startCliServer(['echo', '--deflate']);
    const ran = await runCli(['client', '--deflate'], `connect ${url}\nsend 0 ${'compress me '.repeat(200)}\nwait 0\nshow 0\nquit\n`);
    expect(ran.code).toBe(0);
    expect(ran.stdout).toContain('permessage-deflate');
    expect(count(ran.stdout, '<< compress me compress me')).toBe(1);
  });
});
