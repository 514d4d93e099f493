/**
 * `NexusSocket` — Effect's own `Socket` (`effect/socket/Socket`, the interface behind
 * `Socket.makeWebSocket` and `NodeSocket.layerWebSocket`) on effect-nexus's WebSocket, so code
 * written for that interface (`Socket.toChannel`, RPC over WebSocket) runs unchanged.
 *
 * ```text
 * layerWebSocket(url, options)   Layer<Socket.Socket>   in place of NodeSocket.layerWebSocket(url, options)
 * makeWebSocket(url, options)    Effect<Socket.Socket>  in place of Socket.makeWebSocket(url, options)
 * fromWebSocket(acquire)         any effect-nexus WebSocket (a server's `accept`, `connectOver`) as a Socket
 * ```
 *
 * **Reading.** Acquiring `reader` dials (one connection per acquisition, closed with the scope)
 * and starts the stream's push loop (`WebSocket.run`) in that scope: every message it hands over
 * is copied (text as a `string`, binary as a `Uint8Array`, as Effect's implementation gives them)
 * into a batch, and `pull` takes the whole batch — one pull per transport wake-up, not per message.
 * The batch is handed to a parked `pull` once the loop has drained what arrived (a microtask
 * later), not at the first message. When `highWaterMark` bytes wait unread (default 64 KiB, as
 * Effect's), the loop stops reading until `pull` takes them: backpressure reaches the peer through
 * TCP. Pings are answered by the stream and, like pongs, not shown.
 *
 * **Closes and errors** map to `SocketError` reasons as Effect's implementation on `ws` does:
 * - a close frame from the peer (or its answer to ours) fails `pull` with `SocketCloseError`
 *   carrying its code (1005 when it had none) and reason, after the messages before it are read;
 * - the peer ending the stream without a close frame, or a reset, or our close left unanswered
 *   for `closeTimeout`: `SocketCloseError` code 1006;
 * - closing the reader's scope fails a parked `pull` with `SocketCloseError` 1006 and runs the
 *   closing handshake with 1000 (bounded by `closeTimeout`), as Effect's release sends `close(1000)`;
 * - a protocol violation by the peer (the stream sent it 1002, 1007 or 1009), a heartbeat or read
 *   timeout: `SocketReadError` whose `cause` is the `WebSocketError`;
 * - a failed dial or handshake: `SocketOpenError` kind `"Unknown"`, and `"Timeout"` when
 *   `openTimeout` ran out; the `cause` is the `WebSocketError`;
 * - a failed write: `SocketWriteError` with the `WebSocketError` as `cause`; a write after the
 *   stream closed is dropped, as a WebSocket's `send` after close is (and as Effect's is), so a
 *   close always surfaces as the reader's `SocketCloseError`.
 *
 * **Writing.** The writer outlives connections: a write made while no reader is connected waits
 * for the next connection. A `string` is sent as a text message, bytes as binary; a
 * `Socket.CloseEvent` starts the closing handshake (its code must be one a close frame may carry,
 * its reason at most 123 bytes) without waiting for it — the reader then fails with the peer's
 * answer. Writes wait for the transport (backpressure), and `writeAll` sends its batch in order.
 *
 * @since 0.1.0
 */
import type * as Arr from "effect/Array"
import type * as Duration from "effect/Duration"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Latch from "effect/Latch"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import { CloseCode, isValidOnWire } from "../Codec/CloseCode.ts"
import * as FrameReader from "../Codec/FrameReader.ts"
import * as WebSocket from "../Transport/WebSocket.ts"
import { Batch } from "./internal/batch.ts"

/**
 * Options of {@link makeWebSocket}: Effect's (`openTimeout`, `protocols`, `headers`,
 * `highWaterMark`) and every `WebSocket.connect` option (TLS, heartbeat, limits, `keepAlive`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends Omit<WebSocket.ConnectOptions, "protocols"> {
  /** Time for the dial plus the opening handshake (`connectTimeout`). Default 10 seconds. */
  readonly openTimeout?: Duration.Input | undefined
  /** Subprotocols to offer, most preferred first. Default none. */
  readonly protocols?: string | ReadonlyArray<string> | undefined
  /**
   * Bytes of unread messages (a text message counts its length) before the reader stops reading.
   * Default 64 KiB ({@link DEFAULT_HIGH_WATER_MARK}).
   */
  readonly highWaterMark?: number | undefined
}

