/**
 * What the types decide about endpoints and connections (DESIGN.md section 2), checked
 * against the built declarations. One block per bullet of the design.
 */
import { expectAssignable, expectError, expectNotAssignable, expectType } from 'tsd';
import {
  Client,
  ConnectionHdl,
  Server,
  WsppError,
  concurrency,
  deflate,
  type DeflateAgreement,
  config,
  extend,
  logging,
  pool,
  type Connection,
  type Lent,
  type LentMessage,
  type ListenAddress,
  type OutputSink,
  type OwnedMessage,
} from '../dist/index.js';

declare const hdl: ConnectionHdl;
declare const output: OutputSink;
declare const req: import('node:http').IncomingMessage;
declare const socket: import('node:net').Socket;
declare const head: Buffer;

// --- Role: listen / accept / validate / http / upgrade only on servers; getConnection / connect only on clients.

const server = new Server(config.tcp);
const client = new Client(config.tcpClient);

expectType<Promise<ListenAddress>>(server.listen(9002));
expectType<Promise<ListenAddress>>(server.listen(9002, { host: '127.0.0.1', accept: false }));
expectType<void>(server.startAccept());
expectType<void>(server.stopAccept());
expectType<Promise<void>>(server.stopListening());
expectType<boolean>(server.isListening);
expectType<ListenAddress | undefined>(server.address());
expectType<Promise<void>>(server.stop());
server.setValidateHandler((_hdl, con) => {
  con.setStatus(403);
  return con.getRequestHeader('origin') === 'https://example.com';
});
server.setValidateHandler(async () => true);
server.setHttpHandler((_hdl, con) => {
  con.setStatus(200);
  con.setBody('hello');
  con.appendHeader('content-type', 'text/plain');
});
expectType<void>(server.handleUpgrade(req, socket, head));
expectError(server.getConnection('ws://localhost:9002'));
expectError(server.tryGetConnection('ws://localhost:9002'));
expectError(server.connect(client.getConnection('ws://localhost:9002')));

expectError(client.listen(9002));
expectError(client.tryListen(9002));
expectError(client.startAccept());
expectError(client.stopAccept());
expectError(client.stopListening());
expectError(client.isListening);
expectError(client.stop());
expectError(client.setValidateHandler(() => true));
expectError(client.setHttpHandler(() => {}));
expectError(client.handleUpgrade(req, socket, head));
const clientCon = client.getConnection('ws://localhost:9002');
expectType<Connection<typeof config.tcpClient, 'client'>>(clientCon);
expectType<Connection<typeof config.tcpClient, 'client'>>(client.connect(clientCon));
expectType<'client'>(clientCon.role);

// The role shows on connections too: server connections answer HTTP, client ones offer subprotocols.
const serverCon = server.getConFromHdl(hdl);
expectType<Connection<typeof config.tcp, 'server'>>(serverCon);
expectType<'server'>(serverCon.role);
serverCon.setStatus(404);
serverCon.selectSubprotocol('chat');
expectError(serverCon.addSubprotocol('chat'));
expectError(serverCon.getUri());
expectError(serverCon.setProxy('http://proxy:3128'));
clientCon.addSubprotocol('chat');
clientCon.setProxy('http://proxy:3128');
expectType<string>(clientCon.getUri());
expectError(clientCon.setStatus(404));
expectError(clientCon.selectSubprotocol('chat'));
expectError(clientCon.setValidateHandler(() => true));

// A client endpoint is not a server endpoint and vice versa.
expectNotAssignable<typeof server>(client);
expectNotAssignable<typeof client>(server);

// --- Transport -----------------------------------------------------------------------

// setTlsInitHandler only with tls: a server returns a secure context, a client connection options.
const tlsServer = new Server(config.tls);
const tlsClient = new Client(config.tlsClient);
tlsServer.setTlsInitHandler(() => ({ key: 'k', cert: 'c' }));
tlsClient.setTlsInitHandler(() => ({ rejectUnauthorized: true, servername: 'example.com' }));
tlsServer.getConFromHdl(hdl).setTlsInitHandler(() => ({ key: 'k', cert: 'c' }));
expectError(server.setTlsInitHandler(() => ({ key: 'k', cert: 'c' })));
expectError(client.setTlsInitHandler(() => ({})));
expectError(serverCon.setTlsInitHandler(() => ({})));
expectError(new Server(config.core).setTlsInitHandler(() => ({})));

