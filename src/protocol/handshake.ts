/**
 * The RFC 6455 opening handshake, both roles: build the client's request and check
 * the server's answer; check the client's request and build the server's answer
 * (101 or a rejection). Pure code: randomness is injected, heads come from
 * `HttpHeadParser` (or from node:http, turned into an `HttpHead`).
 *
 * Builders throw `TypeError` for programmer errors (a header name that is not a
 * token, a value with CR/LF/NUL, a reserved header set by hand): those come from the
 * program, never from the peer. Validators never throw: they return a `WsppError`.
 */

import * as crypto from 'node:crypto';
import { WEBSOCKET_GUID, WEBSOCKET_VERSION } from './constants.js';
import { WsppError } from './errors.js';
import type { HttpHead, HttpHeaders } from './http.js';
import { isToken, isValidHeaderValue, parseSubprotocols, parseTokenList, tokenListHas } from './http.js';

// ---------------------------------------------------------------------------
// Key and accept

/** A fresh Sec-WebSocket-Key: base64 of 16 random bytes. */
export function generateKey(random: (n: number) => Uint8Array): string {
  const bytes = random(16);
  if (bytes.length !== 16) throw new TypeError(`random(16) returned ${bytes.length} bytes`);
  return Buffer.from(bytes.buffer, bytes.byteOffset, 16).toString('base64');
}

/** One-shot hashing (Node >= 20.12): no Hash object per handshake, ~3x faster than createHash. */
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, encoding: 'base64') => string }).hash;

/** Sec-WebSocket-Accept for a key: base64(SHA-1(key + GUID)). Keys are ASCII (validated or generated). */
export function computeAccept(key: string): string {
  if (oneShotHash !== undefined) return oneShotHash('sha1', key + WEBSOCKET_GUID, 'base64');
  return crypto.createHash('sha1').update(key + WEBSOCKET_GUID, 'latin1').digest('base64');
}

function isBase64Char(c: number): boolean {
  return (
    (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2f
  );
}

/**
 * Is `key` the canonical base64 encoding of exactly 16 bytes? 24 characters, 22 of
 * the base64 alphabet then "=="; the 22nd must carry zero padding bits (one of A Q g w).
 */
export function isValidKey(key: string): boolean {
  if (key.length !== 24 || key.charCodeAt(22) !== 0x3d || key.charCodeAt(23) !== 0x3d) return false;
  for (let i = 0; i < 22; i++) if (!isBase64Char(key.charCodeAt(i))) return false;
  const last = key.charCodeAt(21);
  return last === 0x41 /* A */ || last === 0x51 /* Q */ || last === 0x67 /* g */ || last === 0x77 /* w */;
}

// ---------------------------------------------------------------------------
// Shared helpers

/** Upgrade must list websocket and Connection must list upgrade (both roles, RFC 6455 4.1 and 4.2.1). */
function checkUpgradeHeaders(h: HttpHeaders): WsppError | undefined {
  const upgrade = h.get('upgrade');
  if (upgrade === undefined || !tokenListHas(upgrade, 'websocket')) {
    return new WsppError('processor.invalid_upgrade_header', upgrade === undefined ? 'missing' : undefined);
  }
  const connection = h.get('connection');
  if (connection === undefined || !tokenListHas(connection, 'upgrade')) {
    return new WsppError('processor.invalid_connection_header', connection === undefined ? 'missing' : undefined);
  }
  return undefined;
}

const enc = (s: string): Buffer => Buffer.from(s, 'latin1');

function checkHeader(name: string, value: string): void {
  if (!isToken(name)) throw new TypeError(`header name ${JSON.stringify(name)} is not a token`);
  if (!isValidHeaderValue(value)) {
    throw new TypeError(`value of header ${name} contains a control character or a character above U+00FF`);
  }
}

function checkValue(what: string, value: string): void {
  if (!isValidHeaderValue(value)) {
    throw new TypeError(`${what} contains a control character or a character above U+00FF`);
  }
}

/**
 * Append custom headers, rejecting the ones the handshake owns (`reserved`, lower
 * case) and returning the lower-cased names given, so defaults they replace can be skipped.
 */
function customHeaders(headers: readonly (readonly [string, string])[] | undefined, reserved: ReadonlySet<string>) {
  const names = new Set<string>();
  let text = '';
  for (const [name, value] of headers ?? []) {
    checkHeader(name, value);
    const lower = name.toLowerCase();
    if (reserved.has(lower)) throw new TypeError(`header ${name} is set by the handshake and cannot be given`);
    names.add(lower);
    text += `${name}: ${value}\r\n`;
  }
  return { names, text };
}

/** Is this request a WebSocket upgrade (Upgrade names websocket)? Others go to the HTTP handler. */
export function isWebSocketRequest(headers: HttpHeaders): boolean {
  const upgrade = headers.get('upgrade');
  return upgrade !== undefined && tokenListHas(upgrade, 'websocket');
}

// ---------------------------------------------------------------------------
// Client

export interface ClientRequestOptions {
  host: string;
  port?: number;
  secure: boolean;
  /** origin-form request-target: path and query, starting with "/". */
  resource: string;
  key: string;
  origin?: string;
  userAgent?: string;
  subprotocols?: string[];
  /** Sec-WebSocket-Extensions value (e.g. from `formatExtensions`). */
  extensions?: string;
  /** Extra headers. Host, Origin and User-Agent given here replace the defaults. */
  headers?: [string, string][];
}

const CLIENT_RESERVED: ReadonlySet<string> = new Set([
  'upgrade',
  'connection',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-accept',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
]);

/** The Host header value: IPv6 literals in brackets, port omitted when default for the scheme. */
export function formatHost(host: string, port: number | undefined, secure: boolean): string {
  if (host === '') throw new TypeError('empty host');
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x2f || c === 0x3f || c === 0x23 || c === 0x40) {
      throw new TypeError(`invalid character in host ${JSON.stringify(host)}`);
    }
  }
  const bracketed = host.startsWith('[') ? host : host.includes(':') ? `[${host}]` : host;
  if (port === undefined || port === (secure ? 443 : 80)) return bracketed;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new TypeError(`invalid port ${port}`);
  return `${bracketed}:${port}`;
}

