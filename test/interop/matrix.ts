/**
 * The interop matrix: peer × direction × variant × feature. Every pairing registers the
 * same feature tests through `clientPeerSuite` (the peer is the client, wspp the server)
 * or `serverPeerSuite` (the peer is the server, wspp the client), so the report
 * (scripts/interop-report.mjs) can line them up. Test titles are the matrix
 * coordinates: describe(`interop: <peer>`) > describe(<direction>) > describe(<variant>) >
 * it(<feature>); a feature the peer cannot do is registered as a skipped test whose title
 * ends in "(n/a: why)".
 *
 * Variants: `deflate=off`, and `deflate=on` (permessage-deflate, RFC 7692): wspp enables
 * the extension (wspp-side.ts INTEROP_DEFLATE: every message compressed), each peer
 * offers or accepts it, and every connection goes through a wire tap (wire-tap.ts) that
 * sees which messages travel compressed and how many bytes they take. In deflate=on the
 * common features run as in deflate=off, each message echoed twice on one connection (so
 * the second one is compressed with the context the first left), plus:
 * - the same sweep again without context takeover ("no context takeover: ...");
 * - the negotiated parameters, as both sides see them, with context takeover on and off
 *   and smaller windows, asked by either side where the peer can ask;
 * - incompressible (random) data, and messages below wspp's threshold.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeflateOptions } from '../../src/index.js';
import { testCert } from '../integration/tls-cert.js';
import {
  KiB,
  MiB,
  agreementOf,
  cmd,
  generate,
  hex,
  opcodeOf,
  sha256,
  type Agreement,
  type CloseView,
  type DeflateParams,
  type Kind,
  type PeerRun,
  type Step,
} from './protocol.js';
import { messagesOf, rsvViolations, startWireTap, type WireMessage, type WireRecord } from './wire-tap.js';
import { WsppClientSession, startWsppServer, type WsppServer } from './wspp-side.js';

export interface Variant {
  name: string;
  deflate: boolean;
}

/** The variants every pairing runs. */
export const VARIANTS: readonly Variant[] = [
  { name: 'deflate=off', deflate: false },
  { name: 'deflate=on', deflate: true },
];

export const SIZES = [0, 125, 126, 64 * KiB, MiB, 16 * MiB] as const;
export const KINDS: readonly Kind[] = ['text', 'binary'];

export function sizeLabel(size: number): string {
  if (size >= MiB) return `${size / MiB} MiB`;
  if (size >= KiB) return `${size / KiB} KiB`;
  return `${size} B`;
}

/** How many fragments a fragmented message of this size is sent in. */
export function fragmentsFor(size: number): number {
  if (size <= 126) return size === 126 ? 3 : 2; // 0 B: two empty fragments
  if (size <= 64 * KiB) return 4;
  if (size <= MiB) return 16;
  return 64;
}

/** Text with 4-byte code points (and the highest one), as its own feature. */
export const UTF8_TEXT = '𝄞 𐍈 😀 🎉 \u{10FFFF} — aé€😀';

/** The peer-initiated closes of the matrix; `browser`: a page may send it (1000, 3000-4999). */
export const PEER_CLOSES = [
  { label: '1000 "bye"', code: 1000, reason: 'bye', browser: true },
  { label: '1001 "going away"', code: 1001, reason: 'going away', browser: false },
  { label: '4000 with a UTF-8 reason (4-byte code points)', code: 4000, reason: 'é€😀 done 𝄞', browser: true },
  { label: '3000 with a 123-byte reason', code: 3000, reason: 'r'.repeat(123), browser: true },
  { label: 'no status code (1005)', code: undefined, reason: '', browser: true },
] as const;

/** The wspp-initiated closes of the matrix. */
export const WSPP_CLOSES = [
  { label: '1000 without reason', code: 1000, reason: '' },
  { label: '1001 "server stopping"', code: 1001, reason: 'server stopping' },
  { label: '1011 "internal error"', code: 1011, reason: 'internal error' },
  { label: '4001 with a UTF-8 reason (4-byte code points)', code: 4001, reason: '😀 bye 𝄞' },
  { label: 'no status code (1005)', code: 1005, reason: '' },
] as const;

const BIG = 60_000;

// --- the deflate dimension: shared pieces ---------------------------------------------------

/** The parameters RFC 7692 defaults to: context takeover both ways, 15-bit windows. */
const DEFAULT_AGREEMENT: Agreement = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
const NO_CONTEXT: DeflateParams = { serverNoContextTakeover: true, clientNoContextTakeover: true };
/** Windows one side asks for (both can honour them), and windows the other side imposes. */
const ASKED_WINDOWS: DeflateParams = { serverMaxWindowBits: 10, clientMaxWindowBits: 11 };
const LIMITED_WINDOWS: DeflateParams = { serverMaxWindowBits: 10, clientMaxWindowBits: 9 };
/** wspp's default threshold: messages below it are sent uncompressed. */
const THRESHOLD = 1024;
/** Random (incompressible) payloads: sent whole at these sizes (and 1 MiB fragmented). */
const RANDOM_SIZES = [64 * KiB, MiB] as const;
/**
 * The context-takeover probe: the same 2 KiB of random bytes twice on one connection.
 * With the context kept (and a window of 4 KiB or more) the second copy is a few
 * back-references; without it (or with a window below 2 KiB) it is as large as the first.
 */
