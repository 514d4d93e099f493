/**
 * `Tls` — a `Transport` over `node:tls`, plus `TlsConfig`, the trust and protocol settings built
 * once and shared by every connection.
 *
 * `TlsConfig.make` calls `tls.createSecureContext` once; each `connect` reuses that context, so
 * parsing CA bundles is paid at configuration time, not per dial. Certificates are verified by
 * default (chain to a trusted root, and the certificate must cover the host name); a failed
 * check is a `TransportError` whose reason is a `TlsError` with a `kind` naming it
 * (`CertificateUntrusted`, `HostnameMismatch`, `CertificateExpired`, `HandshakeFailed`,
 * `HandshakeTimeout`). A failure before TCP connects has a `ConnectError` reason, as for
 * `Tcp.connect`.
 *
 * The connected transport is the same `SocketTransport` as TCP's (see `Tcp` for the read path and
 * backpressure): `onread` works on `tls.connect` sockets and delivers decrypted bytes.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { Buffer } from "node:buffer"
import { X509Certificate } from "node:crypto"
import * as net from "node:net"
import * as tls from "node:tls"
import * as Socket from "./SocketTransport.ts"
import {
  ConnectError,
  formatAddress,
  TlsError,
  type TlsErrorKind,
  Transport,
  TransportError,
  transportError
} from "./Transport.ts"

/**
 * Options for {@link TlsConfig.make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface TlsConfigOptions {
  /** Extra trusted CA certificates, PEM text or DER bytes (DER is converted to PEM). Default none. */
  readonly ca?: ReadonlyArray<string | Uint8Array> | undefined
  /** Trust Node's default root store as well as `ca`. Default `true`; `false` trusts only `ca`. */
  readonly useSystemRoots?: boolean | undefined
  /** Refuse anything below TLS 1.3. Default `false` (TLS 1.2 and 1.3, Node's default range). */
  readonly tls13Only?: boolean | undefined
  /** ALPN protocol names to offer, most preferred first (e.g. `["http/1.1"]`). Default none. */
  readonly alpn?: ReadonlyArray<string> | undefined
  /**
   * Accept any certificate for any host name. Default `false`. For test rigs only: it removes
   * all protection against an attacker in the middle.
   */
  readonly dangerouslyDisableCertificateVerification?: boolean | undefined
}

/**
 * Brand of a {@link TlsConfig}.
 *
 * @since 0.1.0
 * @category type ids
 */
export const TlsConfigTypeId = "~effect-nexus/Transport/TlsConfig" as const

/**
 * Immutable TLS settings with their prepared `SecureContext`; build once, share across connections.
 *
 * @since 0.1.0
 * @category models
 */
export interface TlsConfig {
  readonly [TlsConfigTypeId]: typeof TlsConfigTypeId
  /** The context every connection made with this config reuses. */
  readonly secureContext: tls.SecureContext
  /** ALPN names offered, or `undefined` for none. */
  readonly alpn: ReadonlyArray<string> | undefined
  /** Whether certificates and host names are verified. */
  readonly verify: boolean
  /** Whether only TLS 1.3 is allowed. */
  readonly tls13Only: boolean
}

const isPem = (bytes: Uint8Array): boolean =>
  bytes.length >= 10 && Buffer.from(bytes.buffer, bytes.byteOffset, 10).toString("latin1") === "-----BEGIN"

/**
 * Converts a DER certificate to PEM text (base64 in 64-column lines between the markers).
 *
 * @since 0.1.0
 * @category utils
 */
export const derToPem = (der: Uint8Array): string => {
  const base64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString("base64")
  const lines: Array<string> = []
  for (let i = 0; i < base64.length; i += 64) lines.push(base64.slice(i, i + 64))
  return `-----BEGIN CERTIFICATE-----\n${lines.join("\n")}\n-----END CERTIFICATE-----\n`
}

const toPem = (cert: string | Uint8Array): string =>
  typeof cert === "string" ? cert : isPem(cert) ? Buffer.from(cert).toString("latin1") : derToPem(cert)

const defaultRoots = (): ReadonlyArray<string> =>
  typeof tls.getCACertificates === "function" ? tls.getCACertificates("default") : tls.rootCertificates

/**
 * Builds a config synchronously, throwing a `TransportError` (address `"config"`) whose
 * reason is a `TlsError` kind `"InvalidConfig"` when a CA does not parse as an X.509 certificate (the first one of a PEM bundle is
 * checked) or OpenSSL rejects an option. Prefer {@link TlsConfig.make} inside Effect code.
 */
const makeConfigUnsafe = (options: TlsConfigOptions = {}): TlsConfig => {
  const useSystemRoots = options.useSystemRoots ?? true
  const extra = (options.ca ?? []).map(toPem)
  const tls13Only = options.tls13Only ?? false
  // no `ca` at all keeps Node's default store; an explicit list replaces it
  const ca = useSystemRoots ? (extra.length === 0 ? undefined : [...defaultRoots(), ...extra]) : extra
  let secureContext: tls.SecureContext
  try {
    // OpenSSL silently skips a CA it cannot parse; parse each one here so a typo is an error
    for (const pem of extra) new X509Certificate(pem)
    secureContext = tls.createSecureContext({
      ...(ca === undefined ? {} : { ca }),
      ...(tls13Only ? { minVersion: "TLSv1.3" as const } : {})
    })
  } catch (cause) {
    throw transportError("config", new TlsError({ kind: "InvalidConfig", cause }))
  }
  return {
    [TlsConfigTypeId]: TlsConfigTypeId,
    secureContext,
    alpn: options.alpn === undefined || options.alpn.length === 0 ? undefined : [...options.alpn],
    verify: !(options.dangerouslyDisableCertificateVerification ?? false),
    tls13Only
  }
}

