/**
 * `Backoff` — the reconnect and acquire timings of the pool and the feed supervisor, as Effect
 * `Schedule` values users can replace or compose (the seeds hard-code them).
 *
 * It lives in the transport layer because both layers above use it — `Pool` (slot reconnects,
 * the patient `acquire`) and `Reconnect` (the feed supervisor) — and neither may import the
 * other. It is plain `Schedule` values with no I/O; `effect-nexus/Reconnect` re-exports this same
 * module as `Backoff`, so `import { Backoff } from "effect-nexus/Reconnect"` and
 * `effect-nexus/Transport` name one definition.
 *
 * Every schedule here outputs the delay before the next attempt (a `Duration`), so a caller can
 * log or expose it ("reconnecting in 400 ms"). Delays grow exponentially from `base` by `factor`
 * and never exceed `cap`; a jittered variant scales each delay by a random factor in
 * `[0.8, 1.2)` (Effect's `Schedule.jittered`) and then applies the same cap, so jitter spreads a
 * herd of reconnecting clients without ever waiting longer than the cap.
 *
 * Defaults (as in the seeds, but values here):
 * - {@link reconnect}: 100 ms, 200 ms, 400 ms, … doubling to a 5 s cap, never giving up.
 * - {@link acquire}: 1 ms, 2 ms, 4 ms, … doubling to a 1 s cap, 20 retries (about 11 s in all),
 *   after which the caller reports a typed acquire timeout.
 *
 * Time is read through Effect's `Clock`, so every schedule is exact under `TestClock`.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"

/**
 * The shape of an exponential backoff.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExponentialOptions {
  /** The first delay. */
  readonly base: Duration.Input
  /** Growth per attempt. Default: 2. */
  readonly factor?: number | undefined
  /** The largest delay. Default: no cap. */
  readonly cap?: Duration.Input | undefined
  /** How many retries before giving up. Default: never give up. */
  readonly retries?: number | undefined
  /** Scale each delay by a random factor in [0.8, 1.2) before capping. Default: false. */
  readonly jittered?: boolean | undefined
}

/**
 * Caps every delay of `self` at `cap`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const capped = <Output, Input, Error, Env>(
  self: Schedule.Schedule<Output, Input, Error, Env>,
  cap: Duration.Input
): Schedule.Schedule<Output, Input, Error, Env> => {
  const max = Duration.fromInputUnsafe(cap)
  return Schedule.modifyDelay(self, ({ duration }) => Effect.succeed(Duration.min(duration, max)))
}

/**
 * An exponential backoff: `base`, `base·factor`, `base·factor²`, … each at most `cap`, for
 * `retries` retries (forever by default), optionally jittered. Outputs the delay it waits.
 *
 * @since 0.1.0
 * @category constructors
 */
export const exponential = (options: ExponentialOptions): Schedule.Schedule<Duration.Duration> => {
  let schedule = Schedule.exponential(options.base, options.factor ?? 2)
  if (options.jittered === true) schedule = Schedule.jittered(schedule)
  if (options.cap !== undefined) schedule = capped(schedule, options.cap)
  // the exponential's own output is the uncapped, unjittered step: report the delay waited
  const delays = Schedule.map(schedule, ({ duration }) => duration)
  return options.retries === undefined ? delays : Schedule.upTo(delays, { times: options.retries })
}

/**
 * The reconnect schedule's defaults: 100 ms doubling to a 5 s cap, never giving up.
 *
 * @since 0.1.0
 * @category defaults
 */
export const RECONNECT_DEFAULTS = { base: "100 millis", factor: 2, cap: "5 seconds" } as const satisfies ExponentialOptions

/**
 * The acquire schedule's defaults: 1 ms doubling to a 1 s cap, 20 retries.
 *
 * @since 0.1.0
 * @category defaults
 */
export const ACQUIRE_DEFAULTS = { base: "1 millis", factor: 2, cap: "1 second", retries: 20 } as const satisfies ExponentialOptions

/**
 * How a dead connection is retried: 100 ms, 200 ms, 400 ms, … 5 s, 5 s, … forever.
 *
 * @since 0.1.0
 * @category schedules
 */
export const reconnect: Schedule.Schedule<Duration.Duration> = exponential(RECONNECT_DEFAULTS)

/**
 * {@link reconnect} with each delay jittered into [0.8, 1.2) of itself, still capped at 5 s: for
 * many clients reconnecting to one server at once.
 *
 * @since 0.1.0
 * @category schedules
 */
export const reconnectJittered: Schedule.Schedule<Duration.Duration> = exponential({ ...RECONNECT_DEFAULTS, jittered: true })

/**
 * How a patient acquirer waits for a slot: 1 ms, 2 ms, 4 ms, … 1 s, for 20 retries.
 *
 * @since 0.1.0
 * @category schedules
 */
export const acquire: Schedule.Schedule<Duration.Duration> = exponential(ACQUIRE_DEFAULTS)

/**
 * {@link acquire} with each delay jittered into [0.8, 1.2) of itself, still capped at 1 s.
 *
 * @since 0.1.0
 * @category schedules
 */
export const acquireJittered: Schedule.Schedule<Duration.Duration> = exponential({ ...ACQUIRE_DEFAULTS, jittered: true })
