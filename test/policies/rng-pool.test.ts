import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BufferPool, Server, config, extend, logging, pool, rng, type ConnectionHdl } from '../../src/index.js';

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
});
