/**
 * The reconnecting feeds as firehose consumers, shared by `bench/loopback.ts` and
 * `bench/feed-gc.ts`: each connects to `url`, reads `count` binary messages, reads each payload's
 * first and last byte into `sink` as the API hands it out, and succeeds with the milliseconds from
 * the `Connected` event to the `count`-th message.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as MarketFeed from "../src/Layers/MarketFeed.ts"
import * as Feed from "../src/Reconnect/Feed.ts"

/** Where the consumers add each payload's first and last byte (so none can skip its messages). */
export const sink = { touched: 0 }

/**
 * `Layers/MarketFeed`: `Messages` events (each a batch's payloads in one owned buffer) through
 * its bounded queue, read as chunks; every payload's bytes read through the batch's index.
 */
export const viaMarketFeed = (url: string, count: number, lent = false): Promise<number> =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const feed = yield* MarketFeed.make({ url, lent })
    const pull = yield* Stream.toPull(feed.events)
    let received = 0
    let started = 0
    while (received < count) {
      const chunk = yield* pull
      for (const event of chunk) {
        if (event._tag === "Connected") started = performance.now()
        else if (event._tag === "Messages") {
          const bytes = event.bytes
          for (let i = 0; i < event.count; i++) {
            if (event.isText(i)) continue
            sink.touched = (sink.touched + bytes[event.start(i)]! + bytes[event.end(i) - 1]!) | 0
            received++
          }
        }
      }
    }
    const elapsed = performance.now() - started
    yield* feed.stop
    return elapsed
  })))

/** The same with `lent: true`: each batch read in place before the next pull, as the contract allows. */
export const viaMarketFeedLent = (url: string, count: number): Promise<number> => viaMarketFeed(url, count, true)

/** `Reconnect/Feed`: a synchronous handler on the supervisor's push loop, each payload a view. */
export const viaFeed = (url: string, count: number): Promise<number> =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const done = yield* Deferred.make<number>()
    let received = 0
    let started = 0
    yield* Feed.make({
      url,
      onConnect: () => Effect.sync(() => void (started = performance.now())),
      onMessage: (message) => {
        const payload = message.payload
        sink.touched = (sink.touched + payload[0]! + payload[payload.length - 1]!) | 0
        if (++received === count) Deferred.doneUnsafe(done, Effect.succeed(performance.now() - started))
      }
    })
    return yield* Deferred.await(done)
  })))
