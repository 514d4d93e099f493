import { assert, beforeEach, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { TestClock } from "effect/testing"
import * as Backoff from "../../src/Transport/Backoff.ts"
import * as Supervisor from "../../src/Reconnect/Supervisor.ts"

/** What the scripted peer can put on a connection: a message, a clean close, or a failure. */
type Wire = string | typeof Supervisor.Ended | { readonly fail: string }

/** One scripted connection: what it will deliver, what was sent on it, whether it was closed. */
interface Conn {
  readonly id: number
  readonly inbox: Queue.Queue<Wire>
  readonly sent: Array<string>
  closed: boolean
}

/**
 * A scripted feed server: `refuse(n)` makes the next n connects fail; every accepted connect
 * gets a fresh connection whose inbox the test fills (`greet(...)` pre-fills every new one). The
 * log records connects and refusals with the clock time, so reconnect timings can be asserted
 * exactly.
 */
const makeServer = Effect.gen(function*() {
  const conns: Array<Conn> = []
  const log: Array<string> = []
  let refusals = 0
  let greeting: Array<Wire> = []
  const connect = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    if (refusals > 0) {
      refusals--
      log.push(`refused@${now}`)
      return yield* Effect.fail("connection refused")
    }
    const conn: Conn = { id: conns.length + 1, inbox: yield* Queue.unbounded<Wire>(), sent: [], closed: false }
    for (const wire of greeting) yield* Queue.offer(conn.inbox, wire)
    conns.push(conn)
    log.push(`conn${conn.id}@${now}`)
    yield* Effect.addFinalizer(() => Effect.sync(() => (conn.closed = true)))
    return conn
  })
  const receive = (conn: Conn) =>
    Effect.flatMap(Queue.take(conn.inbox), (wire) =>
      typeof wire === "object" && "fail" in wire ? Effect.fail(wire.fail) : Effect.succeed(wire))
  // the push form: every message already in the inbox goes to the handler in the same step
  const run = <X>(conn: Conn, handler: (message: string) => Effect.Effect<void, X> | void) => {
    const loop: Effect.Effect<void, string | X> = Effect.flatMap(Queue.take(conn.inbox), (wire) => {
      if (typeof wire !== "string") return "fail" in wire ? Effect.fail(wire.fail) : Effect.void
      const effect = handler(wire)
      return effect === undefined ? loop : Effect.andThen(effect, loop)
    })
    return loop
  }
  return {
    conns,
    log,
    connect,
    receive,
    run,
    refuse: (n: number) => void (refusals = n),
    greet: (...wires: Array<Wire>) => void (greeting = wires),
    push: (conn: Conn, ...wires: Array<Wire>) => Effect.forEach(wires, (w) => Queue.offer(conn.inbox, w), { discard: true })
  }
})

/** Lets forked fibers run without moving the clock. */
const settle = Effect.gen(function*() {
  for (let i = 0; i < 20; i++) yield* Effect.yieldNow
})

/**
 * Every test runs twice: pulling with `receive` (the handler returns an Effect per message), and
 * pushing with `run` (the handler returns nothing, except the Effect that fails on "poison").
 */
const modes = ["receive", "run"] as const

/**
 * An `onConnect` whose renewal takes a second (auth, a snapshot) while the old connection keeps
 * delivering; a first connection's is immediate.
 */
const slowRenewalConnect: Supervisor.Handlers<Conn, string, string, string, string, never>["onConnect"] = (conn, info) =>
  Effect.andThen(
    info.renewal ? Effect.sleep("1 second") : Effect.void,
    Effect.sync(() => void conn.sent.push(`auth session=${info.session} renewal=${info.renewal}`))
  )

