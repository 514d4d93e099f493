/**
 * Testing (`effect-nexus/testing`): test support, kept out of the production entry points — the
 * `RestClient` and `MarketFeed` services over scripted in-memory peers, and the peers themselves.
 * No sockets; every timing follows `TestClock`. Not re-exported by the root `effect-nexus` nor by
 * `effect-nexus/Layers`; nothing in the library imports it.
 *
 * @since 0.1.0
 */

/** `RestClientTest.layer(handler, options?)`: `RestClient` over a scripted in-memory origin. */
export * as RestClientTest from "./RestClientTest.ts"
/** `MarketFeedTest.layer(options?)`: `MarketFeed` over a scripted in-memory exchange. */
export * as MarketFeedTest from "./MarketFeedTest.ts"
/** Scripted in-memory HTTP origin and WebSocket exchange, and their control services. */
export * as TestPeers from "./TestPeers.ts"
