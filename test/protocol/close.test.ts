import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  CloseCode,
  buildClosePayload,
  closeCodeName,
  isInvalidCloseCode,
  isReservedCloseCode,
  isValidWireCloseCode,
  parseClosePayload,
} from '../../src/protocol/close.js';
import { WsppError } from '../../src/protocol/errors.js';

const payload = (code: number, reason: Uint8Array | string = ''): Uint8Array => {
  const r = typeof reason === 'string' ? Buffer.from(reason) : reason;
  const out = new Uint8Array(2 + r.length);
  out[0] = code >>> 8;
  out[1] = code & 0xff;
  out.set(r, 2);
  return out;
};

function expectError(value: unknown, code: string): void {
  expect(value).toBeInstanceOf(WsppError);
  expect((value as WsppError).code).toBe(code);
}

describe('CloseCode', () => {
  it('has WebSocket++ close::status values', () => {
    expect(CloseCode).toEqual({
      normal: 1000,
      goingAway: 1001,
      protocolError: 1002,
      unsupportedData: 1003,
      noStatus: 1005,
      abnormalClose: 1006,
      invalidPayload: 1007,
      policyViolation: 1008,
      messageTooBig: 1009,
      extensionRequired: 1010,
      internalEndpointError: 1011,
      serviceRestart: 1012,
      tryAgainLater: 1013,
      badGateway: 1014,
      tlsHandshake: 1015,
      subprotocolError: 3000,
      invalidSubprotocolData: 3001,
      blank: 0,
      omitHandshake: 1,
      forceTcpDrop: 2,
    });
  });

  it('pseudo codes and 1005/1006/1015 never go on the wire', () => {
    for (const c of [CloseCode.blank, CloseCode.omitHandshake, CloseCode.forceTcpDrop, 1005, 1006, 1015]) {
      expect(isValidWireCloseCode(c)).toBe(false);
      expect(isInvalidCloseCode(c)).toBe(true);
    }
  });
});

describe('closeCodeName', () => {
  it.each([
    [1000, 'Normal close'],
    [1001, 'Going away'],
    [1002, 'Protocol error'],
    [1003, 'Unsupported data'],
    [1005, 'No status set'],
    [1006, 'Abnormal close'],
    [1007, 'Invalid payload'],
    [1008, 'Policy violoation'],
    [1009, 'Message too big'],
    [1010, 'Extension required'],
    [1011, 'Internal endpoint error'],
    [1012, 'Service restart'],
    [1013, 'Try again later'],
    [1014, 'Bad gateway'],
    [1015, 'TLS handshake failure'],
    [3000, 'Generic subprotocol error'],
    [3001, 'Invalid subprotocol data'],
    [0, 'Unknown'],
    [1004, 'Unknown'],
    [4000, 'Unknown'],
    [65535, 'Unknown'],
  ])('%i → %s', (code, name) => {
    expect(closeCodeName(code)).toBe(name);
  });

  it('every named CloseCode on the wire range has a name', () => {
    for (const code of Object.values(CloseCode)) {
      if (code >= 1000) expect(closeCodeName(code)).not.toBe('Unknown');
    }
  });
});

