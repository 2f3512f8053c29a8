import { describe, expect, it } from 'vitest';
import {
  acceptDeflateResponse,
  buildDeflateOffer,
  chooseDeflateOffer,
  DEFAULT_DEFLATE_NEGOTIATION as D,
  type DeflateAgreement,
} from '../../src/protocol/deflate-params.js';
import { WsppError } from '../../src/protocol/errors.js';

const choose = (header: string, opts = {}) => chooseDeflateOffer(header, { ...D, ...opts });
const agreement = (a: Partial<DeflateAgreement> = {}): DeflateAgreement => ({
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
  ...a,
});

describe('permessage-deflate negotiation: server side (RFC 7692 section 7)', () => {
  it('accepts a bare offer with a bare answer', () => {
    expect(choose('permessage-deflate')).toEqual({ response: 'permessage-deflate', agreement: agreement() });
  });

  it('ignores other extensions and declines when there is no deflate offer', () => {
    expect(choose('x-webkit-deflate-frame')).toBeUndefined();
    expect(choose('')).toBeUndefined();
  });

  it('honours every parameter of the offer', () => {
    expect(choose('permessage-deflate; server_no_context_takeover; client_no_context_takeover')).toEqual({
      response: 'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
      agreement: agreement({ serverNoContextTakeover: true, clientNoContextTakeover: true }),
    });
    expect(choose('permessage-deflate; server_max_window_bits=10')).toEqual({
      response: 'permessage-deflate; server_max_window_bits=10',
      agreement: agreement({ serverMaxWindowBits: 10 }),
    });
    // client_max_window_bits without a value: the client lets us choose; we do not limit it by default.
    expect(choose('permessage-deflate; client_max_window_bits')).toEqual({ response: 'permessage-deflate', agreement: agreement() });
    expect(choose('permessage-deflate; client_max_window_bits', { clientMaxWindowBits: 11 })).toEqual({
      response: 'permessage-deflate; client_max_window_bits=11',
      agreement: agreement({ clientMaxWindowBits: 11 }),
    });
    // A value from the client is a promise it keeps; we may only lower it.
    expect(choose('permessage-deflate; client_max_window_bits=12', { clientMaxWindowBits: 10 })).toMatchObject({
      agreement: agreement({ clientMaxWindowBits: 10 }),
    });
    expect(choose('permessage-deflate; client_max_window_bits=12')).toMatchObject({ agreement: agreement({ clientMaxWindowBits: 12 }) });
  });

  it('applies the server config: its own limits and requests', () => {
    expect(choose('permessage-deflate', { serverNoContextTakeover: true, serverMaxWindowBits: 12 })).toEqual({
      response: 'permessage-deflate; server_no_context_takeover; server_max_window_bits=12',
      agreement: agreement({ serverNoContextTakeover: true, serverMaxWindowBits: 12 }),
    });
    // Without client_max_window_bits in the offer the server cannot limit the client.
    expect(choose('permessage-deflate', { clientMaxWindowBits: 10 })).toEqual({ response: 'permessage-deflate', agreement: agreement() });
    expect(choose('permessage-deflate; server_max_window_bits=14', { serverMaxWindowBits: 12 })).toMatchObject({
      response: 'permessage-deflate; server_max_window_bits=12',
    });
  });

  it('declines malformed or duplicated parameters and takes the next offer', () => {
    const bad = [
      'permessage-deflate; server_no_context_takeover=1',
      'permessage-deflate; client_no_context_takeover; client_no_context_takeover',
      'permessage-deflate; server_max_window_bits',
      'permessage-deflate; server_max_window_bits=7',
      'permessage-deflate; server_max_window_bits=16',
      'permessage-deflate; server_max_window_bits=010',
      'permessage-deflate; client_max_window_bits=0',
      'permessage-deflate; unknown_param',
    ];
    for (const offer of bad) {
      expect(choose(offer)).toBeUndefined();
      expect(choose(`${offer}, permessage-deflate; server_no_context_takeover`)).toMatchObject({
        agreement: agreement({ serverNoContextTakeover: true }),
      });
    }
  });

  it('declines an 8-bit server window (zlib cannot compress with it) and context-takeover requests when not allowed', () => {
    expect(choose('permessage-deflate; server_max_window_bits=8')).toBeUndefined();
    expect(choose('permessage-deflate; server_max_window_bits=9')).toMatchObject({ agreement: agreement({ serverMaxWindowBits: 9 }) });
    expect(choose('permessage-deflate; server_no_context_takeover', { allowDisablingContextTakeover: false })).toBeUndefined();
  });

  it('a header that does not parse is an error (the handshake fails with 400)', () => {
    const err = choose('permessage-deflate; a="unterminated');
    expect(err).toBeInstanceOf(WsppError);
    expect((err as WsppError).status).toBe(400);
  });
});

describe('permessage-deflate negotiation: client side', () => {
  it('offers what it can honour', () => {
    expect(buildDeflateOffer(D)).toBe('permessage-deflate; client_max_window_bits');
    expect(buildDeflateOffer({ ...D, serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 12 })).toBe(
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12',
    );
  });

  it('accepts valid answers', () => {
    expect(acceptDeflateResponse('permessage-deflate', D)).toEqual(agreement());
    expect(acceptDeflateResponse('permessage-deflate; server_no_context_takeover; client_max_window_bits=10', D)).toEqual(
      agreement({ serverNoContextTakeover: true, clientMaxWindowBits: 10 }),
    );
    expect(acceptDeflateResponse('permessage-deflate; client_no_context_takeover; server_max_window_bits=9', D)).toEqual(
      agreement({ clientNoContextTakeover: true, serverMaxWindowBits: 9 }),
    );
  });

  it('fails on answers the offer does not allow', () => {
    const cases: [string, Partial<typeof D>][] = [
      ['permessage-deflate; client_max_window_bits', {}],
      ['permessage-deflate; client_max_window_bits=8', {}],
      ['permessage-deflate; unknown', {}],
      ['permessage-deflate; server_max_window_bits=12', { serverMaxWindowBits: 10 }],
      ['permessage-deflate', { serverMaxWindowBits: 10 }],
      ['permessage-deflate', { serverNoContextTakeover: true }],
      ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', {}],
      ['permessage-deflate, permessage-deflate', {}],
      ['x-other', {}],
    ];
    for (const [answer, opts] of cases) {
      expect(acceptDeflateResponse(answer, { ...D, ...opts }), answer).toBeInstanceOf(WsppError);
    }
  });
});
