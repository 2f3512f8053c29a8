/**
 * wspp/protocol: RFC 6455 as pure code, no I/O. Everything a transport needs to speak
 * WebSocket: the per-connection processors, the frame codec and parser, the handshake,
 * close codes, UTF-8 validation and the typed error catalogue.
 */
export * from './constants.js';
export * from './errors.js';
export * from './mask.js';
export * from './frame.js';
export * from './parser.js';
export * from './receiver.js';
export * from './utf8.js';
export * from './close.js';
export * from './http.js';
export * from './handshake.js';
export * from './processor.js';
export * from './extension.js';
export * from './deflate-params.js';
