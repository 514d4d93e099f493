/**
 * `Transport` — the byte seam between the sans-IO codecs and a socket.
 *
 * A transport moves bytes and nothing else: `read(buf)` fills a codec's `ReadBuf`, `write`
 * hands bytes to the socket under backpressure, `end` half-closes, `destroy` tears down. TCP,
 * TLS, the in-memory pair and the `effect/socket` adapter all implement this one interface, so
 * the WebSocket and HTTP layers above never know which wire they run on.
 *
 * Rules every implementation keeps:
 * - `read` completes synchronously when bytes are already buffered and suspends only when the
 *   buffer is empty; it returns the count put into `buf`, and `0` only at end of stream (EOF is
 *   sticky: every later `read` returns `0`). Buffered bytes are delivered before a later error.
 * - `read` grows `buf` with `reserve` when it has no spare room and its `maxCapacity` allows;
 *   a full `buf` that cannot grow fails with `ReadError` kind `"BufferFull"`.
 * - `write` resolves once the bytes are accepted by the socket, waiting for `'drain'` when the
 *   socket's buffer is full — it never buffers without bound. A socket error fails the pending
 *   and every later `write`.
 * - `bytesWritten` counts bytes handed to the socket (they may still sit in the kernel); `0`
 *   after a failure means no byte of the request reached the socket, so a retry is safe.
 * - After `destroy` (or the owning scope closing) `read` and `write` fail with `TransportClosed`.
 * - `inboundState`, where present, is a synchronous probe of what has arrived (bytes, FIN,
 *   error) without reading; the HTTP connection uses it to refuse writing into a dead socket.
 *
 * Every failure is a `TransportError { address, reason }`: the reasons (`ConnectError`,
 * `TlsError`, `ProxyError`, `ReadError`, `WriteError`, `TransportClosed`) name the fault and not
 * the address, which the wrapper carries once. A listener fails with the same wrapper over its
 * own reason, `TransportError<ListenError>`, which no dial or stream can meet. The subsystems
 * above (`WebSocketError`, `HttpError`) take the same reason classes as their own reasons, under
 * their own wrapper.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type { ReadBuf } from "../Codec/ReadBuf.ts"
import type * as Url from "../Codec/Url.ts"

/**
 * Brand carried by every transport.
 *
 * @since 0.1.0
 * @category type ids
 */
export const TypeId = "~effect-nexus/Transport" as const

/**
 * A connected byte stream. See the module doc for the rules every implementation keeps.
 *
 * @since 0.1.0
 * @category models
 */
