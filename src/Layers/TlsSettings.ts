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
 * - `NEXUS_TLS_CERT_FILE` and `NEXUS_TLS_KEY_FILE` — a PEM client certificate (chain) and its key
 *   for mTLS, both or neither (optional); or `NEXUS_TLS_PFX_FILE`, a PKCS#12 bundle holding both.
 * - `NEXUS_TLS_KEY_PASSPHRASE` — the passphrase of an encrypted key or bundle, read as `Redacted`.
 * - `NEXUS_TLS_SESSION_CACHE_SIZE` — origins whose session is kept for resumption, `0` for none;
 *   default 100 (`Tls.DEFAULT_SESSION_CACHE_SIZE`).
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

/** Reads a file named by the environment; an unreadable one is `InvalidConfig` with its path as address. */
const readFile = (path: string): Effect.Effect<Buffer, TransportError> =>
  Effect.try({
    try: () => readFileSync(path),
    catch: (cause) => new TransportError({ address: path, reason: new TlsError({ kind: "InvalidConfig", cause }) })
  })

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
      dangerous: Config.withDefault(Config.Boolean("NEXUS_TLS_DANGEROUSLY_DISABLE_VERIFICATION"), false),
      certFile: Config.option(Config.String("NEXUS_TLS_CERT_FILE")),
      keyFile: Config.option(Config.String("NEXUS_TLS_KEY_FILE")),
      pfxFile: Config.option(Config.String("NEXUS_TLS_PFX_FILE")),
      passphrase: Config.option(Config.Redacted("NEXUS_TLS_KEY_PASSPHRASE")),
      sessionCacheSize: Config.withDefault(Config.Int("NEXUS_TLS_SESSION_CACHE_SIZE"), Tls.DEFAULT_SESSION_CACHE_SIZE)
    })
    const ca: Array<string> = []
    if (Option.isSome(settings.caFile)) ca.push((yield* readFile(settings.caFile.value)).toString("latin1"))
    const passphrase = Option.getOrUndefined(settings.passphrase)
    let clientCertificate: Tls.ClientCertificate | undefined
    if (Option.isSome(settings.pfxFile)) {
      clientCertificate = { pfx: yield* readFile(settings.pfxFile.value), passphrase }
    } else if (Option.isSome(settings.certFile) && Option.isSome(settings.keyFile)) {
      clientCertificate = {
        cert: yield* readFile(settings.certFile.value),
        key: yield* readFile(settings.keyFile.value),
        passphrase
      }
    } else if (Option.isSome(settings.certFile) || Option.isSome(settings.keyFile)) {
      const given = Option.isSome(settings.certFile) ? "NEXUS_TLS_CERT_FILE" : "NEXUS_TLS_KEY_FILE"
      const missing = given === "NEXUS_TLS_CERT_FILE" ? "NEXUS_TLS_KEY_FILE" : "NEXUS_TLS_CERT_FILE"
      return yield* Effect.fail(
        new TransportError({
          address: "config",
          reason: new TlsError({ kind: "InvalidConfig", cause: new Error(`${given} is set but ${missing} is not; give both`) })
        })
      )
    }
    return yield* Tls.TlsConfig.make({
      ca,
      useSystemRoots: settings.useSystemRoots,
      tls13Only: settings.tls13Only,
      dangerouslyDisableCertificateVerification: settings.dangerous,
      clientCertificate,
      sessionCacheSize: settings.sessionCacheSize
    })
  })
)
