// A ws echo server for the benchmarks: echoes every message with its own opcode.
//   node bench/servers/ws-echo.js --port 0 [--no-bufferutil] [--deflate]
// --deflate: permessage-deflate with ws's defaults (threshold 1024, zlib level 6, memLevel 8,
// 15-bit windows, context takeover), the same choices as wspp's deflate().
// First stdout line: "listening on ws://127.0.0.1:PORT/". A "stats" line on stdin answers
// {"cpuUserMs":…,"cpuSystemMs":…,"rssBytes":…}. ws uses its native addon bufferutil when it is
// installed unless WS_NO_BUFFER_UTIL=1 is set (--no-bufferutil sets it).
import { createRequire } from 'node:module';
import { portArg, serveStats } from './stats.js';

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

const wss = new WebSocketServer({ host: '127.0.0.1', port: portArg(), perMessageDeflate: process.argv.includes('--deflate'), maxPayload: 64 << 20 });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
wss.on('listening', () => {
  process.stdout.write(`listening on ws://127.0.0.1:${wss.address().port}/\n`);
  process.stderr.write(`ws-echo: ws ${require('ws/package.json').version}, bufferutil ${bufferutil ? 'on' : 'off'}\n`);
});
serveStats(() => ({ bufferutil }));

