/**
 * `WebSocket.connectOver` runs the handshake over a transport that is already connected, so it
 * takes no dial option: each one below is a type error there, and accepted by `connect`. Every
 * `@ts-expect-error` is checked by `tsc --noEmit` (part of `npm test`): if a dial option ever
 * compiles on `connectOver`, the unused directive fails the type check.
 */
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Memory from "../../src/Transport/Memory.ts"
import * as Proxy from "../../src/Transport/Proxy.ts"
import * as Tls from "../../src/Transport/Tls.ts"
import type { Transport } from "../../src/Transport/Transport.ts"
import * as WebSocket from "../../src/Transport/WebSocket.ts"

const url = "ws://127.0.0.1:1/"

// Compile-time only: wrapped in a function that is never called, so nothing is dialed.
const forbidden = (transport: Transport): void => {
  const tls = Tls.defaultConfig()
  const proxy = Proxy.make({ host: "127.0.0.1", port: 3128 })
  // @ts-expect-error tls belongs to the dial
  WebSocket.connectOver(transport, url, { tls })
  // @ts-expect-error servername belongs to the dial
  WebSocket.connectOver(transport, url, { servername: "localhost" })
  // @ts-expect-error proxy belongs to the dial
  WebSocket.connectOver(transport, url, { proxy })
  // @ts-expect-error noDelay is a socket option
  WebSocket.connectOver(transport, url, { noDelay: false })
  // @ts-expect-error keepAlive is a socket option
  WebSocket.connectOver(transport, url, { keepAlive: "30 seconds" })
  // @ts-expect-error busyPoll is a socket option
  WebSocket.connectOver(transport, url, { busyPoll: "1 millis" })
  // @ts-expect-error maxReadSize is the socket's read high-water mark
  WebSocket.connectOver(transport, url, { maxReadSize: 1024 })
  // @ts-expect-error family is a socket option
  WebSocket.connectOver(transport, url, { family: 4 })
  // @ts-expect-error lookup is a socket option
  WebSocket.connectOver(transport, url, { lookup: () => {} })
  // @ts-expect-error writeHighWaterMark is a socket option
  WebSocket.connectOver(transport, url, { writeHighWaterMark: 1024 })

  // connect takes them all, beside the handshake and stream options
  WebSocket.connect(url, {
    tls,
    servername: "localhost",
    proxy,
    noDelay: false,
    keepAlive: "30 seconds",
    busyPoll: "1 millis",
    maxReadSize: 1024,
    family: 4,
    writeHighWaterMark: 1024,
    headers: { "X-API-KEY": "k" },
    protocols: ["v1"],
    connectTimeout: "1 second",
    maxBatch: 16
  })
  // connectOver keeps the handshake and stream options
  WebSocket.connectOver(transport, url, { headers: [["X-API-KEY", "k"]], protocols: ["v1"], origin: "o", connectTimeout: "1 second", maxBatch: 16 })
}

describe("WebSocket option types", () => {
  it("ConnectOptions is the handshake options plus the dial options; connectOver's are the handshake's alone", () => {
    expectTypeOf<WebSocket.ConnectOptions>().toExtend<WebSocket.ConnectOverOptions>()
    expectTypeOf<WebSocket.ConnectOptions>().toExtend<WebSocket.DialOptions>()
    expectTypeOf<WebSocket.ConnectOverOptions>().not.toHaveProperty("tls")
    expectTypeOf<WebSocket.ConnectOverOptions>().not.toHaveProperty("proxy")
    expectTypeOf<WebSocket.ConnectOverOptions>().not.toHaveProperty("noDelay")
    expectTypeOf<WebSocket.DialOptions>().not.toHaveProperty("readHighWaterMark")
    expectTypeOf<WebSocket.DialOptions>().not.toHaveProperty("connectTimeout")
    assert.strictEqual(typeof forbidden, "function")
  })

  it.effect("connectOver runs the handshake with the options it takes, over an in-memory pair", () =>
    Effect.gen(function*() {
      const pair = yield* Memory.pair()
      const server = yield* Effect.forkChild(WebSocket.accept(pair.server, { protocols: ["v2", "v1"] }))
      const client = yield* WebSocket.connectOver(pair.client, url, { headers: [["X-API-KEY", "k"]], protocols: ["v1"], origin: "o" })
      const accepted = yield* Fiber.join(server)
      assert.deepStrictEqual(
        [client.protocol, accepted.protocol, accepted.upgrade?.origin, accepted.upgrade?.headers.find(([name]) => name.toLowerCase() === "x-api-key")],
        ["v1", "v1", "o", ["X-API-KEY", "k"]]
      )
    }).pipe(Effect.scoped))
})
