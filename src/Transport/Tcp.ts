/**
 * `Tcp` — a `Transport` over a Node `net.Socket`, opened as a Scope-managed resource.
 *
 * `connect` dials with the shared socket core (`SocketTransport`: the `onread` read path,
 * backpressure, the finalizer registered before dialing); dial errors become a `TransportError`
 * whose reason is a `ConnectError` with a `kind` naming the fault, and `connectTimeout`
 * (default {@link DEFAULT_CONNECT_TIMEOUT}, 10 s) is measured with Effect's `Clock`, so a
 * black-holed address fails with kind `"Timeout"`. To dial a URL (TCP, TLS or through a proxy,
 * decided in one place) use `Dial.url`; `fromNetSocket` adopts a socket a server accepted.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as net from "node:net"
import {
  connectErrorKind,
  DEFAULT_READ_HIGH_WATER_MARK,
  dial,
  feedFromData,
  type SocketOptions,
  SocketTransport,
  socketOptions
} from "./SocketTransport.ts"
import { ConnectError, formatAddress, Transport, type TransportError, transportError } from "./Transport.ts"

/**
 * The dial defaults, defined with the socket core and re-exported here where users look for
 * them: `DEFAULT_CONNECT_TIMEOUT` (10 s, undici's `connectTimeout`; for TLS the handshake is
 * included) and `DEFAULT_READ_HIGH_WATER_MARK` (64 KiB).
 *
 * @since 0.1.0
 * @category defaults
 */
export { DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_HIGH_WATER_MARK } from "./SocketTransport.ts"

/**
 * Options for {@link connect}: where to, plus the socket options.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectOptions extends SocketOptions {
  /** Host name or IP literal. */
  readonly host: string
  /** TCP port. */
  readonly port: number
}

/**
 * Opens a TCP connection. The socket lives until the surrounding scope closes (or `destroy`).
 * Defaults: `noDelay` true, keep-alive off, connect timeout 10 s, read high-water mark 64 KiB.
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect: (options: ConnectOptions) => Effect.Effect<Transport, TransportError, Scope.Scope> = Effect.fn(
  "Tcp.connect"
)(function*(options: ConnectOptions) {
  const address = formatAddress(options.host, options.port)
  return yield* dial<TransportError>({
    address,
    readHighWaterMark: options.readHighWaterMark ?? DEFAULT_READ_HIGH_WATER_MARK,
    busyPoll: options.busyPoll,
    connectTimeout: options.connectTimeout,
    open: (transport) => net.connect(socketOptions(transport, options)),
    readyEvent: "connect",
    onError: (cause) => transportError(address, new ConnectError({ kind: connectErrorKind(cause), cause })),
    onTimeout: (_, after) =>
      transportError(
        address,
        new ConnectError({ kind: "Timeout", cause: new Error(`no connection within ${Duration.format(after)}`) })
      )
  })
})

/**
 * A layer providing the `Transport` service over one TCP connection, closed with the layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: ConnectOptions): Layer.Layer<Transport, TransportError> =>
  Layer.effect(Transport, connect(options))

/**
 * Options for {@link fromNetSocket}.
 *
 * @since 0.1.0
 * @category models
 */
export interface FromNetSocketOptions {
  /** The address named in error messages. Default the socket's `remoteAddress:remotePort`. */
  readonly remoteAddress?: string | undefined
  /** Bytes buffered unread before the socket is paused. Default 64 KiB. */
  readonly readHighWaterMark?: number | undefined
  /** Disables Nagle's algorithm (`TCP_NODELAY`). Default `true`. */
  readonly noDelay?: boolean | undefined
  /** Busy-poll while a read waits (`SocketOptions.busyPoll`). Default off. */
  readonly busyPoll?: Duration.Input | undefined
}

/**
 * Adopts a connected `net.Socket` that Node created (a `net.Server` connection, or a
 * `tls.Server` secure connection) as a `Transport` owned by the current scope: closing the scope
 * destroys it. Such sockets cannot take `onread`, so bytes arrive through `'data'` events (one
 * `Buffer` per read, the cost a server pays) and are copied like the `onread` path; above the
 * read high-water mark the socket is paused. Attach it before any `'data'` listener runs.
 * Create the server with `allowHalfOpen: true`, or Node ends the socket as soon as the peer
 * half-closes and a reply (a WebSocket close echo) can no longer be written.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromNetSocket = (
  socket: net.Socket,
  options: FromNetSocketOptions = {}
): Effect.Effect<Transport, never, Scope.Scope> =>
  Effect.flatMap(Effect.scope, (scope) =>
    Effect.suspend(() => {
      const address = options.remoteAddress ??
        formatAddress(socket.remoteAddress ?? "unknown", socket.remotePort ?? 0)
      const transport = new SocketTransport(address, options.readHighWaterMark ?? DEFAULT_READ_HIGH_WATER_MARK, options.busyPoll)
      transport.attach(socket)
      socket.setNoDelay(options.noDelay ?? true)
      feedFromData(transport, socket)
      if (socket.destroyed) transport.destroyNow()
      return Effect.as(Scope.addFinalizer(scope, Effect.sync(() => transport.destroyNow())), transport as Transport)
    }))
