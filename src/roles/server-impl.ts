/**
 * The server role at run time: listen/accept over tcp or tls, attach to an existing
 * node:http server (handleUpgrade), or make iostream connections the user feeds.
 */
import type { IncomingMessage } from 'node:http';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Config } from '../config/types.js';
import type { ConnectionImpl } from '../connection.js';
import { EndpointCore } from '../endpoint-core.js';
import { orThrow } from '../or-throw.js';
import { AccessChannel, ErrorChannel } from '../policies/logging/channels.js';
import { WsppError } from '../protocol/errors.js';
import { IostreamLink, type OutputSink } from '../transports/iostream/link.js';
import { SocketLink } from '../transports/socket-link.js';

export interface ListenOptions {
  /** Interface to bind (default: all, dual stack). */
  host?: string;
  backlog?: number;
  /** Start accepting at once (default true); false waits for startAccept(). */
  accept?: boolean;
}

export interface ListenAddress {
  address: string;
  port: number;
  family: string;
}

/** @internal */
export class ServerImpl extends EndpointCore {
  private netServer: net.Server | undefined;
  private accepting = false;
  private readonly held: net.Socket[] = [];

  constructor(config: Config) {
    super(config);
  }

  // --- listening -----------------------------------------------------------------

  /** Bind and (by default) start accepting. Resolves with the bound address or the error. */
  tryListen(port: number, options: ListenOptions | string = {}): Promise<ListenAddress | WsppError> {
    const opts = typeof options === 'string' ? { host: options } : options;
    const kind = this.config.transport.kind;
    if (kind === 'iostream') return Promise.resolve(new WsppError('transport.operation_not_supported', 'an iostream endpoint does not listen'));
    if (this.netServer !== undefined) return Promise.resolve(new WsppError('websocket.invalid_state', 'already listening'));
    if (!Number.isInteger(port) || port < 0 || port > 65535) return Promise.resolve(new WsppError('websocket.invalid_port', String(port)));
    const spec = this.config.transport as unknown as { backlog: number; ipv6Only: boolean };
    const server = net.createServer({ allowHalfOpen: false, noDelay: (this.config.transport as { noDelay?: boolean }).noDelay ?? true });
    server.on('connection', (socket) => this.onSocket(socket));
    this.netServer = server;
    return new Promise((resolve) => {
      const fail = (err: Error): void => {
        this.netServer = undefined;
        resolve(new WsppError('transport.pass_through', err.message, { cause: err }));
      };
      server.once('error', fail);
      server.listen({ port, host: opts.host, backlog: opts.backlog ?? spec.backlog, ipv6Only: spec.ipv6Only }, () => {
        server.off('error', fail);
        server.on('error', (err) => this.logError(ErrorChannel.rerror, `listen socket error: ${err.message}`));
        this.accepting = opts.accept !== false;
        const addr = server.address() as net.AddressInfo;
        const alog = this.alog;
        if ((alog.mask & AccessChannel.endpoint) !== 0) alog.write(AccessChannel.endpoint, `listening on ${addr.address}:${addr.port}`);
        resolve({ address: addr.address, port: addr.port, family: addr.family });
      });
    });
  }

  async listen(port: number, options: ListenOptions | string = {}): Promise<ListenAddress> {
    const result = await this.tryListen(port, options);
    if (result instanceof WsppError) throw result;
    return result;
  }

  /** Accept connections (after listen({ accept: false }) or stopAccept()). */
  startAccept(): void {
    if (this.netServer === undefined) throw new WsppError('websocket.async_accept_not_listening');
    this.accepting = true;
    for (const socket of this.held.splice(0)) this.onSocket(socket);
  }

  /** Hold new connections (they wait, unread, until startAccept()). */
  stopAccept(): void {
    this.accepting = false;
  }

  /**
   * Close the listening socket; open connections go on. Resolves once no new
   * connection can arrive (not when the existing ones end: that is stop()'s job).
   */
  stopListening(): Promise<void> {
    const server = this.netServer;
    this.netServer = undefined;
    this.accepting = false;
    for (const socket of this.held.splice(0)) socket.destroy();
    if (server === undefined) return Promise.resolve();
    server.close();
    return new Promise((resolve) => setImmediate(resolve));
  }

  get isListening(): boolean {
    return this.netServer !== undefined;
  }

  address(): ListenAddress | undefined {
    const addr = this.netServer?.address();
    if (addr === null || addr === undefined || typeof addr === 'string') return undefined;
    return { address: addr.address, port: addr.port, family: addr.family };
  }

