import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { TestClock } from "effect/testing"
import * as Strategy from "../../src/Demo/Strategy.ts"
import * as MarketFeedTest from "../../src/Testing/MarketFeedTest.ts"
import * as RestClientTest from "../../src/Testing/RestClientTest.ts"
import { TestFeedPeer, TestHttpPeer } from "../../src/Testing/TestPeers.ts"
import type * as HttpServe from "../../src/Transport/HttpServe.ts"

// The demo strategy, unchanged, on the test layers: a scripted exchange and order endpoint in
// memory, time moved only by TestClock. No sockets, no real sleeps.

const settle = Effect.gen(function*() {
  for (let i = 0; i < 100; i++) yield* Effect.yieldNow
})

const quote = (seq: number) => JSON.stringify({ type: "quote", symbol: "BTC-USD", bid: 64250 + seq, ask: 64251 + seq, seq })

/** The order endpoint: orders answered at once unless `slowOrders`, snapshots with `seq`. */
const makeHandler = (state: { slowOrders: boolean; snapshotSeq: number }): HttpServe.Handler => (request) => {
  if (request.target.startsWith("/api/v3/snapshot")) {
    return Effect.succeed({ status: 200, body: JSON.stringify({ seq: state.snapshotSeq }) })
  }
  const answer = Effect.succeed({ status: 200, body: JSON.stringify({ orderId: request.body.length }) })
  return state.slowOrders ? Effect.delay(answer, "1 second") : answer
}

const setup = (state: { slowOrders: boolean; snapshotSeq: number }) =>
  Layer.mergeAll(
    RestClientTest.layer(makeHandler(state), { basePath: "/api/v3", connections: 2 }),
    MarketFeedTest.layer({ subscriptions: ["BTC-USD@quote"] })
  )

const startStrategy = (options: Partial<Strategy.Options> = {}) =>
  Effect.gen(function*() {
    const stats = Strategy.makeStats()
    const fiber = yield* Effect.forkChild(
      Strategy.run({ symbol: "BTC-USD", orderEvery: 2, orderTimeout: "500 millis", ...options }, stats)
    )
    yield* settle
    return { stats, fiber }
  })

describe("the demo strategy on the test layers, under TestClock", () => {
  it.effect("trades on quotes, survives a feed disconnect: reconnects, re-subscribes and resyncs from the snapshot", () => {
    const state = { slowOrders: false, snapshotSeq: 0 }
    return Effect.gen(function*() {
      const exchange = yield* TestFeedPeer
      const origin = yield* TestHttpPeer
      const { stats, fiber } = yield* startStrategy()
      assert.deepStrictEqual(exchange.received.map((r) => JSON.parse(r.text).params), [["BTC-USD@quote"]])
      for (let seq = 1; seq <= 4; seq++) yield* exchange.publish(quote(seq))
      yield* settle
      assert.deepStrictEqual([stats.quotes, stats.ordersOk, stats.sequenceBreaks], [4, 2, 0])
      assert.deepStrictEqual(origin.requests.map((r) => `${r.method} ${r.target}`), ["POST /api/v3/order", "POST /api/v3/order"])
      // the exchange drops us; while we are away it moves on to seq 10
      yield* exchange.dropAll
      state.snapshotSeq = 10
      yield* settle
      assert.strictEqual(stats.gaps, 1)
      yield* TestClock.adjust("100 millis")
      yield* settle
      assert.strictEqual(exchange.sessions, 2)
      assert.deepStrictEqual(exchange.received.filter((r) => r.session === 2).map((r) => JSON.parse(r.text).params), [[
        "BTC-USD@quote"
      ]])
      assert.deepStrictEqual([stats.reconnects, stats.resyncs, stats.lastSeq], [1, 1, 10])
      assert.strictEqual(origin.requests.at(-1)?.target, "/api/v3/snapshot?symbol=BTC-USD")
      // quotes continue from the snapshot without a sequence break
      yield* exchange.publish(quote(11))
      yield* exchange.publish(quote(12))
      yield* settle
      assert.deepStrictEqual([stats.quotes, stats.sequenceBreaks, stats.ordersOk], [6, 0, 3])
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(setup(state)))
  })

  it.effect("counts an order that misses its deadline as a timeout, not as a failure", () => {
    const state = { slowOrders: true, snapshotSeq: 0 }
    return Effect.gen(function*() {
      const exchange = yield* TestFeedPeer
      const { stats, fiber } = yield* startStrategy()
      yield* exchange.publish(quote(1))
      yield* exchange.publish(quote(2))
      yield* settle
      assert.strictEqual(stats.openOrders, 1)
      yield* TestClock.adjust("499 millis")
      assert.deepStrictEqual([stats.orderTimeouts, stats.openOrders], [0, 1])
      yield* TestClock.adjust("1 millis")
      yield* settle
      assert.deepStrictEqual([stats.orderTimeouts, stats.ordersOk, stats.ordersFailed, stats.openOrders], [1, 0, 0, 0])
      // the timed-out order's connection was interrupted mid-request, so it was replaced
      state.slowOrders = false
      yield* exchange.publish(quote(3))
      yield* exchange.publish(quote(4))
      yield* settle
      assert.strictEqual(stats.ordersOk, 1)
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(setup(state)))
  })

  it.effect("rides out an order-endpoint outage: orders fail fast with the typed outcome, then the pool heals by itself", () => {
    const state = { slowOrders: false, snapshotSeq: 0 }
    return Effect.gen(function*() {
      const exchange = yield* TestFeedPeer
      const origin = yield* TestHttpPeer
      const { stats, fiber } = yield* startStrategy({ orderTimeout: "30 seconds" })
      yield* origin.setDown(true)
      yield* exchange.publish(quote(1))
      yield* exchange.publish(quote(2))
      yield* settle
      // the acquire schedule (1 ms doubling to 1 s, 20 retries) runs out after ~11 s
      yield* TestClock.adjust("12 seconds")
      yield* settle
      assert.deepStrictEqual([stats.ordersFailed, stats.ordersOk], [1, 0])
      // the origin returns; the reconnect fibers (100 ms doubling to 5 s) bring the slots back
      yield* origin.setDown(false)
      yield* TestClock.adjust("5 seconds")
      yield* settle
      yield* exchange.publish(quote(3))
      yield* exchange.publish(quote(4))
      yield* settle
      assert.strictEqual(stats.ordersOk, 1)
      // the quotes kept flowing throughout: the outage never blocked the feed
      assert.strictEqual(stats.quotes, 4)
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(setup(state)))
  })
})
