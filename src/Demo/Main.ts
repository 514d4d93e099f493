/**
 * The main job (`npm start`, `effect-nexus demo`): starts the embedded demo exchange on
 * 127.0.0.1, runs the sample strategy against it through the public services (`RestClient`
 * on a `ClientPool`, `MarketFeed` on the feed supervisor), and shows a live one-line status:
 * quotes per second, order round trip p50/p99, feed reconnects, pool state. The exchange resets
 * every connection every few seconds; the feed re-subscribes and the pool heals on their own.
 *
 * It runs for `durationSeconds` (default 20) and prints a summary; Ctrl-C ends it early, just as
 * cleanly — the scope closes every socket and the summary is still printed.
 *
 * With `record` (`npm start -- --record FILE`) the session the strategy saw — every feed event
 * and every REST exchange — is recorded to `FILE` (`Recording`, issue #15); replay it with
 * `MarketFeed.layerReplay(FILE)` and `RestClient.layerReplay(FILE, { basePath: "/api/v3" })`.
 * The strategy is interrupted before the services close, so the recording ends with what the
 * strategy saw, not with the shutdown.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as MarketFeed from "../Layers/MarketFeed.ts"
import * as Recording from "../Layers/Recording.ts"
import * as RestClient from "../Layers/RestClient.ts"
import * as SessionLog from "../Layers/SessionLog.ts"
import * as SessionRecorder from "../Layers/SessionRecorder.ts"
import * as Exchange from "./Exchange.ts"
import * as Strategy from "./Strategy.ts"

/**
 * Options of {@link run}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** How long to run. Default 20 s. */
  readonly durationSeconds?: number | undefined
  /** How often the exchange resets every connection. Default 5 s. */
  readonly dropEverySeconds?: number | undefined
  /** Record the session to this file (see the module doc). Default: no recording. */
  readonly record?: string | undefined
  /** Where the status and summary go. Default `process.stdout`. */
  readonly output?: NodeJS.WritableStream & { readonly isTTY?: boolean } | undefined
}

const fmt = (micros: number): string => (micros >= 1000 ? `${(micros / 1000).toFixed(1)} ms` : `${micros.toFixed(0)} µs`)

/**
 * Runs the demo; see the module doc. Returns what the strategy saw and did.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (options: Options = {}): Effect.Effect<Strategy.Stats, SessionLog.SessionError> =>
  Effect.gen(function*() {
    const out = options.output ?? process.stdout
    const tty = out.isTTY === true
    const duration = options.durationSeconds ?? 20
    const exchange = yield* Exchange.start({ dropEvery: Duration.seconds(options.dropEverySeconds ?? 5) })
    out.write(`demo exchange: feed ${exchange.feedUrl}, orders ${exchange.restUrl}; running ${duration} s\n`)
    const stats = Strategy.makeStats()
    const rest = RestClient.layer({ url: exchange.restUrl, basePath: "/api/v3", connections: 4 })
    const feed = MarketFeed.layer({ url: exchange.feedUrl, subscriptions: ["BTC-USD@quote"] })
    const services = options.record === undefined
      ? Layer.mergeAll(rest, feed)
      : Layer.mergeAll(Recording.recordRestClient(rest), Recording.recordMarketFeed(feed)).pipe(
        Layer.provide(SessionRecorder.layer(options.record, { source: exchange.feedUrl }))
      )
    const started = Date.now()
    const summary = () => {
      const seconds = (Date.now() - started) / 1000
      return [
        `summary after ${seconds.toFixed(1)} s:`,
        `  quotes received   ${stats.quotes} (${(stats.quotes / seconds).toFixed(0)}/s), sequence breaks outside gaps ${stats.sequenceBreaks}`,
        `  orders            ${stats.ordersOk} ok, ${stats.orderTimeouts} timed out, ${stats.ordersFailed} failed, ${stats.ordersRejected} rejected, ${stats.ordersSkipped} skipped`,
        `  order round trip  p50 ${fmt(Strategy.quantile(stats.roundTrips, 0.5))}, p99 ${fmt(Strategy.quantile(stats.roundTrips, 0.99))}`,
        `  feed              ${stats.gaps} gaps, ${stats.reconnects} reconnects, ${stats.resyncs} resyncs`,
        `  exchange          ${exchange.stats.drops} connection resets, ${exchange.stats.ordersReceived} orders received`
      ].join("\n")
    }

    yield* Effect.gen(function*() {
      const pool = yield* RestClient.RestClient
      const strategy = yield* Effect.forkChild(Strategy.run({ symbol: "BTC-USD", orderEvery: 20 }, stats))
      let lastQuotes = 0
      for (let second = 1; second <= duration; second++) {
        yield* Effect.sleep("1 second")
        const p = yield* pool.stats
        const line = `${String(second).padStart(3)}s  quotes ${String(stats.quotes - lastQuotes).padStart(6)}/s` +
          `  orders ${stats.ordersOk} ok p50 ${fmt(Strategy.quantile(stats.roundTrips, 0.5))}` +
          ` p99 ${fmt(Strategy.quantile(stats.roundTrips, 0.99))}` +
          `  feed reconnects ${stats.reconnects}` +
          `  pool ${p.available} idle/${p.inUse} busy/${p.reconnecting} healing (${p.totalReconnects} healed)`
        lastQuotes = stats.quotes
        out.write(tty ? `\r${line}\x1b[K` : `${line}\n`)
      }
      if (tty) out.write("\n")
      yield* Fiber.interrupt(strategy)
    }).pipe(
      Effect.provide(services),
      Effect.onExit(() => Effect.sync(() => out.write(`${tty ? "\n" : ""}${summary()}\n`)))
    )
    return stats
  }).pipe(
    Effect.scoped,
    // a recording file that cannot be written is the user's to fix: its one-line error, not a defect
    Effect.catch((error) => (error instanceof SessionLog.SessionError ? Effect.fail(error) : Effect.die(error)))
  )
