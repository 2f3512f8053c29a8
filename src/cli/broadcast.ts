/**
 * `wspp broadcast`: every message from any client goes to every connected client (the
 * sender included), with its opcode. It uses the endpoint's opt-in connection registry
 * (`registry: true`) and frames each message once for all receivers (`prepare`).
 * Its first line is `listening on ws://HOST:PORT/`; SIGINT / SIGTERM stop it.
 */
import { serverLogging, serveUntilSignal } from './serve.js';
import { config, extend } from '../config/index.js';
import { Server } from '../roles/server.js';
import { boolFlag, intFlag, stringFlag, type CommandSpec, type ParsedArgs } from './args.js';

export const BROADCAST_SPEC: CommandSpec = {
  name: 'broadcast',
  summary: 'a broadcast server: every message from any client goes to all clients',
  description: `
A broadcast server: every message any client sends is sent, with the same opcode, to
every connected client (the sender included). Prints "listening on ws://HOST:PORT/"
first; SIGINT or SIGTERM closes the connections (1001) and stops it.`,
  options: [
    { name: 'port', kind: 'port', value: 'P', help: 'port to listen on (default 9002; 0 picks a free one)' },
    { name: 'host', kind: 'string', value: 'H', help: 'address to listen on (default 127.0.0.1)' },
    { name: 'verbose', kind: 'boolean', help: 'log connections and errors to stderr' },
  ],
};

export async function runBroadcast(args: ParsedArgs): Promise<number> {
  const port = intFlag(args, 'port', 9002);
  const host = stringFlag(args, 'host') ?? '127.0.0.1';
  const log = serverLogging(boolFlag(args, 'verbose'));
  const server = new Server(extend(config.tcp, { logging: log, registry: true }));
  server.setMessageHandler((_hdl, msg) => {
    const prepared = server.prepare(msg.payload, msg.opcode);
    for (const con of server.connections()) {
      if (con.state === 'open') con.trySendPrepared(prepared);
    }
  });
  return serveUntilSignal(await server.listen(port, host), 'ws', () => server.stop());
}
