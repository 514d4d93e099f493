import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { TestClock } from "effect/testing"
import type { AddressInfo } from "node:net"
import { WebSocketServer } from "ws"
import * as Backoff from "../../src/Transport/Backoff.ts"
import * as Feed from "../../src/Reconnect/Feed.ts"
import * as Supervisor from "../../src/Reconnect/Supervisor.ts"
import * as Memory from "../../src/Transport/Memory.ts"
import { ConnectError } from "../../src/Transport/Transport.ts"
import * as WebSocket from "../../src/Transport/WebSocket.ts"

const settle = Effect.gen(function*() {
  for (let i = 0; i < 50; i++) yield* Effect.yieldNow
})

/**
 * An in-memory exchange: every dial makes a memory pair whose server end runs our `accept`; the
 * test gets each server-side socket from `sessions` to read subscriptions and push quotes.
 * `closeAtOnce(code)` makes every later connection close with `code` right after the handshake
 * (the server then waits for the client's echo). `dials` logs every dial with the clock time.
 */
const makeExchange = Effect.gen(function*() {
  const sessions = yield* Queue.unbounded<{ readonly ws: WebSocket.WebSocket; readonly pair: Memory.Pair }>()
  let refusals = 0
  let closeCode: number | undefined
  const dials: Array<number> = []
  const dial = Effect.gen(function*() {
    dials.push(yield* Clock.currentTimeMillis)
    if (refusals > 0) {
      refusals--
      const address = "exchange.test:443"
      return yield* Effect.fail(
        new WebSocket.WebSocketError({ address, reason: new ConnectError({ kind: "Refused" }) })
      )
    }
    const pair = yield* Memory.pair()
    const code = closeCode
    yield* Effect.forkScoped(
      Effect.flatMap(WebSocket.accept(pair.server), (ws) =>
        code === undefined ? Queue.offer(sessions, { ws, pair }) : ws.close(code, code === 1000 ? "" : "overloaded"))
    )
    return pair.client
  })
  return {
    sessions,
    dial,
    dials,
    refuse: (n: number) => void (refusals = n),
    closeAtOnce: (code: number) => void (closeCode = code)
  }
})

const subscribe = Feed.jsonRpcSubscribe("SUBSCRIBE")

