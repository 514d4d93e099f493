import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { TestClock } from "effect/testing"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Writable } from "node:stream"
import * as Main from "../../src/Demo/Main.ts"
import * as Strategy from "../../src/Demo/Strategy.ts"
import * as MarketFeed from "../../src/Layers/MarketFeed.ts"
import * as RestClient from "../../src/Layers/RestClient.ts"
import * as SessionLog from "../../src/Layers/SessionLog.ts"

// Issue #15's acceptance test: record the demo exchange live over real sockets with its
// connection resets, then replay the file under TestClock into the same strategy — the same
// quotes, gaps, reconnects, resyncs and orders, decided at the recorded times.

const sink = () => new Writable({ write: (_chunk, _encoding, callback) => callback() })

/** What the strategy decided, without the round-trip times (the replay's are the recorded latencies, to the microsecond). */
const decisions = (stats: Strategy.Stats) => {
  const { roundTrips, ...rest } = stats
  return { ...rest, roundTrips: roundTrips.length }
}

describe("record and replay the demo", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nexus-replay-"))
  const file = path.join(dir, "demo.nxs")

  it.live("records the live demo with resets, and the replay under TestClock makes the same decisions", () =>
    Effect.gen(function*() {
      const live = yield* Main.run({ durationSeconds: 3, dropEverySeconds: 1, output: sink(), record: file })
      // the run had something to replay: quotes, resets, orders
      assert.isAbove(live.quotes, 100)
      assert.isAtLeast(live.gaps, 2)
      assert.isAbove(live.ordersOk, 5)

      const replayed = yield* Effect.gen(function*() {
        const stats = Strategy.makeStats()
        const fiber = yield* Effect.forkChild(Strategy.run({ symbol: "BTC-USD", orderEvery: 20 }, stats))
        // move the clock through the session in steps of 1 ms: the replay's sleeps wake in order
        for (let i = 0; i < 10_000 && fiber.pollUnsafe() === undefined; i++) yield* TestClock.adjust("1 millis")
        assert.isDefined(fiber.pollUnsafe(), "the replay ended with the recorded session")
        yield* Fiber.join(fiber)
        // paced by the recording: the replay took the recorded ~3 s of TestClock time, not none
        const elapsed = yield* Clock.currentTimeMillis
        const end = (yield* SessionLog.readAll(file)).at(-1)!
        assert.strictEqual(end._tag, "End")
        assert.approximately(elapsed, end.time / 1000, 2)
        assert.isAbove(elapsed, 2900)
        return stats
      }).pipe(
        Effect.provide(Layer.mergeAll(MarketFeed.layerReplay(file), RestClient.layerReplay(file, { basePath: "/api/v3" }))),
        Effect.provide(TestClock.layer()),
      )
      assert.deepStrictEqual(decisions(replayed), decisions(live))
      // and the round trips are the recorded latencies
      assert.strictEqual(replayed.roundTrips.length, live.roundTrips.length)
    }), 60_000)

  it.effect("reads the recording back: a Meta record first, an End record last, REST exchanges beside the feed", () =>
    Effect.gen(function*() {
      const entries = yield* SessionLog.readAll(file)
      assert.strictEqual(entries[0]!._tag, "Meta")
      assert.strictEqual(entries.at(-1)!._tag, "End")
      const tags = new Set(entries.map((e) => e._tag))
      for (const tag of ["Subscriptions", "Connected", "Message", "Gap", "Reconnecting", "Request", "Response"]) assert.isTrue(tags.has(tag as never), tag)
    }))
})
