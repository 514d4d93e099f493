import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FrameWriter from "../../src/Codec/FrameWriter.ts"
import * as Memory from "../../src/Transport/Memory.ts"
import * as WebSocket from "../../src/Transport/WebSocket.ts"

/** `n` one-byte binary frames as a server writes them. */
const frames = (n: number): Buffer => {
  const writer = FrameWriter.make({ role: "server" })
  const out = Buffer.alloc(n * 3)
  let at = 0
  for (let i = 0; i < n; i++) at += writer.encodeInto(out, at, FrameWriter.Kind.Binary, new Uint8Array([i])) as number
  return out.subarray(0, at)
}

describe("WebSocket batches", () => {
  it.effect("run starts its maxBatch count over after a read that waited for the peer (it gave way there)", () =>
    Effect.gen(function*() {
      const pair = yield* Memory.pair()
      const [client] = yield* Effect.all([
        WebSocket.connectOver(pair.client, "ws://memory.test/", { maxBatch: 8 }),
        WebSocket.accept(pair.server)
      ], { concurrency: 2 })
      let received = 0
      const running = yield* Effect.forkChild(WebSocket.run(client, () => {
        received++
      }))
      yield* pair.server.write(frames(5))
      while (received < 5) yield* Effect.yieldNow
      // the loop now waits on the transport: a fiber that notes `received` whenever it gets to
      // run sees where the loop gives way; five more frames arrive at once
      const seen: Array<number> = []
      const spinner = yield* Effect.forkChild(Effect.gen(function*() {
        while (received < 10) {
          seen.push(received)
          yield* Effect.yieldNow
        }
      }))
      yield* pair.server.write(frames(5))
      yield* Fiber.join(spinner)
      // counting on from the first five, the loop would have yielded after the 8th
      assert.deepStrictEqual(seen.filter((n) => n > 5), [])
      assert.strictEqual(received, 10)
      yield* Fiber.interrupt(running)
    }))
})
