/**
 * `Supervisor` — keeps a subscription feed alive: connect, authenticate, subscribe, deliver
 * messages, and on any failure reconnect with backoff and subscribe again.
 *
 * The supervisor knows nothing of the wire: it is given how to `connect` (a scoped effect), how
 * to take messages from a connection — pulled one at a time (`receive`), or pushed to a handler
 * many per Effect step (`run`, the form a busy feed wants) — and how to send subscriptions.
 * `Feed.ts` wires it to the WebSocket stream's connect and push loop (`WebSocket.run`). Tests
 * drive it with scripted connections under `TestClock`.
 *
 * ```text
 *  Connecting(0) ──connect ok──► Connected ──session ends──► Reconnecting(n, delay) ──sleep──► Connecting(n)
 *        ▲  │ connect failed ──────────────────────────────────────────▲                         │
 *        │  └───────────────────────────────────────────────────────────┘                         │
 *        └────────────────────────────────────────────────────────────────────────────────────────┘
 *  stop / scope close / handler failure / schedule exhausted ──► Stopped
 * ```
 *
 * Rules:
 * - Every (re)connect runs `onConnect` (auth, a snapshot for resynchronising) and then sends the
 *   whole current subscription set, before the first message is handed to `onMessage`.
 * - `subscribe`/`unsubscribe` change the registry at any time; on a live connection the change
 *   is also sent at once. A change and a connect's initial subscribe never interleave, so no
 *   subscription is lost or sent twice around a reconnect.
 * - A connected session that ends — cleanly (`receive` returned {@link Ended}, `run` succeeded)
 *   or with an error — is reported to `onGap` before reconnecting: the handler always knows it may have
 *   missed messages. So is a connection whose `onConnect` ran but whose subscribe failed.
 *   Dials that fail while disconnected are part of the same gap.
 * - The backoff (default {@link Backoff.reconnect}) restarts from its first delay after a clean
 *   close of a session that lived at least `minSessionLifetime` (default 5 s), or after any
 *   session that lived at least `resetAfter` (default 30 s). A connection that ends before it
 *   was useful is a failed attempt ({@link SessionTooShort}), so a server that accepts and closes
 *   at once is redialled along the schedule, not ten times a second: the lifetime is counted
 *   from `Connected` (after `onConnect` and the subscribe), so a close that arrived while
 *   `onConnect` ran always falls inside it. A finite schedule that runs out stops the supervisor
 *   with {@link FeedGaveUp}.
 * - A failure of `onMessage` is the application's, not the network's: it
 *   stops the supervisor and `await` fails with it. Transport errors never stop it.
 * - `onMessage` may return nothing instead of an Effect: with `run`, a handler that returns
 *   nothing costs no Effect step, so a batch of buffered messages is handled in one step (the
 *   connection's fairness bound, such as `WebSocket`'s `maxBatch`, still yields between batches).
 * - Optional `maxSessionLifetime` renews the connection before a server cuts it: a new
 *   connection is opened and subscribed while the old one keeps delivering; then the old one is
 *   closed and delivery moves to the new one. Nothing is missed, but a few messages near the
 *   switch may arrive twice (once per connection): dedupe by sequence number where it matters.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import type * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as Backoff from "../Transport/Backoff.ts"

/**
 * What `receive` returns when the peer closed the feed cleanly.
 *
 * @since 0.1.0
 * @category constants
 */
export const Ended: { readonly _tag: "Ended" } = Object.freeze({ _tag: "Ended" as const })

/**
 * The supervisor's state, as users watch it.
 *
 * @since 0.1.0
 * @category models
 */
