import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { TestClock } from "effect/testing"
import type * as net from "node:net"
import * as ReadBuf from "../../src/Codec/ReadBuf.ts"
import * as RequestWriter from "../../src/Codec/RequestWriter.ts"
import * as ResponseReader from "../../src/Codec/ResponseReader.ts"
import * as HttpConnection from "../../src/Transport/HttpConnection.ts"
import * as Memory from "../../src/Transport/Memory.ts"
import { ConnectionPoisoned, InvalidUrl } from "../../src/Transport/Transport.ts"
import { utf8 as bytes } from "../support/bytes.ts"

// Everything here runs over the in-memory pair under TestClock: the "server" is a fiber that
// reads the request head and writes canned bytes, so every fault is placed exactly.

/** Reads one request head (no body) from the server end and returns it as text. */
const readRequest = (server: Memory.MemoryTransport) =>
  Effect.gen(function*() {
    const buf = ReadBuf.make({ capacity: 4096 })
    while (!buf.data().toString("latin1").includes("\r\n\r\n")) {
      if ((yield* server.read(buf)) === 0) break
    }
    return buf.data().toString("latin1")
  })

/** Answers one request with `response` (raw wire text). */
const answer = (server: Memory.MemoryTransport, response: string) =>
  Effect.andThen(readRequest(server), (request) => Effect.as(server.write(bytes(response)), request))

const ok = (body: string, extra = "") =>
  `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`

const setup = (options: HttpConnection.Options = {}, pairOptions: Memory.Options = {}) =>
  Effect.gen(function*() {
    const pair = yield* Memory.pair(pairOptions)
    const connection = yield* HttpConnection.make(pair.client, options)
    const writer = RequestWriter.make({ host: "example.test" })
    const reader = ResponseReader.make()
    return { ...pair, connection, writer, reader }
  })

/** The error's tag path and sent flag, for one exact comparison. */
const describeError = (error: HttpConnection.HttpError) => ({
  reason: error.reason._tag,
  requestSent: error.requestSent
})

/**
 * Runs `f` and counts the Effect errors (every `Data.TaggedError`) constructed meanwhile. A
 * derived constructor's `super()` finds its parent through the class's [[Prototype]], so the
 * root of Effect's error classes is pointed at a counting proxy of `Error` while `f` runs.
 */
const errorsBuiltBy = <A>(f: () => A): [A, number] => {
  let root: Function = HttpConnection.ConnectionStale
  while (Object.getPrototypeOf(root) !== Error) root = Object.getPrototypeOf(root)
  let built = 0
  Object.setPrototypeOf(root, new Proxy(Error, {
    construct: (target, args, newTarget) => {
      built++
      return Reflect.construct(target, args, newTarget)
    }
  }))
  try {
    return [f(), built]
  } finally {
    Object.setPrototypeOf(root, Error)
  }
}

