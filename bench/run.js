// `npm run bench`: every benchmark side by side with ws in the same run, as ratios.
// Usage: node bench/run.js [suite...]   (suites: parser, echo, deflate, pool)   env BENCH_SECONDS=1 (echo: 3)
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { echoSuite } from './echo.js';
import { deflateSuite } from './deflate.js';
import { poolSuite } from './pool.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const seconds = Number(process.env.BENCH_SECONDS ?? '1');
const rounds = Number(process.env.BENCH_ROUNDS ?? '2');
const wanted = process.argv.slice(2);

function child(script, args) {
  const out = execFileSync(process.execPath, [`${here}${script}`, ...args], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop());
}

function table(title, head, rows) {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  console.log(`\n${title}`);
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}

const fmt = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0));

function parserSuite() {
  const sizes = [16, 1024, 64 * 1024, 1024 * 1024];
  const impls = ['wspp', 'ws', 'wspp-native', 'ws-native'];
  const best = new Map();
  const total = sizes.length * impls.length * rounds;
  let done = 0;
  // Rounds interleave the contenders so machine noise hits all of them alike; best of rounds.
  for (let r = 0; r < rounds; r++) {
    for (const size of sizes) {
      for (const impl of impls) {
        const res = child('parser.js', [impl, String(size), String(seconds)]);
        const k = `${impl}/${size}`;
        if (!best.has(k) || best.get(k).framesPerSec < res.framesPerSec) best.set(k, res);
        done++;
        process.stderr.write(`\r  parser: ${done}/${total} runs (${impl}, ${size} B)          `);
      }
    }
  }
  process.stderr.write('\n');
  const rows = sizes.map((size) => {
    const w = best.get(`wspp/${size}`);
    const ws = best.get(`ws/${size}`);
    const wn = best.get(`wspp-native/${size}`);
    const wsn = best.get(`ws-native/${size}`);
    return [
      size >= 1024 * 1024 ? `${size / 1024 / 1024} MiB` : size >= 1024 ? `${size / 1024} KiB` : `${size} B`,
      fmt(w.framesPerSec),
      w.mbPerSec.toFixed(0),
      fmt(ws.framesPerSec),
      ws.mbPerSec.toFixed(0),
      `${(w.framesPerSec / ws.framesPerSec).toFixed(2)}x`,
      `${(wn.framesPerSec / wsn.framesPerSec).toFixed(2)}x`,
    ];
  });
  table(
    `Frame parser: masked client frames in 64 KiB reads, best of ${rounds} x ${seconds}s (wspp FrameParser+MessageReceiver vs ws Receiver)`,
    ['frame', 'wspp frames/s', 'wspp MB/s', 'ws frames/s', 'ws MB/s', 'wspp/ws', 'wspp/ws (both bufferutil)'],
    rows,
  );
}

const suites = { parser: parserSuite, echo: echoSuite, deflate: deflateSuite, pool: poolSuite };
for (const name of wanted) {
  if (!(name in suites)) {
    console.error(`unknown suite "${name}" (suites: ${Object.keys(suites).join(', ')})`);
    process.exit(2);
  }
}
for (const [name, fn] of Object.entries(suites)) {
  if (wanted.length === 0 || wanted.includes(name)) await fn();
}
