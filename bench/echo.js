// The echo suite of `npm run bench`: real servers in child processes, driven over loopback by
// bench/loadgen.js, side by side with ws (and a raw node:net echo as the physical reference).
//   node bench/echo.js            (or: node bench/run.js echo)
//   env BENCH_SECONDS=3           measured seconds per row (warm-up comes on top)
//       BENCH_ECHO_SERVERS=wspp,ws,ws-js,net   which servers to run (default: all)
//       BENCH_ECHO_IDLE=10000     connections for the memory measurement (0 = skip)
//       BENCH_ECHO_PARTS=echo,handshakes,memory   which parts to run (default: all), e.g.
//                                 BENCH_ECHO_PARTS=handshakes to run the handshakes row alone
//       BENCH_ECHO_WSPP=script.js a stand-in for `wspp echo` (development only)
//       BENCH_NO_CC=1             do not build bench/hsload.c: handshakes with the JS generator
// With taskset and two or more cores, every server runs pinned to core 1 and the load
// generator to core 0, so a server's CPU time is its own. Server CPU comes from the server
// itself (a "stats" line on its stdin, process.cpuUsage()), read at the start and the end of the
// measured window; /proc/<pid>/stat is the fallback for a server that does not answer.
// Handshakes per second: a Node client costs more CPU per open+close cycle than the server, so
// that row is driven by bench/hsload.c (C, epoll), compiled on the fly by bench/hsload.js into
// node_modules/.cache/wspp-bench/; without a C compiler it falls back to bench/loadgen.js
// --connect-rate, which then measures the client more than the server (the table says so).
// Large messages (64 KiB and up) are kernel-bound and swing ±15 % from run to run: their wspp and
// ws runs are repeated in ABBA order and the median is shown, the rounds in a note.
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { buildHsload } from './hsload.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('..', import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const progress = (s) => process.stderr.write(`\r\x1b[K  echo: ${s}`);

// ------------------------------------------------------------------------------ machine
function canPin() {
  if (availableParallelism() < 2) return 'fewer than 2 cores';
  try {
    execFileSync('which', ['taskset'], { stdio: 'ignore' });
    execFileSync('taskset', ['-c', '1', 'true'], { stdio: 'ignore' });
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
    return null;
  } catch {
    return 'taskset not available';
  }
}

let CLK_TCK = 100;
try {
  CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // 100 is the Linux default
}

/** Hard limit of open files (Node raises its soft limit to it at startup). */
function fdLimit() {
  try {
    const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m) return m[2] === 'unlimited' ? Infinity : Number(m[2]);
  } catch {
    // not Linux
  }
  return 1024;
}

// ------------------------------------------------------------------------------ servers
const SERVERS = {
  wspp: {
    label: 'wspp',
    argv: process.env.BENCH_ECHO_WSPP
      ? [process.env.BENCH_ECHO_WSPP, '--port', '0'] // a stand-in while developing
      : ['dist/cli/main.js', 'echo', '--port', '0', '--host', '127.0.0.1'],
    env: {},
  },
  ws: { label: 'ws', argv: [`${here}servers/ws-echo.js`, '--port', '0'], env: {} },
  'ws-js': { label: 'ws (no bufferutil)', argv: [`${here}servers/ws-echo.js`, '--port', '0'], env: { WS_NO_BUFFER_UTIL: '1' } },
  net: { label: 'raw node:net', argv: [`${here}servers/net-echo.js`, '--port', '0'], env: {}, raw: true },
};

/** [cmd, args] running `exec argv` (default exec: this Node), pinned to `core` with taskset. */
function command(argv, core, pin, exec = process.execPath) {
  const full = [exec, ...argv];
  return pin ? ['taskset', ['-c', String(core), ...full]] : [full[0], full.slice(1)];
}

class Server {
  constructor(name, pin) {
    this.name = name;
    this.def = SERVERS[name];
    this.pin = pin;
    this.lines = [];
    this.waiters = [];
    this.stderr = '';
  }

