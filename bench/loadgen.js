#!/usr/bin/env node
// A WebSocket (RFC 6455) load generator in plain Node: raw node:net sockets, its own minimal
// client handshake, pre-built masked frames, and a small incremental parser for the server's
// echoes. 127.0.0.1 only. Prints ONE JSON line with its results on stdout at the end
// (idle mode also prints {"open":N} when all connections are open; --sync adds
// {"mark":"start"} / {"mark":"end"} lines around the measurement window). Progress: stderr.
//
//   echo:          --port P --conns C --size BYTES|1K|64K|1M --window W --seconds D --warmup T
//                  [--text] [--raw] [--sample N] [--sync]
//   connect rate:  --port P --connect-rate --seconds D [--warmup T] --concurrency K
//   idle:          --port P --idle N --hold S [--concurrency K]   (stdin line "close" ends the hold)
//
// Shortcuts, as in any load tool: every client frame uses the same masking key (the frame is
// built once and written from a shared buffer; the server still unmasks every byte), and the
// handshake always sends the same Sec-WebSocket-Key (the Sec-WebSocket-Accept is still checked).
// --raw: plain TCP (no framing) against a raw echo server: a message is SIZE bytes written and it
// is complete when SIZE more bytes came back; a 1-byte probe echoed back stands for the handshake.
//
// Exit status: 0 ok, 1 errors seen or nothing measured, 2 bad arguments / setup failure,
// 4 hard time limit (--max-time) hit.
import net from 'node:net';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';

// ------------------------------------------------------------------------------ arguments
const HOST = '127.0.0.1';
const opts = {
  port: 0,
  conns: 1,
  size: 16,
  window: 1,
  seconds: 3,
  warmup: 1,
  text: false,
  raw: false,
  sample: 16,
  sync: false,
  connectRate: false,
  concurrency: 0,
  idle: 0,
  hold: 5,
  maxTime: 0,
  quiet: false,
};

function usage(msg) {
  if (msg) process.stderr.write(`loadgen: ${msg}\n`);
  process.stderr.write(
    'usage: node bench/loadgen.js --port P\n' +
      '  echo:    [--conns C] [--size S(bytes|1K|64K|1M)] [--window W] [--seconds D] [--warmup T]\n' +
      '           [--text] [--raw] [--sample N (check content of every Nth echo; 1 = all)] [--sync]\n' +
      '  connect: --connect-rate [--seconds D] [--warmup T] [--concurrency K (50)]\n' +
      '  idle:    --idle N [--hold S] [--concurrency K (500)]   (a stdin line "close" ends the hold)\n' +
      '  common:  [--max-time S (hard limit)] [--quiet]\n',
  );
  process.exit(2);
}

function sizeArg(v) {
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)(?:i?[bB])?$/.exec(v ?? '');
  if (!m) usage(`bad size "${v}"`);
  const mul = m[2] === '' ? 1 : m[2].toLowerCase() === 'k' ? 1024 : 1024 * 1024;
  return Math.round(Number(m[1]) * mul);
}

function numArg(name, v, lo, hi) {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n) || n < lo || n > hi) usage(`--${name} wants a number in [${lo}, ${hi}], got "${v}"`);
  return n;
}

