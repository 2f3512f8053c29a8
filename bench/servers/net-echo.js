// A raw node:net echo server (socket.pipe(socket)): the reference for what a Node server can do
// with no framing at all. Same first line and stats protocol as ws-echo.js.
//   node bench/servers/net-echo.js --port 0
import net from 'node:net';
import { portArg, serveStats } from './stats.js';

const server = net.createServer({ noDelay: true }, (socket) => {
  socket.on('error', () => {});
  socket.pipe(socket);
});
server.listen(portArg(), '127.0.0.1', () => {
  process.stdout.write(`listening on ws://127.0.0.1:${server.address().port}/\n`);
});
serveStats();

