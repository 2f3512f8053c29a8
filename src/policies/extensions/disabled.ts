import type { DeflateSpec } from './types.js';

/** No permessage-deflate: offers are declined, RSV1 is a protocol error. */
export const disabled: DeflateSpec<'disabled'> = Object.freeze({ kind: 'disabled' });
