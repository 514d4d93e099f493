/**
 * Transports: the byte seam between the codecs and the wire — the `Transport` interface and its
 * errors, TCP and TLS over Node sockets, a scoped TCP listener, an HTTP/1.1 keep-alive connection and serve loop, an
 * in-memory pair for tests, an adapter from `effect/socket`, and `Dial`, the one dial path — plus `Backoff`, the schedules
 * every layer above uses. Each module is re-exported as a namespace.
 *
 * @since 0.1.0
 */

/**
 * Reconnect and acquire timings as composable `Schedule` values, used by every layer above
 * (`Pool`, `Reconnect`); `Reconnect.Backoff` is this same module.
 *
 * @since 0.1.0
 */
export * as Backoff from "./Backoff.ts"
/**
 * The one dial path: a URL's endpoint reached over TCP, TLS or a proxy tunnel.
 *
 * @since 0.1.0
 */
export * as Dial from "./Dial.ts"
/**
 * An `effect/socket` `Socket` as a `Transport`.
 *
 * @since 0.1.0
 */
export * as FromSocket from "./FromSocket.ts"
/**
 * One message to many WebSockets, each subscriber with a bounded queue and a slow-consumer policy.
 *
 * @since 0.1.0
 */
export * as Broadcast from "./Broadcast.ts"
/**
 * One HTTP/1.1 keep-alive client connection with poisoning, stale detection and idle handling.
 *
 * @since 0.1.0
 */
export * as HttpConnection from "./HttpConnection.ts"
/**
 * The server side of HTTP/1.1 over any accepted `Transport`: a keep-alive request/response loop.
 *
 * @since 0.1.0
 */
export * as HttpServe from "./HttpServe.ts"
/**
 * A TCP server as a scoped resource: each accepted connection a `Transport` in its own fiber.
 *
 * @since 0.1.0
 */
export * as Listener from "./Listener.ts"
/**
 * Two connected in-process transport ends with fault hooks, for tests.
 *
 * @since 0.1.0
 */
export * as Memory from "./Memory.ts"
/**
 * HTTP `CONNECT` proxies: which endpoints go through which proxy, and the tunnel.
 *
 * @since 0.1.0
 */
export * as Proxy from "./Proxy.ts"
/**
 * The SOCKS5 tunnel (RFC 1928, username/password per RFC 1929) for `socks5://` proxies.
 *
 * @since 0.1.0
 */
export * as Socks from "./Socks.ts"
/**
 * The socket core `Tcp` and `Tls` share: the `onread` read path, backpressure, finalizer-first dial.
 *
 * @since 0.1.0
 */
export * as SocketTransport from "./SocketTransport.ts"
/**
 * A `Transport` over `net.Socket`, scoped; `fromNetSocket` adopts an accepted socket.
 *
 * @since 0.1.0
 */
export * as Tcp from "./Tcp.ts"
/**
 * A `Transport` over `node:tls` and the shared `TlsConfig`.
 *
 * @since 0.1.0
 */
export * as Tls from "./Tls.ts"
/**
 * The byte seam: the `Transport` interface and its errors.
 *
 * @since 0.1.0
 */
export * as Transport from "./Transport.ts"
/**
 * An RFC 6455 message stream over any `Transport`, both roles.
 *
 * @since 0.1.0
 */
export * as WebSocket from "./WebSocket.ts"
/**
 * A WebSocket server on a `Listener`: handshake limits, origin and subprotocol hooks, liveness
 * pings, graceful shutdown.
 *
 * @since 0.1.0
 */
export * as WebSocketServer from "./WebSocketServer.ts"
