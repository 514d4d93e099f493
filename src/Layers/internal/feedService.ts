/**
 * The market feed's events and service, by shape: written once here for `MarketFeed` (which
 * names them `MarketFeed.FeedEvent` and `MarketFeed.MarketFeedService`) and for
 * `MarketFeedReplay`, which `MarketFeed` imports and so cannot import back.
 *
 * @internal
 */
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import type * as SubscriptionRef from "effect/SubscriptionRef"
import type * as Supervisor from "../../Reconnect/Supervisor.ts"
import type { Messages } from "./messages.ts"

/** What the application reads from the feed, in order. */
export type FeedEvent =
  /** Consecutive text and binary messages, owned (see `Messages`): a batch of the push loop, or of a replayed read. */
  | Messages
  /** The connection was lost: messages may be missing until the next `Connected`. */
  | { readonly _tag: "Gap"; readonly gap: Supervisor.Gap }
  /** A (re)connect completed and subscriptions are being sent; `session` counts from 1. */
  | { readonly _tag: "Connected"; readonly session: number; readonly renewal: boolean }

/** The feed service, live or replayed. */
export interface MarketFeedService {
  /** Every event, in order; read from one fiber. */
  readonly events: Stream.Stream<FeedEvent>
  /** The supervisor's state (`Connecting`, `Connected`, `Reconnecting`, `Stopped`). */
  readonly state: SubscriptionRef.SubscriptionRef<Supervisor.FeedState>
  /** Adds topics (sent now when connected, and after every reconnect). */
  subscribe(...topics: ReadonlyArray<string>): Effect.Effect<void>
  /** Removes topics. */
  unsubscribe(...topics: ReadonlyArray<string>): Effect.Effect<void>
  /** The current topics. */
  readonly subscriptions: Effect.Effect<ReadonlyArray<string>>
  /** Stops the feed; the events stream ends. */
  readonly stop: Effect.Effect<void>
}
