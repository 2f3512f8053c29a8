export type * from './types.js';
export { extend } from './extend.js';
export { config } from './stock.js';
export type * from './stock.js';
