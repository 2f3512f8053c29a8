/**
 * Frame abuse against a wspp server (and a few against a wspp client): absurd lengths,
 * messages that grow past maxMessageSize, floods of tiny fragments, oversized and
 * fragmented control frames, interleaved data opcodes, invalid UTF-8 in text and in
 * close reasons. Each one must end the abusive connection with the right close code
 * (or a drop) and leave a bystander connection on the same server serving.
 */
import { once } from 'node:events';
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { Client, Server, config, extend } from '../../src/index.js';
import {
  HOST,
  cleanup,
  connectedPeer,
  deferred,
  listen,
  nextMessage,
  rawPeer,
  trackCon,
  acceptFor,
  useCleanup,
  wsConnect,
} from '../integration/helpers.js';
import { KiB, MiB, type Settings, closePayload, clientFrame, header64, nonMinimalFrame, rawOutcome, serverFrame } from './helpers.js';

useCleanup();

interface ServerView {
  localCode: number;
  localReason: string;
  remoteCode: number;
  ec: string | undefined;
  state: string;
  messages: number;
}

/** An echo server with a bystander ws client already connected; `/abuse` is the victim path. */
async function setup(overrides: Settings = {}) {
  const server = new Server(extend(config.minimalTcp, overrides));
  const abused = deferred<ServerView>();
  let messages = 0;
  let closes = 0;
  server.setMessageHandler((hdl, msg, con) => {
    if (con.getResource() === '/abuse') messages++;
    server.send(hdl, msg.payload, msg.opcode);
  });
  server.setCloseHandler((_hdl, con) => {
    if (con.getResource() !== '/abuse') return;
    closes++;
    abused.resolve({
      localCode: con.getLocalCloseCode(),
      localReason: con.getLocalCloseReason(),
      remoteCode: con.getRemoteCloseCode(),
      ec: con.getEc()?.code,
      state: con.state,
      messages,
    });
  });
  const port = await listen(server);
  const bystander = await wsConnect(`ws://${HOST}:${port}/bystander`);
  return {
    server,
    port,
    abused: abused.promise,
    closes: () => closes,
    /** The bystander still gets its echo. */
    async bystanderServed(): Promise<void> {
      const got = nextMessage(bystander);
      bystander.send('still here 😀');
      expect((await got).data.toString()).toBe('still here 😀');
    },
  };
}

/** Connect to /abuse, write the bytes, report how it ended on both sides. */
async function abuse(overrides: Settings, ...chunks: Buffer[]) {
  const s = await setup(overrides);
  const peer = await rawPeer(s.port, '/abuse');
  for (const c of chunks) peer.socket.write(c);
  const outcome = await rawOutcome(peer);
  const view = await s.abused;
  await s.bystanderServed();
  expect(s.closes()).toBe(1);
  return { outcome, view, peer, s };
}

