/**
 * `Dial` — the one dial path: where a URL points (host, port, TLS or not) and how to reach it
 * (TCP, TLS, or a tunnel through an HTTP `CONNECT` or SOCKS5 proxy, then TLS inside it) are decided here
 * and nowhere else. `HttpConnection.connect` (and so `ClientPool`), `WebSocket.connect` (and so
 * `Feed`, `MarketFeed` and the CLI) all dial through {@link connect}.
 *
 * ```text
 *   endpoint ─► proxy for it? ── no ──► secure? ── no ──► Tcp.connect
 *                   │                      └─ yes ─► Tls.connect (session cache of the TlsConfig)
 *                   └─ yes ─► Tcp.connect(proxy) ─► Proxy.tunnel (CONNECT) or Socks.tunnel
 *                                  ─► secure? ── no ──► the tunnel
 *                                       └─ yes ─► Tls.over(tunnel)
 * ```
 *
 * Rules: the name TLS checks (and sends as SNI) is `servername`, default the endpoint's host
 * (none for an IP literal) — through a proxy too, where the TCP peer is the proxy but the
 * certificate is the origin's. `connectTimeout` (default 10 s, `Tcp.DEFAULT_CONNECT_TIMEOUT`)
 * bounds the whole dial: TCP, the `CONNECT` exchange and the TLS handshake. Every failure is a
 * `TransportError` whose `address` is the endpoint's `host:port` (the proxy's own address is in
 * the `ProxyError` reason).
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Url from "../Codec/Url.ts"
import * as Proxy from "./Proxy.ts"
import * as Socks from "./Socks.ts"
import { DEFAULT_CONNECT_TIMEOUT, type SocketOptions, SocketTransport } from "./SocketTransport.ts"
import * as Tcp from "./Tcp.ts"
import * as Tls from "./Tls.ts"
import {
  ConnectError,
  formatAddress,
  ProxyError,
  TlsError,
  type Transport,
  type TransportError,
  transportError
} from "./Transport.ts"

/**
 * Where a URL points: host (IPv6 without brackets), port, and whether it needs TLS. A
 * `Url.ParsedUrl` is one.
 *
 * @since 0.1.0
 * @category models
 */
export interface Endpoint {
  readonly host: string
  readonly port: number
  readonly secure: boolean
}

/**
 * Options of {@link connect}: the socket options (`connectTimeout`, `noDelay`, TCP `keepAlive`,
 * `readHighWaterMark`, ...) plus TLS and proxy settings. Every option is honoured on every path.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends SocketOptions {
  /** TLS settings for a secure endpoint. Default `Tls.defaultConfig()` (system roots, verification on). */
  readonly tls?: Tls.TlsConfig | undefined
  /** Name sent as SNI and checked against the certificate. Default the endpoint's host (none for an IP literal). */
  readonly servername?: string | undefined
  /**
   * Tunnel through an HTTP `CONNECT` or SOCKS5 proxy: one `Proxy.Proxy` for every endpoint, or
   * `Proxy.Rules` (per scheme, with `noProxy`), e.g. from `Layers/ProxySettings`. Default none (direct).
   */
  readonly proxy?: Proxy.ProxyOption | undefined
}

/**
 * Every key of `T` as `never`: the options of `T` that an object may not hold. Where a caller
 * brings its own connection (a custom `connect` or `dial`), the dial options would do nothing,
 * so `ClientPool.CustomConnectOptions` and `Feed.NoDialOptions` reject them with this rather
 * than ignore them.
 *
 * @since 0.1.0
 * @category models
 */
export type NoneOf<T> = { readonly [K in keyof T]?: never }

