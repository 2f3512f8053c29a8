/**
 * A wspp Server over tcp, driven by ws clients: echo, close handshake, subprotocols,
 * validation, the http handler, request getters, handles after close.
 */
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Server, config, extend, pool, WsppError, type ConnectionHdl } from '../../src/index.js';
import {
  HOST,
  closed,
  connectedPeer,
  deferred,
  httpGet,
  listen,
  nextMessage,
  useCleanup,
  wsConnect,
  wsOpenError,
  trackWs,
  rawConnect,
  rawPeer,
  sleep,
  until,
  upgradeRequest,
} from './helpers.js';
import { encodeFrame } from '../../src/protocol/frame.js';

useCleanup();

function echoServer() {
  const server = new Server(config.minimalTcp);
  server.setMessageHandler((hdl, msg) => server.send(hdl, msg.payload, msg.opcode));
  return server;
}

describe('server over tcp: echo', () => {
  const sizes = [0, 125, 126, 64 * 1024, 1024 * 1024];

  it.each(sizes)('echoes a %i-byte text and binary message', async (size) => {
    const server = echoServer();
    const port = await listen(server);
    const ws = await wsConnect(`ws://${HOST}:${port}/`);

    const text = 'é'.repeat(Math.floor(size / 2)) + 'x'.repeat(size % 2);
    expect(Buffer.byteLength(text)).toBe(size);
    const gotText = nextMessage(ws);
    ws.send(text);
    const t = await gotText;
    expect(t.isBinary).toBe(false);
    expect(t.data.toString()).toBe(text);

    const bytes = Buffer.alloc(size);
    for (let i = 0; i < size; i++) bytes[i] = (i * 31 + 7) & 0xff;
    const gotBinary = nextMessage(ws);
    ws.send(bytes);
    const b = await gotBinary;
    expect(b.isBinary).toBe(true);
    expect(b.data.equals(bytes)).toBe(true);
  });
});

describe('server over tcp: close handshake', () => {
  it('a client-initiated close is seen on both sides with its code and reason', async () => {
    const server = echoServer();
    const seen = deferred<{ remote: number; remoteReason: string; local: number; state: string }>();
    server.setCloseHandler((_hdl, con) =>
      seen.resolve({
        remote: con.getRemoteCloseCode(),
        remoteReason: con.getRemoteCloseReason(),
        local: con.getLocalCloseCode(),
        state: con.state,
      }),
    );
    const port = await listen(server);
    const ws = await wsConnect(`ws://${HOST}:${port}/`);
    const wsClosed = closed(ws);
    ws.close(4000, 'client bye');
    expect(await seen.promise).toEqual({ remote: 4000, remoteReason: 'client bye', local: 4000, state: 'closed' });
    // The server echoes the code (RFC 6455 5.5.1).
    expect((await wsClosed).code).toBe(4000);
  });

  it('a server-initiated close is seen on both sides with its code and reason', async () => {
    const server = echoServer();
    const opened = deferred<ConnectionHdl>();
    server.setOpenHandler((hdl) => opened.resolve(hdl));
    const seen = deferred<{ remote: number; local: number; localReason: string; ec: string | undefined }>();
    server.setCloseHandler((_hdl, con) =>
      seen.resolve({ remote: con.getRemoteCloseCode(), local: con.getLocalCloseCode(), localReason: con.getLocalCloseReason(), ec: con.getEc()?.code }),
    );
    const port = await listen(server);
    const ws = await wsConnect(`ws://${HOST}:${port}/`);
    const wsClosed = closed(ws);
    server.close(await opened.promise, 4001, 'server bye');
    expect(await wsClosed).toEqual({ code: 4001, reason: 'server bye' });
    expect(await seen.promise).toEqual({ remote: 4001, local: 4001, localReason: 'server bye', ec: undefined });
  });

  it('closing with an invalid code is refused and nothing is sent', async () => {
    const server = echoServer();
    const opened = deferred<ConnectionHdl>();
    server.setOpenHandler((hdl) => opened.resolve(hdl));
    const port = await listen(server);
    const ws = await wsConnect(`ws://${HOST}:${port}/`);
    const hdl = await opened.promise;
    const err = server.tryClose(hdl, 1005, 'nope');
    expect(err).toBeInstanceOf(WsppError);
    expect(() => server.close(hdl, 999)).toThrow(WsppError);
    // Still open and echoing.
    const got = nextMessage(ws);
    ws.send('still here');
    expect((await got).data.toString()).toBe('still here');
  });
});

