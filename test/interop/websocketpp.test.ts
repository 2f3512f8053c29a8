/**
 * WebSocket++ itself (Debian's libwebsocketpp-dev 0.8.x over Boost.Asio): peers/wspp_peer.cpp
 * is compiled with g++ in beforeAll (cached under node_modules/.cache/wspp-interop/ by
 * source hash) and run as the client of the wspp server (one process per script) and as
 * the server of the wspp client. Its max message size is raised to 64 MiB.
 */
import { useCleanup } from '../integration/helpers.js';
import { clientPeerSuite, serverPeerSuite, type ClientPeerCaps } from './matrix.js';
import { buildWebsocketppPeer, childClientPeer, childServerPeer, websocketppMissing } from './peers.js';

useCleanup();

const unavailable = websocketppMissing();

const clientCaps: ClientPeerCaps = {
  fragments: true,
  ping: true,
  anyCloseCode: true,
  noStatusClose: true,
  noSubprotocolSelected: 'accepts',
  // WebSocket++ acknowledges a close without status with 1000 (connection_impl.hpp, send_close_frame).
  noStatusAnswer: 1000,
  offersDeflate: 'this build has no permessage_deflate config (the deflate variant adds one)',
};

/** The deflate variant needs a second build with permessage_deflate::enabled. */
function noDeflate(variant: { deflate: boolean }): void {
  if (variant.deflate) throw new Error('deflate variant: build wspp_peer.cpp with -DWSPP_PEER_DEFLATE and a permessage_deflate config');
}

clientPeerSuite({
  peer: 'websocketpp',
  direction: 'WebSocket++ client → wspp server',
  unavailable,
  caps: clientCaps,
  setup: async () => childClientPeer(await buildWebsocketppPeer(), ['client'], clientCaps),
});

serverPeerSuite({
  peer: 'websocketpp',
  direction: 'wspp client → WebSocket++ server',
  unavailable,
  caps: { fragments: true, noStatusClose: true, noStatusAnswer: 1000 },
  start: async (variant) => {
    noDeflate(variant);
    return childServerPeer(await buildWebsocketppPeer(), ['server']);
  },
});
