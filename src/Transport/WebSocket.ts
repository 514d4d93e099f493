/**
 * `WebSocket` — an RFC 6455 message stream over any `Transport`: the sans-IO `FrameReader` and
 * `FrameWriter` driven by Effect, with the opening and closing handshakes, for both roles.
 *
 * ```text
 * connect(url, options)              Dial.connect (TCP, TLS, proxy tunnel), then the client handshake
 * connectOver(transport, url, opts)  the client handshake over a connected Transport (Memory, FromSocket, …)
 * accept(transport, options)         the server handshake: 101, or 400 / 426 and a typed error
 *        │
 *        ▼
 * recv ─► Text | Binary | Ping | Pong | Close      (a view, valid until the next recv)
 * run(ws, handler)                                 (push loop: many messages per Effect step)
 * sendText · sendBinary · sendPing · sendPong · close(code, reason)
 * messages(ws): Stream<OwnedMessage> · sink(ws): Sink<void, Outgoing> · send(ws, message)
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
 * fairness, after `maxBatch` messages (default 1024) delivered without suspending, the next `recv`
 * yields (`Effect.yieldNow`) once, so a feed that lands thousands of frames in one read cannot
 * starve other fibers or the event loop. Pings are answered with a pong carrying the same
 * payload before `recv` returns them (`autoPong`, default on, like `ws`); pongs are returned
 * too. `run(ws, handler)` is the push form of the same loop: buffered messages go to a
 * synchronous handler many per Effect step (one step per wake-up, not per message), which is
 * what a busy feed wants; `yield* ws.recv` in `Effect.gen` takes a buffered text, binary or
 * pong message without an Effect step (its iterator hands the view straight to the generator;
 * through combinators `recv` costs one step, a cached success `Exit`), and `messages` one Stream step
 * per batch of owned copies (`bench/loopback.ts` firehose compares all three with `ws`). A peer's close is echoed (same code and reason, as `ws` does; no
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
 * interleave. Each frame is encoded once into the connection's send slab (rewound only when the
 * socket's buffer is empty: a Node socket may keep a written region until the kernel takes it),
 * and that range is handed to the transport; when the transport is free the send completes
 * synchronously, and the frames of one event-loop tick after the first leave as one socket write.
 * A server's message over `writeBufferCapacity` goes uncopied behind its header (the send
 * completes once Node has let go of the payload); a client's is framed into a buffer of its own.
 * Frames sent while a write is in flight leave together in one write. The payload may be reused
 * once the send returns (docs/websocket.md, "The send-buffer contract").
 * `send*` waits for the transport to accept the bytes — for a socket that means waiting for
 * `'drain'` when Node's buffer is full — so a fast producer is slowed to the socket's pace. A failed or interrupted write poisons the stream:
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
 * **Compression** (permessage-deflate, RFC 7692) is off unless `compression` is set — on the
 * client it is offered, on the server a client's offer is taken. Compressed messages are
 * inflated synchronously inside `recv` / `run` / `messages`, with `maxMessageSize` applied to
 * the inflated size (a deflate bomb closes with 1009 after at most that many bytes); messages
 * of at least `threshold` bytes are deflated on send. `deflate` says what was agreed; memory
 * and defaults are in docs/websocket.md.
 *
 * Choices where the RFC or the issue is silent: the client never sends `Origin` unless asked;
 * the only extension is permessage-deflate; the server picks the first
 * subprotocol in *its* preference list that the client offered; `close()` is idempotent.
 *
 * @since 0.1.0
 */
import type * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import { CloseCode } from "../Codec/CloseCode.ts"
import * as FrameReader from "../Codec/FrameReader.ts"
import type * as PerMessageDeflate from "../Codec/PerMessageDeflate.ts"
import * as Url from "../Codec/Url.ts"
import * as HandshakeDriver from "./internal/webSocketHandshake.ts"
import { fromTransport, type WebSocketError, WebSocketTimeout, wsError } from "./internal/webSocketErrors.ts"
import {
  type AcceptOptions,
  type ConnectOptions,
  type ConnectOverOptions,
  DEFAULT_CONNECT_TIMEOUT,
  type UpgradeInfo
} from "./internal/webSocketOptions.ts"
import { open, TypeId, WebSocketImpl } from "./internal/webSocketStream.ts"
import * as Dial from "./Dial.ts"
import { formatAddress, InvalidUrl, type Transport } from "./Transport.ts"

