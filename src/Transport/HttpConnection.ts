/**
 * `HttpConnection` — one HTTP/1.1 keep-alive client connection: the sans-IO `RequestWriter`'s
 * finished bytes go out over a `Transport`, the answer is parsed by a `ResponseReader`, and the
 * connection decides — in one place — whether it may carry another request.
 *
 * ```text
 *            send ok (keep-alive)
 *          ┌──────────────────────┐
 *          ▼                      │
 *   ──► Ready ──send──► Busy ─────┘
 *          │              │ Connection: close / HTTP/1.0 / max requests ──► NotReusable | Stale
 *          │              │ I/O error, parse error, read/headers/body timeout, early close, interrupt ──► Poisoned
 *          │ idle past its deadline, server FIN/RST or unsolicited bytes seen ──► Stale
 * ```
 *
 * Rules:
 * - `send(request, reader)` writes `request.bytes` and reads one response with `reader` (its
 *   views — headers, `body` — stay valid until the next `send` with that reader). Redirects are
 *   not followed: a 3xx is returned like any other status. Requests are not pipelined; a second
 *   `send` while one is in flight fails with `ConnectionBusy` (use a pool for concurrency).
 * - `open(request, reader, { body, bufferUpTo })` is the streaming exchange: the head, then a
 *   body sent after it (bytes from the caller's buffer, or a `Stream` written as it is pulled —
 *   framed as chunks when no `Content-Length` was announced), then the response head. A body up
 *   to `bufferUpTo` (or already complete) is read whole as by `send`; otherwise `open` returns
 *   the head and the connection stays busy while `pull` reads the body a run at a time through
 *   the reader's buffer (bounded memory, the server held back by TCP until the next pull). At
 *   the body's end the connection settles as after `send`; `abandon` gives the body up and
 *   poisons the connection (`BodyAbandoned`). Each `pull` waits at most `readTimeout`; a body
 *   nobody pulls is closed by the reaper after `readTimeout`, and `bodyTimeout` bounds it whole.
 * - Every failure is an `HttpError` whose `requestSent` says whether any byte of the request
 *   reached the socket (from `Transport.bytesWritten`): `false` means a retry on a fresh
 *   connection is safe for any method; `true` means the server may have acted on it.
 * - Poisoning: an I/O error, a parse error (`MalformedResponse`, `ResponseTooLarge`), a read, headers or
 *   body timeout, a close before the response completed (`IncompleteResponse`) or an interruption mid-request
 *   destroys the transport; that `send` fails with the fault itself, every later one at once
 *   with `ConnectionPoisoned { cause }` and `requestSent: false`.
 * - A response that ends the connection (`Connection: close`, HTTP/1.0 without keep-alive, or a
 *   body delimited by the close) completes normally; the connection is then `NotReusable` and a
 *   later `send` fails with `ConnectionNotReusable` without writing.
 * - Stale detection happens *before* a byte is written: the transport's synchronous
 *   `inboundState` probe (a FIN, a reset, or bytes the server sent while no request was
 *   outstanding, e.g. a `408` before closing) turns the send into `ConnectionStale`, so a request
 *   is never half-sent into a socket the server already closed. The race where the FIN is still
 *   in flight while we write remains (as in every HTTP/1.1 client); it surfaces as a
 *   `requestSent: true` failure with no response byte — retry only idempotent requests then
 *   (`ClientPool.request` does it once by itself when the connection was reused, i.e. had
 *   `requestCount > 0` before the send; a bare connection leaves it to the caller).
 * - Idle keep-alive, as undici does it: after each response the connection may idle for
 *   `idleTimeout` (default **4 s**, undici's `keepAliveTimeout`), or, when the server sends
 *   `Keep-Alive: timeout=N`, for `N s − keepAliveMargin` (default margin **1 s**) capped at
 *   `maxIdleTimeout` (default **10 min**, undici's `keepAliveMaxTimeout`); a hint at or below the
 *   margin makes the connection expire at once. The idle clock starts at connect. `maxRequests`
 *   (default unlimited) retires the connection after that many responses. Past either limit
 *   the connection reports `Stale` (`isReusable` false), a `send` fails with `ConnectionStale`
 *   without writing, and a small reaper fiber (one per connection, sleeping on Effect's `Clock`,
 *   so `TestClock` drives it) closes the socket when the idle deadline passes.
 * - Time limits of one exchange, all poisoning the connection when they fire:
 *   `readTimeout` (default **30 s**) bounds each wait for progress — the write, then each wait
 *   for response bytes (inactivity: a response trickled a byte at a time never trips it);
 *   `headersTimeout` (default **10 s**) is a deadline for the whole response head, counted from
 *   the moment the request was written (`HeadersTimeout`); `bodyTimeout` (default **30 s**) one
 *   for the whole body, counted from the head (`BodyTimeout`) — undici's names, as deadlines.
 *   The same reaper fiber enforces them, not a timer per read: measured on loopback, a
 *   `timeoutOrElse` race per read added about 5–7 µs to a ~20 µs round trip. Body size is bounded
 *   by the reader's `maxBodySize` (`ResponseTooLarge`).
 *
 * Choices where the issue is silent: a server FIN or reset seen while idle is acted on at the
 * next `send` (or seen by `status`), and the socket is closed then or at the idle deadline,
 * whichever comes first — there is no per-connection read parked while idle. `Keep-Alive: max=N`
 * is not used (servers announce the last response with `Connection: close` anyway). Over
 * `FromSocket` the stale probe sees only what earlier reads pulled, so a FIN there is caught by
 * the write/read failing instead (`requestSent` still tells the truth). `close` and the scope
 * both destroy the transport, which the connection owns from `make` on.
 *
 * ```ts
 * const connection = yield* HttpConnection.connect("https://api.example.com", { connectTimeout: "3 seconds" })
 * const writer = RequestWriter.make({ host: "api.example.com", defaultHeaders: [["X-Api-Key", key]] })
 * const reader = ResponseReader.make()
 * const response = yield* connection.send(writer.get("/ticker").query("symbol", "BTCUSDT").finish(), reader)
 * ```
 *
 * @since 0.1.0
 */
import type * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Request, RequestError } from "../Codec/RequestWriter.ts"
import type { Response, ResponseReader, ResponseViolation } from "../Codec/ResponseReader.ts"
import * as Url from "../Codec/Url.ts"
import * as Dial from "./Dial.ts"
import { ConnectionPoisoned, InvalidUrl } from "./Transport.ts"
import type {
  ConnectError,
  ProxyError,
  ReadError,
  TlsError,
  Transport,
  TransportClosed,
  TransportError,
  WriteError
} from "./Transport.ts"