describe('server over tcp: subprotocols and validation', () => {
  it('the validate handler selects one of the offered subprotocols', async () => {
    const server = echoServer();
    const offered = deferred<string[]>();
    server.setValidateHandler((_hdl, con) => {
      offered.resolve(con.getRequestedSubprotocols());
      expect(con.selectSubprotocol('nope')).toBeInstanceOf(WsppError);
      expect(con.selectSubprotocol('chat.v2')).toBeUndefined();
      return true;
    });
    const subprotocol = deferred<string>();
    server.setOpenHandler((_hdl, con) => subprotocol.resolve(con.getSubprotocol()));
    const port = await listen(server);
    const ws = await wsConnect(`ws://${HOST}:${port}/`, ['chat.v1', 'chat.v2']);
    expect(await offered.promise).toEqual(['chat.v1', 'chat.v2']);
    expect(ws.protocol).toBe('chat.v2');
    expect(await subprotocol.promise).toBe('chat.v2');
  });

  it('validate returning false answers 403 and fails the connection', async () => {
    const server = echoServer();
    server.setValidateHandler(() => false);
    const failed = deferred<{ code: string | undefined; state: string; status: number }>();
    server.setFailHandler((_hdl, con) => failed.resolve({ code: con.getEc()?.code, state: con.state, status: con.getResponseStatus() }));
    const opened = deferred<void>();
    server.setOpenHandler(() => opened.resolve());
    const port = await listen(server);
    const ws = trackWs(new WebSocket(`ws://${HOST}:${port}/`));
    expect((await wsOpenError(ws)).message).toBe('Unexpected server response: 403');
    expect(await failed.promise).toEqual({ code: 'websocket.rejected', state: 'failed', status: 403 });
  });

  it('validate can pick the rejection status with con.setStatus(401) and add headers', async () => {
    const server = echoServer();
    server.setValidateHandler((_hdl, con) => {
      con.setStatus(401);
      con.appendHeader('WWW-Authenticate', 'Bearer');
      return false;
    });
    const port = await listen(server);
    const ws = trackWs(new WebSocket(`ws://${HOST}:${port}/`));
    const response = deferred<{ status: number; auth: string | undefined }>();
    ws.on('unexpected-response', (req, res) => {
      response.resolve({ status: res.statusCode ?? 0, auth: res.headers['www-authenticate'] as string | undefined });
      res.resume();
      req.destroy();
    });
    expect(await response.promise).toEqual({ status: 401, auth: 'Bearer' });
  });

  it('an async validate handler (Promise<boolean>) accepts or rejects later', async () => {
    const server = echoServer();
    server.setValidateHandler(async (_hdl, con) => {
      await new Promise((r) => setTimeout(r, 20));
      return con.getResource() === '/yes';
    });
    const port = await listen(server);
    const ws = await wsConnect(`ws://${HOST}:${port}/yes`);
    const got = nextMessage(ws);
    ws.send('after async validate');
    expect((await got).data.toString()).toBe('after async validate');

    const no = trackWs(new WebSocket(`ws://${HOST}:${port}/no`));
    expect((await wsOpenError(no)).message).toBe('Unexpected server response: 403');
  });

  it('a frame the client pipelines behind its request waits for an async validate', async () => {
    const server = new Server(config.minimalTcp);
    const gate = deferred<void>();
    let validated = false;
    server.setValidateHandler(async () => {
      await gate.promise;
      validated = true;
      return true;
    });
    const got = deferred<{ text: string; validated: boolean }>();
    server.setMessageHandler((_hdl, msg) => got.resolve({ text: msg.text, validated }));
    const port = await listen(server);
    const socket = await rawConnect(port);
    socket.write(Buffer.concat([Buffer.from(upgradeRequest(port)), encodeFrame(1, Buffer.from('pipelined'), { maskKey: Buffer.from([1, 2, 3, 4]) })]));
    setTimeout(() => gate.resolve(), 30);
    expect(await got.promise).toEqual({ text: 'pipelined', validated: true });
  });
});