export interface Transport {
  readonly [TypeId]: typeof TypeId
  /** The dialed address as `host:port` (`[v6]:port` for IPv6 literals), used in error messages. */
  readonly remoteAddress: string
  /** Bytes handed to the socket so far (see the module doc). */
  readonly bytesWritten: number
  /** Bytes delivered to callers of `read` so far. */
  readonly bytesRead: number
  /** Puts at least one byte into `buf` and returns the count; `0` means the peer ended the stream. */
  read(buf: ReadBuf): Effect.Effect<number, TransportError>
  /** Hands `bytes` to the socket, waiting for `'drain'` when its buffer is full. */
  write(bytes: Uint8Array): Effect.Effect<void, TransportError>
  /** Writes several buffers as one flush (corked), with the same backpressure as `write`. */
  writev(chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, TransportError>
  /**
   * Optional synchronous `write` of `buffer[start, end)`, bytes the caller never changes again
   * (the transport may hold them until the kernel takes them): hands them to the socket now, and
   * the writes after the first in one event-loop tick leave together in one flush at the end of
   * the tick. Returns `undefined` when the socket accepted them with room to spare — the write is
   * done, with no Effect to run — or the Effect to wait on: `'drain'` when the buffer is full, or
   * the failure. A transport without it is written through `write`.
   */
  readonly writeNow?:
    | ((buffer: Uint8Array, start: number, end: number) => Effect.Effect<void, TransportError> | undefined)
    | undefined
  /**
   * Optional write of bytes the caller lends: hands `chunks` to the socket now, in order behind
   * every earlier write, and returns `undefined` when the kernel took them all at once (nothing
   * keeps a reference: the caller may change them), else the Effect that completes once the
   * socket has let go of them (written, or failed). For a large payload sent uncopied.
   */
  readonly writeBorrowed?: ((chunks: ReadonlyArray<Uint8Array>) => Effect.Effect<void, TransportError> | undefined) | undefined
  /**
   * Optional: hands over whatever `writeNow` still holds, then answers whether the transport
   * keeps none of the bytes given to it so far (the kernel has them all), so the memory they
   * were written from may be reused.
   */
  readonly release?: (() => boolean) | undefined
  /** Half-closes: sends FIN after the queued bytes; reading continues until the peer ends. Idempotent. */
  end(): Effect.Effect<void>
  /** Tears the connection down now; pending and later reads and writes fail with `TransportClosed`. Idempotent. */
  destroy(): Effect.Effect<void>
  /**
   * A synchronous look at the inbound side, without reading or waiting (see {@link InboundState}).
   * Optional: a transport that cannot tell leaves it out, and callers must then assume `"Open"`.
   */
  readonly inboundState?: InboundState | undefined
  /**
   * Copies bytes already received into `buf` now, without an Effect and without waiting;
   * returns the count, or `0` when nothing is buffered or anything else needs `read` (end of
   * stream, a failure, a closed transport, a full `buf`) — `read` then reports it. Optional:
   * a reader that drains a busy socket takes its read-ahead this way, one call per slab, with
   * no Effect step per read.
   */
  readBuffered?(buf: ReadBuf): number
}

/**
 * What a transport has seen on its inbound side so far, as of the last event-loop turn:
 * `"Open"` (nothing buffered, no end or error seen), `"Readable"` (unread bytes are buffered),
 * `"Ended"` (the peer sent FIN and every byte was read), `"Failed"` (a socket error or reset
 * was seen), `"Closed"` (this side destroyed it). Buffered bytes win over a later end or error,
 * as `read` delivers them first. An HTTP client probes it before writing a request on an idle
 * keep-alive connection: anything but `"Open"` means the server closed it or spoke out of turn.
 *
 * @since 0.1.0
 * @category models
 */
export type InboundState = "Open" | "Readable" | "Ended" | "Failed" | "Closed"

/**
 * Service key for a `Transport`, for code that receives its connection from a layer.
 *
 * @since 0.1.0
 * @category services
 */
export const Transport: Context.Service<Transport, Transport> = Context.Service<Transport>("effect-nexus/Transport")

/**
 * Why a connection could not be established (before any TLS handshake).
 *
 * @since 0.1.0
 * @category errors
 */
export const ConnectErrorKind = {
  /** Nothing listens there (`ECONNREFUSED`). */
  Refused: "Refused",
  /** No route to the host or network (`EHOSTUNREACH`, `ENETUNREACH`). */
  Unreachable: "Unreachable",
  /** The name did not resolve (`ENOTFOUND`, `EAI_AGAIN`, `EAI_FAIL`, `EAI_NONAME`). */
  DnsFailure: "DnsFailure",
  /** `connectTimeout` elapsed, or the kernel gave up (`ETIMEDOUT`). */
  Timeout: "Timeout",
  /** The peer reset the connection while it was being set up (`ECONNRESET`). */
  Reset: "Reset",
  /** Anything else; see `cause`. */
  Other: "Other"
} as const

/**
 * One of {@link ConnectErrorKind}.
 *
 * @since 0.1.0
 * @category errors
 */
export type ConnectErrorKind = typeof ConnectErrorKind[keyof typeof ConnectErrorKind]

/**
 * The connection could not be established (before any TLS handshake); `kind` says why.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectError extends Data.TaggedError("ConnectError")<{
  readonly kind: ConnectErrorKind
  readonly cause?: unknown
}> {
  override get message(): string {
    return `connect failed: ${connectKindText[this.kind]}${causeText(this.cause)}`
  }
}

const connectKindText: Record<ConnectErrorKind, string> = {
  Refused: "connection refused",
  Unreachable: "host or network unreachable",
  DnsFailure: "host name did not resolve",
  Timeout: "timed out",
  Reset: "connection reset by peer",
  Other: "socket error"
}

/**
 * Why a listening socket could not be opened, or an incoming connection not be taken.
 *
 * @since 0.1.0
 * @category errors
 */
export const ListenErrorKind = {
  /** Another socket holds the address (`EADDRINUSE`; without `reusePort` on both). */
  AddressInUse: "AddressInUse",
  /** The process may not bind there (`EACCES`, `EPERM`: a port below 1024). */
  AccessDenied: "AccessDenied",
  /** The host is not an address of this machine (`EADDRNOTAVAIL`), or did not resolve. */
  AddressNotAvailable: "AddressNotAvailable",
  /** The process or system is out of descriptors (`EMFILE`, `ENFILE`): accept failed. */
  TooManyOpenFiles: "TooManyOpenFiles",
  /** Anything else; see `cause`. */
  Other: "Other"
} as const

/**
 * One of {@link ListenErrorKind}.
 *
 * @since 0.1.0
 * @category errors
 */
export type ListenErrorKind = typeof ListenErrorKind[keyof typeof ListenErrorKind]

/**
 * A server socket failed: `operation` `"listen"` (the listener could not be opened; nothing
 * was accepted) or `"accept"` (the kernel handed over no connection; the listener goes on).
 *
 * @since 0.1.0
 * @category errors
 */
export class ListenError extends Data.TaggedError("ListenError")<{
  readonly operation: "listen" | "accept"
  readonly kind: ListenErrorKind
  readonly cause?: unknown
}> {
  override get message(): string {
    return `${this.operation} failed: ${listenKindText[this.kind]}${causeText(this.cause)}`
  }
}

const listenKindText: Record<ListenErrorKind, string> = {
  AddressInUse: "address already in use",
  AccessDenied: "permission denied",
  AddressNotAvailable: "address not available on this host",
  TooManyOpenFiles: "too many open files",
  Other: "socket error"
}

/**
 * Why a TLS session could not be established.
 *
 * @since 0.1.0
 * @category errors
 */
export const TlsErrorKind = {
  /** The chain does not lead to a trusted root (self-signed, unknown issuer). */
  CertificateUntrusted: "CertificateUntrusted",
  /** The certificate is expired or not yet valid. */
  CertificateExpired: "CertificateExpired",
  /** The certificate does not cover the requested host name (`ERR_TLS_CERT_ALTNAME_INVALID`). */
  HostnameMismatch: "HostnameMismatch",
  /** The handshake itself failed: protocol version, cipher, alert, or the peer hung up. */
  HandshakeFailed: "HandshakeFailed",
  /** TCP connected but the handshake did not finish within `connectTimeout`. */
  HandshakeTimeout: "HandshakeTimeout",
  /**
   * The server wanted a client certificate and got none, or refused ours (TLS alerts
   * `certificate_required`, `bad_certificate`, `unknown_ca`, ...); with TLS 1.3 it arrives on the
   * first read after the handshake rather than from the dial.
   */
  ClientCertificateRejected: "ClientCertificateRejected",
  /** A CA, client certificate or key in the `TlsConfig` does not parse, or OpenSSL rejected an option. */
  InvalidConfig: "InvalidConfig"
} as const

/**
 * One of {@link TlsErrorKind}.
 *
 * @since 0.1.0
 * @category errors
 */
export type TlsErrorKind = typeof TlsErrorKind[keyof typeof TlsErrorKind]

/**
 * The TLS handshake failed, or a `TlsConfig` was invalid (`kind` `"InvalidConfig"`, carried by a
 * `TransportError` whose address is `"config"` or the CA file's path).
 *
 * @since 0.1.0
 * @category errors
 */
export class TlsError extends Data.TaggedError("TlsError")<{
  readonly kind: TlsErrorKind
  readonly cause?: unknown
}> {
  override get message(): string {
    return `TLS failed: ${this.kind}${causeText(this.cause)}`
  }
}

/**
 * Why a tunnel through an HTTP `CONNECT` proxy could not be opened.
 *
 * @since 0.1.0
 * @category errors
 */
export const ProxyErrorKind = {
  /** The proxy answered `CONNECT` with a non-2xx status (`status`): 403 forbidden, 407 credentials needed, 502 target down. */
  TunnelRefused: "TunnelRefused",
  /** The proxy itself could not be reached; `cause` is the `ConnectError`. */
  Unreachable: "Unreachable",
  /** The proxy closed or reset the connection before answering `CONNECT`. */
  Closed: "Closed",
  /** The proxy's answer is not HTTP, too large, or followed by bytes nobody asked for. */
  MalformedResponse: "MalformedResponse",
  /** No answer to `CONNECT` within the dial's `connectTimeout`. */
  Timeout: "Timeout",
  /** A proxy URL (`HTTPS_PROXY`, ...) that does not parse or is not `http://`, `socks5://` or `socks5h://`. */
  InvalidProxyUrl: "InvalidProxyUrl"
} as const

/**
 * One of {@link ProxyErrorKind}.
 *
 * @since 0.1.0
 * @category errors
 */
export type ProxyErrorKind = typeof ProxyErrorKind[keyof typeof ProxyErrorKind]

/**
 * The tunnel through a proxy failed; `proxy` is the proxy's `host:port` (the wrapper's address is
 * the target), `status` and `statusText` the proxy's answer when it refused. Never carries the
 * proxy's credentials.
 *
 * @since 0.1.0
 * @category errors
 */
export class ProxyError extends Data.TaggedError("ProxyError")<{
  readonly kind: ProxyErrorKind
  readonly proxy: string
  readonly status?: number | undefined
  readonly statusText?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    const proxy = this.proxy
    switch (this.kind) {
      case "TunnelRefused": {
        const text = this.statusText === undefined || this.statusText === "" ? "" : ` ${this.statusText}`
        const hint = this.status === 407 || this.status === 401 ? " (proxy credentials missing or wrong)" : ""
        return `proxy ${proxy} refused the tunnel: ${this.status}${text}${hint}`
      }
      case "Unreachable":
        return `proxy ${proxy} unreachable${causeText(this.cause)}`
      case "Closed":
        return `proxy ${proxy} closed the connection before the tunnel was open${causeText(this.cause)}`
      case "MalformedResponse":
        return `proxy ${proxy} answered CONNECT with something that is not a valid HTTP response${causeText(this.cause)}`
      case "Timeout":
        return `proxy ${proxy} did not answer CONNECT in time${causeText(this.cause)}`
      case "InvalidProxyUrl":
        return `invalid proxy URL${causeText(this.cause)}`
    }
  }
}

