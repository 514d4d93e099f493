/**
 * `WebSocket` — an RFC 6455 message stream over any `Transport`: the sans-IO `FrameReader` and
 * `FrameWriter` driven by Effect, with the opening and closing handshakes, for both roles.
 *
 * ```text
 * connect(url, options)              ws:// → Tcp, wss:// → Tls, then the client handshake
 * connectOver(transport, url, opts)  the client handshake over a connected Transport (Memory, FromSocket, …)
 * accept(transport, options)         the server handshake: 101, or 400 / 426 and a typed error
 *        │
 *        ▼
 * recv ─► Text | Binary | Ping | Pong | Close      (a view, valid until the next recv)
 * run(ws, handler)                                 (push loop: many messages per Effect step)
 * sendText · sendBinary · sendPing · sendPong · close(code, reason)
 * messages(ws): Stream<OwnedMessage> · sink(ws): Sink<void, Outgoing>
 * ```
 *
 * **Lifetimes.** The WebSocket lives in the `Scope` it was made in; closing the scope destroys
 * the socket (abruptly — call `close` first for the closing handshake; after a handshake the
 * peer started, the scope first waits up to `closeTimeout` for the peer's end of stream). A
 * message returned by `recv` is the reader's reused view into its slab: valid until the next
 * `recv` (or any call that reads, such as `close`). Copy with `FrameReader.toOwned`,
 * `payload.slice()` or `text()`; a view may be passed straight to `send*` (it is copied into
 * the frame before anything reads again — an echo needs no copy of its own). Bytes that follow
 * the handshake head in the same read go to the frame reader, so frames sent right behind the
 * 101 (or the upgrade request) are never lost.
 *
 * **Receiving.** `recv` is for one fiber at a time. It drains the codec synchronously and
 * suspends only when it needs bytes (one `Transport.read` per wake-up, not per frame). For
 * fairness, after `maxBatch` messages (default 256) delivered without suspending, the next `recv`
 * yields (`Effect.yieldNow`) once, so a feed that lands thousands of frames in one read cannot
 * starve other fibers or the event loop. Pings are answered with a pong carrying the same
 * payload before `recv` returns them (`autoPong`, default on, like `ws`); pongs are returned
 * too. `run(ws, handler)` is the push form of the same loop: buffered messages go to a
 * synchronous handler many per Effect step (one step per wake-up, not per message), which is
 * what a busy feed wants; `recv` pays one Effect step per message (`bench/loopback.ts` firehose
 * compares both with `ws`). A peer's close is echoed (same code and reason, as `ws` does; no
 * payload when it sent none), then the socket is half-closed and `recv` returns the `Close`;
 * later `recv`s fail with `WebSocketClosed`.
 *
 * **Failure model.** Every error is a `WebSocketError` whose `address` says with whom and whose
 * `reason` says what went wrong (see {@link WebSocketErrorReason}); the message names the
 * address once. A protocol violation by the peer sends the close code
 * the codec names (1002, 1007, 1009), half-closes, and fails with `WebSocketProtocolError`; the stream is
 * then failed for good (every later `recv` fails the same way). End of stream without a close
 * frame is `AbnormalClosure` (1006); a reset is the transport's `ReadError`, carried directly.
 *
 * **Sending.** Sends may come from several fibers; they are serialized, so frames never
 * interleave. Each frame is encoded into the reused write buffer and copied once into a fresh
 * pooled `Buffer` handed to the transport (a Node socket may keep that buffer until the kernel
 * takes it, so the reused one could not be handed over; a message over `writeBufferCapacity`
 * is framed straight into a buffer of its own). `send*` waits for the transport to accept the
 * bytes — for a socket that means waiting for `'drain'` when Node's buffer is full — so a fast
 * producer is slowed to the socket's pace. A failed or interrupted write poisons the stream:
 * every later send fails at once with `ConnectionPoisoned` naming the first failure.
 *
 * **Closing.** `close(code, reason)` sends the close frame, waits up to `closeTimeout` (default
 * 5 s) for the peer's close, half-closes and waits (within the same deadline) for the peer to
 * end the TCP stream. A deadline miss destroys the socket and fails with `WebSocketTimeout`
 * operation `"close"`; `state` is then `"closed"`, and a `recv` (parked or later) fails with the
 * same timeout unless the peer's close had arrived. When another fiber is blocked in `recv`, `close` leaves reading to it
 * and waits for it to see the peer's close. Otherwise `close` reads (and drops) what arrives
 * until the peer's close — so call it from the receiving fiber, or while that fiber is parked in
 * `recv`: a `close` that lands while a consumer is between two `recv`s takes the messages that
 * consumer was about to read (a known limitation; the CLI's `ws` command closes only while its
 * printer is parked).
 *
 * **Heartbeat** (off by default): with `heartbeat: { interval, timeout }`, a ping is sent every
 * `interval`; when no byte has been received for `timeout` (checked at each tick, so detection
 * takes at most `timeout + interval`), the socket is destroyed and `recv` fails with
 * `WebSocketTimeout` operation `"heartbeat"`. Bytes count when `recv` reads them, so keep receiving.
 *
 * **Memory** per connection is small by default: an 8 KiB read slab that grows (doubling) only to
 * hold a frame that does not fit, up to `maxFrameSize` (reads never grow it: a burst waits in
 * the transport); fragmented messages are joined in a second buffer up to `maxMessageSize`; an
 * 8 KiB write buffer; client masking keys come from one pool shared by all connections. Limits
 * default to 16 MiB per frame and per message and 1024 fragments per message. The socket
 * transport underneath adds an inbox that starts at 4 KiB and holds read-ahead only while bytes
 * wait for `recv` (up to `maxReadSize`, the `Tcp` read high-water mark, default 64 KiB); the
 * 64 KiB chunk libuv reads into is shared by every socket of the process.
 *
 * Choices where the RFC or the issue is silent: the client never sends `Origin` unless asked;
 * no extension is negotiated (permessage-deflate is out of scope); the server picks the first
 * subprotocol in *its* preference list that the client offered; `close()` is idempotent.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Cause from "effect/Cause"
import * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import { CloseCode } from "../Codec/CloseCode.ts"
import * as FrameReader from "../Codec/FrameReader.ts"
import * as FrameWriter from "../Codec/FrameWriter.ts"
import * as Handshake from "../Codec/Handshake.ts"
import * as HttpWrite from "../Codec/HttpWrite.ts"
import * as MaskSource from "../Codec/MaskSource.ts"
import * as ReadBuf from "../Codec/ReadBuf.ts"
import * as RequestReader from "../Codec/RequestReader.ts"
import * as ResponseReader from "../Codec/ResponseReader.ts"
import * as Url from "../Codec/Url.ts"
import * as WriteBuf from "../Codec/WriteBuf.ts"
import * as Tcp from "./Tcp.ts"
import * as Tls from "./Tls.ts"
import { ConnectionPoisoned, copyInto, InvalidUrl } from "./Transport.ts"
import type { Transport, TransportError, TransportErrorReason } from "./Transport.ts"

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/**
 * Why an opening handshake failed: the 101 check (`Handshake.ResponseViolation`), the upgrade
 * request check (`Handshake.UpgradeRejection`), an HTTP head the readers refused, a head larger
 * than the reader allows (`HandshakeTooLarge`), or the peer ending the stream (`UnexpectedEnd`).
 *
 * @since 0.1.0
 * @category errors
 */
