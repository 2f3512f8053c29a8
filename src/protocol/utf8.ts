/**
 * Streaming UTF-8 validation for WebSocket text messages (RFC 6455 section 8.1,
 * RFC 3629 strict: no overlong forms, no surrogates, nothing above U+10FFFF).
 *
 * Two engines:
 * - bulk: when the validator sits on a code-point boundary and the chunk is large
 *   enough, the chunk (minus an incomplete sequence at its very end) is handed to
 *   `isUtf8` from node:buffer (simdutf, strict RFC 3629, several GB/s);
 * - streaming: a compact byte-class DFA (Hoehrmann-style, table below) that carries
 *   its state across calls, so a code point may be split over any number of frames
 *   or reads. It runs on small chunks, on the bytes that finish a sequence begun in
 *   an earlier call, and on the incomplete tail of a chunk.
 *
 * Pure code: no I/O, no timers.
 */
import { isUtf8 } from 'node:buffer';

// Byte classes. Each class is a set of bytes the DFA treats identically.
const C_ASCII = 0; // 00..7F
const C_CONT_80_8F = 1; // 80..8F
const C_CONT_90_9F = 2; // 90..9F
const C_CONT_A0_BF = 3; // A0..BF
const C_LEAD2 = 4; // C2..DF
const C_E0 = 5; // E0       (second byte A0..BF, else overlong)
const C_LEAD3 = 6; // E1..EC, EE..EF
const C_ED = 7; // ED       (second byte 80..9F, else surrogate)
const C_F0 = 8; // F0       (second byte 90..BF, else overlong)
const C_LEAD4 = 9; // F1..F3
const C_F4 = 10; // F4       (second byte 80..8F, else above U+10FFFF)
const C_INVALID = 11; // C0, C1 (overlong 2-byte), F5..FF
const NUM_CLASSES = 12;

// States, pre-multiplied by NUM_CLASSES so a transition is one add and one load.
const S_ACCEPT = 0;
const S_REJECT = 1 * NUM_CLASSES;
const S_NEED1 = 2 * NUM_CLASSES; // one more continuation 80..BF
const S_NEED2 = 3 * NUM_CLASSES; // two more continuations 80..BF
const S_E0 = 4 * NUM_CLASSES; // after E0: A0..BF, then NEED1
const S_ED = 5 * NUM_CLASSES; // after ED: 80..9F, then NEED1
const S_F0 = 6 * NUM_CLASSES; // after F0: 90..BF, then NEED2
const S_NEED3 = 7 * NUM_CLASSES; // after F1..F3: 80..BF, then NEED2
const S_F4 = 8 * NUM_CLASSES; // after F4: 80..8F, then NEED2
const NUM_STATES = 9;

const BYTE_CLASS = new Uint8Array(256);
const TRANSITION = new Uint8Array(NUM_STATES * NUM_CLASSES).fill(S_REJECT);

(function buildTables(): void {
  const setClass = (from: number, to: number, cls: number): void => {
    BYTE_CLASS.fill(cls, from, to + 1);
  };
  setClass(0x00, 0x7f, C_ASCII);
  setClass(0x80, 0x8f, C_CONT_80_8F);
  setClass(0x90, 0x9f, C_CONT_90_9F);
  setClass(0xa0, 0xbf, C_CONT_A0_BF);
  setClass(0xc0, 0xc1, C_INVALID);
  setClass(0xc2, 0xdf, C_LEAD2);
  setClass(0xe0, 0xe0, C_E0);
  setClass(0xe1, 0xec, C_LEAD3);
  setClass(0xed, 0xed, C_ED);
  setClass(0xee, 0xef, C_LEAD3);
  setClass(0xf0, 0xf0, C_F0);
  setClass(0xf1, 0xf3, C_LEAD4);
  setClass(0xf4, 0xf4, C_F4);
  setClass(0xf5, 0xff, C_INVALID);

  const on = (state: number, classes: readonly number[], next: number): void => {
    for (const cls of classes) TRANSITION[state + cls] = next;
  };
  const anyCont = [C_CONT_80_8F, C_CONT_90_9F, C_CONT_A0_BF];
  // Code-point boundary: ASCII stays, lead bytes open a sequence, the rest rejects.
  on(S_ACCEPT, [C_ASCII], S_ACCEPT);
  on(S_ACCEPT, [C_LEAD2], S_NEED1);
  on(S_ACCEPT, [C_E0], S_E0);
  on(S_ACCEPT, [C_LEAD3], S_NEED2);
  on(S_ACCEPT, [C_ED], S_ED);
  on(S_ACCEPT, [C_F0], S_F0);
  on(S_ACCEPT, [C_LEAD4], S_NEED3);
  on(S_ACCEPT, [C_F4], S_F4);
  // Inside a sequence: only the allowed continuation ranges advance.
  on(S_NEED1, anyCont, S_ACCEPT);
  on(S_NEED2, anyCont, S_NEED1);
  on(S_NEED3, anyCont, S_NEED2);
  on(S_E0, [C_CONT_A0_BF], S_NEED1);
  on(S_ED, [C_CONT_80_8F, C_CONT_90_9F], S_NEED1);
  on(S_F0, [C_CONT_90_9F, C_CONT_A0_BF], S_NEED2);
  on(S_F4, [C_CONT_80_8F], S_NEED2);
  // S_REJECT: every class stays rejected (the fill above).
})();

