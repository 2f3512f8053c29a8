/**
 * permessage-deflate negotiation (RFC 7692 section 7), as pure code: the client's
 * offer, the server's choice among offers, and the client's check of the answer.
 * Compression itself is the extension policy's (policies/extensions/deflate.ts).
 */
import { WsppError } from './errors.js';
import { hasDuplicateParams, parseExtensions, type ExtensionOffer } from './http.js';

export const DEFLATE_NAME = 'permessage-deflate';

/** What a config asks of the extension (both roles read the fields that concern them). */
export interface DeflateNegotiation {
  /** Server: always reset our compression context per message; client: ask the server to. */
  serverNoContextTakeover: boolean;
  /** Server: ask the client to reset its context per message; client: do it (and say so). */
  clientNoContextTakeover: boolean;
  /** Largest LZ77 window (8..15) the server compresses with: a server limits itself, a client asks. */
  serverMaxWindowBits: number;
  /** Largest window (8..15) the client compresses with: a server asks (if the client allows), a client limits itself. */
  clientMaxWindowBits: number;
  /** Server: accept offers asking us to disable context takeover (WebSocket++'s allow_disabling_context_takeover). */
  allowDisablingContextTakeover: boolean;
  /**
   * Smallest window we can compress with. zlib's raw deflate cannot produce 8-bit
   * windows, so 9 by default: offers that demand less are declined.
   */
  minimumOutgoingWindowBits: number;
}

export const DEFAULT_DEFLATE_NEGOTIATION: Readonly<DeflateNegotiation> = Object.freeze({
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
  allowDisablingContextTakeover: true,
  minimumOutgoingWindowBits: 9,
});