/**
 * Why a read failed.
 *
 * @since 0.1.0
 * @category errors
 */
export const ReadErrorKind = {
  /** The peer reset the connection (`ECONNRESET`), or a memory pair was dropped. */
  Reset: "Reset",
  /** Keep-alive probes or the kernel gave up on the peer (`ETIMEDOUT`). */
  Timeout: "Timeout",
  /** The caller's `ReadBuf` is full and at its `maxCapacity`. */
  BufferFull: "BufferFull",
  /** Anything else (TLS record errors included); see `cause`. */
  Other: "Other"
} as const

/**
 * One of {@link ReadErrorKind}.
 *
 * @since 0.1.0
 * @category errors
 */
export type ReadErrorKind = typeof ReadErrorKind[keyof typeof ReadErrorKind]

/**
 * Reading from the connection failed; `kind` says why.
 *
 * @since 0.1.0
 * @category errors
 */
export class ReadError extends Data.TaggedError("ReadError")<{
  readonly kind: ReadErrorKind
  readonly cause?: unknown
}> {
  override get message(): string {
    return this.kind === "BufferFull"
      ? "read failed: the read buffer is full at its maximum capacity"
      : `read failed: ${this.kind}${causeText(this.cause)}`
  }
}

/**
 * Why a write failed.
 *
 * @since 0.1.0
 * @category errors
 */
