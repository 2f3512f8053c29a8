/**
 * The real peers: whether each is installed (a missing one is reported loudly and its
 * tests skipped, naming the package to install), child-process drivers for the Python
 * and WebSocket++ peers, the WebSocket++ build (cached by source hash), and Chromium.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { deferred, type Deferred } from '../integration/helpers.js';
import type { ClientPeer, ClientRunOptions, ServerPeer } from './matrix.js';
import { closeViewOf, parseClientOutput, stepArg, unhex, type CloseView, type PeerRun, type Step } from './protocol.js';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(here, '..', '..');
export const PEERS_DIR = join(here, 'peers');

/** Debian's python: the Debian package python3-websockets installs for it (not a pyenv python). */
export const PYTHON = '/usr/bin/python3';
export const CHROMIUM = '/usr/bin/chromium';

/** Print the loud skip message; returns the reason (undefined when available). */
function report(peer: string, missing: string | undefined): string | undefined {
  if (missing !== undefined) {
    console.warn(
      `\n[interop] !!! SKIPPING the ${peer} interop tests: ${missing}\n` +
        '[interop] !!! they run in CI; install the peer to run them here.\n',
    );
  }
  return missing;
}

export function chromiumMissing(): string | undefined {
  const missing: string[] = [];
  if (!existsSync(CHROMIUM)) missing.push(`${CHROMIUM} not found — install the Debian package: apt-get install -y chromium`);
  try {
    createRequire(import.meta.url).resolve('playwright-core');
  } catch {
    missing.push('playwright-core is not installed — it is a devDependency: npm install');
  }
  return report('Chromium', missing.length === 0 ? undefined : missing.join('; '));
}

export function pythonMissing(): string | undefined {
  if (!existsSync(PYTHON)) return report('python3-websockets', `${PYTHON} not found — install the Debian packages: apt-get install -y python3 python3-websockets`);
  const probe = spawnSync(PYTHON, ['-c', 'import websockets'], { stdio: 'ignore' });
  return report('python3-websockets', probe.status === 0 ? undefined : `${PYTHON} cannot import websockets — install the Debian package: apt-get install -y python3-websockets`);
}

export function websocketppMissing(): string | undefined {
  const missing: string[] = [];
  if (!existsSync('/usr/include/websocketpp/version.hpp')) missing.push('WebSocket++ headers not found — install the Debian package: apt-get install -y libwebsocketpp-dev');
  if (!existsSync('/usr/include/zlib.h')) missing.push('zlib headers not found (the permessage-deflate build) — install the Debian package: apt-get install -y zlib1g-dev');
  if (!existsSync('/usr/include/boost/asio.hpp')) missing.push('Boost.Asio headers not found — install the Debian package: apt-get install -y libboost-system-dev');
  if (spawnSync('g++', ['--version'], { stdio: 'ignore' }).status !== 0) missing.push('g++ not found — install the Debian package: apt-get install -y g++');
  return report('WebSocket++', missing.length === 0 ? undefined : missing.join('; '));
}

// --- WebSocket++ build ------------------------------------------------------------------------

const CXX_FLAGS = ['-std=c++14', '-O2', '-pthread'];
/** The permessage-deflate build: permessage_deflate::enabled configs, linked with zlib. */
const DEFLATE_FLAGS = ['-DWSPP_PEER_DEFLATE'];
const DEFLATE_LIBS = ['-lz'];

const building = new Map<string, Promise<string>>();

/**
 * Compile peers/wspp_peer.cpp once per build (plain, or `deflate`: -DWSPP_PEER_DEFLATE
 * with zlib); each binary is cached under node_modules/.cache/wspp-interop/ keyed by a
 * hash of the source and flags (wspp_peer-HASH, wspp_peer-deflate-HASH). Asynchronous
 * (g++ takes 15-30 s here): the test worker stays responsive meanwhile.
 */
export function buildWebsocketppPeer(options: { deflate?: boolean } = {}): Promise<string> {
  const key = options.deflate === true ? 'deflate' : 'plain';
  let b = building.get(key);
  if (b === undefined) building.set(key, (b = build(options.deflate === true)));
  return b;
}

