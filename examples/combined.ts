/**
 * Recipe: a combined REST + WebSocket exchange client (the seeds' "Combined REST + WebSocket
 * client"), written against the `Layers` services only: `MarketFeed` for market data (its own
 * connection, reconnecting and re-subscribing on its own) and `RestClient` (a `ClientPool`) for
 * snapshots and orders. The program never sees a socket, so the same code runs on the real
 * layers here and on the test layers of `effect-nexus/testing` (`RestClientTest`,
 * `MarketFeedTest`) in unit tests.
 *
 * What it does: on every (re)connect of the feed it GETs a snapshot (`GET /snapshot?symbol=`,
 * retried while idempotent) to resynchronise; on every `--order-every`-th quote it POSTs an
 * order (never retried); it stops after `--quotes` quotes (default 50) or `--seconds`
 * (default 10) and prints a summary.
 *
 * ```text
 * node examples/combined.ts [--rest URL --feed URL] [--quotes N] [--order-every K] [--seconds S]
 * ```
 *
 * Endpoints: `--rest` and `--feed` together; otherwise from the environment through the layers'
 * `layerConfig` (`NEXUS_REST_URL`, `NEXUS_REST_BASE_PATH`, `NEXUS_REST_API_KEY`, `NEXUS_FEED_URL`,
 * `NEXUS_FEED_SUBSCRIPTIONS`, …; see `RestClient` and `MarketFeed`); with neither, the project's
 * demo exchange is started on 127.0.0.1. With `--rest`/`--feed` the base path is `/api/v3` and
 * the subscription `BTC-USD@quote`.
 *
 * @since 0.1.0
 */
import type * as Config from "effect/Config"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { parseArgs } from "node:util"
import * as Exchange from "../src/Demo/Exchange.ts"
import * as MarketFeed from "../src/Layers/MarketFeed.ts"
import * as RestClient from "../src/Layers/RestClient.ts"
import type * as HttpConnection from "../src/Transport/HttpConnection.ts"
import type { TransportError } from "../src/Transport/Transport.ts"
import { numberOption, runProgram } from "./internal/program.ts"

/**
 * Where the services come from.
 *
 * @since 0.1.0
 * @category models
 */
export type Endpoints =
  | { readonly _tag: "Urls"; readonly rest: string; readonly feed: string }
  | { readonly _tag: "Environment" }
  | { readonly _tag: "Demo" }

/**
 * Options of {@link main}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly endpoints: Endpoints
  readonly symbol: string
  readonly quotes: number
  readonly orderEvery: number
  readonly seconds: number
  /** Where lines go. Default `console.log`. */
  readonly print?: ((line: string) => void) | undefined
}

/**
 * What a run did.
 *
 * @since 0.1.0
 * @category models
 */
export interface Summary {
  quotes: number
  sessions: number
  snapshots: number
  ordersOk: number
  ordersFailed: number
}

/**
 * Reads the options from `argv` (without `node` and the script) and the environment.
 *
 * @since 0.1.0
 * @category options
 */
export const optionsFrom = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Options => {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      rest: { type: "string" },
      feed: { type: "string" },
      symbol: { type: "string" },
      quotes: { type: "string" },
      "order-every": { type: "string" },
      seconds: { type: "string" }
    }
  })
  const endpoints: Endpoints = values.rest !== undefined && values.feed !== undefined
    ? { _tag: "Urls", rest: values.rest, feed: values.feed }
    : env.NEXUS_REST_URL !== undefined || env.NEXUS_FEED_URL !== undefined
    ? { _tag: "Environment" }
    : { _tag: "Demo" }
  return {
    endpoints,
    symbol: values.symbol ?? "BTC-USD",
    quotes: numberOption("--quotes", values.quotes, 50, 1),
    orderEvery: numberOption("--order-every", values["order-every"], 10, 1),
    seconds: numberOption("--seconds", values.seconds, 10)
  }
}

/** A quote `{"type":"quote","bid","seq",…}`, or `undefined` for anything else (acks, non-JSON). */
const parseQuote = (text: string): { readonly bid: unknown; readonly seq: unknown } | undefined => {
  try {
    const value = JSON.parse(text) as { type?: unknown; bid?: unknown; seq?: unknown } | null
    return value !== null && value.type === "quote" ? { bid: value.bid, seq: value.seq } : undefined
  } catch {
    return undefined
  }
}

/**
 * The strategy: only the services, no sockets. Resyncs on every connect, orders on every
 * `orderEvery`-th quote, until `quotes` quotes or `seconds`.
 *
 * @since 0.1.0
 * @category running
 */
