import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { TestClock } from "effect/testing"
import { afterAll, beforeAll } from "vitest"
import * as ReadBuf from "../../src/Codec/ReadBuf.ts"
import * as Memory from "../../src/Transport/Memory.ts"
import * as Tls from "../../src/Transport/Tls.ts"
import type { Transport } from "../../src/Transport/Transport.ts"
import { readText } from "../support/bytes.ts"
import { hasOpenssl, makeThrowawayCa, OPENSSL_HINT, type ThrowawayCa } from "../support/throwawayCa.ts"

// Real TLS (node:tls, OpenSSL) over the in-memory transport: no sockets, no ports. The client
// runs Tls.over on one end of a Memory pair, the server Tls.accept on the other; time moves only
// through TestClock, so the silent-peer case is deterministic.

let ca: ThrowawayCa | undefined
if (!hasOpenssl) console.warn(OPENSSL_HINT)
beforeAll(() => {
  if (hasOpenssl) ca = makeThrowawayCa()
})
afterAll(() => ca?.remove())

const trusted = () => Tls.TlsConfig.makeUnsafe({ ca: [ca!.caPem], useSystemRoots: false })


/** A TLS echo server over the pair's server end: answers every read with the same bytes. */
const echoServer = (end: Transport, options: Partial<Tls.ServerConfigOptions> = {}, shared?: Tls.ServerConfig) =>
  Effect.gen(function*() {
    const config = shared ?? (yield* Tls.ServerConfig.make({ cert: ca!.cert, key: ca!.key, ...options }))
    const secure = yield* Tls.accept(end, { config })
    const buf = ReadBuf.make()
    while (true) {
      buf.clear()
      if ((yield* secure.read(buf)) === 0) break
      yield* secure.write(Buffer.from(buf.data()))
    }
    yield* secure.end()
  })