/**
 * Brand carried by every connection.
 *
 * @since 0.1.0
 * @category type ids
 */
export const TypeId = "~effect-nexus/Transport/HttpConnection" as const

/**
 * Default idle time allowed between responses when the server sends no `Keep-Alive` hint: 4 s (undici's default).
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_IDLE_TIMEOUT: Duration.Duration = Duration.seconds(4)

/**
 * Default safety margin taken off a server's `Keep-Alive: timeout=N` hint: 1 s.
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_KEEP_ALIVE_MARGIN: Duration.Duration = Duration.seconds(1)

/**
 * Default cap on an idle time taken from a server hint: 10 minutes (undici's `keepAliveMaxTimeout`).
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_MAX_IDLE_TIMEOUT: Duration.Duration = Duration.minutes(10)

/**
 * Default longest wait for the next bytes of a response: 30 s.
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_READ_TIMEOUT: Duration.Duration = Duration.seconds(30)

/**
 * Default deadline for the response head, counted from the moment the request was written: 10 s.
 * undici waits 300 s; a REST answer that has not begun in 10 s is lost for a latency-bound caller,
 * and 10 s matches the connect timeout, so a dead server costs at most 10 s per phase.
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_HEADERS_TIMEOUT: Duration.Duration = Duration.seconds(10)

/**
 * Default deadline for the whole response body, counted from its head: 30 s (undici: 300 s). At
 * the reader's default `maxBodySize` of 16 MiB that still allows about 0.5 MB/s.
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_BODY_TIMEOUT: Duration.Duration = Duration.seconds(30)

/**
 * Options of {@link make} (and of {@link connect}).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Longest wait for the next bytes of a response (inactivity), or `"Infinity"`. Default 30 s. */
  readonly readTimeout?: Duration.Input | undefined
  /** Deadline for the whole response head from the request written, or `"Infinity"`. Default 10 s. */
  readonly headersTimeout?: Duration.Input | undefined
  /** Deadline for the whole response body from its head, or `"Infinity"`. Default 30 s. */
  readonly bodyTimeout?: Duration.Input | undefined
  /** Idle time allowed after a response without a `Keep-Alive` hint (and after connect), or `"Infinity"`. Default 4 s. */
  readonly idleTimeout?: Duration.Input | undefined
  /** Taken off a server's `Keep-Alive: timeout=N` hint. Default 1 s. */
  readonly keepAliveMargin?: Duration.Input | undefined
  /** Cap on an idle time derived from a server hint. Default 10 minutes. */
  readonly maxIdleTimeout?: Duration.Input | undefined
  /** Responses after which the connection retires itself. Default unlimited. */
  readonly maxRequests?: number | undefined
}

/**
 * Options of {@link connect}: the connection's options plus `Dial.connect`'s (`connectTimeout`,
 * `noDelay` (default on), TCP `keepAlive`, `tls` config for `https:`, `proxy`, ...).
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectOptions extends Options, Dial.Options {}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/**
 * No byte of the response arrived within `readTimeout` of the last one (or of the request).
 *
 * @since 0.1.0
 * @category errors
 */
export class ReadTimeout extends Data.TaggedError("ReadTimeout")<{ readonly timeout: Duration.Duration }> {
  override get message(): string {
    return `no response bytes within the read timeout of ${Duration.format(this.timeout)}`
  }
}

/**
 * The response head was not complete within `headersTimeout` of the request being written —
 * however steadily its bytes trickled in.
 *
 * @since 0.1.0
 * @category errors
 */
export class HeadersTimeout extends Data.TaggedError("HeadersTimeout")<{ readonly timeout: Duration.Duration }> {
  override get message(): string {
    return `the response head did not arrive within the headers timeout of ${Duration.format(this.timeout)}`
  }
}

/**
 * The response body was not complete within `bodyTimeout` of its head — however steadily its
 * bytes trickled in.
 *
 * @since 0.1.0
 * @category errors
 */
export class BodyTimeout extends Data.TaggedError("BodyTimeout")<{ readonly timeout: Duration.Duration }> {
  override get message(): string {
    return `the response body did not complete within the body timeout of ${Duration.format(this.timeout)}`
  }
}

/**
 * The response broke an HTTP/1.1 framing or syntax rule; `violation` is the codec's verdict
 * (`ResponseReader.ResponseViolation`, other than the two with reasons of their own below).
 *
 * @since 0.1.0
 * @category errors
 */
export class MalformedResponse extends Data.TaggedError("MalformedResponse")<{
  readonly violation: Exclude<ResponseViolation, { readonly _tag: "BodyTooLarge" | "UnexpectedEndOfInput" }>
}> {
  override get message(): string {
    return `invalid response (${this.violation._tag}): ${this.violation.message}`
  }
}

/**
 * The response body is (or declares to be) larger than the reader's `maxBodySize` — the codec's
 * `BodyTooLarge` violation, as a reason of its own.
 *
 * @since 0.1.0
 * @category errors
 */
export class ResponseTooLarge extends Data.TaggedError("ResponseTooLarge")<{ readonly size: number; readonly limit: number }> {
  override get message(): string {
    return `response body of ${this.size} bytes exceeds the limit of ${this.limit} bytes`
  }
}

/**
 * The server closed the connection before the response was complete; `received` counts the
 * bytes of it that had arrived (`0`: none — typical of a keep-alive connection closed under us).
 *
 * @since 0.1.0
 * @category errors
 */
export class IncompleteResponse extends Data.TaggedError("IncompleteResponse")<{ readonly received: number }> {
  override get message(): string {
    return this.received === 0
      ? "the server closed the connection before sending a response"
      : `the server closed the connection after ${this.received} bytes of an incomplete response`
  }
}

/**
 * The fiber running `send` was interrupted mid-request; the stream is out of step.
 *
 * @since 0.1.0
 * @category errors
 */
export class Interrupted extends Data.TaggedError("Interrupted")<{}> {
  override get message(): string {
    return "a send was interrupted mid-request"
  }
}

/**
 * The request body given to `open` failed after the head was sent (its stream failed, or it
 * yielded more or fewer bytes than the `Content-Length` announced): the server holds half a
 * request, so the connection cannot go on. `cause` is the stream's failure, if it failed.
 *
 * @since 0.1.0
 * @category errors
 */
