/**
 * The diagnostics_channel logger: one named channel per log channel,
 * `${prefix}:access:connect`, `${prefix}:error:warn`, ... (channel NAMES, not labels),
 * each publishing `{ kind, channel, message, time }`. While a channel has no subscriber
 * its entries are skipped before their message is built, so it costs next to nothing
 * when nobody listens.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { Channel } from 'node:diagnostics_channel';
import { assertChannelNames, channelMask, channelNames } from './channels.js';
import type { LogKind } from './channels.js';
import type { LoggerSpec, LogSink } from './types.js';

/** What a subscriber receives. */
export interface LogEntry {
  readonly kind: LogKind;
  /** The channel name: 'connect', 'app', 'warn', 'rerror', ... */
  readonly channel: string;
  readonly message: string;
  /** Date.now() at publication. */
  readonly time: number;
}

/** The diagnostics_channel name of a log channel. */
export function diagnosticsChannelName(kind: LogKind, channel: string, prefix = 'wspp'): string {
  return `${prefix}:${kind}:${channel}`;
}

export function diagnostics<const Ch extends string>(channels: readonly Ch[], prefix = 'wspp'): LoggerSpec<Ch> {
  assertChannelNames(channels);
  return Object.freeze({
    kind: 'logger',
    name: 'diagnostics',
    channels: Object.freeze([...channels]),
    createSink(kind: LogKind): LogSink {
      // Strong references: Node holds channel objects weakly.
      const byBit = new Map<number, { readonly name: string; readonly channel: Channel }>();
      for (const name of channelNames(kind)) {
        const channel = diagnosticsChannel.channel(diagnosticsChannelName(kind, name, prefix));
        byBit.set(channelMask(kind, [name]), { name, channel });
      }
      return {
        enabled: (bit) => byBit.get(bit)?.channel.hasSubscribers === true,
        log(k, bit, message) {
          const target = byBit.get(bit);
          if (target === undefined || !target.channel.hasSubscribers) return;
          const entry: LogEntry = { kind: k, channel: target.name, message, time: Date.now() };
          target.channel.publish(entry);
        },
      };
    },
  });
}

