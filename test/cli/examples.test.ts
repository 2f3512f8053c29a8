/** The programs in examples/ run as a user would run them. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { killProcess, onCleanup, ROOT, useCleanup } from './harness.js';

useCleanup();

describe('examples', () => {
  it('echo-server.mjs serves and client.mjs gets its echo and a clean close', async () => {
    const server = spawn(process.execPath, [join(ROOT, 'examples/echo-server.mjs'), '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    onCleanup(() => killProcess(server));
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      server.stdout.setEncoding('utf8').on('data', (s: string) => {
        out += s;
        const m = /listening on ws:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
        if (m) resolve(Number(m[1]));
      });
      server.once('exit', (code) => reject(new Error(`echo-server exited ${code}: ${out}`)));
    });
    const client = spawn(process.execPath, [join(ROOT, 'examples/client.mjs'), `ws://127.0.0.1:${port}/`, 'hi there'], { stdio: ['ignore', 'pipe', 'pipe'] });
    onCleanup(() => killProcess(client));
    let out = '';
    client.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    const code = await new Promise<number | null>((resolve) => client.once('exit', resolve));
    expect(code).toBe(0);
    expect(out).toContain('echo: hi there');
    expect(out).toContain('closed: 1000 done');
  });
});