  /** Starts the server; resolves when it printed its "listening on" line, rejects otherwise. */
  start() {
    const [cmd, args] = command(this.def.argv, 1, this.pin);
    const child = spawn(cmd, args, {
      cwd: root,
      env: { ...process.env, ...this.def.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exited = new Promise((r) => child.once('exit', (code, sig) => r({ code, sig })));
    child.stdin.on('error', () => {});
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d) => {
      this.stderr = (this.stderr + d).slice(-4000);
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      const w = this.waiters.shift();
      if (w) w(line);
      else this.lines.push(line);
    });
    return new Promise((resolve, reject) => {
      let done = false;
      const fail = (why) => {
        if (done) return;
        done = true;
        this.stop();
        const lines = this.stderr.trim().split('\n').filter(Boolean);
        const err = lines.find((l) => /error/i.test(l)) ?? lines.pop();
        reject(new Error(err ? `${why}: ${err.slice(0, 160)}` : why));
      };
      const timer = setTimeout(() => fail('no "listening on" line within 10 s'), 10000);
      child.once('error', (e) => fail(e.message));
      this.exited.then(({ code, sig }) => fail(`exited (${sig ?? code}) before listening`));
      this.nextLine(10000).then((line) => {
        clearTimeout(timer);
        const m = line === null ? null : /^listening on ws:\/\/127\.0\.0\.1:(\d+)\/$/.exec(line.trim());
        if (!m) return fail(`unexpected first line ${JSON.stringify(line)}`);
        done = true;
        this.port = Number(m[1]);
        this.pid = child.pid;
        resolve(this);
      });
    });
  }

  nextLine(ms) {
    if (this.lines.length) return Promise.resolve(this.lines.shift());
    return new Promise((resolve) => {
      const w = (line) => {
        clearTimeout(timer);
        resolve(line);
      };
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(null);
      }, ms);
      this.waiters.push(w);
    });
  }

  /** {cpuMs, rssBytes, source}: from the server's stats line, else from /proc. */
  async stats() {
    if (!this.noStatsLine) {
      this.lines.length = 0;
      this.child.stdin.write('stats\n');
      const line = await this.nextLine(this.statsAnswered ? 3000 : 1000);
      try {
        const s = JSON.parse(line);
        if (typeof s.cpuUserMs === 'number' && typeof s.cpuSystemMs === 'number') {
          this.statsAnswered = true;
          return { cpuMs: s.cpuUserMs + s.cpuSystemMs, rssBytes: s.rssBytes, source: 'stats' };
        }
      } catch {
        // fall through
      }
      if (!this.statsAnswered) this.noStatsLine = true;
    }
    return this.procStats();
  }

  procStats() {
    try {
      const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
      const rss = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
      return { cpuMs: (ticks * 1000) / CLK_TCK, rssBytes: rss ? Number(rss[1]) * 1024 : NaN, source: 'proc' };
    } catch {
      return { cpuMs: NaN, rssBytes: NaN, source: 'none' };
    }
  }

  async stop() {
    if (!this.child || this.stopped) return;
    this.stopped = true;
    this.child.stdin.end();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    const gone = await Promise.race([this.exited, sleep(3000).then(() => null)]);
    if (!gone) {
      this.child.kill('SIGKILL');
      await Promise.race([this.exited, sleep(2000)]);
    }
  }
}

/** Busy jiffies of the whole machine (all cores), from /proc/stat. */
function machineTicks() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    return f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
  } catch {
    return NaN;
  }
}

function procTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return NaN;
  }
}

// ------------------------------------------------------------------------------ load generator
/**
 * Runs bench/loadgen.js (pinned to core 0) with --sync, reading the server's stats at the start
 * and end marks of the measured window. Resolves {result, cpuMs, seconds} or {error}.
 * opts.exec: run that executable instead (e.g. bench/hsload.c built), with `--port P --sync`
 * and args; it must print the same {"mark":...} lines and one JSON result line.
 */
