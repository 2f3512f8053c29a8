/**
 * Endpoint lifecycle: perpetual mode (and that a client does not keep the process alive
 * on its own), the opt-in connection registry, and a clean stop().
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Client, Server, WsppError, config, extend } from '../../src/index.js';
import { HOST, bounded, cleanup, closed, deferred, listen, rawConnect, until, useCleanup, wsConnect, wsServer } from './helpers.js';

useCleanup();

const DIST = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

/** Run an ES module snippet in a child node; resolves with its exit code and output. */
function runChild(source: string, args: string[] = []): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', source, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    cleanup.socket(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

describe('perpetual mode', () => {
  it('startPerpetual()/stopPerpetual() toggle isPerpetual on both roles', () => {
    const server = new Server(config.minimalTcp);
    const client = new Client(config.minimalTcpClient);
    for (const endpoint of [server, client]) {
      expect(endpoint.isPerpetual).toBe(false);
      endpoint.startPerpetual();
      expect(endpoint.isPerpetual).toBe(true);
      endpoint.startPerpetual(); // idempotent
      expect(endpoint.isPerpetual).toBe(true);
      endpoint.stopPerpetual();
      expect(endpoint.isPerpetual).toBe(false);
    }
  });

  it('server.stop() also ends perpetual mode', async () => {
    const server = new Server(config.minimalTcp);
    await listen(server);
    server.startPerpetual();
    await server.stop();
    expect(server.isPerpetual).toBe(false);
    expect(server.isListening).toBe(false);
  });

  describe('in a child process (dist/)', () => {
    it.runIf(existsSync(DIST))('a client endpoint alone does not keep the process alive', async () => {
      const result = await runChild(`
        import { Client, config } from ${JSON.stringify(DIST)};
        const client = new Client(config.minimalTcpClient);
        client.getConnection('ws://127.0.0.1:1/'); // made, never connected
        console.log('made');
      `);
      expect(result).toMatchObject({ code: 0, signal: null, stdout: 'made\n' });
    });

    it.runIf(existsSync(DIST))('a client that connected and closed lets the process end', async () => {
      const { wss, port } = await wsServer();
      wss.on('connection', (ws) => ws.on('message', (d) => ws.send(d)));
      const result = await runChild(
        `
        import { Client, config } from ${JSON.stringify(DIST)};
        const client = new Client(config.minimalTcpClient);
        const con = client.getConnection('ws://127.0.0.1:' + process.argv[1] + '/');
        con.setOpenHandler((hdl) => client.send(hdl, 'ping'));
        con.setMessageHandler((hdl, msg) => { console.log('got ' + msg.text); client.close(hdl, 1000); });
        con.setCloseHandler(() => console.log('closed'));
        client.connect(con);
      `,
        [String(port)],
      );
      expect(result).toMatchObject({ code: 0, signal: null, stdout: 'got ping\nclosed\n' });
    });

    it.runIf(existsSync(DIST))('startPerpetual() keeps the process alive until stopPerpetual()', async () => {
      const result = await runChild(`
        import { Client, config } from ${JSON.stringify(DIST)};
        const client = new Client(config.minimalTcpClient);
        client.startPerpetual();
        // An unref'd timer alone would not keep the process alive: perpetual mode does.
        setTimeout(() => { console.log('still alive'); client.stopPerpetual(); }, 100).unref();
      `);
      expect(result).toMatchObject({ code: 0, signal: null, stdout: 'still alive\n' });
    });
  });
});