export type FeedState =
  /** Dialing; `attempt` counts failed tries since the backoff last restarted. */
  | { readonly _tag: "Connecting"; readonly attempt: number }
  /** Subscribed and delivering since `since` (clock millis); `sessions` counts connects so far. */
  | { readonly _tag: "Connected"; readonly since: number; readonly sessions: number }
  /**
   * Waiting `delay` before attempt `attempt`, after `error` ended the last try or session
   * (`undefined` after a clean close that restarted the backoff; {@link SessionTooShort} after a
   * clean close inside `minSessionLifetime`).
   */
  | { readonly _tag: "Reconnecting"; readonly attempt: number; readonly delay: Duration.Duration; readonly error: unknown }
  /** Not running any more: stopped by the user or the scope, a handler failure, or giving up. */
  | { readonly _tag: "Stopped"; readonly reason: "Stopped" | "HandlerFailed" | "GaveUp" }

/**
 * What the handler learns when a connected session ends: messages may have been missed.
 *
 * @since 0.1.0
 * @category models
 */
export interface Gap {
  /** Why the session ended: `undefined` for a clean close by the peer. */
  readonly error: unknown
  /** How long the session had been connected. */
  readonly connectedFor: Duration.Duration
  /** Clock millis when the gap began. */
  readonly at: number
}

/**
 * What `onConnect` learns about the connection it runs on.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectInfo {
  /** 1 for the first connection, 2 for the first reconnect or renewal, … */
  readonly session: number
  /** True when this connection replaces a live one before its lifetime ran out (no gap). */
  readonly renewal: boolean
}

/**
 * The supervisor gave up: its (finite) schedule ran out after `attempts` failed attempts.
 *
 * @since 0.1.0
 * @category errors
 */
export class FeedGaveUp extends Data.TaggedError("FeedGaveUp")<{
  readonly attempts: number
  readonly lastError: unknown
}> {
  override get message(): string {
    return `feed supervisor gave up after ${this.attempts} failed attempts; last error: ${describe(this.lastError)}`
  }
}

/**
 * Why a clean close still counts as a failed attempt: the session ended `connectedFor` after it
 * was connected, inside the `minimum` lifetime (`minSessionLifetime`) a useful session outlives.
 * It is the `error` of the `Reconnecting` state and of {@link FeedGaveUp}; the {@link Gap}
 * itself still says `error: undefined` (the peer did close cleanly).
 *
 * @since 0.1.0
 * @category errors
 */
export class SessionTooShort extends Data.TaggedError("SessionTooShort")<{
  readonly connectedFor: Duration.Duration
  readonly minimum: Duration.Duration
}> {
  override get message(): string {
    return `the peer closed the session cleanly ${Duration.toMillis(this.connectedFor)} ms after it was connected, inside the minimum session lifetime (${
      Duration.format(this.minimum)
    }): counted as a failed attempt`
  }
}

/**
 * The default `minSessionLifetime`: 5 seconds. A healthy feed session lasts minutes to hours; a
 * server that refuses by accepting and closing (or closes after an auth check) does it within
 * milliseconds to a second. 5 s — the reconnect schedule's cap — sits well above such a refusal
 * and well below any real session.
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_MIN_SESSION_LIFETIME: Duration.Duration = Duration.seconds(5)

const describe = (error: unknown): string =>
  error instanceof Error ? error.message : typeof error === "string" ? error : JSON.stringify(error) ?? String(error)

/**
 * Default session length that restarts the backoff from its first delay: 30 seconds.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_RESET_AFTER: Duration.Duration = Duration.seconds(30)

/**
 * What the supervisor does with a connection once it is open: everything in {@link Options}
 * but how to connect and read. `Conn` is the connection, `Msg` a message, `Sub` a subscription
 * (a topic name, a request object), `E` transport errors (they cause reconnects) and `EH`
 * handler errors (they stop the feed).
 *
 * @since 0.1.0
 * @category models
 */
