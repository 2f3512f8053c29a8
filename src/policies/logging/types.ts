/**
 * What a logger choice is in a config (a LoggerSpec: its static channels and a sink
 * factory), and the type-level channel sets the endpoint's API is derived from.
 */
import type {
  AccessChannelName,
  AccessGroupName,
  ChannelNameOf,
  ErrorChannelName,
  ErrorGroupName,
  GroupNames,
  LogKind,
} from './channels.js';

/** Receives only entries whose channel is enabled; never called for disabled channels. */
export interface LogSink {
  log(kind: LogKind, bit: number, message: string): void;
  /**
   * Optional second gate, asked after the channel mask and before the message is built:
   * false skips the entry (the diagnostics sink answers false while nobody subscribes).
   */
  enabled?(bit: number): boolean;
}

/** A logger choice in a config: its static channels (a type-level set) and how to make a sink. */
export interface LoggerSpec<Ch extends string = string> {
  readonly kind: 'logger';
  /** 'stub' | 'stream' | 'custom' | 'diagnostics' (or a user's own). */
  readonly name: string;
  /** The STATIC channels: channel names, may include group names ('all', 'none', 'access_core'). */
  readonly channels: readonly Ch[];
  createSink(kind: LogKind): LogSink;
}

/** A spec fit for the access logger. */
export type AccessSpec = LoggerSpec<AccessChannelName | AccessGroupName>;
/** A spec fit for the error logger. */
export type ErrorSpec = LoggerSpec<ErrorChannelName | ErrorGroupName>;

/** Mirrors AccessGroup.access_core (0x3003); a test pins the two together. */
type AccessCoreChannels = 'connect' | 'disconnect' | 'http' | 'fail';

type ExpandOne<C extends string, K extends LogKind> = C extends 'all'
  ? ChannelNameOf<K>
  : C extends 'none'
    ? never
    : C extends 'access_core'
      ? K extends 'access'
        ? AccessCoreChannels
        : never
      : C extends ChannelNameOf<K>
        ? C
        : never;

/**
 * The channel names a list of static names allows for a kind: groups expanded
 * ('all' ⇒ every channel of the kind, 'access_core' ⇒ its four), names of the other kind
 * dropped; a non-literal `string` stays `string`.
 */
export type ExpandChannels<Ch extends string, K extends LogKind> = string extends Ch ? string : ExpandOne<Ch, K>;

/** The channel names a spec allows at run time (what setAccessChannels / setErrorChannels accept, besides groups). */
export type StaticChannels<S, K extends LogKind> =
  S extends LoggerSpec<string> ? ExpandChannels<S['channels'][number], K> : never;

/** The names setChannels / clearChannels accept for a spec's channels: its static channels (groups expanded) and the groups. */
export type SettableChannels<Ch extends string, K extends LogKind> = ExpandChannels<Ch, K> | GroupNames<K>;

/** What setChannels / clearChannels accept: a settable name or a list of them. */
export type ChannelSelection<Ch extends string, K extends LogKind> =
  | SettableChannels<Ch, K>
  | readonly SettableChannels<Ch, K>[];
