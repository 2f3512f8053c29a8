/**
 * wspp: WebSocket++'s policy-based design in TypeScript. The public API.
 *
 * The endpoint roles (Server, Client), configs and policies are being built on top of
 * the protocol core exported here (see DESIGN.md and the open issues).
 */
export * from './protocol/index.js';