describe.skipIf(!hasOpenssl)("Tls.over the in-memory transport", () => {
  it.effect("runs a verified TLS 1.3 handshake and echoes through it, the memory pair carrying only ciphertext", () =>
    Effect.gen(function*() {
      const pair = yield* Memory.pair()
      yield* Effect.forkChild(echoServer(pair.server))
      const secure = yield* Tls.over(pair.client, { config: trusted(), host: "localhost" })
      assert.strictEqual(Tls.protocolVersion(secure), "TLSv1.3")
      assert.strictEqual(secure.remoteAddress, "memory:server")
      yield* secure.write(Buffer.from("over memory"))
      assert.strictEqual(yield* readText(secure, 11), "over memory")
      // the raw pair saw more than the 11 plaintext bytes each way: records, not the text
      assert.isAbove(pair.client.bytesWritten, 11 + 200)
    }))

  it.effect("carries 1 MiB both ways, byte for byte", () =>
    Effect.gen(function*() {
      const pair = yield* Memory.pair({ capacity: 16 * 1024 })
      yield* Effect.forkChild(echoServer(pair.server))
      const secure = yield* Tls.over(pair.client, { config: trusted(), host: "127.0.0.1" })
      const payload = Buffer.alloc(1 << 20)
      for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) % 251
      const writer = yield* Effect.forkChild(secure.write(payload))
      const buf = ReadBuf.make({ capacity: 1 << 20 })
      while (buf.length < payload.length) assert.isAbove(yield* secure.read(buf), 0)
      yield* Fiber.join(writer)
      assert.isTrue(buf.data().equals(payload))
    }))

  it.effect("negotiates ALPN over memory", () =>
    Effect.gen(function*() {
      const pair = yield* Memory.pair()
      yield* Effect.forkChild(echoServer(pair.server, { alpn: ["http/1.1"] }))
      const config = Tls.TlsConfig.makeUnsafe({ ca: [ca!.caPem], useSystemRoots: false, alpn: ["h2", "http/1.1"] })
      const secure = yield* Tls.over(pair.client, { config, host: "localhost" })
      assert.strictEqual(Tls.alpnProtocol(secure), "http/1.1")
    }))

  it.effect("fails with CertificateUntrusted when the server's CA is not trusted", () =>
    Effect.gen(function*() {
      const pair = yield* Memory.pair()
      yield* Effect.forkChild(Effect.ignore(echoServer(pair.server)))
      const config = Tls.TlsConfig.makeUnsafe({ useSystemRoots: true })
      const error = yield* Effect.flip(Tls.over(pair.client, { config, host: "localhost" }))
      assert.deepStrictEqual([error._tag, error.address, error.reason._tag, error.reason._tag === "TlsError" && error.reason.kind], [
        "TransportError",
        "memory:server",
        "TlsError",
        "CertificateUntrusted"
      ])
      assert.include(error.message, "transport memory:server: TLS failed: CertificateUntrusted (UNABLE_TO_VERIFY_LEAF_SIGNATURE")
    }))

  it.effect("fails with HostnameMismatch when the certificate does not cover the name", () =>
    Effect.gen(function*() {
      const pair = yield* Memory.pair()
      yield* Effect.forkChild(Effect.ignore(echoServer(pair.server)))
      const error = yield* Effect.flip(Tls.over(pair.client, { config: trusted(), host: "wrong.example" }))
      assert.deepStrictEqual([error.reason._tag, error.reason._tag === "TlsError" && error.reason.kind], [
        "TlsError",
        "HostnameMismatch"
      ])
    }))

  it.effect("lets a mismatched name through with the dangerous switch", () =>
    Effect.gen(function*() {
      const pair = yield* Memory.pair()
      yield* Effect.forkChild(echoServer(pair.server))
      const config = Tls.TlsConfig.makeUnsafe({ useSystemRoots: false, dangerouslyDisableCertificateVerification: true })
      const secure = yield* Tls.over(pair.client, { config, host: "wrong.example" })
      yield* secure.write(Buffer.from("ok"))
      assert.strictEqual(yield* readText(secure, 2), "ok")
    }))

  it.effect("a peer that ends the stream mid-handshake fails the dial with HandshakeFailed naming the disconnect", () =>
    Effect.gen(function*() {
      const pair = yield* Memory.pair()
      // the "server" reads the ClientHello and hangs up without a word
      yield* Effect.forkChild(Effect.gen(function*() {
        const buf = ReadBuf.make()
        yield* pair.server.read(buf)
        yield* pair.server.destroy()
      }))
      const error = yield* Effect.flip(Tls.over(pair.client, { config: trusted(), host: "localhost" }))
      assert.deepStrictEqual([error.address, error.reason._tag, error.reason._tag === "TlsError" && error.reason.kind], [
        "memory:server",
        "TlsError",
        "HandshakeFailed"
      ])
      assert.include(error.message, "transport memory:server: TLS failed: HandshakeFailed (ECONNRESET: Client network socket disconnected before secure TLS connection was established)")
    }))

  it.effect("a peer that resets mid-handshake fails with HandshakeFailed carrying the reset", () =>
    Effect.gen(function*() {
      const pair = yield* Memory.pair()
      yield* Effect.forkChild(Effect.gen(function*() {
        yield* pair.server.read(ReadBuf.make())
        yield* pair.drop()
      }))
      const error = yield* Effect.flip(Tls.over(pair.client, { config: trusted(), host: "localhost" }))
      assert.deepStrictEqual([error.reason._tag, error.reason._tag === "TlsError" && error.reason.kind], ["TlsError", "HandshakeFailed"])
      assert.include(error.message, "read failed: Reset")
    }))

  it.effect("a peer that stops answering mid-handshake fails with HandshakeTimeout after the default 10 s (TestClock)", () =>
    Effect.gen(function*() {
      const pair = yield* Memory.pair()
      const fiber = yield* Effect.forkChild(Effect.flip(Tls.over(pair.client, { config: trusted(), host: "localhost" })))
      // the ClientHello arrived; nobody answers it
      while (pair.client.buffered === 0) yield* Effect.yieldNow
      yield* TestClock.adjust("9999 millis")
      assert.strictEqual(fiber.pollUnsafe(), undefined)
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error.message, "transport memory:server: TLS failed: HandshakeTimeout (not connected within 10s)")
      assert.deepStrictEqual([error.reason._tag, error.reason._tag === "TlsError" && error.reason.kind], ["TlsError", "HandshakeTimeout"])
    }))

  it.effect("closing the scope destroys the memory end underneath", () =>
    Effect.gen(function*() {
      const pair = yield* Memory.pair()
      yield* Effect.forkChild(Effect.ignore(echoServer(pair.server)))
      yield* Effect.scoped(Tls.over(pair.client, { config: trusted(), host: "localhost" }))
      yield* pair.client.awaitClosed
      assert.strictEqual(pair.client.state, "destroyed")
    }))

  it.effect("resumes the session on a second connection with the same config", () =>
    Effect.gen(function*() {
      const config = trusted()
      const server = yield* Tls.ServerConfig.make({ cert: ca!.cert, key: ca!.key })
      const once = Effect.scoped(Effect.gen(function*() {
        const pair = yield* Memory.pair()
        yield* Effect.forkChild(echoServer(pair.server, {}, server))
        const secure = yield* Tls.over(pair.client, { config, host: "localhost" })
        // TLS 1.3 tickets come after the handshake: one round trip lets them arrive
        yield* secure.write(Buffer.from("x"))
        yield* readText(secure, 1)
        return Tls.sessionReused(secure)
      }))
      assert.isFalse(yield* once)
      assert.strictEqual(config.sessions.size, 1)
      assert.isTrue(yield* once)
    }))
})
