import { describe, expect, it } from 'vitest';
import { Client, config } from '../../src/index.js';

describe('client connections are counted from connect()', () => {
  it('a connection created and never connected holds nothing, and closing it is harmless', () => {
    const client = new Client(config.minimalTcpClient);
    const con = client.getConnection('ws://127.0.0.1:1/');
    expect(client.connectionCount).toBe(0);
    expect(con.tryClose()).toBeUndefined(); // cancels the attempt
    expect(client.connectionCount).toBe(0);
    expect(client.tryGetConFromHdl(con.hdl)).toMatchObject({ code: 'websocket.bad_connection' });
  });
});
