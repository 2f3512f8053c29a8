/**
 * `wspp client`, the utility client, driven as a person would: typed into a terminal
 * (tmux) and fed through a pipe, against a real `wspp echo` server, a ws server and a
 * plain HTTP server. The tutorial's step 4 and step 5 transcripts must come out the same,
 * with our server's name ("wspp/0.1.0") in place of theirs.
 */
import { describe, expect, it } from 'vitest';
import { testCert } from '../integration/tls-cert.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  haveTmux,
  PROMPT,
  runCli,
  SERVER_NAME,
  showUntilOpen,
  startCliServer,
  startHttp200,
  startSilentServer,
  startWsEcho,
  Terminal,
  useCleanup,
} from './harness.js';

useCleanup();

/** A transcript: each command with the lines it prints. */
type Script = [command: string, ...output: string[]][];

const lines = (script: Script): string[] => script.map(([command]) => command);
const transcript = (script: Script): string => script.flatMap(([command, ...out]) => [`${PROMPT}${command}`, ...out]).join('\n');
/** What a terminal shows of a transcript (capture-pane drops trailing blanks). */
const screenOf = (script: Script): string => transcript(script).replace(/ +$/gm, '');

/** Tutorial step 4: an invalid URI, an unknown id, a connection that opens, one that fails. */
function step4(echo: string, serverName: string, http: string): Script {
  return [
    ['connect not a websocket uri', '> Connect initialization error: invalid uri'],
    ['show 0', '> Unknown connection id 0'],
    [`connect ${echo}`, '> Created connection with id 0'],
    ['show 0', `> URI: ${echo}`, '> Status: Open', `> Remote Server: ${serverName}`, '> Error/close reason: N/A'],
    [`connect ${http}`, '> Created connection with id 1'],
    ['show 1', `> URI: ${http}`, '> Status: Failed', '> Remote Server: Apache', '> Error/close reason: Invalid HTTP status.'],
    ['quit', '> Closing connection 0'],
  ];
}

/**
 * Tutorial step 5: close with 1001 and a reason, show it, an invalid close code, quit.
 * (The tutorial shows two spaces before "example message": its reason kept the space
 * after the code, an artifact of std::getline. wspp takes the words after the code.)
 */
function step5(echo: string, serverName: string): Script {
  return [
    [`connect ${echo}`, '> Created connection with id 0'],
    ['close 0 1001 example message'],
    [
      'show 0',
      `> URI: ${echo}`,
      '> Status: Closed',
      `> Remote Server: ${serverName}`,
      '> Error/close reason: close code: 1001 (Going away), close reason: example message',
    ],
    [`connect ${echo}`, '> Created connection with id 1'],
    ['close 1 1006', '> Error initiating close: Invalid close code used'],
    ['quit', '> Closing connection 1'],
  ];
}

/** Type a script into a terminal, waiting for each prompt; returns the final screen and exit status. */
async function typeScript(term: Terminal, script: Script): Promise<{ screen: string; status: number }> {
  await term.waitForPrompts(1);
  for (const [i, [command]] of script.entries()) {
    await term.type(command);
    if (command !== 'quit') await term.waitForPrompts(i + 2);
  }
  const status = await term.exitStatus();
  return { screen: await term.screen(), status };
}

