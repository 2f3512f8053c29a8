/**
 * Concurrency policies over real sockets: `serialized` awaits async handlers in order
 * and pauses reading meanwhile; `none` runs handlers inline.
 */
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Server, concurrency, config, extend } from '../../src/index.js';
import { HOST, closed, deferred, listen, sleep, until, useCleanup, wsConnect } from './helpers.js';

useCleanup();

const COUNT = 1000;

describe('concurrency: serialized', () => {
  it('1000 messages through an async handler with random 0-3 ms delays arrive in order, one at a time, reading paused meanwhile', async () => {
    const server = new Server(extend(config.minimalTcp, { concurrency: concurrency.serialized }));
    const socket = deferred<Socket>();
    server.setSocketInitHandler((_hdl, s) => socket.resolve(s));
    const received: number[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    let pausedWhilePending = 0;
    let notPausedWhilePending = 0;
    server.setMessageHandler(async (_hdl, msg) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await sleep(Math.floor(Math.random() * 4));
      // The connection stopped reading while this handler is pending.
      if ((await socket.promise).isPaused()) pausedWhilePending++;
      else notPausedWhilePending++;
      received.push(Number(msg.text));
      inFlight--;
    });
    const port = await listen(server);
    const ws = await wsConnect(`ws://${HOST}:${port}/`);
    for (let i = 0; i < COUNT; i++) ws.send(String(i));
    await until(() => received.length === COUNT, 10);
    expect(received).toEqual(Array.from({ length: COUNT }, (_, i) => i));
    expect(maxInFlight).toBe(1);
    expect(notPausedWhilePending).toBe(0);
    expect(pausedWhilePending).toBe(COUNT);
    // Reading resumes once the last handler settled.
    await sleep(5);
    expect((await socket.promise).isPaused()).toBe(false);
  });

  it('an async open handler finishes before the first message is delivered', async () => {
    const server = new Server(extend(config.minimalTcp, { concurrency: concurrency.serialized }));
    const events: string[] = [];
    server.setOpenHandler(async () => {
      events.push('open start');
      await sleep(30);
      events.push('open end');
    });
    const got = deferred<void>();
    server.setMessageHandler((_hdl, msg) => {
      events.push(`message ${msg.text}`);
      got.resolve();
    });
    const port = await listen(server);
    const ws = await wsConnect(`ws://${HOST}:${port}/`);
    ws.send('first');
    await got.promise;
    expect(events).toEqual(['open start', 'open end', 'message first']);
  });

  it('a rejected async message handler closes the connection with 1011', async () => {
    const server = new Server(extend(config.minimalTcp, { concurrency: concurrency.serialized }));
    server.setMessageHandler(async () => {
      await sleep(1);
      throw new Error('handler failed');
    });
    const port = await listen(server);
    const ws = await wsConnect(`ws://${HOST}:${port}/`);
    const wsClosed = closed(ws);
    ws.send('boom');
    expect((await wsClosed).code).toBe(1011);
  });

  it('pauseReading() by the user is kept after a pending handler settles', async () => {
    const server = new Server(extend(config.minimalTcp, { concurrency: concurrency.serialized }));
    const seen: string[] = [];
    server.setMessageHandler(async (hdl, msg) => {
      seen.push(msg.text);
      if (msg.text === 'pause') server.pauseReading(hdl);
      await sleep(5);
    });
    const opened = deferred<import('../../src/index.js').ConnectionHdl>();
    server.setOpenHandler((hdl) => opened.resolve(hdl));
    const port = await listen(server);
    const ws = await wsConnect(`ws://${HOST}:${port}/`);
    const hdl = await opened.promise;
    ws.send('pause');
    ws.send('after');
    await until(() => seen.length === 1);
    await sleep(50);
    expect(seen).toEqual(['pause']);
    server.resumeReading(hdl);
    await until(() => seen.length === 2);
    expect(seen).toEqual(['pause', 'after']);
  });
});

describe('concurrency: none', () => {
  it('handlers run inline as frames are parsed: async work started by them overlaps', async () => {
    const server = new Server(config.minimalTcp);
    const arrived: number[] = [];
    let done = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    server.setMessageHandler((_hdl, msg) => {
      arrived.push(Number(msg.text));
      // Under `none` a handler returns void; async work it starts is not awaited.
      void (async () => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await sleep(Math.floor(Math.random() * 4));
        inFlight--;
        done++;
      })();
    });
    const port = await listen(server);
    const ws = await wsConnect(`ws://${HOST}:${port}/`);
    for (let i = 0; i < COUNT; i++) ws.send(String(i));
    await until(() => done === COUNT, 10);
    // Delivery is still in order; completion is not serialized.
    expect(arrived).toEqual(Array.from({ length: COUNT }, (_, i) => i));
    expect(maxInFlight).toBeGreaterThan(1);
  });

  it('an async function given to a none endpoint is not awaited (in-flight overlaps)', async () => {
    const server = new Server(config.minimalTcp);
    let inFlight = 0;
    let maxInFlight = 0;
    let done = 0;
    const handler = async (): Promise<void> => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await sleep(2);
      inFlight--;
      done++;
    };
    // The types refuse an async handler under `none`; plain JavaScript can still pass one.
    (server.setMessageHandler as (h: unknown) => void)(handler);
    const port = await listen(server);
    const ws = await wsConnect(`ws://${HOST}:${port}/`);
    for (let i = 0; i < 100; i++) ws.send(String(i));
    await until(() => done === 100, 10);
    expect(maxInFlight).toBeGreaterThan(1);
  });
});
