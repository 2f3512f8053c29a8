/** An RNG policy: where masking keys and Sec-WebSocket-Key bytes come from. */
export interface RngSpec<K extends string = string> {
  readonly kind: K;
  /** Make the fill function one endpoint uses. */
  create(): RandomFill;
}

/** Fill `length` random bytes of `target` at `offset`. */
export type RandomFill = (target: Uint8Array, offset: number, length: number) => void;
