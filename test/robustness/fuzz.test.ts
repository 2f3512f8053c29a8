/**
 * Property-based fuzzing of the server (fast-check):
 * 1. Structured streams (iostream transport, exact chunk boundaries): a valid handshake,
 *    valid messages (fragmented at random byte offsets, pings in between), then at most
 *    one fault from a catalogue. Oracle: every message before the fault is echoed in
 *    order, every ping answered, then the close code the fault calls for (or the clean
 *    close), and the close handler runs once with the matching error.
 * 2. Random and mutated byte streams after a valid handshake (tcp): the server never
 *    throws, ends the connection (close frame consistent with its error, or a drop), and
 *    a bystander connection keeps being served.
 * 3. Random handshake heads (tcp): the server answers 101 only to valid upgrades, else an
 *    HTTP error whose status matches the typed error (or drops), and keeps serving.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Server, config, extend } from '../../src/index.js';
import { isValidWireCloseCode } from '../../src/protocol/close.js';
import type WebSocket from 'ws';
import { HOST, bounded, listen, nextMessage, rawConnect, rawPeer, socketClosed, upgradeRequest, useCleanup, wsConnect } from '../integration/helpers.js';
import { closeCodeOf, closePayload, clientFrame, header64, nonMinimalFrame, parseFrames, serverFrame } from './helpers.js';

useCleanup();

const MAX_MESSAGE = 4096;
const MAX_FRAGMENTS = 64;

// Errors that reach the event loop would crash a real server: count them.
const escaped: unknown[] = [];
const onEscape = (err: unknown): void => void escaped.push(err);
beforeAll(() => {
  process.on('uncaughtException', onEscape);
  process.on('unhandledRejection', onEscape);
});
afterAll(() => {
  process.off('uncaughtException', onEscape);
  process.off('unhandledRejection', onEscape);
  expect(escaped).toEqual([]);
});

// --- 1. structured streams -------------------------------------------------------------------

type Item =
  | { t: 'msg'; opcode: 1 | 2; payload: Buffer; cuts: number[]; pingAt: number | undefined }
  | { t: 'ping'; payload: Buffer }
  | { t: 'pong'; payload: Buffer };

const textPayload = fc.string({ unit: 'binary', maxLength: 40 }).map((s) => Buffer.from(s, 'utf8'));
const binaryPayload = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));
const controlPayload = fc.uint8Array({ maxLength: 125 }).map((a) => Buffer.from(a));

const itemArb: fc.Arbitrary<Item> = fc.oneof(
  fc
    .record({
      opcode: fc.constantFrom(1 as const, 2 as const),
      text: textPayload,
      binary: binaryPayload,
      cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 5 }),
      ping: fc.option(fc.nat(5), { nil: undefined }),
    })
    .map(({ opcode, text, binary, cuts, ping }) => {
      const payload = opcode === 1 ? text : binary;
      const offsets = cuts.map((c) => Math.floor(c * payload.length)).sort((a, b) => a - b);
      return { t: 'msg' as const, opcode, payload, cuts: offsets, pingAt: ping === undefined ? undefined : ping % (offsets.length + 1) };
    }),
  controlPayload.map((payload) => ({ t: 'ping' as const, payload })),
  controlPayload.map((payload) => ({ t: 'pong' as const, payload })),
);

interface Fault {
  name: string;
  bytes: Buffer;
  code: number;
}

const invalidUtf8 = [Buffer.from([0x80]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xf4, 0x90, 0x80, 0x80]), Buffer.from([0xff]), Buffer.from([0xf0, 0x9f, 0x98])];

const faultArb: fc.Arbitrary<Fault> = fc.oneof(
  fc.constantFrom(3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf).map((op) => ({ name: `reserved opcode ${op}`, bytes: clientFrame(op, 'x'), code: 1002 })),
  fc.constantFrom(0x10, 0x20, 0x40, 0x70).map((rsv) => ({ name: `rsv ${rsv}`, bytes: clientFrame(1, 'x', { rsv }), code: 1002 })),
  fc.constant({ name: 'unmasked frame', bytes: serverFrame(2, 'x'), code: 1002 }),
  fc.integer({ min: 126, max: 300 }).map((n) => ({ name: `ping of ${n}`, bytes: clientFrame(9, Buffer.alloc(n)), code: 1002 })),
  fc.constant({ name: 'fragmented ping', bytes: clientFrame(9, 'x', { fin: false }), code: 1002 }),
  fc.constant({ name: 'orphan continuation', bytes: clientFrame(0, 'x'), code: 1002 }),
  fc.constantFrom(1, 2).map((op) => ({ name: 'interleaved data', bytes: Buffer.concat([clientFrame(1, 'a', { fin: false }), clientFrame(op, 'b')]), code: 1002 })),
  fc.tuple(fc.constantFrom(...invalidUtf8), fc.boolean()).map(([bad, fragmented]) => ({
    name: `invalid UTF-8 ${bad.toString('hex')}${fragmented ? ' (fragmented)' : ''}`,
    bytes: fragmented ? Buffer.concat([clientFrame(1, 'ok', { fin: false }), clientFrame(0, bad)]) : clientFrame(1, Buffer.concat([Buffer.from('ok'), bad])),
    code: 1007,
  })),
  fc.constantFrom(0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535).map((c) => ({ name: `close code ${c}`, bytes: clientFrame(8, closePayload(c)), code: 1002 })),
  fc.constant({ name: 'close of one byte', bytes: clientFrame(8, Buffer.of(3)), code: 1002 }),
  fc.constantFrom(...invalidUtf8).map((bad) => ({ name: 'close reason not UTF-8', bytes: clientFrame(8, closePayload(1000, bad)), code: 1007 })),
  fc.integer({ min: MAX_MESSAGE + 1, max: MAX_MESSAGE * 4 }).map((n) => ({ name: `message of ${n}`, bytes: clientFrame(2, Buffer.alloc(n)), code: 1009 })),
  fc.constant({ name: '2^63-1 length', bytes: header64(2, 2n ** 63n - 1n), code: 1009 }),
  fc.constant({ name: 'non-minimal length', bytes: nonMinimalFrame(2, Buffer.alloc(5)), code: 1002 }),
  fc.constant({
    name: 'too many fragments',
    bytes: Buffer.concat(Array.from({ length: MAX_FRAGMENTS + 1 }, (_, i) => clientFrame(i === 0 ? 2 : 0, 'x', { fin: false }))),
    code: 1009,
  }),
);

/** The client bytes for the items, and the server frames they call for. */
function encode(items: Item[]): { bytes: Buffer[]; expected: { opcode: number; payload: Buffer }[] } {
  const bytes: Buffer[] = [];
  const expected: { opcode: number; payload: Buffer }[] = [];
  for (const item of items) {
    if (item.t === 'ping') {
      bytes.push(clientFrame(9, item.payload));
      expected.push({ opcode: 10, payload: item.payload });
    } else if (item.t === 'pong') {
      bytes.push(clientFrame(10, item.payload));
    } else {
      const bounds = [0, ...item.cuts, item.payload.length];
      for (let k = 0; k + 1 < bounds.length; k++) {
        if (item.pingAt === k && k > 0) {
          bytes.push(clientFrame(9, 'mid'));
          expected.push({ opcode: 10, payload: Buffer.from('mid') });
        }
        bytes.push(clientFrame(k === 0 ? item.opcode : 0, item.payload.subarray(bounds[k], bounds[k + 1]), { fin: k + 2 === bounds.length }));
      }
      expected.push({ opcode: item.opcode, payload: item.payload });
    }
  }
  return { bytes, expected };
}

