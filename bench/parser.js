// Parser micro-benchmark, one implementation per process (so JIT state never leaks
// between contenders): parses a stream of masked client frames cut into 64 KiB reads,
// as a server socket would deliver them, and prints one JSON line.
//   node bench/parser.js <wspp|wspp-native|ws|ws-native> <frameSize> <seconds>
import { createRequire } from 'node:module';

const [impl = 'wspp', sizeArg = '16', secondsArg = '1'] = process.argv.slice(2);
const frameSize = Number(sizeArg);
const seconds = Number(secondsArg);
const require = createRequire(import.meta.url);
if (!impl.endsWith('native')) process.env.WS_NO_BUFFER_UTIL = '1';

const READ = 64 * 1024;
const { encodeFrame } = await import('../dist/protocol/frame.js');
const key = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);
const payload = Buffer.alloc(frameSize, 0x61);
const frame = encodeFrame(2, payload, { maskKey: key });
// Enough frames for ~4 MiB of stream (at least 4 frames), cut into socket-sized reads.
const count = Math.max(4, Math.ceil((4 * 1024 * 1024) / frame.length));
const stream = Buffer.concat(Array.from({ length: count }, () => frame));
const chunks = [];
for (let at = 0; at < stream.length; at += READ) chunks.push(stream.subarray(at, at + READ));

let messages = 0;
let bytes = 0;
let feed;
if (impl.startsWith('wspp')) {
  const { FrameParser } = await import('../dist/protocol/parser.js');
  const { MessageReceiver } = await import('../dist/protocol/receiver.js');
  if (impl === 'wspp-native') {
    const { setMaskImplementation } = await import('../dist/protocol/mask.js');
    setMaskImplementation(require('bufferutil'));
  }
  const receiver = new MessageReceiver(
    {
      onMessage(_op, data) {
        messages++;
        bytes += data.length;
        return undefined;
      },
      onControl() {
        return undefined;
      },
    },
    { maxMessageSize: 100 * 1024 * 1024 },
  );
  const parser = new FrameParser(receiver, { role: 'server' });
  feed = (chunk) => {
    const err = parser.push(chunk);
    if (err) throw err;
  };
} else {
  const { Receiver } = await import('ws');
  const receiver = new Receiver({ isServer: true, maxPayload: 100 * 1024 * 1024 });
  receiver.on('message', (data) => {
    messages++;
    bytes += data.length;
  });
  receiver.on('error', (err) => {
    throw err;
  });
  // ws's receiver is a Writable; _write is what the socket's data path calls.
  const noop = () => {};
  feed = (chunk) => receiver._write(chunk, 'buffer', noop);
}

function pass() {
  for (const c of chunks) feed(c);
}
for (let i = 0; i < 3; i++) pass(); // warm up
messages = 0;
bytes = 0;
const start = process.hrtime.bigint();
const deadline = start + BigInt(Math.round(seconds * 1e9));
let now = start;
do {
  pass();
  now = process.hrtime.bigint();
} while (now < deadline);
const elapsed = Number(now - start) / 1e9;
if (messages % count !== 0) throw new Error(`lost frames: ${messages} not a multiple of ${count}`);
console.log(JSON.stringify({ impl, frameSize, framesPerSec: messages / elapsed, mbPerSec: bytes / elapsed / 1e6 }));
