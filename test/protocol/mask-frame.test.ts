import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encodeFrame, headerSize, writeHeader } from '../../src/protocol/frame.js';
import { mask, rotateKey, setMaskImplementation, unmask } from '../../src/protocol/mask.js';

function naive(data: Uint8Array, key: Uint8Array, phase = 0): Uint8Array {
  return data.map((b, i) => b ^ key[(i + phase) & 3]!);
}

describe('masking', () => {
  it('agrees with the byte-wise definition for every length and alignment', () => {
    const key = Uint8Array.of(1, 2, 3, 250);
    const backing = new Uint8Array(300).map((_, i) => (i * 7) & 0xff);
    for (let offset = 0; offset < 4; offset++) {
      for (const length of [0, 1, 3, 4, 5, 31, 32, 33, 64, 127, 255]) {
        const view = Uint8Array.from(backing).subarray(offset, offset + length);
        const expected = naive(view, key);
        unmask(view, key);
        expect(Array.from(view)).toEqual(Array.from(expected));
      }
    }
  });

  it('mask writes source ^ key at the offset and leaves the source alone', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.nat(5), (src, key, off) => {
        const before = Uint8Array.from(src);
        const out = new Uint8Array(off + src.length);
        mask(src, key, out, off, src.length);
        expect(Array.from(out.subarray(off))).toEqual(Array.from(naive(src, key)));
        expect(Array.from(src)).toEqual(Array.from(before));
      }),
    );
  });

  it('unmasking in pieces with rotateKey equals unmasking at once', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(300)), (data, cuts) => {
        const key = Uint8Array.of(9, 8, 7, 6);
        const expected = naive(data, key);
        const buf = Uint8Array.from(data);
        const k = Uint8Array.from(key);
        let prev = 0;
        for (const c of [...cuts.filter((c) => c <= data.length)].sort((a, b) => a - b).concat(data.length)) {
          unmask(buf.subarray(prev, c), k);
          rotateKey(k, c - prev);
          prev = c;
        }
        expect(Array.from(buf)).toEqual(Array.from(expected));
      }),
    );
  });

  it('accepts a native helper and goes back to JavaScript', () => {
    let calls = 0;
    setMaskImplementation({
      unmask: (b, k) => {
        calls++;
        for (let i = 0; i < b.length; i++) b[i]! ^= k[i & 3]!;
      },
      mask: (s, k, o, off, len) => {
        calls++;
        for (let i = 0; i < len; i++) o[off + i] = s[i]! ^ k[i & 3]!;
      },
    });
    try {
      const data = new Uint8Array(100).fill(5);
      unmask(data, Uint8Array.of(1, 1, 1, 1));
      expect(data[0]).toBe(4);
      unmask(new Uint8Array(3), Uint8Array.of(1, 1, 1, 1)); // small: stays in JS
      expect(calls).toBe(1);
    } finally {
      setMaskImplementation();
    }
  });
});

describe('frame header encoding', () => {
  it('uses the minimal length encoding', () => {
    expect(headerSize(125, false)).toBe(2);
    expect(headerSize(126, false)).toBe(4);
    expect(headerSize(65535, false)).toBe(4);
    expect(headerSize(65536, false)).toBe(10);
    expect(headerSize(0, true)).toBe(6);
    const b = new Uint8Array(14);
    expect(writeHeader(b, 0, true, 0, 1, 125)).toBe(2);
    expect(b[1]).toBe(125);
    expect(writeHeader(b, 0, true, 0, 1, 126)).toBe(4);
    expect([b[1], b[2], b[3]]).toEqual([126, 0, 126]);
    expect(writeHeader(b, 0, false, 0x40, 2, 2 ** 40 + 5, Uint8Array.of(1, 2, 3, 4))).toBe(14);
    expect(Array.from(b.subarray(0, 14))).toEqual([0x42, 0xff, 0, 0, 1, 0, 0, 0, 0, 5, 1, 2, 3, 4]);
  });

  it('writes the RFC 6455 section 5.7 examples', () => {
    expect(Buffer.from(encodeFrame(1, Buffer.from('Hello'))).toString('hex')).toBe('810548656c6c6f');
    const masked = encodeFrame(1, Buffer.from('Hello'), { maskKey: Uint8Array.of(0x37, 0xfa, 0x21, 0x3d) });
    expect(Buffer.from(masked).toString('hex')).toBe('818537fa213d7f9f4d5158');
    expect(Buffer.from(encodeFrame(1, Buffer.from('Hel'), { fin: false })).toString('hex')).toBe('010348656c');
    expect(Buffer.from(encodeFrame(0, Buffer.from('lo'))).toString('hex')).toBe('80026c6f');
    const big = encodeFrame(2, new Uint8Array(256));
    expect(Buffer.from(big.subarray(0, 4)).toString('hex')).toBe('827e0100');
    const huge = encodeFrame(2, new Uint8Array(65536));
    expect(Buffer.from(huge.subarray(0, 10)).toString('hex')).toBe('827f0000000000010000');
  });

  it('rejects impossible lengths', () => {
    expect(() => writeHeader(new Uint8Array(14), 0, true, 0, 2, -1)).toThrow(RangeError);
    expect(() => writeHeader(new Uint8Array(14), 0, true, 0, 2, 2 ** 53)).toThrow(RangeError);
  });
});
