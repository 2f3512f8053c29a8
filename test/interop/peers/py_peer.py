"""A python3-websockets peer for wspp's interop tests (Debian's python3-websockets, 10.x).

    py_peer.py server [DEFLATE...]                  echo server on 127.0.0.1, port picked by the OS
    py_peer.py client URL [--protocols a,b] [DEFLATE...] STEP...

DEFLATE: --deflate turns permessage-deflate on (websockets' defaults: the client offers
"permessage-deflate; client_max_window_bits", the server answers with 12-bit windows);
--deflate-snct, --deflate-cnct, --deflate-smwb=N, --deflate-cmwb=N set the parameters the
client offers or the server requires (server_/client_no_context_takeover,
server_/client_max_window_bits) instead of the defaults.

Both print one JSON object per line on stdout, strings hex-encoded. The steps, the in-band
commands and the generated payloads are those of test/interop/protocol.ts (the reference)
and of wspp_peer.cpp:

Server: messages are echoed with their type, except text messages starting "cmd:":
  cmd:gen <text|binary> <size> <frags>   send a generated payload in <frags> fragments
  cmd:ping <hex>                         ping; once the pong arrives, send "pong:<hex>"
  cmd:close <code> <hex>                 close with that code and reason
Client steps: "echo <kind> <size> <frags>", "echotext <hex>", "ping <hex>", "request <hex>",
"send <hex>", "close <code|none> <hex>", "awaitclose".

Limits are raised (max_size) so 16 MiB messages pass; keep-alive pings are off, and so is
compression unless a DEFLATE flag turns it on. The "open" events carry the
Sec-WebSocket-Extensions answer (hex) as "extensions".
"""

import asyncio
import json
import struct
import sys

import websockets
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory, ServerPerMessageDeflateFactory

MAX_SIZE = 64 << 20
UNIT = "a\u00e9\u20ac\U0001F600"  # 1 + 2 + 3 + 4 UTF-8 bytes
PATTERN = bytes((i * 31 + 7) & 0xFF for i in range(256))


