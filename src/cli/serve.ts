/** What the server commands (echo, broadcast, testee-server) share. */
import { logging } from '../policies/logging/index.js';
import type { ListenAddress } from '../roles/server-impl.js';

/** Quiet: warnings and errors to stderr; verbose: connections and every error channel. */
export function serverLogging(verbose: boolean) {
  return verbose
    ? { access: logging.stream(process.stderr, ['access_core']), error: logging.stream(process.stderr, ['all']) }
    : { access: logging.stub(), error: logging.stream(process.stderr, ['warn', 'rerror', 'fatal']) };
}

/**
 * Print `listening on ws://HOST:PORT/` (the first line scripts and benchmarks wait for),
 * serve until SIGINT or SIGTERM, then stop (1001 to every connection). Returns the exit code.
 */
export async function serveUntilSignal(bound: ListenAddress, scheme: 'ws' | 'wss', stop: () => Promise<void>): Promise<number> {
  const shown = bound.address.includes(':') ? `[${bound.address}]` : bound.address;
  process.stdout.write(`listening on ${scheme}://${shown}:${bound.port}/\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await stop();
  return 0;
}
