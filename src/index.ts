/**
 * effect-nexus: low-latency WebSocket and HTTP/1.1 networking for TypeScript on Node.js, built
 * on Effect. Each layer is a namespace of namespaces: `Codec` (sans-IO codecs, no Effect),
 * `Transport` (the byte seam over TCP, TLS and memory, the WebSocket stream and the HTTP/1.1
 * connection), `Pool` (the self-healing REST pool), `Reconnect` (backoff schedules and the feed
 * supervisor) and `Layers` (the toolkit as Context services). Also importable one layer at a
 * time as `effect-nexus/Codec`, `effect-nexus/Transport`, `effect-nexus/Pool`,
 * `effect-nexus/Reconnect` and `effect-nexus/Layers`.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as Codec from "./Codec/index.ts"
/** @since 0.1.0 */
export * as Transport from "./Transport/index.ts"
/** @since 0.1.0 */
export * as Pool from "./Pool/index.ts"
/** @since 0.1.0 */
export * as Reconnect from "./Reconnect/index.ts"
/** @since 0.1.0 */
export * as Layers from "./Layers/index.ts"
