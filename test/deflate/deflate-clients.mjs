// The client side of test/deflate/limits.test.ts, in its own process (its sockets and its
// zlib contexts count against its own limits, and the server's RSS is measured without
// them): ws clients with permessage-deflate, each sending one compressible message of
// SIZE bytes (JSON-like text, different for every connection) and checking its echo.
//
//   node deflate-clients.mjs URL CONNECTIONS SIZE burst MARKER [nocontext]
//     Opens CONNECTIONS clients (in waves) and prints {"event":"open","opened":N}. On the
//     line "send" (stdin) every client sends its message in one loop; once ws has handed
//     all of them to the sockets, the file MARKER is created (the server may block its
//     event loop until then, so that the messages reach it at the same moment). Prints
//     {"event":"echoed","received":N,"mismatched":N,"compressed":N} when every echo is
//     in. On the line "close" all close with 1000; prints
//     {"event":"closed","closeCodes":{...}} and exits.
//
//   node deflate-clients.mjs URL CONNECTIONS SIZE cycle - [nocontext]
//     Opens and closes CONNECTIONS clients, WAVE at a time: each opens, sends its message,
//     checks the echo, closes with 1000. Prints
//     {"event":"done","opened":N,"received":N,"mismatched":N,"compressed":N,"closeCodes":{...}}.
//
// "compressed": how many connections agreed on permessage-deflate. "nocontext": the
// clients ask for server_no_context_takeover and client_no_context_takeover.
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';

const [url, connectionsArg, sizeArg, mode, marker, flag] = process.argv.slice(2);
const connections = Number(connectionsArg);
const size = Number(sizeArg);
const WAVE = 250;
const perMessageDeflate = flag === 'nocontext' ? { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true } : { threshold: 0 };

/** A compressible message of `size` bytes, different for each connection. */
function payloadFor(i) {
  const unit = `{"connection":${i},"name":"wspp","tags":["deflate","limits"],"ok":true},`;
  return unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
}

let received = 0;
let mismatched = 0;
let compressed = 0;
const closeCodes = {};

function open(i) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate, maxPayload: 64 << 20 });
    ws.once('open', () => {
      if (ws.extensions.includes('permessage-deflate')) compressed++;
      ws.on('error', () => undefined);
      ws.on('close', (code) => (closeCodes[code] = (closeCodes[code] ?? 0) + 1));
      resolve({ ws, i, payload: payloadFor(i) });
    });
    ws.once('error', reject);
  });
}

/** The next message on a connection, checked against its payload. */
function echoOf(c) {
  return new Promise((resolve) => {
    c.ws.once('message', (data, isBinary) => {
      received++;
      if (isBinary || data.toString() !== c.payload) mismatched++;
      resolve();
    });
  });
}

function close(c) {
  return new Promise((resolve) => {
    if (c.ws.readyState === WebSocket.CLOSED) return resolve();
    c.ws.once('close', resolve);
    c.ws.close(1000);
  });
}

const print = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);

try {
  if (mode === 'burst') {
    const clients = [];
    for (let i = 0; i < connections; i += WAVE) {
      clients.push(...(await Promise.all(Array.from({ length: Math.min(WAVE, connections - i) }, (_, k) => open(i + k)))));
    }
    print({ event: 'open', opened: clients.length });
    const lines = createInterface({ input: process.stdin });
    const commands = lines[Symbol.asyncIterator]();
    const next = async () => ((await commands.next()).value ?? '').trim();
    while ((await next()) !== 'send');
    const echoes = clients.map(echoOf);
    let handed = 0;
    for (const c of clients) {
      c.ws.send(c.payload, { compress: true }, () => {
        if (++handed === clients.length) writeFileSync(marker, 'sent');
      });
    }
    await Promise.all(echoes);
    print({ event: 'echoed', received, mismatched, compressed });
    while ((await next()) !== 'close');
    await Promise.all(clients.map(close));
    print({ event: 'closed', closeCodes });
    lines.close();
  } else {
    let opened = 0;
    for (let i = 0; i < connections; i += WAVE) {
      await Promise.all(
        Array.from({ length: Math.min(WAVE, connections - i) }, async (_, k) => {
          const c = await open(i + k);
          opened++;
          const echo = echoOf(c);
          c.ws.send(c.payload, { compress: true });
          await echo;
          await close(c);
        }),
      );
    }
    print({ event: 'done', opened, received, mismatched, compressed, closeCodes });
  }
} catch (err) {
  process.stderr.write(`deflate clients failed: ${err?.stack ?? err}\n`);
  process.exitCode = 1;
}
process.exit();
