import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { TestClock } from "effect/testing"
import * as tls from "node:tls"
import { afterAll, beforeAll } from "vitest"
import * as ReadBuf from "../../src/Codec/ReadBuf.ts"
import * as Tls from "../../src/Transport/Tls.ts"
import { serve as serveNet } from "../support/netServer.ts"
import { hasOpenssl, makeThrowawayCa, OPENSSL_HINT, type ThrowawayCa } from "../support/throwawayCa.ts"

// A throwaway CA and a server certificate for "localhost" / 127.0.0.1, made with openssl in a
// temp dir. Servers listen on 127.0.0.1:0; SNI names are sent, never resolved.

let ca: ThrowawayCa | undefined
let caPem = ""
let caDer: Uint8Array = new Uint8Array()
let key = ""
let cert = ""

if (!hasOpenssl) console.warn(OPENSSL_HINT)

beforeAll(() => {
  if (!hasOpenssl) return
  ca = makeThrowawayCa()
  ;({ caPem, caDer, key, cert } = ca)
})

afterAll(() => ca?.remove())

/** An echo TLS server on 127.0.0.1:0 for the test's scope; counts closed connections. */
const serve = (options: tls.TlsOptions = {}) =>
  serveNet((socket) => {
    socket.on("data", (chunk) => socket.write(chunk))
    socket.on("end", () => socket.end())
  }, { tls: { key, cert, ...options } })

const trusted = () => Tls.TlsConfig.makeUnsafe({ ca: [caPem] })

