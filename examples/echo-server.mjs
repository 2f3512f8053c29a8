// The smallest wspp server: websocketpp::server<config::asio> echoing every message.
//   npm run build && node examples/echo-server.mjs [port]
import { Server, config, extend, logging } from '../dist/index.js';

const server = new Server(extend(config.tcp, {
  logging: { access: logging.stream(process.stdout, ['connect', 'disconnect']), error: logging.stream(process.stderr, ['warn', 'rerror', 'fatal']) },
  registry: true, // so stop() can close every connection
}));
server.setMessageHandler((hdl, msg) => server.send(hdl, msg.payload, msg.opcode));
const { port } = await server.listen(Number(process.argv[2] ?? 9002), '127.0.0.1');
console.log(`listening on ws://127.0.0.1:${port}/`);
process.once('SIGINT', () => server.stop());
process.once('SIGTERM', () => server.stop());
