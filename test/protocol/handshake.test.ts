import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { WsppError } from '../../src/protocol/errors.js';
import type { ErrorCode } from '../../src/protocol/errors.js';
import { HttpHeadParser, HttpHeaders } from '../../src/protocol/http.js';
import type { HttpHead, HttpKind } from '../../src/protocol/http.js';
import {
  buildClientRequest,
  buildErrorResponse,
  buildHttpResponse,
  buildServerResponse,
  computeAccept,
  formatHost,
  generateKey,
  isValidKey,
  isWebSocketRequest,
  reasonPhrase,
  validateClientRequest,
  validateServerResponse,
} from '../../src/protocol/handshake.js';
import type { ClientRequestInfo, ClientRequestOptions } from '../../src/protocol/handshake.js';

const RFC_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const RFC_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

const text = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

function parseHead(kind: HttpKind, input: string | Uint8Array): HttpHead {
  const r = new HttpHeadParser(kind).push(typeof input === 'string' ? Buffer.from(input, 'latin1') : input);
  if (r === undefined || r instanceof WsppError) throw new Error(`expected a head, got ${String(r)}`);
  return r;
}

/** A valid request with header lines replaced/removed/added: `edit` maps lower-case names to a value, or null to drop. */
function request(edit: Record<string, string | null> = {}, extra: string[] = [], startLine = 'GET /chat HTTP/1.1'): string {
  const base: [string, string][] = [
    ['Host', 'server.example.com'],
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Key', RFC_KEY],
    ['Origin', 'http://example.com'],
    ['Sec-WebSocket-Version', '13'],
  ];
  let s = `${startLine}\r\n`;
  const done = new Set<string>();
  for (const [name, value] of base) {
    const lower = name.toLowerCase();
    const v = lower in edit ? edit[lower] : value;
    done.add(lower);
    if (v !== null && v !== undefined) s += `${name}: ${v}\r\n`;
  }
  for (const [name, v] of Object.entries(edit)) if (!done.has(name) && v !== null) s += `${name}: ${v}\r\n`;
  for (const line of extra) s += `${line}\r\n`;
  return `${s}\r\n`;
}

function serverCheck(input: string): ClientRequestInfo | WsppError {
  return validateClientRequest(parseHead('request', input));
}

function serverError(input: string): WsppError {
  const r = serverCheck(input);
  if (!(r instanceof WsppError)) throw new Error('expected an error');
  return r;
}

function response(edit: Record<string, string | null> = {}, extra: string[] = [], statusLine = 'HTTP/1.1 101 Switching Protocols') {
  const base: [string, string][] = [
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Accept', RFC_ACCEPT],
  ];
  let s = `${statusLine}\r\n`;
  for (const [name, value] of base) {
    const lower = name.toLowerCase();
    const v = lower in edit ? edit[lower] : value;
    if (v !== null && v !== undefined) s += `${name}: ${v}\r\n`;
  }
  for (const line of extra) s += `${line}\r\n`;
  return `${s}\r\n`;
}

const expectNone = { key: RFC_KEY, subprotocols: [] as string[], extensionsOffered: false };

function clientError(input: string, expected = expectNone): ErrorCode {
  const r = validateServerResponse(parseHead('response', input), expected);
  if (!(r instanceof WsppError)) throw new Error('expected an error');
  return r.code;
}