describe.skipIf(!hasOpenssl)("Tls", () => {
  it.live("connects to a server whose certificate chains to the configured CA and echoes", () =>
    Effect.gen(function*() {
      const { port } = yield* serve()
      const transport = yield* Tls.connect({ host: "127.0.0.1", port, servername: "localhost", config: trusted() })
      yield* transport.write(Buffer.from("secret"))
      const buf = ReadBuf.make()
      while (buf.length < 6) yield* transport.read(buf)
      assert.strictEqual(buf.data().toString(), "secret")
      assert.strictEqual(transport.remoteAddress, `127.0.0.1:${port}`)
    }))

  it.live("carries a megabyte both ways through onread on a TLS socket", () =>
    Effect.gen(function*() {
      const { port } = yield* serve()
      const transport = yield* Tls.connect({ host: "127.0.0.1", port, servername: "localhost", config: trusted() })
      const payload = Buffer.alloc(1 << 20)
      for (let i = 0; i < payload.length; i++) payload[i] = i % 251
      const buf = ReadBuf.make({ capacity: 1 << 20 })
      const writer = yield* Effect.forkChild(transport.write(payload))
      while (buf.length < payload.length) assert.isAbove(yield* transport.read(buf), 0)
      yield* Fiber.join(writer)
      assert.isTrue(buf.data().equals(payload))
    }))

  it.live("checks an IP literal host against the certificate's IP SAN when no servername is given", () =>
    Effect.gen(function*() {
      const { port } = yield* serve()
      const transport = yield* Tls.connect({ host: "127.0.0.1", port, config: trusted() })
      assert.isDefined(Tls.protocolVersion(transport))
    }))

  it.live("accepts the CA as DER bytes", () =>
    Effect.gen(function*() {
      const { port } = yield* serve()
      const config = yield* Tls.TlsConfig.make({ ca: [caDer], useSystemRoots: false })
      yield* Tls.connect({ host: "127.0.0.1", port, servername: "localhost", config })
    }))

  it.live("accepts the CA as PEM bytes that do not start with the BEGIN line (a bundle's comments, a blank line)", () =>
    Effect.gen(function*() {
      const { port } = yield* serve()
      // the layout of Mozilla's cacert.pem and certifi's bundle: text before the first certificate;
      // the same text as a string is accepted, so as bytes (what readFileSync returns) it must be too
      for (const text of [`## Bundle of CA Root Certificates\n##\n\n${caPem}`, `\n${caPem}`, caPem.replace(/\n/g, "\r\n")]) {
        const config = yield* Tls.TlsConfig.make({ ca: [Buffer.from(text, "latin1")], useSystemRoots: false })
        yield* Effect.scoped(Tls.connect({ host: "127.0.0.1", port, servername: "localhost", config }))
      }
    }))

  it.live("fails with HostnameMismatch when the certificate does not cover the name", () =>
    Effect.gen(function*() {
      const { port } = yield* serve()
      const error = yield* Effect.flip(
        Tls.connect({ host: "127.0.0.1", port, servername: "wrong.example", config: trusted() })
      )
      assert.deepStrictEqual([error.reason._tag, error.reason._tag === "TlsError" && error.reason.kind], ["TlsError", "HostnameMismatch"])
      assert.include(error.message, `transport 127.0.0.1:${port}: TLS failed: HostnameMismatch (ERR_TLS_CERT_ALTNAME_INVALID: Hostname/IP does not match certificate's altnames`)
    }))

  it.live("fails with CertificateUntrusted when the CA is not trusted, and the server sees the socket closed", () =>
    Effect.gen(function*() {
      const server = yield* serve()
      const error = yield* Effect.flip(
        Tls.connect({ host: "127.0.0.1", port: server.port, servername: "localhost", config: Tls.defaultConfig() })
      )
      assert.deepStrictEqual([error.reason._tag, error.reason._tag === "TlsError" && error.reason.kind], [
        "TlsError",
        "CertificateUntrusted"
      ])
      assert.include(
        error.message,
        `transport 127.0.0.1:${server.port}: TLS failed: CertificateUntrusted (UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate`
      )
      while (server.closes() < 1) yield* Effect.sleep("5 millis")
    }))

  it.live("fails with CertificateUntrusted when system roots are off and no CA is given", () =>
    Effect.gen(function*() {
      const { port } = yield* serve()
      const config = Tls.TlsConfig.makeUnsafe({ useSystemRoots: false })
      const error = yield* Effect.flip(Tls.connect({ host: "127.0.0.1", port, servername: "localhost", config }))
      assert.deepStrictEqual([error.address, error.reason._tag === "TlsError" && error.reason.kind], [
        `127.0.0.1:${port}`,
        "CertificateUntrusted"
      ])
    }))

  it.live("lets an untrusted certificate for the wrong name through with the dangerous switch", () =>
    Effect.gen(function*() {
      const { port } = yield* serve()
      const config = Tls.TlsConfig.makeUnsafe({ dangerouslyDisableCertificateVerification: true })
      const transport = yield* Tls.connect({ host: "127.0.0.1", port, servername: "wrong.example", config })
      yield* transport.write(Buffer.from("ok"))
      const buf = ReadBuf.make()
      while (buf.length < 2) yield* transport.read(buf)
      assert.strictEqual(buf.data().toString(), "ok")
    }))

  it.live("tls13Only negotiates TLS 1.3 and refuses a TLS 1.2-only server", () =>
    Effect.gen(function*() {
      const config = Tls.TlsConfig.makeUnsafe({ ca: [caPem], tls13Only: true })
      const modern = yield* serve()
      const transport = yield* Tls.connect({ host: "127.0.0.1", port: modern.port, servername: "localhost", config })
      assert.strictEqual(Tls.protocolVersion(transport), "TLSv1.3")
      const old = yield* serve({ maxVersion: "TLSv1.2" })
      const error = yield* Effect.flip(Tls.connect({ host: "127.0.0.1", port: old.port, servername: "localhost", config }))
      assert.deepStrictEqual([error.reason._tag, error.reason._tag === "TlsError" && error.reason.kind], ["TlsError", "HandshakeFailed"])
    }))

  it.live("negotiates ALPN", () =>
    Effect.gen(function*() {
      const { port } = yield* serve({ ALPNProtocols: ["http/1.1"] })
      const config = Tls.TlsConfig.makeUnsafe({ ca: [caPem], alpn: ["h2", "http/1.1"] })
      const transport = yield* Tls.connect({ host: "127.0.0.1", port, servername: "localhost", config })
      assert.strictEqual(Tls.alpnProtocol(transport), "http/1.1")
    }))

  it.live("fails with ConnectError (not TlsError) when TCP itself is refused", () =>
    Effect.gen(function*() {
      const { port, server } = yield* serve()
      yield* Effect.promise(() => new Promise((resolve) => server.close(resolve)))
      const error = yield* Effect.flip(Tls.connect({ host: "127.0.0.1", port, config: trusted() }))
      assert.deepStrictEqual([error.address, error.reason._tag, error.reason._tag === "ConnectError" && error.reason.kind], [
        `127.0.0.1:${port}`,
        "ConnectError",
        "Refused"
      ])
    }))

  it.effect("a server that accepts TCP but never speaks TLS fails with HandshakeTimeout after the default 10 s", () =>
    Effect.gen(function*() {
      // a plain TCP listener that takes the ClientHello and never answers
      let heard: () => void = () => {}
      const hello = new Promise<void>((resolve) => (heard = resolve))
      const { port } = yield* serveNet((socket) => socket.once("data", () => heard()))
      const fiber = yield* Effect.forkChild(Effect.flip(Effect.scoped(Tls.connect({ host: "127.0.0.1", port, config: trusted() }))))
      // the ClientHello goes out once TCP connected: the timeout now is the handshake's
      yield* Effect.promise(() => hello)
      yield* TestClock.adjust("9999 millis")
      assert.strictEqual(fiber.pollUnsafe(), undefined)
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(fiber)
      assert.deepStrictEqual([error.reason._tag, error.reason._tag === "TlsError" && error.reason.kind], ["TlsError", "HandshakeTimeout"])
      assert.strictEqual(
        error.message,
        `transport 127.0.0.1:${port}: TLS failed: HandshakeTimeout (not connected within 10s)`
      )
    }))

  it.live("closing the scope closes the TLS socket", () =>
    Effect.gen(function*() {
      const server = yield* serve()
      yield* Effect.scoped(Tls.connect({ host: "127.0.0.1", port: server.port, servername: "localhost", config: trusted() }))
      while (server.closes() < 1) yield* Effect.sleep("5 millis")
      assert.strictEqual(server.closes(), 1)
    }))

  it.effect("rejects an invalid CA with a TransportError whose reason is TlsError InvalidConfig", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Tls.TlsConfig.make({ ca: ["-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"] }))
      assert.deepStrictEqual([error._tag, error.address, error.reason._tag, error.reason._tag === "TlsError" && error.reason.kind], [
        "TransportError",
        "config",
        "TlsError",
        "InvalidConfig"
      ])
      assert.match(error.message, /^transport config: TLS failed: InvalidConfig \(/)
    }))

  it.effect("converts DER to PEM in 64-column lines", () =>
    Effect.sync(() => {
      const pem = Tls.derToPem(new Uint8Array(60).fill(0xff))
      assert.strictEqual(
        pem,
        "-----BEGIN CERTIFICATE-----\n" + "/".repeat(64) + "\n" + "/".repeat(16) +
          "\n-----END CERTIFICATE-----\n"
      )
    }))
})
