import { describe, expect, it } from 'vitest';
import { Client, config, extend, Server } from '../../src/index.js';

describe('IPv6 loopback', () => {
  it('a server on ::1 and a client to ws://[::1]:PORT/ echo', async () => {
    const server = new Server(extend(config.minimalTcp, { registry: true }));
    server.setMessageHandler((hdl, msg) => server.send(hdl, msg.payload, msg.opcode));
    let port: number;
    try {
      ({ port } = await server.listen(0, '::1'));
    } catch (err) {
      console.warn(`IPv6 loopback unavailable here, test skipped: ${(err as Error).message}`);
      return;
    }
    try {
      const client = new Client(config.minimalTcpClient);
      const got = await new Promise<{ text: string; host: string; remote: string }>((resolve, reject) => {
        client.setOpenHandler((hdl) => client.send(hdl, 'over v6'));
        client.setMessageHandler((hdl, msg, con) => {
          resolve({ text: msg.text, host: con.getHost(), remote: con.getRemoteEndpoint() });
          client.close(hdl);
        });
        client.setFailHandler((_h, con) => reject(con.getEc()));
        client.connect(client.getConnection(`ws://[::1]:${port}/`));
      });
      expect(got).toEqual({ text: 'over v6', host: '::1', remote: `[::1]:${port}` });
    } finally {
      await server.stop();
    }
  });
});
