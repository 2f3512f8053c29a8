/** The logging policy: WebSocket++'s channels and levels, and the logger choices. */
import { custom } from './custom.js';
import { diagnostics } from './diagnostics.js';
import { stream } from './stream.js';
import { stub } from './stub.js';

export * from './channels.js';
export type * from './types.js';
export * from './logger.js';
export * from './stub.js';
export * from './stream.js';
export * from './custom.js';
export * from './diagnostics.js';

/** The logger choices, for configs: `logging: { access: logging.stream(process.stdout, ['connect']) }`. */
export const logging = { stub, stream, custom, diagnostics } as const;