/** Split the stream at these fractions of its length. */
function chunk(stream: Buffer, cuts: number[]): Buffer[] {
  const offsets = [...new Set(cuts.map((c) => Math.floor(c * stream.length)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const o of offsets) {
    if (o > at) out.push(stream.subarray(at, o));
    at = Math.max(at, o);
  }
  out.push(stream.subarray(at));
  return out;
}

const iostreamConfig = extend(config.core, {
  logging: config.minimal.logging,
  keepAlive: false,
  maxMessageSize: MAX_MESSAGE,
  maxFragments: MAX_FRAGMENTS,
  timeouts: { openHandshake: 0, closeHandshake: 0 },
});

describe('fuzz: structured frame streams (iostream, exact chunking)', () => {
  it('echoes everything before a fault, then closes with the fault\'s code; a clean stream closes with 1000', () => {
    const server = new Server(iostreamConfig);
    server.setMessageHandler((hdl, msg) => server.send(hdl, msg.payload, msg.opcode));
    fc.assert(
      fc.property(
        fc.array(itemArb, { maxLength: 8 }),
        fc.option(faultArb, { nil: undefined }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 }),
        fc.uint8Array({ maxLength: 64 }),
        (items, fault, cuts, garbage) => {
          const { bytes, expected } = encode(items);
          const head = Buffer.from(upgradeRequest(80), 'latin1');
          const tail = fault === undefined ? [clientFrame(8, closePayload(1000, 'bye'))] : [fault.bytes, Buffer.from(garbage)];
          const stream = Buffer.concat([head, ...bytes, ...tail]);

          const out: Buffer[] = [];
          const con = server.createConnection((b) => void out.push(Buffer.from(b)));
          let closes = 0;
          let fails = 0;
          con.setCloseHandler(() => void closes++);
          con.setFailHandler(() => void fails++);
          for (const c of chunk(stream, cuts)) con.readSome(c);
          con.eof();

          const all = Buffer.concat(out);
          const headEnd = all.indexOf('\r\n\r\n');
          expect(all.subarray(0, 12).toString()).toBe('HTTP/1.1 101');
          const { frames, rest } = parseFrames(all.subarray(headEnd + 4));
          expect(rest.length).toBe(0);
          expect(frames.every((f) => !f.masked && f.fin)).toBe(true);
          const close = frames.at(-1)!;
          expect(close.opcode).toBe(8);
          expect(frames.slice(0, -1).map((f) => ({ opcode: f.opcode, payload: f.payload }))).toEqual(expected);
          expect({ closes, fails }).toEqual({ closes: 1, fails: 0 });
          expect(con.state).toBe('closed');
          if (fault === undefined) {
            expect(closeCodeOf(close.payload)).toBe(1000);
            expect(con.getRemoteCloseCode()).toBe(1000);
            expect(con.getEc()).toBeUndefined();
          } else {
            expect(closeCodeOf(close.payload), fault.name).toBe(fault.code);
            expect(con.getLocalCloseCode()).toBe(fault.code);
            expect(con.getEc()?.closeCode).toBe(fault.code);
          }
        },
      ),
      { numRuns: 400 },
    );
    expect(server.connectionCount).toBe(0);
  });
});

// --- 2 and 3: over tcp, with a bystander --------------------------------------------------------

describe('fuzz over tcp', () => {
  function tcpServer() {
    const server = new Server(
      extend(config.minimalTcp, {
        maxMessageSize: 64 * 1024,
        timeouts: { openHandshake: 1000, closeHandshake: 500, socketShutdown: 500 },
      }),
    );
    server.setMessageHandler((hdl, msg) => server.trySend(hdl, msg.payload, msg.opcode));
    return server;
  }

  async function bystanderServed(bystander: WebSocket): Promise<void> {
    const got = nextMessage(bystander);
    bystander.send('still here');
    expect((await got).data.toString()).toBe('still here');
  }

  it('random and mutated byte streams after a valid handshake: the connection ends consistently, others are served', async () => {
    const server = tcpServer();
    const ends: { open: boolean; localCode: number; remoteCode: number; ec: { code: string; closeCode: number } | undefined }[] = [];
    let fails = 0;
    server.setCloseHandler((_hdl, con) => {
      if (con.getResource() === '/bystander') return;
      const ec = con.getEc();
      ends.push({ open: true, localCode: con.getLocalCloseCode(), remoteCode: con.getRemoteCloseCode(), ec: ec === undefined ? undefined : { code: ec.code, closeCode: ec.closeCode } });
    });
    server.setFailHandler(() => void fails++);
    const port = await listen(server);
    const bystander = await wsConnect(`ws://${HOST}:${port}/bystander`);

    // Valid frames, random bytes, and valid frames with a few bytes flipped.
    const validFrame = fc
      .tuple(fc.constantFrom(0, 1, 2, 8, 9, 10), fc.uint8Array({ maxLength: 200 }), fc.boolean())
      .map(([op, payload, fin]) => clientFrame(op, op >= 8 ? payload.subarray(0, 125) : payload, { fin: op >= 8 ? true : fin }));
    const mutated = fc
      .tuple(validFrame, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }))
      .map(([frame, flips]) => {
        const copy = Buffer.from(frame);
        for (const [at, x] of flips) copy[at % copy.length] = copy[at % copy.length]! ^ x;
        return copy;
      });
    const piece = fc.oneof(validFrame, mutated, fc.uint8Array({ minLength: 1, maxLength: 256 }).map((a) => Buffer.from(a)));

    let runs = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { minLength: 1, maxLength: 6 }), async (pieces) => {
        runs++;
        const peer = await rawPeer(port, `/fuzz/${runs}`);
        for (const p of pieces) peer.socket.write(p);
        peer.socket.end();
        // The server must end it: close frame and FIN, or a drop.
        expect(await bounded(peer.closedPromise.then(() => 'closed'), 5000)).toBe('closed');
        peer.socket.destroy();
        const closeFrame = peer.frames.find((f) => f.opcode === 8);
        await bounded(new Promise<void>((r) => { const t = setInterval(() => { if (ends.length >= runs) { clearInterval(t); r(); } }, 2); }), 3000);
        const end = ends[runs - 1];
        expect(end, 'close handler ran').toBeDefined();
        if (end!.ec !== undefined && end!.ec.closeCode !== 1006 && end!.ec.code !== 'transport.eof') {
          // A protocol error: the close frame carries the error's code.
          expect(closeFrame === undefined ? undefined : closeCodeOf(closeFrame.payload)).toBe(end!.ec.closeCode);
          expect(end!.localCode).toBe(end!.ec.closeCode);
        }
        if (closeFrame !== undefined) {
          const code = closeCodeOf(closeFrame.payload);
          expect(code === 1005 || isValidWireCloseCode(code)).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
    expect(ends).toHaveLength(runs);
    expect(fails).toBe(0);
    await bystanderServed(bystander);
    expect(server.connectionCount).toBe(1);
  });

  it('random handshake heads: 101 only for valid upgrades, otherwise an HTTP error matching the typed error, or a drop', async () => {
    const server = tcpServer();
    const failures: { code: string; status: number }[] = [];
    let opens = 0;
    server.setFailHandler((_hdl, con) => {
      const ec = con.getEc();
      if (ec !== undefined) failures.push({ code: ec.code, status: ec.status });
    });
    server.setOpenHandler((_hdl, con) => {
      if (con.getResource() !== '/bystander') opens++;
    });
    const port = await listen(server);
    const bystander = await wsConnect(`ws://${HOST}:${port}/bystander`);

    const goodLines = ['Host: 127.0.0.1', 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13'];
    const badLines = [
      'Sec-WebSocket-Version: 8',
      'Sec-WebSocket-Key: short',
      'Host: a\u0000b',
      'Bad Header: x',
      ': empty-name',
      'X-Folded: a\r\n b',
      'Content-Length: 5',
      'Transfer-Encoding: chunked',
      'Upgrade: h2c',
      'Sec-WebSocket-Protocol: a b',
      'Sec-WebSocket-Protocol: x, x',
      'X-Long: ' + 'y'.repeat(20_000),
      'Host: 127.0.0.1',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    ];
    const requestLines = ['GET / HTTP/1.1', 'GET /chat?x=1 HTTP/1.1', 'POST / HTTP/1.1', 'GET / HTTP/1.0', 'GET / HTTP/2.0', 'GET  / HTTP/1.1', 'GET http://x/ HTTP/1.1', 'BREW / HTCPCP/1.0', 'GET * HTTP/1.1'];
    const line = fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...goodLines) },
      { weight: 2, arbitrary: fc.constantFrom(...badLines) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 40 }) },
    );
    const head = fc.record({
      requestLine: fc.oneof({ weight: 4, arbitrary: fc.constant('GET / HTTP/1.1') }, { weight: 2, arbitrary: fc.constantFrom(...requestLines) }, { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 30 }) }),
      lines: fc.oneof(fc.constant(goodLines), fc.array(line, { maxLength: 10 }), fc.shuffledSubarray(goodLines).chain((g) => fc.array(line, { maxLength: 4 }).map((extra) => [...g, ...extra]))),
      terminator: fc.constantFrom('\r\n\r\n', '\r\n\r\n', '\n\n', '\r\n', ''),
      lineEnd: fc.constantFrom('\r\n', '\r\n', '\r\n', '\n'),
    });

    let runs = 0;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(head, async ({ requestLine, lines, terminator, lineEnd }) => {
        runs++;
        const socket = await rawConnect(port);
        let answer = '';
        socket.on('data', (c: Buffer) => (answer += c.toString('latin1')));
        const closed = socketClosed(socket);
        const failuresBefore = failures.length;
        const opensBefore = opens;
        socket.write(Buffer.from([requestLine, ...lines].join(lineEnd) + terminator, 'latin1'));
        // Then end our side: an incomplete head fails with no_handshake, a complete one is answered first.
        socket.end();
        expect(await bounded(closed.then(() => 'closed'), 3000)).toBe('closed');
        const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(answer)?.[1] ?? 0);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status === 101) {
          expect(opens).toBe(opensBefore + 1);
          const lower = lines.map((l) => l.toLowerCase());
          expect(lower).toContain('upgrade: websocket');
          expect(lower).toContain('sec-websocket-version: 13');
          expect(requestLine.startsWith('GET ')).toBe(true);
        } else if (status !== 0) {
          expect(status).toBeGreaterThanOrEqual(400);
          expect(status).toBeLessThan(600);
          // The answered status is the typed error's (426: a plain HTTP request, no error).
          await bounded(new Promise<void>((r) => { const t = setInterval(() => { if (failures.length > failuresBefore) { clearInterval(t); r(); } }, 2); }), 200);
          if (status !== 426 || failures.length > failuresBefore) expect(failures[failuresBefore]?.status).toBe(status);
        }
      }),
      { numRuns: 150 },
    );
    await bystanderServed(bystander);
    expect(runs).toBe(150);
    console.info(`[robustness] random heads answered: ${[...statuses].sort(([a], [b]) => a - b).map(([k, v]) => `${k === 0 ? 'drop' : k} ×${v}`).join(', ')}`);
    // The generator reaches both sides of the oracle.
    expect(statuses.get(101) ?? 0).toBeGreaterThan(0);
    expect([...statuses.keys()].some((k) => k >= 400)).toBe(true);
  });
});