export type HandshakeViolation =
  | Handshake.ResponseViolation
  | Handshake.UpgradeRejection
  | ResponseReader.ResponseViolation
  | RequestReader.RequestViolation
  | { readonly _tag: "HandshakeTooLarge"; readonly message: string }
  | { readonly _tag: "RefusedByServer"; readonly status: number; readonly message: string }
  | { readonly _tag: "UnexpectedEnd"; readonly message: string }

/**
 * The peer broke RFC 6455; `closeCode` (1002, 1007 or 1009) was sent to it before failing.
 *
 * @since 0.1.0
 * @category errors
 */
export class WebSocketProtocolError extends Data.TaggedError("WebSocketProtocolError")<{
  readonly violation: FrameReader.FrameViolation
  readonly closeCode: number
}> {
  override get message(): string {
    return `protocol violation by the peer: ${this.violation.message} (sent close ${this.closeCode})`
  }
}

/**
 * The opening handshake failed: the server's answer (`ResponseViolation`, or an unparseable
 * HTTP head), or — on the server side — the client's upgrade request (`UpgradeRejection`, already
 * answered with its 400/426 status), or the peer ended the stream mid-handshake.
 *
 * @since 0.1.0
 * @category errors
 */
export class HandshakeError extends Data.TaggedError("HandshakeError")<{
  readonly violation: HandshakeViolation
}> {
  override get message(): string {
    return `handshake failed: ${this.violation.message}`
  }
}

/**
 * The operation needs an open stream, but it is closed: the closing handshake finished (`by`
 * says who started it, `code` and `closeReason` are the close frame's), or the stream failed
 * earlier.
 *
 * @since 0.1.0
 * @category errors
 */
export class WebSocketClosed extends Data.TaggedError("WebSocketClosed")<{
  readonly operation: "recv" | "send"
  readonly code: number
  readonly closeReason: string
  readonly by: "local" | "peer"
}> {
  override get message(): string {
    return `${this.operation} after the stream was closed by the ${this.by} side (code ${this.code}${
      this.closeReason === "" ? "" : `, ${JSON.stringify(this.closeReason)}`
    })`
  }
}

/**
 * Something took too long: the connect (dial plus handshake), a read (`readTimeout`), the
 * closing handshake (`closeTimeout`), or the heartbeat saw no byte for its `timeout`.
 *
 * @since 0.1.0
 * @category errors
 */
export class WebSocketTimeout extends Data.TaggedError("WebSocketTimeout")<{
  readonly operation: "connect" | "handshake" | "read" | "close" | "heartbeat"
  readonly after: Duration.Duration
}> {
  override get message(): string {
    return `${this.operation} timed out after ${Duration.format(this.after)}`
  }
}

/**
 * The stream ended (TCP EOF) without a close frame — close code 1006 in RFC terms. `midMessage`
 * says whether a frame or fragmented message was cut short.
 *
 * @since 0.1.0
 * @category errors
 */
export class AbnormalClosure extends Data.TaggedError("AbnormalClosure")<{
  readonly midMessage: boolean
}> {
  override get message(): string {
    return `the peer ended the connection without a close frame${this.midMessage ? " in the middle of a message" : ""} (1006)`
  }
}

/**
 * A send was interrupted before the transport took all of its bytes, so the stream may hold a
 * partial frame; it is the `cause` of the `ConnectionPoisoned` every later send fails with.
 *
 * @since 0.1.0
 * @category errors
 */
export class WriteInterrupted extends Data.TaggedError("WriteInterrupted")<{}> {
  override get message(): string {
    return "a send was interrupted before the transport took the whole frame"
  }
}

/**
 * The message cannot be sent as asked: a control payload over 125 bytes, a close code that may
 * not be sent, or a header the handshake refuses. Nothing was written.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidMessage extends Data.TaggedError("InvalidMessage")<{
  readonly detail: string
}> {
  override get message(): string {
    return `invalid message: ${this.detail}`
  }
}

/**
 * Every reason a `WebSocketError` carries: this module's own, the shared `ConnectionPoisoned`
 * (a send after an earlier write failed; its `cause` is that first failure, itself one of
 * these reasons) and `InvalidUrl` (not a
 * `ws:`/`wss:` URL this client can dial), and the transport's reasons directly (dial, TLS, read,
 * write, use after a local destroy).
 *
 * @since 0.1.0
 * @category errors
 */
export type WebSocketErrorReason =
  | WebSocketProtocolError
  | HandshakeError
  | WebSocketClosed
  | WebSocketTimeout
  | AbnormalClosure
  | ConnectionPoisoned
  | WriteInterrupted
  | InvalidMessage
  | InvalidUrl
  | TransportErrorReason

/**
 * The one error of this module: what failed (`reason`) and with whom (`address`: `host:port`,
 * or the redacted URL when it could not be dialed). Its message names the address once, then the
 * reason's message: `WebSocket 127.0.0.1:9001: read timed out after 5s`.
 *
 * @since 0.1.0
 * @category errors
 */
export class WebSocketError extends Data.TaggedError("WebSocketError")<{
  readonly address: string
  readonly reason: WebSocketErrorReason
}> {
  override get message(): string {
    return `WebSocket ${this.address}: ${this.reason.message}`
  }
}

const wsError = (address: string, reason: WebSocketErrorReason) => new WebSocketError({ address, reason })

/** The `WebSocketError` for a transport failure: its reason, under the WebSocket wrapper. */
const fromTransport = (error: TransportError) => new WebSocketError({ address: error.address, reason: error.reason })

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

/**
 * Options shared by both roles. Defaults are given per field.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamOptions {
  /** Initial read slab in bytes; grows (doubling) only for a frame that does not fit. Default 8 KiB. */
  readonly bufferCapacity?: number | undefined
  /** Fraction of the slab the consumed head must pass before the slab is compacted before a read. Default 0.5. */
  readonly compactAt?: number | undefined
  /** Largest payload of one frame (bigger: close 1009). Default 16 MiB. */
  readonly maxFrameSize?: number | undefined
  /** Largest payload of one message, all fragments together (bigger: close 1009). Default 16 MiB. */
  readonly maxMessageSize?: number | undefined
  /** Most frames one message may span (more: close 1009). Default 1024. */
  readonly maxFragments?: number | undefined
  /** Frames up to this size are encoded in the reused write buffer. Default 8 KiB. */
  readonly writeBufferCapacity?: number | undefined
  /** Split outgoing text/binary messages longer than this into fragments. Default: never. */
  readonly fragmentSize?: number | undefined
  /** Fail `recv` with `WebSocketTimeout` `"read"` when no byte arrives for this long. Default: none. */
  readonly readTimeout?: Duration.Input | undefined
  /** How long `close` waits for the peer's close and then its end of stream. Default 5 seconds. */
  readonly closeTimeout?: Duration.Input | undefined
  /** Answer pings with pongs inside `recv`. Default `true`. */
  readonly autoPong?: boolean | undefined
  /** Ping every `interval`; fail when nothing arrives for `timeout`. Default: off. */
  readonly heartbeat?: { readonly interval: Duration.Input; readonly timeout: Duration.Input } | undefined
  /** Messages `recv` / `run` deliver without suspending before they yield once. Default 256. */
  readonly maxBatch?: number | undefined
}