const PROBE = 2 * KiB;
const probeSteps: Step[] = [
  { op: 'echo', kind: 'random', size: PROBE, frags: 1 },
  { op: 'echo', kind: 'random', size: PROBE, frags: 1 },
];

const kindTitle = (kind: Kind, size: number, frags: number): string => `${kind} ${sizeLabel(size)} ${frags > 1 ? `fragmented (${frags} frames)` : 'whole'}`;

/** The two probe messages of one direction show context takeover (true) or none (false). */
function expectContext(messages: WireMessage[], takeover: boolean, direction: string): void {
  const [first, second] = messages;
  expect(first?.compressed && second?.compressed, `${direction}: both probe messages compressed`).toBe(true);
  if (takeover) expect(second!.bytes, `${direction}: the second copy uses the first (context takeover)`).toBeLessThan(first!.bytes / 4);
  else expect(second!.bytes, `${direction}: the second copy is compressed afresh (no context takeover, or a window too small to reach back)`).toBeGreaterThan(first!.bytes * 0.9);
}

/** No frame broke the RSV rules, either way. */
function expectRsvRules(rec: WireRecord): void {
  expect(rsvViolations(rec.toServer), 'client → server frames').toEqual([]);
  expect(rsvViolations(rec.toClient), 'server → client frames').toEqual([]);
}

/** The agreement both sides of a connection report, and the answer header they agree on. */
function expectAgreement(wsppSide: { extensions: string; agreement: Agreement | undefined }, peerHeader: string | undefined, expected: Agreement): void {
  expect(wsppSide.extensions).toMatch(/^permessage-deflate\b/);
  expect(wsppSide.agreement, 'con.extensions.permessageDeflate').toEqual(expected);
  expect(agreementOf(wsppSide.extensions), "wspp's getExtensions()").toEqual(expected);
  expect(peerHeader, "the peer's view of the answer").toMatch(/permessage-deflate/);
  expect(agreementOf(peerHeader ?? ''), "the peer's view of the answer").toEqual(expected);
}

/** A compressed message of a compressible payload this large takes far fewer bytes. */
function expectShrunk(m: WireMessage | undefined, kind: Kind, size: number): void {
  if (kind !== 'random' && size >= 64 * KiB && m?.compressed === true) expect(m.bytes).toBeLessThan(size / 4);
}

const portOf = (base: string): number => Number(new URL(base).port);

// --- the peer is the client ---------------------------------------------------------------

export interface ClientPeerCaps {
  /** Can send a message in several frames. */
  fragments: boolean | string;
  /** Can send pings (browsers cannot). */
  ping: boolean | string;
  /** May close with any valid code (a browser: only 1000 and 3000-4999). */
  anyCloseCode: boolean;
  /** Can close without a status code. */
  noStatusClose: boolean | string;
  /**
   * Offered subprotocols and the server selected none: 'accepts' (RFC 6455 leaves it to
   * the client) or 'fails' (browsers fail the connection).
   */
  noSubprotocolSelected: 'accepts' | 'fails';
  /** The code the peer answers a close without status with (default 1005; WebSocket++: 1000). */
  noStatusAnswer?: number;
  /** Can offer permessage-deflate (run option offerDeflate); Chromium always offers it. */
  offersDeflate: boolean | string;
  /** Speaks permessage-deflate (the deflate=on variant); a string: why not. */
  deflate: boolean | string;
  /** The Sec-WebSocket-Extensions offer it makes with compression on (checked as wspp saw it). */
  deflateOffer: string;
  /** Can be told which parameters to offer (run option deflateParams). */
  deflateParams: boolean | string;
  /** Compresses the fragmented messages it sends (RSV1 on the first frame only). */
  compressesFragments: boolean | string;
  /** Its compressor keeps the context between messages when the agreement allows. */
  contextTakeover: boolean | string;
}

export interface ClientRunOptions {
  protocols: string[];
  variant: Variant;
  /** Offer permessage-deflate even in a deflate=off variant. */
  offerDeflate?: boolean;
  /** deflate=on: offer these parameters (only where caps.deflateParams). */
  deflateParams?: DeflateParams;
}

export interface ClientPeer {
  caps: ClientPeerCaps;
  /** Connect to `url` offering `protocols`, run the steps, close (1000) unless a step did. */
  run(url: string, steps: Step[], options: ClientRunOptions): Promise<PeerRun>;
}

export interface ClientSuiteOptions {
  /** e.g. "ws", "chromium". */
  peer: string;
  /** e.g. "ws client → wspp server". */
  direction: string;
  /** Why the peer is unavailable (the suite is then skipped or, strict, failed); undefined: available. */
  unavailable: string | undefined;
  tls?: boolean;
  caps: ClientPeerCaps;
  /** Made in beforeAll (after the availability check). */
  setup: () => Promise<ClientPeer>;
  teardown?: () => Promise<void>;
}

function na(flag: boolean | string, why: string): string | undefined {
  if (flag === true) return undefined;
  return typeof flag === 'string' ? flag : why;
}

/** Register `it` or an n/a skip. */
function feature(title: string, notApplicable: string | undefined, fn: () => Promise<void>, timeout?: number): void {
  if (notApplicable !== undefined) it.skip(`${title} (n/a: ${notApplicable})`, () => undefined);
  else it(title, fn, timeout);
}

