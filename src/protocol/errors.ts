/**
 * The typed error catalogue: every error wspp reports has a `code` of the form
 * `category.name`, a human message (WebSocket++'s wording where it has one), and the
 * close code (or HTTP status) it maps to. One table, so the union type, the messages
 * and the mappings can never drift apart.
 */

/** A catalogue entry: the message, and the close code / HTTP status the error maps to. */
interface Entry {
  readonly message: string;
  /** Close code sent when this error ends an open connection (1006 = drop, never sent on the wire). */
  readonly close: number;
  /** HTTP status answered when this error rejects an opening handshake. */
  readonly status?: number;
}

const e = (message: string, close = 1011, status?: number): Entry =>
  status === undefined ? { message, close } : { message, close, status };

export const errorCatalogue = {
  websocket: {
    general: e('Generic error'),
    send_queue_full: e('send queue full', 1008),
    payload_violation: e('payload violation', 1007),
    endpoint_not_secure: e('endpoint not secure'),
    endpoint_unavailable: e('endpoint not available'),
    invalid_uri: e('invalid uri'),
    no_outgoing_buffers: e('no outgoing message buffers'),
    no_incoming_buffers: e('no incoming message buffers'),
    invalid_state: e('invalid state'),
    bad_close_code: e('Unable to extract close code', 1002),
    reserved_close_code: e('Extracted close code is in a reserved range', 1002),
    invalid_close_code: e('Extracted close code is in an invalid range', 1002),
    invalid_utf8: e('Invalid UTF-8', 1007),
    invalid_subprotocol: e('Invalid subprotocol'),
    bad_connection: e('Bad Connection'),
    test: e('Test Error'),
    con_creation_failed: e('Connection creation attempt failed'),
    unrequested_subprotocol: e('Selected subprotocol was not requested by the client', 1006),
    client_only: e('Feature not available on server endpoints'),
    server_only: e('Feature not available on client endpoints'),
    http_connection_ended: e('HTTP connection ended', 1006),
    open_handshake_timeout: e('The opening handshake timed out', 1006, 408),
    close_handshake_timeout: e('The closing handshake timed out', 1006),
    invalid_port: e('Invalid URI port'),
    async_accept_not_listening: e('Async Accept not listening'),
    operation_canceled: e('Operation canceled', 1006),
    rejected: e('Connection rejected', 1006, 403),
    upgrade_required: e('Upgrade required', 1006, 426),
    invalid_version: e('Invalid version', 1006, 400),
    unsupported_version: e('Unsupported version', 1006, 426),
    http_parse_error: e('HTTP parse error', 1006, 400),
    extension_neg_failed: e('Extension negotiation failed', 1010, 400),
    pong_timeout: e('The peer did not answer a ping in time', 1006),
    slow_consumer: e('The peer does not read fast enough: send queue limit reached', 1008),
  },
  processor: {
    general: e('Generic processor error'),
    bad_request: e('invalid user input', 1006, 400),
    protocol_violation: e('Generic protocol violation', 1002),
    message_too_big: e('A message was too large', 1009),
    too_many_fragments: e('A message was split into too many fragments', 1009),
    invalid_payload: e('A payload contained invalid data', 1007),
    invalid_arguments: e('invalid function arguments'),
    invalid_opcode: e('invalid opcode', 1002),
    control_too_big: e('Control messages are limited to fewer than 125 characters', 1002),
    invalid_rsv_bit: e('Invalid use of reserved bits', 1002),
    fragmented_control: e('Control messages cannot be fragmented', 1002),
    invalid_continuation: e('Invalid message continuation', 1002),
    masking_required: e('Clients may not send unmasked frames', 1002),
    masking_forbidden: e('Servers may not send masked frames', 1002),
    non_minimal_encoding: e('Payload length was not minimally encoded', 1002),
    requires_64bit: e('Payload length above 2^53-1 is not supported', 1009),
    invalid_utf8: e('Invalid UTF8 encoding', 1007),
    incomplete_frame: e('The connection ended in the middle of a frame', 1006),
    not_implemented: e('Operation required not implemented functionality'),
    invalid_http_method: e('Invalid HTTP method.', 1006, 405),
    invalid_http_version: e('Invalid HTTP version.', 1006, 505),
    invalid_http_status: e('Invalid HTTP status.', 1006),
    missing_required_header: e('A required HTTP header is missing', 1006, 400),
    invalid_upgrade_header: e('The Upgrade header does not name websocket', 1006, 400),
    invalid_connection_header: e('The Connection header does not contain upgrade', 1006, 400),
    invalid_key: e('Sec-WebSocket-Key is not the base64 encoding of 16 bytes', 1006, 400),
    invalid_accept: e('Sec-WebSocket-Accept does not match the key sent', 1006),
    no_handshake: e('The connection ended before the opening handshake completed', 1006),
    sha1_library: e('SHA-1 library error'),
    no_protocol_support: e('The WebSocket protocol version in use does not support this feature'),
    reserved_close_code: e('Reserved close code used', 1002),
    invalid_close_code: e('Invalid close code used', 1002),
    invalid_close_payload: e('A close frame payload of one byte is not allowed', 1002),
    reason_requires_code: e('Using a close reason requires a valid close code'),
    reason_too_long: e('A close reason is limited to 123 bytes', 1002),
    subprotocol_parse_error: e('Error parsing subprotocol header', 1006, 400),
    extension_parse_error: e('Error parsing extension header', 1006, 400),
    extensions_disabled: e('Extensions are disabled', 1010),
    unrequested_extension: e('The server accepted an extension the client did not offer', 1010),
    short_key3: e('Short Hybi00 Key 3 read'),
  },
  transport: {
    general: e('Generic transport policy error', 1006),
    pass_through: e('Underlying Transport Error', 1006),
    invalid_num_bytes: e('async_read_at_least call requested more bytes than buffer can store', 1006),
    double_read: e('Async read already in progress', 1006),
    operation_aborted: e('The operation was aborted', 1006),
    operation_not_supported: e('The operation is not supported by this transport', 1006),
    eof: e('End of File', 1006),
    tls_short_read: e('TLS Short Read', 1006),
    timeout: e('Timer Expired', 1006),
    action_after_shutdown: e('A transport action was requested after shutdown', 1006),
    tls_error: e('Generic TLS related error', 1006),
    proxy_failed: e('Proxy connection failed', 1006),
    proxy_invalid: e('Invalid proxy URI', 1006),
    invalid_host_service: e('Invalid host or service', 1006),
    security: e('Security policy error', 1006),
    socket: e('Socket component error', 1006),
    invalid_state: e('Invalid state', 1006),
    invalid_tls_context: e('Invalid or empty TLS context supplied', 1006),
    tls_handshake_timeout: e('TLS handshake timed out', 1006),
    missing_tls_init_handler: e('Required tls_init handler not present.', 1006),
    tls_handshake_failed: e('TLS handshake failed', 1006),
    tls_failed_sni_hostname: e('Failed to set TLS SNI hostname', 1006),
    output_stream_required: e('An output stream to be set before async_write can be used', 1006),
    bad_stream: e('A stream operation failed', 1006),
    connection_reset: e('The peer reset the connection', 1006),
  },
  http: {
    parse_error: e('HTTP parse error', 1006, 400),
    head_too_large: e('The HTTP head exceeds the size limit', 1006, 431),
    too_many_headers: e('The HTTP head has more header fields than allowed', 1006, 431),
    invalid_request_line: e('Malformed HTTP request line', 1006, 400),
    invalid_status_line: e('Malformed HTTP status line', 1006, 400),
    unsupported_version: e('Unsupported HTTP version', 1006, 505),
    bare_cr: e('Bare CR or LF in the HTTP head', 1006, 400),
    obs_fold: e('Obsolete line folding in the HTTP head', 1006, 400),
    invalid_header_name: e('Invalid HTTP header field name', 1006, 400),
    invalid_header_value: e('Invalid HTTP header field value', 1006, 400),
    duplicate_header: e('A header field that must be unique appears twice', 1006, 400),
    unexpected_body: e('The handshake request carries a body', 1006, 400),
  },
  extension: {
    general: e('Generic extension error', 1010),
    disabled: e('Use of methods from disabled extension', 1010),
    invalid_attributes: e('Extension attributes are invalid', 1010, 400),
    invalid_attribute_value: e('Extension attribute value is invalid', 1010, 400),
    invalid_mode: e('Invalid extension mode', 1010),
    unsupported_attributes: e('Unsupported extension attributes', 1010, 400),
    invalid_max_window_bits: e('Invalid value for max_window_bits', 1010, 400),
    zlib_error: e('A zlib function returned an error', 1011),
    uninitialized: e('Deflate extension must be initialized before use', 1011),
    inflate_too_big: e('A compressed message inflates past the size limit', 1009),
  },
} as const satisfies Record<string, Record<string, Entry>>;

