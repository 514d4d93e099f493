import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as ReadBuf from "../../src/Codec/ReadBuf.ts"
import type { SocketTransport } from "../../src/Transport/SocketTransport.ts"
import * as Tcp from "../../src/Transport/Tcp.ts"
import { serve } from "../support/netServer.ts"

/** Waits until `bytes()` has not changed for `quiet` ms (the socket stopped delivering), returns it. */
const settle = (bytes: () => number, quiet = 60) =>
  Effect.gen(function*() {
    let last = -1
    while (bytes() !== last) {
      last = bytes()
      yield* Effect.sleep(`${quiet} millis`)
    }
    return last
  })

describe("SocketTransport inbox", () => {
  it.live("stays paused at readHighWaterMark until a read empties the inbox, then reads on", () =>
    Effect.gen(function*() {
      const size = 32 * 1024 * 1024
      const server = yield* serve((socket) => void socket.write(Buffer.alloc(size, 1)))
      const transport = (yield* Tcp.connect({ host: "127.0.0.1", port: server.port, readHighWaterMark: 64 * 1024 })) as SocketTransport
      const full = yield* settle(() => transport.buffered)
      assert.isAtLeast(full, 64 * 1024)
      // a read that leaves bytes in the inbox does not resume the socket: nothing more arrives
      const buf = ReadBuf.make({ capacity: 16 * 1024 })
      assert.strictEqual(yield* transport.read(buf), 16 * 1024)
      assert.strictEqual(yield* settle(() => transport.buffered), full - 16 * 1024)
      // the read that empties it does
      let taken = 16 * 1024
      while (taken < full) {
        buf.clear()
        taken += yield* transport.read(buf)
      }
      assert.strictEqual(taken, full)
      assert.isAtLeast(yield* settle(() => transport.buffered), 64 * 1024)
      let total = taken
      while (total < size) {
        buf.clear()
        total += yield* transport.read(buf)
      }
      assert.strictEqual(total, size)
    }))
})
