/**
 * The interop matrix: peer × direction × variant × feature. Every pairing registers the
 * same feature tests through `clientPeerSuite` (the peer is the client, wspp the server)
 * or `serverPeerSuite` (the peer is the server, wspp the client), so the report
 * (scripts/interop-report.mjs) can line them up. Test titles are the matrix
 * coordinates: describe(`interop: <peer>`) > describe(<direction>) > describe(<variant>) >
 * it(<feature>); a feature the peer cannot do is registered as a skipped test whose title
 * ends in "(n/a: why)".
 *
 * Variants: today only `deflate=off`. When permessage-deflate lands, add
 * `{ name: 'deflate=on', deflate: true }` to VARIANTS, make startWsppServer /
 * WsppClientSession enable the extension for it, make each peer driver offer/accept it
 * (ws: perMessageDeflate, python: --deflate, WebSocket++: a -DWSPP_PEER_DEFLATE build with
 * permessage_deflate::enabled, Chromium: always offers it), and set `deflate: true` in the
 * peers' caps.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KiB, MiB, cmd, generate, hex, sha256, type CloseView, type Kind, type PeerRun, type Step } from './protocol.js';
import { WsppClientSession, startWsppServer, type WsppServer } from './wspp-side.js';

export interface Variant {
  name: string;
  deflate: boolean;
}

/** The variants every pairing runs; add deflate=on here once permessage-deflate exists. */
export const VARIANTS: readonly Variant[] = [{ name: 'deflate=off', deflate: false }];

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
}

export interface ClientRunOptions {
  protocols: string[];
  variant: Variant;
  /** Offer permessage-deflate even in a deflate=off variant. */
  offerDeflate?: boolean;
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

export function clientPeerSuite(options: ClientSuiteOptions): void {
  const { caps } = options;
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
        let server: WsppServer;
        beforeAll(async () => {
          server = await startWsppServer({ tls: options.tls ?? false, variant });
        });
        afterAll(async () => {
          await server?.stop();
        });

        /** Run a script on a fresh connection; the peer must not fail. */
        const run = async (steps: Step[], protocols: string[] = []) => {
          const path = server.nextPath();
          const result = await peer.run(server.base + path, steps, { protocols, variant });
          const view = server.view(path);
          expect(result.fail, `peer failed; it printed: ${result.other.join('\n')}`).toBeUndefined();
          return { result, view };
        };

        /** Both sides' view after a clean close the peer ended with 1000 (the scripts' default end). */
        const expectCleanEnd = async (result: PeerRun, view: ReturnType<WsppServer['view']>) => {
          const closed = await view.closed.promise;
          expect(closed).toMatchObject({ state: 'closed', remoteCode: 1000, ec: undefined });
          expect(result.closed?.code).toBe(1000);
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

        for (const kind of KINDS) {
          for (const size of SIZES) {
            for (const fragmented of [false, true]) {
              const frags = fragmented ? fragmentsFor(size) : 1;
              const title = `${kind} ${sizeLabel(size)} ${fragmented ? `fragmented (${frags} frames)` : 'whole'}, echoed`;
              feature(title, fragmented ? na(caps.fragments, 'cannot send fragments') : undefined, async () => {
                const { result, view } = await run([{ op: 'echo', kind, size, frags }]);
                expect(result.steps).toHaveLength(1);
                expect(result.steps[0], result.steps[0]?.detail).toMatchObject({ ok: true });
                // wspp's view: one message of that type, length and content.
                expect(view.received).toEqual([{ opcode: kind === 'text' ? 1 : 2, length: size, sha256: sha256(generate(kind, size)) }]);
                await expectCleanEnd(result, view);
              }, size >= MiB ? BIG : undefined);
            }
          }
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
}

export interface ServerPeer {
  /** ws://127.0.0.1:PORT (no path). */
  base: `ws://${string}`;
  /** The peer's view of the connection opened on `path`. */
  opened(path: string): Promise<{ subprotocol: string }>;
  closed(path: string): Promise<CloseView>;
  stop(): Promise<void>;
}

export interface ServerSuiteOptions {
  peer: string;
  direction: string;
  unavailable: string | undefined;
  caps: ServerPeerCaps;
  /** Start the peer server for a variant. */
  start: (variant: Variant) => Promise<ServerPeer>;
}

let clientPaths = 0;

export function serverPeerSuite(options: ServerSuiteOptions): void {
  const { caps } = options;
  guarded(options.peer, options.direction, options.unavailable, () => {
    for (const variant of VARIANTS) {
      describe(variant.name, () => {
        let peer: ServerPeer;
        beforeAll(async () => {
          peer = await options.start(variant);
        }, 120_000);
        afterAll(async () => {
          await peer?.stop();
        });

        const open = async (protocols: string[] = []) => {
          const path = `/c/${++clientPaths}`;
          const session = await WsppClientSession.open(`${peer.base}${path}`, protocols, variant);
          return { path, session };
        };

        /** wspp closes with 1000 and both sides agree. */
        const expectCleanEnd = async (path: string, session: WsppClientSession) => {
          session.close(1000, '');
          expect(await session.view.closed.promise).toMatchObject({ state: 'closed', localCode: 1000, remoteCode: 1000, ec: undefined });
          expect((await peer.closed(path)).code).toBe(1000);
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

        for (const kind of KINDS) {
          for (const size of SIZES) {
            const payload = () => generate(kind, size);
            const opcode = kind === 'text' ? 1 : 2;
            feature(`${kind} ${sizeLabel(size)} whole, echoed`, undefined, async () => {
              const { path, session } = await open();
              const echo = await session.request(payload(), opcode);
              expect(echo.opcode).toBe(opcode);
              expect(echo.payload.length).toBe(size);
              expect(echo.payload.equals(payload())).toBe(true);
              await expectCleanEnd(path, session);
            }, size >= MiB ? BIG : undefined);
            const frags = fragmentsFor(size);
            feature(`${kind} ${sizeLabel(size)} fragmented (${frags} frames), sent by ${options.peer}`, na(caps.fragments, 'cannot send fragments'), async () => {
              const { path, session } = await open();
              const got = await session.request(cmd.gen(kind, size, frags));
              expect(got.opcode).toBe(opcode);
              expect(got.payload.length).toBe(size);
              expect(got.payload.equals(payload())).toBe(true);
              await expectCleanEnd(path, session);
            }, size >= MiB ? BIG : undefined);
          }
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
          });
        }
      });
    }
  });
}
