import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as RequestWriter from "../../src/Codec/RequestWriter.ts"
import * as ResponseReader from "../../src/Codec/ResponseReader.ts"
import * as HttpConnection from "../../src/Transport/HttpConnection.ts"
import { serve } from "../support/netServer.ts"

// Issue 9's deadlines over a real socket: a node:net server on 127.0.0.1:0 that trickles its
// answer a byte every 20 ms, so the inactivity timer (readTimeout, here 1 s) never fires and
// only the per-exchange deadlines can end the exchange. Short values, generous margins.

const TRICKLE_MS = 20

/** Serves each connection by writing `prefix` at once, then `trickle` one byte per 20 ms, forever. */
const serveTrickle = (prefix: string, trickle: string) =>
  serve((socket) => {
    socket.once("data", () => {
      socket.write(prefix)
      let i = 0
      const timer = setInterval(() => socket.write(trickle[i++ % trickle.length]!), TRICKLE_MS)
      socket.on("close", () => clearInterval(timer))
    })
  })

const exchange = (port: number, options: HttpConnection.ConnectOptions) =>
  Effect.gen(function*() {
    const connection = yield* HttpConnection.connect(`http://127.0.0.1:${port}`, options)
    const writer = RequestWriter.make({ host: `127.0.0.1:${port}` })
    const error = yield* Effect.flip(connection.send(writer.get("/trickle").finish(), ResponseReader.make()))
    return { connection, error }
  })

describe("HttpConnection deadlines over loopback", () => {
  it.live("a head trickled a byte every 20 ms ends with HeadersTimeout and poisons the connection", () =>
    Effect.gen(function*() {
      // header lines that never end: X-a: aaaa...
      const { port } = yield* serveTrickle("HTTP/1.1 200 OK\r\nX-a: ", "a")
      const { connection, error } = yield* exchange(port, { readTimeout: "1 second", headersTimeout: "300 millis" })
      assert.deepStrictEqual(error.reason, new HttpConnection.HeadersTimeout({ timeout: Duration.millis(300) }))
      assert.isTrue(error.requestSent)
      assert.include(error.message, "the response head did not arrive within the headers timeout of 300ms")
      assert.strictEqual(connection.status, "Poisoned")
    }))

  it.live("a body trickled a byte every 20 ms ends with BodyTimeout and poisons the connection", () =>
    Effect.gen(function*() {
      const { port } = yield* serveTrickle("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n", "b")
      const { connection, error } = yield* exchange(port, { readTimeout: "1 second", bodyTimeout: "300 millis" })
      assert.deepStrictEqual(error.reason, new HttpConnection.BodyTimeout({ timeout: Duration.millis(300) }))
      assert.isTrue(error.requestSent)
      assert.include(error.message, "the response body did not complete within the body timeout of 300ms")
      assert.strictEqual(connection.status, "Poisoned")
    }))
})

describe("HttpConnection.connect over loopback", () => {
  it.live("https to a server that accepts TCP but never speaks TLS fails with HandshakeTimeout", () =>
    Effect.gen(function*() {
      const { port } = yield* serve()
      const error = yield* Effect.flip(HttpConnection.connect(`https://127.0.0.1:${port}`, { connectTimeout: "300 millis" }))
      assert.deepStrictEqual(
        [error.address, error.reason._tag, error.reason._tag === "TlsError" && error.reason.kind, error.requestSent],
        [`127.0.0.1:${port}`, "TlsError", "HandshakeTimeout", false]
      )
      assert.include(error.message, "HandshakeTimeout (not connected within 300ms)")
    }))
})
