/**
 * A strict, bounded, incremental HTTP/1.1 head parser for the WebSocket opening
 * handshake (request and response), plus the header-value grammars the handshake
 * needs (token lists, Sec-WebSocket-Protocol, Sec-WebSocket-Extensions).
 *
 * Pure code: no I/O, no timers. Every scan is a single forward pass over the input
 * (plain char-code loops, no regular expressions), so hostile input costs linear time.
 *
 * Strictness (RFC 9112 / RFC 9110):
 * - lines end in CRLF only; a bare CR or bare LF is an error (`http.bare_cr`);
 * - obsolete line folding is an error (`http.obs_fold`);
 * - field names are tokens, field values carry no CTL other than HTAB;
 * - only HTTP/1.1 is accepted (`http.unsupported_version`), WebSocket needs it;
 * - the head is decoded as latin1, never as UTF-8;
 * - size and header count are bounded while bytes arrive (`http.head_too_large`,
 *   `http.too_many_headers`, both 431), nothing beyond the limit is buffered.
 */

import { WsppError } from './errors.js';

// ---------------------------------------------------------------------------
// Character classes

/** tchar of RFC 9110 section 5.6.2, indexed by char code (ASCII only). */
const TCHAR = /* @__PURE__ */ (() => {
  const table = new Uint8Array(128);
  for (let c = 0x30; c <= 0x39; c++) table[c] = 1; // DIGIT
  for (let c = 0x41; c <= 0x5a; c++) table[c] = 1; // A-Z
  for (let c = 0x61; c <= 0x7a; c++) table[c] = 1; // a-z
  for (const ch of "!#$%&'*+-.^_`|~") table[ch.charCodeAt(0)] = 1;
  return table;
})();

const SP = 0x20;
const HTAB = 0x09;
const CR = 0x0d;
const LF = 0x0a;

/** Is `code` a tchar? */
export function isTokenChar(code: number): boolean {
  return code < 128 && TCHAR[code] === 1;
}

/** Is `value` a non-empty RFC 9110 token? */
export function isToken(value: string): boolean {
  const n = value.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c >= 128 || TCHAR[c] !== 1) return false;
  }
  return true;
}

/**
 * Is `value` acceptable as an HTTP field value (no CTL other than HTAB, no DEL,
 * nothing above 0xFF since the head is latin1)? Used for the values we send.
 */
export function isValidHeaderValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== HTAB) || c === 0x7f || c > 0xff) return false;
  }
  return true;
}

function isOws(c: number): boolean {
  return c === SP || c === HTAB;
}

// ---------------------------------------------------------------------------
// Headers

/**
 * The header fields of a head: the raw ordered list (original case, as received)
 * and a case-insensitive lookup. Lookups scan the list: a head has a handful of fields
 * (at most `maxHeaders`), and a scan allocates nothing where a Map would cost a
 * lower-cased key and an array per field on every handshake.
 */
export class HttpHeaders {
  /** The fields in the order received, names in their original case. */
  readonly raw: ReadonlyArray<readonly [name: string, value: string]>;

  constructor(list: Iterable<readonly [string, string]> = []) {
    const raw: (readonly [string, string])[] = [];
    for (const [name, value] of list) raw.push([name, value]);
    this.raw = raw;
  }

  /** @internal Take `list` as it is (the parser's own, never changed afterwards). */
  static adopt(list: ReadonlyArray<readonly [string, string]>): HttpHeaders {
    const headers = new HttpHeaders();
    (headers as { raw: ReadonlyArray<readonly [string, string]> }).raw = list;
    return headers;
  }

