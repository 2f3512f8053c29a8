/**
 * Client through an HTTP CONNECT proxy (con.setProxy), with a small proxy written here.
 */
import { once } from 'node:events';
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { Client, config, extend, WsppError } from '../../src/index.js';
import { HOST, bounded, cleanup, deferred, trackCon, useCleanup, wsServer } from './helpers.js';

useCleanup();

interface Proxy {
  port: number;
  tunnels: number;
  requests: string[];
}

/**
 * A CONNECT proxy: parses "CONNECT host:port HTTP/1.1", connects upstream, answers 200
 * and pipes both ways. `answer` other than 200 refuses with that status.
 */
async function connectProxy(answer = 200): Promise<Proxy> {
  const state: Proxy = { port: 0, tunnels: 0, requests: [] };
  const server = net.createServer((client) => {
    client.on('error', () => undefined);
    cleanup.socket(() => client.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      client.off('data', onData);
      const text = head.subarray(0, end).toString('latin1');
      const rest = head.subarray(end + 4);
      state.requests.push(text);
      const match = /^CONNECT (\S+):(\d+) HTTP\/1\.1$/.exec(text.split('\r\n')[0]!);
      if (match === null) {
        client.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      if (answer !== 200) {
        client.end(`HTTP/1.1 ${answer} Refused\r\nContent-Length: 0\r\n\r\n`);
        return;
      }
      const upstream = net.connect({ host: match[1]!.replace(/^\[|\]$/g, ''), port: Number(match[2]) });
      upstream.on('error', () => client.destroy());
      cleanup.socket(() => upstream.destroy());
      upstream.once('connect', () => {
        state.tunnels++;
        client.write('HTTP/1.1 200 Connection established\r\n\r\n');
        if (rest.length > 0) upstream.write(rest);
        client.pipe(upstream);
        upstream.pipe(client);
      });
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    };
    client.on('data', onData);
  });
  server.listen(0, HOST);
  await once(server, 'listening');
  cleanup.server(() => new Promise<void>((r) => server.close(() => r())));
  state.port = (server.address() as net.AddressInfo).port;
  return state;
}

describe('client through an HTTP CONNECT proxy', () => {
  it('reaches a ws server through the tunnel and echoes', async () => {
    const proxy = await connectProxy();
    const { wss, port } = await wsServer();
    const serverSaw = deferred<string | undefined>();
    wss.on('connection', (ws, req) => {
      serverSaw.resolve(req.headers.host);
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
    const client = new Client(config.minimalTcpClient);
    const con = client.getConnection(`ws://${HOST}:${port}/through`);
    trackCon(con);
    expect(con.setProxy(`http://${HOST}:${proxy.port}`)).toBeUndefined();
    con.setProxyBasicAuth('user', 'secret');
    const got = deferred<string>();
    con.setOpenHandler((_hdl, c) => c.send('via proxy'));
    con.setMessageHandler((_hdl, msg) => got.resolve(msg.text));
    con.setFailHandler((_hdl, c) => got.resolve(`failed: ${c.getEc()?.code}`));
    client.connect(con);
    // Bounded so that a stalled tunnel fails this test instead of hanging the suite.
    expect(await bounded(got.promise, 3000)).toBe('via proxy');
    expect(proxy.tunnels).toBe(1);
    expect(await serverSaw.promise).toBe(`${HOST}:${port}`);
    const request = proxy.requests[0]!;
    expect(request.split('\r\n')[0]).toBe(`CONNECT ${HOST}:${port} HTTP/1.1`);
    expect(request).toContain(`Proxy-Authorization: Basic ${Buffer.from('user:secret').toString('base64')}`);
  });

  it('a proxy answering 403: fail with transport.proxy_failed', async () => {
    const proxy = await connectProxy(403);
    const { port } = await wsServer();
    const client = new Client(config.minimalTcpClient);
    const con = client.getConnection(`ws://${HOST}:${port}/`);
    trackCon(con);
    con.setProxy(`http://${HOST}:${proxy.port}`);
    const failed = deferred<{ ec: WsppError | undefined; state: string }>();
    con.setFailHandler((_hdl, c) => failed.resolve({ ec: c.getEc(), state: c.state }));
    con.setOpenHandler(() => failed.reject(new Error('opened through a refusing proxy')));
    client.connect(con);
    const { ec, state } = await failed.promise;
    expect(state).toBe('failed');
    expect(ec?.code).toBe('transport.proxy_failed');
    expect(ec?.message).toMatch(/403/);
    expect(proxy.tunnels).toBe(0);
    expect(client.connectionCount).toBe(0);
  });

  it('a proxy that accepts and never answers: fail with transport.proxy_failed at the proxy timeout', async () => {
    const silent = net.createServer((socket) => {
      socket.on('error', () => undefined);
      cleanup.socket(() => socket.destroy());
    });
    silent.listen(0, HOST);
    await once(silent, 'listening');
    cleanup.server(() => new Promise<void>((r) => silent.close(() => r())));
    const client = new Client(extend(config.minimalTcpClient, { timeouts: { proxy: 200 } }));
    const con = client.getConnection(`ws://${HOST}:1/`);
    trackCon(con);
    con.setProxy(`http://${HOST}:${(silent.address() as net.AddressInfo).port}`);
    const failed = deferred<string | undefined>();
    con.setFailHandler((_hdl, c) => failed.resolve(c.getEc()?.code));
    client.connect(con);
    expect(await failed.promise).toBe('transport.proxy_failed');
  });

  it('setProxy refuses what is not an http:// URL', () => {
    const client = new Client(config.minimalTcpClient);
    const con = client.getConnection(`ws://${HOST}:1/`);
    expect(con.setProxy('socks5://127.0.0.1:1080')?.code).toBe('transport.proxy_invalid');
    expect(con.setProxy('not a url')?.code).toBe('transport.proxy_invalid');
    con.terminate();
  });
});
