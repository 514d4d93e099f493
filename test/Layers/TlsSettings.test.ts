import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as path from "node:path"
import { afterAll, beforeAll } from "vitest"
import * as ReadBuf from "../../src/Codec/ReadBuf.ts"
import * as TlsSettings from "../../src/Layers/TlsSettings.ts"
import * as Tls from "../../src/Transport/Tls.ts"
import {
  type ClientCertificate,
  hasOpenssl,
  makeClientCertificate,
  makeThrowawayCa,
  mtlsEchoServer,
  OPENSSL_HINT,
  type ThrowawayCa
} from "../support/throwawayCa.ts"

// TlsSettings.layerConfig's client certificate and session variables, against a node:tls server
// on 127.0.0.1 that requires a certificate from the throwaway CA.

let ca: ThrowawayCa | undefined
let client: ClientCertificate | undefined
if (!hasOpenssl) console.warn(OPENSSL_HINT)
beforeAll(() => {
  if (!hasOpenssl) return
  ca = makeThrowawayCa()
  client = makeClientCertificate(ca)
})
afterAll(() => ca?.remove())

const getTls = Effect.gen(function*() {
  return yield* TlsSettings.TlsSettings
})

const fromEnv = (record: Record<string, string>) =>
  Effect.provide(
    getTls,
    TlsSettings.layerConfig.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord(record))))
  )

/** Dials the mTLS echo server with `config` and echoes one byte. */
const roundTrip = (config: Tls.TlsConfig) =>
  Effect.gen(function*() {
    const server = yield* mtlsEchoServer(ca!)
    const transport = yield* Tls.connect({ host: "127.0.0.1", port: server.port, servername: "localhost", config })
    yield* transport.write(Buffer.from("!"))
    const buf = ReadBuf.make()
    yield* transport.read(buf)
    return buf.data().toString("latin1")
  })

describe.skipIf(!hasOpenssl)("TlsSettings.layerConfig client certificates", () => {
  it.live("NEXUS_TLS_CERT_FILE and NEXUS_TLS_KEY_FILE give a config that passes ssl client verification", () =>
    Effect.gen(function*() {
      const config = yield* fromEnv({
        NEXUS_TLS_CA_FILE: path.join(ca!.dir, "ca.pem"),
        NEXUS_TLS_CERT_FILE: path.join(ca!.dir, "client.pem"),
        NEXUS_TLS_KEY_FILE: path.join(ca!.dir, "client.key")
      })
      assert.deepStrictEqual([config.hasClientCertificate, config.sessions.capacity], [true, Tls.DEFAULT_SESSION_CACHE_SIZE])
      assert.strictEqual(yield* roundTrip(config), "!")
    }))

  it.live("NEXUS_TLS_PFX_FILE with NEXUS_TLS_KEY_PASSPHRASE opens a PKCS#12 bundle", () =>
    Effect.gen(function*() {
      const config = yield* fromEnv({
        NEXUS_TLS_CA_FILE: path.join(ca!.dir, "ca.pem"),
        NEXUS_TLS_PFX_FILE: path.join(ca!.dir, "client.p12"),
        NEXUS_TLS_KEY_PASSPHRASE: client!.passphrase,
        NEXUS_TLS_SESSION_CACHE_SIZE: "0"
      })
      assert.deepStrictEqual([config.hasClientCertificate, config.sessions.capacity], [true, 0])
      assert.strictEqual(yield* roundTrip(config), "!")
    }))

  it.effect("a certificate without its key, or a wrong passphrase, is InvalidConfig; the passphrase never shows", () =>
    Effect.gen(function*() {
      const half = yield* Effect.flip(fromEnv({ NEXUS_TLS_CERT_FILE: path.join(ca!.dir, "client.pem") }))
      assert.strictEqual(
        half.message,
        "transport config: TLS failed: InvalidConfig (NEXUS_TLS_CERT_FILE is set but NEXUS_TLS_KEY_FILE is not; give both)"
      )
      const wrong = yield* Effect.flip(fromEnv({
        NEXUS_TLS_PFX_FILE: path.join(ca!.dir, "client.p12"),
        NEXUS_TLS_KEY_PASSPHRASE: "not-the-passphrase"
      }))
      assert.strictEqual(wrong._tag, "TransportError")
      assert.match(wrong.message, /^transport config: TLS failed: InvalidConfig \(/)
      assert.notInclude(wrong.message, "not-the-passphrase")
    }))
})
