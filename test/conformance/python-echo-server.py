"""An echo server on Python `websockets` (Debian python3-websockets) for the fuzzing client: a
second independent implementation the conformance suite is checked against.

CLI like ws-echo-server.ts: `/usr/bin/python3 python-echo-server.py --port PORT` prints
`listening PORT` once bound to 127.0.0.1 and echoes every message. No keepalive pings (the
fuzzer would record them); compression only with `--compression` (the compression cases)."""
import asyncio
import sys

import websockets

port = int(sys.argv[sys.argv.index("--port") + 1]) if "--port" in sys.argv else 0
compression = "deflate" if "--compression" in sys.argv else None


async def echo(ws, path=None):
    try:
        async for message in ws:
            await ws.send(message)
    except websockets.ConnectionClosed:
        pass


async def main():
    async with websockets.serve(echo, "127.0.0.1", port, max_size=64 * 1024 * 1024,
                                ping_interval=None, compression=compression) as server:
        print("listening", server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()


asyncio.run(main())
