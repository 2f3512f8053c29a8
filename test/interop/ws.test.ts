/**
 * The `ws` package, in this process: as the client of the wspp server, and as the server
 * of the wspp client. ws can send fragments (`fin: false`, cut at raw byte offsets, so
 * text fragments split code points), pings, and any close code. In deflate=on both sides
 * use perMessageDeflate with threshold 0 (ws's default, 1024, would leave the small
 * messages of the matrix uncompressed), and the parameters a feature asks for.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { HOST, deferred, toBuffer, useCleanup, type Deferred } from '../integration/helpers.js';
import { clientPeerSuite, serverPeerSuite, type ClientPeer, type ServerPeer, type Variant } from './matrix.js';
import { generate, hex, parseCommand, split, unhex, type CloseView, type DeflateParams, type Kind, type PeerRun, type Step } from './protocol.js';

useCleanup();

const MAX_PAYLOAD = 64 * 1024 * 1024;

/** ws's perMessageDeflate for deflate=on: every message compressed, and `params` (same names in ws). */
function wsDeflate(params: DeflateParams = {}): WebSocket.PerMessageDeflateOptions {
  return { threshold: 0, ...params };
}

// --- ws as the client ------------------------------------------------------------------------

async function runWsClient(url: string, steps: Step[], protocols: string[], variant: Variant, offerDeflate: boolean, params?: DeflateParams): Promise<PeerRun> {
  const run: PeerRun = { open: undefined, steps: [], closed: undefined, fail: undefined, other: [] };
  const ws = new WebSocket(url, protocols, { maxPayload: MAX_PAYLOAD, perMessageDeflate: variant.deflate ? wsDeflate(params) : offerDeflate });
  // ws.extensions names the extensions only: the answer's parameters come from the response.
  let answer = '';
  ws.once('upgrade', (res) => (answer = String(res.headers['sec-websocket-extensions'] ?? '')));
  const queue: { data: Buffer; isBinary: boolean }[] = [];
  let waiter: ((m: { data: Buffer; isBinary: boolean }) => void) | undefined;
  const closed = deferred<{ code: number; reason: string }>();
  ws.on('message', (data, isBinary) => {
    const m = { data: toBuffer(data), isBinary };
    const w = waiter;
    waiter = undefined;
    if (w !== undefined) w(m);
    else queue.push(m);
  });
  ws.on('close', (code, reason) => closed.resolve({ code, reason: reason.toString() }));
  const opened = await new Promise<string | undefined>((resolve) => {
    ws.once('open', () => resolve(undefined));
    ws.once('error', (err) => resolve(err.message));
  });
  if (opened !== undefined) {
    ws.terminate();
    run.fail = opened;
    return run;
  }
  ws.on('error', (err) => run.other.push(`error: ${err.message}`));
  run.open = { subprotocol: ws.protocol, extensions: answer };
  const next = () => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise<{ data: Buffer; isBinary: boolean }>((r) => (waiter = r)));
  let closing = false;
  for (const step of steps) {
    const result = { op: step.op, ok: true, detail: '', text: '' };
    switch (step.op) {
      case 'echo': {
        const payload = generate(step.kind, step.size);
        const binary = step.kind !== 'text';
        if (step.frags <= 1) ws.send(payload, { binary });
        else {
          const pieces = split(payload, step.frags);
          pieces.forEach((piece, k) => ws.send(piece, { binary, fin: k === pieces.length - 1 }));
        }
        const got = await next();
        result.ok = got.isBinary === binary && got.data.equals(payload);
        if (!result.ok) result.detail = `echo differs: ${got.isBinary ? 'binary' : 'text'} of ${got.data.length}`;
        break;
      }
      case 'echotext': {
        ws.send(step.text);
        const got = await next();
        result.ok = !got.isBinary && got.data.toString() === step.text;
        break;
      }
      case 'ping': {
        const pong = new Promise<Buffer>((resolve) => ws.once('pong', resolve));
        ws.ping(step.payload);
        result.ok = (await pong).toString() === step.payload;
        break;
      }
      case 'request': {
        ws.send(step.text);
        result.text = (await next()).data.toString();
        break;
      }
      case 'send':
        ws.send(step.text);
        break;
      case 'close':
        closing = true;
        if (step.code === undefined) ws.close();
        else ws.close(step.code, step.reason);
        await closed.promise;
        break;
      case 'awaitclose':
        closing = true;
        await closed.promise;
        break;
    }
    run.steps.push(result);
  }
  if (!closing) ws.close(1000);
  run.closed = await closed.promise;
  return run;
}

