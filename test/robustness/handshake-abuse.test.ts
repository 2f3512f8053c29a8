/**
 * Handshake abuse against a wspp server: a 1 MiB request head, 10,000 headers, a 64 KiB
 * Sec-WebSocket-Protocol value, and a slowloris crowd (200 connections sending their
 * request one byte per second). The server answers with the right status or drops the
 * connection, never buffers past its limits, and keeps answering fresh clients.
 */
import type * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Server, config, extend } from '../../src/index.js';
import { testCert } from '../integration/tls-cert.js';
import type { Settings } from './helpers.js';
import { HOST, listen, nextMessage, rawConnect, socketClosed, trackWs, until, upgradeRequest, useCleanup, wsConnect } from '../integration/helpers.js';

useCleanup();

function echoServer(overrides: Settings = {}) {
  const server = new Server(extend(config.minimalTcp, overrides));
  server.setMessageHandler((hdl, msg) => server.send(hdl, msg.payload, msg.opcode));
  const fails: { code: string | undefined; status: number | undefined }[] = [];
  server.setFailHandler((_hdl, con) => fails.push({ code: con.getEc()?.code, status: con.getEc()?.status }));
  return { server, fails };
}

/** A fresh ws client connects and gets an echo; resolves with the time it took (ms). */
async function freshEcho(port: number): Promise<number> {
  const started = performance.now();
  const ws = await wsConnect(`ws://${HOST}:${port}/fresh`);
  const got = nextMessage(ws);
  ws.send('fresh');
  expect((await got).data.toString()).toBe('fresh');
  const took = performance.now() - started;
  ws.close();
  return took;
}

/**
 * Write `head` in 16 KiB slices, stopping once the server answered or closed. Resolves
 * with the server's answer (text) and how many bytes were written.
 */
async function sendHead(socket: net.Socket, head: Buffer): Promise<{ answer: string; written: number }> {
  let answer = '';
  let done = false;
  socket.on('data', (chunk: Buffer) => {
    answer += chunk.toString('latin1');
    done = true;
  });
  const closed = socketClosed(socket).then(() => (done = true));
  let written = 0;
  while (!done && written < head.length && !socket.destroyed) {
    const slice = head.subarray(written, written + 16 * 1024);
    written += slice.length;
    await new Promise<void>((resolve) => socket.write(slice, () => resolve()));
    // Give the server a moment to answer before the next slice (the kernel would take
    // the whole megabyte at once otherwise).
    for (let i = 0; i < 10 && !done; i++) await new Promise((r) => setTimeout(r, 5));
  }
  await closed;
  return { answer, written };
}

const statusOf = (answer: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);

