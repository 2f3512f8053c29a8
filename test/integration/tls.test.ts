import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Client, config, extend, Server, WsppError, logging } from '../../src/index.js';
import { testCert } from './tls-cert.js';

const quiet = { access: logging.stub(), error: logging.stub() };
const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function tlsEchoServer() {
  const { cert, key } = testCert();
  const server = new Server(extend(config.tls, { logging: quiet, registry: true, keepAlive: false }));
  const sni: string[] = [];
  server.setTlsInitHandler(() => ({ cert, key }));
  server.setTcpPostInitHandler((_hdl, con) => sni.push(con.getRemoteEndpoint()));
  server.setMessageHandler((hdl, msg) => server.send(hdl, msg.payload, msg.opcode));
  const { port } = await server.listen(0, '127.0.0.1');
  cleanups.push(() => server.stop());
  return { server, port, sni };
}

describe('tls transport', () => {
  it('serves wss:// to a ws client, with the context from the tlsInit handler', async () => {
    const { port, sni } = await tlsEchoServer();
    const ws = new WebSocket(`wss://127.0.0.1:${port}/secure`, { rejectUnauthorized: false });
    cleanups.push(() => ws.terminate());
    const echoed = await new Promise<string>((resolve, reject) => {
      ws.on('open', () => ws.send('over tls'));
      ws.on('message', (data) => resolve(data.toString()));
      ws.on('error', reject);
    });
    expect(echoed).toBe('over tls');
    expect(sni).toHaveLength(1);
  });

  it('a wspp tls client talks to the wspp tls server, verifying the certificate with a CA', async () => {
    const { port } = await tlsEchoServer();
    const client = new Client(extend(config.tlsClient, { logging: quiet }));
    client.setTlsInitHandler(() => ({ ca: testCert().cert }));
    const got = await new Promise<string>((resolve, reject) => {
      client.setOpenHandler((hdl) => client.send(hdl, 'hello tls'));
      client.setMessageHandler((hdl, msg) => {
        resolve(msg.text);
        client.close(hdl, 1000, 'done');
      });
      client.setFailHandler((_hdl, con) => reject(con.getEc()));
      client.connect(client.getConnection(`wss://localhost:${port}/`));
    });
    expect(got).toBe('hello tls');
  });

  it('fails with a typed error when the certificate is not trusted', async () => {
    const { port } = await tlsEchoServer();
    const client = new Client(extend(config.tlsClient, { logging: quiet }));
    const ec = await new Promise<WsppError | undefined>((resolve) => {
      client.setFailHandler((_hdl, con) => resolve(con.getEc()));
      client.setOpenHandler(() => resolve(undefined));
      client.connect(client.getConnection(`wss://127.0.0.1:${port}/`));
    });
    expect(ec?.code).toBe('transport.tls_handshake_failed');
  });

  it('a tls server without a tlsInit handler fails each connection with missing_tls_init_handler', async () => {
    const server = new Server(extend(config.tls, { logging: quiet, keepAlive: false }));
    const { port } = await server.listen(0, '127.0.0.1');
    cleanups.push(() => server.stop());
    const failed = new Promise<string | undefined>((resolve) => server.setFailHandler((_h, con) => resolve(con.getEc()?.code)));
    const ws = new WebSocket(`wss://127.0.0.1:${port}/`, { rejectUnauthorized: false });
    ws.on('error', () => undefined);
    cleanups.push(() => ws.terminate());
    expect(await failed).toBe('transport.missing_tls_init_handler');
  });

  it('a tls client refuses ws:// URIs at run time', () => {
    const client = new Client(extend(config.tlsClient, { logging: quiet }));
    const result = client.tryGetConnection('ws://127.0.0.1:1/' as `wss://${string}`);
    expect(result).toBeInstanceOf(WsppError);
    expect((result as WsppError).code).toBe('websocket.invalid_uri');
  });
});
