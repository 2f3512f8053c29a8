/**
 * What every interop peer agrees on (the reference for peers/py_peer.py and
 * peers/wspp_peer.cpp): the generated payloads, the client script steps, the in-band
 * commands an echo server obeys, and the events peers print (one JSON line each,
 * strings hex-encoded UTF-8).
 */
import { createHash } from 'node:crypto';

export const KiB = 1024;
export const MiB = 1024 * 1024;

/**
 * text and binary: the generated, compressible payloads; random: incompressible binary
 * (xorshift32 bytes), the same in every peer so both sides can check it.
 */
export type Kind = 'text' | 'binary' | 'random';

/** 1 + 2 + 3 + 4 UTF-8 bytes: every text message crosses 4-byte code points. */
const UNIT = 'a\u00e9\u20ac\u{1F600}';

const cache = new Map<string, Buffer>();

/** The first state of the `random` kind's xorshift32 generator. */
export const RANDOM_SEED = 0x9e3779b9;

/**
 * The generated payload of a kind and size, as bytes. Text repeats "aé€😀" and pads
 * with "x" (valid UTF-8 of exactly `size` bytes); binary byte i is (i * 31 + 7) & 0xff;
 * random is xorshift32 (x ^= x << 13; x ^= x >>> 17; x ^= x << 5, from RANDOM_SEED),
 * each state written as 4 bytes little-endian, cut to `size` bytes.
 */
export function generate(kind: Kind, size: number): Buffer {
  const key = `${kind}:${size}`;
  let out = cache.get(key);
  if (out === undefined) {
    if (kind === 'text') {
      out = Buffer.from(UNIT.repeat(Math.floor(size / 10)) + 'x'.repeat(size % 10), 'utf8');
    } else if (kind === 'random') {
      const words = Buffer.allocUnsafe(Math.ceil(size / 4) * 4);
      let x = RANDOM_SEED;
      for (let i = 0; i < words.length; i += 4) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        x >>>= 0;
        words.writeUInt32LE(x, i);
      }
      out = words.subarray(0, size);
    } else {
      out = Buffer.allocUnsafe(size);
      for (let i = 0; i < size; i++) out[i] = (i * 31 + 7) & 0xff;
    }
    if (out.length !== size) throw new Error(`generated ${out.length} bytes instead of ${size}`);
    if (size >= 64 * KiB) cache.set(key, out);
  }
  return out;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Fragment k of n covers [floor(k*size/n), floor((k+1)*size/n)): raw byte cuts (may split code points). */
export function split(payload: Buffer, n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let k = 0; k < n; k++) out.push(payload.subarray(Math.floor((k * payload.length) / n), Math.floor(((k + 1) * payload.length) / n)));
  return out;
}

export const hex = (s: string | Uint8Array): string => Buffer.from(s).toString('hex');
export const unhex = (h: string): string => Buffer.from(h, 'hex').toString('utf8');

// --- client scripts ------------------------------------------------------------------------

/** One step of a client peer's script. */
export type Step =
  /** Send the generated payload (in `frags` fragments when > 1); the next message must be it, same type. */
  | { op: 'echo'; kind: Kind; size: number; frags: number }
  /** Send this text; the next message must be the same text. */
  | { op: 'echotext'; text: string }
  /** Ping with this payload; a pong with it must come back. */
  | { op: 'ping'; payload: string }
  /** Send this text; report the next message's text. */
  | { op: 'request'; text: string }
  /** Send this text, wait for nothing. */
  | { op: 'send'; text: string }
  /** Close with this code (undefined: no status code) and reason; wait until closed. */
  | { op: 'close'; code: number | undefined; reason: string }
  /** Wait until the other side has closed. */
  | { op: 'awaitclose' };

export interface StepResult {
  op: string;
  ok: boolean;
  detail: string;
  /** request: the text received. */
  text: string;
}

/** How a peer saw the close: what it received, and what it sent. */
export interface CloseView {
  code: number;
  reason: string;
  localCode?: number;
  localReason?: string;
}

/** The opcode a kind is sent with. */
export const opcodeOf = (kind: Kind): 1 | 2 => (kind === 'text' ? 1 : 2);

// --- permessage-deflate ---------------------------------------------------------------------

/** Parameters a peer can be asked to offer (client) or to require (server), RFC 7692 7.1. */
export interface DeflateParams {
  serverNoContextTakeover?: boolean;
  clientNoContextTakeover?: boolean;
  serverMaxWindowBits?: number;
  clientMaxWindowBits?: number;
}

