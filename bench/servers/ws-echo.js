// A ws echo server for the benchmarks: echoes every message with its own opcode.
//   node bench/servers/ws-echo.js --port 0 [--no-bufferutil]
// First stdout line: "listening on ws://127.0.0.1:PORT/". A "stats" line on stdin answers
// {"cpuUserMs":…,"cpuSystemMs":…,"rssBytes":…}. ws uses its native addon bufferutil when it is
// installed unless WS_NO_BUFFER_UTIL=1 is set (--no-bufferutil sets it).
import { fstatSync } from 'node:fs';
import { createRequire } from 'node:module';

if (process.argv.includes('--no-bufferutil')) process.env.WS_NO_BUFFER_UTIL = '1';
const require = createRequire(import.meta.url);
const { WebSocketServer } = await import('ws');

let bufferutil = false;
if (!process.env.WS_NO_BUFFER_UTIL) {
  try {
    require('bufferutil');
    bufferutil = true;
  } catch {
    // ws falls back to its JavaScript masking
  }
}

const wss = new WebSocketServer({ host: '127.0.0.1', port: portArg(), perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
wss.on('listening', () => {
  process.stdout.write(`listening on ws://127.0.0.1:${wss.address().port}/\n`);
  process.stderr.write(`ws-echo: ws ${require('ws/package.json').version}, bufferutil ${bufferutil ? 'on' : 'off'}\n`);
});
serveStats(() => ({ bufferutil }));

// ---- stats protocol (same in ws-echo.js and net-echo.js): a "stats" line on stdin answers one JSON
// line about this process; the server exits when stdin closes, so it never outlives its bench.
function serveStats(extra = () => ({})) {
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

function portArg() {
  const i = process.argv.indexOf('--port');
  return i >= 0 ? Number(process.argv[i + 1]) : 0;
}
