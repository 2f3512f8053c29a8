// A client in WebSocket++'s three steps: create the connection, configure it, submit it.
//   npm run build && node examples/client.mjs ws://127.0.0.1:9002/ "hello"
import { Client, config } from '../dist/index.js';

const [uri = 'ws://127.0.0.1:9002/', text = 'hello from wspp'] = process.argv.slice(2);
const client = new Client(config.minimalTcpClient);
client.setOpenHandler((hdl) => client.send(hdl, text));
client.setMessageHandler((hdl, msg) => {
  console.log(`echo: ${msg.text}`);
  client.close(hdl, 1000, 'done');
});
client.setCloseHandler((_hdl, con) => console.log(`closed: ${con.getRemoteCloseCode()} ${con.getRemoteCloseReason()}`));
client.setFailHandler((_hdl, con) => {
  console.error(`failed: ${con.getEc()?.message}`);
  process.exitCode = 1;
});
const con = client.getConnection(uri); // 1. create (throws WsppError on a bad URI)
con.appendHeader('X-Example', 'wspp'); // 2. configure
client.connect(con); //                   3. submit
