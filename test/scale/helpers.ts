/**
 * Helpers for the scale tests: child processes that speak JSON lines, stopped by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export type Line = Record<string, any>;

export interface JsonChild {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Every JSON line so far. */
  readonly lines: Line[];
  /** The first line (from now on, or already seen after `from`) matching `match`; rejects after `ms`. */
  next(match: (l: Line) => boolean, ms?: number, from?: number): Promise<Line>;
  /** Write a line to its stdin. */
  send(line: string): void;
  /** Stdout/stderr that was not JSON, for failure messages. */
  readonly noise: string[];
  /** Resolves with the exit code/signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after `grace` ms; resolves when it has exited. */
  stop(grace?: number): Promise<void>;
}

export function spawnJson(script: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): JsonChild {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const lines: Line[] = [];
  const noise: string[] = [];
  let waiters: { match: (l: Line) => boolean; resolve: (l: Line) => void }[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: Line;
    try {
      line = JSON.parse(text) as Line;
    } catch {
      noise.push(text);
      return;
    }
    lines.push(line);
    const keep: typeof waiters = [];
    for (const w of waiters) {
      if (w.match(line)) w.resolve(line);
      else keep.push(w);
    }
    waiters = keep;
  });
  createInterface({ input: child.stderr! }).on('line', (text) => noise.push(text));
  child.stdin!.on('error', () => undefined);
  return {
    child,
    pid: child.pid!,
    lines,
    noise,
    exited,
    next(match, ms = 20_000, from) {
      if (from !== undefined) {
        const seen = lines.slice(from).find(match);
        if (seen !== undefined) return Promise.resolve(seen);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching line from ${script} within ${ms} ms; output: ${noise.slice(-10).join(' | ')}`)), ms);
        waiters.push({
          match,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        void exited.then(({ code, signal }) => {
          clearTimeout(timer);
          reject(new Error(`${script} exited (${signal ?? code}); output: ${noise.slice(-10).join(' | ')}`));
        });
      });
    },
    send(line) {
      child.stdin!.write(`${line}\n`);
    },
    async stop(grace = 8000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      process.kill(child.pid!, 'SIGTERM');
      const timer = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
      }, grace);
      await exited;
      clearTimeout(timer);
    },
  };
}
