import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as ProxySettings from "../../src/Layers/ProxySettings.ts"

/** The rules `fromConfig` reads from `env`, each proxy as `host:port`. */
const rulesOf = (env: Record<string, string>) =>
  Effect.map(
    Effect.provide(ProxySettings.fromConfig, ConfigProvider.layer(ConfigProvider.fromEnvRecord(env))),
    (rules) => ({
      https: rules.https === undefined ? undefined : `${rules.https.host}:${rules.https.port}`,
      http: rules.http === undefined ? undefined : `${rules.http.host}:${rules.http.port}`,
      noProxy: rules.noProxy
    })
  )

describe("ProxySettings.fromConfig", () => {
  it.effect("reads the lower-case variable before the upper-case one, as curl and undici do", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(
        yield* rulesOf({
          https_proxy: "http://lower.test:3128",
          HTTPS_PROXY: "http://upper.test:3128",
          http_proxy: "http://lower.test:8080",
          HTTP_PROXY: "http://upper.test:8080",
          no_proxy: "lower.test",
          NO_PROXY: "upper.test"
        }),
        { https: "lower.test:3128", http: "lower.test:8080", noProxy: ["lower.test"] }
      )
      // only the upper-case ones set (or the lower-case ones blank): those are read
      assert.deepStrictEqual(
        yield* rulesOf({ HTTPS_PROXY: "http://upper.test:3128", http_proxy: " ", HTTP_PROXY: "http://upper.test:8080" }),
        { https: "upper.test:3128", http: "upper.test:8080", noProxy: [] }
      )
    }))
})