export interface Handlers<Conn, Msg, Sub, E, EH, R> {
  /**
   * Handles one message; a failure stops the supervisor. Runs uninterruptibly. Return nothing
   * (instead of an Effect) for the fast path: no Effect step per message.
   */
  readonly onMessage: (message: Msg, conn: Conn) => Effect.Effect<void, EH, R> | void
  /** Sends subscriptions: the whole set after every connect, or the ones added while connected. */
  readonly subscribe?: ((conn: Conn, subs: ReadonlyArray<Sub>) => Effect.Effect<void, E, R>) | undefined
  /** Sends unsubscriptions for the ones removed while connected. */
  readonly unsubscribe?: ((conn: Conn, subs: ReadonlyArray<Sub>) => Effect.Effect<void, E, R>) | undefined
  /** Runs on every connection before subscribing (authentication, a resync snapshot). */
  readonly onConnect?: ((conn: Conn, info: ConnectInfo) => Effect.Effect<void, E, R>) | undefined
  /** Told when a connected session ended; runs before the reconnect delay. */
  readonly onGap?: ((gap: Gap) => Effect.Effect<void, never, R>) | undefined
  /** The subscriptions to start with. */
  readonly subscriptions?: Iterable<Sub> | undefined
  /** Identity of a subscription in the registry. Default: `String(sub)`. */
  readonly key?: ((sub: Sub) => string) | undefined
  /** Delays between attempts; its output is the delay. Default: {@link Backoff.reconnect}. */
  readonly schedule?: Schedule.Schedule<Duration.Duration, unknown> | undefined
  /** A session that lived this long restarts the backoff, however it ended. Default: 30 seconds. */
  readonly resetAfter?: Duration.Input | undefined
  /**
   * A session closed cleanly sooner than this after `Connected` counts as a failed attempt (the
   * backoff keeps growing, see {@link SessionTooShort}); a longer one restarts the backoff. `0`
   * turns the rule off. Default: 5 seconds ({@link DEFAULT_MIN_SESSION_LIFETIME}).
   */
  readonly minSessionLifetime?: Duration.Input | undefined
  /** Renew the connection (overlapping, no gap) after this long. Default: never. */
  readonly maxSessionLifetime?: Duration.Input | undefined
}

/**
 * The push form of reading a connection: calls `handler` for every message until the peer
 * closes cleanly (then succeeds) or the connection fails with `E`. A handler that returns an
 * Effect is waited for before the next message, and its failure (`X`) ends the run with it.
 * `WebSocket.run` has this shape.
 *
 * @since 0.1.0
 * @category models
 */
export type Run<Conn, Msg, E, R> = <X>(
  conn: Conn,
  handler: (message: Msg) => Effect.Effect<void, X> | void
) => Effect.Effect<void, E | X, R>

/**
 * How to run one feed: how to `connect`, how to read a connection — `receive` (pull: the next
 * message, or {@link Ended}) or `run` (push, see {@link Run}) — and the {@link Handlers}.
 *
 * @since 0.1.0
 * @category models
 */
export type Options<Conn, Msg, Sub, E, EH, R> =
  & Handlers<Conn, Msg, Sub, E, EH, R>
  & {
    /** Opens one connection; closing the given scope closes it. */
    readonly connect: Effect.Effect<Conn, E, R | Scope.Scope>
  }
  & (
    | {
      /** The next message, or {@link Ended} when the peer closed cleanly. */
      readonly receive: (conn: Conn) => Effect.Effect<Msg | typeof Ended, E, R>
      readonly run?: undefined
    }
    | {
      /** Pushes the connection's messages to a handler, many per Effect step (see {@link Run}). */
      readonly run: Run<Conn, Msg, E, R>
      readonly receive?: undefined
    }
  )

/**
 * A running feed.
 *
 * @since 0.1.0
 * @category models
 */
