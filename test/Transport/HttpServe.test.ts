import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { TestClock } from "effect/testing"
import * as ReadBuf from "../../src/Codec/ReadBuf.ts"
import * as HttpServe from "../../src/Transport/HttpServe.ts"
import * as Memory from "../../src/Transport/Memory.ts"
import type { Transport } from "../../src/Transport/Transport.ts"
import { utf8 as bytes } from "../support/bytes.ts"

/** Reads until `n` bytes arrived or the peer ended; returns them as text. */
const readText = (transport: Transport, n: number) =>
  Effect.gen(function*() {
    const buf = ReadBuf.make({ capacity: 256 * 1024 })
    while (buf.length < n) {
      if ((yield* transport.read(buf)) === 0) break
    }
    return new TextDecoder().decode(buf.data())
  })

/** Reads until the peer ends the stream; returns everything as text. */
const readToEnd = (transport: Transport) => readText(transport, Number.POSITIVE_INFINITY)

const ok = (body: string): HttpServe.Response => ({ status: 200, headers: [["Content-Type", "text/plain"]], body })

describe("HttpServe", () => {
  it.effect("answers pipelined requests in order, each with a Content-Length, and logs them with the connection tag", () =>
    Effect.gen(function*() {
      const { client, server } = yield* Memory.pair()
      const seen: Array<HttpServe.Request> = []
      const handler: HttpServe.Handler = (request) => Effect.succeed(ok(`${request.method} ${request.target} ${request.body}`))
      const serving = yield* Effect.forkChild(
        HttpServe.serve(server, handler, { connection: 7, onRequest: (request) => seen.push(request) })
      )
      yield* client.write(bytes(
        "GET /a?x=1 HTTP/1.1\r\nHost: origin.test\r\n\r\n" +
          "POST /order HTTP/1.1\r\nHost: origin.test\r\nContent-Length: 5\r\n\r\nhello"
      ))
      const first = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nGET /a?x=1 "
      const second = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 17\r\n\r\nPOST /order hello"
      assert.strictEqual(yield* readText(client, first.length + second.length), first + second)
      assert.deepStrictEqual(seen, [
        { method: "GET", target: "/a?x=1", headers: [["Host", "origin.test"]], body: "", bodyBytes: new Uint8Array(0), connection: 7 },
        {
          method: "POST",
          target: "/order",
          headers: [["Host", "origin.test"], ["Content-Length", "5"]],
          body: "hello",
          bodyBytes: Buffer.from("hello"),
          connection: 7
        }
      ])
      yield* client.end()
      yield* Fiber.join(serving)
    }))

  it.effect("hands the handler a de-chunked body, tagged connection 0 by default", () =>
    Effect.gen(function*() {
      const { client, server } = yield* Memory.pair({ chunkSize: 3 })
      const seen: Array<HttpServe.Request> = []
      yield* Effect.forkChild(HttpServe.serve(server, (request) => {
        seen.push(request)
        return Effect.succeed({ status: 201 })
      }))
      yield* client.write(bytes("PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"))
      const answer = "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
      assert.strictEqual(yield* readText(client, answer.length), answer)
      assert.deepStrictEqual(seen.map(({ body, connection }) => ({ body, connection })), [{ body: "abcde", connection: 0 }])
    }))

  it.effect("returns once the client ends its side, after answering what it sent", () =>
    Effect.gen(function*() {
      const { client, server } = yield* Memory.pair()
      const serving = yield* Effect.forkChild(HttpServe.serve(server, () => Effect.succeed(ok("bye"))))
      yield* client.write(bytes("GET / HTTP/1.1\r\n\r\n"))
      yield* client.end()
      yield* Fiber.join(serving)
      const answer = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nbye"
      assert.strictEqual(yield* readText(client, answer.length), answer)
    }))

  it.effect("destroys the connection without an answer on a malformed request, and never calls the handler", () =>
    Effect.gen(function*() {
      const { client, server } = yield* Memory.pair()
      let calls = 0
      const serving = yield* Effect.forkChild(HttpServe.serve(server, () => {
        calls++
        return Effect.succeed(ok("no"))
      }))
      // whitespace between a field name and its colon (RFC 9112 §5.1): rejected by RequestReader
      yield* client.write(bytes("GET / HTTP/1.1\r\nHost : origin.test\r\n\r\n"))
      yield* Fiber.join(serving)
      assert.strictEqual(yield* readToEnd(client), "")
      assert.strictEqual(server.state, "destroyed")
      assert.strictEqual(calls, 0)
    }))

  it.effect("grows its response buffer past 16 KiB for a large body", () =>
    Effect.gen(function*() {
      const { client, server } = yield* Memory.pair({ capacity: 256 * 1024 })
      const body = "x".repeat(3 * HttpServe.INITIAL_RESPONSE_BUFFER)
      yield* Effect.forkChild(HttpServe.serve(server, () => Effect.succeed({ status: 200, body })))
      yield* client.write(bytes("GET /big HTTP/1.1\r\n\r\nGET /big HTTP/1.1\r\n\r\n"))
      const one = `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`
      assert.strictEqual(yield* readText(client, 2 * one.length), one + one)
    }))

  it.effect("dies naming the fault when the handler's response cannot be written", () =>
    Effect.gen(function*() {
      const { client, server } = yield* Memory.pair()
      const serving = yield* Effect.forkChild(
        HttpServe.serve(server, () => Effect.succeed({ status: 200, headers: [["X-Note", "a\r\nInjected: 1"]] }))
      )
      yield* client.write(bytes("GET / HTTP/1.1\r\n\r\n"))
      const exit = yield* Fiber.await(serving)
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        const defect = Cause.squash(exit.cause)
        assert.instanceOf(defect, Error)
        assert.strictEqual(
          (defect as Error).message,
          "HttpServe.serve: the handler's 200 response cannot be written: header value holds CR at index 1"
        )
      }
    }))

  it.effect("ends quietly when the connection is reset while the handler works", () =>
    Effect.gen(function*() {
      const pair = yield* Memory.pair()
      const working = yield* Deferred.make<void>()
      const serving = yield* Effect.forkChild(HttpServe.serve(pair.server, () =>
        Effect.andThen(Deferred.succeed(working, undefined), Effect.delay(Effect.succeed(ok("late")), "1 second"))
      ))
      yield* pair.client.write(bytes("GET / HTTP/1.1\r\n\r\n"))
      yield* Deferred.await(working)
      yield* pair.drop()
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.await(serving)
      assert.isTrue(Exit.isSuccess(exit))
    }))

  it.effect("answers HEAD with the head of the GET answer and no body, so the next answer on the connection is not corrupted", () =>
    Effect.gen(function*() {
      const { client, server } = yield* Memory.pair()
      yield* Effect.forkChild(HttpServe.serve(server, (request) => Effect.succeed(ok(`${request.method} body`))))
      yield* client.write(bytes("HEAD /a HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n"))
      // RFC 9110 §9.3.2: a HEAD response carries no content; its Content-Length is the GET's
      const head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\n"
      const get = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n\r\nGET body"
      assert.strictEqual(yield* readText(client, head.length + get.length), head + get)
    }))

  it.effect("closes its side after answering a request that asked for Connection: close, and after an HTTP/1.0 one", () =>
    Effect.gen(function*() {
      for (const request of ["GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "GET / HTTP/1.0\r\n\r\n"]) {
        const { client, server } = yield* Memory.pair()
        const serving = yield* Effect.forkChild(HttpServe.serve(server, () => Effect.succeed(ok("bye"))))
        yield* client.write(bytes(request))
        const answer = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nbye"
        assert.strictEqual(yield* readText(client, answer.length), answer)
        // RFC 9112 §9.6: the server closes after that answer; the client has not ended its side
        for (let i = 0; i < 10; i++) yield* Effect.yieldNow
        assert.strictEqual(client.inboundState, "Ended", request)
        assert.isDefined(serving.pollUnsafe(), request)
      }
    }))
})