/** The parameters in force on a connection, from the RFC's point of view (server_* = server → client). */
export interface DeflateAgreement {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

function windowBits(value: string | true): number | undefined {
  if (value === true || !/^(8|9|1[0-5])$/.test(value)) return undefined;
  return Number(value);
}

/** One offer checked against RFC 7692's parameter rules; undefined = decline it. */
function readOffer(offer: ExtensionOffer): Partial<Record<'snct' | 'cnct', true>> & { smwb?: number; cmwb?: number | true } | undefined {
  if (hasDuplicateParams(offer)) return undefined;
  const out: Partial<Record<'snct' | 'cnct', true>> & { smwb?: number; cmwb?: number | true } = {};
  for (const [rawName, value] of offer.paramList) {
    switch (rawName.toLowerCase()) {
      case 'server_no_context_takeover':
        if (value !== true) return undefined;
        out.snct = true;
        break;
      case 'client_no_context_takeover':
        if (value !== true) return undefined;
        out.cnct = true;
        break;
      case 'server_max_window_bits': {
        const bits = windowBits(value);
        if (bits === undefined) return undefined;
        out.smwb = bits;
        break;
      }
      case 'client_max_window_bits': {
        if (value === true) {
          out.cmwb = true;
          break;
        }
        const bits = windowBits(value);
        if (bits === undefined) return undefined;
        out.cmwb = bits;
        break;
      }
      default:
        return undefined;
    }
  }
  return out;
}

/** The client's offer: what it can honour, plus what the config asks of the server. */
export function buildDeflateOffer(opts: DeflateNegotiation): string {
  let offer = DEFLATE_NAME;
  if (opts.serverNoContextTakeover) offer += '; server_no_context_takeover';
  if (opts.clientNoContextTakeover) offer += '; client_no_context_takeover';
  if (opts.serverMaxWindowBits < 15) offer += `; server_max_window_bits=${opts.serverMaxWindowBits}`;
  // We can compress with any window the server asks for, down to our minimum.
  offer += opts.clientMaxWindowBits < 15 ? `; client_max_window_bits=${opts.clientMaxWindowBits}` : '; client_max_window_bits';
  return offer;
}

export interface ServerDeflateChoice {
  /** The Sec-WebSocket-Extensions element to answer with. */
  response: string;
  agreement: DeflateAgreement;
}

/**
 * Server: pick the first acceptable permessage-deflate offer (RFC 7692 section 5.1),
 * or undefined to decline them all. Offers of other extensions are ignored; a header
 * that does not parse is an error (400).
 */
export function chooseDeflateOffer(header: string, opts: DeflateNegotiation): ServerDeflateChoice | undefined | WsppError {
  if (header === '') return undefined;
  const offers = parseExtensions(header);
  if (offers instanceof WsppError) return offers;
  for (const offer of offers) {
    if (offer.name.toLowerCase() !== DEFLATE_NAME) continue;
    const o = readOffer(offer);
    if (o === undefined) continue;
    if ((o.snct || o.cnct) && !opts.allowDisablingContextTakeover) continue;
    const serverBits = Math.min(o.smwb ?? 15, opts.serverMaxWindowBits);
    if (serverBits < opts.minimumOutgoingWindowBits) continue;
    const serverNoContext = o.snct === true || opts.serverNoContextTakeover;
    const clientNoContext = o.cnct === true || opts.clientNoContextTakeover;
    // The client's window: what it said it will use, lowered if we ask and it lets us ask.
    const offeredClientBits = o.cmwb === undefined || o.cmwb === true ? 15 : o.cmwb;
    const clientBits = o.cmwb !== undefined ? Math.min(offeredClientBits, opts.clientMaxWindowBits) : 15;
    let response = DEFLATE_NAME;
    if (serverNoContext) response += '; server_no_context_takeover';
    if (clientNoContext) response += '; client_no_context_takeover';
    if (o.smwb !== undefined || serverBits < 15) response += `; server_max_window_bits=${serverBits}`;
    if (o.cmwb !== undefined && clientBits < 15) response += `; client_max_window_bits=${clientBits}`;
    return {
      response,
      agreement: {
        serverNoContextTakeover: serverNoContext,
        clientNoContextTakeover: clientNoContext,
        serverMaxWindowBits: serverBits,
        clientMaxWindowBits: clientBits,
      },
    };
  }
  return undefined;
}

/**
 * Client: check the server's answer to our offer (RFC 7692 section 7.1): exactly one
 * permessage-deflate element with parameters we offered or allow. Anything else fails
 * the connection.
 */
export function acceptDeflateResponse(header: string, opts: DeflateNegotiation): DeflateAgreement | WsppError {
  const elements = parseExtensions(header);
  if (elements instanceof WsppError) return elements;
  const fail = (detail: string) => new WsppError('websocket.extension_neg_failed', detail);
  if (elements.length !== 1 || elements[0]!.name.toLowerCase() !== DEFLATE_NAME) {
    return new WsppError('processor.unrequested_extension', header);
  }
  const element = elements[0]!;
  if (hasDuplicateParams(element)) return fail('a permessage-deflate parameter is repeated');
  const r = readOffer(element);
  if (r === undefined) return fail(`invalid permessage-deflate parameters in "${header}"`);
  if (r.cmwb === true) return fail('client_max_window_bits needs a value in a response');
  if (opts.serverNoContextTakeover && !r.snct) return fail('the server did not accept server_no_context_takeover');
  if (r.smwb !== undefined && opts.serverMaxWindowBits < 15 && r.smwb > opts.serverMaxWindowBits) {
    return fail('server_max_window_bits above what we asked');
  }
  if (opts.serverMaxWindowBits < 15 && r.smwb === undefined) return fail('the server did not accept server_max_window_bits');
  const clientBits = Math.min(typeof r.cmwb === 'number' ? r.cmwb : 15, opts.clientMaxWindowBits);
  if (clientBits < opts.minimumOutgoingWindowBits) return fail(`cannot compress with a ${clientBits}-bit window`);
  return {
    serverNoContextTakeover: r.snct === true,
    clientNoContextTakeover: r.cnct === true || opts.clientNoContextTakeover,
    serverMaxWindowBits: r.smwb ?? 15,
    clientMaxWindowBits: clientBits,
  };
}
