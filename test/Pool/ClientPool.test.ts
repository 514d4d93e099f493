import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import { TestClock } from "effect/testing"
import * as ClientPool from "../../src/Pool/ClientPool.ts"
import * as TestPeers from "../../src/Testing/TestPeers.ts"
import * as HttpConnection from "../../src/Transport/HttpConnection.ts"
import * as HttpServe from "../../src/Transport/HttpServe.ts"
import type * as Memory from "../../src/Transport/Memory.ts"
import { ConnectError, ReadError, TransportClosed } from "../../src/Transport/Transport.ts"

// The pool over the scripted origin of effect-nexus/testing (`TestPeers.makeHttpPeer`: HttpServe
// on memory pairs) under TestClock: refusals, resets, server-side closes and black holes are
// placed exactly and no time passes unless the test moves it.

interface Origin {
  /** The scripted origin: its request log, connection count and resets. */
  readonly peer: TestPeers.HttpPeer
  /** Connections opened so far, in order; each one's `transport` is the client end of its memory pair. */
  readonly connections: Array<HttpConnection.HttpConnection>
  /** Requests seen by the server: `connection#:METHOD path`. */
  readonly seen: ReadonlyArray<string>
  /** Refuse the next `n` connects. */
  refuse(n: number): void
  /** While true, the server never answers: a request stalls its connection for good. */
  blackHole: boolean
  /** The server leaves this many more requests unanswered, each stalling its connection. */
  swallow: number
  /** The server resets instead of answering the next this-many requests (every live connection: the tests that use it have one). */
  resetNext: number
  /** Answer with `Connection: close` after this many requests per connection. */
  closeAfter: number
  readonly connect: Effect.Effect<HttpConnection.HttpConnection, HttpConnection.HttpError, Scope.Scope>
}

const ADDRESS = "origin.test:80"

const makeOrigin = (options: HttpConnection.Options = {}) =>
  Effect.gen(function*() {
    let refusals = 0
    // answers `conn C req N`, N counting per connection, unless a fault is set
    const handler: HttpServe.Handler = (request) =>
      Effect.suspend(() => {
        if (origin.blackHole) return Effect.never
        if (origin.swallow > 0) {
          origin.swallow--
          return Effect.never
        }
        if (origin.resetNext > 0) {
          origin.resetNext--
          return Effect.andThen(peer.dropAll, Effect.interrupt)
        }
        const n = peer.requests.filter((seen) => seen.connection === request.connection).length
        const close = n >= origin.closeAfter
        return Effect.succeed({
          status: 200,
          headers: close ? [["Connection", "close"] as const] : [],
          body: `conn ${request.connection} req ${n}`
        })
      })
    const connection = { readTimeout: "2 seconds", ...options } as const
    const peer = yield* TestPeers.makeHttpPeer(handler, { address: ADDRESS, connection })
    // the same origin while it is down: its connects fail as the peer's refusals do
    const down = yield* TestPeers.makeHttpPeer(handler, { address: ADDRESS, connection })
    yield* down.setDown(true)
    const origin: Origin = {
      peer,
      connections: [],
      get seen() {
        return peer.requests.map((seen) => `${seen.connection}:${seen.method} ${seen.target}`)
      },
      refuse: (n) => void (refusals = n),
      blackHole: false,
      swallow: 0,
      resetNext: 0,
      closeAfter: Infinity,
      // a dial takes a scheduler turn, as a socket's does: a reconnect never completes inside
      // the call that ejected the slot
      connect: Effect.andThen(
        Effect.yieldNow,
        Effect.suspend(() => {
          if (refusals > 0) {
            refusals--
            return down.connect
          }
          return Effect.tap(peer.connect, (opened) => Effect.sync(() => origin.connections.push(opened)))
        })
      )
    }
    return origin
  })

const settle = Effect.gen(function*() {
  for (let i = 0; i < 30; i++) yield* Effect.yieldNow
})

const makePool = (origin: Origin, options: Partial<ClientPool.CustomConnectOptions> = {}) =>
  ClientPool.make({ url: "http://origin.test", connections: 2, connect: origin.connect, ...options })

const get = (pool: ClientPool.ClientPool, path: string) => pool.request((w) => w.get(path).finish())
const post = (pool: ClientPool.ClientPool, path: string) => pool.request((w) => w.post(path).body("{}").finish())

