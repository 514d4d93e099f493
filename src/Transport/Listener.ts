/**
 * `Listener` — a TCP server as a scoped resource: every accepted connection becomes a
 * `Transport` (`Tcp.fromNetSocket`) handed to a handler that runs in its own fiber and its own
 * `Scope`; closing the listener's scope shuts it all down.
 *
 * ```text
 * listen(handler, { host, port, maxConnections, reusePort })   → Listener { address, port, open, … }
 *        │ per connection: a fiber, a Scope, a Transport
 *        ▼
 * handler(transport)   its failure or defect ends that connection only (counted in `failed`)
 * ```
 *
 * Rules:
 * - **Lifetimes.** A connection's socket is destroyed when its handler ends (the connection's
 *   scope closes), whatever the outcome — once what the handler wrote has left Node's buffer
 *   (the transport is ended first; at most {@link DEFAULT_FLUSH_TIMEOUT}), unless shutdown
 *   interrupted it. The listener lives in the scope it was made in.
 * - **Shutdown** when that scope closes: stop accepting (the listening socket is closed), then
 *   interrupt every handler — each connection's scope closes, so its finalizers run (this is
 *   where `WebSocketServer` has already said 1001 "going away") and its socket is destroyed —
 *   then wait for Node to report the server closed. `stop` stops accepting early and leaves the
 *   open connections alone.
 * - **Limits.** Above `maxConnections` open connections (default
 *   {@link DEFAULT_MAX_CONNECTIONS}) a new connection is destroyed at once, before any byte is
 *   read, and counted in `refused`; the handler never sees it.
 * - **Errors.** A listening socket that cannot be opened fails `listen` with a
 *   {@link ListenFailure} (`TransportError<ListenError>`), operation `"listen"` (kind
 *   `AddressInUse`, `AccessDenied`, …). A failed
 *   accept (`EMFILE` when the process is out of descriptors) does not stop the listener: it is
 *   a `ListenError` operation `"accept"`, handed to `onAcceptError` (default: counted in
 *   `acceptErrors` only).
 * - **Several processes, one port** (`reusePort: true`, Linux, Node ≥ 22.12): every process
 *   that listens with it on the same port gets its own accept queue, and the kernel spreads
 *   new connections over them — the multi-core recipe of `docs/server.md`.
 *
 * Sockets are created with `allowHalfOpen` (a peer's FIN must not end our side before a
 * WebSocket close echo or an HTTP answer is written) and `noDelay` (default `true`).
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import type * as Scope from "effect/Scope"
import * as net from "node:net"
import * as Tcp from "./Tcp.ts"
import { formatAddress, ListenError, type ListenErrorKind, type Transport, type TransportError, transportError } from "./Transport.ts"

/**
 * How a listener fails: the transport wrapper over a server socket's own reason, `ListenError`
 * (no dial or stream reason can occur here, and no client-side error admits this one).
 *
 * @since 0.1.0
 * @category errors
 */
export type ListenFailure = TransportError<ListenError>

/**
 * Options of {@link listen}. Defaults are given per field.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Address to bind. Default `"127.0.0.1"`: loopback only. */
  readonly host?: string | undefined
  /** Port to bind; 0 picks a free one (read it from `Listener.port`). Default 0. */
  readonly port?: number | undefined
  /** The kernel's queue of connections not yet accepted. Default 511 ({@link DEFAULT_BACKLOG}), Node's. */
  readonly backlog?: number | undefined
  /** `SO_REUSEPORT`: several processes listen on one port, the kernel balances (Linux). Default `false`. */
  readonly reusePort?: boolean | undefined
  /** Most connections open at once; more are destroyed on arrival. Default 10 000 ({@link DEFAULT_MAX_CONNECTIONS}). */
  readonly maxConnections?: number | undefined
  /** Disables Nagle's algorithm on every connection. Default `true`. */
  readonly noDelay?: boolean | undefined
  /** The transport's read high-water mark per connection. Default 64 KiB (`Tcp.DEFAULT_READ_HIGH_WATER_MARK`). */
  readonly readHighWaterMark?: number | undefined
  /**
   * Busy-poll while a connection's read waits (`SocketOptions.busyPoll`): for a server that must
   * answer within microseconds and has a core to spare; one event-loop turn serves every polling
   * connection. Default off.
   */
  readonly busyPoll?: Duration.Input | undefined
  /** Sees every failed accept (`ListenError` operation `"accept"`). Default: counted only. */
  readonly onAcceptError?: ((error: ListenFailure) => void) | undefined
}

