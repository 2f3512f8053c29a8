/**
 * Endpoint handlers are copied into each new connection: changing them later affects
 * only future connections; a connection's own setters affect only it.
 */
import { describe, expect, it } from 'vitest';
import { Server, config, type ConnectionHdl } from '../../src/index.js';
import { HOST, deferred, listen, nextMessage, until, useCleanup, wsConnect } from './helpers.js';

useCleanup();

describe('handlers copied into new connections', () => {
  it("changing the endpoint's message handler affects only connections opened afterwards", async () => {
    const server = new Server(config.minimalTcp);
    server.setMessageHandler((hdl, msg) => server.send(hdl, `old:${msg.text}`));
    const opened: ConnectionHdl[] = [];
    server.setOpenHandler((hdl) => void opened.push(hdl));
    const port = await listen(server);

    const first = await wsConnect(`ws://${HOST}:${port}/`);
    await until(() => opened.length === 1);
    server.setMessageHandler((hdl, msg) => server.send(hdl, `new:${msg.text}`));
    const second = await wsConnect(`ws://${HOST}:${port}/`);
    await until(() => opened.length === 2);

    const a = nextMessage(first);
    first.send('1');
    expect((await a).data.toString()).toBe('old:1');
    const b = nextMessage(second);
    second.send('2');
    expect((await b).data.toString()).toBe('new:2');
  });

  it('removing the endpoint handler (undefined) leaves existing connections theirs', async () => {
    const server = new Server(config.minimalTcp);
    server.setMessageHandler((hdl, msg) => server.send(hdl, msg.text));
    const opened = deferred<void>();
    server.setOpenHandler(() => opened.resolve());
    const port = await listen(server);
    const ws = await wsConnect(`ws://${HOST}:${port}/`);
    await opened.promise;
    server.setMessageHandler(undefined);
    const got = nextMessage(ws);
    ws.send('kept');
    expect((await got).data.toString()).toBe('kept');
  });

  it('con.setMessageHandler on one connection affects only that connection', async () => {
    const server = new Server(config.minimalTcp);
    server.setMessageHandler((hdl, msg) => server.send(hdl, `endpoint:${msg.text}`));
    let count = 0;
    server.setOpenHandler((_hdl, con) => {
      count++;
      if (count === 1) con.setMessageHandler((hdl, msg) => server.send(hdl, `special:${msg.text}`));
    });
    const port = await listen(server);
    const special = await wsConnect(`ws://${HOST}:${port}/`);
    await until(() => count === 1);
    const plain = await wsConnect(`ws://${HOST}:${port}/`);
    await until(() => count === 2);
    const a = nextMessage(special);
    const b = nextMessage(plain);
    special.send('x');
    plain.send('y');
    expect((await a).data.toString()).toBe('special:x');
    expect((await b).data.toString()).toBe('endpoint:y');
    // A third connection still gets the endpoint's handler.
    const third = await wsConnect(`ws://${HOST}:${port}/`);
    const c = nextMessage(third);
    third.send('z');
    expect((await c).data.toString()).toBe('endpoint:z');
  });

  it('a close handler set on a connection replaces the endpoint one for it only', async () => {
    const server = new Server(config.minimalTcp);
    const calls: string[] = [];
    server.setCloseHandler(() => void calls.push('endpoint'));
    let n = 0;
    server.setOpenHandler((_hdl, con) => {
      if (++n === 1) con.setCloseHandler(() => void calls.push('own'));
    });
    const port = await listen(server);
    const a = await wsConnect(`ws://${HOST}:${port}/`);
    await until(() => n === 1);
    const b = await wsConnect(`ws://${HOST}:${port}/`);
    await until(() => n === 2);
    a.close();
    await until(() => calls.length === 1);
    b.close();
    await until(() => calls.length === 2);
    expect(calls).toEqual(['own', 'endpoint']);
  });

  it('ping handler returning false suppresses the pong; pong handler sees the payload', async () => {
    const server = new Server(config.minimalTcp);
    const pings: string[] = [];
    server.setPingHandler((_hdl, payload) => {
      pings.push(payload.toString());
      return payload.toString() !== 'no-pong';
    });
    const pong = deferred<string>();
    server.setPongHandler((_hdl, payload) => pong.resolve(payload.toString()));
    const opened = deferred<ConnectionHdl>();
    server.setOpenHandler((hdl) => opened.resolve(hdl));
    const port = await listen(server);
    const ws = await wsConnect(`ws://${HOST}:${port}/`);
    const pongs: string[] = [];
    ws.on('pong', (data) => pongs.push(data.toString()));
    ws.ping('no-pong');
    ws.ping('pong-me');
    await until(() => pongs.length === 1);
    expect(pings).toEqual(['no-pong', 'pong-me']);
    expect(pongs).toEqual(['pong-me']);
    server.ping(await opened.promise, 'from server');
    expect(await pong.promise).toBe('from server');
  });

  it('interrupt() calls the interrupt handler later, on the same connection', async () => {
    const server = new Server(config.minimalTcp);
    const opened = deferred<ConnectionHdl>();
    server.setOpenHandler((hdl) => opened.resolve(hdl));
    const interrupted = deferred<ConnectionHdl>();
    let called = false;
    server.setInterruptHandler((hdl) => {
      called = true;
      interrupted.resolve(hdl);
    });
    const port = await listen(server);
    await wsConnect(`ws://${HOST}:${port}/`);
    const hdl = await opened.promise;
    server.interrupt(hdl);
    expect(called).toBe(false);
    expect(await interrupted.promise).toBe(hdl);
  });
});