describe("ClientPool over memory connections", () => {
  it.effect("connects every slot when built and sends requests with the configured writer", () =>
    Effect.gen(function*() {
      const origin = yield* makeOrigin()
      const pool = yield* makePool(origin, { basePath: "/api/v3", connections: 3 })
      assert.strictEqual(origin.connections.length, 3)
      assert.deepStrictEqual(yield* pool.stats, { available: 3, inUse: 0, reconnecting: 0, totalReconnects: 0, waiting: 0 })
      const response = yield* get(pool, "/ticker")
      assert.deepStrictEqual([response.status, response.text], [200, "conn 1 req 1"])
      assert.deepStrictEqual(origin.seen, ["1:GET /api/v3/ticker"])
    }))

  it.effect("an owned response stays intact after its slot's next exchanges, and its body slices to exactly its bytes", () =>
    Effect.gen(function*() {
      const origin = yield* makeOrigin()
      const pool = yield* makePool(origin, { connections: 1 })
      const first = yield* get(pool, "/one")
      for (let i = 0; i < 3; i++) yield* get(pool, `/more${i}`)
      assert.deepStrictEqual([first.status, first.text, first.body.length], [200, "conn 1 req 1", 12])
      assert.deepStrictEqual(Array.from(first.body.slice()), Array.from(Buffer.from("conn 1 req 1")))
      assert.strictEqual(first.body.slice().buffer.byteLength, 12)
    }))

  it.effect("a failed initial connect fails the build with its typed error", () =>
    Effect.gen(function*() {
      const origin = yield* makeOrigin()
      origin.refuse(1)
      const error = yield* Effect.flip(makePool(origin))
      assert.deepStrictEqual(
        error,
        new HttpConnection.HttpError({ address: ADDRESS, reason: new ConnectError({ kind: "Refused" }), requestSent: false })
      )
      assert.strictEqual(
        error.message,
        "HTTP exchange with origin.test:80 failed: connect failed: connection refused (no request byte was sent)"
      )
   
      // the build's scope is still open, yet the connections that did open are closed already
      const more = yield* makeOrigin()
      let dials = 0
      // the third dial is refused after the other two have opened
      const connect = Effect.suspend(() =>
        ++dials < 3 ? more.connect : Effect.andThen(settle, Effect.andThen(Effect.sync(() => more.refuse(1)), more.connect))
      )
      yield* Effect.flip(makePool(more, { connections: 3, connect }))
      assert.strictEqual(more.connections.length, 2)
      assert.deepStrictEqual(
        more.connections.map((c) => (c.transport as Memory.MemoryTransport).state),
        more.connections.map(() => "destroyed")
      )
    }))

  it.effect("hands out the most recently returned slot first (LIFO)", () =>
    Effect.gen(function*() {
      const origin = yield* makeOrigin()
      const pool = yield* makePool(origin, { connections: 3 })
      const order: Array<number> = []
      yield* Effect.scoped(Effect.gen(function*() {
        const a = yield* pool.acquire
        const b = yield* pool.acquire
        order.push(a.id, b.id)
      }))
      // b was released last (scope finalizers run in reverse), so it is on top now
      const again = yield* Effect.scoped(Effect.map(pool.acquire, (s) => s.id))
      order.push(again)
      assert.deepStrictEqual(order, [0, 1, 0])
      const twice = yield* Effect.scoped(Effect.map(pool.acquire, (s) => s.id))
      assert.strictEqual(twice, 0)
    }))

  it.effect("tryAcquire never waits: none while every slot is leased, a slot again once one returns", () =>
    Effect.gen(function*() {
      const origin = yield* makeOrigin()
      const pool = yield* makePool(origin)
      const scope = yield* Scope.make()
      const first = yield* Scope.provide(pool.tryAcquire, scope)
      const second = yield* Scope.provide(pool.tryAcquire, scope)
      assert.isTrue(Option.isSome(first) && Option.isSome(second))
      assert.isTrue(Option.isNone(yield* Effect.scoped(pool.tryAcquire)))
      assert.deepStrictEqual((yield* pool.stats).inUse, 2)
      yield* Scope.close(scope, Exit.void)
      assert.isTrue(Option.isSome(yield* Effect.scoped(pool.tryAcquire)))
    }))

  it.effect("acquire waits for a returned slot, then times out per the acquire schedule", () =>
    Effect.gen(function*() {
      const origin = yield* makeOrigin()
      const pool = yield* makePool(origin, { connections: 1 })
      const holder = yield* Scope.make()
      yield* Scope.provide(pool.acquire, holder)
      const waiting = yield* Effect.forkChild(Effect.scoped(Effect.map(pool.acquire, (s) => s.id)))
      yield* settle
      assert.strictEqual((yield* pool.stats).waiting, 1)
      yield* TestClock.adjust("10 millis")
      yield* Scope.close(holder, Exit.void)
      assert.deepStrictEqual(yield* Fiber.await(waiting), Exit.succeed(0))
      // now hold it for good: the default schedule gives up after 20 retries (~11 s)
      yield* Scope.provide(pool.acquire, yield* Scope.make())
      const timeout = yield* Effect.forkChild(Effect.scoped(pool.acquire))
      yield* TestClock.adjust("11022 millis")
      assert.isUndefined(timeout.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      const exit = yield* Fiber.await(timeout)
      assert.deepStrictEqual(
        exit,
        Exit.fail(
          new ClientPool.PoolError({
            origin: "origin.test",
            reason: new ClientPool.AcquireTimeout({ attempts: 21, waited: Duration.millis(11023) })
          })
        )
      )
      const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
      assert.strictEqual(
        error?._tag === "Some" && error.value.message,
        "pool origin.test: no healthy connection became free after 21 attempts (11s 23ms)"
      )
      assert.strictEqual((yield* pool.stats).waiting, 0)
    }))

  it.effect("an acquire that gives up while the origin refuses carries the last connect failure", () =>
    Effect.gen(function*() {
      const origin = yield* makeOrigin()
      const pool = yield* makePool(origin, { connections: 1 })
      yield* origin.peer.dropAll
      origin.refuse(1000)
      const waiting = yield* Effect.forkChild(Effect.flip(Effect.scoped(pool.acquire)))
      yield* TestClock.adjust("11023 millis")
      const error = yield* Fiber.join(waiting)
      const refused = new HttpConnection.HttpError({ address: ADDRESS, reason: new ConnectError({ kind: "Refused" }), requestSent: false })
      assert.deepStrictEqual(
        error,
        new ClientPool.PoolError({
          origin: "origin.test",
          reason: new ClientPool.AcquireTimeout({ attempts: 21, waited: Duration.millis(11023), lastFailure: refused })
        })
      )
      assert.strictEqual(
        error.message,
        "pool origin.test: no healthy connection became free after 21 attempts (11s 23ms); the last connect to origin.test:80 failed: connect failed: connection refused"
      )
      // a connect that succeeds clears it: a later timeout on a merely busy pool names no failure
      origin.refuse(0)
      yield* TestClock.adjust("5 seconds")
      yield* settle
      yield* Scope.provide(pool.acquire, yield* Scope.make())
      const busy = yield* Effect.forkChild(Effect.flip(Effect.scoped(pool.acquire)))
      yield* TestClock.adjust("11023 millis")
      assert.deepStrictEqual(
        (yield* Fiber.join(busy)).reason,
        new ClientPool.AcquireTimeout({ attempts: 21, waited: Duration.millis(11023) })
      )
    }))

  it.effect("an interrupted waiter leaves no slot behind", () =>
    Effect.gen(function*() {
      const origin = yield* makeOrigin()
      const pool = yield* makePool(origin, { connections: 1 })
      const holder = yield* Scope.make()
      yield* Scope.provide(pool.acquire, holder)
      const waiting = yield* Effect.forkChild(Effect.scoped(pool.acquire))
      yield* settle
      yield* Fiber.interrupt(waiting)
      yield* Scope.close(holder, Exit.void)
      assert.deepStrictEqual(yield* pool.stats, { available: 1, inUse: 0, reconnecting: 0, totalReconnects: 0, waiting: 0 })
    }))

  it.effect("an acquire that first retires a stale head and then waits can still be interrupted", () =>
    Effect.gen(function*() {
      const origin = yield* makeOrigin()
      const pool = yield* makePool(origin, { connections: 2 })
      const holder = yield* Scope.make()
      const held = yield* Scope.provide(pool.acquire, holder)
      // the idle slot's connection dies and cannot come back: the next acquire retires it, then waits
      origin.refuse(1000)
      yield* origin.connections.find((c) => c !== held.connection)!.transport.destroy()
      const waiting = yield* Effect.forkChild(Effect.scoped(pool.acquire))
      yield* settle
      assert.deepStrictEqual([(yield* pool.stats).waiting, (yield* pool.stats).reconnecting], [1, 1])
      yield* Fiber.interrupt(waiting)
      assert.isTrue(Exit.hasInterrupts(waiting.pollUnsafe()!))
      assert.strictEqual((yield* pool.stats).waiting, 0)
      yield* Scope.close(holder, Exit.void)
    }))

  it.effect("never hands out a poisoned slot: a reset connection is ejected and healed in the background", () =>
    Effect.gen(function*() {
      const origin = yield* makeOrigin()
      const pool = yield* makePool(origin, { connections: 1 })
      assert.strictEqual((yield* get(pool, "/a")).text, "conn 1 req 1")
      // the server resets while the slot is idle: the probe sees it before any byte is written
      yield* origin.peer.dropAll
      assert.isTrue(Option.isNone(yield* Effect.scoped(pool.tryAcquire)))
      assert.deepStrictEqual((yield* pool.stats).reconnecting, 1)
      yield* settle
      const healed = yield* Effect.scoped(Effect.map(pool.tryAcquire, Option.map((s) => s.connection.status)))
      assert.deepStrictEqual(healed, Option.some("Ready"))
      assert.strictEqual((yield* get(pool, "/b")).text, "conn 2 req 1")
      assert.deepStrictEqual(yield* pool.stats, { available: 1, inUse: 0, reconnecting: 0, totalReconnects: 1, waiting: 0 })
      assert.deepStrictEqual(origin.seen, ["1:GET /a", "2:GET /b"])
    }))

  it.effect("reconnects at 100, 200, 400 ms while the origin refuses, and serves a waiting acquirer when it returns", () =>
    Effect.gen(function*() {
      const origin = yield* makeOrigin()
      const pool = yield* makePool(origin, { connections: 1 })
      yield* origin.peer.dropAll
      origin.refuse(3)
      const waiting = yield* Effect.forkChild(get(pool, "/after-outage"))
      yield* settle
      assert.strictEqual(origin.connections.length, 1)
      yield* TestClock.adjust("100 millis")
      yield* TestClock.adjust("200 millis")
      assert.strictEqual(origin.connections.length, 1)
      yield* TestClock.adjust("399 millis")
      assert.strictEqual(origin.connections.length, 1)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(origin.connections.length, 2)
      const response = yield* Fiber.join(waiting)
      assert.strictEqual(response.text, "conn 2 req 1")
    }))

  it.effect("a response with Connection: close completes, and the slot is renewed before its next use", () =>
    Effect.gen(function*() {
      const origin = yield* makeOrigin()
      origin.closeAfter = 2
      const pool = yield* makePool(origin, { connections: 1 })
      const texts: Array<string> = []
      for (let i = 0; i < 5; i++) {
        texts.push((yield* get(pool, `/r${i}`)).text)
        yield* settle
      }
      assert.deepStrictEqual(texts, ["conn 1 req 1", "conn 1 req 2", "conn 2 req 1", "conn 2 req 2", "conn 3 req 1"])
      assert.strictEqual((yield* pool.stats).totalReconnects, 2)
    }))

  it.effect("a request that leaves its connection unusable retires the slot before the lease ends; withSlot's is retired where next seen", () =>
    Effect.gen(function*() {
      const origin = yield* makeOrigin()
      origin.closeAfter = 1
      const pool = yield* makePool(origin, { connections: 1 })
      // the answer says Connection: close: the replacement dials with no further lease
      assert.strictEqual((yield* get(pool, "/a")).status, 200)
      yield* settle
      assert.strictEqual(origin.connections.length, 2)
      assert.deepStrictEqual(yield* pool.stats, { available: 1, inUse: 0, reconnecting: 0, totalReconnects: 1, waiting: 0 })
      // the same through withSlot (and a scoped lease): nothing dials until the dead slot is next seen
      yield* pool.withSlot((slot) => slot.send(slot.writer.get("/b").finish()))
      yield* settle
      assert.strictEqual(origin.connections.length, 2)
      assert.isTrue(Option.isNone(yield* Effect.scoped(pool.tryAcquire)))
      yield* settle
      assert.strictEqual(origin.connections.length, 3)
      yield* Effect.scoped(Effect.flatMap(pool.acquire, (slot) => slot.send(slot.writer.get("/c").finish())))
      yield* settle
      assert.strictEqual(origin.connections.length, 3)
      assert.strictEqual((yield* get(pool, "/d")).text, "conn 4 req 1")
      assert.deepStrictEqual(origin.seen, ["1:GET /a", "2:GET /b", "3:GET /c", "4:GET /d"])
    }))

  it.effect("renews slots whose idle keep-alive time ran out, in the background, so the pool stays warm", () =>
    Effect.gen(function*() {
      const origin = yield* makeOrigin({ idleTimeout: "4 seconds" })
      const pool = yield* makePool(origin, { connections: 2 })
      yield* TestClock.adjust("5 seconds")
      yield* settle
      // both idle connections expired and were replaced by the health check
      assert.strictEqual(origin.connections.length, 4)
      const stats = yield* pool.stats
      assert.deepStrictEqual([stats.available, stats.totalReconnects], [2, 2])
      // a fresh connection joins Effect's Pool at the back (it has no use behind it), so the
      // first one renewed goes out first
      assert.strictEqual((yield* get(pool, "/warm")).text, "conn 3 req 1")
    }))

  it.effect("a black-holed request poisons its slot with a read timeout; the next request goes to a healed slot", () =>
    Effect.gen(function*() {
      const origin = yield* makeOrigin()
      const pool = yield* makePool(origin, { connections: 1 })
      origin.blackHole = true
      const pending = yield* Effect.forkChild(get(pool, "/slow"))
      yield* TestClock.adjust("2 seconds")
      const error = yield* Effect.flip(Fiber.join(pending))
      assert.deepStrictEqual(
        error,
        new HttpConnection.HttpError({
          address: ADDRESS,
          reason: new HttpConnection.ReadTimeout({ timeout: Duration.seconds(2) }),
          requestSent: true
        })
      )
      origin.blackHole = false
      yield* settle
      assert.strictEqual((yield* get(pool, "/fast")).text, "conn 2 req 1")
    }))

  it.effect("retryIdempotent re-sends a GET whose connection was reset, never a POST, and never after a read timeout", () =>
    Effect.gen(function*() {
      const origin = yield* makeOrigin()
      const pool = yield* makePool(origin, { connections: 1 })
      // reset mid-exchange: the GET goes again on the healed slot, the POST does not
      origin.resetNext = 1
      const book = yield* ClientPool.retryIdempotent("GET", get(pool, "/book"))
      assert.strictEqual(book.status, 200)
      origin.resetNext = 1
      const order = yield* Effect.flip(ClientPool.retryIdempotent("POST", post(pool, "/order")))
      assert.deepStrictEqual(
        [order._tag, order.reason._tag, order._tag === "HttpError" && order.requestSent],
        ["HttpError", "ReadError", true]
      )
      // a read timeout: the server may just be slow, so even a GET is not re-sent (first let the
      // slot the POST's reset retired heal, so the GET is on the wire before the clock moves)
      yield* settle
      origin.swallow = 1
      const slow = yield* Effect.forkChild(ClientPool.retryIdempotent("GET", get(pool, "/slow")))
      yield* TestClock.adjust("2 seconds")
      const slowError = yield* Effect.flip(Fiber.join(slow))
      assert.deepStrictEqual(
        [slowError._tag, slowError.reason, slowError._tag === "HttpError" && slowError.requestSent],
        ["HttpError", new HttpConnection.ReadTimeout({ timeout: Duration.seconds(2) }), true]
      )
      yield* settle
      assert.deepStrictEqual(origin.seen.filter((s) => s.endsWith("/book")).length, 2)
      assert.deepStrictEqual(origin.seen.filter((s) => s.endsWith("/order")).length, 1)
      assert.deepStrictEqual(origin.seen.filter((s) => s.endsWith("/slow")).length, 1)
    }))

  it.effect("closing the pool's scope closes every connection and stops reconnecting", () =>
    Effect.gen(function*() {
      const origin = yield* makeOrigin()
      const scope = yield* Scope.make()
      const pool = yield* Scope.provide(makePool(origin, { connections: 2 }), scope)
      // the first connection's socket dies under the pool (the peer resets all or none, so it is closed here)
      yield* origin.connections[0]!.transport.destroy()
      origin.refuse(1000)
      yield* Effect.scoped(pool.tryAcquire)
      assert.strictEqual((yield* pool.stats).reconnecting, 1)
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(origin.connections.map((c) => (c.transport as Memory.MemoryTransport).state), ["destroyed", "destroyed"])
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(origin.connections.length, 2)
    }))
})

describe("ClientPool metrics", () => {
  it.effect("records acquire wait and request latency per origin, and counts reconnect attempts and failures", () =>
    Effect.gen(function*() {
      const origin = yield* makeOrigin()
      const pool = yield* makePool(origin, { connections: 1, url: "http://metrics.test" })
      const attributes = { origin: "metrics.test" }
      const latency = Metric.withAttributes(ClientPool.metrics.requestLatency, attributes)
      const wait = Metric.withAttributes(ClientPool.metrics.acquireWait, attributes)
      const attempts = Metric.withAttributes(ClientPool.metrics.reconnectAttempts, attributes)
      const failures = Metric.withAttributes(ClientPool.metrics.reconnectFailures, attributes)
      for (let i = 0; i < 3; i++) yield* get(pool, `/m${i}`)
      assert.strictEqual((yield* Metric.value(latency)).count, 3)
      assert.strictEqual((yield* Metric.value(wait)).count, 3)
      yield* origin.peer.dropAll
      origin.refuse(2)
      yield* Effect.scoped(pool.tryAcquire)
      yield* settle
      yield* TestClock.adjust("300 millis")
      assert.strictEqual((yield* Metric.value(attempts)).count, 3)
      assert.strictEqual((yield* Metric.value(failures)).count, 2)
    }))
})

describe("ClientPool spans", () => {
  it.effect("wraps request in a ClientPool.request span naming the server when a tracer is installed, and in none otherwise", () =>
    Effect.gen(function*() {
      const origin = yield* makeOrigin()
      const pool = yield* makePool(origin, { connections: 1 })
      const spans: Array<Tracer.Span> = []
      const recording = Tracer.make({
        span: (options) => {
          const span = Tracer.nativeTracer.span(options)
          spans.push(span)
          return span
        }
      })
      yield* Effect.provideService(get(pool, "/traced"), Tracer.Tracer, recording)
      assert.deepStrictEqual(spans.map((span) => span.name), ["ClientPool.request"])
      assert.strictEqual(spans[0]!.attributes.get("server.address"), "origin.test")
      assert.strictEqual(spans[0]!.status._tag, "Ended")
      // the default native tracer exports nothing: no span is made for it
      yield* get(pool, "/untraced")
      assert.strictEqual(spans.length, 1)
    }))
})

describe("ClientPool.isRetryable", () => {
  const failure = (requestSent: boolean, reason: HttpConnection.HttpErrorReason) =>
    new HttpConnection.HttpError({ address: "a:1", reason, requestSent })
  it("retries any method whose bytes never left, idempotent ones after a reset, none after a timeout or acquire timeout", () => {
    const reset = new ReadError({ kind: "Reset" })
    const timeout = new HttpConnection.ReadTimeout({ timeout: Duration.seconds(1) })
    assert.isTrue(ClientPool.isRetryable("GET", failure(true, reset)))
    assert.isTrue(ClientPool.isRetryable("PUT", failure(true, reset)))
    assert.isTrue(ClientPool.isRetryable("DELETE", failure(true, reset)))
    assert.isFalse(ClientPool.isRetryable("POST", failure(true, reset)))
    assert.isFalse(ClientPool.isRetryable("PATCH", failure(true, reset)))
    assert.isTrue(ClientPool.isRetryable("POST", failure(false, reset)))
    assert.isFalse(ClientPool.isRetryable("GET", failure(true, timeout)))
    assert.isFalse(
      ClientPool.isRetryable(
        "GET",
        new ClientPool.PoolError({ origin: "a", reason: new ClientPool.AcquireTimeout({ attempts: 1, waited: Duration.zero }) })
      )
    )
  })
})

describe("ClientPool shutdown", () => {
  /** The failure of an exit's first reason, for comparing whole errors. */
  const failureOf = <E>(exit: Exit.Exit<unknown, E> | undefined): E | undefined => {
    if (exit === undefined || Exit.isSuccess(exit)) return undefined
    const error = Cause.findErrorOption(exit.cause)
    return error._tag === "Some" ? error.value : undefined
  }
  const closedMidRead = new HttpConnection.HttpError({
    address: ADDRESS,
    reason: new TransportClosed({ operation: "read" }),
    requestSent: true
  })

  it.effect("closing the pool's own scope with requests in flight fails them and dials nothing afterwards", () =>
    Effect.gen(function*() {
      const origin = yield* makeOrigin()
      origin.blackHole = true
      const scope = yield* Scope.make()
      const pool = yield* Scope.provide(makePool(origin, { connections: 4 }), scope)
      const inFlight = yield* Effect.forEach([1, 2, 3, 4], (i) => Effect.forkChild(get(pool, `/slow${i}`)))
      yield* settle
      assert.strictEqual(origin.seen.length, 4)
      yield* Scope.close(scope, Exit.void)
      yield* settle
      for (const fiber of inFlight) {
        assert.deepStrictEqual(failureOf(fiber.pollUnsafe()), closedMidRead)
      }
      // a minute of reconnect schedule: not one connection is opened after the close
      yield* TestClock.adjust("1 minute")
      yield* settle
      assert.strictEqual(origin.connections.length, 4)
      assert.deepStrictEqual(origin.connections.map((c) => (c.transport as Memory.MemoryTransport).state), Array(4).fill("destroyed"))
      assert.deepStrictEqual(yield* pool.stats, { available: 0, inUse: 0, reconnecting: 0, totalReconnects: 0, waiting: 0 })
    }))

  it.effect("closing the scope that also owns the in-flight requests dials nothing afterwards", () =>
    Effect.gen(function*() {
      const origin = yield* makeOrigin()
      origin.blackHole = true
      const inFlight = yield* Effect.scoped(Effect.gen(function*() {
        const pool = yield* makePool(origin, { connections: 4 })
        const fibers = yield* Effect.forEach([1, 2, 3, 4], (i) => Effect.forkScoped(get(pool, `/slow${i}`)))
        yield* settle
        assert.strictEqual(origin.seen.length, 4)
        return fibers
      }))
      yield* settle
      // the scope interrupts its request fibers before the pool's finalizer closes the sockets
      for (const fiber of inFlight) {
        const exit = fiber.pollUnsafe()
        assert.isTrue(exit !== undefined && Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause), String(exit))
      }
      yield* TestClock.adjust("1 minute")
      yield* settle
      assert.strictEqual(origin.connections.length, 4)
      assert.deepStrictEqual(origin.connections.map((c) => (c.transport as Memory.MemoryTransport).state), Array(4).fill("destroyed"))
    }))

  it.effect("a waiting request fails at once with PoolClosed when the pool closes, as does one on a closed pool", () =>
    Effect.gen(function*() {
      const origin = yield* makeOrigin()
      origin.blackHole = true
      const scope = yield* Scope.make()
      const pool = yield* Scope.provide(makePool(origin, { connections: 1 }), scope)
      const first = yield* Effect.forkChild(get(pool, "/slow"))
      const waiting = yield* Effect.forkChild(get(pool, "/queued"))
      yield* settle
      assert.strictEqual((yield* pool.stats).waiting, 1)
      yield* Scope.close(scope, Exit.void)
      // the clock never moves: both end now, well before the acquire schedule (~11 s) would
      yield* settle
      assert.deepStrictEqual(failureOf(first.pollUnsafe()), closedMidRead)
      const closed = new ClientPool.PoolError({ origin: "origin.test", reason: new ClientPool.PoolClosed() })
      assert.deepStrictEqual(waiting.pollUnsafe(), Exit.fail(closed))
      assert.strictEqual(failureOf(waiting.pollUnsafe())?.message, "pool origin.test: the pool is closed")
      assert.strictEqual((yield* pool.stats).waiting, 0)
      // every door of a closed pool answers at once
      const later = yield* Effect.forkChild(get(pool, "/later"))
      const acquire = yield* Effect.forkChild(Effect.scoped(pool.acquire))
      const withSlot = yield* Effect.forkChild(pool.withSlot(() => Effect.void))
      yield* settle
      assert.deepStrictEqual(later.pollUnsafe(), Exit.fail(closed))
      assert.deepStrictEqual(acquire.pollUnsafe(), Exit.fail(closed))
      assert.deepStrictEqual(withSlot.pollUnsafe(), Exit.fail(closed))
      assert.isTrue(Option.isNone(yield* Effect.scoped(pool.tryAcquire)))
      assert.deepStrictEqual(origin.seen, ["1:GET /slow"])
      assert.isFalse(ClientPool.isRetryable("GET", closed))
    }))

  it.effect("waiters are served oldest first, and an interrupted one in the middle is skipped", () =>
    Effect.gen(function*() {
      const origin = yield* makeOrigin()
      const pool = yield* makePool(origin, { connections: 1 })
      const holder = yield* Scope.make()
      yield* Scope.provide(pool.acquire, holder)
      const order: Array<string> = []
      const waiter = (name: string) =>
        Effect.forkChild(Effect.scoped(Effect.andThen(pool.acquire, Effect.sync(() => order.push(name)))))
      const a = yield* waiter("a")
      yield* settle
      const b = yield* waiter("b")
      yield* settle
      const c = yield* waiter("c")
      yield* settle
      assert.strictEqual((yield* pool.stats).waiting, 3)
      yield* Fiber.interrupt(b)
      assert.strictEqual((yield* pool.stats).waiting, 2)
      yield* Scope.close(holder, Exit.void)
      yield* Fiber.join(a)
      yield* Fiber.join(c)
      assert.deepStrictEqual(order, ["a", "c"])
      assert.deepStrictEqual(yield* pool.stats, { available: 1, inUse: 0, reconnecting: 0, totalReconnects: 0, waiting: 0 })
    }))
})

