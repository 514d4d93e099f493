import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import { TestClock } from "effect/testing"
import * as Backoff from "../../src/Transport/Backoff.ts"

/** Retries an always-failing attempt with `schedule`, recording the clock at every attempt. */
const recordAttempts = (schedule: Schedule.Schedule<Duration.Duration>) =>
  Effect.gen(function*() {
    const times: Array<number> = []
    const attempt = Effect.flatMap(Clock.currentTimeMillis, (now) => {
      times.push(now)
      return Effect.fail("refused" as const)
    })
    const fiber = yield* Effect.forkChild(Effect.retry(attempt, schedule))
    return { fiber, times }
  })

/** The first `n` delays (ms) a schedule asks for, stepped directly. */
const delaysOf = (schedule: Schedule.Schedule<Duration.Duration>, n: number) =>
  Effect.gen(function*() {
    const step = yield* Schedule.toStep(schedule)
    const out: Array<number> = []
    for (let i = 0; i < n; i++) {
      const [output, delay] = yield* step(0, undefined)
      assert.strictEqual(Duration.toMillis(output), Duration.toMillis(delay), "the output is the delay waited")
      out.push(Duration.toMillis(delay))
    }
    return out
  })

describe("Backoff", () => {
  it.effect("reconnect retries at 100, 200, 400 … ms, capped at 5 s, and never gives up", () =>
    Effect.gen(function*() {
      const { fiber, times } = yield* recordAttempts(Backoff.reconnect)
      const delays = [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]
      let now = 0
      const expected = [0]
      for (const delay of delays) {
        yield* TestClock.adjust(Duration.millis(delay - 1))
        assert.strictEqual(times.length, expected.length, `no attempt 1 ms before ${now + delay} ms`)
        yield* TestClock.adjust(Duration.millis(1))
        now += delay
        expected.push(now)
        assert.deepStrictEqual(times, expected)
      }
      assert.deepStrictEqual(times, [0, 100, 300, 700, 1500, 3100, 6300, 11300, 16300, 21300])
      // still retrying after many capped delays
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(times.length, 10 + 720)
      assert.isUndefined(fiber.pollUnsafe())
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("acquire retries at 1, 2, 4 … ms to a 1 s cap, then gives up after 20 retries", () =>
    Effect.gen(function*() {
      const { fiber, times } = yield* recordAttempts(Backoff.acquire)
      yield* TestClock.adjust("11022 millis")
      assert.strictEqual(times.length, 20)
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      const exit = yield* Fiber.await(fiber)
      assert.deepStrictEqual(exit, Exit.fail("refused"))
      assert.strictEqual(times.length, 21)
      assert.deepStrictEqual(times.slice(0, 12), [0, 1, 3, 7, 15, 31, 63, 127, 255, 511, 1023, 2023])
      assert.strictEqual(times[20], 11023)
    }))

  it.effect("exponential takes base, factor, cap and retries as values", () =>
    Effect.gen(function*() {
      const schedule = Backoff.exponential({ base: "10 millis", factor: 3, cap: "500 millis", retries: 6 })
      assert.deepStrictEqual(yield* delaysOf(schedule, 6), [10, 30, 90, 270, 500, 500])
      const { fiber, times } = yield* recordAttempts(schedule)
      yield* TestClock.adjust("1400 millis")
      assert.deepStrictEqual(yield* Fiber.await(fiber), Exit.fail("refused"))
      assert.deepStrictEqual(times, [0, 10, 40, 130, 400, 900, 1400])
    }))

  it.effect("jittered variants stay within [0.8, 1.2) of each delay and never pass the cap", () =>
    Effect.gen(function*() {
      const plain = yield* delaysOf(Backoff.reconnect, 40)
      const jittered = yield* delaysOf(Backoff.reconnectJittered, 40)
      for (let i = 0; i < plain.length; i++) {
        assert.isAtLeast(jittered[i]!, plain[i]! * 0.8)
        assert.isBelow(jittered[i]!, Math.min(plain[i]! * 1.2, 5000) + 1e-9)
      }
      assert.isTrue(jittered.some((d, i) => d !== plain[i]), "jitter changes some delay")
      for (const d of yield* delaysOf(Backoff.acquireJittered, 20)) assert.isAtMost(d, 1000)
    }))

  it.effect("capped composes with any schedule", () =>
    Effect.gen(function*() {
      const schedule = Schedule.map(Backoff.capped(Schedule.spaced("2 seconds"), "750 millis"), ({ duration }) => duration)
      assert.deepStrictEqual(yield* delaysOf(schedule, 3), [750, 750, 750])
    }))
})