/**
 * Parses a `http:`, `https:`, `ws:` or `wss:` URL into an {@link Endpoint} with `Url.parse`
 * (the WHATWG parser; IPv6 brackets stripped, default ports applied), or fails with a
 * `TransportError` whose reason is a `ConnectError` kind `"Other"` and whose cause says what is
 * wrong. The raw URL is never put in the error (it may hold credentials, which are refused): the
 * address reads `(url)`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const endpoint = (url: string | URL): Effect.Effect<Endpoint, TransportError> =>
  Effect.suspend(() => {
    const parsed = Url.parse(typeof url === "string" ? url : url.href)
    if (parsed._tag !== "ParsedUrl") {
      return Effect.fail(transportError("(url)", new ConnectError({ kind: "Other", cause: new Error(parsed.message) })))
    }
    return Effect.succeed({ host: parsed.host, port: parsed.port, secure: parsed.secure })
  })

/** Characters no host name or IP literal contains. */
const INVALID_HOST = /[\s\x00-\x1f\x7f/?#@\\[\]]/

/**
 * Dials `target`: TCP, or TLS when `target.secure` (see the module doc for the decision). The
 * transport lives until the surrounding scope closes. A host with whitespace, control characters
 * or URL delimiters fails at once (`ConnectError` kind `"Other"`, address `(host)`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = (
  target: Endpoint,
  options: Options = {}
): Effect.Effect<Transport, TransportError, Scope.Scope> => {
  // a host with whitespace, control characters or URL delimiters would be written into a
  // CONNECT line or resolved as garbage: refuse it before anything is dialed
  if (target.host === "" || INVALID_HOST.test(target.host)) {
    return Effect.fail(transportError(
      "(host)",
      new ConnectError({ kind: "Other", cause: new Error(`invalid host ${JSON.stringify(target.host)}`) })
    ))
  }
  const proxy = Proxy.forEndpoint(options.proxy, target)
  if (proxy !== undefined) return throughProxy(target, proxy, options)
  const host = target.host
  const port = target.port
  return target.secure
    ? Tls.connect({ ...options, host, port, config: options.tls ?? Tls.defaultConfig(), servername: options.servername })
    : Tcp.connect({ ...options, host, port })
}

/**
 * TCP to the proxy, `CONNECT`, then TLS inside the tunnel for a secure endpoint, all within one
 * `connectTimeout`; the error of a timeout names the step it cut short.
 */
const throughProxy = (
  target: Endpoint,
  proxy: Proxy.Proxy,
  options: Options
): Effect.Effect<Transport, TransportError, Scope.Scope> =>
  Effect.suspend(() => {
    const address = formatAddress(target.host, target.port)
    const proxyAddress = formatAddress(proxy.host, proxy.port)
    let step: "proxy" | "tunnel" | "tls" = "proxy"
    const steps = Effect.gen(function*() {
      const socket = yield* Effect.catch(
        // the limit below covers every step; the TCP dial must not cut it shorter
        Tcp.connect({ ...options, host: proxy.host, port: proxy.port, connectTimeout: "Infinity" }),
        (error) => Effect.fail(transportError(address, new ProxyError({ kind: "Unreachable", proxy: proxyAddress, cause: error.reason })))
      )
      step = "tunnel"
      yield* (proxy.protocol === "socks5" ? Socks.tunnel : Proxy.tunnel)(socket, proxy, target)
      // from here on the pipe leads to the target: errors name it
      if (socket instanceof SocketTransport) socket.remoteAddress = address
      if (!target.secure) return socket
      step = "tls"
      return yield* Tls.over(socket, {
        config: options.tls ?? Tls.defaultConfig(),
        host: target.host,
        servername: options.servername,
        handshakeTimeout: "Infinity",
        readHighWaterMark: options.readHighWaterMark
      })
    })
    const after = Duration.fromInputUnsafe(options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT)
    if (!Number.isFinite(Duration.toMillis(after))) return steps
    const cause = new Error(`not connected within ${Duration.format(after)}`)
    return Effect.timeoutOrElse(steps, {
      duration: after,
      orElse: () =>
        Effect.fail(transportError(
          address,
          step === "proxy"
            ? new ProxyError({ kind: "Unreachable", proxy: proxyAddress, cause: new ConnectError({ kind: "Timeout", cause }) })
            : step === "tunnel"
            ? new ProxyError({ kind: "Timeout", proxy: proxyAddress, cause })
            : new TlsError({ kind: "HandshakeTimeout", cause })
        ))
    })
  })

/**
 * {@link endpoint} then {@link connect}: dials the host of a `http:`, `https:`, `ws:` or `wss:` URL.
 *
 * @since 0.1.0
 * @category constructors
 */
export const url = (
  target: string | URL,
  options: Options = {}
): Effect.Effect<Transport, TransportError, Scope.Scope> =>
  Effect.flatMap(endpoint(target), (resolved) => connect(resolved, options))
