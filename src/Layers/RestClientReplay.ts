/**
 * `RestClientReplay` — the `RestClient` service (a `ClientPool`) served from a recorded session
 * file (issue #15), behind `RestClient.layerReplay(file, options)`: no network; each request is
 * matched to a recorded exchange and answered with its recorded response — after the recorded
 * latency on the Effect `Clock` (`timing: "recorded"`, the default, so under `TestClock` a
 * request that timed out when recorded times out again) or at once (`"fast"`).
 *
 * The matching rule: same method, same path (base path included: pass the `basePath` the
 * recorded client had), same query parameters in any order, same body bytes; headers are not
 * compared. Each recorded exchange serves once, in recorded order; when all matches are served,
 * the last one serves again. A request that matches nothing fails with `PoolError` reason
 * `NoRecordedExchange`, naming the closest recorded request and what differs.
 *
 * A recorded failure fails again with the same error, rebuilt from its tag and fields (an
 * `HttpError` stays an `HttpError` with the same reason and `requestSent`, so
 * `retryIdempotent` retries exactly what it retried). A recorded request with no answer (it was
 * interrupted, as by a timeout) never answers.
 *
 * A call that never built its request when recorded (it waited for a connection during an
 * outage, then was interrupted or failed with `PoolError`) is recorded by its time alone
 * (`Unsent`). A request that matches no exchange but is made within 5 ms
 * (`DEFAULT_UNSENT_WINDOW`) of such a call's recorded time stands for it: it waits as long and
 * fails with the same error, or never answers (under `"fast"`, the next unsent call, whatever
 * its time). Only a request that matches neither is `NoRecordedExchange`.
 *
 * `request` answers directly. The slots (`acquire`, `withSlot`, `tryAcquire`) are a real pool's
 * over in-memory connections to a replaying origin: there a miss is an HTTP 404 whose body is
 * the `NoRecordedExchange` message.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { Buffer } from "node:buffer"
import * as RequestReader from "../Codec/RequestReader.ts"
import * as RequestWriter from "../Codec/RequestWriter.ts"
import * as ClientPool from "../Pool/ClientPool.ts"
import { NoRecordedExchange } from "../Pool/NoRecordedExchange.ts"
import * as HttpConnection from "../Transport/HttpConnection.ts"
import * as HttpServe from "../Transport/HttpServe.ts"
import * as Memory from "../Transport/Memory.ts"
import * as Exchanges from "./internal/exchanges.ts"
import * as RecordedError from "./internal/recordedError.ts"
import type { Timing } from "./MarketFeedReplay.ts"
import * as SessionLog from "./SessionLog.ts"

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The base path the recorded client had (prefixed to every path before matching). Default none. */
  readonly basePath?: string | undefined
  /** The origin named in errors. Default {@link REPLAY_ORIGIN}. */
  readonly origin?: string | undefined
  /** Pacing of the answers. Default `"recorded"`. */
  readonly timing?: Timing | undefined
  /** Told when the file's last block was torn and dropped. */
  readonly onTorn?: SessionLog.ReadOptions["onTorn"]
}

/**
 * The origin a replayed pool names in its errors unless told otherwise: `replay`.
 *
 * @since 0.1.0
 * @category constants
 */
export const REPLAY_ORIGIN = "replay"

/**
 * How near to its recorded time a request that matched no exchange must be made to stand for a
 * recorded call that never reached the wire: 5 ms.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_UNSENT_WINDOW: Duration.Duration = Duration.millis(5)

/** The response headers a server adds for framing: the replaying origin adds its own. */
const FRAMING = new Set(["content-length", "transfer-encoding", "connection", "keep-alive"])

