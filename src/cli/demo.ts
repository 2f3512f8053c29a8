/**
 * `wspp demo`: a client processor and a server processor talking through in-memory
 * buffers (the iostream path): handshake, an echoed text and binary message, a ping,
 * and the closing handshake, printed as it happens.
 */
import { randomFillSync } from 'node:crypto';
import { Opcode, type DataOpcode } from '../protocol/constants.js';
import { closeCodeName } from '../protocol/close.js';
import type { WsppError } from '../protocol/errors.js';
import { ClientProcessor, ServerProcessor, type ProcessorHost, type ServerProcessorHost } from '../protocol/processor.js';

type Print = (line: string) => void;

function describeBytes(bytes: Uint8Array): string {
  return `${bytes.length} bytes`;
}

export function runDemo(print: Print = (line) => process.stdout.write(`${line}\n`)): boolean {
  const toServer: Uint8Array[] = [];
  const toClient: Uint8Array[] = [];
  let server!: ServerProcessor;
  let client!: ClientProcessor;
  let echoed = 0;

  const showHead = (who: string, bytes: Uint8Array): void => {
    const text = Buffer.from(bytes).toString('latin1');
    const end = text.indexOf('\r\n\r\n');
    for (const line of text.slice(0, end).split('\r\n')) print(`${who} | ${line}`);
  };

  const serverHost: ServerProcessorHost = {
    write: (data) => {
      if (server.state === 'connecting') showHead('server → client', data);
      else print(`server → client: frame, ${describeBytes(data)}`);
      toClient.push(data);
    },
    end: () => print('server: ends the TCP connection'),
    onOpen: () => print(`server: open (subprotocol "${server.subprotocol}")`),
    onMessage: (opcode: DataOpcode, payload) => {
      const shown = opcode === Opcode.Text ? JSON.stringify(Buffer.from(payload).toString()) : Buffer.from(payload).toString('hex');
      print(`server: message (${opcode === Opcode.Text ? 'text' : 'binary'}) ${shown}, echoing it`);
      server.send(opcode, Uint8Array.from(payload));
    },
    onPing: (payload) => (print(`server: ping "${Buffer.from(payload).toString()}", answering with a pong`), true),
    onPong: () => undefined,
    onClose: () =>
      print(`server: closed, remote code ${server.remoteCloseCode} (${closeCodeName(server.remoteCloseCode)}), reason "${server.remoteCloseReason}"`),
    onFail: (err: WsppError) => print(`server: failed: ${err.message}`),
    onUpgradeRequest: (request) => {
      print(`server: upgrade request for ${request.resource}, offered subprotocols [${request.subprotocols.join(', ')}]`);
      server.accept({ subprotocol: request.subprotocols[0] ?? '', server: 'wspp-demo' });
    },
  };
  const clientHost: ProcessorHost = {
    write: (data) => {
      if (client.state === 'connecting') showHead('client → server', data);
      else print(`client → server: masked frame, ${describeBytes(data)}`);
      toServer.push(data);
    },
    end: () => print('client: ends the TCP connection'),
    onOpen: () => print(`client: open (subprotocol "${client.subprotocol}")`),
    onMessage: (opcode, payload) => {
      echoed++;
      const shown = opcode === Opcode.Text ? JSON.stringify(Buffer.from(payload).toString()) : Buffer.from(payload).toString('hex');
      print(`client: echo received (${opcode === Opcode.Text ? 'text' : 'binary'}) ${shown}`);
    },
    onPing: () => true,
    onPong: (payload) => print(`client: pong "${Buffer.from(payload).toString()}"`),
    onClose: () =>
      print(`client: closed, remote code ${client.remoteCloseCode} (${closeCodeName(client.remoteCloseCode)}), reason "${client.remoteCloseReason}"`),
    onFail: (err) => print(`client: failed: ${err.message}`),
  };

  server = new ServerProcessor(serverHost);
  client = new ClientProcessor(clientHost, {
    host: 'localhost',
    port: 9002,
    resource: '/demo',
    subprotocols: ['echo'],
    userAgent: 'wspp-demo',
    random: (target, offset, length) => void randomFillSync(target, offset, length),
  });

  const pump = (): void => {
    while (toServer.length > 0 || toClient.length > 0) {
      const a = toServer.shift();
      if (a !== undefined) server.feed(a);
      const b = toClient.shift();
      if (b !== undefined) client.feed(b);
    }
  };

  client.start();
  pump();
  client.send(Opcode.Text, 'Hello, wspp!');
  client.send(Opcode.Binary, Uint8Array.of(0xde, 0xad, 0xbe, 0xef));
  client.ping('are you there?');
  pump();
  client.close(1000, 'demo done');
  pump();
  const ok = echoed === 2 && client.state === 'closed' && server.state === 'closed' && server.remoteCloseCode === 1000;
  print(ok ? 'demo: handshake, echo, ping and close all completed' : 'demo: something went wrong');
  return ok;
}
