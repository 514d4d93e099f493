/**
 * `MarketFeedTest` — the `MarketFeed` service over a scripted in-memory exchange
 * (`TestPeers.makeFeedPeer`): the real feed supervisor dialing `Memory` pairs, so the
 * application's feed code runs unchanged with no sockets and every timing on `TestClock`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as MarketFeed from "../Layers/MarketFeed.ts"
import type * as Feed from "../Reconnect/Feed.ts"
import * as TestPeers from "./TestPeers.ts"

/**
 * `MarketFeed` over a scripted exchange (`url` default `wss://exchange.test/ws`; `dial` is
 * always the exchange's, so `socket` holds handshake and stream options only; every other option as
 * `MarketFeed.Options`, same defaults), plus the
 * exchange's control (`TestPeers.TestFeedPeer`) to publish, drop connections and refuse
 * reconnects.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Partial<MarketFeed.BaseOptions> & Pick<Feed.CustomDial<never>, "socket"> = {}
): Layer.Layer<MarketFeed.MarketFeed | TestPeers.TestFeedPeer> =>
  Layer.effectContext(
    Effect.gen(function*() {
      const peer = yield* TestPeers.makeFeedPeer()
      const feed = yield* MarketFeed.make({ url: "wss://exchange.test/ws", ...options, dial: peer.dial })
      return Context.make(MarketFeed.MarketFeed, feed).pipe(Context.add(TestPeers.TestFeedPeer, peer))
    })
  )
