/**
 * Masking (RFC 6455 section 5.3), a 32-bit word at a time.
 *
 * `unmask` has no key-phase argument on purpose: callers that unmask a payload in
 * pieces rotate the key themselves (see `rotateKey`), which keeps the signature equal
 * to bufferutil's so a native helper can be plugged in with `setMaskImplementation`.
 */

export interface MaskImplementation {
  /** XOR `buffer` in place with the 4-byte `key`, starting at key byte 0. */
  unmask(buffer: Uint8Array, key: Uint8Array): void;
  /** Write `source ^ key` into `output` at `offset`, `length` bytes. */
  mask(source: Uint8Array, key: Uint8Array, output: Uint8Array, offset: number, length: number): void;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Below this many bytes a byte loop beats creating a Uint32Array view. */
const WORD_THRESHOLD = 32;

function keyWord(key: Uint8Array, phase: number): number {
  const b0 = key[phase & 3]!;
  const b1 = key[(phase + 1) & 3]!;
  const b2 = key[(phase + 2) & 3]!;
  const b3 = key[(phase + 3) & 3]!;
  return LITTLE_ENDIAN
    ? (b0 | (b1 << 8) | (b2 << 16) | (b3 << 24)) >>> 0
    : ((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0;
}

function unmaskJs(buffer: Uint8Array, key: Uint8Array): void {
  const length = buffer.length;
  let i = 0;
  if (length >= WORD_THRESHOLD) {
    // Bytes until the view is 4-byte aligned, then whole words, then the tail.
    const lead = (4 - (buffer.byteOffset & 3)) & 3;
    for (; i < lead; i++) buffer[i]! ^= key[i & 3]!;
    const words = (length - lead) >>> 2;
    const view = new Uint32Array(buffer.buffer, buffer.byteOffset + lead, words);
    const k = keyWord(key, lead);
    // Four words per step: about 1.7x the plain loop on V8.
    let w = 0;
    for (; w + 3 < words; w += 4) {
      view[w]! ^= k;
      view[w + 1]! ^= k;
      view[w + 2]! ^= k;
      view[w + 3]! ^= k;
    }
    for (; w < words; w++) view[w]! ^= k;
    i = lead + words * 4;
  }
  // Tail (or a whole small payload), four bytes per step with the key in registers.
  const phase = i & 3;
  const k0 = key[phase]!, k1 = key[(phase + 1) & 3]!, k2 = key[(phase + 2) & 3]!, k3 = key[(phase + 3) & 3]!;
  for (; i + 3 < length; i += 4) {
    buffer[i]! ^= k0;
    buffer[i + 1]! ^= k1;
    buffer[i + 2]! ^= k2;
    buffer[i + 3]! ^= k3;
  }
  if (i < length) buffer[i++]! ^= k0;
  if (i < length) buffer[i++]! ^= k1;
  if (i < length) buffer[i]! ^= k2;
}

function maskJs(source: Uint8Array, key: Uint8Array, output: Uint8Array, offset: number, length: number): void {
  if (length < WORD_THRESHOLD) {
    for (let i = 0; i < length; i++) output[offset + i] = source[i]! ^ key[i & 3]!;
    return;
  }
  // memcpy first, then a word-wise XOR in place: source and output alignments differ.
  output.set(length === source.length ? source : source.subarray(0, length), offset);
  unmaskJs(output.subarray(offset, offset + length), key);
}

let impl: MaskImplementation = { unmask: unmaskJs, mask: maskJs };

/** XOR `buffer` in place with `key` (masking and unmasking are the same operation). */
export function unmask(buffer: Uint8Array, key: Uint8Array): void {
  impl.unmask(buffer, key);
}

/** Write the masked `source` into `output` at `offset`. */
export function mask(source: Uint8Array, key: Uint8Array, output: Uint8Array, offset: number, length: number): void {
  impl.mask(source, key, output, offset, length);
}

/** Rotate `key` in place as if `consumed` payload bytes had been masked with it. */
export function rotateKey(key: Uint8Array, consumed: number): void {
  const shift = consumed & 3;
  if (shift === 0) return;
  const k0 = key[0]!, k1 = key[1]!, k2 = key[2]!, k3 = key[3]!;
  if (shift === 1) { key[0] = k1; key[1] = k2; key[2] = k3; key[3] = k0; }
  else if (shift === 2) { key[0] = k2; key[1] = k3; key[2] = k0; key[3] = k1; }
  else { key[0] = k3; key[1] = k0; key[2] = k1; key[3] = k2; }
}

/**
 * Use a native helper (for instance `bufferutil`, which has exactly this shape) for
 * large payloads; pass nothing to go back to the JavaScript implementation.
 */
export function setMaskImplementation(native?: MaskImplementation): void {
  impl = native === undefined
    ? { unmask: unmaskJs, mask: maskJs }
    : {
        // Native calls cost more than the loop for tiny payloads.
        unmask: (b, k) => (b.length < WORD_THRESHOLD ? unmaskJs(b, k) : native.unmask(b, k)),
        mask: (s, k, o, off, len) =>
          len < WORD_THRESHOLD ? maskJs(s, k, o, off, len) : native.mask(s, k, o, off, len),
      };
}
