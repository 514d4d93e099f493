import { assert, describe, it } from "@effect/vitest"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as http from "node:http"
import type * as net from "node:net"
import * as RequestWriter from "../../src/Codec/RequestWriter.ts"
import * as ResponseReader from "../../src/Codec/ResponseReader.ts"
import * as FromSocket from "../../src/Transport/FromSocket.ts"
import * as HttpConnection from "../../src/Transport/HttpConnection.ts"
import { closeHttp } from "../support/httpServer.ts"

// node:http as the oracle server on 127.0.0.1:0. It counts the TCP connections it accepted and
// the ones still open, so reuse and socket leaks are checked from the server's side.

interface Server {
  readonly port: number
  readonly url: string
  readonly accepted: () => number
  readonly open: () => number
  readonly requests: () => number
  /** Resolves once no accepted connection is open any more. */
  readonly drained: () => Promise<void>
  readonly server: http.Server
}

const serve = (handler: http.RequestListener, configure: (server: http.Server) => void = () => {}) =>
  Effect.acquireRelease(
    Effect.callback<Server>((resume) => {
      let accepted = 0
      let open = 0
      let requests = 0
      const waiters: Array<() => void> = []
      const server = http.createServer((req, res) => {
        requests++
        handler(req, res)
      })
      configure(server)
      server.on("connection", (socket: net.Socket) => {
        accepted++
        open++
        socket.on("close", () => {
          open--
          if (open === 0) waiters.splice(0).forEach((f) => f())
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as net.AddressInfo).port
        resume(Effect.succeed({
          port,
          url: `http://127.0.0.1:${port}`,
          accepted: () => accepted,
          open: () => open,
          requests: () => requests,
          drained: () => (open === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
          server
        }))
      })
    }),
    ({ server }) => Effect.promise(() => closeHttp(server))
  )

/** Waits (real time) until the server sees no open connection. */
const drained = (server: Server) => Effect.promise(() => server.drained())

const echoHandler: http.RequestListener = (req, res) => {
  const chunks: Array<Buffer> = []
  req.on("data", (chunk: Buffer) => chunks.push(chunk))
  req.on("end", () => {
    const body = Buffer.concat(chunks)
    res.setHeader("X-Method", req.method ?? "")
    res.setHeader("X-Url", req.url ?? "")
    res.setHeader("X-Echo-Header", String(req.headers["x-echo"] ?? ""))
    res.end(body)
  })
}

const writerFor = (server: Server) => RequestWriter.make({ host: `127.0.0.1:${server.port}` })

describe("HttpConnection's watchdog over a real socket", () => {
  it.live("sets no timer per request: 200 keep-alive exchanges start only a handful of watchdog sleeps", () =>
    Effect.gen(function*() {
      // a Clock that counts the sleeps started through it (the watchdog's timers)
      const clock = yield* Effect.clockWith(Effect.succeed)
      let sleeps = 0
      const counting: Clock.Clock = {
        currentTimeMillisUnsafe: () => clock.currentTimeMillisUnsafe(),
        currentTimeMillis: clock.currentTimeMillis,
        currentTimeNanosUnsafe: () => clock.currentTimeNanosUnsafe(),
        currentTimeNanos: clock.currentTimeNanos,
        monotonicTimeNanosUnsafe: () => clock.monotonicTimeNanosUnsafe(),
        monotonicTimeNanos: clock.monotonicTimeNanos,
        sleep: (duration) => {
          sleeps++
          return clock.sleep(duration)
        }
      }
      const server = yield* serve(echoHandler)
      yield* Effect.scoped(Effect.gen(function*() {
        const connection = yield* HttpConnection.connect(server.url)
        const writer = writerFor(server)
        const reader = ResponseReader.make()
        for (let i = 0; i < 200; i++) {
          const response = yield* connection.send(writer.get("/echo").query("i", String(i)).finish(), reader)
          assert.strictEqual(response.status, 200)
        }
      })).pipe(Effect.provideService(Clock.Clock, counting))
      // re-arming forked a watchdog and its timer per completed response before the fix (~200)
      assert.isAtLeast(sleeps, 1)
      assert.isAtMost(sleeps, 5)
    }))
})

describe("HttpConnection against node:http", () => {
  it.live("reuses one connection for 200 requests of every method and leaks no socket", () =>
    Effect.gen(function*() {
      const server = yield* serve(echoHandler)
      yield* Effect.scoped(Effect.gen(function*() {
        const connection = yield* HttpConnection.connect(server.url)
        const writer = writerFor(server)
        const reader = ResponseReader.make()
        const methods = ["GET", "POST", "PUT", "DELETE", "PATCH"] as const
        for (let i = 0; i < 200; i++) {
          const method = methods[i % methods.length]!
          const request = method === "GET" || method === "DELETE"
            ? writer.request(method, "/echo").query("i", String(i)).header("X-Echo", `h${i}`).finish()
            : writer.request(method, "/echo").header("X-Echo", `h${i}`).body(`body ${i} ü`).finish()
          const response = yield* connection.send(request, reader)
          assert.deepStrictEqual(
            [response.status, response.header("x-method"), response.header("x-echo-header")],
            [200, method, `h${i}`]
          )
          if (method === "GET" || method === "DELETE") assert.strictEqual(response.header("x-url"), `/echo?i=${i}`)
          else assert.strictEqual(response.bodyText(), `body ${i} ü`)
        }
        assert.deepStrictEqual([connection.requestCount, connection.status], [200, "Ready"])
        assert.deepStrictEqual([server.accepted(), server.requests()], [1, 200])
      }))
      yield* drained(server)
      assert.strictEqual(server.open(), 0)
    }))

  it.live("decodes chunked responses of many sizes on one connection", () =>
    Effect.gen(function*() {
      const server = yield* serve((req, res) => {
        const size = Number(new URL(req.url ?? "/", "http://x").searchParams.get("size"))
        let sent = 0
        // uneven pieces so chunk boundaries fall everywhere
        while (sent < size) {
          const n = Math.min(size - sent, 1 + (sent % 1000))
          res.write(Buffer.alloc(n, (sent % 26) + 97))
          sent += n
        }
        res.end()
      })
      const connection = yield* HttpConnection.connect(server.url)
      const writer = writerFor(server)
      const reader = ResponseReader.make()
      for (const size of [1, 100, 10_000, 300_000]) {
        const response = yield* connection.send(writer.get("/chunked").query("size", String(size)).finish(), reader)
        assert.deepStrictEqual([response.chunked, response.bodyLength], [true, size])
      }
      assert.strictEqual(server.accepted(), 1)
    }))

  it.live("honours Connection: close from the server and the server sees the socket closed", () =>
    Effect.gen(function*() {
      const server = yield* serve((_req, res) => {
        res.setHeader("Connection", "close")
        res.end("last")
      })
      const connection = yield* HttpConnection.connect(server.url)
      const reader = ResponseReader.make()
      const writer = writerFor(server)
      const response = yield* connection.send(writer.get("/").finish(), reader)
      assert.deepStrictEqual([response.status, response.bodyText(), connection.status], [200, "last", "NotReusable"])
      yield* drained(server)
      const error = yield* Effect.flip(connection.send(writer.get("/").finish(), reader))
      assert.deepStrictEqual([error.reason._tag, error.requestSent], ["ConnectionNotReusable", false])
      assert.strictEqual(server.requests(), 1)
    }))

  it.live("a reset mid-response poisons the connection with ReadError Reset, requestSent true", () =>
    Effect.gen(function*() {
      const server = yield* serve((req, res) => {
        res.writeHead(200, { "Content-Length": "1000" })
        res.write("partial", () => setTimeout(() => req.socket.resetAndDestroy(), 20))
      })
      const connection = yield* HttpConnection.connect(server.url)
      const reader = ResponseReader.make()
      const writer = writerFor(server)
      const error = yield* Effect.flip(connection.send(writer.get("/").finish(), reader))
      assert.deepStrictEqual([error.reason._tag, error.requestSent], ["ReadError", true])
      assert.strictEqual(error.reason._tag === "ReadError" && error.reason.kind, "Reset")
      assert.include(error.message, `HTTP exchange with 127.0.0.1:${server.port} failed: read failed: Reset`)
      const later = yield* Effect.flip(connection.send(writer.get("/").finish(), reader))
      assert.deepStrictEqual([later.reason._tag, later.requestSent], ["ConnectionPoisoned", false])
      yield* drained(server)
    }))

  it.live("a FIN mid-response is IncompleteResponse", () =>
    Effect.gen(function*() {
      const server = yield* serve((req, res) => {
        res.writeHead(200, { "Content-Length": "1000" })
        res.write("partial", () => req.socket.end())
      })
      const connection = yield* HttpConnection.connect(server.url)
      const error = yield* Effect.flip(connection.send(writerFor(server).get("/").finish(), ResponseReader.make()))
      assert.deepStrictEqual([error.reason._tag, error.requestSent], ["IncompleteResponse", true])
      assert.isAbove(error.reason._tag === "IncompleteResponse" ? error.reason.received : 0, 7)
    }))

  it.live("detects a keep-alive connection the server closed while idle before writing, and the server gets no request", () =>
    Effect.gen(function*() {
      // the server half-closes the idle keep-alive socket itself, well inside its Keep-Alive hint
      const server = yield* serve((req, res) => res.end("ok", () => setTimeout(() => req.socket.end(), 10)))
      const connection = yield* HttpConnection.connect(server.url)
      const reader = ResponseReader.make()
      const writer = writerFor(server)
      yield* connection.send(writer.get("/").finish(), reader)
      // wait (bounded by the test timeout) for the server's FIN to reach our socket
      while (connection.status === "Ready") yield* Effect.sleep("5 millis")
      assert.strictEqual(connection.status, "Stale")
      const written = connection.transport.bytesWritten
      const error = yield* Effect.flip(connection.send(writer.post("/order").body("{}").finish(), reader))
      assert.deepStrictEqual(error.reason, new HttpConnection.ConnectionStale({ kind: "PeerEnded" }))
      assert.deepStrictEqual([error.requestSent, connection.transport.bytesWritten, server.requests()], [
        false,
        written,
        1
      ])
      // the refused send closed our half of the socket
      yield* drained(server)
    }))

  it.live("takes node's Keep-Alive: timeout=5 hint as 4 s of allowed idle time", () =>
    Effect.gen(function*() {
      const server = yield* serve((_req, res) => res.end("ok"))
      const connection = yield* HttpConnection.connect({ url: server.url, idleTimeout: "50 millis" })
      const reader = ResponseReader.make()
      const response = yield* connection.send(writerFor(server).get("/").finish(), reader)
      assert.strictEqual(response.header("keep-alive"), "timeout=5")
      // the hint (5 s − 1 s) replaces the 50 ms default
      yield* Effect.sleep("100 millis")
      assert.strictEqual(connection.status, "Ready")
    }))

  it.live("works over an effect/socket Socket through FromSocket", () =>
    Effect.gen(function*() {
      const server = yield* serve(echoHandler)
      const socket = yield* NodeSocket.makeNet({ host: "127.0.0.1", port: server.port })
      const transport = yield* FromSocket.fromSocket(socket, { remoteAddress: `127.0.0.1:${server.port}` })
      const connection = yield* HttpConnection.make(transport)
      const writer = writerFor(server)
      const reader = ResponseReader.make()
      for (let i = 0; i < 20; i++) {
        const response = yield* connection.send(writer.post("/").body(`n=${i}`).finish(), reader)
        assert.strictEqual(response.bodyText(), `n=${i}`)
      }
      assert.strictEqual(server.accepted(), 1)
    }))

  it.live("provides the connection as a service through layer, closed with the layer", () =>
    Effect.gen(function*() {
      const server = yield* serve(echoHandler)
      const body = yield* Effect.gen(function*() {
        const connection = yield* HttpConnection.HttpConnection
        const response = yield* connection.send(writerFor(server).post("/").body("via layer").finish(), ResponseReader.make())
        return response.bodyText()
      }).pipe(Effect.provide(HttpConnection.layer(server.url)))
      assert.strictEqual(body, "via layer")
      yield* drained(server)
      assert.deepStrictEqual([server.accepted(), server.open()], [1, 0])
    }))

  it.live("fails connect with a typed ConnectError reason naming the address", () =>
    Effect.gen(function*() {
      const server = yield* serve(echoHandler)
      const port = server.port
      yield* Effect.promise(() => new Promise((resolve) => server.server.close(resolve)))
      const error = yield* Effect.flip(HttpConnection.connect(`http://127.0.0.1:${port}/`))
      assert.deepStrictEqual([error.reason._tag, error.requestSent, error.address], [
        "ConnectError",
        false,
        `127.0.0.1:${port}`
      ])
      assert.include(error.message, "connection refused")
    }))
})
