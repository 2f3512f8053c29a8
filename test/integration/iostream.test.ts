/**
 * The iostream transport in both roles: a Server (config.core-based) and a Client
 * (config.coreClient-based) wired back to back, each one's output fed to the other's
 * readSome(). No sockets: the user moves the bytes.
 */
import { describe, expect, it } from 'vitest';
import { Client, Server, config, extend, WsppError, type Connection } from '../../src/index.js';
import { deferred } from './helpers.js';

const serverConfig = extend(config.core, { logging: config.minimal.logging, keepAlive: false });
const clientConfig = extend(config.coreClient, { logging: config.minimal.logging });

type ServerCon = Connection<typeof serverConfig, 'server'>;
type ClientCon = Connection<typeof clientConfig, 'client'>;

/**
 * A server and a client connection joined by two "pipes". `sync` delivers bytes inside
 * the writer's call (re-entrantly); otherwise on a later microtask, like a real stream.
 */
function pair(sync: boolean) {
  const server = new Server(serverConfig);
  const client = new Client(clientConfig);
  const toServer: Uint8Array[] = [];
  const toClient: Uint8Array[] = [];
  let sCon: ServerCon | undefined;
  let cCon: ClientCon | undefined;
  const deliver = (bytes: Uint8Array, to: () => { readSome(b: Uint8Array): void } | undefined, log: Uint8Array[]): void => {
    const copy = Uint8Array.from(bytes); // the writer may reuse its buffer once write() returns
    log.push(copy);
    if (sync) to()?.readSome(copy);
    else queueMicrotask(() => to()?.readSome(copy));
  };
  sCon = server.createConnection((bytes) => deliver(bytes, () => cCon, toClient));
  cCon = client.getConnection('ws://example.com/chat?room=1');
  return {
    server,
    client,
    sCon,
    get cCon() {
      return cCon!;
    },
    toServer,
    toClient,
    start() {
      client.connect(cCon!, (bytes) => deliver(bytes, () => sCon, toServer));
    },
  };
}

describe.each([
  ['asynchronous delivery', false],
  ['re-entrant (synchronous) delivery', true],
])('iostream both roles, %s', (_name, sync) => {
  it('opens, and messages flow both ways', async () => {
    const p = pair(sync);
    const serverGot: string[] = [];
    const clientGot: string[] = [];
    const serverOpen = deferred<{ resource: string; host: string }>();
    const clientOpen = deferred<void>();
    const done = deferred<void>();
    p.sCon.setOpenHandler((_hdl, con) => serverOpen.resolve({ resource: con.getResource(), host: con.getHost() }));
    p.sCon.setMessageHandler((_hdl, msg, con) => {
      serverGot.push(msg.text);
      con.send(`echo ${msg.text}`);
    });
    p.cCon.setOpenHandler(() => clientOpen.resolve());
    p.cCon.setMessageHandler((_hdl, msg) => {
      clientGot.push(msg.text);
      if (clientGot.length === 3) done.resolve();
    });
    p.start();
    expect(await serverOpen.promise).toEqual({ resource: '/chat?room=1', host: 'example.com' });
    await clientOpen.promise;
    expect(p.sCon.state).toBe('open');
    expect(p.cCon.state).toBe('open');
    p.cCon.send('a');
    p.cCon.send('b');
    p.client.send(p.cCon.hdl, 'c');
    await done.promise;
    expect(serverGot).toEqual(['a', 'b', 'c']);
    expect(clientGot).toEqual(['echo a', 'echo b', 'echo c']);
    // The request went through the client's output, the answer through the server's.
    expect(Buffer.from(p.toServer[0]!).toString('latin1')).toMatch(/^GET \/chat\?room=1 HTTP\/1\.1\r\n/);
    expect(Buffer.from(p.toClient[0]!).toString('latin1')).toMatch(/^HTTP\/1\.1 101 /);
  });

  it('a close handshake completes on both sides', async () => {
    const p = pair(sync);
    const opened = deferred<void>();
    p.cCon.setOpenHandler(() => opened.resolve());
    const sClosed = deferred<[number, number, string]>();
    const cClosed = deferred<[number, number, string]>();
    p.sCon.setCloseHandler((_h, c) => sClosed.resolve([c.getLocalCloseCode(), c.getRemoteCloseCode(), c.getRemoteCloseReason()]));
    p.cCon.setCloseHandler((_h, c) => cClosed.resolve([c.getLocalCloseCode(), c.getRemoteCloseCode(), c.getRemoteCloseReason()]));
    p.start();
    await opened.promise;
    p.cCon.close(4100, 'bye');
    expect(await sClosed.promise).toEqual([4100, 4100, 'bye']);
    // The server echoes the code and the reason (WebSocket++ does too).
    expect(await cClosed.promise).toEqual([4100, 4100, 'bye']);
    expect(p.server.connectionCount).toBe(0);
    expect(p.client.connectionCount).toBe(0);
  });

  it('eof() on an open connection: close handler with remote code 1006', async () => {
    const p = pair(sync);
    const opened = deferred<void>();
    p.sCon.setOpenHandler(() => opened.resolve());
    const closedInfo = deferred<{ remote: number; local: number; ec: string | undefined; state: string }>();
    p.sCon.setCloseHandler((_h, c) => closedInfo.resolve({ remote: c.getRemoteCloseCode(), local: c.getLocalCloseCode(), ec: c.getEc()?.code, state: c.state }));
    const failed = deferred<void>();
    p.sCon.setFailHandler(() => failed.resolve());
    p.start();
    await opened.promise;
    p.sCon.eof();
    expect(await closedInfo.promise).toEqual({ remote: 1006, local: 1006, ec: 'transport.eof', state: 'closed' });
    expect(p.server.connectionCount).toBe(0);
    // Input after eof is ignored.
    p.sCon.readSome(Buffer.from([0x81, 0x80, 0, 0, 0, 0]));
  });

  it('fatalError(): the session ends with the error, close handler (open) or fail handler (connecting)', async () => {
    const p = pair(sync);
    const opened = deferred<void>();
    p.cCon.setOpenHandler(() => opened.resolve());
    const closedInfo = deferred<{ remote: number; ec: WsppError | undefined }>();
    p.cCon.setCloseHandler((_h, c) => closedInfo.resolve({ remote: c.getRemoteCloseCode(), ec: c.getEc() }));
    p.start();
    await opened.promise;
    p.cCon.fatalError(new Error('the pipe broke'));
    const { remote, ec } = await closedInfo.promise;
    expect(remote).toBe(1006);
    expect(ec).toBeInstanceOf(WsppError);
    expect(ec!.category).toBe('transport');
    expect(ec!.message).toMatch(/the pipe broke/);

    // Before the handshake completed: fail.
    const q = pair(sync);
    const failed = deferred<{ ec: string | undefined; state: string }>();
    q.sCon.setFailHandler((_h, c) => failed.resolve({ ec: c.getEc()?.category, state: c.state }));
    q.sCon.fatalError(new Error('broken before the request'));
    expect(await failed.promise).toEqual({ ec: 'transport', state: 'failed' });
    expect(q.server.connectionCount).toBe(0);
  });
});

