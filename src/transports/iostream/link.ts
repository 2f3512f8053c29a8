/**
 * The iostream Link: the user moves the bytes. Output goes to a sink (a function, or
 * anything with write() such as a Writable); input arrives through the connection's
 * readSome(); eof() and fatalError() end it.
 */
import type { Link, LinkEvents } from '../types.js';

export type OutputSink = ((bytes: Uint8Array) => void) | { write(bytes: Uint8Array): unknown; end?(): unknown };

export class IostreamLink implements Link {
  private closed = false;
  private paused = false;
  private readonly pending: Uint8Array[] = [];

  constructor(
    private readonly output: OutputSink,
    private readonly events: LinkEvents,
  ) {}

  /** Feed bytes read from wherever the user reads them. */
  readSome(bytes: Uint8Array): void {
    if (this.closed) return;
    if (this.paused) {
      this.pending.push(bytes);
      return;
    }
    this.events.linkData(bytes);
  }

  /** The input ended. */
  eof(): void {
    if (this.closed) return;
    this.events.linkEnd();
    this.shut();
  }

  /** The stream broke: end with an error. */
  fatalError(err: Error = new Error('iostream fatal error')): void {
    if (this.closed) return;
    this.events.linkError(err);
    this.shut();
  }

  write(data: Uint8Array): void {
    if (this.closed) return;
    if (typeof this.output === 'function') this.output(data);
    else this.output.write(data);
  }

  end(): void {
    if (typeof this.output !== 'function') this.output.end?.();
    this.shut();
  }

  destroy(): void {
    this.shut();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    while (!this.paused && !this.closed && this.pending.length > 0) this.events.linkData(this.pending.shift()!);
  }

  get bufferedAmount(): number {
    return 0;
  }

  get remoteEndpoint(): string {
    return 'iostream transport';
  }

  private shut(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending.length = 0;
    this.events.linkClosed();
  }
}