// Socket handlers with tcp and tls, not with iostream.
server.setSocketInitHandler((_hdl, s) => s.setNoDelay(true));
tlsServer.setSocketInitHandler(() => {});
server.setTcpPreInitHandler(() => {});
server.setTcpPostInitHandler(() => {});

// listen only with tcp/tls: an iostream server creates connections writing to an output sink.
const ioServer = new Server(config.core);
expectType<Promise<ListenAddress>>(tlsServer.listen(9443));
expectError(ioServer.listen(9002));
expectError(ioServer.tryListen(9002));
expectError(ioServer.startAccept());
expectError(ioServer.stopListening());
expectError(ioServer.handleUpgrade(req, socket, head));
expectError(ioServer.setSocketInitHandler(() => {}));
expectError(ioServer.setTcpPreInitHandler(() => {}));
const ioCon = ioServer.createConnection(output);
expectType<Connection<typeof config.core, 'server'>>(ioCon);
expectType<Connection<typeof config.core, 'server'> | WsppError>(ioServer.tryCreateConnection(output));
ioServer.createConnection((bytes: Uint8Array) => void bytes);
ioServer.createConnection({ write: (bytes: Uint8Array) => bytes.length, end: () => {} });
expectError(ioServer.createConnection());
expectError(server.createConnection(output));
expectError(client.createConnection(output));

// iostream connections are fed by the user: readSome / eof / fatalError; socket ones are not.
expectType<void>(ioCon.readSome(new Uint8Array(8)));
expectType<void>(ioCon.eof());
expectType<void>(ioCon.fatalError());
expectType<void>(ioCon.fatalError(new Error('broken pipe')));
expectError(ioCon.readSome('text'));
expectError(serverCon.readSome(new Uint8Array(8)));
expectError(serverCon.eof());
expectError(serverCon.fatalError());
expectError(clientCon.readSome(new Uint8Array(8)));
expectError(tlsServer.getConFromHdl(hdl).eof());

// An iostream client connects a connection to an output sink.
const ioClient = new Client(config.coreClient);
const ioClientCon = ioClient.getConnection('ws://example.com/chat');
ioClient.getConnection('wss://example.com/chat');
expectType<Connection<typeof config.coreClient, 'client'>>(ioClient.connect(ioClientCon, output));
expectError(ioClient.connect(ioClientCon));
expectType<void>(ioClientCon.readSome(new Uint8Array(8)));
expectError(client.connect(clientCon, output));

// URIs: a tcp client opens ws://, a tls client wss:// (template literal types).
client.getConnection('ws://localhost:9002/chat?room=1');
client.tryGetConnection('ws://[::1]:9002');
expectError(client.getConnection('wss://localhost:9002'));
expectError(client.tryGetConnection('wss://localhost:9002'));
expectError(client.getConnection('http://localhost:9002'));
tlsClient.getConnection('wss://example.com/chat');
tlsClient.tryGetConnection('wss://example.com');
expectError(tlsClient.getConnection('ws://example.com/chat'));
expectError(tlsClient.tryGetConnection('ws://example.com'));
declare const someWsUri: `ws://${string}`;
client.getConnection(someWsUri);
expectError(tlsClient.getConnection(someWsUri));

// --- Logging: setAccessChannels / setErrorChannels accept only the config's static channels (and groups).

const logged = new Server(
  extend(config.tcp, { logging: { access: logging.stream(process.stdout, ['connect', 'disconnect', 'fail']) } }),
);
logged.setAccessChannels('connect');
logged.setAccessChannels(['disconnect', 'fail']);
logged.clearAccessChannels('fail');
logged.setAccessChannels('all');
logged.setAccessChannels('none');
logged.clearAccessChannels('all');
expectError(logged.setAccessChannels('frame_header'));
expectError(logged.setAccessChannels(['connect', 'frame_header']));
expectError(logged.clearAccessChannels('frame_header'));
expectError(logged.setAccessChannels('http'));
expectError(logged.setAccessChannels('warn'));
// The error logger stays the base config's (logging is merged one level deep).
logged.setErrorChannels('warn');
logged.setErrorChannels(['library', 'info', 'rerror', 'fatal']);
logged.clearErrorChannels('warn');
logged.setErrorChannels('all');
logged.setErrorChannels('none');
expectError(logged.setErrorChannels('devel'));
expectError(logged.clearErrorChannels('devel'));
expectError(logged.setErrorChannels('connect'));
expectError(logged.setErrorChannels('access_core'));