  /** From a flat `[name, value, name, value, ...]` list (node:http `rawHeaders`). */
  static fromFlat(flat: readonly string[]): HttpHeaders {
    const list: [string, string][] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) list.push([flat[i] as string, flat[i + 1] as string]);
    return HttpHeaders.adopt(list);
  }

  /**
   * The field value; several occurrences are combined with ", " (RFC 9110 section 5.3).
   * That combination is wrong for Set-Cookie: use `getAll` for it.
   */
  get(name: string): string | undefined {
    const lower = name.toLowerCase();
    let found: string | undefined;
    for (const [n, v] of this.raw) {
      if (equalsAsciiCi(n, 0, n.length, lower)) found = found === undefined ? v : `${found}, ${v}`;
    }
    return found;
  }

  /** Every occurrence's value, in order (a fresh array; empty when absent). */
  getAll(name: string): string[] {
    const lower = name.toLowerCase();
    const out: string[] = [];
    for (const [n, v] of this.raw) if (equalsAsciiCi(n, 0, n.length, lower)) out.push(v);
    return out;
  }

  has(name: string): boolean {
    return this.count(name) !== 0;
  }

  /** How many times the field occurs. */
  count(name: string): number {
    const lower = name.toLowerCase();
    let count = 0;
    for (const [n] of this.raw) if (equalsAsciiCi(n, 0, n.length, lower)) count++;
    return count;
  }

  /** Number of fields (occurrences). */
  get size(): number {
    return this.raw.length;
  }

  /** The raw fields in order: `[name, value]`, names in original case. */
  entries(): IterableIterator<readonly [string, string]> {
    return this.raw[Symbol.iterator]();
  }

  [Symbol.iterator](): IterableIterator<readonly [string, string]> {
    return this.entries();
  }
}

// ---------------------------------------------------------------------------
// Head parser

export interface HttpLimits {
  /** Largest head in bytes, start line and terminating CRLFCRLF included. */
  maxHeadSize: number;
  /** Largest number of header fields. */
  maxHeaders: number;
}

export const DEFAULT_HTTP_LIMITS: Readonly<HttpLimits> = Object.freeze({
  maxHeadSize: 16000,
  maxHeaders: 100,
});

export type HttpKind = 'request' | 'response';

export interface HttpHead {
  kind: HttpKind;
  /** Request only. */
  method?: string;
  /** Request only: the request-target as sent. */
  target?: string;
  /** "1.1" (the only version the parser accepts). */
  version: string;
  /** Response only. */
  status?: number;
  /** Response only; may be empty. */
  reason?: string;
  headers: HttpHeaders;
  /**
   * The bytes that followed the head in the chunk that completed it (e.g. the first
   * WebSocket frames). A subarray of that chunk, not a copy: consume it before the
   * chunk's memory is reused.
   */
  rest: Uint8Array;
  /** Size of the head in bytes, terminating CRLFCRLF included. */
  size: number;
  /** The head as latin1 text (what `parseHead` reads back). */
  text: string;
}

const EMPTY = new Uint8Array(0);

/**
 * Incremental head parser. Feed chunks of any size with `push`; it returns
 * `undefined` while the head is incomplete, the parsed head once the empty line is
 * seen, or a `WsppError`. Each byte is scanned once. Bytes of an incomplete head
 * are copied into an internal buffer (never more than `maxHeadSize`), so the caller
 * may reuse its chunk buffers after `push` returns.
 *
 * Once finished: pushing again after an error returns that same error; pushing
 * again after success returns `websocket.invalid_state` (bytes after the head
 * belong to the caller, they come back in `rest`). `push` never throws.
 */
export class HttpHeadParser {
  readonly kind: HttpKind;
  readonly limits: Readonly<HttpLimits>;

  #buf: Uint8Array = EMPTY;
  #len = 0;
  /** Head bytes scanned so far (all of them buffered in #buf). */
  #scanned = 0;
  #cr = false;
  #lineLen = 0;
  #lines = 0;
  #result: HttpHead | WsppError | undefined;

  constructor(kind: HttpKind, limits?: Partial<HttpLimits>) {
    this.kind = kind;
    this.limits = {
      maxHeadSize: limits?.maxHeadSize ?? DEFAULT_HTTP_LIMITS.maxHeadSize,
      maxHeaders: limits?.maxHeaders ?? DEFAULT_HTTP_LIMITS.maxHeaders,
    };
  }

