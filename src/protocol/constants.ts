/** Wire constants of RFC 6455. */

export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];
export type DataOpcode = typeof Opcode.Text | typeof Opcode.Binary;
export type ControlOpcode = typeof Opcode.Close | typeof Opcode.Ping | typeof Opcode.Pong;

/** The GUID appended to Sec-WebSocket-Key before hashing (RFC 6455 section 1.3). */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** The only protocol version spoken (Sec-WebSocket-Version). */
export const WEBSOCKET_VERSION = 13;

/** Largest payload of a control frame. */
export const MAX_CONTROL_PAYLOAD = 125;
/** Largest close reason in bytes (125 minus the 2-byte code). */
export const MAX_CLOSE_REASON = 123;
/** Largest frame header: 2 + 8 (64-bit length) + 4 (mask key). */
export const MAX_HEADER_SIZE = 14;
/** Payload lengths above this cannot be represented exactly in a JavaScript number. */
export const MAX_SAFE_PAYLOAD = Number.MAX_SAFE_INTEGER;

export function isControlOpcode(op: number): boolean {
  return (op & 0x8) !== 0;
}
