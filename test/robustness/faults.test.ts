/**
 * Faults: abrupt TCP resets mid-frame and mid-handshake on both sides (server and
 * client endpoints), half-open peers found by the pong timeout, a peer that stops
 * reading among healthy ones (slow-consumer policy, bounded memory), and a server
 * stop() during traffic. Each fault must reach its handlers once with a typed error and
 * leave the other connections alone; at the end of the file no socket is left open.
 */
import { once } from 'node:events';
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Client, Server, config, extend, type ConnectionHdl } from '../../src/index.js';
import {
  HOST,
  acceptFor,
  bounded,
  cleanup,
  deferred,
  listen,
  nextMessage,
  rawConnect,
  rawPeer,
  sleep,
  toBuffer,
  trackCon,
  until,
  upgradeRequest,
  useCleanup,
  wsConnect,
  wsServer,
} from '../integration/helpers.js';
import { MiB, clientFrame, serverFrame, settledRss, socketHandles, type Recordable, type Settings } from './helpers.js';

useCleanup();

// --- nothing leaks: sockets and servers are back to the baseline at the end -----------------

let baseline: ReturnType<typeof socketHandles>;
beforeAll(() => {
  baseline = socketHandles();
});
afterAll(async () => {
  // (useCleanup's afterEach has closed what the tests opened.)
  await bounded(until(() => {
    const now = socketHandles();
    return now.sockets <= baseline.sockets && now.servers <= baseline.servers && now.tls <= baseline.tls && now.timers <= baseline.timers;
  }), 5000);
  const now = socketHandles();
  for (const kind of ['sockets', 'servers', 'tls', 'timers'] as const) expect(now[kind], kind).toBeLessThanOrEqual(baseline[kind]);
});

/** Counts handler calls per resource. */
function recorder(server: Recordable) {
  const closes: { path: string; ec: string | undefined; localCode: number; remoteCode: number }[] = [];
  const fails: { ec: string | undefined }[] = [];
  server.setCloseHandler((_hdl, con) => closes.push({ path: con.getResource(), ec: con.getEc()?.code, localCode: con.getLocalCloseCode(), remoteCode: con.getRemoteCloseCode() }));
  server.setFailHandler((_hdl, con) => fails.push({ ec: con.getEc()?.code }));
  return { closes, fails };
}

function echoServer(overrides: Settings = {}) {
  const server = new Server(extend(config.minimalTcp, overrides));
  server.setMessageHandler((hdl, msg) => server.send(hdl, msg.payload, msg.opcode));
  return server;
}

async function bystanderServed(ws: WebSocket, text = 'still here'): Promise<void> {
  const got = nextMessage(ws);
  ws.send(text);
  expect((await got).data.toString()).toBe(text);
}

describe('abrupt TCP reset: the peer of a wspp server resets', () => {
  it('mid-frame: the close handler runs once with transport.connection_reset; a bystander is unaffected', async () => {
    const server = echoServer();
    const { closes, fails } = recorder(server);
    const port = await listen(server);
    const bystander = await wsConnect(`ws://${HOST}:${port}/bystander`);
    const peer = await rawPeer(port, '/victim');
    const frame = clientFrame(0x2, Buffer.alloc(64 * 1024, 7));
    peer.socket.write(frame.subarray(0, 20_000));
    await sleep(20);
    peer.socket.resetAndDestroy();
    await until(() => closes.length === 1);
    await sleep(50);
    expect(closes).toEqual([{ path: '/victim', ec: 'transport.connection_reset', localCode: 1006, remoteCode: 1006 }]);
    expect(fails).toEqual([]);
    await bystanderServed(bystander);
    expect(server.connectionCount).toBe(1);
  });

  it('mid-handshake: the fail handler runs once with transport.connection_reset', async () => {
    const server = echoServer();
    const { closes, fails } = recorder(server);
    const port = await listen(server);
    const bystander = await wsConnect(`ws://${HOST}:${port}/bystander`);
    const socket = await rawConnect(port);
    socket.write(upgradeRequest(port).slice(0, 50));
    await sleep(20);
    socket.resetAndDestroy();
    await until(() => fails.length === 1);
    await sleep(50);
    expect(fails).toEqual([{ ec: 'transport.connection_reset' }]);
    expect(closes).toEqual([]);
    await bystanderServed(bystander);
    expect(server.connectionCount).toBe(1);
  });
});

