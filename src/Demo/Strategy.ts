/**
 * `Strategy` — the sample trading strategy of the demo, written only against the services in
 * `src/Layers` (`RestClient`, `MarketFeed`; the snapshot retry is `RestClient.retryIdempotent`),
 * so the same code runs against the embedded demo exchange over real sockets and against the
 * test layers of `effect-nexus/testing` under `TestClock`.
 *
 * What it does: reads quotes (`{"type":"quote","symbol","bid","ask","seq"}`) from the feed,
 * checks their sequence numbers, and places a limit order (POST, never retried) every
 * `orderEvery` quotes without blocking the feed. After every reconnect it resynchronises with
 * an idempotent snapshot GET (retried on transport errors). Each order has a deadline
 * (`orderTimeout`); a timeout, a pool outage (`AcquireTimeout`, connect errors) and an HTTP
 * error status are counted apart, so a dashboard tells them apart.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Stream from "effect/Stream"
import { MarketFeed, type Messages } from "../Layers/MarketFeed.ts"
import { RestClient, retryIdempotent } from "../Layers/RestClient.ts"

/**
 * Options of {@link run}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The symbol traded, e.g. `BTC-USD`. */
  readonly symbol: string
  /** Place an order every this many quotes. Default 10. */
  readonly orderEvery?: number | undefined
  /** Deadline of one order round trip. Default 500 ms. */
  readonly orderTimeout?: Duration.Input | undefined
  /** Orders in flight at most; quotes beyond it place none. Default 32. */
  readonly maxOpenOrders?: number | undefined
}

/**
 * What the strategy has seen and done; mutable, read for the live status line.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  quotes: number
  /** Quotes whose `seq` was not the previous one plus one (after a resync: counted from the snapshot). */
  sequenceBreaks: number
  gaps: number
  reconnects: number
  resyncs: number
  ordersOk: number
  /** Orders answered with a status other than 200. */
  ordersRejected: number
  orderTimeouts: number
  /** Orders that could not be sent or answered: no connection, connect refused, reset. */
  ordersFailed: number
  /** Quotes that would have placed an order while `maxOpenOrders` were in flight. */
  ordersSkipped: number
  openOrders: number
  /** Order round trips in microseconds, in completion order. */
  readonly roundTrips: Array<number>
  lastSeq: number
}

/**
 * Fresh, zeroed stats.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeStats = (): Stats => ({
  quotes: 0,
  sequenceBreaks: 0,
  gaps: 0,
  reconnects: 0,
  resyncs: 0,
  ordersOk: 0,
  ordersRejected: 0,
  orderTimeouts: 0,
  ordersFailed: 0,
  ordersSkipped: 0,
  openOrders: 0,
  roundTrips: [],
  lastSeq: -1
})

/**
 * The `q`-quantile of `values` (0 when empty).
 *
 * @since 0.1.0
 * @category utils
 */
export const quantile = (values: ReadonlyArray<number>, q: number): number => {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

interface Quote {
  readonly type: "quote"
  readonly symbol: string
  readonly bid: number
  readonly ask: number
  readonly seq: number
}

const decoder = new TextDecoder()

/** Message `i` of a batch as a quote, if it is one. */
const parseQuote = (messages: Messages, i: number): Quote | undefined => {
  if (!messages.isText(i)) return undefined
  try {
    const value = JSON.parse(messages.text(i)) as Partial<Quote>
    return value.type === "quote" && typeof value.seq === "number" ? (value as Quote) : undefined
  } catch {
    return undefined
  }
}

/**
 * Runs the strategy until the feed's event stream ends (the feed stopped) or the fiber is
 * interrupted; open orders are interrupted with it.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (options: Options, stats: Stats): Effect.Effect<void, never, RestClient | MarketFeed> =>
  Effect.gen(function*() {
    const rest = yield* RestClient
    const feed = yield* MarketFeed
    const orders = yield* FiberSet.make<void, never>()
    const orderEvery = options.orderEvery ?? 10
    const maxOpen = options.maxOpenOrders ?? 32
    const timeout = Duration.fromInputUnsafe(options.orderTimeout ?? "500 millis")

    const placeOrder = (quote: Quote) =>
      Effect.gen(function*() {
        const t0 = yield* Clock.currentTimeNanos
        const body = JSON.stringify({ symbol: quote.symbol, side: "BUY", type: "LIMIT", price: quote.bid, qty: 0.01, ref: quote.seq })
        // a POST: never retried by the library or here — a lost order is counted, not re-sent
        const outcome = yield* rest.request((w) =>
          w.post("/order").header("Content-Type", "application/json").body(body).finish()
        ).pipe(Effect.timeoutOption(timeout), Effect.result)
        if (outcome._tag === "Failure") stats.ordersFailed++
        else if (outcome.success._tag === "None") stats.orderTimeouts++
        else if (outcome.success.value.status !== 200) stats.ordersRejected++
        else {
          stats.ordersOk++
          stats.roundTrips.push(Number((yield* Clock.currentTimeNanos) - t0) / 1000)
        }
      }).pipe(Effect.ensuring(Effect.sync(() => void stats.openOrders--)))

    const resync = Effect.gen(function*() {
      const snapshot = yield* retryIdempotent(
        "GET",
        rest.request((w) => w.get("/snapshot").query("symbol", options.symbol).finish())
      ).pipe(Effect.option)
      if (snapshot._tag === "Some" && snapshot.value.status === 200) {
        const seq = (JSON.parse(decoder.decode(snapshot.value.body)) as { seq?: number }).seq
        if (typeof seq === "number") stats.lastSeq = seq
        stats.resyncs++
      }
    })

    const onQuote = (quote: Quote) =>
      Effect.gen(function*() {
        stats.quotes++
        if (stats.lastSeq >= 0 && quote.seq !== stats.lastSeq + 1 && quote.seq > stats.lastSeq) stats.sequenceBreaks++
        stats.lastSeq = Math.max(stats.lastSeq, quote.seq)
        if (stats.quotes % orderEvery !== 0) return
        if (stats.openOrders >= maxOpen) {
          stats.ordersSkipped++
          return
        }
        stats.openOrders++
        yield* FiberSet.run(orders, placeOrder(quote))
      })

    yield* Stream.runForEach(feed.events, (event) =>
      Effect.gen(function*() {
        switch (event._tag) {
          case "Gap":
            stats.gaps++
            return
          case "Connected":
            if (event.session > 1) {
              stats.reconnects++
              yield* resync
            }
            return
          case "Messages":
            for (let i = 0; i < event.count; i++) {
              const quote = parseQuote(event, i)
              if (quote !== undefined && quote.symbol === options.symbol) yield* onQuote(quote)
            }
        }
      }))
  }).pipe(Effect.scoped)