export class RequestBodyFailed extends Data.TaggedError("RequestBodyFailed")<{
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `the request body failed mid-request: ${this.detail}`
  }
}

/**
 * The response body `open` left pending was given up (`abandon`) before its end: the rest of it
 * is still on the wire, so the connection is closed rather than drained.
 *
 * @since 0.1.0
 * @category errors
 */
export class BodyAbandoned extends Data.TaggedError("BodyAbandoned")<{}> {
  override get message(): string {
    return "the response body was abandoned before its end"
  }
}

/**
 * Every fault that poisons a connection (see the module doc).
 *
 * @since 0.1.0
 * @category errors
 */
export type PoisonCause =
  | ReadError
  | WriteError
  | TransportClosed
  | TlsError
  | ReadTimeout
  | HeadersTimeout
  | BodyTimeout
  | MalformedResponse
  | ResponseTooLarge
  | IncompleteResponse
  | Interrupted
  | RequestBodyFailed
  | BodyAbandoned

/**
 * Why a keep-alive connection is stale.
 *
 * @since 0.1.0
 * @category errors
 */
export type StaleKind =
  /** The server closed the idle connection (FIN seen). */
  | "PeerEnded"
  /** The idle connection was reset (error seen). */
  | "PeerReset"
  /** The server sent bytes while no request was outstanding. */
  | "UnsolicitedBytes"
  /** The idle deadline (idle timeout or server hint) passed. */
  | "IdleTimeout"
  /** `maxRequests` responses were read on it. */
  | "MaxRequests"

const staleText: Record<StaleKind, string> = {
  PeerEnded: "the server closed the idle keep-alive connection",
  PeerReset: "the idle keep-alive connection was reset",
  UnsolicitedBytes: "the server sent bytes while no request was outstanding",
  IdleTimeout: "the connection idled past its keep-alive deadline",
  MaxRequests: "the connection reached its maximum number of requests"
}

/**
 * The connection was found stale or expired before anything was written (`requestSent` false).
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionStale extends Data.TaggedError("ConnectionStale")<{ readonly kind: StaleKind }> {
  override get message(): string {
    return `${staleText[this.kind]}; open a new connection`
  }
}

/**
 * Why a connection ended normally.
 *
 * @since 0.1.0
 * @category errors
 */
export type NotReusableKind =
  /** The last response carried `Connection: close`. */
  | "ConnectionClose"
  /** The last response was HTTP/1.0 without `Connection: keep-alive`. */
  | "Http10"
  /** The last response's body ran until the connection closed. */
  | "CloseDelimited"
  /** The last response was `101 Switching Protocols`: the connection speaks another protocol now. */
  | "Upgraded"
  /** `close` was called, or the connection's scope closed. */
  | "ClosedLocally"

const notReusableText: Record<NotReusableKind, string> = {
  ConnectionClose: "the last response said Connection: close",
  Http10: "the last response was HTTP/1.0 without keep-alive",
  CloseDelimited: "the last response's body was delimited by closing the connection",
  Upgraded: "the last response switched the connection to another protocol (101)",
  ClosedLocally: "the connection was closed locally"
}

/**
 * A `send` on a connection whose last exchange ended it normally (nothing written).
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionNotReusable extends Data.TaggedError("ConnectionNotReusable")<{
  readonly kind: NotReusableKind
}> {
  override get message(): string {
    return `the connection is not reusable: ${notReusableText[this.kind]}`
  }
}

/**
 * A `send` while another is in flight on the same connection (nothing written).
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionBusy extends Data.TaggedError("ConnectionBusy")<{}> {
  override get message(): string {
    return "a request is already in flight on this connection (it is not concurrent-safe; use a pool)"
  }
}

/**
 * `send` was handed a `RequestWriter` fault instead of a finished request (nothing written).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidRequest extends Data.TaggedError("InvalidRequest")<{ readonly error: RequestError }> {
  override get message(): string {
    return `the request could not be built (${this.error._tag}): ${this.error.message}`
  }
}

/**
 * Every reason an {@link HttpError} carries: this module's own, the shared `ConnectionPoisoned`
 * (its `cause` is a {@link PoisonCause}) and `InvalidUrl`, and the transport's reasons directly.
 *
 * @since 0.1.0
 * @category errors
 */
export type HttpErrorReason =
  | PoisonCause
  | ConnectionPoisoned
  | ConnectionStale
  | ConnectionNotReusable
  | ConnectionBusy
  | InvalidRequest
  | InvalidUrl
  | ConnectError
  | TlsError
  | ProxyError

/**
 * The one error of this module: what went wrong (`reason`), with whom (`address`), and whether
 * any byte of the request reached the socket (`requestSent`; `false` makes any retry safe).
 *
 * @since 0.1.0
 * @category errors
 */
export class HttpError extends Data.TaggedError("HttpError")<{
  readonly address: string
  readonly reason: HttpErrorReason
  readonly requestSent: boolean
}> {
  override get message(): string {
    return `HTTP exchange with ${this.address} failed: ${this.reason.message} (${
      this.requestSent ? "request bytes were sent" : "no request byte was sent"
    })`
  }
}

/**
 * Whether `request` may be sent again on a *new* connection after `error`: always when no byte
 * of it reached the socket (unless the request itself or the URL is at fault), and for an
 * idempotent method (`Request.isIdempotent`) when the connection died under it without an
 * answer — a reset, a failed write, or a close before any response byte. Never after a
 * timeout (read, headers, body) or a bad response: the server may be slow or broken, not gone.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isRetryable = (error: HttpError, request: { readonly isIdempotent: boolean }): boolean => {
  const reason = error.reason
  switch (reason._tag) {
    case "InvalidRequest":
    case "InvalidUrl":
      return false
    case "ReadError":
    case "WriteError":
      return !error.requestSent || (request.isIdempotent && reason.kind !== "BufferFull")
    case "IncompleteResponse":
      return !error.requestSent || (request.isIdempotent && reason.received === 0)
    default:
      return !error.requestSent
  }
}

// ---------------------------------------------------------------------------------------------
// The connection
// ---------------------------------------------------------------------------------------------

/**
 * Where a connection stands: `"Ready"` for another request, `"Busy"` with one in flight, or
 * unusable — `"Poisoned"`, `"Stale"` (expired or closed by the server) or `"NotReusable"`.
 *
 * @since 0.1.0
 * @category models
 */