// The stock default: access_core and app for access.
server.setAccessChannels('http');
server.setAccessChannels('access_core');
server.setAccessChannels('app');
expectError(server.setAccessChannels('frame_payload'));
expectError(server.setAccessChannels('devel'));
client.setAccessChannels(['connect', 'app']);
expectError(client.setErrorChannels('devel'));

// config.debug: every channel.
const debug = new Server(config.debug);
debug.setAccessChannels('frame_header');
debug.setAccessChannels(['message_payload', 'devel', 'debug_handshake']);
debug.setErrorChannels('devel');
expectError(debug.setAccessChannels('rerror'));
expectError(debug.setErrorChannels('connect'));
new Server(config.debugTcp).setAccessChannels('control');
new Server(config.debugTls).setErrorChannels('devel');

// config.minimal (stub loggers): only the groups.
const minimal = new Server(config.minimal);
minimal.setAccessChannels('all');
minimal.setAccessChannels('none');
minimal.setErrorChannels('all');
minimal.setErrorChannels('none');
expectError(minimal.setAccessChannels('connect'));
expectError(minimal.setErrorChannels('warn'));
expectError(minimal.setErrorChannels('access_core'));
expectError(new Client(config.minimalTcpClient).setAccessChannels('fail'));

// --- Concurrency: with `none` handlers are synchronous; with `serialized` they may be async.

server.setMessageHandler((_hdl, msg) => {
  void msg;
});
server.setMessageHandler((h, msg) => server.send(h, msg.payload, msg.opcode));
server.setOpenHandler((_hdl, con) => con.send('welcome'));
server.setMessageHandler(undefined);
expectError(server.setMessageHandler(async (_hdl, _msg) => {}));
expectError(server.setOpenHandler(async () => {}));
expectError(server.setMessageHandler((_hdl, _msg) => Promise.resolve()));
expectError(client.setMessageHandler(async () => {}));
expectError(serverCon.setMessageHandler(async () => {}));

const serialized = new Server(extend(config.tcp, { concurrency: concurrency.serialized }));
serialized.setMessageHandler(async (_hdl, msg) => {
  await Promise.resolve(msg.text);
});
serialized.setMessageHandler((h, msg) => serialized.send(h, msg.payload, msg.opcode));
serialized.setMessageHandler((_hdl, _msg) => {});
serialized.setOpenHandler(async (_hdl, con) => {
  await Promise.resolve();
  con.send('welcome');
});
serialized.getConFromHdl(hdl).setMessageHandler(async () => {});
new Client(extend(config.tcpClient, { concurrency: concurrency.serialized })).setMessageHandler(async () => {});

// Handlers see their endpoint's connection type.
server.setCloseHandler((_hdl, con) => {
  expectType<Connection<typeof config.tcp, 'server'>>(con);
});
client.setFailHandler((_hdl, con) => {
  expectType<Connection<typeof config.tcpClient, 'client'>>(con);
  expectType<WsppError | undefined>(con.getEc());
});
server.setPingHandler((_hdl, payload) => {
  expectType<Buffer>(payload);
  return true;
});

// --- Message pool: with `pool` a payload is lent for the handler; with `alloc` it is owned.

const pooled = new Server(extend(config.tcp, { messagePool: pool({ buffers: 8, size: 4096 }) }));
pooled.setMessageHandler((_hdl, msg) => {
  expectType<LentMessage>(msg);
  expectType<Lent<Buffer>>(msg.payload);
  expectType<true>(msg.lent);
  expectType<OwnedMessage>(msg.retain());
  expectType<Buffer>(msg.retain().payload);
  expectAssignable<Buffer>(msg.payload); // a lent payload can be read and sent...
});
expectNotAssignable<Lent<Buffer>>(Buffer.alloc(8)); // ...but an owned buffer is not lent, nor the reverse.
expectNotAssignable<LentMessage>({} as OwnedMessage);
expectNotAssignable<OwnedMessage>({} as LentMessage);
pooled.setMessageHandler((h, msg) => pooled.send(h, msg.payload, msg.opcode));
pooled.getConFromHdl(hdl).setMessageHandler((_hdl, msg) => {
  expectType<LentMessage>(msg);
});