describe("ClientPool.make validation", () => {
  const invalid = (error: unknown) =>
    new HttpConnection.HttpError({
      address: "origin.test",
      reason: new HttpConnection.InvalidRequest({ error: error as any }),
      requestSent: false
    })

  it.effect("a CR or LF in a default header fails with InvalidRequest before dialing", () =>
    Effect.gen(function*() {
      const origin = yield* makeOrigin()
      const error = yield* Effect.flip(makePool(origin, { defaultHeaders: [["X-Api-Key", "secret\r\nX-Evil: 1"]] }))
      assert.deepStrictEqual(
        error,
        invalid({
          _tag: "CrlfInjection",
          field: "header value",
          index: 6,
          message: "default header \"X-Api-Key\": header value holds CR at index 6"
        })
      )
      // the message names the option at fault, and never the header's (secret) value
      assert.notInclude(error?.message ?? "", "secret")
      assert.strictEqual(origin.connections.length, 0)
    }))

  it.effect("a CR or LF in basePath fails with InvalidRequest before dialing", () =>
    Effect.gen(function*() {
      const origin = yield* makeOrigin()
      const error = yield* Effect.flip(makePool(origin, { basePath: "/api\n/v3" }))
      assert.deepStrictEqual(
        error,
        invalid({
          _tag: "CrlfInjection",
          field: "path",
          index: 4,
          message: error.reason._tag === "InvalidRequest" ? error.reason.error.message : "not InvalidRequest"
        })
      )
      assert.match(error?.message ?? "", /basePath: path holds LF at index 4/)
      assert.strictEqual(origin.connections.length, 0)
    }))

  it.effect("a default header the writer sets itself, or whose name is not a token, fails typed before dialing", () =>
    Effect.gen(function*() {
      const origin = yield* makeOrigin()
      const reserved = yield* Effect.flip(makePool(origin, { defaultHeaders: [["Content-Length", "5"]] }))
      const badName = yield* Effect.flip(makePool(origin, { defaultHeaders: [["X Key", "v"]] }))
      const faults = [reserved, badName].map((error) =>
        [error.address, error.requestSent, error.reason._tag === "InvalidRequest" ? error.reason.error._tag : error.reason._tag]
      )
      assert.deepStrictEqual(faults, [["origin.test", false, "ReservedHeader"], ["origin.test", false, "InvalidToken"]])
      assert.strictEqual(origin.connections.length, 0)
    }))
})