export const WriteErrorKind = {
  /** The peer reset the connection (`ECONNRESET`), or a memory pair was dropped. */
  Reset: "Reset",
  /** The peer closed its read side (`EPIPE`). */
  BrokenPipe: "BrokenPipe",
  /** Anything else; see `cause`. */
  Other: "Other"
} as const

/**
 * One of {@link WriteErrorKind}.
 *
 * @since 0.1.0
 * @category errors
 */
export type WriteErrorKind = typeof WriteErrorKind[keyof typeof WriteErrorKind]

/**
 * Writing to the connection failed; `kind` says why.
 *
 * @since 0.1.0
 * @category errors
 */
export class WriteError extends Data.TaggedError("WriteError")<{
  readonly kind: WriteErrorKind
  readonly cause?: unknown
}> {
  override get message(): string {
    return `write failed: ${this.kind}${causeText(this.cause)}`
  }
}

/**
 * A `read` or `write` on a transport this side already closed: `destroy`ed, its scope closed,
 * or (for `write`) after `end`.
 *
 * @since 0.1.0
 * @category errors
 */
export class TransportClosed extends Data.TaggedError("TransportClosed")<{
  readonly operation: "read" | "write"
}> {
  override get message(): string {
    return `${this.operation} after the transport was closed locally`
  }
}

/**
 * Every reason a dial or a connected stream fails with: the dial (`ConnectError`, `TlsError`,
 * `ProxyError`) and the stream (`ReadError`, `WriteError`, `TransportClosed`; `TlsError` too, when
 * TLS 1.3 refuses a client certificate on the first read). A server socket's `ListenError` is not
 * one of them: only `Listener.listen` meets it, as `TransportError<ListenError>`. The WebSocket
 * and HTTP wrappers carry these same classes directly as their own reasons.
 *
 * @since 0.1.0
 * @category errors
 */