export type Status = "Ready" | "Busy" | "Poisoned" | "Stale" | "NotReusable"

/**
 * An HTTP/1.1 keep-alive connection. See the module doc for its rules.
 *
 * @since 0.1.0
 * @category models
 */
export interface HttpConnection {
  readonly [TypeId]: typeof TypeId
  /** The transport's address, named in every error. */
  readonly remoteAddress: string
  /** The transport underneath (its `bytesWritten`/`bytesRead` count the whole connection). */
  readonly transport: Transport
  /** Responses completed on this connection. */
  readonly requestCount: number
  /** The current status, evaluated now against the `Clock` and the transport's `inboundState`. */
  readonly status: Status
  /** `status === "Ready"`: a `send` would write. */
  readonly isReusable: boolean
  /** Why a `send` now would fail without writing, or `undefined` when it would go ahead. */
  readonly unusableReason: HttpErrorReason | undefined
  /**
   * Writes `request` and reads its response with `reader`. The response (headers, body views) is
   * valid until the next `send` with the same reader. Accepts a `RequestWriter` fault too, and
   * fails with `InvalidRequest` for it.
   */
  send(request: Request | RequestError, reader: ResponseReader): Effect.Effect<Response, HttpError>
  /**
   * Like `send`, with a body sent after the head and a response whose body may be streamed:
   * writes `request` (a head ended by `RequestWriter`'s `bodyFollows`), then `options.body`,
   * and reads the response with `reader.nextHead(options.bufferUpTo)`. The result is the whole
   * response (as `send` returns it), or — when `reader.bodyPending` — its head only, valid until
   * the first `pull`: read the body with `pull` until it returns `undefined`, or give it up
   * with `abandon`. The connection stays busy until then.
   */
  open(request: Request | RequestError, reader: ResponseReader, options?: OpenOptions): Effect.Effect<Response, HttpError>
  /**
   * The next bytes of the body `open` left pending — a view valid until the next `pull` — or
   * `undefined` once it ended (the connection is then settled as after `send`). Each pull waits
   * at most `readTimeout` for bytes; a failure poisons the connection.
   */
  readonly pull: Effect.Effect<Uint8Array | undefined, HttpError>
  /** Gives up a pending response body: the connection is poisoned (`BodyAbandoned`) and its socket closed. A no-op otherwise. */
  readonly abandon: Effect.Effect<void>
  /** Closes the socket; later sends fail with `ConnectionNotReusable` kind `"ClosedLocally"`. Idempotent. */
  readonly close: Effect.Effect<void>
}

/**
 * Service key for an `HttpConnection`, for code that receives its connection from a layer.
 *
 * @since 0.1.0
 * @category services
 */
export const HttpConnection: Context.Service<HttpConnection, HttpConnection> = Context.Service<HttpConnection>(
  "effect-nexus/HttpConnection"
)

/**
 * Options of {@link HttpConnection.open}.
 *
 * @since 0.1.0
 * @category models
 */
export interface OpenOptions {
  /**
   * A response body whose `Content-Length` is at most this many bytes is read whole before
   * `open` returns; a longer one, or a chunked or close-delimited one not yet complete, is left
   * pending for `pull`. Default 0: only a body already complete with the head is read whole.
   */
  readonly bufferUpTo?: number | undefined
  /**
   * The request body, written after `request.bytes`: bytes, or a stream of chunks. `length` is
   * the `Content-Length` the head announced (a stream must yield exactly that many bytes), or
   * `undefined` for `Transfer-Encoding: chunked` (each chunk framed here, then the last chunk).
   */
  readonly body?: {
    readonly content: Uint8Array | Stream.Stream<Uint8Array, unknown>
    readonly length: number | undefined
  } | undefined
}

/** The last chunk of a chunked request body, with no trailers. */
const LAST_CHUNK = new Uint8Array([0x30, 0x0d, 0x0a, 0x0d, 0x0a])
const CRLF = new Uint8Array([0x0d, 0x0a])

const KEEP_ALIVE_TIMEOUT = /(?:^|[\s,;])timeout\s*=\s*"?(\d+)/i

/** Seconds of a `Keep-Alive: timeout=N` header, or `undefined`. */
const keepAliveHint = (value: string | undefined): number | undefined => {
  if (value === undefined) return undefined
  const match = KEEP_ALIVE_TIMEOUT.exec(value)
  return match === null ? undefined : Number(match[1])
}

/** The size line of a request body chunk: hex digits, CR LF. */
const chunkSize = (n: number): Uint8Array => Buffer.from(`${n.toString(16)}\r\n`, "latin1")

const toMillis = (input: Duration.Input | undefined, fallback: Duration.Duration): number =>
  Duration.toMillis(input === undefined ? fallback : Duration.fromInputUnsafe(input))

const notReusableKind = (response: Response): NotReusableKind =>
  response.status === 101
    ? "Upgraded"
    : response.hasToken("connection", "close")
    ? "ConnectionClose"
    : response.version === "1.0" && !response.hasToken("connection", "keep-alive")
    ? "Http10"
    : "CloseDelimited"

const violationReason = (violation: ResponseViolation): PoisonCause => {
  switch (violation._tag) {
    case "BodyTooLarge":
      return new ResponseTooLarge({ size: violation.size, limit: violation.limit })
    case "UnexpectedEndOfInput":
      return new IncompleteResponse({ received: violation.received })
    default:
      return new MalformedResponse({ violation })
  }
}

/**
 * Why a connection refuses a send, as plain data (no `Error`, no stack trace); its `_tag` is the
 * connection's {@link Status}. {@link refusalReason} builds the `HttpError` reason from it when a
 * send fails.
 */
type Refusal =
  | { readonly _tag: "Busy" }
  | { readonly _tag: "Poisoned"; readonly cause: PoisonCause }
  | { readonly _tag: "Stale"; readonly kind: StaleKind }
  | { readonly _tag: "NotReusable"; readonly kind: NotReusableKind }

const BUSY: Refusal = { _tag: "Busy" }

const STALE: { readonly [K in StaleKind]: Refusal & { readonly _tag: "Stale" } } = {
  PeerEnded: { _tag: "Stale", kind: "PeerEnded" },
  PeerReset: { _tag: "Stale", kind: "PeerReset" },
  UnsolicitedBytes: { _tag: "Stale", kind: "UnsolicitedBytes" },
  IdleTimeout: { _tag: "Stale", kind: "IdleTimeout" },
  MaxRequests: { _tag: "Stale", kind: "MaxRequests" }
}