/**
 * Options for {@link connect} and {@link connectOver}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectOptions extends StreamOptions {
  /** Extra handshake headers (API keys, cookies), in order. Default none. */
  readonly headers?: Handshake.Headers | Readonly<Record<string, string>> | undefined
  /** Subprotocols to offer, most preferred first. Default none. */
  readonly protocols?: ReadonlyArray<string> | undefined
  /** `Origin` header to send. Default none. */
  readonly origin?: string | undefined
  /** Time for the dial (TCP and TLS) plus the opening handshake. Default 10 seconds. */
  readonly connectTimeout?: Duration.Input | undefined
  /** TLS settings for `wss:`. Default `Tls.defaultConfig()` (system roots, verification on). */
  readonly tls?: Tls.TlsConfig | undefined
  /** SNI / certificate name for `wss:`. Default the URL's host (none for an IP literal). */
  readonly servername?: string | undefined
  /** `Tcp` read high-water mark: bytes read ahead of `recv` before the socket stops reading. Default 64 KiB. */
  readonly maxReadSize?: number | undefined
  /** Disables Nagle's algorithm. Default `true`. */
  readonly noDelay?: boolean | undefined
  /**
   * TCP keep-alive (`SO_KEEPALIVE`) with this initial delay, or `false`: `Tcp.connect`'s option,
   * for `ws:` and `wss:` alike (`connectOver` leaves the transport as it is). Default `false` (off).
   */
  readonly keepAlive?: Duration.Input | false | undefined
  /** Where masking keys come from. Default one `MaskSource.crypto()` pool shared by all connections. */
  readonly maskSource?: MaskSource.MaskSource | undefined
}

/**
 * Options for {@link accept}.
 *
 * @since 0.1.0
 * @category models
 */
export interface AcceptOptions extends StreamOptions {
  /** Subprotocols this server speaks, most preferred first. Default none (no protocol is selected). */
  readonly protocols?: ReadonlyArray<string> | undefined
  /** Extra headers for the 101 response. Default none. */
  readonly headers?: Handshake.Headers | undefined
  /** Time allowed for the upgrade request to arrive and be answered. Default 10 seconds. */
  readonly handshakeTimeout?: Duration.Input | undefined
  /**
   * Decides on a valid upgrade request before the 101 (path, `Origin`, an API key header...):
   * return `undefined` to accept, or a refusal whose `status` (e.g. 401, 403, 404) and `reason`
   * are answered instead; `accept` then fails with `HandshakeError` violation
   * `RefusedByServer`. Default: accept every valid request.
   */
  readonly verify?: ((upgrade: UpgradeInfo) => { readonly status: number; readonly reason: string } | undefined) | undefined
}

/** Default initial read slab: 8 KiB. */
export const DEFAULT_BUFFER_CAPACITY = 8 * 1024
/** Default write buffer: 8 KiB. */
export const DEFAULT_WRITE_BUFFER_CAPACITY = 8 * 1024
/** Default closing-handshake timeout: 5 seconds. */
export const DEFAULT_CLOSE_TIMEOUT: Duration.Duration = Duration.seconds(5)
/** Default connect (dial + handshake) timeout: 10 seconds. */
export const DEFAULT_CONNECT_TIMEOUT: Duration.Duration = Duration.seconds(10)
/**
 * Default messages delivered before `recv` / `run` yields: 256. Measured with
 * `bench/loopback.ts` firehose (40 B messages, `run`): 64 cost about a fifth of the throughput
 * against 1024, while 256 messages are still only tens of microseconds of handler time — far
 * shorter than the whole 64 KiB chunk `ws` delivers in one synchronous burst.
 */
export const DEFAULT_MAX_BATCH = 256

// ---------------------------------------------------------------------------------------------
// The stream
// ---------------------------------------------------------------------------------------------

/**
 * Brand of a {@link WebSocket}.
 *
 * @since 0.1.0
 * @category type ids
 */
export const TypeId = "~effect-nexus/Transport/WebSocket" as const

/**
 * What the server learned from the upgrade request.
 *
 * @since 0.1.0
 * @category models
 */
export interface UpgradeInfo {
  /** Request target (path plus query). */
  readonly target: string
  /** The request's headers in wire order (owned). */
  readonly headers: ReadonlyArray<readonly [string, string]>
  /** Subprotocols the client offered. */
  readonly protocols: ReadonlyArray<string>
  /** `Origin`, when sent. */
  readonly origin: string | undefined
}

/**
 * A connected WebSocket. See the module doc for lifetimes, concurrency and the failure model.
 *
 * @since 0.1.0
 * @category models
 */
export interface WebSocket {
  readonly [TypeId]: typeof TypeId
  /** `"client"` (masks its frames) or `"server"`. */
  readonly role: "client" | "server"
  /** The peer's address, as named in errors. */
  readonly remoteAddress: string
  /** The agreed subprotocol, if any. */
  readonly protocol: string | undefined
  /** The upgrade request (server role only). */
  readonly upgrade: UpgradeInfo | undefined
  /** The transport underneath. */
  readonly transport: Transport
  /**
   * `"open"`, `"closing"` (we sent close), `"closed"` (handshake done, or `close` gave up after
   * `closeTimeout` and destroyed the socket) or `"failed"`.
   */
  readonly state: "open" | "closing" | "closed" | "failed"
  /** The next message: a reused view, valid until the next `recv`. */
  readonly recv: Effect.Effect<FrameReader.Message, WebSocketError>
  /** Sends a text message (a string, or bytes the caller promises are UTF-8). */
  sendText(text: string | Uint8Array): Effect.Effect<void, WebSocketError>
  /** Sends a binary message. */
  sendBinary(data: Uint8Array): Effect.Effect<void, WebSocketError>
  /** Sends a ping (payload ≤ 125 bytes). */
  sendPing(data?: Uint8Array | string): Effect.Effect<void, WebSocketError>
  /** Sends a pong (payload ≤ 125 bytes). */
  sendPong(data?: Uint8Array | string): Effect.Effect<void, WebSocketError>
  /** The closing handshake (see the module doc). Default code 1000, empty reason. Idempotent. */
  close(code?: number, reason?: string): Effect.Effect<void, WebSocketError>
  /** The push loop; see {@link run}. */
  run<E>(handler: (message: FrameReader.Message) => Effect.Effect<void, E> | void): Effect.Effect<void, WebSocketError | E>
}

/**
 * Service key for a `WebSocket`, for code that receives its connection from a layer.
 *
 * @since 0.1.0
 * @category services
 */
export const WebSocket: Context.Service<WebSocket, WebSocket> = Context.Service<WebSocket>("effect-nexus/WebSocket")

const EMPTY = new Uint8Array(0)

/** Truncates an ASCII diagnostic to what fits in a close frame (123 bytes). */
const closeReasonOf = (text: string): string => {
  const ascii = text.replace(/[^\x20-\x7e]/g, "?")
  return ascii.length > 123 ? ascii.slice(0, 123) : ascii
}

/** Copies `bytes` into a fresh (pooled for small sizes) Buffer the transport may keep. */
const owned = (bytes: Uint8Array): Buffer => {
  const copy = Buffer.allocUnsafe(bytes.length)
  copy.set(bytes)
  return copy
}

type Waiter = (effect: Effect.Effect<void>) => void

let sharedMask: MaskSource.MaskSource | undefined

/** One crypto key pool for every client connection (one thread, no sharing hazard): 4 KiB once, not per socket. */
const sharedMaskSource = (): MaskSource.MaskSource => (sharedMask ??= MaskSource.crypto())

