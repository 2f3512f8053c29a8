/**
 * `wspp start` (what `npm start` runs): the utility client with an embedded echo server on
 * 127.0.0.1:9002, or a free port when 9002 is taken, and one line saying what to type.
 */
import { once } from 'node:events';
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { haveTmux, HOST, onCleanup, Program, PROMPT, SERVER_NAME, showUntilOpen, Terminal, useCleanup } from './harness.js';

useCleanup();

describe('wspp start', () => {
  it.runIf(haveTmux())('in a terminal: type what it says, talk to the embedded echo server, quit', async () => {
    const term = await Terminal.start(['start']);
    const screen = await term.waitFor(/Type: connect ws:\/\/127\.0\.0\.1:\d+\n/);
    const match = /^(?:\(port 9002 is taken, so the echo server took a free one\) )?Type: (connect (ws:\/\/127\.0\.0\.1:(\d+)))$/m.exec(screen);
    expect(match, screen).not.toBeNull();
    const [, command, url] = match!;
    await term.waitForPrompts(1);
    await term.type(command!);
    await term.waitFor('> Created connection with id 0');
    const prompts = 2 + (await showUntilOpen(term, 0, 2));
    await term.type('send 0 hi there');
    await term.type('wait 0');
    await term.waitForPrompts(prompts + 2);
    await term.type('show 0');
    const shown = await term.waitForPrompts(prompts + 3);
    expect(shown).toContain(
      [`${PROMPT}show 0`, `> URI: ${url}`, '> Status: Open', `> Remote Server: ${SERVER_NAME}`, '> Error/close reason: N/A', '> Messages Processed: (2)', '>> hi there', '<< hi there'].join('\n'),
    );
    await term.type('quit');
    expect(await term.exitStatus()).toBe(0);
    expect(await term.screen()).toMatch(/> Closing connection 0$/);
  });

  it('falls back to a free port when its port is taken (stdin piped)', async () => {
    const blocker = net.createServer();
    blocker.listen(0, HOST);
    await once(blocker, 'listening');
    onCleanup(() => new Promise<void>((done) => blocker.close(() => done())));
    const taken = (blocker.address() as net.AddressInfo).port;

    const program = Program.start(['start', '--port', String(taken)]);
    const [, port] = await program.output(new RegExp(`^\\(port ${taken} is taken, so the echo server took a free one\\) Type: connect ws://127\\.0\\.0\\.1:(\\d+)$`, 'm'));
    expect(Number(port)).not.toBe(taken);
    program.write(`connect ws://127.0.0.1:${port}`);
    program.write('send 0 echo me');
    program.write('wait 0');
    program.write('show 0');
    program.write('quit');
    expect(await program.exited).toBe(0);
    expect(program.stdout).toContain(`> Remote Server: ${SERVER_NAME}`);
    expect(program.stdout).toContain('<< echo me');
    expect(program.stdout).toMatch(/> Closing connection 0\n$/);
    expect(program.stderr).toBe('');
  });
});
