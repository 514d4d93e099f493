import { assert, describe, it } from "@effect/vitest"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as ReadBuf from "../../src/Codec/ReadBuf.ts"
import * as FromSocket from "../../src/Transport/FromSocket.ts"
import { TransportClosed } from "../../src/Transport/Transport.ts"
import { serve } from "../support/netServer.ts"

describe("FromSocket", () => {
  it.live("reads and writes through an effect/socket Socket, keeping what does not fit for the next read", () =>
    Effect.gen(function*() {
      const { port } = yield* serve((socket) => {
        socket.on("data", (chunk) => socket.write(chunk))
        socket.on("end", () => socket.end())
      })
      const socket = yield* NodeSocket.makeNet({ host: "127.0.0.1", port })
      const transport = yield* FromSocket.fromSocket(socket, { remoteAddress: `127.0.0.1:${port}` })
      yield* transport.writev([Buffer.from("abc"), Buffer.from("def")])
      const small = ReadBuf.make({ capacity: 2 })
      assert.strictEqual(yield* transport.read(small), 2)
      const rest = ReadBuf.make()
      while (rest.length < 4) yield* transport.read(rest)
      assert.deepStrictEqual([small.data().toString(), rest.data().toString()], ["ab", "cdef"])
      yield* transport.end()
      assert.strictEqual(yield* transport.read(rest), 0)
      assert.strictEqual(yield* transport.read(rest), 0)
      assert.deepStrictEqual([transport.bytesWritten, transport.bytesRead], [6, 6])
      const error = yield* Effect.flip(transport.write(Buffer.from("x")))
      assert.deepStrictEqual([error.address, error.reason], [transport.remoteAddress, new TransportClosed({ operation: "write" })])
    }))

  it.live("maps an open failure to ConnectError and a reset to ReadError", () =>
    Effect.gen(function*() {
      const { port, server } = yield* serve((socket) => socket.once("data", () => socket.resetAndDestroy()))
      const transport = yield* FromSocket.fromSocket(yield* NodeSocket.makeNet({ host: "127.0.0.1", port }))
      yield* transport.write(Buffer.from("x"))
      const readError = yield* Effect.flip(transport.read(ReadBuf.make()))
      assert.deepStrictEqual([
        readError.reason._tag,
        readError.reason._tag === "ReadError" && readError.reason.kind,
        readError.message.startsWith("transport effect/socket: read failed: Other (")
      ], ["ReadError", "Other", true])
      yield* Effect.promise(() => new Promise((resolve) => server.close(resolve)))
      const connectError = yield* Effect.flip(
        FromSocket.fromSocket(yield* NodeSocket.makeNet({ host: "127.0.0.1", port }))
      )
      assert.deepStrictEqual([
        connectError.address,
        connectError.reason._tag,
        connectError.reason._tag === "ConnectError" && connectError.reason.kind
      ], ["effect/socket", "ConnectError", "Other"])
    }))

  it.live("destroy fails a parked read with TransportClosed", () =>
    Effect.gen(function*() {
      const { port } = yield* serve(() => {})
      const transport = yield* FromSocket.fromSocket(yield* NodeSocket.makeNet({ host: "127.0.0.1", port }))
      const parked = yield* Effect.forkChild(Effect.flip(transport.read(ReadBuf.make())))
      yield* Effect.yieldNow
      yield* transport.destroy()
      assert.deepStrictEqual((yield* Fiber.join(parked)).reason, new TransportClosed({ operation: "read" }))
    }))

  it.live("inboundState reflects what reads have pulled: leftover bytes, then the end", () =>
    Effect.gen(function*() {
      const { port } = yield* serve((socket) => socket.end("abcd"))
      const transport = yield* FromSocket.fromSocket(yield* NodeSocket.makeNet({ host: "127.0.0.1", port }))
      assert.strictEqual(transport.inboundState, "Open")
      const small = ReadBuf.make({ capacity: 2 })
      let total = yield* transport.read(small)
      // "abcd" arrives as one chunk; two bytes of it wait in the adapter
      assert.deepStrictEqual([total, transport.inboundState], [2, "Readable"])
      const rest = ReadBuf.make()
      while (total < 4) total += yield* transport.read(rest)
      assert.strictEqual(yield* transport.read(rest), 0)
      assert.strictEqual(transport.inboundState, "Ended")
      yield* transport.destroy()
      assert.strictEqual(transport.inboundState, "Closed")
    }))
})
