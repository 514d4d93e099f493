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
 * The connected transport is the same `SocketTransport` as TCP's (see `SocketTransport` for the
 * read path and backpressure): `onread` works on `tls.connect` sockets and delivers decrypted bytes.
 *
 * **TLS over any transport.** {@link over} runs the client side of `node:tls` over a `Transport`
 * that is already connected — a `Memory` end, `FromSocket`, a proxy tunnel — through a duplex
 * adapter, with the same `TlsConfig`; {@link accept} is the server side. Bytes then arrive as
 * `'data'` chunks (one `Buffer` per TLS record batch) rather than through `onread`, so prefer
 * {@link connect} when the library dials the socket itself.
 *
 * **Client certificates (mTLS).** `clientCertificate` in {@link TlsConfigOptions}: a PEM
 * certificate chain and key, or a PKCS#12 bundle, with an optional passphrase as `Redacted`.
 * A key that does not match, a wrong passphrase or a bundle that does not parse fails at
 * `TlsConfig.make` with `InvalidConfig`, not at the first dial.
 *
 * **Session resumption.** Every `TlsConfig` holds a {@link SessionCache} (default
 * {@link DEFAULT_SESSION_CACHE_SIZE}, 100 origins, as undici): each dial offers the last session
 * the origin (`servername` + address) gave, and stores the tickets the server sends, so a
 * reconnect (a pool's healing, a feed's reconnect) resumes with an abbreviated handshake. A failed
 * handshake forgets the origin's session. {@link sessionReused} tells whether a connection resumed.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { Buffer } from "node:buffer"
import { X509Certificate } from "node:crypto"
import * as net from "node:net"
import * as tls from "node:tls"
import { duplexOver } from "./internal/duplex.ts"
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
  /** A client certificate for servers that ask for one (mTLS). Default none. */
  readonly clientCertificate?: ClientCertificate | undefined
  /**
   * Origins whose last TLS session is kept for resumption; `0` turns resumption off. Default 100
   * ({@link DEFAULT_SESSION_CACHE_SIZE}, undici's `maxCachedSessions`).
   */
  readonly sessionCacheSize?: number | undefined
}

/**
 * A client certificate: a PEM certificate (chain) and its PEM private key, or a PKCS#12
 * (`.p12`/`.pfx`) bundle holding both; `passphrase` decrypts an encrypted key or bundle.
 *
 * @since 0.1.0
 * @category models
 */
export type ClientCertificate =
  | {
    /** The certificate, followed by any intermediates, PEM. */
    readonly cert: string | Uint8Array
    /** Its private key, PEM (encrypted keys need `passphrase`). */
    readonly key: string | Uint8Array
    readonly passphrase?: Redacted.Redacted<string> | undefined
  }
  | {
    /** A PKCS#12 bundle (DER bytes) with the certificate and key. */
    readonly pfx: Uint8Array
    readonly passphrase?: Redacted.Redacted<string> | undefined
  }

/**
 * Origins whose TLS session a `TlsConfig` keeps by default: 100 (undici's `maxCachedSessions`).
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_SESSION_CACHE_SIZE = 100

/**
 * The last TLS session of each origin, least recently used evicted first. One per `TlsConfig`;
 * sessions are only valid with the context that made them.
 *
 * @since 0.1.0
 * @category models
 */
export class SessionCache {
  /** Origins kept at most; `0` keeps none. */
  readonly capacity: number
  private readonly sessions: Map<string, Buffer>
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) {
      throw new RangeError(`sessionCacheSize must be a non-negative integer, got ${capacity}`)
    }
    this.capacity = capacity
    this.sessions = new Map()
  }
  /** Origins with a session. */
  get size(): number {
    return this.sessions.size
  }
  /** The session to offer to `origin`, if any (and marks it recently used). */
  get(origin: string): Buffer | undefined {
    const session = this.sessions.get(origin)
    if (session !== undefined) {
      this.sessions.delete(origin)
      this.sessions.set(origin, session)
    }
    return session
  }
  /** Keeps `session` as `origin`'s latest, evicting the least recently used origin when full. */
  set(origin: string, session: Buffer): void {
    if (this.capacity === 0) return
    this.sessions.delete(origin)
    this.sessions.set(origin, session)
    if (this.sessions.size > this.capacity) this.sessions.delete(this.sessions.keys().next().value!)
  }
  /** Forgets `origin`'s session (after a failed handshake). */
  delete(origin: string): void {
    this.sessions.delete(origin)
  }
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
  /** Whether a client certificate is presented to servers that ask. */
  readonly hasClientCertificate: boolean
  /** The sessions dials with this config resume. */
  readonly sessions: SessionCache
}