/** Wrap a suite body: skipped loudly when the peer is missing, or failed in strict mode. */
function guarded(peer: string, direction: string, unavailable: string | undefined, body: () => void): void {
  const strict = process.env.CI === 'true' || process.env.WSPP_INTEROP_STRICT === '1';
  describe(`interop: ${peer}`, () => {
    if (unavailable !== undefined && strict) {
      it(`${direction}: peer installed`, () => {
        throw new Error(`interop peer missing (CI / WSPP_INTEROP_STRICT): ${unavailable}`);
      });
    }
    (unavailable === undefined ? describe : describe.skip)(direction, body);
  });
}

/** A wspp server for the client suites; in deflate=on behind a wire tap. */
interface MatrixServer extends WsppServer {
  /** The wire record of the connection on `path` (deflate=on only). */
  wire(path: string): Promise<WireRecord>;
}

async function startMatrixServer(options: { tls: boolean; variant: Variant; deflate?: DeflateOptions }): Promise<MatrixServer> {
  const server = await startWsppServer(options);
  if (!options.variant.deflate) return { ...server, wire: () => Promise.reject(new Error('no wire tap in deflate=off')) };
  const tap = await startWireTap({ port: server.port, ...(options.tls ? { tls: testCert() } : {}) });
  return {
    ...server,
    base: tap.base,
    wire: (path) => tap.record(path),
    stop: async () => {
      await tap.stop();
      await server.stop();
    },
  };
}