/**
 * A listening server and its counters (live values, read them at any time).
 *
 * @since 0.1.0
 * @category models
 */
export interface Listener {
  /** `host:port` as bound. */
  readonly address: string
  /** The bound port (the one picked when `port` was 0). */
  readonly port: number
  /** Connections whose handler is running now. */
  readonly open: number
  /** Connections handed to the handler so far. */
  readonly accepted: number
  /** Connections destroyed on arrival because `maxConnections` were open. */
  readonly refused: number
  /** Handlers that ended with a failure or a defect (interruption by shutdown not counted). */
  readonly failed: number
  /** Accepts the kernel failed (`onAcceptError` saw each). */
  readonly acceptErrors: number
  /** Stops accepting; open connections go on until their handlers end or the scope closes. */
  readonly stop: Effect.Effect<void>
}

/** The bind address unless `host` says otherwise: loopback only. */
const LOOPBACK = "127.0.0.1"

/**
 * Default listen backlog: 511, as Node's `server.listen`.
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_BACKLOG = 511

/**
 * Default most open connections: 10 000.
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_MAX_CONNECTIONS = 10_000

const errorCode = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && typeof (cause as { code?: unknown }).code === "string"
    ? (cause as { code: string }).code
    : undefined

/**
 * Maps a Node server error to a `ListenError` kind.
 *
 * @since 0.1.0
 * @category errors
 */
export const listenErrorKind = (cause: unknown): ListenErrorKind => {
  switch (errorCode(cause)) {
    case "EADDRINUSE":
      return "AddressInUse"
    case "EACCES":
    case "EPERM":
      return "AccessDenied"
    case "EADDRNOTAVAIL":
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_NONAME":
      return "AddressNotAvailable"
    case "EMFILE":
    case "ENFILE":
      return "TooManyOpenFiles"
    default:
      return "Other"
  }
}

/**
 * Listens on `host:port` and runs `handler` for every accepted connection, each in its own
 * fiber and scope (see the module doc for shutdown, limits and errors). Succeeds once the
 * socket listens.
 *
 * @since 0.1.0
 * @category constructors
 */