const NOT_REUSABLE: { readonly [K in NotReusableKind]: Refusal & { readonly _tag: "NotReusable" } } = {
  ConnectionClose: { _tag: "NotReusable", kind: "ConnectionClose" },
  Http10: { _tag: "NotReusable", kind: "Http10" },
  CloseDelimited: { _tag: "NotReusable", kind: "CloseDelimited" },
  Upgraded: { _tag: "NotReusable", kind: "Upgraded" },
  ClosedLocally: { _tag: "NotReusable", kind: "ClosedLocally" }
}

/** The `HttpError` reason a send refused for `refusal` fails with. */
const refusalReason = (refusal: Refusal): HttpErrorReason => {
  switch (refusal._tag) {
    case "Busy":
      return new ConnectionBusy()
    case "Poisoned":
      return new ConnectionPoisoned({ cause: refusal.cause })
    case "Stale":
      return new ConnectionStale({ kind: refusal.kind })
    case "NotReusable":
      return new ConnectionNotReusable({ kind: refusal.kind })
  }
}

class Connection implements HttpConnection {
  readonly [TypeId] = TypeId
  readonly remoteAddress: string
  readonly transport: Transport
  requestCount: number
  private readonly clock: Clock.Clock
  /** `readTimeout` in ms (`Infinity` for none). */
  private readonly readTimeoutMs: number
  private readonly idleMs: number
  private readonly marginMs: number
  private readonly maxIdleMs: number
  private readonly maxRequests: number
  /** Set once the connection cannot carry another request; the reason later sends fail with. */
  private unusable: Exclude<Refusal, { readonly _tag: "Busy" }> | undefined
  private busy: boolean
  /** Clock time (ms) after which an idle connection is stale. */
  private idleDeadline: number
  /** `transport.bytesWritten` when the current send started. */
  private sentBefore: number
  private reader: ResponseReader | undefined
  /** The bytes of the request in flight (a view into its writer's buffer). */
  private pending: Uint8Array
  /** One exchange — write `pending`, read the response, settle — built once, reused per send. */
  private readonly exchange: Effect.Effect<Response, HttpError>
  /** Read more bytes, then go on parsing: built once. */
  private readonly readNext: Effect.Effect<Response, PoisonCause | TransportError>
  private readonly readMore: Effect.Effect<number, TransportError>
  private readonly timeoutError: ReadTimeout
  private readonly headersTimeoutError: HeadersTimeout
  private readonly bodyTimeoutError: BodyTimeout
  /** `headersTimeout` / `bodyTimeout` in ms (`Infinity` for none). */
  private readonly headersMs: number
  private readonly bodyMs: number
  /** Clock time (ms) of the last progress of the current send (its start, its write, each read). */
  private lastProgressAt: number
  /** Deadline (ms) of the current send's phase: the head's once written, then the body's; else `Infinity`. */
  private phaseDeadline: number
  /** The current send waits for its response head (the phase deadline is the head's). */
  private awaitingHead: boolean
  /** Set by the reaper when it kills a send for a timeout; the send then fails with this instead. */
  private timedOut: ReadTimeout | HeadersTimeout | BodyTimeout | undefined
  private readonly scope: Scope.Scope
  /** Clock time (ms) the current reaper fiber wakes at; `Infinity` when none is sleeping. */
  private reaperAt: number
  private reaperGeneration: number
  /** `nextHead`'s limit for the current exchange; `-1` for `send` (the whole response with `next`). */
  private bufferUpTo: number
  /** The body `open` sends after the head, or `undefined`. */
  private requestBody: OpenOptions["body"]
  /** `open` returned a head whose body is still on the wire (the connection stays busy). */
  private bodyPending: boolean
  /** What the pending body's head said about reuse, kept for when the body ends (its views are gone by then). */
  private pendingReusable: boolean
  private pendingKind: NotReusableKind
  private pendingHint: number | undefined
  /** The next step of a pending body, built once. */
  private readonly pulling: Effect.Effect<Uint8Array | undefined, HttpError>
  private readonly readBodyNext: Effect.Effect<Uint8Array | undefined, PoisonCause | TransportError>

  constructor(transport: Transport, clock: Clock.Clock, scope: Scope.Scope, options: Options) {
    this.remoteAddress = transport.remoteAddress
    this.transport = transport
    this.requestCount = 0
    this.clock = clock
    const readTimeout = options.readTimeout === undefined
      ? DEFAULT_READ_TIMEOUT
      : Duration.fromInputUnsafe(options.readTimeout)
    this.readTimeoutMs = Duration.toMillis(readTimeout)
    this.idleMs = toMillis(options.idleTimeout, DEFAULT_IDLE_TIMEOUT)
    this.marginMs = toMillis(options.keepAliveMargin, DEFAULT_KEEP_ALIVE_MARGIN)
    this.maxIdleMs = toMillis(options.maxIdleTimeout, DEFAULT_MAX_IDLE_TIMEOUT)
    const maxRequests = options.maxRequests ?? Number.POSITIVE_INFINITY
    if (!(maxRequests >= 1)) throw new RangeError(`HttpConnection maxRequests must be at least 1, got ${maxRequests}`)
    this.maxRequests = maxRequests
    this.unusable = undefined
    this.busy = false
    this.idleDeadline = clock.currentTimeMillisUnsafe() + this.idleMs
    this.sentBefore = 0
    this.reader = undefined
    this.scope = scope
    this.reaperAt = Number.POSITIVE_INFINITY
    this.reaperGeneration = 0
    this.timeoutError = new ReadTimeout({ timeout: readTimeout })
    const headersTimeout = options.headersTimeout === undefined
      ? DEFAULT_HEADERS_TIMEOUT
      : Duration.fromInputUnsafe(options.headersTimeout)
    const bodyTimeout = options.bodyTimeout === undefined
      ? DEFAULT_BODY_TIMEOUT
      : Duration.fromInputUnsafe(options.bodyTimeout)
    this.headersTimeoutError = new HeadersTimeout({ timeout: headersTimeout })
    this.bodyTimeoutError = new BodyTimeout({ timeout: bodyTimeout })
    this.headersMs = Duration.toMillis(headersTimeout)
    this.bodyMs = Duration.toMillis(bodyTimeout)
    this.lastProgressAt = 0
    this.phaseDeadline = Number.POSITIVE_INFINITY
    this.awaitingHead = false
    this.timedOut = undefined
    this.readMore = Effect.suspend(() => this.transport.read(this.reader!.readBuf))
    this.readNext = Effect.flatMap(this.readMore, this.afterRead)
    this.pending = new Uint8Array(0)
    this.bufferUpTo = -1
    this.requestBody = undefined
    this.bodyPending = false
    this.pendingReusable = false
    this.pendingKind = "ConnectionClose"
    this.pendingHint = undefined
    // built once: a send allocates no Effect nodes of its own beyond the transport's
    this.exchange = Effect.onInterrupt(
      Effect.matchEffect(Effect.flatMap(Effect.suspend(this.writeRequest), this.afterWrite), {
        onFailure: this.poison,
        onSuccess: this.complete
      }),
      this.interrupted
    )
    this.readBodyNext = Effect.flatMap(this.readMore, this.afterBodyRead)
    this.pulling = Effect.onInterrupt(
      Effect.matchEffect(Effect.suspend(this.readBody), { onFailure: this.poison, onSuccess: this.afterPull }),
      this.interrupted
    )
  }

