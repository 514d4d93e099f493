import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import { readdirSync } from "node:fs"
import * as http from "node:http"
import type * as net from "node:net"
import type * as tls from "node:tls"
import * as ClientPool from "../../src/Pool/ClientPool.ts"
import * as Backoff from "../../src/Transport/Backoff.ts"
import * as Tls from "../../src/Transport/Tls.ts"
import { TransportClosed } from "../../src/Transport/Transport.ts"
import { afterAll, beforeAll } from "vitest"
import { serve } from "../support/netServer.ts"
import { hasOpenssl, makeThrowawayCa, OPENSSL_HINT, type ThrowawayCa } from "../support/throwawayCa.ts"

// The pool against a real node:http server on 127.0.0.1: the server tracks its sockets so the
// tests can kill every connection, refuse connections (by closing the listener and listening
// again on the same port), black-hole a request, or reset mid-response.

interface Origin {
  readonly port: number
  readonly url: string
  /** Sockets the server holds open now. */
  readonly sockets: Set<net.Socket>
  /** Requests seen per path+query. */
  readonly seen: Map<string, number>
  /** Connections accepted so far. */
  accepted: number
  /** Most requests in flight at once. */
  maxInFlight: number
  /** Stops listening and destroys every connection: connects are refused until `listen`. */
  readonly refuse: () => Promise<void>
  readonly listen: () => Promise<void>
  readonly killAll: () => void
  readonly close: () => Promise<void>
}

const openFds = () => readdirSync("/proc/self/fd").length

const startOrigin = (): Promise<Origin> =>
  new Promise((resolve) => {
    let inFlight = 0
    const sockets = new Set<net.Socket>()
    const seen = new Map<string, number>()
    const server = http.createServer((req, res) => {
      const url = req.url ?? "/"
      seen.set(url, (seen.get(url) ?? 0) + 1)
      inFlight++
      origin.maxInFlight = Math.max(origin.maxInFlight, inFlight)
      req.resume()
      req.on("end", () => {
        const path = url.split("?")[0]
        if (path === "/black-hole") return
        if (path === "/reset") {
          res.writeHead(200, { "content-length": "100" })
          res.write("partial")
          setImmediate(() => (req.socket as net.Socket).resetAndDestroy())
          inFlight--
          return
        }
        const body = JSON.stringify({ url, id: new URL(url, "http://x").searchParams.get("id") })
        // answer on a later turn so that many requests really are in flight together
        setImmediate(() => {
          inFlight--
          res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
          res.end(body)
        })
      })
    })
    server.keepAliveTimeout = 60_000
    server.on("connection", (socket: net.Socket) => {
      origin.accepted++
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
    })
    let port = 0
    const listen = () => new Promise<void>((ok) => server.listen(port, "127.0.0.1", () => ok()))
    const killAll = () => {
      for (const socket of sockets) socket.destroy()
    }
    const origin: Origin = {
      get port() {
        return port
      },
      get url() {
        return `http://127.0.0.1:${port}`
      },
      sockets,
      seen,
      accepted: 0,
      maxInFlight: 0,
      refuse: () =>
        new Promise<void>((ok) => {
          server.close(() => ok())
          killAll()
        }),
      listen,
      killAll,
      close: () =>
        new Promise<void>((ok) => {
          killAll()
          if (server.listening) server.close(() => ok())
          else ok()
        })
    }
    listen().then(() => {
      port = (server.address() as net.AddressInfo).port
      resolve(origin)
    })
  })

const withOrigin = <A, E>(f: (origin: Origin) => Effect.Effect<A, E, any>) =>
  Effect.acquireUseRelease(Effect.promise(startOrigin), f, (origin) => Effect.promise(origin.close))

/** Fast schedules so real-time healing takes milliseconds, not seconds. */
const fast = {
  reconnectSchedule: Backoff.exponential({ base: "2 millis", cap: "20 millis" }),
  acquireSchedule: Backoff.exponential({ base: "1 millis", cap: "20 millis", retries: 200 }),
  readTimeout: "300 millis"
} as const

const get = (pool: ClientPool.ClientPool, path: string) => pool.request((w) => w.get(path).finish())

/** Polls `condition` on the real clock until it holds (bounded), for socket events to land. */
const eventually = (condition: () => boolean, what: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500; i++) {
      if (condition()) return
      yield* Effect.sleep("2 millis")
    }
    assert.fail(`timed out waiting for: ${what}`)
  })

