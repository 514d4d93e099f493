/**
 * `Proxy` — HTTP `CONNECT` proxies: which proxy (if any) an endpoint goes through, and the
 * tunnel itself. `Dial.connect` uses both; `Layers/ProxySettings` reads the conventional
 * `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` variables into {@link Rules}.
 *
 * The tunnel (RFC 9110 §9.3.6): over a connection to the proxy, send
 * `CONNECT host:port HTTP/1.1` with `Host` and, when the proxy has credentials,
 * `Proxy-Authorization: Basic …`; a 2xx answer turns the connection into a byte pipe to the
 * target, anything else is a `ProxyError` kind `"TunnelRefused"` with the proxy's status (403 for
 * a forbidden target, 407 for missing credentials — tinyproxy answers 401 for wrong ones). The
 * answer is parsed by the sans-IO `ResponseReader`. Credentials are `Redacted`: they go on the
 * wire to the proxy and nowhere else (never in an error or address).
 *
 * Which proxy, as curl and undici's `EnvHttpProxyAgent` decide it: `https:`/`wss:` endpoints use
 * `https`, `http:`/`ws:` ones `http`; an endpoint matching a {@link Rules.noProxy} entry goes
 * direct. A `noProxy` entry is `*` (everything), a host name (itself and its subdomains; a
 * leading `.` or `*.` is ignored), an IP literal, either with `:port` to match that port only.
 * CIDR ranges are not supported. Matching is case-insensitive.
 *
 * Proxies are spoken to in the clear (`http://`, or SOCKS5 with `socks5://`/`socks5h://`, whose
 * tunnel is in `Socks`); TLS to the target, if any, runs inside the tunnel. `https://` proxies
 * (TLS to the proxy itself) and SOCKS4 are not supported.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as ReadBuf from "../Codec/ReadBuf.ts"
import * as ResponseReader from "../Codec/ResponseReader.ts"
import {
  formatAddress,
  ProxyError,
  type Transport,
  type TransportError,
  transportError
} from "./Transport.ts"

/**
 * Brand of a {@link Proxy}.
 *
 * @since 0.1.0
 * @category type ids
 */
export const ProxyTypeId = "~effect-nexus/Transport/Proxy" as const

/**
 * An HTTP `CONNECT` proxy: where it listens and, optionally, the Basic credentials it wants.
 *
 * @since 0.1.0
 * @category models
 */
export interface Proxy {
  readonly [ProxyTypeId]: typeof ProxyTypeId
  /** `"http"`: an HTTP `CONNECT` proxy; `"socks5"`: a SOCKS5 proxy (RFC 1928, see `Socks`). */
  readonly protocol: ProxyProtocol
  readonly host: string
  readonly port: number
  readonly credentials?: Credentials | undefined
}

/**
 * The tunnel a proxy speaks: HTTP `CONNECT` or SOCKS5.
 *
 * @since 0.1.0
 * @category models
 */
export type ProxyProtocol = "http" | "socks5"

/**
 * Proxy credentials, sent as `Proxy-Authorization: Basic` (SOCKS5: username/password
 * authentication, RFC 1929); the password never leaves `Redacted` except onto the wire to the proxy.
 *
 * @since 0.1.0
 * @category models
 */
export interface Credentials {
  readonly username: string
  readonly password: Redacted.Redacted<string>
}

/**
 * Which proxy each kind of endpoint uses, and which endpoints go direct.
 *
 * @since 0.1.0
 * @category models
 */
export interface Rules {
  /** For `http:` and `ws:` endpoints. Default none (direct). */
  readonly http?: Proxy | undefined
  /** For `https:` and `wss:` endpoints. Default none (direct). */
  readonly https?: Proxy | undefined
  /** Endpoints that go direct (see the module doc for the syntax). Default none. */
  readonly noProxy?: ReadonlyArray<string> | undefined
}

/**
 * The `proxy` option of `Dial.connect`: one proxy for every endpoint, or {@link Rules}.
 *
 * @since 0.1.0
 * @category models
 */
export type ProxyOption = Proxy | Rules

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface MakeOptions {
  /** Default `"http"`. */
  readonly protocol?: ProxyProtocol | undefined
  readonly host: string
  readonly port: number
  readonly credentials?: Credentials | undefined
}