  /**
   * Why a send now would be refused, evaluated at `now` (ms); `undefined` when it may write.
   * Plain data from shared constants: `status` and `isReusable` (asked by the pool on every
   * acquire and release) allocate nothing; the error is built only when a send fails.
   */
  private verdict(now: number): Refusal | undefined {
    if (this.unusable !== undefined) return this.unusable
    if (this.busy) return BUSY
    if (this.requestCount >= this.maxRequests) return STALE.MaxRequests
    if (now >= this.idleDeadline) return STALE.IdleTimeout
    switch (this.transport.inboundState) {
      case "Readable":
        return STALE.UnsolicitedBytes
      case "Ended":
        return STALE.PeerEnded
      case "Failed":
        return STALE.PeerReset
      case "Closed":
        return NOT_REUSABLE.ClosedLocally
      default:
        return undefined
    }
  }

  get unusableReason(): HttpErrorReason | undefined {
    const refusal = this.verdict(this.clock.currentTimeMillisUnsafe())
    return refusal === undefined ? undefined : refusalReason(refusal)
  }

  get status(): Status {
    return this.verdict(this.clock.currentTimeMillisUnsafe())?._tag ?? "Ready"
  }

  get isReusable(): boolean {
    return this.verdict(this.clock.currentTimeMillisUnsafe()) === undefined
  }

  private error(reason: HttpErrorReason, requestSent: boolean): HttpError {
    return new HttpError({ address: this.remoteAddress, reason, requestSent })
  }

  send(request: Request | RequestError, reader: ResponseReader): Effect.Effect<Response, HttpError> {
    return Effect.suspend(() => {
      this.bufferUpTo = -1
      this.requestBody = undefined
      return this.begin(request, reader)
    })
  }

  open(request: Request | RequestError, reader: ResponseReader, options?: OpenOptions): Effect.Effect<Response, HttpError> {
    return Effect.suspend(() => {
      this.bufferUpTo = options?.bufferUpTo ?? 0
      this.requestBody = options?.body
      return this.begin(request, reader)
    })
  }

  /** Checks the connection, resets the per-exchange state and runs the exchange. */
  private begin(request: Request | RequestError, reader: ResponseReader): Effect.Effect<Response, HttpError> {
    {
      if (request._tag !== "Request") return Effect.fail(this.error(new InvalidRequest({ error: request }), false))
      // one clock read for the verdict and the send's start (a read costs ~50 ns, a send reads ~5)
      const now = this.clock.currentTimeMillisUnsafe()
      const refused = this.verdict(now)
      if (refused !== undefined) {
        if (refused._tag === "Busy") return Effect.fail(this.error(new ConnectionBusy(), false))
        // latch it, and free the socket now: a stale connection never comes back
        if (this.unusable === undefined) this.unusable = refused
        return Effect.andThen(this.transport.destroy(), Effect.fail(this.error(refusalReason(refused), false)))
      }
      this.busy = true
      this.timedOut = undefined
      this.lastProgressAt = now
      // the head's deadline starts once the request is written (afterWrite)
      this.phaseDeadline = Number.POSITIVE_INFINITY
      this.awaitingHead = true
      this.sentBefore = this.transport.bytesWritten
      this.reader = reader
      // the reader may hold the last exchange (of this or another connection): start clean
      reader.reset()
      reader.expect(request.method)
      this.pending = request.bytes
      // the timeouts are the reaper's job: wake it earlier when it sleeps past this send's first
      // deadline (the head's cannot come sooner than headersTimeout from now)
      const arm = this.rearm(now + Math.min(this.readTimeoutMs, this.headersMs))
      return arm === undefined ? this.exchange : Effect.andThen(arm, this.exchange)
    }
  }

  /** Writes the request: its bytes, then the body `open` was given (framed as chunks when its length is unknown). */
  private readonly writeRequest = (): Effect.Effect<void, TransportError | RequestBodyFailed> => {
    const body = this.requestBody
    if (body === undefined) return this.transport.write(this.pending)
    const content = body.content
    if (content instanceof Uint8Array) {
      if (body.length !== undefined) return this.transport.writev([this.pending, content])
      return this.transport.writev([this.pending, chunkSize(content.length), content, CRLF, LAST_CHUNK])
    }
    return Effect.andThen(this.transport.write(this.pending), this.writeStream(content, body.length))
  }

  /**
   * Writes a stream body as it is pulled: chunk by chunk (each one framed when `length` is
   * undefined), each write counting as progress for `readTimeout`. A stream that fails, or
   * yields other than `length` bytes, is `RequestBodyFailed`.
   */
  private writeStream(
    content: Stream.Stream<Uint8Array, unknown>,
    length: number | undefined
  ): Effect.Effect<void, TransportError | RequestBodyFailed> {
    let sent = 0
    const chunked = length === undefined
    const write = (chunk: Uint8Array): Effect.Effect<void, TransportError | RequestBodyFailed> => {
      if (chunk.length === 0) return Effect.void
      sent += chunk.length
      if (!chunked && sent > length) {
        return Effect.fail(new RequestBodyFailed({ detail: `the stream yielded more than the ${length} bytes announced` }))
      }
      this.lastProgressAt = this.clock.currentTimeMillisUnsafe()
      return chunked ? this.transport.writev([chunkSize(chunk.length), chunk, CRLF]) : this.transport.write(chunk)
    }
    const failed = Stream.mapError(content, (cause) => new RequestBodyFailed({ detail: "its stream failed", cause }))
    const run = Stream.runForEach(failed, write)
    return Effect.andThen(run, Effect.suspend((): Effect.Effect<void, TransportError | RequestBodyFailed> => {
      if (chunked) return this.transport.write(LAST_CHUNK)
      return sent === length ? Effect.void : Effect.fail(
        new RequestBodyFailed({ detail: `the stream ended after ${sent} of the ${length} bytes announced` })
      )
    }))
  }

