/**
 * Recipe: a trading REST client on pooled keep-alive connections (the seeds' "REST with pooled
 * connections"). Three calls, three policies:
 *
 * - `getIdempotent` — a GET through `ClientPool.request` (a patient `acquire`), wrapped in
 *   `ClientPool.retryIdempotent`: a transport failure (reset, stale or poisoned connection) is
 *   retried on another slot, up to 3 attempts 50 ms apart, while the dead slot heals in the
 *   background.
 * - `placeOrder` — a POST on the hot path: `tryAcquire` (no I/O, no waiting) and, when every
 *   connection is leased or healing, a clean `PoolExhausted` rejection at once — waiting for a
 *   reconnect while the book moves is worse. It is **never retried**: a POST whose bytes reached
 *   the socket may have reached the exchange; use the exchange's idempotency key
 *   (`clientOrderId`) to recover instead.
 * - the same `placeOrder` while every slot is leased: rejected with no request sent.
 *
 * ```text
 * node examples/rest-pool.ts [URL] [--base-path /api/v3] [--connections 2] [--symbol BTC-USD]
 * ```
 *
 * `URL` (or `NEXUS_REST_URL`): the origin, `http://127.0.0.1:8080` or `https://…`. Without one,
 * the project's demo exchange is started on 127.0.0.1. `NEXUS_REST_API_KEY`, when set, is sent
 * as `X-API-KEY` on every request. It runs the three calls once, prints what happened and the
 * pool's stats, and ends; the exit code is 0 whether the order went through or not (the point
 * is to show the policy), 1 only when the pool cannot be built.
 *
 * A 5xx answer is a response, not a failure, to the pool; this recipe prints it and does not
 * retry it (the seed does for GETs: add a `Effect.filterOrFail` on the status before
 * `retryIdempotent` to do the same).
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { parseArgs } from "node:util"
import * as Exchange from "../src/Demo/Exchange.ts"
import * as ClientPool from "../src/Pool/ClientPool.ts"
import * as Backoff from "../src/Transport/Backoff.ts"
import type * as HttpConnection from "../src/Transport/HttpConnection.ts"
import { numberOption, runProgram } from "./internal/program.ts"

/**
 * Options of {@link main}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The origin; `undefined` starts the demo exchange on 127.0.0.1. */
  readonly url: string | undefined
  readonly basePath: string
  readonly connections: number
  readonly symbol: string
  readonly apiKey: string | undefined
  /** Where lines go. Default `console.log`. */
  readonly print?: ((line: string) => void) | undefined
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
    options: {
      "base-path": { type: "string" },
      connections: { type: "string" },
      symbol: { type: "string" }
    }
  })
  return {
    url: positionals[0] ?? env.NEXUS_REST_URL,
    basePath: values["base-path"] ?? env.NEXUS_REST_BASE_PATH ?? "/api/v3",
    connections: numberOption("--connections", values.connections, 2, 1),
    symbol: values.symbol ?? "BTC-USD",
    apiKey: env.NEXUS_REST_API_KEY
  }
}

/**
 * The hot path found no healthy idle connection: the order was not sent.
 *
 * @since 0.1.0
 * @category errors
 */
export class PoolExhausted extends Data.TaggedError("PoolExhausted")<{ readonly origin: string }> {
  override get message(): string {
    return `no healthy idle connection to ${this.origin}: order rejected without sending`
  }
}

/**
 * GETs `path` (with `?symbol=`), retrying transport failures: safe, because a GET does not change
 * anything on the server. `attempts` counts the tries.
 *
 * @since 0.1.0
 * @category recipes
 */
export const getIdempotent = (
  pool: ClientPool.ClientPool,
  path: string,
  symbol: string,
  attempts: { count: number }
): Effect.Effect<ClientPool.OwnedResponse, ClientPool.PoolRequestError> =>
  ClientPool.retryIdempotent(
    "GET",
    Effect.suspend(() => {
      attempts.count++
      return pool.request((w) => w.get(path).query("symbol", symbol).finish())
    }),
    // 3 attempts in all, 50 ms then 100 ms apart (the seed's `50 << attempt`)
    Backoff.exponential({ base: "50 millis", retries: 2 })
  )

/**
 * POSTs an order on the hot path: `tryAcquire` or fail fast, one send, no retry. The response
 * is copied out before the lease ends (its views belong to the slot).
 *
 * @since 0.1.0
 * @category recipes
 */
