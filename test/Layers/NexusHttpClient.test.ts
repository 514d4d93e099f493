import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/testing/TestClock"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientError from "effect/http/HttpClientError"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as UrlParams from "effect/http/UrlParams"
import * as http from "node:http"
import type * as net from "node:net"
import * as NexusHttpClient from "../../src/Layers/NexusHttpClient.ts"
import { client, until } from "../support/nexusHttpClient.ts"
import { freePort } from "../support/peers.ts"

// Effect's HttpClient over our pools against real node:http servers on 127.0.0.1. Each server
// records what it received and tracks its sockets, so a test sees how many connections a pool
// opened, which one an interruption closed, and what bytes a body became on the wire.

interface Seen {
  readonly method: string
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: Buffer
}

interface Origin {
  readonly url: string
  readonly port: number
  /** Sockets open now. */
  readonly sockets: Set<net.Socket>
  /** Requests received, in order. */
  readonly seen: Array<Seen>
  /** Connections accepted so far. */
  accepted: number
  /** Resolves with the socket of the next request to `/hang` (never answered). */
  nextHang: () => Promise<net.Socket>
  readonly close: () => Promise<void>
}

/** `keepAliveSeconds` is also the `Keep-Alive: timeout=N` hint node:http sends, which bounds our idle time. */
const startOrigin = (keepAliveSeconds = 60): Promise<Origin> =>
  new Promise((resolve) => {
    let hangWaiter: ((socket: net.Socket) => void) | undefined
    const server = http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (chunk: Buffer) => chunks.push(chunk))
      req.on("end", () => {
        const url = req.url ?? "/"
        const body = Buffer.concat(chunks)
        origin.seen.push({ method: req.method ?? "", url, headers: req.headers, body })
        const path = url.split("?")[0]!
        if (path === "/hang") {
          hangWaiter?.(req.socket)
          return
        }
        if (path === "/reset") return void req.socket.resetAndDestroy()
        if (path.startsWith("/status/")) {
          res.writeHead(Number(path.slice(8)), { "content-type": "text/plain" })
          return void res.end("status body")
        }
        switch (path) {
          case "/json": {
            const json = JSON.stringify({ id: 7, name: "nexus" })
            res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(json) })
            return void res.end(req.method === "HEAD" ? undefined : json)
          }
          case "/no-content":
            res.writeHead(204)
            return void res.end()
          case "/not-modified":
            res.writeHead(304, { etag: '"v1"' })
            return void res.end()
          case "/early-hints":
            res.writeEarlyHints({ link: "</style.css>; rel=preload" })
            res.writeHead(200, { "content-type": "text/plain" })
            return void res.end("after hints")
          case "/close":
            res.writeHead(200, { connection: "close", "content-type": "text/plain" })
            return void res.end("closing")
          case "/cookies":
            res.setHeader("set-cookie", ["a=1; Path=/", "b=2; Path=/"])
            res.writeHead(200, { "x-multi": ["one", "two"] })
            return void res.end()
          case "/chunked":
            res.writeHead(200, { "content-type": "text/plain" })
            res.write("part one, ")
            return void setImmediate(() => res.end("part two"))
          case "/bom": {
            // JSON as some servers send it: UTF-8 with a byte order mark
            const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify({ id: 7, name: "nexus" }))])
            res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": bytes.length })
            return void res.end(bytes)
          }
          case "/form": {
            const form = "a=1&b=two+words"
            res.writeHead(200, { "content-type": "application/x-www-form-urlencoded" })
            return void res.end(form)
          }
          default: {
            const echo = JSON.stringify({
              method: req.method,
              url,
              contentType: req.headers["content-type"] ?? null,
              contentLength: req.headers["content-length"] ?? null,
              transferEncoding: req.headers["transfer-encoding"] ?? null,
              length: body.length
            })
            res.writeHead(200, { "content-type": "application/json" })
            return void res.end(echo)
          }
        }
      })
    })
    server.keepAliveTimeout = keepAliveSeconds * 1000
    server.on("connection", (socket: net.Socket) => {
      origin.accepted++
      origin.sockets.add(socket)
      socket.on("close", () => origin.sockets.delete(socket))
    })
    const origin: Origin = {
      url: "",
      port: 0,
      sockets: new Set(),
      seen: [],
      accepted: 0,
      nextHang: () => new Promise((ok) => (hangWaiter = ok)),
      close: () =>
        new Promise<void>((ok) => {
          for (const socket of origin.sockets) socket.destroy()
          server.close(() => ok())
        })
    }
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      Object.assign(origin, { port, url: `http://127.0.0.1:${port}` })
      resolve(origin)
    })
  })

