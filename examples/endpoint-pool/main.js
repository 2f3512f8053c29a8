#!/usr/bin/env node
// The seed's multithreading example with wspp's EndpointPool (worker_threads), against a local
// wspp echo server started in another process (or --url ws://...):
//
//   node examples/endpoint-pool/main.js                  one connection per endpoint: send
//                                                        "Hello from endpoint i", wait for the echo, close
//   node examples/endpoint-pool/main.js --load 4000      load mode: 4,000 connections spread over the
//        [--messages 10] [--batch 500]                   endpoints, each sending 10 messages
//   common: [--endpoints N (default: all cores)] [--url ws://host:port/]
//
// Build first (`npm run build`): the workers load the built library.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { EndpointPool, WsppError } from 'wspp';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : process.argv[i + 1];
};
const log = (...parts) => console.log('[main]', ...parts);

/** A `wspp echo` server in a child process (stopped at the end, by its handle). */
async function startEchoServer() {
  const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
  const child = spawn(process.execPath, [cli, 'echo', '--port', '0', '--host', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const first = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the echo server exited (${code})`)));
  });
  const m = /^listening on (ws:\/\/\S+)$/.exec(first.trim());
  if (!m) throw new Error(`unexpected line from the echo server: ${first}`);
  return {
    url: m[1],
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The seed's process_endpoint(): one connection on one endpoint, as a thread of the seed did it. */
async function processEndpoint(endpoint, threadId, url) {
  let echoReceived;
  const echoFuture = new Promise((resolve) => (echoReceived = resolve));

  const con = endpoint.tryCreateConnection(url, 'hello', { data: { threadId }, onNotify: () => echoReceived() });
  if (con instanceof WsppError) {
    log(`Error creating connection for endpoint ${threadId}: ${con.message}`);
    return false;
  }
  const status = await con.openResult; // the seed's future of the opened status
  if (status instanceof WsppError) {
    log(`Connection failed for endpoint ${threadId}: ${status.code} ${status.message}`);
    return false;
  }
  log(`Connection successful for endpoint ${threadId}`);

  const err = endpoint.trySend(con.id, `Hello from endpoint ${threadId}`);
  if (err !== undefined) {
    log(`Error sending message for endpoint ${threadId}: ${err.message}`);
    return false;
  }
  log(`Message sent from endpoint ${threadId}`);
  await echoFuture;
  endpoint.close(con.id);
  await con.closed;
  return true;
}

async function helloMode(pool, url) {
  log(`Number of endpoints in the pool: ${pool.size}`);
  // The seed starts one thread per endpoint and joins them; here each endpoint already has its
  // thread, and the main thread drives all of them at once.
  const results = await Promise.all([...pool.endpoints()].map((endpoint, i) => processEndpoint(endpoint, i, url)));
  const completed = pool.stats().total.closed;
  log(`Connections completed: ${completed} of ${pool.size}`);
  return results.every(Boolean) && completed === pool.size;
}

async function loadMode(pool, url, total, messages, batch) {
  log(`Load: ${total} connections over ${pool.size} endpoints, ${messages} messages each`);
  const started = performance.now();
  const closed = [];
  let failed = 0;
  for (let i = 0; i < total; i += batch) {
    const cons = [];
    for (let k = i; k < Math.min(total, i + batch); k++) cons.push(pool.createConnection(url, 'load', { data: { messages } }));
    // Open in batches so the server's accept backlog is not flooded.
    const opened = await Promise.all(cons.map((c) => c.openResult));
    failed += opened.filter((s) => s instanceof WsppError).length;
    closed.push(...cons.map((c) => c.closed));
  }
  await Promise.all(closed);
  const seconds = (performance.now() - started) / 1000;
  const stats = pool.stats();
  stats.endpoints.forEach((e, i) =>
    log(`endpoint ${i}: ${e.opened} opened, ${e.failed} failed, ${e.closed} closed, ${e.messagesIn} messages in, ${e.messagesOut} out, ${e.errors} errors`),
  );
  const t = stats.total;
  log(`total: ${t.opened} opened, ${t.failed} failed, ${t.messagesIn} echoes in ${seconds.toFixed(2)} s (${Math.round(t.messagesIn / seconds)} messages/s)`);
  const contexts = await Promise.all([...pool.endpoints()].map((ep) => ep.call('context')));
  log(`per-endpoint contexts: ${contexts.map((c) => `#${c.index} completed ${c.completed}, received ${c.received}`).join('; ')}`);
  return failed === 0 && t.opened === total && t.messagesIn === total * messages;
}

const load = Number(arg('load', '0'));
const given = arg('url', undefined);
const echo = given === undefined ? await startEchoServer() : undefined;
const url = given ?? echo.url;
const size = arg('endpoints', undefined);
const pool = await EndpointPool.create({
  module: new URL('./callbacks.js', import.meta.url),
  ...(size === undefined ? {} : { size: Number(size) }),
  context: { quiet: load > 0 },
});
let ok = false;
try {
  ok = load > 0 ? await loadMode(pool, url, load, Number(arg('messages', '10')), Number(arg('batch', '500'))) : await helloMode(pool, url);
} finally {
  await pool.shutdown(); // closes what is left with 1001 and joins the workers
  await echo?.stop();
}
log(ok ? 'done' : 'FAILED');
process.exitCode = ok ? 0 : 1;
