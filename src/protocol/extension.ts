/**
 * The interface a per-message extension (permessage-deflate) offers the processor.
 * Implementations live with the extension policies; the processor only sequences
 * calls: messages are decoded in order (reading pauses meanwhile) and encoded
 * messages are written in the order they were sent.
 */
import type { WsppError } from './errors.js';

export type CodecCallback = (err: WsppError | undefined, out?: Uint8Array) => void;

export interface MessageCodec {
  /**
   * Decode a whole message that arrived with RSV1 set, producing at most `maxSize`
   * bytes; more is `processor.message_too_big` (1009), found while decoding.
   */
  decompress(data: Uint8Array, maxSize: number, done: CodecCallback): void;
  /** Encode a whole message; its frame will carry RSV1. */
  compress(data: Uint8Array, done: CodecCallback): void;
  /** Whether a message of `length` bytes is worth compressing (the threshold). */
  shouldCompress(length: number): boolean;
  /** Release the codec's resources (zlib contexts); later calls fail. */
  close(): void;
}