{
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    switch (a) {
      case '--port': opts.port = numArg('port', next(), 1, 65535); break;
      case '--host': { const h = next(); if (h !== HOST) usage('only 127.0.0.1 is supported'); break; }
      case '--conns': opts.conns = Math.floor(numArg('conns', next(), 1, 60000)); break;
      case '--size': opts.size = sizeArg(next()); break;
      case '--window': opts.window = Math.floor(numArg('window', next(), 1, 4096)); break;
      case '--seconds': opts.seconds = numArg('seconds', next(), 0.05, 3600); break;
      case '--warmup': opts.warmup = numArg('warmup', next(), 0, 600); break;
      case '--text': opts.text = true; break;
      case '--raw': opts.raw = true; break;
      case '--sample': opts.sample = Math.floor(numArg('sample', next(), 1, 1e9)); break;
      case '--sync': opts.sync = true; break;
      case '--connect-rate': opts.connectRate = true; break;
      case '--concurrency': opts.concurrency = Math.floor(numArg('concurrency', next(), 1, 60000)); break;
      case '--idle': opts.idle = Math.floor(numArg('idle', next(), 1, 1000000)); break;
      case '--hold': opts.hold = numArg('hold', next(), 0, 3600); break;
      case '--max-time': opts.maxTime = numArg('max-time', next(), 1, 7200); break;
      case '--quiet': opts.quiet = true; break;
      case '--help': case '-h': usage(); break;
      default: usage(`unknown argument "${a}"`);
    }
  }
  if (!opts.port) usage('--port is required');
  if (opts.size < 1 || opts.size > 256 * 1024 * 1024) usage('--size must be in [1, 256 MiB]');
  if (opts.connectRate && opts.raw) usage('--connect-rate needs WebSocket (no --raw)');
  if (opts.text && opts.raw) usage('--text and --raw do not mix');
}

const mode = opts.idle ? 'idle' : opts.connectRate ? 'connect-rate' : 'echo';
const log = (s) => {
  if (!opts.quiet) process.stderr.write(`loadgen: ${s}\n`);
};

// Hard limit: whatever happens, this process ends.
const maxTime =
  opts.maxTime ||
  (mode === 'echo' ? opts.warmup + opts.seconds + 60 : mode === 'connect-rate' ? opts.warmup + opts.seconds + 30 : opts.hold + 180);
let resultPrinted = false;
const hardTimer = setTimeout(() => {
  if (!resultPrinted) {
    resultPrinted = true;
    process.stdout.write(`${JSON.stringify({ mode, error: `hard time limit of ${maxTime}s hit`, timeout: true })}\n`);
  }
  process.exit(4);
}, maxTime * 1000);

function finish(result, code) {
  if (resultPrinted) return;
  resultPrinted = true;
  clearTimeout(hardTimer);
  const cpu = process.cpuUsage();
  result.genCpuMs = Math.round((cpu.user + cpu.system) / 1000);
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(code));
}

