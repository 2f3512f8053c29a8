import { describe, expect, it } from 'vitest';
import { FrameParser } from '../../src/protocol/parser.js';
import { MessageReceiver, type ReceiverLimits } from '../../src/protocol/receiver.js';
import type { WsppError } from '../../src/protocol/errors.js';
import { clientFrame } from './helpers.js';

function run(frames: Uint8Array[], limits: Partial<ReceiverLimits> = {}) {
  const events: [string, number, string][] = [];
  const receiver = new MessageReceiver(
    {
      onMessage: (op, p) => (events.push(['message', op, Buffer.from(p).toString('latin1')]), undefined),
      onControl: (op, p) => (events.push(['control', op, Buffer.from(p).toString('latin1')]), undefined),
      onCompressedMessage: (op, p) => (events.push(['compressed', op, Buffer.from(p).toString('latin1')]), undefined),
    },
    limits,
  );
  const parser = new FrameParser(receiver, { role: 'server' });
  let error: WsppError | undefined;
  for (const f of frames) error ??= parser.push(f);
  return { events, error, receiver };
}

describe('MessageReceiver', () => {
  it('a frame gathered across chunks reaches the handler as one view of the gathered buffer, not joined again', () => {
    const payload = Buffer.alloc(100_000, 0x61);
    const wire = Buffer.from(clientFrame(2, payload));
    const delivered: Uint8Array[] = [];
    let assembled = 0;
    const receiver = new MessageReceiver(
      {
        onMessage: (_op, p) => (delivered.push(p), undefined),
        onControl: () => undefined,
        onCompressedMessage: () => undefined,
        assemble: (pieces, size) => (assembled++, Buffer.concat(pieces as Uint8Array[], size)),
      },
      {},
      true,
    );
    const parser = new FrameParser(receiver, { role: 'server' });
    for (const cut of [[0, 30_000], [30_000, 70_000], [70_000, wire.length]] as const) parser.push(Uint8Array.from(wire.subarray(...cut)));
    expect(delivered).toHaveLength(1);
    expect(assembled).toBe(0);
    expect(delivered[0]!.byteLength).toBe(100_000);
    expect(delivered[0]!.buffer.byteLength).toBeGreaterThanOrEqual(100_000); // the gathered buffer itself
    expect(Buffer.from(delivered[0]!).equals(payload)).toBe(true);
  });

  it('reassembles fragments with control frames in between', () => {
    const { events, error } = run([
      clientFrame(1, 'Hel', false),
      clientFrame(9, 'ping'),
      clientFrame(0, 'lo ', false),
      clientFrame(10, ''),
      clientFrame(0, 'world', true),
      clientFrame(2, 'bin'),
    ]);
    expect(error).toBeUndefined();
    expect(events).toEqual([
      ['control', 9, 'ping'],
      ['control', 10, ''],
      ['message', 1, 'Hello world'],
      ['message', 2, 'bin'],
    ]);
  });

  it('rejects a continuation without a message and a new message inside a fragmented one', () => {
    expect(run([clientFrame(0, 'x')]).error?.code).toBe('processor.invalid_continuation');
    expect(run([clientFrame(1, 'a', false), clientFrame(2, 'b')]).error?.code).toBe('processor.invalid_continuation');
    expect(run([clientFrame(1, 'a', false), clientFrame(1, 'b')]).error?.code).toBe('processor.invalid_continuation');
  });

  it('enforces maxMessageSize at the header, across fragments', () => {
    expect(run([clientFrame(2, new Uint8Array(100))], { maxMessageSize: 100 }).error).toBeUndefined();
    const over = run([clientFrame(2, new Uint8Array(101))], { maxMessageSize: 100 });
    expect(over.error?.code).toBe('processor.message_too_big');
    expect(over.error?.closeCode).toBe(1009);
    // The header alone is enough to refuse: no payload is needed.
    const headerOnly = clientFrame(2, new Uint8Array(1000)).subarray(0, 8);
    expect(run([headerOnly], { maxMessageSize: 100 }).error?.code).toBe('processor.message_too_big');
    const grows = run([clientFrame(2, new Uint8Array(60), false), clientFrame(0, new Uint8Array(41))], { maxMessageSize: 100 });
    expect(grows.events).toEqual([]);
    expect(grows.error?.code).toBe('processor.message_too_big');
  });

  it('limits the number of fragments in one message', () => {
    const many = Array.from({ length: 10 }, (_, i) => clientFrame(i === 0 ? 2 : 0, 'x', false));
    expect(run([...many, clientFrame(0, 'x')], { maxFragments: 11 }).error).toBeUndefined();
    const flood = run([...many, clientFrame(0, 'x', false), clientFrame(0, 'x')], { maxFragments: 11 });
    expect(flood.error?.code).toBe('processor.too_many_fragments');
    expect(flood.error?.closeCode).toBe(1009);
  });

  it('validates UTF-8 across fragments and fails at the first bad fragment', () => {
    const euro = Buffer.from('€'); // e2 82 ac
    const split = run([clientFrame(1, euro.subarray(0, 1), false), clientFrame(0, euro.subarray(1, 2), false), clientFrame(0, euro.subarray(2))]);
    expect(split.error).toBeUndefined();
    expect(split.events).toEqual([['message', 1, euro.toString('latin1')]]);
    // The first fragment already makes the message invalid: fail before the rest arrives.
    const early = run([clientFrame(1, Uint8Array.of(0x61, 0xc0, 0x80), false)]);
    expect(early.error?.code).toBe('processor.invalid_utf8');
    expect(early.error?.closeCode).toBe(1007);
    const truncated = run([clientFrame(1, euro.subarray(0, 2))]);
    expect(truncated.error?.code).toBe('processor.invalid_utf8');
    // Binary is not validated.
    expect(run([clientFrame(2, Uint8Array.of(0xff))]).error).toBeUndefined();
    // A truncated message does not poison the validator for the next connection state.
    const after = run([clientFrame(1, 'ok')]);
    expect(after.error).toBeUndefined();
  });

  it('delivers empty messages', () => {
    const { events } = run([clientFrame(1, ''), clientFrame(2, '', false), clientFrame(0, '')]);
    expect(events).toEqual([
      ['message', 1, ''],
      ['message', 2, ''],
    ]);
  });
});
