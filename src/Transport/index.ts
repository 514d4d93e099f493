/**
 * Transports: the byte seam between the codecs and the wire — the `Transport` interface and its
 * errors, TCP and TLS over Node sockets, an HTTP/1.1 keep-alive connection, an in-memory pair for tests, and an adapter from
 * `effect/socket`. Each module is re-exported as a namespace.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as FromSocket from "./FromSocket.ts"
/** @since 0.1.0 */
export * as HttpConnection from "./HttpConnection.ts"
/** @since 0.1.0 */
export * as Memory from "./Memory.ts"
/** @since 0.1.0 */
export * as Tcp from "./Tcp.ts"
/** @since 0.1.0 */
export * as Tls from "./Tls.ts"
/** @since 0.1.0 */
export * as Transport from "./Transport.ts"
/** @since 0.1.0 */
export * as WebSocket from "./WebSocket.ts"