export const listen = <E, R>(
  handler: (transport: Transport) => Effect.Effect<unknown, E, R>,
  options: Options = {}
): Effect.Effect<Listener, ListenFailure, Scope.Scope | Exclude<R, Scope.Scope>> =>
  Effect.gen(function*() {
    const host = options.host ?? LOOPBACK
    const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS
    const socketOptions: Tcp.FromNetSocketOptions = {
      noDelay: options.noDelay ?? true,
      readHighWaterMark: options.readHighWaterMark,
      busyPoll: options.busyPoll
    }
    const fibers = yield* FiberSet.make<unknown, never>()
    const run = yield* FiberSet.runtime(fibers)<Exclude<R, Scope.Scope>>()
    const sockets = new Set<net.Socket>()
    const counts = { accepted: 0, refused: 0, failed: 0, acceptErrors: 0 }
    let accepting = true
    let address = formatAddress(host, options.port ?? 0)

    const serveOne = (socket: net.Socket) =>
      Effect.scoped(Effect.flatMap(Tcp.fromNetSocket(socket, socketOptions), (transport) =>
        Effect.onExit(handler(transport), (exit) =>
          // shutdown interrupts: torn down at once; otherwise what the handler wrote goes out first
          Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) ? Effect.void : flushWrites(transport, socket)))).pipe(
        Effect.catchCause((cause) =>
          Effect.sync(() => {
            // interruption is the shutdown's doing, not the handler's failure
            if (!Cause.hasInterruptsOnly(cause)) counts.failed++
          })
        ),
        Effect.ensuring(Effect.sync(() => {
          sockets.delete(socket)
          socket.destroy()
        }))
      )

    const server = net.createServer({ allowHalfOpen: true, noDelay: options.noDelay ?? true }, (socket) => {
      // an error before the transport attaches (a reset right after accept) must not go unhandled
      socket.on("error", ignore)
      if (!accepting || sockets.size >= maxConnections) {
        if (accepting) counts.refused++
        socket.destroy()
        return
      }
      counts.accepted++
      sockets.add(socket)
      run(serveOne(socket))
    })
    // Node emits 'close' once, when the handle is closed and every connection is gone
    const closed = new Promise<void>((resolve) => server.once("close", () => resolve()))
    const stopAccepting = () => {
      if (!accepting) return
      accepting = false
      server.close()
    }
    // finalizer first: a failed or interrupted listen still closes the server
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        stopAccepting()
        yield* FiberSet.clear(fibers)
        for (const socket of sockets) socket.destroy()
        yield* Effect.promise(() => closed)
      })
    )
    yield* Effect.callback<void, ListenFailure>((resume) => {
      const onError = (cause: Error) => {
        server.off("listening", onListening)
        resume(Effect.fail(transportError(address, new ListenError({ operation: "listen", kind: listenErrorKind(cause), cause }))))
      }
      const onListening = () => {
        server.off("error", onError)
        resume(Effect.void)
      }
      server.once("error", onError)
      server.once("listening", onListening)
      server.listen({
        host,
        port: options.port ?? 0,
        backlog: options.backlog ?? DEFAULT_BACKLOG,
        reusePort: options.reusePort ?? false
      })
      return Effect.sync(() => {
        server.off("error", onError)
        server.off("listening", onListening)
      })
    })
    const port = (server.address() as net.AddressInfo).port
    address = formatAddress(host, port)
    server.on("error", (cause) => {
      counts.acceptErrors++
      options.onAcceptError?.(
        transportError(address, new ListenError({ operation: "accept", kind: listenErrorKind(cause), cause }))
      )
    })
    const listener: Listener = {
      address,
      port,
      get open() {
        return sockets.size
      },
      get accepted() {
        return counts.accepted
      },
      get refused() {
        return counts.refused
      },
      get failed() {
        return counts.failed
      },
      get acceptErrors() {
        return counts.acceptErrors
      },
      stop: Effect.sync(stopAccepting)
    }
    return listener
  })

const ignore = (): void => {}

/**
 * How long a connection whose handler ended may take to hand its last written bytes to the
 * kernel before its socket is destroyed: 5 s.
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_FLUSH_TIMEOUT: Duration.Duration = Duration.seconds(5)

/**
 * Ends the transport (FIN behind what was written) and waits, up to {@link DEFAULT_FLUSH_TIMEOUT},
 * until Node's buffer of the socket is empty: a write the transport reported done may still sit
 * there behind a full kernel buffer (it is under the high-water mark), and destroying the socket
 * would discard it — the tail of an HTTP answer to a client that half-closed, say.
 */
const flushWrites = (transport: Transport, socket: net.Socket): Effect.Effect<void> =>
  Effect.andThen(
    transport.end(),
    Effect.callback<void>((resume) => {
      if (socket.destroyed || socket.writableLength === 0) return resume(Effect.void)
      const done = () => {
        cleanup()
        resume(Effect.void)
      }
      const cleanup = () => {
        socket.off("finish", done)
        socket.off("close", done)
        socket.off("error", done)
      }
      socket.once("finish", done)
      socket.once("close", done)
      socket.once("error", done)
      return Effect.sync(cleanup)
    }).pipe(Effect.timeout(DEFAULT_FLUSH_TIMEOUT), Effect.ignore)
  )
