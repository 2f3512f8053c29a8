/**
 * Helpers for the integration tests: real sockets on 127.0.0.1, port 0, and a cleanup
 * list every test file drains in afterEach (clients first, then servers).
 */
import { once } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import { randomBytes, createHash } from 'node:crypto';
import WebSocket, { WebSocketServer } from 'ws';
import { afterEach } from 'vitest';
import { encodeFrame } from '../../src/protocol/frame.js';
import type { ConnectionHdl } from '../../src/index.js';

export const HOST = '127.0.0.1';

// --- cleanup -------------------------------------------------------------------------

type Task = () => unknown;

/** Everything a test opened; closed in reverse order of priority (sockets, then servers). */
class Cleanup {
  private sockets: Task[] = [];
  private servers: Task[] = [];

  /** Client sockets, ws clients, wspp client connections: closed first. */
  socket(task: Task): void {
    this.sockets.push(task);
  }

  /** Listening servers: closed after the sockets. */
  server(task: Task): void {
    this.servers.push(task);
  }

  async run(): Promise<void> {
    const sockets = this.sockets.splice(0);
    const servers = this.servers.splice(0);
    for (const task of sockets.reverse()) {
      try {
        await task();
      } catch {
        // already closed
      }
    }
    for (const task of servers.reverse()) {
      try {
        await task();
      } catch {
        // already closed
      }
    }
  }
}

export const cleanup = new Cleanup();

/** Call at the top level of a test file. */
export function useCleanup(): void {
  afterEach(async () => {
    await cleanup.run();
  });
}

/** Wait at most `ms` for a promise (cleanup only: never a timing assertion). */
export function bounded<T>(promise: Promise<T>, ms: number): Promise<T | 'timed out'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('timed out'), ms);
    void promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      () => {
        clearTimeout(timer);
        resolve('timed out');
      },
    );
  });
}

/** A wspp server endpoint (anything with stop/stopListening): stopped at cleanup. */
export function trackServer(server: { stop(): Promise<void>; stopListening?(): Promise<void> }): void {
  cleanup.server(async () => {
    // stop() waits for every connection to end; a library bug must not hang the suite.
    if (server.stopListening !== undefined) await bounded(server.stopListening(), 1000);
    await bounded(server.stop(), 1000);
  });
}

/** A wspp connection: terminated at cleanup if still alive. */
export function trackCon(con: { state: string; terminate(): void }): void {
  cleanup.socket(() => {
    if (con.state !== 'closed' && con.state !== 'failed') con.terminate();
  });
}

// --- small utilities -------------------------------------------------------------------

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll until `check` holds (bounded by the test timeout). */
export async function until(check: () => boolean, step = 5): Promise<void> {
  while (!check()) await sleep(step);
}

/** A port nobody listens on: bound, then released. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, HOST);
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

// --- ws peers ------------------------------------------------------------------------------

/** A ws client, terminated at cleanup. Resolves once open. */
export async function wsConnect(url: string, protocols?: string | string[], options?: WebSocket.ClientOptions): Promise<WebSocket> {
  const ws = trackWs(new WebSocket(url, protocols, options));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return ws;
}

/** Track a ws client for cleanup (and swallow late errors). */
export function trackWs(ws: WebSocket): WebSocket {
  ws.on('error', () => undefined);
  cleanup.socket(() => ws.terminate());
  return ws;
}

/** The next message of a ws client. */
export function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve) => {
    ws.once('message', (data, isBinary) => resolve({ data: toBuffer(data), isBinary }));
  });
}

