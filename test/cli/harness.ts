/**
 * Driving the real `wspp` program as a person would: in a terminal (tmux, private
 * socket, send-keys / capture-pane) and with stdin piped; the servers it talks to (a
 * `wspp echo` child process, a ws WebSocketServer, a plain HTTP server); and a cleanup
 * list that kills every process (by PID), server and tmux server a test started.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import { afterEach } from 'vitest';

export const HOST = '127.0.0.1';
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = join(ROOT, 'dist/cli/main.js');
/** What wspp servers send as `Server` (the config's userAgent). */
export const SERVER_NAME = 'wspp/0.1.0';
export const PROMPT = 'Enter Command: ';
/** Upper bound for any one wait on a screen or a process. */
export const WAIT_MS = 10_000;

if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first (npm test does)`);

// --- cleanup -------------------------------------------------------------------------

const tasks: (() => unknown)[] = [];

/** Run after the current test, last registered first. */
export function onCleanup(task: () => unknown): void {
  tasks.push(task);
}

export function useCleanup(): void {
  afterEach(async () => {
    for (const task of tasks.splice(0).reverse()) {
      try {
        await task();
      } catch {
        // already gone
      }
    }
  });
}

/** Kill a process by PID and wait for it to be gone. */
export async function killProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = once(child, 'exit');
  if (child.pid !== undefined) {
    try {
      process.kill(child.pid, signal);
    } catch {
      return;
    }
  }
  const timer = setTimeout(() => {
    if (child.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }, 3000);
  await gone;
  clearTimeout(timer);
}

// --- polling -------------------------------------------------------------------------

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `probe` until it returns something other than undefined; throw after `ms`. */
export async function poll<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = WAIT_MS): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last === undefined ? '' : `; last: ${String(last)}`}`);
    await sleep(40);
  }
}

// --- the program, piped -----------------------------------------------------------------

export interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run `wspp ...args` with `input` on stdin (then EOF); resolves when it exits. */
export async function runCli(args: readonly string[], input = ''): Promise<Ran> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  onCleanup(() => killProcess(child, 'SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  child.stdin.on('error', () => undefined);
  child.stdin.end(input);
  const timer = setTimeout(() => child.kill('SIGKILL'), WAIT_MS * 2);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  // 'exit' can come before the pipes are drained.
  if (!child.stdout.readableEnded) await once(child.stdout, 'end');
  if (!child.stderr.readableEnded) await once(child.stderr, 'end');
  return { code, stdout, stderr };
}

/** A long-running wspp server (echo, broadcast, testee-server): started, its port read from its first line. */
export async function startCliServer(args: readonly string[]): Promise<{ port: number; child: ChildProcess; url: string }> {
  // stdin ignored: these tests talk to the servers over sockets only.
  const child = spawn(process.execPath, [CLI, ...args, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  onCleanup(() => killProcess(child));
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  child.stdout.setEncoding('utf8');
  const port = await new Promise<number>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`wspp ${args.join(' ')} did not start: ${out}${err}`)), WAIT_MS);
    child.stdout.on('data', (s: string) => {
      out += s;
      const m = /^listening on wss?:\/\/[^\s]+:(\d+)\/$/m.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        ok(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`wspp ${args.join(' ')} exited (${code}): ${out}${err}`));
    });
  });
  const scheme = args.includes('--tls-cert') ? 'wss' : 'ws';
  return { port, child, url: `${scheme}://${HOST}:${port}` };
}

// --- peers -----------------------------------------------------------------------------

/** A ws echo server (port 0) choosing the first offered subprotocol. */
export async function startWsEcho(): Promise<{ port: number; url: string; server: WebSocketServer }> {
  const server = new WebSocketServer({ host: HOST, port: 0, handleProtocols: (protocols) => [...protocols][0] ?? false });
  await once(server, 'listening');
  server.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  onCleanup(
    () =>
      new Promise<void>((done) => {
        for (const ws of server.clients) ws.terminate();
        server.close(() => done());
      }),
  );
  const port = (server.address() as { port: number }).port;
  return { port, url: `ws://${HOST}:${port}`, server };
}

/** An HTTP server that answers every request 200 with `Server: Apache` (the tutorial's wikipedia.org). */
export async function startHttp200(): Promise<{ port: number; url: string }> {
  const server = http.createServer((_req, res) => {
    res.setHeader('Server', 'Apache');
    res.end('<html>not a WebSocket server</html>');
  });
  server.listen(0, HOST);
  await once(server, 'listening');
  onCleanup(
    () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  );
  const port = (server.address() as { port: number }).port;
  return { port, url: `ws://${HOST}:${port}` };
}

/** A TCP server that accepts connections and never answers: handshakes stay pending. */
export async function startSilentServer(): Promise<{ port: number; url: string }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, HOST);
  await once(server, 'listening');
  onCleanup(
    () =>
      new Promise<void>((done) => {
        for (const s of sockets) s.destroy();
        server.close(() => done());
      }),
  );
  const port = (server.address() as { port: number }).port;
  return { port, url: `ws://${HOST}:${port}` };
}

// --- the program in a terminal: tmux ---------------------------------------------------------

let tmuxChecked: boolean | undefined;

/** Is tmux installed? When not, warn loudly once (CI installs the `tmux` package). */
export function haveTmux(): boolean {
  if (tmuxChecked === undefined) {
    tmuxChecked = spawnSync('tmux', ['-V'], { stdio: 'ignore' }).status === 0;
    if (!tmuxChecked) console.warn('SKIPPING the terminal tests of the wspp command: tmux is not installed (install the `tmux` package)');
  }
  return tmuxChecked;
}