const owned = (status: number, headers: ReadonlyArray<readonly [string, string]>, body: Uint8Array): ClientPool.OwnedResponse => {
  let text: string | undefined
  return {
    status,
    headers: headers.map(([n, v]) => [n, v]),
    body,
    get text() {
      return (text ??= Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8"))
    }
  }
}

/**
 * Reads the REST exchanges of `file` (failing with `SessionError` if it cannot be replayed)
 * and returns the replaying pool; see the module doc.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (file: string, options: Options = {}): Effect.Effect<ClientPool.ClientPool, SessionLog.SessionError, Scope.Scope> =>
  Effect.gen(function*() {
    const origin = options.origin ?? REPLAY_ORIGIN
    const timing = options.timing ?? "recorded"
    const entries = yield* SessionLog.readAll(file, { onTorn: options.onTorn })
    const exchanges = Exchanges.fromEntries(entries)
    const unsent = Exchanges.unsentFromEntries(entries)
    const windowMicros = Duration.toMillis(DEFAULT_UNSENT_WINDOW) * 1000
    const originNanos = yield* Clock.currentTimeNanos
    const writer = RequestWriter.make({ host: origin, basePath: options.basePath })
    const reader = RequestReader.make({ maxBodySize: 64 * 1024 * 1024 })
    const scope = yield* Effect.scope

    /** Waits the recorded latency (when pacing by the recording). */
    const wait = (x: Exchanges.Exchange): Effect.Effect<void> =>
      timing === "fast" || x.latencyMicros === 0 ? Effect.void : Effect.sleep(Duration.micros(BigInt(Math.round(x.latencyMicros))))

    const miss = (method: string, target: string, body: Uint8Array) =>
      new NoRecordedExchange({ method, target, closest: Exchanges.closest(exchanges, method, target, body) })

    const answer = (x: Exchanges.Exchange): Effect.Effect<ClientPool.OwnedResponse, ClientPool.PoolRequestError> => {
      const recorded = x.answer
      if (recorded === undefined) return Effect.never
      if (recorded._tag === "Response") return Effect.as(wait(x), owned(recorded.status, recorded.headers, recorded.body))
      const error = RecordedError.decode(recorded.error)
      return Effect.andThen(
        wait(x),
        error instanceof HttpConnection.HttpError || error instanceof ClientPool.PoolError
          ? Effect.fail(error)
          : Effect.die(new Error(`replayed ${x.method} ${x.target} failed when recorded with ${recorded.error.tag}: ${recorded.error.message}`))
      )
    }

    // the slots: a real pool over in-memory connections to an origin answering from the recording
    const serve: HttpServe.Handler = (request) =>
      Effect.suspend((): Effect.Effect<HttpServe.Response> => {
        const body = request.bodyBytes
        const x = Exchanges.match(exchanges, request.method, request.target, body)
        if (x === undefined) return Effect.succeed({ status: 404, body: miss(request.method, request.target, body).message })
        const recorded = x.answer
        if (recorded === undefined) return Effect.never
        if (recorded._tag === "Failure") return Effect.as(wait(x), { status: 502, body: recorded.error.message })
        return Effect.as(wait(x), {
          status: recorded.status,
          headers: recorded.headers.filter(([n]) => !FRAMING.has(n.toLowerCase())),
          body: recorded.body
        })
      })
    const slots = yield* ClientPool.make({
      url: `http://${origin}`,
      basePath: options.basePath,
      connections: 1,
      connect: Effect.gen(function*() {
        const pair = yield* Memory.pair({ addresses: [`${origin}:80`, "replay.client:0"] })
        yield* Effect.forkIn(HttpServe.serve(pair.server, serve), scope)
        return yield* HttpConnection.make(pair.client, {})
      })
    }).pipe(Effect.orDie)

    const pool: ClientPool.ClientPool = {
      origin,
      tryAcquire: slots.tryAcquire,
      acquire: slots.acquire,
      withSlot: (f) => slots.withSlot(f),
      stats: slots.stats,
      request: (build) =>
        Effect.suspend(() => {
          const built = build(writer)
          if (built._tag !== "Request") {
            return Effect.fail(
              new HttpConnection.HttpError({ address: origin, reason: new HttpConnection.InvalidRequest({ error: built }), requestSent: false })
            )
          }
          reader.reset()
          reader.feed(built.bytes)
          const parsed = reader.next()
          if (parsed._tag !== "Request") return Effect.die(new Error(`RestClientReplay: the writer's request did not parse (${parsed._tag})`))
          const method = parsed.method
          const target = parsed.target
          const body = parsed.copyBody()
          const x = Exchanges.match(exchanges, method, target, body)
          if (x !== undefined) return answer(x)
          return Effect.flatMap(Clock.currentTimeNanos, (now) => {
            const at = timing === "fast" ? undefined : Number(now - originNanos) / 1000
            const call = Exchanges.matchUnsent(unsent, at, windowMicros)
            if (call === undefined) return Effect.fail(new ClientPool.PoolError({ origin, reason: miss(method, target, body) }))
            // a call that never reached the wire when recorded: it waits, then fails as it did, or never ends
            const error = call.error === undefined ? undefined : RecordedError.decode(call.error)
            if (call.error === undefined) return Effect.never
            const wait = timing === "fast" ? Effect.void : Effect.sleep(Duration.micros(BigInt(Math.round(call.waitMicros))))
            return Effect.andThen(
              wait,
              error instanceof HttpConnection.HttpError || error instanceof ClientPool.PoolError
                ? Effect.fail(error)
                : Effect.die(new Error(`replayed ${method} ${target} failed when recorded with ${call.error.tag}: ${call.error.message}`))
            )
          })
        }),
    }
    return pool
  })