describe('wspp client with stdin piped', () => {
  it('step 4 transcript against a wspp echo server and an HTTP server', async () => {
    const echo = await startCliServer(['echo']);
    const http = await startHttp200();
    const script = step4(echo.url, SERVER_NAME, http.url);
    const ran = await runCli(['client'], lines(script).join('\n') + '\n');
    expect(ran.stdout).toBe(transcript(script) + '\n');
    expect(ran.stderr).toBe('');
    expect(ran.code).toBe(0);
  });

  it('step 4 transcript against a ws server (no Server header)', async () => {
    const ws = await startWsEcho();
    const http = await startHttp200();
    const script = step4(ws.url, 'None Specified', http.url);
    const ran = await runCli(['client'], lines(script).join('\n') + '\n');
    expect(ran.stdout).toBe(transcript(script) + '\n');
    expect(ran.code).toBe(0);
  });

  it('step 5 transcript against a ws server', async () => {
    const ws = await startWsEcho();
    const script = step5(ws.url, 'None Specified');
    const ran = await runCli(['client'], lines(script).join('\n') + '\n');
    expect(ran.stdout).toBe(transcript(script) + '\n');
    expect(ran.code).toBe(0);
  });

  it('step 5 transcript against a wspp echo server (which echoes the close code and reason, as WebSocket++ does)', async () => {
    const echo = await startCliServer(['echo']);
    const script = step5(echo.url, SERVER_NAME);
    const ran = await runCli(['client'], lines(script).join('\n') + '\n');
    expect(ran.stdout).toBe(transcript(script) + '\n');
    expect(ran.code).toBe(0);
  });

  it('every command: send, send-binary, wait, ping, show with messages and subprotocol, list, close, errors, help', async () => {
    const ws = await startWsEcho();
    const url = ws.url;
    const script: Script = [
      [`connect ${url} chat superchat`, '> Created connection with id 0'],
      ['send 0 hello, world'],
      ['wait 0'],
      ['send-binary 0 de ad be ef 00'],
      ['wait 0'],
      ['ping 0 are you there?', '> Pong from connection 0: are you there?'],
      [
        'show 0',
        `> URI: ${url}`,
        '> Status: Open',
        '> Remote Server: None Specified',
        '> Error/close reason: N/A',
        '> Subprotocol: chat (offered: chat, superchat)',
        '> Messages Processed: (4)',
        '>> hello, world',
        '<< hello, world',
        '>> binary (5 bytes): de ad be ef 00',
        '<< binary (5 bytes): de ad be ef 00',
      ],
      [`connect ${url}`, '> Created connection with id 1'],
      ['list', `> 0: Open ${url} (sent 2, received 2)`, `> 1: Open ${url} (sent 0, received 0)`],
      ['send 7 hi', '> No connection found with id 7'],
      ['close 7', '> No connection found with id 7'],
      ['ping 7', '> No connection found with id 7'],
      ['show 7', '> Unknown connection id 7'],
      ['show x', '> Usage: show <connection id>'],
      ['close 0 normal', '> Usage: close <connection id> [<close code>] [<close reason>]'],
      ['send-binary 0 xyz', '> Not hex bytes: xyz (send-binary <connection id> <hex bytes>)'],
      ['connect', '> Usage: connect <ws uri> [<subprotocol> ...]'],
      ['connect http://example.com/', '> Connect initialization error: invalid uri'],
      ['frobnicate', '> Unrecognized Command'],
      [''],
      ['close 0'],
      [
        'show 0',
        `> URI: ${url}`,
        '> Status: Closed',
        '> Remote Server: None Specified',
        '> Error/close reason: close code: 1000 (Normal close), close reason: ',
        '> Subprotocol: chat (offered: chat, superchat)',
        '> Messages Processed: (4)',
        '>> hello, world',
        '<< hello, world',
        '>> binary (5 bytes): de ad be ef 00',
        '<< binary (5 bytes): de ad be ef 00',
      ],
      ['send 0 late', '> Error sending message: Bad Connection'],
      ['list', `> 0: Closed ${url} (sent 2, received 2)`, `> 1: Open ${url} (sent 0, received 0)`],
      ['quit', '> Closing connection 1'],
    ];
    const ran = await runCli(['client'], lines(script).join('\n') + '\n');
    expect(ran.stdout).toBe(transcript(script) + '\n');
    expect(ran.code).toBe(0);

    const help = await runCli(['client'], 'help\n');
    for (const command of ['connect <ws uri>', 'send <connection id> <message>', 'send-binary <connection id> <hex bytes>', 'ping <connection id>', 'close <connection id> [<close code:default=1000>] [<close reason>]', 'show <connection id>', 'list', 'wait <connection id>', 'help: Display this help text', 'quit: Exit the program']) {
      expect(help.stdout).toContain(`\n${command}`);
    }
    expect(help.stdout).toContain('Command List:');
  });

  it('end of input quits like quit: open connections are closed with 1001 (Going away)', async () => {
    const ws = await startWsEcho();
    const closes: number[] = [];
    ws.server.on('connection', (sock) => sock.on('close', (code) => closes.push(code)));
    const ran = await runCli(['client'], `connect ${ws.url}\nconnect ${ws.url}\n`);
    expect(ran.stdout.split('\n').filter((l) => l.startsWith('> Closing'))).toEqual(['> Closing connection 0', '> Closing connection 1']);
    expect(ran.code).toBe(0);
    expect(closes).toEqual([1001, 1001]);
  });

  it('--no-wait: show while the handshake is pending says Connecting; quit cancels it', async () => {
    const silent = await startSilentServer();
    const script: Script = [
      [`connect ${silent.url}`, '> Created connection with id 0'],
      ['show 0', `> URI: ${silent.url}`, '> Status: Connecting', '> Remote Server: None Specified', '> Error/close reason: N/A'],
      ['list', `> 0: Connecting ${silent.url} (sent 0, received 0)`],
      ['quit'],
    ];
    const ran = await runCli(['client', '--no-wait'], lines(script).join('\n') + '\n');
    expect(ran.stdout).toBe(transcript(script) + '\n');
    expect(ran.code).toBe(0);
    const early = await runCli(['client', '--no-wait'], `connect ${silent.url}\nsend 0 too early\n`);
    expect(early.stdout).toMatch(/^> Error sending message: invalid state: /im);
  });

  it('wss:// through the tls endpoint of the same connection table (--ca, and --insecure)', async () => {
    const { cert, key } = testCert();
    const dir = mkdtempSync(join(tmpdir(), 'wspp-cli-tls-'));
    try {
      writeFileSync(join(dir, 'cert.pem'), cert);
      writeFileSync(join(dir, 'key.pem'), key);
      const secure = await startCliServer(['echo', '--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem')]);
      const plain = await startCliServer(['echo']);
      const script: Script = [
        [`connect ${secure.url}`, '> Created connection with id 0'],
        [`connect ${plain.url}`, '> Created connection with id 1'],
        ['send 0 over tls'],
        ['wait 0'],
        ['send 1 over tcp'],
        ['wait 1'],
        ['list', `> 0: Open ${secure.url} (sent 1, received 1)`, `> 1: Open ${plain.url} (sent 1, received 1)`],
        ['quit', '> Closing connection 0', '> Closing connection 1'],
      ];
      const withCa = await runCli(['client', '--ca', join(dir, 'cert.pem')], lines(script).join('\n') + '\n');
      expect(withCa.stdout).toBe(transcript(script) + '\n');
      const insecure = await runCli(['client', '--insecure'], lines(script).join('\n') + '\n');
      expect(insecure.stdout).toBe(transcript(script) + '\n');
      // Without trust, the certificate is refused and the connection shows why.
      const strict = await runCli(['client'], `connect ${secure.url}\nshow 0\n`);
      expect(strict.stdout).toContain('> Status: Failed');
      expect(strict.stdout).toMatch(/> Error\/close reason: TLS handshake failed: .*self[- ]signed/i);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.runIf(haveTmux())('wspp client in a terminal (tmux)', () => {
  it('step 4 transcript typed against a wspp echo server and an HTTP server (--wait: the prompt returns once the outcome is known)', async () => {
    const echo = await startCliServer(['echo']);
    const http = await startHttp200();
    const four = step4(echo.url, SERVER_NAME, http.url);
    const term = await Terminal.start(['client', '--wait']);
    const run = await typeScript(term, four);
    expect(run.screen).toBe(screenOf(four));
    expect(run.status).toBe(0);
  });

  it('step 5 transcript typed against a wspp echo server (which echoes the close code and reason, as WebSocket++ does)', async () => {
    const echo = await startCliServer(['echo']);
    const five = step5(echo.url, SERVER_NAME);
    const term = await Terminal.start(['client', '--wait']);
    const run = await typeScript(term, five);
    expect(run.screen).toBe(screenOf(five));
    expect(run.status).toBe(0);
  });

  it('step 5 transcript typed against a ws server', async () => {
    const ws = await startWsEcho();
    const five = step5(ws.url, 'None Specified');
    const term = await Terminal.start(['client', '--wait']);
    const run = await typeScript(term, five);
    expect(run.screen).toBe(screenOf(five));
    expect(run.status).toBe(0);
  });

  it('interactive: connect returns at once, show until open, send, a pong shown above the prompt, line editing, history, Ctrl-C quits', async () => {
    const echo = await startCliServer(['echo']);
    const term = await Terminal.start(['client']);
    await term.waitForPrompts(1);
    await term.type(`connect ${echo.url}`);
    await term.waitFor('> Created connection with id 0');
    // A person looks until it is open.
    const shows = await showUntilOpen(term, 0, 2);
    expect(shows).toBeGreaterThan(0);
    expect(await term.screen()).toContain(`> Remote Server: ${SERVER_NAME}`);
    let prompts = 2 + shows;

    await term.type('send 0 hello');
    await term.waitForPrompts(++prompts);
    await term.type('wait 0');
    await term.waitForPrompts(++prompts);
    // The prompt is back at once; the pong arrives later and is shown above a fresh prompt.
    await term.type('ping 0 anyone?');
    const ponged = await term.waitFor(`${PROMPT}ping 0 anyone?\n> Pong from connection 0: anyone?\n${PROMPT.trimEnd()}`);
    expect(ponged.endsWith(PROMPT.trimEnd())).toBe(true);
    prompts++;

    // Line editing: "sow 0", cursor home, one right, insert "h" → "show 0".
    await term.typeText('sow 0');
    await term.keys('Home', 'Right');
    await term.typeText('h');
    await term.keys('Enter');
    const shown = await term.waitForPrompts(++prompts);
    expect(shown).toContain(`${PROMPT}show 0\n> URI: ${echo.url}\n> Status: Open\n> Remote Server: ${SERVER_NAME}\n> Error/close reason: N/A\n> Messages Processed: (2)\n>> hello\n<< hello\n${PROMPT.trimEnd()}`);
    // History: Up brings "show 0" back.
    await term.keys('Up');
    await term.waitFor((s) => s.endsWith(`${PROMPT}show 0`), 'the recalled command');
    await term.keys('Enter');
    const again = await term.waitForPrompts(++prompts);
    expect(again.split('> Messages Processed: (2)')).toHaveLength(3);
    await term.keys('C-c');
    expect(await term.exitStatus()).toBe(0);
    expect(await term.screen()).toMatch(new RegExp(`\n${PROMPT.trimEnd()}\n> Closing connection 0$`));
  });

  it('Ctrl-C while --wait waits for a handshake that never comes: quits at once', async () => {
    const silent = await startSilentServer();
    const term = await Terminal.start(['client', '--wait']);
    await term.waitForPrompts(1);
    await term.type(`connect ${silent.url}`);
    await term.waitFor('> Created connection with id 0');
    await term.keys('C-c');
    expect(await term.exitStatus()).toBe(0);
    expect(await term.screen()).toBe(`${PROMPT}connect ${silent.url}\n> Created connection with id 0`);
  });

  it('Ctrl-D quits: open connections are closed with 1001', async () => {
    const ws = await startWsEcho();
    const closed = new Promise<number>((ok) => ws.server.on('connection', (sock) => sock.on('close', (code) => ok(code))));
    const term = await Terminal.start(['client']);
    await term.waitForPrompts(1);
    await term.type(`connect ${ws.url}`);
    await term.waitFor('> Created connection with id 0');
    await term.waitFor((s) => s.endsWith(PROMPT.trimEnd()));
    await showUntilOpen(term, 0, 2);
    await term.keys('C-d');
    expect(await term.exitStatus()).toBe(0);
    expect(await term.screen()).toMatch(/> Closing connection 0$/);
    expect(await closed).toBe(1001);
  });
});