  /** Drains the reader synchronously; suspends only to read more bytes. */
  private readonly readResponse = (): Effect.Effect<Response, PoisonCause | TransportError> => {
    const result = this.bufferUpTo < 0 ? this.reader!.next() : this.reader!.nextHead(this.bufferUpTo)
    if (result._tag === "Response") return Effect.succeed(result)
    if (result._tag !== "NeedMore") return Effect.fail(violationReason(result))
    if (this.awaitingHead && this.reader!.readingBody) {
      // the head is in (it came with the last read): the body's deadline runs from here
      this.awaitingHead = false
      this.phaseDeadline = this.lastProgressAt + this.bodyMs
      const arm = this.rearm(this.phaseDeadline)
      if (arm !== undefined) return Effect.andThen(arm, this.readNext)
    }
    return this.readNext
  }

  private readonly afterWrite = (): Effect.Effect<Response, PoisonCause | TransportError> => {
    const now = this.clock.currentTimeMillisUnsafe()
    this.lastProgressAt = now
    this.phaseDeadline = now + this.headersMs
    // only a slow write can leave the reaper sleeping past the head's deadline
    const arm = this.rearm(this.phaseDeadline)
    return arm === undefined ? this.readResponse() : Effect.andThen(arm, Effect.suspend(this.readResponse))
  }

  private readonly afterRead = (n: number): Effect.Effect<Response, PoisonCause | TransportError> => {
    this.lastProgressAt = this.clock.currentTimeMillisUnsafe()
    if (n === 0) this.reader!.endOfInput()
    return this.readResponse()
  }

  private readonly poison = (failure: PoisonCause | TransportError): Effect.Effect<never, HttpError> => {
    // the reaper destroyed the transport for a timeout: the read's TransportClosed means that
    // timeout; a connected transport's read and write fail only with ReadError, WriteError,
    // TransportClosed, or on TLS with a TlsError (a TLS 1.3 server rejecting our client
    // certificate answers on the first read after the handshake: ClientCertificateRejected)
    const cause = this.timedOut ??
      (failure._tag === "TransportError" ? failure.reason as ReadError | WriteError | TransportClosed | TlsError : failure)
    this.busy = false
    this.bodyPending = false
    this.unusable = { _tag: "Poisoned", cause }
    const sent = this.transport.bytesWritten > this.sentBefore
    return Effect.andThen(this.transport.destroy(), Effect.fail(this.error(cause, sent)))
  }