  /**
   * Stop listening, close every connection with 1001 (Going away), and wait until all
   * have ended (bounded by the close-handshake timeout per connection).
   */
  async stop(code = 1001, reason = 'server stopping'): Promise<void> {
    await this.stopListening();
    for (const con of this.liveList()) {
      if (con.state === 'open') con.tryClose(code, reason);
      else if (con.state === 'connecting') con.terminate(new WsppError('websocket.operation_canceled'));
    }
    await this.whenIdle();
    this.stopPerpetual();
  }

  // --- node:http attach ----------------------------------------------------------

  /**
   * Take over an upgrade request of an existing node:http(s) server:
   * `httpServer.on('upgrade', (req, socket, head) => server.handleUpgrade(req, socket, head))`.
   */
  handleUpgrade(req: IncomingMessage, socket: net.Socket, head: Buffer = Buffer.alloc(0)): void {
    const con = this.newConnection('server');
    const link = new SocketLink(socket, con);
    socket.setNoDelay((this.config.transport as { noDelay?: boolean }).noDelay ?? true);
    con.startServer(link);
    // The HTTP server consumed the head: hand it to the processor as bytes, so the
    // one strict validation path applies to attached and standalone servers alike.
    let text = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/${req.httpVersion}\r\n`;
    const raw = req.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) text += `${raw[i]}: ${raw[i + 1]}\r\n`;
    text += '\r\n';
    con.linkData(Buffer.from(text, 'latin1'));
    if (head.length > 0) con.linkData(head);
  }

  // --- iostream -------------------------------------------------------------------

  /**
   * iostream: a connection whose bytes the user moves: `output` receives what the
   * connection writes; feed input with `con.readSome(bytes)`, end with `con.eof()`.
   */
  tryCreateConnection(output: OutputSink): ConnectionImpl | WsppError {
    if (this.config.transport.kind !== 'iostream') return new WsppError('transport.operation_not_supported', 'not an iostream endpoint');
    const con = this.newConnection('server');
    con.startServer(new IostreamLink(output, con));
    return con;
  }

  createConnection(output: OutputSink): ConnectionImpl {
    return orThrow(this.tryCreateConnection(output));
  }

  // --- accepting --------------------------------------------------------------------

  private onSocket(socket: net.Socket): void {
    if (!this.accepting) {
      socket.pause();
      this.held.push(socket);
      return;
    }
    const con = this.newConnection('server');
    const handlers = con.handlers;
    try {
      handlers.socketInit?.(con.hdl as never, socket as never, con as never);
      handlers.tcpPreInit?.(con.hdl as never, con as never);
    } catch (err) {
      this.logError(ErrorChannel.rerror, `socket init handler threw: ${String(err)}`);
    }
    if (this.config.transport.kind === 'tls') {
      this.startTls(con, socket);
      return;
    }
    try {
      handlers.tcpPostInit?.(con.hdl as never, con as never);
    } catch (err) {
      this.logError(ErrorChannel.rerror, `tcpPostInit handler threw: ${String(err)}`);
    }
    con.startServer(new SocketLink(socket, con));
  }

  private startTls(con: ConnectionImpl, socket: net.Socket): void {
    const init = con.handlers.tlsInit;
    if (init === undefined) {
      socket.destroy();
      con.failEarly(new WsppError('transport.missing_tls_init_handler'));
      return;
    }
    let context: tls.SecureContext;
    try {
      const options = init(con.hdl as never, con as never) as tls.SecureContextOptions | tls.SecureContext;
      context = isSecureContext(options) ? options : tls.createSecureContext(options);
    } catch (err) {
      socket.destroy();
      con.failEarly(new WsppError('transport.invalid_tls_context', (err as Error).message, { cause: err }));
      return;
    }
    const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: context });
    const wait = this.config.timeouts.socketPostInit;
    let timer: NodeJS.Timeout | undefined;
    const failed = (error: WsppError): void => {
      if (timer !== undefined) clearTimeout(timer);
      secure.destroy();
      con.failEarly(error);
    };
    if (wait > 0) {
      timer = setTimeout(() => failed(new WsppError('transport.tls_handshake_timeout')), wait);
      timer.unref();
    }
    const onError = (err: Error): void => failed(new WsppError('transport.tls_handshake_failed', err.message, { cause: err }));
    secure.once('error', onError);
    secure.once('secure', () => {
      if (timer !== undefined) clearTimeout(timer);
      secure.off('error', onError);
      try {
        con.handlers.tcpPostInit?.(con.hdl as never, con as never);
      } catch (err) {
        this.logError(ErrorChannel.rerror, `tcpPostInit handler threw: ${String(err)}`);
      }
      con.startServer(new SocketLink(secure, con));
    });
  }

  private logError(bit: number, message: string): void {
    if ((this.elog.mask & bit) !== 0) this.elog.write(bit, message);
  }
}

function isSecureContext(value: unknown): value is tls.SecureContext {
  return typeof value === 'object' && value !== null && 'context' in value && Object.keys(value).length <= 2;
}