describe("ClientPool against a node:http server on 127.0.0.1", () => {
  it.live("1000 fibers share 8 connections; every response is matched to its own request", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        // a loaded 2-core machine can take a while to answer 1000 queued requests
        const pool = yield* ClientPool.make({ url: origin.url, connections: 8, ...fast, readTimeout: "10 seconds" })
        const ids = Array.from({ length: 1000 }, (_, i) => i)
        const responses = yield* Effect.forEach(
          ids,
          (id) => Effect.map(get(pool, `/echo?id=${id}`), (r) => JSON.parse(r.text).id as string),
          { concurrency: "unbounded" }
        )
        assert.deepStrictEqual(responses, ids.map(String))
        assert.strictEqual(origin.accepted, 8)
        assert.isAtMost(origin.maxInFlight, 8)
        assert.isAtLeast(origin.maxInFlight, 2)
        const stats = yield* pool.stats
        assert.deepStrictEqual([stats.available, stats.inUse, stats.waiting], [8, 0, 0])
      }).pipe(Effect.scoped)
    ))

  it.live("a reset mid-response fails that request only; the slot heals and later requests succeed", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const pool = yield* ClientPool.make({ url: origin.url, connections: 2, ...fast })
        const error = yield* Effect.flip(get(pool, "/reset"))
        assert.deepStrictEqual(
          [error._tag, error._tag === "HttpError" && error.address, error.reason._tag, error._tag === "HttpError" && error.requestSent],
          ["HttpError", `127.0.0.1:${origin.port}`, "ReadError", true]
        )
        assert.strictEqual(error.reason._tag === "ReadError" && error.reason.kind, "Reset")
        for (let i = 0; i < 20; i++) assert.strictEqual((yield* get(pool, `/ok?id=${i}`)).status, 200)
        yield* eventually(() => origin.sockets.size === 2, "two healthy connections")
      }).pipe(Effect.scoped)
    ))

  it.live("connections the server closed while idle are never written to; the pool renews them", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const pool = yield* ClientPool.make({ url: origin.url, connections: 4, ...fast, healthCheckInterval: "1 hour" })
        // the pool is built when its connects complete; the server may accept them a little later
        yield* eventually(() => origin.sockets.size === 4, "the server accepted all four connections")
        origin.killAll()
        yield* eventually(() => origin.sockets.size === 0, "server closed its sockets")
        // give the client side the FIN; then every idle slot is stale and must not be used
        yield* Effect.sleep("20 millis")
        assert.isTrue(Option.isNone(yield* Effect.scoped(pool.tryAcquire)))
        const before = origin.seen.size
        assert.strictEqual((yield* get(pool, "/fresh?id=1")).status, 200)
        assert.strictEqual(origin.seen.size, before + 1)
        assert.strictEqual(origin.seen.get("/fresh?id=1"), 1)
      }).pipe(Effect.scoped)
    ))

  it.live("while the origin refuses connections acquire times out; the pool recovers by itself when it returns", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const pool = yield* ClientPool.make({
          url: origin.url,
          connections: 2,
          ...fast,
          acquireSchedule: Backoff.exponential({ base: "1 millis", cap: "5 millis", retries: 10 })
        })
        yield* Effect.promise(origin.refuse)
        yield* Effect.sleep("20 millis")
        // the killed slots were seen stale (FIN) and ejected, their reconnects are refused: no
        // slot is handed out, so the request writes nothing and the acquire schedule runs out
        const down = yield* Effect.flip(get(pool, "/during-outage"))
        assert.deepStrictEqual(
          [down._tag, down._tag === "PoolError" && down.origin, down.reason._tag, down.reason._tag === "AcquireTimeout" && down.reason.attempts],
          ["PoolError", pool.origin, "AcquireTimeout", 11]
        )
        assert.isUndefined(origin.seen.get("/during-outage"))
        assert.isTrue(Option.isNone(yield* Effect.scoped(pool.tryAcquire)))
        yield* Effect.promise(origin.listen)
        yield* eventually(() => origin.sockets.size === 2, "both slots reconnected")
        assert.strictEqual((yield* get(pool, "/after-outage")).status, 200)
        assert.isAtLeast((yield* pool.stats).totalReconnects, 2)
      }).pipe(Effect.scoped)
    ))

  it.live("a black-holed POST times out and is never sent again, even through retryIdempotent", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const pool = yield* ClientPool.make({ url: origin.url, connections: 2, ...fast })
        const error = yield* Effect.flip(
          ClientPool.retryIdempotent("POST", pool.request((w) => w.post("/black-hole").body("{}").finish()))
        )
        assert.deepStrictEqual(
          [error._tag, error.reason._tag, error._tag === "HttpError" && error.requestSent],
          ["HttpError", "ReadTimeout", true]
        )
        yield* Effect.sleep("50 millis")
        assert.strictEqual(origin.seen.get("/black-hole"), 1)
      }).pipe(Effect.scoped)
    ))

  it.live("1000 kill-and-heal cycles leak no socket or file descriptor", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const fdsBefore = openFds()
        yield* Effect.scoped(Effect.gen(function*() {
          const pool = yield* ClientPool.make({ url: origin.url, connections: 2, ...fast })
          for (let cycle = 0; cycle < 1000; cycle++) {
            const response = yield* ClientPool.retryIdempotent("GET", get(pool, `/cycle?id=${cycle}`))
            assert.strictEqual(response.status, 200)
            origin.killAll()
          }
          const stats = yield* pool.stats
          assert.isAtLeast(stats.totalReconnects, 900)
        }))
        yield* eventually(() => origin.sockets.size === 0, "the server sees every socket closed")
        // the client's sockets are all closed too: no descriptor left behind (a little slack for
        // descriptors the runtime opens on its own)
        yield* eventually(() => openFds() <= fdsBefore + 2, "file descriptors back to where they were")
      })
    ), 120_000)
})

