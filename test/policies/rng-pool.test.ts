import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BufferPool, Server, config, deflate, extend, logging, pool, rng, type ConnectionHdl } from '../../src/index.js';

describe('rng policies', () => {
  it('crypto fills exactly the requested range', () => {
    const fill = rng.crypto().create();
    const buf = new Uint8Array(64);
    fill(buf, 8, 16);
    expect(buf.subarray(0, 8).every((b) => b === 0)).toBe(true);
    expect(buf.subarray(24).every((b) => b === 0)).toBe(true);
    expect(buf.subarray(8, 24).some((b) => b !== 0)).toBe(true);
  });

  it('pooled never hands out the same bytes twice, across block refills', () => {
    const fill = rng.pooled(64).create();
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const key = new Uint8Array(8);
      fill(key, 0, 8);
      seen.add(Buffer.from(key).toString('hex'));
    }
    // 1000 draws of 64 random bits: a repeat would mean reused bytes.
    expect(seen.size).toBe(1000);
    const big = new Uint8Array(200);
    fill(big, 0, 200); // larger than a block: drawn directly
    expect(big.some((b) => b !== 0)).toBe(true);
  });

  it('pooled rejects silly block sizes', () => {
    expect(() => rng.pooled(8)).toThrow(RangeError);
  });
});

