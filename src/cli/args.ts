import { deflate } from '../policies/extensions/deflate.js';
import { disabled } from '../policies/extensions/disabled.js';
import type { DeflateSpec } from '../policies/extensions/types.js';
/**
 * Command-line options of the `wspp` command: a small strict flag parser (`--name value`,
 * `--name=value`, `--flag`), the per-command option specs that `--help` prints and that
 * reject bad options (exit code 2), and the config hooks options turn into.
 */

/** A bad command line: the command prints the message and exits with code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface ParsedArgs {
  flags: Map<string, string | true>;
  positionals: string[];
}

/** Lenient parse (flags not checked against a spec); `booleans` take no value. */
export function parseArgs(argv: readonly string[], booleans: readonly string[] = []): ParsedArgs {
  const flags = new Map<string, string | true>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    if (eq !== -1) {
      flags.set(arg.slice(2, eq), arg.slice(eq + 1));
    } else if (booleans.includes(arg.slice(2))) {
      flags.set(arg.slice(2), true);
    } else {
      const value = argv[i + 1];
      if (value === undefined) throw new UsageError(`${arg} needs a value`);
      flags.set(arg.slice(2), value);
      i++;
    }
  }
  return { flags, positionals };
}

export function intFlag(args: ParsedArgs, name: string, fallback: number): number {
  const v = args.flags.get(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v === true || v.trim() === '' || !Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer`);
  return n;
}

export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags.get(name);
  if (v === true) throw new UsageError(`--${name} needs a value`);
  return v;
}

export function boolFlag(args: ParsedArgs, name: string): boolean {
  return args.flags.get(name) === true;
}

// --- option specs ------------------------------------------------------------------

export type OptionKind = 'boolean' | 'string' | 'int' | 'port';

export interface OptionSpec {
  readonly name: string;
  readonly kind: OptionKind;
  /** The value's placeholder in help, e.g. "P". */
  readonly value?: string;
  readonly help: string;
}

export interface CommandSpec {
  readonly name: string;
  /** One line, for `wspp --help`. */
  readonly summary: string;
  /** Paragraphs printed after the usage line. */
  readonly description: string;
  readonly options: readonly OptionSpec[];
}

const HELP_OPTION: OptionSpec = { name: 'help', kind: 'boolean', help: 'show this help and exit' };

/** The `wspp <command> --help` text. */
export function commandHelp(spec: CommandSpec): string {
  const options = [...spec.options, HELP_OPTION];
  const shown = options.map((o) => (o.kind === 'boolean' ? `--${o.name}` : `--${o.name} ${o.value ?? (o.kind === 'string' ? 'VALUE' : 'N')}`));
  const width = Math.max(...shown.map((s) => s.length)) + 2;
  const usage = `usage: wspp ${spec.name}${spec.options.length > 0 ? ' [options]' : ''}`;
  const lines = options.map((o, i) => `  ${shown[i]!.padEnd(width)}${o.help}`);
  return `${usage}\n\n${spec.description.trim()}\n\noptions:\n${lines.join('\n')}\n`;
}

/**
 * Check argv against a command's spec: unknown options, missing or malformed values and
 * stray arguments are UsageErrors. Returns undefined when `--help` / `-h` was asked for.
 */
export function parseCommandArgs(spec: CommandSpec, argv: readonly string[]): ParsedArgs | undefined {
  if (argv.includes('--help') || argv.includes('-h')) return undefined;
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--') || arg === '--') {
      throw new UsageError(arg.startsWith('-') && arg !== '-' ? `unknown option ${arg}` : `unexpected argument "${arg}"`);
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const option = spec.options.find((o) => o.name === name);
    if (option === undefined) throw new UsageError(`unknown option --${name}`);
    if (flags.has(name)) throw new UsageError(`--${name} given twice`);
    if (option.kind === 'boolean') {
      if (eq !== -1) throw new UsageError(`--${name} takes no value`);
      flags.set(name, true);
      continue;
    }
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      i++;
    }
    if (value === undefined || value === '' || (eq === -1 && value.startsWith('--'))) throw new UsageError(`--${name} needs a value`);
    if (option.kind === 'int' || option.kind === 'port') {
      const n = Number(value);
      if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new UsageError(`--${name} must be a non-negative integer, not "${value}"`);
      if (option.kind === 'port' && n > 65535) throw new UsageError(`--${name} must be a port number (0-65535), not ${value}`);
    }
    flags.set(name, value);
  }
  return { flags, positionals: [] };
}

// --- config hooks --------------------------------------------------------------------

/** What `--deflate` turns into: the config overrides that enable permessage-deflate (or not). */
export function deflateConfig(requested: boolean): { readonly extensions: { readonly permessageDeflate: DeflateSpec } } {
  return { extensions: { permessageDeflate: requested ? deflate() : disabled } };
}
