import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { WsppError } from '../../src/protocol/errors.js';
import type { ErrorCode } from '../../src/protocol/errors.js';
import {
  DEFAULT_HTTP_LIMITS,
  HttpHeadParser,
  HttpHeaders,
  formatExtensions,
  hasDuplicateParams,
  isToken,
  parseExtensions,
  parseSubprotocols,
  parseTokenList,
  tokenListHas,
} from '../../src/protocol/http.js';
import type { ExtensionOffer, HttpHead, HttpKind, HttpLimits } from '../../src/protocol/http.js';

const bytes = (s: string): Uint8Array => Buffer.from(s, 'latin1');

function parse(kind: HttpKind, input: string | Uint8Array, limits?: Partial<HttpLimits>) {
  return new HttpHeadParser(kind, limits).push(typeof input === 'string' ? bytes(input) : input);
}

function head(kind: HttpKind, input: string | Uint8Array, limits?: Partial<HttpLimits>): HttpHead {
  const r = parse(kind, input, limits);
  if (!(r !== undefined && !(r instanceof WsppError))) throw new Error(`expected a head, got ${String(r)}`);
  return r;
}

function errorCode(kind: HttpKind, input: string | Uint8Array, limits?: Partial<HttpLimits>): ErrorCode | undefined {
  const r = parse(kind, input, limits);
  return r instanceof WsppError ? r.code : undefined;
}

/** A comparable view of a parse result. */
function normal(r: HttpHead | WsppError | undefined) {
  if (r === undefined) return { pending: true };
  if (r instanceof WsppError) return { code: r.code, message: r.message };
  return {
    kind: r.kind,
    method: r.method,
    target: r.target,
    version: r.version,
    status: r.status,
    reason: r.reason,
    headers: [...r.headers.entries()],
    rest: Array.from(r.rest),
    size: r.size,
  };
}

/** Push `input` cut at the given (sorted, deduplicated) positions; the first non-undefined result wins. */
function pushChunks(kind: HttpKind, input: Uint8Array, cuts: number[], limits?: Partial<HttpLimits>) {
  const parser = new HttpHeadParser(kind, limits);
  let prev = 0;
  for (const cut of [...cuts, input.length]) {
    const r = parser.push(input.subarray(prev, cut));
    prev = cut;
    if (r !== undefined) {
      if (r instanceof WsppError || cut === input.length) return r;
      // the head ended early: the rest of this chunk is in r.rest, the later chunks follow it
      return { ...r, rest: Buffer.concat([r.rest, input.subarray(cut)]) };
    }
  }
  return undefined;
}

const REQUEST =
  'GET /chat?x=1 HTTP/1.1\r\n' +
  'Host: server.example.com\r\n' +
  'Upgrade: websocket\r\n' +
  'Connection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
  'Origin: http://example.com\r\n' +
  'Sec-WebSocket-Protocol: chat\r\n' +
  'sec-websocket-protocol:superchat  \r\n' +
  'Sec-WebSocket-Version: 13\r\n' +
  '\r\n';

const RESPONSE =
  'HTTP/1.1 101 Switching Protocols\r\n' +
  'Upgrade: websocket\r\n' +
  'Connection: Upgrade\r\n' +
  'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n' +
  '\r\n';

/** A head of exactly `size` bytes: padded with one X-Pad header. */
function requestOfSize(size: number): string {
  const base = 'GET / HTTP/1.1\r\nHost: a\r\nX-Pad: \r\n\r\n';
  return base.replace('X-Pad: ', `X-Pad: ${'p'.repeat(size - base.length)}`);
}

function requestWithHeaders(count: number): string {
  let s = 'GET / HTTP/1.1\r\n';
  for (let i = 0; i < count; i++) s += `H${i}: v\r\n`;
  return `${s}\r\n`;
}