export type TransportErrorReason = ConnectError | TlsError | ProxyError | ReadError | WriteError | TransportClosed

/**
 * The one error of the transport layer: what failed (`reason`) and with whom (`address`, as
 * `host:port`; `"(url)"` for a URL that could not be parsed, `"config"` for a bad `TlsConfig`).
 * Its message names the address once, then the reason's message. `R` is what the failing
 * operation can meet: a dial or a stream's {@link TransportErrorReason} (the default), or a
 * listener's {@link ListenError} — so a client's error type never admits a server socket's fault.
 *
 * @since 0.1.0
 * @category errors
 */
export class TransportError<R extends TransportErrorReason | ListenError = TransportErrorReason>
  extends Data.TaggedError("TransportError")<{
    readonly address: string
    readonly reason: R
  }>
{
  override get message(): string {
    return `transport ${this.address}: ${this.reason.message}`
  }
}

/**
 * The `TransportError` for `reason` on `address`, typed by its reason.
 *
 * @since 0.1.0
 * @category errors
 */
export const transportError = <R extends TransportErrorReason | ListenError>(address: string, reason: R): TransportError<R> =>
  new TransportError({ address, reason })

/**
 * Any tagged reason with a message: what a {@link ConnectionPoisoned} names as its `cause`.
 * Over a WebSocket it is one of `WebSocketErrorReason`; over HTTP one of
 * `HttpConnection.PoisonCause`.
 *
 * @since 0.1.0
 * @category errors
 */
export interface TaggedReason {
  readonly _tag: string
  readonly message: string
}

/**
 * An operation on a connection that an earlier failure made unusable (a failed or interrupted
 * write, a broken response): nothing more is written. `cause` is that first failure. One class
 * for the idea in both subsystems: a WebSocket send after a failed write, an HTTP `send` on a
 * poisoned connection.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionPoisoned extends Data.TaggedError("ConnectionPoisoned")<{ readonly cause: TaggedReason }> {
  override get message(): string {
    return `the connection is unusable after an earlier failure: ${this.cause.message}`
  }
}

/**
 * The URL given to a `connect` cannot be dialed: `error` is the codec's verdict (`Url.UrlError`:
 * `MalformedUrl`, `UnsupportedScheme`, `CredentialsInUrl`) or the subsystem's own refusal (a
 * WebSocket `connect` given an `http:` URL: `UnsupportedScheme`). One class for WebSocket and HTTP.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidUrl extends Data.TaggedError("InvalidUrl")<{ readonly error: Url.UrlError }> {
  override get message(): string {
    return `URL refused: ${this.error.message}`
  }
}

const causeText = (cause: unknown): string => {
  if (cause === undefined) return ""
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code
    return typeof code === "string" && !cause.message.includes(code) ? ` (${code}: ${cause.message})` : ` (${cause.message})`
  }
  return ` (${String(cause)})`
}

/**
 * Formats `host` and `port` as an address: `host:port`, or `[v6]:port` for an IPv6 literal.
 *
 * @since 0.1.0
 * @category utils
 */
export const formatAddress = (host: string, port: number): string =>
  host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`

/**
 * Copies up to `bytes.length` bytes into `buf`: as many as its spare room holds, growing it via
 * `reserve` only when it has no spare room and `maxCapacity` allows. Returns the count copied (at
 * least one when `bytes` is not empty), or `-1` when `buf` is full and cannot grow.
 *
 * @since 0.1.0
 * @category utils
 */
export const copyInto = (buf: ReadBuf, bytes: Uint8Array): number => {
  // grow only when there is no spare room at all (the module rule): a small slab stays small
  // under bursts, and the rest of `bytes` waits in the transport for the next read
  if (buf.spareLength === 0 && !buf.reserve(bytes.length)) {
    // the whole of `bytes` cannot fit: grow as far as maxCapacity allows and take a part
    const room = buf.maxCapacity - buf.length
    if (room > buf.spareLength) buf.reserve(room)
    if (buf.spareLength === 0) return -1
  }
  const n = Math.min(buf.spareLength, bytes.length)
  buf.buf.set(n === bytes.length ? bytes : bytes.subarray(0, n), buf.end)
  buf.filled(n)
  return n
}
