// The stats protocol of the benchmark servers: a "stats" line on stdin answers one JSON line
// about this process ({"cpuUserMs","cpuSystemMs","rssBytes",...}); the server exits when a
// piped stdin closes, so it never outlives its bench. Also --port parsing.
import { fstatSync } from 'node:fs';

export function serveStats(extra = () => ({})) {
  let buf = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line === 'stats') {
        const cpu = process.cpuUsage();
        process.stdout.write(
          `${JSON.stringify({ cpuUserMs: cpu.user / 1000, cpuSystemMs: cpu.system / 1000, rssBytes: process.memoryUsage.rss(), ...extra() })}\n`,
        );
      } else if (line === 'exit') process.exit(0);
    }
    if (buf.length > 4096) buf = '';
  });
  // exit with the parent that feeds our stdin (not when started by hand with stdin on /dev/null)
  let piped = false;
  try {
    const st = fstatSync(0);
    piped = st.isFIFO() || st.isSocket();
  } catch {
    // no stdin at all
  }
  if (piped) process.stdin.on('end', () => process.exit(0));
  else process.stdin.on('end', () => {});
}

export function portArg() {
  const i = process.argv.indexOf('--port');
  return i >= 0 ? Number(process.argv[i + 1]) : 0;
}