export function clientPeerSuite(options: ClientSuiteOptions): void {
  const { caps } = options;
  const tls = options.tls ?? false;
  guarded(options.peer, options.direction, options.unavailable, () => {
    let peer: ClientPeer;
    beforeAll(async () => {
      peer = await options.setup();
    }, 120_000);
    afterAll(async () => {
      await options.teardown?.();
    });

    for (const variant of VARIANTS) {
      describe(variant.name, () => {
        if (variant.deflate && caps.deflate !== true) {
          feature('permessage-deflate', na(caps.deflate, 'no permessage-deflate'), async () => undefined);
          return;
        }
        let server: MatrixServer;
        /** deflate=on: a server that requires no context takeover both ways. */
        let noContext: MatrixServer | undefined;
        beforeAll(async () => {
          server = await startMatrixServer({ tls, variant });
          if (variant.deflate) noContext = await startMatrixServer({ tls, variant, deflate: NO_CONTEXT });
        });
        afterAll(async () => {
          await server?.stop();
          await noContext?.stop();
        });

        /**
         * Run a script on a fresh connection to `on`; the peer must not fail. In deflate=on,
         * no frame either way may break the RSV rules.
         */
        const runOn = async (on: MatrixServer, steps: Step[], protocols: string[] = [], extra: Partial<ClientRunOptions> = {}) => {
          const path = on.nextPath();
          const result = await peer.run(on.base + path, steps, { protocols, variant, ...extra });
          const view = on.view(path);
          expect(result.fail, `peer failed; it printed: ${result.other.join('\n')}`).toBeUndefined();
          let record: WireRecord | undefined;
          const wire = async (): Promise<WireRecord> => {
            record ??= await on.wire(path);
            return record;
          };
          if (variant.deflate) expectRsvRules(await wire());
          return { result, view, wire };
        };
        const run = (steps: Step[], protocols: string[] = []) => runOn(server, steps, protocols);

        /** Both sides' view after a clean close the peer ended with 1000 (the scripts' default end). */
        const expectCleanEnd = async (result: PeerRun, view: ReturnType<WsppServer['view']>) => {
          const closed = await view.closed.promise;
          expect(closed).toMatchObject({ state: 'closed', remoteCode: 1000, ec: undefined });
          expect(result.closed?.code).toBe(1000);
        };

        /** Every step of the run succeeded. */
        const expectSteps = (result: PeerRun, count: number) => {
          expect(result.steps).toHaveLength(count);
          for (const step of result.steps) expect(step, step.detail).toMatchObject({ ok: true });
        };

        feature('handshake: subprotocol negotiated (chat.v2 of chat.v1, chat.v2)', undefined, async () => {
          const { result, view } = await run([], ['chat.v1', 'chat.v2']);
          expect(result.open?.subprotocol).toBe('chat.v2');
          expect(await view.opened.promise).toMatchObject({ subprotocol: 'chat.v2', requested: ['chat.v1', 'chat.v2'] });
          await expectCleanEnd(result, view);
        });

        feature(`handshake: no common subprotocol, none selected (${options.peer} ${caps.noSubprotocolSelected} it)`, undefined, async () => {
          if (caps.noSubprotocolSelected === 'accepts') {
            const { result, view } = await run([], ['other.v1']);
            expect(result.open?.subprotocol).toBe('');
            expect(await view.opened.promise).toMatchObject({ subprotocol: '', requested: ['other.v1'] });
            await expectCleanEnd(result, view);
            return;
          }
          // The peer drops the connection wspp accepted: wspp reports an abnormal close.
          const path = server.nextPath();
          const result = await peer.run(server.base + path, [], { protocols: ['other.v1'], variant });
          expect(result.open).toBeUndefined();
          expect(result.fail).toBeDefined();
          const view = server.view(path);
          expect(await view.opened.promise).toMatchObject({ subprotocol: '', requested: ['other.v1'] });
          expect(await view.closed.promise).toMatchObject({ state: 'closed', remoteCode: 1006 });
        });

        if (!variant.deflate) {
          feature('handshake: permessage-deflate offered, declined (the extension is off)', na(caps.offersDeflate, 'cannot offer permessage-deflate'), async () => {
            const path = server.nextPath();
            const result = await peer.run(server.base + path, [{ op: 'echo', kind: 'text', size: 64 * KiB, frags: 1 }], { protocols: [], variant, offerDeflate: true });
            expect(result.fail).toBeUndefined();
            expect(result.open?.extensions ?? '').toBe('');
            expect(result.steps[0], result.steps[0]?.detail).toMatchObject({ ok: true });
            const view = server.view(path);
            expect((await view.opened.promise).extensions).toBe('');
            expect(view.offeredExtensions).toMatch(/permessage-deflate/);
            await expectCleanEnd(result, view);
          });
        }

        /**
         * An echo of `kind`/`size` in `frags` frames from the peer. In deflate=on the message
         * goes twice on one connection (the second with the context the first left, where
         * kept), and the wire shows both compressed each way (the peer's fragmented ones
         * where it compresses fragments), compressible payloads shrunk.
         */
        const echo = async (on: MatrixServer, kind: Kind, size: number, frags: number) => {
          const step: Step = { op: 'echo', kind, size, frags };
          const steps = variant.deflate ? [step, step] : [step];
          const { result, view, wire } = await runOn(on, steps);
          expectSteps(result, steps.length);
          // wspp's view: the messages, of that type, length and content.
          const got = { opcode: opcodeOf(kind), length: size, sha256: sha256(generate(kind, size)) };
          expect(view.received).toEqual(steps.map(() => got));
          await expectCleanEnd(result, view);
          if (!variant.deflate) return;
          const rec = await wire();
          const fromPeer = messagesOf(rec.toServer);
          const toPeer = messagesOf(rec.toClient);
          const peerCompresses = frags === 1 || caps.compressesFragments === true;
          expect(fromPeer.map((m) => m.compressed), `${options.peer} → wspp: compressed`).toEqual(steps.map(() => peerCompresses));
          expect(toPeer.map((m) => m.compressed), `wspp → ${options.peer}: compressed`).toEqual(steps.map(() => true));
          for (const m of [...fromPeer, ...toPeer]) expectShrunk(m, kind, size);
          if (kind === 'random') for (const m of toPeer) expect(m.bytes, 'incompressible: no smaller').toBeGreaterThanOrEqual(size);
        };

        /** The common sweep: kinds × sizes × whole/fragmented, on `on`, titles prefixed. */
        const sweep = (prefix: string, on: () => MatrixServer) => {
          for (const kind of KINDS) {
            for (const size of SIZES) {
              for (const fragmented of [false, true]) {
                const frags = fragmented ? fragmentsFor(size) : 1;
                feature(`${prefix}${kindTitle(kind, size, frags)}, echoed`, fragmented ? na(caps.fragments, 'cannot send fragments') : undefined, () => echo(on(), kind, size, frags), size >= MiB ? BIG : undefined);
              }
            }
          }
        };
        sweep('', () => server);

        if (variant.deflate) {
          sweep('no context takeover: ', () => noContext!);

          for (const size of RANDOM_SIZES) {
            feature(`${kindTitle('random', size, 1)} (incompressible), echoed`, undefined, () => echo(server, 'random', size, 1), BIG);
          }
          const frags = fragmentsFor(MiB);
          feature(`${kindTitle('random', MiB, frags)} (incompressible), echoed`, na(caps.fragments, 'cannot send fragments'), () => echo(server, 'random', MiB, frags), BIG);

          /**
           * The context-takeover probe on a connection to `on` (the peer offering `params`):
           * the agreement as both sides see it, and what travelled.
           */
          const negotiation = async (on: MatrixServer, expected: Agreement, params?: DeflateParams) => {
            const { result, view, wire } = await runOn(on, [...probeSteps, { op: 'echo', kind: 'text', size: 64 * KiB, frags: 1 }], [], params === undefined ? {} : { deflateParams: params });
            expectSteps(result, 3);
            expectAgreement(await view.opened.promise, result.open?.extensions, expected);
            await expectCleanEnd(result, view);
            const rec = await wire();
            return { fromPeer: messagesOf(rec.toServer), toPeer: messagesOf(rec.toClient), offer: view.offeredExtensions };
          };
          feature(`permessage-deflate: agreed with context takeover (${options.peer}'s defaults), the same parameters on both sides`, undefined, async () => {
            const expected = agreementOf(caps.deflateOffer)!;
            const { fromPeer, toPeer, offer } = await negotiation(server, expected);
            expect(offer).toBe(caps.deflateOffer);
            expectContext(toPeer, true, `wspp → ${options.peer}`);
            if (expected.clientNoContextTakeover || caps.contextTakeover === true) expectContext(fromPeer, !expected.clientNoContextTakeover, `${options.peer} → wspp`);
          });

          feature('permessage-deflate: no context takeover, required by the wspp server', undefined, async () => {
            const { fromPeer, toPeer } = await negotiation(noContext!, { ...agreementOf(caps.deflateOffer)!, ...NO_CONTEXT });
            expectContext(toPeer, false, `wspp → ${options.peer}`);
            expectContext(fromPeer, false, `${options.peer} → wspp`);
          });

          feature(`permessage-deflate: no context takeover, asked by ${options.peer}`, na(caps.deflateParams, 'cannot choose what it offers'), async () => {
            const { fromPeer, toPeer } = await negotiation(server, { ...DEFAULT_AGREEMENT, ...NO_CONTEXT }, NO_CONTEXT);
            expectContext(toPeer, false, `wspp → ${options.peer}`);
            expectContext(fromPeer, false, `${options.peer} → wspp`);
          });

          feature(`permessage-deflate: smaller windows (server_max_window_bits=10, client_max_window_bits=11), asked by ${options.peer}`, na(caps.deflateParams, 'cannot choose what it offers'), async () => {
            const { fromPeer, toPeer } = await negotiation(server, { ...DEFAULT_AGREEMENT, ...ASKED_WINDOWS }, ASKED_WINDOWS);
            // 1 and 2 KiB windows cannot reach back 2 KiB: the probe's second copy is no smaller.
            expectContext(toPeer, false, `wspp → ${options.peer}`);
            expectContext(fromPeer, false, `${options.peer} → wspp`);
          });

          feature('permessage-deflate: smaller windows (server_max_window_bits=10, client_max_window_bits=9), required by the wspp server', undefined, async () => {
            const limited = await startMatrixServer({ tls, variant, deflate: LIMITED_WINDOWS });
            try {
              const expected = { ...agreementOf(caps.deflateOffer)!, ...LIMITED_WINDOWS };
              const { fromPeer, toPeer } = await negotiation(limited, expected);
              // 1 KiB and 512-byte windows cannot reach back 2 KiB.
              expectContext(toPeer, false, `wspp → ${options.peer}`);
              expectContext(fromPeer, false, `${options.peer} → wspp`);
            } finally {
              await limited.stop();
            }
          });

          feature(`permessage-deflate: messages below wspp's threshold (${THRESHOLD} B) travel uncompressed`, undefined, async () => {
            const thresholded = await startMatrixServer({ tls, variant, deflate: { threshold: THRESHOLD } });
            try {
              const sizes: [Kind, number][] = [['text', 125], ['binary', THRESHOLD - 1], ['binary', THRESHOLD], ['text', 4 * KiB]];
              const { result, view, wire } = await runOn(thresholded, sizes.map(([kind, size]) => ({ op: 'echo', kind, size, frags: 1 })));
              expectSteps(result, sizes.length);
              await expectCleanEnd(result, view);
              const rec = await wire();
              expect(messagesOf(rec.toClient).map((m) => m.compressed), `wspp → ${options.peer}`).toEqual(sizes.map(([, size]) => size >= THRESHOLD));
              // The peer compresses what it sends as it likes (all of these peers: everything).
              expect(messagesOf(rec.toServer).map((m) => m.compressed), `${options.peer} → wspp`).toEqual(sizes.map(() => true));
            } finally {
              await thresholded.stop();
            }
          });
        }

        feature('UTF-8 text with 4-byte code points, echoed', undefined, async () => {
          const { result, view } = await run([{ op: 'echotext', text: UTF8_TEXT }]);
          expect(result.steps[0], result.steps[0]?.detail).toMatchObject({ ok: true });
          expect(view.texts).toEqual([UTF8_TEXT]);
          await expectCleanEnd(result, view);
        });

        feature(`ping ${options.peer} → wspp, pong with the payload`, na(caps.ping, 'cannot send pings'), async () => {
          const { result, view } = await run([{ op: 'ping', payload: 'ping é😀' }]);
          expect(result.steps[0], result.steps[0]?.detail).toMatchObject({ ok: true });
          expect(view.pings).toEqual(['ping é😀']);
          await expectCleanEnd(result, view);
        });

        feature(`ping wspp → ${options.peer}, pong with the payload`, undefined, async () => {
          const { result, view } = await run([{ op: 'request', text: cmd.ping('from wspp 😀') }]);
          expect(result.steps[0]).toMatchObject({ ok: true, text: `pong:${hex('from wspp 😀')}` });
          expect(view.pongs).toEqual(['from wspp 😀']);
          await expectCleanEnd(result, view);
        });

        for (const c of PEER_CLOSES) {
          const notApplicable = c.code === undefined ? na(caps.noStatusClose, 'cannot close without a status code') : !c.browser && !caps.anyCloseCode ? 'a page may close with 1000 or 3000-4999 only' : undefined;
          feature(`close by ${options.peer}: ${c.label}`, notApplicable, async () => {
            const { result, view } = await run([{ op: 'close', code: c.code, reason: c.reason }]);
            expect(result.steps[0], result.steps[0]?.detail).toMatchObject({ ok: true });
            const wire = c.code ?? 1005;
            // wspp received the code and reason, and echoed the code (RFC 6455 5.5.1; the
            // reason may be echoed too, as WebSocket++ does, or left out).
            const closed = await view.closed.promise;
            expect(closed).toMatchObject({ state: 'closed', remoteCode: wire, remoteReason: c.reason, localCode: wire, ec: undefined });
            expect(['', c.reason]).toContain(closed.localReason);
            // The peer received the echo wspp says it sent.
            expect(result.closed).toMatchObject({ code: wire, reason: closed.localReason });
          });
        }

        for (const c of WSPP_CLOSES) {
          feature(`close by wspp: ${c.label}`, undefined, async () => {
            const { result, view } = await run([{ op: 'send', text: cmd.close(c.code, c.reason) }, { op: 'awaitclose' }]);
            expect(result.steps.map((s) => s.ok)).toEqual([true, true]);
            const closed = await view.closed.promise;
            // wspp sent the code and reason; the peer echoed the code.
            const answer = c.code === 1005 ? (caps.noStatusAnswer ?? 1005) : c.code;
            expect(closed).toMatchObject({ state: 'closed', localCode: c.code, localReason: c.reason, remoteCode: answer, ec: undefined });
            expect(result.closed).toMatchObject({ code: c.code, reason: c.reason } satisfies CloseView);
          });
        }
      });
    }
  });
}