describe('key and accept', () => {
  it('computes the RFC 6455 section 1.3 example', () => {
    expect(computeAccept(RFC_KEY)).toBe(RFC_ACCEPT);
  });

  it('generates a key from 16 injected random bytes', () => {
    const key = generateKey((n) => Uint8Array.from({ length: n }, (_, i) => i));
    expect(key).toBe(Buffer.from(Array.from({ length: 16 }, (_, i) => i)).toString('base64'));
    expect(isValidKey(key)).toBe(true);
    const offset = new Uint8Array(40).fill(0xff).subarray(7, 23);
    expect(generateKey(() => offset)).toBe('/////////////////////w==');
    expect(() => generateKey(() => new Uint8Array(15))).toThrow(TypeError);
  });

  it('isValidKey accepts only the canonical base64 of 16 bytes', () => {
    expect(isValidKey(RFC_KEY)).toBe(true);
    expect(isValidKey('AAAAAAAAAAAAAAAAAAAAAA==')).toBe(true);
    expect(isValidKey('++++++++++++++++++++/w==')).toBe(true);
    expect(isValidKey('dGhlIHNhbXBsZSBub25jZR==')).toBe(false); // non-zero padding bits
    expect(isValidKey('dGhlIHNhbXBsZSBub25jZQ=')).toBe(false);
    expect(isValidKey('dGhlIHNhbXBsZSBub25jZQ===')).toBe(false);
    expect(isValidKey('dGhlIHNhbXBsZSBub25jZQAA')).toBe(false);
    expect(isValidKey('dGhlIHNhbXBsZSBub25j-Q==')).toBe(false);
    expect(isValidKey('dGhlIHNhbXBsZSBub25jZ===')).toBe(false);
    expect(isValidKey('')).toBe(false);
    expect(isValidKey(Buffer.alloc(17).toString('base64'))).toBe(false);
  });

  it('every generated key is valid (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
        expect(isValidKey(generateKey(() => b))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('buildClientRequest', () => {
  const base: ClientRequestOptions = { host: 'server.example.com', secure: false, resource: '/chat', key: RFC_KEY };

  it('builds the request', () => {
    expect(text(buildClientRequest(base))).toBe(
      'GET /chat HTTP/1.1\r\n' +
        'Host: server.example.com\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${RFC_KEY}\r\n` +
        'Sec-WebSocket-Version: 13\r\n' +
        '\r\n',
    );
  });

  it('adds optional headers', () => {
    const s = text(
      buildClientRequest({
        ...base,
        origin: 'http://example.com',
        userAgent: 'wspp/0.1',
        subprotocols: ['chat', 'superchat'],
        extensions: 'permessage-deflate; client_max_window_bits',
        headers: [['X-Token', 'abc def']],
      }),
    );
    expect(s).toContain('\r\nOrigin: http://example.com\r\n');
    expect(s).toContain('\r\nUser-Agent: wspp/0.1\r\n');
    expect(s).toContain('\r\nSec-WebSocket-Protocol: chat, superchat\r\n');
    expect(s).toContain('\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n');
    expect(s.endsWith('\r\nX-Token: abc def\r\n\r\n')).toBe(true);
    const plain = text(buildClientRequest({ ...base, subprotocols: [], extensions: '' }));
    expect(plain).not.toContain('Sec-WebSocket-Protocol');
    expect(plain).not.toContain('Sec-WebSocket-Extensions');
  });

  it('custom Host, Origin and User-Agent replace the defaults', () => {
    const s = text(buildClientRequest({ ...base, origin: 'o', userAgent: 'u', headers: [['host', 'other'], ['Origin', 'p'], ['User-Agent', 'v']] }));
    expect(s).not.toContain('Host: server.example.com');
    expect(s).toContain('\r\nhost: other\r\n');
    expect(s).not.toContain('Origin: o\r\n');
    expect(s).not.toContain('User-Agent: u\r\n');
    expect(parseHead('request', s).headers.count('host')).toBe(1);
  });

  it('formats Host: default ports omitted, IPv6 bracketed', () => {
    expect(formatHost('example.com', 80, false)).toBe('example.com');
    expect(formatHost('example.com', 443, true)).toBe('example.com');
    expect(formatHost('example.com', 443, false)).toBe('example.com:443');
    expect(formatHost('example.com', 80, true)).toBe('example.com:80');
    expect(formatHost('example.com', 8080, false)).toBe('example.com:8080');
    expect(formatHost('example.com', undefined, true)).toBe('example.com');
    expect(formatHost('::1', 9002, false)).toBe('[::1]:9002');
    expect(formatHost('::1', undefined, false)).toBe('[::1]');
    expect(formatHost('[fe80::1]', 443, true)).toBe('[fe80::1]');
    expect(formatHost('127.0.0.1', 9002, false)).toBe('127.0.0.1:9002');
    expect(text(buildClientRequest({ ...base, host: '::1', port: 9002 }))).toContain('\r\nHost: [::1]:9002\r\n');
  });

  it('throws TypeError on programmer errors', () => {
    const bad: Partial<ClientRequestOptions>[] = [
      { headers: [['X Bad', 'v']] },
      { headers: [['', 'v']] },
      { headers: [['X-A', 'a\r\nInjected: yes']] },
      { headers: [['X-A', 'a\nb']] },
      { headers: [['X-A', 'a\x00b']] },
      { headers: [['X-A', '\u0100']] },
      { headers: [['Sec-WebSocket-Key', RFC_KEY]] },
      { headers: [['upgrade', 'websocket']] },
      { headers: [['Sec-WebSocket-Protocol', 'chat']] },
      { subprotocols: ['a b'] },
      { subprotocols: ['chat', 'chat'] },
      { subprotocols: [''] },
      { resource: 'chat' },
      { resource: '' },
      { resource: '/a b' },
      { resource: '/\u00e9' },
      { key: 'short' },
      { port: 0 },
      { port: 70000 },
      { port: 1.5 },
      { host: '' },
      { host: 'a b' },
      { host: 'a/b' },
      { host: 'a\r\nb' },
      { origin: 'http://a\r\n' },
      { userAgent: 'x\ny' },
      { extensions: 'a\r\nb' },
    ];
    for (const o of bad) expect(() => buildClientRequest({ ...base, ...o }), JSON.stringify(o)).toThrow(TypeError);
  });
});

describe('validateClientRequest', () => {
  it('accepts the RFC 6455 example request', () => {
    const info = serverCheck(request({ 'sec-websocket-protocol': 'chat, superchat' }));
    expect(info).not.toBeInstanceOf(WsppError);
    const i = info as ClientRequestInfo;
    expect(i.resource).toBe('/chat');
    expect(i.host).toBe('server.example.com');
    expect(i.origin).toBe('http://example.com');
    expect(i.key).toBe(RFC_KEY);
    expect(i.subprotocols).toEqual(['chat', 'superchat']);
    expect(i.extensions).toBe('');
    expect(i.headers.get('upgrade')).toBe('websocket');
  });

  it('reports no origin, no subprotocols when absent; extensions raw and combined', () => {
    const i = serverCheck(
      request({ origin: null }, ['Sec-WebSocket-Extensions: permessage-deflate', 'Sec-WebSocket-Extensions: x-foo; a=1']),
    ) as ClientRequestInfo;
    expect(i.origin).toBeUndefined();
    expect('origin' in i).toBe(false);
    expect(i.subprotocols).toEqual([]);
    expect(i.extensions).toBe('permessage-deflate, x-foo; a=1');
  });

  it('is lenient where the RFC is: token case, Connection lists, Content-Length 0', () => {
    for (const input of [
      request({ upgrade: 'WebSocket' }),
      request({ upgrade: 'h2c, websocket' }),
      request({ connection: 'keep-alive, Upgrade' }),
      request({ connection: 'UPGRADE' }),
      request({}, ['Connection: keep-alive']),
      request({}, ['Content-Length: 0']),
      request({ 'sec-websocket-protocol': '' }),
    ]) {
      expect(serverCheck(input), input).not.toBeInstanceOf(WsppError);
    }
  });

  it('reduces an absolute-form target to path and query', () => {
    expect((serverCheck(request({}, [], 'GET ws://server.example.com/chat?a=1 HTTP/1.1')) as ClientRequestInfo).resource).toBe('/chat?a=1');
    expect((serverCheck(request({}, [], 'GET http://server.example.com HTTP/1.1')) as ClientRequestInfo).resource).toBe('/');
    expect((serverCheck(request({}, [], 'GET wss://h:1?q HTTP/1.1')) as ClientRequestInfo).resource).toBe('/?q');
    for (const t of ['*', 'server.example.com:80', 'ftp://h/x', 'ws:///x', '://h/x']) {
      expect(serverError(request({}, [], `GET ${t} HTTP/1.1`)).code, t).toBe('http.invalid_request_line');
    }
  });

  it('rejects methods other than GET with 405', () => {
    const e = serverError(request({}, [], 'POST /chat HTTP/1.1'));
    expect(e.code).toBe('processor.invalid_http_method');
    expect(e.status).toBe(405);
    expect(serverError(request({}, [], 'get /chat HTTP/1.1')).code).toBe('processor.invalid_http_method');
  });

  it('rejects a head that is not HTTP/1.1 (e.g. built from node:http)', () => {
    const h = parseHead('request', request());
    expect((validateClientRequest({ ...h, version: '1.0' }) as WsppError).code).toBe('http.unsupported_version');
  });

  it('rejects a request with a body', () => {
    for (const extra of ['Content-Length: 5', 'Content-Length: 0, 1', 'Content-Length: x', 'Content-Length:', 'Transfer-Encoding: chunked']) {
      const e = serverError(request({}, [extra]));
      expect(e.code, extra).toBe('http.unexpected_body');
      expect(e.status).toBe(400);
    }
  });

  it('requires Host, exactly once', () => {
    expect(serverError(request({ host: null })).code).toBe('processor.missing_required_header');
    expect(serverError(request({ host: '' })).code).toBe('processor.missing_required_header');
    expect(serverError(request({}, ['Host: other'])).code).toBe('http.duplicate_header');
  });

  it('requires Upgrade: websocket', () => {
    for (const v of [null, 'h2c', 'websockets', 'web socket', '']) {
      const e = serverError(request({ upgrade: v }));
      expect(e.code, String(v)).toBe('processor.invalid_upgrade_header');
      expect(e.status).toBe(400);
    }
  });

  it('requires Connection to contain upgrade', () => {
    for (const v of [null, 'keep-alive', 'upgrades', 'close', '']) {
      expect(serverError(request({ connection: v })).code, String(v)).toBe('processor.invalid_connection_header');
    }
  });

  it('requires Sec-WebSocket-Version 13: missing is 400, other versions 426', () => {
    const missing = serverError(request({ 'sec-websocket-version': null }));
    expect(missing.code).toBe('websocket.invalid_version');
    expect(missing.status).toBe(400);
    for (const v of ['8', '12', '13, 8', '013', '']) {
      const e = serverError(request({ 'sec-websocket-version': v }));
      expect(e.code, v).toBe('websocket.unsupported_version');
      expect(e.status).toBe(426);
    }
    expect(serverError(request({}, ['Sec-WebSocket-Version: 13'])).code).toBe('http.duplicate_header');
  });

  it('requires a valid Sec-WebSocket-Key, exactly once', () => {
    expect(serverError(request({ 'sec-websocket-key': null })).code).toBe('processor.invalid_key');
    for (const k of ['', 'short', 'dGhlIHNhbXBsZSBub25jZR==', 'dGhlIHNhbXBsZSBub25jZQ', `${RFC_KEY}=`, 'dGhlIHNhbXBsZSBub25j*Q==']) {
      const e = serverError(request({ 'sec-websocket-key': k }));
      expect(e.code, k).toBe('processor.invalid_key');
      expect(e.status).toBe(400);
    }
    expect(serverError(request({}, [`Sec-WebSocket-Key: ${RFC_KEY}`])).code).toBe('http.duplicate_header');
  });

  it('rejects a malformed Sec-WebSocket-Protocol', () => {
    expect(serverError(request({ 'sec-websocket-protocol': 'a b' })).code).toBe('processor.subprotocol_parse_error');
    expect(serverError(request({}, ['Sec-WebSocket-Protocol: chat', 'Sec-WebSocket-Protocol: chat'])).code).toBe(
      'processor.subprotocol_parse_error',
    );
    const many = serverCheck(request({}, ['Sec-WebSocket-Protocol: a', 'Sec-WebSocket-Protocol: b, c'])) as ClientRequestInfo;
    expect(many.subprotocols).toEqual(['a', 'b', 'c']);
  });

  it('isWebSocketRequest tells upgrades from plain HTTP', () => {
    expect(isWebSocketRequest(parseHead('request', request()).headers)).toBe(true);
    expect(isWebSocketRequest(new HttpHeaders([['Upgrade', 'WebSocket']]))).toBe(true);
    expect(isWebSocketRequest(new HttpHeaders([['Upgrade', 'h2c']]))).toBe(false);
    expect(isWebSocketRequest(new HttpHeaders([['Host', 'a']]))).toBe(false);
  });
});

describe('client request → server validation round trip', () => {
  it('round-trips every option', () => {
    const key = generateKey((n) => new Uint8Array(n).fill(7));
    const bytes = buildClientRequest({
      host: '::1',
      port: 9002,
      secure: false,
      resource: '/chat?room=1',
      key,
      origin: 'https://example.com',
      userAgent: 'wspp',
      subprotocols: ['v2.chat', 'chat'],
      extensions: 'permessage-deflate; client_max_window_bits',
      headers: [['Cookie', 'a=b']],
    });
    const info = validateClientRequest(parseHead('request', bytes)) as ClientRequestInfo;
    expect(info).not.toBeInstanceOf(WsppError);
    expect(info.resource).toBe('/chat?room=1');
    expect(info.host).toBe('[::1]:9002');
    expect(info.origin).toBe('https://example.com');
    expect(info.key).toBe(key);
    expect(info.subprotocols).toEqual(['v2.chat', 'chat']);
    expect(info.extensions).toBe('permessage-deflate; client_max_window_bits');
    expect(info.headers.get('cookie')).toBe('a=b');
    expect(info.headers.get('user-agent')).toBe('wspp');
  });

  it('round-trips random keys, resources and subprotocols (property)', () => {
    const tchar = fc.constantFrom(...'abcXYZ019!#$%&\'*+-.^_`|~'.split(''));
    const token = fc.array(tchar, { minLength: 1, maxLength: 8 }).map((a) => a.join(''));
    const pathChar = fc.constantFrom(...'abc/?=&%:@~-._019'.split(''));
    const resource = fc.array(pathChar, { maxLength: 20 }).map((a) => `/${a.join('')}`);
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        resource,
        fc.uniqueArray(token, { maxLength: 5 }),
        fc.boolean(),
        fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
        (raw, res, protocols, secure, port) => {
          const key = generateKey(() => raw);
          const opts: ClientRequestOptions = { host: 'h.example', secure, resource: res, key, subprotocols: protocols };
          if (port !== undefined) opts.port = port;
          const info = validateClientRequest(parseHead('request', buildClientRequest(opts))) as ClientRequestInfo;
          expect(info).not.toBeInstanceOf(WsppError);
          expect(info.resource).toBe(res);
          expect(info.key).toBe(key);
          expect(info.subprotocols).toEqual(protocols);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('buildServerResponse → validateServerResponse', () => {
  it('builds the 101 of RFC 6455 section 1.3', () => {
    expect(text(buildServerResponse({ key: RFC_KEY }))).toBe(
      'HTTP/1.1 101 Switching Protocols\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${RFC_ACCEPT}\r\n` +
        '\r\n',
    );
  });

  it('round-trips subprotocol, extensions, Server and custom headers', () => {
    const bytes = buildServerResponse({
      key: RFC_KEY,
      subprotocol: 'chat',
      extensions: 'permessage-deflate; server_no_context_takeover',
      server: 'wspp/0.1',
      headers: [['Set-Cookie', 'a=b'], ['Set-Cookie', 'c=d']],
    });
    const head = parseHead('response', Buffer.concat([bytes, Buffer.from([0x81, 0x02, 0x68, 0x69])]));
    expect(Array.from(head.rest)).toEqual([0x81, 0x02, 0x68, 0x69]);
    expect(head.headers.get('server')).toBe('wspp/0.1');
    expect(head.headers.getAll('set-cookie')).toEqual(['a=b', 'c=d']);
    const r = validateServerResponse(head, { key: RFC_KEY, subprotocols: ['superchat', 'chat'], extensionsOffered: true });
    expect(r).toEqual({ subprotocol: 'chat', extensions: 'permessage-deflate; server_no_context_takeover' });
  });

  it('round-trips a plain 101', () => {
    const key = generateKey((n) => new Uint8Array(n).fill(42));
    const head = parseHead('response', buildServerResponse({ key, subprotocol: '', extensions: '' }));
    expect(validateServerResponse(head, { key, subprotocols: ['chat'], extensionsOffered: true })).toEqual({
      subprotocol: '',
      extensions: '',
    });
  });

  it('a custom Server header replaces the server option', () => {
    const s = text(buildServerResponse({ key: RFC_KEY, server: 'a', headers: [['Server', 'b']] }));
    expect(s).not.toContain('Server: a');
    expect(s).toContain('\r\nServer: b\r\n');
  });

  it('throws TypeError on programmer errors', () => {
    expect(() => buildServerResponse({ key: RFC_KEY, subprotocol: 'a b' })).toThrow(TypeError);
    expect(() => buildServerResponse({ key: RFC_KEY, extensions: 'x\r\ny' })).toThrow(TypeError);
    expect(() => buildServerResponse({ key: RFC_KEY, server: 'x\ny' })).toThrow(TypeError);
    expect(() => buildServerResponse({ key: 'a\r\nb' })).toThrow(TypeError);
    expect(() => buildServerResponse({ key: RFC_KEY, headers: [['Sec-WebSocket-Accept', 'x']] })).toThrow(TypeError);
    expect(() => buildServerResponse({ key: RFC_KEY, headers: [['Connection', 'close']] })).toThrow(TypeError);
    expect(() => buildServerResponse({ key: RFC_KEY, headers: [['X', 'a\rb']] })).toThrow(TypeError);
  });
});

describe('validateServerResponse errors', () => {
  it('accepts the example response', () => {
    expect(validateServerResponse(parseHead('response', response()), expectNone)).toEqual({ subprotocol: '', extensions: '' });
    expect(validateServerResponse(parseHead('response', response({}, [], 'HTTP/1.1 101')), expectNone)).toEqual({
      subprotocol: '',
      extensions: '',
    });
  });

  it('requires status 101, with the message users see', () => {
    for (const line of ['HTTP/1.1 200 OK', 'HTTP/1.1 404 Not Found', 'HTTP/1.1 426 Upgrade Required', 'HTTP/1.1 100 Continue']) {
      const r = validateServerResponse(parseHead('response', response({}, [], line)), expectNone) as WsppError;
      expect(r.code).toBe('processor.invalid_http_status');
      expect(r.message).toBe('Invalid HTTP status.');
    }
  });

  it('requires Upgrade: websocket and Connection: upgrade', () => {
    expect(clientError(response({ upgrade: null }))).toBe('processor.invalid_upgrade_header');
    expect(clientError(response({ upgrade: 'h2c' }))).toBe('processor.invalid_upgrade_header');
    expect(clientError(response({ connection: null }))).toBe('processor.invalid_connection_header');
    expect(clientError(response({ connection: 'keep-alive' }))).toBe('processor.invalid_connection_header');
    expect(validateServerResponse(parseHead('response', response({ upgrade: 'WebSocket', connection: 'keep-alive, upgrade' })), expectNone)).toEqual({
      subprotocol: '',
      extensions: '',
    });
  });

  it('requires the right Sec-WebSocket-Accept', () => {
    expect(clientError(response({ 'sec-websocket-accept': null }))).toBe('processor.invalid_accept');
    expect(clientError(response({ 'sec-websocket-accept': computeAccept('AAAAAAAAAAAAAAAAAAAAAA==') }))).toBe(
      'processor.invalid_accept',
    );
    expect(clientError(response({}, [`Sec-WebSocket-Accept: ${RFC_ACCEPT}`]))).toBe('processor.invalid_accept');
    expect(clientError(response(), { key: 'AAAAAAAAAAAAAAAAAAAAAA==', subprotocols: [], extensionsOffered: false })).toBe(
      'processor.invalid_accept',
    );
  });

  it('rejects a subprotocol that was not offered, or more than one', () => {
    const offered = { key: RFC_KEY, subprotocols: ['chat', 'superchat'], extensionsOffered: false };
    expect(clientError(response({}, ['Sec-WebSocket-Protocol: other']), offered)).toBe('websocket.unrequested_subprotocol');
    expect(clientError(response({}, ['Sec-WebSocket-Protocol: Chat']), offered)).toBe('websocket.unrequested_subprotocol');
    expect(clientError(response({}, ['Sec-WebSocket-Protocol: chat']))).toBe('websocket.unrequested_subprotocol');
    expect(clientError(response({}, ['Sec-WebSocket-Protocol: chat, superchat']), offered)).toBe('websocket.unrequested_subprotocol');
    expect(clientError(response({}, ['Sec-WebSocket-Protocol: chat', 'Sec-WebSocket-Protocol: chat']), offered)).toBe(
      'websocket.unrequested_subprotocol',
    );
    expect(clientError(response({}, ['Sec-WebSocket-Protocol:']), offered)).toBe('websocket.unrequested_subprotocol');
    expect(validateServerResponse(parseHead('response', response({}, ['Sec-WebSocket-Protocol: superchat'])), offered)).toEqual({
      subprotocol: 'superchat',
      extensions: '',
    });
  });

  it('rejects extensions that were not offered, hands them over otherwise', () => {
    const ext = response({}, ['Sec-WebSocket-Extensions: permessage-deflate']);
    expect(clientError(ext)).toBe('processor.unrequested_extension');
    expect(validateServerResponse(parseHead('response', ext), { ...expectNone, extensionsOffered: true })).toEqual({
      subprotocol: '',
      extensions: 'permessage-deflate',
    });
    expect(validateServerResponse(parseHead('response', response({}, ['Sec-WebSocket-Extensions:'])), expectNone)).toEqual({
      subprotocol: '',
      extensions: '',
    });
  });

  it('rejects a response head that is not HTTP/1.1 (built by hand)', () => {
    const h = parseHead('response', response());
    expect((validateServerResponse({ ...h, version: '1.0' }, expectNone) as WsppError).code).toBe('http.unsupported_version');
  });
});

describe('buildHttpResponse', () => {
  it('always sends Connection: close and a correct Content-Length', () => {
    const out = buildHttpResponse(400, { body: 'héllo' });
    const s = text(out);
    expect(s.startsWith('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n')).toBe(true);
    expect(s).toContain('\r\nContent-Type: text/plain; charset=utf-8\r\n');
    expect(s).toContain('\r\nContent-Length: 6\r\n');
    const head = parseHead('response', out);
    expect(head.status).toBe(400);
    expect(head.reason).toBe('Bad Request');
    expect(head.headers.get('connection')).toBe('close');
    expect(Buffer.from(head.rest).toString('utf8')).toBe('héllo');
  });

  it('sends an empty body with Content-Length: 0', () => {
    const head = parseHead('response', buildHttpResponse(403));
    expect(head.reason).toBe('Forbidden');
    expect(head.headers.get('content-length')).toBe('0');
    expect(head.headers.has('content-type')).toBe(false);
    expect(head.rest.length).toBe(0);
  });

  it('sends byte bodies as they are, with custom headers and reason', () => {
    const out = buildHttpResponse(200, {
      reason: 'Fine',
      headers: [['Content-Type', 'application/octet-stream']],
      body: Uint8Array.from([0, 1, 2, 255]),
    });
    const head = parseHead('response', out);
    expect(head.reason).toBe('Fine');
    expect(head.headers.get('content-type')).toBe('application/octet-stream');
    expect(head.headers.get('content-length')).toBe('4');
    expect(Array.from(head.rest)).toEqual([0, 1, 2, 255]);
    const s = parseHead('response', buildHttpResponse(200, { body: 'x', headers: [['content-type', 'text/html']] }));
    expect(s.headers.getAll('content-type')).toEqual(['text/html']);
  });

  it('426 carries Sec-WebSocket-Version: 13', () => {
    const head = parseHead('response', buildHttpResponse(426));
    expect(head.reason).toBe('Upgrade Required');
    expect(head.headers.get('sec-websocket-version')).toBe('13');
    const custom = parseHead('response', buildHttpResponse(426, { headers: [['Sec-WebSocket-Version', '13, 8']] }));
    expect(custom.headers.getAll('sec-websocket-version')).toEqual(['13, 8']);
  });

  it('1xx and 204 carry no Content-Length and no body', () => {
    expect(parseHead('response', buildHttpResponse(204)).headers.has('content-length')).toBe(false);
    expect(parseHead('response', buildHttpResponse(100)).headers.has('content-length')).toBe(false);
    expect(() => buildHttpResponse(204, { body: 'x' })).toThrow(TypeError);
  });

  it('uses the reason phrase table, empty for unknown statuses', () => {
    expect(reasonPhrase(431)).toBe('Request Header Fields Too Large');
    expect(reasonPhrase(405)).toBe('Method Not Allowed');
    expect(reasonPhrase(505)).toBe('HTTP Version Not Supported');
    expect(reasonPhrase(599)).toBe('');
    const head = parseHead('response', buildHttpResponse(599));
    expect(head.status).toBe(599);
    expect(head.reason).toBe('');
  });

  it('throws TypeError on programmer errors', () => {
    expect(() => buildHttpResponse(99)).toThrow(TypeError);
    expect(() => buildHttpResponse(600)).toThrow(TypeError);
    expect(() => buildHttpResponse(200.5)).toThrow(TypeError);
    expect(() => buildHttpResponse(400, { reason: 'a\r\nb' })).toThrow(TypeError);
    expect(() => buildHttpResponse(400, { headers: [['Content-Length', '5']] })).toThrow(TypeError);
    expect(() => buildHttpResponse(400, { headers: [['Connection', 'keep-alive']] })).toThrow(TypeError);
    expect(() => buildHttpResponse(400, { headers: [['Transfer-Encoding', 'chunked']] })).toThrow(TypeError);
    expect(() => buildHttpResponse(400, { headers: [['Bad Name', 'x']] })).toThrow(TypeError);
  });
});

describe('buildErrorResponse', () => {
  it('maps handshake errors to their rejection', () => {
    const v = parseHead('response', buildErrorResponse(new WsppError('websocket.unsupported_version', '8')));
    expect(v.status).toBe(426);
    expect(v.headers.get('sec-websocket-version')).toBe('13');
    const m = parseHead('response', buildErrorResponse(new WsppError('processor.invalid_http_method')));
    expect(m.status).toBe(405);
    expect(m.headers.get('allow')).toBe('GET');
    expect(parseHead('response', buildErrorResponse(new WsppError('http.head_too_large'))).status).toBe(431);
    expect(parseHead('response', buildErrorResponse(new WsppError('processor.invalid_key'))).status).toBe(400);
    const withBody = parseHead('response', buildErrorResponse(new WsppError('websocket.rejected'), { body: 'no' }));
    expect(withBody.status).toBe(403);
    expect(Buffer.from(withBody.rest).toString()).toBe('no');
  });

  it('every parser error of a request maps to a parseable rejection', () => {
    for (const input of ['GET / HTTP/1.0\r\n\r\n', 'GET / HTTP/1.1\n', 'GET / HTTP/1.1\r\n a\r\n\r\n', 'x\r\n\r\n']) {
      const e = new HttpHeadParser('request').push(Buffer.from(input, 'latin1')) as WsppError;
      expect(e).toBeInstanceOf(WsppError);
      const head = parseHead('response', buildErrorResponse(e));
      expect(head.status).toBe(e.status);
      expect(head.headers.get('connection')).toBe('close');
    }
  });
});