/** The parameters in force on a connection (the shape of wspp's `con.extensions.permessageDeflate`). */
export interface Agreement {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

/**
 * A server's Sec-WebSocket-Extensions answer as the agreement it makes (independent of
 * wspp's parser): undefined when it names no permessage-deflate.
 */
export function agreementOf(header: string): Agreement | undefined {
  const element = header
    .split(',')
    .map((e) => e.split(';').map((p) => p.trim()))
    .find((e) => e[0]?.toLowerCase() === 'permessage-deflate');
  if (element === undefined) return undefined;
  const params = new Map(
    element.slice(1).map((p) => {
      const [name = '', value = ''] = p.split('=').map((v) => v.trim().replace(/^"|"$/g, ''));
      return [name.toLowerCase(), value] as const;
    }),
  );
  const bits = (name: string): number => (params.get(name) ? Number(params.get(name)) : 15);
  return {
    serverNoContextTakeover: params.has('server_no_context_takeover'),
    clientNoContextTakeover: params.has('client_no_context_takeover'),
    serverMaxWindowBits: bits('server_max_window_bits'),
    clientMaxWindowBits: bits('client_max_window_bits'),
  };
}

/** Everything a client peer reports about one run of a script. */
export interface PeerRun {
  /** extensions: the server's Sec-WebSocket-Extensions answer as the peer read it ('' for none). */
  open: { subprotocol: string; extensions?: string } | undefined;
  steps: StepResult[];
  closed: CloseView | undefined;
  fail: string | undefined;
  /** Anything else the peer printed (diagnostics). */
  other: string[];
}

/** A step as one argv word for the child-process peers. */
export function stepArg(step: Step): string {
  switch (step.op) {
    case 'echo':
      return `echo ${step.kind} ${step.size} ${step.frags}`;
    case 'echotext':
      return `echotext ${hex(step.text)}`;
    case 'ping':
      return `ping ${hex(step.payload)}`;
    case 'request':
      return `request ${hex(step.text)}`;
    case 'send':
      return `send ${hex(step.text)}`;
    case 'close':
      return `close ${step.code ?? 'none'} ${hex(step.reason)}`;
    case 'awaitclose':
      return 'awaitclose';
  }
}

/** Collect the JSON lines a child-process client printed into a PeerRun. */
export function parseClientOutput(stdout: string): PeerRun {
  const run: PeerRun = { open: undefined, steps: [], closed: undefined, fail: undefined, other: [] };
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    let ev: Record<string, unknown>;
    try {
      ev = JSON.parse(line) as Record<string, unknown>;
    } catch {
      run.other.push(line);
      continue;
    }
    switch (ev.event) {
      case 'open':
        run.open = { subprotocol: unhex(String(ev.subprotocol ?? '')), ...(ev.extensions === undefined ? {} : { extensions: unhex(String(ev.extensions)) }) };
        break;
      case 'step':
        run.steps.push({ op: String(ev.op), ok: ev.ok === true, detail: unhex(String(ev.detail ?? '')), text: unhex(String(ev.text ?? '')) });
        break;
      case 'closed':
        run.closed = closeViewOf(ev);
        break;
      case 'fail':
        run.fail = unhex(String(ev.message ?? ''));
        break;
      default:
        run.other.push(line);
    }
  }
  return run;
}

export function closeViewOf(ev: Record<string, unknown>): CloseView {
  return {
    code: Number(ev.code),
    reason: unhex(String(ev.reason ?? '')),
    ...(ev.localCode === undefined ? {} : { localCode: Number(ev.localCode), localReason: unhex(String(ev.localReason ?? '')) }),
  };
}

// --- in-band commands (to echo servers) ------------------------------------------------------

export const cmd = {
  /** The server sends the generated payload in `frags` fragments. */
  gen: (kind: Kind, size: number, frags: number): string => `cmd:gen ${kind} ${size} ${frags}`,
  /** The server pings; on the pong it sends `pong:<hex payload>`. */
  ping: (payload: string): string => `cmd:ping ${hex(payload)}`,
  /** The server closes with this code and reason (1005: no status code). */
  close: (code: number, reason: string): string => `cmd:close ${code} ${hex(reason)}`,
};

/** Parse an in-band command; undefined if the text is not one. */
export function parseCommand(text: string): { name: string; args: string[] } | undefined {
  if (!text.startsWith('cmd:')) return undefined;
  const [name = '', ...args] = text.slice(4).split(/\s+/).filter((w) => w !== '');
  return { name, args };
}