describe('message pool', () => {
  it('BufferPool is bounded: beyond capacity, released buffers are dropped', () => {
    const p = new BufferPool(1024, 2);
    const a = p.acquire();
    const b = p.acquire();
    const c = p.acquire();
    expect(p.outstanding).toBe(3);
    p.release(a);
    p.release(b);
    p.release(c);
    expect(p.available).toBe(2);
    expect(p.acquire()).toBe(b);
  });

  it('a forfeited buffer is never handed out again, and is no longer a lent payload', () => {
    const p = new BufferPool(1024, 4);
    const a = p.acquire();
    const view = a.subarray(0, 10);
    expect(p.lends(view)).toBe(true);
    p.forfeit(view);
    expect(p.lends(view)).toBe(false);
    p.release(a);
    expect(p.outstanding).toBe(0);
    expect(p.available).toBe(0);
    expect(p.acquire()).not.toBe(a);
  });

  it('pool() validates its options', () => {
    expect(() => pool({ buffers: 0 })).toThrow(RangeError);
    expect(() => pool({ size: 10 })).toThrow(RangeError);
    expect(pool()).toMatchObject({ kind: 'pool', buffers: 256, size: 65536 });
  });

  const servers: { stop(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.stop();
  });

  it('a message reassembled from fragments is lent from the pool, reused for the next, and retain() copies', async () => {
    const server = new Server(
      extend(config.minimalTcp, { messagePool: pool({ buffers: 4, size: 4096 }), logging: { access: logging.stub(), error: logging.stub() } }),
    );
    servers.push(server);
    const backings: ArrayBufferLike[] = [];
    const retained: string[] = [];
    const lent: boolean[] = [];
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    server.setMessageHandler((_hdl: ConnectionHdl, msg) => {
      backings.push(msg.payload.buffer);
      lent.push(msg.lent);
      retained.push(msg.retain().text);
      if (backings.length === 2) done();
    });
    const { port } = await server.listen(0, '127.0.0.1');
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    await new Promise((r) => ws.on('open', r));
    // Two fragmented messages: each is joined in a pooled buffer.
    for (const text of ['first message', 'second message']) {
      ws.send(text.slice(0, 5), { fin: false });
      ws.send(text.slice(5), { fin: true });
    }
    await all;
    ws.close();
    expect(lent).toEqual([true, true]);
    expect(retained).toEqual(['first message', 'second message']);
    // The second message was joined in the buffer the first one gave back.
    expect(backings[1]).toBe(backings[0]);
  });

  /** An echo server whose writes are watched: what each socket.write() got, and what stayed queued. */
  async function watchedEcho(options: { deflate?: boolean } = {}) {
    const server = new Server(
      extend(config.minimalTcp, {
        messagePool: pool({ buffers: 4, size: 64 * 1024 }),
        logging: { access: logging.stub(), error: logging.stub() },
        ...(options.deflate ? { extensions: { permessageDeflate: deflate({ threshold: 0 }) } } : {}),
      }),
    );
    servers.push(server);
    const writes: { buffer: ArrayBufferLike; queued: number }[] = [];
    server.setSocketInitHandler((_hdl, socket) => {
      // What stays queued once the bytes went out: after the write, or after the uncork
      // of a corked write (header and payload go out together).
      let corked: { buffer: ArrayBufferLike; queued: number }[] = [];
      const write = socket.write.bind(socket) as (data: Uint8Array) => boolean;
      socket.write = ((data: Uint8Array) => {
        const ok = write(data);
        const entry = { buffer: data.buffer, queued: socket.writableLength };
        writes.push(entry);
        if (socket.writableCorked > 0) corked.push(entry);
        return ok;
      }) as typeof socket.write;
      const uncork = socket.uncork.bind(socket);
      socket.uncork = () => {
        uncork();
        if (socket.writableCorked === 0) {
          for (const entry of corked) entry.queued = socket.writableLength;
          corked = [];
        }
      };
    });
    const backings: ArrayBufferLike[] = [];
    server.setMessageHandler((hdl, msg) => {
      backings.push(msg.payload.buffer);
      server.send(hdl, msg.payload, msg.opcode);
    });
    const { port } = await server.listen(0, '127.0.0.1');
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: options.deflate === true });
    await new Promise((r) => ws.on('open', r));
    return { ws, writes, backings };
  }

  /**
   * Three fragments of 8 KiB filled with `fill`: joined in a pooled buffer on the server,
   * and echoed as a payload large enough (over 16 KiB) to be written as it is.
   */
  const FRAGMENT = 8 * 1024;
  function sendFragmented(ws: WebSocket, fill: number): void {
    for (let f = 0; f < 3; f++) ws.send(Buffer.alloc(FRAGMENT, fill), { fin: f === 2, compress: false });
  }

  /** Sends `count` fragmented messages back to back; every echo must come back whole, in order. */
  async function expectEchoedIntact(ws: WebSocket, count: number): Promise<void> {
    const echoes: Buffer[] = [];
    const all = new Promise<void>((r) =>
      ws.on('message', (d: Buffer) => {
        echoes.push(d);
        if (echoes.length === count) r();
      }),
    );
    for (let i = 0; i < count; i++) sendFragmented(ws, i);
    await all;
    ws.close();
    expect(echoes.map((e, i) => e.length === 3 * FRAGMENT && e.every((b) => b === i))).toEqual(Array(count).fill(true));
  }

  it('an echoed lent payload is written without a copy, and its buffer is reused once the write completed', async () => {
    const { ws, writes, backings } = await watchedEcho();
    const echoes: Buffer[] = [];
    for (let i = 0; i < 20; i++) {
      const got = new Promise<Buffer>((r) => ws.once('message', (d: Buffer) => r(d)));
      sendFragmented(ws, i);
      echoes.push(await got);
    }
    ws.close();
    expect(echoes.map((e, i) => e.length === 3 * FRAGMENT && e.every((b) => b === i))).toEqual(Array(20).fill(true));
    // Every payload reached the socket as the pooled buffer itself.
    for (const backing of backings) expect(writes.some((w) => w.buffer === backing)).toBe(true);
    // A payload whose write left nothing queued went back to the pool: the next message
    // was joined in the same buffer. (One still queued would have been forfeited.)
    for (let i = 1; i < backings.length; i++) {
      const write = writes.find((w) => w.buffer === backings[i - 1])!;
      if (write.queued === 0) expect(backings[i]).toBe(backings[i - 1]);
      else expect(backings[i]).not.toBe(backings[i - 1]);
    }
    expect(writes.filter((w) => backings.includes(w.buffer) && w.queued === 0).length).toBeGreaterThan(0);
  });

  it('a lent payload echoed compressed is kept by the compressor: never reused, every echo intact', async () => {
    const { ws, backings } = await watchedEcho({ deflate: true });
    // Back to back: the compressor still holds a payload when the next message arrives.
    await expectEchoedIntact(ws, 40);
    expect(new Set(backings).size).toBe(40);
  });

  it('a prepared message made from a lent payload stays valid after the handler', async () => {
    const server = new Server(
      extend(config.minimalTcp, { messagePool: pool({ buffers: 4, size: 64 * 1024 }), logging: { access: logging.stub(), error: logging.stub() } }),
    );
    servers.push(server);
    server.setMessageHandler((hdl, msg) => {
      const prepared = server.prepare(msg.payload, msg.opcode);
      setTimeout(() => server.send(hdl, prepared), 20); // after further messages reused the pool
    });
    const { port } = await server.listen(0, '127.0.0.1');
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    await new Promise((r) => ws.on('open', r));
    await expectEchoedIntact(ws, 10);
  });
});