export const trade = (
  options: Options,
  summary: Summary
): Effect.Effect<void, never, RestClient.RestClient | MarketFeed.MarketFeed> =>
  Effect.gen(function*() {
    const print = options.print ?? console.log
    const rest = yield* RestClient.RestClient
    const feed = yield* MarketFeed.MarketFeed
    const enough = yield* Deferred.make<void>()

    const snapshot = RestClient.retryIdempotent(
      "GET",
      rest.request((w) => w.get("/snapshot").query("symbol", options.symbol).finish())
    )
    const order = (price: unknown) =>
      rest.request((w) =>
        w.post("/order")
          .header("Content-Type", "application/json")
          .body(JSON.stringify({ symbol: options.symbol, side: "BUY", qty: 1, price, clientOrderId: `c-${summary.quotes}` }))
          .finish()
      )

    let stopping = false
    const onQuote = (text: string): Effect.Effect<void> =>
      Effect.gen(function*() {
        const quote = parseQuote(text)
        if (quote === undefined) return
        summary.quotes++
        if (summary.quotes % options.orderEvery === 0) {
          // a POST is never retried: on failure, reconcile through the clientOrderId instead
          const placed = yield* Effect.result(order(quote.bid))
          if (placed._tag === "Success") {
            summary.ordersOk++
            print(`quote seq=${quote.seq} bid=${quote.bid}: order → ${placed.success.status} ${placed.success.text}`)
          } else {
            summary.ordersFailed++
            print(`quote seq=${quote.seq}: order failed, not retried: ${placed.failure.message}`)
          }
        }
        if (summary.quotes === options.quotes) yield* Deferred.succeed(enough, undefined)
      })

    const handle = (event: MarketFeed.FeedEvent): Effect.Effect<void> =>
      Effect.gen(function*() {
        switch (event._tag) {
          case "Connected": {
            summary.sessions = event.session
            const got = yield* Effect.result(snapshot)
            if (got._tag === "Success") {
              summary.snapshots++
              print(`session ${event.session}: snapshot ${got.success.status} ${got.success.text}`)
            } else {
              print(`session ${event.session}: snapshot failed: ${got.failure.message}`)
            }
            return
          }
          case "Gap":
            print(`feed gap after ${Duration.format(event.gap.connectedFor)}; it reconnects by itself`)
            return
          case "Messages":
            // a batch of messages, owned; each text one is a quote or not
            for (let i = 0; i < event.count && !stopping; i++) {
              if (event.isText(i)) yield* onQuote(event.text(i))
            }
            return
        }
      })

    // a graceful stop: the message in hand (an order in flight) completes, later ones are
    // skipped, so the run never cuts its own POST in half
    const consumer = yield* Effect.forkChild(
      Stream.runForEach(feed.events, (event) => (stopping ? Effect.void : handle(event)))
    )
    yield* Effect.raceFirst(Deferred.await(enough), Effect.sleep(Duration.seconds(options.seconds)))
    stopping = true
    yield* feed.stop
    yield* Fiber.join(consumer)
    const stats = yield* rest.stats
    print(
      `done: quotes=${summary.quotes} sessions=${summary.sessions} snapshots=${summary.snapshots} ` +
        `orders ok=${summary.ordersOk} failed=${summary.ordersFailed}; pool ${stats.available} idle, ` +
        `${stats.totalReconnects} reconnects`
    )
  })

/**
 * The services for `endpoints`.
 *
 * @since 0.1.0
 * @category layers
 */
export const services = (
  endpoints: Exclude<Endpoints, { readonly _tag: "Demo" }>,
  symbol: string
): Layer.Layer<RestClient.RestClient | MarketFeed.MarketFeed, HttpConnection.HttpError | TransportError | Config.ConfigError> =>
  endpoints._tag === "Urls"
    ? Layer.mergeAll(
      RestClient.layer({ url: endpoints.rest, basePath: "/api/v3", connections: 2 }),
      MarketFeed.layer({ url: endpoints.feed, subscriptions: [`${symbol}@quote`] })
    )
    : Layer.mergeAll(RestClient.layerConfig(), MarketFeed.layerConfig())

/**
 * Runs {@link trade} on the services (starting the demo exchange first when asked) and returns
 * what it did.
 *
 * @since 0.1.0
 * @category running
 */
export const main = (options: Options): Effect.Effect<Summary, HttpConnection.HttpError | TransportError | Config.ConfigError> =>
  Effect.scoped(Effect.gen(function*() {
    const summary: Summary = { quotes: 0, sessions: 0, snapshots: 0, ordersOk: 0, ordersFailed: 0 }
    const endpoints = options.endpoints._tag === "Demo"
      ? yield* Effect.map(Exchange.start({ dropEvery: "2 seconds" }), (e) => ({ _tag: "Urls" as const, rest: e.restUrl, feed: e.feedUrl }))
      : options.endpoints
    yield* Effect.provide(trade(options, summary), services(endpoints, options.symbol))
    return summary
  }))

/** The command line. */
const USAGE = "node examples/combined.ts [--rest URL --feed URL] [--quotes N] [--order-every K] [--seconds S]"

if (import.meta.main) {
  runProgram("combined", USAGE, () => optionsFrom(process.argv.slice(2), process.env), main)
}
