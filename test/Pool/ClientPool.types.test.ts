/**
 * A `ClientPool` given its own `connect`, and a `Feed` / `MarketFeed` given its own `dial`, open
 * their connections the caller's way, so a connection option beside them would do nothing: each
 * one below is a type error there, and accepted without the custom `connect` / `dial`. Every
 * `@ts-expect-error` is checked by `tsc --noEmit` (part of `npm test`): if such an option ever
 * compiles again, the unused directive fails the type check.
 */
import { describe, expectTypeOf, it } from "@effect/vitest"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as MarketFeed from "../../src/Layers/MarketFeed.ts"
import * as ClientPool from "../../src/Pool/ClientPool.ts"
import * as Feed from "../../src/Reconnect/Feed.ts"
import type * as HttpConnection from "../../src/Transport/HttpConnection.ts"
import * as Proxy from "../../src/Transport/Proxy.ts"
import * as Tls from "../../src/Transport/Tls.ts"
import type { Transport } from "../../src/Transport/Transport.ts"
import type * as WebSocket from "../../src/Transport/WebSocket.ts"

// Compile-time only: wrapped in a function that is never called, so nothing is dialed.
const forbidden = (
  connect: Effect.Effect<HttpConnection.HttpConnection, HttpConnection.HttpError, Scope.Scope>,
  dial: Effect.Effect<Transport, WebSocket.WebSocketError, Scope.Scope>
): void => {
  const tls = Tls.defaultConfig()
  const proxy = Proxy.make({ host: "127.0.0.1", port: 3128 })
  const url = "https://origin.test"
  // @ts-expect-error tls is HttpConnection.connect's, and a custom connect replaces it
  ClientPool.make({ url, connect, tls })
  // @ts-expect-error proxy is HttpConnection.connect's
  ClientPool.make({ url, connect, proxy })
  // @ts-expect-error readTimeout is a connection option
  ClientPool.make({ url, connect, readTimeout: "1 second" })
  // @ts-expect-error connectTimeout is the dial's
  ClientPool.make({ url, connect, connectTimeout: "1 second" })
  // the pool's own options stay with a custom connect; the connection options without one
  ClientPool.make({ url, connect, connections: 2, basePath: "/api", maxBodySize: 1024 })
  ClientPool.make({ url, tls, proxy, readTimeout: "1 second", connectTimeout: "1 second", connections: 2 })

  const onMessage = () => undefined
  const feedUrl = "wss://feed.test/ws"
  // @ts-expect-error tls is WebSocket.connect's, and a custom dial replaces it
  Feed.make({ url: feedUrl, onMessage, dial, socket: { tls } })
  // @ts-expect-error proxy belongs to the dial
  Feed.make({ url: feedUrl, onMessage, dial, socket: { proxy } })
  // @ts-expect-error noDelay is a socket option
  Feed.make({ url: feedUrl, onMessage, dial, socket: { noDelay: false } })
  Feed.make({ url: feedUrl, onMessage, dial, socket: { headers: [["X-API-KEY", "k"]], maxBatch: 16 } })
  Feed.make({ url: feedUrl, onMessage, socket: { tls, proxy, noDelay: false, headers: [["X-API-KEY", "k"]] } })

  // @ts-expect-error tls is WebSocket.connect's, and a custom dial replaces it
  MarketFeed.make({ url: feedUrl, dial, socket: { tls } })
  // @ts-expect-error keepAlive is a socket option
  MarketFeed.make({ url: feedUrl, dial, socket: { keepAlive: "30 seconds" } })
  MarketFeed.make({ url: feedUrl, dial, socket: { protocols: ["v1"] } })
  MarketFeed.make({ url: feedUrl, socket: { tls, proxy, keepAlive: "30 seconds" } })
}

describe("connection option types beside a custom connect or dial", () => {
  it("the custom branches name every connection option never", () => {
    expectTypeOf(forbidden).toBeFunction()
    expectTypeOf<ClientPool.CustomConnectOptions["tls"]>().toEqualTypeOf<undefined>()
    expectTypeOf<NonNullable<Feed.CustomDial<never>["socket"]>["proxy"]>().toEqualTypeOf<undefined>()
  })
})