/**
 * PEM text may have anything before its first `-----BEGIN` line (a bundle's comments, a blank
 * line, a BOM); DER is one ASN.1 SEQUENCE, so it starts with 0x30 and is never mistaken for it.
 */
const isPem = (bytes: Uint8Array): boolean =>
  bytes[0] !== 0x30 && Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes("-----BEGIN", 0, "latin1")

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
 * checked) or OpenSSL rejects an option (a client key that does not match its certificate, a
 * wrong passphrase). Throws `RangeError` for a negative `sessionCacheSize`. Prefer {@link TlsConfig.make} inside Effect code.
 */
const clientCertificateOptions = (certificate: ClientCertificate | undefined): tls.SecureContextOptions => {
  if (certificate === undefined) return {}
  const passphrase = certificate.passphrase === undefined ? {} : { passphrase: Redacted.value(certificate.passphrase) }
  return "pfx" in certificate
    ? { pfx: Buffer.from(certificate.pfx), ...passphrase }
    : { cert: toText(certificate.cert), key: toText(certificate.key), ...passphrase }
}

const toText = (pem: string | Uint8Array): string => (typeof pem === "string" ? pem : Buffer.from(pem).toString("latin1"))

const makeConfigUnsafe = (options: TlsConfigOptions = {}): TlsConfig => {
  const sessions = new SessionCache(options.sessionCacheSize ?? DEFAULT_SESSION_CACHE_SIZE)
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
      ...(tls13Only ? { minVersion: "TLSv1.3" as const } : {}),
      // OpenSSL checks here that the key matches the certificate and the passphrase opens it
      ...clientCertificateOptions(options.clientCertificate)
    })
  } catch (cause) {
    throw transportError("config", new TlsError({ kind: "InvalidConfig", cause }))
  }
  return {
    [TlsConfigTypeId]: TlsConfigTypeId,
    secureContext,
    alpn: options.alpn === undefined || options.alpn.length === 0 ? undefined : [...options.alpn],
    verify: !(options.dangerouslyDisableCertificateVerification ?? false),
    tls13Only,
    hasClientCertificate: options.clientCertificate !== undefined,
    sessions
  }
}

/**
 * Constructors for {@link TlsConfig}: `make` (an Effect failing with a `TransportError` whose
 * reason is a `TlsError` kind `"InvalidConfig"`) and `makeUnsafe` (throws that error; for module-level constants).
 * Defaults: system roots on, TLS 1.2+, no ALPN, verification on, no client certificate, a
 * session cache of 100 origins.
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
 * Options for {@link connect}: the socket options plus where to, the TLS config and SNI name.
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

/**
 * Maps a handshake error to a `TlsError` kind (defined with the socket core, which maps a
 * server's refusal of the client certificate after a TLS 1.3 handshake the same way).
 *
 * @since 0.1.0
 * @category errors
 */
export const tlsErrorKind: (cause: unknown) => TlsErrorKind = Socket.tlsErrorKind

const timeoutText = (after: Duration.Duration) => new Error(`not connected within ${Duration.format(after)}`)

/** The SNI name: `servername`, else `host` unless it is an IP literal. */
const sniName = (host: string, servername: string | undefined): string | undefined =>
  servername ?? (net.isIP(host) === 0 ? host : undefined)

/** The client side of the handshake over `socket` (or a fresh TCP socket), shared by connect and over. */
const clientOptions = (config: TlsConfig, host: string, servername: string | undefined, origin: string) => {
  const session = config.sessions.get(origin)
  return {
    host,
    secureContext: config.secureContext,
    rejectUnauthorized: config.verify,
    ...(servername === undefined ? {} : { servername }),
    ...(config.alpn === undefined ? {} : { ALPNProtocols: [...config.alpn] }),
    ...(session === undefined ? {} : { session })
  }
}

/** Keeps the tickets the server sends as the origin's session, for the next dial. */
const keepSessions = (config: TlsConfig, origin: string, socket: tls.TLSSocket): tls.TLSSocket => {
  if (config.sessions.capacity > 0) socket.on("session", (session: Buffer) => config.sessions.set(origin, session))
  return socket
}

