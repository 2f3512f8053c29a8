import type { Config } from '../config/types.js';
import { installHandlerSetters } from '../endpoint-core.js';
import { ClientImpl } from './client-impl.js';
import type { ClientEndpoint } from './types.js';

installHandlerSetters(ClientImpl);

/** A client endpoint whose API follows from its config: `new Client(config.tcpClient)` (websocketpp::client<config::asio_client>). */
export type Client<C extends Config> = ClientEndpoint<C>;
export const Client = ClientImpl as unknown as new <const C extends Config>(config: C) => ClientEndpoint<C>;