export const placeOrder = (
  pool: ClientPool.ClientPool,
  body: string
): Effect.Effect<{ readonly status: number; readonly text: string }, PoolExhausted | HttpConnection.HttpError> =>
  Effect.scoped(Effect.gen(function*() {
    const leased = yield* pool.tryAcquire
    if (Option.isNone(leased)) return yield* Effect.fail(new PoolExhausted({ origin: pool.origin }))
    const slot = leased.value
    const request = slot.writer.post("/order").header("Content-Type", "application/json").body(body).finish()
    const response = yield* slot.send(request)
    return { status: response.status, text: Buffer.from(response.copyBody()).toString("utf8") }
  }))

/**
 * What a run did, for the caller (and the tests).
 *
 * @since 0.1.0
 * @category models
 */
export interface Summary {
  readonly getStatus: number | undefined
  readonly getAttempts: number
  readonly order: "ok" | "failed" | "exhausted"
  readonly exhaustedOrder: "ok" | "failed" | "exhausted"
  readonly stats: ClientPool.Stats
}

/**
 * Builds the pool, runs the GET, the order, and the order under exhaustion, prints each outcome
 * and the pool's stats, and closes every socket. Fails only when the pool cannot be built (or,
 * after a long outage, a slot cannot be acquired for the exhaustion demo).
 *
 * @since 0.1.0
 * @category running
 */
export const main = (options: Options): Effect.Effect<Summary, ClientPool.PoolRequestError> =>
  Effect.scoped(Effect.gen(function*() {
    const print = options.print ?? console.log
    const url = options.url ?? (yield* Exchange.start({ dropEvery: "never" })).restUrl
    const pool = yield* ClientPool.make({
      url,
      basePath: options.basePath,
      defaultHeaders: options.apiKey === undefined ? [] : [["X-API-KEY", options.apiKey]],
      connections: options.connections,
      noDelay: true,
      keepAlive: "60 seconds",
      connectTimeout: "3 seconds",
      readTimeout: "5 seconds",
      writeBufferCapacity: 32 * 1024,
      responseBufferCapacity: 64 * 1024,
      maxBodySize: 1 << 20
    })
    print(`pool of ${options.connections} connections to ${pool.origin}${options.basePath}`)

    const attempts = { count: 0 }
    const got = yield* Effect.result(getIdempotent(pool, "/snapshot", options.symbol, attempts))
    let getStatus: number | undefined
    if (got._tag === "Success") {
      getStatus = got.success.status
      print(`GET /snapshot → ${got.success.status} ${got.success.text} (attempts: ${attempts.count})`)
    } else {
      print(`GET /snapshot failed after ${attempts.count} attempts: ${got.failure.message}`)
    }

    const outcome = (r: typeof placed): "ok" | "failed" | "exhausted" =>
      r._tag === "Success" ? "ok" : r.failure._tag === "PoolExhausted" ? "exhausted" : "failed"
    const report = (label: string, r: typeof placed) =>
      print(
        r._tag === "Success"
          ? `${label} → ${r.success.status} ${r.success.text}`
          : r.failure._tag === "PoolExhausted"
          ? `${label} rejected at once: ${r.failure.message}`
          : `${label} failed, not retried: ${r.failure.message}`
      )
    const order = JSON.stringify({ symbol: options.symbol, side: "BUY", qty: 1, price: 64250, clientOrderId: "recipe-1" })
    const placed = yield* Effect.result(placeOrder(pool, order))
    report("POST /order", placed)

    // every connection leased elsewhere (acquire waits for a healing slot, so all are held):
    // the hot path answers at once, and no request is sent
    const exhausted = yield* Effect.scoped(Effect.gen(function*() {
      for (let i = 0; i < options.connections; i++) yield* pool.acquire
      return yield* Effect.result(placeOrder(pool, order))
    }))
    report(`POST /order with all ${options.connections} connections leased`, exhausted)

    const stats = yield* pool.stats
    print(
      `pool: ${stats.available} idle, ${stats.inUse} in use, ${stats.reconnecting} reconnecting, ` +
        `${stats.totalReconnects} reconnects`
    )
    return { getStatus, getAttempts: attempts.count, order: outcome(placed), exhaustedOrder: outcome(exhausted), stats }
  }))

/** The command line. */
const USAGE = "node examples/rest-pool.ts [URL] [--base-path /api/v3] [--connections 2] [--symbol BTC-USD]"

if (import.meta.main) {
  runProgram("rest-pool", USAGE, () => optionsFrom(process.argv.slice(2), process.env), main)
}
