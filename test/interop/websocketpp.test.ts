/**
 * WebSocket++ itself (Debian's libwebsocketpp-dev 0.8.x over Boost.Asio): peers/wspp_peer.cpp
 * is compiled with g++ in beforeAll (cached under node_modules/.cache/wspp-interop/ by
 * source hash) and run as the client of the wspp server (one process per script) and as
 * the server of the wspp client. Its max message size is raised to 64 MiB.
 *
 * deflate=on uses a second build, with -DWSPP_PEER_DEFLATE: configs whose
 * permessage_deflate_type is permessage_deflate::enabled (zlib; Debian's zlib1g-dev),
 * cached under its own key. WebSocket++ 0.8's client always offers
 * "permessage-deflate; client_no_context_takeover; client_max_window_bits" and its
 * extension settings are not reachable from an endpoint, so the features that need other
 * parameters from it are n/a; it sends fragments uncompressed (see wspp_peer.cpp).
 */
import { useCleanup } from '../integration/helpers.js';
import { clientPeerSuite, serverPeerSuite, type ClientPeer, type ClientPeerCaps } from './matrix.js';
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
  offersDeflate: true, // the -DWSPP_PEER_DEFLATE build
  deflate: true,
  deflateOffer: 'permessage-deflate; client_no_context_takeover; client_max_window_bits',
  deflateParams: 'WebSocket++ 0.8 offers fixed parameters (permessage_deflate::enabled::generate_offer)',
  compressesFragments: 'WebSocket++ compresses frame by frame (RSV1 on every one): the peer sends fragments uncompressed',
  contextTakeover: 'WebSocket++ 0.8 always offers client_no_context_takeover',
};

/** The client: the deflate build in deflate=on or to offer permessage-deflate, else the plain one (both built in beforeAll). */
async function websocketppClient(): Promise<ClientPeer> {
  const [plain, deflate] = await Promise.all([buildWebsocketppPeer(), buildWebsocketppPeer({ deflate: true })]);
  const peers = { plain: childClientPeer(plain, ['client'], clientCaps), deflate: childClientPeer(deflate, ['client'], clientCaps) };
  return {
    caps: clientCaps,
    run: (url, steps, options) => (options.variant.deflate || options.offerDeflate === true ? peers.deflate : peers.plain).run(url, steps, options),
  };
}

clientPeerSuite({
  peer: 'websocketpp',
  direction: 'WebSocket++ client → wspp server',
  unavailable,
  caps: clientCaps,
  setup: websocketppClient,
});

serverPeerSuite({
  peer: 'websocketpp',
  direction: 'wspp client → WebSocket++ server',
  unavailable,
  caps: {
    fragments: true,
    noStatusClose: true,
    noStatusAnswer: 1000,
    deflate: true,
    // wspp offers "permessage-deflate; client_max_window_bits"; WebSocket++ answers "permessage-deflate".
    deflateAgreement: { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 },
    deflateParams: 'its permessage_deflate settings are per connection, out of an endpoint\'s reach in WebSocket++ 0.8',
    compressesFragments: 'WebSocket++ compresses frame by frame (RSV1 on every one): the peer sends fragments uncompressed',
    contextTakeover: true,
  },
  start: async (variant) => childServerPeer(await buildWebsocketppPeer({ deflate: variant.deflate }), ['server']),
});
