import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { spawnSync } from "node:child_process"
import * as path from "node:path"
import * as FrameReader from "../../src/Codec/FrameReader.ts"
import * as WebSocket from "../../src/Transport/WebSocket.ts"
import { echo, eventually, serveOurs } from "../support/ourServer.ts"
import { spawnCaptured } from "../support/peers.ts"

// permessage-deflate against Python `websockets` 10.4 (Debian python3-websockets, run with
// /usr/bin/python3), which offers and accepts compression by default, in both roles, through
// test/peers/websockets_peer.py on 127.0.0.1 with ephemeral ports; stopped by pid.

const PYTHON = "/usr/bin/python3"
const PEER = path.resolve(import.meta.dirname, "../peers/websockets_peer.py")
const available = spawnSync(PYTHON, ["-c", "import websockets"], { stdio: "ignore" }).status === 0
if (!available) console.warn("WebSocket.deflate.python.test.ts skipped: apt-get install -y python3-websockets")

const lines = (output: string) => output.split("\n").filter((l) => l !== "")
const jsonLines = (output: string) => lines(output).filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as unknown)

const feedText = (i: number) =>
  `{"e":"depthUpdate","u":${i},"b":[["64000.10","1.25"],["63999.90","0.50"]],"a":[["64000.20","2.00"]]}`.repeat(8)

describe.skipIf(!available)("permessage-deflate against Python websockets", () => {
  it.live("our client: agrees Python's parameters and round-trips single-frame, fragmented and 1 MiB compressed messages", () =>
    Effect.gen(function*() {
      const server = yield* spawnCaptured(PYTHON, [PEER, "server"])
      yield* eventually(() => lines(server.output()).some((l) => l.startsWith("listening ")), 15_000)
      const port = Number(lines(server.output()).find((l) => l.startsWith("listening "))!.slice(10))
      for (const path of ["/echo", "/fragment"]) {
        yield* Effect.scoped(Effect.gen(function*() {
          const socket = yield* WebSocket.connect(`ws://127.0.0.1:${port}${path}`, { compression: { threshold: 0 } })
          // websockets 10.4's server defaults: 12-bit windows both ways, context takeover kept
          assert.deepStrictEqual(socket.deflate, {
            _tag: "Agreed",
            serverNoContextTakeover: false,
            clientNoContextTakeover: false,
            serverMaxWindowBits: 12,
            clientMaxWindowBits: 12
          })
          for (let i = 0; i < 20; i++) {
            yield* socket.sendText(feedText(i))
            assert.deepStrictEqual(FrameReader.toOwned(yield* socket.recv), { _tag: "Text", text: feedText(i) })
          }
          const big = Buffer.alloc(1 << 20)
          for (let i = 0; i < big.length; i++) big[i] = (i >> 6) & 0xff
          yield* socket.sendBinary(big)
          assert.isTrue((yield* socket.recv).payload.equals(big))
          yield* socket.close()
        }))
      }
      yield* eventually(() => jsonLines(server.output()).length === 2, 15_000)
      assert.deepStrictEqual(jsonLines(server.output()), [
        { closed: 1000, reason: "", path: "/echo" },
        { closed: 1000, reason: "", path: "/fragment" }
      ])
    }))

  it.live("our server: takes Python's offer and echoes compressed traffic, fragmented and 1 MiB included", () =>
    Effect.gen(function*() {
      const server = yield* serveOurs(echo, { compression: { threshold: 0, serverMaxWindowBits: 11 } })
      const client = yield* spawnCaptured(PYTHON, [PEER, "client", `ws://127.0.0.1:${server.port}/`, "deflate"])
      assert.strictEqual(yield* client.exited, 0, client.output())
      assert.deepStrictEqual(jsonLines(client.output()), [
        { subprotocol: null },
        // [name, local (client) no context takeover, remote, local window, remote (our) window]
        { extensions: [["permessage-deflate", false, false, 15, 11]] },
        { fragmented: true },
        { binary: true },
        { closed: 1000 }
      ])
      yield* server.finished(1)
      assert.strictEqual(server.exits[0]!._tag, "Success")
      yield* eventually(() => server.open() === 0)
    }))
})
