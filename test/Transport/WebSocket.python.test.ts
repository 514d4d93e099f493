import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { spawnSync } from "node:child_process"
import * as path from "node:path"
import * as FrameReader from "../../src/Codec/FrameReader.ts"
import * as WebSocket from "../../src/Transport/WebSocket.ts"
import { echo, eventually, serveOurs } from "../support/ourServer.ts"
import { type CapturedChild, spawnCaptured } from "../support/peers.ts"

// Python `websockets` 10.4 (Debian python3-websockets, run with /usr/bin/python3) as the peer in
// both roles, through test/peers/websockets_peer.py on 127.0.0.1 with ephemeral ports. Each
// process is stopped by its pid when the test ends, also on failure.

const PYTHON = "/usr/bin/python3"
const PEER = path.resolve(import.meta.dirname, "../peers/websockets_peer.py")
const available = spawnSync(PYTHON, ["-c", "import websockets"], { stdio: "ignore" }).status === 0
if (!available) {
  console.warn(
    "WebSocket.python.test.ts skipped: /usr/bin/python3 cannot import websockets. " +
      "Install it with: apt-get install -y python3-websockets"
  )
}

interface Python extends CapturedChild {
  readonly lines: () => Array<string>
}

const python = (args: Array<string>) =>
  Effect.map(spawnCaptured(PYTHON, [PEER, ...args]), (child): Python => ({
    ...child,
    lines: () => child.output().split("\n").filter((l) => l !== "")
  }))

const jsonLines = (p: Python) => p.lines().filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>)

const pythonServer = Effect.gen(function*() {
  const server = yield* python(["server"])
  yield* eventually(() => server.lines().some((l) => l.startsWith("listening ")), 15_000)
  const port = Number(server.lines().find((l) => l.startsWith("listening "))!.slice(10))
  return { server, port }
})

const owned = (m: FrameReader.Message) => FrameReader.toOwned(m)

const pattern = (n: number) => {
  const buf = Buffer.allocUnsafe(n)
  for (let i = 0; i < n; i++) buf[i] = (i * 13) & 0xff
  return buf
}

describe.skipIf(!available)("WebSocket client against a Python websockets server", () => {
  it.live("echo, fragments, ping/pong, both close directions, a violation and a reset", () =>
    Effect.gen(function*() {
      const { port, server } = yield* pythonServer
      const base = `ws://127.0.0.1:${port}`

      yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* WebSocket.connect(`${base}/echo`)
        for (const size of [0, 125, 65536, 1 << 20]) {
          const data = pattern(size)
          yield* socket.sendBinary(data)
          assert.isTrue((yield* socket.recv).payload.equals(data), `binary ${size}`)
        }
        yield* socket.sendText("grüße")
        assert.deepStrictEqual(owned(yield* socket.recv), { _tag: "Text", text: "grüße" })
        yield* socket.close(4001, "from nexus")
      }))

      yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* WebSocket.connect(`${base}/fragment`, { fragmentSize: 1000 })
        const data = pattern(300_000)
        yield* socket.sendBinary(data)
        assert.isTrue((yield* socket.recv).payload.equals(data))
        yield* socket.close()
      }))

      yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* WebSocket.connect(`${base}/ping`)
        yield* socket.sendText("x")
        assert.deepStrictEqual(owned(yield* socket.recv), { _tag: "Ping", payload: new Uint8Array(Buffer.from("py")) })
        assert.deepStrictEqual(owned(yield* socket.recv), { _tag: "Text", text: "pong received" })
        yield* socket.sendPing("ours")
        assert.deepStrictEqual(owned(yield* socket.recv), { _tag: "Pong", payload: new Uint8Array(Buffer.from("ours")) })
        yield* socket.close()
      }))

      yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* WebSocket.connect(`${base}/close`)
        yield* socket.sendText("x")
        assert.deepStrictEqual(owned(yield* socket.recv), { _tag: "Close", code: 4004, reason: "py done" })
      }))

      yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* WebSocket.connect(`${base}/violation`)
        const error = yield* Effect.flip(socket.recv)
        assert.deepStrictEqual(
          error.reason._tag === "WebSocketProtocolError" && [error.reason.violation._tag, error.reason.closeCode],
          ["ReservedBitsSet", 1002]
        )
      }))

      yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* WebSocket.connect(`${base}/reset`)
        const error = yield* Effect.flip(socket.recv)
        assert.deepStrictEqual([error.reason._tag, error.reason._tag === "ReadError" && error.reason.kind], ["ReadError", "Reset"])
      }))

      yield* eventually(() => jsonLines(server).length === 6, 15_000)
      const closed = Object.fromEntries(jsonLines(server).map((l) => [l.path, [l.closed, l.reason]]))
      assert.deepStrictEqual(closed, {
        "/echo": [4001, "from nexus"],
        "/fragment": [1000, ""],
        "/ping": [1000, ""],
        "/close": [4004, "py done"],
        "/violation": [1002, "reserved bits set (RSV2) but no extension was negotiated"],
        "/reset": [1006, ""]
      })
    }))
})

