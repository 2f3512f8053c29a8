/**
 * Fragmented sends (ws's `send(data, { fin })`): one message in several frames, both roles,
 * control frames in between, UTF-8 checked across fragments, other sends refused meanwhile.
 */
import { describe, expect, it } from 'vitest';
import { Client, Server, config, extend, deflate } from '../../src/index.js';
import { closed, connectedPeer, deferred, nextMessage, toBuffer, useCleanup, wsServer } from './helpers.js';

useCleanup();

const GRIN = Buffer.from('😀', 'utf8'); // F0 9F 98 80: a 4-byte code point

describe('fragmented sends', () => {
  it('server → ws client: text bytes split inside a code point arrive as one message; a ping goes in between', async () => {
    const server = new Server(config.minimalTcp);
    const { ws, hdl } = await connectedPeer(server);
    const pinged = new Promise<Buffer>((resolve) => ws.once('ping', resolve));
    const message = nextMessage(ws);

    expect(server.trySendFragment(hdl, Buffer.concat([Buffer.from('say '), GRIN.subarray(0, 2)]), false, 1)).toBeUndefined();
    // The message is open: whole sends wait, a different opcode is refused, control frames go.
    expect(server.trySend(hdl, 'no')?.code).toBe('websocket.invalid_state');
    expect(server.trySendFragment(hdl, Buffer.from('x'), false, 2)?.code).toBe('processor.invalid_arguments');
    expect(server.tryPing(hdl, 'mid')).toBeUndefined();
    expect(server.trySendFragment(hdl, GRIN.subarray(2), false)).toBeUndefined(); // the message's opcode
    expect(server.trySendFragment(hdl, ' twice', true)).toBeUndefined();

    expect((await pinged).toString()).toBe('mid');
    const got = await message;
    expect(got.isBinary).toBe(false);
    expect(got.data.toString('utf8')).toBe('say 😀 twice');
    // Once it ended, whole messages flow again.
    const next = nextMessage(ws);
    expect(server.trySend(hdl, 'after')).toBeUndefined();
    expect((await next).data.toString()).toBe('after');
  });

  it('invalid UTF-8 across text fragments is refused, and nothing of that fragment is sent', async () => {
    const server = new Server(config.minimalTcp);
    const { ws, hdl } = await connectedPeer(server);
    const con = server.getConFromHdl(hdl);
    expect(con.trySendFragment(GRIN.subarray(0, 3), false, 1)).toBeUndefined();
    // A message that ends inside the code point.
    expect(con.trySendFragment(Buffer.alloc(0), true)?.code).toBe('processor.invalid_payload');
    // A stray continuation byte in a new text message.
    const fresh = new Server(config.minimalTcp);
    const { ws: ws2, hdl: freshHdl } = await connectedPeer(fresh);
    expect(fresh.trySendFragment(freshHdl, Buffer.from([0x80]), false, 1)?.code).toBe('processor.invalid_payload');
    ws.close();
    ws2.close();
  });

  it('wspp client → ws server: binary in three fragments, with and without permessage-deflate (fragments go uncompressed)', async () => {
    for (const compress of [false, true]) {
      const { wss, url } = await wsServer({ perMessageDeflate: compress });
      const received = new Promise<{ data: Buffer; isBinary: boolean }>((resolve) =>
        wss.once('connection', (sock) => sock.once('message', (data, isBinary) => resolve({ data: toBuffer(data), isBinary }))),
      );
      const client = new Client(compress ? extend(config.minimalTcpClient, { extensions: { permessageDeflate: deflate() } }) : config.minimalTcpClient);
      const opened = deferred<void>();
      client.setOpenHandler(() => opened.resolve());
      const con = client.getConnection(url as `ws://${string}`);
      client.connect(con);
      await opened.promise;
      const parts = [Buffer.alloc(70_000, 1), Buffer.alloc(10, 2), Buffer.alloc(5000, 3)];
      con.sendFragment(parts[0]!, false, 2);
      con.sendFragment(parts[1]!, false);
      con.sendFragment(parts[2]!, true);
      const got = await received;
      expect(got.isBinary).toBe(true);
      expect(got.data.equals(Buffer.concat(parts))).toBe(true);
      con.close(1000);
    }
  });

  it('by handle after the connection closed: bad_connection', async () => {
    const server = new Server(config.minimalTcp);
    const gone = deferred<void>();
    server.setCloseHandler(() => gone.resolve());
    const { ws, hdl } = await connectedPeer(server);
    const wsClosed = closed(ws);
    ws.close(1000);
    await gone.promise;
    await wsClosed;
    expect(server.trySendFragment(hdl, 'late', true)?.code).toBe('websocket.bad_connection');
    expect(() => server.sendFragment(hdl, 'late', true)).toThrow(/bad_connection|Bad Connection/i);
  });
});
