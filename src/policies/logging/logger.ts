/**
 * ChannelLogger: what an endpoint holds per log kind. One bitmask decides whether an entry
 * is written; the hot path tests it inline and a disabled channel costs that test only.
 */
import { channelMask, definedBits } from './channels.js';
import type { LogKind } from './channels.js';
import type { LoggerSpec, LogSink, SettableChannels } from './types.js';

const noSink: LogSink = { log() {} };

const toList = (channels: string | readonly string[]): readonly string[] =>
  typeof channels === 'string' ? [channels] : channels;

/**
 * A logger of one kind built from a spec. Like WebSocket++'s endpoint, which calls
 * `set_channels(config::alog_level)` right after constructing its loggers, the dynamic
 * channels start equal to the static ones.
 *
 * `A` (never written by hand) is what setChannels / clearChannels accept: the static
 * channels, groups expanded, plus the group names. It is a type parameter of its own so
 * that every ChannelLogger<Ch, K> is assignable to the plain `ChannelLogger`.
 */
export class ChannelLogger<
  Ch extends string = string,
  K extends LogKind = LogKind,
  A extends string = SettableChannels<Ch, K>,
> {
  readonly kind: K;
  /** The static channels (spec.channels), within the kind's defined bits. */
  readonly staticMask: number;
  /**
   * staticMask & dynamic channels: THE one field the hot path tests:
   * `if ((log.mask & bit) !== 0) log.write(bit, msg)`.
   */
  mask: number;
  readonly #sink: LogSink;

  constructor(kind: K, spec: LoggerSpec<Ch>) {
    this.kind = kind;
    this.staticMask = channelMask(kind, spec.channels) & definedBits(kind);
    this.mask = this.staticMask;
    this.#sink = this.staticMask === 0 ? noSink : spec.createSink(kind);
  }

  /**
   * Enables channels, at most the static set: channels outside it are ignored at run time.
   * 'none' alone clears every channel (WebSocket++'s `set_channels(none)`).
   */
  setChannels(channels: A | readonly A[]): void {
    const list = toList(channels);
    const bits = channelMask(this.kind, list);
    if (bits === 0 && list.includes('none')) this.mask = 0;
    else this.mask |= bits & this.staticMask;
  }

  /** Disables channels ('none' clears nothing, 'all' clears everything). */
  clearChannels(channels: A | readonly A[]): void {
    this.mask &= ~channelMask(this.kind, toList(channels));
  }

  /** Would an entry on this channel be written now (mask, then the sink's own gate)? */
  isEnabled(bit: number): boolean {
    if ((this.mask & bit) === 0) return false;
    const sink = this.#sink;
    return sink.enabled === undefined || sink.enabled(bit);
  }

  /**
   * Writes if enabled. A function message is called only when the entry will be written:
   * a disabled channel never builds its string.
   */
  write(bit: number, message: string | (() => string)): void {
    if ((this.mask & bit) === 0) return;
    const sink = this.#sink;
    if (sink.enabled !== undefined && !sink.enabled(bit)) return;
    sink.log(this.kind, bit, typeof message === 'string' ? message : message());
  }
}
