import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import { TestClock } from "effect/testing"
import * as net from "node:net"
import * as ReadBuf from "../../src/Codec/ReadBuf.ts"
import * as ClientPool from "../../src/Pool/ClientPool.ts"
import * as HttpConnection from "../../src/Transport/HttpConnection.ts"
import * as Memory from "../../src/Transport/Memory.ts"
import { blackHole } from "../support/blackHole.ts"
import { serve } from "../support/netServer.ts"
import { executable } from "../support/peers.ts"

// Issue 9, "defaults that cannot hang": the pool's connect timeout, and the one retry of an
// idempotent request that a reused keep-alive connection dropped before answering. In memory
// under TestClock (faults placed exactly), then over loopback against a node:net server.

const encoder = new TextEncoder()
const HEAD_END = "\r\n\r\n"

/** How the scripted server treats the next request: answer, or hang up without (a) answer. */
type Fault = "end" | "reset" | "partial" | "partialReset" | "silent"

interface Origin {
  /** Requests seen by the server: `connection#:METHOD path`. */
  readonly seen: Array<string>
  /** Faults for the coming requests, in order (any connection). */
  readonly faults: Array<Fault>
  readonly connect: Effect.Effect<HttpConnection.HttpConnection, HttpConnection.HttpError, Scope.Scope>
}

/** Reads one request (head + Content-Length body); its request line, or `undefined` at EOF. */
const readRequest = (server: Memory.MemoryTransport, buf: ReadBuf.ReadBuf) =>
  Effect.gen(function*() {
    for (;;) {
      const text = buf.data().toString("latin1")
      const end = text.indexOf(HEAD_END)
      if (end >= 0) {
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end))?.[1] ?? 0)
        if (text.length >= end + 4 + length) {
          buf.advance(end + 4 + length)
          return text.slice(0, text.indexOf("\r\n"))
        }
      }
      if ((yield* Effect.orElseSucceed(server.read(buf), () => 0)) === 0) return undefined
    }
  })

const makeOrigin = (options: HttpConnection.Options = {}) =>
  Effect.sync(() => {
    let connections = 0
    const origin: Origin = {
      seen: [],
      faults: [],
      connect: Effect.gen(function*() {
        const pair = yield* Memory.pair()
        const id = ++connections
        const serve = Effect.gen(function*() {
          const buf = ReadBuf.make({ capacity: 64 * 1024 })
          for (let n = 1;; n++) {
            const line = yield* readRequest(pair.server, buf)
            if (line === undefined) return
            origin.seen.push(`${id}:${line.split(" ").slice(0, 2).join(" ")}`)
            switch (origin.faults.shift()) {
              case "end":
                return yield* pair.server.end()
              case "reset":
                return yield* pair.drop()
              case "partial":
                yield* pair.server.write(encoder.encode("HTTP/1.1 200 OK\r\nContent-Le"))
                return yield* pair.server.end()
              case "partialReset":
                yield* pair.server.write(encoder.encode("HTTP/1.1 200 OK\r\nContent-Le"))
                // let the client read those bytes before the reset discards what is buffered
                for (let i = 0; i < 10; i++) yield* Effect.yieldNow
                return yield* pair.drop()
              case "silent":
                continue
            }
            const body = `conn ${id} req ${n}`
            const head = `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`
            yield* pair.server.write(encoder.encode(line.startsWith("HEAD ") ? head : head + body))
          }
        })
        yield* Effect.forkScoped(Effect.ignore(serve))
        return yield* HttpConnection.make(pair.client, options)
      })
    }
    return origin
  })

const makePool = (origin: Origin, options: Partial<ClientPool.CustomConnectOptions> = {}) =>
  ClientPool.make({ url: "http://origin.test", connections: 1, connect: origin.connect, ...options })

const get = (pool: ClientPool.ClientPool, path: string) => pool.request((w) => w.get(path).finish())
const post = (pool: ClientPool.ClientPool, path: string) => pool.request((w) => w.post(path).body("{}").finish())

const describeError = (error: ClientPool.PoolRequestError) => ({
  reason: error._tag === "HttpError" ? error.reason._tag : error._tag,
  requestSent: error._tag === "HttpError" && error.requestSent
})