server.setMessageHandler((_hdl, msg) => {
  expectType<OwnedMessage>(msg);
  expectType<Buffer>(msg.payload);
  expectType<false>(msg.lent);
  expectType<OwnedMessage>(msg.retain());
  expectType<string>(msg.text);
});
client.setMessageHandler((_hdl, msg) => {
  expectType<OwnedMessage>(msg);
});

// --- Extensions: permessage-deflate is not implemented yet (only `disabled`), so with the
// stock configs `send` takes no per-message options and connections have no `extensions`.
// The enabled side (`send(hdl, payload, opcode, { compress })`, a typed `con.extensions`)
// is pinned at the end of this file.
expectType<void>(server.send(hdl, 'text'));
expectType<void>(server.send(hdl, new Uint8Array(4), 2));
expectError(server.send(hdl, 'text', 1, { compress: true }));
expectError(server.trySend(hdl, 'text', 1, { compress: false }));
expectError(serverCon.send('text', 1, { compress: true }));
expectError(client.send(hdl, 'text', 1, { compress: true }));
expectError(clientCon.send('text', 1, { compress: true }));
expectError(serverCon.extensions);
expectError(clientCon.extensions);
expectType<string>(serverCon.getExtensions()); // the negotiated header, always present
expectError(server.send(hdl, 'text', 8)); // close is not a data opcode

// --- connectionData: the factory's type flows into con.data in every handler.

type Data = { user: string; joined: number };
const withData = new Server(extend(config.tcp, { connectionData: () => ({ user: '' as string, joined: 0 }) }));
expectType<Data>(withData.getConFromHdl(hdl).data);
withData.setOpenHandler((_hdl, con) => {
  expectType<Data>(con.data);
  con.data.user = 'alice';
  con.data.joined = Date.now();
});
withData.setMessageHandler((_hdl, _msg, con) => {
  expectType<Data>(con.data);
});
withData.setCloseHandler((_hdl, con) => expectType<Data>(con.data));
withData.setFailHandler((_hdl, con) => expectType<Data>(con.data));
withData.setInterruptHandler((_hdl, con) => expectType<Data>(con.data));
withData.setDrainHandler((_hdl, con) => expectType<Data>(con.data));
withData.setPingHandler((_hdl, _payload, con) => {
  expectType<Data>(con.data);
  return true;
});
withData.setPongHandler((_hdl, _payload, con) => expectType<Data>(con.data));
withData.setPongTimeoutHandler((_hdl, _payload, con) => expectType<Data>(con.data));
withData.setValidateHandler((_hdl, con) => {
  expectType<Data>(con.data);
  return true;
});
withData.setHttpHandler((_hdl, con) => expectType<Data>(con.data));
withData.setSocketInitHandler((_hdl, _socket, con) => expectType<Data>(con.data));
withData.setTcpPreInitHandler((_hdl, con) => expectType<Data>(con.data));
withData.setTcpPostInitHandler((_hdl, con) => expectType<Data>(con.data));
expectError(withData.getConFromHdl(hdl).data.missing);
const tlsWithData = new Server(extend(config.tls, { connectionData: () => ({ user: '' as string, joined: 0 }) }));
tlsWithData.setTlsInitHandler((_hdl, con) => {
  expectType<Data>(con.data);
  return {};
});
const clientWithData = new Client(extend(config.tcpClient, { connectionData: () => ({ user: '' as string, joined: 0 }) }));
expectType<Data>(clientWithData.getConnection('ws://localhost').data);
// Without a factory, there is no data.
expectType<undefined>(serverCon.data);

// --- Registry: connections() only with `registry: true`.

expectError(server.connections());
expectError(client.connections());
const registered = new Server(extend(config.tcp, { registry: true }));
const regConfig = extend(config.tcp, { registry: true });
expectType<IterableIterator<Connection<typeof regConfig, 'server'>>>(registered.connections());
for (const con of registered.connections()) expectType<'server'>(con.role);
const registeredClient = new Client(extend(config.tcpClient, { registry: true }));
for (const con of registeredClient.connections()) expectType<'client'>(con.role);

