import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as HttpClientResponse from "effect/http/HttpClientResponse"
import { afterAll, beforeAll } from "vitest"
import * as NexusHttpClient from "../../src/Layers/NexusHttpClient.ts"
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

const client = Effect.map(
  Layer.build(NexusHttpClient.layer({ connections: 2 })),
  (context) => Context.get(context, HttpClient.HttpClient)
)

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
      const http = HttpClient.filterStatusOk(yield* client)
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
      const http = yield* client
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
})
