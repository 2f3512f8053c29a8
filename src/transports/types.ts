/**
 * What a transport gives a connection: a byte pipe (a Link). The connection owns the
 * processor and timers; the link only moves bytes and reports what happened to them.
 */
export interface LinkEvents {
  linkData(chunk: Uint8Array): void;
  /** The peer finished sending (FIN) or the stream ended. */
  linkEnd(): void;
  /** A transport error; `linkClosed` follows. */
  linkError(err: Error): void;
  /** Everything written so far has been handed to the OS. */
  linkDrain(): void;
  /** The pipe is closed for good. */
  linkClosed(): void;
}

export interface Link {
  write(data: Uint8Array): void;
  /** Optional: room for `length` bytes in the output batch (offset into outputBuffer), or -1. */
  reserve?(length: number): number;
  readonly outputBuffer?: Uint8Array;
  /** Flush, then end our side. */
  end(): void;
  /**
   * Optional: flush, then close both directions now, the OS delivering what was written
   * before its orderly close (no half-close, no waiting for the peer's end). Returns false,
   * having done nothing, when it cannot: output still queued, or a protocol (TLS) that
   * must say goodbye first.
   */
  release?(): boolean;
  /** Close now, dropping unsent bytes. */
  destroy(): void;
  pause(): void;
  resume(): void;
  /** Bytes accepted by write() and not yet handed to the OS. */
  readonly bufferedAmount: number;
  /**
   * Optional: whether the link may still read buffers passed to write() (a write not yet
   * complete). False means the caller may reuse them now; absent means it may not.
   */
  readonly holdsWrites?: boolean;
  /** "address:port" of the peer (or a description for non-socket links). */
  readonly remoteEndpoint: string;
}

export type TransportKind = 'tcp' | 'tls' | 'iostream';

/** The transport choice in a config. */
export interface TransportSpec<K extends TransportKind = TransportKind> {
  readonly kind: K;
}