const start = (
  server: Effect.Success<typeof makeServer>,
  overrides: Partial<Supervisor.Handlers<Conn, string, string, string, string, never>> = {}
) =>
  Effect.gen(function*() {
    const received: Array<string> = []
    const gaps: Array<Supervisor.Gap> = []
    const handlers: Supervisor.Handlers<Conn, string, string, string, string, never> = {
      onMessage: (message, conn) =>
        message === "poison" ? Effect.fail("handler refused poison") : Effect.sync(() => void received.push(`${conn.id}:${message}`)),
      subscribe: (conn, subs) => Effect.sync(() => void conn.sent.push(`sub ${subs.join(",")}`)),
      unsubscribe: (conn, subs) => Effect.sync(() => void conn.sent.push(`unsub ${subs.join(",")}`)),
      onConnect: (conn, info) => Effect.sync(() => void conn.sent.push(`auth session=${info.session} renewal=${info.renewal}`)),
      onGap: (gap) => Effect.sync(() => void gaps.push(gap)),
      subscriptions: ["BTC-USD", "ETH-USD"],
      ...overrides
    }
    const feed = yield* (mode === "receive"
      ? Supervisor.make({ ...handlers, connect: server.connect, receive: server.receive })
      : Supervisor.make({
        ...handlers,
        onMessage: (message, conn) =>
          message === "poison" ? Effect.fail("handler refused poison") : void received.push(`${conn.id}:${message}`),
        ...overrides,
        connect: server.connect,
        run: server.run
      }))
    yield* settle
    return { feed, received, gaps }
  })

let mode: typeof modes[number] = "receive"