/** Below this many bytes the DFA is as fast as the call into `isUtf8` (measured: ~25 ns per call). */
const BULK_THRESHOLD = 24;

/**
 * Runs the DFA over bytes[start, end) from `state`; returns the final state,
 * stopping early at S_REJECT.
 */
function runDfa(bytes: Uint8Array, start: number, end: number, state: number): number {
  let s = state;
  for (let i = start; i < end; i++) {
    const b = bytes[i]!;
    if (s === S_ACCEPT && b < 0x80) continue; // ASCII fast path
    s = TRANSITION[s + BYTE_CLASS[b]!]!;
    if (s === S_REJECT) return S_REJECT;
  }
  return s;
}

/**
 * Validates bytes[start, end), which begins on a code-point boundary. Returns the
 * DFA state at the end (S_ACCEPT, S_REJECT, or inside an incomplete final sequence).
 */
function validateFromBoundary(bytes: Uint8Array, start: number, end: number): number {
  if (end - start < BULK_THRESHOLD) return runDfa(bytes, start, end, S_ACCEPT);
  // Split off an incomplete sequence at the very end: look back at most 3 bytes for
  // the last byte that is not a continuation byte.
  let cut = end;
  const stop = Math.max(start, end - 3);
  for (let i = end - 1; i >= stop; i--) {
    const b = bytes[i]!;
    if (b < 0x80) break; // ASCII: the chunk ends on a boundary
    if (b >= 0xc0) {
      const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
      if (end - i < need) cut = i;
      break;
    }
  }
  const whole = start === 0 && cut === bytes.length;
  if (!isUtf8(whole ? bytes : bytes.subarray(start, cut))) return S_REJECT;
  return cut === end ? S_ACCEPT : runDfa(bytes, cut, end, S_ACCEPT);
}

/**
 * A streaming UTF-8 validator: feed the bytes of one text message in any number of
 * pieces with `update`, then call `finish` at the end of the message.
 */
export class Utf8Validator {
  private state = S_ACCEPT;

  /** Forgets everything seen so far (start of a new message). */
  reset(): void {
    this.state = S_ACCEPT;
  }

  /**
   * Validates bytes[start, end) as the continuation of the stream. Returns false as
   * soon as the stream can no longer be valid UTF-8 (and keeps returning false until
   * `reset` or `finish`); true means "valid so far" (possibly mid-sequence).
   */
  update(bytes: Uint8Array, start = 0, end: number = bytes.length): boolean {
    let s = this.state;
    if (s === S_REJECT) return false;
    const to = Math.min(end, bytes.length);
    let i = Math.max(start, 0);
    // Finish a sequence begun in an earlier call (at most 3 bytes).
    while (s !== S_ACCEPT && i < to) {
      s = TRANSITION[s + BYTE_CLASS[bytes[i]!]!]!;
      i++;
      if (s === S_REJECT) {
        this.state = S_REJECT;
        return false;
      }
    }
    if (i < to) s = validateFromBoundary(bytes, i, to);
    this.state = s;
    return s !== S_REJECT;
  }

  /**
   * Ends the message: true only if everything fed was valid and the stream does not
   * stop inside a multi-byte sequence. Resets the validator for the next message.
   */
  finish(): boolean {
    const ok = this.state === S_ACCEPT;
    this.state = S_ACCEPT;
    return ok;
  }
}

/** One-shot strict UTF-8 validation of a complete byte sequence. */
export function isValidUtf8(bytes: Uint8Array): boolean {
  if (bytes.length >= BULK_THRESHOLD) return isUtf8(bytes);
  return runDfa(bytes, 0, bytes.length, S_ACCEPT) === S_ACCEPT;
}