  /** Has the parser produced a head or an error? */
  get done(): boolean {
    return this.#result !== undefined;
  }

  /** The head or error, once done. */
  get result(): HttpHead | WsppError | undefined {
    return this.#result;
  }

  /** Bytes of the head scanned so far. */
  get scanned(): number {
    return this.#scanned;
  }

  push(chunk: Uint8Array): HttpHead | WsppError | undefined {
    const done = this.#result;
    if (done !== undefined) {
      if (done instanceof WsppError) return done;
      return new WsppError('websocket.invalid_state', 'the HTTP head is already complete');
    }
    const { maxHeadSize, maxHeaders } = this.limits;
    const n = chunk.length;
    let scanned = this.#scanned;
    let cr = this.#cr;
    let lineLen = this.#lineLen;
    let lines = this.#lines;
    for (let i = 0; i < n; i++) {
      if (++scanned > maxHeadSize) {
        return this.#fail(new WsppError('http.head_too_large', `more than ${maxHeadSize} bytes`), scanned);
      }
      const b = chunk[i] as number;
      if (cr) {
        if (b !== LF) {
          return this.#fail(new WsppError('http.bare_cr', `CR not followed by LF at byte ${scanned - 1}`), scanned);
        }
        cr = false;
        if (lineLen === 0) {
          if (lines === 0) {
            return this.#fail(
              this.kind === 'request'
                ? new WsppError('http.invalid_request_line', 'empty request line')
                : new WsppError('http.invalid_status_line', 'empty status line'),
              scanned,
            );
          }
          this.#scanned = scanned;
          return this.#complete(chunk, i + 1);
        }
        lines++;
        lineLen = 0;
        if (lines - 1 > maxHeaders) {
          return this.#fail(new WsppError('http.too_many_headers', `more than ${maxHeaders} header fields`), scanned);
        }
      } else if (b === CR) {
        cr = true;
      } else if (b === LF) {
        return this.#fail(new WsppError('http.bare_cr', `LF without CR at byte ${scanned - 1}`), scanned);
      } else {
        lineLen++;
      }
    }
    this.#scanned = scanned;
    this.#cr = cr;
    this.#lineLen = lineLen;
    this.#lines = lines;
    this.#append(chunk, n);
    return undefined;
  }

  #fail(error: WsppError, scanned: number): WsppError {
    this.#scanned = scanned;
    this.#result = error;
    this.#buf = EMPTY;
    return error;
  }

  #append(chunk: Uint8Array, count: number): void {
    if (count === 0) return;
    const need = this.#len + count;
    if (need > this.#buf.length) {
      let cap = Math.max(256, this.#buf.length * 2);
      while (cap < need) cap *= 2;
      cap = Math.min(cap, Math.max(need, this.limits.maxHeadSize));
      const grown = new Uint8Array(cap);
      grown.set(this.#buf.subarray(0, this.#len));
      this.#buf = grown;
    }
    this.#buf.set(count === chunk.length ? chunk : chunk.subarray(0, count), this.#len);
    this.#len = need;
  }

  #complete(chunk: Uint8Array, used: number): HttpHead | WsppError {
    let head: Uint8Array;
    if (this.#len === 0) {
      head = chunk.subarray(0, used);
    } else {
      this.#append(chunk, used);
      head = this.#buf.subarray(0, this.#len);
    }
    const text = Buffer.from(head.buffer, head.byteOffset, head.byteLength).toString('latin1');
    const parsed = parseHead(this.kind, text, chunk.subarray(used));
    this.#buf = EMPTY;
    this.#len = 0;
    this.#result = parsed;
    return parsed;
  }
}

/**
 * Parse a complete head (latin1 text ending in CRLFCRLF, no bare CR/LF: the scanner
 * has checked that). Also re-parses a head kept as `HttpHead.text`.
 */