class WebSocketImpl implements WebSocket {
  readonly [TypeId] = TypeId
  readonly role: "client" | "server"
  readonly remoteAddress: string
  readonly protocol: string | undefined
  readonly upgrade: UpgradeInfo | undefined
  readonly transport: Transport
  state: "open" | "closing" | "closed" | "failed"
  readonly recv: Effect.Effect<FrameReader.Message, WebSocketError>
  private readonly reader: FrameReader.FrameReader
  private readonly rb: ReadBuf.ReadBuf
  private readonly writer: FrameWriter.FrameWriter
  private readonly wb: WriteBuf.WriteBuf
  private readonly autoPong: boolean
  private readonly maxBatch: number
  private readonly readTimeout: Duration.Duration | undefined
  readonly closeTimeout: Duration.Duration
  /** Messages delivered since `recv` last suspended or yielded. */
  private batch: number
  /** A recv is parked on (or continuing after) a transport read. */
  private receiving: boolean
  /** A transport read is outstanding (reads are serialized across fibers). */
  private reading: boolean
  private readonly readWaiters: Array<Waiter>
  /** The latched receive-side failure, returned by every later recv. */
  private failure: WebSocketError | undefined
  /** The first write failure; later sends fail with ConnectionPoisoned. */
  private writeFailure: WebSocketErrorReason | undefined
  private writing: boolean
  private readonly writeWaiters: Array<Waiter>
  private closeSent: boolean
  private closeReceived: boolean
  private closedCode: number
  private closedReason: string
  private closedBy: "local" | "peer"
  /** Completed when the peer's close arrives or the receive side fails. */
  readonly peerClosed: Deferred.Deferred<void>
  /** The transport returned end of stream. */
  private eof: boolean
  /** Handshake leftovers that did not fit the slab at once (rare: a tiny slab). */
  private leftover: Uint8Array
  /** One reusable success Exit per reused message view (at most five). */
  private readonly exits: Array<Exit.Success<FrameReader.Message>>

  constructor(
    role: "client" | "server",
    transport: Transport,
    protocol: string | undefined,
    upgrade: UpgradeInfo | undefined,
    options: StreamOptions,
    maskSource: MaskSource.MaskSource | undefined
  ) {
    this.role = role
    this.remoteAddress = transport.remoteAddress
    this.protocol = protocol
    this.upgrade = upgrade
    this.transport = transport
    this.state = "open"
    this.reader = FrameReader.make({
      role,
      bufferCapacity: options.bufferCapacity ?? DEFAULT_BUFFER_CAPACITY,
      maxFrameSize: options.maxFrameSize,
      maxMessageSize: options.maxMessageSize,
      maxFragments: options.maxFragments,
      compactAt: options.compactAt
    })
    this.rb = this.reader.readBuf
    this.writer = role === "client"
      ? FrameWriter.make({ role, maskSource: maskSource ?? sharedMaskSource(), fragmentSize: options.fragmentSize })
      : FrameWriter.make({ role, fragmentSize: options.fragmentSize })
    this.wb = WriteBuf.make({ capacity: options.writeBufferCapacity ?? DEFAULT_WRITE_BUFFER_CAPACITY })
    this.autoPong = options.autoPong ?? true
    this.maxBatch = Math.max(1, options.maxBatch ?? DEFAULT_MAX_BATCH)
    this.readTimeout = options.readTimeout === undefined ? undefined : Duration.fromInputUnsafe(options.readTimeout)
    this.closeTimeout = options.closeTimeout === undefined
      ? DEFAULT_CLOSE_TIMEOUT
      : Duration.fromInputUnsafe(options.closeTimeout)
    this.batch = 0
    this.receiving = false
    this.reading = false
    this.readWaiters = []
    this.failure = undefined
    this.writeFailure = undefined
    this.writing = false
    this.writeWaiters = []
    this.closeSent = false
    this.closeReceived = false
    this.closedCode = CloseCode.NoStatus
    this.closedReason = ""
    this.closedBy = "local"
    this.peerClosed = Deferred.makeUnsafe<void>()
    this.eof = false
    this.leftover = EMPTY
    this.exits = []
    this.recv = Effect.suspend(() => this.recvStart())
  }

  /**
   * Takes the bytes that arrived behind the handshake head: into the slab when they fit, the
   * rest served by the next reads before the transport is asked for more.
   */
  feedLeftover(bytes: Uint8Array): void {
    if (bytes.length === 0) return
    if (!this.rb.write(bytes)) this.leftover = bytes
  }

  // -------------------------------------------------------------------------------------------
  // Receiving
  // -------------------------------------------------------------------------------------------

  private recvStart(): Effect.Effect<FrameReader.Message, WebSocketError> {
    if (this.failure !== undefined) return Effect.fail(this.failure)
    if (this.closeReceived) return Effect.fail(this.closedError("recv"))
    if (this.batch >= this.maxBatch) {
      this.batch = 0
      return Effect.andThen(Effect.yieldNow, this.recv)
    }
    return this.step()
  }

  /**
   * The push loop behind {@link run}: hands every buffered text, binary and pong message to
   * `handler` synchronously in one Effect step, goes through `dispatch` (read, auto-pong, close
   * echo, violation) only when the codec needs bytes or meets a ping, close or violation, and
   * yields after `maxBatch` messages.
   */
  run<E>(
    handler: (message: FrameReader.Message) => Effect.Effect<void, E> | void
  ): Effect.Effect<void, WebSocketError | E> {
    const deliver = (message: FrameReader.Message): Effect.Effect<void, WebSocketError | E> => {
      const effect = handler(message)
      if (message._tag === "Close") return effect === undefined ? Effect.void : effect
      return effect === undefined ? loop : Effect.andThen(effect, loop)
    }
    const loop: Effect.Effect<void, WebSocketError | E> = Effect.suspend(() => {
      if (this.failure !== undefined) return Effect.fail(this.failure)
      if (this.closeReceived) return Effect.void
      while (true) {
        // the same counter as recv's: messages delivered through dispatch count too
        if (this.batch >= this.maxBatch) {
          this.batch = 0
          return Effect.andThen(Effect.yieldNow, loop)
        }
        const result = this.reader.next()
        if (result._tag === "Text" || result._tag === "Binary" || result._tag === "Pong") {
          this.batch++
          const effect = handler(result)
          if (effect !== undefined) return Effect.andThen(effect, loop)
          continue
        }
        return Effect.flatMap(this.dispatch(result), deliver)
      }
    })
    return loop
  }

  private readonly recvDone = () =>
    Effect.sync(() => {
      this.receiving = false
    })

  /** Drains the codec; reads only on NeedMore. */
  private step(): Effect.Effect<FrameReader.Message, WebSocketError> {
    return this.dispatch(this.reader.next())
  }

  /**
   * A success `Exit` (an Effect) for a message view. The reader reuses one view object per kind,
   * so the Exit made for it is reused too (an Exit is immutable; the runtime only reads it):
   * no allocation per delivered message.
   */
  private exitOf(message: FrameReader.Message): Exit.Exit<FrameReader.Message> {
    const exits = this.exits
    for (let i = 0; i < exits.length; i++) {
      if (exits[i]!.value === message) return exits[i]!
    }
    const exit = Exit.succeed(message) as Exit.Success<FrameReader.Message>
    exits.push(exit)
    return exit
  }

  private dispatch(result: FrameReader.ReadResult): Effect.Effect<FrameReader.Message, WebSocketError> {
    if (result._tag === "NeedMore") return this.readMore()
    switch (result._tag) {
      case "Text":
      case "Binary":
      case "Pong":
        this.batch++
        return this.exitOf(result)
      case "Ping":
        this.batch++
        if (!this.autoPong || this.closeSent) return Effect.succeed(result)
        // a failed pong poisons the sends (reported by the next send); the ping is still delivered
        return Effect.as(Effect.ignore(this.sendFrame(FrameWriter.Kind.Pong, result.payload)), result)
      case "Close":
        return this.onPeerClose(result)
      default:
        return this.onViolation(result)
    }
  }