let sessions = 0;

/** One terminal running one command, on a private tmux server. */
export class Terminal {
  private readonly socket = `wspp-test-${process.pid}-${++sessions}`;
  private readonly dir = mkdtempSync(join(tmpdir(), 'wspp-tmux-'));
  private pid: number | undefined;

  private tmux(...args: string[]): Promise<string> {
    return new Promise((ok, fail) => {
      execFile('tmux', ['-L', this.socket, ...args], { encoding: 'utf8' }, (err, stdout) => (err ? fail(err) : ok(stdout)));
    });
  }

  /** Start `wspp ...args` in an 160x50 terminal; the pane stays after it exits (for its output and status). */
  static async start(args: readonly string[]): Promise<Terminal> {
    const t = new Terminal();
    onCleanup(() => t.close());
    const conf = join(t.dir, 'tmux.conf');
    writeFileSync(conf, 'set -g remain-on-exit on\nset -g history-limit 5000\nset -g status off\n');
    const command = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    // exec: the pane's process is the program itself, so its PID is the one to kill.
    await t.tmux('-f', conf, 'new-session', '-d', '-s', 'main', '-x', '160', '-y', '50', `exec ${command}`);
    t.pid = Number((await t.tmux('display-message', '-p', '-t', 'main', '#{pane_pid}')).trim());
    return t;
  }

  /** Type a line and press Enter. */
  async type(line: string): Promise<void> {
    if (line !== '') await this.tmux('send-keys', '-t', 'main', '-l', line);
    await this.tmux('send-keys', '-t', 'main', 'Enter');
  }

  /** Type text without Enter. */
  async typeText(text: string): Promise<void> {
    await this.tmux('send-keys', '-t', 'main', '-l', text);
  }

  /** Press keys by tmux name: 'C-c', 'C-d', 'Up', 'Left', 'Home', 'Enter'. */
  async keys(...names: string[]): Promise<void> {
    await this.tmux('send-keys', '-t', 'main', ...names);
  }

  /** Everything the terminal shows (history included), trailing blanks and tmux's "Pane is dead" line removed. */
  async screen(): Promise<string> {
    const text = await this.tmux('capture-pane', '-p', '-J', '-S', '-', '-t', 'main');
    const lines = text.split('\n').map((l) => l.replace(/\s+$/, '')).filter((l) => !/^Pane is dead/.test(l));
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    return lines.join('\n');
  }

  /** Wait until the screen satisfies `test` (a string it must contain, or a predicate); returns the screen. */
  async waitFor(test: string | RegExp | ((screen: string) => boolean), what?: string): Promise<string> {
    const ok = typeof test === 'string' ? (s: string) => s.includes(test) : test instanceof RegExp ? (s: string) => test.test(s) : test;
    let last = '';
    try {
      return await poll(what ?? String(test), async () => {
        last = await this.screen();
        return ok(last) ? last : undefined;
      });
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- screen ---\n${last}\n--------------`);
    }
  }

  /** Wait until the screen shows `n` prompts (n-1 commands done). */
  waitForPrompts(n: number): Promise<string> {
    return this.waitFor((s) => count(s, PROMPT.trimEnd()) >= n && s.endsWith(PROMPT.trimEnd()), `${n} prompts`);
  }

  /** Wait for the program to exit; its exit status. */
  async exitStatus(): Promise<number> {
    const status = await poll('the program to exit', async () => {
      const [dead, code, signal] = (await this.tmux('display-message', '-p', '-t', 'main', '#{pane_dead}|#{pane_dead_status}|#{pane_dead_signal}')).trim().split('|');
      if (dead !== '1') return undefined;
      if (signal !== undefined && signal !== '') throw new Error(`the program was killed by signal ${signal}`);
      return Number(code);
    });
    return status;
  }

  async close(): Promise<void> {
    if (this.pid !== undefined) {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        // already exited
      }
    }
    await this.tmux('kill-server').catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function count(text: string, needle: string): number {
  let n = 0;
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + needle.length)) n++;
  return n;
}

/**
 * Without --wait the prompt returns at once and the connection opens in the background:
 * type `show <id>` until it says Open, as a person would. `prompts` is how many prompts the
 * screen shows now. Returns how many times show was typed.
 */
export async function showUntilOpen(term: Terminal, id: number, prompts: number): Promise<number> {
  let shows = 0;
  await poll('the connection to open', async () => {
    shows++;
    await term.type(`show ${id}`);
    const screen = await term.waitForPrompts(prompts + shows);
    return screen.slice(screen.lastIndexOf('> URI: ')).includes('> Status: Open') ? true : undefined;
  });
  return shows;
}

/** A running `wspp ...args` with piped stdio, for conversations: write lines, wait for output. */
export class Program {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;

  private constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (this.stdout += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (this.stderr += s));
    child.stdin!.on('error', () => undefined);
    this.exited = new Promise((ok) => child.once('exit', (code) => ok(code)));
  }

  static start(args: readonly string[]): Program {
    const p = new Program(spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] }));
    onCleanup(() => killProcess(p.child, 'SIGKILL'));
    return p;
  }

  write(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  end(): void {
    this.child.stdin!.end();
  }

  /** Wait until stdout matches; returns the match. */
  output(pattern: RegExp): Promise<RegExpExecArray> {
    return poll(`${String(pattern)} on stdout (so far: ${JSON.stringify(this.stdout)})`, () => pattern.exec(this.stdout) ?? undefined);
  }
}
