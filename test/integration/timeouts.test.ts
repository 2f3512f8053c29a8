/**
 * Every timeout is enforced: configured short here, and awaited as events (never
 * measured). A peer that never finishes the handshake, never answers a close, never
 * pongs, never closes its side; and a slowloris crowd.
 */
import { once } from 'node:events';
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { Client, Server, config, extend, type ConnectionHdl } from '../../src/index.js';
import {
  HOST,
  acceptFor,
  cleanup,
  closePayload,
  deferred,
  listen,
  nextMessage,
  rawConnect,
  rawPeer,
  sleep,
  socketClosed,
  trackCon,
  until,
  upgradeRequest,
  useCleanup,
  wsConnect,
} from './helpers.js';

useCleanup();

describe('timeouts: opening handshake', () => {
  it('a TCP client that never sends a request is dropped at the openHandshake timeout', async () => {
    const server = new Server(extend(config.minimalTcp, { timeouts: { openHandshake: 200 } }));
    const failed = deferred<{ ec: string | undefined; state: string }>();
    server.setFailHandler((_hdl, con) => failed.resolve({ ec: con.getEc()?.code, state: con.state }));
    const port = await listen(server);
    const socket = await rawConnect(port);
    const gone = socketClosed(socket);
    expect(await failed.promise).toEqual({ ec: 'websocket.open_handshake_timeout', state: 'failed' });
    await gone;
    expect(server.connectionCount).toBe(0);
  });

  it('a TCP client that sends half a request is dropped too', async () => {
    const server = new Server(extend(config.minimalTcp, { timeouts: { openHandshake: 200 } }));
    const failed = deferred<string | undefined>();
    server.setFailHandler((_hdl, con) => failed.resolve(con.getEc()?.code));
    const port = await listen(server);
    const socket = await rawConnect(port);
    socket.write(upgradeRequest(port).slice(0, 40));
    const gone = socketClosed(socket);
    expect(await failed.promise).toBe('websocket.open_handshake_timeout');
    await gone;
  });

  it('setOpenHandshakeTimeout() changes it for future connections', async () => {
    const server = new Server(config.minimalTcp);
    server.setOpenHandshakeTimeout(150);
    const failed = deferred<string | undefined>();
    server.setFailHandler((_hdl, con) => failed.resolve(con.getEc()?.code));
    const port = await listen(server);
    await rawConnect(port);
    expect(await failed.promise).toBe('websocket.open_handshake_timeout');
  });

  it('a client whose server never answers the request fails at its openHandshake timeout', async () => {
    const silent = net.createServer((socket) => {
      socket.on('error', () => undefined);
      cleanup.socket(() => socket.destroy());
    });
    silent.listen(0, HOST);
    await once(silent, 'listening');
    cleanup.server(() => new Promise<void>((r) => silent.close(() => r())));
    const { port } = silent.address() as net.AddressInfo;
    const client = new Client(extend(config.minimalTcpClient, { timeouts: { openHandshake: 200 } }));
    const con = client.getConnection(`ws://${HOST}:${port}/`);
    trackCon(con);
    const failed = deferred<{ ec: string | undefined; state: string }>();
    con.setFailHandler((_hdl, c) => failed.resolve({ ec: c.getEc()?.code, state: c.state }));
    client.connect(con);
    expect(await failed.promise).toEqual({ ec: 'websocket.open_handshake_timeout', state: 'failed' });
  });

  it('slowloris: 20 connections trickling 1 byte per 50 ms are all closed at a 300 ms openHandshake timeout; a fresh client still echoes', async () => {
    const server = new Server(extend(config.minimalTcp, { timeouts: { openHandshake: 300 } }));
    server.setMessageHandler((hdl, msg) => server.send(hdl, msg.payload, msg.opcode));
    const fails: (string | undefined)[] = [];
    server.setFailHandler((_hdl, con) => void fails.push(con.getEc()?.code));
    const port = await listen(server);
    const request = Buffer.from(upgradeRequest(port));
    const sockets = await Promise.all(Array.from({ length: 20 }, () => rawConnect(port)));
    const allClosed = Promise.all(sockets.map((s) => socketClosed(s)));
    const timers = sockets.map((socket) => {
      let i = 0;
      const timer = setInterval(() => {
        if (socket.destroyed || i >= request.length) return;
        socket.write(request.subarray(i, i + 1));
        i++;
      }, 50);
      cleanup.socket(() => clearInterval(timer));
      return timer;
    });

    // While they trickle, a normal client connects and echoes.
    const ws = await wsConnect(`ws://${HOST}:${port}/`);
    const got = nextMessage(ws);
    ws.send('not starved');
    expect((await got).data.toString()).toBe('not starved');

    await allClosed;
    for (const t of timers) clearInterval(t);
    await until(() => fails.length === 20);
    expect(fails.every((code) => code === 'websocket.open_handshake_timeout')).toBe(true);
    // The normal connection is unaffected.
    expect(ws.readyState).toBe(ws.OPEN);
    expect(server.connectionCount).toBe(1);
  });
});

