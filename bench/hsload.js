// Builds the benchmarks' C programs with the system C compiler (cc, else gcc; -O2 -Wall -Wextra
// -std=c99 -D_GNU_SOURCE), bench/<name>.c to node_modules/.cache/wspp-bench/<name>-<hash>,
// cached by source hash:
//   bench/hsload.c   the C open+close load generator of the handshakes row in bench/echo.js;
//   bench/echosrv.c  the C echo server bench/pool.js drives its client endpoints through.
//   const { path, error } = await buildBenchC('echosrv');
//   const { path, error } = await buildHsload(); // = buildBenchC('hsload')
// Never throws: no compiler, a failed build, a non-Linux platform or BENCH_NO_CC=1 (to try the
// JS fallback / another peer) give { error }.
//   node bench/hsload.js [name]   builds one (hsload by default) and prints the result as JSON.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('..', import.meta.url));
const FLAGS = ['-O2', '-Wall', '-Wextra', '-std=c99', '-D_GNU_SOURCE'];

/** Runs a command; resolves {code, stderr, error} (error: spawn failure such as ENOENT). */
function run(cmd, args, timeoutMs) {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: root, timeout: timeoutMs, encoding: 'utf8' }, (err, _stdout, stderr) => {
      if (err && typeof err.code === 'string') resolve({ error: err.code, stderr });
      else resolve({ code: err ? (err.code ?? (err.killed ? 'timeout' : 1)) : 0, stderr });
    });
  });
}

let builds = 0; // temporary output names stay apart when one process builds twice at once

/**
 * Builds bench/<name>.c (name: letters, digits, - and _) unless the cached binary for its
 * current source exists.
 * @param {string} name
 * @returns {Promise<{path: string} | {error: string}>}
 */
export async function buildBenchC(name) {
  try {
    if (process.env.BENCH_NO_CC === '1') return { error: 'BENCH_NO_CC=1' };
    if (typeof name !== 'string' || !/^[A-Za-z0-9_-]+$/.test(name)) return { error: `bad bench program name ${JSON.stringify(name)}` };
    if (process.platform !== 'linux') return { error: `bench/${name}.c needs Linux (epoll), not ${process.platform}` };
    const src = join(here, `${name}.c`);
    const source = readFileSync(src);
    const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
    const dir = join(root, 'node_modules', '.cache', 'wspp-bench');
    const out = join(dir, `${name}-${hash}`);
    if (existsSync(out)) return { path: out };
    mkdirSync(dir, { recursive: true });
    const tmp = `${out}.tmp-${process.pid}-${++builds}`;
    let last = 'no C compiler (cc, gcc) found';
    for (const cc of ['cc', 'gcc']) {
      const r = await run(cc, [...FLAGS, src, '-o', tmp], 60000);
      if (r.error === 'ENOENT') continue; // try the next compiler
      if (r.error || r.code !== 0) {
        rmSync(tmp, { force: true });
        const msg = (r.stderr ?? '').trim().split('\n').find((l) => /error/i.test(l)) ?? r.error ?? `exit ${r.code}`;
        last = `${cc} failed: ${msg.slice(0, 200)}`;
        break; // a compiler that exists but fails: no point trying another name for it
      }
      renameSync(tmp, out);
      return { path: out };
    }
    return { error: last };
  } catch (e) {
    return { error: `building bench/${name}.c: ${e?.message ?? e}` };
  }
}

/** bench/hsload.c, for bench/echo.js. @returns {Promise<{path: string} | {error: string}>} */
export function buildHsload() {
  return buildBenchC('hsload');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await buildBenchC(process.argv[2] ?? 'hsload');
  console.log(JSON.stringify(r));
  process.exitCode = r.path ? 0 : 1;
}