describe('HttpHeadParser: requests', () => {
  it('parses a request head', () => {
    const h = head('request', REQUEST);
    expect(h.kind).toBe('request');
    expect(h.method).toBe('GET');
    expect(h.target).toBe('/chat?x=1');
    expect(h.version).toBe('1.1');
    expect(h.status).toBeUndefined();
    expect(h.size).toBe(REQUEST.length);
    expect(h.rest.length).toBe(0);
    expect(h.headers.get('HOST')).toBe('server.example.com');
    expect(h.headers.get('sec-websocket-protocol')).toBe('chat, superchat');
    expect(h.headers.getAll('Sec-WebSocket-Protocol')).toEqual(['chat', 'superchat']);
    expect(h.headers.count('sec-websocket-protocol')).toBe(2);
    expect(h.headers.has('origin')).toBe(true);
    expect(h.headers.has('cookie')).toBe(false);
    expect(h.headers.get('cookie')).toBeUndefined();
    expect(h.headers.getAll('cookie')).toEqual([]);
    expect(h.headers.count('cookie')).toBe(0);
    expect(h.headers.size).toBe(8);
    const raw = [...h.headers.entries()];
    expect(raw[0]).toEqual(['Host', 'server.example.com']);
    expect(raw[6]).toEqual(['sec-websocket-protocol', 'superchat']);
    expect([...h.headers].length).toBe(8);
  });

  it('getAll returns a copy', () => {
    const h = head('request', REQUEST);
    h.headers.getAll('host').push('evil');
    expect(h.headers.getAll('host')).toEqual(['server.example.com']);
  });

  it('trims optional whitespace around values, keeps inner whitespace and HTAB', () => {
    const h = head('request', 'GET / HTTP/1.1\r\nA: \t x \t y \t\r\nB:\r\nC:   \r\n\r\n');
    expect(h.headers.get('a')).toBe('x \t y');
    expect(h.headers.get('b')).toBe('');
    expect(h.headers.get('c')).toBe('');
  });

  it('decodes the head as latin1, never UTF-8', () => {
    const h = head('request', Buffer.concat([bytes('GET / HTTP/1.1\r\nX: '), Buffer.from([0xc3, 0xa9, 0xff]), bytes('\r\n\r\n')]));
    expect(h.headers.get('x')).toBe('\u00c3\u00a9\u00ff');
  });

  it('accepts any token as a method; the handshake checks GET', () => {
    expect(head('request', 'M-SEARCH * HTTP/1.1\r\n\r\n').method).toBe('M-SEARCH');
    expect(head('request', 'GET http://a/b HTTP/1.1\r\n\r\n').target).toBe('http://a/b');
  });

  it('keeps bytes after the head in rest, as a subarray of the chunk', () => {
    const frame = [0x81, 0x85, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    const chunk = Buffer.concat([bytes(REQUEST), Buffer.from(frame)]);
    const h = head('request', chunk);
    expect(Array.from(h.rest)).toEqual(frame);
    expect(h.rest.buffer).toBe(chunk.buffer);
    expect(h.rest.byteOffset).toBe(chunk.byteOffset + REQUEST.length);
  });

  it('keeps rest when the head completes in a later chunk', () => {
    const parser = new HttpHeadParser('request');
    expect(parser.push(bytes(REQUEST.slice(0, 30)))).toBeUndefined();
    expect(parser.done).toBe(false);
    const r = parser.push(Buffer.concat([bytes(REQUEST.slice(30)), Buffer.from([1, 2, 3])]));
    expect(normal(r)).toMatchObject({ method: 'GET', rest: [1, 2, 3], size: REQUEST.length });
    expect(parser.done).toBe(true);
    expect(parser.result).toBe(r);
  });

  it('copies incomplete data: the caller may reuse its buffer', () => {
    const parser = new HttpHeadParser('request');
    const buf = Buffer.from(REQUEST.slice(0, 20), 'latin1');
    expect(parser.push(buf)).toBeUndefined();
    buf.fill(0x41); // reuse
    const r = parser.push(bytes(REQUEST.slice(20)));
    expect(normal(r)).toEqual(normal(parse('request', REQUEST)));
  });

  it('ignores empty chunks', () => {
    const parser = new HttpHeadParser('request');
    expect(parser.push(new Uint8Array(0))).toBeUndefined();
    expect(parser.push(bytes('GET / HTTP/1.1\r\n'))).toBeUndefined();
    expect(parser.push(new Uint8Array(0))).toBeUndefined();
    expect(normal(parser.push(bytes('\r\n')))).toMatchObject({ method: 'GET', size: 18 });
  });

  it('split at every byte position gives the same result as one push', () => {
    const input = Buffer.concat([bytes(REQUEST), Buffer.from([0x88, 0x80, 9, 9, 9, 9])]);
    const whole = normal(parse('request', input));
    for (let cut = 0; cut <= input.length; cut++) {
      expect(normal(pushChunks('request', input, [cut]))).toEqual(whole);
    }
  });

  it('split at every pair of byte positions gives the same result (response)', () => {
    const input = Buffer.concat([bytes(RESPONSE), Buffer.from([0x81, 0x00])]);
    const whole = normal(parse('response', input));
    for (let a = 0; a <= input.length; a++) {
      for (let b = a; b <= input.length; b += 7) {
        expect(normal(pushChunks('response', input, [a, b]))).toEqual(whole);
      }
    }
  });

  it('one byte at a time gives the same result', () => {
    const input = bytes(REQUEST);
    const cuts = Array.from({ length: input.length }, (_, i) => i);
    expect(normal(pushChunks('request', input, cuts))).toEqual(normal(parse('request', input)));
  });
});

describe('HttpHeadParser: responses', () => {
  it('parses a status line', () => {
    const h = head('response', RESPONSE);
    expect(h.kind).toBe('response');
    expect(h.status).toBe(101);
    expect(h.reason).toBe('Switching Protocols');
    expect(h.version).toBe('1.1');
    expect(h.method).toBeUndefined();
    expect(h.headers.get('sec-websocket-accept')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('tolerates an empty reason, with or without the space', () => {
    expect(head('response', 'HTTP/1.1 101\r\n\r\n').reason).toBe('');
    expect(head('response', 'HTTP/1.1 101 \r\n\r\n').reason).toBe('');
    expect(head('response', 'HTTP/1.1 404 Not  Found\t!\r\n\r\n').reason).toBe('Not  Found\t!');
  });

  it('rejects malformed status lines', () => {
    for (const line of [
      'HTTP/1.1 10',
      'HTTP/1.1 1010',
      'HTTP/1.1 abc OK',
      'HTTP/1.1  101 OK',
      'HTTP/1.1 101OK',
      'HTTP/1.1 099 Low',
      'HTTP/1.1 600 High',
      'HTP/1.1 101 OK',
      'http/1.1 101 OK',
      'HTTP/1.1',
      'HTTP/11 101 OK',
      'HTTP/1.1 101 bad\x00reason',
      'HTTP/1.1 101 bad\x7freason',
      'HTTP/1.1\t101 OK',
    ]) {
      expect(errorCode('response', `${line}\r\n\r\n`), line).toBe('http.invalid_status_line');
    }
    expect(errorCode('response', '\r\n')).toBe('http.invalid_status_line');
  });

  it('accepts only HTTP/1.1', () => {
    expect(errorCode('response', 'HTTP/1.0 101 Switching Protocols\r\n\r\n')).toBe('http.unsupported_version');
    expect(errorCode('response', 'HTTP/2.0 200 OK\r\n\r\n')).toBe('http.unsupported_version');
    const e = parse('response', 'HTTP/1.0 200 OK\r\n\r\n') as WsppError;
    expect(e.status).toBe(505);
  });
});

describe('HttpHeadParser: strictness', () => {
  it('rejects bare LF and bare CR', () => {
    expect(errorCode('request', 'GET / HTTP/1.1\nHost: a\r\n\r\n')).toBe('http.bare_cr');
    expect(errorCode('request', 'GET / HTTP/1.1\r\nHost: a\n\r\n')).toBe('http.bare_cr');
    expect(errorCode('request', 'GET / HTTP/1.1\r\nHost: a\r\n\n')).toBe('http.bare_cr');
    expect(errorCode('request', 'GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n')).toBe('http.bare_cr');
    expect(errorCode('request', 'GET / HTTP/1.1\r\nHost: a\r\r\n\r\n')).toBe('http.bare_cr');
    expect(errorCode('request', 'GET / HTTP/1.1\r\n\r\r\n')).toBe('http.bare_cr');
    expect(errorCode('response', 'HTTP/1.1 101 OK\n\n')).toBe('http.bare_cr');
  });

  it('rejects a bare LF as soon as it arrives', () => {
    const parser = new HttpHeadParser('request');
    const r = parser.push(bytes('GET / HTTP/1.1\n'));
    expect(r).toBeInstanceOf(WsppError);
    expect((r as WsppError).code).toBe('http.bare_cr');
    expect((r as WsppError).status).toBe(400);
  });

  it('rejects obsolete line folding', () => {
    expect(errorCode('request', 'GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n')).toBe('http.obs_fold');
    expect(errorCode('request', 'GET / HTTP/1.1\r\nA: b\r\n\tc\r\n\r\n')).toBe('http.obs_fold');
    expect(errorCode('request', 'GET / HTTP/1.1\r\n Host: a\r\n\r\n')).toBe('http.obs_fold');
  });

  it('rejects invalid field names', () => {
    for (const line of ['Host : a', ': a', 'Ho(st: a', 'Ho st: a', 'Host', '\u00e9t\u00e9: a', 'A\x00: b', '"a": b', 'a/b: c']) {
      expect(errorCode('request', `GET / HTTP/1.1\r\n${line}\r\n\r\n`), line).toBe('http.invalid_header_name');
    }
  });

  it('accepts every tchar in a field name', () => {
    const name = "!#$%&'*+-.^_`|~09AZaz";
    expect(head('request', `GET / HTTP/1.1\r\n${name}: v\r\n\r\n`).headers.get(name)).toBe('v');
  });

  it('rejects control characters in field values', () => {
    for (const v of ['a\x00b', '\x01', 'a\x7f', 'a\x1bb', '\x00']) {
      expect(errorCode('request', `GET / HTTP/1.1\r\nA: ${v}\r\n\r\n`), JSON.stringify(v)).toBe('http.invalid_header_value');
    }
  });

  it('rejects malformed request lines', () => {
    for (const line of [
      'GET /',
      'GET',
      'GET  / HTTP/1.1',
      'GET /  HTTP/1.1',
      'GET / HTTP/1.1 ',
      ' GET / HTTP/1.1',
      'GET / http/1.1',
      'GET / HTTP/1.10',
      'GET / HTTP/1',
      'GET / HTTPS/1.1',
      'G(T / HTTP/1.1',
      'GET /a\x01b HTTP/1.1',
      'GET /\u00e9 HTTP/1.1',
      'GET\t/ HTTP/1.1',
      '/ HTTP/1.1',
    ]) {
      expect(errorCode('request', `${line}\r\n\r\n`), JSON.stringify(line)).toBe('http.invalid_request_line');
    }
  });

  it('rejects an empty request line immediately', () => {
    const parser = new HttpHeadParser('request');
    const r = parser.push(bytes('\r\n'));
    expect((r as WsppError).code).toBe('http.invalid_request_line');
  });

  it('accepts only HTTP/1.1 requests', () => {
    expect(errorCode('request', 'GET / HTTP/1.0\r\n\r\n')).toBe('http.unsupported_version');
    expect(errorCode('request', 'GET / HTTP/2.0\r\n\r\n')).toBe('http.unsupported_version');
    expect(errorCode('request', 'GET / HTTP/0.9\r\n\r\n')).toBe('http.unsupported_version');
  });

  it('returns the same error on later pushes, and invalid_state after success', () => {
    const parser = new HttpHeadParser('request');
    const e = parser.push(bytes('GET / HTTP/1.1\n'));
    expect(parser.push(bytes('\r\n'))).toBe(e);
    const ok = new HttpHeadParser('request');
    expect(ok.push(bytes('GET / HTTP/1.1\r\n\r\n'))).not.toBeInstanceOf(WsppError);
    expect((ok.push(bytes('x')) as WsppError).code).toBe('websocket.invalid_state');
  });
});

describe('HttpHeadParser: limits', () => {
  it('has the documented defaults', () => {
    expect(DEFAULT_HTTP_LIMITS).toEqual({ maxHeadSize: 16000, maxHeaders: 100 });
    expect(new HttpHeadParser('request').limits).toEqual({ maxHeadSize: 16000, maxHeaders: 100 });
    expect(new HttpHeadParser('request', { maxHeaders: 3 }).limits).toEqual({ maxHeadSize: 16000, maxHeaders: 3 });
  });

  it('accepts a head of exactly maxHeadSize bytes, rejects one byte more', () => {
    const at = requestOfSize(200);
    expect(at.length).toBe(200);
    expect(head('request', at, { maxHeadSize: 200 }).size).toBe(200);
    const e = parse('request', requestOfSize(201), { maxHeadSize: 200 }) as WsppError;
    expect(e.code).toBe('http.head_too_large');
    expect(e.status).toBe(431);
    // the limit counts the head only, not the bytes after it
    expect(head('request', `${at}trailing frames`, { maxHeadSize: 200 }).rest.length).toBe(15);
  });

  it('accepts a 16000-byte head pushed one byte at a time, rejects 16001', () => {
    const at = bytes(requestOfSize(16000));
    const parser = new HttpHeadParser('request');
    let r: HttpHead | WsppError | undefined;
    for (let i = 0; i < at.length; i++) {
      r = parser.push(at.subarray(i, i + 1));
      if (i < at.length - 1) expect(r).toBeUndefined();
    }
    expect(r).not.toBeInstanceOf(WsppError);
    expect((r as HttpHead).size).toBe(16000);
    expect((r as HttpHead).headers.get('x-pad')?.length).toBeGreaterThan(15900);

    const over = bytes(requestOfSize(16001));
    const p2 = new HttpHeadParser('request');
    let r2: HttpHead | WsppError | undefined;
    let at2 = -1;
    for (let i = 0; i < over.length && r2 === undefined; i++) {
      r2 = p2.push(over.subarray(i, i + 1));
      at2 = i;
    }
    expect((r2 as WsppError).code).toBe('http.head_too_large');
    expect(at2).toBe(16000); // the 16001st byte
  });

  it('rejects a 1 MiB head as soon as the limit is crossed', () => {
    const huge = Buffer.alloc(1 << 20, 0x61);
    huge.write('GET / HTTP/1.1\r\nX: ', 'latin1');
    const one = new HttpHeadParser('request');
    expect((one.push(huge) as WsppError).code).toBe('http.head_too_large');
    expect(one.scanned).toBe(16001);

    const chunked = new HttpHeadParser('request');
    let pushes = 0;
    let r: HttpHead | WsppError | undefined;
    for (let off = 0; off < huge.length && r === undefined; off += 1024) {
      r = chunked.push(huge.subarray(off, off + 1024));
      pushes++;
    }
    expect((r as WsppError).code).toBe('http.head_too_large');
    expect(pushes).toBe(Math.ceil(16001 / 1024));
  });

  it('accepts exactly maxHeaders header fields, rejects one more', () => {
    expect(head('request', requestWithHeaders(100)).headers.size).toBe(100);
    const e = parse('request', requestWithHeaders(101)) as WsppError;
    expect(e.code).toBe('http.too_many_headers');
    expect(e.status).toBe(431);
    expect(head('request', requestWithHeaders(2), { maxHeaders: 2 }).headers.size).toBe(2);
    expect(errorCode('request', requestWithHeaders(3), { maxHeaders: 2 })).toBe('http.too_many_headers');
    expect(head('request', requestWithHeaders(0), { maxHeaders: 0 }).headers.size).toBe(0);
    expect(errorCode('request', requestWithHeaders(1), { maxHeaders: 0 })).toBe('http.too_many_headers');
  });

  it('rejects too many headers before the head ends', () => {
    const parser = new HttpHeadParser('request', { maxHeaders: 2 });
    expect(parser.push(bytes('GET / HTTP/1.1\r\na: 1\r\nb: 2\r\n'))).toBeUndefined();
    expect((parser.push(bytes('c: 3\r\n')) as WsppError).code).toBe('http.too_many_headers');
  });
});

describe('HttpHeadParser: properties', () => {
  const pieces = fc.oneof(
    fc.constantFrom(
      'GET / HTTP/1.1\r\n',
      'HTTP/1.1 101 Switching Protocols\r\n',
      'HTTP/1.1 101\r\n',
      'Host: a\r\n',
      'Upgrade: websocket\r\n',
      '\r\n',
      '\r',
      '\n',
      ':',
      ' ',
      '\t',
      'GET',
      'HTTP/1.0',
      'x',
      '\x00',
      '\x7f',
      '\u00e9',
    ).map((s) => bytes(s)),
    fc.uint8Array({ maxLength: 12 }),
  );
  const heads = fc.array(pieces, { maxLength: 30 }).map((parts) => Buffer.concat(parts));
  const kinds = fc.constantFrom<HttpKind>('request', 'response');
  const limits = fc.record({ maxHeadSize: fc.integer({ min: 1, max: 400 }), maxHeaders: fc.integer({ min: 0, max: 8 }) });

  it('random bytes never throw: a head, an error, or pending', () => {
    fc.assert(
      fc.property(kinds, fc.oneof(heads, fc.uint8Array({ maxLength: 300 })), limits, (kind, input, lim) => {
        const r = new HttpHeadParser(kind, lim).push(input);
        if (r === undefined || r instanceof WsppError) return;
        expect(r.kind).toBe(kind);
        expect(r.size).toBeLessThanOrEqual(lim.maxHeadSize);
        expect(r.headers.size).toBeLessThanOrEqual(lim.maxHeaders);
        expect(r.size + r.rest.length).toBe(input.length);
      }),
      { numRuns: 500 },
    );
  });

  it('random chunkings give identical results', () => {
    fc.assert(
      fc.property(
        kinds,
        heads,
        fc.array(fc.nat({ max: 1000 }), { maxLength: 12 }),
        limits,
        (kind, input, rawCuts, lim) => {
          const cuts = [...new Set(rawCuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
          expect(normal(pushChunks(kind, input, cuts, lim))).toEqual(normal(parse(kind, input, lim)));
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('HttpHeaders', () => {
  it('builds from a flat node:http rawHeaders list', () => {
    const h = HttpHeaders.fromFlat(['Host', 'a', 'X-A', '1', 'x-a', '2']);
    expect(h.get('x-a')).toBe('1, 2');
    expect(h.raw).toEqual([
      ['Host', 'a'],
      ['X-A', '1'],
      ['x-a', '2'],
    ]);
  });
});

describe('token lists', () => {
  it('parseTokenList splits, trims, skips empty elements, keeps case', () => {
    expect(parseTokenList('a, B ,,c\t,')).toEqual(['a', 'B', 'c']);
    expect(parseTokenList('keep-alive, Upgrade')).toEqual(['keep-alive', 'Upgrade']);
    expect(parseTokenList('a b , c')).toEqual(['a b', 'c']);
    expect(parseTokenList('')).toEqual([]);
    expect(parseTokenList(' , ,\t')).toEqual([]);
    expect(parseTokenList(','.repeat(65536))).toEqual([]);
    expect(parseTokenList('a,'.repeat(32768)).length).toBe(32768);
  });

  it('tokenListHas compares case-insensitively and whole elements only', () => {
    expect(tokenListHas('keep-alive, Upgrade', 'upgrade')).toBe(true);
    expect(tokenListHas('UPGRADE', 'Upgrade')).toBe(true);
    expect(tokenListHas('upgrades', 'upgrade')).toBe(false);
    expect(tokenListHas('upgrad', 'upgrade')).toBe(false);
    expect(tokenListHas('x-upgrade, keep-alive', 'upgrade')).toBe(false);
    expect(tokenListHas('', 'upgrade')).toBe(false);
    expect(tokenListHas(`${' ,'.repeat(32768)}websocket`, 'WebSocket')).toBe(true);
    expect(tokenListHas('a,'.repeat(32768), 'b')).toBe(false);
  });

  it('isToken', () => {
    expect(isToken('permessage-deflate')).toBe(true);
    expect(isToken('')).toBe(false);
    expect(isToken('a b')).toBe(false);
    expect(isToken('a"')).toBe(false);
    expect(isToken('\u00e9')).toBe(false);
  });
});

describe('parseSubprotocols', () => {
  it('parses a list of tokens, keeping case and order', () => {
    expect(parseSubprotocols('chat, superchat')).toEqual(['chat', 'superchat']);
    expect(parseSubprotocols(' Chat ,chat,, v2.json ')).toEqual(['Chat', 'chat', 'v2.json']);
    expect(parseSubprotocols('')).toEqual([]);
  });

  it('rejects non-tokens and duplicates', () => {
    for (const v of ['a b', '"chat"', 'chat, a/b', 'a;b', 'chat, chat', '\u00e9']) {
      const r = parseSubprotocols(v);
      expect(r, v).toBeInstanceOf(WsppError);
      expect((r as WsppError).code).toBe('processor.subprotocol_parse_error');
    }
  });

  it('handles hostile 64 KiB values in one pass', () => {
    const dup = parseSubprotocols('a,'.repeat(32768));
    expect((dup as WsppError).code).toBe('processor.subprotocol_parse_error');
    const many = Array.from({ length: 9000 }, (_, i) => `p${i}`).join(',');
    expect((parseSubprotocols(many) as string[]).length).toBe(9000);
    expect(parseSubprotocols(' '.repeat(65536))).toEqual([]);
    expect((parseSubprotocols(`${'a'.repeat(65535)} b`) as WsppError).code).toBe('processor.subprotocol_parse_error');
    expect((parseSubprotocols(';'.repeat(65536)) as WsppError).code).toBe('processor.subprotocol_parse_error');
  });
});

describe('parseExtensions', () => {
  const ok = (v: string): ExtensionOffer[] => {
    const r = parseExtensions(v);
    if (r instanceof WsppError) throw r;
    return r;
  };
  const view = (offers: ExtensionOffer[]) => offers.map((o) => [o.name, o.paramList]);

  it('parses names and parameters', () => {
    expect(view(ok('permessage-deflate'))).toEqual([['permessage-deflate', []]]);
    const offers = ok(
      'permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate, x-foo;a=b',
    );
    expect(view(offers)).toEqual([
      [
        'permessage-deflate',
        [
          ['client_max_window_bits', true],
          ['server_max_window_bits', '10'],
        ],
      ],
      ['permessage-deflate', []],
      ['x-foo', [['a', 'b']]],
    ]);
    expect(offers[0]?.params.get('client_max_window_bits')).toBe(true);
    expect(offers[0]?.params.get('server_max_window_bits')).toBe('10');
    expect(hasDuplicateParams(offers[0] as ExtensionOffer)).toBe(false);
  });

  it('allows OWS around separators and skips empty elements', () => {
    expect(view(ok(' foo ; bar = 1 \t,  baz ; q '))).toEqual([
      ['foo', [['bar', '1']]],
      ['baz', [['q', true]]],
    ]);
    expect(view(ok(', foo ,, bar,'))).toEqual([
      ['foo', []],
      ['bar', []],
    ]);
    expect(ok('')).toEqual([]);
    expect(ok(' , ')).toEqual([]);
  });

  it('unescapes quoted values, which must be tokens', () => {
    expect(view(ok('foo; bar="baz"; n="10"'))).toEqual([
      [
        'foo',
        [
          ['bar', 'baz'],
          ['n', '10'],
        ],
      ],
    ]);
    expect(view(ok('foo; bar="b\\az"'))).toEqual([['foo', [['bar', 'baz']]]]);
  });

  it('keeps duplicated parameters visible', () => {
    const [offer] = ok('permessage-deflate; server_no_context_takeover; a=1; a=2; server_no_context_takeover');
    expect(offer?.params.get('a')).toBe('1');
    expect(offer?.paramList).toEqual([
      ['server_no_context_takeover', true],
      ['a', '1'],
      ['a', '2'],
      ['server_no_context_takeover', true],
    ]);
    expect(hasDuplicateParams(offer as ExtensionOffer)).toBe(true);
  });

  it('rejects malformed values', () => {
    for (const v of [
      ';',
      'foo;',
      'foo; ',
      'foo;;bar',
      'foo; =1',
      'foo; a=',
      'foo; a= ,',
      'foo; a="',
      'foo; a="b',
      'foo; a="b\\',
      'foo; a=""',
      'foo; a="b c"',
      'foo; a="b,c"',
      'foo; a="\\""',
      'foo bar',
      'foo; a=1 2',
      'foo; a="x"y',
      'foo; a b',
      '"foo"',
      'fo\x00o',
      'foo=1',
      'foo; a=b=c',
      '\u00e9',
      'foo; a=\u00e9',
    ]) {
      const r = parseExtensions(v);
      expect(r, JSON.stringify(v)).toBeInstanceOf(WsppError);
      expect((r as WsppError).code).toBe('processor.extension_parse_error');
    }
  });

  it('handles hostile 64 KiB values in one pass', () => {
    const code = (v: string) => (parseExtensions(v) as WsppError).code;
    expect(code(';'.repeat(65536))).toBe('processor.extension_parse_error');
    expect(code(`"${'\\'.repeat(65535)}`)).toBe('processor.extension_parse_error');
    expect(code(`foo; a="${'\\'.repeat(65535)}`)).toBe('processor.extension_parse_error');
    expect(code(`foo; a="${'\\a'.repeat(32760)}`)).toBe('processor.extension_parse_error');
    expect(code('a;'.repeat(32768))).toBe('processor.extension_parse_error');
    expect(code(`foo${' '.repeat(65536)}x`)).toBe('processor.extension_parse_error');
    expect(ok('a,'.repeat(32768)).length).toBe(32768);
    const [offer] = ok(`foo${'; p=1'.repeat(10000)}`);
    expect(offer?.paramList.length).toBe(10000);
    expect(offer?.params.size).toBe(1);
    const [quoted] = ok(`foo; a="${'\\a'.repeat(30000)}"`);
    expect(quoted?.params.get('a')).toBe('a'.repeat(30000));
  });
});

describe('formatExtensions', () => {
  it('formats offers and round-trips through parseExtensions', () => {
    const text = formatExtensions([
      { name: 'permessage-deflate', params: new Map<string, string | true>([['client_max_window_bits', true], ['server_max_window_bits', '10']]) },
      { name: 'x-foo' },
      { name: 'x-bar', params: [['a', 'b']] },
    ]);
    expect(text).toBe('permessage-deflate; client_max_window_bits; server_max_window_bits=10, x-foo, x-bar; a=b');
    expect(formatExtensions(parseExtensions(text) as ExtensionOffer[])).toBe(text);
    expect(formatExtensions([])).toBe('');
  });

  it('uses paramList when given, keeping duplicates', () => {
    const offers = parseExtensions('foo; a=1; a=2') as ExtensionOffer[];
    expect(formatExtensions(offers)).toBe('foo; a=1; a=2');
  });

  it('throws TypeError on non-token names and values', () => {
    expect(() => formatExtensions([{ name: 'a b' }])).toThrow(TypeError);
    expect(() => formatExtensions([{ name: 'a', params: [['b c', true]] }])).toThrow(TypeError);
    expect(() => formatExtensions([{ name: 'a', params: [['b', 'x y']] }])).toThrow(TypeError);
    expect(() => formatExtensions([{ name: 'a', params: [['b', '']] }])).toThrow(TypeError);
  });
});