describe('frame abuse: lengths and sizes', () => {
  it('a 2^63-1 length header: closed with 1009 at the header, no payload awaited', async () => {
    const { outcome, view } = await abuse({}, header64(0x2, 2n ** 63n - 1n));
    expect(outcome).toMatchObject({ closeCode: 1009, socketClosed: true });
    expect(view).toMatchObject({ localCode: 1009, ec: 'processor.requires_64bit', state: 'closed', messages: 0 });
  });

  it('a 64-bit length with the most significant bit set: 1002', async () => {
    const { outcome, view } = await abuse({}, header64(0x2, 2n ** 64n - 1n));
    expect(outcome.closeCode).toBe(1002);
    expect(view).toMatchObject({ localCode: 1002, ec: 'processor.protocol_violation' });
  });

  it('a non-minimal length encoding: 1002', async () => {
    const { outcome, view } = await abuse({}, nonMinimalFrame(0x2, Buffer.alloc(10)));
    expect(outcome.closeCode).toBe(1002);
    expect(view.ec).toBe('processor.non_minimal_encoding');
  });

  it('a fragmented message growing past maxMessageSize: 1009 at the crossing frame header, nothing buffered past it', async () => {
    const limit = 1 * MiB;
    const s = await setup({ maxMessageSize: limit });
    const peer = await rawPeer(s.port, '/abuse');
    // Four 256 KiB fragments reach the limit exactly; then a fragment *claiming* 1 GiB.
    for (let i = 0; i < 4; i++) peer.socket.write(clientFrame(i === 0 ? 0x2 : 0x0, Buffer.alloc(256 * KiB, i), { fin: false }));
    peer.socket.write(header64(0x0, BigInt(1024 * MiB), false));
    // The 1 GiB never comes: the server must decide at the header.
    const outcome = await rawOutcome(peer);
    expect(outcome).toMatchObject({ closeCode: 1009, socketClosed: true });
    expect(await s.abused).toMatchObject({ localCode: 1009, ec: 'processor.message_too_big', messages: 0 });
    await s.bystanderServed();
  });

  it('a whole message one byte over maxMessageSize: 1009; exactly at it: delivered', async () => {
    const s = await setup({ maxMessageSize: 64 * KiB });
    const ok = await rawPeer(s.port, '/ok');
    ok.socket.write(clientFrame(0x2, Buffer.alloc(64 * KiB, 1)));
    expect((await ok.nextFrame(0x2)).payload.length).toBe(64 * KiB);
    const peer = await rawPeer(s.port, '/abuse');
    peer.socket.write(clientFrame(0x2, Buffer.alloc(64 * KiB + 1, 1)));
    expect((await rawOutcome(peer)).closeCode).toBe(1009);
    expect((await s.abused).ec).toBe('processor.message_too_big');
  });

  it('100,000 one-byte fragments: 1009 once maxFragments (16,384) is passed', async () => {
    const frames: Buffer[] = [];
    for (let i = 0; i < 100_000; i++) frames.push(clientFrame(i === 0 ? 0x2 : 0x0, Buffer.of(i & 0xff), { fin: i === 99_999 }));
    const { outcome, view } = await abuse({}, Buffer.concat(frames));
    expect(outcome.closeCode).toBe(1009);
    expect(view).toMatchObject({ localCode: 1009, ec: 'processor.too_many_fragments', messages: 0 });
  });

  it('100,000 one-byte fragments under maxFragments 200,000: one intact message', async () => {
    const s = await setup({ maxFragments: 200_000 });
    const peer = await rawPeer(s.port, '/abuse');
    const frames: Buffer[] = [];
    const expected = Buffer.alloc(100_000);
    for (let i = 0; i < 100_000; i++) {
      expected[i] = (i * 7) & 0xff;
      frames.push(clientFrame(i === 0 ? 0x2 : 0x0, Buffer.of(expected[i]!), { fin: i === 99_999 }));
    }
    peer.socket.write(Buffer.concat(frames));
    const echo = await peer.nextFrame(0x2);
    expect(echo.payload.equals(expected)).toBe(true);
    await s.bystanderServed();
  });
});