export function parseHead(kind: HttpKind, text: string, rest: Uint8Array): HttpHead | WsppError {
  const size = text.length;
  let eol = text.indexOf('\r\n');
  const startLine = text.slice(0, eol);
  const head: HttpHead | WsppError =
    kind === 'request' ? parseRequestLine(startLine) : parseStatusLine(startLine);
  if (head instanceof WsppError) return head;
  const list: [string, string][] = [];
  let pos = eol + 2;
  for (;;) {
    eol = text.indexOf('\r\n', pos);
    if (eol === pos) break; // the empty line
    const field = parseFieldLine(text, pos, eol);
    if (field instanceof WsppError) return field;
    list.push(field);
    pos = eol + 2;
  }
  head.headers = HttpHeaders.adopt(list);
  head.rest = rest;
  head.size = size;
  head.text = text;
  return head;
}

function parseFieldLine(text: string, start: number, end: number): [string, string] | WsppError {
  const first = text.charCodeAt(start);
  if (isOws(first)) return new WsppError('http.obs_fold', 'header line starts with whitespace');
  let colon = -1;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x3a) {
      colon = i;
      break;
    }
    if (c >= 128 || TCHAR[c] !== 1) {
      return new WsppError('http.invalid_header_name', `invalid character 0x${c.toString(16)} in a field name`);
    }
  }
  if (colon === -1) return new WsppError('http.invalid_header_name', 'header line without colon');
  if (colon === start) return new WsppError('http.invalid_header_name', 'empty field name');
  let vs = colon + 1;
  let ve = end;
  while (vs < ve && isOws(text.charCodeAt(vs))) vs++;
  while (ve > vs && isOws(text.charCodeAt(ve - 1))) ve--;
  for (let i = vs; i < ve; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== HTAB) || c === 0x7f) {
      return new WsppError('http.invalid_header_value', `control character 0x${c.toString(16)} in a field value`);
    }
  }
  return [text.slice(start, colon), text.slice(vs, ve)];
}

/** "HTTP/" DIGIT "." DIGIT at `pos`; returns "x.y" or undefined. */
function readVersion(line: string, pos: number): string | undefined {
  if (line.length - pos < 8 || !line.startsWith('HTTP/', pos)) return undefined;
  const major = line.charCodeAt(pos + 5);
  const dot = line.charCodeAt(pos + 6);
  const minor = line.charCodeAt(pos + 7);
  if (major < 0x30 || major > 0x39 || dot !== 0x2e || minor < 0x30 || minor > 0x39) return undefined;
  return line.slice(pos + 5, pos + 8);
}

function parseRequestLine(line: string): HttpHead | WsppError {
  const bad = (detail: string) => new WsppError('http.invalid_request_line', detail);
  const n = line.length;
  let i = 0;
  while (i < n && isTokenChar(line.charCodeAt(i))) i++;
  if (i === 0) return bad('missing or invalid method');
  if (i === n || line.charCodeAt(i) !== SP) return bad('invalid method');
  const method = line.slice(0, i);
  const ts = ++i;
  for (; i < n; i++) {
    const c = line.charCodeAt(i);
    if (c === SP) break;
    if (c <= 0x20 || c >= 0x7f) return bad('invalid character in the request-target');
  }
  if (i === ts) return bad('empty request-target');
  if (i === n) return bad('missing HTTP version');
  const target = line.slice(ts, i);
  const version = readVersion(line, i + 1);
  if (version === undefined || i + 9 !== n) return bad('malformed HTTP version');
  if (version !== '1.1') return new WsppError('http.unsupported_version', `HTTP/${version}`);
  return { kind: 'request', method, target, version, headers: EMPTY_HEADERS, rest: EMPTY, size: 0, text: '' };
}

