import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encodeFrame, RSV1 } from '../../src/protocol/frame.js';
import { FrameParser } from '../../src/protocol/parser.js';
import { WsppError, type ErrorCode } from '../../src/protocol/errors.js';
import { clientFrame, copies, FrameRecorder, KEY, serverFrame, splitAt } from './helpers.js';

function parseAll(pieces: Uint8Array[], role: 'server' | 'client' = 'server', allowedRsv = 0) {
  const rec = new FrameRecorder();
  const parser = new FrameParser(rec, { role, allowedRsv });
  let error: WsppError | undefined;
  for (const p of pieces) {
    error ??= parser.push(p);
  }
  return { frames: rec.frames, error, parser, rec };
}

function errorOf(bytes: number[] | Uint8Array, role: 'server' | 'client' = 'server'): ErrorCode | undefined {
  return parseAll([Uint8Array.from(bytes)], role).error?.code;
}

const arbFrame = fc.record({
  fin: fc.boolean(),
  rsv: fc.constantFrom(0, RSV1),
  opcode: fc.constantFrom(0, 1, 2),
  payload: fc.oneof(
    fc.uint8Array({ maxLength: 130 }),
    fc.uint8Array({ minLength: 65530, maxLength: 65540 }),
  ),
});

describe('FrameParser', () => {
  it('parses the RFC 6455 examples', () => {
    const { frames } = parseAll([Buffer.from('818537fa213d7f9f4d5158', 'hex')]);
    expect(frames).toHaveLength(1);
    expect(frames[0]!.payload.toString()).toBe('Hello');
    const client = parseAll([Buffer.from('010348656c80026c6f', 'hex')], 'client');
    expect(client.frames.map((f) => [f.fin, f.opcode, f.payload.toString()])).toEqual([
      [false, 1, 'Hel'],
      [true, 0, 'lo'],
    ]);
  });

  it('serialize-then-parse is the identity, in any chunking, for both roles', () => {
    fc.assert(
      fc.property(fc.array(arbFrame, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(140_000), { maxLength: 12 }), fc.boolean(), (specs, cuts, masked) => {
        const wire = Buffer.concat(
          specs.map((s) => encodeFrame(s.opcode, s.payload, { fin: s.fin, rsv: s.rsv, maskKey: masked ? KEY : undefined })),
        );
        const { frames, error } = parseAll(copies(splitAt(wire, cuts)), masked ? 'server' : 'client', RSV1);
        expect(error).toBeUndefined();
        expect(frames.length).toBe(specs.length);
        frames.forEach((f, i) => {
          const s = specs[i]!;
          expect([f.fin, f.rsv, f.opcode]).toEqual([s.fin, s.rsv, s.opcode]);
          expect(f.payload.equals(Buffer.from(s.payload))).toBe(true);
        });
      }),
      { numRuns: 60 },
    );
  });

  it('works one byte at a time', () => {
    const wire = Buffer.concat([clientFrame(1, 'a'.repeat(300)), clientFrame(9, 'p'), clientFrame(2, new Uint8Array(70000).fill(7))]);
    const pieces = Array.from({ length: wire.length }, (_, i) => wire.subarray(i, i + 1));
    const { frames, error } = parseAll(pieces);
    expect(error).toBeUndefined();
    expect(frames.map((f) => [f.opcode, f.payload.length])).toEqual([[1, 300], [9, 1], [2, 70000]]);
    expect(frames[0]!.payload.toString()).toBe('a'.repeat(300));
    expect(frames[2]!.payload.every((b) => b === 7)).toBe(true);
  });

  it('hands out a frame that sits in one chunk as a view of that chunk, without copying', () => {
    const wire = Buffer.concat([serverFrame(2, 'abc'), serverFrame(2, 'defg')]);
    const seen: Uint8Array[] = [];
    const parser = new FrameParser(
      { onFrameHeader: () => undefined, onFrameData: (d) => (seen.push(d), undefined), onFrameEnd: () => undefined },
      { role: 'client' },
    );
    parser.push(wire);
    expect(seen).toHaveLength(2);
    expect(seen.every((d) => d.buffer === wire.buffer)).toBe(true);
    expect(Buffer.from(seen[1]!).toString()).toBe('defg');
  });

  it('gathers a masked data frame that spans chunks: one buffer, pieces as consecutive views; controls and gather: false stay views', () => {
    const payload = Buffer.alloc(70_000);
    for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
    const wire = Buffer.concat([clientFrame(2, payload), clientFrame(9, 'ping'), clientFrame(2, 'tail')]);
    const cuts = [3, 9, 40_000, 70_010, 70_013, 70_022];
    const run = (gather: boolean) => {
      const seen: { frame: number; data: Uint8Array }[] = [];
      let frame = -1;
      const parser = new FrameParser(
        { onFrameHeader: () => (frame++, undefined), onFrameData: (d) => (seen.push({ frame, data: d }), undefined), onFrameEnd: () => undefined },
        { role: 'server', gather },
      );
      for (const piece of copies(splitAt(wire, cuts))) expect(parser.push(piece)).toBeUndefined();
      return seen;
    };
    const gathered = run(true);
    const big = gathered.filter((p) => p.frame === 0).map((p) => p.data);
    expect(big.length).toBeGreaterThan(1);
    // One buffer of the frame's length, filled in order.
    expect(big.every((d) => d.buffer === big[0]!.buffer)).toBe(true);
    expect(big[0]!.byteLength + big.slice(1).reduce((n, d) => n + d.length, 0)).toBe(70_000);
    for (let i = 1; i < big.length; i++) expect(big[i]!.byteOffset).toBe(big[i - 1]!.byteOffset + big[i - 1]!.length);
    expect(Buffer.concat(big).equals(payload)).toBe(true);
    // The ping (a control frame) is not gathered, nor is anything with gather: false.
    expect(gathered.filter((p) => p.frame === 1).map((p) => p.data.length)).toEqual([2, 2]);
    const views = run(false).filter((p) => p.frame === 0).map((p) => p.data);
    expect(new Set(views.map((d) => d.buffer)).size).toBe(views.length);
    expect(Buffer.concat(views).equals(payload)).toBe(true);
  });

  it('delivers empty frames', () => {
    const { frames } = parseAll([clientFrame(1, ''), clientFrame(9, ''), clientFrame(2, '')]);
    expect(frames.map((f) => [f.opcode, f.payload.length])).toEqual([[1, 0], [9, 0], [2, 0]]);
  });

  describe('rejects at the header', () => {
    it('reserved opcodes', () => {
      for (const op of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
        expect(errorOf(clientFrame(op, 'x'))).toBe('processor.invalid_opcode');
      }
    });
    it('RSV bits no extension granted', () => {
      for (const rsv of [0x40, 0x20, 0x10]) expect(errorOf(clientFrame(1, 'x', true, rsv))).toBe('processor.invalid_rsv_bit');
      expect(parseAll([clientFrame(1, 'x', true, RSV1)], 'server', RSV1).error).toBeUndefined();
      expect(parseAll([clientFrame(1, 'x', true, 0x20)], 'server', RSV1).error?.code).toBe('processor.invalid_rsv_bit');
    });
    it('the masking rule of each role', () => {
      expect(errorOf(serverFrame(1, 'x'), 'server')).toBe('processor.masking_required');
      expect(errorOf(clientFrame(1, 'x'), 'client')).toBe('processor.masking_forbidden');
    });
    it('fragmented and oversized control frames', () => {
      expect(errorOf(clientFrame(9, 'x', false))).toBe('processor.fragmented_control');
      expect(errorOf(clientFrame(8, new Uint8Array(126)))).toBe('processor.control_too_big');
      expect(errorOf(clientFrame(10, new Uint8Array(125)))).toBeUndefined();
    });
    it('non-minimal lengths', () => {
      expect(errorOf([0x82, 0x7e, 0x00, 0x7d], 'client')).toBe('processor.non_minimal_encoding');
      expect(errorOf([0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff], 'client')).toBe('processor.non_minimal_encoding');
    });
    it('64-bit lengths with the top bit set or above 2^53-1, before any payload', () => {
      expect(errorOf([0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0], 'client')).toBe('processor.protocol_violation');
      expect(errorOf([0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 'client')).toBe('processor.requires_64bit');
      expect(errorOf([0x82, 0x7f, 0x00, 0x20, 0, 0, 0, 0, 0, 0], 'client')).toBe('processor.requires_64bit');
      // 2^53 - 1 itself is representable: the header is accepted (the receiver's size limit decides).
      const max = parseAll([Uint8Array.from([0x82, 0x7f, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])], 'client');
      expect(max.error).toBeUndefined();
      expect(max.parser.midFrame).toBe(true);
    });
    it('errors carry their close code', () => {
      const err = parseAll([clientFrame(3, 'x')]).error!;
      expect(err).toBeInstanceOf(WsppError);
      expect(err.closeCode).toBe(1002);
      expect(parseAll([Uint8Array.from([0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])], 'client').error!.closeCode).toBe(1009);
    });
  });

  it('ignores input after an error', () => {
    const rec = new FrameRecorder();
    const parser = new FrameParser(rec, { role: 'server' });
    expect(parser.push(clientFrame(3, 'x'))).toBeInstanceOf(WsppError);
    expect(parser.failed).toBe(true);
    expect(parser.push(clientFrame(1, 'ok'))).toBeUndefined();
    expect(rec.frames).toHaveLength(0);
  });

  it('random bytes give frames or a typed error, never an exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.array(fc.nat(400)), fc.constantFrom<'server' | 'client'>('server', 'client'), (bytes, cuts, role) => {
        const rec = new FrameRecorder();
        const parser = new FrameParser(rec, { role });
        for (const piece of splitAt(bytes, cuts)) {
          const err = parser.push(piece);
          if (err !== undefined) {
            expect(err).toBeInstanceOf(WsppError);
            break;
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('pause() from a callback stops after that event and queues input; resume() continues in order', () => {
    const order: string[] = [];
    let parser!: FrameParser;
    parser = new FrameParser(
      {
        onFrameHeader: () => undefined,
        onFrameData: (d) => (order.push(Buffer.from(d).toString()), undefined),
        onFrameEnd: () => (parser.pause(), undefined),
      },
      { role: 'server' },
    );
    parser.push(Buffer.concat([clientFrame(1, 'a'), clientFrame(1, 'b')]));
    parser.push(clientFrame(1, 'c'));
    expect(order).toEqual(['a']);
    expect(parser.isPaused).toBe(true);
    expect(parser.queuedBytes).toBe(2 * 7);
    parser.resume();
    expect(order).toEqual(['a', 'b']);
    parser.resume();
    parser.resume();
    expect(order).toEqual(['a', 'b', 'c']);
  });

  it('resume() inside a callback keeps the order of queued input', () => {
    const order: string[] = [];
    let parser!: FrameParser;
    let first = true;
    parser = new FrameParser(
      {
        onFrameHeader: () => undefined,
        onFrameData: (d) => (order.push(Buffer.from(d).toString()), undefined),
        onFrameEnd: () => {
          if (first) {
            first = false;
            parser.pause();
            parser.push(clientFrame(1, 'z')); // arrives while paused
            parser.resume();
          }
          return undefined;
        },
      },
      { role: 'server' },
    );
    parser.push(Buffer.concat([clientFrame(1, 'x'), clientFrame(1, 'y')]));
    expect(order).toEqual(['x', 'y', 'z']);
  });

  it('reports a partial frame', () => {
    const wire = clientFrame(1, 'hello');
    const { parser } = parseAll([wire.subarray(0, 1)]);
    expect(parser.midFrame).toBe(true);
    const whole = parseAll([wire]);
    expect(whole.parser.midFrame).toBe(false);
  });
});
