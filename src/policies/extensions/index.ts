export type { DeflateSpec } from './types.js';
export { disabled } from './disabled.js';
export { deflate, DeflateRuntime, Limiter, type DeflateOptions, type DeflateEnabledSpec } from './deflate.js';