  private readMore(): Effect.Effect<FrameReader.Message, WebSocketError> {
    // another fiber may have taken the peer's close (or failed the stream) while this one waited
    if (this.failure !== undefined) return Effect.fail(this.failure)
    if (this.closeReceived) return Effect.fail(this.closedError("recv"))
    const rb = this.rb
    if (rb.start > 0 && (rb.spareLength === 0 || rb.start >= rb.capacity * rb.compactAt)) rb.compact()
    if (this.leftover.length > 0) {
      const n = copyInto(rb, this.leftover)
      if (n > 0) {
        this.leftover = this.leftover.subarray(n)
        return this.step()
      }
    }
    // one transport read at a time: a second fiber (close() draining while a consumer pulls)
    // waits for the outstanding read, then steps again — the transports keep a single waiter
    if (this.reading) return Effect.andThen(this.awaitRead, this.recv)
    this.reading = true
    // `batch` is not reset here: a transport with buffered bytes completes reads synchronously,
    // so only an explicit yield bounds the run of messages delivered without giving way
    const raw = Effect.onExit(this.transport.read(rb), this.readDone)
    const read = this.readTimeout === undefined ? raw : Effect.timeoutOrElse(
      raw,
      {
        duration: this.readTimeout,
        orElse: () =>
          Effect.fail(new WebSocketTimeout({ operation: "read", after: this.readTimeout! }))
      }
    )
    // `receiving` marks a recv parked on the transport, so a concurrent close() leaves reading
    // to it; tracked only around reads, so messages already buffered cost no exit hook
    const next = Effect.matchEffect(read, { onSuccess: this.onRead, onFailure: this.onReadFailure })
    // the continuation of a read that needs another read runs in tail position; one exit hook
    // per recv keeps the fiber's stack flat however many reads a message takes
    if (this.receiving) return next
    this.receiving = true
    return Effect.onExit(next, this.recvDone)
  }

  /** Frees the read slot and wakes the fibers waiting for it. */
  private readonly readDone = () =>
    Effect.sync(() => {
      this.reading = false
      const waiters = this.readWaiters.splice(0)
      for (const wake of waiters) wake(Effect.void)
    })

  /** Parks until the outstanding transport read completes. */
  private readonly awaitRead: Effect.Effect<void> = Effect.callback<void>((resume) => {
    this.readWaiters.push(resume)
    return Effect.sync(() => {
      const i = this.readWaiters.indexOf(resume)
      if (i >= 0) this.readWaiters.splice(i, 1)
    })
  })

  private readonly onRead = (n: number): Effect.Effect<FrameReader.Message, WebSocketError> => {
    if (n === 0) {
      this.eof = true
      const error = wsError(this.remoteAddress, new AbnormalClosure({ midMessage: this.rb.length > 0 }))
      return this.failRecv(error)
    }
    return this.step()
  }

  private readonly onReadFailure = (
    error: TransportError | WebSocketTimeout
  ): Effect.Effect<FrameReader.Message, WebSocketError> => {
    // a heartbeat timeout destroys the transport: report the timeout, not the closed transport
    if (this.failure !== undefined) return Effect.fail(this.failure)
    return this.failRecv(
      error._tag === "WebSocketTimeout" ? wsError(this.remoteAddress, error) : fromTransport(error)
    )
  }

  private failRecv(error: WebSocketError): Effect.Effect<never, WebSocketError> {
    this.failure = error
    this.state = "failed"
    Deferred.doneUnsafe(this.peerClosed, Effect.void)
    return Effect.fail(error)
  }

  private onViolation(violation: FrameReader.FrameViolation): Effect.Effect<never, WebSocketError> {
    const error = wsError(this.remoteAddress, new WebSocketProtocolError({ violation, closeCode: violation.closeCode }))
    this.failure = error
    this.state = "failed"
    Deferred.doneUnsafe(this.peerClosed, Effect.void)
    // tell the peer why (best effort: the stream is failed whatever the write does), then FIN
    const notify = this.closeSent
      ? Effect.void
      : Effect.ignore(this.sendCloseFrame(violation.closeCode, closeReasonOf(violation.message)))
    return Effect.andThen(Effect.andThen(notify, this.transport.end()), Effect.fail(error))
  }

  private onPeerClose(message: FrameReader.Close): Effect.Effect<FrameReader.Message, WebSocketError> {
    this.closeReceived = true
    Deferred.doneUnsafe(this.peerClosed, Effect.void)
    if (this.closeSent) {
      // the answer to our close: the handshake is complete
      this.state = "closed"
      return Effect.succeed(message)
    }
    this.closedBy = "peer"
    this.closedCode = message.code
    this.closedReason = message.reason
    this.state = "closed"
    // echo the status and reason (RFC 6455 §5.5.1; ws echoes the reason too), then half-close;
    // the view stays valid (no read happens in between)
    const echo = message.code === CloseCode.NoStatus
      ? this.sendCloseFrame(undefined, "")
      : this.sendCloseFrame(message.code, message.reason)
    return Effect.as(Effect.andThen(Effect.ignore(echo), this.transport.end()), message)
  }

  private closedError(operation: "recv" | "send"): WebSocketError {
    return wsError(
      this.remoteAddress,
      new WebSocketClosed({ operation, code: this.closedCode, closeReason: this.closedReason, by: this.closedBy })
    )
  }

  // -------------------------------------------------------------------------------------------
  // Sending
  // -------------------------------------------------------------------------------------------

  sendText(text: string | Uint8Array): Effect.Effect<void, WebSocketError> {
    return this.send(FrameWriter.Kind.Text, text)
  }

  sendBinary(data: Uint8Array): Effect.Effect<void, WebSocketError> {
    return this.send(FrameWriter.Kind.Binary, data)
  }

  sendPing(data: Uint8Array | string = EMPTY): Effect.Effect<void, WebSocketError> {
    return this.send(FrameWriter.Kind.Ping, data)
  }

  sendPong(data: Uint8Array | string = EMPTY): Effect.Effect<void, WebSocketError> {
    return this.send(FrameWriter.Kind.Pong, data)
  }

  private send(kind: FrameWriter.Kind, payload: string | Uint8Array): Effect.Effect<void, WebSocketError> {
    return Effect.suspend(() => {
      if (this.writeFailure !== undefined) {
        return Effect.fail(wsError(this.remoteAddress, new ConnectionPoisoned({ cause: this.writeFailure })))
      }
      if (this.closeSent || this.closeReceived) return Effect.fail(this.closedError("send"))
      if (this.state === "failed") return Effect.fail(this.failure!)
      return this.sendFrame(kind, payload)
    })
  }

  /** Encodes and writes one message, without the state checks (auto-pong, close echo use it). */
  private sendFrame(kind: FrameWriter.Kind, payload: string | Uint8Array): Effect.Effect<void, WebSocketError> {
    const n = this.writer.encode(this.wb, kind, payload)
    if (typeof n === "number") return this.write(owned(this.wb.data()))
    if (n._tag !== "BufferTooSmall") {
      return Effect.fail(wsError(this.remoteAddress, new InvalidMessage({ detail: n.message })))
    }
    // larger than the write buffer: frame it into a buffer of its own
    const length = typeof payload === "string" ? Buffer.byteLength(payload) : payload.length
    const frames = this.writer.fragmentSize >= length ? 1 : Math.ceil(length / this.writer.fragmentSize)
    const dst = Buffer.allocUnsafe(length + frames * FrameWriter.MAX_HEADER_SIZE)
    const written = this.writer.encodeInto(dst, 0, kind, payload)
    if (typeof written !== "number") {
      return Effect.fail(wsError(this.remoteAddress, new InvalidMessage({ detail: written.message })))
    }
    return this.write(dst.subarray(0, written))
  }

