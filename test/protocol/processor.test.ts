import { describe, expect, it } from 'vitest';
import { Opcode } from '../../src/protocol/constants.js';
import { WsppError } from '../../src/protocol/errors.js';
import { ClientProcessor, ServerProcessor } from '../../src/protocol/processor.js';
import { clientFrame, serverFrame } from './helpers.js';
import { makePair, openPair, random, Side } from './pair.js';

const VALID_SEND_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];

describe('opening handshake through buffers', () => {
  it('opens both sides and negotiates a subprotocol', () => {
    const pair = makePair({
      client: { subprotocols: ['chat', 'superchat'], resource: '/room?x=1', origin: 'http://example.com' },
      setup: (s) => {
        s.onUpgradeRequest = (req) => {
          expect(req.resource).toBe('/room?x=1');
          expect(req.origin).toBe('http://example.com');
          expect(req.subprotocols).toEqual(['chat', 'superchat']);
          expect(pair.server.accept({ subprotocol: 'superchat', server: 'wspp-test' })).toBeUndefined();
        };
      },
    });
    pair.client.start();
    pair.pump();
    expect(pair.client.state).toBe('open');
    expect(pair.server.state).toBe('open');
    expect(pair.client.subprotocol).toBe('superchat');
    expect(pair.server.subprotocol).toBe('superchat');
    expect(pair.client.response?.headers.get('server')).toBe('wspp-test');
    expect(pair.c.kinds()).toEqual(['open']);
    expect(pair.s.kinds()).toEqual(['open']);
  });

  it('refuses to select a subprotocol the client did not offer', () => {
    const pair = makePair({
      client: { subprotocols: ['a'] },
      setup: (s) => {
        s.onUpgradeRequest = () => {
          expect(pair.server.accept({ subprotocol: 'b' })?.code).toBe('websocket.invalid_subprotocol');
          pair.server.accept({ subprotocol: 'a' });
        };
      },
    });
    pair.client.start();
    pair.pump();
    expect(pair.client.subprotocol).toBe('a');
  });

  it('can be decided later (asynchronous validation), keeping frames the client pipelined', () => {
    let decide: (() => void) | undefined;
    const pair = makePair({
      setup: (s) => {
        s.onUpgradeRequest = () => {
          decide = () => pair.server.accept();
        };
      },
    });
    pair.client.start();
    pair.pump();
    expect(pair.server.state).toBe('connecting');
    // A client may send frames right after its request; build one by hand.
    pair.server.feed(clientFrame(Opcode.Text, 'early'));
    expect(pair.s.messages()).toEqual([]);
    decide!();
    expect(pair.s.kinds()).toEqual(['open', 'message']);
    expect(pair.s.messages()[0]![1].toString()).toBe('early');
    pair.pump();
    expect(pair.client.state).toBe('open');
  });

  it('rejects with a status and headers and fails both sides', () => {
    const pair = makePair({
      setup: (s) => {
        s.onUpgradeRequest = () => pair.server.reject(403, { headers: [['X-Why', 'nope']], body: 'go away' });
      },
    });
    pair.client.start();
    pair.pump();
    expect(pair.server.state).toBe('failed');
    expect(pair.server.error?.code).toBe('websocket.rejected');
    expect(pair.s.kinds()).toEqual(['fail']);
    expect(pair.client.state).toBe('failed');
    const clientError = pair.client.error!;
    expect(clientError.code).toBe('processor.invalid_http_status');
    expect(clientError.message).toBe('Invalid HTTP status.');
    expect(pair.client.response?.status).toBe(403);
    expect(pair.client.response?.headers.get('x-why')).toBe('nope');
  });

  it('answers an invalid request with its HTTP status and fails', () => {
    const s = new Side();
    const server = new ServerProcessor(s);
    server.feed(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n'));
    const answer = s.take().toString('latin1');
    expect(answer).toMatch(/^HTTP\/1\.1 426 /);
    expect(answer).toContain('Sec-WebSocket-Version: 13\r\n');
    expect(server.state).toBe('failed');
    expect(server.error?.code).toBe('websocket.unsupported_version');
    expect(s.ended).toBe(true);
    expect(s.kinds()).toEqual(['fail']);
  });

  it('answers a malformed head with 400 and an oversized one with 431', () => {
    const s = new Side();
    new ServerProcessor(s).feed(Buffer.from('GET / HTTP/1.1\r\nBad Header: x\r\n\r\n'));
    expect(s.take().toString('latin1')).toMatch(/^HTTP\/1\.1 400 /);
    const big = new Side();
    new ServerProcessor(big, { maxHeadSize: 1000 }).feed(Buffer.from(`GET / HTTP/1.1\r\nX: ${'a'.repeat(2000)}\r\n\r\n`));
    expect(big.take().toString('latin1')).toMatch(/^HTTP\/1\.1 431 /);
    expect((big.events[0]![1] as WsppError).code).toBe('http.head_too_large');
  });

  it('hands plain HTTP requests to the http handler, or answers 426 without one', () => {
    const s = new Side();
    const server = new ServerProcessor(s);
    s.onHttpRequest = (head) => {
      expect(head.target).toBe('/status');
      server.respond(200, { body: 'all good', headers: [['Content-Type', 'text/plain']] });
    };
    server.feed(Buffer.from('GET /status HTTP/1.1\r\nHost: x\r\n\r\n'));
    const answer = s.take().toString('latin1');
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(answer.endsWith('\r\n\r\nall good')).toBe(true);
    expect(s.ended).toBe(true);
    expect(s.events).toEqual([]);

    const bare = new Side();
    new ServerProcessor(bare).feed(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(bare.take().toString('latin1')).toMatch(/^HTTP\/1\.1 426 /);
  });

  it('client fails on a 200 answer, a wrong accept, an unrequested subprotocol', () => {
    const cases: [string, string][] = [
      ['HTTP/1.1 200 OK\r\nServer: plain\r\nContent-Length: 0\r\n\r\n', 'processor.invalid_http_status'],
      ['HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n', 'processor.invalid_accept'],
    ];
    for (const [response, code] of cases) {
      const c = new Side();
      const client = new ClientProcessor(c, { host: 'h', random });
      client.start();
      client.feed(Buffer.from(response));
      expect(client.state).toBe('failed');
      expect(client.error?.code).toBe(code);
      expect(c.kinds()).toEqual(['fail']);
      expect(c.ended).toBe(true);
    }
  });

  it('reports a connection that ends before the handshake', () => {
    const c = new Side();
    const client = new ClientProcessor(c, { host: 'h', random });
    client.start();
    client.eof();
    expect(client.error?.code).toBe('processor.no_handshake');
    expect(c.kinds()).toEqual(['fail']);
  });
});

describe('messages through buffers', () => {
  const sizes = [0, 1, 125, 126, 65535, 65536, 1 << 20, 16 << 20];

  it('exchanges text and binary messages of 0 B to 16 MiB both ways', () => {
    const { client, server, c, s, pump } = openPair();
    for (const size of sizes) {
      const bin = Buffer.alloc(size, size & 0xff);
      const text = 'é'.repeat(size >> 1) + (size & 1 ? 'a' : '');
      expect(client.send(Opcode.Binary, bin)).toBeUndefined();
      expect(client.send(Opcode.Text, text)).toBeUndefined();
      expect(server.send(Opcode.Binary, bin)).toBeUndefined();
      expect(server.send(Opcode.Text, Buffer.from(text))).toBeUndefined();
      pump();
      const atServer = s.messages().slice(-2);
      const atClient = c.messages().slice(-2);
      for (const got of [atServer, atClient]) {
        expect(got[0]![0]).toBe(Opcode.Binary);
        expect(got[0]![1].equals(bin)).toBe(true);
        expect(got[1]![0]).toBe(Opcode.Text);
        expect(got[1]![1].toString()).toBe(text);
      }
    }
    expect(s.messages()).toHaveLength(sizes.length * 2);
  });

  it('sends fragmented messages with control frames in between', () => {
    const { client, server, s, c, pump } = openPair();
    expect(client.sendFrame(Opcode.Text, 'Hel', false)).toBeUndefined();
    expect(client.send(Opcode.Text, 'no')?.code).toBe('websocket.invalid_state');
    expect(client.ping('mid')).toBeUndefined();
    expect(client.sendFrame(Opcode.Binary, 'x', false)?.code).toBe('processor.invalid_arguments');
    expect(client.sendFrame(Opcode.Text, 'lo', true)).toBeUndefined();
    expect(server.sendFrame(Opcode.Binary, Buffer.alloc(70000, 1), false)).toBeUndefined();
    expect(server.sendFrame(Opcode.Binary, Buffer.alloc(10, 2), true)).toBeUndefined();
    pump();
    expect(s.events.filter((e) => e[0] !== 'open')).toEqual([
      ['ping', 'mid'],
      ['message', Opcode.Text, Buffer.from('Hello')],
    ]);
    // The server's fragments were written before the ping reached it.
    expect(c.events.filter((e) => e[0] !== 'open').map((e) => e[0])).toEqual(['message', 'pong']);
    expect(c.messages()[0]![1].length).toBe(70010);
  });

  it('answers pings automatically unless the ping handler says no', () => {
    const { client, server, c, s, pump } = openPair();
    client.ping('hello');
    pump();
    expect(s.events.at(-1)).toEqual(['ping', 'hello']);
    expect(c.events.at(-1)).toEqual(['pong', 'hello']);
    s.answerPings = false;
    client.ping('quiet');
    pump();
    expect(c.events.at(-1)).toEqual(['pong', 'hello']);
    expect(server.ping(Buffer.alloc(126))?.code).toBe('processor.control_too_big');
    expect(server.pong('unsolicited')).toBeUndefined();
    pump();
    expect(c.events.at(-1)).toEqual(['pong', 'unsolicited']);
  });

  it('a prepared message is framed once and reused', () => {
    const { server, client, c, s, pump } = openPair();
    const prepared = ServerProcessor.prepare(Opcode.Text, 'broadcast');
    server.sendPrepared(prepared);
    const framed = prepared.framed;
    server.sendPrepared(prepared);
    expect(prepared.framed).toBe(framed);
    client.sendPrepared(prepared); // clients mask each send
    pump();
    expect(c.messages().map((m) => m[1].toString())).toEqual(['broadcast', 'broadcast']);
    expect(s.messages().map((m) => m[1].toString())).toEqual(['broadcast']);
  });

  it('pauses and resumes reading in order', () => {
    const { client, server, s, pump } = openPair();
    server.pauseReading();
    client.send(Opcode.Text, 'one');
    client.send(Opcode.Text, 'two');
    pump();
    expect(s.messages()).toEqual([]);
    expect(server.queuedBytes).toBeGreaterThan(0);
    s.onMessageHook = () => server.pauseReading();
    server.resumeReading();
    expect(s.messages().map((m) => m[1].toString())).toEqual(['one']);
    server.resumeReading();
    expect(s.messages().map((m) => m[1].toString())).toEqual(['one', 'two']);
  });
});

describe('closing handshake through buffers', () => {
  it('closes with every valid code and a reason, both sides agreeing', () => {
    for (const code of VALID_SEND_CODES) {
      for (const initiator of ['client', 'server'] as const) {
        const { client, server, c, s, pump } = openPair();
        const [a, b] = initiator === 'client' ? [client, server] : [server, client];
        expect(a.close(code, `bye ${code}`)).toBeUndefined();
        expect(a.state).toBe('closing');
        pump();
        expect(client.state).toBe('closed');
        expect(server.state).toBe('closed');
        expect(a.localCloseCode).toBe(code);
        expect(a.remoteCloseCode).toBe(code);
        expect(b.remoteCloseCode).toBe(code);
        expect(b.remoteCloseReason).toBe(`bye ${code}`);
        expect(a.localCloseReason).toBe(`bye ${code}`);
        expect(c.events.filter((e) => e[0] === 'close')).toHaveLength(1);
        expect(s.events.filter((e) => e[0] === 'close')).toHaveLength(1);
        expect(s.ended).toBe(true);
        expect(c.ended).toBe(true);
        // The server closes TCP first, at once; the client half-closes and waits for it.
        expect(s.released).toBe(true);
        expect(c.released).toBe(false);
        expect(a.error).toBeUndefined();
      }
    }
  });

  it('a close without status is answered without status (1005)', () => {
    const { client, server, pump } = openPair();
    client.close(1005);
    pump();
    expect(server.remoteCloseCode).toBe(1005);
    expect(client.remoteCloseCode).toBe(1005);
  });

  it('refuses invalid codes and over-long reasons locally, sending nothing', () => {
    const { client, c } = openPair();
    const before = c.out.length;
    expect(client.close(1006)?.code).toBe('processor.invalid_close_code');
    expect(client.close(1)?.code).toBe('processor.invalid_close_code');
    expect(client.close(1004)?.code).toBe('processor.reserved_close_code');
    expect(client.close(2999)?.code).toBe('processor.reserved_close_code');
    expect(client.close(1000, 'x'.repeat(124))?.code).toBe('processor.reason_too_long');
    expect(client.close(1000, 'x'.repeat(123))).toBeUndefined();
    expect(c.out.length).toBe(before + 1);
    expect(client.close(1000)?.code).toBe('websocket.invalid_state');
    expect(client.send(Opcode.Text, 'late')?.code).toBe('websocket.invalid_state');
  });

  it('ignores data after the peer’s close frame', () => {
    const { server, s } = openPair();
    server.feed(Buffer.concat([clientFrame(Opcode.Close, Buffer.from([0x03, 0xe8])), clientFrame(Opcode.Text, 'after')]));
    expect(server.state).toBe('closed');
    expect(s.messages()).toEqual([]);
    server.feed(clientFrame(Opcode.Text, 'later'));
    expect(s.messages()).toEqual([]);
  });

  it('an invalid close frame from the peer is a protocol error (1002)', () => {
    for (const payload of [Buffer.from([0x03]), Buffer.from([0x03, 0xed]), Buffer.from([0x03, 0xe8, 0xff])]) {
      const { server } = openPair();
      server.feed(clientFrame(Opcode.Close, payload));
      expect(server.state).toBe('closed');
      expect(server.localCloseCode).toBe(payload.length === 3 ? 1007 : 1002);
      expect(server.error).toBeInstanceOf(WsppError);
    }
  });
});

describe('failures after open', () => {
  it('a protocol error sends a close frame with its code, ends the transport and reports close once', () => {
    const { server, s } = openPair();
    s.take();
    server.feed(serverFrame(Opcode.Text, 'unmasked'));
    expect(server.state).toBe('closed');
    expect(server.error?.code).toBe('processor.masking_required');
    expect(server.localCloseCode).toBe(1002);
    expect(server.remoteCloseCode).toBe(1006);
    const out = s.take();
    expect(out[0]).toBe(0x88);
    expect(out.readUInt16BE(2)).toBe(1002);
    expect(s.ended).toBe(true);
    // No close frame came back: the peer may still be sending, so only our side ends.
    expect(s.released).toBe(false);
    expect(s.kinds().filter((k) => k === 'close')).toHaveLength(1);
  });

  it('maxMessageSize closes with 1009, invalid UTF-8 with 1007', () => {
    const big = openPair({ server: { maxMessageSize: 1000 } });
    big.client.send(Opcode.Binary, Buffer.alloc(1001));
    big.pump();
    expect(big.server.localCloseCode).toBe(1009);
    expect(big.client.remoteCloseCode).toBe(1009);
    expect(big.client.state).toBe('closed');
    const bad = openPair();
    bad.server.feed(clientFrame(Opcode.Text, Buffer.from([0xc3, 0x28])));
    bad.pump();
    expect(bad.server.localCloseCode).toBe(1007);
    expect(bad.client.remoteCloseCode).toBe(1007);
  });

  it('dropOnProtocolError drops without a close frame; silentClose sends no status', () => {
    const drop = openPair({ server: { dropOnProtocolError: true } });
    drop.s.take();
    drop.server.feed(clientFrame(3, 'x'));
    expect(drop.s.take().length).toBe(0);
    expect(drop.s.ended).toBe(true);
    expect(drop.server.state).toBe('closed');
    const silent = openPair({ server: { silentClose: true } });
    silent.s.take();
    silent.server.feed(clientFrame(3, 'x'));
    expect(Array.from(silent.s.take())).toEqual([0x88, 0x00]);
  });

  it('the end of input mid-frame or without a close is abnormal (1006)', () => {
    const mid = openPair();
    mid.server.feed(clientFrame(Opcode.Text, 'hello').subarray(0, 4));
    mid.server.eof();
    expect(mid.server.error?.code).toBe('processor.incomplete_frame');
    expect(mid.server.remoteCloseCode).toBe(1006);
    expect(mid.s.kinds()).toEqual(['open', 'close']);
    const quiet = openPair();
    quiet.client.eof();
    expect(quiet.client.error?.code).toBe('transport.eof');
    expect(quiet.client.state).toBe('closed');
    quiet.client.eof();
    expect(quiet.c.kinds()).toEqual(['open', 'close']);
  });

  it('terminate() ends without a handshake and reports once', () => {
    const { server, s } = openPair();
    server.terminate();
    server.terminate();
    expect(server.state).toBe('closed');
    expect(s.kinds()).toEqual(['open', 'close']);
  });
});

describe('hostile input', () => {
  it('random bytes after the handshake end the session with a typed error or a close, never an exception', async () => {
    const fc = (await import('fast-check')).default;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(300), { maxLength: 5 }), (bytes, cuts) => {
        const { server, s } = openPair();
        const sorted = [...cuts].sort((a, b) => a - b);
        let prev = 0;
        for (const cut of [...sorted, bytes.length]) {
          server.feed(bytes.subarray(prev, Math.max(prev, Math.min(cut, bytes.length))));
          prev = Math.max(prev, Math.min(cut, bytes.length));
        }
        server.eof();
        expect(server.state).toBe('closed');
        expect(s.kinds().filter((k) => k === 'close')).toHaveLength(1);
        expect(server.error === undefined || server.error instanceof WsppError).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('random handshake heads never throw', async () => {
    const fc = (await import('fast-check')).default;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const s = new Side();
        const server = new ServerProcessor(s);
        server.feed(Buffer.concat([Buffer.from('GET / HTTP/1.1\r\n'), bytes]));
        server.eof();
        expect(['failed', 'closed', 'open']).toContain(server.state);
      }),
      { numRuns: 300 },
    );
  });
});
