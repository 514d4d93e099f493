import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { TestClock } from "effect/testing"
import * as MarketFeed from "../../src/Layers/MarketFeed.ts"
import * as MarketFeedTest from "../../src/Testing/MarketFeedTest.ts"
import * as TestPeers from "../../src/Testing/TestPeers.ts"
import { TestFeedPeer } from "../../src/Testing/TestPeers.ts"
import * as Backoff from "../../src/Transport/Backoff.ts"
import * as Memory from "../../src/Transport/Memory.ts"
import * as WebSocket from "../../src/Transport/WebSocket.ts"

const settle = Effect.gen(function*() {
  for (let i = 0; i < 100; i++) yield* Effect.yieldNow
})

/** The peer drops every connection, then the TestClock moves 100 ms so that the feed reconnects. */
const dropAndReconnect = (exchange: { readonly dropAll: Effect.Effect<void> }) =>
  Effect.gen(function*() {
    yield* settle
    yield* exchange.dropAll
    yield* settle
    yield* TestClock.adjust("100 millis")
    yield* settle
  })

/** Reads the feed's events on a fiber of its own, each batch when it is handed out (as a lent batch must be), into `seen`. */
const readEvents = (feed: MarketFeed.MarketFeedService) =>
  Effect.gen(function*() {
    const seen: Array<string> = []
    const reader = yield* Effect.forkChild(Stream.runForEach(feed.events, (event) =>
      Effect.sync(() => {
        if (event._tag === "Messages") for (const message of event) seen.push(message._tag === "Text" ? message.text : message._tag)
        else seen.push(event._tag === "Connected" ? `connected ${event.session}` : event._tag)
      })))
    return { reader, seen }
  })

