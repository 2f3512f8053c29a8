/**
 * ConnectionHdl: the opaque, copyable handle of a connection (WebSocket++'s
 * connection_hdl, a weak pointer). It never keeps a connection alive after the
 * connection ended: the connection lets go of it when it is released, and using the
 * handle then reports `websocket.bad_connection` instead of crashing. Handles are
 * unique in the process, so one endpoint never accepts another endpoint's handle.
 */
let nextId = 1;

declare const brand: unique symbol;

export class ConnectionHdl {
  declare private readonly [brand]: true;
  /** Unique in the process; stable for the connection's life. For maps and logs. */
  readonly id: number;
  /** @internal The endpoint that created the connection. */
  readonly owner: object;
  #target: object | undefined;

  /** @internal */
  constructor(target: object, owner: object) {
    this.id = nextId++;
    this.#target = target;
    this.owner = owner;
  }

  /** @internal The connection, while it lives. */
  get target(): object | undefined {
    return this.#target;
  }

  /** @internal The connection has ended: forget it. */
  release(): void {
    this.#target = undefined;
  }

  toString(): string {
    return `ConnectionHdl(${this.id})`;
  }
}
