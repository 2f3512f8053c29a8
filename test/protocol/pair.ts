import { randomFillSync } from 'node:crypto';
import type { DataOpcode } from '../../src/protocol/constants.js';
import type { WsppError } from '../../src/protocol/errors.js';
import type { HttpHead } from '../../src/protocol/http.js';
import type { ClientRequestInfo } from '../../src/protocol/handshake.js';
import {
  ClientProcessor,
  ServerProcessor,
  type ClientProcessorOptions,
  type ProcessorOptions,
  type ServerProcessorHost,
} from '../../src/protocol/processor.js';

export type Event =
  | ['open']
  | ['message', DataOpcode, Buffer]
  | ['ping', string]
  | ['pong', string]
  | ['closeFrame', number, string]
  | ['close']
  | ['fail', WsppError];

/** A processor host that records what happens and collects written bytes. */
export class Side implements ServerProcessorHost {
  events: Event[] = [];
  out: Uint8Array[] = [];
  ended = false;
  /** The `release` of the end() call (see ProcessorHost.end). */
  released: boolean | undefined;
  answerPings = true;
  onUpgradeRequest?: (request: ClientRequestInfo) => void;
  onHttpRequest?: (head: HttpHead) => void;
  onMessageHook?: (opcode: DataOpcode, payload: Uint8Array) => void;

  write(data: Uint8Array): void {
    this.out.push(Uint8Array.from(data));
  }
  end(release?: boolean): void {
    this.ended = true;
    this.released = release === true;
  }
  onOpen(): void {
    this.events.push(['open']);
  }
  onMessage(opcode: DataOpcode, payload: Uint8Array): void {
    this.events.push(['message', opcode, Buffer.from(payload)]);
    this.onMessageHook?.(opcode, payload);
  }
  onPing(payload: Uint8Array): boolean {
    this.events.push(['ping', Buffer.from(payload).toString()]);
    return this.answerPings;
  }
  onPong(payload: Uint8Array): void {
    this.events.push(['pong', Buffer.from(payload).toString()]);
  }
  onCloseFrame(code: number, reason: string): void {
    this.events.push(['closeFrame', code, reason]);
  }
  onClose(): void {
    this.events.push(['close']);
  }
  onFail(error: WsppError): void {
    this.events.push(['fail', error]);
  }

  /** Take everything written so far as one buffer. */
  take(): Buffer {
    const all = Buffer.concat(this.out);
    this.out = [];
    return all;
  }

  messages(): [DataOpcode, Buffer][] {
    return this.events.filter((e): e is ['message', DataOpcode, Buffer] => e[0] === 'message').map((e) => [e[1], e[2]]);
  }

  kinds(): string[] {
    return this.events.map((e) => e[0]);
  }
}

export const random = (target: Uint8Array, offset: number, length: number): void => {
  randomFillSync(target, offset, length);
};

export interface Pair {
  client: ClientProcessor;
  server: ServerProcessor;
  c: Side;
  s: Side;
  /** Deliver written bytes both ways until both sides are quiet. */
  pump(): void;
}

export function makePair(
  options: { client?: Partial<ClientProcessorOptions>; server?: ProcessorOptions; setup?: (s: Side, c: Side) => void } = {},
): Pair {
  const c = new Side();
  const s = new Side();
  options.setup?.(s, c);
  const client = new ClientProcessor(c, { host: 'localhost', port: 9002, random, ...options.client });
  const server = new ServerProcessor(s, options.server);
  const pump = (): void => {
    for (let i = 0; i < 1000 && (c.out.length > 0 || s.out.length > 0); i++) {
      const toServer = c.take();
      if (toServer.length > 0) server.feed(toServer);
      const toClient = s.take();
      if (toClient.length > 0) client.feed(toClient);
    }
  };
  return { client, server, c, s, pump };
}

export function openPair(options: Parameters<typeof makePair>[0] = {}): Pair {
  const pair = makePair(options);
  pair.client.start();
  pair.pump();
  if (pair.client.state !== 'open' || pair.server.state !== 'open') throw new Error('handshake did not complete');
  return pair;
}
