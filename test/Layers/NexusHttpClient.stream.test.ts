import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as HttpClient from "effect/http/HttpClient"
import type * as HttpClientError from "effect/http/HttpClientError"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as http from "node:http"
import type * as net from "node:net"
import { HttpMessage } from "../../src/Codec/internal/message.ts"
import * as NexusHttpClient from "../../src/Layers/NexusHttpClient.ts"
import { client, until } from "../support/nexusHttpClient.ts"

// Streamed bodies both ways over loopback, against node:http: a response body read as the
// consumer pulls (its connection returned at the end, poisoned when given up early), request
// bodies larger than the slot's buffer and Stream bodies sent chunked, and the faults of both.

interface Origin {
  readonly url: string
  /** Sockets open now, in accept order. */
  readonly sockets: Array<net.Socket>
  accepted: number
  /** Bytes the last `/upload` received and its framing headers. */
  upload: { length: number; sum: number; contentLength?: string | undefined; transferEncoding?: string | undefined } | undefined
  /** Bytes `/stream` had written when the client went away (`close` of its response). */
  writtenAtClose: number | undefined
  /** The socket of the last `/stall` request. */
  stalled: net.Socket | undefined
  /** Reused connections `/flaky` reset under a request. */
  resets: number
  readonly close: () => Promise<void>
}

/**
 * `/stream?chunks=N&size=S` answers N chunks of S bytes (byte i of the body is `i % 251`), each
 * written when the socket drains: what it has written tells how far the client pulled.
 * `/stall` sends a head and 10 bytes of a 1000-byte body, then nothing.
 */