  private readonly interrupted = (): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (!this.busy) return Effect.void
      this.busy = false
      this.bodyPending = false
      this.unusable = { _tag: "Poisoned", cause: new Interrupted() }
      return this.transport.destroy()
    })

  readonly abandon: Effect.Effect<void> = Effect.suspend(() => {
    if (!this.bodyPending) return Effect.void
    this.busy = false
    this.bodyPending = false
    this.unusable = { _tag: "Poisoned", cause: new BodyAbandoned() }
    return this.transport.destroy()
  })

  readonly pull: Effect.Effect<Uint8Array | undefined, HttpError> = Effect.suspend(() => {
    if (!this.bodyPending) return Effect.succeed(undefined)
    // readTimeout counts the server's silence from this pull on, not the consumer's pause before it
    this.lastProgressAt = this.clock.currentTimeMillisUnsafe()
    return this.pulling
  })

  /** Drains the reader's pending body synchronously; suspends only to read more bytes. */
  private readonly readBody = (): Effect.Effect<Uint8Array | undefined, PoisonCause | TransportError> => {
    const result = this.reader!.nextBody()
    switch (result._tag) {
      case "BodyChunk":
        return Effect.succeed(result.bytes)
      case "BodyEnd":
        return Effect.succeed(undefined)
      case "NeedMore":
        return this.readBodyNext
      default:
        return Effect.fail(violationReason(result))
    }
  }

  private readonly afterBodyRead = (n: number): Effect.Effect<Uint8Array | undefined, PoisonCause | TransportError> => {
    this.lastProgressAt = this.clock.currentTimeMillisUnsafe()
    if (n === 0) this.reader!.endOfInput()
    return this.readBody()
  }

  private readonly afterPull = (bytes: Uint8Array | undefined): Effect.Effect<Uint8Array | undefined> => {
    if (bytes !== undefined) return Effect.succeed(bytes)
    this.bodyPending = false
    return Effect.as(this.settle(this.pendingReusable, this.pendingKind, this.pendingHint), undefined)
  }

  private readonly complete = (response: Response): Effect.Effect<Response> => {
    if (this.reader!.bodyPending) {
      // the head of a streamed body: what it says about reuse is read now, while its views hold;
      // the body's deadline runs from here (the same rule as in readResponse)
      this.bodyPending = true
      this.pendingReusable = response.reusable
      this.pendingKind = response.reusable ? "ConnectionClose" : notReusableKind(response)
      this.pendingHint = keepAliveHint(response.header("keep-alive"))
      this.awaitingHead = false
      this.phaseDeadline = this.lastProgressAt + this.bodyMs
      const arm = this.rearm(this.phaseDeadline)
      return arm === undefined ? Effect.succeed(response) : Effect.as(arm, response)
    }
    const settled = this.settle(
      response.reusable,
      response.reusable ? "ConnectionClose" : notReusableKind(response),
      response.reusable ? keepAliveHint(response.header("keep-alive")) : undefined
    )
    return settled === Effect.void ? Effect.succeed(response) : Effect.as(settled, response)
  }

  /**
   * Ends an exchange whose response is complete: decides reuse (from the response's `reusable`,
   * its not-reusable `kind` and its `Keep-Alive` hint) and arms the idle deadline, or closes the
   * socket.
   */
  private settle(reusable: boolean, kind: NotReusableKind, hint: number | undefined): Effect.Effect<unknown> {
    this.busy = false
    this.requestCount++
    if (!reusable) {
      this.unusable = NOT_REUSABLE[kind]
    } else if (this.reader!.buffered > 0) {
      // bytes past the response while nothing else was asked: the stream cannot be trusted
      this.unusable = STALE.UnsolicitedBytes
    } else if (this.requestCount >= this.maxRequests) {
      this.unusable = STALE.MaxRequests
    } else {
      const idle = hint === undefined ? this.idleMs : Math.min(Math.max(hint * 1000 - this.marginMs, 0), this.maxIdleMs)
      // the response's last byte was read in this same synchronous run (a read, a pull or the
      // write sets lastProgressAt just before the reader is drained), so its time is now
      this.idleDeadline = this.lastProgressAt + idle
      return this.rearm(this.idleDeadline) ?? Effect.void
    }
    // the body views live in the reader's buffer, so the socket can go now
    return this.transport.destroy()
  }

  /**
   * The connection's watchdog, one fiber at a time, sleeping on Effect's `Clock`: while a send
   * is in flight it enforces `readTimeout` (no progress for that long) and the phase deadline
   * (`headersTimeout`, then `bodyTimeout`) — on either it sets `timedOut` and destroys the
   * transport, which fails the parked read; while idle it closes the socket once
   * the idle deadline passes. It sleeps until the deadline it last computed; when a send or a
   * response needs it awake earlier, `rearm` starts a fresh one and bumps `reaperGeneration`,
   * which retires the old one at its next wake-up. So no timer is created per request.
   */
  reaper(generation: number): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (generation !== this.reaperGeneration || this.unusable !== undefined) return Effect.void
      const now = this.clock.currentTimeMillisUnsafe()
      let wakeAt: number
      if (this.busy) {
        const deadline = this.lastProgressAt + this.readTimeoutMs
        // the phase deadline first: with both passed, the whole-phase limit is the better account
        if (now >= this.phaseDeadline) {
          this.timedOut = this.awaitingHead ? this.headersTimeoutError : this.bodyTimeoutError
          return this.transport.destroy()
        }
        if (now >= deadline) {
          this.timedOut = this.timeoutError
          return this.transport.destroy()
        }
        // wake no later than one idle period from now: the idle deadline the response will set
        // is then never earlier than this wake-up, so completing a request re-arms (forks) no
        // reaper — measured, sleeping to the read deadline instead forked one per request
        wakeAt = Math.min(deadline, this.phaseDeadline, now + this.idleMs)
      } else {
        wakeAt = this.idleDeadline
        if (now >= wakeAt) {
          this.unusable = STALE.IdleTimeout
          return this.transport.destroy()
        }
      }
      this.reaperAt = wakeAt
      // no deadline (infinite timeouts): stop; the next send or response re-arms
      if (!Number.isFinite(wakeAt)) return Effect.void
      return Effect.andThen(Effect.sleep(Duration.millis(wakeAt - now)), this.reaper(generation))
    })
  }

  /** A fresh reaper when the current one would wake after `at` (ms), else `undefined`. */
  private rearm(at: number): Effect.Effect<unknown> | undefined {
    if (at >= this.reaperAt || !Number.isFinite(at)) return undefined
    this.reaperAt = at
    return Effect.forkIn(this.reaper(++this.reaperGeneration), this.scope)
  }

  readonly close: Effect.Effect<void> = Effect.suspend(() => {
    if (this.unusable === undefined || this.busy) {
      this.busy = false
      this.bodyPending = false
      this.unusable = NOT_REUSABLE.ClosedLocally
    }
    return this.transport.destroy()
  })

}

/**
 * Wraps a connected transport (TCP, TLS, a memory pair, an `effect/socket` adapter). The
 * connection owns it from then on: closing the scope (or `close`) destroys it. Throws
 * `RangeError` for `maxRequests` below 1 (caller misuse).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (transport: Transport, options: Options = {}): Effect.Effect<HttpConnection, never, Scope.Scope> =>
  Effect.clockWith((clock) =>
    Effect.gen(function*() {
      const scope = yield* Effect.scope
      const connection = new Connection(transport, clock, scope, options)
      yield* Scope.addFinalizer(scope, connection.close)
      yield* Effect.forkIn(connection.reaper(0), scope)
      return connection as HttpConnection
    })
  )

/**
 * Dials `url` — given alone, with options, or as the `url` field of one options object — (`http:` over TCP, `https:` over TLS with `options.tls`, default system roots) and
 * wraps the transport with {@link make}. The socket lives until the scope closes. Dial faults
 * are an `HttpError` with the transport's `ConnectError`/`TlsError` as `reason` (or `InvalidUrl`).
 * Build the matching `RequestWriter` with `host: Url.parse(url).hostHeader`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect: {
  (url: string | URL, options?: ConnectOptions): Effect.Effect<HttpConnection, HttpError, Scope.Scope>
  (options: ConnectOptions & { readonly url: string | URL }): Effect.Effect<HttpConnection, HttpError, Scope.Scope>
} = Effect.fn("HttpConnection.connect")(
  function*(target: string | URL | (ConnectOptions & { readonly url: string | URL }), more: ConnectOptions = {}) {
    const [url, options] = typeof target === "string" || target instanceof URL ? [target, more] : [target.url, target]
    const parsed = Url.parse(typeof url === "string" ? url : url.href)
    if (parsed._tag !== "ParsedUrl") {
      return yield* Effect.fail(new HttpError({ address: "(url)", reason: new InvalidUrl({ error: parsed }), requestSent: false }))
    }
    const address = parsed.hostHeader
    if (parsed.scheme !== "http" && parsed.scheme !== "https") {
      return yield* Effect.fail(
        new HttpError({
          address,
          reason: new InvalidUrl({
            error: {
              _tag: "UnsupportedScheme",
              scheme: parsed.scheme,
              message: `scheme "${parsed.scheme}" is not HTTP; use http or https`
            }
          }),
          requestSent: false
        })
      )
    }
    const transport = yield* Effect.mapError(
      Dial.connect(parsed, options),
      (error) => new HttpError({ address: error.address, reason: error.reason, requestSent: false })
    )
    return yield* make(transport, options)
  }
)

/**
 * A layer providing the `HttpConnection` service over one connection to `url`, closed with the layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (url: string | URL, options: ConnectOptions = {}): Layer.Layer<HttpConnection, HttpError> =>
  Layer.effect(HttpConnection, connect(url, options))
