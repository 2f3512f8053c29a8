/** The handler registry shared by endpoints and connections. */

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the typed setters in roles/types.ts check signatures
type AnyHandler = (...args: any[]) => unknown;

/** Handlers by name; the typed setters of roles/types.ts decide their signatures. */
export interface HandlerTable {
  open?: AnyHandler;
  close?: AnyHandler;
  fail?: AnyHandler;
  message?: AnyHandler;
  ping?: AnyHandler;
  pong?: AnyHandler;
  pongTimeout?: AnyHandler;
  interrupt?: AnyHandler;
  drain?: AnyHandler;
  validate?: AnyHandler;
  http?: AnyHandler;
  tlsInit?: AnyHandler;
  socketInit?: AnyHandler;
  tcpPreInit?: AnyHandler;
  tcpPostInit?: AnyHandler;
}

export type HandlerName = keyof HandlerTable;


export type { AnyHandler };

/** The handler setters every endpoint and connection has, by the handler they set. */
export const HANDLER_SETTERS = {
  setOpenHandler: 'open',
  setCloseHandler: 'close',
  setFailHandler: 'fail',
  setMessageHandler: 'message',
  setPingHandler: 'ping',
  setPongHandler: 'pong',
  setPongTimeoutHandler: 'pongTimeout',
  setInterruptHandler: 'interrupt',
  setDrainHandler: 'drain',
  setValidateHandler: 'validate',
  setHttpHandler: 'http',
  setTlsInitHandler: 'tlsInit',
  setSocketInitHandler: 'socketInit',
  setTcpPreInitHandler: 'tcpPreInit',
  setTcpPostInitHandler: 'tcpPostInit',
} as const satisfies Record<string, HandlerName>;

/** Give a class the `set<Name>Handler` methods, all forwarding to its `setHandler`. */
export function installHandlerSetters(target: { prototype: object }): void {
  for (const [method, name] of Object.entries(HANDLER_SETTERS)) {
    Object.defineProperty(target.prototype, method, {
      value: function (this: { setHandler(n: HandlerName, h: AnyHandler | undefined): void }, handler: AnyHandler | undefined) {
        this.setHandler(name, handler);
      },
      writable: true,
      configurable: true,
    });
  }
}

