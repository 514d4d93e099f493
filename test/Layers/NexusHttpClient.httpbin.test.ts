import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as HttpClientResponse from "effect/http/HttpClientResponse"
import { afterAll, beforeAll } from "vitest"
import * as NexusHttpClient from "../../src/Layers/NexusHttpClient.ts"
import { client } from "../support/nexusHttpClient.ts"
import { awaitEstablished, freePort, httpbinAvailable, type Peer, startHttpbin } from "../support/peers.ts"

// Effect's HttpClient on our pools against httpbin (Debian python3-httpbin) under gunicorn's
// threaded worker, which keeps connections alive and streams chunked bodies, on 127.0.0.1.

const available = httpbinAvailable("NexusHttpClient.httpbin")

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

const twoConnections = client({ connections: 2 })

const Echo = Schema.Struct({
  args: Schema.Record(Schema.String, Schema.String),
  headers: Schema.Record(Schema.String, Schema.String),
  json: Schema.optional(Schema.Unknown),
  form: Schema.optional(Schema.Record(Schema.String, Schema.String)),
  data: Schema.optional(Schema.String)
})

describe.skipIf(!available)("NexusHttpClient against httpbin (gunicorn gthread)", () => {
  it.live("GET with query and headers, POST JSON and a form, decoded with schemaBodyJson, on two kept-alive connections", () =>
    Effect.gen(function*() {
      const http = HttpClient.filterStatusOk(yield* twoConnections)
      const base = `http://127.0.0.1:${port}`
      const get = yield* http.execute(
        HttpClientRequest.get(`${base}/get`).pipe(
          HttpClientRequest.setUrlParam("symbol", "BTC/USDT"),
          HttpClientRequest.setHeader("X-Api-Key", "k1")
        )
      ).pipe(Effect.flatMap(HttpClientResponse.schemaBodyJson(Echo)))
      assert.deepStrictEqual(get.args, { symbol: "BTC/USDT" })
      assert.strictEqual(get.headers["X-Api-Key"], "k1")
      assert.isString(get.headers["Traceparent"], "the trace context went out")
      const json = yield* http.execute(
        HttpClientRequest.post(`${base}/post`).pipe(HttpClientRequest.bodyJsonUnsafe({ side: "buy", px: "ü" }))
      ).pipe(Effect.flatMap(HttpClientResponse.schemaBodyJson(Echo)))
      assert.deepStrictEqual(json.json, { side: "buy", px: "ü" })
      const form = yield* http.execute(
        HttpClientRequest.put(`${base}/put`).pipe(HttpClientRequest.bodyUrlParams({ a: "1", b: "two words" }))
      ).pipe(Effect.flatMap(HttpClientResponse.schemaBodyJson(Echo)))
      assert.deepStrictEqual(form.form, { a: "1", b: "two words" })
      assert.strictEqual(yield* Effect.promise(() => awaitEstablished(port, 2)), 2, "the pool's two connections, kept alive")
    }).pipe(Effect.scoped))

  it.live("a chunked /stream-bytes body, a HEAD, a 204 and a 418 through filterStatusOk", () =>
    Effect.gen(function*() {
      const http = yield* twoConnections
      const base = `http://127.0.0.1:${port}`
      const bytes = yield* http.get(`${base}/stream-bytes/50000?seed=1&chunk_size=1000`)
      assert.strictEqual(bytes.headers["transfer-encoding"], "chunked")
      const chunks = yield* Stream.runCollect(bytes.stream)
      assert.strictEqual(chunks.reduce((n, c) => n + c.length, 0), 50_000)
      const head = yield* http.head(`${base}/get`)
      assert.deepStrictEqual([head.status, yield* head.text], [200, ""])
      assert.strictEqual((yield* http.get(`${base}/status/204`)).status, 204)
      const teapot = yield* Effect.flip(HttpClient.filterStatusOk(http).get(`${base}/status/418`))
      assert.deepStrictEqual([teapot.reason._tag, teapot.response?.status], ["StatusCodeError", 418])
      // the connections survived all of it
      assert.strictEqual((yield* http.get(`${base}/get`)).status, 200)
    }).pipe(Effect.scoped))

  it.live("status codes 200–503 as they are, and filterStatusOk fails each non-2xx with StatusCodeError", () =>
    Effect.gen(function*() {
      const http = yield* twoConnections
      const base = `http://127.0.0.1:${port}`
      const codes = [200, 201, 202, 301, 400, 401, 404, 409, 429, 500, 503]
      const statuses = yield* Effect.forEach(codes, (code) => Effect.map(http.get(`${base}/status/${code}`), (r) => r.status))
      assert.deepStrictEqual(statuses, codes)
      const failed = yield* Effect.forEach([404, 500], (code) => Effect.flip(HttpClient.filterStatusOk(http).get(`${base}/status/${code}`)))
      assert.deepStrictEqual(failed.map((e) => [e.reason._tag, e.response?.status]), [["StatusCodeError", 404], ["StatusCodeError", 500]])
    }).pipe(Effect.scoped))

  it.live("/stream-bytes streams a chunked body not complete with its head in pieces, the same bytes for the same seed", () =>
    Effect.gen(function*() {
      const http = yield* twoConnections
      const url = `http://127.0.0.1:${port}/stream-bytes/100000?seed=7&chunk_size=4096`
      const streamed = yield* Stream.runCollect((yield* http.get(url)).stream)
      assert.isAbove(streamed.length, 1, "more than one chunk")
      const whole = Buffer.concat(streamed)
      assert.strictEqual(whole.length, 100_000) // httpbin serves at most 100 KiB here
      const collected = Buffer.from(yield* (yield* http.get(url)).arrayBuffer)
      assert.isTrue(collected.equals(whole))
    }).pipe(Effect.scoped))

  it.live("/delay past Effect.timeout is interrupted and past readTimeout fails with ReadTimeout; the pool goes on", () =>
    Effect.gen(function*() {
      const http = yield* twoConnections
      const base = `http://127.0.0.1:${port}`
      const timedOut = yield* Effect.exit(Effect.timeout(http.get(`${base}/delay/3`), "300 millis"))
      assert.isTrue(Exit.isFailure(timedOut))
      const patient = yield* client({ connections: 1, readTimeout: "300 millis" })
      const error = yield* Effect.flip(patient.get(`${base}/delay/3`))
      const cause = error.reason.cause as { reason: { _tag: string }; requestSent: boolean }
      assert.deepStrictEqual([error.reason._tag, cause.reason._tag, cause.requestSent], ["TransportError", "ReadTimeout", true])
      assert.isFalse(NexusHttpClient.isRetryable(error), "a slow server is not retried")
      assert.strictEqual((yield* http.get(`${base}/get`)).status, 200)
      assert.strictEqual((yield* patient.get(`${base}/get`)).status, 200)
    }).pipe(Effect.scoped))

  it.live("/redirect/3 with HttpClient.followRedirects ends at /get; without it the 302 is returned", () =>
    Effect.gen(function*() {
      const http = yield* twoConnections
      const base = `http://127.0.0.1:${port}`
      const followed = yield* HttpClient.followRedirects(http, 5).get(`${base}/redirect/3`)
      assert.deepStrictEqual([followed.status, new URL(followed.url).pathname], [200, "/get"])
      const raw = yield* http.get(`${base}/redirect/3`)
      assert.deepStrictEqual([raw.status, raw.headers.location], [302, "/relative-redirect/2"])
    }).pipe(Effect.scoped))

  it.live("an 8 MiB text upload to /anything comes back in httpbin's JSON, streamed and decoded with Schema", () =>
    Effect.gen(function*() {
      const http = HttpClient.filterStatusOk(yield* twoConnections)
      const text = "effect-nexus ".repeat(Math.ceil((8 * 1024 * 1024) / 13)).slice(0, 8 * 1024 * 1024)
      const echoed = yield* http.execute(
        HttpClientRequest.post(`http://127.0.0.1:${port}/anything`).pipe(HttpClientRequest.bodyText(text, "text/plain"))
      ).pipe(Effect.flatMap(HttpClientResponse.schemaBodyJson(Echo)))
      assert.strictEqual(echoed.data!.length, text.length)
      assert.isTrue(echoed.data === text)
      assert.strictEqual(echoed.headers["Content-Length"], String(text.length))
    }).pipe(Effect.scoped), 60_000)
})
