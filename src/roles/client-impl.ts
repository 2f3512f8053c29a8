/**
 * The client role at run time: WebSocket++'s three steps — getConnection(uri) creates,
 * the user configures (headers, subprotocols, proxy, handlers), connect(con) submits —
 * over tcp, tls (optionally through an HTTP CONNECT proxy) or iostream.
 */
import { lookup } from 'node:dns';
import type { LookupFunction } from 'node:net';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { Config } from '../config/types.js';
import type { ConnectionImpl } from '../connection.js';
import { EndpointCore } from '../endpoint-core.js';
import { ErrorChannel } from '../policies/logging/channels.js';
import { WsppError } from '../protocol/errors.js';
import { HttpHeadParser } from '../protocol/http.js';
import { IostreamLink, type OutputSink } from '../transports/iostream/link.js';
import { SocketLink } from '../transports/socket-link.js';
import { parseWsUri } from '../uri.js';

/** @internal */
export class ClientImpl extends EndpointCore {
  constructor(config: Config) {
    super(config);
  }

  /** Step 1: a connection to `uri`, not yet started. */
  tryGetConnection(uri: string): ConnectionImpl | WsppError {
    const parsed = parseWsUri(uri);
    if (parsed instanceof WsppError) return parsed;
    const kind = this.config.transport.kind;
    if (kind === 'tcp' && parsed.secure) return new WsppError('websocket.endpoint_not_secure', 'a tcp client cannot open wss:// URIs: use a tls config');
    if (kind === 'tls' && !parsed.secure) return new WsppError('websocket.invalid_uri', 'a tls client opens wss:// URIs');
    const con = this.newConnection('client');
    con.uri = parsed;
    return con;
  }

  getConnection(uri: string): ConnectionImpl {
    const con = this.tryGetConnection(uri);
    if (con instanceof WsppError) throw con;
    return con;
  }

  /** Step 3: start the connection (resolve, connect, TLS, handshake). Returns it. */
  connect(con: ConnectionImpl, output?: OutputSink): ConnectionImpl {
    if (con.started || con.state !== 'connecting') {
      throw new WsppError('websocket.invalid_state', 'connect() was already called for this connection');
    }
    con.started = true;
    this.track(con);
    if (this.config.transport.kind === 'iostream') {
      if (output === undefined) throw new WsppError('transport.output_stream_required');
      const link = new IostreamLink(output, con);
      con.startClient(link);
      return con;
    }
    void this.dial(con);
    return con;
  }

  private async dial(con: ConnectionImpl): Promise<void> {
    const uri = con.uri!;
    const timeouts = this.config.timeouts;
    let target = { host: uri.host, port: uri.port };
    if (con.proxy !== undefined) {
      const p = new URL(con.proxy);
      target = { host: p.hostname.replace(/^\[|\]$/g, ''), port: p.port === '' ? 80 : Number(p.port) };
    }
    const address = await resolve(target.host, timeouts.dnsResolve, (this.config.transport as { lookup?: LookupFunction }).lookup ?? lookup);
    if (address instanceof WsppError) return con.failEarly(address);
    if (con.state !== 'connecting' || con.ec !== undefined) return;

    const socket = new net.Socket({ allowHalfOpen: false });
    const handlers = con.handlers;
    try {
      handlers.socketInit?.(con.hdl as never, socket as never, con as never);
    } catch (err) {
      this.logError(`socketInit handler threw: ${String(err)}`);
    }
    const connected = await withTimeout(
      new Promise<WsppError | undefined>((ok) => {
        socket.once('connect', () => ok(undefined));
        socket.once('error', (err) => ok(new WsppError('transport.pass_through', err.message, { cause: err })));
        socket.connect({ host: address, port: target.port });
      }),
      timeouts.connect,
      () => new WsppError('transport.timeout', `connect to ${target.host}:${target.port} timed out`),
    );
    if (connected !== undefined) {
      socket.destroy();
      return con.failEarly(connected);
    }
    socket.setNoDelay((this.config.transport as { noDelay?: boolean }).noDelay ?? true);
    try {
      handlers.tcpPreInit?.(con.hdl as never, con as never);
    } catch (err) {
      this.logError(`tcpPreInit handler threw: ${String(err)}`);
    }
    if (con.proxy !== undefined) {
      const tunnel = await withTimeout(proxyConnect(socket, uri.host, uri.port, con.proxyAuth), timeouts.proxy, () => new WsppError('transport.proxy_failed', 'proxy timed out'));
      if (tunnel !== undefined) {
        socket.destroy();
        return con.failEarly(tunnel);
      }
    }
    let stream: net.Socket = socket;
    if (this.config.transport.kind === 'tls') {
      const secured = await this.secure(con, socket);
      if (secured instanceof WsppError) {
        socket.destroy();
        return con.failEarly(secured);
      }
      stream = secured;
    }
    if (con.state !== 'connecting' || con.ec !== undefined) {
      stream.destroy();
      return;
    }
    try {
      handlers.tcpPostInit?.(con.hdl as never, con as never);
    } catch (err) {
      this.logError(`tcpPostInit handler threw: ${String(err)}`);
    }
    con.startClient(new SocketLink(stream, con));
  }