function parseStatusLine(line: string): HttpHead | WsppError {
  const bad = (detail: string) => new WsppError('http.invalid_status_line', detail);
  const n = line.length;
  const version = readVersion(line, 0);
  if (version === undefined) return bad('malformed HTTP version');
  if (n < 12 || line.charCodeAt(8) !== SP) return bad('malformed status code');
  let status = 0;
  for (let i = 9; i < 12; i++) {
    const c = line.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return bad('malformed status code');
    status = status * 10 + (c - 0x30);
  }
  if (status < 100 || status > 599) return bad(`status code ${status} out of range`);
  let reason = '';
  if (n > 12) {
    if (line.charCodeAt(12) !== SP) return bad('malformed status code');
    for (let i = 13; i < n; i++) {
      const c = line.charCodeAt(i);
      if ((c < 0x20 && c !== HTAB) || c === 0x7f) return bad('control character in the reason phrase');
    }
    reason = line.slice(13);
  }
  if (version !== '1.1') return new WsppError('http.unsupported_version', `HTTP/${version}`);
  return { kind: 'response', version, status, reason, headers: EMPTY_HEADERS, rest: EMPTY, size: 0, text: '' };
}

const EMPTY_HEADERS = new HttpHeaders();

// ---------------------------------------------------------------------------
// Header value grammars

/**
 * Visit each element of a comma-separated list (RFC 9110 section 5.6.1), OWS-trimmed,
 * empty elements skipped, in one pass; stops early when `visit` returns true.
 */
function scanList(value: string, visit: (start: number, end: number) => boolean | void): boolean {
  const n = value.length;
  let i = 0;
  while (i < n) {
    while (i < n && isOws(value.charCodeAt(i))) i++;
    const start = i;
    let end = i;
    for (; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c === 0x2c) break;
      if (!isOws(c)) end = i + 1;
    }
    if (end > start && visit(start, end) === true) return true;
    i++; // skip the comma
  }
  return false;
}

/** Split a comma-separated list: elements OWS-trimmed, empty ones skipped, case kept; not validated. */
export function parseTokenList(value: string): string[] {
  const out: string[] = [];
  scanList(value, (start, end) => {
    out.push(value.slice(start, end));
  });
  return out;
}

/** ASCII case-insensitive equality of value[start, end) with `lower` (already lower case). */
function equalsAsciiCi(value: string, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false;
  for (let k = 0; k < lower.length; k++) {
    let c = value.charCodeAt(start + k);
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c !== lower.charCodeAt(k)) return false;
  }
  return true;
}

/** Does the comma-separated list contain `token`, compared ASCII case-insensitively? */
export function tokenListHas(value: string, token: string): boolean {
  const lower = token.toLowerCase();
  return scanList(value, (start, end) => equalsAsciiCi(value, start, end, lower));
}

/**
 * Parse Sec-WebSocket-Protocol (RFC 6455 section 11.3.4: `1#token`, unique
 * elements). Empty elements are skipped; a non-token element or a duplicate is
 * `processor.subprotocol_parse_error`. Case is kept (subprotocols compare exactly).
 */
export function parseSubprotocols(value: string): string[] | WsppError {
  const list = parseTokenList(value);
  const seen = new Set<string>();
  for (const p of list) {
    if (!isToken(p)) return new WsppError('processor.subprotocol_parse_error', 'a subprotocol is not a token');
    if (seen.has(p)) return new WsppError('processor.subprotocol_parse_error', 'duplicated subprotocol');
    seen.add(p);
  }
  return list;
}

/** One element of Sec-WebSocket-Extensions. */
export interface ExtensionOffer {
  /** The extension token, case as received. */
  name: string;
  /** Parameters by name (case as received); on duplicates, the first value. */
  params: Map<string, string | true>;
  /**
   * Every parameter in order, duplicates included. RFC 7692 requires declining an
   * offer whose parameters repeat: see `hasDuplicateParams`.
   */
  paramList: [string, string | true][];
}

/** Does the offer name a parameter twice? */
export function hasDuplicateParams(offer: ExtensionOffer): boolean {
  return offer.params.size !== offer.paramList.length;
}

/**
 * Parse Sec-WebSocket-Extensions (RFC 6455 section 9.1):
 * `extension *( ";" extension-param )` elements separated by commas, where
 * `extension-param = token [ "=" (token | quoted-string) ]` and a quoted value must
 * be a token once unescaped. OWS is allowed around `,`, `;` and `=`; empty list
 * elements are skipped (an empty value gives `[]`). Errors are
 * `processor.extension_parse_error`. Single pass, linear time.
 */
