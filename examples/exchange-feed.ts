/**
 * Recipe: an exchange market-data feed with reconnect (the seeds' "Exchange client with
 * reconnect"). `Feed.make` dials, subscribes, hands every message to the handler, answers pings,
 * and on any failure reconnects with `Backoff.reconnect` (100 ms doubling to 5 s) and subscribes
 * again — subscriptions are re-sent on every connect, because a WebSocket server forgets them.
 *
 * ```text
 * node examples/exchange-feed.ts [URL] [--topics a,b] [--count N] [--seconds S]
 * ```
 *
 * - `URL` (or `NEXUS_FEED_URL`): a `ws://` or `wss://` feed speaking the JSON
 *   `{"method":"SUBSCRIBE","params":[…],"id":n}` protocol (Binance's). Without one, the
 *   project's demo exchange is started on 127.0.0.1 and used, so the recipe runs out of the box.
 * - `--topics` (or `FEED_TOPICS`): comma-separated subscriptions. Default `BTC-USD@quote`.
 * - Bounded: it stops after `--count` quotes (default 20) or `--seconds` (default 10),
 *   whichever comes first, and prints a summary line.
 *
 * A quote is a text message with `{"type":"quote","symbol","bid","ask","seq"}`; other messages
 * (subscription acks, other exchanges' payloads) are printed as they are. The handler gets the
 * stream's zero-copy view: `message.text()` decodes it now; keep a copy
 * (`FrameReader.toOwned`), never the view.
 *
 * @since 0.1.0
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { parseArgs } from "node:util"
import type * as FrameReader from "../src/Codec/FrameReader.ts"
import * as Exchange from "../src/Demo/Exchange.ts"
import * as Feed from "../src/Reconnect/Feed.ts"
import { numberOption, runProgram } from "./internal/program.ts"

/**
 * Options of {@link main}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The feed URL; `undefined` starts the demo exchange on 127.0.0.1. */
  readonly url: string | undefined
  /** Subscriptions sent on every connect. */
  readonly topics: ReadonlyArray<string>
  /** Quotes to receive before stopping. */
  readonly count: number
  /** Longest run. */
  readonly seconds: number
  /** Where lines go. Default `console.log`. */
  readonly print?: ((line: string) => void) | undefined
}

/**
 * What a run saw.
 *
 * @since 0.1.0
 * @category models
 */
export interface Summary {
  readonly quotes: number
  readonly sessions: number
  readonly gaps: number
}

/**
 * Reads the options from `argv` (without `node` and the script) and the environment.
 *
 * @since 0.1.0
 * @category options
 */
export const optionsFrom = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Options => {
  const { positionals, values } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: { topics: { type: "string" }, count: { type: "string" }, seconds: { type: "string" } }
  })
  return {
    url: positionals[0] ?? env.NEXUS_FEED_URL,
    topics: (values.topics ?? env.FEED_TOPICS ?? "BTC-USD@quote").split(",").map((t) => t.trim()).filter((t) => t !== ""),
    count: numberOption("--count", values.count, 20, 1),
    seconds: numberOption("--seconds", values.seconds, 10)
  }
}

/** One line per message: quotes in a fixed format, anything else as received (truncated). */
const describe = (message: FrameReader.Text | FrameReader.Binary): { readonly quote: boolean; readonly line: string } => {
  if (message._tag === "Binary") return { quote: false, line: `binary ${message.payload.length} bytes` }
  const text = message.text()
  try {
    const q = JSON.parse(text) as { type?: unknown; symbol?: unknown; bid?: unknown; ask?: unknown; seq?: unknown }
    if (q.type === "quote") return { quote: true, line: `quote ${q.symbol} bid=${q.bid} ask=${q.ask} seq=${q.seq}` }
  } catch {
    // not JSON: shown as it is
  }
  return { quote: false, line: `message ${text.length > 120 ? `${text.slice(0, 120)}…` : text}` }
}

/**
 * Runs the feed until `count` quotes arrived or `seconds` passed, then stops it (closing the
 * socket) and returns what it saw.
 *
 * @since 0.1.0
 * @category running
 */
export const main = (options: Options): Effect.Effect<Summary> =>
  Effect.scoped(Effect.gen(function*() {
    const print = options.print ?? console.log
    const url = options.url ?? (yield* Exchange.start({ dropEvery: "2 seconds" })).feedUrl
    const enough = yield* Deferred.make<void>()
    const summary = { quotes: 0, sessions: 0, gaps: 0 }
    print(`feed ${url}, topics ${options.topics.join(",")}`)
    const feed = yield* Feed.make<string, never, never>({
      url,
      // the seed's builder settings: Nagle off (the default), a roomy read slab, a message cap,
      // a short connect timeout so a dead endpoint is retried quickly
      socket: { noDelay: true, bufferCapacity: 64 * 1024, maxMessageSize: 16 << 20, connectTimeout: "3 seconds" },
      subscriptions: options.topics,
      subscribe: Feed.jsonRpcSubscribe("SUBSCRIBE"),
      unsubscribe: Feed.jsonRpcSubscribe("UNSUBSCRIBE"),
      onConnect: (_ws, info) =>
        Effect.sync(() => {
          summary.sessions = info.session
          print(`connected session=${info.session}`)
        }),
      onGap: (gap) =>
        Effect.sync(() => {
          summary.gaps++
          const why = gap.error === undefined ? "closed by the server" : String((gap.error as Error).message ?? gap.error)
          print(`gap after ${Duration.format(gap.connectedFor)}: ${why}; reconnecting`)
        }),
      onMessage: (message) =>
        Effect.suspend(() => {
          const { line, quote } = describe(message)
          print(line)
          if (!quote) return Effect.void
          summary.quotes++
          return summary.quotes === options.count ? Deferred.succeed(enough, undefined) : Effect.void
        })
    })
    yield* Effect.raceFirst(Deferred.await(enough), Effect.sleep(Duration.seconds(options.seconds)))
    yield* feed.stop
    print(`done: quotes=${summary.quotes} sessions=${summary.sessions} gaps=${summary.gaps}`)
    return summary
  }))

/** The command line. */
const USAGE = "node examples/exchange-feed.ts [URL] [--topics a,b] [--count N] [--seconds S]"

if (import.meta.main) {
  runProgram("exchange-feed", USAGE, () => optionsFrom(process.argv.slice(2), process.env), main)
}