/** Runs `f` with a fresh origin, closed afterwards however the test ends. */
const withOrigin = <A, E, R>(f: (origin: Origin) => Effect.Effect<A, E, R>, keepAliveSeconds?: number) =>
  Effect.acquireUseRelease(Effect.promise(() => startOrigin(keepAliveSeconds)), f, (origin) => Effect.promise(() => origin.close()))

const Thing = Schema.Struct({ id: Schema.Number, name: Schema.String })

describe("NexusHttpClient over node:http", () => {
  it.live("GET decodes a JSON body with HttpClientResponse.schemaBodyJson, with status, headers and url", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const http = yield* client({ connections: 2 })
        const response = yield* http.get(`${origin.url}/json?x=1#frag`)
        assert.strictEqual(response.status, 200)
        assert.strictEqual(response.headers["content-type"], "application/json")
        assert.strictEqual(response.url, `${origin.url}/json?x=1`)
        assert.deepStrictEqual(yield* HttpClientResponse.schemaBodyJson(Thing)(response), { id: 7, name: "nexus" })
        // the body can be read again, in every form
        assert.strictEqual(yield* response.text, '{"id":7,"name":"nexus"}')
        assert.strictEqual((yield* response.arrayBuffer).byteLength, 23)
        const streamed = yield* Stream.runCollect(response.stream)
        assert.strictEqual(Buffer.concat(streamed as Array<Uint8Array>).toString(), '{"id":7,"name":"nexus"}')
        assert.deepStrictEqual(origin.seen.map((s) => `${s.method} ${s.url}`), ["GET /json?x=1"])
        assert.strictEqual(origin.seen[0]!.headers.host, `127.0.0.1:${origin.port}`)
      }).pipe(Effect.scoped)
    ))

  it.live("a UTF-8 byte order mark is not part of text, so json and schemaBodyJson decode the body (as undici's TextDecoder)", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const http = yield* client()
        const response = yield* http.get(`${origin.url}/bom`)
        assert.strictEqual(yield* response.text, `{"id":7,"name":"nexus"}`)
        assert.deepStrictEqual(yield* response.json, { id: 7, name: "nexus" })
        assert.deepStrictEqual(yield* HttpClientResponse.schemaBodyJson(Thing)(response), { id: 7, name: "nexus" })
        assert.strictEqual((yield* response.arrayBuffer).byteLength, 26, "the bytes keep it")
      }).pipe(Effect.scoped)
    ))

  it.live("URL params and a hash are read afresh per request (not from the plain URL's cache entry); the hash is never sent", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const http = yield* client({ connections: 1 })
        const base = HttpClientRequest.get(`${origin.url}/echo`)
        yield* http.execute(base)
        const a = yield* http.execute(base.pipe(HttpClientRequest.setUrlParam("symbol", "BTC/USDT")))
        yield* http.execute(base.pipe(HttpClientRequest.setUrlParam("symbol", "ETH"), HttpClientRequest.setHash("top")))
        yield* http.execute(base)
        assert.deepStrictEqual(origin.seen.map((s) => s.url), ["/echo", "/echo?symbol=BTC%2FUSDT", "/echo?symbol=ETH", "/echo"])
        assert.strictEqual(a.url, `${origin.url}/echo?symbol=BTC%2FUSDT`)
      }).pipe(Effect.scoped)
    ))

  it.live("a chunked body, repeated headers, Set-Cookie and a urlencoded body are read as undici's client presents them", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const http = yield* client({ connections: 1 })
        assert.strictEqual(yield* (yield* http.get(`${origin.url}/chunked`)).text, "part one, part two")
        const cookies = yield* http.get(`${origin.url}/cookies`)
        assert.strictEqual(cookies.headers["x-multi"], "one, two")
        assert.deepStrictEqual(Object.keys(cookies.cookies.cookies).sort(), ["a", "b"])
        const form = yield* (yield* http.get(`${origin.url}/form`)).urlParamsBody
        assert.deepStrictEqual(UrlParams.toRecord(form), { a: "1", b: "two words" })
        const bad = yield* Effect.flip((yield* http.get(`${origin.url}/status/200`)).json)
        assert.strictEqual(bad.reason._tag, "DecodeError")
        assert.include(bad.message, "the response body is not JSON")
        assert.strictEqual(origin.accepted, 1, "every exchange rode the one keep-alive connection")
      }).pipe(Effect.scoped)
    ))

  it.live("request bodies: text, JSON, urlencoded form, bytes and FormData arrive with their type and exact length, a Stream chunked or with its declared length", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const http = yield* client({ connections: 1 })
        const post = (request: HttpClientRequest.HttpClientRequest) =>
          Effect.flatMap(http.execute(request), (response) => response.json)
        const url = `${origin.url}/echo`
        yield* post(HttpClientRequest.post(url).pipe(HttpClientRequest.bodyText("héllo")))
        yield* post(HttpClientRequest.post(url).pipe(HttpClientRequest.bodyJsonUnsafe({ a: [1, 2] })))
        yield* post(HttpClientRequest.put(url).pipe(HttpClientRequest.bodyUrlParams({ q: "a b", n: "1" })))
        yield* post(HttpClientRequest.patch(url).pipe(HttpClientRequest.bodyUint8Array(new Uint8Array([0, 1, 2]))))
        const form = new FormData()
        form.append("field", "value")
        yield* post(HttpClientRequest.post(url).pipe(HttpClientRequest.bodyFormData(form)))
        const stream = Stream.make(Buffer.from("ab"), Buffer.from("cd"), Buffer.from("ef"))
        yield* post(HttpClientRequest.post(url).pipe(HttpClientRequest.bodyStream(stream)))
        yield* post(HttpClientRequest.put(url).pipe(HttpClientRequest.bodyStream(stream, { contentLength: 6 })))
        yield* post(HttpClientRequest.post(url))
        const [text, json, urlParams, bytes, multipart, streamed, sized, empty] = origin.seen
        assert.deepStrictEqual([text!.headers["content-type"], text!.body.toString()], ["text/plain", "héllo"])
        assert.strictEqual(text!.headers["content-length"], "6")
        assert.deepStrictEqual([json!.headers["content-type"], json!.body.toString()], ["application/json", '{"a":[1,2]}'])
        assert.deepStrictEqual(
          [urlParams!.method, urlParams!.headers["content-type"], urlParams!.body.toString()],
          ["PUT", "application/x-www-form-urlencoded", "q=a+b&n=1"]
        )
        assert.deepStrictEqual([bytes!.method, [...bytes!.body]], ["PATCH", [0, 1, 2]])
        assert.match(multipart!.headers["content-type"]!, /^multipart\/form-data; boundary=/)
        assert.include(multipart!.body.toString(), 'name="field"\r\n\r\nvalue')
        assert.strictEqual(Number(multipart!.headers["content-length"]), multipart!.body.length)
        assert.deepStrictEqual(
          [streamed!.body.toString(), streamed!.headers["content-length"], streamed!.headers["transfer-encoding"]],
          ["abcdef", undefined, "chunked"]
        )
        assert.deepStrictEqual(
          [sized!.body.toString(), sized!.headers["content-length"], sized!.headers["transfer-encoding"]],
          ["abcdef", "6", undefined]
        )
        assert.strictEqual(origin.accepted, 1, "one connection carried every body")
        assert.deepStrictEqual([empty!.headers["content-length"], empty!.body.length], ["0", 0])
      }).pipe(Effect.scoped)
    ))

  it.live("a body larger than the slot's request buffer goes out whole, and the connection stays usable", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const http = yield* client({ connections: 1, writeBufferCapacity: 1024 })
        const big = Buffer.alloc(300_000)
        for (let i = 0; i < big.length; i++) big[i] = i % 251
        const response = yield* http.execute(
          HttpClientRequest.post(`${origin.url}/echo`).pipe(HttpClientRequest.bodyUint8Array(big), HttpClientRequest.setHeader("x-trace", "big"))
        )
        assert.strictEqual(response.status, 200)
        assert.isTrue(origin.seen[0]!.body.equals(big))
        assert.strictEqual(origin.seen[0]!.headers["x-trace"], "big")
        assert.strictEqual((yield* http.get(`${origin.url}/json`)).status, 200)
        assert.strictEqual(origin.accepted, 1)
      }).pipe(Effect.scoped)
    ))

  it.live("HEAD, 204, 304 and a 103 before the answer complete without a body, and the connection is reused after each", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const http = yield* client({ connections: 1 })
        const head = yield* http.head(`${origin.url}/json`)
        assert.deepStrictEqual([head.status, head.headers["content-length"], yield* head.text], [200, "23", ""])
        const noContent = yield* http.get(`${origin.url}/no-content`)
        assert.deepStrictEqual([noContent.status, yield* noContent.text], [204, ""])
        assert.deepStrictEqual(yield* Stream.runCollect(noContent.stream), [])
        const notModified = yield* http.get(`${origin.url}/not-modified`)
        assert.deepStrictEqual([notModified.status, notModified.headers.etag], [304, '"v1"'])
        const hinted = yield* http.get(`${origin.url}/early-hints`)
        assert.deepStrictEqual([hinted.status, yield* hinted.text], [200, "after hints"])
        assert.strictEqual((yield* http.get(`${origin.url}/json`)).status, 200)
        assert.strictEqual(origin.accepted, 1)
      }).pipe(Effect.scoped)
    ))

  it.live("Connection: close answers complete, and the next request gets a fresh connection", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const http = yield* client({ connections: 1 })
        assert.strictEqual(yield* (yield* http.get(`${origin.url}/close`)).text, "closing")
        assert.strictEqual(yield* (yield* http.get(`${origin.url}/close`)).text, "closing")
        assert.strictEqual((yield* http.get(`${origin.url}/json`)).status, 200)
        assert.strictEqual(origin.seen.length, 3)
        assert.isAtLeast(origin.accepted, 3, "each close was followed by a new connection")
      }).pipe(Effect.scoped)
    ))

  it.live("HttpClient.filterStatusOk fails a 404 with StatusCodeError and passes a 200", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const http = HttpClient.filterStatusOk(yield* client())
        const error = yield* Effect.flip(http.get(`${origin.url}/status/404`))
        assert.strictEqual(error.reason._tag, "StatusCodeError")
        assert.strictEqual(error.response?.status, 404)
        assert.strictEqual(yield* error.response!.text, "status body")
        assert.strictEqual((yield* http.get(`${origin.url}/status/201`)).status, 201)
      }).pipe(Effect.scoped)
    ))

  it.live("a refused port fails with TransportError whose cause is the pool's HttpError, requestSent false, and dials again next time", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(freePort)
      const http = yield* client({ connections: 2 })
      const error = yield* Effect.flip(http.post(`http://127.0.0.1:${port}/orders`))
      assert.strictEqual(error.reason._tag, "TransportError")
      const cause = error.reason.cause as { _tag: string; reason: { _tag: string }; requestSent: boolean }
      assert.deepStrictEqual([cause._tag, cause.reason._tag, cause.requestSent], ["HttpError", "ConnectError", false])
      assert.include(error.message, `127.0.0.1:${port}`)
      assert.strictEqual(NexusHttpClient.requestSent(error), false)
      assert.isTrue(NexusHttpClient.isRetryable(error), "nothing was sent: even a POST may go again")
      // the failed build left no pool behind: the next request dials (and fails) again, not hangs
      const again = yield* Effect.flip(http.get(`http://127.0.0.1:${port}/`))
      assert.strictEqual(again.reason._tag, "TransportError")
    }).pipe(Effect.scoped))

  it.live("bad URLs and bad headers fail typed before anything is sent", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const http = yield* client()
        const ftp = yield* Effect.flip(http.get("ftp://127.0.0.1/file"))
        assert.deepStrictEqual([ftp.reason._tag, ftp.message.includes('scheme "ftp" is not HTTP')], ["InvalidUrlError", true])
        const creds = yield* Effect.flip(http.get(`http://user:pw@127.0.0.1:${origin.port}/`))
        assert.strictEqual(creds.reason._tag, "InvalidUrlError")
        assert.include(creds.message, "credentials in the URL are not sent")
        const header = yield* Effect.flip(
          http.execute(HttpClientRequest.get(`${origin.url}/json`).pipe(HttpClientRequest.setHeader("x-bad", "a\r\nInjected: 1")))
        )
        assert.strictEqual(header.reason._tag, "EncodeError")
        assert.include(header.message, "(CrlfInjection): header value holds CR at index 1")
        assert.strictEqual(NexusHttpClient.requestSent(header), false)
        assert.deepStrictEqual(origin.seen, [], "nothing reached the server")
      }).pipe(Effect.scoped)
    ))

  it.live("two origins get two pools; concurrent first requests to one origin share one pool build", () =>
    withOrigin((a) =>
      withOrigin((b) =>
        Effect.gen(function*() {
          const http = yield* client({ connections: 2 })
          const statuses = yield* Effect.forEach(
            Array.from({ length: 8 }, (_, i) => `${i % 2 === 0 ? a.url : b.url}/json?i=${i}`),
            (url) => Effect.map(http.get(url), (r) => r.status),
            { concurrency: "unbounded" }
          )
          assert.deepStrictEqual(statuses, Array(8).fill(200))
          assert.deepStrictEqual([a.accepted, b.accepted], [2, 2], "one pool of 2 connections per origin")
          assert.deepStrictEqual([a.seen.length, b.seen.length], [4, 4])
        }).pipe(Effect.scoped)
      )
    ))

  it.live("maxOrigins: opening a pool past the cap closes the least recently used idle one", () =>
    withOrigin((a) =>
      withOrigin((b) =>
        Effect.gen(function*() {
          const http = yield* client({ connections: 1, maxOrigins: 1 })
          yield* http.get(`${a.url}/json`)
          assert.strictEqual(a.sockets.size, 1)
          yield* http.get(`${b.url}/json`)
          yield* until(() => a.sockets.size === 0, "a's pool closed")
          assert.strictEqual(b.sockets.size, 1)
          // a comes back with a new pool (and b, now least recently used, goes)
          yield* http.get(`${a.url}/json`)
          assert.strictEqual(a.accepted, 2)
          yield* until(() => b.sockets.size === 0, "b's pool closed")
        }).pipe(Effect.scoped)
      )
    ))

  it.effect("originIdleTimeout: a pool unused for that long is closed by the sweep, a used one is kept (TestClock)", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        // connections that outlive the test's 181 s (server hint 600 s), so only the sweep closes them
        const http = yield* client({ connections: 1, originIdleTimeout: "60 seconds" })
        yield* http.get(`${origin.url}/json`)
        yield* TestClock.adjust("30 seconds")
        yield* http.get(`${origin.url}/json`)
        yield* TestClock.adjust("31 seconds")
        // the sweep at 60 s saw the pool used 30 s ago: kept, same connection
        yield* http.get(`${origin.url}/json`)
        assert.deepStrictEqual([origin.accepted, origin.sockets.size], [1, 1])
        // last used at 61 s: the sweep at 120 s finds it 59 s idle, the one at 180 s closes it
        yield* TestClock.adjust("60 seconds")
        yield* Effect.promise(() => new Promise((ok) => setTimeout(ok, 50)))
        assert.strictEqual(origin.sockets.size, 1, "not closed before a full period idle")
        yield* TestClock.adjust("60 seconds")
        yield* until(() => origin.sockets.size === 0, "the idle pool closed")
        yield* http.get(`${origin.url}/json`)
        assert.strictEqual(origin.accepted, 2, "a new pool after the eviction")
      }).pipe(Effect.scoped), 600))

  it.live("interrupting a request mid-flight closes that connection only; the pool serves the next request", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const http = yield* client({ connections: 2 })
        yield* http.get(`${origin.url}/json`)
        yield* until(() => origin.sockets.size === 2, "both connections open")
        const hung = origin.nextHang()
        const fiber = yield* Effect.forkChild(http.get(`${origin.url}/hang`))
        const socket = yield* Effect.promise(() => hung)
        yield* Fiber.interrupt(fiber)
        assert.isTrue(Exit.hasInterrupts(yield* Fiber.await(fiber)))
        yield* until(() => socket.destroyed, "the interrupted request's socket closed")
        const survivor = [...origin.sockets].find((s) => s !== socket && !s.destroyed)
        assert.isDefined(survivor, "the other connection is untouched")
        assert.strictEqual((yield* http.get(`${origin.url}/json`)).status, 200)
        assert.isFalse(survivor!.destroyed)
      }).pipe(Effect.scoped)
    ))

  it.live("trace context goes out as traceparent and b3 headers of the request's span", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const http = yield* client()
        yield* http.get(`${origin.url}/json`).pipe(Effect.withSpan("parent"))
        const headers = origin.seen[0]!.headers
        assert.match(String(headers.traceparent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/)
        assert.isString(headers.b3)
      }).pipe(Effect.scoped)
    ))

  it.live("a POST whose bytes reached the server is never retried by isRetryable; a GET is", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const http = HttpClient.retry(yield* client({ connections: 4 }), { while: NexusHttpClient.isRetryable, times: 2 })
        const post = yield* Effect.flip(http.post(`${origin.url}/reset`))
        assert.strictEqual(post.reason._tag, "TransportError")
        assert.strictEqual(NexusHttpClient.requestSent(post), true)
        assert.isFalse(NexusHttpClient.isRetryable(post))
        assert.strictEqual(origin.seen.length, 1, "the POST was sent once")
        const get = yield* Effect.flip(http.get(`${origin.url}/reset`))
        assert.isTrue(NexusHttpClient.isRetryable(get))
        assert.strictEqual(origin.seen.length, 4, "the GET was sent three times")
      }).pipe(Effect.scoped)
    ))

  it("isRetryable retries a transient status for idempotent methods only", () => {
    const response = (method: "GET" | "POST", status: number) => {
      const request = HttpClientRequest.make(method)("http://127.0.0.1/")
      const web = HttpClientResponse.fromWeb(request, new Response(null, { status }))
      return new HttpClientError.HttpClientError({ reason: new HttpClientError.StatusCodeError({ request, response: web }) })
    }
    assert.isTrue(NexusHttpClient.isRetryable(response("GET", 503)))
    assert.isFalse(NexusHttpClient.isRetryable(response("POST", 503)))
    assert.isFalse(NexusHttpClient.isRetryable(response("GET", 404)))
  })

  it.live("closing the layer closes every pool", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        yield* Effect.scoped(Effect.gen(function*() {
          const http = yield* client({ connections: 3 })
          yield* http.get(`${origin.url}/json`)
          yield* until(() => origin.sockets.size === 3, "three connections open")
        }))
        yield* until(() => origin.sockets.size === 0, "every socket closed with the layer")
      })
    ))
})
