"""A fuzzing-server client driver on Python `websockets` (Debian python3-websockets): a second
independent client the conformance suite is checked against.

CLI like ws-client-driver.ts: `/usr/bin/python3 python-client-driver.py --url URL --agent NAME`.
No keepalive pings (the fuzzer would record them); permessage-deflate offered only with
`--compression` (the compression cases)."""
import asyncio
import sys
import urllib.parse

import websockets

url = sys.argv[sys.argv.index("--url") + 1].rstrip("/")
agent = urllib.parse.quote(sys.argv[sys.argv.index("--agent") + 1])
compression = "deflate" if "--compression" in sys.argv else None


async def session(path):
    first = None
    try:
        async with websockets.connect(url + path, max_size=64 * 1024 * 1024, ping_interval=None,
                                      compression=compression, close_timeout=2) as ws:
            async for message in ws:
                if first is None and isinstance(message, str):
                    first = message
                await ws.send(message)
    except (websockets.ConnectionClosed, websockets.InvalidMessage, OSError):
        pass
    return first


async def main():
    count = int(await session("/getCaseCount"))
    for n in range(1, count + 1):
        await session(f"/runCase?case={n}&agent={agent}")
    await session(f"/updateReports?agent={agent}")


asyncio.run(main())