describe('iostream: details', () => {
  it('an output sink with write()/end() (a Writable-like object) receives the bytes', async () => {
    const server = new Server(serverConfig);
    const chunks: Buffer[] = [];
    let ended = 0;
    const con = server.createConnection({ write: (b: Uint8Array) => void chunks.push(Buffer.from(b)), end: () => void ended++ });
    const failed = deferred<string | undefined>();
    con.setFailHandler((_h, c) => failed.resolve(c.getEc()?.code));
    con.readSome(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    // No upgrade and no http handler: 426, then the session ends.
    expect(Buffer.concat(chunks).toString('latin1')).toMatch(/^HTTP\/1\.1 426 /);
    expect(ended).toBe(1);
    expect(server.connectionCount).toBe(0);
  });

  it('a tcp endpoint cannot create iostream connections; an iostream client connect needs an output', () => {
    const tcpServer = new Server(config.minimalTcp) as unknown as { tryCreateConnection(o: unknown): unknown };
    const err = tcpServer.tryCreateConnection(() => undefined);
    expect(err).toBeInstanceOf(WsppError);
    expect((err as WsppError).code).toBe('transport.operation_not_supported');
    const client = new Client(clientConfig);
    const con = client.getConnection('ws://example.com/');
    expect(() => (client.connect as (c: unknown) => unknown)(con)).toThrow(WsppError);
  });

  it('a client can pipeline a message in the same chunk as the 101 response', async () => {
    // Server → client bytes arrive as one chunk: head + first frame.
    const client = new Client(clientConfig);
    const con = client.getConnection('ws://example.com/');
    let request = '';
    const got = deferred<string>();
    con.setMessageHandler((_h, msg) => got.resolve(msg.text));
    client.connect(con, (b) => void (request += Buffer.from(b).toString('latin1')));
    const key = /Sec-WebSocket-Key: (\S+)/i.exec(request)![1]!;
    const { createHash } = await import('node:crypto');
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    const head = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`;
    con.readSome(Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from([0x81, 0x02]), Buffer.from('hi')]));
    expect(await got.promise).toBe('hi');
  });
});