function loadgen(server, args, { pin, limitS, onLine, exec }) {
  const [cmd, argv] = exec
    ? command(['--port', String(server.port), '--sync', ...args], 0, pin, exec)
    : command([`${here}loadgen.js`, '--port', String(server.port), '--quiet', '--sync', ...args], 0, pin);
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    let last = null;
    let s0 = null;
    let s1 = null;
    const pending = [];
    child.stdin.on('error', () => {});
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d) => {
      stderr = (stderr + d).slice(-4000);
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      let msg;
      try {
        msg = JSON.parse(line);
      } catch {
        return;
      }
      if (msg.mark === 'start' || msg.mark === 'end') {
        const snap = { t: performance.now(), machine: machineTicks(), gen: procTicks(child.pid) };
        pending.push(server.stats().then((s) => (msg.mark === 'start' ? (s0 = { ...s, ...snap }) : (s1 = { ...s, ...snap }))));
      }
      else if (onLine && onLine(msg, child)) {
        // handled by the caller
      } else last = msg;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), limitS * 1000);
    child.on('error', (e) => resolve({ error: e.message }));
    child.on('close', async (code, sig) => {
      clearTimeout(timer);
      await Promise.all(pending);
      if (!last || last.error) {
        const why = last?.error ?? (sig ? `killed (${sig})` : `exit ${code}`);
        return resolve({ error: `${why}${stderr ? `: ${stderr.trim().split('\n').pop()}` : ''}`, result: last });
      }
      const cpuMs = s0 && s1 ? s1.cpuMs - s0.cpuMs : NaN;
      // load from anything else on the machine during the window, in cores
      let otherLoad = NaN;
      let genBusy = NaN;
      if (s0 && s1) {
        const ms = s1.t - s0.t;
        const machineMs = ((s1.machine - s0.machine) * 1000) / CLK_TCK;
        const genMs = ((s1.gen - s0.gen) * 1000) / CLK_TCK;
        otherLoad = Math.max(0, (machineMs - genMs - cpuMs) / ms);
        genBusy = genMs / ms;
      }
      resolve({ result: last, cpuMs, otherLoad, genBusy, source: s0?.source, code });
    });
  });
}

