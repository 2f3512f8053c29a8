/**
 * python3-websockets (Debian's, 10.x, run by /usr/bin/python3 — not a pyenv python) as a
 * child process: peers/py_peer.py as the client of the wspp server (one process per
 * script) and as the server of the wspp client. Its limits are raised (max_size 64 MiB)
 * so that 16 MiB messages pass; it fragments messages given as lists (text cut between
 * code points); it cannot close without a status code.
 */
import { join } from 'node:path';
import { useCleanup } from '../integration/helpers.js';
import { clientPeerSuite, serverPeerSuite } from './matrix.js';
import { PEERS_DIR, PYTHON, childClientPeer, childServerPeer, pythonMissing } from './peers.js';

useCleanup();

const script = join(PEERS_DIR, 'py_peer.py');
const unavailable = pythonMissing();
const deflateFlag = (options: { variant: { deflate: boolean }; offerDeflate?: boolean }) => (options.variant.deflate || options.offerDeflate === true ? ['--deflate'] : []);

const clientCaps = {
  fragments: true,
  ping: true,
  anyCloseCode: true,
  noStatusClose: 'websockets.close() always sends a status code',
  noSubprotocolSelected: 'accepts',
  offersDeflate: true,
} as const;

clientPeerSuite({
  peer: 'python-websockets',
  direction: 'python-websockets client → wspp server',
  unavailable,
  caps: clientCaps,
  setup: async () => childClientPeer(PYTHON, [script, 'client'], clientCaps, deflateFlag),
});

serverPeerSuite({
  peer: 'python-websockets',
  direction: 'wspp client → python-websockets server',
  unavailable,
  caps: { fragments: true, noStatusClose: 'websockets.close() always sends a status code' },
  start: (variant) => childServerPeer(PYTHON, [script, 'server', ...deflateFlag({ variant })]),
});
