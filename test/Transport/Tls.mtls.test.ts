import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as tls from "node:tls"
import { afterAll, beforeAll } from "vitest"
import * as ReadBuf from "../../src/Codec/ReadBuf.ts"
import * as RequestWriter from "../../src/Codec/RequestWriter.ts"
import * as ResponseReader from "../../src/Codec/ResponseReader.ts"
import * as HttpConnection from "../../src/Transport/HttpConnection.ts"
import * as Tls from "../../src/Transport/Tls.ts"
import type { Transport } from "../../src/Transport/Transport.ts"
import { serve } from "../support/netServer.ts"
import { nginxAvailableFor, nginxConfig, startNginx } from "../support/nginx.ts"
import { freePort, type Peer } from "../support/peers.ts"
import {
  type ClientCertificate,
  hasOpenssl,
  makeClientCertificate,
  makeThrowawayCa,
  mtlsEchoServer,
  OPENSSL_HINT,
  type ThrowawayCa
} from "../support/throwawayCa.ts"

// Client certificates (mTLS) and session resumption over real sockets on 127.0.0.1: a node:tls
// server that requires a certificate from the throwaway CA, and nginx with ssl_verify_client on.

let ca: ThrowawayCa | undefined
let client: ClientCertificate | undefined
let nginx: Peer | undefined
let nginxPort = 0

if (!hasOpenssl) console.warn(OPENSSL_HINT)
const nginxAvailable = nginxAvailableFor("Tls.mtls, its nginx cases")

beforeAll(async () => {
  if (!hasOpenssl) return
  ca = makeThrowawayCa()
  client = makeClientCertificate(ca)
  if (!nginxAvailable) return
  nginxPort = await freePort()
  const dir = ca.dir
  nginx = await startNginx(dir, nginxConfig(dir, `
  server {
    listen 127.0.0.1:${nginxPort} ssl;
    ssl_certificate ${dir}/server.pem;
    ssl_certificate_key ${dir}/server.key;
    ssl_client_certificate ${dir}/ca.pem;
    ssl_verify_client on;
    location = /whoami { return 200 "$ssl_client_s_dn"; }
  }`), [nginxPort])
})

afterAll(async () => {
  await nginx?.stop()
  ca?.remove()
})

/** The mTLS echo server of the throwaway CA. */
const mtlsServer = (options: tls.TlsOptions = {}) => mtlsEchoServer(ca!, options)

const withCertificate = (certificate: Tls.ClientCertificate | undefined) =>
  Tls.TlsConfig.makeUnsafe({ ca: [ca!.caPem], useSystemRoots: false, clientCertificate: certificate })

const echo = (transport: Transport, text: string) =>
  Effect.gen(function*() {
    yield* transport.write(Buffer.from(text))
    const buf = ReadBuf.make()
    while (buf.length < text.length) {
      if ((yield* transport.read(buf)) === 0) break
    }
    return buf.data().toString("latin1")
  })

describe.skipIf(!hasOpenssl)("Tls client certificates", () => {
  it.live("presents a PEM certificate and key to a server that requires one", () =>
    Effect.gen(function*() {
      const server = yield* mtlsServer()
      const config = withCertificate({ cert: client!.cert, key: client!.key })
      assert.isTrue(config.hasClientCertificate)
      const transport = yield* Tls.connect({ host: "127.0.0.1", port: server.port, servername: "localhost", config })
      assert.strictEqual(yield* echo(transport, "hello"), "hello")
      const accepted = server.sockets[0] as tls.TLSSocket
      assert.isTrue(accepted.authorized)
      assert.strictEqual(accepted.getPeerCertificate().subject.CN, "nexus test client")
    }))

  it.live("presents a PKCS#12 bundle opened with a Redacted passphrase", () =>
    Effect.gen(function*() {
      const server = yield* mtlsServer()
      const config = withCertificate({ pfx: client!.pfx, passphrase: Redacted.make(client!.passphrase) })
      const transport = yield* Tls.connect({ host: "127.0.0.1", port: server.port, servername: "localhost", config })
      assert.strictEqual(yield* echo(transport, "p12"), "p12")
    }))

  it.live("without a certificate, TLS 1.3: the server's certificate_required alert fails the first read with ClientCertificateRejected", () =>
    Effect.gen(function*() {
      const server = yield* mtlsServer()
      const transport = yield* Tls.connect({ host: "127.0.0.1", port: server.port, servername: "localhost", config: withCertificate(undefined) })
      const error = yield* Effect.flip(echo(transport, "anyone?"))
      assert.deepStrictEqual([error._tag, error.address, error.reason._tag, error.reason._tag === "TlsError" && error.reason.kind], [
        "TransportError",
        `127.0.0.1:${server.port}`,
        "TlsError",
        "ClientCertificateRejected"
      ])
      assert.include(error.message, "TLS failed: ClientCertificateRejected (ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED")
    }))

  it.live("TLS 1.2: without a certificate the dial fails with HandshakeFailed — OpenSSL's alert 40, which names no cause", () =>
    Effect.gen(function*() {
      const server = yield* mtlsServer({ maxVersion: "TLSv1.2" })
      const error = yield* Effect.flip(
        Tls.connect({ host: "127.0.0.1", port: server.port, servername: "localhost", config: withCertificate(undefined) })
      )
      assert.deepStrictEqual([error.reason._tag, error.reason._tag === "TlsError" && error.reason.kind], ["TlsError", "HandshakeFailed"])
      assert.include(error.message, "SSL alert number 40")
    }))

  it.effect("a wrong passphrase, or a key that does not match the certificate, fails TlsConfig.make with InvalidConfig", () =>
    Effect.gen(function*() {
      const wrong = yield* Effect.flip(Tls.TlsConfig.make({ clientCertificate: { pfx: client!.pfx, passphrase: Redacted.make("wrong") } }))
      assert.deepStrictEqual([wrong.address, wrong.reason._tag, wrong.reason._tag === "TlsError" && wrong.reason.kind], [
        "config",
        "TlsError",
        "InvalidConfig"
      ])
      assert.notInclude(wrong.message, "wrong\"")
      const mismatched = yield* Effect.flip(Tls.TlsConfig.make({ clientCertificate: { cert: client!.cert, key: ca!.key } }))
      assert.deepStrictEqual([mismatched.reason._tag, mismatched.reason._tag === "TlsError" && mismatched.reason.kind], [
        "TlsError",
        "InvalidConfig"
      ])
      assert.include(mismatched.message, "transport config: TLS failed: InvalidConfig (")
    }))
})