/** The client's opening handshake request. Throws TypeError on invalid options. */
export function buildClientRequest(opts: ClientRequestOptions): Uint8Array {
  const { resource } = opts;
  if (resource.charCodeAt(0) !== 0x2f) throw new TypeError(`resource ${JSON.stringify(resource)} must start with "/"`);
  for (let i = 0; i < resource.length; i++) {
    const c = resource.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) throw new TypeError('resource must be percent-encoded visible ASCII');
  }
  if (!isValidKey(opts.key)) throw new TypeError('key is not the base64 encoding of 16 bytes');
  const custom = customHeaders(opts.headers, CLIENT_RESERVED);
  let text = `GET ${resource} HTTP/1.1\r\n`;
  if (!custom.names.has('host')) text += `Host: ${formatHost(opts.host, opts.port, opts.secure)}\r\n`;
  text += 'Upgrade: websocket\r\nConnection: Upgrade\r\n';
  text += `Sec-WebSocket-Key: ${opts.key}\r\nSec-WebSocket-Version: ${WEBSOCKET_VERSION}\r\n`;
  if (opts.origin !== undefined && !custom.names.has('origin')) {
    checkValue('origin', opts.origin);
    text += `Origin: ${opts.origin}\r\n`;
  }
  if (opts.userAgent !== undefined && !custom.names.has('user-agent')) {
    checkValue('userAgent', opts.userAgent);
    text += `User-Agent: ${opts.userAgent}\r\n`;
  }
  const protocols = opts.subprotocols ?? [];
  if (protocols.length > 0) {
    const seen = new Set<string>();
    for (const p of protocols) {
      if (!isToken(p)) throw new TypeError(`subprotocol ${JSON.stringify(p)} is not a token`);
      if (seen.has(p)) throw new TypeError(`subprotocol ${p} given twice`);
      seen.add(p);
    }
    text += `Sec-WebSocket-Protocol: ${protocols.join(', ')}\r\n`;
  }
  if (opts.extensions !== undefined && opts.extensions !== '') {
    checkValue('extensions', opts.extensions);
    text += `Sec-WebSocket-Extensions: ${opts.extensions}\r\n`;
  }
  text += custom.text;
  text += '\r\n';
  return enc(text);
}