describe('handshake abuse', () => {
  it('a 1 MiB request head: 431, cut off at maxHttpHeadSize, the server keeps serving', async () => {
    const { server, fails } = echoServer();
    const port = await listen(server);
    const socket = await rawConnect(port);
    const head = Buffer.from(`GET / HTTP/1.1\r\nHost: ${HOST}\r\nX-Pad: ${'a'.repeat(1024 * 1024)}\r\n\r\n`, 'latin1');
    const { answer, written } = await sendHead(socket, head);
    expect(statusOf(answer)).toBe(431);
    // The server decided at its 16,000-byte limit: after the first slices, not the megabyte.
    expect(written).toBeLessThanOrEqual(64 * 1024);
    await until(() => fails.length === 1);
    expect(fails[0]).toEqual({ code: 'http.head_too_large', status: 431 });
    await freshEcho(port);
  });

  it('10,000 headers: 431 at maxHttpHeaders (100)', async () => {
    const { server, fails } = echoServer();
    const port = await listen(server);
    const socket = await rawConnect(port);
    let text = upgradeRequest(port).replace(/\r\n\r\n$/, '\r\n');
    for (let i = 0; i < 10_000; i++) text += `X-H${i}: v\r\n`;
    const { answer } = await sendHead(socket, Buffer.from(`${text}\r\n`, 'latin1'));
    expect(statusOf(answer)).toBe(431);
    await until(() => fails.length === 1);
    expect(fails[0]?.code).toBe('http.too_many_headers');
    await freshEcho(port);
  });

  it('10,000 headers under raised limits: parsed (linearly) and the upgrade accepted', async () => {
    const { server } = echoServer({ maxHttpHeadSize: 1024 * 1024, maxHttpHeaders: 20_000 });
    let seen = 0;
    server.setValidateHandler((_hdl, con) => {
      seen = con.getRequestHeaders()?.size ?? 0;
      return true;
    });
    const port = await listen(server);
    const socket = await rawConnect(port);
    let text = upgradeRequest(port).replace(/\r\n\r\n$/, '\r\n');
    for (let i = 0; i < 10_000; i++) text += `X-H${i}: v\r\n`;
    socket.write(`${text}\r\n`);
    const answer = await new Promise<string>((resolve) => socket.once('data', (c: Buffer) => resolve(c.toString('latin1'))));
    expect(statusOf(answer)).toBe(101);
    expect(seen).toBeGreaterThanOrEqual(10_000);
  });

  describe('a 64 KiB Sec-WebSocket-Protocol value', () => {
    const size = 64 * 1024;
    const values: [string, string, number][] = [
      // 16,384 distinct tokens: valid; none selected.
      ['16,384 distinct tokens', Array.from({ length: 16_384 }, (_, i) => `p${i.toString(36)}`).join(',').slice(0, size).replace(/,[^,]*$/, ''), 101],
      // One token repeated: a duplicate is a parse error.
      ['one token repeated', 'a,'.repeat(size / 2 - 1) + 'a', 400],
      // Only separators and spaces: an empty list.
      ['only separators and spaces', ', '.repeat(size / 2), 101],
      // Backtracking bait: a long run of spaces between two tokens inside one element.
      ['a 64 KiB run of spaces inside an element', `a${' '.repeat(size - 2)}b`, 400],
      // Backtracking bait: token characters and a trailing invalid character.
      ['64 KiB of token characters then a bad one', `${'a'.repeat(size - 1)}@`, 400],
    ];

    it.each(values)('%s: answered (%#)', async (_name, value, status) => {
      const { server } = echoServer({ maxHttpHeadSize: 256 * 1024 });
      let offered = -1;
      server.setValidateHandler((_hdl, con) => {
        offered = con.getRequestedSubprotocols().length;
        return true;
      });
      const port = await listen(server);
      const socket = await rawConnect(port);
      const head = upgradeRequest(port).replace(/\r\n\r\n$/, `\r\nSec-WebSocket-Protocol: ${value}\r\n\r\n`);
      const started = performance.now();
      socket.write(head);
      const answer = await new Promise<string>((resolve) => socket.once('data', (c: Buffer) => resolve(c.toString('latin1'))));
      const took = performance.now() - started;
      // Linear time is not asserted as a duration (shared machines); a quadratic or
      // backtracking parser would run into the test timeout. The time is reported.
      console.info(`[robustness] Sec-WebSocket-Protocol of ${value.length} bytes (${_name}): ${took.toFixed(1)} ms`);
      expect(statusOf(answer)).toBe(status);
      if (status === 101) expect(offered).toBeGreaterThanOrEqual(0);
      await freshEcho(port);
    });

    it('over the default 16,000-byte head limit it is simply too large: 431', async () => {
      const { server, fails } = echoServer();
      const port = await listen(server);
      const socket = await rawConnect(port);
      const head = upgradeRequest(port).replace(/\r\n\r\n$/, `\r\nSec-WebSocket-Protocol: ${'a,'.repeat(size / 2)}\r\n\r\n`);
      const { answer } = await sendHead(socket, Buffer.from(head, 'latin1'));
      expect(statusOf(answer)).toBe(431);
      await until(() => fails.length === 1);
      expect(fails[0]?.code).toBe('http.head_too_large');
    });
  });

  it('slowloris: 200 connections at one byte per second are all dropped at the openHandshake timeout; a fresh client is served meanwhile', async () => {
    const timeout = 1500;
    const { server, fails } = echoServer({ timeouts: { openHandshake: timeout } });
    const port = await listen(server);
    const request = Buffer.from(upgradeRequest(port), 'latin1');
    const sockets = await Promise.all(Array.from({ length: 200 }, () => rawConnect(port)));
    const gone = sockets.map((s) => socketClosed(s));
    let offset = 0;
    const drip = (): void => {
      for (const s of sockets) if (!s.destroyed) s.write(request.subarray(offset, offset + 1));
      offset++;
    };
    drip();
    const timer = setInterval(drip, 1000);
    try {
      // While the crowd holds its connections open, a fresh client is served. The issue
      // says "within 100 ms"; on shared, noisy machines the bound is a generous 2 s.
      await until(() => server.connectionCount >= 200);
      await new Promise((r) => setTimeout(r, 300));
      const during = await freshEcho(port);
      console.info(`[robustness] fresh client during slowloris: ${during.toFixed(1)} ms`);
      expect(during).toBeLessThan(2000);

      // All 200 end at the open-handshake timeout.
      await Promise.all(gone);
      expect(fails).toHaveLength(200);
      expect(new Set(fails.map((f) => f.code))).toEqual(new Set(['websocket.open_handshake_timeout']));
      expect(offset).toBeLessThan(request.length); // none ever completed its request
      await until(() => server.connectionCount === 0);

      const after = await freshEcho(port);
      expect(after).toBeLessThan(2000);
    } finally {
      clearInterval(timer);
    }
  });

  it('slowloris over TLS: 50 connections trickling a ClientHello are dropped at the socketPostInit timeout; wss clients are served', async () => {
    const { cert, key } = testCert();
    const server = new Server(extend(config.tls, { logging: config.minimal.logging, keepAlive: false, timeouts: { socketPostInit: 1000 } }));
    server.setTlsInitHandler(() => ({ cert, key }));
    server.setMessageHandler((hdl, msg) => server.send(hdl, msg.payload, msg.opcode));
    const fails: (string | undefined)[] = [];
    server.setFailHandler((_hdl, con) => void fails.push(con.getEc()?.code));
    const port = await listen(server);
    // The first bytes of a TLS 1.2+ ClientHello record, one per 300 ms.
    const hello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);
    const sockets = await Promise.all(Array.from({ length: 50 }, () => rawConnect(port)));
    const gone = sockets.map((s) => socketClosed(s));
    let offset = 0;
    const timer = setInterval(() => {
      for (const s of sockets) if (!s.destroyed) s.write(hello.subarray(offset % hello.length, (offset % hello.length) + 1));
      offset++;
    }, 300);
    try {
      const ws = trackWs(new WebSocket(`wss://${HOST}:${port}/fresh`, { rejectUnauthorized: false }));
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      const got = nextMessage(ws);
      ws.send('fresh over tls');
      expect((await got).data.toString()).toBe('fresh over tls');
      await Promise.all(gone);
      expect(fails).toHaveLength(50);
      expect(new Set(fails)).toEqual(new Set(['transport.tls_handshake_timeout']));
    } finally {
      clearInterval(timer);
    }
  });
});