describe("HttpConnection over a memory pair", () => {
  it.effect("sends requests over one keep-alive connection and returns status, headers and body", () =>
    Effect.gen(function*() {
      const { server, connection, writer, reader, client } = yield* setup()
      for (let i = 0; i < 3; i++) {
        const request = writer.get("/ticker").query("n", String(i)).finish()
        const [response, seen] = yield* Effect.all([
          connection.send(request, reader),
          answer(server, ok(`body-${i}`, "X-Seq: " + i + "\r\n"))
        ], { concurrency: 2 })
        assert.deepStrictEqual(
          [response.status, response.header("x-seq"), response.bodyText()],
          [200, String(i), `body-${i}`]
        )
        assert.isTrue(seen.startsWith(`GET /ticker?n=${i} HTTP/1.1\r\nHost: example.test\r\n`))
      }
      assert.deepStrictEqual([connection.requestCount, connection.status, connection.isReusable], [3, "Ready", true])
      assert.strictEqual(client.state, "open")
    }))

  it.effect("decodes a chunked response and returns a 3xx as is, without following it", () =>
    Effect.gen(function*() {
      const { server, connection, writer, reader } = yield* setup()
      const [chunked] = yield* Effect.all([
        connection.send(writer.get("/c").finish(), reader),
        answer(server, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
      ], { concurrency: 2 })
      assert.deepStrictEqual([chunked.chunked, chunked.bodyText()], [true, "hello world"])
      const [redirect] = yield* Effect.all([
        connection.send(writer.get("/old").finish(), reader),
        answer(server, "HTTP/1.1 302 Found\r\nLocation: /new\r\nContent-Length: 0\r\n\r\n")
      ], { concurrency: 2 })
      assert.deepStrictEqual([redirect.status, redirect.header("location")], [302, "/new"])
      assert.strictEqual(connection.status, "Ready")
    }))

  it.effect("reads responses delivered one byte at a time, chunked and fixed, and stays reusable", () =>
    Effect.gen(function*() {
      const { server, connection, writer, reader } = yield* setup({}, { chunkSize: 1 })
      const chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-T: t\r\n\r\n"
      const [first] = yield* Effect.all([connection.send(writer.get("/").finish(), reader), answer(server, chunked)], {
        concurrency: 2
      })
      assert.deepStrictEqual([first.bodyText(), first.header("x-a"), first.trailer("x-t")], ["abcde", "1", "t"])
      const [second] = yield* Effect.all([connection.send(writer.get("/").finish(), reader), answer(server, ok("fixed"))], {
        concurrency: 2
      })
      assert.deepStrictEqual([second.bodyText(), connection.status], ["fixed", "Ready"])
    }))

  it.effect("bytes that arrive with the response but after it make the connection stale, the response still completes", () =>
    Effect.gen(function*() {
      const { server, client, connection, writer, reader } = yield* setup()
      const [response] = yield* Effect.all([
        connection.send(writer.get("/").finish(), reader),
        answer(server, ok("one") + "HTTP/1.1 200 OK\r\n")
      ], { concurrency: 2 })
      assert.strictEqual(response.bodyText(), "one")
      assert.deepStrictEqual(connection.unusableReason, new HttpConnection.ConnectionStale({ kind: "UnsolicitedBytes" }))
      assert.strictEqual(client.state, "destroyed")
    }))

  it.effect("with every timeout Infinity nothing expires and a slow answer is awaited", () =>
    Effect.gen(function*() {
      const { server, connection, writer, reader } = yield* setup({
        idleTimeout: "Infinity",
        readTimeout: "Infinity",
        headersTimeout: "Infinity",
        bodyTimeout: "Infinity"
      })
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(connection.status, "Ready")
      const fiber = yield* Effect.forkChild(connection.send(writer.get("/").finish(), reader))
      yield* readRequest(server)
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(fiber.pollUnsafe(), undefined)
      yield* server.write(bytes(ok("late")))
      assert.strictEqual((yield* Fiber.join(fiber)).bodyText(), "late")
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(connection.status, "Ready")
    }))

  it.effect("reads no body for HEAD although Content-Length is set", () =>
    Effect.gen(function*() {
      const { server, connection, writer, reader } = yield* setup()
      const [head] = yield* Effect.all([
        connection.send(writer.head("/h").finish(), reader),
        answer(server, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
      ], { concurrency: 2 })
      assert.deepStrictEqual([head.status, head.bodyLength, connection.status], [200, 0, "Ready"])
    }))

  it.effect("completes a Connection: close response, then refuses to write with ConnectionNotReusable", () =>
    Effect.gen(function*() {
      const { server, client, connection, writer, reader } = yield* setup()
      const [response] = yield* Effect.all([
        connection.send(writer.get("/").finish(), reader),
        answer(server, ok("bye", "Connection: close\r\n"))
      ], { concurrency: 2 })
      assert.strictEqual(response.bodyText(), "bye")
      assert.deepStrictEqual([connection.isReusable, connection.status], [false, "NotReusable"])
      // the socket is freed at once; the body view still reads from the reader's buffer
      assert.deepStrictEqual([client.state, server.peerEnded, response.bodyText()], ["destroyed", true, "bye"])
      const written = client.bytesWritten
      const error = yield* Effect.flip(connection.send(writer.get("/again").finish(), reader))
      assert.deepStrictEqual(describeError(error), { reason: "ConnectionNotReusable", requestSent: false })
      assert.deepStrictEqual(error.reason, new HttpConnection.ConnectionNotReusable({ kind: "ConnectionClose" }))
      assert.strictEqual(client.bytesWritten, written)
      assert.strictEqual(
        error.message,
        "HTTP exchange with memory:server failed: the connection is not reusable: the last response said Connection: close (no request byte was sent)"
      )
    }))

  it.effect("treats HTTP/1.0 without keep-alive as the end, and HTTP/1.0 with keep-alive as reusable", () =>
    Effect.gen(function*() {
      const { server, connection, writer, reader } = yield* setup()
      yield* Effect.all([
        connection.send(writer.get("/").finish(), reader),
        answer(server, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\na")
      ], { concurrency: 2 })
      assert.strictEqual(connection.status, "Ready")
      yield* Effect.all([
        connection.send(writer.get("/").finish(), reader),
        answer(server, "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nb")
      ], { concurrency: 2 })
      assert.deepStrictEqual(connection.unusableReason, new HttpConnection.ConnectionNotReusable({ kind: "Http10" }))
    }))

  it.effect("a 101 Switching Protocols answer leaves the connection not reusable, kind Upgraded", () =>
    Effect.gen(function*() {
      const { server, connection, writer, reader } = yield* setup()
      const [response] = yield* Effect.all([
        connection.send(writer.get("/ws").header("Connection", "Upgrade").header("Upgrade", "websocket").finish(), reader),
        answer(server, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
      ], { concurrency: 2 })
      assert.strictEqual(response.status, 101)
      assert.deepStrictEqual(connection.unusableReason, new HttpConnection.ConnectionNotReusable({ kind: "Upgraded" }))
    }))

  it.effect("a read timeout poisons the connection; later sends fail at once with ConnectionPoisoned", () =>
    Effect.gen(function*() {
      const { server, client, connection, writer, reader } = yield* setup({ readTimeout: "2 seconds" })
      const fiber = yield* Effect.forkChild(Effect.flip(connection.send(writer.get("/slow").finish(), reader)))
      yield* readRequest(server)
      yield* TestClock.adjust("1999 millis")
      assert.strictEqual(fiber.pollUnsafe(), undefined)
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(fiber)
      assert.deepStrictEqual(describeError(error), { reason: "ReadTimeout", requestSent: true })
      assert.include(error.message, "no response bytes within the read timeout of 2s")
      assert.deepStrictEqual([connection.status, client.state], ["Poisoned", "destroyed"])
      const later = yield* Effect.flip(connection.send(writer.get("/next").finish(), reader))
      assert.deepStrictEqual(describeError(later), { reason: "ConnectionPoisoned", requestSent: false })
      assert.deepStrictEqual(
        later.reason,
        new ConnectionPoisoned({ cause: new HttpConnection.ReadTimeout({ timeout: Duration.seconds(2) }) })
      )
    }))

  it.effect("the read timeout fires on time on a later send although the watchdog slept towards the idle deadline", () =>
    Effect.gen(function*() {
      const { server, connection, writer, reader } = yield* setup({ readTimeout: "1 second", idleTimeout: "10 seconds" })
      yield* Effect.all([connection.send(writer.get("/").finish(), reader), answer(server, ok("1"))], {
        concurrency: 2
      })
      yield* TestClock.adjust("500 millis")
      const fiber = yield* Effect.forkChild(Effect.flip(connection.send(writer.get("/slow").finish(), reader)))
      yield* readRequest(server)
      yield* TestClock.adjust("999 millis")
      assert.strictEqual(fiber.pollUnsafe(), undefined)
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(fiber)
      assert.deepStrictEqual(error.reason, new HttpConnection.ReadTimeout({ timeout: Duration.seconds(1) }))
    }))

  it.effect("the read timeout counts inactivity: with the deadlines off, a trickling response within it completes", () =>
    Effect.gen(function*() {
      const { server, connection, writer, reader } = yield* setup({
        readTimeout: "1 second",
        headersTimeout: "Infinity",
        bodyTimeout: "Infinity"
      })
      const fiber = yield* Effect.forkChild(connection.send(writer.get("/").finish(), reader))
      yield* readRequest(server)
      const wire = ok("abc")
      for (let i = 0; i < wire.length; i++) {
        yield* TestClock.adjust("900 millis")
        yield* server.write(bytes(wire[i]!))
      }
      const response = yield* Fiber.join(fiber)
      assert.strictEqual(response.bodyText(), "abc")
    }))

  it.effect("headersTimeout is a deadline from the written request: a head trickled within the read timeout still fails", () =>
    Effect.gen(function*() {
      const { server, client, connection, writer, reader } = yield* setup({ readTimeout: "1 second", headersTimeout: "3 seconds" })
      const fiber = yield* Effect.forkChild(Effect.flip(connection.send(writer.get("/trickle").finish(), reader)))
      yield* readRequest(server)
      // one byte every 900 ms: never a second of silence, so the read timeout alone would wait forever
      for (const byte of "HTT") {
        yield* TestClock.adjust("900 millis")
        yield* server.write(bytes(byte))
      }
      yield* TestClock.adjust("299 millis")
      assert.strictEqual(fiber.pollUnsafe(), undefined)
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(fiber)
      assert.deepStrictEqual(error.reason, new HttpConnection.HeadersTimeout({ timeout: Duration.seconds(3) }))
      assert.isTrue(error.requestSent)
      assert.strictEqual(
        error.message,
        "HTTP exchange with memory:server failed: the response head did not arrive within the headers timeout of 3s (request bytes were sent)"
      )
      assert.deepStrictEqual([connection.status, client.state], ["Poisoned", "destroyed"])
      const later = yield* Effect.flip(connection.send(writer.get("/next").finish(), reader))
      assert.deepStrictEqual(
        later.reason,
        new ConnectionPoisoned({ cause: new HttpConnection.HeadersTimeout({ timeout: Duration.seconds(3) }) })
      )
    }))

  it.effect("bodyTimeout is a deadline from the head: a body trickled within the read timeout still fails", () =>
    Effect.gen(function*() {
      const { server, client, connection, writer, reader } = yield* setup({ readTimeout: "1 second", bodyTimeout: "2 seconds" })
      const fiber = yield* Effect.forkChild(Effect.flip(connection.send(writer.get("/trickle").finish(), reader)))
      yield* readRequest(server)
      yield* TestClock.adjust("500 millis")
      yield* server.write(bytes("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\na"))
      // the body clock started at 500 ms; bytes keep coming every 900 ms
      yield* TestClock.adjust("900 millis")
      yield* server.write(bytes("b"))
      yield* TestClock.adjust("900 millis")
      yield* server.write(bytes("c"))
      yield* TestClock.adjust("199 millis")
      assert.strictEqual(fiber.pollUnsafe(), undefined)
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(fiber)
      assert.deepStrictEqual(describeError(error), { reason: "BodyTimeout", requestSent: true })
      assert.include(error.message, "the response body did not complete within the body timeout of 2s")
      assert.deepStrictEqual([connection.status, client.state], ["Poisoned", "destroyed"])
    }))

  it.effect("by default the head must arrive within 10 s of the request and the body within 30 s of the head", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(
        [HttpConnection.DEFAULT_HEADERS_TIMEOUT, HttpConnection.DEFAULT_BODY_TIMEOUT],
        [Duration.seconds(10), Duration.seconds(30)]
      )
      const silent = yield* setup({ readTimeout: "Infinity" })
      const head = yield* Effect.forkChild(Effect.flip(silent.connection.send(silent.writer.get("/").finish(), silent.reader)))
      yield* readRequest(silent.server)
      yield* TestClock.adjust("9999 millis")
      assert.strictEqual(head.pollUnsafe(), undefined)
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual((yield* Fiber.join(head)).reason, new HttpConnection.HeadersTimeout({ timeout: Duration.seconds(10) }))
      const stuck = yield* setup({ readTimeout: "Infinity" })
      const body = yield* Effect.forkChild(Effect.flip(stuck.connection.send(stuck.writer.get("/").finish(), stuck.reader)))
      yield* readRequest(stuck.server)
      yield* TestClock.adjust("5 seconds")
      yield* stuck.server.write(bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab"))
      yield* TestClock.adjust("29999 millis")
      assert.strictEqual(body.pollUnsafe(), undefined)
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual((yield* Fiber.join(body)).reason, new HttpConnection.BodyTimeout({ timeout: Duration.seconds(30) }))
    }))

  it.effect("a body deadline shorter than the watchdog's sleep wakes it on time", () =>
    Effect.gen(function*() {
      // the watchdog sleeps up to the 4 s idle period while the request is in flight; the body's
      // 500 ms deadline, known only once the head is in, must wake it earlier
      const { server, connection, writer, reader } = yield* setup({ bodyTimeout: "500 millis" })
      const fiber = yield* Effect.forkChild(Effect.flip(connection.send(writer.get("/").finish(), reader)))
      yield* readRequest(server)
      yield* TestClock.adjust("100 millis")
      yield* server.write(bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab"))
      yield* TestClock.adjust("499 millis")
      assert.strictEqual(fiber.pollUnsafe(), undefined)
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual((yield* Fiber.join(fiber)).reason, new HttpConnection.BodyTimeout({ timeout: Duration.millis(500) }))
    }))

  it.effect("the head's deadline counts from the end of a slow write, and still wakes the watchdog on time", () =>
    Effect.gen(function*() {
      // a 16-byte pipe: the request is written only as the server reads it, 2 s after the send
      const { server, connection, writer, reader } = yield* setup({ headersTimeout: "1 second" }, { capacity: 16 })
      const fiber = yield* Effect.forkChild(Effect.flip(connection.send(writer.get("/slow-upload").finish(), reader)))
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual(fiber.pollUnsafe(), undefined)
      yield* readRequest(server)
      yield* TestClock.adjust("999 millis")
      assert.strictEqual(fiber.pollUnsafe(), undefined)
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual((yield* Fiber.join(fiber)).reason, new HttpConnection.HeadersTimeout({ timeout: Duration.seconds(1) }))
    }))

  it.effect("a reset mid-response poisons with the transport's ReadError and requestSent true", () =>
    Effect.gen(function*() {
      const pair = yield* setup()
      const fiber = yield* Effect.forkChild(Effect.flip(pair.connection.send(pair.writer.get("/").finish(), pair.reader)))
      yield* readRequest(pair.server)
      yield* pair.server.write(bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"))
      yield* Effect.yieldNow
      yield* pair.drop()
      const error = yield* Fiber.join(fiber)
      assert.deepStrictEqual(describeError(error), { reason: "ReadError", requestSent: true })
      assert.strictEqual(error.reason._tag === "ReadError" && error.reason.kind, "Reset")
      assert.strictEqual(pair.connection.status, "Poisoned")
    }))

  it.effect("a close before the response completes is IncompleteResponse with the bytes received", () =>
    Effect.gen(function*() {
      const { server, connection, writer, reader } = yield* setup()
      const partial = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"
      const [error] = yield* Effect.all([
        Effect.flip(connection.send(writer.get("/").finish(), reader)),
        Effect.andThen(answer(server, partial), server.end())
      ], { concurrency: 2 })
      assert.deepStrictEqual(error.reason, new HttpConnection.IncompleteResponse({ received: partial.length }))
      assert.isTrue(error.requestSent)
      const none = yield* setup()
      const [early] = yield* Effect.all([
        Effect.flip(none.connection.send(none.writer.get("/").finish(), none.reader)),
        Effect.andThen(readRequest(none.server), none.server.end())
      ], { concurrency: 2 })
      assert.deepStrictEqual(early.reason, new HttpConnection.IncompleteResponse({ received: 0 }))
      assert.include(early.message, "the server closed the connection before sending a response (request bytes were sent)")
    }))

  it.effect("a malformed status line is a MalformedResponse carrying the codec's violation", () =>
    Effect.gen(function*() {
      const { server, connection, writer, reader } = yield* setup()
      const [error] = yield* Effect.all([
        Effect.flip(connection.send(writer.get("/").finish(), reader)),
        answer(server, "HTTP/1.1 2x0 OK\r\n\r\n")
      ], { concurrency: 2 })
      assert.deepStrictEqual([error.address, error.reason._tag, error.requestSent], ["memory:server", "MalformedResponse", true])
      assert.strictEqual(error.reason._tag === "MalformedResponse" && error.reason.violation._tag, "InvalidStatusLine")
      assert.strictEqual(connection.status, "Poisoned")
    }))

  it.effect("a chunk extension that breaks RFC 9112 §7.1.1 is a MalformedResponse and poisons (issue 16)", () =>
    Effect.gen(function*() {
      const { server, client, connection, writer, reader } = yield* setup()
      const [error] = yield* Effect.all([
        Effect.flip(connection.send(writer.get("/").finish(), reader)),
        answer(server, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;\r\naa\r\n0\r\n\r\n")
      ], { concurrency: 2 })
      assert.deepStrictEqual(
        error.reason,
        new HttpConnection.MalformedResponse({
          violation: {
            _tag: "InvalidChunkExtension",
            message: "expected an extension name (token) after \";\" in a chunk extension at offset 2, got CR",
            offset: 2
          }
        })
      )
      assert.isTrue(error.requestSent)
      assert.deepStrictEqual([connection.status, client.state], ["Poisoned", "destroyed"])
    }))

  it.effect("a body above the reader's maxBodySize is ResponseTooLarge and poisons", () =>
    Effect.gen(function*() {
      const { server, connection, writer } = yield* setup()
      const reader = ResponseReader.make({ maxBodySize: 8 })
      const [error] = yield* Effect.all([
        Effect.flip(connection.send(writer.get("/").finish(), reader)),
        answer(server, ok("0123456789"))
      ], { concurrency: 2 })
      assert.deepStrictEqual(error.reason, new HttpConnection.ResponseTooLarge({ size: 10, limit: 8 }))
      assert.strictEqual(connection.status, "Poisoned")
    }))

  it.effect("status and isReusable answer from plain data: a busy or stale connection builds no error to say so", () =>
    Effect.gen(function*() {
      const { server, connection, writer, reader } = yield* setup()
      // the probe works: building a reason counts
      assert.strictEqual(errorsBuiltBy(() => new HttpConnection.ConnectionStale({ kind: "PeerEnded" }))[1], 1)
      const sending = yield* Effect.forkChild(connection.send(writer.get("/").finish(), reader))
      yield* Effect.yieldNow
      assert.deepStrictEqual(errorsBuiltBy(() => [connection.status, connection.isReusable]), [["Busy", false], 0])
      yield* answer(server, ok("1"))
      yield* Fiber.join(sending)
      assert.deepStrictEqual(errorsBuiltBy(() => [connection.status, connection.isReusable]), [["Ready", true], 0])
      yield* server.end()
      assert.deepStrictEqual(errorsBuiltBy(() => [connection.status, connection.isReusable]), [["Stale", false], 0])
      // the reason is built when asked for, and when a send fails
      assert.deepStrictEqual(connection.unusableReason, new HttpConnection.ConnectionStale({ kind: "PeerEnded" }))
      const error = yield* Effect.flip(connection.send(writer.get("/").finish(), reader))
      assert.deepStrictEqual(
        error,
        new HttpConnection.HttpError({
          address: "memory:server",
          reason: new HttpConnection.ConnectionStale({ kind: "PeerEnded" }),
          requestSent: false
        })
      )
    }))

  it.effect("a server FIN while idle is ConnectionStale before any byte is written", () =>
    Effect.gen(function*() {
      const { server, client, connection, writer, reader } = yield* setup()
      yield* Effect.all([connection.send(writer.get("/").finish(), reader), answer(server, ok("1"))], {
        concurrency: 2
      })
      yield* server.end()
      assert.strictEqual(connection.status, "Stale")
      const written = client.bytesWritten
      const error = yield* Effect.flip(connection.send(writer.post("/order").body("{}").finish(), reader))
      assert.deepStrictEqual(describeError(error), { reason: "ConnectionStale", requestSent: false })
      assert.deepStrictEqual(error.reason, new HttpConnection.ConnectionStale({ kind: "PeerEnded" }))
      assert.deepStrictEqual([client.bytesWritten, server.buffered, client.state], [written, 0, "destroyed"])
      assert.strictEqual(
        error.message,
        "HTTP exchange with memory:server failed: the server closed the idle keep-alive connection; open a new connection (no request byte was sent)"
      )
    }))

  it.effect("unsolicited bytes while idle (a 408 before closing) make the connection stale", () =>
    Effect.gen(function*() {
      const { server, connection, writer, reader } = yield* setup()
      yield* Effect.all([connection.send(writer.get("/").finish(), reader), answer(server, ok("1"))], {
        concurrency: 2
      })
      yield* server.write(bytes("HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n"))
      const error = yield* Effect.flip(connection.send(writer.get("/").finish(), reader))
      assert.deepStrictEqual(error.reason, new HttpConnection.ConnectionStale({ kind: "UnsolicitedBytes" }))
      assert.isFalse(error.requestSent)
    }))

  it.effect("a reset while idle is ConnectionStale kind PeerReset", () =>
    Effect.gen(function*() {
      const { drop, connection, writer, reader } = yield* setup()
      yield* drop()
      const error = yield* Effect.flip(connection.send(writer.get("/").finish(), reader))
      assert.deepStrictEqual(describeError(error), { reason: "ConnectionStale", requestSent: false })
      assert.deepStrictEqual(error.reason, new HttpConnection.ConnectionStale({ kind: "PeerReset" }))
    }))

  it.effect("expires after the default 4 s idle timeout: the reaper closes the socket, send fails without writing", () =>
    Effect.gen(function*() {
      const { server, client, connection, writer, reader } = yield* setup()
      yield* Effect.all([connection.send(writer.get("/").finish(), reader), answer(server, ok("1"))], {
        concurrency: 2
      })
      yield* TestClock.adjust("3999 millis")
      assert.deepStrictEqual([connection.status, client.state], ["Ready", "open"])
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual([connection.status, client.state, server.peerEnded], ["Stale", "destroyed", true])
      const written = client.bytesWritten
      const error = yield* Effect.flip(connection.send(writer.get("/").finish(), reader))
      assert.deepStrictEqual(error.reason, new HttpConnection.ConnectionStale({ kind: "IdleTimeout" }))
      assert.deepStrictEqual([error.requestSent, client.bytesWritten], [false, written])
    }))

  it.effect("each response restarts the idle clock, and a fresh connection idles out too", () =>
    Effect.gen(function*() {
      const { server, connection, writer, reader } = yield* setup({ idleTimeout: "1 second" })
      for (let i = 0; i < 3; i++) {
        yield* TestClock.adjust("900 millis")
        yield* Effect.all([connection.send(writer.get("/").finish(), reader), answer(server, ok("1"))], {
          concurrency: 2
        })
      }
      yield* TestClock.adjust("999 millis")
      assert.strictEqual(connection.status, "Ready")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(connection.status, "Stale")
      const fresh = yield* setup({ idleTimeout: "1 second" })
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual([fresh.connection.status, fresh.client.state], ["Stale", "destroyed"])
    }))

  it.effect("honours Keep-Alive: timeout=N minus the 1 s margin, capped by maxIdleTimeout", () =>
    Effect.gen(function*() {
      const hinted = yield* setup()
      yield* Effect.all([
        hinted.connection.send(hinted.writer.get("/").finish(), hinted.reader),
        answer(hinted.server, ok("1", "Keep-Alive: timeout=2, max=100\r\n"))
      ], { concurrency: 2 })
      yield* TestClock.adjust("999 millis")
      assert.strictEqual(hinted.connection.status, "Ready")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(hinted.connection.status, "Stale")

      const long = yield* setup({ maxIdleTimeout: "30 seconds" })
      yield* Effect.all([
        long.connection.send(long.writer.get("/").finish(), long.reader),
        answer(long.server, ok("1", "Keep-Alive: timeout=3600\r\n"))
      ], { concurrency: 2 })
      yield* TestClock.adjust("29999 millis")
      assert.strictEqual(long.connection.status, "Ready")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(long.connection.status, "Stale")

      // a hint at the margin leaves no safe idle time: expired at once
      const short = yield* setup()
      yield* Effect.all([
        short.connection.send(short.writer.get("/").finish(), short.reader),
        answer(short.server, ok("1", "Keep-Alive: timeout=1\r\n"))
      ], { concurrency: 2 })
      assert.deepStrictEqual(short.connection.unusableReason, new HttpConnection.ConnectionStale({ kind: "IdleTimeout" }))
    }))

  it.effect("a hint shorter than the idle timeout wakes the reaper earlier and closes the socket on time", () =>
    Effect.gen(function*() {
      const { server, client, connection, writer, reader } = yield* setup({ idleTimeout: "10 seconds" })
      yield* Effect.all([
        connection.send(writer.get("/").finish(), reader),
        answer(server, ok("1", "Keep-Alive: timeout=3\r\n"))
      ], { concurrency: 2 })
      yield* TestClock.adjust("1999 millis")
      assert.strictEqual(client.state, "open")
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual([connection.status, client.state], ["Stale", "destroyed"])
    }))

  it.effect("retires itself after maxRequests responses and closes the socket", () =>
    Effect.gen(function*() {
      const { server, client, connection, writer, reader } = yield* setup({ maxRequests: 2 })
      for (let i = 0; i < 2; i++) {
        yield* Effect.all([connection.send(writer.get("/").finish(), reader), answer(server, ok("1"))], {
          concurrency: 2
        })
      }
      assert.deepStrictEqual([connection.status, client.state], ["Stale", "destroyed"])
      const error = yield* Effect.flip(connection.send(writer.get("/").finish(), reader))
      assert.deepStrictEqual(error.reason, new HttpConnection.ConnectionStale({ kind: "MaxRequests" }))
      assert.isFalse(error.requestSent)
    }))

  it.effect("a second send while one is in flight fails with ConnectionBusy and disturbs nothing", () =>
    Effect.gen(function*() {
      const { server, connection, writer, reader } = yield* setup()
      const first = yield* Effect.forkChild(connection.send(writer.get("/a").finish(), reader))
      yield* readRequest(server)
      assert.strictEqual(connection.status, "Busy")
      const other = RequestWriter.make({ host: "example.test" })
      const error = yield* Effect.flip(connection.send(other.get("/b").finish(), ResponseReader.make()))
      assert.deepStrictEqual(describeError(error), { reason: "ConnectionBusy", requestSent: false })
      yield* server.write(bytes(ok("a")))
      assert.strictEqual((yield* Fiber.join(first)).bodyText(), "a")
      assert.strictEqual(connection.status, "Ready")
    }))

  it.effect("an interrupted send poisons the connection and closes the socket", () =>
    Effect.gen(function*() {
      const { server, client, connection, writer, reader } = yield* setup()
      const fiber = yield* Effect.forkChild(connection.send(writer.get("/").finish(), reader))
      yield* readRequest(server)
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual([connection.status, client.state], ["Poisoned", "destroyed"])
      const error = yield* Effect.flip(connection.send(writer.get("/").finish(), reader))
      assert.deepStrictEqual(error.reason, new ConnectionPoisoned({ cause: new HttpConnection.Interrupted() }))
    }))

  it.effect("a write that fails mid-request says how much was sent", () =>
    Effect.gen(function*() {
      const pair = yield* setup({}, { capacity: 16 })
      const request = pair.writer.post("/orders").body("x".repeat(200)).finish()
      const fiber = yield* Effect.forkChild(Effect.flip(pair.connection.send(request, pair.reader)))
      yield* Effect.yieldNow
      assert.strictEqual(pair.client.bytesWritten, 16)
      yield* pair.drop()
      const error = yield* Fiber.join(fiber)
      assert.deepStrictEqual(describeError(error), { reason: "WriteError", requestSent: true })
      assert.strictEqual(pair.connection.status, "Poisoned")
    }))

  it.effect("a RequestWriter fault is InvalidRequest; the connection stays usable", () =>
    Effect.gen(function*() {
      const { server, connection, writer, reader } = yield* setup()
      const error = yield* Effect.flip(connection.send(writer.get("/").header("X-Bad", "a\r\nb").finish(), reader))
      assert.deepStrictEqual(describeError(error), { reason: "InvalidRequest", requestSent: false })
      assert.strictEqual(connection.status, "Ready")
      const [response] = yield* Effect.all([connection.send(writer.get("/").finish(), reader), answer(server, ok("fine"))], {
        concurrency: 2
      })
      assert.strictEqual(response.bodyText(), "fine")
    }))

  it.effect("close frees the socket; a later send fails with ConnectionNotReusable kind ClosedLocally", () =>
    Effect.gen(function*() {
      const { client, connection, writer, reader } = yield* setup()
      yield* connection.close
      assert.deepStrictEqual([client.state, connection.status], ["destroyed", "NotReusable"])
      const error = yield* Effect.flip(connection.send(writer.get("/").finish(), reader))
      assert.deepStrictEqual(error.reason, new HttpConnection.ConnectionNotReusable({ kind: "ClosedLocally" }))
    }))

  it.effect("closing the scope destroys the transport", () =>
    Effect.gen(function*() {
      const pair = yield* Memory.pair()
      yield* Effect.scoped(HttpConnection.make(pair.client))
      assert.strictEqual(pair.client.state, "destroyed")
    }))
})

describe("HttpConnection.isRetryable", () => {
  const error = (reason: HttpConnection.HttpErrorReason, requestSent: boolean) =>
    new HttpConnection.HttpError({ address: "a:1", reason, requestSent })
  const get = { isIdempotent: true }
  const post = { isIdempotent: false }

  it("allows any retry when nothing was sent, and only idempotent ones after the connection died mid-request", () => {
    const stale = error(new HttpConnection.ConnectionStale({ kind: "PeerEnded" }), false)
    const early = error(new HttpConnection.IncompleteResponse({ received: 0 }), true)
    const partial = error(new HttpConnection.IncompleteResponse({ received: 10 }), true)
    const timeout = error(new HttpConnection.ReadTimeout({ timeout: Duration.seconds(1) }), true)
    const invalid = error(
      new HttpConnection.InvalidRequest({ error: { _tag: "ReservedHeader", name: "Host", message: "Host is set by the writer" } }),
      false
    )
    assert.deepStrictEqual(
      [stale, early, partial, timeout, invalid].map((e) => [HttpConnection.isRetryable(e, get), HttpConnection.isRetryable(e, post)]),
      [[true, true], [true, false], [false, false], [false, false], [false, false]]
    )
  })
})

describe("HttpConnection.connect", () => {
  it.effect("without connectTimeout a dial that never completes fails after 10 s, over http and https", () =>
    Effect.gen(function*() {
      // the resolver stub never answers, so the dial hangs without any traffic
      const lookup: net.LookupFunction = () => {}
      const dial = (url: string) => Effect.forkChild(Effect.flip(Effect.scoped(HttpConnection.connect(url, { lookup }))))
      const plain = yield* dial("http://hang.invalid/")
      const secure = yield* dial("https://hang.invalid/")
      yield* TestClock.adjust("9999 millis")
      assert.deepStrictEqual([plain.pollUnsafe(), secure.pollUnsafe()], [undefined, undefined])
      yield* TestClock.adjust("1 millis")
      const errors = [yield* Fiber.join(plain), yield* Fiber.join(secure)]
      assert.deepStrictEqual(
        errors.map((e) => [e.reason._tag, e.reason._tag === "ConnectError" && e.reason.kind, e.requestSent]),
        [["ConnectError", "Timeout", false], ["ConnectError", "Timeout", false]]
      )
      assert.strictEqual(
        errors[0]!.message,
        "HTTP exchange with hang.invalid:80 failed: connect failed: timed out (no connection within 10s) (no request byte was sent)"
      )
      assert.include(errors[1]!.message, "HTTP exchange with hang.invalid:443 failed: connect failed: timed out (not connected within 10s)")
    }))

  it.effect("refuses a URL it cannot dial with InvalidUrl, and names the fault", () =>
    Effect.gen(function*() {
      const bad = yield* Effect.flip(HttpConnection.connect("ws://example.test/"))
      assert.deepStrictEqual(
        bad,
        new HttpConnection.HttpError({
          address: "example.test",
          reason: new InvalidUrl({
            error: { _tag: "UnsupportedScheme", scheme: "ws", message: `scheme "ws" is not HTTP; use http or https` }
          }),
          requestSent: false
        })
      )
      assert.strictEqual(
        bad.message,
        `HTTP exchange with example.test failed: URL refused: scheme "ws" is not HTTP; use http or https (no request byte was sent)`
      )
      const secret = yield* Effect.flip(HttpConnection.connect({ url: "http://user:pw@example.test/", idleTimeout: "1 second" }))
      assert.deepStrictEqual([secret.address, secret.reason._tag, secret.reason._tag === "InvalidUrl" && secret.reason.error._tag], [
        "(url)",
        "InvalidUrl",
        "CredentialsInUrl"
      ])
      assert.notInclude(secret.message, "pw")
    }))
})