describe("MarketFeed on the test layer", () => {
  it.effect("delivers Connected, messages and Gap events in order, and re-sends subscriptions after a drop", () =>
    Effect.gen(function*() {
      const feed = yield* MarketFeed.MarketFeed
      const exchange = yield* TestFeedPeer
      const { reader, seen } = yield* readEvents(feed)
      yield* settle
      yield* exchange.publish("q1")
      yield* dropAndReconnect(exchange)
      yield* exchange.publish("q2")
      yield* settle
      assert.deepStrictEqual(seen, ["connected 1", "q1", "Gap", "connected 2", "q2"])
      assert.deepStrictEqual(exchange.received.map((r) => [r.session, JSON.parse(r.text).params]), [
        [1, ["t1"]],
        [2, ["t1"]]
      ])
      yield* feed.stop
      yield* Fiber.join(reader)
    }).pipe(Effect.provide(MarketFeedTest.layer({ subscriptions: ["t1"] }))))

  it.effect("lent: the same events, each batch read when it comes, across a drop and a reconnect", () =>
    Effect.gen(function*() {
      const feed = yield* MarketFeed.MarketFeed
      const exchange = yield* TestFeedPeer
      const { reader, seen } = yield* readEvents(feed)
      yield* settle
      for (let i = 0; i < 50; i++) yield* exchange.publish(`a${i}`)
      yield* dropAndReconnect(exchange)
      for (let i = 0; i < 50; i++) yield* exchange.publish(`b${i}`)
      yield* settle
      assert.deepStrictEqual(seen, [
        "connected 1",
        ...Array.from({ length: 50 }, (_, i) => `a${i}`),
        "Gap",
        "connected 2",
        ...Array.from({ length: 50 }, (_, i) => `b${i}`)
      ])
      yield* feed.stop
      yield* Fiber.join(reader)
    }).pipe(Effect.provide(MarketFeedTest.layer({ subscriptions: ["t1"], lent: true }))))

  it.effect("stop does not wait for a consumer that stopped reading; queued events stay readable, then the stream ends", () =>
    Effect.gen(function*() {
      const feed = yield* MarketFeed.MarketFeed
      const exchange = yield* TestFeedPeer
      yield* settle
      // nobody reads: two events fill the queue (Connected, q1), q2 waits for room
      yield* exchange.publish("q1")
      yield* exchange.publish("q2")
      yield* settle
      yield* feed.stop
      assert.deepStrictEqual((yield* SubscriptionRef.get(feed.state))._tag, "Stopped")
      const rest = yield* Stream.runCollect(feed.events)
      assert.deepStrictEqual(rest.map((e) => e._tag === "Messages" ? [...e] : e._tag), ["Connected", [{ _tag: "Text", text: "q1" }]])
    }).pipe(Effect.provide(MarketFeedTest.layer({ bufferSize: 2 }))))

  it.effect("a renewal while the buffer is full and the consumer is behind: both waiting producers are let go, delivery moves on", () =>
    Effect.gen(function*() {
      // the feed in a scope of our own: with the bug its close never returns, so it is awaited with a bound
      const scope = yield* Scope.make()
      const exchange = yield* Scope.provide(TestPeers.makeFeedPeer(), scope)
      const feed = yield* Scope.provide(
        MarketFeed.make({ url: "wss://exchange.test/ws", dial: exchange.dial, bufferSize: 2, maxSessionLifetime: "1 hour" }),
        scope
      )
      yield* settle
      // nobody reads yet: Connected and q1 fill the queue, the old connection's push loop waits for room
      yield* exchange.publish("q1")
      yield* settle
      // the renewal connects while the old connection waits; its Connected waits for room too
      yield* TestClock.adjust("1 hour")
      yield* settle
      const { seen } = yield* readEvents(feed)
      yield* settle
      yield* exchange.publish("q2")
      yield* settle
      assert.strictEqual(exchange.open, 1) // the old connection was closed, delivery moved to the new one
      assert.deepStrictEqual(seen, ["connected 1", "q1", "connected 2", "q2"])
      const closed = yield* Effect.forkDetach(Scope.close(scope, Exit.void))
      yield* settle
      assert.isDefined(closed.pollUnsafe(), "closing the feed's scope returns")
    }))

  it.effect("the events stream ends when a finite schedule gives up", () =>
    Effect.gen(function*() {
      const feed = yield* MarketFeed.MarketFeed
      const exchange = yield* TestFeedPeer
      const events = yield* Effect.forkChild(Stream.runCollect(feed.events))
      yield* settle
      yield* exchange.refuse(10)
      yield* exchange.dropAll
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* settle
      const all = yield* Fiber.join(events)
      assert.deepStrictEqual(all.map((e) => e._tag), ["Connected", "Gap"])
      assert.deepStrictEqual(yield* SubscriptionRef.get(feed.state), { _tag: "Stopped", reason: "GaveUp" })
    }).pipe(Effect.provide(MarketFeedTest.layer({ schedule: Backoff.exponential({ base: "10 millis", retries: 2 }) }))))

  it.effect("passes minSessionLifetime to the supervisor: with 0, a server that closes cleanly at once restarts the backoff each time", () =>
    Effect.gen(function*() {
      // an exchange that accepts and closes every connection with 1000 at once
      const dial = Effect.gen(function*() {
        const pair = yield* Memory.pair()
        yield* Effect.forkScoped(Effect.flatMap(WebSocket.accept(pair.server), (ws) => ws.close(1000)))
        return pair.client
      })
      const delays = (minSessionLifetime: Duration.Input | undefined) =>
        Effect.scoped(Effect.gen(function*() {
          const feed = yield* MarketFeed.make({ url: "wss://exchange.test/ws", dial, minSessionLifetime })
          const out: Array<number> = []
          for (let i = 0; i < 3; i++) {
            yield* settle
            const state = yield* SubscriptionRef.get(feed.state)
            const delay = state._tag === "Reconnecting" ? Duration.toMillis(state.delay) : -1
            out.push(delay)
            yield* TestClock.adjust(Duration.millis(Math.max(delay, 0)))
          }
          return out
        }))
      assert.deepStrictEqual(yield* delays(0), [100, 100, 100])
      // the default (5 s) counts each as a failed attempt
      assert.deepStrictEqual(yield* delays(undefined), [100, 200, 400])
    }))
})