describe("ClientPool's connect timeout", () => {
  it.effect("make fails after the default 10 s when a connection never completes", () =>
    Effect.gen(function*() {
      // the resolver stub never answers: the dial hangs without any traffic
      const lookup: net.LookupFunction = () => {}
      const fiber = yield* Effect.forkChild(Effect.flip(Effect.scoped(ClientPool.make({ url: "http://hang.invalid", lookup }))))
      yield* TestClock.adjust("9999 millis")
      assert.strictEqual(fiber.pollUnsafe(), undefined)
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(fiber)
      assert.deepStrictEqual(
        [error.reason._tag, error.reason._tag === "ConnectError" && error.reason.kind, error.requestSent],
        ["ConnectError", "Timeout", false]
      )
      assert.include(error.message, "connect failed: timed out (no connection within 10s)")
    }))

  it.live.skipIf(!executable("/usr/bin/python3"))("make fails with a Timeout against a black-holed loopback port", () =>
    Effect.gen(function*() {
      const hole = yield* blackHole
      const error = yield* Effect.flip(
        Effect.scoped(ClientPool.make({ url: `http://127.0.0.1:${hole.port}`, connections: 2, connectTimeout: "300 millis" }))
      )
      assert.deepStrictEqual([error.reason._tag, error.reason._tag === "ConnectError" && error.reason.kind], [
        "ConnectError",
        "Timeout"
      ])
    }))
})

describe("ClientPool.request and the keep-alive race, in memory", () => {
  for (const fault of ["end", "reset"] as const) {
    it.effect(`a GET dropped by a reused connection before any response byte (${fault}) goes again, once, on a fresh connection`, () =>
      Effect.gen(function*() {
        const origin = yield* makeOrigin()
        const pool = yield* makePool(origin)
        assert.strictEqual((yield* get(pool, "/a")).text, "conn 1 req 1")
        origin.faults.push(fault)
        const response = yield* get(pool, "/b")
        assert.deepStrictEqual([response.status, response.text], [200, "conn 2 req 1"])
        assert.deepStrictEqual(origin.seen, ["1:GET /a", "1:GET /b", "2:GET /b"])
        const stats = yield* pool.stats
        assert.deepStrictEqual([stats.available, stats.reconnecting, stats.totalReconnects], [1, 0, 1])
        // the renewed slot carries on
        assert.strictEqual((yield* get(pool, "/c")).text, "conn 2 req 2")
      }))
  }

  it.effect("HEAD and OPTIONS are retried the same way", () =>
    Effect.gen(function*() {
      const origin = yield* makeOrigin()
      const pool = yield* makePool(origin)
      yield* get(pool, "/warm")
      origin.faults.push("end")
      assert.strictEqual((yield* pool.request((w) => w.head("/h").finish())).status, 200)
      origin.faults.push("end")
      assert.strictEqual((yield* pool.request((w) => w.request("OPTIONS", "/o").finish())).status, 200)
      assert.deepStrictEqual(origin.seen, ["1:GET /warm", "1:HEAD /h", "2:HEAD /h", "2:OPTIONS /o", "3:OPTIONS /o"])
    }))

  it.effect("a POST in the same situation is never re-sent, and its error says the request was sent", () =>
    Effect.gen(function*() {
      const origin = yield* makeOrigin()
      const pool = yield* makePool(origin)
      yield* get(pool, "/a")
      origin.faults.push("end")
      const error = yield* Effect.flip(post(pool, "/order"))
      assert.deepStrictEqual(describeError(error), { reason: "IncompleteResponse", requestSent: true })
      assert.include(error.message, "the server closed the connection before sending a response (request bytes were sent)")
      assert.deepStrictEqual(origin.seen.filter((s) => s.endsWith("/order")), ["1:POST /order"])
    }))

  it.effect("is not retried on a connection that carried no exchange yet, after a response byte, or after a timeout", () =>
    Effect.gen(function*() {
      const origin = yield* makeOrigin({ headersTimeout: "1 second" })
      const pool = yield* makePool(origin)
      // a fresh connection that fails: not the keep-alive race, the server is at fault
      origin.faults.push("end")
      assert.deepStrictEqual(describeError(yield* Effect.flip(get(pool, "/fresh"))), {
        reason: "IncompleteResponse",
        requestSent: true
      })
      yield* get(pool, "/warm")
      // a few bytes of an answer arrived: the server did act on it
      origin.faults.push("partial")
      const partial = yield* Effect.flip(get(pool, "/partial"))
      assert.deepStrictEqual(
        partial._tag === "HttpError" && partial.reason,
        new HttpConnection.IncompleteResponse({ received: "HTTP/1.1 200 OK\r\nContent-Le".length })
      )
      yield* get(pool, "/warm")
      // a reset after a few bytes of an answer: the same, though the error is a ReadError
      origin.faults.push("partialReset")
      assert.deepStrictEqual(describeError(yield* Effect.flip(get(pool, "/partial-reset"))), {
        reason: "ReadError",
        requestSent: true
      })
      yield* get(pool, "/warm")
      // a timeout: the server may be slow, not gone
      origin.faults.push("silent")
      const slow = yield* Effect.forkChild(Effect.flip(get(pool, "/slow")))
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(describeError(yield* Fiber.join(slow)), { reason: "HeadersTimeout", requestSent: true })
      for (const path of ["/fresh", "/partial", "/partial-reset", "/slow"]) {
        assert.strictEqual(origin.seen.filter((s) => s.endsWith(path)).length, 1, path)
      }
    }))

  it.effect("retries only once: a fresh connection that drops the request too fails the request", () =>
    Effect.gen(function*() {
      const origin = yield* makeOrigin()
      const pool = yield* makePool(origin)
      yield* get(pool, "/a")
      origin.faults.push("end", "reset")
      const error = yield* Effect.flip(get(pool, "/b"))
      assert.deepStrictEqual(describeError(error), { reason: "ReadError", requestSent: true })
      assert.deepStrictEqual(origin.seen, ["1:GET /a", "1:GET /b", "2:GET /b"])
    }))
})