/**
 * Opens a TLS connection and completes the handshake. The socket lives until the surrounding
 * scope closes (or `destroy`). Same defaults as `Tcp.connect`; `connectTimeout` (default 10 s,
 * `Tcp.DEFAULT_CONNECT_TIMEOUT`) covers TCP and the handshake, so a server that accepts but
 * never speaks TLS fails too: a timeout after TCP connected is a `TlsError` kind
 * `"HandshakeTimeout"`, one before it a `ConnectError` kind `"Timeout"`. Offers the origin's
 * cached session (see the module doc).
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
    const servername = sniName(options.host, options.servername)
    const origin = `${servername ?? ""}@${address}`
    return yield* Socket.dial<TransportError>({
      address,
      readHighWaterMark: options.readHighWaterMark ?? Socket.DEFAULT_READ_HIGH_WATER_MARK,
      busyPoll: options.busyPoll,
      connectTimeout: options.connectTimeout,
      open: (transport) =>
        Socket.applySocketOptions(
          keepSessions(
            config,
            origin,
            tls.connect({
              ...Socket.socketOptions(transport, options),
              ...clientOptions(config, options.host, servername, origin),
              // tls.connect drops `writableHighWaterMark`; the TLSSocket takes `highWaterMark`
              // (its readable side is fed by `onread`, so only the writable one matters)
              ...(options.writeHighWaterMark === undefined ? {} : { highWaterMark: options.writeHighWaterMark })
            })
          ),
          options
        ),
      readyEvent: "secureConnect",
      onError: (cause, tcpConnected) => {
        config.sessions.delete(origin)
        return tcpConnected
          ? transportError(address, new TlsError({ kind: tlsErrorKind(cause), cause }))
          : transportError(address, new ConnectError({ kind: Socket.connectErrorKind(cause), cause }))
      },
      onTimeout: (tcpConnected, after) =>
        tcpConnected
          ? transportError(address, new TlsError({ kind: "HandshakeTimeout", cause: timeoutText(after) }))
          : transportError(address, new ConnectError({ kind: "Timeout", cause: timeoutText(after) }))
    })
  }
)

/**
 * Options for {@link over}: the TLS config, the name to check, and the handshake's limits.
 * Socket options (`noDelay`, `keepAlive`, ...) belong to the transport underneath, so they are
 * not accepted here.
 *
 * @since 0.1.0
 * @category models
 */
export interface OverOptions {
  /** Trust and protocol settings, shared across connections. */
  readonly config: TlsConfig
  /** The host the certificate must cover: a name (also sent as SNI) or an IP literal. */
  readonly host: string
  /** Name sent as SNI and checked instead of `host`. Default `host` (none for an IP literal). */
  readonly servername?: string | undefined
  /** Time the handshake may take, or `"Infinity"`. Default 10 s (`Tcp.DEFAULT_CONNECT_TIMEOUT`). */
  readonly handshakeTimeout?: Duration.Input | undefined
  /** Decrypted bytes buffered unread before the TLS socket pauses. Default 64 KiB. */
  readonly readHighWaterMark?: number | undefined
}

/**
 * Runs the client side of TLS over `transport`, which must be connected and not yet read or
 * written, and returns the decrypted stream. The TLS transport owns `transport`: destroying it
 * (or closing the scope) destroys both. Errors name `transport.remoteAddress`: a failed check or
 * a peer that hangs up mid-handshake is a `TlsError` (`HandshakeFailed` carries the underlying
 * fault as `cause`), a silent peer `HandshakeTimeout` after `handshakeTimeout`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const over: (
  transport: Transport,
  options: OverOptions
) => Effect.Effect<Transport, TransportError, Scope.Scope> = Effect.fn("Tls.over")(
  function*(transport: Transport, options: OverOptions) {
    const context = yield* Effect.context<never>()
    const address = transport.remoteAddress
    const config = options.config
    const servername = sniName(options.host, options.servername)
    const origin = `${servername ?? options.host}@${address}`
    return yield* Socket.dial<TransportError>({
      address,
      readHighWaterMark: options.readHighWaterMark ?? Socket.DEFAULT_READ_HIGH_WATER_MARK,
      connectTimeout: options.handshakeTimeout,
      open: (tlsTransport) => {
        const socket = keepSessions(
          config,
          origin,
          tls.connect({ socket: duplexOver(transport, context), ...clientOptions(config, options.host, servername, origin) })
        )
        Socket.feedFromData(tlsTransport, socket)
        return socket
      },
      readyEvent: "secureConnect",
      onError: (cause) => {
        config.sessions.delete(origin)
        return transportError(address, new TlsError({ kind: tlsErrorKind(cause), cause }))
      },
      onTimeout: (_, after) => transportError(address, new TlsError({ kind: "HandshakeTimeout", cause: timeoutText(after) }))
    })
  }
)

/**
 * Options for {@link ServerConfig.make}: the server's certificate and key, and what it speaks.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerConfigOptions {
  /** The server certificate (chain), PEM. */
  readonly cert: string | Uint8Array
  /** Its private key, PEM. */
  readonly key: string | Uint8Array
  /** ALPN protocols this server speaks, most preferred first. Default none. */
  readonly alpn?: ReadonlyArray<string> | undefined
  /** Refuse anything below TLS 1.3. Default `false`. */
  readonly tls13Only?: boolean | undefined
}