// --- the peer is the server ----------------------------------------------------------------

export interface ServerPeerCaps {
  /** Can send fragmented messages (on `cmd:gen ... frags`). */
  fragments: boolean | string;
  /** Can close without a status code (on `cmd:close 1005`). */
  noStatusClose: boolean | string;
  /** The code the peer answers a close without status with (default 1005; WebSocket++: 1000). */
  noStatusAnswer?: number;
  /** Speaks permessage-deflate (the deflate=on variant); a string: why not. */
  deflate: boolean | string;
  /** deflate=on: what its default configuration answers wspp's default offer with. */
  deflateAgreement?: Agreement;
  /** Can be started requiring parameters (start's `params`): no context takeover, smaller windows. */
  deflateParams: boolean | string;
  /** Compresses the fragmented messages it sends (RSV1 on the first frame only). */
  compressesFragments: boolean | string;
  /** Its compressor keeps the context between messages when the agreement allows. */
  contextTakeover: boolean | string;
}

export interface ServerPeer {
  /** ws://127.0.0.1:PORT (no path). */
  base: `ws://${string}`;
  /** The peer's view of the connection opened on `path` (extensions: the answer it sent). */
  opened(path: string): Promise<{ subprotocol: string; extensions?: string }>;
  closed(path: string): Promise<CloseView>;
  stop(): Promise<void>;
}

