/**
 * effect-nexus: low-latency WebSocket and HTTP/1.1 networking for TypeScript on Node.js, built
 * on Effect. Each layer is a namespace of namespaces: `Codec` (sans-IO codecs, no Effect) and
 * `Transport` (the byte seam over TCP, TLS and memory). Also importable one layer at a time as
 * `effect-nexus/Codec` and `effect-nexus/Transport`.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as Codec from "./Codec/index.ts"
/** @since 0.1.0 */
export * as Transport from "./Transport/index.ts"
