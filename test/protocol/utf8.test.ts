import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { isUtf8 } from 'node:buffer';
import { Utf8Validator, isValidUtf8 } from '../../src/protocol/utf8.js';

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const reference = new TextDecoder('utf-8', { fatal: true });
function referenceValid(b: Uint8Array): boolean {
  try {
    reference.decode(b);
    return true;
  } catch {
    return false;
  }
}

/** Feeds b to a fresh validator in the pieces delimited by cuts; returns finish(). */
function streamed(b: Uint8Array, cuts: readonly number[]): boolean {
  const v = new Utf8Validator();
  const points = [...new Set(cuts.map((c) => (b.length === 0 ? 0 : c % (b.length + 1))))].sort((x, y) => x - y);
  let from = 0;
  let failed = false;
  for (const to of [...points, b.length]) {
    if (!v.update(b, from, to)) failed = true;
    else if (failed) throw new Error('validator became valid again after failing');
    from = to;
  }
  const ok = v.finish();
  if (failed && ok) throw new Error('finish() true after update() returned false');
  return ok;
}

/** Every way of feeding b one piece per byte, two pieces, and whole. */
function allValidatorsAgree(b: Uint8Array, expected: boolean): void {
  expect(isValidUtf8(b), `isValidUtf8 ${hex(b)}`).toBe(expected);
  expect(streamed(b, []), `whole ${hex(b)}`).toBe(expected);
  expect(streamed(b, [...b.keys()]), `bytewise ${hex(b)}`).toBe(expected);
  for (let cut = 0; cut <= b.length; cut++) {
    expect(streamed(b, [cut]), `cut at ${cut} ${hex(b)}`).toBe(expected);
  }
}

/** Pads with ASCII on both sides so the bulk (isUtf8) path is used too. */
function padded(b: Uint8Array, before: number, after: number): Uint8Array {
  const out = new Uint8Array(before + b.length + after).fill(0x61);
  out.set(b, before);
  return out;
}

function checkEverywhere(b: Uint8Array, expected: boolean): void {
  allValidatorsAgree(b, expected);
  allValidatorsAgree(padded(b, 40, 0), expected);
  allValidatorsAgree(padded(b, 0, 40), expected);
  allValidatorsAgree(padded(b, 33, 37), expected);
  expect(referenceValid(b), `reference ${hex(b)}`).toBe(expected);
}

const valid: Array<[string, number[]]> = [
  ['empty', []],
  ['U+0000', [0x00]],
  ['U+007F (last 1-byte)', [0x7f]],
  ['U+0080 (first 2-byte)', [0xc2, 0x80]],
  ['U+07FF (last 2-byte)', [0xdf, 0xbf]],
  ['U+0800 (first 3-byte)', [0xe0, 0xa0, 0x80]],
  ['U+0FFF', [0xe0, 0xbf, 0xbf]],
  ['U+1000', [0xe1, 0x80, 0x80]],
  ['U+CFFF', [0xec, 0xbf, 0xbf]],
  ['U+D000', [0xed, 0x80, 0x80]],
  ['U+D7FF (last before surrogates)', [0xed, 0x9f, 0xbf]],
  ['U+E000 (first after surrogates)', [0xee, 0x80, 0x80]],
  ['U+FEFF (BOM)', [0xef, 0xbb, 0xbf]],
  ['U+FFFD', [0xef, 0xbf, 0xbd]],
  ['U+FFFE (noncharacter, still valid)', [0xef, 0xbf, 0xbe]],
  ['U+FFFF (last 3-byte)', [0xef, 0xbf, 0xbf]],
  ['U+10000 (first 4-byte)', [0xf0, 0x90, 0x80, 0x80]],
  ['U+3FFFF', [0xf0, 0xbf, 0xbf, 0xbf]],
  ['U+40000', [0xf1, 0x80, 0x80, 0x80]],
  ['U+FFFFF', [0xf3, 0xbf, 0xbf, 0xbf]],
  ['U+100000', [0xf4, 0x80, 0x80, 0x80]],
  ['U+10FFFF (last code point)', [0xf4, 0x8f, 0xbf, 0xbf]],
  ['mixed', [0x24, 0xc2, 0xa2, 0xe2, 0x82, 0xac, 0xf0, 0x90, 0x8d, 0x88, 0x41]],
  ['Hello-µ@ßöäüàá-UTF-8!!', [...Buffer.from('Hello-µ@ßöäüàá-UTF-8!!')]],
];

