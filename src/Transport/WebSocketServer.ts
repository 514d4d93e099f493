/**
 * `WebSocketServer` — a WebSocket server on a `Listener`: every accepted connection runs the
 * server handshake (`WebSocket.accept`) under the server's limits, then the caller's handler
 * with the open socket, in its own fiber and scope.
 *
 * ```text
 * serve(handler, options) ─► Listener.listen ─► per connection:
 *     WebSocket.accept (handshakeTimeout, maxHandshakeBytes, allowOrigin → 403, verify, selectProtocol)
 *       └─ refused / timed out: counted in handshakeFailures, onHandshakeError, socket closed
 *     handler(socket)   heartbeat pings on; limits maxFrameSize / maxMessageSize (1009 above)
 *       └─ returns with the socket still open: close 1000 (success) or 1011 (failure)
 * scope closes ─► stop accepting ─► close 1001 "server shutting down" to every client
 *               (bounded by shutdownTimeout) ─► interrupt what is left, destroy the sockets
 * ```
 *
 * Rules:
 * - **Handshake.** A client that does not finish its upgrade request within
 *   `handshakeTimeout` (default {@link DEFAULT_HANDSHAKE_TIMEOUT}) has its socket destroyed; a
 *   head over `maxHandshakeBytes` (default {@link DEFAULT_MAX_HANDSHAKE_BYTES}) is answered
 *   431; an invalid upgrade 400 / 426; an `Origin` that `allowOrigin` refuses 403. Each is a
 *   `WebSocketError` handed to `onHandshakeError` and counted; the handler never runs.
 * - **Per-connection limits** are the stream's, with server defaults: frames and messages up to
 *   {@link DEFAULT_MAX_MESSAGE_SIZE} (bigger: close 1009), the 8 KiB read slab
 *   (`bufferCapacity`), a client that sends unmasked frames gets 1002. `maxConnections` is the
 *   listener's.
 * - **Liveness.** A ping every `heartbeat.interval` (default {@link DEFAULT_PING_INTERVAL});
 *   a client from which no byte arrived for `heartbeat.timeout` (default
 *   {@link DEFAULT_PING_TIMEOUT}) is destroyed and its `recv` fails with `WebSocketTimeout`
 *   `"heartbeat"`. Bytes count when `recv` reads them: a handler that stops receiving is seen
 *   as dead. `heartbeat: false` turns it off.
 * - **Shutdown** when the scope closes: the listener stops accepting, every open client gets
 *   close 1001 `"server shutting down"` concurrently, and what has not finished after
 *   `shutdownTimeout` (default {@link DEFAULT_SHUTDOWN_TIMEOUT}) is interrupted — a handler
 *   parked in `recv` sees the client's close and ends by itself.
 * - Fan-out to many clients is `Broadcast`, whose every subscriber has a bounded queue.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import { CloseCode } from "../Codec/CloseCode.ts"
import * as Listener from "./Listener.ts"
import * as WebSocket from "./WebSocket.ts"

/**
 * Options of {@link serve}: the listener's, the stream's and the handshake's, with server
 * defaults. Defaults are given per field.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends Listener.Options, Omit<WebSocket.AcceptOptions, "heartbeat"> {
  /** Time for the upgrade request to arrive and be answered. Default 5 s ({@link DEFAULT_HANDSHAKE_TIMEOUT}). */
  readonly handshakeTimeout?: Duration.Input | undefined
  /** Largest upgrade request head (431 above). Default 8 KiB ({@link DEFAULT_MAX_HANDSHAKE_BYTES}). */
  readonly maxHandshakeBytes?: number | undefined
  /** Largest frame (1009 above). Default 1 MiB ({@link DEFAULT_MAX_MESSAGE_SIZE}). */
  readonly maxFrameSize?: number | undefined
  /** Largest message (1009 above). Default 1 MiB ({@link DEFAULT_MAX_MESSAGE_SIZE}). */
  readonly maxMessageSize?: number | undefined
  /** Whether a client's `Origin` (`undefined` when none was sent) may connect; refused: 403. Default: every origin. */
  readonly allowOrigin?: ((origin: string | undefined) => boolean) | undefined
  /** Liveness pings, or `false`. Default every 30 s, dead after 60 s of silence (see the module doc). */
  readonly heartbeat?: { readonly interval: Duration.Input; readonly timeout: Duration.Input } | false | undefined
  /** How long shutdown waits for the clients' close replies. Default 2 s ({@link DEFAULT_SHUTDOWN_TIMEOUT}). */
  readonly shutdownTimeout?: Duration.Input | undefined
  /** Sees every failed handshake. Default: counted only. */
  readonly onHandshakeError?: ((error: WebSocket.WebSocketError) => void) | undefined
}