  private async secure(con: ConnectionImpl, socket: net.Socket): Promise<tls.TLSSocket | WsppError> {
    const uri = con.uri!;
    let options: tls.ConnectionOptions = {};
    const init = con.handlers.tlsInit;
    if (init !== undefined) {
      try {
        options = (init(con.hdl as never, con as never) as tls.ConnectionOptions | undefined) ?? {};
      } catch (err) {
        return new WsppError('transport.invalid_tls_context', (err as Error).message, { cause: err });
      }
    }
    const servername = net.isIP(uri.host) === 0 ? uri.host : undefined;
    const secure = tls.connect({ ...options, socket, ...(servername === undefined ? {} : { servername }) });
    const result = await withTimeout(
      new Promise<WsppError | undefined>((ok) => {
        secure.once('secureConnect', () => ok(undefined));
        secure.once('error', (err) => ok(new WsppError('transport.tls_handshake_failed', err.message, { cause: err })));
      }),
      this.config.timeouts.socketPostInit,
      () => new WsppError('transport.tls_handshake_timeout'),
    );
    if (result !== undefined) {
      secure.destroy();
      return result;
    }
    secure.removeAllListeners('error');
    return secure;
  }

  private logError(message: string): void {
    if ((this.elog.mask & ErrorChannel.rerror) !== 0) this.elog.write(ErrorChannel.rerror, message);
  }
}

function resolve(host: string, timeout: number, lookup: LookupFunction): Promise<string | WsppError> {
  if (net.isIP(host) !== 0) return Promise.resolve(host);
  return withTimeout(
    new Promise<string | WsppError>((ok) => {
      const answer = (err: Error | null, address: string | readonly { address: string }[]): void => {
        if (err) return ok(new WsppError('transport.invalid_host_service', `${host}: ${err.message}`, { cause: err }));
        const first = typeof address === 'string' ? address : address[0]?.address;
        ok(first ?? new WsppError('transport.invalid_host_service', `${host}: no address`));
      };
      try {
        lookup(host, {}, answer);
      } catch (err) {
        answer(err instanceof Error ? err : new Error(String(err)), []);
      }
    }),
    timeout,
    () => new WsppError('transport.timeout', `DNS resolution of ${host} timed out`),
  );
}

function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => T): Promise<T> {
  if (ms <= 0) return promise;
  return new Promise<T>((ok) => {
    const timer = setTimeout(() => ok(onTimeout()), ms);
    timer.unref();
    void promise.then((value) => {
      clearTimeout(timer);
      ok(value);
    });
  });
}

/** Ask an HTTP proxy to open a tunnel (RFC 9110 CONNECT). */
function proxyConnect(socket: net.Socket, host: string, port: number, auth: [string, string] | undefined): Promise<WsppError | undefined> {
  return new Promise((ok) => {
    const authority = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    let request = `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n`;
    if (auth !== undefined) request += `Proxy-Authorization: Basic ${Buffer.from(`${auth[0]}:${auth[1]}`).toString('base64')}\r\n`;
    request += '\r\n';
    const parser = new HttpHeadParser('response');
    const onData = (chunk: Buffer): void => {
      const head = parser.push(chunk);
      if (head === undefined) return;
      cleanup();
      if (head instanceof WsppError) return ok(new WsppError('transport.proxy_failed', head.message));
      if (head.status === undefined || head.status < 200 || head.status > 299) {
        return ok(new WsppError('transport.proxy_failed', `proxy answered ${head.status} ${head.reason ?? ''}`.trim()));
      }
      // Bytes after the proxy's answer belong to the tunnel.
      if (head.rest.length > 0) socket.unshift(Buffer.from(head.rest));
      ok(undefined);
    };
    const onError = (err: Error): void => {
      cleanup();
      ok(new WsppError('transport.proxy_failed', err.message, { cause: err }));
    };
    const onClose = (): void => {
      cleanup();
      ok(new WsppError('transport.proxy_failed', 'the proxy closed the connection'));
    };
    const cleanup = (): void => {
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      socket.pause();
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.write(request);
  });
}
