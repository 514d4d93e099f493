/**
 * `RestClient` — a `ClientPool` as a Context service, with layers from options and from the
 * environment (the test layer over a scripted in-memory origin is `RestClientTest.layer` in
 * `effect-nexus/testing`). Code written against the service needs nothing from `Pool`:
 * {@link retryIdempotent} is here too.
 *
 * Environment (`layerConfig`, prefix `NEXUS_REST` by default):
 * - `NEXUS_REST_URL` — the origin, `https://api.example.com` (required).
 * - `NEXUS_REST_BASE_PATH` — prefixed to every path, e.g. `/api/v3` (default none).
 * - `NEXUS_REST_CONNECTIONS` — pool size (default 4).
 * - `NEXUS_REST_API_KEY` — a secret, read as `Redacted`, sent on every request in the header
 *   named by `NEXUS_REST_API_KEY_HEADER` (default `X-API-KEY`); never logged.
 * - `NEXUS_REST_CONNECT_TIMEOUT`, `NEXUS_REST_READ_TIMEOUT` — durations such as `3 seconds`.
 * - `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` — the proxy, as `ProxySettings.layerConfig` reads
 *   them, unless a `ProxySettings` service is provided.
 *
 * The TLS settings come from the `TlsSettings` service when the application provides one, else
 * the default config (system roots, verification on); the proxy rules from the `ProxySettings`
 * service (`layer`), else none (`layerConfig`: else the environment).
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as ClientPool from "../Pool/ClientPool.ts"
import type * as HttpConnection from "../Transport/HttpConnection.ts"
import * as RestClientReplay from "./RestClientReplay.ts"
import type * as SessionLog from "./SessionLog.ts"
import type { TransportError } from "../Transport/Transport.ts"
import * as ProxySettings from "./ProxySettings.ts"
import { TlsSettings } from "./TlsSettings.ts"

/**
 * The application's REST client: a self-healing pool of keep-alive connections.
 *
 * @since 0.1.0
 * @category services
 */
export class RestClient extends Context.Service<RestClient, ClientPool.ClientPool>()("effect-nexus/RestClient") {}

/**
 * Retries a request made with the service for `method` on transport errors while it is safe
 * (never a POST whose bytes reached the socket, never after an `AcquireTimeout`); by default
 * twice, at once. The same function as `ClientPool.retryIdempotent`, here so that code written
 * against `RestClient` needs nothing from `effect-nexus/Pool`.
 *
 * @since 0.1.0
 * @category retrying
 */
export const retryIdempotent: typeof ClientPool.retryIdempotent = ClientPool.retryIdempotent

/**
 * Fills `tls` and `proxy` from the `TlsSettings` and `ProxySettings` services when the options
 * name none. A pool with a custom `connect` takes neither: its connections are the caller's.
 */
const withServices = (options: ClientPool.Options): Effect.Effect<ClientPool.Options> =>
  options.connect !== undefined
    ? Effect.succeed(options)
    : Effect.map(
      Effect.all([Effect.serviceOption(TlsSettings), Effect.serviceOption(ProxySettings.ProxySettings)]),
      ([tls, proxy]): ClientPool.DialOptions => ({
        ...options,
        tls: options.tls ?? Option.getOrUndefined(tls),
        proxy: options.proxy ?? Option.getOrUndefined(proxy)
      })
    )

/**
 * A layer from explicit options: connects every slot at build time (failing the layer with the
 * first connect error) and closes every socket when the layer's scope closes.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: ClientPool.Options): Layer.Layer<RestClient, HttpConnection.HttpError> =>
  Layer.effect(RestClient, Effect.flatMap(withServices(options), ClientPool.make))

/**
 * Reads the pool's settings from `Config` (see the module doc for the names).
 *
 * @since 0.1.0
 * @category config
 */
export const config = (prefix = "NEXUS_REST"): Config.Config<ClientPool.DialOptions> =>
  Config.map(
    Config.all({
      url: Config.String(`${prefix}_URL`),
      basePath: Config.option(Config.String(`${prefix}_BASE_PATH`)),
      connections: Config.withDefault(Config.Int(`${prefix}_CONNECTIONS`), ClientPool.DEFAULT_CONNECTIONS),
      apiKey: Config.option(Config.Redacted(`${prefix}_API_KEY`)),
      apiKeyHeader: Config.withDefault(Config.String(`${prefix}_API_KEY_HEADER`), "X-API-KEY"),
      connectTimeout: Config.option(Config.Duration(`${prefix}_CONNECT_TIMEOUT`)),
      readTimeout: Config.option(Config.Duration(`${prefix}_READ_TIMEOUT`))
    }),
    (c): ClientPool.DialOptions => ({
      url: c.url,
      basePath: Option.getOrUndefined(c.basePath),
      connections: c.connections,
      defaultHeaders: Option.isSome(c.apiKey) ? [[c.apiKeyHeader, Redacted.value(c.apiKey.value)]] : [],
      connectTimeout: Option.getOrUndefined(c.connectTimeout),
      readTimeout: Option.getOrUndefined(c.readTimeout)
    })
  )

/**
 * A layer from the environment (see the module doc); `overrides` win over what it reads.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: { readonly prefix?: string | undefined; readonly overrides?: Partial<ClientPool.DialOptions> | undefined } = {}
): Layer.Layer<RestClient, HttpConnection.HttpError | TransportError | Config.ConfigError> =>
  Layer.effect(
    RestClient,
    Effect.gen(function*() {
      const fromEnv = yield* config(options.prefix)
      const provided = yield* Effect.serviceOption(ProxySettings.ProxySettings)
      const proxy = Option.isSome(provided) ? provided.value : yield* ProxySettings.fromConfig
      return yield* ClientPool.make(yield* withServices({ ...fromEnv, proxy, ...options.overrides }))
    })
  )

/**
 * The REST client served from a recorded session file (see `RestClientReplay` for the matching
 * rule): each request answered with its recorded exchange after the recorded latency on the
 * `Clock`, or at once (`{ timing: "fast" }`); a request that matches nothing fails with
 * `PoolError` reason `NoRecordedExchange`. A file that cannot be replayed fails the layer with
 * `SessionError`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerReplay = (
  file: string,
  options: RestClientReplay.Options = {}
): Layer.Layer<RestClient, SessionLog.SessionError> => Layer.effect(RestClient, RestClientReplay.make(file, options))