type Catalogue = typeof errorCatalogue;
export type ErrorCategory = keyof Catalogue;
/** Every error code, `category.name`; e.g. `'processor.invalid_utf8'`. */
export type ErrorCode = { [C in ErrorCategory]: `${C}.${keyof Catalogue[C] & string}` }[ErrorCategory];
/** The codes of one category. */
export type ErrorCodeOf<C extends ErrorCategory> = Extract<ErrorCode, `${C}.${string}`>;

function entryOf(code: ErrorCode): Entry {
  const dot = code.indexOf('.');
  const table = errorCatalogue[code.slice(0, dot) as ErrorCategory] as Record<string, Entry>;
  const entry = table[code.slice(dot + 1)];
  if (entry === undefined) throw new TypeError(`unknown wspp error code ${code}`);
  return entry;
}

/**
 * The one error class of wspp. Thrown by the throwing forms of fallible methods,
 * returned by the non-throwing forms, and handed to fail handlers.
 */
export class WsppError<Code extends ErrorCode = ErrorCode> extends Error {
  override readonly name = 'WsppError';
  readonly code: Code;
  readonly category: ErrorCategory;
  /** Close code this error maps to when it ends an open connection. */
  readonly closeCode: number;
  /** HTTP status when the error rejects an opening handshake (400 if the catalogue names none). */
  readonly status: number;

  constructor(code: Code, detail?: string, options?: { cause?: unknown }) {
    const entry = entryOf(code);
    super(detail === undefined ? entry.message : `${entry.message}: ${detail}`, options);
    this.code = code;
    this.category = code.slice(0, code.indexOf('.')) as ErrorCategory;
    this.closeCode = entry.close;
    this.status = entry.status ?? 400;
  }

  /** Is this error of the given code (narrows the type)? */
  is<K extends ErrorCode>(code: K): this is WsppError<K> {
    return (this.code as ErrorCode) === code;
  }
}

/** The message of a code without building an error. */
export function errorMessage(code: ErrorCode): string {
  return entryOf(code).message;
}

export function isWsppError(value: unknown): value is WsppError {
  return value instanceof WsppError;
}
