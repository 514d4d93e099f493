/**
 * `TlsSettings` — the shared `TlsConfig` as a Context service, so every client layer in an
 * application trusts the same roots. Build it once: the `SecureContext` inside is reused by
 * every connection.
 *
 * Environment (`layerConfig`):
 * - `NEXUS_TLS_CA_FILE` — a PEM file of extra trusted CAs (optional).
 * - `NEXUS_TLS_USE_SYSTEM_ROOTS` — `true`/`false`, default `true`.
 * - `NEXUS_TLS_13_ONLY` — `true`/`false`, default `false`.
 * - `NEXUS_TLS_DANGEROUSLY_DISABLE_VERIFICATION` — `true` turns certificate checks off (test
 *   rigs only), default `false`.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { readFileSync } from "node:fs"
import * as Tls from "../Transport/Tls.ts"
import { TlsError, TransportError } from "../Transport/Transport.ts"

/**
 * The application's TLS settings.
 *
 * @since 0.1.0
 * @category services
 */
export class TlsSettings extends Context.Service<TlsSettings, Tls.TlsConfig>()("effect-nexus/TlsSettings") {}

/**
 * A layer from explicit options (fails with a `TransportError` whose reason is a `TlsError` kind `"InvalidConfig"` for a bad CA).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Tls.TlsConfigOptions = {}): Layer.Layer<TlsSettings, TransportError> =>
  Layer.effect(TlsSettings, Tls.TlsConfig.make(options))

/**
 * A layer from the environment variables in the module doc.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: Layer.Layer<TlsSettings, TransportError | Config.ConfigError> = Layer.effect(
  TlsSettings,
  Effect.gen(function*() {
    const settings = yield* Config.all({
      caFile: Config.option(Config.String("NEXUS_TLS_CA_FILE")),
      useSystemRoots: Config.withDefault(Config.Boolean("NEXUS_TLS_USE_SYSTEM_ROOTS"), true),
      tls13Only: Config.withDefault(Config.Boolean("NEXUS_TLS_13_ONLY"), false),
      dangerous: Config.withDefault(Config.Boolean("NEXUS_TLS_DANGEROUSLY_DISABLE_VERIFICATION"), false)
    })
    const ca: Array<string> = []
    if (Option.isSome(settings.caFile)) {
      const path = settings.caFile.value
      ca.push(yield* Effect.try({
        try: () => readFileSync(path, "latin1"),
        catch: (cause) => new TransportError({ address: path, reason: new TlsError({ kind: "InvalidConfig", cause }) })
      }))
    }
    return yield* Tls.TlsConfig.make({
      ca,
      useSystemRoots: settings.useSystemRoots,
      tls13Only: settings.tls13Only,
      dangerouslyDisableCertificateVerification: settings.dangerous
    })
  })
)
