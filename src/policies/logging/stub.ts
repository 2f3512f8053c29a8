/** The stub logger (WebSocket++'s `log::stub`): no channels, writes nothing. */
import type { LoggerSpec, LogSink } from './types.js';

const sink: LogSink = { log() {} };
const spec: LoggerSpec<never> = Object.freeze({
  kind: 'logger',
  name: 'stub',
  channels: Object.freeze([]) as readonly never[],
  createSink: () => sink,
});

export function stub(): LoggerSpec<never> {
  return spec;
}