export function parseExtensions(value: string): ExtensionOffer[] | WsppError {
  const bad = (detail: string, at: number) =>
    new WsppError('processor.extension_parse_error', `${detail} at index ${at}`);
  const offers: ExtensionOffer[] = [];
  const n = value.length;
  let i = 0;
  const skipOws = () => {
    while (i < n && isOws(value.charCodeAt(i))) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < n && isTokenChar(value.charCodeAt(i))) i++;
    return value.slice(start, i);
  };
  for (;;) {
    skipOws();
    if (i >= n) break;
    if (value.charCodeAt(i) === 0x2c) {
      i++;
      continue;
    }
    const name = readToken();
    if (name === '') return bad('expected an extension name', i);
    const params = new Map<string, string | true>();
    const paramList: [string, string | true][] = [];
    skipOws();
    while (i < n && value.charCodeAt(i) === 0x3b) {
      i++;
      skipOws();
      const pname = readToken();
      if (pname === '') return bad('expected a parameter name', i);
      skipOws();
      let pvalue: string | true = true;
      if (i < n && value.charCodeAt(i) === 0x3d) {
        i++;
        skipOws();
        if (i < n && value.charCodeAt(i) === 0x22) {
          // quoted-string; once unescaped it must be a token, so every character must be a tchar
          const open = i++;
          let out = '';
          let closed = false;
          while (i < n) {
            let c = value.charCodeAt(i);
            if (c === 0x22) {
              closed = true;
              i++;
              break;
            }
            if (c === 0x5c) {
              i++;
              if (i >= n) break;
              c = value.charCodeAt(i);
            }
            if (!isTokenChar(c)) return bad('a quoted parameter value must be a token', i);
            out += value[i];
            i++;
          }
          if (!closed) return bad('unterminated quoted string', open);
          if (out === '') return bad('empty quoted parameter value', open);
          pvalue = out;
        } else {
          const v = readToken();
          if (v === '') return bad('expected a parameter value', i);
          pvalue = v;
        }
        skipOws();
      }
      paramList.push([pname, pvalue]);
      if (!params.has(pname)) params.set(pname, pvalue);
    }
    offers.push({ name, params, paramList });
    if (i >= n) break;
    if (value.charCodeAt(i) !== 0x2c) return bad('unexpected character', i);
    i++;
  }
  return offers;
}

/** What `formatExtensions` accepts: an `ExtensionOffer`, or a name with parameters. */
export interface ExtensionSpec {
  name: string;
  /** A Map or a list of pairs; `true` means a parameter without value. */
  params?: Iterable<readonly [string, string | true]>;
  /** When present (as on a parsed `ExtensionOffer`), used instead of `params`. */
  paramList?: Iterable<readonly [string, string | true]>;
}

/**
 * Build a Sec-WebSocket-Extensions value: `name; p1; p2=v, other`. Names and
 * values must be tokens (RFC 6455 section 9.1; a quoted value must unescape to a
 * token anyway, so values are always sent bare). Throws TypeError otherwise: this is
 * input from the program, not from the peer.
 */
export function formatExtensions(offers: Iterable<ExtensionSpec>): string {
  const parts: string[] = [];
  for (const offer of offers) {
    if (!isToken(offer.name)) throw new TypeError(`extension name ${JSON.stringify(offer.name)} is not a token`);
    let s = offer.name;
    for (const [pname, pvalue] of offer.paramList ?? offer.params ?? []) {
      if (!isToken(pname)) throw new TypeError(`extension parameter ${JSON.stringify(pname)} is not a token`);
      if (pvalue === true) {
        s += `; ${pname}`;
      } else {
        if (!isToken(pvalue)) {
          throw new TypeError(`value ${JSON.stringify(pvalue)} of extension parameter ${pname} is not a token`);
        }
        s += `; ${pname}=${pvalue}`;
      }
    }
    parts.push(s);
  }
  return parts.join(', ');
}