const startOrigin = (): Promise<Origin> =>
  new Promise((resolve) => {
    const perSocket = new WeakMap<net.Socket, number>()
    const server = http.createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x")
      if (url.pathname === "/upload") {
        let length = 0
        let sum = 0
        req.on("data", (chunk: Buffer) => {
          for (const byte of chunk) sum = (sum + byte) % 1_000_000_007
          length += chunk.length
        })
        req.on("end", () => {
          origin.upload = {
            length,
            sum,
            contentLength: req.headers["content-length"],
            transferEncoding: req.headers["transfer-encoding"]
          }
          res.writeHead(200, { "content-type": "application/json" })
          res.end(JSON.stringify({ length }))
        })
        return
      }
      req.resume()
      const served = (perSocket.get(req.socket) ?? 0) + 1
      perSocket.set(req.socket, served)
      if (url.pathname === "/flaky" && served > 1) {
        // the keep-alive race, made certain: a reused connection dies under the request, unanswered
        origin.resets++
        return void req.socket.resetAndDestroy()
      }
      if (url.pathname === "/flaky-upload") {
        if (served > 1 && origin.resets === 0) {
          // a reused connection dies under an upload once part of its body has arrived
          origin.resets++
          return void req.once("data", () => req.socket.resetAndDestroy())
        }
        let length = 0
        req.on("data", (chunk: Buffer) => (length += chunk.length))
        return void req.on("end", () => {
          res.writeHead(200, { "content-type": "application/json" })
          res.end(JSON.stringify({ length }))
        })
      }
      if (url.pathname === "/moved") {
        // a redirect whose body stays on the wire: 10 bytes of 1000, then nothing
        res.writeHead(302, { location: "/", "content-length": "1000" })
        res.write(Buffer.alloc(10, 1))
        return
      }
      if (url.pathname === "/pieces") {
        // a small chunked body in two writes 20 ms apart: not complete with its head, so collected
        res.writeHead(200, { "content-type": "text/plain" })
        res.write("part one, ")
        return void setTimeout(() => res.end("part two"), 20)
      }
      if (url.pathname === "/stall") {
        origin.stalled = req.socket
        res.writeHead(200, { "content-length": "1000" })
        res.write(Buffer.alloc(10, 1))
        return
      }
      if (url.pathname === "/stream") {
        const chunks = Number(url.searchParams.get("chunks"))
        const size = Number(url.searchParams.get("size"))
        let written = 0
        let sent = 0
        res.on("close", () => (origin.writtenAtClose = written))
        res.writeHead(200, { "content-type": "application/octet-stream" })
        const next = () => {
          while (sent < chunks) {
            const chunk = Buffer.allocUnsafe(size)
            for (let i = 0; i < size; i++) chunk[i] = (written + i) % 251
            written += size
            sent++
            if (!res.write(chunk)) return void res.once("drain", next)
          }
          res.end()
        }
        return next()
      }
      res.writeHead(200, { "content-type": "text/plain" })
      res.end("ok")
    })
    server.on("connection", (socket: net.Socket) => {
      origin.accepted++
      origin.sockets.push(socket)
      socket.on("close", () => origin.sockets.splice(origin.sockets.indexOf(socket), 1))
    })
    const origin: Origin = {
      url: "",
      sockets: [],
      accepted: 0,
      upload: undefined,
      writtenAtClose: undefined,
      stalled: undefined,
      resets: 0,
      close: () =>
        new Promise<void>((ok) => {
          for (const socket of origin.sockets) socket.destroy()
          server.close(() => ok())
        })
    }
    server.listen(0, "127.0.0.1", () => {
      Object.assign(origin, { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}` })
      resolve(origin)
    })
  })

const withOrigin = <A, E, R>(f: (origin: Origin) => Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(Effect.promise(startOrigin), f, (origin) => Effect.promise(() => origin.close()))

/** Checks that `bytes` continue the `i % 251` pattern from `offset`; returns the next offset. */
const checkPattern = (bytes: Uint8Array, offset: number): number => {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== (offset + i) % 251) throw new Error(`byte ${offset + i} is ${bytes[i]}, expected ${(offset + i) % 251}`)
  }
  return offset + bytes.length
}

describe("NexusHttpClient streamed bodies over node:http", () => {
  it.live("a 16 MiB body streams in chunks, in order, and its connection serves the next request", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const http = yield* client({ connections: 1 })
        const response = yield* http.get(`${origin.url}/stream?chunks=256&size=65536`)
        let offset = 0
        let chunks = 0
        let largest = 0
        yield* Stream.runForEach(response.stream, (chunk) =>
          Effect.sync(() => {
            offset = checkPattern(chunk, offset)
            chunks++
            largest = Math.max(largest, chunk.length)
          }))
        assert.strictEqual(offset, 16 * 1024 * 1024)
        assert.isAbove(chunks, 16, "the body came in many pieces, not one")
        assert.isAtMost(largest, 64 * 1024, "no chunk larger than the slot's reader buffer could hold")
        assert.strictEqual(yield* (yield* http.get(`${origin.url}/`)).text, "ok")
        assert.strictEqual(origin.accepted, 1, "the connection went back to the pool at the body's end")
      }).pipe(Effect.scoped)
    ))

  it.live("the body is read as the consumer pulls: the server is held back until the stream asks for more", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const http = yield* client({ connections: 1 })
        const response = yield* http.get(`${origin.url}/stream?chunks=1024&size=65536`)
        const first = yield* Stream.runCollect(Stream.take(response.stream, 1))
        assert.strictEqual(first.length, 1)
        checkPattern(first[0]!, 0)
        // the stream ended early: the rest of the 64 MiB body is abandoned, its connection closed
        yield* until(() => origin.writtenAtClose !== undefined, "the server saw the connection close")
        assert.isBelow(origin.writtenAtClose!, 16 * 1024 * 1024, "the server never got far ahead of the consumer")
        assert.strictEqual(yield* (yield* http.get(`${origin.url}/`)).text, "ok")
        assert.strictEqual(origin.accepted, 2, "the slot was healed with a fresh connection")
      }).pipe(Effect.scoped)
    ))

  it.live("text collects a streamed body; past maxBodySize it is a DecodeError and the connection is given up", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const http = yield* client({ connections: 1, maxBodySize: 200_000 })
        const text = yield* (yield* http.get(`${origin.url}/stream?chunks=3&size=50000`)).arrayBuffer
        checkPattern(new Uint8Array(text), 0)
        assert.strictEqual(text.byteLength, 150_000)
        const big = yield* http.get(`${origin.url}/stream?chunks=8&size=50000`)
        const error = yield* Effect.flip(big.text)
        assert.deepStrictEqual([error.reason._tag, error.reason.description], [
          "DecodeError",
          "the response body exceeds maxBodySize (200000 bytes)"
        ])
        assert.strictEqual(yield* (yield* http.get(`${origin.url}/`)).text, "ok")
        assert.strictEqual(origin.accepted, 2)
      }).pipe(Effect.scoped)
    ))

  it.live("an unread streamed body is given up when the request's scope closes (HttpClient.withScope)", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const http = yield* client({ connections: 1 })
        const scoped = HttpClient.withScope(http)
        const status = yield* Effect.scoped(
          Effect.map(scoped.get(`${origin.url}/stream?chunks=1024&size=65536`), (response) => response.status)
        )
        assert.strictEqual(status, 200)
        yield* until(() => origin.writtenAtClose !== undefined, "the abandoned connection closed")
        assert.strictEqual(yield* (yield* http.get(`${origin.url}/`)).text, "ok")
        assert.strictEqual(origin.accepted, 2)
      }).pipe(Effect.scoped)
    ))

  it.live("a throw while the response is taken over (its owned copy) dies the request and still gives back the slot and the origin", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        // "/" arrives whole (the first branch); 8 × 64 KiB is still on the wire when the head is read
        for (const [bufferBodyUpTo, path] of [[undefined, "/"], [0, "/stream?chunks=8&size=65536"]] as const) {
          const http = yield* client({ connections: 1, bufferBodyUpTo })
          const copyOwned = HttpMessage.prototype.copyOwned
          HttpMessage.prototype.copyOwned = function() {
            HttpMessage.prototype.copyOwned = copyOwned
            throw new Error("injected: copyOwned failed")
          }
          const exit = yield* Effect.exit(http.get(`${origin.url}${path}`)).pipe(
            Effect.ensuring(Effect.sync(() => (HttpMessage.prototype.copyOwned = copyOwned)))
          )
          assert.isTrue(Exit.isFailure(exit) && Exit.hasDies(exit), `the request died (bufferBodyUpTo ${bufferBodyUpTo})`)
          // the one slot is back: the next request gets it rather than waiting out the acquire timeout
          assert.strictEqual(yield* (yield* http.get(`${origin.url}/`)).text, "ok")
        }
        // the buffered body's connection was reused; the streamed one was abandoned and healed
        assert.strictEqual(origin.accepted, 3)
      }).pipe(Effect.scoped)
    ))

  it.live("followRedirects gives up a redirect whose body is still on the wire: its connection is closed, the slot serves the next hop", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const http = HttpClient.followRedirects(yield* client({ connections: 1, bufferBodyUpTo: 0 }))
        const response = yield* http.get(`${origin.url}/moved`)
        assert.deepStrictEqual([response.status, yield* response.text], [200, "ok"])
        assert.strictEqual(origin.accepted, 2, "the redirect's connection was abandoned and the slot healed")
      }).pipe(Effect.scoped)
    ))

  it.live("a body that stalls fails the pull with the connection's ReadTimeout, as a DecodeError carrying the HttpError (a buffered one fails the request)", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const buffered = yield* client({ connections: 1, readTimeout: "200 millis" })
        const failed = yield* Effect.flip(buffered.get(`${origin.url}/stall`))
        assert.strictEqual(failed.reason._tag, "TransportError")
        assert.include(failed.message, "no response bytes within the read timeout of 200ms (request bytes were sent)")
        const http = yield* client({ connections: 1, readTimeout: "200 millis", bufferBodyUpTo: 0 })
        const response = yield* http.get(`${origin.url}/stall`)
        const error = yield* Effect.flip(Stream.runCollect(response.stream))
        assert.strictEqual(error.reason._tag, "DecodeError")
        const cause = error.reason.cause as { _tag: string; reason: { _tag: string }; requestSent: boolean }
        assert.deepStrictEqual([cause._tag, cause.reason._tag, cause.requestSent], ["HttpError", "ReadTimeout", true])
        assert.strictEqual(yield* (yield* http.get(`${origin.url}/`)).text, "ok")
      }).pipe(Effect.scoped)
    ))

  it.live("interrupting a fiber mid-body closes that connection only", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const http = yield* client({ connections: 2, bufferBodyUpTo: 0 })
        yield* http.get(`${origin.url}/`)
        yield* until(() => origin.sockets.length === 2, "both connections open")
        const response = yield* http.get(`${origin.url}/stall`)
        const fiber = yield* Effect.forkChild(Stream.runDrain(response.stream))
        yield* Effect.sleep("20 millis")
        yield* Fiber.interrupt(fiber)
        assert.isTrue(Exit.hasInterrupts(yield* Fiber.await(fiber)))
        const stalled = origin.stalled!
        yield* until(() => stalled.destroyed, "the stalled connection closed")
        const other = origin.sockets.find((socket) => socket !== stalled)
        assert.isDefined(other, "the other connection is untouched")
        assert.strictEqual(yield* (yield* http.get(`${origin.url}/`)).text, "ok")
        assert.isFalse(other!.destroyed)
      }).pipe(Effect.scoped)
    ))

  it.live("interrupting a request while its body is read whole gives the only slot back: the next request is served", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const http = yield* client({ connections: 1 })
        const fiber = yield* Effect.forkChild(http.get(`${origin.url}/stall`))
        yield* until(() => origin.stalled !== undefined, "the request reached the server")
        yield* Fiber.interrupt(fiber)
        assert.isTrue(Exit.hasInterrupts(yield* Fiber.await(fiber)))
        assert.strictEqual(yield* (yield* http.get(`${origin.url}/`)).text, "ok")
        assert.isTrue(origin.stalled!.destroyed, "the interrupted request's connection was closed")
        assert.strictEqual(origin.accepted, 2)
      }).pipe(Effect.scoped)
    ))

  it.live("the keep-alive race: a GET a reused connection drops unanswered goes once more on another; a POST fails with requestSent", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const http = yield* client({ connections: 1 })
        assert.strictEqual((yield* http.get(`${origin.url}/flaky`)).status, 200)
        // the second request on that connection is reset: sent again once on the healed slot
        assert.strictEqual((yield* http.get(`${origin.url}/flaky`)).status, 200)
        assert.deepStrictEqual([origin.resets, origin.accepted], [1, 2])
        const post = yield* Effect.flip(http.post(`${origin.url}/flaky`))
        assert.strictEqual(post.reason._tag, "TransportError")
        assert.strictEqual(NexusHttpClient.requestSent(post), true)
        assert.isFalse(NexusHttpClient.isRetryable(post))
        assert.strictEqual(origin.resets, 2, "the POST was sent once")
      }).pipe(Effect.scoped)
    ))

  it.live("an 8 MiB upload goes out from the caller's buffer, and an 8 MiB Stream chunked, without RequestTooLarge", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const http = yield* client({ connections: 1 })
        const big = Buffer.allocUnsafe(8 * 1024 * 1024)
        let sum = 0
        for (let i = 0; i < big.length; i++) {
          big[i] = i % 251
          sum = (sum + big[i]!) % 1_000_000_007
        }
        const bytes = yield* http.execute(HttpClientRequest.post(`${origin.url}/upload`).pipe(HttpClientRequest.bodyUint8Array(big)))
        assert.deepStrictEqual(yield* bytes.json, { length: big.length })
        assert.deepStrictEqual(origin.upload, { length: big.length, sum, contentLength: String(big.length), transferEncoding: undefined })
        const pieces = Stream.fromIterable(Array.from({ length: 128 }, (_, i) => big.subarray(i * 65536, (i + 1) * 65536)))
        const streamed = yield* http.execute(HttpClientRequest.put(`${origin.url}/upload`).pipe(HttpClientRequest.bodyStream(pieces)))
        assert.deepStrictEqual(yield* streamed.json, { length: big.length })
        assert.deepStrictEqual(origin.upload, { length: big.length, sum, contentLength: undefined, transferEncoding: "chunked" })
        assert.strictEqual(origin.accepted, 1)
      }).pipe(Effect.scoped)
    ))

  it.live("a Stream body that fails mid-way is an EncodeError with requestSent true; a short one breaks no framing", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const http = yield* client({ connections: 1 })
        const broken = Stream.concat(Stream.make(Buffer.from("abc")), Stream.fail(new Error("source broke")))
        const error = yield* Effect.flip(
          http.execute(HttpClientRequest.post(`${origin.url}/upload`).pipe(HttpClientRequest.bodyStream(broken)))
        )
        assert.strictEqual(error.reason._tag, "EncodeError")
        assert.include(error.message, "the request body failed mid-request: its stream failed")
        const cause = error.reason.cause as { reason: { _tag: string; cause: Error }; requestSent: boolean }
        assert.deepStrictEqual([cause.reason._tag, cause.reason.cause.message, cause.requestSent], [
          "RequestBodyFailed",
          "source broke",
          true
        ])
        assert.strictEqual(NexusHttpClient.requestSent(error), true)
        assert.isFalse(NexusHttpClient.isRetryable(error))
        const short = yield* Effect.flip(http.execute(
          HttpClientRequest.post(`${origin.url}/upload`).pipe(
            HttpClientRequest.bodyStream(Stream.make(Buffer.from("abc")), { contentLength: 10 })
          )
        ))
        assert.include(short.message, "the stream ended after 3 of the 10 bytes announced")
        assert.strictEqual(origin.upload, undefined, "no upload ever completed on the server")
        assert.strictEqual(yield* (yield* http.get(`${origin.url}/`)).text, "ok")
      }).pipe(Effect.scoped)
    ))

  it.live("a body given up before its end fails every later read with a DecodeError, never an empty success (as undici's)", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const http = yield* client({ connections: 2, bufferBodyUpTo: 0 })
        const bodyLength = (response: { readonly stream: Stream.Stream<Uint8Array, HttpClientError.HttpClientError> }) =>
          Effect.map(Stream.runCollect(response.stream), (chunks) => chunks.reduce((n, chunk) => n + chunk.length, 0))
        // a collect that timed out gave the body up: reading it again must not succeed with ""
        const timedOut = yield* http.get(`${origin.url}/stall`)
        assert.isTrue(Exit.isFailure(yield* Effect.exit(Effect.timeout(timedOut.text, "50 millis"))))
        const again = yield* Effect.exit(timedOut.text)
        assert.isTrue(Exit.isFailure(again), `text after the body was given up: ${JSON.stringify(again)}`)
        assert.strictEqual((yield* Effect.flip(timedOut.json)).reason._tag, "DecodeError")
        // HttpClient.withScope: the scope closed before the body was read
        const scoped = HttpClient.withScope(http)
        for (const read of ["text", "stream"] as const) {
          const response = yield* Effect.scoped(scoped.get(`${origin.url}/stream?chunks=64&size=65536`))
          const body: Effect.Effect<unknown, HttpClientError.HttpClientError> = read === "text" ? response.text : bodyLength(response)
          const exit = yield* Effect.exit(body)
          assert.isTrue(Exit.isFailure(exit), `${read} after the request's scope closed: ${JSON.stringify(exit)}`)
          assert.strictEqual((yield* Effect.flip(body)).reason._tag, "DecodeError")
        }
        assert.strictEqual(yield* (yield* http.get(`${origin.url}/`)).text, "ok")
      }).pipe(Effect.scoped)
    ))

  it.live("arrayBuffer of a body collected from several reads is exactly the body, not the shared memory it was joined into", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const http = yield* client({ connections: 1 })
        for (let i = 0; i < 3; i++) {
          const buffer = yield* (yield* http.get(`${origin.url}/pieces`)).arrayBuffer
          assert.strictEqual(Buffer.from(buffer).toString("latin1"), "part one, part two")
        }
      }).pipe(Effect.scoped)
    ))

  it.live("the keep-alive race never sends a Stream body again after part of it went out: a one-shot source is not re-sent truncated", () =>
    withOrigin((origin) =>
      Effect.gen(function*() {
        const http = yield* client({ connections: 1 })
        assert.strictEqual((yield* http.get(`${origin.url}/flaky-upload`)).status, 200)
        // a body read from a source that can be read once (a Node Readable, a queue, an iterator)
        const source = (async function*() {
          for (let i = 0; i < 5; i++) {
            yield new Uint8Array(1000).fill(i)
            await new Promise((resolve) => setTimeout(resolve, 20))
          }
        })()
        const body = Stream.fromAsyncIterable({ [Symbol.asyncIterator]: () => source }, (error) => error)
        const exit = yield* Effect.exit(Effect.flatMap(
          http.execute(HttpClientRequest.put(`${origin.url}/flaky-upload`).pipe(HttpClientRequest.bodyStream(body))),
          (response) => response.json
        ))
        assert.strictEqual(origin.resets, 1, "the first attempt was reset under its body")
        // either the failure is reported, or the server got the whole body: never a short one as a success
        if (Exit.isSuccess(exit)) assert.deepStrictEqual(exit.value, { length: 5000 })
        else assert.strictEqual(Exit.findErrorOption(exit).pipe((error) => error._tag === "Some" && NexusHttpClient.requestSent(error.value)), true)
      }).pipe(Effect.scoped)
    ))
})