export interface ServerResponseInfo {
  /** The subprotocol the server selected, '' for none. */
  subprotocol: string;
  /** The raw Sec-WebSocket-Extensions value, '' for none: for the extension policy. */
  extensions: string;
}

/**
 * Check the server's answer to our request (RFC 6455 section 4.1, client side).
 * The parser has already checked the version (HTTP/1.1).
 */
export function validateServerResponse(
  head: HttpHead,
  expected: { key: string; subprotocols: readonly string[]; extensionsOffered: boolean },
): ServerResponseInfo | WsppError {
  // The message users see must be exactly "Invalid HTTP status." (no detail).
  if (head.status !== 101) return new WsppError('processor.invalid_http_status');
  if (head.version !== '1.1') return new WsppError('http.unsupported_version', `HTTP/${head.version}`);
  const h = head.headers;
  const upgradeError = checkUpgradeHeaders(h);
  if (upgradeError !== undefined) return upgradeError;
  const accept = h.get('sec-websocket-accept');
  if (accept === undefined) return new WsppError('processor.invalid_accept', 'missing');
  if (accept !== computeAccept(expected.key)) return new WsppError('processor.invalid_accept');

  let subprotocol = '';
  if (h.has('sec-websocket-protocol')) {
    const values = h.getAll('sec-websocket-protocol');
    const list = parseTokenList(values.join(','));
    const chosen = list[0];
    if (values.length !== 1 || list.length !== 1 || chosen === undefined) {
      return new WsppError('websocket.unrequested_subprotocol', 'the server must select exactly one subprotocol');
    }
    if (!expected.subprotocols.includes(chosen)) {
      return new WsppError('websocket.unrequested_subprotocol', chosen);
    }
    subprotocol = chosen;
  }

  const extensions = h.get('sec-websocket-extensions') ?? '';
  if (extensions !== '' && !expected.extensionsOffered) return new WsppError('processor.unrequested_extension');
  return { subprotocol, extensions };
}

// ---------------------------------------------------------------------------
// Server

export interface ClientRequestInfo {
  /** The resource requested: path and query (origin-form, also for an absolute-form target). */
  resource: string;
  host: string;
  origin?: string;
  key: string;
  /** Subprotocols offered, in the client's order of preference. */
  subprotocols: string[];
  /** The raw Sec-WebSocket-Extensions value, '' when absent: for the extension policy. */
  extensions: string;
  headers: HttpHeaders;
}

/** Exactly one occurrence; otherwise the error for missing (undefined) or duplicate. */
function single(h: HttpHeaders, name: string): string | WsppError | undefined {
  const n = h.count(name);
  if (n === 0) return undefined;
  if (n > 1) return new WsppError('http.duplicate_header', name);
  return h.get(name);
}

function isAllZeroDigits(s: string): boolean {
  if (s === '') return false;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== 0x30) return false;
  return true;
}

/** The resource of a request-target: origin-form as is; absolute-form reduced to path and query. */
function resourceOf(target: string): string | undefined {
  if (target.charCodeAt(0) === 0x2f) return target;
  const scheme = target.indexOf('://');
  if (scheme <= 0) return undefined;
  const s = target.slice(0, scheme).toLowerCase();
  if (s !== 'ws' && s !== 'wss' && s !== 'http' && s !== 'https') return undefined;
  const authority = scheme + 3;
  let i = authority;
  while (i < target.length) {
    const c = target.charCodeAt(i);
    if (c === 0x2f || c === 0x3f || c === 0x23) break;
    i++;
  }
  if (i === authority) return undefined;
  const rest = target.slice(i);
  if (rest === '') return '/';
  return rest.charCodeAt(0) === 0x3f ? `/${rest}` : rest;
}

/**
 * Check a client's opening handshake (RFC 6455 section 4.2.1). Checks in order:
 * method (GET, 405), version (1.1), no body, request-target, Host (present once),
 * Upgrade (websocket), Connection (upgrade), Sec-WebSocket-Version (missing: 400
 * `websocket.invalid_version`; not 13: 426 `websocket.unsupported_version`),
 * Sec-WebSocket-Key (once, base64 of 16 bytes), Sec-WebSocket-Protocol syntax.
 * Sec-WebSocket-Extensions is returned raw for the extension policy to parse.
 */
