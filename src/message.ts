/** Received messages. */
import { Opcode, type DataOpcode } from './protocol/constants.js';

declare const lentBrand: unique symbol;
/** A buffer valid only while the handler runs (message pool `pool`): copy or `retain()` to keep it. */
export type Lent<T> = T & { readonly [lentBrand]: true };

interface MessageBase {
  readonly opcode: DataOpcode;
  /** True for text messages (their payload is valid UTF-8). */
  readonly isText: boolean;
  /** The payload decoded as UTF-8. */
  readonly text: string;
  /** The payload parsed as JSON (text or binary holding UTF-8 JSON). */
  json<T = unknown>(): T;
}

/** A message whose payload belongs to the handler (message pool `alloc`). */
export interface OwnedMessage extends MessageBase {
  readonly payload: Buffer;
  readonly lent: false;
  /** Already owned: returns itself. */
  retain(): OwnedMessage;
}

/** A message whose payload is lent for the duration of the handler (message pool `pool`). */
export interface LentMessage extends MessageBase {
  readonly payload: Lent<Buffer>;
  readonly lent: true;
  /** A copy that stays valid after the handler returns. */
  retain(): OwnedMessage;
}

export type AnyMessage = OwnedMessage | LentMessage;

/** @internal The one runtime class behind both message types. */
export class Message {
  lent: boolean;
  constructor(
    readonly opcode: DataOpcode,
    public payload: Buffer,
    lent = false,
  ) {
    this.lent = lent;
  }

  get isText(): boolean {
    return this.opcode === Opcode.Text;
  }

  get text(): string {
    return this.payload.toString('utf8');
  }

  json<T = unknown>(): T {
    return JSON.parse(this.text) as T;
  }

  retain(): OwnedMessage {
    if (!this.lent) return this as unknown as OwnedMessage;
    return new Message(this.opcode, Buffer.from(this.payload)) as unknown as OwnedMessage;
  }
}