/**
 * Constructors for {@link TlsConfig}: `make` (an Effect failing with a `TransportError` whose
 * reason is a `TlsError` kind `"InvalidConfig"`) and `makeUnsafe` (throws that error; for module-level constants).
 * Defaults: system roots on, TLS 1.2+, no ALPN, verification on.
 *
 * @since 0.1.0
 * @category constructors
 */
export const TlsConfig = {
  make: (options: TlsConfigOptions = {}): Effect.Effect<TlsConfig, TransportError> =>
    Effect.try({
      try: () => makeConfigUnsafe(options),
      catch: (cause) =>
        cause instanceof TransportError ? cause : transportError("config", new TlsError({ kind: "InvalidConfig", cause }))
    }),
  makeUnsafe: makeConfigUnsafe
} as const

let sharedDefault: TlsConfig | undefined

/**
 * The default config (system roots, verification on), built on first use and then shared.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultConfig = (): TlsConfig => (sharedDefault ??= makeConfigUnsafe())

/**
 * Options for {@link connect}: the TCP options plus the TLS config and SNI name.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectOptions extends Socket.SocketOptions {
  /** Host name or IP literal. */
  readonly host: string
  /** TCP port. */
  readonly port: number
  /** Trust and protocol settings, shared across connections. */
  readonly config: TlsConfig
  /** Name sent as SNI and checked against the certificate. Default `host`, unless `host` is an IP literal (then no SNI, and the IP is checked). */
  readonly servername?: string | undefined
}

const untrusted = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "CERT_SIGNATURE_FAILURE",
  "CERT_CHAIN_TOO_LONG",
  "INVALID_CA"
])

/**
 * Maps a handshake error to a `TlsError` kind.
 *
 * @since 0.1.0
 * @category errors
 */
export const tlsErrorKind = (cause: unknown): TlsErrorKind => {
  const code = typeof cause === "object" && cause !== null ? (cause as { code?: unknown }).code : undefined
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") return "HostnameMismatch"
  if (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID") return "CertificateExpired"
  if (typeof code === "string" && untrusted.has(code)) return "CertificateUntrusted"
  return "HandshakeFailed"
}

/**
 * Opens a TLS connection and completes the handshake. The socket lives until the surrounding
 * scope closes (or `destroy`). Same defaults as `Tcp.connect`; `connectTimeout` (default 10 s,
 * `Tcp.DEFAULT_CONNECT_TIMEOUT`) covers TCP and the handshake, so a server that accepts but
 * never speaks TLS fails too: a timeout after TCP connected is a `TlsError` kind
 * `"HandshakeTimeout"`, one before it a `ConnectError` kind `"Timeout"`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect: (
  options: ConnectOptions
) => Effect.Effect<Transport, TransportError, Scope.Scope> = Effect.fn("Tls.connect")(
  function*(options: ConnectOptions) {
    const address = formatAddress(options.host, options.port)
    const config = options.config
    const servername = options.servername ?? (net.isIP(options.host) === 0 ? options.host : undefined)
    const timeoutText = (after: Duration.Duration) => new Error(`not connected within ${Duration.format(after)}`)
    return yield* Socket.dial<TransportError>({
      address,
      readHighWaterMark: options.readHighWaterMark ?? Socket.DEFAULT_READ_HIGH_WATER_MARK,
      connectTimeout: options.connectTimeout,
      open: (transport) =>
        Socket.applySocketOptions(tls.connect({
          ...Socket.socketOptions(transport, options),
          secureContext: config.secureContext,
          rejectUnauthorized: config.verify,
          ...(servername === undefined ? {} : { servername }),
          ...(config.alpn === undefined ? {} : { ALPNProtocols: [...config.alpn] })
        }), options),
      readyEvent: "secureConnect",
      onError: (cause, tcpConnected) =>
        tcpConnected
          ? transportError(address, new TlsError({ kind: tlsErrorKind(cause), cause }))
          : transportError(address, new ConnectError({ kind: Socket.connectErrorKind(cause), cause })),
      onTimeout: (tcpConnected, after) =>
        tcpConnected
          ? transportError(address, new TlsError({ kind: "HandshakeTimeout", cause: timeoutText(after) }))
          : transportError(address, new ConnectError({ kind: "Timeout", cause: timeoutText(after) }))
    })
  }
)

/**
 * A layer providing the `Transport` service over one TLS connection, closed with the layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: ConnectOptions): Layer.Layer<Transport, TransportError> =>
  Layer.effect(Transport, connect(options))

/**
 * The ALPN protocol the server selected on a TLS transport, or `undefined` (no ALPN, or not TLS).
 *
 * @since 0.1.0
 * @category getters
 */
export const alpnProtocol = (transport: Transport): string | undefined => {
  const socket = transport instanceof Socket.SocketTransport ? transport.socket : undefined
  if (!(socket instanceof tls.TLSSocket)) return undefined
  const protocol = socket.alpnProtocol
  return typeof protocol === "string" ? protocol : undefined
}

/**
 * The negotiated TLS protocol version (`"TLSv1.3"`, ...) of a TLS transport, or `undefined`.
 *
 * @since 0.1.0
 * @category getters
 */
export const protocolVersion = (transport: Transport): string | undefined => {
  const socket = transport instanceof Socket.SocketTransport ? transport.socket : undefined
  return socket instanceof tls.TLSSocket ? socket.getProtocol() ?? undefined : undefined
}