describe("Feed over in-memory connections under TestClock", () => {
  it.effect("subscribes, delivers quotes, and after a drop reconnects in 100 ms, re-subscribes and reports the gap", () =>
    Effect.gen(function*() {
      const exchange = yield* makeExchange
      const received: Array<string> = []
      const gaps: Array<Supervisor.Gap> = []
      const feed = yield* Feed.make({
        url: "wss://exchange.test/ws",
        dial: exchange.dial,
        subscriptions: ["btcusdt@trade"],
        subscribe,
        onMessage: (message) =>
          Effect.sync(() => void received.push(message._tag === "Text" ? message.text() : "binary")),
        onGap: (gap) => Effect.sync(() => void gaps.push(gap))
      })
      const first = yield* Queue.take(exchange.sessions)
      const sub = yield* first.ws.recv
      assert.deepStrictEqual(sub._tag === "Text" && JSON.parse(sub.text()), {
        method: "SUBSCRIBE",
        params: ["btcusdt@trade"],
        id: 1
      })
      yield* first.ws.sendText("q1")
      yield* first.ws.sendPing("are you there")
      yield* first.ws.sendBinary(new Uint8Array([1, 2, 3]))
      yield* settle
      assert.deepStrictEqual(received, ["q1", "binary"])
      yield* feed.subscribe("ethusdt@trade")
      const added = yield* first.ws.recv
      // the pong the feed's stream answered comes first
      const addedText = added._tag === "Pong" ? (yield* first.ws.recv) : added
      assert.deepStrictEqual(addedText._tag === "Text" && JSON.parse(addedText.text()).params, ["ethusdt@trade"])
      // the exchange drops the connection
      yield* first.pair.drop()
      yield* settle
      assert.strictEqual(gaps.length, 1)
      assert.strictEqual((yield* SubscriptionRef.get(feed.state))._tag, "Reconnecting")
      yield* TestClock.adjust("100 millis")
      const second = yield* Queue.take(exchange.sessions)
      const resub = yield* second.ws.recv
      assert.deepStrictEqual(resub._tag === "Text" && JSON.parse(resub.text()).params, ["btcusdt@trade", "ethusdt@trade"])
      yield* second.ws.sendText("q2")
      yield* settle
      assert.deepStrictEqual(received, ["q1", "binary", "q2"])
      assert.deepStrictEqual(yield* SubscriptionRef.get(feed.state), { _tag: "Connected", since: 100, sessions: 2 })
    }))

  it.effect("a clean close by the exchange restarts the backoff; refused dials back off 100, 200 ms", () =>
    Effect.gen(function*() {
      const exchange = yield* makeExchange
      const feed = yield* Feed.make({
        url: "ws://exchange.test/ws",
        dial: exchange.dial,
        onMessage: () => Effect.void
      })
      const first = yield* Queue.take(exchange.sessions)
      exchange.refuse(2)
      // a healthy session: it outlived the minimum lifetime (5 s) before the server closed it
      yield* TestClock.adjust("5 seconds")
      yield* Effect.forkChild(first.ws.close(1001, "going away"))
      yield* settle
      const state = yield* SubscriptionRef.get(feed.state)
      assert.deepStrictEqual(state._tag === "Reconnecting" && [state.attempt, state.error], [1, undefined])
      yield* TestClock.adjust("100 millis")
      yield* TestClock.adjust("200 millis")
      yield* TestClock.adjust("399 millis")
      assert.strictEqual(yield* Queue.size(exchange.sessions), 0)
      yield* TestClock.adjust("1 millis")
      yield* Queue.take(exchange.sessions)
      assert.strictEqual((yield* SubscriptionRef.get(feed.state))._tag, "Connected")
    }))

  for (const code of [1013, 1012]) {
    it.effect(`backs off a server that closes every connection at once with ${code}: 7 dials in 10 s`, () =>
      Effect.gen(function*() {
        const exchange = yield* makeExchange
        exchange.closeAtOnce(code)
        const gaps: Array<Supervisor.Gap> = []
        const feed = yield* Feed.make({
          url: "wss://exchange.test/ws",
          dial: exchange.dial,
          subscriptions: ["btcusdt@trade"],
          subscribe,
          onMessage: () => Effect.void,
          onGap: (gap) => Effect.sync(() => void gaps.push(gap)),
          // 1012/1013 back off even when no minimum lifetime would catch them
          minSessionLifetime: 0
        })
        // let the first handshakes finish before time moves (its close timeout is pending)
        yield* settle
        yield* TestClock.adjust("10 seconds")
        // 100, 200, 400, 800, 1600, 3200 ms apart: the next would be at 11 300
        assert.deepStrictEqual(exchange.dials, [0, 100, 300, 700, 1500, 3100, 6300])
        assert.strictEqual(gaps.length, 7)
        const expected = new Feed.TryAgainLater({ address: "memory:server", code, closeReason: "overloaded" })
        assert.deepStrictEqual(gaps[0]!.error, expected)
        assert.strictEqual(
          expected.message,
          `WebSocket memory:server: the server closed the feed with ${code} (${
            code === 1013 ? "Try Again Later" : "Service Restart"
          }, "overloaded")`
        )
        const state = yield* SubscriptionRef.get(feed.state)
        assert.deepStrictEqual(
          state._tag === "Reconnecting" && [state.attempt, Duration.toMillis(state.delay), state.error],
          [7, 5000, expected]
        )
      }))
  }

  it.effect("backs off a server that closes cleanly (1000) right after the handshake, before onConnect completes", () =>
    Effect.gen(function*() {
      const exchange = yield* makeExchange
      exchange.closeAtOnce(1000)
      const feed = yield* Feed.make({
        url: "wss://exchange.test/ws",
        dial: exchange.dial,
        subscriptions: ["btcusdt@trade"],
        subscribe,
        // authentication takes 50 ms; the server's close is already on the wire by then
        onConnect: (ws) => Effect.andThen(Effect.sleep("50 millis"), Effect.ignore(ws.sendText("auth"))),
        onMessage: () => Effect.void
      })
      const delays: Array<number> = []
      const attempts: Array<number> = []
      for (let i = 0; i < 5; i++) {
        yield* TestClock.adjust("50 millis")
        yield* settle
        const state = yield* SubscriptionRef.get(feed.state)
        assert.strictEqual(state._tag, "Reconnecting")
        if (state._tag !== "Reconnecting") return
        assert.instanceOf(state.error, Supervisor.SessionTooShort)
        delays.push(Duration.toMillis(state.delay))
        attempts.push(state.attempt)
        yield* TestClock.adjust(state.delay)
      }
      // the backoff grows instead of restarting at 100 ms after every clean close
      assert.deepStrictEqual(delays, [100, 200, 400, 800, 1600])
      assert.deepStrictEqual(attempts, [1, 2, 3, 4, 5])
      // each dial: 50 ms of onConnect, then the delay
      assert.deepStrictEqual(exchange.dials, [0, 150, 400, 850, 1700, 3350])
    }))
})

