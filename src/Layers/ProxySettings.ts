/**
 * `ProxySettings` — which HTTP `CONNECT` proxy each endpoint goes through, as a Context service
 * (`Proxy.Rules`), so every client layer of an application follows the same proxy settings. Pass
 * it as the `proxy` option of `Dial.connect` / `HttpConnection.connect`.
 *
 * Environment (`layerConfig`), the conventional variables curl and undici read, lower case
 * first, then upper case, as both do (undici's `EnvHttpProxyAgent`: `http_proxy ?? HTTP_PROXY`):
 * - `https_proxy` / `HTTPS_PROXY` — proxy for `https:` and `wss:` endpoints, `http://[user:password@]host[:port]`
 *   or `socks5h://[user:password@]host[:port]`.
 * - `http_proxy` / `HTTP_PROXY` — proxy for `http:` and `ws:` endpoints.
 * - `no_proxy` / `NO_PROXY` — comma- or space-separated hosts that go direct (`*`, `example.com`,
 *   `.example.com`, `10.0.0.1`, `host:8443`; see `Proxy` for the matching rules).
 *
 * Credentials in a proxy URL become `Redacted` at once; a URL that does not parse or is not
 * `http://`, `socks5://` or `socks5h://` fails the layer with `ProxyError` kind `"InvalidProxyUrl"`, without echoing the URL.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Proxy from "../Transport/Proxy.ts"
import type { TransportError } from "../Transport/Transport.ts"

/**
 * The application's proxy rules.
 *
 * @since 0.1.0
 * @category services
 */
export class ProxySettings extends Context.Service<ProxySettings, Proxy.Rules>()("effect-nexus/ProxySettings") {}

/**
 * A layer from explicit rules.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (rules: Proxy.Rules): Layer.Layer<ProxySettings> => Layer.succeed(ProxySettings, rules)

/** The first of `names` that is set (and not blank). */
const firstOf = (...names: ReadonlyArray<string>): Config.Config<Option.Option<string>> =>
  Config.map(
    Config.all(names.map((name) => Config.option(Config.String(name)))),
    (values) => Option.firstSomeOf(values.map(Option.filter((value: string) => value.trim() !== "")))
  )

const proxyOf = (url: Option.Option<string>): Effect.Effect<Proxy.Proxy | undefined, TransportError> =>
  Option.isNone(url) ? Effect.undefined : Proxy.fromUrl(url.value)

/**
 * The rules from the environment variables in the module doc (through Effect's `Config`, so a
 * `ConfigProvider` can stand in for the environment). No variable set: every endpoint goes direct.
 *
 * @since 0.1.0
 * @category config
 */
export const fromConfig: Effect.Effect<Proxy.Rules, TransportError | Config.ConfigError> = Effect.gen(function*() {
  const env = yield* Config.all({
    https: firstOf("https_proxy", "HTTPS_PROXY"),
    http: firstOf("http_proxy", "HTTP_PROXY"),
    noProxy: firstOf("no_proxy", "NO_PROXY")
  })
  const https = yield* proxyOf(env.https)
  const http = yield* proxyOf(env.http)
  const noProxy = Option.match(env.noProxy, {
    onNone: () => [],
    onSome: (list) => list.split(/[\s,]+/).filter((entry) => entry !== "")
  })
  return { https, http, noProxy }
})

/**
 * A layer from the environment variables in the module doc ({@link fromConfig}).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: Layer.Layer<ProxySettings, TransportError | Config.ConfigError> = Layer.effect(
  ProxySettings,
  fromConfig
)