// ------------------------------------------------------------------------------ handshake
const WS_KEY = 'dGhlIHNhbXBsZSBub25jZQ=='; // RFC 6455's sample nonce; constant on purpose
const WS_ACCEPT = createHash('sha1').update(`${WS_KEY}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
const REQUEST = Buffer.from(
  `GET / HTTP/1.1\r\nHost: ${HOST}:${opts.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${WS_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  'latin1',
);
const MAX_RESPONSE_HEAD = 8192;

/** Checks a complete response head (without the final CRLFCRLF); returns an error string or null. */
function checkResponseHead(head) {
  const lines = head.split('\r\n');
  if (!/^HTTP\/1\.1 101(?: |$)/.test(lines[0])) return `handshake refused: "${lines[0].slice(0, 80)}"`;
  let accept = null;
  let upgrade = false;
  let connection = false;
  for (let i = 1; i < lines.length && i < 100; i++) {
    const c = lines[i].indexOf(':');
    if (c <= 0) return 'malformed response header line';
    const name = lines[i].slice(0, c).trim().toLowerCase();
    const value = lines[i].slice(c + 1).trim();
    if (name === 'sec-websocket-accept') accept = value;
    else if (name === 'upgrade') upgrade = value.toLowerCase() === 'websocket';
    else if (name === 'connection') connection = value.toLowerCase().split(/\s*,\s*/).includes('upgrade');
    else if (name === 'sec-websocket-extensions') return 'server chose an extension that was not offered';
  }
  if (accept !== WS_ACCEPT) return `bad Sec-WebSocket-Accept "${accept}"`;
  if (!upgrade || !connection) return 'missing Upgrade/Connection headers';
  return null;
}

// Masked client frames, built once.
const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

function maskedFrame(opcode, payload) {
  const len = payload.length;
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const frame = Buffer.allocUnsafe(2 + ext + 4 + len);
  frame[0] = 0x80 | opcode;
  if (ext === 0) frame[1] = 0x80 | len;
  else if (ext === 2) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(len, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeUInt32BE(Math.floor(len / 2 ** 32), 2);
    frame.writeUInt32BE(len >>> 0, 6);
  }
  const at = 2 + ext;
  MASK.copy(frame, at);
  for (let i = 0; i < len; i++) frame[at + 4 + i] = payload[i] ^ MASK[i & 3];
  return frame;
}

const CLOSE_FRAME = maskedFrame(0x8, Buffer.from([0x03, 0xe8])); // 1000 normal closure

// Shared read buffer for every socket (callbacks are synchronous and nothing keeps a view of it).
const READ_BUF = Buffer.allocUnsafe(256 * 1024);

// ------------------------------------------------------------------------------ latency histogram
// Log-linear buckets over microseconds: 32 per power of two (about 2 % relative error).
const HSUB = 32;
const hist = new Float64Array(40 * HSUB);
let histN = 0;
function histAdd(us) {
  let b = Math.floor(Math.log2(us + 1) * HSUB);
  if (b < 0) b = 0;
  else if (b >= hist.length) b = hist.length - 1;
  hist[b]++;
  histN++;
}
function histPct(p) {
  if (histN === 0) return null;
  const target = Math.max(1, Math.ceil((p / 100) * histN));
  let acc = 0;
  for (let b = 0; b < hist.length; b++) {
    acc += hist[b];
    if (acc >= target) return 2 ** ((b + 0.5) / HSUB) - 1;
  }
  return null;
}

// ------------------------------------------------------------------------------ common state
const errors = { handshake: 0, socket: 0, protocol: 0, length: 0, content: 0, close: 0, timeout: 0 };
const notes = new Map();
function note(kind, msg) {
  errors[kind]++;
  const n = notes.get(msg) ?? 0;
  if (n === 0 && notes.size < 20) log(`error: ${msg}`);
  if (n > 0 || notes.size < 20) notes.set(msg, n + 1);
}
const errorCount = () => Object.values(errors).reduce((a, b) => a + b, 0);
const errorSummary = () => [...notes].map(([m, n]) => (n > 1 ? `${m} (x${n})` : m));

const ST_CONNECTING = 0;
const ST_OPEN = 1;
const ST_CLOSING = 2;
const ST_DONE = 3;

// ------------------------------------------------------------------------------ echo mode
const S = opts.size;
const W = opts.window;
const OPCODE = opts.text ? 0x1 : 0x2;
// Payload pattern: varied bytes for binary (so a wrong unmask shows), ASCII letters for text.
const PAYLOAD = Buffer.allocUnsafe(S);
for (let i = 0; i < S; i++) PAYLOAD[i] = opts.text ? 0x61 + (i % 26) : (i * 131 + 7) & 0xff;

let FRAME_LEN = 0;
let BATCHES = null; // BATCHES[k]: k frames back to back, written with one write
function buildBatches() {
  const one = opts.raw ? PAYLOAD : maskedFrame(OPCODE, PAYLOAD);
  FRAME_LEN = one.length;
  const all = Buffer.allocUnsafe(FRAME_LEN * W);
  for (let k = 0; k < W; k++) one.copy(all, k * FRAME_LEN);
  BATCHES = new Array(W + 1);
  for (let k = 0; k <= W; k++) BATCHES[k] = all.subarray(0, k * FRAME_LEN);
}

let phase = 0; // 0 warm-up, 1 measuring, 2 draining, 3 closing
let totalMsgs = 0;
let totalBytes = 0;
let measMsgs = 0;
let measBytes = 0;
let sampleCounter = 0;

class EchoConn {
  constructor(id, onOpen, onGone) {
    this.id = id;
    this.state = ST_CONNECTING;
    this.onOpen = onOpen;
    this.onGone = onGone;
    this.head = '';
    // frame parser
    this.hdr = Buffer.alloc(14);
    this.hdrHave = 0;
    this.inPayload = false;
    this.payLeft = 0;
    this.fOp = 0;
    this.fFin = false;
    this.msgActive = false;
    this.msgLen = 0;
    this.msgCheck = false;
    this.msgBad = false;
    this.gotClose = false;
    // in-flight ring of send timestamps (echoes come back in order)
    this.ring = new Float64Array(W);
    this.rHead = 0;
    this.inflight = 0;
    const self = this;
    this.sock = net.connect({
      host: HOST,
      port: opts.port,
      noDelay: true,
      onread: {
        buffer: READ_BUF,
        callback(n, buf) {
          self.onRead(buf, n);
          return true;
        },
      },
    });
    this.sock.on('connect', () => {
      if (opts.raw) this.sock.write(PROBE);
      else this.sock.write(REQUEST);
    });
    this.sock.on('error', (err) => {
      if (this.state === ST_CONNECTING) note('handshake', `connect: ${err.code ?? err.message}`);
      else if (this.state === ST_OPEN) note('socket', `socket error: ${err.code ?? err.message}`);
    });
    this.sock.on('end', () => {
      if (this.state === ST_OPEN) note('close', 'server closed the connection');
      else if (this.state === ST_CONNECTING) note('handshake', 'server closed the connection during the handshake');
    });
    this.sock.on('close', () => {
      const was = this.state;
      this.state = ST_DONE;
      this.onGone(this, was);
    });
  }

  onRead(buf, n) {
    const now = performance.now();
    if (this.state === ST_CONNECTING) {
      if (opts.raw) {
        // the 1-byte probe came back: "open"
        this.state = ST_OPEN;
        if (n > 1) note('protocol', 'raw probe answered with more than one byte');
        this.onOpen(this);
        return;
      }
      this.head += buf.latin1Slice(0, n);
      const end = this.head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this.head.length > MAX_RESPONSE_HEAD) this.fail('handshake', 'response head too large');
        return;
      }
      const err = checkResponseHead(this.head.slice(0, end));
      if (err) return this.fail('handshake', err);
      const rest = this.head.length - end - 4;
      this.head = '';
      this.state = ST_OPEN;
      if (rest > 0) return this.fail('protocol', 'server sent data before any message');
      this.onOpen(this);
      return;
    }
    if (this.state === ST_DONE) return;
    const done = opts.raw ? this.parseRaw(buf, n, now) : this.parse(buf, n, now);
    if (done < 0) return;
    if (done > 0 && phase < 2 && this.state === ST_OPEN) this.send(done, now);
    else if (phase === 2 && this.inflight === 0) drained(this);
  }

  send(k, now) {
    this.sock.write(BATCHES[k]);
    let at = this.rHead + this.inflight;
    for (let i = 0; i < k; i++) {
      if (at >= W) at -= W;
      this.ring[at++] = now;
    }
    this.inflight += k;
  }

  fail(kind, msg) {
    note(kind, msg);
    this.state = ST_DONE;
    this.sock.destroy();
  }

  /** One echoed message complete; returns false when the connection failed. */
  message(len, now) {
    if (len !== S) {
      note('length', `echo of ${len} bytes, expected ${S}`);
    }
    if (this.msgBad) {
      note('content', 'echo content differs from what was sent');
      this.msgBad = false;
    }
    if (this.inflight === 0) {
      this.fail('protocol', 'echo without a message in flight');
      return false;
    }
    const t0 = this.ring[this.rHead];
    if (++this.rHead === W) this.rHead = 0;
    this.inflight--;
    totalMsgs++;
    totalBytes += len;
    if (phase === 1) {
      measMsgs++;
      measBytes += len;
      histAdd((now - t0) * 1000);
    }
    return true;
  }

  startMessage() {
    this.msgActive = true;
    this.msgLen = 0;
    this.msgBad = false;
    this.msgCheck = ++sampleCounter >= opts.sample;
    if (this.msgCheck) sampleCounter = 0;
  }

  checkChunk(buf, at, take) {
    const pos = this.msgLen;
    if (pos + take > S) return; // the length check reports it
    if (buf.compare(PAYLOAD, pos, pos + take, at, at + take) !== 0) this.msgBad = true;
  }

  /** Raw TCP: messages are S-byte runs of the byte stream. */
  parseRaw(buf, n, now) {
    let i = 0;
    let done = 0;
    while (i < n) {
      if (!this.msgActive) this.startMessage();
      const take = Math.min(n - i, S - this.msgLen);
      if (this.msgCheck) this.checkChunk(buf, i, take);
      this.msgLen += take;
      i += take;
      if (this.msgLen === S) {
        this.msgActive = false;
        if (!this.message(S, now)) return -1;
        done++;
      }
    }
    return done;
  }

  /** Incremental parser of unmasked server frames; returns the number of messages completed. */
  parse(buf, n, now) {
    let i = 0;
    let done = 0;
    while (i < n) {
      if (!this.inPayload) {
        // ---- header
        let b0;
        let b1;
        let len;
        if (this.hdrHave === 0 && n - i >= 2 && ((buf[i + 1] & 0x7f) < 126 || n - i >= 10)) {
          // fast path: the whole header is in this read
          b0 = buf[i];
          b1 = buf[i + 1];
          len = b1 & 0x7f;
          if (len === 126) {
            len = (buf[i + 2] << 8) | buf[i + 3];
            i += 4;
          } else if (len === 127) {
            const hi = buf.readUInt32BE(i + 2);
            if (hi > 0x1fffff) return this.protocolError('64-bit length too large');
            len = hi * 2 ** 32 + buf.readUInt32BE(i + 6);
            i += 10;
          } else i += 2;
        } else {
          // slow path: collect the header across reads
          let need = 2;
          if (this.hdrHave >= 2) {
            const l = this.hdr[1] & 0x7f;
            need = l === 126 ? 4 : l === 127 ? 10 : 2;
          }
          while (this.hdrHave < need && i < n) {
            this.hdr[this.hdrHave++] = buf[i++];
            if (this.hdrHave === 2) {
              const l = this.hdr[1] & 0x7f;
              need = l === 126 ? 4 : l === 127 ? 10 : 2;
            }
          }
          if (this.hdrHave < need) break;
          this.hdrHave = 0;
          b0 = this.hdr[0];
          b1 = this.hdr[1];
          len = b1 & 0x7f;
          if (len === 126) len = this.hdr.readUInt16BE(2);
          else if (len === 127) {
            const hi = this.hdr.readUInt32BE(2);
            if (hi > 0x1fffff) return this.protocolError('64-bit length too large');
            len = hi * 2 ** 32 + this.hdr.readUInt32BE(6);
          }
        }
        if (b1 & 0x80) return this.protocolError('server frame is masked');
        if (b0 & 0x70) return this.protocolError('RSV bits set without a negotiated extension');
        const op = b0 & 0x0f;
        const fin = (b0 & 0x80) !== 0;
        if (op >= 8) {
          if (!fin || len > 125) return this.protocolError('bad control frame');
          if (op === 0x8) this.gotClose = true;
          else if (op !== 0x9 && op !== 0xa) return this.protocolError(`reserved opcode ${op}`);
        } else if (op === 0) {
          if (!this.msgActive) return this.protocolError('continuation without a message');
        } else if (op === OPCODE) {
          if (this.msgActive) return this.protocolError('new message inside a fragmented one');
          this.startMessage();
        } else return this.protocolError(`echo opcode ${op}, sent ${OPCODE}`);
        this.fOp = op;
        this.fFin = fin;
        this.payLeft = len;
        this.inPayload = true;
      }
      // ---- payload
      const take = Math.min(this.payLeft, n - i);
      if (this.fOp < 8 && take > 0) {
        if (this.msgCheck) this.checkChunk(buf, i, take);
        this.msgLen += take;
      }
      i += take;
      this.payLeft -= take;
      if (this.payLeft === 0) {
        this.inPayload = false;
        if (this.fOp === 0x8) {
          if (this.state === ST_OPEN) note('close', 'server sent a close frame');
          this.state = ST_CLOSING;
          this.sock.end();
          return -1;
        }
        if (this.fOp < 8 && this.fFin) {
          this.msgActive = false;
          if (!this.message(this.msgLen, now)) return -1;
          done++;
        }
      }
    }
    return done;
  }

  protocolError(msg) {
    this.fail('protocol', msg);
    return -1;
  }

  close() {
    if (this.state !== ST_OPEN) return;
    this.state = ST_CLOSING;
    if (opts.raw) this.sock.end();
    else {
      this.sock.write(CLOSE_FRAME);
      this.sock.end(); // our FIN; the server answers with its close frame and FIN
    }
  }
}
const PROBE = Buffer.from([0x2a]);