  /** Sends a close frame and marks it sent (no state checks). */
  sendCloseFrame(code: number | undefined, reason: string): Effect.Effect<void, WebSocketError> {
    const n = this.writer.encodeClose(this.wb, code, reason)
    if (typeof n !== "number") {
      return Effect.fail(wsError(this.remoteAddress, new InvalidMessage({ detail: n.message })))
    }
    this.closeSent = true
    return this.write(owned(this.wb.data()))
  }

  /** Serialized write: one frame at a time reaches the transport; any failure poisons. */
  private write(bytes: Uint8Array): Effect.Effect<void, WebSocketError> {
    if (this.writing) {
      return Effect.andThen(
        Effect.callback<void>((resume) => {
          this.writeWaiters.push(resume)
          return Effect.sync(() => {
            const i = this.writeWaiters.indexOf(resume)
            if (i >= 0) this.writeWaiters.splice(i, 1)
          })
        }),
        Effect.suspend(() => {
          if (this.writeFailure !== undefined) {
            this.releaseWrite()
            return Effect.fail(wsError(this.remoteAddress, new ConnectionPoisoned({ cause: this.writeFailure })))
          }
          return this.writeNow(bytes)
        })
      )
    }
    this.writing = true
    return this.writeNow(bytes)
  }

  private writeNow(bytes: Uint8Array): Effect.Effect<void, WebSocketError> {
    return Effect.onExit(
      Effect.mapError(this.transport.write(bytes), this.toWriteError),
      this.afterWrite
    )
  }

  private readonly toWriteError = fromTransport

  private readonly afterWrite = (exit: Exit.Exit<void, WebSocketError>) =>
    Effect.sync(() => {
      if (exit._tag === "Failure" && this.writeFailure === undefined) {
        // a failed or interrupted write may have left a partial frame on the wire
        const failure = Cause.findError(exit.cause)
        this.writeFailure = failure._tag === "Success" ? failure.success.reason : new WriteInterrupted()
        this.state = this.state === "open" ? "failed" : this.state
      }
      this.releaseWrite()
    })

  /** Hands the write slot to the next waiter (which re-checks poisoning), or frees it. */
  private releaseWrite(): void {
    const next = this.writeWaiters.shift()
    if (next === undefined) this.writing = false
    else next(Effect.void)
  }

  // -------------------------------------------------------------------------------------------
  // Closing
  // -------------------------------------------------------------------------------------------

  close(code: number = CloseCode.Normal, reason: string = ""): Effect.Effect<void, WebSocketError> {
    return Effect.suspend(() => {
      if (this.closeSent || this.state === "failed" || this.state === "closed") return Effect.void
      this.closedBy = "local"
      this.closedCode = code
      this.closedReason = reason
      const deadline = this.closeTimeout
      const handshake = Effect.andThen(
        this.sendCloseFrame(code, reason),
        Effect.suspend(() => {
          this.state = "closing"
          if (this.receiving) return Deferred.await(this.peerClosed)
          return this.drainUntilClose()
        })
      )
      const full = Effect.andThen(
        handshake,
        Effect.andThen(
          this.transport.end(),
          // decided after the handshake: a fiber parked in recv owns reading
          Effect.suspend(() => (this.receiving ? Effect.void : this.drainUntilEof()))
        )
      )
      return Effect.timeoutOrElse(full, {
        duration: deadline,
        orElse: () =>
          Effect.suspend(() => {
            const error = wsError(this.remoteAddress, new WebSocketTimeout({ operation: "close", after: deadline }))
            // issue #9: the stream is over even though the peer never answered — `state` said
            // "closing" for ever. Latched before the destroy, so a recv parked on the transport
            // (and every later one) reports the timeout instead of failing the stream
            this.state = "closed"
            if (!this.closeReceived) this.failure ??= error
            Deferred.doneUnsafe(this.peerClosed, Effect.void)
            return Effect.andThen(this.transport.destroy(), Effect.fail(error))
          })
      })
    })
  }

  /** Reads (discarding data messages) until the peer's close; a failure of the stream ends it. */
  private drainUntilClose(): Effect.Effect<void> {
    const loop: Effect.Effect<void> = Effect.suspend(() => {
      if (this.closeReceived || this.failure !== undefined) return Effect.void
      return Effect.matchEffect(this.recv, { onSuccess: () => loop, onFailure: () => Effect.void })
    })
    return loop
  }

  /** After the close handshake: waits for the peer's end of stream, discarding bytes. */
  private drainUntilEof(): Effect.Effect<void> {
    // failed, or another fiber holds the read slot (it will see the end of stream itself)
    if (this.failure !== undefined || this.reading) return Effect.void
    const rb = this.rb
    const loop: Effect.Effect<void> = Effect.suspend(() => {
      rb.clear()
      return Effect.matchEffect(this.transport.read(rb), {
        onSuccess: (n) => {
          if (n > 0) return loop
          this.eof = true
          return Effect.void
        },
        onFailure: () => Effect.void
      })
    })
    return loop
  }

  /**
   * Scope finalizer: after a close handshake the peer started (we echoed and half-closed), give
   * it up to `closeTimeout` to end its side, so the TCP close is clean rather than a reset of
   * unread bytes. Anything else is torn down at once by the transport's own finalizer.
   */
  finish(): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.state !== "closed" || this.eof || this.receiving) return Effect.void
      return Effect.ignore(Effect.timeout(this.drainUntilEof(), this.closeTimeout))
    })
  }

  // -------------------------------------------------------------------------------------------
  // Heartbeat
  // -------------------------------------------------------------------------------------------

  heartbeat(interval: Duration.Duration, timeout: Duration.Duration): Effect.Effect<void> {
    let lastBytes = this.transport.bytesRead
    let lastChange = -1
    const tick: Effect.Effect<boolean> = Effect.flatMap(Clock.currentTimeMillis, (now) => {
      if (this.state !== "open") return Effect.succeed(false)
      if (lastChange < 0 || this.transport.bytesRead !== lastBytes) {
        lastBytes = this.transport.bytesRead
        lastChange = now
      } else if (now - lastChange >= Duration.toMillis(timeout)) {
        // dead peer: latch the timeout, then destroy so a parked recv wakes up and reports it
        this.failure ??= wsError(this.remoteAddress, new WebSocketTimeout({ operation: "heartbeat", after: timeout }))
        this.state = "failed"
        Deferred.doneUnsafe(this.peerClosed, Effect.void)
        return Effect.as(this.transport.destroy(), false)
      }
      return Effect.as(Effect.ignore(this.send(FrameWriter.Kind.Ping, EMPTY)), true)
    })
    const loop: Effect.Effect<void> = Effect.flatMap(
      Effect.andThen(Effect.sleep(interval), tick),
      (again) => (again ? loop : Effect.void)
    )
    // the first tick records the starting point without waiting
    return Effect.andThen(tick, loop)
  }
}

// ---------------------------------------------------------------------------------------------
// Handshakes
// ---------------------------------------------------------------------------------------------

const HANDSHAKE_READ_CAPACITY = 4096

const handshakeError = (address: string, violation: HandshakeError["violation"]) =>
  wsError(address, new HandshakeError({ violation }))

const unexpectedEnd: HandshakeViolation = { _tag: "UnexpectedEnd", message: "the peer ended the stream during the handshake" }

const tooLarge = (what: string): HandshakeViolation => ({ _tag: "HandshakeTooLarge", message: `the ${what} head is too large` })