// The vocabulary lives in internal modules below the stream and the handshake drivers (so they
// need not import this file); it is published here, unchanged.
export {
  AbnormalClosure,
  HandshakeError,
  type HandshakeViolation,
  InvalidMessage,
  WebSocketClosed,
  WebSocketError,
  type WebSocketErrorReason,
  WebSocketProtocolError,
  WebSocketTimeout,
  WriteInterrupted
} from "./internal/webSocketErrors.ts"
export {
  type AcceptOptions,
  type CompressionOptions,
  type ConnectOptions,
  type ConnectOverOptions,
  DEFAULT_BUFFER_CAPACITY,
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_COMPRESSION_LEVEL,
  DEFAULT_COMPRESSION_MEM_LEVEL,
  DEFAULT_COMPRESSION_THRESHOLD,
  DEFAULT_CONNECT_TIMEOUT,
  DEFAULT_MAX_BATCH,
  DEFAULT_WRITE_BUFFER_CAPACITY,
  type DialOptions,
  type StreamOptions,
  type UpgradeInfo
} from "./internal/webSocketOptions.ts"
export { TypeId }

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
  /** The agreed permessage-deflate parameters; `undefined` when the connection is uncompressed. */
  readonly deflate: PerMessageDeflate.Agreed | undefined
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

/**
 * Runs the client handshake over an already connected transport (a `Memory` end, an
 * `effect/socket` adapter, a transport you dialed yourself): sends the upgrade request for `url`
 * (its host, path and query; the scheme is only checked), validates the 101, and returns the
 * stream. `connectTimeout` bounds the handshake. The transport keeps its own lifetime, and how
 * it was dialed is its own business: the options hold no dial settings (`tls`, `proxy`,
 * `noDelay`, … are type errors here — see {@link ConnectOverOptions}).
 *
 * @since 0.1.0
 * @category constructors
 */
export const connectOver: (
  transport: Transport,
  url: string,
  options?: ConnectOverOptions
) => Effect.Effect<WebSocket, WebSocketError, Scope.Scope> = Effect.fn("WebSocket.connectOver")(
  function*(transport: Transport, url: string, options: ConnectOverOptions = {}) {
    const parsed = Url.parse(url)
    const address = transport.remoteAddress
    if (parsed._tag !== "ParsedUrl") return yield* Effect.fail(wsError(redactUrl(url), new InvalidUrl({ error: parsed })))
    const timeout = Duration.fromInputUnsafe(options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT)
    return yield* Effect.timeoutOrElse(openClient(transport, parsed, options), {
      duration: timeout,
      orElse: () => Effect.fail(wsError(address, new WebSocketTimeout({ operation: "handshake", after: timeout })))
    })
  }
)

/** The client handshake, then the stream over the same transport. */
const openClient = (
  transport: Transport,
  url: Url.ParsedUrl,
  options: ConnectOverOptions
): Effect.Effect<WebSocket, WebSocketError, Scope.Scope> =>
  Effect.flatMap(
    HandshakeDriver.client(transport, url, options),
    (agreed) => open("client", transport, agreed, options, options.maskSource)
  )

/**
 * Connects to a `ws://` or `wss://` URL: dials through the one dial path (`Dial.connect`: TCP,
 * TLS with `options.tls`, or a tunnel through `options.proxy` with TLS inside it), runs the
 * opening handshake with the extra `headers` and offered `protocols`, and returns the stream,
 * owned by the current scope (closing it destroys the socket). `connectTimeout` (default 10 s)
 * bounds the dial and the handshake together: `WebSocketTimeout` operation `"connect"`. A dial
 * failure carries the transport's reason (`ConnectError`, `TlsError`, `ProxyError`).
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
    const timeout = Duration.fromInputUnsafe(options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT)
    // the timeout below bounds dial and handshake together; the dial's own default must not cut it shorter
    const dial = Dial.connect(parsed, { ...options, readHighWaterMark: options.maxReadSize, connectTimeout: "Infinity" })
    const run = Effect.flatMap(
      Effect.mapError(dial, fromTransport),
      (transport) => openClient(transport, parsed, options)
    )
    return yield* Effect.timeoutOrElse(run, {
      duration: timeout,
      orElse: () =>
        Effect.fail(wsError(formatAddress(parsed.host, parsed.port), new WebSocketTimeout({ operation: "connect", after: timeout })))
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
    const handshake = Effect.flatMap(
      HandshakeDriver.server(transport, options),
      (agreed) => open("server", transport, agreed, options, undefined)
    )
    return yield* Effect.timeoutOrElse(handshake, {
      duration: timeout,
      orElse: () =>
        Effect.andThen(
          transport.destroy(),
          Effect.fail(wsError(address, new WebSocketTimeout({ operation: "handshake", after: timeout })))
        )
    })
  }
)

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
 * Options of {@link messages}.
 *
 * @since 0.1.0
 * @category models
 */
