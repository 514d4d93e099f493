/**
 * `WsDial` — how `effect-nexus ws` reaches its server: the library's one dial path
 * (`Dial.connect`: TCP, TLS, or a tunnel through an HTTP `CONNECT` proxy) followed by the
 * WebSocket handshake over the transport (`WebSocket.connectOver`), within one
 * `--connect-timeout` (default 10 s, `WebSocket.DEFAULT_CONNECT_TIMEOUT`), failing as
 * `WebSocket.connect` does: a `WebSocketError` whose reason is the URL refusal, the transport's
 * (`ConnectError`, `TlsError`, `ProxyError`) or the handshake's.
 *
 * The proxy is `--proxy URL` when given, otherwise `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY`
 * from the environment (`ProxySettings.layerConfig`, as curl does), otherwise none.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Url from "../Codec/Url.ts"
import * as Dial from "../Transport/Dial.ts"
import type * as Proxy from "../Transport/Proxy.ts"
import { InvalidUrl } from "../Transport/Transport.ts"
import * as WebSocket from "../Transport/WebSocket.ts"

/**
 * Options of {@link connect}: the handshake's (headers, protocols, heartbeat, ...) plus the dial's.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends Omit<WebSocket.ConnectOptions, "tls" | "servername" | "noDelay" | "keepAlive" | "maxReadSize"> {
  readonly dial: Omit<Dial.Options, "connectTimeout">
  readonly proxy?: Proxy.ProxyOption | undefined
}

/** The URL for error fields, without credentials. */
const redact = (url: string): string => {
  const parsed = URL.parse(url)
  if (parsed === null || (parsed.username === "" && parsed.password === "")) return url
  parsed.username = ""
  parsed.password = ""
  return parsed.href
}

/**
 * Dials `url` (`ws:` or `wss:`) through the dial path and runs the opening handshake.
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = (
  url: string,
  options: Options
): Effect.Effect<WebSocket.WebSocket, WebSocket.WebSocketError, Scope.Scope> =>
  Effect.suspend(() => {
    const parsed = Url.parse(url)
    const refuse = (error: Url.UrlError) => Effect.fail(new WebSocket.WebSocketError({ address: redact(url), reason: new InvalidUrl({ error }) }))
    if (parsed._tag !== "ParsedUrl") return refuse(parsed)
    if (parsed.scheme !== "ws" && parsed.scheme !== "wss") {
      return refuse({ _tag: "UnsupportedScheme", scheme: parsed.scheme, message: `scheme "${parsed.scheme}" is not ws or wss` })
    }
    const timeout = Duration.fromInputUnsafe(options.connectTimeout ?? WebSocket.DEFAULT_CONNECT_TIMEOUT)
    const dial = Effect.mapError(
      // the timeout below bounds dial and handshake together
      Dial.connect(parsed, { ...options.dial, proxy: options.proxy, connectTimeout: "Infinity" }),
      (error) => new WebSocket.WebSocketError({ address: error.address, reason: error.reason })
    )
    const address = parsed.host.includes(":") ? `[${parsed.host}]:${parsed.port}` : `${parsed.host}:${parsed.port}`
    return Effect.timeoutOrElse(
      Effect.flatMap(dial, (transport) => WebSocket.connectOver(transport, url, { ...options, connectTimeout: "Infinity" })),
      {
        duration: timeout,
        orElse: () =>
          Effect.fail(
            new WebSocket.WebSocketError({ address, reason: new WebSocket.WebSocketTimeout({ operation: "connect", after: timeout }) })
          )
      }
    )
  })
