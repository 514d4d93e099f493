/**
 * Layers: the toolkit as Context services — a REST client on the pool, a market feed on the
 * supervisor, shared TLS and proxy settings — each with `layer(options)` and `layerConfig` (environment).
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
/** The shared proxy rules (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`) as a service. */
export * as ProxySettings from "./ProxySettings.ts"
/** Effect's `HttpClient` service over one `ClientPool` per origin (in place of `NodeHttpClient.layerUndici`). */
export * as NexusHttpClient from "./NexusHttpClient.ts"
/** Session files on disk: reading one back, and `SessionError`. */
export * as SessionLog from "./SessionLog.ts"
/** Appends a session to a file as it happens (buffered, scoped, secrets redacted). */
export * as SessionRecorder from "./SessionRecorder.ts"
/** Records the `MarketFeed`/`RestClient` services, a `WebSocket` or a `ClientPool` into a `SessionRecorder`. */
export * as Recording from "./Recording.ts"
/** `MarketFeed.layerReplay`'s implementation: the feed served from a session file. */
export * as MarketFeedReplay from "./MarketFeedReplay.ts"
/** `RestClient.layerReplay`'s implementation: the REST client served from a session file. */
export * as RestClientReplay from "./RestClientReplay.ts"
/** Effect's `Socket.Socket` over effect-nexus's WebSocket (in place of `NodeSocket.layerWebSocket`). */
export * as NexusSocket from "./NexusSocket.ts"
