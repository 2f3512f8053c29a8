/**
 * Backpressure: bufferedAmount, the drain handler, and the slow-consumer policy against a
 * peer that stops reading (a raw socket, paused).
 */
import { describe, expect, it } from 'vitest';
import { Server, config, extend, type ConnectionHdl } from '../../src/index.js';
import { gc } from '../robustness/helpers.js';
import { HOST, deferred, listen, rawPeer, sleep, useCleanup, wsConnect } from './helpers.js';

useCleanup();

const MiB = 1 << 20;

/** Stop parsing (and buffering) what the server sends: just discard it when reading. */
function discardInput(socket: import('node:net').Socket): void {
  socket.removeAllListeners('data');
  socket.on('data', () => undefined);
}

describe('backpressure', () => {
  it('bufferedAmount grows while the peer does not read; the drain handler runs once it reads again', async () => {
    const server = new Server(extend(config.minimalTcp, { sendQueueHighWaterMark: 256 * 1024 }));
    const opened = deferred<ConnectionHdl>();
    server.setOpenHandler((hdl) => opened.resolve(hdl));
    const drained = deferred<number>();
    server.setDrainHandler((_hdl, con) => drained.resolve(con.bufferedAmount));
    const port = await listen(server);
    const peer = await rawPeer(port);
    discardInput(peer.socket);
    peer.socket.pause();
    const hdl = await opened.promise;
    const con = server.getConFromHdl(hdl);
    expect(con.bufferedAmount).toBe(0);

    const chunk = Buffer.alloc(MiB, 1);
    for (let i = 0; i < 12; i++) server.send(hdl, chunk);
    await sleep(100); // let the kernel take what it will
    const first = con.bufferedAmount;
    expect(first).toBeGreaterThan(MiB);
    for (let i = 0; i < 4; i++) server.send(hdl, chunk);
    await sleep(20);
    const second = con.bufferedAmount;
    expect(second).toBeGreaterThan(first);
    expect(con.state).toBe('open');

    peer.socket.resume();
    expect(await drained.promise).toBe(0);
    expect(con.bufferedAmount).toBe(0);
    expect(con.state).toBe('open');
  });

  it('slowConsumer { limit: 1 MiB, closeCode: 1008 } closes a peer that stops reading while 1 GiB is offered; queue and RSS stay bounded', async () => {
    const server = new Server(extend(config.minimalTcp, { slowConsumer: { limit: MiB, closeCode: 1008 } }));
    const opened = deferred<ConnectionHdl>();
    server.setOpenHandler((hdl) => opened.resolve(hdl));
    const closedInfo = deferred<{ local: number; localReason: string; ec: string | undefined; state: string }>();
    server.setCloseHandler((_hdl, con) =>
      closedInfo.resolve({ local: con.getLocalCloseCode(), localReason: con.getLocalCloseReason(), ec: con.getEc()?.code, state: con.state }),
    );
    const port = await listen(server);
    const peer = await rawPeer(port);
    discardInput(peer.socket);
    peer.socket.pause();
    const hdl = await opened.promise;

    gc();
    const rssBefore = process.memoryUsage.rss();
    let peakRss = rssBefore;
    let offered = 0;
    let sent = 0;
    let maxQueued = 0;
    let refused: string | undefined;
    const con = server.getConFromHdl(hdl);
    const target = 1024 * MiB;
    // The application offers 1 GiB in fresh 64 KiB payloads, 1 MiB per turn of the event
    // loop, and goes on offering after the connection is gone (refused sends cost nothing).
    while (offered < target) {
      for (let i = 0; i < 16; i++) {
        offered += 64 * 1024;
        const err = server.trySend(hdl, Buffer.alloc(64 * 1024, i));
        if (err === undefined) {
          sent += 64 * 1024;
          maxQueued = Math.max(maxQueued, con.bufferedAmount);
        } else refused ??= err.code;
      }
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
      await new Promise((r) => setImmediate(r));
    }
    const growth = peakRss - rssBefore;
    console.info(`[backpressure] offered ${offered / MiB} MiB, sent ${sent / MiB} MiB before the close; most queued ${(maxQueued / MiB).toFixed(2)} MiB; peak RSS growth ${(growth / MiB).toFixed(1)} MiB`);

    expect(await closedInfo.promise).toEqual({ local: 1008, localReason: 'slow consumer', ec: 'websocket.slow_consumer', state: 'closed' });
    expect(refused).toBe('websocket.bad_connection');
    // Never more queued than the limit plus the message that crossed it.
    expect(maxQueued).toBeLessThanOrEqual(MiB + 64 * 1024);
    // RSS: the limit, plus a constant for garbage payloads the GC has not collected yet
    // (the 1 GiB offered would show; a queue without a bound would hold all of it).
    expect(growth).toBeLessThan(MiB + 128 * MiB);
    // Reading again, the peer finds the connection gone.
    peer.socket.resume();
    await peer.closedPromise;
  });

  it('a sender that waits for drain is never cut by the slow-consumer policy', async () => {
    const server = new Server(extend(config.minimalTcp, { sendQueueHighWaterMark: 256 * 1024, slowConsumer: { limit: MiB, closeCode: 1013 } }));
    const opened = deferred<ConnectionHdl>();
    server.setOpenHandler((hdl) => opened.resolve(hdl));
    let waiting: (() => void) | undefined;
    server.setDrainHandler(() => {
      const w = waiting;
      waiting = undefined;
      w?.();
    });
    let closedCode = 0;
    server.setCloseHandler((_hdl, con) => void (closedCode = con.getLocalCloseCode()));
    const port = await listen(server);
    const ws = await wsConnect(`ws://${HOST}:${port}/`);
    let received = 0;
    const total = 16 * MiB;
    const all = deferred<void>();
    ws.on('message', (data: Buffer) => {
      received += data.length;
      if (received === total) all.resolve();
    });
    const hdl = await opened.promise;
    const con = server.getConFromHdl(hdl);
    for (let sent = 0; sent < total; sent += 64 * 1024) {
      server.send(hdl, Buffer.alloc(64 * 1024, 3));
      if (con.bufferedAmount > 256 * 1024) await new Promise<void>((r) => (waiting = r));
    }
    await all.promise;
    expect(received).toBe(total);
    expect(closedCode).toBe(0);
    expect(con.state).toBe('open');
  });
});