describe.each(modes)("Supervisor reading with %s", (m) => {
  beforeEach(() => void (mode = m))

  it.effect("connects, authenticates, subscribes the whole set, then delivers messages in order", () =>
    Effect.gen(function*() {
      const server = yield* makeServer
      const { feed, received } = yield* start(server)
      const [conn] = server.conns
      assert.deepStrictEqual(conn!.sent, ["auth session=1 renewal=false", "sub BTC-USD,ETH-USD"])
      const state = yield* SubscriptionRef.get(feed.state)
      assert.deepStrictEqual(state, { _tag: "Connected", since: 0, sessions: 1 })
      yield* server.push(conn!, "q1", "q2", "q3")
      yield* settle
      assert.deepStrictEqual(received, ["1:q1", "1:q2", "1:q3"])
    }))

  it.effect("retries a refused connect at 100, 300, 700 ms and shows attempt and delay while waiting", () =>
    Effect.gen(function*() {
      const server = yield* makeServer
      server.refuse(3)
      const { feed } = yield* start(server)
      assert.deepStrictEqual(yield* SubscriptionRef.get(feed.state), {
        _tag: "Reconnecting",
        attempt: 1,
        delay: Duration.millis(100),
        error: "connection refused"
      })
      yield* TestClock.adjust("100 millis")
      yield* TestClock.adjust("200 millis")
      const third = yield* SubscriptionRef.get(feed.state)
      assert.strictEqual(third._tag, "Reconnecting")
      assert.deepStrictEqual(third._tag === "Reconnecting" && [third.attempt, Duration.toMillis(third.delay)], [3, 400])
      yield* TestClock.adjust("399 millis")
      assert.strictEqual(server.conns.length, 0)
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(server.log, ["refused@0", "refused@100", "refused@300", "conn1@700"])
      assert.strictEqual((yield* SubscriptionRef.get(feed.state))._tag, "Connected")
    }))

  it.effect("reports a dropped session as a gap, closes it, and re-subscribes the current set on the new connection", () =>
    Effect.gen(function*() {
      const server = yield* makeServer
      const { feed, gaps, received } = yield* start(server)
      const first = server.conns[0]!
      yield* feed.subscribe("SOL-USD")
      yield* feed.unsubscribe("ETH-USD")
      assert.deepStrictEqual(first.sent.slice(2), ["sub SOL-USD", "unsub ETH-USD"])
      yield* server.push(first, "before")
      yield* TestClock.adjust("5 seconds")
      yield* server.push(first, { fail: "connection reset by peer" })
      yield* settle
      assert.isTrue(first.closed)
      assert.deepStrictEqual(gaps, [{ error: "connection reset by peer", connectedFor: Duration.seconds(5), at: 5000 }])
      yield* TestClock.adjust("100 millis")
      const second = server.conns[1]!
      assert.deepStrictEqual(second.sent, ["auth session=2 renewal=false", "sub BTC-USD,SOL-USD"])
      yield* server.push(second, "after")
      yield* settle
      assert.deepStrictEqual(received, ["1:before", "2:after"])
      assert.deepStrictEqual(yield* feed.subscriptions, ["BTC-USD", "SOL-USD"])
    }))

  it.effect("reports a gap when a connection's subscribe fails after onConnect ran, then reconnects", () =>
    Effect.gen(function*() {
      const server = yield* makeServer
      const { gaps } = yield* start(server, {
        subscribe: (conn, subs) =>
          conn.id === 1 ? Effect.fail("subscribe refused") : Effect.sync(() => void conn.sent.push(`sub ${subs.join(",")}`))
      })
      assert.deepStrictEqual(server.conns[0]!.sent, ["auth session=1 renewal=false"])
      assert.isTrue(server.conns[0]!.closed)
      assert.deepStrictEqual(gaps, [{ error: "subscribe refused", connectedFor: Duration.zero, at: 0 }])
      yield* TestClock.adjust("100 millis")
      assert.deepStrictEqual(server.conns[1]!.sent, ["auth session=2 renewal=false", "sub BTC-USD,ETH-USD"])
    }))

  it.effect("keeps backing off across short sessions and restarts the backoff after a long one or a clean close", () =>
    Effect.gen(function*() {
      const server = yield* makeServer
      const { feed } = yield* start(server, { resetAfter: "10 seconds" })
      const delayNow = Effect.map(SubscriptionRef.get(feed.state), (s) => s._tag === "Reconnecting" ? Duration.toMillis(s.delay) : -1)
      // three sessions that die at once: 100, 200, 400 ms
      for (const expected of [100, 200, 400]) {
        yield* server.push(server.conns.at(-1)!, { fail: "reset" })
        yield* settle
        assert.strictEqual(yield* delayNow, expected)
        yield* TestClock.adjust(Duration.millis(expected))
      }
      // a session that lived 10 s restarts the schedule
      yield* TestClock.adjust("10 seconds")
      yield* server.push(server.conns.at(-1)!, { fail: "reset" })
      yield* settle
      assert.strictEqual(yield* delayNow, 100)
      yield* TestClock.adjust("100 millis")
      yield* server.push(server.conns.at(-1)!, { fail: "reset" })
      yield* settle
      assert.strictEqual(yield* delayNow, 200)
      yield* TestClock.adjust("200 millis")
      // a clean close inside the minimum lifetime (default 5 s) is a failure: the backoff grows
      yield* server.push(server.conns.at(-1)!, Supervisor.Ended)
      yield* settle
      assert.strictEqual(yield* delayNow, 400)
      yield* TestClock.adjust("400 millis")
      // a clean close after 5 s restarts it
      yield* TestClock.adjust("5 seconds")
      yield* server.push(server.conns.at(-1)!, Supervisor.Ended)
      yield* settle
      assert.strictEqual(yield* delayNow, 100)
      assert.strictEqual(server.conns.length, 7)
    }))

  it.effect("redials a server that closes cleanly at once along the schedule: 7 dials in 10 s, not one every 100 ms", () =>
    Effect.gen(function*() {
      const server = yield* makeServer
      server.greet(Supervisor.Ended)
      const { feed, gaps } = yield* start(server)
      yield* TestClock.adjust("10 seconds")
      // 100, 200, 400, 800, 1600, 3200 ms between dials; the next would be at 11 300
      assert.deepStrictEqual(server.log, ["conn1@0", "conn2@100", "conn3@300", "conn4@700", "conn5@1500", "conn6@3100", "conn7@6300"])
      // every one was a gap the handler heard of, still a clean close (error undefined)
      assert.deepStrictEqual(gaps.map((g) => [g.error, g.at]), server.log.map((l) => [undefined, Number(l.split("@")[1])]))
      const state = yield* SubscriptionRef.get(feed.state)
      assert.deepStrictEqual(
        state._tag === "Reconnecting" && [state.attempt, Duration.toMillis(state.delay), state.error],
        [7, 5000, new Supervisor.SessionTooShort({ connectedFor: Duration.zero, minimum: Duration.seconds(5) })]
      )
      assert.strictEqual(
        (state as { readonly error: Error }).error.message,
        "the peer closed the session cleanly 0 ms after it was connected, inside the minimum session lifetime (5s): counted as a failed attempt"
      )
    }))

  it.effect("counts a close that arrived while onConnect ran as a failure, however long onConnect took", () =>
    Effect.gen(function*() {
      const server = yield* makeServer
      // the close is already waiting when onConnect starts; onConnect takes 6 s (a slow snapshot)
      server.greet(Supervisor.Ended)
      const { feed } = yield* start(server, {
        onConnect: (conn) => Effect.andThen(Effect.sleep("6 seconds"), Effect.sync(() => void conn.sent.push("auth")))
      })
      yield* TestClock.adjust("6 seconds")
      yield* TestClock.adjust("100 millis")
      yield* TestClock.adjust("6 seconds")
      yield* settle
      // the second session too ended at once after Connected: the backoff grew to 200 ms
      assert.deepStrictEqual(server.log, ["conn1@0", "conn2@6100"])
      const state = yield* SubscriptionRef.get(feed.state)
      assert.deepStrictEqual(state._tag === "Reconnecting" && [state.attempt, Duration.toMillis(state.delay)], [2, 200])
    }))

  it.effect("minSessionLifetime sets where a clean close becomes healthy; 0 restarts the backoff after every clean close", () =>
    Effect.gen(function*() {
      const server = yield* makeServer
      const { feed } = yield* start(server, { minSessionLifetime: "1 second" })
      const delayNow = Effect.map(SubscriptionRef.get(feed.state), (s) => s._tag === "Reconnecting" ? Duration.toMillis(s.delay) : -1)
      yield* TestClock.adjust("999 millis")
      yield* server.push(server.conns.at(-1)!, Supervisor.Ended)
      yield* settle
      assert.strictEqual(yield* delayNow, 100)
      yield* TestClock.adjust("100 millis")
      yield* TestClock.adjust("999 millis")
      yield* server.push(server.conns.at(-1)!, Supervisor.Ended)
      yield* settle
      assert.strictEqual(yield* delayNow, 200)
      yield* TestClock.adjust("200 millis")
      yield* TestClock.adjust("1 second")
      yield* server.push(server.conns.at(-1)!, Supervisor.Ended)
      yield* settle
      assert.strictEqual(yield* delayNow, 100)

      const eager = yield* makeServer
      eager.greet(Supervisor.Ended)
      yield* start(eager, { minSessionLifetime: 0 })
      yield* TestClock.adjust("1 second")
      assert.strictEqual(eager.conns.length, 11)
    }))

  it.effect("stops on a handler failure: await fails with it, the connection is closed, no reconnect", () =>
    Effect.gen(function*() {
      const server = yield* makeServer
      const { feed, received } = yield* start(server)
      yield* server.push(server.conns[0]!, "ok", "poison", "never")
      yield* settle
      assert.deepStrictEqual(yield* Effect.exit(feed.await), Exit.fail("handler refused poison"))
      assert.deepStrictEqual(received, ["1:ok"])
      assert.deepStrictEqual(yield* SubscriptionRef.get(feed.state), { _tag: "Stopped", reason: "HandlerFailed" })
      assert.isTrue(server.conns[0]!.closed)
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(server.conns.length, 1)
    }))

  it.effect("gives up with FeedGaveUp when a finite schedule runs out", () =>
    Effect.gen(function*() {
      const server = yield* makeServer
      server.refuse(100)
      const { feed } = yield* start(server, { schedule: Backoff.exponential({ base: "1 second", retries: 2 }) })
      yield* TestClock.adjust("3 seconds")
      const exit = yield* Effect.exit(feed.await)
      assert.deepStrictEqual(exit, Exit.fail(new Supervisor.FeedGaveUp({ attempts: 3, lastError: "connection refused" })))
      assert.strictEqual(
        new Supervisor.FeedGaveUp({ attempts: 3, lastError: "connection refused" }).message,
        "feed supervisor gave up after 3 failed attempts; last error: connection refused"
      )
      assert.deepStrictEqual(server.log, ["refused@0", "refused@1000", "refused@3000"])
      assert.deepStrictEqual(yield* SubscriptionRef.get(feed.state), { _tag: "Stopped", reason: "GaveUp" })
      // a later stop (the scope closing, say) keeps the reason
      yield* feed.stop
      assert.deepStrictEqual(yield* SubscriptionRef.get(feed.state), { _tag: "Stopped", reason: "GaveUp" })
    }))

  it.effect("renews a connection before its lifetime ends: subscribe on the new one, then close the old, no gap", () =>
    Effect.gen(function*() {
      const server = yield* makeServer
      const { feed, gaps, received } = yield* start(server, { maxSessionLifetime: "24 hours" })
      const first = server.conns[0]!
      yield* server.push(first, "a")
      yield* TestClock.adjust("24 hours")
      const second = server.conns[1]!
      assert.deepStrictEqual(second.sent, ["auth session=2 renewal=true", "sub BTC-USD,ETH-USD"])
      assert.isTrue(first.closed)
      assert.isFalse(second.closed)
      yield* server.push(second, "b")
      yield* settle
      assert.deepStrictEqual(received, ["1:a", "2:b"])
      assert.deepStrictEqual(gaps, [])
      assert.strictEqual((yield* SubscriptionRef.get(feed.state))._tag, "Connected")
    }))

  it.effect("a handler failure on the old connection while a renewal connects stops the feed", () =>
    Effect.gen(function*() {
      const server = yield* makeServer
      const { feed } = yield* start(server, {
        maxSessionLifetime: "1 hour",
        onConnect: slowRenewalConnect
      })
      const first = server.conns[0]!
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(server.conns.length, 2) // the renewal dialed, its onConnect is running
      yield* server.push(first, "poison")
      yield* settle
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(yield* SubscriptionRef.get(feed.state), { _tag: "Stopped", reason: "HandlerFailed" })
      assert.deepStrictEqual(yield* Effect.exit(feed.await), Exit.fail("handler refused poison"))
    }))

  it.effect("the old connection dropping while a renewal connects is reported as a gap", () =>
    Effect.gen(function*() {
      const server = yield* makeServer
      const { gaps, received } = yield* start(server, {
        maxSessionLifetime: "1 hour",
        onConnect: slowRenewalConnect
      })
      const first = server.conns[0]!
      yield* TestClock.adjust("1 hour")
      const second = server.conns[1]!
      // the old connection drops before the new one is subscribed: what the exchange publishes
      // meanwhile reaches neither
      yield* server.push(first, { fail: "reset" })
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* server.push(second, "b")
      yield* settle
      assert.deepStrictEqual(received, ["2:b"])
      assert.deepStrictEqual(gaps.map((g) => g.error), ["reset"])
    }))

  it.effect("a renewal that failed is tried again after one more lifetime", () =>
    Effect.gen(function*() {
      const server = yield* makeServer
      yield* start(server, { maxSessionLifetime: "1 hour" })
      server.refuse(1)
      yield* TestClock.adjust("1 hour")
      assert.deepStrictEqual(server.log, ["conn1@0", "refused@3600000"])
      yield* TestClock.adjust("1 hour")
      assert.deepStrictEqual(server.log, ["conn1@0", "refused@3600000", "conn2@7200000"])
    }))

  it.effect("stop and closing the scope end the feed and close its connection", () =>
    Effect.gen(function*() {
      const server = yield* makeServer
      const scope = yield* Scope.make()
      const { feed } = yield* Scope.provide(start(server), scope)
      const waiter = yield* Effect.forkChild(feed.await)
      yield* Scope.close(scope, Exit.void)
      assert.isTrue(server.conns[0]!.closed)
      assert.deepStrictEqual(yield* Fiber.await(waiter), Exit.void)
      assert.deepStrictEqual(yield* SubscriptionRef.get(feed.state), { _tag: "Stopped", reason: "Stopped" })
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(server.conns.length, 1)
    }))
})