const invalid: Array<[string, number[]]> = [
  // stray continuation bytes
  ['lone 80', [0x80]],
  ['lone BF', [0xbf]],
  ['continuation after ASCII', [0x41, 0x80]],
  ['extra continuation after 2-byte', [0xc2, 0x80, 0x80]],
  ['extra continuation after 4-byte', [0xf0, 0x90, 0x80, 0x80, 0x80]],
  // overlong forms of each length
  ['overlong 2-byte C0 80 (U+0000)', [0xc0, 0x80]],
  ['overlong 2-byte C0 AF (/)', [0xc0, 0xaf]],
  ['overlong 2-byte C1 BF (U+007F)', [0xc1, 0xbf]],
  ['overlong 3-byte E0 80 80 (U+0000)', [0xe0, 0x80, 0x80]],
  ['overlong 3-byte E0 80 AF (/)', [0xe0, 0x80, 0xaf]],
  ['overlong 3-byte E0 9F BF (U+07FF)', [0xe0, 0x9f, 0xbf]],
  ['overlong 4-byte F0 80 80 80 (U+0000)', [0xf0, 0x80, 0x80, 0x80]],
  ['overlong 4-byte F0 80 80 AF (/)', [0xf0, 0x80, 0x80, 0xaf]],
  ['overlong 4-byte F0 8F BF BF (U+FFFF)', [0xf0, 0x8f, 0xbf, 0xbf]],
  ['overlong 5-byte F8 80 80 80 AF', [0xf8, 0x80, 0x80, 0x80, 0xaf]],
  ['overlong 6-byte FC 80 80 80 80 AF', [0xfc, 0x80, 0x80, 0x80, 0x80, 0xaf]],
  // surrogates
  ['U+D800 (first high surrogate)', [0xed, 0xa0, 0x80]],
  ['U+DB7F', [0xed, 0xad, 0xbf]],
  ['U+DBFF (last high surrogate)', [0xed, 0xaf, 0xbf]],
  ['U+DC00 (first low surrogate)', [0xed, 0xb0, 0x80]],
  ['U+DFFF (last surrogate)', [0xed, 0xbf, 0xbf]],
  ['surrogate pair D800 DC00 (CESU-8)', [0xed, 0xa0, 0x80, 0xed, 0xb0, 0x80]],
  ['surrogate pair DBFF DFFF (CESU-8)', [0xed, 0xaf, 0xbf, 0xed, 0xbf, 0xbf]],
  // above U+10FFFF
  ['U+110000', [0xf4, 0x90, 0x80, 0x80]],
  ['U+13FFFF', [0xf4, 0xbf, 0xbf, 0xbf]],
  ['F5 lead (U+140000)', [0xf5, 0x80, 0x80, 0x80]],
  ['F7 BF BF BF (U+1FFFFF)', [0xf7, 0xbf, 0xbf, 0xbf]],
  ['FE', [0xfe]],
  ['FF', [0xff]],
  // truncated at the end
  ['truncated 2-byte', [0xc2]],
  ['truncated 3-byte after 1', [0xe2]],
  ['truncated 3-byte after 2', [0xe2, 0x82]],
  ['truncated 4-byte after 1', [0xf0]],
  ['truncated 4-byte after 2', [0xf0, 0x90]],
  ['truncated 4-byte after 3', [0xf0, 0x90, 0x80]],
  ['truncated U+10FFFF', [0xf4, 0x8f, 0xbf]],
  // a lead byte (or ASCII) where a continuation was expected
  ['2-byte then ASCII', [0xc2, 0x41]],
  ['3-byte then ASCII', [0xe2, 0x82, 0x41]],
  ['4-byte then ASCII', [0xf0, 0x90, 0x80, 0x41]],
  ['2-byte then lead', [0xc2, 0xc2, 0x80]],
  ['3-byte then lead', [0xe2, 0xe2, 0x82, 0xac]],
  ['4-byte then lead', [0xf0, 0x90, 0xf0, 0x90, 0x80, 0x80]],
  // Autobahn 6.3.1-style: valid text with a surrogate in the middle
  ['κόσμε + surrogate + edited', [0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80, 0x65, 0x64, 0x69, 0x74, 0x65, 0x64]],
];

