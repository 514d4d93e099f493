import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { afterAll, beforeAll } from "vitest"
import * as RequestWriter from "../../src/Codec/RequestWriter.ts"
import * as ResponseReader from "../../src/Codec/ResponseReader.ts"
import * as HttpConnection from "../../src/Transport/HttpConnection.ts"
import { awaitEstablished, establishedAt, freePort, httpbinAvailable, type Peer, startHttpbin } from "../support/peers.ts"

// httpbin (Debian python3-httpbin) under gunicorn's threaded worker, which keeps connections
// alive and streams chunked bodies, on 127.0.0.1 with an ephemeral port.

const available = httpbinAvailable("HttpConnection.httpbin")

let peer: Peer | undefined
let port = 0

beforeAll(async () => {
  if (!available) return
  port = await freePort()
  peer = await startHttpbin(port)
}, 30_000)

afterAll(async () => {
  await peer?.stop()
})

const established = (n: number) => Effect.promise(() => awaitEstablished(port, n))

/** A connection, writer and reader for one test, inside its scope. */
const open = (options: HttpConnection.ConnectOptions = {}) =>
  Effect.map(HttpConnection.connect(`http://127.0.0.1:${port}/`, options), (connection) => ({
    connection,
    writer: RequestWriter.make({ host: `127.0.0.1:${port}`, defaultHeaders: [["User-Agent", "effect-nexus-test"]] }),
    reader: ResponseReader.make()
  }))

interface Echo {
  readonly method: string
  readonly args: Record<string, string>
  readonly headers: Record<string, string>
  readonly data: string
}

