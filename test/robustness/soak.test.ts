/**
 * Soak: 5,000 concurrent connections to one wspp server, each sending 20 messages.
 * The clients (ws) run in a child process (test/robustness/soak-clients.mjs) so that
 * their sockets count against their own descriptor limit and the server's RSS is its
 * own. Every message is accounted for (counts and an order-independent content digest
 * on both sides; each echo checked by its client), every connection closes cleanly, and
 * the server's RSS after all have closed is within 10 % of its baseline — taken after a
 * full-scale warm-up, since a cold Node process keeps part of its first growth whatever
 * the server (V8's committed heap, malloc arenas) — and so is its JavaScript heap.
 *
 * Scaled to the machine: the target needs 5,000 descriptors (+ a margin) in each of the
 * two processes; with a lower `ulimit -n` the count shrinks and a warning says so.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Server, config, extend } from '../../src/index.js';
import { HOST, listen, until, useCleanup } from '../integration/helpers.js';
import { fdLimit, settledRss } from './helpers.js';

useCleanup();

const TARGET = 5000;
const MESSAGES = 20;
const MARGIN = 300;
const MASK = (1n << 64n) - 1n;
const clientsScript = join(dirname(fileURLToPath(import.meta.url)), 'soak-clients.mjs');

interface ClientsReport {
  opened: number;
  sent: number;
  received: number;
  mismatched: number;
  digest: string;
  closed: number;
  closeCodes: Record<string, number>;
}

function connectionsForThisMachine(): number {
  const limit = fdLimit();
  if (limit === undefined || limit >= TARGET + MARGIN) return TARGET;
  const scaled = Math.max(100, limit - MARGIN);
  console.warn(`[soak] !!! the file-descriptor limit is ${limit}: soaking ${scaled} connections instead of ${TARGET} (raise it with ulimit -n 65536)`);
  return scaled;
}

function runClients(url: string, connections: number, messages: number): Promise<ClientsReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [clientsScript, url, String(connections), String(messages)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as ClientsReport);
      } catch {
        reject(new Error(`soak clients exited ${code}: ${stderr}`));
      }
    });
  });
}

describe('soak', () => {
  it(`${TARGET} concurrent connections × ${MESSAGES} messages: every message accounted for, RSS back within 10 %`, async () => {
    const n = connectionsForThisMachine();
    const server = new Server(extend(config.minimalTcp, { transport: { kind: 'tcp', noDelay: true, backlog: 4096, ipv6Only: false } }));
    let received = 0;
    let digest = 0n;
    let open = 0;
    let peak = 0;
    let cleanCloses = 0;
    const otherEnds: string[] = [];
    server.setOpenHandler(() => {
      peak = Math.max(peak, ++open);
    });
    server.setMessageHandler((hdl, msg) => {
      received++;
      digest = (digest + createHash('sha256').update(Buffer.of(msg.opcode)).update(msg.payload).digest().readBigUInt64BE(0)) & MASK;
      server.send(hdl, msg.payload, msg.opcode);
    });
    server.setCloseHandler((_hdl, con) => {
      open--;
      if (con.getRemoteCloseCode() === 1000 && con.getEc() === undefined) cleanCloses++;
      else otherEnds.push(`${con.getRemoteCloseCode()} ${con.getEc()?.code}`);
    });
    server.setFailHandler((_hdl, con) => void otherEnds.push(`fail ${con.getEc()?.code}`));
    const port = await listen(server);
    const url = `ws://${HOST}:${port}/soak`;

    // The baseline. A cold process keeps part of what the first 5,000 connections made it
    // grow (V8's committed heap and the C allocator's arenas: measured here, the same
    // with a ws server), so the baseline is taken after a first full round; a leak would
    // grow RSS and the JavaScript heap again in the second.
    const cold = await settledRss();
    const coldHeap = process.memoryUsage().heapUsed;
    const warm = await runClients(url, n, MESSAGES);
    expect(warm.received).toBe(n * MESSAGES);
    expect(warm.mismatched).toBe(0);
    await until(() => server.connectionCount === 0);
    received = 0;
    digest = 0n;
    peak = 0;
    cleanCloses = 0;
    const baseline = await settledRss(6);
    const baselineHeap = process.memoryUsage().heapUsed;

    const started = performance.now();
    const report = await runClients(url, n, MESSAGES);
    const seconds = (performance.now() - started) / 1000;
    await until(() => server.connectionCount === 0);
    const peakRss = process.memoryUsage.rss();
    const after = await settledRss(6);
    const heap = process.memoryUsage().heapUsed;
    const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;
    console.info(
      `[soak] ${n} connections, ${report.sent} messages in ${seconds.toFixed(1)} s; peak ${peak} open; server RSS: cold ${mib(cold)}, ` +
        `baseline (after the warm-up) ${mib(baseline)}, at the end ${mib(peakRss)}, after GC ${mib(after)}; heap used: cold ${mib(coldHeap)}, baseline ${mib(baselineHeap)}, after ${mib(heap)}`,
    );

    expect(report.opened).toBe(n);
    expect(peak).toBe(n); // all open at the same time
    expect(report.sent).toBe(n * MESSAGES);
    expect(report.received).toBe(report.sent);
    expect(report.mismatched).toBe(0);
    expect(received).toBe(report.sent);
    expect(digest.toString()).toBe(report.digest);
    expect(report.closeCodes).toEqual({ 1000: n });
    expect(cleanCloses).toBe(n);
    expect(otherEnds).toEqual([]);
    expect(Math.abs(after - baseline) / baseline).toBeLessThanOrEqual(0.1);
    expect(heap).toBeLessThanOrEqual(baselineHeap * 1.1);
  }, 180_000);
});