// ------------------------------------------------------------------------------ output
function table(title, head, rows, notes = []) {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  console.log(`\n${title}`);
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
  for (const n of notes) console.log(`  ${n}`);
}
const fmtN = (n) => (!Number.isFinite(n) ? 'n/a' : n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(0)}k` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0));
const fmtMB = (n) => (!Number.isFinite(n) ? 'n/a' : n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const fmtUs = (n) => (!Number.isFinite(n) ? 'n/a' : n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const fmtMs = (us) => (!Number.isFinite(us) ? 'n/a' : us >= 100000 ? `${(us / 1000).toFixed(0)}` : us >= 10000 ? `${(us / 1000).toFixed(1)}` : `${(us / 1000).toFixed(2)}`);
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : 'n/a');
const mark = (m, r) => (r === 'n/a' ? r : m + r);
const sizeName = (s) => (s >= 1024 * 1024 ? `${s / 1024 / 1024} MiB` : s >= 1024 ? `${s / 1024} KiB` : `${s} B`);

// ------------------------------------------------------------------------------ the suite
// Window per row: enough messages in flight that the server always has work queued (a single
// connection needs a deeper window than a hundred), bounded so 100 connections of 1 MiB stay
// at 100 MiB in flight.
/** Rows with messages this large run wspp and ws in ABBA rounds (see the echo loop). */
const LARGE = 64 * 1024;
const ABBA = ['wspp', 'ws', 'ws', 'wspp', 'wspp', 'ws'];
const ROWS = [];
for (const size of [16, 1024, 64 * 1024, 1024 * 1024]) {
  for (const conns of [1, 100]) {
    const window = size <= 1024 ? 32 : size <= 64 * 1024 ? (conns === 1 ? 16 : 4) : conns === 1 ? 4 : 1;
    ROWS.push({ size, conns, window });
  }
}

// Handshakes: rounds per server (ABBA order), concurrent open+close cycles per round.
const HS_ROUNDS = 3;
const HS_CONCURRENCY = 100;
const PARTS = ['echo', 'handshakes', 'memory'];

/** The parts of the suite to run, from BENCH_ECHO_PARTS (default: all). */
function wantedParts() {
  const raw = process.env.BENCH_ECHO_PARTS;
  if (raw === undefined || raw.trim() === '') return new Set(PARTS);
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = list.filter((p) => !PARTS.includes(p));
  if (bad.length) process.stderr.write(`  echo: ignoring unknown BENCH_ECHO_PARTS ${bad.join(', ')} (parts: ${PARTS.join(', ')})\n`);
  return new Set(list.filter((p) => PARTS.includes(p)));
}

const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * One server's handshake rounds -> the medians of handshakes/s and of server CPU per handshake,
 * with busy/otherLoad of the median round (the round with the median CPU per handshake).
 */
function hsSummary(rounds) {
  const ok = rounds.filter((r) => !r.error && r.handshakes > 0);
  const errors = rounds.reduce((a, r) => a + (r.errors ?? 0), 0);
  const errorDetails = rounds.flatMap((r, i) => (r.error ? [`round ${i + 1}: ${r.error}`] : r.errors ? r.errorDetails.map((d) => `round ${i + 1}: ${d}`) : []));
  if (!ok.length) return { error: errorDetails.join('; ') || 'no handshakes counted', rounds };
  const withCpu = ok.filter((r) => Number.isFinite(r.cpuUs));
  const byMid = withCpu.length ? [...withCpu].sort((a, b) => a.cpuUs - b.cpuUs) : [...ok].sort((a, b) => a.perSec - b.perSec);
  const mid = byMid[(byMid.length - 1) >> 1];
  return {
    perSec: median(ok.map((r) => r.perSec)),
    cpuUs: median(withCpu.map((r) => r.cpuUs)),
    busy: mid.busy,
    otherLoad: mid.otherLoad,
    genBusy: mid.genBusy,
    resetAfterClose: ok.reduce((a, r) => a + (r.resetAfterClose ?? 0), 0),
    totalHandshakes: ok.reduce((a, r) => a + (r.totalHandshakes ?? 0), 0),
    rounds,
    errors: errors + rounds.filter((r) => r.error).length,
    errorDetails,
  };
}

export async function echoSuite() {
  const envSeconds = Number(process.env.BENCH_SECONDS ?? '3');
  const seconds = envSeconds > 0 && envSeconds <= 600 ? envSeconds : 3;
  const warmup = Number(Math.min(1, Math.max(0.3, seconds / 3)).toFixed(2));
  const wanted = (process.env.BENCH_ECHO_SERVERS ?? 'wspp,ws,ws-js,net').split(',').map((s) => s.trim()).filter((s) => SERVERS[s]);
  const idleWanted = Number(process.env.BENCH_ECHO_IDLE ?? '10000');
  const parts = wantedParts();
  const noPin = canPin();
  const pin = noPin === null;
  const t0 = Date.now();
  const unavailable = new Map(); // name -> reason
  const started = [];
  const cleanup = async () => Promise.all(started.map((s) => s.stop()));
  const onSignal = () => {
    for (const s of started) s.child?.kill('SIGKILL');
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    // ---- echo rows: every server runs at once (idle while another is measured); the rows
    // interleave the servers so machine noise hits them alike.
    const servers = new Map();
    // without the echo rows only the handshake servers are needed
    const longRunning = parts.has('echo') ? wanted : parts.has('handshakes') ? wanted.filter((n) => n === 'wspp' || n === 'ws') : [];
    for (const name of longRunning) {
      progress(`starting ${SERVERS[name].label}`);
      const s = new Server(name, pin);
      started.push(s);
      try {
        servers.set(name, await s.start());
      } catch (e) {
        unavailable.set(name, e.message);
      }
    }
    const echo = new Map(); // `${name}/${size}/${conns}` -> {msgsPerSec, mbPerSec, p50us, p99us, cpuUsPerMsg, busy, error, rounds}
    // Large messages are kernel-bound and swing ±15 % from run to run: their wspp and ws
    // runs are repeated in ABBA order (wspp, ws, ws, wspp, wspp, ws) and the median kept.
    const scheduleFor = (row) => {
      const names = [...servers.keys()];
      if (row.size < LARGE || !servers.has('wspp') || !servers.has('ws')) return names;
      const others = names.filter((n) => n !== 'wspp' && n !== 'ws');
      return [...ABBA, ...others];
    };
    const rowsToRun = parts.has('echo') ? ROWS : [];
    const total = rowsToRun.reduce((n, row) => n + scheduleFor(row).length, 0);
    let done = 0;
    for (const row of rowsToRun) {
      const runs = new Map(); // name -> results of its rounds
      for (const name of scheduleFor(row)) {
        const server = servers.get(name);
        done++;
        progress(`[${done}/${total}] ${SERVERS[name].label}: ${sizeName(row.size)} x ${row.conns} conns, window ${row.window}   `);
        const args = ['--conns', row.conns, '--size', row.size, '--window', row.window, '--seconds', seconds, '--warmup', warmup].map(String);
        if (SERVERS[name].raw) args.push('--raw');
        const r = await loadgen(server, args, { pin, limitS: warmup + seconds + 40 });
        const list = runs.get(name) ?? [];
        runs.set(name, list);
        if (r.error) {
          list.push({ error: r.error });
          continue;
        }
        const res = r.result;
        list.push({
          msgsPerSec: res.msgsPerSec,
          mbPerSec: res.mbPerSec,
          p50us: res.p50us ?? NaN,
          p99us: res.p99us ?? NaN,
          cpuUsPerMsg: res.msgs > 0 ? (r.cpuMs * 1000) / res.msgs : NaN,
          busy: r.cpuMs / (res.seconds * 1000),
          otherLoad: r.otherLoad,
          genBusy: r.genBusy,
          errors: res.errors,
          errorDetails: res.errorDetails,
        });
      }
      for (const [name, list] of runs) {
        const ok = list.filter((x) => !x.error).sort((a, b) => a.msgsPerSec - b.msgsPerSec);
        const k = `${name}/${row.size}/${row.conns}`;
        if (ok.length === 0) echo.set(k, list[0]);
        else echo.set(k, { ...ok[(ok.length - 1) >> 1], rounds: list.length > 1 ? list : undefined });
      }
    }

    // ---- handshakes per second (WebSocket servers only): HS_ROUNDS rounds per server in ABBA
    // order (wspp, ws, ws, wspp, wspp, ws) so drift on the machine (TIME_WAIT sockets piling up
    // in the kernel, other load) hits both alike; per server the median of its rounds.
    const hs = new Map(); // name -> hsSummary(rounds)
    let hsGen = null; // {path} (C generator) or {error} (why the JS generator is used)
    const hsServers = [...servers].filter(([n]) => n === 'wspp' || n === 'ws');
    if (parts.has('handshakes') && hsServers.length) {
      progress('handshakes/s: building bench/hsload.c                              ');
      hsGen = await buildHsload();
      const genName = hsGen.path ? 'bench/hsload.c' : 'bench/loadgen.js';
      const hsWarmup = Math.min(0.5, warmup);
      const order = [];
      for (let r = 0; r < HS_ROUNDS; r++) order.push(...(r % 2 === 0 ? hsServers : [...hsServers].reverse()));
      const rounds = new Map(hsServers.map(([n]) => [n, []]));
      for (let i = 0; i < order.length; i++) {
        const [name, server] = order[i];
        progress(`[${i + 1}/${order.length}] handshakes/s: ${SERVERS[name].label} (${genName})                    `);
        const args = ['--seconds', String(seconds), '--warmup', String(hsWarmup), '--concurrency', String(HS_CONCURRENCY)];
        const r = hsGen.path
          ? await loadgen(server, [...args, '--max-time', String(Math.ceil(hsWarmup + seconds + 30))], { pin, limitS: seconds + 40, exec: hsGen.path })
          : await loadgen(server, ['--connect-rate', ...args], { pin, limitS: seconds + 40 });
        const res = r.result;
        rounds.get(name).push(
          r.error
            ? { error: r.error }
            : {
                handshakes: res.handshakes,
                perSec: res.handshakesPerSec,
                totalHandshakes: res.totalHandshakes,
                cpuUs: res.handshakes > 0 ? (r.cpuMs * 1000) / res.handshakes : NaN,
                busy: r.cpuMs / (res.seconds * 1000),
                otherLoad: r.otherLoad,
                genBusy: r.genBusy,
                resetAfterClose: res.resetAfterClose ?? 0,
                errors: res.errors,
                errorDetails: res.errorDetails,
              },
        );
      }
      for (const [name, rs] of rounds) hs.set(name, hsSummary(rs));
    }
    await cleanup();
    started.length = 0;

    // ---- memory per idle connection: a fresh server each, warmed with a few connections
    const mem = new Map();
    const limit = fdLimit();
    const idleN = parts.has('memory') ? Math.max(0, Math.min(idleWanted, limit - 200)) : 0;
    if (idleN > 0) {
      for (const name of wanted.filter((n) => n !== 'ws-js')) {
        if (unavailable.has(name)) continue;
        progress(`memory: ${SERVERS[name].label}, ${idleN} idle connections                `);
        const s = new Server(name, pin);
        started.push(s);
        try {
          await s.start();
        } catch (e) {
          mem.set(name, { error: e.message });
          continue;
        }
        const raw = SERVERS[name].raw ? ['--raw'] : [];
        const warm = await loadgen(s, ['--idle', '200', '--hold', '0', ...raw], { pin, limitS: 60 });
        if (warm.error) {
          mem.set(name, { error: `warm-up: ${warm.error}` });
          await s.stop();
          continue;
        }
        await sleep(300);
        const before = await s.stats();
        let after = null;
        let opened = 0;
        const r = await loadgen(s, ['--idle', String(idleN), '--hold', '60', '--concurrency', '500', ...raw], {
          pin,
          limitS: 200,
          onLine(msg, child) {
            if (msg.mode !== undefined || typeof msg.open !== 'number') return false;
            opened = msg.open;
            // let the server settle, read its RSS, then release the connections
            sleep(1000)
              .then(() => s.stats())
              .then((st) => {
                after = st;
                child.stdin.write('close\n');
              });
            return true;
          },
        });
        await s.stop();
        if (r.error || !after) mem.set(name, { error: r.error ?? 'no RSS reading' });
        else
          mem.set(name, {
            n: opened,
            perConnKB: (after.rssBytes - before.rssBytes) / opened / 1024,
            beforeMB: before.rssBytes / 1048576,
            afterMB: after.rssBytes / 1048576,
            openSeconds: r.result.openSeconds,
            errors: r.result.errors,
          });
      }
      started.length = 0;
    }

    process.stderr.write(`\r\x1b[K  echo: done in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
    report({ parts, seconds, warmup, pin, noPin, servers: wanted, unavailable, echo, hs, hsGen, mem, idleN, idleWanted, limit });
  } finally {
    await cleanup();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

const NOISY = 0.3;

function otherCell(entries) {
  const v = entries.filter((e) => e && !e.error && Number.isFinite(e.otherLoad)).map((e) => e.otherLoad);
  return v.length ? Math.max(...v).toFixed(2) : 'n/a';
}

function report({ parts, seconds, warmup, pin, noPin, servers, unavailable, echo, hs, hsGen, mem, idleN, idleWanted, limit }) {
  const placement = pin ? 'server pinned to core 1, load generator (bench/loadgen.js) to core 0' : `UNPINNED (${noPin}): server and load generator share the cores`;
  const notes = [];
  for (const [n, why] of unavailable) notes.push(`${SERVERS[n].label}: not available (${why})`);
  const cols = servers;
  const label = (n) => SERVERS[n].label;
  const get = (n, row) => echo.get(`${n}/${row.size}/${row.conns}`);
  const cell = (n, row, f) => {
    if (unavailable.has(n)) return 'not available';
    const e = get(n, row);
    if (!e) return 'n/a';
    if (e.error) return 'error';
    return f(e);
  };
  const rowName = (row) => `${sizeName(row.size)} x ${row.conns} (w ${row.window})`;
  const errNotes = [];
  for (const n of cols) {
    for (const row of ROWS) {
      const e = get(n, row);
      if (e?.error) errNotes.push(`${label(n)} ${rowName(row)}: ${e.error}`);
      else if (e?.errors) errNotes.push(`${label(n)} ${rowName(row)}: ${e.errors} errors: ${e.errorDetails.join('; ')}`);
    }
  }
  const ws = (row) => get('ws', row);
  const wspp = (row) => get('wspp', row);
  const okNum = (e, k) => (e && !e.error ? e[k] : NaN);
  const noisy = (row) => (['wspp', 'ws'].some((n) => okNum(get(n, row), 'otherLoad') > NOISY) ? '~' : '');

  /** The rounds behind the medians of the large rows, msgs/s in run order. */
  const roundNotes = () => {
    const lines = [];
    for (const row of ROWS) {
      const each = ['wspp', 'ws']
        .filter((n) => get(n, row)?.rounds)
        .map((n) => `${label(n)} ${get(n, row).rounds.map((r) => (r.error ? 'error' : fmtN(r.msgsPerSec))).join(', ')}`);
      if (each.length) lines.push(`  ${rowName(row)}: ${each.join('; ')}`);
    }
    return lines.length ? [`rows of ${sizeName(LARGE)} and up: wspp and ws ran ${ABBA.length / 2} rounds each in ABBA order, the median shown; the rounds (msgs/s):`, ...lines] : [];
  };

  if (parts.has('echo')) {
    // Throughput
    const lowBusy = [];
    table(
      `Echo throughput, messages/s and MB/s (payload, one direction); ${seconds} s per row after ${warmup} s warm-up; ${placement}`,
      ['message x conns (window)', ...cols.map((n) => `${label(n)} msgs/s`), ...cols.map((n) => `${label(n)} MB/s`), 'wspp/ws'],
      ROWS.map((row) => [
        rowName(row),
        ...cols.map((n) => cell(n, row, (e) => fmtN(e.msgsPerSec))),
        ...cols.map((n) => cell(n, row, (e) => fmtMB(e.mbPerSec))),
        mark(noisy(row), ratio(okNum(wspp(row), 'msgsPerSec'), okNum(ws(row), 'msgsPerSec'))),
      ]),
      [
        ...notes,
        `ratios marked ~ come from runs where other processes used more than ${NOISY} of a core (see "other load" below): noisy`, 'raw node:net: socket.pipe(socket) echo of the same byte counts, no framing (--raw): the floor of per-message cost for',
        '  small messages; for large ones pipe() writes in 64 KiB pieces and can be slower than a WebSocket server',
        ...roundNotes(),
        ...errNotes],
    );
    // CPU per message
    table(
      'Server CPU per message, microseconds (lower is better) [share of its core busy during the window]',
      ['message x conns (window)', ...cols.map((n) => label(n)), 'wspp/ws', 'other load'],
      ROWS.map((row) => [
        rowName(row),
        ...cols.map((n) =>
          cell(n, row, (e) => {
            const busy = Number.isFinite(e.busy) ? Math.round(e.busy * 100) : NaN;
            if (Number.isFinite(busy) && busy < 85)
              lowBusy.push(`${label(n)} ${rowName(row)}${e.genBusy > 0.85 ? ` (generator ${Math.round(e.genBusy * 100)}% busy)` : ''}`);
            return `${fmtUs(e.cpuUsPerMsg)} [${Number.isFinite(busy) ? busy : '?'}%]`;
          }),
        ),
        mark(noisy(row), ratio(okNum(wspp(row), 'cpuUsPerMsg'), okNum(ws(row), 'cpuUsPerMsg'))),
        otherCell(cols.map((n) => get(n, row))),
      ]),
      [
        'other load: the most CPU (in cores) that anything but the server and the load generator used during one of the row\'s runs',
        `  (kernel softirq work for loopback included); above ${NOISY} the machine was busy with other work and the row is noisy: run again.`,
      ].concat(lowBusy.length
        ? [`below 85% busy, the server was not the bottleneck (latency- or generator-bound); compare CPU per message there, not msgs/s: ${lowBusy.join(', ')}`]
        : ['every server was >= 85% busy in every row: the server was the bottleneck']),
    );
    // Latency
    table(
      'Echo latency p50 / p99, milliseconds (send -> whole echo read; includes the queueing of the window)',
      ['message x conns (window)', ...cols.map((n) => label(n)), 'wspp/ws p99'],
      ROWS.map((row) => [
        rowName(row),
        ...cols.map((n) => cell(n, row, (e) => `${fmtMs(e.p50us)} / ${fmtMs(e.p99us)}`)),
        mark(noisy(row), ratio(okNum(wspp(row), 'p99us'), okNum(ws(row), 'p99us'))),
      ]),
    );
  }
  // Memory
  if (parts.has('memory') && idleN > 0) {
    const mcols = servers.filter((n) => n !== 'ws-js');
    const limitNote = idleN < idleWanted ? [`only ${idleN} connections: the open-files limit is ${limit} (raise it with \`ulimit -n 65536\` as root)`] : [];
    const mcell = (n, f) => (unavailable.has(n) ? 'not available' : !mem.get(n) ? 'n/a' : mem.get(n).error ? 'error' : f(mem.get(n)));
    table(
      `Memory per idle connection: server RSS growth with ${idleN} open connections / ${idleN}, KB (fresh server, warmed with 200 connections)`,
      ['', ...mcols.map((n) => label(n)), 'wspp/ws'],
      [
        ['KB per connection', ...mcols.map((n) => mcell(n, (m) => m.perConnKB.toFixed(2))), ratio(mem.get('wspp')?.perConnKB, mem.get('ws')?.perConnKB)],
        ['RSS before -> after, MB', ...mcols.map((n) => mcell(n, (m) => `${m.beforeMB.toFixed(0)} -> ${m.afterMB.toFixed(0)}`)), ''],
        ['seconds to open all', ...mcols.map((n) => mcell(n, (m) => m.openSeconds.toFixed(2))), ''],
      ],
      [...limitNote, ...[...mem].filter(([, m]) => m.error).map(([n, m]) => `${label(n)}: ${m.error}`)],
    );
  }
  // Handshakes
  if (parts.has('handshakes')) {
    const hcols = servers.filter((n) => n === 'wspp' || n === 'ws');
    const hcell = (n, f) => (unavailable.has(n) ? 'not available' : !hs.get(n) ? 'n/a' : hs.get(n).error ? 'error' : f(hs.get(n)));
    const hnum = (n, k) => (hs.get(n) && !hs.get(n).error ? hs.get(n)[k] : NaN);
    const hnoisy = ['wspp', 'ws'].some((n) => hnum(n, 'otherLoad') > NOISY) ? '~' : '';
    const gen = hsGen?.path
      ? 'C generator bench/hsload.c'
      : 'JS generator (client-bound: the ratio understates the server difference; install a C compiler)';
    const hplacement = pin ? 'server pinned to core 1, generator to core 0' : `UNPINNED (${noPin}): server and generator share the cores`;
    const hnotes = parts.has('echo') ? [] : [...notes];
    if (hsGen && !hsGen.path) hnotes.push(`bench/hsload.c not used: ${hsGen.error}`);
    const rounds = hcols
      .filter((n) => hs.get(n)?.rounds)
      .map((n) => {
        const each = hs.get(n).rounds.map((r) => (r.error ? 'error' : `${fmtN(r.perSec)}/${fmtUs(r.cpuUs)}/${Number.isFinite(r.otherLoad) ? r.otherLoad.toFixed(2) : 'n/a'}`));
        return `${label(n)} ${each.join(', ')}`;
      });
    if (rounds.length) hnotes.push(`rounds in order (handshakes/s / server CPU us / other load): ${rounds.join('; ')}`);
    const low = hcols.filter((n) => hnum(n, 'busy') < 0.85);
    if (low.length)
      hnotes.push(
        `below 85% busy, the server was not the bottleneck: ${low.map((n) => `${label(n)}${hnum(n, 'genBusy') > 0.85 ? ` (generator ${Math.round(hnum(n, 'genBusy') * 100)}% busy)` : ''}`).join(', ')}`,
      );
    for (const n of hcols) {
      const h = hs.get(n);
      if (h && !h.error && h.resetAfterClose > 0)
        hnotes.push(`${label(n)}: ${h.resetAfterClose} of ${h.totalHandshakes} cycles ended with ECONNRESET after the server's close frame (counted as done)`);
    }
    hnotes.push(...[...hs].filter(([, h]) => h.error || h.errors).map(([n, h]) => `${label(n)}: ${h.error ?? h.errorDetails.join('; ')}`));
    table(
      `Opening + closing handshakes per second, ${HS_CONCURRENCY} concurrent; median of ${HS_ROUNDS} rounds x ${seconds} s per server (ABBA order); ${gen}; ${hplacement}`,
      ['', ...hcols.map((n) => label(n)), 'wspp/ws'],
      [
        ['handshakes/s', ...hcols.map((n) => hcell(n, (h) => fmtN(h.perSec))), mark(hnoisy, ratio(hnum('wspp', 'perSec'), hnum('ws', 'perSec')))],
        [
          'server CPU per handshake, us [busy]',
          ...hcols.map((n) => hcell(n, (h) => `${fmtUs(h.cpuUs)} [${Number.isFinite(h.busy) ? Math.round(h.busy * 100) : '?'}%]`)),
          mark(hnoisy, ratio(hnum('wspp', 'cpuUs'), hnum('ws', 'cpuUs'))),
        ],
        [
          'server capacity, handshakes/s per core (1e6 / CPU us)',
          ...hcols.map((n) => hcell(n, (h) => fmtN(1e6 / h.cpuUs))),
          mark(hnoisy, ratio(hnum('ws', 'cpuUs'), hnum('wspp', 'cpuUs'))),
        ],
        ['other load (cores)', ...hcols.map((n) => hcell(n, (h) => (Number.isFinite(h.otherLoad) ? h.otherLoad.toFixed(2) : 'n/a'))), ''],
      ],
      hnotes,
    );
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await echoSuite();
