/**
 * Close codes and close frame payloads (RFC 6455 sections 5.5.1 and 7.4), after
 * WebSocket++'s `websocketpp::close` namespace. Errors are returned as values.
 */
import { Buffer } from 'node:buffer';
import { MAX_CLOSE_REASON } from './constants.js';
import { WsppError } from './errors.js';
import { isValidUtf8 } from './utf8.js';

/**
 * Close codes, named as WebSocket++'s `close::status` values. `blank`, `omitHandshake`
 * and `forceTcpDrop` are local pseudo codes (close without a handshake, drop the TCP
 * connection) and never appear on the wire; neither do 1005, 1006 and 1015.
 */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  unsupportedData: 1003,
  noStatus: 1005,
  abnormalClose: 1006,
  invalidPayload: 1007,
  policyViolation: 1008,
  messageTooBig: 1009,
  extensionRequired: 1010,
  internalEndpointError: 1011,
  serviceRestart: 1012,
  tryAgainLater: 1013,
  badGateway: 1014,
  tlsHandshake: 1015,
  subprotocolError: 3000,
  invalidSubprotocolData: 3001,
  blank: 0,
  omitHandshake: 1,
  forceTcpDrop: 2,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * A human readable name for a close code, as WebSocket++'s `close::status::get_string`
 * (including its spelling "Policy violoation"; 1012-1014, which WebSocket++ leaves
 * "Unknown", get their IANA names). Unknown codes give "Unknown".
 */
export function closeCodeName(code: number): string {
  switch (code) {
    case 1000:
      return 'Normal close';
    case 1001:
      return 'Going away';
    case 1002:
      return 'Protocol error';
    case 1003:
      return 'Unsupported data';
    case 1005:
      return 'No status set';
    case 1006:
      return 'Abnormal close';
    case 1007:
      return 'Invalid payload';
    case 1008:
      return 'Policy violoation';
    case 1009:
      return 'Message too big';
    case 1010:
      return 'Extension required';
    case 1011:
      return 'Internal endpoint error';
    case 1012:
      return 'Service restart';
    case 1013:
      return 'Try again later';
    case 1014:
      return 'Bad gateway';
    case 1015:
      return 'TLS handshake failure';
    case 3000:
      return 'Generic subprotocol error';
    case 3001:
      return 'Invalid subprotocol data';
    default:
      return 'Unknown';
  }
}

/** Reserved for future protocol use: 1004 and 1016-2999 (WebSocket++'s `close::status::reserved`). */
export function isReservedCloseCode(code: number): boolean {
  return code === 1004 || (code >= 1016 && code <= 2999);
}

/**
 * Never valid on the wire: <= 999, >= 5000, 1005, 1006, 1015 (WebSocket++'s
 * `close::status::invalid`). Non-integers count as invalid too.
 */
export function isInvalidCloseCode(code: number): boolean {
  return (
    !Number.isInteger(code) || code <= 999 || code >= 5000 || code === 1005 || code === 1006 || code === 1015
  );
}

/**
 * May appear in a close frame (RFC 6455 section 7.4 and the IANA registry):
 * 1000-1003, 1007-1014 and 3000-4999. Exactly the codes that are neither invalid nor reserved.
 */
export function isValidWireCloseCode(code: number): boolean {
  return (
    Number.isInteger(code) &&
    ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999))
  );
}

/** A parsed close frame payload. */
export interface ClosePayload {
  code: number;
  reason: string;
}

/**
 * Parses a received close frame payload. An empty payload means "no status" (1005,
 * reason ''). Errors: `processor.invalid_close_payload` (1 byte),
 * `processor.control_too_big` (over 125 bytes), `processor.invalid_close_code`,
 * `processor.reserved_close_code`, `processor.invalid_utf8` (reason).
 */
export function parseClosePayload(payload: Uint8Array): ClosePayload | WsppError {
  const n = payload.length;
  if (n === 0) return { code: CloseCode.noStatus, reason: '' };
  if (n === 1) return new WsppError('processor.invalid_close_payload');
  if (n > 2 + MAX_CLOSE_REASON) return new WsppError('processor.control_too_big', `close payload of ${n} bytes`);
  const code = (payload[0]! << 8) | payload[1]!;
  if (isInvalidCloseCode(code)) return new WsppError('processor.invalid_close_code', String(code));
  if (isReservedCloseCode(code)) return new WsppError('processor.reserved_close_code', String(code));
  if (n === 2) return { code, reason: '' };
  const reasonBytes = payload.subarray(2);
  if (!isValidUtf8(reasonBytes)) return new WsppError('processor.invalid_utf8', 'close reason');
  // Buffer's decoder keeps a leading U+FEFF (TextDecoder would strip it).
  const reason = Buffer.from(reasonBytes.buffer, reasonBytes.byteOffset, reasonBytes.length).toString('utf8');
  return { code, reason };
}

/** A lone UTF-16 surrogate: a string that has no UTF-8 encoding. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Builds the payload of a close frame we send. No code (or 1005) and no reason gives
 * an empty payload. Errors: `processor.reason_requires_code` (reason without a code),
 * `processor.invalid_close_code` / `processor.reserved_close_code` (a code that must
 * not be sent), `processor.invalid_utf8` (a reason with lone surrogates),
 * `processor.reason_too_long` (reason over 123 UTF-8 bytes; never truncated).
 */
export function buildClosePayload(code: number | undefined, reason?: string): Uint8Array | WsppError {
  const hasReason = reason !== undefined && reason.length > 0;
  if (code === undefined || code === CloseCode.noStatus) {
    return hasReason ? new WsppError('processor.reason_requires_code') : new Uint8Array(0);
  }
  if (isInvalidCloseCode(code)) return new WsppError('processor.invalid_close_code', String(code));
  if (isReservedCloseCode(code)) return new WsppError('processor.reserved_close_code', String(code));
  if (!hasReason) return new Uint8Array([code >>> 8, code & 0xff]);
  if (LONE_SURROGATE.test(reason)) return new WsppError('processor.invalid_utf8', 'close reason has a lone surrogate');
  const size = Buffer.byteLength(reason, 'utf8');
  if (size > MAX_CLOSE_REASON) {
    return new WsppError('processor.reason_too_long', `${size} bytes`);
  }
  const out = new Uint8Array(2 + size);
  out[0] = code >>> 8;
  out[1] = code & 0xff;
  Buffer.from(out.buffer, out.byteOffset, out.length).write(reason, 2, 'utf8');
  return out;
}
