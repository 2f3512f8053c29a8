/**
 * The custom-sink logger: entries go to any pino-like object (pino, console, bunyan-style),
 * as `sink.<level>({ kind, channel: label }, message)`. Levels follow WebSocket++'s syslog
 * logger: every access entry → info; error devel/library → debug, info → info,
 * warn → warn, rerror → error, fatal → fatal (error when the sink has no fatal).
 */
import { ErrorChannel, assertChannelNames, channelLabel } from './channels.js';
import type { LogKind } from './channels.js';
import type { LoggerSpec, LogSink } from './types.js';

/** What a custom sink must offer (pino's Logger and console both fit). */
export interface PinoLike {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
  fatal?(obj: object, msg: string): void;
}

export type PinoLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** The level an entry is logged at (the syslog logger's mapping). */
export function pinoLevel(kind: LogKind, bit: number): PinoLevel {
  if (kind === 'access') return 'info';
  switch (bit) {
    case ErrorChannel.devel:
    case ErrorChannel.library:
      return 'debug';
    case ErrorChannel.info:
      return 'info';
    case ErrorChannel.warn:
      return 'warn';
    case ErrorChannel.fatal:
      return 'fatal';
    default:
      return 'error';
  }
}

export function custom<const Ch extends string>(sink: PinoLike, channels: readonly Ch[]): LoggerSpec<Ch> {
  assertChannelNames(channels);
  return Object.freeze({
    kind: 'logger',
    name: 'custom',
    channels: Object.freeze([...channels]),
    createSink(): LogSink {
      return {
        log(kind, bit, message) {
          const level = pinoLevel(kind, bit);
          const obj = { kind, channel: channelLabel(kind, bit) };
          // Called as methods: pino's need their `this`.
          if (level !== 'fatal') sink[level](obj, message);
          else if (typeof sink.fatal === 'function') sink.fatal(obj, message);
          else sink.error(obj, message);
        },
      };
    },
  });
}