describe('Utf8Validator / isValidUtf8: edge cases', () => {
  it.each(valid)('accepts %s', (_name, b) => {
    checkEverywhere(bytes(...b), true);
  });
  it.each(invalid)('rejects %s', (_name, b) => {
    checkEverywhere(bytes(...b), false);
  });

  it('second bytes after E0, ED, F0, F4: exactly the RFC 3629 ranges', () => {
    const ranges: Array<[number, number, number, number]> = [
      // lead, lo, hi, sequence length
      [0xe0, 0xa0, 0xbf, 3],
      [0xed, 0x80, 0x9f, 3],
      [0xf0, 0x90, 0xbf, 4],
      [0xf4, 0x80, 0x8f, 4],
      [0xe1, 0x80, 0xbf, 3],
      [0xf1, 0x80, 0xbf, 4],
      [0xc2, 0x80, 0xbf, 2],
    ];
    for (const [lead, lo, hi, len] of ranges) {
      for (let second = 0; second < 256; second++) {
        const b = new Uint8Array(len).fill(0x80);
        b[0] = lead;
        b[1] = second;
        const expected = second >= lo && second <= hi;
        expect(referenceValid(b)).toBe(expected);
        allValidatorsAgree(b, expected);
      }
    }
  });

  it('every code point boundary across all 2-byte sequences', () => {
    for (let b0 = 0x80; b0 < 0x100; b0++) {
      for (let b1 = 0; b1 < 0x100; b1++) {
        const b = bytes(b0, b1);
        expect(isValidUtf8(b)).toBe(referenceValid(b));
        expect(streamed(b, [1])).toBe(referenceValid(b));
      }
    }
  });

  it('every code point U+0000..U+10FFFF (step 1 below U+10000, sampled above) validates split anywhere', () => {
    const v = new Utf8Validator();
    for (let cp = 0; cp <= 0x10ffff; cp += cp < 0x10000 ? 1 : 61) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const b = Buffer.from(String.fromCodePoint(cp));
      for (let cut = 0; cut <= b.length; cut++) {
        v.update(b, 0, cut);
        v.update(b, cut);
        if (!v.finish()) throw new Error(`U+${cp.toString(16)} cut ${cut}`);
      }
    }
    for (const cp of [0x10ffff, 0x10fffe, 0x100000, 0xfffff]) {
      allValidatorsAgree(Buffer.from(String.fromCodePoint(cp)), true);
    }
  });
});

describe('Utf8Validator: streaming behaviour', () => {
  it('carries a code point across any number of update() calls', () => {
    const b = Buffer.from('€𝄞');
    const v = new Utf8Validator();
    for (let i = 0; i < b.length; i++) expect(v.update(b.subarray(i, i + 1))).toBe(true);
    expect(v.finish()).toBe(true);
  });

  it('honours start and end', () => {
    const b = bytes(0xff, 0xe2, 0x82, 0xac, 0xff);
    const v = new Utf8Validator();
    expect(v.update(b, 1, 3)).toBe(true);
    expect(v.update(b, 3, 4)).toBe(true);
    expect(v.finish()).toBe(true);
    expect(v.update(b, 4)).toBe(false);
    expect(v.finish()).toBe(false);
    // empty ranges change nothing
    expect(v.update(b, 2, 2)).toBe(true);
    expect(v.update(b, 5)).toBe(true);
    expect(v.finish()).toBe(true);
  });

  it('fails fast and stays invalid until reset', () => {
    const v = new Utf8Validator();
    expect(v.update(bytes(0x61, 0xc0))).toBe(false);
    expect(v.update(bytes(0x61))).toBe(false);
    expect(v.update(Buffer.from('a perfectly valid and rather long ASCII string, longer than the threshold'))).toBe(false);
    v.reset();
    expect(v.update(bytes(0x61))).toBe(true);
    expect(v.finish()).toBe(true);
  });

  it('fails at the first bad byte, before the message ends', () => {
    const v = new Utf8Validator();
    expect(v.update(bytes(0xed))).toBe(true);
    expect(v.update(bytes(0xa0))).toBe(false); // surrogate known after 2 bytes
    v.reset();
    expect(v.update(bytes(0xf4))).toBe(true);
    expect(v.update(bytes(0x90))).toBe(false); // > U+10FFFF known after 2 bytes
    v.reset();
    expect(v.update(bytes(0xe0))).toBe(true);
    expect(v.update(bytes(0x9f))).toBe(false); // overlong known after 2 bytes
    v.reset();
    expect(v.update(bytes(0xf0, 0x8f))).toBe(false);
    v.reset();
    const longBad = Buffer.concat([Buffer.alloc(100, 0x61), bytes(0xc1, 0x81), Buffer.alloc(100, 0x61)]);
    expect(v.update(longBad)).toBe(false);
  });

  it('finish() rejects a truncated sequence and resets for the next message', () => {
    const v = new Utf8Validator();
    expect(v.update(bytes(0xf0, 0x9f, 0x99))).toBe(true);
    expect(v.finish()).toBe(false);
    expect(v.update(bytes(0x80))).toBe(false); // the next message starts fresh: stray continuation
    expect(v.finish()).toBe(false);
    expect(v.update(Buffer.from('ok'))).toBe(true);
    expect(v.finish()).toBe(true);
    expect(v.finish()).toBe(true); // empty message
  });

  it('a long chunk ending mid-sequence continues in the next chunk (bulk path)', () => {
    const text = Buffer.from('x'.repeat(100) + '🙂' + 'é'.repeat(50) + '中');
    for (let cut = 95; cut < text.length; cut++) {
      const v = new Utf8Validator();
      expect(v.update(text.subarray(0, cut))).toBe(true);
      expect(v.update(text.subarray(cut))).toBe(true);
      expect(v.finish()).toBe(true);
    }
  });

  it('a long chunk whose last 3 bytes are continuations is judged as a whole', () => {
    const v = new Utf8Validator();
    const b = Buffer.concat([Buffer.alloc(50, 0x61), bytes(0x80, 0x80, 0x80)]);
    expect(v.update(b)).toBe(false);
    v.reset();
    const c = Buffer.concat([Buffer.alloc(50, 0x61), bytes(0xf0, 0x90, 0x80, 0x80)]);
    expect(v.update(c)).toBe(true);
    expect(v.finish()).toBe(true);
  });

  it('a long chunk ending in an invalid lead byte is rejected', () => {
    for (const lead of [0xc0, 0xc1, 0xf5, 0xf8, 0xff]) {
      const v = new Utf8Validator();
      expect(v.update(Buffer.concat([Buffer.alloc(50, 0x61), bytes(lead)]))).toBe(false);
    }
  });
});

