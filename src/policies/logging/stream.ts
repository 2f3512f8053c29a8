/**
 * The stream logger (WebSocket++'s `log::basic`): one line per entry,
 * `[YYYY-MM-DD HH:MM:SS] [label] message\n`, written to anything with `write(string)`
 * (process.stdout, a fs.WriteStream, a Writable). The time is LOCAL time without a zone,
 * as WebSocket++ prints it (it calls localtime). Backpressure is not waited for: a
 * logger must not stall the connection it logs.
 */
import { assertChannelNames, channelLabel } from './channels.js';
import type { LoggerSpec, LogSink } from './types.js';

export interface LogDestination {
  write(chunk: string): unknown;
}

const pad = (n: number): string => (n < 10 ? `0${n}` : `${n}`);

/** `YYYY-MM-DD HH:MM:SS`, local time, formatted at most once per second. */
function timestamper(): () => string {
  let second = -1;
  let text = '';
  return () => {
    const now = Date.now();
    const s = Math.floor(now / 1000);
    if (s !== second) {
      const d = new Date(now);
      text = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
      second = s;
    }
    return text;
  };
}

export function stream<const Ch extends string>(dest: LogDestination, channels: readonly Ch[]): LoggerSpec<Ch> {
  assertChannelNames(channels);
  return Object.freeze({
    kind: 'logger',
    name: 'stream',
    channels: Object.freeze([...channels]),
    createSink(): LogSink {
      const now = timestamper();
      return {
        log(kind, bit, message) {
          dest.write(`[${now()}] [${channelLabel(kind, bit)}] ${message}\n`);
        },
      };
    },
  });
}
