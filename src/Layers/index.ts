/**
 * Layers: the toolkit as Context services — a REST client on the pool, a market feed on the
 * supervisor, shared TLS settings — each with `layer(options)` and `layerConfig` (environment).
 * Their test layers over scripted in-memory peers are in `effect-nexus/testing`.
 *
 * @since 0.1.0
 */

/** A `ClientPool` as a service. */
export * as RestClient from "./RestClient.ts"
/** A supervised WebSocket feed as a service. */
export * as MarketFeed from "./MarketFeed.ts"
/** The shared `TlsConfig` as a service. */
export * as TlsSettings from "./TlsSettings.ts"
/** Effect's `HttpClient` service over one `ClientPool` per origin (in place of `NodeHttpClient.layerUndici`). */
export * as NexusHttpClient from "./NexusHttpClient.ts"
/** Effect's `Socket.Socket` over effect-nexus's WebSocket (in place of `NodeSocket.layerWebSocket`). */
export * as NexusSocket from "./NexusSocket.ts"