export function validateClientRequest(head: HttpHead): ClientRequestInfo | WsppError {
  if (head.method !== 'GET') return new WsppError('processor.invalid_http_method', head.method);
  if (head.version !== '1.1') return new WsppError('http.unsupported_version', `HTTP/${head.version}`);
  const h = head.headers;

  if (h.has('transfer-encoding')) return new WsppError('http.unexpected_body', 'Transfer-Encoding');
  for (const v of h.getAll('content-length')) {
    for (const el of v.split(',')) {
      if (!isAllZeroDigits(el.trim())) return new WsppError('http.unexpected_body', `Content-Length: ${v}`);
    }
  }

  const resource = resourceOf(head.target ?? '');
  if (resource === undefined) {
    return new WsppError('http.invalid_request_line', 'the request-target must be origin-form or absolute-form');
  }

  const host = single(h, 'host');
  if (host instanceof WsppError) return host;
  if (host === undefined || host === '') return new WsppError('processor.missing_required_header', 'Host');

  const upgradeError = checkUpgradeHeaders(h);
  if (upgradeError !== undefined) return upgradeError;

  const version = single(h, 'sec-websocket-version');
  if (version instanceof WsppError) return version;
  if (version === undefined) return new WsppError('websocket.invalid_version', 'missing Sec-WebSocket-Version');
  if (version !== String(WEBSOCKET_VERSION)) return new WsppError('websocket.unsupported_version', version);

  const key = single(h, 'sec-websocket-key');
  if (key instanceof WsppError) return key;
  if (key === undefined) return new WsppError('processor.invalid_key', 'missing');
  if (!isValidKey(key)) return new WsppError('processor.invalid_key');

  let subprotocols: string[] = [];
  const protocolHeader = h.get('sec-websocket-protocol');
  if (protocolHeader !== undefined) {
    const parsed = parseSubprotocols(protocolHeader);
    if (parsed instanceof WsppError) return parsed;
    subprotocols = parsed;
  }

  const info: ClientRequestInfo = {
    resource,
    host,
    key,
    subprotocols,
    extensions: h.get('sec-websocket-extensions') ?? '',
    headers: h,
  };
  const origin = h.get('origin');
  if (origin !== undefined) info.origin = origin;
  return info;
}

export interface ServerResponseOptions {
  /** The client's Sec-WebSocket-Key. */
  key: string;
  /** The selected subprotocol (must be a token); omitted or '' for none. */
  subprotocol?: string;
  /** The negotiated Sec-WebSocket-Extensions value; omitted or '' for none. */
  extensions?: string;
  /** Extra headers (a Server header here replaces `server`). */
  headers?: [string, string][];
  /** Server header value. */
  server?: string;
}

const SERVER_RESERVED: ReadonlySet<string> = new Set([
  'upgrade',
  'connection',
  'sec-websocket-accept',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
  'content-length',
  'transfer-encoding',
]);

/** The server's 101 Switching Protocols. Throws TypeError on invalid options. */
export function buildServerResponse(opts: ServerResponseOptions): Uint8Array {
  const custom = customHeaders(opts.headers, SERVER_RESERVED);
  checkValue('key', opts.key);
  let text = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n';
  text += `Sec-WebSocket-Accept: ${computeAccept(opts.key)}\r\n`;
  if (opts.subprotocol !== undefined && opts.subprotocol !== '') {
    if (!isToken(opts.subprotocol)) {
      throw new TypeError(`subprotocol ${JSON.stringify(opts.subprotocol)} is not a token`);
    }
    text += `Sec-WebSocket-Protocol: ${opts.subprotocol}\r\n`;
  }
  if (opts.extensions !== undefined && opts.extensions !== '') {
    checkValue('extensions', opts.extensions);
    text += `Sec-WebSocket-Extensions: ${opts.extensions}\r\n`;
  }
  if (opts.server !== undefined && !custom.names.has('server')) {
    checkValue('server', opts.server);
    text += `Server: ${opts.server}\r\n`;
  }
  text += custom.text;
  text += '\r\n';
  return enc(text);
}