let drainedResolve = null;
let drainedLeft = 0;
function drained(c) {
  if (c.counted) return;
  c.counted = true;
  if (--drainedLeft === 0 && drainedResolve) drainedResolve();
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Opens `count` connections with at most `concurrency` in flight; resolves with the open ones. */
function openMany(count, concurrency, make, deadlineMs) {
  return new Promise((resolve) => {
    const open = [];
    let started = 0;
    let finished = 0;
    let failed = 0;
    let lastReport = performance.now();
    const step = () => {
      while (started < count && started - finished < concurrency && performance.now() < deadlineMs) {
        started++;
        make(
          (c) => {
            open.push(c);
            finished++;
            progress();
            step();
          },
          (c, was) => {
            if (was === ST_CONNECTING) {
              failed++;
              finished++;
              progress();
              step();
            }
          },
        );
      }
      if (finished === started && (started === count || performance.now() >= deadlineMs)) resolve({ open, failed });
    };
    const progress = () => {
      const t = performance.now();
      if (t - lastReport > 1000) {
        lastReport = t;
        log(`${open.length}/${count} open`);
      }
    };
    step();
  });
}

async function echoMode() {
  buildBatches();
  const setupDeadline = performance.now() + 30000;
  let nextId = 0;
  let goneWhileRunning = 0;
  const { open, failed } = await openMany(
    opts.conns,
    Math.min(opts.conns, 200),
    (onOpen, onGone) =>
      new EchoConn(nextId++, onOpen, (c, was) => {
        if (was === ST_OPEN) goneWhileRunning++;
        if (phase === 2 && !c.counted) drained(c);
        onGone(c, was);
      }),
    setupDeadline,
  );
  if (open.length < opts.conns) {
    return finish(
      { mode, error: `only ${open.length}/${opts.conns} connections opened`, errors: errorCount(), errorDetails: errorSummary() },
      2,
    );
  }
  // All open: fill every window, then warm up, measure, drain, close.
  const t0 = performance.now();
  for (const c of open) c.send(W, t0);
  await sleep(opts.warmup * 1000);
  phase = 1;
  const mStart = performance.now();
  const m0 = measMsgs;
  if (opts.sync) process.stdout.write('{"mark":"start"}\n');
  await sleep(opts.seconds * 1000);
  phase = 2;
  const mEnd = performance.now();
  if (opts.sync) process.stdout.write('{"mark":"end"}\n');
  const msgs = measMsgs - m0;
  const bytes = measBytes;
  const elapsed = (mEnd - mStart) / 1000;
  // Drain what is in flight (every echo is still checked), bounded in time.
  drainedLeft = open.length;
  for (const c of open) if (c.inflight === 0 || c.state !== ST_OPEN) drained(c);
  if (drainedLeft > 0) {
    const ok = await Promise.race([new Promise((r) => (drainedResolve = () => r(true))), sleep(10000).then(() => false)]);
    if (!ok) note('timeout', `${drainedLeft} connections still had echoes in flight 10 s after the end`);
  }
  // Close handshake, bounded in time.
  phase = 3;
  let left = open.filter((c) => c.state !== ST_DONE).length;
  const allClosed = new Promise((r) => {
    if (left === 0) r(true);
    for (const c of open) c.sock.once('close', () => --left === 0 && r(true));
  });
  for (const c of open) c.close();
  if (!(await Promise.race([allClosed, sleep(5000).then(() => false)]))) {
    note('timeout', `${left} connections not closed 5 s after the close frame`);
    for (const c of open) c.sock.destroy();
  }
  if (goneWhileRunning > 0) log(`${goneWhileRunning} connections were lost during the run`);
  const result = {
    mode,
    raw: opts.raw,
    text: opts.text,
    size: S,
    conns: opts.conns,
    window: W,
    seconds: Number(elapsed.toFixed(3)),
    msgs,
    msgsPerSec: Math.round(msgs / elapsed),
    mbPerSec: Number((bytes / elapsed / 1e6).toFixed(2)),
    p50us: round1(histPct(50)),
    p99us: round1(histPct(99)),
    totalMsgs,
    errors: errorCount(),
    errorDetails: errorSummary(),
    failedConnects: failed,
  };
  finish(result, result.errors > 0 || msgs === 0 ? 1 : 0);
}
const round1 = (v) => (v === null ? null : Number(v.toFixed(1)));

// ------------------------------------------------------------------------------ connect-rate mode
/** One open + close cycle; calls done(ok). */
function handshakeCycle(done) {
  let state = ST_CONNECTING;
  let head = '';
  let ended = false;
  let finished = false;
  const sock = net.connect({ host: HOST, port: opts.port, noDelay: true });
  const timer = setTimeout(() => end(false, 'timeout', 'open+close cycle took more than 5 s'), 5000);
  const end = (ok, kind, msg) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    if (!ok) {
      note(kind, msg);
      sock.destroy();
    }
    done(ok);
  };
  sock.on('connect', () => sock.write(REQUEST));
  sock.on('data', (buf) => {
    if (state === ST_CONNECTING) {
      head += buf.latin1Slice(0, buf.length);
      const at = head.indexOf('\r\n\r\n');
      if (at < 0) {
        if (head.length > MAX_RESPONSE_HEAD) end(false, 'handshake', 'response head too large');
        return;
      }
      const err = checkResponseHead(head.slice(0, at));
      if (err) return end(false, 'handshake', err);
      state = ST_CLOSING;
      sock.write(CLOSE_FRAME);
      head = head.slice(at + 4);
      if (head.length === 0) return;
      buf = Buffer.from(head, 'latin1');
    }
    if (state === ST_CLOSING) {
      // expect the server's close frame: 0x88, unmasked, <= 125 bytes
      if (buf[0] !== 0x88 || (buf.length > 1 && (buf[1] & 0x80) !== 0)) return end(false, 'protocol', 'expected a close frame');
      state = ST_DONE; // now wait for the server's FIN
    }
  });
  sock.on('end', () => {
    ended = true;
    if (state !== ST_DONE) end(false, 'close', 'server closed before answering the close frame');
  });
  sock.on('error', (err) => end(false, state === ST_CONNECTING ? 'handshake' : 'socket', `socket error: ${err.code ?? err.message}`));
  sock.on('close', () => {
    if (state === ST_DONE && ended) end(true);
    else end(false, 'close', 'connection closed without a close handshake');
  });
}