async function build(deflate: boolean): Promise<string> {
  const source = join(PEERS_DIR, 'wspp_peer.cpp');
  const flags = deflate ? [...CXX_FLAGS, ...DEFLATE_FLAGS] : CXX_FLAGS;
  const libs = deflate ? DEFLATE_LIBS : [];
  const hash = createHash('sha256').update(readFileSync(source)).update([...flags, ...libs].join(' ')).digest('hex').slice(0, 16);
  const dir = join(ROOT, 'node_modules', '.cache', 'wspp-interop');
  const binary = join(dir, `wspp_peer-${deflate ? 'deflate-' : ''}${hash}`);
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  const temp = `${binary}.${process.pid}.tmp`;
  const started = Date.now();
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn('g++', [...flags, '-o', temp, source, ...libs], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('close', (c) => resolve({ code: c, stderr: err }));
  });
  if (code !== 0) {
    rmSync(temp, { force: true });
    throw new Error(`g++ failed to build the WebSocket++ peer:\n${stderr}`);
  }
  renameSync(temp, binary);
  console.info(`[interop] built the WebSocket++ peer${deflate ? ' (permessage-deflate)' : ''} in ${((Date.now() - started) / 1000).toFixed(1)} s: ${binary}`);
  return binary;
}

// --- child-process peers ------------------------------------------------------------------------

/** Track spawned children: killed (by pid) when the test file ends. */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** A client peer that is one child process per script run. */
export function childClientPeer(command: string, prefix: string[], caps: ClientPeer['caps'], extraArgs: (options: ClientRunOptions) => string[] = () => []): ClientPeer {
  return {
    caps,
    run(url: string, steps: Step[], options: ClientRunOptions): Promise<PeerRun> {
      const args = [...prefix, url, ...(options.protocols.length > 0 ? ['--protocols', options.protocols.join(',')] : []), ...extraArgs(options), ...steps.map(stepArg)];
      return new Promise((resolve) => {
        const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
        children.add(child);
        let stdout = '';
        let stderr = '';
        child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        const timer = setTimeout(() => child.kill('SIGKILL'), 50_000);
        child.on('close', (code, signal) => {
          clearTimeout(timer);
          children.delete(child);
          const run = parseClientOutput(stdout);
          if (code !== 0) run.fail ??= `peer exited with ${code ?? signal}: ${stderr.slice(-2000)}`;
          else if (stderr.trim() !== '') run.other.push(stderr);
          resolve(run);
        });
      });
    },
  };
}

/** A server peer that is one long-lived child process printing JSON events. */
export async function childServerPeer(command: string, args: string[]): Promise<ServerPeer> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const opens = new Map<string, Deferred<{ subprotocol: string; extensions: string }>>();
  const closes = new Map<string, Deferred<CloseView>>();
  const slot = <T>(map: Map<string, Deferred<T>>, path: string): Deferred<T> => {
    let d = map.get(path);
    if (d === undefined) map.set(path, (d = deferred<T>()));
    return d;
  };
  const listening = deferred<number>();
  const exited = deferred<void>();
  child.on('exit', (code, signal) => {
    children.delete(child);
    listening.reject(new Error(`peer server exited (${code ?? signal}) before listening: ${stderr}`));
    exited.resolve();
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let ev: Record<string, unknown>;
    try {
      ev = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if (ev.event === 'listening') listening.resolve(Number(ev.port));
    else if (ev.event === 'open') slot(opens, unhex(String(ev.path))).resolve({ subprotocol: unhex(String(ev.subprotocol ?? '')), extensions: unhex(String(ev.extensions ?? '')) });
    else if (ev.event === 'close') slot(closes, unhex(String(ev.path))).resolve(closeViewOf(ev));
  });
  const port = await listening.promise;
  return {
    base: `ws://127.0.0.1:${port}`,
    opened: (path) => slot(opens, path).promise,
    closed: (path) => slot(closes, path).promise,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited.promise;
    },
  };
}

// --- Chromium --------------------------------------------------------------------------------

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--ignore-certificate-errors',
];

/** The part of playwright-core used here. */
interface PlaywrightCore {
  chromium: {
    launchPersistentContext(
      userDataDir: string,
      options: { executablePath: string; headless: boolean; args: string[]; ignoreHTTPSErrors: boolean },
    ): Promise<{ pages(): PlaywrightPage[]; newPage(): Promise<PlaywrightPage>; close(): Promise<void> }>;
  };
}
interface PlaywrightPage {
  evaluate(expression: string): Promise<unknown>;
}

export interface Browser {
  evaluate<T>(expression: string): Promise<T>;
  close(): Promise<void>;
}

/** Launch Debian's Chromium through playwright-core with a fresh profile; one page. */
export async function launchChromium(): Promise<Browser> {
  // Imported by name at run time: without the devDependency the suite is skipped and the
  // type-check does not break.
  const moduleName = 'playwright-core';
  const { chromium } = (await import(/* @vite-ignore */ moduleName)) as PlaywrightCore;
  const profile = mkdtempSync(join(tmpdir(), 'wspp-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    ignoreHTTPSErrors: true,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    evaluate: <T>(expression: string) => page.evaluate(expression) as Promise<T>,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