describe("node:buffer isUtf8 (the bulk engine) is strict RFC 3629", () => {
  it.each([
    ['surrogate', [0xed, 0xa0, 0x80]],
    ['overlong C0 80', [0xc0, 0x80]],
    ['overlong E0 80 80', [0xe0, 0x80, 0x80]],
    ['overlong F0 80 80 80', [0xf0, 0x80, 0x80, 0x80]],
    ['U+110000', [0xf4, 0x90, 0x80, 0x80]],
    ['F5', [0xf5, 0x80, 0x80, 0x80]],
    ['truncated', [0xe2, 0x82]],
    ['stray continuation', [0x80]],
  ])('rejects %s', (_name, b) => {
    expect(isUtf8(bytes(...b))).toBe(false);
    expect(isUtf8(padded(bytes(...b), 64, 64))).toBe(false);
  });
  it('accepts U+10FFFF, U+D7FF, U+E000, BOM', () => {
    expect(isUtf8(bytes(0xf4, 0x8f, 0xbf, 0xbf, 0xed, 0x9f, 0xbf, 0xee, 0x80, 0x80, 0xef, 0xbb, 0xbf))).toBe(true);
  });
});

// Bytes biased towards the interesting boundaries, so random arrays are not all
// rejected at the first byte.
const interestingByte = fc.oneof(
  fc.constantFrom(
    0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee,
    0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xf7, 0xf8, 0xfe, 0xff,
  ),
  fc.integer({ min: 0, max: 255 }),
);
const cutsArb = fc.array(fc.nat(), { maxLength: 12 });

describe('property tests', () => {
  it('Buffer.from(s) of any string of code points validates in any chunking', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), cutsArb, (s, cuts) => {
        const b = Buffer.from(s, 'utf8');
        expect(isValidUtf8(b)).toBe(true);
        expect(streamed(b, cuts)).toBe(true);
        expect(streamed(b, [...b.keys()].filter((i) => i % 3 === 0))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('random bytes: agrees with a fatal TextDecoder in any chunking', () => {
    fc.assert(
      fc.property(fc.array(interestingByte, { maxLength: 80 }), cutsArb, (arr, cuts) => {
        const b = Uint8Array.from(arr);
        const expected = referenceValid(b);
        expect(isValidUtf8(b)).toBe(expected);
        expect(streamed(b, cuts)).toBe(expected);
        expect(streamed(b, [...b.keys()])).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it('valid text with a few bytes mutated: agrees with a fatal TextDecoder in any chunking', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', minLength: 1, maxLength: 120 }),
        fc.array(fc.tuple(fc.nat(), interestingByte), { minLength: 1, maxLength: 3 }),
        cutsArb,
        (s, edits, cuts) => {
          const b = new Uint8Array(Buffer.from(s, 'utf8'));
          for (const [at, value] of edits) b[at % b.length] = value;
          const expected = referenceValid(b);
          expect(isValidUtf8(b)).toBe(expected);
          expect(streamed(b, cuts)).toBe(expected);
          expect(streamed(padded(b, 30, 0), cuts)).toBe(expected);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('a valid prefix followed by a truncated code point is rejected only at finish()', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 100 }), fc.integer({ min: 0x80, max: 0x10ffff }), (s, cp) => {
        fc.pre(cp < 0xd800 || cp > 0xdfff);
        const whole = Buffer.from(s + String.fromCodePoint(cp));
        const truncated = whole.subarray(0, whole.length - 1);
        const v = new Utf8Validator();
        expect(v.update(truncated)).toBe(true);
        expect(v.finish()).toBe(false);
        expect(isValidUtf8(truncated)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});