describe('abrupt TCP reset: the server of a wspp client resets', () => {
  /** A raw server: completes the handshake (or half of it), sends `after`, then resets. */
  async function resettingServer(stage: 'mid-handshake' | 'mid-frame') {
    const server = net.createServer((socket) => {
      socket.on('error', () => undefined);
      cleanup.socket(() => socket.destroy());
      let head = '';
      socket.on('data', (chunk: Buffer) => {
        head += chunk.toString('latin1');
        const key = /sec-websocket-key: *(\S+)/i.exec(head)?.[1];
        if (!head.includes('\r\n\r\n') || key === undefined) return;
        const response = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`;
        if (stage === 'mid-handshake') socket.write(response.slice(0, 40));
        else socket.write(Buffer.concat([Buffer.from(response, 'latin1'), serverFrame(0x2, Buffer.alloc(64 * 1024)).subarray(0, 10_000)]));
        setTimeout(() => socket.resetAndDestroy(), 20);
      });
    });
    server.listen(0, HOST);
    await once(server, 'listening');
    cleanup.server(() => new Promise<void>((r) => server.close(() => r())));
    return (server.address() as net.AddressInfo).port;
  }

  async function run(stage: 'mid-handshake' | 'mid-frame') {
    const port = await resettingServer(stage);
    // A healthy connection of the same client endpoint, to a ws echo server.
    const healthy = await wsServer();
    healthy.wss.on('connection', (ws) => ws.on('message', (d, isBinary) => ws.send(d, { binary: isBinary })));
    const client = new Client(config.minimalTcpClient);
    const events: string[] = [];
    client.setCloseHandler((_hdl, con) => events.push(`close ${con.getUri().includes(String(port)) ? 'victim' : 'healthy'} ${con.getEc()?.code}`));
    client.setFailHandler((_hdl, con) => events.push(`fail ${con.getUri().includes(String(port)) ? 'victim' : 'healthy'} ${con.getEc()?.code}`));
    const echoes: string[] = [];
    client.setMessageHandler((_hdl, msg) => void echoes.push(msg.text));
    const good = client.getConnection(`ws://${HOST}:${healthy.port}/`);
    trackCon(good);
    const goodOpen = deferred<void>();
    good.setOpenHandler(() => goodOpen.resolve());
    client.connect(good);
    await goodOpen.promise;
    const victim = client.getConnection(`ws://${HOST}:${port}/`);
    trackCon(victim);
    client.connect(victim);
    await until(() => events.length > 0);
    await sleep(50);
    good.send('healthy');
    await until(() => echoes.length === 1);
    expect(echoes).toEqual(['healthy']);
    expect(good.state).toBe('open');
    return events;
  }

  it('mid-handshake: the fail handler runs once with transport.connection_reset', async () => {
    expect(await run('mid-handshake')).toEqual(['fail victim transport.connection_reset']);
  });

  it('mid-frame: the close handler runs once with transport.connection_reset', async () => {
    expect(await run('mid-frame')).toEqual(['close victim transport.connection_reset']);
  });
});

describe('half-open connections', () => {
  it('a peer that went silent (reads nothing, answers nothing) is found by the keep-alive pong timeout; healthy peers stay', async () => {
    // A generous pong timeout: a loaded machine must not make healthy peers look dead.
    const server = echoServer({ keepAlive: { interval: 200 }, timeouts: { pong: 1000 } });
    const { closes } = recorder(server);
    const pongTimeouts: string[] = [];
    server.setPongTimeoutHandler((_hdl, _payload, con) => void pongTimeouts.push(con.getResource()));
    const port = await listen(server);
    const healthy = await Promise.all(Array.from({ length: 10 }, (_, i) => wsConnect(`ws://${HOST}:${port}/healthy/${i}`)));
    const silent = await rawPeer(port, '/silent');
    silent.socket.pause(); // reads nothing: never sees the pings, never pongs
    await until(() => closes.length === 1);
    expect(closes).toEqual([{ path: '/silent', ec: 'websocket.pong_timeout', localCode: 1006, remoteCode: 1006 }]);
    expect(pongTimeouts).toEqual(['/silent']);
    // Several more intervals: the healthy ones (ws answers pings) are never dropped.
    await sleep(800);
    expect(closes).toHaveLength(1);
    for (const ws of healthy) await bystanderServed(ws);
    silent.socket.resume();
    await silent.closedPromise;
  });

  it('a wspp client with keep-alive finds a server that went silent', async () => {
    const server = net.createServer((socket) => {
      socket.on('error', () => undefined);
      cleanup.socket(() => socket.destroy());
      socket.once('data', (chunk: Buffer) => {
        const key = /sec-websocket-key: *(\S+)/i.exec(chunk.toString('latin1'))?.[1] ?? '';
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`);
        socket.pause(); // then nothing, ever
      });
    });
    server.listen(0, HOST);
    await once(server, 'listening');
    cleanup.server(() => new Promise<void>((r) => server.close(() => r())));
    const { port } = server.address() as net.AddressInfo;
    const client = new Client(extend(config.minimalTcpClient, { keepAlive: { interval: 150 }, timeouts: { pong: 200 } }));
    const con = client.getConnection(`ws://${HOST}:${port}/`);
    trackCon(con);
    const closed = deferred<{ ec: string | undefined; local: number }>();
    con.setCloseHandler((_hdl, c) => closed.resolve({ ec: c.getEc()?.code, local: c.getLocalCloseCode() }));
    client.connect(con);
    expect(await closed.promise).toEqual({ ec: 'websocket.pong_timeout', local: 1006 });
  });
});

describe('a peer that stops reading', () => {
  it('is closed by the slow-consumer policy (1008) during a broadcast, memory stays bounded, the others get every message', async () => {
    const server = new Server(extend(config.minimalTcp, { registry: true, slowConsumer: { limit: MiB, closeCode: 1008 } }));
    const { closes } = recorder(server);
    const port = await listen(server);
    const readers = await Promise.all(Array.from({ length: 4 }, (_, i) => wsConnect(`ws://${HOST}:${port}/reader/${i}`)));
    const slow = await rawPeer(port, '/slow');
    slow.socket.removeAllListeners('data');
    slow.socket.pause();
    await until(() => server.connectionCount === 5);

    const total = 400; // 400 × 64 KiB = 25 MiB to every reader
    const received = readers.map(() => 0);
    const done = readers.map((ws, i) => {
      const all = deferred<void>();
      ws.on('message', (data) => {
        if (toBuffer(data).length === 64 * 1024 && ++received[i]! === total) all.resolve();
      });
      return all.promise;
    });
    const rssBefore = await settledRss(2);
    let peakGrowth = 0;
    for (let n = 0; n < total; n++) {
      const prepared = server.prepare(Buffer.alloc(64 * 1024, n & 0xff));
      for (const con of server.connections()) con.trySendPrepared(prepared);
      if (n % 16 === 15) {
        // A sender that respects backpressure waits for the readers, never for the slow one.
        do {
          await new Promise((r) => setImmediate(r));
          peakGrowth = Math.max(peakGrowth, process.memoryUsage.rss() - rssBefore);
        } while ([...server.connections()].some((c) => c.getResource() !== '/slow' && c.bufferedAmount > 4 * MiB));
      }
    }
    await Promise.all(done);
    expect(received).toEqual(readers.map(() => total));
    expect(closes.filter((c) => c.path === '/slow')).toEqual([{ path: '/slow', ec: 'websocket.slow_consumer', localCode: 1008, remoteCode: 1006 }]);
    expect(closes).toHaveLength(1);
    // 25 MiB went to each reader; what stays queued for the slow peer is bounded by the limit.
    expect(peakGrowth).toBeLessThan(150 * MiB);
    slow.socket.resume();
    await slow.closedPromise;
  });
});

describe('stop() during traffic', () => {
  it('closes every connection with 1001 and loses no message a handler acknowledged', async () => {
    const server = new Server(extend(config.minimalTcp, { registry: true }));
    const acked = new Map<string, number[]>();
    server.setMessageHandler((hdl: ConnectionHdl, msg, con) => {
      const seq = Number(msg.text);
      // Acknowledged = the ack was accepted for sending.
      if (server.trySend(hdl, `ack:${seq}`) === undefined) {
        const list = acked.get(con.getResource()) ?? [];
        list.push(seq);
        acked.set(con.getResource(), list);
      }
    });
    const port = await listen(server);
    const clients = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const path = `/c/${i}`;
        const ws = await wsConnect(`ws://${HOST}:${port}${path}`);
        const acks: number[] = [];
        ws.on('message', (data) => acks.push(Number(toBuffer(data).toString().slice(4))));
        const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
        let seq = 0;
        const pump = setInterval(() => {
          for (let k = 0; k < 20 && ws.readyState === WebSocket.OPEN; k++) ws.send(String(seq++));
        }, 1);
        void closed.then(() => clearInterval(pump));
        return { path, ws, acks, closed, sent: () => seq };
      }),
    );
    // Traffic on every connection, then stop in the middle of it.
    await until(() => clients.every((c) => (acked.get(c.path)?.length ?? 0) >= 50));
    await server.stop();
    expect(server.connectionCount).toBe(0);
    for (const c of clients) {
      expect(await c.closed).toEqual({ code: 1001, reason: 'server stopping' });
      // Every ack the server accepted for sending arrived, in order.
      expect(c.acks).toEqual(acked.get(c.path) ?? []);
      expect(c.acks.length).toBeGreaterThan(0);
    }
  });
});