describe('server over tcp: plain HTTP on the same port', () => {
  it('the http handler answers GET with setStatus/setBody/appendHeader', async () => {
    const server = echoServer();
    server.setHttpHandler((_hdl, con) => {
      con.setStatus(200);
      con.appendHeader('Content-Type', 'text/plain');
      con.appendHeader('X-Resource', con.getResource());
      con.setBody(`hello ${con.getRequestHeader('x-name')}`);
    });
    const port = await listen(server);
    const res = await httpGet(port, '/status?full=1', { 'X-Name': 'wspp' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain');
    expect(res.headers['x-resource']).toBe('/status?full=1');
    expect(res.body).toBe('hello wspp');
    // WebSocket upgrades still work next to it.
    const ws = await wsConnect(`ws://${HOST}:${port}/`);
    const got = nextMessage(ws);
    ws.send('ws too');
    expect((await got).data.toString()).toBe('ws too');
  });

  it('an async http handler answers when its promise settles', async () => {
    const server = echoServer();
    server.setHttpHandler(async (_hdl, con) => {
      await new Promise((r) => setTimeout(r, 10));
      con.setStatus(404);
      con.setBody('not here');
    });
    const port = await listen(server);
    const res = await httpGet(port, '/missing');
    expect(res.status).toBe(404);
    expect(res.body).toBe('not here');
  });

  it('without an http handler a plain GET gets 426 Upgrade Required', async () => {
    const server = echoServer();
    const port = await listen(server);
    const res = await httpGet(port, '/');
    expect(res.status).toBe(426);
  });

  it('a plain HTTP request ends its connection: connectionCount returns to 0 and stop() resolves', async () => {
    const server = new Server(extend(config.minimalTcp, { registry: true }));
    server.setHttpHandler((_hdl, con) => con.setBody('ok'));
    const port = await listen(server);
    expect((await httpGet(port, '/')).status).toBe(200);
    expect((await httpGet(port, '/')).status).toBe(200); // and the 426 path below
    const noHandler = new Server(config.minimalTcp);
    const port2 = await listen(noHandler);
    expect((await httpGet(port2, '/')).status).toBe(426);
    // Give the sockets' close events a moment to arrive (this is not a timing assertion).
    await new Promise((r) => setTimeout(r, 50));
    expect(server.connectionCount).toBe(0);
    expect([...server.connections()]).toHaveLength(0);
    expect(noHandler.connectionCount).toBe(0);
    const stopped = await Promise.race([server.stop().then(() => 'stopped'), new Promise((r) => setTimeout(() => r('hung'), 2000))]);
    expect(stopped).toBe('stopped');
  });
});

describe('server over tcp: request getters', () => {
  it('exposes request headers, resource, host, origin and remote endpoint', async () => {
    const server = echoServer();
    const seen = deferred<Record<string, unknown>>();
    server.setOpenHandler((_hdl, con) =>
      seen.resolve({
        resource: con.getResource(),
        origin: con.getOrigin(),
        custom: con.getRequestHeader('X-Custom'),
        customLower: con.getRequestHeader('x-custom'),
        missing: con.getRequestHeader('x-missing'),
        headers: con.getRequestHeaders()?.get('x-custom'),
        remote: con.getRemoteEndpoint(),
        state: con.state,
        role: con.role,
      }),
    );
    const port = await listen(server);
    await wsConnect(`ws://${HOST}:${port}/room/42?user=ann`, undefined, {
      origin: 'https://example.org',
      headers: { 'X-Custom': 'yes' },
    });
    const got = await seen.promise;
    expect(got).toMatchObject({
      resource: '/room/42?user=ann',
      origin: 'https://example.org',
      custom: 'yes',
      customLower: 'yes',
      missing: '',
      headers: 'yes',
      state: 'open',
      role: 'server',
    });
    expect(got.remote).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('getHost() is the host of the request without the port, as on clients (WebSocket++ get_host)', async () => {
    const server = echoServer();
    const seen = deferred<{ host: string; hostHeader: string }>();
    server.setOpenHandler((_hdl, con) => seen.resolve({ host: con.getHost(), hostHeader: con.getRequestHeader('host') }));
    const port = await listen(server);
    await wsConnect(`ws://${HOST}:${port}/`);
    expect(await seen.promise).toEqual({ host: HOST, hostHeader: `${HOST}:${port}` });
  });

  it('getResponseStatus() is 101 once the server accepted', async () => {
    const server = echoServer();
    const seen = deferred<number>();
    server.setOpenHandler((_hdl, con) => seen.resolve(con.getResponseStatus()));
    const port = await listen(server);
    await wsConnect(`ws://${HOST}:${port}/`);
    expect(await seen.promise).toBe(101);
  });

  it('response headers appended in validate reach the client', async () => {
    const server = echoServer();
    server.setValidateHandler((_hdl, con) => {
      con.appendHeader('X-Session', 'abc');
      return true;
    });
    const port = await listen(server);
    const ws = trackWs(new WebSocket(`ws://${HOST}:${port}/`));
    const header = deferred<string | undefined>();
    ws.once('upgrade', (res) => header.resolve(res.headers['x-session'] as string | undefined));
    expect(await header.promise).toBe('abc');
  });
});

describe('server over tcp: handles', () => {
  it('a handle after close gives bad_connection, never a crash', async () => {
    const server = echoServer();
    const gone = deferred<void>();
    server.setCloseHandler(() => gone.resolve());
    const { ws, hdl } = await connectedPeer(server);
    expect(server.getConFromHdl(hdl).state).toBe('open');
    ws.close(1000);
    await gone.promise;

    expect(server.trySend(hdl, 'late')?.code).toBe('websocket.bad_connection');
    expect(server.tryClose(hdl)?.code).toBe('websocket.bad_connection');
    expect(server.tryPing(hdl)?.code).toBe('websocket.bad_connection');
    expect(server.tryPauseReading(hdl)?.code).toBe('websocket.bad_connection');
    const result = server.tryGetConFromHdl(hdl);
    expect(result).toBeInstanceOf(WsppError);
    expect((result as WsppError).code).toBe('websocket.bad_connection');
    expect(() => server.getConFromHdl(hdl)).toThrow(WsppError);
    try {
      server.getConFromHdl(hdl);
    } catch (err) {
      expect((err as WsppError).code).toBe('websocket.bad_connection');
    }
    expect(() => server.send(hdl, 'late')).toThrow(WsppError);
  });

  it("another endpoint's handle gives bad_connection", async () => {
    const server = echoServer();
    const other = echoServer();
    const opened = deferred<ConnectionHdl>();
    server.setOpenHandler((hdl) => opened.resolve(hdl));
    const port = await listen(server);
    await listen(other);
    const ws = await wsConnect(`ws://${HOST}:${port}/`);
    const hdl = await opened.promise;
    expect(other.trySend(hdl, 'x')?.code).toBe('websocket.bad_connection');
    expect(() => other.getConFromHdl(hdl)).toThrow(WsppError);
    // The right endpoint still takes it.
    const got = nextMessage(ws);
    expect(server.trySend(hdl, 'mine')).toBeUndefined();
    expect((await got).data.toString()).toBe('mine');
  });

  it('handles are distinct per connection and the send-by-handle path frames prepared messages', async () => {
    const server = echoServer();
    const hdls: ConnectionHdl[] = [];
    server.setOpenHandler((hdl) => void hdls.push(hdl));
    const port = await listen(server);
    const a = await wsConnect(`ws://${HOST}:${port}/`);
    const b = await wsConnect(`ws://${HOST}:${port}/`);
    await new Promise<void>((r) => {
      const check = (): void => (hdls.length === 2 ? r() : void setTimeout(check, 5));
      check();
    });
    expect(hdls[0]!.id).not.toBe(hdls[1]!.id);
    const prepared = server.prepare('broadcast');
    const ga = nextMessage(a);
    const gb = nextMessage(b);
    for (const hdl of hdls) server.send(hdl, prepared);
    expect((await ga).data.toString()).toBe('broadcast');
    expect((await gb).data.toString()).toBe('broadcast');
  });
});

describe('server over tcp: limits', () => {
  it('a message over maxMessageSize closes with 1009; setMaxMessageSize on a connection overrides it', async () => {
    const server = new Server(extend(config.minimalTcp, { maxMessageSize: 1024 }));
    server.setMessageHandler((hdl, msg) => server.send(hdl, msg.payload, msg.opcode));
    let n = 0;
    server.setOpenHandler((_hdl, con) => {
      if (++n === 2) con.setMaxMessageSize(4096);
    });
    const closedEc = deferred<string | undefined>();
    server.setCloseHandler((_hdl, con) => closedEc.resolve(con.getEc()?.code));
    const port = await listen(server);
    const small = await wsConnect(`ws://${HOST}:${port}/`);
    const wsClosed = closed(small);
    small.send(Buffer.alloc(2048));
    expect((await wsClosed).code).toBe(1009);
    expect(await closedEc.promise).toBe('processor.message_too_big');

    const larger = await wsConnect(`ws://${HOST}:${port}/`);
    const got = nextMessage(larger);
    larger.send(Buffer.alloc(2048, 5));
    expect((await got).data.length).toBe(2048);
  });
});

describe('server over tcp: message pool', () => {
  it('echoing lent payloads (pool policy) sends exactly what was received, message after message', async () => {
    const server = new Server(extend(config.minimalTcp, { messagePool: pool({ buffers: 2, size: 256 * 1024 }) }));
    // Sending a lent payload during its handler is allowed: the library must not keep a
    // reference to a buffer the pool reuses for the next message.
    server.setMessageHandler((hdl, msg) => server.send(hdl, msg.payload, msg.opcode));
    const port = await listen(server);
    const ws = await wsConnect(`ws://${HOST}:${port}/`);
    const COUNT = 30;
    const FRAGMENT = 20 * 1024;
    const received: Buffer[] = [];
    const all = deferred<void>();
    ws.on('message', (data: Buffer) => {
      received.push(data);
      if (received.length === COUNT) all.resolve();
    });
    // Fragmented messages: reassembled in pooled buffers on the server.
    for (let i = 0; i < COUNT; i++) {
      for (let f = 0; f < 3; f++) ws.send(Buffer.alloc(FRAGMENT, i), { binary: true, fin: f === 2 });
    }
    await all.promise;
    const corrupted = received.map((data, i) => (data.length === 3 * FRAGMENT && data.every((b) => b === i) ? -1 : i)).filter((i) => i >= 0);
    expect(corrupted).toEqual([]);
  });
});

describe('server over tcp: message pool, peer reading slowly', () => {
  it('lent payloads echoed while the socket is backed up are sent intact (the pool must not reuse a buffer still queued)', async () => {
    const server = new Server(extend(config.minimalTcp, { messagePool: pool({ buffers: 2, size: 256 * 1024 }) }));
    server.setMessageHandler((hdl, msg) => server.send(hdl, msg.payload, msg.opcode));
    const port = await listen(server);
    const peer = await rawPeer(port);
    peer.socket.removeAllListeners('data');
    peer.socket.pause(); // echoes queue up in the server's socket
    const COUNT = 60;
    const FRAGMENT = 64 * 1024;
    const frames: Buffer[] = [];
    for (let i = 0; i < COUNT; i++) {
      for (let f = 0; f < 3; f++) {
        frames.push(Buffer.from(encodeFrame(f === 0 ? 2 : 0, Buffer.alloc(FRAGMENT, i + 1), { fin: f === 2, maskKey: Buffer.from([9, 8, 7, 6]) })));
      }
    }
    peer.socket.write(Buffer.concat(frames));
    await sleep(200); // let the server read and echo everything while we do not read
    const chunks: Buffer[] = [];
    let bytes = 0;
    peer.socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      bytes += chunk.length;
    });
    peer.socket.resume();
    await until(() => bytes >= COUNT * (3 * FRAGMENT + 10));
    const all = Buffer.concat(chunks);
    const payloads: Buffer[] = [];
    for (let at = 0; at < all.length; ) {
      let length = all[at + 1]! & 0x7f;
      let header = 2;
      if (length === 126) [length, header] = [all.readUInt16BE(at + 2), 4];
      else if (length === 127) [length, header] = [Number(all.readBigUInt64BE(at + 2)), 10];
      payloads.push(all.subarray(at + header, at + header + length));
      at += header + length;
    }
    expect(payloads).toHaveLength(COUNT);
    const corrupted = payloads.map((p, i) => (p.length === 3 * FRAGMENT && p.every((b) => b === i + 1) ? -1 : i)).filter((i) => i >= 0);
    expect(corrupted).toEqual([]);
  });
});
