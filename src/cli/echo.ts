/**
 * `wspp echo`: an echo server, every message back with its opcode. It is what the
 * benchmarks and the conformance work drive. Its first line is `listening on ws://H:P/`;
 * a `stats` line on stdin prints the process's CPU time and RSS as JSON.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { config, extend } from '../config/index.js';
import { Server } from '../roles/server.js';
import { deflate } from '../policies/extensions/deflate.js';
import { disabled } from '../policies/extensions/disabled.js';
import { pool } from '../policies/message-pool/pool.js';
import { intFlag, parseArgs, stringFlag } from './args.js';
import { serverLogging, serveUntilSignal } from './serve.js';
import type { ListenAddress } from '../roles/server-impl.js';

export async function runEcho(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, ['verbose', 'deflate']);
  const port = intFlag(args, 'port', 9002);
  const host = stringFlag(args, 'host') ?? '127.0.0.1';
  const cert = stringFlag(args, 'tls-cert');
  const key = stringFlag(args, 'tls-key');
  const verbose = args.flags.get('verbose') === true;
  const compress = args.flags.get('deflate') === true;
  if ((cert === undefined) !== (key === undefined)) throw new Error('--tls-cert and --tls-key go together');

  const common = {
    logging: serverLogging(verbose),
    keepAlive: false,
    // Every message goes straight back: a message joined from several reads is lent from
    // pooled buffers and written from there, and the buffer is reused once the socket took
    // it all (no allocation, no copy per message). 1 MiB buffers cover the benchmark's
    // sizes; larger messages are allocated. At most 16 MiB stay on the free list.
    messagePool: pool({ size: 1024 * 1024, buffers: 16 }),
    extensions: { permessageDeflate: compress ? deflate() : disabled },
  } as const;

  const onMessage = <S extends { send(h: never, p: Buffer, o: 1 | 2): void }>(server: S) => (hdl: unknown, msg: { payload: Buffer; opcode: 1 | 2 }) =>
    server.send(hdl as never, msg.payload, msg.opcode);

  let stop: () => Promise<void>;
  let scheme: 'ws' | 'wss' = 'ws';
  let bound: ListenAddress;
  if (cert !== undefined && key !== undefined) {
    const tlsOptions = { cert: readFileSync(cert), key: readFileSync(key) };
    const server = new Server(extend(config.tls, common));
    server.setTlsInitHandler(() => tlsOptions);
    server.setMessageHandler(onMessage(server));
    bound = await server.listen(port, host);
    stop = () => server.stop();
    scheme = 'wss';
  } else {
    const server = new Server(extend(config.tcp, common));
    server.setMessageHandler(onMessage(server));
    bound = await server.listen(port, host);
    stop = () => server.stop();
  }
  let lines: ReturnType<typeof createInterface> | undefined;
  if (!process.stdin.isTTY) {
    lines = createInterface({ input: process.stdin });
    lines.on('line', (line) => {
      if (line.trim() === 'stats') {
        const cpu = process.cpuUsage();
        process.stdout.write(`${JSON.stringify({ cpuUserMs: cpu.user / 1000, cpuSystemMs: cpu.system / 1000, rssBytes: process.memoryUsage.rss() })}\n`);
      }
    });
    // stdin closing (the parent went away) does not stop the server: signals do.
  }
  const code = await serveUntilSignal(bound, scheme, stop);
  // Stopped: stdin must not keep the process alive (a parent that holds the pipe open
  // waited for its SIGKILL before).
  lines?.close();
  process.stdin.destroy();
  return code;
}
