import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as ReadBuf from "../../src/Codec/ReadBuf.ts"
import * as RequestWriter from "../../src/Codec/RequestWriter.ts"
import * as ResponseReader from "../../src/Codec/ResponseReader.ts"
import * as HttpConnection from "../../src/Transport/HttpConnection.ts"
import * as Memory from "../../src/Transport/Memory.ts"
import { ConnectionPoisoned } from "../../src/Transport/Transport.ts"
import { utf8 as bytes } from "../support/bytes.ts"

// HttpConnection.open / pull / abandon over the in-memory pair: the "server" is a fiber that
// reads what the connection wrote (head and body) and writes canned bytes, so the framing of a
// request body and each step of a streamed response are seen exactly.

/** Reads from the server end until `done(text)` holds; returns everything read as text. */
const readUntil = (server: Memory.MemoryTransport, done: (text: string) => boolean) =>
  Effect.gen(function*() {
    const buf = ReadBuf.make({ capacity: 1 << 20 })
    while (!done(buf.data().toString("latin1"))) {
      if ((yield* server.read(buf)) === 0) break
    }
    return buf.data().toString("latin1")
  })

const setup = (options: HttpConnection.Options = {}) =>
  Effect.gen(function*() {
    const pair = yield* Memory.pair()
    const connection = yield* HttpConnection.make(pair.client, options)
    const writer = RequestWriter.make({ host: "example.test" })
    const reader = ResponseReader.make()
    return { ...pair, connection, writer, reader }
  })

/** Pulls until the end; returns the body as text. */
const drain = (connection: HttpConnection.HttpConnection) =>
  Effect.gen(function*() {
    let text = ""
    for (;;) {
      const chunk = yield* connection.pull
      if (chunk === undefined) return text
      text += Buffer.from(chunk).toString("latin1")
    }
  })

describe("HttpConnection.open", () => {
  it.effect("sends a Stream body chunked after the head, then streams a chunked response run by run", () =>
    Effect.gen(function*() {
      const { connection, reader, server, writer } = yield* setup()
      const body = { content: Stream.make(bytes("hello "), bytes("world")), length: undefined }
      const opened = yield* Effect.forkChild(connection.open(writer.post("/up").bodyFollows(undefined).finish(), reader, { body }))
      const request = yield* readUntil(server, (t) => t.endsWith("0\r\n\r\n"))
      assert.strictEqual(
        request,
        "POST /up HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n"
      )
      yield* server.write(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"))
      const head = yield* Fiber.join(opened)
      assert.deepStrictEqual([head.status, head.header("transfer-encoding"), reader.bodyPending], [200, "chunked", true])
      assert.strictEqual(connection.status, "Busy")
      assert.strictEqual(Buffer.from((yield* connection.pull)!).toString(), "abc")
      yield* server.write(bytes("2\r\nde\r\n0\r\n\r\n"))
      assert.strictEqual(yield* drain(connection), "de")
      assert.deepStrictEqual([connection.status, connection.requestCount], ["Ready", 1])
      assert.strictEqual(yield* connection.pull, undefined, "pull after the end is the end again")
    }).pipe(Effect.scoped))

  it.effect("a body up to bufferUpTo comes whole as from send; a Content-Length body past it streams", () =>
    Effect.gen(function*() {
      const { connection, reader, server, writer } = yield* setup()
      const small = yield* Effect.forkChild(connection.open(writer.get("/a").finish(), reader, { bufferUpTo: 10 }))
      yield* readUntil(server, (t) => t.endsWith("\r\n\r\n"))
      yield* server.write(bytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel"))
      yield* server.write(bytes("lo"))
      const whole = yield* Fiber.join(small)
      assert.deepStrictEqual([whole.bodyText(), reader.bodyPending, connection.status], ["hello", false, "Ready"])
      const large = yield* Effect.forkChild(connection.open(writer.get("/b").finish(), reader, { bufferUpTo: 2 }))
      yield* readUntil(server, (t) => t.endsWith("\r\n\r\n"))
      yield* server.write(bytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhe"))
      yield* Fiber.join(large)
      assert.isTrue(reader.bodyPending)
      const rest = yield* Effect.forkChild(drain(connection))
      yield* server.write(bytes("llo"))
      assert.strictEqual(yield* Fiber.join(rest), "hello")
      assert.strictEqual(connection.status, "Ready")
    }).pipe(Effect.scoped))

  it.effect("abandon poisons the connection with BodyAbandoned; a later send fails without writing", () =>
    Effect.gen(function*() {
      const { connection, reader, server, writer } = yield* setup()
      const opened = yield* Effect.forkChild(connection.open(writer.get("/").finish(), reader))
      yield* readUntil(server, (t) => t.endsWith("\r\n\r\n"))
      yield* server.write(bytes("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial"))
      yield* Fiber.join(opened)
      yield* connection.abandon
      assert.strictEqual(connection.status, "Poisoned")
      const error = yield* Effect.flip(connection.send(writer.get("/").finish(), reader))
      assert.deepStrictEqual(error.reason, new ConnectionPoisoned({ cause: new HttpConnection.BodyAbandoned() }))
      assert.isFalse(error.requestSent)
    }).pipe(Effect.scoped))

  it.effect("a Stream body that yields more than its Content-Length fails with RequestBodyFailed, requestSent true", () =>
    Effect.gen(function*() {
      const { connection, reader, writer } = yield* setup()
      const body = { content: Stream.make(bytes("abc"), bytes("def")), length: 4 }
      const error = yield* Effect.flip(connection.open(writer.put("/x").bodyFollows(4).finish(), reader, { body }))
      assert.deepStrictEqual(error.reason, new HttpConnection.RequestBodyFailed({ detail: "the stream yielded more than the 4 bytes announced" }))
      assert.isTrue(error.requestSent)
      assert.strictEqual(connection.status, "Poisoned")
    }).pipe(Effect.scoped))
})
