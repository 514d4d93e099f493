/**
 * A hand-off from a synchronous producer — a push loop's handler (`WebSocket.run`, the feed
 * supervisor's `run`) — to one consumer fiber that takes everything queued as one array: the
 * read side of `NexusSocket` and `MarketFeed`'s events.
 *
 * Rules:
 * - `offer` never suspends the producer by itself: it queues the item and, once the queued
 *   weight reached the high-water mark, returns the Effect to wait on until the consumer takes
 *   the batch (the push loop then stops reading: backpressure). Below the mark it returns
 *   `undefined`, so the producer's handler costs no Effect step.
 * - A parked `take` is woken a microtask after the first item, once the producer has handed
 *   over every message already buffered and suspended: the consumer gets the whole batch rather
 *   than its first item. `flush` wakes it now.
 * - `end(error)` is final (the first one wins): later offers are dropped, a producer waiting for
 *   room is let go, and once the queued items are taken every `take` fails with `error`.
 * - An item may keep growing after it was offered (`MarketFeed`'s run of messages): `add` counts
 *   the weight of what it took in, and `seal` (given to the constructor) finishes it just
 *   before each batch is handed to the consumer.
 *
 * @internal
 */
import type * as Arr from "effect/Array"
import * as Effect from "effect/Effect"

type Resume<A, E> = (effect: Effect.Effect<A, E>) => void

/** One consumer; one producer at a time, or two during a feed renewal (see `parkedOffers`); see the module doc. */
export class Batch<A, E> {
  private readonly highWaterMark: number
  private items: Array<A>
  private weight: number
  private ended: boolean
  private error: E | undefined
  private parkedTake: Resume<Arr.NonEmptyReadonlyArray<A>, E> | undefined
  /**
   * Producers waiting for room. Usually one (the push loop), but a feed's renewal runs a second
   * producer (the new connection's `onConnect` event) beside the old connection's push loop, and
   * both may wait at once: each must be let go.
   */
  private readonly parkedOffers: Set<Resume<void, never>>
  private wakeQueued: boolean
  private readonly seal: (() => void) | undefined
  /** Waits until the consumer took the batch (or the batch ended). */
  private readonly room: Effect.Effect<void>
  /** Everything queued, as soon as there is something; fails with the end once drained. */
  readonly take: Effect.Effect<Arr.NonEmptyReadonlyArray<A>, E>

  constructor(highWaterMark: number, seal?: () => void) {
    this.highWaterMark = Math.max(1, highWaterMark)
    this.seal = seal
    this.items = []
    this.weight = 0
    this.ended = false
    this.error = undefined
    this.parkedTake = undefined
    this.parkedOffers = new Set()
    this.wakeQueued = false
    this.room = Effect.callback<void>((resume) => {
      if (this.ended || this.weight < this.highWaterMark) return resume(Effect.void)
      this.parkedOffers.add(resume)
      return Effect.sync(() => void this.parkedOffers.delete(resume))
    })
    this.take = Effect.callback((resume) => {
      if (this.items.length > 0) return resume(Effect.succeed(this.takeAll()))
      if (this.ended) return resume(Effect.fail(this.error!))
      this.parkedTake = resume
      return Effect.sync(() => {
        if (this.parkedTake === resume) this.parkedTake = undefined
      })
    })
  }

  /** Queues `item`, counting `weight` toward the mark; the Effect to wait on at the mark, else `undefined`. */
  offer(item: A, weight: number): Effect.Effect<void> | undefined {
    if (this.ended) return undefined
    this.items.push(item)
    this.weight += weight
    if (this.parkedTake !== undefined && !this.wakeQueued) {
      this.wakeQueued = true
      queueMicrotask(this.wake)
    }
    return this.weight >= this.highWaterMark ? this.room : undefined
  }

  /** Counts `weight` more toward the mark for an item already queued that grew; as {@link offer}. */
  add(weight: number): Effect.Effect<void> | undefined {
    if (this.ended) return undefined
    this.weight += weight
    return this.weight >= this.highWaterMark ? this.room : undefined
  }

  /** Whether `end` was called: offers are dropped. */
  get isEnded(): boolean {
    return this.ended
  }

  /** No more items; once the queued ones are taken, `take` fails with `error`. The first end wins. */
  end(error: E): void {
    if (this.ended) return
    this.ended = true
    this.error = error
    this.releaseOffer()
    if (!this.wakeQueued) {
      this.wakeQueued = true
      queueMicrotask(this.wake)
    }
  }

  /** Wakes a parked `take` now with what there is (a scope closing cannot wait for the microtask). */
  flush(): void {
    this.wake()
  }

  private readonly wake = (): void => {
    this.wakeQueued = false
    const resume = this.parkedTake
    if (resume === undefined || (this.items.length === 0 && !this.ended)) return
    this.parkedTake = undefined
    resume(this.items.length > 0 ? Effect.succeed(this.takeAll()) : Effect.fail(this.error!))
  }

  private takeAll(): Arr.NonEmptyReadonlyArray<A> {
    if (this.seal !== undefined) this.seal()
    const items = this.items as unknown as Arr.NonEmptyReadonlyArray<A>
    this.items = []
    this.weight = 0
    this.releaseOffer()
    return items
  }

  private releaseOffer(): void {
    if (this.parkedOffers.size === 0) return
    const parked = [...this.parkedOffers]
    this.parkedOffers.clear()
    for (const resume of parked) resume(Effect.void)
  }
}
