/** WebSocket URIs (RFC 6455 section 3), parsed strictly. */
import { WsppError } from './protocol/errors.js';

export interface WsUri {
  readonly secure: boolean;
  /** Host name or IP address; IPv6 without brackets. */
  readonly host: string;
  readonly port: number;
  /** Path and query, at least "/". */
  readonly resource: string;
  /** The URI as given. */
  readonly href: string;
}

/** Parse a ws:// or wss:// URI; fragments are not allowed (RFC 6455 section 3). */
export function parseWsUri(input: string): WsUri | WsppError {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return new WsppError('websocket.invalid_uri');
  }
  const secure = url.protocol === 'wss:';
  if (!secure && url.protocol !== 'ws:') return new WsppError('websocket.invalid_uri');
  if (url.hash !== '' || input.includes('#')) return new WsppError('websocket.invalid_uri');
  if (url.hostname === '') return new WsppError('websocket.invalid_uri');
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return new WsppError('websocket.invalid_port');
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return Object.freeze({ secure, host, port, resource: `${url.pathname || '/'}${url.search}`, href: input });
}