/**
 * A running server: its listener (address, port, connection counters) and its clients.
 *
 * @since 0.1.0
 * @category models
 */
export interface Server {
  /** `host:port` as bound. */
  readonly address: string
  /** The bound port. */
  readonly port: number
  /** The listener underneath, with its counters. */
  readonly listener: Listener.Listener
  /** Clients whose handshake succeeded and whose handler is running. */
  readonly clients: ReadonlySet<WebSocket.WebSocket>
  /** Connections whose handshake failed or timed out. */
  readonly handshakeFailures: number
}

/**
 * Default handshake timeout: 5 s.
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_HANDSHAKE_TIMEOUT: Duration.Duration = Duration.seconds(5)

/**
 * Default largest upgrade request head: 8 KiB (nginx's `large_client_header_buffers` size).
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_MAX_HANDSHAKE_BYTES = 8 * 1024

/**
 * Default largest frame and message a client may send: 1 MiB.
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024

/**
 * Default ping interval: 30 s.
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_PING_INTERVAL: Duration.Duration = Duration.seconds(30)

/**
 * Default silence after which a client is dead: 60 s.
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_PING_TIMEOUT: Duration.Duration = Duration.seconds(60)

/**
 * Default time shutdown waits for the clients' close replies: 2 s.
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_SHUTDOWN_TIMEOUT: Duration.Duration = Duration.seconds(2)

const originRefusal = { status: 403, reason: "origin not allowed" } as const

/** The `accept` options with the server defaults and the origin hook folded into `verify`. */
const acceptOptions = (options: Options): WebSocket.AcceptOptions => {
  const allowOrigin = options.allowOrigin
  const verify = options.verify
  return {
    ...options,
    handshakeTimeout: options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
    maxHandshakeBytes: options.maxHandshakeBytes ?? DEFAULT_MAX_HANDSHAKE_BYTES,
    maxFrameSize: options.maxFrameSize ?? DEFAULT_MAX_MESSAGE_SIZE,
    maxMessageSize: options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
    heartbeat: options.heartbeat === false
      ? undefined
      : options.heartbeat ?? { interval: DEFAULT_PING_INTERVAL, timeout: DEFAULT_PING_TIMEOUT },
    verify: allowOrigin === undefined ? verify : (upgrade) =>
      allowOrigin(upgrade.origin) ? verify?.(upgrade) : originRefusal
  }
}

/**
 * Serves WebSockets: listens (see `Listener.listen`), accepts each connection under the
 * server's limits and runs `handler` with the open socket (see the module doc). Succeeds once
 * the socket listens; the server lives in the current scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const serve = <E, R>(
  handler: (socket: WebSocket.WebSocket) => Effect.Effect<unknown, E, R>,
  options: Options = {}
): Effect.Effect<Server, Listener.ListenFailure, Scope.Scope | Exclude<R, Scope.Scope>> =>
  Effect.gen(function*() {
    const accept = acceptOptions(options)
    const clients = new Set<WebSocket.WebSocket>()
    let handshakeFailures = 0

    const connection = (transport: Parameters<typeof WebSocket.accept>[0]) =>
      Effect.gen(function*() {
        const accepted = yield* Effect.result(WebSocket.accept(transport, accept))
        if (accepted._tag === "Failure") {
          handshakeFailures++
          options.onHandshakeError?.(accepted.failure)
          return
        }
        const socket = accepted.success
        clients.add(socket)
        yield* Effect.addFinalizer(() => Effect.sync(() => clients.delete(socket)))
        const exit = yield* Effect.exit(handler(socket))
        // a handler that returned (not one interrupted by shutdown) leaves no socket half-open
        if (socket.state === "open" && !(Exit.isFailure(exit) && Exit.hasInterrupts(exit))) {
          yield* Effect.ignore(socket.close(Exit.isSuccess(exit) ? CloseCode.Normal : CloseCode.InternalError))
        }
        return yield* exit
      })

    const listener = yield* Listener.listen(connection, options)
    const shutdownTimeout = Duration.fromInputUnsafe(options.shutdownTimeout ?? DEFAULT_SHUTDOWN_TIMEOUT)
    // runs before the listener's own finalizer (added earlier), which interrupts what is left
    yield* Effect.addFinalizer(() =>
      Effect.andThen(
        listener.stop,
        Effect.forEach(
          [...clients],
          (socket) =>
            socket.state === "open" ? Effect.ignore(socket.close(CloseCode.GoingAway, "server shutting down")) : Effect.void,
          { concurrency: "unbounded", discard: true }
        ).pipe(Effect.timeout(shutdownTimeout), Effect.ignore)
      )
    )
    const server: Server = {
      address: listener.address,
      port: listener.port,
      listener,
      clients,
      get handshakeFailures() {
        return handshakeFailures
      }
    }
    return server
  })