// ---------------------------------------------------------------------------------------------
// Over loopback
// ---------------------------------------------------------------------------------------------

/**
 * A keep-alive HTTP server on 127.0.0.1:0 that answers the first request of every connection and
 * closes the connection, unanswered, when a second one arrives on it — what nginx does to a
 * request that meets its `keepalive_timeout`, made deterministic. Counts requests per line.
 */
const serveOneShot = Effect.suspend(() => {
  const seen: Array<string> = []
  let connections = 0
  const onSocket = (socket: net.Socket) => {
    const id = ++connections
    let pending = ""
    let answered = 0
    socket.on("data", (chunk) => {
      pending += chunk.toString("latin1")
      for (let end = pending.indexOf(HEAD_END); end >= 0; end = pending.indexOf(HEAD_END)) {
        const head = pending.slice(0, end)
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0)
        if (pending.length < end + 4 + length) return
        pending = pending.slice(end + 4 + length)
        seen.push(`${id}:${head.slice(0, head.indexOf(" HTTP/"))}`)
        if (answered++ > 0) return void socket.destroy()
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n${id}!`)
      }
    })
  }
  return Effect.map(serve(onSocket), (server) => ({ port: server.port, seen, connections: () => connections }))
})

describe("ClientPool.request and the keep-alive race, over loopback", () => {
  it.live("a GET the server drops on a reused connection is answered on a fresh one; a POST is sent once and fails", () =>
    Effect.gen(function*() {
      const origin = yield* serveOneShot
      const pool = yield* ClientPool.make({ url: `http://127.0.0.1:${origin.port}`, connections: 1 })
      assert.strictEqual((yield* get(pool, "/a")).text, "1!")
      // the second request on connection 1 meets the server closing it
      assert.strictEqual((yield* get(pool, "/b")).text, "2!")
      assert.deepStrictEqual(origin.seen, ["1:GET /a", "1:GET /b", "2:GET /b"])
      const error = yield* Effect.flip(post(pool, "/order"))
      assert.isTrue(error._tag === "HttpError" && error.requestSent)
      assert.include(["IncompleteResponse", "ReadError"], describeError(error).reason)
      assert.include(error.message, "(request bytes were sent)")
      assert.deepStrictEqual(origin.seen.filter((s) => s.endsWith("/order")), ["2:POST /order"])
      assert.strictEqual(origin.connections(), 2)
    }))
})