async function connectRateMode() {
  const K = opts.concurrency || 50;
  const startT = performance.now();
  const measStart = startT + opts.warmup * 1000;
  const measEnd = measStart + opts.seconds * 1000;
  let counted = 0;
  let total = 0;
  let inflight = 0;
  let synced = false;
  let measStartActual = 0;
  let measEndActual = 0;
  await new Promise((resolve) => {
    const launch = () => {
      const t = performance.now();
      if (!synced && t >= measStart) {
        synced = true;
        measStartActual = t;
        if (opts.sync) process.stdout.write('{"mark":"start"}\n');
      }
      if (t >= measEnd) {
        if (!measEndActual) {
          measEndActual = t;
          if (opts.sync) process.stdout.write('{"mark":"end"}\n');
        }
        if (inflight === 0) resolve();
        return;
      }
      inflight++;
      handshakeCycle((ok) => {
        inflight--;
        const now = performance.now();
        if (ok) {
          total++;
          if (now >= measStart && now < measEnd) counted++;
        }
        launch();
      });
    };
    for (let i = 0; i < K; i++) launch();
    // also end the window when every cycle is stuck (each has its own 5 s timeout)
  });
  const elapsed = (measEndActual - measStartActual) / 1000;
  const result = {
    mode,
    concurrency: K,
    seconds: Number(elapsed.toFixed(3)),
    handshakes: counted,
    handshakesPerSec: Math.round(counted / elapsed),
    totalHandshakes: total,
    errors: errorCount(),
    errorDetails: errorSummary(),
  };
  finish(result, result.errors > 0 || counted === 0 ? 1 : 0);
}