const headerList = (headers: ConnectOptions["headers"]): Handshake.Headers | undefined =>
  headers === undefined ? undefined : Array.isArray(headers) ? headers as Handshake.Headers :
  Object.entries(headers as Readonly<Record<string, string>>)

/** Starts the stream: the graceful-finish finalizer (runs before the transport's), then the heartbeat fiber. */
const start = (socket: WebSocketImpl, options: StreamOptions): Effect.Effect<WebSocket, never, Scope.Scope> =>
  Effect.andThen(Effect.addFinalizer(() => socket.finish()), startHeartbeat(socket, options))

const startHeartbeat = (socket: WebSocketImpl, options: StreamOptions): Effect.Effect<WebSocket, never, Scope.Scope> =>
  options.heartbeat === undefined
    ? Effect.succeed(socket)
    : Effect.as(
      Effect.forkScoped(
        socket.heartbeat(
          Duration.fromInputUnsafe(options.heartbeat.interval),
          Duration.fromInputUnsafe(options.heartbeat.timeout)
        )
      ),
      socket
    )

/**
 * Runs the client handshake over an already connected transport (a `Memory` end, an
 * `effect/socket` adapter, a transport you dialed yourself): sends the upgrade request for `url`
 * (its host, path and query; the scheme is only checked), validates the 101, and returns the
 * stream. `connectTimeout` bounds the handshake. The transport keeps its own lifetime.
 *
 * @since 0.1.0
 * @category constructors
 */
export const connectOver: (
  transport: Transport,
  url: string,
  options?: ConnectOptions
) => Effect.Effect<WebSocket, WebSocketError, Scope.Scope> = Effect.fn("WebSocket.connectOver")(
  function*(transport: Transport, url: string, options: ConnectOptions = {}) {
    const parsed = Url.parse(url)
    const address = transport.remoteAddress
    if (parsed._tag !== "ParsedUrl") return yield* Effect.fail(wsError(redactUrl(url), new InvalidUrl({ error: parsed })))
    const timeout = Duration.fromInputUnsafe(options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT)
    return yield* Effect.timeoutOrElse(clientHandshake(transport, parsed, options), {
      duration: timeout,
      orElse: () => Effect.fail(wsError(address, new WebSocketTimeout({ operation: "handshake", after: timeout })))
    })
  }
)

const clientHandshake = (
  transport: Transport,
  url: Url.ParsedUrl,
  options: ConnectOptions
): Effect.Effect<WebSocket, WebSocketError, Scope.Scope> =>
  Effect.gen(function*() {
    const address = transport.remoteAddress
    const key = Handshake.generateKey()
    const head = Handshake.upgradeRequestHead({
      host: url.hostHeader,
      pathAndQuery: url.pathAndQuery,
      key,
      protocols: options.protocols,
      origin: options.origin,
      headers: headerList(options.headers)
    })
    if (head._tag === "InvalidHandshakeInput") {
      return yield* Effect.fail(wsError(address, new InvalidMessage({ detail: head.message })))
    }
    const request = HttpWrite.encodeRequest(head)
    if (!(request instanceof Uint8Array)) {
      return yield* Effect.fail(wsError(address, new InvalidMessage({ detail: request.message })))
    }
    yield* Effect.mapError(transport.write(request), fromTransport)
    const responses = ResponseReader.make()
    responses.expect("GET")
    const buf = ReadBuf.make({ capacity: HANDSHAKE_READ_CAPACITY })
    while (true) {
      const result = responses.next()
      if (result._tag === "NeedMore") {
        buf.clear()
        const n = yield* Effect.mapError(transport.read(buf), fromTransport)
        if (n === 0) {
          responses.endOfInput()
          const after = responses.next()
          return yield* Effect.fail(handshakeError(address, after._tag === "NeedMore" || after._tag === "Response" ? unexpectedEnd : after))
        }
        if (!responses.feed(buf.data())) {
          return yield* Effect.fail(handshakeError(address, tooLarge("response")))
        }
        continue
      }
      if (result._tag !== "Response") return yield* Effect.fail(handshakeError(address, result))
      const verdict = Handshake.validateResponse(result, { key, protocols: options.protocols })
      if (verdict._tag !== "Accepted") {
        yield* transport.end()
        return yield* Effect.fail(handshakeError(address, verdict))
      }
      const socket = new WebSocketImpl("client", transport, verdict.protocol, undefined, options, options.maskSource)
      socket.feedLeftover(responses.takeLeftover())
      return yield* start(socket, options)
    }
  })

/**
 * Connects to a `ws://` or `wss://` URL: dials TCP (or TLS with `options.tls`), runs the
 * opening handshake with the extra `headers` and offered `protocols`, and returns the stream,
 * owned by the current scope (closing it destroys the socket). `connectTimeout` (default 10 s)
 * bounds the dial and the handshake together: `WebSocketTimeout` operation `"connect"`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect: (url: string, options?: ConnectOptions) => Effect.Effect<WebSocket, WebSocketError, Scope.Scope> =
  Effect.fn("WebSocket.connect")(function*(url: string, options: ConnectOptions = {}) {
    const parsed = Url.parse(url)
    if (parsed._tag !== "ParsedUrl") return yield* Effect.fail(wsError(redactUrl(url), new InvalidUrl({ error: parsed })))
    if (parsed.scheme !== "ws" && parsed.scheme !== "wss") {
      return yield* Effect.fail(wsError(
        redactUrl(url),
        new InvalidUrl({
          error: { _tag: "UnsupportedScheme", scheme: parsed.scheme, message: `scheme "${parsed.scheme}" is not ws or wss` }
        })
      ))
    }
    const address = parsed.host.includes(":") ? `[${parsed.host}]:${parsed.port}` : `${parsed.host}:${parsed.port}`
    const timeout = Duration.fromInputUnsafe(options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT)
    const tcp = {
      host: parsed.host,
      port: parsed.port,
      noDelay: options.noDelay,
      keepAlive: options.keepAlive,
      readHighWaterMark: options.maxReadSize,
      // the timeout below bounds dial and handshake together; the dial's own default must not cut it shorter
      connectTimeout: "Infinity" as const
    }
    const dial: Effect.Effect<Transport, TransportError, Scope.Scope> = parsed.secure
      ? Tls.connect({ ...tcp, config: options.tls ?? Tls.defaultConfig(), servername: options.servername })
      : Tcp.connect(tcp)
    const run = Effect.flatMap(
      Effect.mapError(dial, fromTransport),
      (transport) => clientHandshake(transport, parsed, options)
    )
    return yield* Effect.timeoutOrElse(run, {
      duration: timeout,
      orElse: () => Effect.fail(wsError(address, new WebSocketTimeout({ operation: "connect", after: timeout })))
    })
  })

/**
 * A layer providing the `WebSocket` service: one client connection to `url`, closed (abruptly;
 * run `close` first for the handshake) when the layer is released.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (url: string, options: ConnectOptions = {}): Layer.Layer<WebSocket, WebSocketError> =>
  Layer.effect(WebSocket, connect(url, options))

/** The URL for error fields, without credentials (they never leave this module). */
const redactUrl = (url: string): string => {
  const parsed = URL.parse(url)
  if (parsed === null || (parsed.username === "" && parsed.password === "")) return url
  parsed.username = ""
  parsed.password = ""
  return parsed.href
}