/**
 * A proxy at `host:port`, with optional credentials.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: MakeOptions): Proxy => ({
  [ProxyTypeId]: ProxyTypeId,
  protocol: options.protocol ?? "http",
  host: options.host,
  port: options.port,
  ...(options.credentials === undefined ? {} : { credentials: options.credentials })
})

/**
 * Parses a proxy URL as the environment writes it: `http://[user:password@]host[:port]`
 * (port default 80; a bare `host:port` is read as `http://host:port`), or
 * `socks5://` / `socks5h://` (port default 1080; either way the proxy resolves host names). Credentials in the URL are
 * percent-decoded and become `Redacted`. Fails with a `TransportError` (address `"proxy"`, no
 * part of the URL echoed, as it may hold a password) whose reason is a `ProxyError` kind
 * `"InvalidProxyUrl"`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromUrl = (url: string): Effect.Effect<Proxy, TransportError> =>
  Effect.suspend(() => {
    const invalid = (detail: string) =>
      Effect.fail(transportError("proxy", new ProxyError({ kind: "InvalidProxyUrl", proxy: "(url)", cause: new Error(detail) })))
    const text = url.trim()
    const parsed = URL.parse(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`)
    if (parsed === null) return invalid("the proxy URL does not parse")
    const scheme = parsed.protocol.slice(0, -1).toLowerCase()
    const protocol = scheme === "http" ? "http" : scheme === "socks5" || scheme === "socks5h" ? "socks5" : undefined
    if (protocol === undefined) {
      return invalid(`proxy scheme "${scheme}" is not supported; use http://, socks5:// or socks5h://`)
    }
    if (parsed.hostname === "") return invalid("the proxy URL has no host")
    const host = parsed.hostname.startsWith("[") ? parsed.hostname.slice(1, -1) : parsed.hostname
    const port = parsed.port !== "" ? Number(parsed.port) : protocol === "http" ? 80 : 1080
    if (parsed.username === "" && parsed.password === "") return Effect.succeed(make({ protocol, host, port }))
    let username: string
    let password: string
    try {
      username = decodeURIComponent(parsed.username)
      password = decodeURIComponent(parsed.password)
    } catch {
      // WHATWG keeps a "%" not followed by two hex digits; decoding it throws (URIError)
      return invalid("the proxy credentials are not valid percent-encoding (write \"%\" as %25)")
    }
    return Effect.succeed(make({ protocol, host, port, credentials: { username, password: Redacted.make(password) } }))
  })

const isProxy = (option: ProxyOption): option is Proxy => ProxyTypeId in option

/** A `noProxy` entry split into host and port (`undefined`: any port). */
const parseEntry = (entry: string): { readonly host: string; readonly port: number | undefined } => {
  let text = entry.trim().toLowerCase()
  let port: number | undefined
  const bracket = text.startsWith("[") ? text.indexOf("]") : -1
  const colon = bracket >= 0 ? text.indexOf(":", bracket) : (text.split(":").length === 2 ? text.indexOf(":") : -1)
  if (colon >= 0) {
    port = Number(text.slice(colon + 1))
    text = text.slice(0, colon)
  }
  if (text.startsWith("[")) text = text.slice(1, -1)
  if (text.startsWith("*.")) text = text.slice(2)
  else if (text.startsWith(".")) text = text.slice(1)
  return { host: text, port: port !== undefined && Number.isInteger(port) ? port : undefined }
}

/**
 * Whether `host:port` matches one of the `noProxy` entries (see the module doc).
 *
 * @since 0.1.0
 * @category utils
 */
export const bypasses = (noProxy: ReadonlyArray<string>, host: string, port: number): boolean => {
  const name = host.toLowerCase()
  for (const raw of noProxy) {
    if (raw.trim() === "") continue
    if (raw.trim() === "*") return true
    const entry = parseEntry(raw)
    if (entry.port !== undefined && entry.port !== port) continue
    if (name === entry.host || name.endsWith(`.${entry.host}`)) return true
  }
  return false
}

/**
 * The proxy `target` goes through under `option`, or `undefined` for a direct connection.
 *
 * @since 0.1.0
 * @category utils
 */