/** The ws client's close event. */
export function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.reject(new Error('already closed'));
  return new Promise((resolve) => {
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
}

/** Why a ws client failed to open (error message, e.g. "Unexpected server response: 403"). */
export function wsOpenError(ws: WebSocket): Promise<Error> {
  return new Promise((resolve, reject) => {
    ws.once('open', () => reject(new Error('unexpectedly opened')));
    ws.once('error', resolve);
  });
}

export function toBuffer(data: WebSocket.RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** A ws WebSocketServer on 127.0.0.1:0, closed at cleanup. */
export async function wsServer(options: WebSocket.ServerOptions = {}): Promise<{ wss: WebSocketServer; port: number; url: string }> {
  const wss = new WebSocketServer({ host: HOST, port: 0, ...options });
  await once(wss, 'listening');
  const { port } = wss.address() as net.AddressInfo;
  cleanup.server(async () => {
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((r) => wss.close(() => r()));
  });
  return { wss, port, url: `ws://${HOST}:${port}` };
}

/** A plain node:http server on 127.0.0.1:0, closed at cleanup. */
export async function httpServer(handler: http.RequestListener): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer(handler);
  server.listen(0, HOST);
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  cleanup.server(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { server, port };
}

/** One plain HTTP GET; resolves with status, headers and body. */
export function httpGet(port: number, path: string, headers: http.OutgoingHttpHeaders = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: HOST, port, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

// --- raw TCP peers -------------------------------------------------------------------------

/** Resolves when the socket has closed (a reset counts: events.once would reject on 'error'). */
export function socketClosed(socket: net.Socket): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

/** A raw TCP socket to the port, destroyed at cleanup. */
export async function rawConnect(port: number, allowHalfOpen = false): Promise<net.Socket> {
  const socket = net.connect({ host: HOST, port, allowHalfOpen });
  socket.on('error', () => undefined);
  cleanup.socket(() => socket.destroy());
  await once(socket, 'connect');
  return socket;
}

export function upgradeRequest(port: number, path = '/', key = randomBytes(16).toString('base64')): string {
  return (
    `GET ${path} HTTP/1.1\r\n` +
    `Host: ${HOST}:${port}\r\n` +
    'Upgrade: websocket\r\n' +
    'Connection: Upgrade\r\n' +
    `Sec-WebSocket-Key: ${key}\r\n` +
    'Sec-WebSocket-Version: 13\r\n\r\n'
  );
}

export function acceptFor(key: string): string {
  return createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
}

/**
 * A raw socket that completed the opening handshake by hand. `frames` collects the
 * server's (unmasked) frames as they arrive; the socket never answers anything itself.
 */
export interface RawPeer {
  socket: net.Socket;
  frames: { opcode: number; fin: boolean; payload: Buffer }[];
  /** Resolves with the next frame of this opcode (or any). */
  nextFrame(opcode?: number): Promise<{ opcode: number; fin: boolean; payload: Buffer }>;
  /** Send a masked frame. */
  send(opcode: number, payload?: Uint8Array | string, fin?: boolean): void;
  closedPromise: Promise<void>;
}

export async function rawPeer(port: number, path = '/', allowHalfOpen = false): Promise<RawPeer> {
  const socket = await rawConnect(port, allowHalfOpen);
  const key = randomBytes(16).toString('base64');
  socket.write(upgradeRequest(port, path, key));
  let buffered = Buffer.alloc(0);
  const closedPromise = socketClosed(socket);
  // The head.
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const head = buffered.subarray(0, end).toString('latin1');
      buffered = buffered.subarray(end + 4);
      if (!head.startsWith('HTTP/1.1 101')) return reject(new Error(`handshake failed: ${head.split('\r\n')[0]}`));
      if (!head.toLowerCase().includes(`sec-websocket-accept: ${acceptFor(key).toLowerCase()}`)) return reject(new Error('bad accept'));
      resolve();
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error('closed during handshake')));
  });
  const frames: RawPeer['frames'] = [];
  const waiters: { opcode: number | undefined; resolve: (f: RawPeer['frames'][number]) => void }[] = [];
  const parse = (): void => {
    for (;;) {
      if (buffered.length < 2) return;
      const b0 = buffered[0]!;
      const b1 = buffered[1]!;
      let len = b1 & 0x7f;
      let offset = 2;
      if (len === 126) {
        if (buffered.length < 4) return;
        len = buffered.readUInt16BE(2);
        offset = 4;
      } else if (len === 127) {
        if (buffered.length < 10) return;
        len = Number(buffered.readBigUInt64BE(2));
        offset = 10;
      }
      if ((b1 & 0x80) !== 0) throw new Error('server frames must not be masked');
      if (buffered.length < offset + len) return;
      const frame = { opcode: b0 & 0x0f, fin: (b0 & 0x80) !== 0, payload: Buffer.from(buffered.subarray(offset, offset + len)) };
      buffered = buffered.subarray(offset + len);
      frames.push(frame);
      const i = waiters.findIndex((w) => w.opcode === undefined || w.opcode === frame.opcode);
      if (i >= 0) waiters.splice(i, 1)[0]!.resolve(frame);
    }
  };
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    parse();
  });
  parse();
  return {
    socket,
    frames,
    closedPromise,
    nextFrame(opcode?: number) {
      const have = frames.find((f) => opcode === undefined || f.opcode === opcode);
      if (have !== undefined) return Promise.resolve(have);
      return new Promise((resolve) => waiters.push({ opcode, resolve }));
    },
    send(opcode: number, payload: Uint8Array | string = '', fin = true) {
      const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
      socket.write(encodeFrame(opcode, bytes, { fin, maskKey: randomBytes(4) }));
    },
  };
}

/** A close frame payload: code + reason. */
export function closePayload(code: number, reason = ''): Buffer {
  const out = Buffer.alloc(2 + Buffer.byteLength(reason));
  out.writeUInt16BE(code, 0);
  out.write(reason, 2);
  return out;
}

// --- wspp servers ------------------------------------------------------------------------

interface Listening {
  listen(port: number, options?: string): Promise<{ port: number }>;
  stop(): Promise<void>;
  stopListening(): Promise<void>;
}

/** Listen on 127.0.0.1:0; the server is stopped at cleanup. Resolves with the port. */
export async function listen(server: Listening): Promise<number> {
  trackServer(server);
  const { port } = await server.listen(0, HOST);
  return port;
}

/**
 * Listens (see listen), connects a ws client and resolves once the server has opened the
 * connection: the port, the client and the server-side handle. Sets the open handler.
 */
export async function connectedPeer(
  server: Listening & { setOpenHandler(handler: (hdl: ConnectionHdl) => void): void },
): Promise<{ port: number; ws: WebSocket; hdl: ConnectionHdl }> {
  const opened = deferred<ConnectionHdl>();
  server.setOpenHandler((hdl) => opened.resolve(hdl));
  const port = await listen(server);
  const ws = await wsConnect(`ws://${HOST}:${port}/`);
  return { port, ws, hdl: await opened.promise };
}