/**
 * The server side's settings with their prepared `SecureContext`. Build once and share: session
 * tickets are sealed with the context's keys, so only connections accepted with the same config
 * can resume each other's sessions.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerConfig {
  readonly secureContext: tls.SecureContext
  readonly alpn: ReadonlyArray<string> | undefined
}

/**
 * Constructors for {@link ServerConfig}: `make` fails with a `TransportError` (address
 * `"config"`) whose reason is a `TlsError` kind `"InvalidConfig"` when OpenSSL refuses the key or
 * certificate.
 *
 * @since 0.1.0
 * @category constructors
 */
export const ServerConfig = {
  make: (options: ServerConfigOptions): Effect.Effect<ServerConfig, TransportError> =>
    Effect.try({
      try: () => ({
        secureContext: tls.createSecureContext({
          cert: toText(options.cert),
          key: toText(options.key),
          ...(options.tls13Only === true ? { minVersion: "TLSv1.3" as const } : {})
        }),
        alpn: options.alpn === undefined || options.alpn.length === 0 ? undefined : [...options.alpn]
      }),
      catch: (cause) => transportError("config", new TlsError({ kind: "InvalidConfig", cause }))
    })
} as const

/**
 * Options for {@link accept}: the server config and the handshake's limits.
 *
 * @since 0.1.0
 * @category models
 */
export interface AcceptOptions {
  /** Certificate, key and protocols, shared across connections. */
  readonly config: ServerConfig
  /** Time the handshake may take, or `"Infinity"`. Default 10 s (`Tcp.DEFAULT_CONNECT_TIMEOUT`). */
  readonly handshakeTimeout?: Duration.Input | undefined
  /** Decrypted bytes buffered unread before the TLS socket pauses. Default 64 KiB. */
  readonly readHighWaterMark?: number | undefined
}

/**
 * Runs the server side of TLS over an accepted `transport` (a `Memory` server end in tests, a
 * socket a server adopted) and returns the decrypted stream, which owns `transport`. Fails with
 * a `TlsError` (`HandshakeFailed`, `HandshakeTimeout`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const accept: (
  transport: Transport,
  options: AcceptOptions
) => Effect.Effect<Transport, TransportError, Scope.Scope> = Effect.fn("Tls.accept")(
  function*(transport: Transport, options: AcceptOptions) {
    const context = yield* Effect.context<never>()
    const address = transport.remoteAddress
    const config = options.config
    return yield* Socket.dial<TransportError>({
      address,
      readHighWaterMark: options.readHighWaterMark ?? Socket.DEFAULT_READ_HIGH_WATER_MARK,
      connectTimeout: options.handshakeTimeout,
      open: (tlsTransport) => {
        const socket = new tls.TLSSocket(duplexOver(transport, context), {
          isServer: true,
          secureContext: config.secureContext,
          ...(config.alpn === undefined ? {} : { ALPNProtocols: [...config.alpn] })
        })
        Socket.feedFromData(tlsTransport, socket)
        return socket
      },
      readyEvent: "secure",
      onError: (cause) => transportError(address, new TlsError({ kind: tlsErrorKind(cause), cause })),
      onTimeout: (_, after) => transportError(address, new TlsError({ kind: "HandshakeTimeout", cause: timeoutText(after) }))
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

const tlsSocketOf = (transport: Transport): tls.TLSSocket | undefined => {
  const socket = transport instanceof Socket.SocketTransport ? transport.socket : undefined
  return socket instanceof tls.TLSSocket ? socket : undefined
}

/**
 * The ALPN protocol the server selected on a TLS transport, or `undefined` (no ALPN, or not TLS).
 *
 * @since 0.1.0
 * @category getters
 */
export const alpnProtocol = (transport: Transport): string | undefined => {
  const protocol = tlsSocketOf(transport)?.alpnProtocol
  return typeof protocol === "string" ? protocol : undefined
}

/**
 * The negotiated TLS protocol version (`"TLSv1.3"`, ...) of a TLS transport, or `undefined`.
 *
 * @since 0.1.0
 * @category getters
 */
export const protocolVersion = (transport: Transport): string | undefined =>
  tlsSocketOf(transport)?.getProtocol() ?? undefined

/**
 * Whether a TLS transport resumed a cached session (an abbreviated handshake) rather than
 * running a full one; `false` for a full handshake or a transport that is not TLS.
 *
 * @since 0.1.0
 * @category getters
 */
export const sessionReused = (transport: Transport): boolean => tlsSocketOf(transport)?.isSessionReused() ?? false