export interface MessagesOptions {
  /** Lend each chunk's binary and pong payloads until the next pull instead of copying them (see {@link messages}). Default `false`. */
  readonly lent?: boolean | undefined
}

/**
 * The received messages as a `Stream` of owned copies, ending after the peer's `Close` (which is
 * emitted) or once the socket is closed (our own closing handshake, run from another fiber, may
 * consume the peer's close; the stream then just ends). Each pull emits a chunk: every message
 * already buffered (up to `maxBatch`), so a busy feed costs one Stream step per batch, not per
 * message. The copies are owned — valid for ever, whatever is read next (on a client, a binary
 * or pong payload is a `Buffer` over a copy it shares with the payloads read with it, up to
 * 64 KiB, as Node's own small buffers share a pool: keeping it keeps that copy). Pings are
 * answered when `autoPong` is on. Run it on one fiber.
 *
 * With `{ lent: true }` the chunks are **lent**: a binary or pong payload is a view of the
 * socket's read buffer, not a copy, valid only until the stream is pulled again or the socket
 * is read by another call (`recv`, or `close` from another fiber, which reads until the peer's
 * close) — a chunk ends where that buffer would be refilled; copy what you keep
 * (`Buffer.from(payload)`); a text message's string is still its own. For a consumer that
 * reads each chunk in place (`Stream.runForEach`, `runForEachArray`), with no combinator that
 * pulls ahead (`Stream.buffer`, `merge`, concurrent `mapEffect`) in between. Default `false`:
 * owned.
 *
 * @since 0.1.0
 * @category streams
 */
export const messages = (
  socket: WebSocket,
  options?: MessagesOptions
): Stream.Stream<FrameReader.OwnedMessage, WebSocketError> =>
  Stream.fromPull(Effect.sync(() => {
    let done = false
    const lent = options?.lent === true
    if (lent && socket instanceof WebSocketImpl) socket.lendSlab()
    const pull: Effect.Effect<Array<FrameReader.OwnedMessage>, WebSocketError> = socket instanceof WebSocketImpl
      ? socket.pullOwned(lent)
      : Effect.map(socket.recv, (message) => [FrameReader.toOwned(message)])
    const onSuccess = (batch: Array<FrameReader.OwnedMessage>) => {
      if (batch[batch.length - 1]!._tag === "Close") done = true
      return Effect.succeed(batch as unknown as Arr.NonEmptyReadonlyArray<FrameReader.OwnedMessage>)
    }
    // closed under us (our own closing handshake took the peer's close): the stream ends
    const onFailure = (error: WebSocketError): Effect.Effect<never, WebSocketError | Cause.Done> =>
      error.reason._tag === "WebSocketClosed" ? Cause.done() : Effect.fail(error)
    const next = Effect.matchEffect(pull, { onSuccess, onFailure })
    return Effect.suspend(() => (done || socket.state === "closed" ? Cause.done() : next))
  }))

/**
 * Sends one {@link Outgoing} message with the matching `send*` method: a string as text, bytes
 * as binary, an owned message as its kind (a `Close` as `close`, its `NoStatus` code sent as
 * `Normal`, since 1005 may not go on the wire).
 *
 * @since 0.1.0
 * @category senders
 */
export const send = (socket: WebSocket, message: Outgoing): Effect.Effect<void, WebSocketError> => {
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
}

/**
 * A `Sink` that sends every element (see {@link Outgoing}) in order, with the backpressure of
 * the `send*` methods ({@link send} per element).
 *
 * @since 0.1.0
 * @category sinks
 */
export const sink = (socket: WebSocket): Sink.Sink<void, Outgoing, never, WebSocketError> =>
  Sink.forEach((message: Outgoing) => send(socket, message))