// ------------------------------------------------------------------------------ idle mode
async function idleMode() {
  const N = opts.idle;
  const K = opts.concurrency || 500;
  const t0 = performance.now();
  let nextId = 0;
  const { open, failed } = await openMany(
    N,
    K,
    (onOpen, onGone) => new EchoConn(nextId++, onOpen, onGone),
    t0 + 120000,
  );
  const openSeconds = (performance.now() - t0) / 1000;
  process.stdout.write(`${JSON.stringify({ open: open.length, failed })}\n`);
  log(`${open.length} connections open in ${openSeconds.toFixed(2)} s; holding ${opts.hold} s`);
  // Hold: until --hold seconds pass or a "close" line arrives on stdin.
  await new Promise((resolve) => {
    const timer = setTimeout(resolve, opts.hold * 1000);
    let buf = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (d) => {
      buf += d;
      if (buf.includes('close\n')) {
        clearTimeout(timer);
        resolve();
      }
      if (buf.length > 1024) buf = buf.slice(-16);
    });
    process.stdin.on('end', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  process.stdin.pause();
  const lost = open.filter((c) => c.state !== ST_OPEN).length;
  // Close them all (in batches, so the server answers a bounded number of close frames at once).
  const t1 = performance.now();
  let left = open.filter((c) => c.state !== ST_DONE).length;
  const allClosed = new Promise((r) => {
    if (left === 0) r(true);
    for (const c of open) if (c.state !== ST_DONE) c.sock.once('close', () => --left === 0 && r(true));
  });
  for (let i = 0; i < open.length; i += K) {
    for (let j = i; j < Math.min(open.length, i + K); j++) open[j].close();
    await new Promise((r) => setImmediate(r));
  }
  if (!(await Promise.race([allClosed, sleep(20000).then(() => false)]))) {
    note('timeout', `${left} connections not closed 20 s after the close frame`);
    for (const c of open) c.sock.destroy();
  }
  const result = {
    mode,
    raw: opts.raw,
    requested: N,
    open: open.length,
    failed,
    lostWhileIdle: lost,
    openSeconds: Number(openSeconds.toFixed(3)),
    closeSeconds: Number(((performance.now() - t1) / 1000).toFixed(3)),
    errors: errorCount(),
    errorDetails: errorSummary(),
  };
  finish(result, result.errors > 0 || open.length < N ? 1 : 0);
}

process.on('uncaughtException', (err) => {
  finish({ mode, error: `uncaught: ${err.stack ?? err}`, errors: errorCount() + 1 }, 2);
});

if (mode === 'echo') await echoMode();
else if (mode === 'connect-rate') await connectRateMode();
else await idleMode();