describe('connection registry and stop()', () => {
  it('with registry: true, connections() lists the open connections; stop() closes each with 1001 and resolves', async () => {
    const server = new Server(extend(config.minimalTcp, { registry: true }));
    let opened = 0;
    server.setOpenHandler(() => void opened++);
    const closes: number[] = [];
    server.setCloseHandler((_hdl, con) => void closes.push(con.getLocalCloseCode()));
    const port = await listen(server);
    const clients = await Promise.all([1, 2, 3].map(() => wsConnect(`ws://${HOST}:${port}/`)));
    await until(() => opened === 3);
    const listed = [...server.connections()];
    expect(listed).toHaveLength(3);
    expect(listed.every((con) => con.state === 'open')).toBe(true);
    expect(new Set(listed.map((con) => con.hdl.id)).size).toBe(3);

    // One leaves: it leaves the registry.
    clients[0]!.close(1000);
    await until(() => closes.length === 1);
    expect([...server.connections()]).toHaveLength(2);

    const wsCloses = clients.slice(1).map((ws) => closed(ws));
    // Bounded so that a stop() that never resolves fails this test instead of hanging it.
    expect(await bounded(server.stop(), 2000)).not.toBe('timed out');
    expect((await Promise.all(wsCloses)).map((c) => c.code)).toEqual([1001, 1001]);
    expect(closes).toEqual([1000, 1001, 1001]);
    expect([...server.connections()]).toHaveLength(0);
    expect(server.connectionCount).toBe(0);
    expect(server.isListening).toBe(false);
  });

  it('without a registry too, stop() closes every connection with 1001 (the first, a middle and the last opened) and resolves', async () => {
    const server = new Server(config.minimalTcp);
    let opened = 0;
    server.setOpenHandler(() => void opened++);
    const closes: number[] = [];
    server.setCloseHandler((_hdl, con) => void closes.push(con.getLocalCloseCode()));
    const port = await listen(server);
    const clients = [];
    for (let i = 0; i < 5; i++) clients.push(await wsConnect(`ws://${HOST}:${port}/`));
    await until(() => opened === 5);
    // Connections leaving from the head, the middle and the tail of the endpoint's list.
    for (const i of [4, 2, 0]) clients[i]!.close(1000);
    await until(() => closes.length === 3);
    expect(server.connectionCount).toBe(2);
    const wsCloses = [clients[1]!, clients[3]!].map((ws) => closed(ws));
    expect(await bounded(server.stop(), 2000)).not.toBe('timed out');
    expect((await Promise.all(wsCloses)).map((c) => c.code)).toEqual([1001, 1001]);
    expect(closes).toEqual([1000, 1000, 1000, 1001, 1001]);
    expect(server.connectionCount).toBe(0);
  });

  it('stop() also ends connections still in the opening handshake', async () => {
    const server = new Server(config.minimalTcp);
    const failed = deferred<string | undefined>();
    server.setFailHandler((_hdl, con) => failed.resolve(con.getEc()?.code));
    const port = await listen(server);
    await rawConnect(port); // never sends a request
    await until(() => server.connectionCount === 1);
    expect(await bounded(server.stop(), 2000)).not.toBe('timed out');
    expect(await bounded(failed.promise, 100)).toBe('websocket.operation_canceled');
    expect(server.connectionCount).toBe(0);
  });

  it('stop(code, reason) passes its code and reason', async () => {
    const server = new Server(extend(config.minimalTcp, { registry: true }));
    let opened = 0;
    server.setOpenHandler(() => void opened++);
    const port = await listen(server);
    const ws = await wsConnect(`ws://${HOST}:${port}/`);
    await until(() => opened === 1);
    const wsClosed = closed(ws);
    expect(await bounded(server.stop(1012, 'restarting'), 2000)).not.toBe('timed out');
    expect(await wsClosed).toEqual({ code: 1012, reason: 'restarting' });
  });

  it('without a registry, connections() is refused at run time (and by the types)', () => {
    const server = new Server(config.minimalTcp);
    expect(() => (server as unknown as { connections(): unknown }).connections()).toThrow(WsppError);
  });

  it('stopListening() closes the port and keeps open connections', async () => {
    const server = new Server(config.minimalTcp);
    server.setMessageHandler((hdl, msg) => server.send(hdl, msg.payload, msg.opcode));
    const port = await listen(server);
    const ws = await wsConnect(`ws://${HOST}:${port}/`);
    // Resolves once the port is closed, without waiting for the open connections to end.
    expect(await bounded(server.stopListening(), 2000)).not.toBe('timed out');
    expect(server.isListening).toBe(false);
    expect(server.address()).toBeUndefined();
    const got = new Promise<string>((r) => ws.once('message', (d: Buffer) => r(d.toString())));
    ws.send('still open');
    expect(await got).toBe('still open');
    await expect(wsConnect(`ws://${HOST}:${port}/`)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('listen() on a port in use resolves tryListen with an error, and listen rejects', async () => {
    const first = new Server(config.minimalTcp);
    const port = await listen(first);
    const second = new Server(config.minimalTcp);
    const result = await second.tryListen(port, HOST);
    expect(result).toBeInstanceOf(WsppError);
    expect((result as WsppError).message).toMatch(/EADDRINUSE/);
    await expect(second.listen(port, HOST)).rejects.toBeInstanceOf(WsppError);
    expect(second.isListening).toBe(false);
  });
});
