// `npm run bench`: every benchmark side by side with ws in the same run, as ratios.
// Usage: node bench/run.js [suite...]   (suites: parser, echo, deflate, pool)   env BENCH_SECONDS=1 (echo: 3)
//        BENCH_PARSER_ROUNDS=5 (parser: the median of the rounds is shown)
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
  const runs = new Map(); // `${impl}/${size}` -> results of its rounds
  const parserRounds = Number(process.env.BENCH_PARSER_ROUNDS ?? '5');
  const total = sizes.length * impls.length * parserRounds;
  let done = 0;
  // Rounds interleave the contenders so machine noise hits all of them alike; the median of
  // the rounds is kept: large frames allocate a fresh buffer each, and whether the allocator
  // hands back resident memory or fresh pages to fault in swings one run by 2-3x.
  for (let r = 0; r < parserRounds; r++) {
    for (const size of sizes) {
      for (const impl of impls) {
        const res = child('parser.js', [impl, String(size), String(seconds)]);
        const k = `${impl}/${size}`;
        runs.set(k, [...(runs.get(k) ?? []), res]);
        done++;
        process.stderr.write(`\r  parser: ${done}/${total} runs (${impl}, ${size} B)          `);
      }
    }
  }
  process.stderr.write('\n');
  const rows = sizes.map((size) => {
    const best = { get: (k) => runs.get(k).sort((a, b) => a.framesPerSec - b.framesPerSec)[runs.get(k).length >> 1] };
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
    `Frame parser: masked client frames in 64 KiB reads, median of ${parserRounds} x ${seconds}s (wspp FrameParser+MessageReceiver vs ws Receiver)`,
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