// --- Errors: try* forms return the error as a value; the throwing forms return void / the value.

expectType<WsppError | undefined>(server.trySend(hdl, 'text'));
expectType<void>(server.send(hdl, 'text'));
expectType<WsppError | undefined>(server.tryClose(hdl, 1000, 'bye'));
expectType<void>(server.close(hdl, 1000, 'bye'));
expectType<WsppError | undefined>(server.tryPing(hdl));
expectType<void>(server.ping(hdl));
expectType<WsppError | undefined>(server.tryPong(hdl, 'p'));
expectType<WsppError | undefined>(server.tryPauseReading(hdl));
expectType<WsppError | undefined>(server.tryResumeReading(hdl));
expectType<WsppError | undefined>(server.tryInterrupt(hdl));
expectType<Promise<ListenAddress | WsppError>>(server.tryListen(9002));
expectType<Connection<typeof config.tcp, 'server'> | WsppError>(server.tryGetConFromHdl(hdl));
expectType<Connection<typeof config.tcp, 'server'>>(server.getConFromHdl(hdl));
expectType<Connection<typeof config.tcpClient, 'client'> | WsppError>(client.tryGetConnection('ws://localhost'));
expectType<Connection<typeof config.tcpClient, 'client'>>(client.getConnection('ws://localhost'));
expectType<WsppError | undefined>(serverCon.trySend('text'));
expectType<void>(serverCon.send('text'));
expectType<WsppError | undefined>(serverCon.tryClose(1001));
expectType<WsppError | undefined>(serverCon.tryPing());
// Fragmented sends (ws's fin option), on both roles, by handle and on the connection; no options argument.
expectType<WsppError | undefined>(server.trySendFragment(hdl, 'Hel', false));
expectType<void>(server.sendFragment(hdl, Buffer.from('lo'), true, 1));
expectType<WsppError | undefined>(clientCon.trySendFragment(new Uint8Array(3), false, 2));
expectType<void>(serverCon.sendFragment('x', true));
expectError(server.sendFragment(hdl, 'x'));
expectError(serverCon.trySendFragment('x', true, 8));
expectType<WsppError | undefined>(clientCon.setProxy('http://proxy:3128'));
const maybeCon = client.tryGetConnection('ws://localhost');
if (maybeCon instanceof WsppError) expectType<WsppError>(maybeCon);
else expectType<Connection<typeof config.tcpClient, 'client'>>(maybeCon);

// --- Handles: opaque; not made from numbers or look-alike objects.

expectType<ConnectionHdl>(serverCon.hdl);
expectType<number>(hdl.id);
expectNotAssignable<ConnectionHdl>(1);
expectNotAssignable<ConnectionHdl>({});
expectNotAssignable<ConnectionHdl>({ id: 1 });
expectNotAssignable<ConnectionHdl>({ id: 1, ref: new WeakRef({}), owner: {}, toString: () => '' });
expectError(server.send(1, 'text'));
expectError(server.send({ id: 1 }, 'text'));
expectError(server.getConFromHdl(1));

// --- Extensions enabled (issue 5): send gains `compress`, connections get typed `extensions`.
{
  const deflated = new Server(extend(config.tcp, { extensions: { permessageDeflate: deflate({ threshold: 512 }) } }));
  deflated.setMessageHandler((hdl, msg, con) => {
    deflated.send(hdl, msg.payload, msg.opcode, { compress: false });
    expectType<WsppError | undefined>(deflated.trySend(hdl, 'x', 1, { compress: true }));
    con.send('x', 1, { compress: true });
    expectType<DeflateAgreement | undefined>(con.extensions.permessageDeflate);
    expectError(deflated.send(hdl, 'x', 1, { compress: 'yes' }));
  });
  const deflatedClient = new Client(extend(config.tcpClient, { extensions: { permessageDeflate: deflate() } }));
  deflatedClient.setOpenHandler((hdl, con) => {
    deflatedClient.send(hdl, 'x', 1, { compress: true });
    expectType<DeflateAgreement | undefined>(con.extensions.permessageDeflate);
  });
  const plain = new Server(config.tcp);
  plain.setOpenHandler((hdl, con) => {
    expectError(plain.send(hdl, 'x', 1, { compress: true }));
    expectError(con.extensions);
  });
}
