/**
 * WebSocket++'s log channels: the same names and bit values (`websocketpp/logger/levels.hpp`),
 * the labels its loggers print, and the name ⇄ bit conversions every logger shares.
 */

/** Access channels (WebSocket++'s `alevel`). */
export const AccessChannel = {
  connect: 0x1,
  disconnect: 0x2,
  control: 0x4,
  frame_header: 0x8,
  frame_payload: 0x10,
  message_header: 0x20,
  message_payload: 0x40,
  endpoint: 0x80,
  debug_handshake: 0x100,
  debug_close: 0x200,
  devel: 0x400,
  app: 0x800,
  http: 0x1000,
  fail: 0x2000,
} as const;

/** Access groups: `access_core` = connect | disconnect | http | fail. */
export const AccessGroup = { none: 0x0, access_core: 0x3003, all: 0xffffffff } as const;

/** Error channels (WebSocket++'s `elevel`). */
export const ErrorChannel = { devel: 0x1, library: 0x2, info: 0x4, warn: 0x8, rerror: 0x10, fatal: 0x20 } as const;

export const ErrorGroup = { none: 0x0, all: 0xffffffff } as const;

export type AccessChannelName = keyof typeof AccessChannel;
export type AccessGroupName = keyof typeof AccessGroup;
export type ErrorChannelName = keyof typeof ErrorChannel;
export type ErrorGroupName = keyof typeof ErrorGroup;
export type LogKind = 'access' | 'error';

/** Channel names of a kind (no groups). */
export type ChannelNameOf<K extends LogKind> = K extends 'access' ? AccessChannelName : ErrorChannelName;
/** Group names of a kind: 'all' and 'none', plus 'access_core' for access. */
export type GroupNames<K extends LogKind = LogKind> = K extends 'access' ? AccessGroupName : ErrorGroupName;

interface KindTable {
  /** Channel and group names → bits. */
  readonly bits: ReadonlyMap<string, number>;
  /** Channel bit → channel name. */
  readonly names: ReadonlyMap<number, string>;
  /** Channel bit → printed label. */
  readonly labels: ReadonlyMap<number, string>;
  /** Every defined channel bit of the kind. */
  readonly defined: number;
}

// WebSocket++'s `channel_name()`: app prints "application", warn "warning", rerror "error".
const LABELS: Readonly<Record<string, string>> = { app: 'application', warn: 'warning', rerror: 'error' };

function table(channels: Readonly<Record<string, number>>, groups: Readonly<Record<string, number>>): KindTable {
  const bits = new Map<string, number>();
  const names = new Map<number, string>();
  const labels = new Map<number, string>();
  let defined = 0;
  for (const [name, bit] of Object.entries(channels)) {
    bits.set(name, bit);
    names.set(bit, name);
    labels.set(bit, LABELS[name] ?? name);
    defined |= bit;
  }
  for (const [name, bit] of Object.entries(groups)) bits.set(name, bit);
  return { bits, names, labels, defined };
}

const TABLES: Readonly<Record<LogKind, KindTable>> = {
  access: table(AccessChannel, AccessGroup),
  error: table(ErrorChannel, ErrorGroup),
};

const tableOf = (kind: LogKind): KindTable => {
  const t = TABLES[kind];
  if (t === undefined) throw new TypeError(`unknown log kind "${String(kind)}"`);
  return t;
};

/** The label WebSocket++ prints: app → "application", warn → "warning", rerror → "error", others their name; "unknown" otherwise. */
export function channelLabel(kind: LogKind, bit: number): string {
  return tableOf(kind).labels.get(bit) ?? 'unknown';
}

/** The channel name of a single bit (`'app'`, `'warn'`, ...), or undefined. */
export function channelName(kind: LogKind, bit: number): string | undefined {
  return tableOf(kind).names.get(bit);
}

/** The channel names of a kind, in bit order. */
export function channelNames<K extends LogKind>(kind: K): readonly ChannelNameOf<K>[] {
  return [...tableOf(kind).names.values()] as ChannelNameOf<K>[];
}

/**
 * Every channel bit a kind defines (access 0x3fff, error 0x3f). Loggers keep their masks
 * within it, so 'all' (0xffffffff) becomes a small integer (a V8 Smi) on the hot path.
 */
export function definedBits(kind: LogKind): number {
  return tableOf(kind).defined;
}

/** Bits of a list of channel and group names for a kind, unsigned (unknown names: TypeError). */
export function channelMask(kind: LogKind, names: readonly string[]): number {
  const bits = tableOf(kind).bits;
  let mask = 0;
  for (const name of names) {
    const bit = bits.get(name);
    if (bit === undefined) throw new TypeError(`unknown ${kind} log channel "${String(name)}"`);
    mask |= bit;
  }
  return mask >>> 0;
}

/** Throws a TypeError for a name that is a channel or group of neither kind (a typo). */
export function assertChannelNames(names: readonly string[]): void {
  for (const name of names) {
    if (!TABLES.access.bits.has(name) && !TABLES.error.bits.has(name)) {
      throw new TypeError(`unknown log channel "${String(name)}"`);
    }
  }
}