def emit(**event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def hx(value):
    if isinstance(value, str):
        value = value.encode("utf-8")
    return (value or b"").hex()


def unhex(value):
    return bytes.fromhex(value).decode("utf-8")


RANDOM_SEED = 0x9E3779B9
_random_cache = {}


def random_bytes(size):
    """xorshift32 from RANDOM_SEED, each state 4 bytes little-endian (protocol.ts)."""
    if size not in _random_cache:
        x = RANDOM_SEED
        words = []
        for _ in range((size + 3) // 4):
            x ^= (x << 13) & 0xFFFFFFFF
            x ^= x >> 17
            x ^= (x << 5) & 0xFFFFFFFF
            words.append(x)
        _random_cache[size] = struct.pack("<%dI" % len(words), *words)[:size]
    return _random_cache[size]


def generate(kind, size):
    if kind == "text":
        return UNIT * (size // 10) + "x" * (size % 10)
    if kind == "random":
        return random_bytes(size)
    return (PATTERN * (size // 256 + 1))[:size]


def fragments(payload, n):
    """n pieces of about equal size (text is cut between code points: str pieces)."""
    size = len(payload)
    cuts = [size * k // n for k in range(n + 1)]
    return [payload[cuts[k]:cuts[k + 1]] for k in range(n)]


async def send_payload(ws, kind, size, frags):
    payload = generate(kind, size)
    if frags <= 1:
        await ws.send(payload)
    else:
        await ws.send(fragments(payload, frags))
    return payload


def deflate_params(args):
    """The DEFLATE flags other than --deflate, as factory keyword arguments (None: none given)."""
    params = {}
    for arg in args:
        if arg == "--deflate-snct":
            params["server_no_context_takeover"] = True
        elif arg == "--deflate-cnct":
            params["client_no_context_takeover"] = True
        elif arg.startswith("--deflate-smwb="):
            params["server_max_window_bits"] = int(arg.split("=", 1)[1])
        elif arg.startswith("--deflate-cmwb="):
            params["client_max_window_bits"] = int(arg.split("=", 1)[1])
    return params or None


def options(args, server):
    opts = dict(max_size=MAX_SIZE, max_queue=64, compression=None, ping_interval=None, close_timeout=5)
    params = deflate_params(args)
    if params is not None:
        factory = ServerPerMessageDeflateFactory if server else ClientPerMessageDeflateFactory
        opts["extensions"] = [factory(compress_settings={"memLevel": 5}, **params)]
    elif "--deflate" in args:
        opts["compression"] = "deflate"
    return opts


def answer(ws):
    return ws.response_headers.get("Sec-WebSocket-Extensions", "")


# --- server ------------------------------------------------------------------------------


async def after_pong(ws, waiter, payload):
    try:
        await waiter
        await ws.send("pong:" + payload.hex())
    except websockets.ConnectionClosed:
        pass


async def command(ws, words):
    if words[0] == "gen" and len(words) == 4:
        await send_payload(ws, words[1], int(words[2]), int(words[3]))
    elif words[0] == "ping":
        payload = bytes.fromhex(words[1]) if len(words) > 1 else b""
        waiter = await ws.ping(payload)
        asyncio.ensure_future(after_pong(ws, waiter, payload))
    elif words[0] == "close":
        await ws.close(int(words[1]), unhex(words[2]) if len(words) > 2 else "")


async def handler(ws):
    emit(event="open", path=hx(ws.path), subprotocol=hx(ws.subprotocol or ""), extensions=hx(answer(ws)))
    try:
        async for msg in ws:
            if isinstance(msg, str) and msg.startswith("cmd:"):
                await command(ws, msg[4:].split())
            else:
                await ws.send(msg)
    except websockets.ConnectionClosed:
        pass
    await ws.wait_closed()
    rcvd, sent = ws.close_rcvd, ws.close_sent
    emit(
        event="close",
        path=hx(ws.path),
        code=rcvd.code if rcvd else 1006,
        reason=hx(rcvd.reason if rcvd else ""),
        localCode=sent.code if sent else 1006,
        localReason=hx(sent.reason if sent else ""),
    )


async def run_server(args):
    async with websockets.serve(handler, "127.0.0.1", 0, subprotocols=["chat.v2"], **options(args, True)) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        emit(event="listening", port=port)
        await asyncio.Future()


# --- client ------------------------------------------------------------------------------


async def run_client(url, protocols, steps, args):
    try:
        ws = await websockets.connect(url, subprotocols=protocols or None, open_timeout=10, **options(args, False))
    except Exception as err:  # noqa: BLE001 - reported, not raised
        emit(event="fail", message=hx(repr(err)))
        return
    emit(event="open", subprotocol=hx(ws.subprotocol or ""), extensions=hx(answer(ws)))
    closing = False
    for i, step in enumerate(steps):
        words = step.split()
        op = words[0]
        ok, detail, text = True, "", ""
        try:
            if op == "echo":
                kind, size, frags = words[1], int(words[2]), int(words[3])
                sent = await send_payload(ws, kind, size, frags)
                got = await ws.recv()
                ok = type(got) is type(sent) and got == sent
                if not ok:
                    detail = "echo differs: %s of %d" % (type(got).__name__, len(got))
            elif op == "echotext":
                sent = unhex(words[1]) if len(words) > 1 else ""
                await ws.send(sent)
                got = await ws.recv()
                ok = got == sent
                if not ok:
                    detail = "echo differs"
            elif op == "ping":
                payload = bytes.fromhex(words[1]) if len(words) > 1 else b""
                waiter = await ws.ping(payload)
                await asyncio.wait_for(waiter, 5)
            elif op == "request":
                await ws.send(unhex(words[1]) if len(words) > 1 else "")
                got = await ws.recv()
                text = got
            elif op == "send":
                await ws.send(unhex(words[1]) if len(words) > 1 else "")
            elif op == "close":
                closing = True
                await ws.close(1000 if words[1] == "none" else int(words[1]), unhex(words[2]) if len(words) > 2 else "")
            elif op == "awaitclose":
                closing = True
                await asyncio.wait_for(ws.wait_closed(), 10)
            else:
                ok, detail = False, "unknown step " + op
        except Exception as err:  # noqa: BLE001 - reported as the step's result
            ok, detail = False, repr(err)
        emit(event="step", i=i, op=op, ok=ok, detail=hx(detail), text=hx(text))
    if not closing:
        await ws.close()
    await ws.wait_closed()
    rcvd, sent = ws.close_rcvd, ws.close_sent
    emit(
        event="closed",
        code=rcvd.code if rcvd else 1006,
        reason=hx(rcvd.reason if rcvd else ""),
        localCode=sent.code if sent else 1006,
        localReason=hx(sent.reason if sent else ""),
    )


def main(argv):
    if argv and argv[0] == "server":
        asyncio.run(run_server(argv[1:]))
        return 0
    if len(argv) >= 2 and argv[0] == "client":
        protocols, steps, flags = [], [], []
        rest = argv[2:]
        i = 0
        while i < len(rest):
            if rest[i] == "--protocols" and i + 1 < len(rest):
                protocols = [p for p in rest[i + 1].split(",") if p]
                i += 2
            elif rest[i].startswith("--"):
                flags.append(rest[i])
                i += 1
            else:
                steps.append(rest[i])
                i += 1
        asyncio.run(run_client(argv[1], protocols, steps, flags))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
