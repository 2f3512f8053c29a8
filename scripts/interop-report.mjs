#!/usr/bin/env node
/**
 * The interop matrix: runs `vitest run test/interop --reporter=json` and prints, per
 * peer, a Markdown table of feature × (direction, variant) → pass / FAIL / skip / n/a.
 *
 *   npm run report:interop               run and print
 *   node scripts/interop-report.mjs --from results.json    print a saved JSON report
 *
 * Titles follow test/interop/matrix.ts: describe("interop: <peer>") > describe(<direction>)
 * > describe(<variant>) > it(<feature>); "(n/a: why)" at the end of a skipped title marks
 * a feature the peer cannot do. Exits 1 if any test failed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function runVitest() {
  const dir = mkdtempSync(join(tmpdir(), 'wspp-interop-report-'));
  const out = join(dir, 'interop.json');
  const vitest = join(root, 'node_modules', '.bin', 'vitest');
  process.stderr.write('running vitest run test/interop --reporter=json ...\n');
  const result = spawnSync(vitest, ['run', 'test/interop', '--reporter=json', `--outputFile=${out}`], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  let report;
  try {
    report = JSON.parse(readFileSync(out, 'utf8'));
  } catch (err) {
    process.stderr.write(`vitest wrote no JSON report (exit ${result.status}): ${err.message}\n`);
    process.exit(2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return report;
}

function load() {
  const from = process.argv.indexOf('--from');
  if (from >= 0 && process.argv[from + 1] !== undefined) return JSON.parse(readFileSync(process.argv[from + 1], 'utf8'));
  return runVitest();
}

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** One row key for the same feature in both directions: the peer's name becomes "peer". */
function featureKey(title, peer) {
  return title
    .replace(/ \(n\/a: .*\)$/, '')
    .replace(new RegExp(`(?<![\\w-])${escapeRe(peer)}(?![\\w-])`, 'g'), 'peer')
    .replace(/ \(peer (accepts|fails) it\)$/, '')
    .replace(/, (echoed|sent by peer)$/, '');
}

function statusOf(test) {
  if (test.status === 'passed') return 'pass';
  if (test.status === 'failed') return 'FAIL';
  if (/ \(n\/a: .*\)$/.test(test.title)) return 'n/a';
  return 'skip';
}

const report = load();
/** peer → { columns: string[], rows: Map<feature, Map<column, status>> } */
const peers = new Map();
const totals = { pass: 0, FAIL: 0, skip: 0, 'n/a': 0 };
const failures = [];
for (const file of report.testResults ?? []) {
  for (const test of file.assertionResults ?? []) {
    const [top = '', direction = '', variant = ''] = test.ancestorTitles ?? [];
    if (!top.startsWith('interop: ')) continue;
    const peer = top.slice('interop: '.length);
    // A "peer installed" check (strict mode) has no variant: it fails the whole direction.
    const column = variant === '' ? direction.replace(/: peer installed$/, '') : `${direction} [${variant}]`;
    const status = statusOf(test);
    totals[status]++;
    if (status === 'FAIL') failures.push(`${peer} | ${column} | ${test.title}`);
    let entry = peers.get(peer);
    if (entry === undefined) peers.set(peer, (entry = { columns: [], rows: new Map() }));
    if (!entry.columns.includes(column)) entry.columns.push(column);
    const key = variant === '' ? 'peer installed' : featureKey(test.title, peer);
    let row = entry.rows.get(key);
    if (row === undefined) entry.rows.set(key, (row = new Map()));
    row.set(column, status);
  }
}

const lines = ['# wspp interop matrix', ''];
lines.push('pass: the feature works both ways; FAIL: a test failed; skip: the peer is not installed here; n/a: the peer cannot do it.', '');
for (const [peer, { columns, rows }] of [...peers].sort(([a], [b]) => a.localeCompare(b))) {
  lines.push(`## ${peer}`, '');
  lines.push(`| feature | ${columns.join(' | ')} |`);
  lines.push(`|---|${columns.map(() => '---').join('|')}|`);
  for (const [feature, cells] of rows) lines.push(`| ${feature} | ${columns.map((c) => cells.get(c) ?? '').join(' | ')} |`);
  lines.push('');
}
lines.push(`${totals.pass} passed, ${totals.FAIL} failed, ${totals.skip} skipped, ${totals['n/a']} n/a`);
if (failures.length > 0) lines.push('', 'Failed:', ...failures.map((f) => `- ${f}`));
process.stdout.write(`${lines.join('\n')}\n`);
process.exitCode = totals.FAIL > 0 ? 1 : 0;