/** A `ws` server on 127.0.0.1 for the test's scope (terminates its clients on release). */
const wsServer = Effect.acquireRelease(
  Effect.callback<WebSocketServer>((resume) => {
    const wss: WebSocketServer = new WebSocketServer({ host: "127.0.0.1", port: 0 }, (): void => resume(Effect.succeed(wss)))
  }),
  (wss) =>
    Effect.callback<void>((resume) => {
      for (const client of wss.clients) client.terminate()
      wss.close(() => resume(Effect.void))
    })
)

describe("Feed against a ws server on 127.0.0.1", () => {
  it.live("backs off a ws server that closes every connection at once with 1013 (the schedule's delays, not a 5 ms loop)", () =>
    Effect.gen(function*() {
      const server = yield* wsServer
      const echoed: Array<number> = []
      server.on("connection", (socket) => {
        socket.on("close", (code) => void echoed.push(code))
        socket.close(1013, "overloaded")
      })
      const port = (server.address() as AddressInfo).port
      const feed = yield* Feed.make({
        url: `ws://127.0.0.1:${port}/stream`,
        subscriptions: ["btcusdt@bookTicker"],
        subscribe,
        onMessage: () => Effect.void,
        schedule: Backoff.exponential({ base: "5 millis", cap: "1 second" }),
        // the close code alone must back it off, without the minimum lifetime's help
        minSessionLifetime: 0
      })
      // the first five waits; each state is published before its sleep, so none is missed
      const waits = yield* feed.changes.pipe(
        Stream.filter((s) => s._tag === "Reconnecting"),
        Stream.take(5),
        Stream.runCollect
      )
      yield* feed.stop
      assert.deepStrictEqual(
        waits.map((s) => s._tag === "Reconnecting" && [s.attempt, Duration.toMillis(s.delay)]),
        [[1, 5], [2, 10], [3, 20], [4, 40], [5, 80]]
      )
      for (const s of waits) {
        const error = s._tag === "Reconnecting" ? s.error : undefined
        assert.instanceOf(error, Feed.TryAgainLater)
        assert.deepStrictEqual([error.address, error.code, error.closeReason], [`127.0.0.1:${port}`, 1013, "overloaded"])
      }
      // the feed echoed the server's close each time (the server saw a clean handshake); the
      // server's close event for the last one may still be on its way
      while (echoed.length < 5) yield* Effect.sleep("5 millis")
      assert.isTrue(echoed.every((code) => code === 1013))
    }).pipe(Effect.scoped), 20_000)


  it.live("survives a server that cuts every connection after a few messages, re-subscribing each time", () =>
    Effect.gen(function*() {
      const server = yield* wsServer
      let connections = 0
      const subscriptions: Array<string> = []
      server.on("connection", (socket) => {
        connections++
        let sent = 0
        socket.on("message", (data) => {
          subscriptions.push(String(data))
          const timer = setInterval(() => {
            socket.send(`tick ${connections}.${++sent}`)
            if (sent === 5) {
              clearInterval(timer)
              socket.terminate()
            }
          }, 1)
        })
      })
      const port = (server.address() as AddressInfo).port
      const received: Array<string> = []
      let gaps = 0
      const feed = yield* Feed.make({
        url: `ws://127.0.0.1:${port}/stream`,
        subscriptions: ["btcusdt@bookTicker"],
        subscribe,
        onMessage: (message) => Effect.sync(() => void received.push(message._tag === "Text" ? message.text() : "")),
        onGap: () => Effect.sync(() => void gaps++),
        schedule: Backoff.exponential({ base: "2 millis", cap: "10 millis" })
      })
      while (connections < 4 || received.length < 20) yield* Effect.sleep("5 millis")
      yield* feed.stop
      assert.isAtLeast(gaps, 3)
      assert.isTrue(subscriptions.slice(0, 4).every((s) => JSON.parse(s).params[0] === "btcusdt@bookTicker"))
      // every session delivered its ticks in order
      for (let c = 1; c <= 3; c++) {
        const ticks = received.filter((r) => r.startsWith(`tick ${c}.`))
        assert.deepStrictEqual(ticks, [1, 2, 3, 4, 5].map((n) => `tick ${c}.${n}`))
      }
    }).pipe(Effect.scoped), 20_000)
})
