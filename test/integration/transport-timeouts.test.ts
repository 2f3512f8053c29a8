/**
 * Transport-level timeouts: the TLS handshake (socketPostInit) on both roles, the proxy
 * exchange, and the TCP connect (a listener whose backlog is full never completes the
 * handshake of one more client), and DNS resolution through the transport's lookup.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { Client, config, extend, logging, Server, type WsppError } from '../../src/index.js';
import { cleanup, deferred, HOST, rawConnect, useCleanup } from './helpers.js';
import { testCert } from './tls-cert.js';

useCleanup();
const quiet = { access: logging.stub(), error: logging.stub() };

function failure(client: { setFailHandler(h: (hdl: never, con: { getEc(): WsppError | undefined }) => void): void }) {
  const d = deferred<WsppError | undefined>();
  client.setFailHandler((_h, con) => d.resolve(con.getEc()));
  return d.promise;
}

/** A TCP server that accepts and never says anything. */
async function silentServer(): Promise<number> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => sockets.push(s));
  await new Promise<void>((r) => server.listen(0, HOST, r));
  cleanup.server(() => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => server.close(r));
  });
  return (server.address() as net.AddressInfo).port;
}

describe('transport timeouts', () => {
  it('server: a client that never starts TLS fails at the socketPostInit timeout', async () => {
    const { cert, key } = testCert();
    const server = new Server(extend(config.tls, { logging: quiet, keepAlive: false, timeouts: { socketPostInit: 200 } }));
    server.setTlsInitHandler(() => ({ cert, key }));
    const failed = deferred<string | undefined>();
    server.setFailHandler((_h, con) => failed.resolve(con.getEc()?.code));
    const { port } = await server.listen(0, HOST);
    cleanup.server(() => server.stop());
    const socket = await rawConnect(port);
    cleanup.socket(() => socket.destroy());
    expect(await failed.promise).toBe('transport.tls_handshake_timeout');
  });

  it('client: a server that never answers the TLS hello fails at the socketPostInit timeout', async () => {
    const port = await silentServer();
    const client = new Client(extend(config.tlsClient, { logging: quiet, timeouts: { socketPostInit: 200 } }));
    const ec = failure(client as never);
    client.connect(client.getConnection(`wss://127.0.0.1:${port}/`));
    expect((await ec)?.code).toBe('transport.tls_handshake_timeout');
  });

  it('client: a proxy that never answers CONNECT fails at the proxy timeout', async () => {
    const port = await silentServer();
    const client = new Client(extend(config.tcpClient, { logging: quiet, timeouts: { proxy: 200 } }));
    const ec = failure(client as never);
    const con = client.getConnection('ws://example.invalid:80/');
    expect(con.setProxy(`http://127.0.0.1:${port}`)).toBeUndefined();
    client.connect(con);
    const err = await ec;
    expect(err?.code).toBe('transport.proxy_failed');
    expect(err?.message).toMatch(/timed out/);
  });

  it('client: an unknown host fails with invalid_host_service, an invalid proxy URL is refused', async () => {
    const client = new Client(extend(config.tcpClient, { logging: quiet }));
    const ec = failure(client as never);
    client.connect(client.getConnection('ws://no-such-host.invalid/'));
    expect(['transport.invalid_host_service', 'transport.timeout']).toContain((await ec)?.code);
    expect(client.getConnection('ws://127.0.0.1/').setProxy('socks5://127.0.0.1:1080')?.code).toBe('transport.proxy_invalid');
  });

  it('client: a DNS lookup that never answers fails at the dnsResolve timeout; the transport lookup is used', async () => {
    const asked: string[] = [];
    const never: net.LookupFunction = (hostname) => void asked.push(hostname);
    const client = new Client(
      extend(config.tcpClient, { logging: quiet, transport: { kind: 'tcp', noDelay: true, backlog: 511, ipv6Only: false, lookup: never }, timeouts: { dnsResolve: 200 } }),
    );
    const ec = failure(client as never);
    client.connect(client.getConnection('ws://slow-dns.test/'));
    const err = await ec;
    expect(err?.code).toBe('transport.timeout');
    expect(err?.message).toMatch(/DNS resolution of slow-dns\.test timed out/);
    expect(asked).toEqual(['slow-dns.test']);
  });

  it('client: a lookup error fails with invalid_host_service; a lookup answer is dialled', async () => {
    const failing: net.LookupFunction = (_hostname, _options, callback) =>
      callback(Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.test'), { code: 'ENOTFOUND' }), '', 4);
    const bad = new Client(extend(config.tcpClient, { logging: quiet, transport: { kind: 'tcp', noDelay: true, backlog: 511, ipv6Only: false, lookup: failing } }));
    const ec = failure(bad as never);
    bad.connect(bad.getConnection('ws://nowhere.test/'));
    const err = await ec;
    expect(err?.code).toBe('transport.invalid_host_service');
    expect(err?.message).toMatch(/nowhere\.test: getaddrinfo ENOTFOUND/);

    // A resolver that maps the name to our local server: the client connects there and
    // still sends the name in Host.
    const server = new Server(config.minimalTcp);
    const host = deferred<string | undefined>();
    server.setOpenHandler((_hdl, con) => host.resolve(con.getRequestHeader('host')));
    const listening = await server.listen(0, HOST);
    cleanup.server(() => server.stop());
    const local: net.LookupFunction = (_hostname, _options, callback) => callback(null, HOST, 4);
    const good = new Client(extend(config.tcpClient, { logging: quiet, transport: { kind: 'tcp', noDelay: true, backlog: 511, ipv6Only: false, lookup: local } }));
    const opened = deferred<void>();
    good.setOpenHandler(() => opened.resolve());
    const con = good.getConnection(`ws://local-alias.test:${listening.port}/`);
    good.connect(con);
    await opened.promise;
    expect(await host.promise).toBe(`local-alias.test:${listening.port}`);
    con.close(1000);
  });

  it('client: a TCP connect that never completes fails at the connect timeout', async () => {
    // A listener that never accepts: once its backlog is full, the kernel drops further SYNs.
    const python = '/usr/bin/python3';
    const child: ChildProcess = spawn(python, ['-c', [
      'import socket, sys, time',
      's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)',
      'print(s.getsockname()[1], flush=True)',
      'time.sleep(30)',
    ].join('\n')], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanup.server(() => child.kill());
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
      child.once('error', reject);
    });
    // Fill the accept queue with connections nobody accepts.
    for (let i = 0; i < 4; i++) {
      const s = net.connect(port, HOST);
      s.on('error', () => undefined);
      cleanup.socket(() => s.destroy());
    }
    await new Promise((r) => setTimeout(r, 100));
    const client = new Client(extend(config.tcpClient, { logging: quiet, timeouts: { connect: 300 } }));
    const ec = failure(client as never);
    client.connect(client.getConnection(`ws://127.0.0.1:${port}/`));
    const err = await ec;
    // Either the connect timed out, or the kernel completed it and the opening handshake did.
    expect(['transport.timeout', 'websocket.open_handshake_timeout']).toContain(err?.code);
  });
});