export const forEndpoint = (
  option: ProxyOption | undefined,
  target: { readonly host: string; readonly port: number; readonly secure: boolean }
): Proxy | undefined => {
  if (option === undefined) return undefined
  if (isProxy(option)) return option
  const proxy = target.secure ? option.https : option.http
  if (proxy === undefined) return undefined
  return bypasses(option.noProxy ?? [], target.host, target.port) ? undefined : proxy
}

/** Largest `CONNECT` answer head we read: proxies answer with a few lines. */
const MAX_ANSWER = 16 * 1024

const basic = (credentials: Credentials): string =>
  Buffer.from(`${credentials.username}:${Redacted.value(credentials.password)}`, "utf8").toString("base64")

/**
 * The `CONNECT` request for `host:port`, with `Proxy-Authorization` when `proxy` has credentials.
 *
 * @since 0.1.0
 * @category utils
 */
export const connectRequest = (proxy: Proxy, host: string, port: number): Uint8Array => {
  const authority = formatAddress(host, port)
  const auth = proxy.credentials === undefined ? "" : `Proxy-Authorization: Basic ${basic(proxy.credentials)}\r\n`
  return Buffer.from(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${auth}\r\n`, "latin1")
}

/**
 * The failure of a tunnel step: a `TransportError` naming the target whose `ProxyError` names the
 * proxy. Shared by the `CONNECT` and SOCKS5 tunnels.
 *
 * @internal
 */
export const tunnelFailure = (proxy: Proxy, target: { readonly host: string; readonly port: number }) => {
  const address = formatAddress(target.host, target.port)
  const proxyAddress = formatAddress(proxy.host, proxy.port)
  return (fields: Omit<ConstructorParameters<typeof ProxyError>[0], "proxy">): Effect.Effect<never, TransportError> =>
    Effect.fail(transportError(address, new ProxyError({ ...fields, proxy: proxyAddress })))
}

/**
 * Runs the `CONNECT` exchange on `transport` (connected to `proxy`) for `host:port`. On a 2xx
 * the transport is the tunnel: the next byte read comes from the target. Errors name `address`
 * (the target) and carry a `ProxyError` with the proxy's address: `TunnelRefused` with `status`,
 * `Closed` (the proxy hung up or reset before answering), `MalformedResponse` (not HTTP, or
 * bytes after the answer before the client spoke).
 *
 * @since 0.1.0
 * @category constructors
 */
export const tunnel = (
  transport: Transport,
  proxy: Proxy,
  target: { readonly host: string; readonly port: number }
): Effect.Effect<void, TransportError> =>
  Effect.gen(function*() {
    const fail = tunnelFailure(proxy, target)
    yield* Effect.catch(
      transport.write(connectRequest(proxy, target.host, target.port)),
      (error) => fail({ kind: "Closed", cause: error })
    )
    const reader = ResponseReader.make({ maxHeadBytes: MAX_ANSWER })
    reader.expect("CONNECT")
    const buf = ReadBuf.make({ capacity: 4096 })
    while (true) {
      const result = reader.next()
      if (result._tag === "Response") {
        const status = result.status
        if (status >= 200 && status < 300) {
          // neither TLS nor HTTP lets the server speak first: bytes here are not the target's
          if (reader.takeLeftover().length > 0) {
            return yield* fail({ kind: "MalformedResponse", cause: new Error("bytes followed the CONNECT answer before the client spoke") })
          }
          return
        }
        return yield* fail({ kind: "TunnelRefused", status, statusText: result.reason })
      }
      if (result._tag !== "NeedMore") return yield* fail({ kind: "MalformedResponse", cause: new Error(result.message) })
      buf.clear()
      const n = yield* Effect.catch(transport.read(buf), (error) => fail({ kind: "Closed", cause: error }))
      if (n === 0) {
        reader.endOfInput()
        const last = reader.next()
        if (last._tag === "Response" && (last.status < 200 || last.status >= 300)) {
          return yield* fail({ kind: "TunnelRefused", status: last.status, statusText: last.reason })
        }
        return yield* fail({ kind: "Closed", cause: new Error("the proxy closed the connection before answering CONNECT") })
      }
      if (!reader.feed(buf.data())) return yield* fail({ kind: "MalformedResponse", cause: new Error("CONNECT answer too large") })
    }
  })
