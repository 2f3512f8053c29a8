/**
 * Chromium (Debian's, driven by playwright-core) against the wspp server: a page's
 * `new WebSocket(...)` over ws:// and wss:// (self-signed certificate, accepted with
 * --ignore-certificate-errors). Browsers send every message whole, cannot ping, and may
 * close with 1000 or 3000-4999 only: those features are n/a. Chromium always offers
 * permessage-deflate ("permessage-deflate; client_max_window_bits") and compresses every
 * message once it is agreed: in deflate=on the wspp server enables the extension and the
 * wire tap (a TLS-terminating one for wss://) sees the page's messages arrive compressed.
 */
import { clientPeerSuite, type ClientPeer, type ClientPeerCaps, type ClientRunOptions } from './matrix.js';
import { chromiumMissing, launchChromium, type Browser } from './peers.js';
import type { PeerRun, Step } from './protocol.js';

/**
 * The script runner, evaluated in the page (plain JavaScript in a string, so no build
 * step can rewrite it). Mirrors protocol.ts: generated payloads, steps, results.
 */
const PAGE_RUNNER = String.raw`async ({ url, protocols, steps }) => {
  const UNIT = 'a\u00e9\u20ac\u{1F600}';
  const enc = new TextEncoder();
  const generate = (kind, size) => {
    if (kind === 'text') return UNIT.repeat(Math.floor(size / 10)) + 'x'.repeat(size % 10);
    if (kind === 'random') {
      // xorshift32 from 0x9e3779b9, each state 4 bytes little-endian (protocol.ts).
      const words = new DataView(new ArrayBuffer(Math.ceil(size / 4) * 4));
      let x = 0x9e3779b9;
      for (let i = 0; i < words.byteLength; i += 4) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        x >>>= 0;
        words.setUint32(i, x, true);
      }
      return new Uint8Array(words.buffer, 0, size);
    }
    const out = new Uint8Array(size);
    for (let i = 0; i < size; i++) out[i] = (i * 31 + 7) & 0xff;
    return out;
  };
  const sameBytes = (a, b) => {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  };
  const run = { open: undefined, steps: [], closed: undefined, fail: undefined, other: [] };
  const queue = [];
  let waiter;
  let closeInfo;
  let closeWaiter;
  const ws = new WebSocket(url, protocols);
  ws.binaryType = 'arraybuffer';
  const opened = await new Promise((resolve) => {
    ws.onopen = () => resolve(true);
    ws.onerror = () => resolve(false);
    ws.onclose = (e) => { closeInfo = e; resolve(false); };
  });
  if (!opened) {
    run.fail = 'did not open' + (closeInfo ? ' (close ' + closeInfo.code + ')' : '');
    return run;
  }
  run.open = { subprotocol: ws.protocol, extensions: ws.extensions };
  ws.onmessage = (e) => {
    if (waiter) { const w = waiter; waiter = undefined; w(e.data); } else queue.push(e.data);
  };
  ws.onclose = (e) => {
    closeInfo = e;
    if (closeWaiter) closeWaiter();
  };
  const next = () => queue.length > 0 ? Promise.resolve(queue.shift()) : new Promise((r) => (waiter = r));
  const closedP = () => closeInfo ? Promise.resolve() : new Promise((r) => (closeWaiter = r));
  let closing = false;
  for (const step of steps) {
    const result = { op: step.op, ok: true, detail: '', text: '' };
    try {
      if (step.op === 'echo') {
        const sent = generate(step.kind, step.size);
        ws.send(sent);
        const got = await next();
        if (step.kind === 'text') result.ok = typeof got === 'string' && got === sent;
        else result.ok = got instanceof ArrayBuffer && sameBytes(new Uint8Array(got), sent);
        if (!result.ok) result.detail = 'echo differs: ' + typeof got;
      } else if (step.op === 'echotext') {
        ws.send(step.text);
        const got = await next();
        result.ok = got === step.text;
        if (!result.ok) result.detail = 'echo differs';
      } else if (step.op === 'request') {
        ws.send(step.text);
        const got = await next();
        result.text = typeof got === 'string' ? got : '<binary>';
      } else if (step.op === 'send') {
        ws.send(step.text);
      } else if (step.op === 'close') {
        closing = true;
        if (step.code === undefined) ws.close(); else ws.close(step.code, step.reason);
        await closedP();
      } else if (step.op === 'awaitclose') {
        closing = true;
        await closedP();
      } else {
        result.ok = false;
        result.detail = 'unsupported step ' + step.op;
      }
    } catch (err) {
      result.ok = false;
      result.detail = String(err);
    }
    run.steps.push(result);
  }
  if (!closing) {
    ws.close(1000);
    await closedP();
  }
  run.closed = { code: closeInfo.code, reason: closeInfo.reason, wasClean: closeInfo.wasClean };
  return run;
}`;

const caps: ClientPeerCaps = {
  fragments: 'the WebSocket API sends each message whole',
  ping: 'the WebSocket API has no ping',
  anyCloseCode: false,
  noStatusClose: true,
  noSubprotocolSelected: 'fails',
  offersDeflate: true, // always
  deflate: true,
  deflateOffer: 'permessage-deflate; client_max_window_bits',
  deflateParams: 'a page cannot choose: Chromium always offers "permessage-deflate; client_max_window_bits"',
  compressesFragments: 'the WebSocket API sends each message whole',
  contextTakeover: true,
};

const unavailable = chromiumMissing();

function chromiumPeer(browser: () => Browser): ClientPeer {
  return {
    caps,
    async run(url: string, steps: Step[], options: ClientRunOptions): Promise<PeerRun> {
      const args = JSON.stringify({ url, protocols: options.protocols, steps });
      return browser().evaluate<PeerRun>(`(${PAGE_RUNNER})(${args})`);
    },
  };
}

// One browser for both suites of the file.
let browser: Browser | undefined;
let users = 0;
async function acquire(): Promise<ClientPeer> {
  users++;
  browser ??= await launchChromium();
  return chromiumPeer(() => browser!);
}
async function release(): Promise<void> {
  if (--users === 0 && browser !== undefined) {
    const b = browser;
    browser = undefined;
    await b.close();
  }
}

clientPeerSuite({
  peer: 'chromium',
  direction: 'chromium page → wspp server (ws://)',
  unavailable,
  caps,
  setup: acquire,
  teardown: release,
});

clientPeerSuite({
  peer: 'chromium',
  direction: 'chromium page → wspp server (wss://)',
  unavailable,
  tls: true,
  caps,
  setup: acquire,
  teardown: release,
});