describe("ClientPool shutdown against a node:http server on 127.0.0.1", () => {
  /** Requests held by the server (it never answers them), sent on all four connections. */
  const holdFour = <R>(
    pool: ClientPool.ClientPool,
    origin: Origin,
    fork: (
      effect: Effect.Effect<ClientPool.OwnedResponse, ClientPool.PoolRequestError>
    ) => Effect.Effect<Fiber.Fiber<ClientPool.OwnedResponse, ClientPool.PoolRequestError>, never, R>
  ) =>
    Effect.gen(function*() {
      const fibers = yield* Effect.forEach([1, 2, 3, 4], (i) => fork(get(pool, `/black-hole?id=${i}`)))
      yield* eventually(() => (origin.seen.get("/black-hole?id=4") ?? 0) === 1 && origin.seen.size === 4, "four requests held")
      return fibers
    })

  /**
   * After a close: the server sees every socket go and accepts no new one, and the process's
   * descriptors are back to where they were. The pre-fix pool redialed within milliseconds (its
   * reconnect schedule here starts at 2 ms), so the 200 ms of quiet is a generous margin.
   */
  const nothingLeft = (origin: Origin, fdsBefore: number) =>
    Effect.gen(function*() {
      yield* eventually(() => origin.sockets.size === 0, "the server sees every socket closed")
      yield* eventually(() => openFds() <= fdsBefore + 2, "file descriptors back to where they were")
      yield* Effect.sleep("200 millis")
      assert.strictEqual(origin.accepted, 4)
      assert.strictEqual(origin.sockets.size, 0)
      assert.isAtMost(openFds(), fdsBefore + 2)
    })

  it.live("closing the pool's own scope with four requests in flight fails them, dials nothing and leaks no descriptor", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const fdsBefore = openFds()
        const scope = yield* Scope.make()
        const pool = yield* Scope.provide(
          ClientPool.make({ url: origin.url, connections: 4, ...fast, readTimeout: "1 minute" }),
          scope
        )
        const inFlight = yield* holdFour(pool, origin, (effect) => Effect.forkChild(effect))
        yield* Scope.close(scope, Exit.void)
        for (const fiber of inFlight) {
          const error = yield* Effect.flip(Fiber.join(fiber))
          assert.deepStrictEqual([error._tag, error.reason], ["HttpError", new TransportClosed({ operation: "read" })])
        }
        yield* nothingLeft(origin, fdsBefore)
        assert.deepStrictEqual(yield* Effect.exit(get(pool, "/after")), Exit.fail(new ClientPool.PoolError({ origin: pool.origin, reason: new ClientPool.PoolClosed() })))
      })
    ))

  it.live("closing the scope that owns both the pool and its in-flight requests dials nothing and leaks no descriptor", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const fdsBefore = openFds()
        const inFlight = yield* Effect.scoped(Effect.gen(function*() {
          const pool = yield* ClientPool.make({ url: origin.url, connections: 4, ...fast, readTimeout: "1 minute" })
          return yield* holdFour(pool, origin, (effect) => Effect.forkScoped(effect))
        }))
        // the scope interrupts its request fibers before the pool's finalizer closes the sockets
        for (const fiber of inFlight) {
          const exit = yield* Fiber.await(fiber)
          assert.isTrue(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause), String(exit))
        }
        yield* nothingLeft(origin, fdsBefore)
      })
    ))
})

