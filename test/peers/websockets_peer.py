"""Python `websockets` (10.4, Debian python3-websockets) as a peer for WebSocket.python.test.ts.

server:  websockets_peer.py server          prints "listening PORT", then one line per event
client:  websockets_peer.py client URL SCENARIO   prints one JSON line per result, exits 0

Client scenarios: echo, deflate (reports the agreed permessage-deflate and echoes compressible
traffic), serverclose, violation, reset.
Server paths: /echo (echo), /fragment (answer in three fragments), /ping (ping us, report the
pong), /close (close 4004 "py done" after the first message), /violation (raw RSV2 frame),
/reset (half a frame, then a TCP RST). Every connection prints "closed CODE REASON" at the end.
Runs only on 127.0.0.1.
"""
import asyncio
import json
import socket
import struct
import sys

import websockets


def emit(obj):
    print(json.dumps(obj), flush=True)


def rst(transport):
    sock = transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def handler(ws, path):
    try:
        if path == "/echo":
            async for message in ws:
                await ws.send(message)
        elif path == "/fragment":
            async for message in ws:
                third = max(1, len(message) // 3)
                await ws.send([message[:third], message[third:2 * third], message[2 * third:]])
        elif path == "/ping":
            await ws.recv()
            waiter = await ws.ping(b"py")
            await asyncio.wait_for(waiter, 5)
            await ws.send("pong received")
            async for _ in ws:
                pass
        elif path == "/close":
            await ws.recv()
            await ws.close(4004, "py done")
        elif path == "/violation":
            ws.transport.write(b"\xa1\x02hi")
            async for _ in ws:
                pass
        elif path == "/reset":
            ws.transport.write(b"\x82\x7e\x03\xe8\x01\x02\x03")
            await asyncio.sleep(0.05)
            rst(ws.transport)
    except websockets.ConnectionClosed:
        pass
    finally:
        await ws.wait_closed()
        emit({"closed": ws.close_code, "reason": ws.close_reason, "path": path})


async def serve():
    async with websockets.serve(handler, "127.0.0.1", 0, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening {port}", flush=True)
        await asyncio.Future()


async def client(url, scenario):
    async with websockets.connect(url, max_size=None, subprotocols=["v1"]) as ws:
        emit({"subprotocol": ws.subprotocol})
        if scenario == "echo":
            await ws.send("héllo")
            emit({"text": await ws.recv()})
            big = bytes((i * 7) & 0xFF for i in range(1 << 20))
            await ws.send(big)
            back = await ws.recv()
            emit({"binary": len(back), "equal": back == big})
            await ws.send(["frag", "men", "ted ✓"])
            emit({"text": await ws.recv()})
            waiter = await ws.ping(b"hb")
            await asyncio.wait_for(waiter, 5)
            emit({"pong": True})
            await ws.close(1000, "py bye")
            emit({"closed": ws.close_code, "reason": ws.close_reason})
        elif scenario == "deflate":
            # compression as agreed from our side's answer, then compressible traffic both ways
            emit({"extensions": [
                [e.name, e.local_no_context_takeover, e.remote_no_context_takeover, e.local_max_window_bits, e.remote_max_window_bits]
                for e in ws.extensions
            ]})
            for i in range(20):
                text = '{"e":"depthUpdate","u":%d,"b":[["64000.10","1.25"],["63999.90","0.50"]],"a":[["64000.20","2.00"]]}' % i * 8
                await ws.send(text)
                if await ws.recv() != text:
                    emit({"mismatch": i})
            await ws.send(["frag" * 100, "men" * 100, "ted ✓" * 100])
            emit({"fragmented": await ws.recv() == "frag" * 100 + "men" * 100 + "ted ✓" * 100})
            big = bytes((i // 64) & 0xFF for i in range(1 << 20))
            await ws.send(big)
            emit({"binary": await ws.recv() == big})
            await ws.close(1000, "py bye")
            emit({"closed": ws.close_code})
        elif scenario == "serverclose":
            await ws.send("x")
            try:
                await ws.recv()
            except websockets.ConnectionClosed as e:
                emit({"closed": e.rcvd.code if e.rcvd else None, "reason": e.rcvd.reason if e.rcvd else None})
        elif scenario == "violation":
            ws.transport.write(b"\x81\x02hi")  # unmasked: clients must mask
            try:
                await ws.recv()
            except websockets.ConnectionClosed as e:
                emit({"closed": e.rcvd.code if e.rcvd else None})
        elif scenario == "reset":
            ws.transport.write(b"\x82\xfe\x03\xe8\x00\x00\x00\x00\x01\x02\x03\x04")
            await asyncio.sleep(0.05)
            rst(ws.transport)
            emit({"reset": True})


if __name__ == "__main__":
    if sys.argv[1] == "server":
        asyncio.run(serve())
    else:
        asyncio.run(client(sys.argv[2], sys.argv[3]))