/**
 * Default bytes of unread messages before the reader stops reading: 64 KiB, Effect's default
 * for its WebSocket `Socket`.
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_HIGH_WATER_MARK = 64 * 1024

type Chunk = Uint8Array | string

const closeError = (code: number, closeReason: string) =>
  new Socket.SocketError({ reason: new Socket.SocketCloseError({ code, closeReason }) })

const openError = (cause: WebSocket.WebSocketError) =>
  new Socket.SocketError({
    reason: new Socket.SocketOpenError({ kind: cause.reason._tag === "WebSocketTimeout" ? "Timeout" : "Unknown", cause })
  })

const writeError = (cause: WebSocket.WebSocketError) =>
  new Socket.SocketError({ reason: new Socket.SocketWriteError({ cause }) })

/** How the push loop's failure reads through Effect's interface (see the module doc). */
const readFailure = (error: WebSocket.WebSocketError): Socket.SocketError => {
  switch (error.reason._tag) {
    case "AbnormalClosure":
    case "ReadError":
      // ws reports both as a close with 1006 (no error event)
      return closeError(CloseCode.Abnormal, "")
    case "WebSocketTimeout":
      // our close never answered: ws's close timer destroys the socket, a close with 1006 too
      if (error.reason.operation === "close") return closeError(CloseCode.Abnormal, "")
      return new Socket.SocketError({ reason: new Socket.SocketReadError({ cause: error }) })
    default:
      return new Socket.SocketError({ reason: new Socket.SocketReadError({ cause: error }) })
  }
}

/** A write after the stream closed is dropped, as `send` after close is on a WebSocket. */
const onSendError = (error: WebSocket.WebSocketError): Effect.Effect<void, Socket.SocketError> =>
  error.reason._tag === "WebSocketClosed" ? Effect.void : Effect.fail(writeError(error))

/**
 * The read side of one connection: the push loop offers copies of the messages into a
 * {@link Batch} and `pull` takes them; the loop's end (the peer's close, a failure) ends it.
 */
const startReader = (
  ws: WebSocket.WebSocket,
  scope: Scope.Scope,
  highWaterMark: number
): Effect.Effect<Socket.Reader> =>
  Effect.gen(function*() {
    const batch = new Batch<Chunk, Socket.SocketError>(highWaterMark)
    let closeCode: number = CloseCode.Abnormal
    let closeReason = ""
    const handler = (message: FrameReader.Message): Effect.Effect<void> | undefined => {
      switch (message._tag) {
        case "Text": {
          const text = message.text()
          return batch.offer(text, text.length)
        }
        case "Binary": {
          const payload = (FrameReader.toOwned(message) as { readonly payload: Uint8Array }).payload
          return batch.offer(payload, payload.length)
        }
        case "Close":
          closeCode = message.code
          closeReason = message.reason
          return undefined
        default:
          // pings (answered by the stream) and pongs
          return undefined
      }
    }

    // after the loop: the messages before the end are still read, then the end is the failure
    yield* Effect.forkIn(
      Effect.onExit(WebSocket.run(ws, handler), (exit) =>
        Effect.sync(() => {
          if (Exit.isSuccess(exit)) return batch.end(closeError(closeCode, closeReason))
          // interrupted: the scope is closing, and its finalizer already ended the batch
          const error = Cause.findError(exit.cause)
          batch.end(error._tag === "Success" ? readFailure(error.success) : closeError(CloseCode.Abnormal, ""))
        })),
      scope
    )
    // closing the scope fails a parked pull at once (the Socket contract); finalizers run in
    // reverse, so this runs first, then the loop is interrupted, then the connection closes
    yield* Scope.addFinalizer(
      scope,
      Effect.sync(() => {
        batch.end(closeError(CloseCode.Abnormal, ""))
        batch.flush()
      })
    )
    return { pull: batch.take, upgrade: Socket.SocketUpgradeError.unsupported }
  })

