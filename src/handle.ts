/**
 * ConnectionHdl: the opaque, copyable handle of a connection (WebSocket++'s
 * connection_hdl, a weak pointer). It never keeps a connection alive; using it after the
 * connection is gone reports `websocket.bad_connection` instead of crashing. Handles are
 * unique in the process, so one endpoint never accepts another endpoint's handle.
 */
let nextId = 1;

declare const brand: unique symbol;

export class ConnectionHdl {
  declare private readonly [brand]: true;
  /** Unique in the process; stable for the connection's life. For maps and logs. */
  readonly id: number;
  /** @internal */
  readonly ref: WeakRef<object>;
  /** @internal The endpoint that created the connection. */
  readonly owner: object;

  /** @internal */
  constructor(target: object, owner: object) {
    this.id = nextId++;
    this.ref = new WeakRef(target);
    this.owner = owner;
    Object.freeze(this);
  }

  toString(): string {
    return `ConnectionHdl(${this.id})`;
  }
}
