/**
 * `Url` — the endpoint URLs the transports dial: `ws`, `wss`, `http` and `https`, parsed with
 * the WHATWG `URL` parser (the same one browsers and `ws` use), then reduced to what a client
 * needs on the wire.
 *
 * ```text
 * "wss://[::1]:9443/stream?x=1#frag" ─► { scheme: "wss", secure: true, host: "::1",
 *                                        hostHeader: "[::1]:9443", port: 9443,
 *                                        pathAndQuery: "/stream?x=1" }
 * ```
 *
 * Rules: the scheme is case-insensitive; default ports are 80 (`ws`, `http`) and 443 (`wss`,
 * `https`); `hostHeader` carries the port only when it is not the default and keeps IPv6 in
 * brackets, `host` drops them (what `net.connect` wants); host names are lower-cased and IDN
 * names converted to punycode by WHATWG; the fragment is dropped; an empty path becomes `/`.
 * Credentials (`user:pass@`) are rejected with `CredentialsInUrl`: this toolkit never sends
 * them, and a URL holding a secret should not travel into logs — pass keys as headers.
 * Parsing never throws: every fault is a tagged `UrlError`.
 *
 * @since 0.1.0
 */

/** The schemes this toolkit dials. */
export type Scheme = "ws" | "wss" | "http" | "https"

/** What a client needs from an endpoint URL. */
export interface ParsedUrl {
  readonly _tag: "ParsedUrl"
  readonly scheme: Scheme
  /** `true` for `wss` and `https` (dial TLS). */
  readonly secure: boolean
  /** Host name or IP literal without IPv6 brackets, for `net.connect` / TLS SNI. */
  readonly host: string
  /** The `Host` header value: port only when non-default, IPv6 in brackets. */
  readonly hostHeader: string
  /** The port to dial; 80 or 443 when the URL gives none. */
  readonly port: number
  /** Origin-form request target: path plus `?query`, `/` when empty, fragment dropped. */
  readonly pathAndQuery: string
}

/** The input is not an absolute URL the WHATWG parser accepts. */
export interface MalformedUrl {
  readonly _tag: "MalformedUrl"
  readonly input: string
  readonly message: string
}

/** The URL's scheme is not `ws`, `wss`, `http` or `https`. */
export interface UnsupportedScheme {
  readonly _tag: "UnsupportedScheme"
  /** The scheme found, lower-case, without the colon. */
  readonly scheme: string
  readonly message: string
}

/** The URL carries a user name or password; the message shows the URL with them redacted. */
export interface CredentialsInUrl {
  readonly _tag: "CredentialsInUrl"
  readonly message: string
}

/** Every fault `parse` reports. */
export type UrlError = MalformedUrl | UnsupportedScheme | CredentialsInUrl

const DEFAULT_PORTS: Readonly<Record<Scheme, number>> = { ws: 80, http: 80, wss: 443, https: 443 }

const isScheme = (s: string): s is Scheme => s === "ws" || s === "wss" || s === "http" || s === "https"

/**
 * Parses an endpoint URL. Returns a `ParsedUrl`, or `MalformedUrl`, `UnsupportedScheme` or
 * `CredentialsInUrl`; never throws.
 *
 * @since 0.1.0
 */
export const parse = (input: string): ParsedUrl | UrlError => {
  const url = URL.parse(input)
  if (url === null) {
    return { _tag: "MalformedUrl", input, message: `${JSON.stringify(input)} is not a valid absolute URL` }
  }
  const scheme = url.protocol.slice(0, -1)
  if (!isScheme(scheme)) {
    return {
      _tag: "UnsupportedScheme",
      scheme,
      message: `scheme "${scheme}" is not supported; use ws, wss, http or https`
    }
  }
  if (url.username !== "" || url.password !== "") {
    url.username = ""
    url.password = ""
    return {
      _tag: "CredentialsInUrl",
      message: `credentials in ${url.href} (redacted) are not supported; send them as a header`
    }
  }
  // WHATWG already omits a default port from `port` / `host` for these special schemes.
  const hostname = url.hostname
  const host = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname
  const pathAndQuery = (url.pathname === "" ? "/" : url.pathname) + url.search
  return {
    _tag: "ParsedUrl",
    scheme,
    secure: scheme === "wss" || scheme === "https",
    host,
    hostHeader: url.host,
    port: url.port === "" ? DEFAULT_PORTS[scheme] : Number(url.port),
    pathAndQuery
  }
}