export interface ServerSuiteOptions {
  peer: string;
  direction: string;
  unavailable: string | undefined;
  caps: ServerPeerCaps;
  /** Start the peer server for a variant; `params`: deflate=on, require these (caps.deflateParams). */
  start: (variant: Variant, params?: DeflateParams) => Promise<ServerPeer>;
}

let clientPaths = 0;

/** A peer server for the server suites; in deflate=on behind a wire tap. */
interface MatrixPeer extends ServerPeer {
  wire(path: string): Promise<WireRecord>;
}

async function startMatrixPeer(options: ServerSuiteOptions, variant: Variant, params?: DeflateParams): Promise<MatrixPeer> {
  const peer = await options.start(variant, params);
  if (!variant.deflate) return Object.assign(peer, { wire: () => Promise.reject(new Error('no wire tap in deflate=off')) });
  const tap = await startWireTap({ port: portOf(peer.base) });
  return {
    base: tap.base as `ws://${string}`,
    opened: (path) => peer.opened(path),
    closed: (path) => peer.closed(path),
    wire: (path) => tap.record(path),
    stop: async () => {
      await tap.stop();
      await peer.stop();
    },
  };
}

export function serverPeerSuite(options: ServerSuiteOptions): void {
  const { caps } = options;
  guarded(options.peer, options.direction, options.unavailable, () => {
    for (const variant of VARIANTS) {
      describe(variant.name, () => {
        if (variant.deflate && caps.deflate !== true) {
          feature('permessage-deflate', na(caps.deflate, 'no permessage-deflate'), async () => undefined);
          return;
        }
        let peer: MatrixPeer;
        beforeAll(async () => {
          peer = await startMatrixPeer(options, variant);
        }, 120_000);
        afterAll(async () => {
          await peer?.stop();
        });

        /** A wspp client connection to `on` (deflate: the client's options in deflate=on). */
        const openOn = async (on: MatrixPeer, protocols: string[] = [], deflate?: DeflateOptions) => {
          const path = `/c/${++clientPaths}`;
          const session = await WsppClientSession.open(`${on.base}${path}`, protocols, variant, deflate);
          return { path, session };
        };
        const open = (protocols: string[] = []) => openOn(peer, protocols);

        /** deflate=on: no frame either way broke the RSV rules (after the connection ended). */
        const expectWireRules = async (on: MatrixPeer, path: string) => {
          if (variant.deflate) expectRsvRules(await on.wire(path));
        };

        /** wspp closes with 1000 and both sides agree. */
        const expectCleanEnd = async (path: string, session: WsppClientSession, on: MatrixPeer = peer) => {
          session.close(1000, '');
          expect(await session.view.closed.promise).toMatchObject({ state: 'closed', localCode: 1000, remoteCode: 1000, ec: undefined });
          expect((await on.closed(path)).code).toBe(1000);
          await expectWireRules(on, path);
        };

        feature('handshake: subprotocol negotiated (chat.v2 of chat.v1, chat.v2)', undefined, async () => {
          const { path, session } = await open(['chat.v1', 'chat.v2']);
          expect(await session.view.opened.promise).toMatchObject({ subprotocol: 'chat.v2', requested: ['chat.v1', 'chat.v2'] });
          expect((await peer.opened(path)).subprotocol).toBe('chat.v2');
          await expectCleanEnd(path, session);
        });

        feature('handshake: no common subprotocol, none selected', undefined, async () => {
          const { path, session } = await open(['other.v1']);
          expect((await session.view.opened.promise).subprotocol).toBe('');
          expect((await peer.opened(path)).subprotocol).toBe('');
          await expectCleanEnd(path, session);
        });

        /**
         * Messages of `kind`/`size` exchanged on one connection to `on`: wspp sends them whole
         * (frags 1) and the peer echoes, or the peer sends them in `frags` frames (cmd:gen).
         * In deflate=on twice (the second with the context the first left, where kept), and
         * the wire shows them compressed each way, compressible payloads shrunk.
         */
        const exchange = async (on: MatrixPeer, kind: Kind, size: number, frags: number, deflate?: DeflateOptions) => {
          const { path, session } = await openOn(on, [], deflate);
          const payload = generate(kind, size);
          const times = variant.deflate ? 2 : 1;
          for (let i = 0; i < times; i++) {
            const got = frags === 1 ? await session.request(payload, opcodeOf(kind)) : await session.request(cmd.gen(kind, size, frags));
            expect(got.opcode).toBe(opcodeOf(kind));
            expect(got.payload.length).toBe(size);
            expect(got.payload.equals(payload)).toBe(true);
          }
          await expectCleanEnd(path, session, on);
          if (!variant.deflate) return;
          const rec = await on.wire(path);
          const toPeer = messagesOf(rec.toServer);
          const fromPeer = messagesOf(rec.toClient);
          // wspp → peer: the messages (frags 1) or the cmd:gen requests, compressed all.
          expect(toPeer.map((m) => m.compressed), `wspp → ${options.peer}: compressed`).toEqual(Array.from({ length: times }, () => true));
          const peerCompresses = frags === 1 || caps.compressesFragments === true;
          expect(fromPeer.map((m) => m.compressed), `${options.peer} → wspp: compressed`).toEqual(Array.from({ length: times }, () => peerCompresses));
          for (const m of frags === 1 ? [...toPeer, ...fromPeer] : fromPeer) expectShrunk(m, kind, size);
          if (kind === 'random' && frags === 1) for (const m of toPeer) expect(m.bytes, 'incompressible: no smaller').toBeGreaterThanOrEqual(size);
        };

        const sweep = (prefix: string, deflate?: DeflateOptions) => {
          for (const kind of KINDS) {
            for (const size of SIZES) {
              feature(`${prefix}${kindTitle(kind, size, 1)}, echoed`, undefined, () => exchange(peer, kind, size, 1, deflate), size >= MiB ? BIG : undefined);
              const frags = fragmentsFor(size);
              feature(`${prefix}${kindTitle(kind, size, frags)}, sent by ${options.peer}`, na(caps.fragments, 'cannot send fragments'), () => exchange(peer, kind, size, frags, deflate), size >= MiB ? BIG : undefined);
            }
          }
        };
        sweep('');

        if (variant.deflate) {
          sweep('no context takeover: ', NO_CONTEXT);

          for (const size of RANDOM_SIZES) {
            feature(`${kindTitle('random', size, 1)} (incompressible), echoed`, undefined, () => exchange(peer, 'random', size, 1), BIG);
          }
          const frags = fragmentsFor(MiB);
          feature(`${kindTitle('random', MiB, frags)} (incompressible), sent by ${options.peer}`, na(caps.fragments, 'cannot send fragments'), () => exchange(peer, 'random', MiB, frags), BIG);

          /** The context-takeover probe (wspp sends, the peer echoes) and the agreement as both sides see it. */
          const negotiation = async (on: MatrixPeer, expected: Agreement, deflate?: DeflateOptions) => {
            const { path, session } = await openOn(on, [], deflate);
            const payload = generate('random', PROBE);
            for (let i = 0; i < 2; i++) expect((await session.request(payload, 2)).payload.equals(payload)).toBe(true);
            expect((await session.request(generate('text', 64 * KiB), 1)).payload.equals(generate('text', 64 * KiB))).toBe(true);
            expectAgreement(await session.view.opened.promise, (await on.opened(path)).extensions, expected);
            await expectCleanEnd(path, session, on);
            const rec = await on.wire(path);
            return { toPeer: messagesOf(rec.toServer), fromPeer: messagesOf(rec.toClient) };
          };
          const agreed = caps.deflateAgreement ?? DEFAULT_AGREEMENT;

          feature(`permessage-deflate: agreed with context takeover (${options.peer}'s defaults), the same parameters on both sides`, undefined, async () => {
            const { toPeer, fromPeer } = await negotiation(peer, agreed);
            expectContext(toPeer, agreed.clientMaxWindowBits >= 12, `wspp → ${options.peer}`);
            if (caps.contextTakeover === true) expectContext(fromPeer, agreed.serverMaxWindowBits >= 12, `${options.peer} → wspp`);
          });

          feature('permessage-deflate: no context takeover, asked by the wspp client', undefined, async () => {
            const { toPeer, fromPeer } = await negotiation(peer, { ...agreed, ...NO_CONTEXT }, NO_CONTEXT);
            expectContext(toPeer, false, `wspp → ${options.peer}`);
            expectContext(fromPeer, false, `${options.peer} → wspp`);
          });

          feature(`permessage-deflate: no context takeover, required by the ${options.peer} server`, na(caps.deflateParams, 'its parameters cannot be configured here'), async () => {
            const strict = await startMatrixPeer(options, variant, NO_CONTEXT);
            try {
              const { toPeer, fromPeer } = await negotiation(strict, { ...DEFAULT_AGREEMENT, ...NO_CONTEXT });
              expectContext(toPeer, false, `wspp → ${options.peer}`);
              expectContext(fromPeer, false, `${options.peer} → wspp`);
            } finally {
              await strict.stop();
            }
          });

          feature('permessage-deflate: smaller windows (server_max_window_bits=10, client_max_window_bits=11), asked by the wspp client', undefined, async () => {
            const { toPeer, fromPeer } = await negotiation(peer, { ...agreed, ...ASKED_WINDOWS }, ASKED_WINDOWS);
            // 1 and 2 KiB windows cannot reach back 2 KiB: the probe's second copy is no smaller.
            expectContext(toPeer, false, `wspp → ${options.peer}`);
            expectContext(fromPeer, false, `${options.peer} → wspp`);
          });

          feature(`permessage-deflate: smaller windows (server_max_window_bits=10, client_max_window_bits=9), required by the ${options.peer} server`, na(caps.deflateParams, 'its parameters cannot be configured here'), async () => {
            const strict = await startMatrixPeer(options, variant, LIMITED_WINDOWS);
            try {
              const { toPeer, fromPeer } = await negotiation(strict, { ...DEFAULT_AGREEMENT, ...LIMITED_WINDOWS });
              expectContext(toPeer, false, `wspp → ${options.peer}`);
              expectContext(fromPeer, false, `${options.peer} → wspp`);
            } finally {
              await strict.stop();
            }
          });

          feature(`permessage-deflate: messages below wspp's threshold (${THRESHOLD} B) travel uncompressed`, undefined, async () => {
            const { path, session } = await openOn(peer, [], { threshold: THRESHOLD });
            const sizes: [Kind, number][] = [['text', 125], ['binary', THRESHOLD - 1], ['binary', THRESHOLD], ['text', 4 * KiB]];
            for (const [kind, size] of sizes) expect((await session.request(generate(kind, size), opcodeOf(kind))).payload.equals(generate(kind, size))).toBe(true);
            await expectCleanEnd(path, session);
            const rec = await peer.wire(path);
            expect(messagesOf(rec.toServer).map((m) => m.compressed), `wspp → ${options.peer}`).toEqual(sizes.map(([, size]) => size >= THRESHOLD));
            // The peer compresses what it sends as it likes (all of these peers: everything).
            expect(messagesOf(rec.toClient).map((m) => m.compressed), `${options.peer} → wspp`).toEqual(sizes.map(() => true));
          });
        }

        feature('UTF-8 text with 4-byte code points, echoed', undefined, async () => {
          const { path, session } = await open();
          const echo = await session.request(UTF8_TEXT);
          expect(echo.opcode).toBe(1);
          expect(echo.payload.toString('utf8')).toBe(UTF8_TEXT);
          await expectCleanEnd(path, session);
        });

        feature(`ping wspp → ${options.peer}, pong with the payload`, undefined, async () => {
          const { path, session } = await open();
          const pong = new Promise<void>((resolve) => {
            const con = session.client.getConFromHdl(session.hdl);
            con.setPongHandler((_hdl, payload) => {
              session.view.pongs.push(payload.toString());
              resolve();
            });
          });
          session.client.ping(session.hdl, 'ping é😀');
          await pong;
          expect(session.view.pongs).toEqual(['ping é😀']);
          await expectCleanEnd(path, session);
        });

        feature(`ping ${options.peer} → wspp, pong with the payload`, undefined, async () => {
          const { path, session } = await open();
          const answer = await session.request(cmd.ping('from peer 😀'));
          expect(answer.payload.toString()).toBe(`pong:${hex('from peer 😀')}`);
          expect(session.view.pings).toEqual(['from peer 😀']);
          await expectCleanEnd(path, session);
        });

        for (const c of WSPP_CLOSES) {
          feature(`close by wspp: ${c.label}`, undefined, async () => {
            const { path, session } = await open();
            session.close(c.code, c.reason);
            const answer = c.code === 1005 ? (caps.noStatusAnswer ?? 1005) : c.code;
            expect(await session.view.closed.promise).toMatchObject({ state: 'closed', localCode: c.code, localReason: c.reason, remoteCode: answer, ec: undefined });
            expect(await peer.closed(path)).toMatchObject({ code: c.code, reason: c.reason });
            await expectWireRules(peer, path);
          });
        }

        for (const c of PEER_CLOSES) {
          const code = c.code ?? 1005;
          const notApplicable = c.code === undefined ? na(caps.noStatusClose, 'cannot close without a status code') : undefined;
          feature(`close by ${options.peer}: ${c.label}`, notApplicable, async () => {
            const { path, session } = await open();
            session.send(cmd.close(code, c.reason));
            const closed = await session.view.closed.promise;
            expect(closed).toMatchObject({ state: 'closed', localCode: code, remoteCode: code, remoteReason: c.reason, ec: undefined });
            // The echo: the code, and the reason or none (both are RFC 6455 behaviour).
            expect(['', c.reason]).toContain(closed.localReason);
            expect(await peer.closed(path)).toMatchObject({ code, reason: closed.localReason });
            await expectWireRules(peer, path);
          });
        }
      });
    }
  });
}
