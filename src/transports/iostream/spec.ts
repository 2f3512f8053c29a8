import type { TransportSpec } from '../types.js';

export type IostreamSpec = TransportSpec<'iostream'>;

/** The user moves the bytes: `con.readSome(bytes)` in, an output sink out. */
export function iostream(): IostreamSpec {
  return Object.freeze({ kind: 'iostream' });
}