describe.skipIf(!hasOpenssl)("Tls session resumption", () => {
  it.live("the second connection to an origin resumes the first one's session (isSessionReused)", () =>
    Effect.gen(function*() {
      const server = yield* serve((socket) => {
        socket.on("data", (chunk) => socket.write(chunk))
        socket.on("end", () => socket.end())
      }, { tls: { key: ca!.key, cert: ca!.cert } })
      const config = Tls.TlsConfig.makeUnsafe({ ca: [ca!.caPem], useSystemRoots: false })
      const once = Effect.scoped(Effect.gen(function*() {
        const transport = yield* Tls.connect({ host: "127.0.0.1", port: server.port, servername: "localhost", config })
        // TLS 1.3 tickets follow the handshake: one echo lets them arrive
        yield* echo(transport, "x")
        return Tls.sessionReused(transport)
      }))
      assert.isFalse(yield* once)
      assert.isTrue(yield* once)
      assert.isTrue(yield* once)
      assert.strictEqual(config.sessions.size, 1)
    }))

  it.live("a config with sessionCacheSize 0 never resumes", () =>
    Effect.gen(function*() {
      const server = yield* serve((socket) => {
        socket.on("data", (chunk) => socket.write(chunk))
        socket.on("end", () => socket.end())
      }, { tls: { key: ca!.key, cert: ca!.cert } })
      const config = Tls.TlsConfig.makeUnsafe({ ca: [ca!.caPem], useSystemRoots: false, sessionCacheSize: 0 })
      const once = Effect.scoped(Effect.gen(function*() {
        const transport = yield* Tls.connect({ host: "127.0.0.1", port: server.port, servername: "localhost", config })
        yield* echo(transport, "x")
        return Tls.sessionReused(transport)
      }))
      assert.deepStrictEqual([yield* once, yield* once, config.sessions.size], [false, false, 0])
    }))

  it.effect("the cache keeps the most recently used origins up to its capacity", () =>
    Effect.sync(() => {
      const cache = new Tls.SessionCache(2)
      cache.set("a", Buffer.from("1"))
      cache.set("b", Buffer.from("2"))
      cache.get("a")
      cache.set("c", Buffer.from("3"))
      assert.deepStrictEqual([cache.get("a")?.toString(), cache.get("b"), cache.get("c")?.toString(), cache.size], ["1", undefined, "3", 2])
      assert.throws(() => new Tls.SessionCache(-1), RangeError, "sessionCacheSize must be a non-negative integer, got -1")
    }))
})

describe.skipIf(!hasOpenssl || !nginxAvailable)("Tls client certificates against nginx (ssl_verify_client on)", () => {
  const get = (config: Tls.TlsConfig) =>
    Effect.gen(function*() {
      const connection = yield* HttpConnection.connect(`https://localhost:${nginxPort}`, { tls: config, lookup: loopback })
      const writer = RequestWriter.make({ host: `localhost:${nginxPort}` })
      const response = yield* connection.send(writer.get("/whoami").finish(), ResponseReader.make())
      return { status: response.status, body: Buffer.from(response.body).toString("latin1") }
    })

  it.live("accepts the request with the right certificate: nginx names our subject", () =>
    Effect.gen(function*() {
      const answer = yield* get(withCertificate({ cert: client!.cert, key: client!.key }))
      assert.deepStrictEqual(answer, { status: 200, body: "CN=nexus test client" })
    }))

  it.live("without a certificate nginx completes the handshake and answers 400 \"No required SSL certificate was sent\"", () =>
    Effect.gen(function*() {
      const answer = yield* get(withCertificate(undefined))
      assert.strictEqual(answer.status, 400)
      assert.include(answer.body, "No required SSL certificate was sent")
    }))

  it.live("with a certificate from another CA nginx answers 400 \"The SSL certificate error\"", () =>
    Effect.gen(function*() {
      const other = yield* Effect.acquireRelease(Effect.sync(makeThrowawayCa), (made) => Effect.sync(made.remove))
      const stranger = makeClientCertificate(other)
      const answer = yield* get(withCertificate({ cert: stranger.cert, key: stranger.key }))
      assert.strictEqual(answer.status, 400)
      assert.include(answer.body, "The SSL certificate error")
    }))
})

/** Resolves every name to 127.0.0.1 (the certificate is for "localhost"; nothing is looked up). */
const loopback = ((_host: string, options: unknown, callback: (...args: Array<unknown>) => void) => {
  if ((options as { all?: boolean }).all === true) callback(null, [{ address: "127.0.0.1", family: 4 }])
  else callback(null, "127.0.0.1", 4)
}) as unknown as NonNullable<Tls.ConnectOptions["lookup"]>
