// Compressed echo: wspp (deflate()) vs ws (perMessageDeflate: true), the same parameters on
// both sides (threshold 1024, level 6, memLevel 8, 15-bit windows, context takeover).
// The load comes from ws clients in this process (compressing too), identical for both
// servers; the server runs in its own process, pinned to core 1 when taskset exists, and
// this process (its zlib threads included) to core 0. Single runs swung 0.72x-1.31x: the
// echo rows run in ABBA rounds (wspp, ws, ws, wspp, ...) and show the medians.
//   node bench/deflate.js [seconds]       — or through `npm run bench` (suite "deflate")
//   env BENCH_DEFLATE_ROUNDS=5            rounds per server (each a fresh server process)
import { spawn, execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const root = fileURLToPath(new URL('..', import.meta.url));
const hasTaskset = (() => {
  try {
    execFileSync('which', ['taskset'], { stdio: 'ignore' });
    return availableParallelism() >= 2;
  } catch {
    return false;
  }
})();

/** Pins every thread of this process (the clients, their zlib threads) to `cpus`. */
function pinSelf(cpus) {
  if (hasTaskset) execFileSync('taskset', ['-a', '-p', '-c', cpus, String(process.pid)], { stdio: 'ignore' });
}

const median = (values) => {
  const v = [...values].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};

const SERVERS = {
  wspp: ['dist/cli/main.js', 'echo', '--port', '0', '--deflate'],
  ws: ['bench/servers/ws-echo.js', '--port', '0', '--deflate'],
};

function jsonLike(n) {
  const items = [];
  for (let i = 0; items.join(',').length < n; i++) items.push(`{"id":${i},"user":"user${i % 97}","active":${i % 2 === 0},"score":${(i * 7.3) % 100},"tags":["alpha","beta"]}`);
  return `[${items.join(',')}]`.slice(0, n);
}

async function startServer(name) {
  const args = SERVERS[name];
  const cmd = hasTaskset ? 'taskset' : process.execPath;
  const argv = hasTaskset ? ['-c', '1', process.execPath, ...args] : args;
  const child = spawn(cmd, argv, { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const waiting = [];
  lines.on('line', (line) => waiting.shift()?.(line));
  const next = () => new Promise((resolve) => waiting.push(resolve));
  const first = await next();
  const port = Number(/:(\d+)\//.exec(first)?.[1]);
  if (!port) throw new Error(`${name}: unexpected first line ${first}`);
  return {
    port,
    async stats() {
      const p = next();
      child.stdin.write('stats\n');
      return JSON.parse(await p);
    },
    stop() {
      child.stdin.end();
      child.kill('SIGTERM');
    },
  };
}

function open(port, count) {
  return Promise.all(
    Array.from({ length: count }, () => new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: true, maxPayload: 64 << 20 });
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    })),
  );
}

async function throughput(server, size, conns, window, seconds) {
  const sockets = await open(server.port, conns);
  const payload = jsonLike(size);
  let done = 0;
  let running = true;
  for (const ws of sockets) {
    ws.on('message', (data) => {
      if (data.length !== payload.length) throw new Error('bad echo length');
      done++;
      if (running) ws.send(payload);
    });
  }
  for (const ws of sockets) for (let i = 0; i < window; i++) ws.send(payload);
  await new Promise((r) => setTimeout(r, 500)); // warm-up
  const before = await server.stats();
  const start = done;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const after = await server.stats();
  const msgs = done - start;
  const elapsed = (performance.now() - t0) / 1000;
  running = false;
  for (const ws of sockets) ws.terminate();
  const cpuMs = after.cpuUserMs + after.cpuSystemMs - before.cpuUserMs - before.cpuSystemMs;
  return { msgsPerSec: msgs / elapsed, cpuUsPerMsg: (cpuMs * 1000) / msgs };
}