describe.skipIf(!available)("HttpConnection against httpbin (gunicorn gthread)", () => {
  it.live("GET, POST, PUT, DELETE and PATCH with query parameters, custom headers and bodies on one connection", () =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const { connection, writer, reader } = yield* open()
        for (const method of ["GET", "POST", "PUT", "DELETE", "PATCH"] as const) {
          const builder = writer.request(method, "/anything").query("symbol", "BTC/USDT").query("q", "a b&c")
            .header("X-Api-Key", `key-${method}`)
          const request = method === "GET" || method === "DELETE"
            ? builder.finish()
            : builder.header("Content-Type", "application/json").body(`{"side":"${method}","px":"ü"}`).finish()
          const response = yield* connection.send(request, reader)
          assert.strictEqual(response.status, 200)
          const echo = JSON.parse(response.bodyText()) as Echo
          assert.deepStrictEqual(
            [echo.method, echo.args, echo.headers["X-Api-Key"], echo.headers["User-Agent"]],
            [method, { symbol: "BTC/USDT", q: "a b&c" }, `key-${method}`, "effect-nexus-test"]
          )
          assert.strictEqual(echo.data, method === "GET" || method === "DELETE" ? "" : `{"side":"${method}","px":"ü"}`)
        }
        assert.deepStrictEqual([connection.status, establishedAt(port)], ["Ready", 1])
      }))
      assert.strictEqual(yield* established(0), 0)
    }))

  it.live("reuses one keep-alive connection for 100 requests", () =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const { connection, writer, reader } = yield* open()
        for (let i = 0; i < 100; i++) {
          const response = yield* connection.send(writer.get("/get").query("i", String(i)).finish(), reader)
          assert.strictEqual((JSON.parse(response.bodyText()) as Echo).args.i, String(i))
        }
        assert.deepStrictEqual([connection.requestCount, connection.status, establishedAt(port)], [100, "Ready", 1])
      }))
      assert.strictEqual(yield* established(0), 0)
    }))

  it.live("returns status codes as sent, including 204 without a body and errors, and stays reusable", () =>
    Effect.scoped(Effect.gen(function*() {
      const { connection, writer, reader } = yield* open()
      const seen: Array<[number, number]> = []
      for (const code of [200, 201, 204, 400, 404, 418, 500, 503]) {
        const response = yield* connection.send(writer.get(`/status/${code}`).finish(), reader)
        seen.push([response.status, code === 204 ? response.bodyLength : 0])
      }
      assert.deepStrictEqual(seen, [[200, 0], [201, 0], [204, 0], [400, 0], [404, 0], [418, 0], [500, 0], [503, 0]])
      assert.strictEqual(connection.status, "Ready")
      const head = yield* connection.send(writer.head("/get").finish(), reader)
      assert.deepStrictEqual([head.status, head.bodyLength, connection.status], [200, 0, "Ready"])
    })))

  it.live("reads /stream-bytes as a chunked body and /bytes by Content-Length", () =>
    Effect.scoped(Effect.gen(function*() {
      const { connection, writer, reader } = yield* open()
      const streamed = yield* connection.send(
        writer.get("/stream-bytes/100000").query("chunk_size", "777").query("seed", "7").finish(),
        reader
      )
      assert.deepStrictEqual([streamed.status, streamed.chunked, streamed.bodyLength], [200, true, 100_000])
      const first = Buffer.from(streamed.copyBody())
      const again = yield* connection.send(
        writer.get("/stream-bytes/100000").query("chunk_size", "4096").query("seed", "7").finish(),
        reader
      )
      // same seed, different chunk framing: the decoded bytes are identical
      assert.isTrue(again.chunked)
      assert.isTrue(Buffer.from(again.body).equals(first))
      const fixed = yield* connection.send(writer.get("/bytes/65536").finish(), reader)
      assert.deepStrictEqual([fixed.chunked, fixed.contentLength, fixed.bodyLength], [false, 65536, 65536])
      assert.strictEqual(connection.status, "Ready")
    })))

  it.live("returns /redirect's 302 without following it", () =>
    Effect.scoped(Effect.gen(function*() {
      const { connection, writer, reader } = yield* open()
      const response = yield* connection.send(writer.get("/redirect/3").finish(), reader)
      assert.deepStrictEqual([response.status, response.header("location")], [302, "/relative-redirect/2"])
      const absolute = yield* connection.send(
        writer.get("/redirect-to").query("url", "http://127.0.0.1:1/elsewhere").finish(),
        reader
      )
      assert.deepStrictEqual([absolute.status, absolute.header("location")], [302, "http://127.0.0.1:1/elsewhere"])
      assert.strictEqual(connection.requestCount, 2)
    })))

  it.live("a /delay longer than the read timeout poisons the connection and frees the socket", () =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const { connection, writer, reader } = yield* open({ readTimeout: "300 millis" })
        yield* connection.send(writer.get("/get").finish(), reader)
        const error = yield* Effect.flip(connection.send(writer.get("/delay/2").finish(), reader))
        assert.deepStrictEqual([error.reason._tag, error.requestSent], ["ReadTimeout", true])
        assert.strictEqual(
          error.message,
          `HTTP exchange with 127.0.0.1:${port} failed: no response bytes within the read timeout of 300ms (request bytes were sent)`
        )
        assert.strictEqual(connection.status, "Poisoned")
        const later = yield* Effect.flip(connection.send(writer.get("/get").finish(), reader))
        assert.deepStrictEqual([later.reason._tag, later.requestSent], ["ConnectionPoisoned", false])
        // destroyed at the timeout, not at the end of the scope
        assert.strictEqual(yield* established(0), 0)
      }))
    }))

  it.live("a request with Connection: close gets a last response and a connection marked not reusable", () =>
    Effect.scoped(Effect.gen(function*() {
      const { connection, writer, reader } = yield* open()
      const response = yield* connection.send(writer.get("/get").header("Connection", "close").finish(), reader)
      assert.deepStrictEqual([response.status, response.header("connection")?.toLowerCase()], [200, "close"])
      assert.deepStrictEqual(connection.unusableReason, new HttpConnection.ConnectionNotReusable({ kind: "ConnectionClose" }))
      assert.strictEqual(yield* established(0), 0)
    })))
})
