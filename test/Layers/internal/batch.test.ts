import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { Batch } from "../../../src/Layers/internal/batch.ts"

/** Lets queued microtasks and forked fibers run. */
const settle = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

describe("Batch", () => {
  it.live("queues below the mark without an Effect, and a parked take gets every item offered in the same tick", () =>
    Effect.gen(function*() {
      const batch = new Batch<number, string>(100)
      const taker = yield* Effect.forkChild(batch.take)
      yield* settle
      // offered synchronously, as a push loop's handler does: the take wakes once, with all three
      assert.deepStrictEqual([batch.offer(1, 1), batch.offer(2, 1), batch.offer(3, 1)], [undefined, undefined, undefined])
      assert.deepStrictEqual(yield* Fiber.join(taker), [1, 2, 3])
      batch.offer(4, 1)
      assert.deepStrictEqual(yield* batch.take, [4])
    }))

  it.live("at the mark the producer gets an Effect that waits until the consumer takes the batch", () =>
    Effect.gen(function*() {
      const batch = new Batch<string, string>(10)
      assert.isUndefined(batch.offer("a", 6))
      const wait = batch.offer("b", 4)
      assert.isDefined(wait)
      const producer = yield* Effect.forkChild(wait!)
      yield* settle
      assert.isUndefined(producer.pollUnsafe())
      assert.deepStrictEqual(yield* batch.take, ["a", "b"])
      assert.deepStrictEqual(yield* Fiber.await(producer), Exit.void)
    }))

  it.live("end lets a waiting producer go, drops later offers, and fails take once the queued items are read", () =>
    Effect.gen(function*() {
      const batch = new Batch<string, string>(1)
      const producer = yield* Effect.forkChild(batch.offer("kept", 1)!)
      batch.end("closed")
      batch.end("ignored: the first end wins")
      assert.deepStrictEqual(yield* Fiber.await(producer), Exit.void)
      assert.isUndefined(batch.offer("dropped", 1))
      assert.deepStrictEqual(yield* batch.take, ["kept"])
      assert.deepStrictEqual(yield* Effect.flip(batch.take), "closed")
      // a take parked before the end fails with it as soon as flush runs
      const parked = new Batch<string, string>(1)
      const taker = yield* Effect.forkChild(parked.take)
      yield* settle
      parked.end("gone")
      parked.flush()
      assert.deepStrictEqual(yield* Fiber.await(taker), Exit.fail("gone"))
    }))
})