export interface Supervisor<Sub, EH> {
  /** The current state; `SubscriptionRef.changes(state)` streams every change. */
  readonly state: SubscriptionRef.SubscriptionRef<FeedState>
  /** Every state change, starting with the current state. */
  readonly changes: Stream.Stream<FeedState>
  /** Adds subscriptions (sent at once when connected, and after every reconnect). */
  subscribe(...subs: ReadonlyArray<Sub>): Effect.Effect<void>
  /** Removes subscriptions (unsubscribed at once when connected, not re-sent). */
  unsubscribe(...subs: ReadonlyArray<Sub>): Effect.Effect<void>
  /** The current subscription set, in the order added. */
  readonly subscriptions: Effect.Effect<ReadonlyArray<Sub>>
  /** Stops the feed and closes its connection; idempotent. */
  readonly stop: Effect.Effect<void>
  /** Waits until the feed stops: succeeds when stopped, fails with a handler error or {@link FeedGaveUp}. */
  readonly await: Effect.Effect<void, EH | FeedGaveUp>
}

/** Marks a handler failure so the loop can tell it from a transport error. */
class HandlerFailed<EH> {
  readonly error: EH
  constructor(error: EH) {
    this.error = error
  }
}

/**
 * Starts a supervisor in the current scope; closing the scope stops it and closes its
 * connection. The first connect is attempted at once.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <Conn, Msg, Sub, E, EH, R>(
  options: Options<Conn, Msg, Sub, E, EH, R>
): Effect.Effect<Supervisor<Sub, EH>, never, R | Scope.Scope> =>
  Effect.gen(function*() {
    const state = yield* SubscriptionRef.make<FeedState>({ _tag: "Connecting", attempt: 0 })
    const key = options.key ?? String
    const registry = new Map<string, Sub>()
    for (const sub of options.subscriptions ?? []) registry.set(key(sub), sub)
    const lock = yield* Semaphore.make(1)
    const done = yield* Deferred.make<void, EH | FeedGaveUp>()
    const resetAfter = Duration.toMillis(Duration.fromInputUnsafe(options.resetAfter ?? DEFAULT_RESET_AFTER))
    const minLifetime = options.minSessionLifetime === undefined
      ? DEFAULT_MIN_SESSION_LIFETIME
      : Duration.fromInputUnsafe(options.minSessionLifetime)
    const minLifetimeMillis = Duration.toMillis(minLifetime)
    const lifetime = options.maxSessionLifetime === undefined
      ? undefined
      : Duration.fromInputUnsafe(options.maxSessionLifetime)
    const schedule = options.schedule ?? Backoff.reconnect
    let live: Conn | undefined
    let sessions = 0
    /** When the current attempt's dial succeeded (clock millis), or `undefined` before that. */
    let dialedAt: number | undefined
    // subscribe/unsubscribe are called from the user's fibers: they send with the feed's context
    const context = yield* Effect.context<R>()

    /** Connect + onConnect + initial subscribe into `scope`; the connection becomes `live`. */
    const open = (scope: Scope.Scope, renewal: boolean) =>
      Effect.gen(function*() {
        const conn = yield* Scope.provide(options.connect, scope)
        sessions++
        dialedAt = yield* Clock.currentTimeMillis
        if (options.onConnect !== undefined) yield* options.onConnect(conn, { session: sessions, renewal })
        yield* lock.withPermit(Effect.gen(function*() {
          if (options.subscribe !== undefined && registry.size > 0) yield* options.subscribe(conn, [...registry.values()])
          live = conn
        }))
        return conn
      })

    /**
     * The handler for `conn`'s messages: `onMessage` as is when it returns nothing (no Effect
     * step), otherwise its Effect, uninterruptible, with the feed's context and its failure
     * marked as the handler's.
     */
    const handlerFor = (conn: Conn) => (message: Msg): Effect.Effect<void, HandlerFailed<EH>> | undefined => {
      const effect = options.onMessage(message, conn)
      if (effect === undefined) return undefined
      return Effect.uninterruptible(
        Effect.provideContext(Effect.mapError(effect, (error) => new HandlerFailed(error)), context)
      )
    }

    /** Delivers messages from `conn` until it ends (`undefined`) or fails. */
    const deliver = (conn: Conn): Effect.Effect<void, E | HandlerFailed<EH>, R> => {
      const handler = handlerFor(conn)
      if (options.run !== undefined) return options.run(conn, handler)
      const receive = options.receive
      return Effect.gen(function*() {
        for (;;) {
          const message = yield* receive(conn)
          if (message === Ended) return
          const effect = handler(message as Msg)
          if (effect !== undefined) yield* effect
        }
      })
    }

    /** The scope of the connection being delivered from; closed when the loop ends, however. */
    let active: Scope.Closeable | undefined

    /**
     * One connected stretch: delivers, renewing the connection every `lifetime` if set. Ends
     * with `undefined` (clean close) or fails with the session's error.
     */
    const session = (firstConn: Conn, since: number) =>
      Effect.gen(function*() {
        let conn = firstConn
        for (;;) {
          const fiber = yield* Effect.forkChild(deliver(conn))
          if (lifetime === undefined) return yield* Fiber.join(fiber)
          let renewed: { readonly conn: Conn; readonly scope: Scope.Closeable } | undefined
          while (renewed === undefined) {
            const ended = yield* Effect.raceFirst(
              Effect.map(Fiber.await(fiber), (exit) => ({ exit })),
              Effect.as(Effect.sleep(lifetime), undefined)
            )
            if (ended !== undefined) return yield* ended.exit
            // renew: the old connection keeps delivering while the new one connects and subscribes
            const next = yield* Scope.make()
            const opened = yield* Effect.exit(Effect.onInterrupt(open(next, true), () => Scope.close(next, Exit.void)))
            if (Exit.isFailure(opened)) {
              // could not renew now: keep the old connection (still delivering, untouched) and
              // try again after another lifetime
              yield* Scope.close(next, opened)
              continue
            }
            renewed = { conn: opened.value, scope: next }
          }
          const { conn: fresh, scope: next } = renewed
          // the switch is atomic: no interruption between closing the old and adopting the new
          const outcome = yield* Effect.uninterruptible(Effect.gen(function*() {
            // the old connection may have ended by itself while the new one connected (or while
            // being interrupted: the handler runs uninterruptibly)
            yield* Fiber.interrupt(fiber)
            const exit = yield* Fiber.await(fiber)
            let endedBySelf = Exit.isSuccess(exit)
            let error: unknown
            if (Exit.isFailure(exit)) {
              const failure = Cause.findErrorOption(exit.cause)
              // a handler failure there is the application's and stops the feed, as it would
              // without renewal
              if (failure._tag === "Some" && failure.value instanceof HandlerFailed) {
                yield* Scope.close(next, Exit.void)
                return { failed: Exit.fail(failure.value) } as const
              }
              if (failure._tag === "Some" || !Cause.hasInterruptsOnly(exit.cause)) {
                endedBySelf = true
                error = Cause.squash(exit.cause)
              }
            }
            const old = active
            active = next
            if (old !== undefined) yield* Scope.close(old, Exit.void)
            return { failed: undefined, endedBySelf, error } as const
          }))
          if (outcome.failed !== undefined) return yield* outcome.failed
          // the old connection ended (cleanly or not) before the switch: what was published
          // between its end and the new connection's subscribe reached neither, so it is a gap
          if (outcome.endedBySelf && options.onGap !== undefined) {
            const at = yield* Clock.currentTimeMillis
            yield* options.onGap({ error: outcome.error, connectedFor: Duration.millis(at - since), at })
          }
          conn = fresh
        }
      })

    const closeActive = Effect.suspend(() => {
      const scope = active
      active = undefined
      return scope === undefined ? Effect.void : Scope.close(scope, Exit.void)
    })

    const loop = Effect.gen(function*() {
      let step = yield* Schedule.toStep(schedule)
      let attempt = 0
      for (;;) {
        yield* SubscriptionRef.set(state, { _tag: "Connecting", attempt })
        dialedAt = undefined
        active = yield* Scope.make()
        const opened = yield* Effect.exit(open(active, false))
        let error: unknown
        if (Exit.isSuccess(opened)) {
          const since = yield* Clock.currentTimeMillis
          yield* SubscriptionRef.set(state, { _tag: "Connected", since, sessions })
          const ended = yield* Effect.exit(session(opened.value, since))
          live = undefined
          yield* closeActive
          const at = yield* Clock.currentTimeMillis
          if (Exit.isFailure(ended)) {
            const failure = Cause.squash(ended.cause)
            if (failure instanceof HandlerFailed) {
              yield* SubscriptionRef.set(state, { _tag: "Stopped", reason: "HandlerFailed" })
              return yield* Deferred.fail(done, failure.error as EH)
            }
            error = failure
          }
          const lived = at - since
          if (options.onGap !== undefined) yield* options.onGap({ error, connectedFor: Duration.millis(lived), at })
          if (lived >= resetAfter || (error === undefined && lived >= minLifetimeMillis)) {
            step = yield* Schedule.toStep(schedule)
            attempt = 0
          } else if (error === undefined) {
            // closed cleanly before it was useful (issue #9: a server closing at once with 1000
            // was redialled every 100 ms forever): a failed attempt, so the backoff grows
            error = new SessionTooShort({ connectedFor: Duration.millis(lived), minimum: minLifetime })
          }
        } else {
          live = undefined
          yield* closeActive
          error = Cause.squash(opened.cause)
          // the dial succeeded and `onConnect` ran, but authenticating or subscribing failed: the
          // handler may have taken the connection as live, so it hears of the gap as well
          if (dialedAt !== undefined && options.onGap !== undefined) {
            const at = yield* Clock.currentTimeMillis
            yield* options.onGap({ error, connectedFor: Duration.millis(at - dialedAt), at })
          }
        }
        attempt++
        const now = yield* Clock.currentTimeMillis
        const next = yield* Effect.exit(step(now, error))
        if (Exit.isFailure(next)) {
          yield* SubscriptionRef.set(state, { _tag: "Stopped", reason: "GaveUp" })
          return yield* Deferred.fail(done, new FeedGaveUp({ attempts: attempt, lastError: error }))
        }
        const delay = next.value[1]
        yield* SubscriptionRef.set(state, { _tag: "Reconnecting", attempt, delay, error })
        yield* Effect.sleep(delay)
      }
    })

    const fiber = yield* Effect.forkScoped(Effect.ensuring(loop, closeActive))
    const stop = Effect.gen(function*() {
      yield* Fiber.interrupt(fiber)
      live = undefined
      // a feed that already stopped by itself keeps saying why (GaveUp, HandlerFailed)
      yield* SubscriptionRef.update(state, (s): FeedState => s._tag === "Stopped" ? s : { _tag: "Stopped", reason: "Stopped" })
      yield* Deferred.succeed(done, undefined)
    })
    yield* Effect.addFinalizer(() => stop)

    const change = (subs: ReadonlyArray<Sub>, add: boolean) =>
      lock.withPermit(Effect.gen(function*() {
        const changed: Array<Sub> = []
        for (const sub of subs) {
          const k = key(sub)
          if (add === registry.has(k)) continue
          if (add) registry.set(k, sub)
          else registry.delete(k)
          changed.push(sub)
        }
        const send = add ? options.subscribe : options.unsubscribe
        if (live !== undefined && send !== undefined && changed.length > 0) {
          // a failed send means the connection is going: the session sees it and reconnects,
          // and the reconnect re-sends the registry
          yield* Effect.ignore(Effect.provideContext(send(live, changed), context))
        }
      }))

    return {
      state,
      changes: SubscriptionRef.changes(state),
      subscribe: (...subs) => change(subs, true),
      unsubscribe: (...subs) => change(subs, false),
      subscriptions: Effect.sync(() => [...registry.values()]),
      stop,
      await: Deferred.await(done)
    } satisfies Supervisor<Sub, EH>
  })
