// The client side of the soak test, in its own process (its sockets count against its
// own file-descriptor limit, and the server's RSS is measured without them):
//
//   node soak-clients.mjs URL CONNECTIONS MESSAGES
//
// Opens CONNECTIONS ws clients (in waves), and once all are open at the same time each
// sends MESSAGES random messages (text and binary, 1-512 bytes) and checks every echo.
// Then all close with 1000. Prints one JSON line:
//   { opened, sent, received, mismatched, digest, closed, closeCodes }
// where digest is the order-independent sum (mod 2^64) of the first 8 bytes of
// sha256(opcode || payload) over every message sent: the server computes the same sum
// over what it received.
import { createHash, randomBytes } from 'node:crypto';
import WebSocket from 'ws';

const [url, connectionsArg, messagesArg] = process.argv.slice(2);
const connections = Number(connectionsArg);
const messages = Number(messagesArg);
const WAVE = 250;
const MASK = (1n << 64n) - 1n;

const digestOf = (opcode, payload) => createHash('sha256').update(Buffer.of(opcode)).update(payload).digest().readBigUInt64BE(0);

let digest = 0n;
let sent = 0;
let received = 0;
let mismatched = 0;
let closed = 0;
const closeCodes = {};
const sockets = [];

function open() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** Send `messages` messages one after the other, checking each echo. */
function converse(ws) {
  return new Promise((resolve) => {
    let n = 0;
    let expected;
    const next = () => {
      if (n === messages) return resolve();
      n++;
      const binary = Math.random() < 0.5;
      const size = 1 + Math.floor(Math.random() * 512);
      const payload = binary ? randomBytes(size) : Buffer.from(randomBytes(size).toString('base64').slice(0, size));
      expected = { binary, payload };
      digest = (digest + digestOf(binary ? 2 : 1, payload)) & MASK;
      sent++;
      ws.send(payload, { binary });
    };
    ws.on('message', (data, isBinary) => {
      received++;
      if (expected === undefined || isBinary !== expected.binary || !Buffer.from(data).equals(expected.payload)) mismatched++;
      expected = undefined;
      next();
    });
    next();
  });
}

try {
  for (let i = 0; i < connections; i += WAVE) {
    const wave = await Promise.all(Array.from({ length: Math.min(WAVE, connections - i) }, open));
    for (const ws of wave) {
      ws.on('error', () => undefined);
      ws.on('close', (code) => {
        closed++;
        closeCodes[code] = (closeCodes[code] ?? 0) + 1;
      });
      sockets.push(ws);
    }
  }
  process.stderr.write(`soak clients: ${sockets.length} open\n`);
  await Promise.all(sockets.map(converse));
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise((resolve) => {
          ws.once('close', resolve);
          ws.close(1000);
        }),
    ),
  );
} catch (err) {
  process.stderr.write(`soak clients failed: ${err?.message ?? err}\n`);
}
process.stdout.write(`${JSON.stringify({ opened: sockets.length, sent, received, mismatched, digest: digest.toString(), closed, closeCodes })}\n`);
process.exit(0);
