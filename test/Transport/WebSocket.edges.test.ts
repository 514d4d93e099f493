import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { randomBytes } from "node:crypto"
import * as zlib from "node:zlib"
import * as WebSocket from "../../src/Transport/WebSocket.ts"
import { connected } from "../support/webSocketPair.ts"


describe("WebSocket: compressed sends interrupted in the queue, BFINAL blocks, closes that cross", () => {
  // text fails loudly when the peer's history is off (invalid UTF-8, 1007); binary arrives corrupted, silently
  for (const kind of ["text", "binary"] as const) {
    it.effect(`permessage-deflate with context takeover: a compressed ${kind} send interrupted in the group queue does not corrupt the next message`, () =>
      Effect.gen(function*() {
        const { client, server } = yield* connected({
          memory: { capacity: 1024 },
          client: { compression: true },
          server: { compression: true }
        })
        assert.isDefined(client.deflate)
        const send = (message: string) => kind === "text" ? client.sendText(message) : client.sendBinary(Buffer.from(message))
        // random bytes do not shrink: the write waits for the server to read (the pipe holds 1 KiB)
        const big = yield* Effect.forkChild(client.sendBinary(randomBytes(10_000)))
        yield* Effect.yieldNow
        const text = "the quick brown fox jumps over the lazy dog; ".repeat(8)
        // deflated into the compressor's window, then queued behind the big write, then interrupted
        const dropped = yield* Effect.forkChild(send(text))
        yield* Effect.yieldNow
        yield* Fiber.interrupt(dropped)
        yield* Fiber.join(big).pipe(Effect.forkChild)
        const first = yield* server.recv
        assert.strictEqual(`${first._tag}:${first.length}`, "Binary:10000")
        // nearly the same message again: the compressor refers back to the interrupted one. That
        // one is in the compressor's window, so it must reach the server (before this one), or the
        // server inflates this one against a history it never saw
        const again = `${text}again`
        yield* send(again)
        // one at a time: where the interrupted message went missing, the first read is already
        // wrong (or failed), and a second would wait for a message that never comes
        const next = Effect.map(Effect.exit(server.recv), (exit) =>
          Exit.map(exit, (m) => m._tag === "Text" ? m.text() : m._tag === "Binary" ? m.payload.toString("latin1") : m._tag))
        assert.deepStrictEqual(yield* next, Exit.succeed(text))
        assert.deepStrictEqual(yield* next, Exit.succeed(again))
      }))
  }

  it.effect("permessage-deflate: messages whose deflate stream ends with a BFINAL block (RFC 7692 §7.2.3.4) all arrive, none as an empty one", () =>
    Effect.gen(function*() {
      const { client, pair } = yield* connected({ client: { compression: true }, server: { compression: true } })
      // RFC 7692 §7.2.3.4: "Hello" in a block with BFINAL set, then the 0x00 the RFC pads with
      const rfc = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00]
      // a whole raw deflate stream (Z_FINISH: ends with a final block), as zlib.deflateRawSync makes
      const finished = [...zlib.deflateRawSync(Buffer.from("World"))]
      // and a sync-flushed message after them, as every other peer sends
      const flushed = [...zlib.deflateRawSync(Buffer.from("again"), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).subarray(0, -4)]
      const frame = (payload: Array<number>) => [0xc1, payload.length, ...payload]
      yield* pair.server.write(Buffer.from([...frame(rfc), ...frame(rfc), ...frame(finished), ...frame(finished), ...frame(flushed)]))
      const got: Array<Exit.Exit<string, WebSocket.WebSocketError>> = []
      for (let i = 0; i < 5; i++) got.push(Exit.map(yield* Effect.exit(client.recv), (m) => (m._tag === "Text" ? m.text() : m._tag)))
      assert.deepStrictEqual(got, ["Hello", "Hello", "World", "World", "again"].map((text) => Exit.succeed(text)))
    }))

  it.effect("closes that cross while our close frame waits for the transport: the stream ends closed, not closing", () =>
    Effect.gen(function*() {
      const { client, server } = yield* connected({ memory: { capacity: 1024 } })
      const parked = yield* Effect.forkChild(client.recv)
      yield* Effect.yieldNow
      // the pipe is full: our close frame waits behind this write
      const big = yield* Effect.forkChild(client.sendBinary(Buffer.alloc(10_000)))
      yield* Effect.yieldNow
      const closing = yield* Effect.forkChild(client.close())
      yield* Effect.yieldNow
      assert.strictEqual(client.state, "open")
      // the server closes on its own; its close reaches our parked recv before our frame is written
      yield* server.close()
      yield* Fiber.join(big)
      const peer = yield* Fiber.join(parked)
      assert.strictEqual(peer._tag, "Close")
      yield* Fiber.join(closing)
      assert.strictEqual(server.state, "closed")
      assert.strictEqual(client.state, "closed")
    }))
})