describe('frame abuse: control frames and opcodes', () => {
  it.each([
    ['ping', 0x9],
    ['pong', 0xa],
    ['close', 0x8],
  ])('a %s frame of 126 bytes: 1002', async (_name, opcode) => {
    const payload = opcode === 0x8 ? closePayload(1000, 'x'.repeat(124)) : Buffer.alloc(126, 0x61);
    const { outcome, view } = await abuse({}, clientFrame(opcode, payload));
    expect(outcome.closeCode).toBe(1002);
    expect(view).toMatchObject({ localCode: 1002, ec: 'processor.control_too_big' });
  });

  it('a fragmented ping (fin = 0): 1002', async () => {
    const { outcome, view } = await abuse({}, clientFrame(0x9, 'x', { fin: false }));
    expect(outcome.closeCode).toBe(1002);
    expect(view.ec).toBe('processor.fragmented_control');
  });

  it('interleaved data opcodes: a text message started, then a binary frame: 1002', async () => {
    const { outcome, view } = await abuse({}, clientFrame(0x1, 'part one', { fin: false }), clientFrame(0x2, 'intruder'));
    expect(outcome.closeCode).toBe(1002);
    expect(view).toMatchObject({ ec: 'processor.invalid_continuation', messages: 0 });
  });

  it('interleaved data opcodes: two text messages started at once: 1002', async () => {
    const { outcome, view } = await abuse({}, clientFrame(0x1, 'one', { fin: false }), clientFrame(0x1, 'two', { fin: false }));
    expect(outcome.closeCode).toBe(1002);
    expect(view.ec).toBe('processor.invalid_continuation');
  });

  it('a continuation frame with no message to continue: 1002', async () => {
    const { outcome, view } = await abuse({}, clientFrame(0x0, 'orphan'));
    expect(outcome.closeCode).toBe(1002);
    expect(view.ec).toBe('processor.invalid_continuation');
  });

  it('control frames between fragments are fine (ping answered mid-message)', async () => {
    const s = await setup();
    const peer = await rawPeer(s.port, '/ok');
    peer.socket.write(Buffer.concat([clientFrame(0x1, 'a', { fin: false }), clientFrame(0x9, 'mid'), clientFrame(0x0, 'b')]));
    expect((await peer.nextFrame(0xa)).payload.toString()).toBe('mid');
    expect((await peer.nextFrame(0x1)).payload.toString()).toBe('ab');
  });

  it.each([3, 7, 0xb, 0xf])('reserved opcode %i: 1002', async (opcode) => {
    const { outcome, view } = await abuse({}, clientFrame(opcode, 'x'));
    expect(outcome.closeCode).toBe(1002);
    expect(view.ec).toBe('processor.invalid_opcode');
  });

  it('RSV bits without a negotiated extension: 1002', async () => {
    const { outcome, view } = await abuse({}, clientFrame(0x1, 'x', { rsv: 0x40 }));
    expect(outcome.closeCode).toBe(1002);
    expect(view.ec).toBe('processor.invalid_rsv_bit');
  });

  it('an unmasked client frame: 1002', async () => {
    const { outcome, view } = await abuse({}, serverFrame(0x1, 'naked'));
    expect(outcome.closeCode).toBe(1002);
    expect(view.ec).toBe('processor.masking_required');
  });
});

describe('frame abuse: UTF-8', () => {
  const invalid: [string, Buffer][] = [
    ['a lone continuation byte', Buffer.from([0x61, 0x80])],
    ['an overlong encoding of "/"', Buffer.from([0xc0, 0xaf])],
    ['a UTF-16 surrogate (U+D800)', Buffer.from([0xed, 0xa0, 0x80])],
    ['a code point above U+10FFFF', Buffer.from([0xf4, 0x90, 0x80, 0x80])],
    ['a 0xFF byte', Buffer.from([0xff])],
  ];

  it.each(invalid)('text with %s: 1007', async (_name, bytes) => {
    const { outcome, view } = await abuse({}, clientFrame(0x1, Buffer.concat([Buffer.from('ok '), bytes])));
    expect(outcome.closeCode).toBe(1007);
    expect(view).toMatchObject({ localCode: 1007, ec: 'processor.invalid_utf8', messages: 0 });
  });

  it('text truncated inside a 4-byte code point at the end of the message: 1007', async () => {
    const { outcome, view } = await abuse({}, clientFrame(0x1, Buffer.from([0x61, 0xf0, 0x9f, 0x98])));
    expect(outcome.closeCode).toBe(1007);
    expect(view.ec).toBe('processor.invalid_utf8');
  });

  it('invalid UTF-8 in the first fragment is refused before the message ends (fail fast)', async () => {
    const s = await setup();
    const peer = await rawPeer(s.port, '/abuse');
    peer.socket.write(clientFrame(0x1, Buffer.from([0x61, 0xc0, 0xaf]), { fin: false }));
    // No final fragment is ever sent.
    expect((await rawOutcome(peer)).closeCode).toBe(1007);
    expect((await s.abused).ec).toBe('processor.invalid_utf8');
  });

  it('a 4-byte code point split across fragments is valid', async () => {
    const s = await setup();
    const peer = await rawPeer(s.port, '/ok');
    const smile = Buffer.from('😀');
    peer.socket.write(Buffer.concat([clientFrame(0x1, smile.subarray(0, 1), { fin: false }), clientFrame(0x0, smile.subarray(1, 3), { fin: false }), clientFrame(0x0, smile.subarray(3))]));
    expect((await peer.nextFrame(0x1)).payload.toString()).toBe('😀');
  });

  it('invalid UTF-8 in a close reason: 1007', async () => {
    const { outcome, view } = await abuse({}, clientFrame(0x8, closePayload(1000, Buffer.from([0x62, 0x79, 0x65, 0xc3, 0x28]))));
    expect(outcome.closeCode).toBe(1007);
    expect(view).toMatchObject({ localCode: 1007, ec: 'processor.invalid_utf8' });
  });

  it.each([
    ['999', 999],
    ['1004 (reserved)', 1004],
    ['1005 (never on the wire)', 1005],
    ['1006 (never on the wire)', 1006],
    ['1015 (never on the wire)', 1015],
    ['2999 (reserved)', 2999],
    ['5000', 5000],
  ])('a close frame with code %s: 1002', async (_name, code) => {
    const { outcome, view } = await abuse({}, clientFrame(0x8, closePayload(code, 'x')));
    expect(outcome.closeCode).toBe(1002);
    expect(view.localCode).toBe(1002);
  });

  it('a close frame with a 1-byte payload: 1002', async () => {
    const { outcome, view } = await abuse({}, clientFrame(0x8, Buffer.of(0x03)));
    expect(outcome.closeCode).toBe(1002);
    expect(view.ec).toBe('processor.invalid_close_payload');
  });
});

