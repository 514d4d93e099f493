import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { TestClock } from "effect/testing"
import * as ReadBuf from "../../src/Codec/ReadBuf.ts"
import * as Memory from "../../src/Transport/Memory.ts"
import { ReadError, type Transport, TransportClosed } from "../../src/Transport/Transport.ts"
import { utf8 as bytes } from "../support/bytes.ts"

const text = (buf: ReadBuf.ReadBuf) => new TextDecoder().decode(buf.data())

/** Reads until `n` bytes are in a fresh buffer (or EOF) and returns them as text. */
const readText = (transport: Transport, n: number) =>
  Effect.gen(function*() {
    const buf = ReadBuf.make({ capacity: 64 })
    while (buf.length < n) {
      if ((yield* transport.read(buf)) === 0) break
    }
    return text(buf)
  })

describe("Memory", () => {
  it.effect("carries bytes both ways and counts them", () =>
    Effect.gen(function*() {
      const { client, server } = yield* Memory.pair()
      yield* client.write(bytes("ping"))
      assert.strictEqual(yield* readText(server, 4), "ping")
      yield* server.writev([bytes("po"), bytes("ng")])
      assert.strictEqual(yield* readText(client, 4), "pong")
      assert.deepStrictEqual(
        [client.bytesWritten, client.bytesRead, server.bytesWritten, server.bytesRead],
        [4, 4, 4, 4]
      )
      assert.strictEqual(client.remoteAddress, "memory:server")
    }))

  it.effect("holds delayed bytes back until the TestClock passes the delay", () =>
    Effect.gen(function*() {
      const { client, server } = yield* Memory.pair({ delay: "100 millis" })
      yield* client.write(bytes("late"))
      const buf = ReadBuf.make({ capacity: 16 })
      const reader = yield* Effect.forkChild(server.read(buf))
      yield* TestClock.adjust("99 millis")
      assert.strictEqual(reader.pollUnsafe(), undefined)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* Fiber.join(reader), 4)
      assert.strictEqual(text(buf), "late")
    }))

  it.effect("delivers bytes one at a time with chunkSize 1", () =>
    Effect.gen(function*() {
      const { client, server } = yield* Memory.pair({ chunkSize: 1 })
      yield* client.write(bytes("abc"))
      const buf = ReadBuf.make({ capacity: 16 })
      const counts = [yield* server.read(buf), yield* server.read(buf), yield* server.read(buf)]
      assert.deepStrictEqual(counts, [1, 1, 1])
      assert.strictEqual(text(buf), "abc")
    }))

  it.effect("makes a writer wait while the peer's bounded buffer is full", () =>
    Effect.gen(function*() {
      const { client, server } = yield* Memory.pair({ capacity: 4 })
      const writer = yield* Effect.forkChild(client.write(bytes("0123456789")))
      yield* Effect.yieldNow
      assert.strictEqual(writer.pollUnsafe(), undefined)
      assert.strictEqual(client.buffered, 4)
      assert.strictEqual(client.bytesWritten, 4)
      assert.strictEqual(yield* readText(server, 10), "0123456789")
      yield* Fiber.join(writer)
      assert.strictEqual(client.bytesWritten, 10)
    }))

  it.effect("half-closes: the peer reads the rest then 0, and can still answer", () =>
    Effect.gen(function*() {
      const { client, server } = yield* Memory.pair()
      yield* client.write(bytes("bye"))
      yield* client.end()
      assert.strictEqual(client.state, "ended")
      const buf = ReadBuf.make({ capacity: 16 })
      assert.strictEqual(yield* server.read(buf), 3)
      assert.strictEqual(yield* server.read(buf), 0)
      assert.strictEqual(yield* server.read(buf), 0)
      assert.isTrue(server.peerEnded)
      const error = yield* Effect.flip(client.write(bytes("x")))
      assert.deepStrictEqual([error._tag, error.address, error.reason, error.message], [
        "TransportError",
        "memory:server",
        new TransportClosed({ operation: "write" }),
        "transport memory:server: write after the transport was closed locally"
      ])
      yield* server.write(bytes("ok"))
      assert.strictEqual(yield* readText(client, 2), "ok")
    }))

  it.effect("destroy: the peer drains then sees EOF, its writes fail BrokenPipe, local calls fail TransportClosed", () =>
    Effect.gen(function*() {
      const { client, server } = yield* Memory.pair()
      const parked = yield* Effect.forkChild(Effect.flip(server.read(ReadBuf.make())))
      yield* Effect.yieldNow
      yield* server.write(bytes("last"))
      yield* server.destroy()
      assert.deepStrictEqual((yield* Fiber.join(parked)).reason, new TransportClosed({ operation: "read" }))
      yield* server.awaitClosed
      assert.strictEqual(server.state, "destroyed")
      assert.strictEqual(yield* readText(client, 8), "last")
      const writeError = yield* Effect.flip(client.write(bytes("x")))
      assert.deepStrictEqual([writeError.address, writeError.reason._tag, writeError.message], [
        "memory:server",
        "WriteError",
        "transport memory:server: write failed: BrokenPipe (peer destroyed)"
      ])
      assert.strictEqual(writeError.reason._tag === "WriteError" && writeError.reason.kind, "BrokenPipe")
      assert.deepStrictEqual(
        (yield* Effect.flip(server.read(ReadBuf.make()))).reason,
        new TransportClosed({ operation: "read" })
      )
    }))

  it.effect("drop fails pending and later reads and writes on both sides with Reset", () =>
    Effect.gen(function*() {
      const pair = yield* Memory.pair({ capacity: 2 })
      const reading = yield* Effect.forkChild(Effect.flip(pair.client.read(ReadBuf.make())))
      const writing = yield* Effect.forkChild(Effect.flip(pair.client.write(bytes("abcd"))))
      yield* Effect.yieldNow
      yield* pair.drop()
      const readError = yield* Fiber.join(reading)
      const writeError = yield* Fiber.join(writing)
      assert.deepStrictEqual(
        [readError.reason._tag, readError.reason._tag === "ReadError" && readError.reason.kind, readError.message],
        ["ReadError", "Reset", "transport memory:server: read failed: Reset (memory pair dropped)"]
      )
      assert.deepStrictEqual([writeError.reason._tag, writeError.reason._tag === "WriteError" && writeError.reason.kind, writeError.message], [
        "WriteError",
        "Reset",
        "transport memory:server: write failed: Reset (memory pair dropped)"
      ])
      const serverRead = yield* Effect.flip(pair.server.read(ReadBuf.make()))
      assert.deepStrictEqual([serverRead.address, serverRead.reason._tag === "ReadError" && serverRead.reason.kind], [
        "memory:client",
        "Reset"
      ])
      assert.deepStrictEqual([pair.client.state, pair.server.state], ["destroyed", "destroyed"])
    }))

  it.effect("fails a read into a full buffer that cannot grow with BufferFull", () =>
    Effect.gen(function*() {
      const { client, server } = yield* Memory.pair()
      yield* client.write(bytes("abcdef"))
      const buf = ReadBuf.make({ capacity: 4 })
      assert.strictEqual(yield* server.read(buf), 4)
      const error = yield* Effect.flip(server.read(buf))
      assert.deepStrictEqual([error.reason, error.message], [
        new ReadError({ kind: "BufferFull" }),
        "transport memory:client: read failed: the read buffer is full at its maximum capacity"
      ])
      buf.advance(4)
      assert.strictEqual(yield* server.read(buf), 2)
    }))

  it.effect("fills only the spare room of a growable buffer and grows it only when it has none", () =>
    Effect.gen(function*() {
      const { client, server } = yield* Memory.pair()
      yield* client.write(new Uint8Array(100))
      const buf = ReadBuf.make({ capacity: 16, maxCapacity: 1024 })
      buf.filled(10)
      // 6 spare bytes: the read takes 6 and leaves the slab at 16 (a burst does not grow it)
      assert.strictEqual(yield* server.read(buf), 6)
      assert.strictEqual(buf.capacity, 16)
      // no spare room: now it grows to take the rest
      assert.strictEqual(yield* server.read(buf), 94)
      assert.isAtLeast(buf.capacity, 110)
    }))

  it.effect("closing the pair's scope destroys both ends", () =>
    Effect.gen(function*() {
      const pair = yield* Effect.scoped(Memory.pair())
      assert.deepStrictEqual([pair.client.state, pair.server.state], ["destroyed", "destroyed"])
      const exit = yield* Effect.exit(pair.client.write(bytes("x")))
      assert.isTrue(Exit.isFailure(exit))
    }))

  it.effect("inboundState reports buffered bytes, the peer's end, a drop and a local destroy without reading", () =>
    Effect.gen(function*() {
      const pair = yield* Memory.pair()
      const { client, server } = pair
      assert.strictEqual(client.inboundState, "Open")
      yield* server.write(bytes("hi"))
      yield* server.end()
      // bytes come before the end, as read delivers them first
      assert.strictEqual(client.inboundState, "Readable")
      assert.strictEqual(yield* readText(client, 2), "hi")
      assert.strictEqual(client.inboundState, "Ended")
      yield* client.destroy()
      assert.strictEqual(client.inboundState, "Closed")
      const other = yield* Memory.pair()
      yield* other.drop()
      assert.deepStrictEqual([other.client.inboundState, other.server.inboundState], ["Failed", "Failed"])
    }))
})