describe('timeouts: closing handshake', () => {
  it('a peer that never answers our close: close handler at the closeHandshake timeout', async () => {
    const server = new Server(extend(config.minimalTcp, { timeouts: { closeHandshake: 200 } }));
    const opened = deferred<ConnectionHdl>();
    server.setOpenHandler((hdl) => opened.resolve(hdl));
    const closedInfo = deferred<{ ec: string | undefined; local: number; remote: number; state: string }>();
    server.setCloseHandler((_hdl, con) =>
      closedInfo.resolve({ ec: con.getEc()?.code, local: con.getLocalCloseCode(), remote: con.getRemoteCloseCode(), state: con.state }),
    );
    const port = await listen(server);
    const peer = await rawPeer(port);
    const hdl = await opened.promise;
    server.close(hdl, 1000, 'please answer');
    const frame = await peer.nextFrame(0x8);
    expect(frame.payload.readUInt16BE(0)).toBe(1000);
    expect(frame.payload.subarray(2).toString()).toBe('please answer');
    // The peer stays silent.
    expect(await closedInfo.promise).toEqual({ ec: 'websocket.close_handshake_timeout', local: 1000, remote: 1006, state: 'closed' });
    await peer.closedPromise;
  });

  it('setCloseHandshakeTimeout() changes it for future connections', async () => {
    const server = new Server(config.minimalTcp);
    server.setCloseHandshakeTimeout(150);
    const opened = deferred<ConnectionHdl>();
    server.setOpenHandler((hdl) => opened.resolve(hdl));
    const closedEc = deferred<string | undefined>();
    server.setCloseHandler((_hdl, con) => closedEc.resolve(con.getEc()?.code));
    const port = await listen(server);
    await rawPeer(port);
    server.close(await opened.promise);
    expect(await closedEc.promise).toBe('websocket.close_handshake_timeout');
  });

  it('server: once the closing handshake is complete it closes TCP at once (RFC 6455 7.1.1), not waiting for the peer', async () => {
    // A socketShutdown far beyond the test's time limit: only the immediate close passes.
    const server = new Server(extend(config.minimalTcp, { timeouts: { socketShutdown: 600_000 } }));
    const serverSocket = deferred<net.Socket>();
    server.setSocketInitHandler((_hdl, socket) => serverSocket.resolve(socket));
    const opened = deferred<ConnectionHdl>();
    server.setOpenHandler((hdl) => opened.resolve(hdl));
    const closedEc = deferred<string | undefined>();
    server.setCloseHandler((_hdl, con) => closedEc.resolve(con.getEc()?.code));
    const port = await listen(server);
    const peer = await rawPeer(port, '/', true); // allowHalfOpen: our side stays open after the server's FIN
    const socket = await serverSocket.promise;
    const serverSocketClosed = socketClosed(socket);
    const gotFin = once(peer.socket, 'end');
    server.close(await opened.promise, 1000);
    await peer.nextFrame(0x8);
    peer.send(0x8, closePayload(1000));
    expect(await closedEc.promise).toBeUndefined();
    await gotFin; // the server's close frame, then its FIN: an orderly close
    await serverSocketClosed; // and its socket is gone while ours is still open
    expect(peer.socket.destroyed).toBe(false);
    peer.socket.destroy();
  });

  it('server: after a protocol error it half-closes, and a peer that never closes TCP is dropped at the socketShutdown timeout', async () => {
    const server = new Server(extend(config.minimalTcp, { timeouts: { socketShutdown: 200 } }));
    const serverSocket = deferred<net.Socket>();
    server.setSocketInitHandler((_hdl, socket) => serverSocket.resolve(socket));
    const closedEc = deferred<string | undefined>();
    server.setCloseHandler((_hdl, con) => closedEc.resolve(con.getEc()?.code));
    const port = await listen(server);
    const peer = await rawPeer(port, '/', true);
    const socket = await serverSocket.promise;
    const serverSocketClosed = socketClosed(socket);
    const gotFin = once(peer.socket, 'end');
    peer.socket.write(Buffer.from([0x83, 0x80, 0, 0, 0, 0])); // reserved opcode 3
    expect(await closedEc.promise).toBe('processor.invalid_opcode');
    const close = await peer.nextFrame(0x8);
    expect(close.payload.readUInt16BE(0)).toBe(1002);
    await gotFin;
    // We never end our side (and never answer): the socket goes at the socketShutdown timeout.
    await serverSocketClosed;
    expect(socket.destroyed).toBe(true);
    peer.socket.destroy();
  });

  it('client: waits for the server to close TCP, and a server that never does is dropped at the socketShutdown timeout', async () => {
    // A server that answers the close frame but never ends or closes its socket.
    const peers: net.Socket[] = [];
    const raw = net.createServer({ allowHalfOpen: true }, (socket) => {
      peers.push(socket);
      let head = Buffer.alloc(0);
      let upgraded = false;
      socket.on('data', (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        if (!upgraded) {
          const end = head.indexOf('\r\n\r\n');
          if (end < 0) return;
          const key = /sec-websocket-key: *(\S+)/i.exec(head.subarray(0, end).toString('latin1'))?.[1] ?? '';
          socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`);
          upgraded = true;
          head = head.subarray(end + 4);
        }
        // The client's masked close frame (2 + 4 + 2 bytes): answer it, then linger.
        if (head.length >= 8 && (head[0]! & 0x0f) === 0x8) socket.write(Buffer.concat([Buffer.from([0x88, 2]), closePayload(1000)]));
      });
    });
    cleanup.server(() => {
      for (const p of peers) p.destroy();
      raw.close();
    });
    await new Promise<void>((resolve) => raw.listen(0, HOST, resolve));
    const port = (raw.address() as net.AddressInfo).port;

    const client = new Client(extend(config.minimalTcpClient, { timeouts: { socketShutdown: 200 } }));
    const clientSocket = deferred<net.Socket>();
    client.setSocketInitHandler((_hdl, socket) => clientSocket.resolve(socket));
    const opened = deferred<ConnectionHdl>();
    client.setOpenHandler((hdl) => opened.resolve(hdl));
    const closedInfo = deferred<{ ec: string | undefined; remote: number }>();
    client.setCloseHandler((_hdl, con) => closedInfo.resolve({ ec: con.getEc()?.code, remote: con.getRemoteCloseCode() }));
    const con = client.getConnection(`ws://${HOST}:${port}/`);
    trackCon(con);
    client.connect(con);
    const socket = await clientSocket.promise;
    const socketGone = socketClosed(socket);
    client.close(await opened.promise, 1000);
    expect(await closedInfo.promise).toEqual({ ec: undefined, remote: 1000 });
    // The client half-closed and waited; the silent server's socket is dropped at the timeout.
    expect(socket.destroyed).toBe(false);
    await socketGone;
    expect(socket.destroyed).toBe(true);
  });
});

describe('timeouts: pong', () => {
  it('keep-alive: a peer that never pongs gets pongTimeout, then is dropped (1006, websocket.pong_timeout)', async () => {
    const server = new Server(extend(config.minimalTcp, { keepAlive: { interval: 100 }, timeouts: { pong: 100 } }));
    const pongTimeout = deferred<string>();
    server.setPongTimeoutHandler((_hdl, payload) => pongTimeout.resolve(payload.toString('hex')));
    const closedInfo = deferred<{ ec: string | undefined; local: number; remote: number }>();
    server.setCloseHandler((_hdl, con) => closedInfo.resolve({ ec: con.getEc()?.code, local: con.getLocalCloseCode(), remote: con.getRemoteCloseCode() }));
    const port = await listen(server);
    const peer = await rawPeer(port);
    const ping = await peer.nextFrame(0x9);
    expect(ping.opcode).toBe(0x9);
    expect(await pongTimeout.promise).toBe('');
    expect(await closedInfo.promise).toEqual({ ec: 'websocket.pong_timeout', local: 1006, remote: 1006 });
    await peer.closedPromise;
  });

  it('keep-alive: a peer that pongs (a ws client) stays connected across several intervals', async () => {
    const server = new Server(extend(config.minimalTcp, { keepAlive: { interval: 50 }, timeouts: { pong: 100 } }));
    let pongs = 0;
    server.setPongHandler(() => void pongs++);
    const port = await listen(server);
    const ws = await wsConnect(`ws://${HOST}:${port}/`);
    await until(() => pongs >= 3);
    expect(ws.readyState).toBe(ws.OPEN);
    expect(server.connectionCount).toBe(1);
  });

  it('an explicit ping without pong: pongTimeout handler, the connection stays open', async () => {
    const server = new Server(extend(config.minimalTcp, { timeouts: { pong: 100 } }));
    const opened = deferred<ConnectionHdl>();
    server.setOpenHandler((hdl) => opened.resolve(hdl));
    const timedOut = deferred<string>();
    server.setPongTimeoutHandler((_hdl, payload) => timedOut.resolve(payload.toString()));
    const port = await listen(server);
    const peer = await rawPeer(port);
    const hdl = await opened.promise;
    server.ping(hdl, 'are you there');
    expect((await peer.nextFrame(0x9)).payload.toString()).toBe('are you there');
    expect(await timedOut.promise).toBe('are you there');
    expect(server.getConFromHdl(hdl).state).toBe('open');
  });

  it('a pong that arrives in time cancels the pong timer', async () => {
    const server = new Server(extend(config.minimalTcp, { timeouts: { pong: 150 } }));
    const opened = deferred<ConnectionHdl>();
    server.setOpenHandler((hdl) => opened.resolve(hdl));
    let timeouts = 0;
    server.setPongTimeoutHandler(() => void timeouts++);
    const pong = deferred<void>();
    server.setPongHandler(() => pong.resolve());
    const port = await listen(server);
    const peer = await rawPeer(port);
    server.ping(await opened.promise, 'p');
    const ping = await peer.nextFrame(0x9);
    peer.send(0xa, ping.payload);
    await pong.promise;
    await sleep(250); // past the pong timeout: nothing may fire
    expect(timeouts).toBe(0);
  });
});
