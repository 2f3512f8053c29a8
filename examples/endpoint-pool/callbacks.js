// The callbacks module of the endpoint-pool example. Every pool worker imports it, so these
// functions run on the thread that owns the connection (the seed's per-thread callbacks):
// nothing crosses threads per frame. `con.context` is the per-endpoint context (one per worker),
// `con.data` the per-connection data given to createConnection.
import { threadId } from 'node:worker_threads';
import { definePoolModule } from 'wspp';

const log = (...parts) => console.log(`[worker ${threadId}]`, ...parts);

export default definePoolModule({
  // The seed's ConnectionContext, per endpoint: its index and what it counted.
  createContext({ index, init }) {
    return { index, quiet: init?.quiet === true, completed: 0, received: 0 };
  },

  callbacks: {
    // The seed's example: on_open, on_msg (checks the echo, signals the waiting main thread), on_close.
    hello: {
      onOpen(con) {
        log(`Connection opened on thread ${con.data.threadId}`);
      },
      onMessage(con, msg) {
        if (msg.text === `Hello from endpoint ${con.data.threadId}`) {
          log(`Message received on thread ${con.data.threadId}: ${msg.text}`);
          con.notify('echo received'); // the seed's echo_received.set_value(true)
        }
      },
      onClose(con, code, reason) {
        con.context.completed++; // the seed's connections_completed, per endpoint
        log(`Connection closed (${code}${reason ? ` ${reason}` : ''})`);
      },
      onFail(con, error) {
        log(`Connection failed: ${error.code} ${error.message}`);
      },
    },

    // Load mode: each connection sends `data.messages` JSON messages, one after the other's
    // echo, reads each echo as JSON (parsed only here, lazily), then closes.
    load: {
      onOpen(con) {
        con.send(JSON.stringify({ n: 1, from: con.id }));
      },
      onMessage(con, msg) {
        const { n } = msg.json();
        con.context.received++;
        if (n < con.data.messages) con.send(JSON.stringify({ n: n + 1, from: con.id }));
        else con.close(1000, 'done');
      },
      onClose(con) {
        con.context.completed++;
      },
      onFail(con, error) {
        if (!con.context.quiet) log(`connection ${con.id} failed: ${error.code} ${error.message}`);
      },
    },
  },

  commands: {
    // The main thread reads a context with endpoint.call('context').
    context(endpoint) {
      return { ...endpoint.context };
    },
  },
});
