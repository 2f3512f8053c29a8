/**
 * `wspp start` (what `npm start` runs): the utility client, with an echo server embedded in
 * the same process on 127.0.0.1:9002 — or on a free port when 9002 is taken — and one line
 * saying what to type first.
 */
import { config, extend } from '../config/index.js';
import { logging } from '../policies/logging/index.js';
import { WsppError } from '../protocol/errors.js';
import { Server } from '../roles/server.js';
import { intFlag, type CommandSpec, type ParsedArgs } from './args.js';
import { CLIENT_SPEC, clientOptionsFromArgs, UtilityClient } from './client.js';

export const START_SPEC: CommandSpec = {
  name: 'start',
  summary: 'the utility client with an echo server to talk to (what `npm start` runs)',
  description: `
Starts an echo server in this process on 127.0.0.1 (port 9002, or a free port when 9002
is taken), prints the line to type to reach it ("Type: connect ws://127.0.0.1:9002"),
and runs the utility client (see "wspp client --help"). quit stops both.`,
  options: [
    { name: 'port', kind: 'port', value: 'P', help: 'the echo server\'s port (default 9002; when taken, a free one)' },
    ...CLIENT_SPEC.options,
  ],
};

function isAddressInUse(err: WsppError): boolean {
  return (err.cause as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE';
}

export async function runStart(args: ParsedArgs): Promise<number> {
  const options = clientOptionsFromArgs(args);
  const wanted = intFlag(args, 'port', 9002);
  const server = new Server(
    extend(config.tcp, {
      logging: { access: logging.stub(), error: logging.stream(process.stderr, ['fatal']) },
      keepAlive: false,
    }),
  );
  server.setMessageHandler((hdl, msg) => {
    server.trySend(hdl, msg.payload, msg.opcode);
  });
  let bound = await server.tryListen(wanted, '127.0.0.1');
  let note = '';
  if (bound instanceof WsppError && isAddressInUse(bound) && wanted !== 0) {
    note = `(port ${wanted} is taken, so the echo server took a free one) `;
    bound = await server.tryListen(0, '127.0.0.1');
  }
  if (bound instanceof WsppError) throw new Error(`cannot start the echo server: ${bound.message}`);
  const client = new UtilityClient({ ...options, banner: `${note}Type: connect ws://127.0.0.1:${bound.port}` });
  const code = await client.run();
  await server.stop();
  return code;
}