describe.skipIf(!available)("WebSocket server (accept) against a Python websockets client", () => {
  it.live("echoes text, 1 MiB binary and fragmented text, answers pings, and takes the client's close", () =>
    Effect.gen(function*() {
      const server = yield* serveOurs(echo, { protocols: ["v1"] })
      const client = yield* python(["client", `ws://127.0.0.1:${server.port}/`, "echo"])
      assert.strictEqual(yield* client.exited, 0, client.lines().join("\n"))
      assert.deepStrictEqual(jsonLines(client), [
        { subprotocol: "v1" },
        { text: "héllo" },
        { binary: 1 << 20, equal: true },
        { text: "fragmented ✓" },
        { pong: true },
        { closed: 1000, reason: "py bye" }
      ])
      yield* server.finished(1)
      assert.strictEqual(server.exits[0]!._tag, "Success")
      yield* eventually(() => server.open() === 0)
    }))

  it.live("our close reaches Python with its code and reason", () =>
    Effect.gen(function*() {
      const server = yield* serveOurs((socket) => Effect.andThen(socket.recv, socket.close(4005, "ours")))
      const client = yield* python(["client", `ws://127.0.0.1:${server.port}/`, "serverclose"])
      assert.strictEqual(yield* client.exited, 0, client.lines().join("\n"))
      assert.deepStrictEqual(jsonLines(client).slice(1), [{ closed: 4005, reason: "ours" }])
      yield* server.finished(1)
      assert.strictEqual(server.exits[0]!._tag, "Success")
      yield* eventually(() => server.open() === 0)
    }))

  it.live("an unmasked frame gets close 1002; a client RST mid-message fails the handler with Reset", () =>
    Effect.gen(function*() {
      const server = yield* serveOurs(echo)
      const bad = yield* python(["client", `ws://127.0.0.1:${server.port}/`, "violation"])
      assert.strictEqual(yield* bad.exited, 0, bad.lines().join("\n"))
      assert.deepStrictEqual(jsonLines(bad).slice(1), [{ closed: 1002 }])
      yield* server.finished(1)
      const first = server.exits[0]!
      const violation = first._tag === "Failure" ? (first.cause.reasons[0] as { error: WebSocket.WebSocketError }).error : undefined
      assert.deepStrictEqual(
        violation?.reason._tag === "WebSocketProtocolError" && [violation.reason.violation._tag, violation.reason.closeCode],
        ["UnmaskedFrame", 1002]
      )

      const reset = yield* python(["client", `ws://127.0.0.1:${server.port}/`, "reset"])
      assert.strictEqual(yield* reset.exited, 0, reset.lines().join("\n"))
      yield* server.finished(2)
      const second = server.exits[1]!
      const error = second._tag === "Failure" ? (second.cause.reasons[0] as { error: WebSocket.WebSocketError }).error : undefined
      assert.deepStrictEqual([error?.reason._tag, error?.reason._tag === "ReadError" && error.reason.kind], ["ReadError", "Reset"])
      yield* eventually(() => server.open() === 0)
    }))
})
