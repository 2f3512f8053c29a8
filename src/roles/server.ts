import type { Config } from '../config/types.js';
import { installHandlerSetters } from '../endpoint-core.js';
import { ServerImpl } from './server-impl.js';
import type { ServerEndpoint } from './types.js';

installHandlerSetters(ServerImpl);

/** A server endpoint whose API follows from its config: `new Server(config.tcp)` (websocketpp::server<config::asio>). */
export type Server<C extends Config> = ServerEndpoint<C>;
export const Server = ServerImpl as unknown as new <const C extends Config>(config: C) => ServerEndpoint<C>;