describe('frame abuse against the wspp client', () => {
  /** A raw server that completes the handshake, then writes `bytes`. */
  async function rawServer(bytes: Buffer) {
    const server = net.createServer((socket) => {
      socket.on('error', () => undefined);
      cleanup.socket(() => socket.destroy());
      let head = '';
      socket.on('data', (chunk: Buffer) => {
        if (head.includes('\r\n\r\n')) return;
        head += chunk.toString('latin1');
        const key = /sec-websocket-key: *(\S+)/i.exec(head)?.[1];
        if (!head.includes('\r\n\r\n') || key === undefined) return;
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`);
        socket.write(bytes);
      });
    });
    server.listen(0, HOST);
    await once(server, 'listening');
    cleanup.server(() => new Promise<void>((r) => server.close(() => r())));
    return (server.address() as net.AddressInfo).port;
  }

  async function clientOutcome(bytes: Buffer) {
    const port = await rawServer(bytes);
    const client = new Client(config.minimalTcpClient);
    const con = client.getConnection(`ws://${HOST}:${port}/`);
    trackCon(con);
    const closed = deferred<{ local: number; ec: string | undefined; state: string }>();
    let calls = 0;
    con.setCloseHandler((_h, c) => {
      calls++;
      closed.resolve({ local: c.getLocalCloseCode(), ec: c.getEc()?.code, state: c.state });
    });
    con.setFailHandler(() => closed.reject(new Error('failed instead of closing')));
    client.connect(con);
    const result = await closed.promise;
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toBe(1);
    return result;
  }

  it('a masked server frame: 1002', async () => {
    expect(await clientOutcome(clientFrame(0x1, 'masked'))).toMatchObject({ local: 1002, ec: 'processor.masking_forbidden' });
  });

  it('a 2^63-1 length header from the server: 1009', async () => {
    expect(await clientOutcome(header64(0x2, 2n ** 63n - 1n, true, false))).toMatchObject({ local: 1009, ec: 'processor.requires_64bit' });
  });

  it('invalid UTF-8 text from the server: 1007', async () => {
    expect(await clientOutcome(serverFrame(0x1, Buffer.from([0xc0, 0xaf])))).toMatchObject({ local: 1007, ec: 'processor.invalid_utf8' });
  });
});

describe('what wspp sends', () => {
  // A Buffer sent as text is checked (WebSocket++ refuses it in prepare_data_frame with
  // error::invalid_payload; RFC 6455 5.6 makes text payloads UTF-8).
  it('a text message of invalid UTF-8 is refused with a 1007-class error; nothing is sent; the connection stays open', async () => {
    const server = new Server(config.minimalTcp);
    const { ws, hdl } = await connectedPeer(server);
    const err = server.trySend(hdl, Buffer.from([0x61, 0xff]), 1);
    expect(err?.closeCode).toBe(1007);
    // Nothing went out: the peer is still open and gets the next message.
    const got = nextMessage(ws);
    server.send(hdl, 'after');
    expect((await got).data.toString()).toBe('after');
  });
});