const wsClient: ClientPeer = {
  caps: {
    fragments: true,
    ping: true,
    anyCloseCode: true,
    noStatusClose: true,
    noSubprotocolSelected: 'fails',
    offersDeflate: true,
    deflate: true,
    deflateOffer: 'permessage-deflate; client_max_window_bits',
    deflateParams: true,
    compressesFragments: true,
    contextTakeover: true,
  },
  run: (url, steps, { protocols, variant, offerDeflate, deflateParams }) => runWsClient(url, steps, protocols, variant, offerDeflate === true, deflateParams),
};

clientPeerSuite({
  peer: 'ws',
  direction: 'ws client → wspp server',
  unavailable: undefined,
  caps: wsClient.caps,
  setup: async () => wsClient,
});

// --- ws as the server ------------------------------------------------------------------------

async function startWsServer(variant: Variant, params?: DeflateParams): Promise<ServerPeer> {
  const wss = new WebSocketServer({
    host: HOST,
    port: 0,
    maxPayload: MAX_PAYLOAD,
    perMessageDeflate: variant.deflate ? wsDeflate(params) : false,
    handleProtocols: (protocols) => (protocols.has('chat.v2') ? 'chat.v2' : false),
  });
  await once(wss, 'listening');
  const opens = new Map<string, Deferred<{ subprotocol: string; extensions: string }>>();
  // The Sec-WebSocket-Extensions answer of each request, from the response headers.
  const answers = new Map<string, string>();
  wss.on('headers', (headers, req) => {
    const line = headers.find((h) => /^sec-websocket-extensions:/i.test(h));
    answers.set(req.url ?? '', line === undefined ? '' : line.slice(line.indexOf(':') + 1).trim());
  });
  const closes = new Map<string, Deferred<CloseView>>();
  const slot = <T>(map: Map<string, Deferred<T>>, path: string): Deferred<T> => {
    let d = map.get(path);
    if (d === undefined) map.set(path, (d = deferred<T>()));
    return d;
  };
  wss.on('connection', (ws, req) => {
    const path = req.url ?? '';
    ws.on('error', () => undefined);
    slot(opens, path).resolve({ subprotocol: ws.protocol, extensions: answers.get(path) ?? '' });
    ws.on('close', (code, reason) => slot(closes, path).resolve({ code, reason: reason.toString() }));
    ws.on('pong', (payload) => ws.send(`pong:${hex(payload)}`));
    ws.on('message', (raw, isBinary) => {
      const data = toBuffer(raw);
      const command = isBinary ? undefined : parseCommand(data.toString());
      if (command === undefined) {
        ws.send(data, { binary: isBinary });
        return;
      }
      const [a = '', b = '', c = ''] = command.args;
      if (command.name === 'gen') {
        const kind = a as Kind;
        const pieces = split(generate(kind, Number(b)), Number(c));
        pieces.forEach((piece, k) => ws.send(piece, { binary: kind !== 'text', fin: k === pieces.length - 1 }));
      } else if (command.name === 'ping') {
        ws.ping(Buffer.from(a, 'hex'));
      } else if (command.name === 'close') {
        if (Number(a) === 1005) ws.close();
        else ws.close(Number(a), unhex(b));
      }
    });
  });
  const { port } = wss.address() as AddressInfo;
  return {
    base: `ws://${HOST}:${port}`,
    opened: (path) => slot(opens, path).promise,
    closed: (path) => slot(closes, path).promise,
    stop: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}

serverPeerSuite({
  peer: 'ws',
  direction: 'wspp client → ws server',
  unavailable: undefined,
  caps: {
    fragments: true,
    noStatusClose: true,
    deflate: true,
    // wspp offers "permessage-deflate; client_max_window_bits"; ws answers "permessage-deflate".
    deflateAgreement: { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 },
    deflateParams: true,
    compressesFragments: true,
    contextTakeover: true,
  },
  start: startWsServer,
});