describe("ClientPool's acquire names the connect failure that kept the origin out of reach (seeds' failure rule 3)", () => {
  /** A short acquire schedule: 1, 2, 4, 5, 5 ms — 6 attempts. */
  const patience = {
    ...fast,
    acquireSchedule: Backoff.exponential({ base: "1 millis", cap: "5 millis", retries: 5 }),
    healthCheckInterval: "1 hour"
  } as const

  it.live("a port that refuses: AcquireTimeout carries the ConnectError with its address and kind", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const pool = yield* ClientPool.make({ url: origin.url, connections: 1, ...patience })
        yield* Effect.promise(origin.refuse)
        // the refused reconnects (2 ms apart) have had time to fail
        yield* Effect.sleep("30 millis")
        const error = yield* Effect.flip(Effect.scoped(pool.acquire))
        const reason = error.reason
        assert.strictEqual(reason._tag, "AcquireTimeout")
        const last = reason._tag === "AcquireTimeout" ? reason.lastFailure : undefined
        assert.deepStrictEqual(
          [error.origin, reason._tag === "AcquireTimeout" && reason.attempts, last?._tag, last?.address, last?.requestSent],
          [`127.0.0.1:${origin.port}`, 6, "HttpError", `127.0.0.1:${origin.port}`, false]
        )
        assert.deepStrictEqual([last?.reason._tag, last?.reason._tag === "ConnectError" && last.reason.kind], ["ConnectError", "Refused"])
        assert.include(error.message, `the last connect to 127.0.0.1:${origin.port} failed: connect failed: connection refused`)
      }).pipe(Effect.scoped)
    ))
})

let ca: ThrowawayCa | undefined
let stranger: ThrowawayCa | undefined
if (!hasOpenssl) console.warn(OPENSSL_HINT)
beforeAll(() => {
  if (!hasOpenssl) return
  ca = makeThrowawayCa()
  // a second CA the pool does not trust: its server certificate is "untrusted"
  stranger = makeThrowawayCa()
})
afterAll(() => {
  ca?.remove()
  stranger?.remove()
})

describe.skipIf(!hasOpenssl)("ClientPool over TLS on 127.0.0.1 when the origin's certificate turns untrusted", () => {
  it.live("AcquireTimeout carries the TlsError CertificateUntrusted of the last reconnect", () =>
    Effect.gen(function*() {
      // answers every request on a connection with a small 200 (one request per data event: GETs only)
      const server = yield* serve((socket) => {
        socket.on("data", () => socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
      }, { tls: { key: ca!.key, cert: ca!.cert } })
      const pool = yield* ClientPool.make({
        url: `https://127.0.0.1:${server.port}`,
        connections: 1,
        tls: Tls.TlsConfig.makeUnsafe({ ca: [ca!.caPem], useSystemRoots: false }),
        ...fast,
        acquireSchedule: Backoff.exponential({ base: "1 millis", cap: "5 millis", retries: 5 }),
        healthCheckInterval: "1 hour"
      })
      assert.strictEqual((yield* get(pool, "/before")).text, "ok")
      // the server now presents a certificate from a CA the pool does not trust, and drops the
      // connection: every reconnect fails its handshake
      ;(server.server as tls.Server).setSecureContext({ key: stranger!.key, cert: stranger!.cert })
      for (const socket of server.sockets) socket.destroy()
      yield* Effect.sleep("50 millis")
      const error = yield* Effect.flip(get(pool, "/after"))
      const reason = error.reason
      const last = reason._tag === "AcquireTimeout" ? reason.lastFailure : undefined
      assert.deepStrictEqual(
        [error._tag, reason._tag, last?.address, last?.requestSent, last?.reason._tag, last?.reason._tag === "TlsError" && last.reason.kind],
        ["PoolError", "AcquireTimeout", `127.0.0.1:${server.port}`, false, "TlsError", "CertificateUntrusted"]
      )
      assert.include(error.message, `the last connect to 127.0.0.1:${server.port} failed: TLS failed: CertificateUntrusted`)
    }).pipe(Effect.scoped))
})
