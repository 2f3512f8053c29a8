export type { DeflateSpec } from './types.js';
export { disabled } from './disabled.js';
