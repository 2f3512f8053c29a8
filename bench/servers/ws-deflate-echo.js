// A ws echo server with permessage-deflate on, ws's defaults (threshold 1024, zlib level 6,
// memLevel 8, 15-bit windows, context takeover, 10 zlib jobs at once) — the same choices as
// wspp's deflate(). First stdout line: "listening on ws://127.0.0.1:PORT/"; "stats" on stdin
// answers {"cpuUserMs","cpuSystemMs","rssBytes"}; exits when stdin closes.
const { WebSocketServer } = await import('ws');

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true, maxPayload: 64 << 20 });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
wss.on('listening', () => process.stdout.write(`listening on ws://127.0.0.1:${wss.address().port}/\n`));

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
      process.stdout.write(`${JSON.stringify({ cpuUserMs: cpu.user / 1000, cpuSystemMs: cpu.system / 1000, rssBytes: process.memoryUsage.rss() })}\n`);
    }
  }
});
process.stdin.on('end', () => process.exit(0));
