import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as MarketFeed from "../../src/Layers/MarketFeed.ts"
import * as RestClient from "../../src/Layers/RestClient.ts"
import * as TlsSettings from "../../src/Layers/TlsSettings.ts"
import type { HttpError } from "../../src/Transport/HttpConnection.ts"
import type { TransportError } from "../../src/Transport/Transport.ts"

const getTls = Effect.gen(function*() {
  return yield* TlsSettings.TlsSettings
})

const env = (record: Record<string, string>) => ConfigProvider.layer(ConfigProvider.fromEnvRecord(record))

describe("layerConfig and config: the documented environment variables", () => {
  it.effect("RestClient.config reads NEXUS_REST_*, the API key (read as Redacted) going out as the named header", () =>
    Effect.gen(function*() {
      const options = yield* RestClient.config()
      assert.deepStrictEqual(options, {
        url: "https://api.example.com",
        basePath: "/api/v3",
        connections: 8,
        defaultHeaders: [["X-MBX-APIKEY", "s3cret-key"]],
        connectTimeout: Duration.seconds(3),
        readTimeout: undefined
      })
    }).pipe(Effect.provide(env({
      NEXUS_REST_URL: "https://api.example.com",
      NEXUS_REST_BASE_PATH: "/api/v3",
      NEXUS_REST_CONNECTIONS: "8",
      NEXUS_REST_API_KEY: "s3cret-key",
      NEXUS_REST_API_KEY_HEADER: "X-MBX-APIKEY",
      NEXUS_REST_CONNECT_TIMEOUT: "3 seconds"
    }))))

  it.effect("RestClient.config defaults to 4 connections and no headers, and names a missing URL", () =>
    Effect.gen(function*() {
      const defaults = yield* Effect.provide(RestClient.config(), env({ NEXUS_REST_URL: "http://127.0.0.1:1" }))
      assert.deepStrictEqual([defaults.connections, defaults.defaultHeaders, defaults.basePath], [4, [], undefined])
      const missing = yield* Effect.exit(Effect.provide(RestClient.config(), env({})))
      assert.isTrue(Exit.isFailure(missing))
      assert.include(String(missing), "NEXUS_REST_URL")
      const bad = yield* Effect.exit(Effect.provide(RestClient.config(), env({ NEXUS_REST_URL: "http://x", NEXUS_REST_CONNECTIONS: "many" })))
      assert.include(String(bad), "NEXUS_REST_CONNECTIONS")
    }))

  it.effect("RestClient.layerConfig fails to build with the typed connect error when the origin is down", () =>
    Effect.gen(function*() {
      const layer = RestClient.layerConfig().pipe(
        Layer.provide(env({ NEXUS_REST_URL: "http://127.0.0.1:1", NEXUS_REST_CONNECTIONS: "1" }))
      )
      const error = yield* Effect.flip(Effect.provide(Effect.void, layer))
      assert.strictEqual(error._tag, "HttpError")
      const { address, reason, requestSent } = error as HttpError
      assert.deepStrictEqual([address, reason._tag, reason._tag === "ConnectError" && reason.kind, requestSent], [
        "127.0.0.1:1",
        "ConnectError",
        "Refused",
        false
      ])
    }))

  it.effect("MarketFeed.config reads NEXUS_FEED_*: topics, the API key header, and a heartbeat of three intervals", () =>
    Effect.gen(function*() {
      const options = yield* MarketFeed.config()
      assert.deepStrictEqual(options, {
        url: "wss://stream.example.com/ws",
        subscriptions: ["btcusdt@trade", "ethusdt@trade"],
        socket: {
          headers: [["X-API-KEY", "feed-secret"]],
          heartbeat: { interval: Duration.seconds(10), timeout: Duration.seconds(30) }
        }
      })
    }).pipe(Effect.provide(env({
      NEXUS_FEED_URL: "wss://stream.example.com/ws",
      NEXUS_FEED_SUBSCRIPTIONS: "btcusdt@trade, ethusdt@trade,",
      NEXUS_FEED_API_KEY: "feed-secret",
      NEXUS_FEED_PING_INTERVAL: "10 seconds"
    }))))

  it.effect("TlsSettings.layerConfig builds the shared TlsConfig; a CA file that does not exist is a typed error naming it", () =>
    Effect.gen(function*() {
      const tls = yield* Effect.provide(
        getTls,
        TlsSettings.layerConfig.pipe(Layer.provide(env({ NEXUS_TLS_13_ONLY: "true" })))
      )
      assert.deepStrictEqual([tls.verify, tls.tls13Only], [true, true])
      const dangerous = yield* Effect.provide(
        getTls,
        TlsSettings.layerConfig.pipe(Layer.provide(env({ NEXUS_TLS_DANGEROUSLY_DISABLE_VERIFICATION: "true" })))
      )
      assert.isFalse(dangerous.verify)
      const missing = yield* Effect.flip(Effect.provide(
        getTls,
        TlsSettings.layerConfig.pipe(Layer.provide(env({ NEXUS_TLS_CA_FILE: "/nonexistent/ca.pem" })))
      ))
      assert.strictEqual(missing._tag, "TransportError")
      const { address, reason } = missing as TransportError
      assert.deepStrictEqual([address, reason._tag, reason._tag === "TlsError" && reason.kind], [
        "/nonexistent/ca.pem",
        "TlsError",
        "InvalidConfig"
      ])
      assert.match(missing.message, /^transport \/nonexistent\/ca\.pem: TLS failed: InvalidConfig \(ENOENT/)
    }))
})
