/**
 * python3-websockets (Debian's, 10.x, run by /usr/bin/python3 — not a pyenv python) as a
 * child process: peers/py_peer.py as the client of the wspp server (one process per
 * script) and as the server of the wspp client. Its limits are raised (max_size 64 MiB)
 * so that 16 MiB messages pass; it fragments messages given as lists (text cut between
 * code points); it cannot close without a status code. With permessage-deflate (--deflate
 * and the --deflate-* parameter flags) it compresses every message, fragments too; its
 * server's defaults answer with 12-bit windows both ways.
 */
import { join } from 'node:path';
import { useCleanup } from '../integration/helpers.js';
import { clientPeerSuite, serverPeerSuite } from './matrix.js';
import { PEERS_DIR, PYTHON, childClientPeer, childServerPeer, pythonMissing } from './peers.js';
import type { DeflateParams } from './protocol.js';

useCleanup();

const script = join(PEERS_DIR, 'py_peer.py');
const unavailable = pythonMissing();
/** --deflate, and the parameters to offer (client) or require (server) as py_peer.py's flags. */
function deflateFlags(options: { variant: { deflate: boolean }; offerDeflate?: boolean; deflateParams?: DeflateParams }): string[] {
  if (!options.variant.deflate && options.offerDeflate !== true) return [];
  const p = options.deflateParams ?? {};
  return [
    '--deflate',
    ...(p.serverNoContextTakeover === true ? ['--deflate-snct'] : []),
    ...(p.clientNoContextTakeover === true ? ['--deflate-cnct'] : []),
    ...(p.serverMaxWindowBits !== undefined ? [`--deflate-smwb=${p.serverMaxWindowBits}`] : []),
    ...(p.clientMaxWindowBits !== undefined ? [`--deflate-cmwb=${p.clientMaxWindowBits}`] : []),
  ];
}

const clientCaps = {
  fragments: true,
  ping: true,
  anyCloseCode: true,
  noStatusClose: 'websockets.close() always sends a status code',
  noSubprotocolSelected: 'accepts',
  offersDeflate: true,
  deflate: true,
  deflateOffer: 'permessage-deflate; client_max_window_bits',
  deflateParams: true,
  compressesFragments: true,
  contextTakeover: true,
} as const;

clientPeerSuite({
  peer: 'python-websockets',
  direction: 'python-websockets client → wspp server',
  unavailable,
  caps: clientCaps,
  setup: async () => childClientPeer(PYTHON, [script, 'client'], clientCaps, deflateFlags),
});

serverPeerSuite({
  peer: 'python-websockets',
  direction: 'wspp client → python-websockets server',
  unavailable,
  caps: {
    fragments: true,
    noStatusClose: 'websockets.close() always sends a status code',
    deflate: true,
    // websockets' server defaults (compression="deflate"): server_max_window_bits=12, and
    // client_max_window_bits=12 since wspp offers client_max_window_bits.
    deflateAgreement: { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 12, clientMaxWindowBits: 12 },
    deflateParams: true,
    compressesFragments: true,
    contextTakeover: true,
  },
  start: (variant, params) => childServerPeer(PYTHON, [script, 'server', ...deflateFlags({ variant, ...(params === undefined ? {} : { deflateParams: params }) })]),
});