describe('close code rules, every code 0..5000 (and beyond)', () => {
  const ruleReserved = (c: number): boolean => c === 1004 || (c >= 1016 && c <= 2999);
  const ruleInvalid = (c: number): boolean => c <= 999 || c >= 5000 || c === 1005 || c === 1006 || c === 1015;
  const ruleWire = (c: number): boolean =>
    (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);

  it('classifies every code', () => {
    const codes = [...Array.from({ length: 5001 }, (_, i) => i), 5001, 6000, 65535];
    for (const c of codes) {
      expect(isReservedCloseCode(c), `reserved ${c}`).toBe(ruleReserved(c));
      expect(isInvalidCloseCode(c), `invalid ${c}`).toBe(ruleInvalid(c));
      expect(isValidWireCloseCode(c), `wire ${c}`).toBe(ruleWire(c));
      // the wire-valid codes are exactly those neither invalid nor reserved
      expect(isValidWireCloseCode(c)).toBe(!isInvalidCloseCode(c) && !isReservedCloseCode(c));
    }
  });

  it('spot checks at the boundaries', () => {
    expect(isValidWireCloseCode(999)).toBe(false);
    expect(isValidWireCloseCode(1000)).toBe(true);
    expect(isValidWireCloseCode(1003)).toBe(true);
    expect(isValidWireCloseCode(1004)).toBe(false);
    expect(isValidWireCloseCode(1007)).toBe(true);
    expect(isValidWireCloseCode(1014)).toBe(true);
    expect(isValidWireCloseCode(1016)).toBe(false);
    expect(isValidWireCloseCode(2999)).toBe(false);
    expect(isValidWireCloseCode(3000)).toBe(true);
    expect(isValidWireCloseCode(4999)).toBe(true);
    expect(isValidWireCloseCode(5000)).toBe(false);
  });

  it('non-integers are invalid', () => {
    for (const c of [1000.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(isInvalidCloseCode(c)).toBe(true);
      expect(isValidWireCloseCode(c)).toBe(false);
    }
  });

  it('parseClosePayload applies the same rules to every 16-bit code', () => {
    for (let c = 0; c < 65536; c++) {
      const r = parseClosePayload(payload(c));
      if (ruleWire(c)) {
        expect(r).toEqual({ code: c, reason: '' });
      } else {
        expectError(r, ruleInvalid(c) ? 'processor.invalid_close_code' : 'processor.reserved_close_code');
        expect((r as WsppError).closeCode).toBe(1002);
      }
    }
  });

  it('buildClosePayload accepts exactly the wire-valid codes (and 1005 / none as empty)', () => {
    for (let c = 0; c <= 5000; c++) {
      const r = buildClosePayload(c);
      if (c === 1005) expect(r).toEqual(new Uint8Array(0));
      else if (ruleWire(c)) expect(r).toEqual(Uint8Array.of(c >>> 8, c & 0xff));
      else expectError(r, ruleInvalid(c) ? 'processor.invalid_close_code' : 'processor.reserved_close_code');
    }
  });
});

describe('parseClosePayload', () => {
  it('empty payload → 1005, no reason', () => {
    expect(parseClosePayload(new Uint8Array(0))).toEqual({ code: 1005, reason: '' });
  });

  it('1-byte payload → invalid_close_payload (protocol error)', () => {
    const r = parseClosePayload(Uint8Array.of(0x03));
    expectError(r, 'processor.invalid_close_payload');
    expect((r as WsppError).closeCode).toBe(1002);
  });

  it('code and reason, big-endian', () => {
    expect(parseClosePayload(Uint8Array.of(0x03, 0xe9, 0x62, 0x79, 0x65))).toEqual({ code: 1001, reason: 'bye' });
    expect(parseClosePayload(payload(4321, 'çà va 🙂'))).toEqual({ code: 4321, reason: 'çà va 🙂' });
  });

  it('keeps a leading BOM and NUL bytes in the reason', () => {
    expect(parseClosePayload(payload(1000, '\uFEFFx\0y'))).toEqual({ code: 1000, reason: '\uFEFFx\0y' });
  });

  it('works on a view into a larger buffer', () => {
    const big = new Uint8Array(20).fill(0xff);
    big.set(payload(1000, 'ok'), 5);
    expect(parseClosePayload(big.subarray(5, 9))).toEqual({ code: 1000, reason: 'ok' });
  });

  it.each([
    ['lone continuation', [0x80]],
    ['surrogate', [0xed, 0xa0, 0x80]],
    ['overlong', [0xc0, 0xaf]],
    ['truncated', [0x61, 0xe2, 0x82]],
    ['above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
  ])('reason with invalid UTF-8 (%s) → invalid_utf8 (1007)', (_name, bad) => {
    const r = parseClosePayload(payload(1000, Uint8Array.from(bad)));
    expectError(r, 'processor.invalid_utf8');
    expect((r as WsppError).closeCode).toBe(1007);
  });

  it('a code error is reported before a reason error', () => {
    expectError(parseClosePayload(payload(1005, Uint8Array.of(0xff))), 'processor.invalid_close_code');
    expectError(parseClosePayload(payload(1004, Uint8Array.of(0xff))), 'processor.reserved_close_code');
  });

  it('accepts a 123-byte reason, rejects a payload over 125 bytes', () => {
    expect(parseClosePayload(payload(1000, 'a'.repeat(123)))).toEqual({ code: 1000, reason: 'a'.repeat(123) });
    expectError(parseClosePayload(payload(1000, 'a'.repeat(124))), 'processor.control_too_big');
  });
});

describe('buildClosePayload', () => {
  it('no code, no reason → empty payload', () => {
    expect(buildClosePayload(undefined)).toEqual(new Uint8Array(0));
    expect(buildClosePayload(undefined, '')).toEqual(new Uint8Array(0));
    expect(buildClosePayload(1005)).toEqual(new Uint8Array(0));
    expect(buildClosePayload(1005, '')).toEqual(new Uint8Array(0));
  });

  it('a reason needs a code', () => {
    expectError(buildClosePayload(undefined, 'why'), 'processor.reason_requires_code');
    expectError(buildClosePayload(1005, 'why'), 'processor.reason_requires_code');
  });

  it('code + reason, big-endian', () => {
    expect(buildClosePayload(1000, 'bye')).toEqual(Uint8Array.of(0x03, 0xe8, 0x62, 0x79, 0x65));
    expect(buildClosePayload(4999)).toEqual(Uint8Array.of(0x13, 0x87));
  });

  it('codes that must not be sent', () => {
    for (const c of [0, 1, 2, 999, 1006, 1015, 5000, 65535, 70000, -1, 1000.5]) {
      expectError(buildClosePayload(c, 'x'), 'processor.invalid_close_code');
    }
    for (const c of [1004, 1016, 2000, 2999]) {
      expectError(buildClosePayload(c), 'processor.reserved_close_code');
    }
  });

  it('123-byte reasons pass, 124-byte reasons fail (counted in UTF-8 bytes, never truncated)', () => {
    const r123 = buildClosePayload(1000, 'a'.repeat(123));
    expect(r123).toBeInstanceOf(Uint8Array);
    expect((r123 as Uint8Array).length).toBe(125);
    expectError(buildClosePayload(1000, 'a'.repeat(124)), 'processor.reason_too_long');
    // 41 × 3-byte '€' = 123 bytes; one more ASCII byte is too many although only 42 UTF-16 units
    expect((buildClosePayload(1000, '€'.repeat(41)) as Uint8Array).length).toBe(125);
    expectError(buildClosePayload(1000, '€'.repeat(41) + 'a'), 'processor.reason_too_long');
    // 30 × 4-byte emoji = 120 bytes, + 3 ASCII = 123 / + 4 = 124
    expect((buildClosePayload(1000, '🙂'.repeat(30) + 'abc') as Uint8Array).length).toBe(125);
    expectError(buildClosePayload(1000, '🙂'.repeat(30) + 'abcd'), 'processor.reason_too_long');
  });

  it('a reason with a lone surrogate has no UTF-8 form → invalid_utf8', () => {
    expectError(buildClosePayload(1000, 'a\uD800b'), 'processor.invalid_utf8');
    expectError(buildClosePayload(1000, '\uDC00'), 'processor.invalid_utf8');
    expect(buildClosePayload(1000, '\uD83D\uDE42')).toEqual(payload(1000, '🙂'));
  });
});

describe('round trip', () => {
  const wireCode = fc.oneof(
    fc.integer({ min: 1000, max: 1003 }),
    fc.integer({ min: 1007, max: 1014 }),
    fc.integer({ min: 3000, max: 4999 }),
  );

  it('parse(build(code, reason)) = { code, reason } for every wire code and short reason', () => {
    fc.assert(
      fc.property(wireCode, fc.string({ unit: 'binary', maxLength: 30 }), (code, reason) => {
        const built = buildClosePayload(code, reason);
        if (built instanceof WsppError) {
          expect(built.code).toBe('processor.reason_too_long');
          expect(Buffer.byteLength(reason)).toBeGreaterThan(123);
          return;
        }
        expect(built.length).toBe(2 + Buffer.byteLength(reason));
        expect(parseClosePayload(built)).toEqual({ code, reason });
      }),
      { numRuns: 1000 },
    );
  });

  it('build(parse(bytes)) = bytes for every valid payload', () => {
    fc.assert(
      fc.property(wireCode, fc.string({ unit: 'binary', maxLength: 40 }), (code, reason) => {
        const bytes = payload(code, reason);
        fc.pre(bytes.length <= 125);
        const parsed = parseClosePayload(bytes);
        if (parsed instanceof WsppError) throw parsed;
        expect(buildClosePayload(parsed.code, parsed.reason)).toEqual(bytes);
      }),
      { numRuns: 500 },
    );
  });

  it('empty payload round trips through 1005', () => {
    const parsed = parseClosePayload(new Uint8Array(0));
    if (parsed instanceof WsppError) throw parsed;
    expect(buildClosePayload(parsed.code, parsed.reason)).toEqual(new Uint8Array(0));
  });
});