async function memoryPerConnection(server, count) {
  const before = (await server.stats()).rssBytes;
  const sockets = await open(server.port, count);
  const payload = jsonLike(1024);
  // One compressed message each way, so both zlib contexts exist on every connection.
  await Promise.all(sockets.map((ws) => new Promise((resolve) => {
    ws.once('message', resolve);
    ws.send(payload);
  })));
  // Idle for 2 s: what an idle compressed connection costs.
  await new Promise((r) => setTimeout(r, 2000));
  const after = (await server.stats()).rssBytes;
  for (const ws of sockets) ws.terminate();
  return (after - before) / count;
}

export async function deflateSuite({ seconds = Number(process.env.BENCH_SECONDS ?? 3) } = {}) {
  const rows = [];
  const sizes = [1024, 64 * 1024];
  const rounds = Math.max(1, Number(process.env.BENCH_DEFLATE_ROUNDS ?? 5));
  const runs = { wspp: {}, ws: {} }; // name -> size -> results of its rounds
  const memory = {};
  const total = sizes.length * rounds * 2 + 2;
  let step = 0;
  pinSelf('0');
  try {
    for (const size of sizes) {
      for (let r = 0; r < rounds; r++) {
        for (const name of r % 2 === 0 ? ['wspp', 'ws'] : ['ws', 'wspp']) {
          process.stderr.write(`\r  deflate: ${++step}/${total} (${name}, ${size} B echo, round ${r + 1})          `);
          const server = await startServer(name);
          try {
            (runs[name][size] ??= []).push(await throughput(server, size, 20, size > 4096 ? 2 : 8, seconds));
          } finally {
            server.stop();
          }
        }
      }
    }
    for (const name of ['wspp', 'ws']) {
      process.stderr.write(`\r  deflate: ${++step}/${total} (${name}, memory of 500 compressed connections)          `);
      const server = await startServer(name);
      try {
        memory[name] = await memoryPerConnection(server, 500);
      } finally {
        server.stop();
      }
    }
  } finally {
    pinSelf(`0-${availableParallelism() - 1}`);
  }
  process.stderr.write('\n');
  const results = { wspp: { memory: memory.wspp }, ws: { memory: memory.ws } };
  for (const name of ['wspp', 'ws']) {
    for (const size of sizes) {
      const list = runs[name][size];
      results[name][size] = { msgsPerSec: median(list.map((x) => x.msgsPerSec)), cpuUsPerMsg: median(list.map((x) => x.cpuUsPerMsg)), rounds: list };
    }
  }
  for (const size of sizes) {
    const w = results.wspp[size];
    const s = results.ws[size];
    rows.push([`${size / 1024} KiB JSON echo`, w.msgsPerSec.toFixed(0), s.msgsPerSec.toFixed(0), `${(w.msgsPerSec / s.msgsPerSec).toFixed(2)}x`, w.cpuUsPerMsg.toFixed(1), s.cpuUsPerMsg.toFixed(1), `${(s.cpuUsPerMsg / w.cpuUsPerMsg).toFixed(2)}x`]);
  }
  const head = ['row', 'wspp msg/s', 'ws msg/s', 'wspp/ws', 'wspp us/msg', 'ws us/msg', 'ws/wspp cpu'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  console.log(
    `\npermessage-deflate echo, 20 ws clients compressing, ${hasTaskset ? 'server pinned to core 1, clients to core 0' : 'unpinned'}, median of ${rounds} x ${seconds}s per server (ABBA order)`,
  );
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
  for (const size of sizes) {
    const list = (name) => results[name][size].rounds.map((x) => `${x.msgsPerSec.toFixed(0)}/${x.cpuUsPerMsg.toFixed(0)}`).join(', ');
    console.log(`  ${size / 1024} KiB rounds (msg/s / us per msg): wspp ${list('wspp')}; ws ${list('ws')}`);
  }
  const mw = results.wspp.memory;
  const ms = results.ws.memory;
  console.log(`memory per idle compressed connection (500, one message each way, then 2 s idle): wspp ${(mw / 1024).toFixed(1)} KiB, ws ${(ms / 1024).toFixed(1)} KiB, wspp/ws ${(mw / ms).toFixed(2)}x`);
  return results;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await deflateSuite({ seconds: Number(process.argv[2] ?? process.env.BENCH_SECONDS ?? 3) });
}
