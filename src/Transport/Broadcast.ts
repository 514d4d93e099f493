/**
 * `Broadcast` — one message to many WebSockets, where every subscriber has a bounded outbound
 * buffer and a slow subscriber cannot hold up the publisher or the others.
 *
 * ```text
 * publishText(text) ─► encode once ─► client 1: [queue ≤ capacity] ─► writer fiber ─► sendText
 *                                  └► client 2: [queue ≤ capacity] ─► writer fiber ─► sendText
 *                                  └► client N: full? ─► slowConsumer: "drop" | 1008 | 1013
 * ```
 *
 * Rules:
 * - `publish*` is synchronous and never waits: the message is encoded once (UTF-8 for text)
 *   and queued for every subscriber; each subscriber's writer fiber sends what is queued, in
 *   order, with the socket's backpressure.
 * - A subscriber that already has `capacity` messages waiting (queued, or taken by its writer
 *   and not yet sent — the one being sent aside; default
 *   {@link DEFAULT_CAPACITY}) is a slow consumer, and the caller's `slowConsumer` policy
 *   applies (there is no default: the choice is the application's): `"drop"` skips this message
 *   for it (counted in `dropped`; it stays subscribed and gets the next ones once its queue
 *   drains), `1008` (policy violation) or `1013` (try again later) unsubscribes it, forgets what
 *   was queued, and runs the closing handshake with that code and the reason `"slow consumer"`
 *   — bounded by `closeTimeout` (a peer that reads nothing lets no close frame out), after
 *   which the socket is destroyed. A client
 *   that reconnects after 1013 (`Feed` backs off on it) starts from fresh data.
 * - `subscribe(socket)` lasts until its scope closes (or the socket is closed by the policy);
 *   a send that fails (the peer went away) unsubscribes the socket silently — the connection's
 *   own `recv` reports the failure.
 * - Memory per subscriber: at most `capacity` queued messages, shared between subscribers (one
 *   encoded copy per message, not one per subscriber).
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import { DEFAULT_CLOSE_TIMEOUT } from "./internal/webSocketOptions.ts"
import type * as WebSocket from "./WebSocket.ts"

/**
 * What a full queue means for the subscriber: skip the message, or close with 1008 (policy
 * violation) or 1013 (try again later).
 *
 * @since 0.1.0
 * @category models
 */
export type SlowConsumerPolicy = "drop" | 1008 | 1013

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Messages queued per subscriber before it counts as slow. Default 1024 ({@link DEFAULT_CAPACITY}). */
  readonly capacity?: number | undefined
  /** What to do with a slow subscriber; required (see the module doc). */
  readonly slowConsumer: SlowConsumerPolicy
  /** How long a slow subscriber's close may take before its socket is destroyed. Default 5 s (`WebSocket.DEFAULT_CLOSE_TIMEOUT`). */
  readonly closeTimeout?: Duration.Input | undefined
}

/**
 * Counters of a broadcast (live values).
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  /** Messages published. */
  readonly published: number
  /** Messages handed to a subscriber's socket. */
  readonly delivered: number
  /** Messages skipped for a full subscriber (`"drop"`). */
  readonly dropped: number
  /** Subscribers closed for being slow (1008 / 1013). */
  readonly closedSlow: number
}

/**
 * A broadcast group.
 *
 * @since 0.1.0
 * @category models
 */
export interface Broadcast {
  /** Subscribers now. */
  readonly size: number
  /** The counters. */
  readonly stats: Stats
  /** Adds `socket` until the current scope closes; its writer fiber runs in that scope. */
  subscribe(socket: WebSocket.WebSocket): Effect.Effect<void, never, Scope.Scope>
  /** Queues a text message for every subscriber; returns how many took it. */
  publishText(text: string | Uint8Array): number
  /** Queues a binary message for every subscriber; returns how many took it. */
  publishBinary(data: Uint8Array): number
}

/**
 * Default per-subscriber queue: 1024 messages.
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_CAPACITY = 1024

/** A queued message: the encoded payload and whether it goes out as text. */
interface Outbound {
  readonly text: boolean
  readonly data: Uint8Array
}

interface Subscriber {
  readonly socket: WebSocket.WebSocket
  readonly queue: Queue.Queue<Outbound>
  /**
   * Messages taken for it and not yet sent, the one in flight aside: the queue's and those of
   * the writer's current batch (`takeAll` empties the queue, so its size alone does not bound them).
   */
  waiting: number
}

/**
 * Makes a broadcast group. `capacity` must be a positive integer (a `RangeError` otherwise:
 * caller misuse).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Broadcast => {
  const capacity = options.capacity ?? DEFAULT_CAPACITY
  if (!Number.isSafeInteger(capacity) || capacity <= 0) {
    throw new RangeError(`Broadcast.make: capacity must be a positive integer, got ${capacity}`)
  }
  const policy = options.slowConsumer
  const closeTimeout = Duration.fromInputUnsafe(options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT)
  const subscribers = new Set<Subscriber>()
  const stats = { published: 0, delivered: 0, dropped: 0, closedSlow: 0 }

  const unsubscribe = (subscriber: Subscriber): boolean => {
    if (!subscribers.delete(subscriber)) return false
    Queue.shutdownUnsafe(subscriber.queue)
    return true
  }

  const closeSlow = (subscriber: Subscriber, code: 1008 | 1013): Effect.Effect<void> =>
    // the close frame queues behind a send the writer has in flight; a peer that reads nothing
    // lets neither out, so the socket's closeTimeout bounds the wait before it is destroyed
    Effect.ignore(subscriber.socket.close(code, "slow consumer")).pipe(
      Effect.timeout(closeTimeout),
      Effect.ignore,
      Effect.ensuring(subscriber.socket.transport.destroy())
    )

  const writer = (subscriber: Subscriber): Effect.Effect<void> =>
    Effect.gen(function*() {
      const { queue, socket } = subscriber
      for (;;) {
        const batch = yield* Queue.takeAll(queue)
        for (const message of batch) {
          subscriber.waiting--
          yield* message.text ? socket.sendText(message.data) : socket.sendBinary(message.data)
          stats.delivered++
        }
      }
    }).pipe(
      // a failed send (the peer went away) or a shut-down queue ends the subscription
      Effect.ignore,
      Effect.ensuring(Effect.sync(() => unsubscribe(subscriber)))
    )

  const publish = (message: Outbound): number => {
    stats.published++
    let took = 0
    for (const subscriber of subscribers) {
      if (subscriber.waiting < capacity && Queue.offerUnsafe(subscriber.queue, message)) {
        subscriber.waiting++
        took++
        continue
      }
      if (policy === "drop") {
        stats.dropped++
        continue
      }
      if (!unsubscribe(subscriber)) continue
      stats.closedSlow++
      Effect.runFork(closeSlow(subscriber, policy))
    }
    return took
  }

  return {
    get size() {
      return subscribers.size
    },
    stats,
    subscribe: (socket) =>
      Effect.gen(function*() {
        const queue = yield* Queue.bounded<Outbound>(capacity)
        const subscriber: Subscriber = { socket, queue, waiting: 0 }
        subscribers.add(subscriber)
        yield* Effect.addFinalizer(() => Effect.sync(() => unsubscribe(subscriber)))
        yield* Effect.forkScoped(writer(subscriber))
      }),
    publishText: (text) => publish({ text: true, data: typeof text === "string" ? Buffer.from(text) : text }),
    publishBinary: (data) => publish({ text: false, data })
  }
}
