import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as net from "node:net"
import * as ReadBuf from "../../src/Codec/ReadBuf.ts"
import * as Dial from "../../src/Transport/Dial.ts"
import type { Transport } from "../../src/Transport/Transport.ts"
import { serve } from "../support/netServer.ts"

// The one dial path: URL → endpoint, and endpoint → TCP or TLS. Proxies are in Proxy.test.ts,
// TLS over other transports in Tls.over.test.ts. Every socket talks to 127.0.0.1.

const echo = (socket: net.Socket) => {
  socket.on("data", (chunk) => socket.write(chunk))
  socket.on("end", () => socket.end())
}

const readAll = (transport: Transport, buf: ReadBuf.ReadBuf, n: number) =>
  Effect.gen(function*() {
    while (buf.length < n) {
      if ((yield* transport.read(buf)) === 0) break
    }
    return buf.data().toString("latin1")
  })

describe("Dial.endpoint", () => {
  it.effect("maps http/ws to plain and https/wss to TLS with default ports and bare IPv6 hosts", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* Dial.endpoint("ws://example.test/feed"), {
        host: "example.test",
        port: 80,
        secure: false
      })
      assert.deepStrictEqual(yield* Dial.endpoint("wss://example.test:9443/"), {
        host: "example.test",
        port: 9443,
        secure: true
      })
      assert.deepStrictEqual(yield* Dial.endpoint("https://[::1]/x"), { host: "::1", port: 443, secure: true })
      const error = yield* Effect.flip(Dial.endpoint("ftp://example.test/"))
      assert.deepStrictEqual([error.address, error.reason._tag, error.reason._tag === "ConnectError" && error.reason.kind, error.message], [
        "(url)",
        "ConnectError",
        "Other",
        "transport (url): connect failed: socket error (scheme \"ftp\" is not supported; use ws, wss, http or https)"
      ])
      // credentials are refused and never echoed into the error
      const secret = yield* Effect.flip(Dial.endpoint("wss://user:hunter2@example.test/feed"))
      assert.notInclude(secret.message, "hunter2")
      assert.include(secret.message, "credentials in wss://example.test/feed (redacted) are not supported")
    }))

})

describe("Dial.url", () => {
  it.live("dials a ws:// URL over TCP", () =>
    Effect.gen(function*() {
      const server = yield* serve(echo)
      const transport = yield* Dial.url(`ws://127.0.0.1:${server.port}/feed`)
      yield* transport.write(Buffer.from("hi"))
      assert.strictEqual(yield* readAll(transport, ReadBuf.make(), 2), "hi")
    }))
})


describe("Dial.connect", () => {
  it.effect("refuses a host that could inject a header line into CONNECT, before dialing anything", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Dial.connect({ host: "api.test\r\nX-Evil: 1", port: 443, secure: true }))
      assert.deepStrictEqual([error.address, error.reason._tag, error.reason._tag === "ConnectError" && error.reason.kind], [
        "(host)",
        "ConnectError",
        "Other"
      ])
      assert.strictEqual(error.message, "transport (host): connect failed: socket error (invalid host \"api.test\\r\\nX-Evil: 1\")")
      const empty = yield* Effect.flip(Dial.connect({ host: "", port: 80, secure: false }))
      assert.strictEqual(empty.address, "(host)")
    }))
})
