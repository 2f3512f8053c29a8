/** `wspp --help`, `wspp <command> --help` for every command, and exit code 2 for bad command lines. */
import { describe, expect, it } from 'vitest';
import { runCli, useCleanup } from './harness.js';

useCleanup();

const COMMANDS: Record<string, string[]> = {
  client: ['--wait', '--no-wait', '--insecure', '--ca FILE', '--deflate', '--verbose', '--help'],
  start: ['--port P', '--wait', '--insecure', '--ca FILE', '--deflate', '--help'],
  echo: ['--port P', '--host H', '--tls-cert FILE', '--tls-key FILE', '--deflate', '--verbose', '--help'],
  broadcast: ['--port P', '--host H', '--verbose', '--help'],
  'testee-server': ['--port P', '--host H', '--deflate', '--verbose', '--help'],
  'testee-client': ['--url URL', '--agent NAME', '--deflate', '--verbose', '--help'],
  demo: ['--help'],
};

describe('wspp --help', () => {
  it('lists every command, with and without --help', async () => {
    for (const args of [['--help'], [], ['help']]) {
      const ran = await runCli(args);
      expect(ran.code).toBe(0);
      expect(ran.stdout).toMatch(/^usage: wspp <command>/);
      for (const name of Object.keys(COMMANDS)) expect(ran.stdout).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
      expect(ran.stdout).toContain('"wspp <command> --help"');
    }
  });

  it('describes every option of every command', async () => {
    const runs = await Promise.all(Object.keys(COMMANDS).map((name) => runCli([name, '--help'])));
    for (const [i, name] of Object.keys(COMMANDS).entries()) {
      const ran = runs[i]!;
      expect(ran.code, name).toBe(0);
      expect(ran.stderr, name).toBe('');
      expect(ran.stdout, name).toMatch(new RegExp(`^usage: wspp ${name}`));
      for (const option of COMMANDS[name]!) expect(ran.stdout, `${name} ${option}`).toMatch(new RegExp(`^  ${option} +\\S`, 'm'));
    }
    const viaHelp = await runCli(['help', 'testee-client']);
    expect(viaHelp.stdout).toBe(runs[Object.keys(COMMANDS).indexOf('testee-client')]!.stdout);
  });
});

describe('bad command lines exit with code 2 and say why', () => {
  const cases: [args: string[], message: string | RegExp][] = [
    [['frobnicate'], 'wspp: unknown command "frobnicate"'],
    [['client', '--bogus'], 'wspp client: unknown option --bogus'],
    [['client', 'stray'], 'wspp client: unexpected argument "stray"'],
    [['client', '--ca'], 'wspp client: --ca needs a value'],
    [['client', '--ca', '/nonexistent/ca.pem'], /wspp client: --ca: cannot read \/nonexistent\/ca.pem/],
    [['client', '--wait', '--no-wait'], 'wspp client: --wait and --no-wait exclude each other'],
    [['client', '--verbose=yes'], 'wspp client: --verbose takes no value'],
    [['echo', '--port', 'abc'], 'wspp echo: --port must be a non-negative integer, not "abc"'],
    [['echo', '--tls-cert', 'cert.pem'], 'wspp echo: --tls-cert and --tls-key go together'],
    [['broadcast', '--port', '70000'], 'wspp broadcast: --port must be a port number (0-65535), not 70000'],
    [['testee-server', '-p', '9001'], 'wspp testee-server: unknown option -p'],
    [['testee-client'], 'wspp testee-client: --url is required'],
    [['testee-client', '--url', 'http://127.0.0.1:9001'], 'wspp testee-client: --url: invalid uri: http://127.0.0.1:9001'],
    [['start', '--port', '-1'], 'wspp start: --port must be a non-negative integer, not "-1"'],
    [['start', '--port'], 'wspp start: --port needs a value'],
    [['demo', '--fast'], 'wspp demo: unknown option --fast'],
  ];

  it.each(cases)('wspp %j', async (args, message) => {
    const ran = await runCli(args);
    expect(ran.code).toBe(2);
    expect(ran.stdout).toBe('');
    if (typeof message === 'string') expect(ran.stderr).toContain(message);
    else expect(ran.stderr).toMatch(message);
    if (args[0] !== 'frobnicate') expect(ran.stderr).toContain(`Try "wspp ${args[0]} --help".`);
  });
});
