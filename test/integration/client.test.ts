/**
 * A wspp Client over tcp against ws's WebSocketServer (and against things that are not
 * WebSocket servers): the three-step connect, handlers, both close directions, failures.
 */
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { Client, config, extend, WsppError, type Connection } from '../../src/index.js';
import { HOST, bounded, closed, closedPort, deferred, httpServer, trackCon, useCleanup, wsServer } from './helpers.js';

useCleanup();

type ClientCon = Connection<typeof config.minimalTcpClient, 'client'>;

/** A ws server that records its connections; echoes when asked. */
async function peer(echo = true) {
  const { wss, port, url } = await wsServer({
    handleProtocols: (protocols) => (protocols.has('chat') ? 'chat' : false),
  });
  const connections: { ws: WebSocket; req: IncomingMessage }[] = [];
  const connected = deferred<{ ws: WebSocket; req: IncomingMessage }>();
  wss.on('headers', (headers) => headers.push('X-Server: ws-peer'));
  wss.on('connection', (ws, req) => {
    connections.push({ ws, req });
    if (echo) ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    connected.resolve({ ws, req });
  });
  return { wss, port, url, connections, connected: connected.promise };
}

describe('client over tcp', () => {
  it('getConnection / appendHeader / addSubprotocol / connect, then open and message handlers', async () => {
    const server = await peer();
    const client = new Client(config.minimalTcpClient);
    const con = client.getConnection(`ws://${HOST}:${server.port}/path?q=1`);
    trackCon(con);
    expect(con.state).toBe('connecting');
    expect(con.getUri()).toBe(`ws://${HOST}:${server.port}/path?q=1`);
    con.appendHeader('X-Hello', 'world');
    expect(con.addSubprotocol('chat')).toBeUndefined();
    expect(con.addSubprotocol('bad protocol')).toBeInstanceOf(WsppError);
    expect(con.getRequestedSubprotocols()).toEqual(['chat']);

    const opened = deferred<{ subprotocol: string; status: number; serverHeader: string; resource: string; state: string }>();
    con.setOpenHandler((_hdl, c) =>
      opened.resolve({
        subprotocol: c.getSubprotocol(),
        status: c.getResponseStatus(),
        serverHeader: c.getResponseHeader('x-server'),
        resource: c.getResource(),
        state: c.state,
      }),
    );
    const messages: { text: string; opcode: number }[] = [];
    const two = deferred<void>();
    con.setMessageHandler((_hdl, msg) => {
      messages.push({ text: msg.text, opcode: msg.opcode });
      if (messages.length === 2) two.resolve();
    });
    expect(client.connect(con)).toBe(con);

    expect(await opened.promise).toEqual({ subprotocol: 'chat', status: 101, serverHeader: 'ws-peer', resource: '/path?q=1', state: 'open' });
    const { req } = await server.connected;
    expect(req.url).toBe('/path?q=1');
    expect(req.headers['x-hello']).toBe('world');
    expect(req.headers['sec-websocket-protocol']).toBe('chat');
    expect(req.headers['user-agent']).toMatch(/^wspp\//);

    con.send('text one');
    con.send(Buffer.from([1, 2, 3]));
    await two.promise;
    expect(messages).toEqual([
      { text: 'text one', opcode: 1 },
      { text: '\u0001\u0002\u0003', opcode: 2 },
    ]);
  });

  it('connect() twice on the same connection throws invalid_state and opens one socket', async () => {
    const server = await peer();
    const client = new Client(config.minimalTcpClient);
    const con = client.getConnection(`ws://${HOST}:${server.port}/`);
    trackCon(con);
    const outcome = deferred<string>();
    con.setOpenHandler(() => outcome.resolve('open'));
    con.setFailHandler((_hdl, c) => outcome.resolve(`fail ${c.getEc()?.code}`));
    client.connect(con);
    let second: unknown;
    try {
      client.connect(con);
    } catch (err) {
      second = err;
    }
    expect((second as WsppError | undefined)?.code).toBe('websocket.invalid_state');
    // Bounded only so that a broken double connect cannot hang the suite.
    expect(await bounded(outcome.promise, 2000)).toBe('open');
    await new Promise((r) => setTimeout(r, 50));
    expect(server.connections).toHaveLength(1);
  });

  it('endpoint handlers, send by handle, and a 1 MiB echo', async () => {
    const server = await peer();
    const client = new Client(config.minimalTcpClient);
    const got = deferred<Buffer>();
    client.setOpenHandler((hdl) => client.send(hdl, Buffer.alloc(1 << 20, 7)));
    client.setMessageHandler((_hdl, msg) => got.resolve(msg.payload));
    const con = client.connect(client.getConnection(`ws://${HOST}:${server.port}/`));
    trackCon(con);
    const payload = await got.promise;
    expect(payload.length).toBe(1 << 20);
    expect(payload.every((b) => b === 7)).toBe(true);
  });

  it('a client-initiated close: both sides see the code and reason', async () => {
    const server = await peer();
    const client = new Client(config.minimalTcpClient);
    const con = client.getConnection(`ws://${HOST}:${server.port}/`);
    trackCon(con);
    const opened = deferred<void>();
    con.setOpenHandler(() => opened.resolve());
    const closedInfo = deferred<{ local: number; localReason: string; remote: number; state: string; ec: string | undefined }>();
    con.setCloseHandler((_hdl, c) =>
      closedInfo.resolve({
        local: c.getLocalCloseCode(),
        localReason: c.getLocalCloseReason(),
        remote: c.getRemoteCloseCode(),
        state: c.state,
        ec: c.getEc()?.code,
      }),
    );
    client.connect(con);
    await opened.promise;
    const { ws } = await server.connected;
    const wsSide = closed(ws);
    con.close(1000, 'done');
    expect(con.state).toBe('closing');
    expect(await wsSide).toEqual({ code: 1000, reason: 'done' });
    expect(await closedInfo.promise).toEqual({ local: 1000, localReason: 'done', remote: 1000, state: 'closed', ec: undefined });
  });

  it('a server-initiated close: the client echoes the code and its close handler sees the reason', async () => {
    const server = await peer();
    const client = new Client(config.minimalTcpClient);
    const con = client.getConnection(`ws://${HOST}:${server.port}/`);
    trackCon(con);
    const closedInfo = deferred<{ local: number; remote: number; remoteReason: string }>();
    con.setCloseHandler((_hdl, c) => closedInfo.resolve({ local: c.getLocalCloseCode(), remote: c.getRemoteCloseCode(), remoteReason: c.getRemoteCloseReason() }));
    client.connect(con);
    const { ws } = await server.connected;
    const wsSide = closed(ws);
    ws.close(4002, 'server says bye');
    expect(await closedInfo.promise).toEqual({ local: 4002, remote: 4002, remoteReason: 'server says bye' });
    expect((await wsSide).code).toBe(4002);
  });

  it('connectionData is made per connection and typed into con.data', async () => {
    const server = await peer();
    let made = 0;
    const client = new Client(extend(config.minimalTcpClient, { connectionData: () => ({ n: ++made, seen: [] as string[] }) }));
    const got = deferred<{ n: number; seen: string[] }>();
    client.setOpenHandler((_hdl, con) => con.send('x'));
    client.setMessageHandler((_hdl, msg, con) => {
      con.data.seen.push(msg.text);
      got.resolve(con.data);
    });
    trackCon(client.connect(client.getConnection(`ws://${HOST}:${server.port}/`)));
    expect(await got.promise).toEqual({ n: 1, seen: ['x'] });
  });
});

describe('client over tcp: failures', () => {
  async function failureOf(client: Client<typeof config.minimalTcpClient>, con: ClientCon) {
    trackCon(con);
    const failed = deferred<{ ec: WsppError | undefined; state: string; status: number }>();
    con.setFailHandler((_hdl, c) => failed.resolve({ ec: c.getEc(), state: c.state, status: c.getResponseStatus() }));
    con.setOpenHandler(() => failed.reject(new Error('unexpectedly opened')));
    client.connect(con);
    return failed.promise;
  }

  it('connection refused: the fail handler gets a transport error', async () => {
    const port = await closedPort();
    const client = new Client(config.minimalTcpClient);
    const { ec, state } = await failureOf(client, client.getConnection(`ws://${HOST}:${port}/`));
    expect(state).toBe('failed');
    expect(ec).toBeInstanceOf(WsppError);
    expect(ec!.category).toBe('transport');
    expect(ec!.message).toMatch(/ECONNREFUSED/);
    expect(client.connectionCount).toBe(0);
  });

  it('a plain HTTP server answering 200: processor.invalid_http_status, "Invalid HTTP status."', async () => {
    const { port } = await httpServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('I am not a WebSocket server');
    });
    const client = new Client(config.minimalTcpClient);
    const { ec, state, status } = await failureOf(client, client.getConnection(`ws://${HOST}:${port}/`));
    expect(state).toBe('failed');
    expect(ec?.code).toBe('processor.invalid_http_status');
    expect(ec?.message).toBe('Invalid HTTP status.');
    expect(status).toBe(200);
  });

  it('a ws server rejecting the upgrade (401) fails the client with invalid_http_status', async () => {
    const { port } = await wsServer({ verifyClient: (_info, cb) => cb(false, 401) });
    const client = new Client(config.minimalTcpClient);
    const { ec, status } = await failureOf(client, client.getConnection(`ws://${HOST}:${port}/`));
    expect(ec?.code).toBe('processor.invalid_http_status');
    expect(status).toBe(401);
  });

  it('an invalid URI: tryGetConnection returns websocket.invalid_uri, getConnection throws it', () => {
    const client = new Client(config.minimalTcpClient);
    for (const uri of ['not a uri', 'http://127.0.0.1/', 'ws://127.0.0.1/#fragment']) {
      const result = client.tryGetConnection(uri as `ws://${string}`);
      expect(result).toBeInstanceOf(WsppError);
      expect((result as WsppError).code).toBe('websocket.invalid_uri');
      expect(() => client.getConnection(uri as `ws://${string}`)).toThrow(WsppError);
    }
    expect(client.connectionCount).toBe(0);
  });

  it('a tcp client refuses wss:// at run time: websocket.endpoint_not_secure', () => {
    const client = new Client(config.minimalTcpClient);
    // The types already refuse it; a cast (or plain JavaScript) reaches the runtime check.
    const result = client.tryGetConnection('wss://127.0.0.1:1/' as `ws://${string}`);
    expect(result).toBeInstanceOf(WsppError);
    expect((result as WsppError).code).toBe('websocket.endpoint_not_secure');
    expect(client.connectionCount).toBe(0);
  });

  it('closing before the transport is up cancels the attempt (fail, operation_canceled)', async () => {
    const server = await peer();
    const client = new Client(config.minimalTcpClient);
    const con = client.getConnection(`ws://${HOST}:${server.port}/`);
    trackCon(con);
    const failed = deferred<string | undefined>();
    con.setFailHandler((_hdl, c) => failed.resolve(c.getEc()?.code));
    client.connect(con);
    con.close();
    expect(await failed.promise).toBe('websocket.operation_canceled');
    expect(con.state).toBe('failed');
  });
});
