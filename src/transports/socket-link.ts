/**
 * A Link over a node:net Socket (plain or TLS). Writes made in one tick are corked into
 * one writev; the socket's events reach the connection through module-level functions
 * (no closures per socket: idle connections stay small).
 */
import type { Socket } from 'node:net';
import type { Link, LinkEvents } from './types.js';

const kEvents = Symbol('wspp.link');

type LinkedSocket = Socket & { [kEvents]: LinkEvents };

function onData(this: LinkedSocket, chunk: Buffer): void {
  this[kEvents].linkData(chunk);
}
function onEnd(this: LinkedSocket): void {
  this[kEvents].linkEnd();
}
function onError(this: LinkedSocket, err: Error): void {
  this[kEvents].linkError(err);
}
function onDrain(this: LinkedSocket): void {
  this[kEvents].linkDrain();
}
function onClose(this: LinkedSocket): void {
  this[kEvents].linkClosed();
}
function uncork(link: SocketLink): void {
  link.corked = false;
  link.socket.uncork();
}

export class SocketLink implements Link {
  /** @internal */
  corked = false;
  private remote: string | undefined;

  constructor(
    readonly socket: Socket,
    events: LinkEvents,
  ) {
    (socket as LinkedSocket)[kEvents] = events;
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.on('drain', onDrain);
    socket.on('close', onClose);
    if (socket.destroyed) process.nextTick(() => events.linkClosed());
  }

  write(data: Uint8Array): void {
    const socket = this.socket;
    if (socket.destroyed) return;
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      process.nextTick(uncork, this);
    }
    socket.write(data);
  }

  end(): void {
    const socket = this.socket;
    if (this.corked) {
      this.corked = false;
      socket.uncork();
    }
    socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  get remoteEndpoint(): string {
    if (this.remote === undefined) {
      const { remoteAddress, remotePort } = this.socket;
      if (remoteAddress === undefined) return 'unknown';
      this.remote = remoteAddress.includes(':') ? `[${remoteAddress}]:${remotePort}` : `${remoteAddress}:${remotePort}`;
    }
    return this.remote;
  }
}