/**
 * Runs the server handshake on a freshly accepted transport: reads the upgrade request, checks
 * it (RFC 6455 §4.2.1), answers `101 Switching Protocols` — or the refusal's 400 / 426 (or the
 * HTTP parser's 4xx/5xx), half-closes and fails with `HandshakeError`. The subprotocol is the
 * first of `options.protocols` the client offered. `handshakeTimeout` defaults to 10 s.
 *
 * @since 0.1.0
 * @category constructors
 */
export const accept: (
  transport: Transport,
  options?: AcceptOptions
) => Effect.Effect<WebSocket, WebSocketError, Scope.Scope> = Effect.fn("WebSocket.accept")(
  function*(transport: Transport, options: AcceptOptions = {}) {
    const address = transport.remoteAddress
    const timeout = Duration.fromInputUnsafe(options.handshakeTimeout ?? DEFAULT_CONNECT_TIMEOUT)
    return yield* Effect.timeoutOrElse(serverHandshake(transport, options), {
      duration: timeout,
      orElse: () =>
        Effect.andThen(
          transport.destroy(),
          Effect.fail(wsError(address, new WebSocketTimeout({ operation: "handshake", after: timeout })))
        )
    })
  }
)

const refuse = (transport: Transport, status: number, body: string) =>
  Effect.gen(function*() {
    const bytes = HttpWrite.encodeResponse({
      status,
      headers: [["Connection", "close"], ["Content-Type", "text/plain"]]
    }, body)
    if (bytes instanceof Uint8Array) yield* Effect.ignore(transport.write(bytes))
    yield* transport.end()
  })

const serverHandshake = (
  transport: Transport,
  options: AcceptOptions
): Effect.Effect<WebSocket, WebSocketError, Scope.Scope> =>
  Effect.gen(function*() {
    const address = transport.remoteAddress
    const requests = RequestReader.make()
    const buf = ReadBuf.make({ capacity: HANDSHAKE_READ_CAPACITY })
    while (true) {
      const result = requests.next()
      if (result._tag === "NeedMore") {
        buf.clear()
        const n = yield* Effect.mapError(transport.read(buf), fromTransport)
        if (n === 0) {
          requests.endOfInput()
          return yield* Effect.fail(handshakeError(address, unexpectedEnd))
        }
        if (!requests.feed(buf.data())) {
          yield* refuse(transport, 431, "request head too large")
          return yield* Effect.fail(handshakeError(address, tooLarge("request")))
        }
        continue
      }
      if (result._tag !== "Request") {
        yield* refuse(transport, RequestReader.statusFor(result), result.message)
        return yield* Effect.fail(handshakeError(address, result))
      }
      const verdict = Handshake.validateUpgradeRequest(result)
      if (verdict._tag !== "UpgradeRequest") {
        const head = Handshake.rejectResponseHead(verdict)
        const bytes = HttpWrite.encodeResponse(head, head.body)
        if (bytes instanceof Uint8Array) yield* Effect.ignore(transport.write(bytes))
        yield* transport.end()
        return yield* Effect.fail(handshakeError(address, verdict))
      }
      const protocol = (options.protocols ?? []).find((p) => verdict.protocols.includes(p))
      const upgrade: UpgradeInfo = {
        target: verdict.target,
        headers: result.headers(),
        protocols: verdict.protocols,
        origin: verdict.origin
      }
      const refusal = options.verify?.(upgrade)
      if (refusal !== undefined) {
        yield* refuse(transport, refusal.status, refusal.reason)
        return yield* Effect.fail(handshakeError(address, {
          _tag: "RefusedByServer",
          status: refusal.status,
          message: `refused by the server's verify with ${refusal.status}: ${refusal.reason}`
        }))
      }
      const accepted = Handshake.acceptResponseHead({ key: verdict.key, protocol, headers: options.headers })
      if (accepted._tag === "InvalidHandshakeInput") {
        return yield* Effect.fail(wsError(address, new InvalidMessage({ detail: accepted.message })))
      }
      const response = HttpWrite.encodeResponse(accepted)
      if (!(response instanceof Uint8Array)) {
        return yield* Effect.fail(wsError(address, new InvalidMessage({ detail: response.message })))
      }
      const leftover = requests.takeLeftover()
      yield* Effect.mapError(transport.write(response), fromTransport)
      const socket = new WebSocketImpl("server", transport, protocol, upgrade, options, undefined)
      socket.feedLeftover(leftover)
      return yield* start(socket, options)
    }
  })

/**
 * The fastest way to consume a feed: calls `handler` for every message (text, binary, ping,
 * pong, and finally the peer's close) until the peer closes (the effect then succeeds) or the
 * stream fails. Messages already buffered are handed over synchronously, many per Effect step —
 * one step per transport wake-up instead of one per message — with a yield after `maxBatch`
 * (fairness). A handler that returns an Effect (to send, say) is waited for before the next
 * message. The message is a view, valid only during the handler call and the Effect it returns.
 * Pings are answered before the handler sees them when `autoPong` is on. Use it instead of
 * `recv` on the same socket, not beside it.
 *
 * @since 0.1.0
 * @category consumers
 */
export const run = <E = never>(
  socket: WebSocket,
  handler: (message: FrameReader.Message) => Effect.Effect<void, E> | void
): Effect.Effect<void, WebSocketError | E> => socket.run(handler)

// ---------------------------------------------------------------------------------------------
// Stream and Sink
// ---------------------------------------------------------------------------------------------

/**
 * What {@link sink} sends: a string as text, bytes as binary, or an owned message of any kind
 * (a `Close` runs the closing handshake).
 *
 * @since 0.1.0
 * @category models
 */
export type Outgoing = string | Uint8Array | FrameReader.OwnedMessage

/**
 * The received messages as a `Stream` of owned copies (one allocation per message), ending
 * after the peer's `Close` (which is emitted) or once the socket is closed (our own closing
 * handshake, run from another fiber, may consume the peer's close; the stream then just ends).
 * Pings are answered by `recv` when `autoPong` is on. Run it on one fiber.
 *
 * @since 0.1.0
 * @category streams
 */
export const messages = (socket: WebSocket): Stream.Stream<FrameReader.OwnedMessage, WebSocketError> =>
  Stream.fromPull(Effect.sync(() => {
    let done = false
    return Effect.suspend((): Effect.Effect<readonly [FrameReader.OwnedMessage], WebSocketError | Cause.Done> => {
      if (done || socket.state === "closed") return Cause.done()
      return Effect.matchEffect(socket.recv, {
        onSuccess: (message) => {
          if (message._tag === "Close") done = true
          return Effect.succeed([FrameReader.toOwned(message)] as const)
        },
        // closed under us (our own closing handshake took the peer's close): the stream ends
        onFailure: (error): Effect.Effect<never, WebSocketError | Cause.Done> =>
          error.reason._tag === "WebSocketClosed" ? Cause.done() : Effect.fail(error)
      })
    })
  }))

/**
 * A `Sink` that sends every element (see {@link Outgoing}) in order, with the backpressure of
 * the `send*` methods.
 *
 * @since 0.1.0
 * @category sinks
 */
export const sink = (socket: WebSocket): Sink.Sink<void, Outgoing, never, WebSocketError> =>
  Sink.forEach((message: Outgoing) => {
    if (typeof message === "string") return socket.sendText(message)
    if (message instanceof Uint8Array) return socket.sendBinary(message)
    switch (message._tag) {
      case "Text":
        return socket.sendText(message.text)
      case "Binary":
        return socket.sendBinary(message.payload)
      case "Ping":
        return socket.sendPing(message.payload)
      case "Pong":
        return socket.sendPong(message.payload)
      case "Close":
        return socket.close(message.code === CloseCode.NoStatus ? CloseCode.Normal : message.code, message.reason)
    }
  })