/**
 * A `Socket` over the WebSocket `acquire` opens for each reader acquisition (in the
 * acquisition's scope). `highWaterMark` (default 64 KiB) bounds the bytes read ahead of `pull`.
 * Use it for a stream you opened yourself: a server's `WebSocket.accept`, `connectOver` a proxy.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromWebSocket = <R>(
  acquire: Effect.Effect<WebSocket.WebSocket, Socket.SocketError, R>,
  options?: { readonly highWaterMark?: number | undefined } | undefined
): Effect.Effect<Socket.Socket, never, Exclude<R, Scope.Scope>> =>
  Effect.contextWith((context) => {
    const highWaterMark = Math.max(1, options?.highWaterMark ?? DEFAULT_HIGH_WATER_MARK)
    const latch = Latch.makeUnsafe(false)
    let current: { readonly ws: WebSocket.WebSocket; readonly scope: Scope.Scope } | undefined

    const reader: Socket.Socket["reader"] = Effect.gen(function*() {
      const scope = yield* Effect.scope
      const ws = yield* Effect.provideContext(Scope.provide(acquire, scope), context)
      // registered before the reader's own, so it runs after them: writes wait again
      yield* Scope.addFinalizer(
        scope,
        Effect.sync(() => {
          if (current?.ws === ws) current = undefined
          latch.closeUnsafe()
        })
      )
      const reader = yield* startReader(ws, scope, highWaterMark)
      current = { ws, scope }
      latch.openUnsafe()
      return reader
    }) as Socket.Socket["reader"]

    const sendOne = (ws: WebSocket.WebSocket, chunk: Chunk): Effect.Effect<void, Socket.SocketError> =>
      Effect.catch(typeof chunk === "string" ? ws.sendText(chunk) : ws.sendBinary(chunk), onSendError)

    const close = (
      connection: { readonly ws: WebSocket.WebSocket; readonly scope: Scope.Scope },
      event: Socket.CloseEvent
    ): Effect.Effect<void, Socket.SocketError> => {
      const reason = event.reason ?? ""
      const invalid = !isValidOnWire(event.code)
        ? `close code ${event.code} may not be sent`
        : Buffer.byteLength(reason) > 123
        ? "a close reason is at most 123 bytes"
        : undefined
      if (invalid !== undefined) {
        const error = new WebSocket.WebSocketError({
          address: connection.ws.remoteAddress,
          reason: new WebSocket.InvalidMessage({ detail: invalid })
        })
        return Effect.fail(writeError(error))
      }
      // started, not waited for: the reader sees the peer's answer and fails with it
      return Effect.asVoid(Effect.forkIn(Effect.ignore(connection.ws.close(event.code, reason)), connection.scope))
    }

    const write = (chunk: Chunk | Socket.CloseEvent): Effect.Effect<void, Socket.SocketError> =>
      Effect.suspend(() => {
        const connection = current
        if (connection === undefined) return latch.whenOpen(write(chunk))
        if (Socket.isCloseEvent(chunk)) return close(connection, chunk)
        return sendOne(connection.ws, chunk)
      })

    const writeAll = (chunks: Arr.NonEmptyReadonlyArray<Chunk>): Effect.Effect<void, Socket.SocketError> =>
      Effect.suspend(() => {
        const connection = current
        if (connection === undefined) return latch.whenOpen(writeAll(chunks))
        const ws = connection.ws
        let i = 0
        const next: Effect.Effect<void, Socket.SocketError> = Effect.suspend(() =>
          i === chunks.length ? Effect.void : Effect.andThen(sendOne(ws, chunks[i++]!), next)
        )
        return next
      })

    return Effect.succeed(Socket.make({ reader, writer: Effect.succeed({ write, writeAll }) }))
  })

/**
 * A `Socket` that dials `url` (`ws://` or `wss://`, or an Effect that yields it) with
 * `WebSocket.connect` for every reader acquisition — effect-nexus's `Socket.makeWebSocket`. The
 * reader's scope closing runs the closing handshake with 1000, then closes the connection.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeWebSocket = (
  url: string | Effect.Effect<string>,
  options: Options = {}
): Effect.Effect<Socket.Socket> => {
  const { highWaterMark, openTimeout, protocols, ...rest } = options
  const connectOptions: WebSocket.ConnectOptions = {
    ...rest,
    connectTimeout: openTimeout ?? rest.connectTimeout,
    protocols: typeof protocols === "string" ? [protocols] : protocols
  }
  const acquire = Effect.acquireRelease(
    Effect.mapError(
      Effect.flatMap(typeof url === "string" ? Effect.succeed(url) : url, (url) => WebSocket.connect(url, connectOptions)),
      openError
    ),
    (ws) => Effect.ignore(ws.close(CloseCode.Normal))
  )
  return fromWebSocket(acquire, { highWaterMark })
}

/**
 * A layer providing Effect's `Socket.Socket` over effect-nexus: in place of
 * `NodeSocket.layerWebSocket(url, options)` or `Socket.layerWebSocket`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWebSocket = (url: string | Effect.Effect<string>, options: Options = {}): Layer.Layer<Socket.Socket> =>
  Layer.effect(Socket.Socket, makeWebSocket(url, options))
