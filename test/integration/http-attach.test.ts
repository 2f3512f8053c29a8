/**
 * node:http attach: a plain http.createServer serves normal requests and hands upgrades
 * to a wspp Server that never listens itself (server.handleUpgrade).
 */
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Server, config, extend } from '../../src/index.js';
import { HOST, deferred, httpGet, httpServer, nextMessage, trackServer, trackWs, useCleanup, wsConnect, wsOpenError } from './helpers.js';

useCleanup();

async function attached() {
  const ws = new Server(extend(config.minimalTcp, {}));
  trackServer(ws);
  ws.setMessageHandler((hdl, msg) => ws.send(hdl, msg.payload, msg.opcode));
  const { server, port } = await httpServer((req, res) => {
    if (req.method === 'GET' && req.url === '/hello') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('hello from node:http');
      return;
    }
    res.writeHead(404);
    res.end();
  });
  server.on('upgrade', (req, socket, head) => ws.handleUpgrade(req, socket as import('node:net').Socket, head));
  return { ws, server, port };
}

describe('node:http attach (handleUpgrade)', () => {
  it('a ws client connects through the http server port and echoes; normal requests still work', async () => {
    const { ws: endpoint, port } = await attached();
    expect(endpoint.isListening).toBe(false);
    const before = await httpGet(port, '/hello');
    expect(before).toMatchObject({ status: 200, body: 'hello from node:http' });

    const opened = deferred<{ resource: string; header: string }>();
    endpoint.setOpenHandler((_hdl, con) => opened.resolve({ resource: con.getResource(), header: con.getRequestHeader('x-test') }));
    const client = await wsConnect(`ws://${HOST}:${port}/socket?x=1`, undefined, { headers: { 'X-Test': 'through http' } });
    expect(await opened.promise).toEqual({ resource: '/socket?x=1', header: 'through http' });
    for (const payload of ['text', Buffer.alloc(70_000, 9)]) {
      const got = nextMessage(client);
      client.send(payload);
      const { data } = await got;
      expect(Buffer.compare(data, Buffer.from(payload))).toBe(0);
    }

    expect((await httpGet(port, '/hello')).body).toBe('hello from node:http');
    expect((await httpGet(port, '/other')).status).toBe(404);
    // Still echoing after the plain requests.
    const got = nextMessage(client);
    client.send('again');
    expect((await got).data.toString()).toBe('again');
  });

  it('the validate handler and subprotocols work on attached connections', async () => {
    const { ws: endpoint, port } = await attached();
    endpoint.setValidateHandler((_hdl, con) => {
      if (con.getResource() === '/forbidden') return false;
      con.selectSubprotocol('v2');
      return true;
    });
    const ok = await wsConnect(`ws://${HOST}:${port}/`, ['v1', 'v2']);
    expect(ok.protocol).toBe('v2');
    const refused = trackWs(new WebSocket(`ws://${HOST}:${port}/forbidden`));
    expect((await wsOpenError(refused)).message).toBe('Unexpected server response: 403');
  });

  it('a close from the attached endpoint reaches the ws client, and stop() ends the connections', async () => {
    const ws = new Server(extend(config.minimalTcp, { registry: true }));
    trackServer(ws);
    const { server, port } = await httpServer((_req, res) => res.end('ok'));
    server.on('upgrade', (req, socket, head) => ws.handleUpgrade(req, socket as import('node:net').Socket, head));
    const client = await wsConnect(`ws://${HOST}:${port}/`);
    const closedEvent = new Promise<number>((r) => client.once('close', (code) => r(code)));
    await ws.stop();
    expect(await closedEvent).toBe(1001);
    expect(ws.connectionCount).toBe(0);
  });
});