const REASONS: ReadonlyMap<number, string> = new Map([
  [100, 'Continue'],
  [101, 'Switching Protocols'],
  [200, 'OK'],
  [201, 'Created'],
  [202, 'Accepted'],
  [204, 'No Content'],
  [301, 'Moved Permanently'],
  [302, 'Found'],
  [303, 'See Other'],
  [304, 'Not Modified'],
  [307, 'Temporary Redirect'],
  [308, 'Permanent Redirect'],
  [400, 'Bad Request'],
  [401, 'Unauthorized'],
  [403, 'Forbidden'],
  [404, 'Not Found'],
  [405, 'Method Not Allowed'],
  [406, 'Not Acceptable'],
  [408, 'Request Timeout'],
  [409, 'Conflict'],
  [410, 'Gone'],
  [411, 'Length Required'],
  [413, 'Content Too Large'],
  [414, 'URI Too Long'],
  [415, 'Unsupported Media Type'],
  [426, 'Upgrade Required'],
  [429, 'Too Many Requests'],
  [431, 'Request Header Fields Too Large'],
  [500, 'Internal Server Error'],
  [501, 'Not Implemented'],
  [502, 'Bad Gateway'],
  [503, 'Service Unavailable'],
  [504, 'Gateway Timeout'],
  [505, 'HTTP Version Not Supported'],
]);

/** The standard reason phrase of a status, '' when not in the table. */
export function reasonPhrase(status: number): string {
  return REASONS.get(status) ?? '';
}

export interface HttpResponseOptions {
  /** Reason phrase; defaults to the standard one. */
  reason?: string;
  headers?: [string, string][];
  /** A string body is sent as UTF-8 (Content-Type text/plain; charset=utf-8 unless given). */
  body?: string | Uint8Array;
}

const HTTP_RESPONSE_RESERVED: ReadonlySet<string> = new Set(['connection', 'content-length', 'transfer-encoding']);

/**
 * A complete HTTP/1.1 response for rejections and plain HTTP answers: always
 * `Connection: close` and a correct `Content-Length` (none for 1xx and 204, which
 * carry no body). A 426 carries `Sec-WebSocket-Version: 13` unless given.
 * Throws TypeError on invalid arguments.
 */
export function buildHttpResponse(status: number, opts: HttpResponseOptions = {}): Uint8Array {
  if (!Number.isInteger(status) || status < 100 || status > 599) throw new TypeError(`invalid HTTP status ${status}`);
  const reason = opts.reason ?? reasonPhrase(status);
  checkValue('reason', reason);
  const custom = customHeaders(opts.headers, HTTP_RESPONSE_RESERVED);
  const body =
    opts.body === undefined ? undefined : typeof opts.body === 'string' ? Buffer.from(opts.body, 'utf8') : opts.body;
  const noBody = status < 200 || status === 204;
  if (noBody && body !== undefined && body.length > 0) throw new TypeError(`a ${status} response has no body`);
  let text = `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\n`;
  if (status === 426 && !custom.names.has('sec-websocket-version')) {
    text += `Sec-WebSocket-Version: ${WEBSOCKET_VERSION}\r\n`;
  }
  if (typeof opts.body === 'string' && opts.body !== '' && !custom.names.has('content-type')) {
    text += 'Content-Type: text/plain; charset=utf-8\r\n';
  }
  if (!noBody) text += `Content-Length: ${body?.length ?? 0}\r\n`;
  text += custom.text;
  text += '\r\n';
  const head = enc(text);
  if (body === undefined || body.length === 0) return head;
  const out = new Uint8Array(head.length + body.length);
  out.set(head, 0);
  out.set(body, head.length);
  return out;
}

/**
 * The rejection response for a handshake error: its HTTP status, plus
 * `Sec-WebSocket-Version: 13` for 426 and `Allow: GET` for 405.
 */
export function buildErrorResponse(error: WsppError, opts: HttpResponseOptions = {}): Uint8Array {
  const headers = opts.headers?.slice() ?? [];
  if (error.status === 405 && !headers.some(([n]) => n.toLowerCase() === 'allow')) headers.push(['Allow', 'GET']);
  return buildHttpResponse(error.status, { ...opts, headers });
}
