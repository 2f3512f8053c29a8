// Builds bench/hsload.c (the C open+close load generator of the handshakes row in bench/echo.js)
// with the system C compiler, cached by source hash under node_modules/.cache/wspp-bench/.
//   const { path, error } = await buildHsload();
// Never throws: no compiler, a failed build or BENCH_NO_CC=1 (to try the JS fallback) give
// { error }.
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

/** @returns {Promise<{path: string} | {error: string}>} */
export async function buildHsload() {
  try {
    if (process.env.BENCH_NO_CC === '1') return { error: 'BENCH_NO_CC=1' };
    if (process.platform !== 'linux') return { error: `bench/hsload.c needs Linux (epoll), not ${process.platform}` };
    const src = join(here, 'hsload.c');
    const source = readFileSync(src);
    const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
    const dir = join(root, 'node_modules', '.cache', 'wspp-bench');
    const out = join(dir, `hsload-${hash}`);
    if (existsSync(out)) return { path: out };
    mkdirSync(dir, { recursive: true });
    const tmp = `${out}.tmp-${process.pid}`;
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
    return { error: `building bench/hsload.c: ${e?.message ?? e}` };
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await buildHsload();
  console.log(JSON.stringify(r));
  process.exitCode = r.path ? 0 : 1;
}
