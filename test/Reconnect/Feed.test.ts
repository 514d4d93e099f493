import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
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
 */
const makeExchange = Effect.gen(function*() {
  const sessions = yield* Queue.unbounded<{ readonly ws: WebSocket.WebSocket; readonly pair: Memory.Pair }>()
  let refusals = 0
  const dial = Effect.gen(function*() {
    if (refusals > 0) {
      refusals--
      const address = "exchange.test:443"
      return yield* Effect.fail(
        new WebSocket.WebSocketError({
          reason: new WebSocket.TransportError({ address, error: new ConnectError({ address, kind: "Refused" }) })
        })
      )
    }
    const pair = yield* Memory.pair()
    yield* Effect.forkScoped(
      Effect.flatMap(WebSocket.accept(pair.server), (ws) => Queue.offer(sessions, { ws, pair }))
    )
    return pair.client
  })
  return { sessions, dial, refuse: (n: number) => void (refusals = n) }
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
})

describe("Feed against a ws server on 127.0.0.1", () => {
  it.live("survives a server that cuts every connection after a few messages, re-subscribing each time", () =>
    Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(
        Effect.callback<WebSocketServer>((resume) => {
          const wss: WebSocketServer = new WebSocketServer({ host: "127.0.0.1", port: 0 }, (): void => resume(Effect.succeed(wss)))
        }),
        (wss) =>
          Effect.callback<void>((resume) => {
            for (const client of wss.clients) client.terminate()
            wss.close(() => resume(Effect.void))
          })
      )
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
