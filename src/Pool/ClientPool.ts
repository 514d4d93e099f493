/**
 * `ClientPool` — a fixed set of HTTP/1.1 keep-alive connections to one origin, each in a slot
 * that owns a `RequestWriter`, a `ResponseReader` and the current `HttpConnection`, with
 * self-healing reconnect.
 *
 * ```text
 *   tryAcquire ── healthy idle slot? ──yes──► lease (scoped) ──scope closes──► release
 *       │ no: none, at once                                                    │ healthy: back on top (LIFO),
 *   acquire ── none idle: wait for a release or a heal, per the acquire        │   or straight to a waiter
 *       │      schedule; then PoolError AcquireTimeout                         │ unhealthy: eject → reconnect
 *       ▼                                                                      ▼
 *   an unhealthy slot found on the way is ejected: its socket closed, a reconnect fiber started
 *   in the pool's scope (reconnect schedule, never giving up by default) that puts it back healed
 * ```
 *
 * Rules:
 * - **Never a bad slot.** A slot is handed out only when its connection would write now
 *   (`HttpConnection.isReusable`: not poisoned, not closed by the server, within its idle and
 *   request limits). A background sweep (every `healthCheckInterval`, default 1 s) renews idle
 *   slots whose connection expired, so a quiet pool is warm when traffic returns.
 * - **LIFO.** The most recently returned slot goes out first: its connection is the warmest and
 *   the least likely to have been closed by the server for idling.
 * - `tryAcquire` does no I/O and never waits or fails: `Option.some(lease)` or `Option.none()`.
 *   `acquire` waits for a release or a heal, per `acquireSchedule` (default `Backoff.acquire`:
 *   1 ms doubling to 1 s, 20 retries), then fails with a `PoolError` whose reason is
 *   `AcquireTimeout`; a returned slot is
 *   handed straight to the longest waiter (the waiters are a FIFO with O(1) withdrawal).
 * - A lease is scoped: closing its scope returns the slot (on success, failure, interruption
 *   or defect). Returning resets the reader; the writer and reader survive reconnects, so
 *   default headers, base path and buffer capacities stay as configured.
 * - Building checks `basePath` and `defaultHeaders` (a fault fails with `HttpError` reason
 *   `InvalidRequest`, nothing dialed), then connects every slot at once; a failed initial
 *   connect fails the build with its `HttpError`.
 * - **Shutdown.** From the moment the pool's scope (or a parent of it) *begins* to close — before
 *   its finalizers run, so also while the finalizers of request fibers forked into the same
 *   scope run — the pool dials nothing and heals nothing: every waiter fails at once with a
 *   `PoolError` reason `PoolClosed`, so do `acquire`, `withSlot` and `request` afterwards (`tryAcquire` returns
 *   none), and returned slots are dropped. The scope then closes every socket (a request in
 *   flight fails with its `HttpError`, reason `TransportClosed`) and interrupts the reconnect fibers.
 * - Fiber-safe without locks: all bookkeeping is synchronous JavaScript between suspensions.
 * - {@link ClientPool.request} acquires, sends, and returns an owned copy of the response. An
 *   idempotent request (`Request.isIdempotent`: GET, HEAD, PUT, DELETE, OPTIONS, TRACE) that a
 *   *reused* keep-alive connection drops before any response byte (reset, failed write, close)
 *   is sent again once, on a fresh connection opened in the same slot — the race where the
 *   server closes an idle connection as the request goes out, which undici and browsers retry
 *   too. Never a POST or other non-idempotent request: its error keeps `requestSent`.
 *   {@link retryIdempotent} retries an idempotent request whose connection died under it (reset,
 *   failed write, close before any response byte), and any request whose bytes never reached a
 *   socket — never after a read timeout or a bad response — so the library never sends a POST
 *   twice. {@link ClientPool.withSlot} runs one exchange on a slot without a `Scope`.
 *
 * This pool does not sit on Effect's `Pool`: Effect's pool hands out its least recently used
 * item (FIFO), offers no non-waiting `get`, and replaces invalidated items on its own schedule,
 * while the seeds' contract needs LIFO, a fail-fast `tryAcquire` and a heal loop whose
 * schedule is a value. It uses Effect's `Scope`, `Schedule`, `Deferred`, `Metric` and spans (`request` runs
 * in a `ClientPool.request` span when a tracer that exports spans is installed).
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import type { Request, RequestError, RequestWriter } from "../Codec/RequestWriter.ts"
import * as RequestWriterModule from "../Codec/RequestWriter.ts"
import type { Response, ResponseReader } from "../Codec/ResponseReader.ts"
import * as ResponseReaderModule from "../Codec/ResponseReader.ts"
import * as Url from "../Codec/Url.ts"
import * as Backoff from "../Transport/Backoff.ts"
import * as HttpConnection from "../Transport/HttpConnection.ts"
import { InvalidUrl } from "../Transport/Transport.ts"
import type { NoRecordedExchange } from "./NoRecordedExchange.ts"

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

/**
 * Options of {@link make}. Connection options (`connectTimeout`, `readTimeout`, `noDelay`,
 * TCP `keepAlive`, `tls`, `idleTimeout`, `maxRequests`, …) are `HttpConnection.connect`'s.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends HttpConnection.ConnectOptions {
  /** The origin, `http://host:port` or `https://host`. Its path, if any, is ignored: see `basePath`. */
  readonly url: string
  /** Prefixed to every request path, e.g. `/api/v3`. Default `""`. */
  readonly basePath?: string | undefined
  /** Headers on every request (API keys, `User-Agent`). Default none. */
  readonly defaultHeaders?: ReadonlyArray<readonly [string, string]> | undefined
  /** Number of connections (slots). Default 4. */
  readonly connections?: number | undefined
  /** Each slot's request buffer in bytes (a request must fit). Default 32 KiB. */
  readonly writeBufferCapacity?: number | undefined
  /** Each slot's initial response buffer in bytes (it grows to fit `maxBodySize`). Default 32 KiB. */
  readonly responseBufferCapacity?: number | undefined
  /** Largest response body. Default 16 MiB. */
  readonly maxBodySize?: number | undefined
  /** Delays between reconnect attempts of one slot. Default {@link Backoff.reconnect}. */
  readonly reconnectSchedule?: Schedule.Schedule<Duration.Duration, unknown> | undefined
  /** Delays a patient `acquire` waits before giving up. Default {@link Backoff.acquire}. */
  readonly acquireSchedule?: Schedule.Schedule<Duration.Duration, unknown> | undefined
  /** How often idle slots are checked and expired ones renewed. Default 1 s. */
  readonly healthCheckInterval?: Duration.Input | undefined
  /**
   * How one connection is opened. Default `HttpConnection.connect(url, options)`; tests pass
   * one over an in-memory transport.
   */
  readonly connect?: Effect.Effect<HttpConnection.HttpConnection, HttpConnection.HttpError, Scope.Scope> | undefined
}

/** Default number of connections. */
export const DEFAULT_CONNECTIONS = 4

/** Default interval of the idle-slot health check. */
export const DEFAULT_HEALTH_CHECK_INTERVAL: Duration.Duration = Duration.seconds(1)

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/**
 * A patient `acquire` found no healthy slot within its schedule: `attempts` tries over `waited`.
 *
 * @since 0.1.0
 * @category errors
 */
export class AcquireTimeout extends Data.TaggedError("AcquireTimeout")<{
  readonly attempts: number
  readonly waited: Duration.Duration
}> {
  override get message(): string {
    return `no healthy connection became free after ${this.attempts} attempts (${Duration.format(this.waited)})`
  }
}

/**
 * The pool's scope has closed (or begun closing): `acquire`, `withSlot` and `request` fail with
 * it at once, and so does every fiber that was waiting for a slot when the close began.
 *
 * @since 0.1.0
 * @category errors
 */
export class PoolClosed extends Data.TaggedError("PoolClosed")<{}> {
  override get message(): string {
    return "the pool is closed"
  }
}

/**
 * Every reason a {@link PoolError} carries.
 *
 * @since 0.1.0
 * @category errors
 */
export type PoolErrorReason = AcquireTimeout | PoolClosed | NoRecordedExchange

/**
 * The pool's own error: no slot could be had (`reason`) from the pool of `origin`. Its message
 * names the origin once: `pool api.example.com: the pool is closed`. An exchange's failure is an
 * `HttpError`, not this.
 *
 * @since 0.1.0
 * @category errors
 */
export class PoolError extends Data.TaggedError("PoolError")<{
  readonly origin: string
  readonly reason: PoolErrorReason
}> {
  override get message(): string {
    return `pool ${this.origin}: ${this.reason.message}`
  }
}

/**
 * What `request` fails with: no slot (`PoolError`, reason `AcquireTimeout` or `PoolClosed`), or
 * the exchange's `HttpError` (a `RequestWriter` fault is its reason `InvalidRequest`, sent
 * nothing).
 *
 * @since 0.1.0
 * @category errors
 */
export type PoolRequestError = PoolError | HttpConnection.HttpError

// ---------------------------------------------------------------------------------------------
// Slots and leases
// ---------------------------------------------------------------------------------------------

/**
 * A leased slot: build the request with `writer` and `send` it; the response's views are valid
 * until the next `send` on this slot or until the lease ends.
 *
 * @since 0.1.0
 * @category models
 */
export interface Slot {
  /** Stable slot number, 0-based. */
  readonly id: number
  /** The slot's request builder (default headers and base path configured). */
  readonly writer: RequestWriter
  /** The slot's response parser. */
  readonly reader: ResponseReader
  /** The slot's current connection. */
  readonly connection: HttpConnection.HttpConnection
  /** Sends `request` on the slot's connection with its reader. */
  send(request: Request | RequestError): Effect.Effect<Response, HttpConnection.HttpError>
}

/**
 * A snapshot of the pool.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  /** Slots idle and healthy as far as last seen. */
  readonly available: number
  /** Slots leased out. */
  readonly inUse: number
  /** Slots whose connection is being re-established. */
  readonly reconnecting: number
  /** Reconnects completed since the pool was built. */
  readonly totalReconnects: number
  /** Fibers waiting in `acquire`. */
  readonly waiting: number
}

/**
 * An owned copy of a response, safe to keep.
 *
 * @since 0.1.0
 * @category models
 */
export interface OwnedResponse {
  readonly status: number
  readonly headers: ReadonlyArray<[string, string]>
  readonly body: Uint8Array
  /** The body decoded as UTF-8. */
  readonly text: string
}

class SlotImpl implements Slot {
  readonly id: number
  readonly writer: RequestWriter
  readonly reader: ResponseReader
  connection: HttpConnection.HttpConnection
  scope: Scope.Closeable
  /** The lease's finalizer, allocated once: a lease costs no closure. */
  readonly finalizer: (exit: Exit.Exit<unknown, unknown>) => Effect.Effect<void>
  /** `Effect.succeed(this)` and `Effect.succeed(Option.some(this))`, allocated once. */
  readonly succeed: Effect.Effect<Slot>
  readonly succeedSome: Effect.Effect<Option.Option<Slot>>
  constructor(
    id: number,
    writer: RequestWriter,
    reader: ResponseReader,
    connection: HttpConnection.HttpConnection,
    scope: Scope.Closeable,
    release: (slot: SlotImpl) => void
  ) {
    this.id = id
    this.writer = writer
    this.reader = reader
    this.connection = connection
    this.scope = scope
    const releaseThis = Effect.sync(() => release(this))
    this.finalizer = () => releaseThis
    this.succeed = Effect.succeed(this)
    this.succeedSome = Effect.succeed(Option.some(this))
  }
  send(request: Request | RequestError): Effect.Effect<Response, HttpConnection.HttpError> {
    return this.connection.send(request, this.reader)
  }
}

// ---------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------

/**
 * The pool's metrics (shared by every pool; each carries an `origin` attribute).
 *
 * @since 0.1.0
 * @category metrics
 */
export const metrics = {
  /** Time `request` waited for its lease (recorded by `request` only, not by bare `acquire`/`tryAcquire`). */
  acquireWait: Metric.timer("effect_nexus_pool_acquire_wait", { description: "time to lease a pooled connection" }),
  /** Time of a `request`: acquire, send, copy. */
  requestLatency: Metric.timer("effect_nexus_pool_request_latency", { description: "pooled request round trip" }),
  /** Reconnect attempts of ejected slots. */
  reconnectAttempts: Metric.counter("effect_nexus_pool_reconnect_attempts", { description: "reconnect attempts" }),
  /** Reconnect attempts that failed. */
  reconnectFailures: Metric.counter("effect_nexus_pool_reconnect_failures", { description: "failed reconnect attempts" })
} as const

// ---------------------------------------------------------------------------------------------
// The pool
// ---------------------------------------------------------------------------------------------

/**
 * A pool of keep-alive connections to one origin. See the module doc for its rules.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientPool {
  /** The origin, e.g. `api.example.com:443`, named in errors. */
  readonly origin: string
  /** A healthy slot now, or none: no I/O, no waiting, never fails. */
  readonly tryAcquire: Effect.Effect<Option.Option<Slot>, never, Scope.Scope>
  /** A healthy slot, waiting per the acquire schedule; `AcquireTimeout` after it, `PoolClosed` once closed. */
  readonly acquire: Effect.Effect<Slot, PoolError, Scope.Scope>
  /**
   * Runs `f` with a healthy slot (acquired as by `acquire`) and returns the slot when `f` ends,
   * however it ends — without a `Scope`: the cheapest way to use a slot for one exchange.
   */
  withSlot<A, E, R>(f: (slot: Slot) => Effect.Effect<A, E, R>): Effect.Effect<A, E | PoolError, R>
  /**
   * Acquires a slot, builds the request with its writer, sends it, and returns an owned copy of
   * the response. A `RequestWriter` fault fails with `InvalidRequest` before anything is sent.
   * An idempotent request that a reused connection dropped before any response byte is sent
   * once more on a fresh connection (see the module doc); `build` runs once either way.
   */
  request(
    build: (writer: RequestWriter) => Request | RequestError
  ): Effect.Effect<OwnedResponse, PoolRequestError>
  /** A snapshot of the slots. */
  readonly stats: Effect.Effect<Stats>
}

/** An owned response; the text is decoded on first use, most callers want the bytes or JSON once. */
class Owned implements OwnedResponse {
  readonly status: number
  readonly headers: ReadonlyArray<[string, string]>
  readonly body: Uint8Array
  private decoded: string | undefined
  constructor(response: Response) {
    this.status = response.status
    this.headers = response.headers()
    this.body = response.copyBody()
    this.decoded = undefined
  }
  get text(): string {
    return (this.decoded ??= Buffer.from(this.body.buffer, this.body.byteOffset, this.body.byteLength).toString("utf8"))
  }
}

/** A fiber waiting in `acquire`, and its node in the {@link WaiterQueue}; `slot` is set when one is handed over. */
class Waiter {
  readonly deferred: Deferred.Deferred<SlotImpl, PoolError> = Deferred.makeUnsafe<SlotImpl, PoolError>()
  slot: SlotImpl | undefined = undefined
  prev: Waiter | undefined = undefined
  next: Waiter | undefined = undefined
  queued = false
}

/**
 * The waiters, oldest first: an intrusive doubly linked list, so joining, serving the oldest and
 * withdrawing an interrupted waiter from anywhere in the line are all O(1).
 */
class WaiterQueue {
  private head: Waiter | undefined = undefined
  private tail: Waiter | undefined = undefined
  length = 0
  push(waiter: Waiter): void {
    waiter.prev = this.tail
    waiter.next = undefined
    if (this.tail === undefined) this.head = waiter
    else this.tail.next = waiter
    this.tail = waiter
    waiter.queued = true
    this.length++
  }
  /** Takes the oldest waiter out of the line. */
  shift(): Waiter | undefined {
    const waiter = this.head
    if (waiter !== undefined) this.remove(waiter)
    return waiter
  }
  /** Takes `waiter` out of the line; a no-op when it is not in it (served, or withdrawn already). */
  remove(waiter: Waiter): void {
    if (!waiter.queued) return
    waiter.queued = false
    if (waiter.prev === undefined) this.head = waiter.next
    else waiter.prev.next = waiter.next
    if (waiter.next === undefined) this.tail = waiter.prev
    else waiter.next.prev = waiter.prev
    waiter.prev = undefined
    waiter.next = undefined
    this.length--
  }
}

class Pool implements ClientPool {
  readonly origin: string
  /** Idle slots; the top (end) is the most recently returned. */
  private readonly idle: Array<SlotImpl> = []
  /** Fibers waiting in `acquire`, oldest first. */
  private readonly waiters = new WaiterQueue()
  private inUse = 0
  private reconnecting = 0
  private totalReconnects = 0
  /** Latched by {@link isClosed} once the pool's scope began closing. */
  private closed = false
  private readonly scope: Scope.Scope
  private readonly closedError: PoolError
  private readonly failClosed: Effect.Effect<never, PoolError>
  private readonly options: Options
  private readonly openConnection: Effect.Effect<HttpConnection.HttpConnection, HttpConnection.HttpError, Scope.Scope>
  private readonly reconnectSchedule: Schedule.Schedule<Duration.Duration, unknown>
  private readonly acquireSchedule: Schedule.Schedule<Duration.Duration, unknown>
  private readonly reconnectAttempts: Metric.Counter<number>
  private readonly reconnectFailures: Metric.Counter<number>
  private readonly acquireWait: Metric.Histogram<Duration.Duration>
  private readonly requestLatency: Metric.Histogram<Duration.Duration>
  private readonly spanOptions: { readonly attributes: Record<string, string>; readonly captureStackTrace: false }
  /** Forks into the pool's fiber set (the pool's context and scope: closing it interrupts). */
  private readonly run: (effect: Effect.Effect<void>) => unknown

  constructor(
    origin: string,
    scope: Scope.Scope,
    run: (effect: Effect.Effect<void>) => unknown,
    options: Options,
    openConnection: Effect.Effect<HttpConnection.HttpConnection, HttpConnection.HttpError, Scope.Scope>
  ) {
    this.origin = origin
    this.scope = scope
    this.closedError = new PoolError({ origin, reason: new PoolClosed() })
    this.failClosed = Effect.fail(this.closedError)
    this.run = run
    this.options = options
    this.openConnection = openConnection
    this.reconnectSchedule = options.reconnectSchedule ?? Backoff.reconnect
    this.acquireSchedule = options.acquireSchedule ?? Backoff.acquire
    const attributes = { origin }
    this.reconnectAttempts = Metric.withAttributes(metrics.reconnectAttempts, attributes)
    this.reconnectFailures = Metric.withAttributes(metrics.reconnectFailures, attributes)
    this.acquireWait = Metric.withAttributes(metrics.acquireWait, attributes)
    this.requestLatency = Metric.withAttributes(metrics.requestLatency, attributes)
    // no call-site capture: a span should not build an Error stack per request (its own cost was
    // not measured apart: the ~10 µs measured per exchange was the span with or without it)
    this.spanOptions = { attributes: { "server.address": origin }, captureStackTrace: false }
  }

  /** Opens a connection in a child scope of the pool, so closing the pool closes it. */
  readonly connectOnce: Effect.Effect<
    { connection: HttpConnection.HttpConnection; scope: Scope.Closeable },
    HttpConnection.HttpError
  > = Effect.suspend(() =>
    Effect.flatMap(Scope.fork(this.scope), (scope) =>
      Effect.onExit(Scope.provide(this.openConnection, scope), (exit) =>
        Exit.isFailure(exit) ? Scope.close(scope, exit) : Effect.void).pipe(
          Effect.map((connection) => ({ connection, scope }))
        ))
  )

  /**
   * A reconnect attempt: `connectOnce`, unless the pool's close has begun — then nothing is
   * dialed (a child of a closing scope is born closed, and a socket opened in it would belong to
   * no one).
   */
  private readonly reconnectOnce: Effect.Effect<
    { connection: HttpConnection.HttpConnection; scope: Scope.Closeable },
    HttpConnection.HttpError | PoolError
  > = Effect.suspend((): Effect.Effect<
    { connection: HttpConnection.HttpConnection; scope: Scope.Closeable },
    HttpConnection.HttpError | PoolError
  > => this.isClosed() ? this.failClosed : this.connectOnce)

  /**
   * Builds the slots; the build fails on the first failed connect. Each slot's writer and reader
   * are made before any dial, so a bad buffer option throws without opening a socket.
   */
  readonly build = (count: number, host: string): Effect.Effect<void, HttpConnection.HttpError> =>
    Effect.forEach(
      Array.from({ length: count }, (_, id) => ({
        id,
        writer: RequestWriterModule.make({
          host,
          basePath: this.options.basePath,
          defaultHeaders: this.options.defaultHeaders,
          capacity: this.options.writeBufferCapacity
        }),
        reader: ResponseReaderModule.make({
          bufferCapacity: this.options.responseBufferCapacity,
          maxBodySize: this.options.maxBodySize
        })
      })),
      ({ id, reader, writer }) =>
        Effect.map(this.connectOnce, ({ connection, scope }) =>
          new SlotImpl(id, writer, reader, connection, scope, this.release)),
      { concurrency: "unbounded" }
    ).pipe(Effect.map((slots) => {
      // the first slot ends on top of the stack
      for (let i = slots.length - 1; i >= 0; i--) this.idle.push(slots[i]!)
    }))

  /**
   * Whether the pool's close has begun, latching it (see {@link closeNow}) the first time it is
   * seen. A scope's state turns `Closed` when its close *begins*, before its finalizers run —
   * and the finalizers of fibers forked into it after the pool (requests in flight) run before
   * the pool's own — so the state, of the pool's scope and of its parents, is what tells.
   */
  private isClosed(): boolean {
    if (this.closed) return true
    for (let scope: Scope.Scope | undefined = this.scope; scope !== undefined; scope = scope.parent) {
      if (scope.state._tag === "Closed") {
        this.closeNow()
        return true
      }
    }
    return false
  }

  /**
   * Closes the pool's bookkeeping: no slot is handed out, returned, ejected or healed from now
   * on, and every waiter fails with `PoolClosed` now. The sockets are closed by the scope
   * (each slot's connection lives in a child scope of it), the reconnect fibers interrupted with
   * the fiber set. Synchronous and idempotent.
   */
  private closeNow(): void {
    if (this.closed) return
    this.closed = true
    this.idle.length = 0
    const failure = Exit.fail(this.closedError)
    for (let waiter = this.waiters.shift(); waiter !== undefined; waiter = this.waiters.shift()) {
      Deferred.doneUnsafe(waiter.deferred, failure)
    }
  }

  /** Pops healthy slots off the stack; ejects every unhealthy one it meets. Synchronous. */
  private take(): SlotImpl | undefined {
    if (this.isClosed()) return undefined
    for (;;) {
      const slot = this.idle.pop()
      if (slot === undefined) return undefined
      if (slot.connection.isReusable) {
        this.inUse++
        return slot
      }
      this.eject(slot)
    }
  }

  /**
   * Closes the slot's connection and starts its reconnect fiber in the pool's scope. Once the
   * pool is closing it does nothing: the slot's socket is closed with the pool's scope.
   */
  private eject(slot: SlotImpl): void {
    if (this.isClosed()) return
    this.reconnecting++
    let healed = false
    const heal = Effect.gen({ self: this }, function*() {
      yield* Scope.close(slot.scope, Exit.void)
      const attempt = this.reconnectOnce.pipe(
        Effect.tap(() => Metric.update(this.reconnectAttempts, 1)),
        Effect.tapError((error) =>
          error._tag === "PoolError"
            ? Effect.void
            : Effect.andThen(Metric.update(this.reconnectAttempts, 1), Metric.update(this.reconnectFailures, 1))
        )
      )
      const { connection, scope } = yield* Effect.retry(attempt, {
        schedule: this.reconnectSchedule,
        while: (error) => error._tag !== "PoolError"
      })
      healed = true
      this.reconnecting--
      // the close began while the connect was under way: the new socket goes at once
      if (this.isClosed()) return yield* Scope.close(scope, Exit.void)
      slot.connection = connection
      slot.scope = scope
      this.totalReconnects++
      this.putBack(slot)
    }).pipe(
      // a finite reconnect schedule that runs out leaves the slot out of service; so does the
      // pool's close (failing the next attempt, or interrupting the fiber)
      Effect.catch(() => Effect.void),
      Effect.onExit(() => healed ? Effect.void : Effect.sync(() => void this.reconnecting--))
    )
    this.run(heal)
  }

  /** Returns a healthy slot to the longest waiter, or to the top of the stack. */
  private putBack(slot: SlotImpl): void {
    if (!slot.connection.isReusable) return this.eject(slot)
    // the waiter is out of the line from here: withdrawing it later is a no-op
    const waiter = this.waiters.shift()
    if (waiter !== undefined) {
      this.inUse++
      waiter.slot = slot
      Deferred.doneUnsafe(waiter.deferred, Exit.succeed(slot))
      return
    }
    this.idle.push(slot)
  }

  /** Ends a lease: resets per-request state and returns the slot (dropped once the pool is closing). */
  private readonly release = (slot: SlotImpl): void => {
    this.inUse--
    slot.reader.reset()
    if (this.isClosed()) return
    this.putBack(slot)
  }

  /** Registers the lease's release in the caller's scope (no allocation per lease). */
  private readonly lease = (slot: SlotImpl, scope: Scope.Scope): Effect.Effect<Slot> =>
    Effect.andThen(Scope.addFinalizerExit(scope, slot.finalizer), slot.succeed)

  readonly tryAcquire: Effect.Effect<Option.Option<Slot>, never, Scope.Scope> = Effect.uninterruptible(
    Effect.flatMap(Effect.scope, (scope) => {
      const slot = this.take()
      if (slot === undefined) return Effect.succeedNone
      return Effect.andThen(Scope.addFinalizerExit(scope, slot.finalizer), slot.succeedSome)
    })
  )

  readonly acquire: Effect.Effect<Slot, PoolError, Scope.Scope> = Effect.uninterruptibleMask((
    restore
  ) =>
    Effect.flatMap(Effect.scope, (scope) => {
      const slot = this.take()
      if (slot !== undefined) return this.lease(slot, scope)
      // `take` latched the close if it has begun: a closed pool answers now, not after the schedule
      if (this.closed) return this.failClosed
      return Effect.flatMap(restore(this.wait), (slot) => this.lease(slot, scope))
    })
  )

  /**
   * Waits for a handed-over slot per the acquire schedule. Interruption leaves no slot behind;
   * the pool's close fails the wait at once with `PoolClosed`.
   */
  private readonly wait: Effect.Effect<SlotImpl, PoolError> = Effect.gen({ self: this }, function*() {
    const started = yield* Clock.currentTimeMillis
    const waiter = new Waiter()
    this.waiters.push(waiter)
    const withdraw = Effect.sync(() => this.waiters.remove(waiter))
    // interrupted after a slot was handed over: it goes back, it is not lost
    const giveBack = Effect.sync(() => waiter.slot !== undefined && this.release(waiter.slot))
    return yield* Effect.gen({ self: this }, function*() {
      const step = yield* Schedule.toStep(this.acquireSchedule)
      let attempts = 1
      for (;;) {
        const now = yield* Clock.currentTimeMillis
        const next = yield* Effect.exit(step(now, undefined))
        if (Exit.isFailure(next)) break
        const got = yield* Effect.raceFirst(
          Effect.map(Deferred.await(waiter.deferred), Option.some),
          Effect.as(Effect.sleep(next.value[1]), Option.none<SlotImpl>())
        )
        if (Option.isSome(got)) return got.value
        // the sleep won the race, but a slot may have been handed over in the same turn
        if (waiter.slot !== undefined) {
          yield* withdraw
          return waiter.slot
        }
        attempts++
        // a slot may have healed into the stack without a waiter being served (e.g. the
        // health check): look again before sleeping further
        const slot = this.take()
        if (slot !== undefined) {
          yield* withdraw
          return slot
        }
        // `take` saw the close begin (closeNow failed the deferred, which the next race reports)
        if (this.closed) return yield* this.failClosed
      }
      yield* withdraw
      if (waiter.slot !== undefined) return waiter.slot
      const waited = Duration.millis((yield* Clock.currentTimeMillis) - started)
      return yield* Effect.fail(new PoolError({ origin: this.origin, reason: new AcquireTimeout({ attempts, waited }) }))
    }).pipe(Effect.onInterrupt(() => Effect.andThen(withdraw, giveBack)))
  })

  withSlot<A, E, R>(f: (slot: Slot) => Effect.Effect<A, E, R>): Effect.Effect<A, E | PoolError, R> {
    return Effect.uninterruptibleMask((restore) => {
      const slot = this.take()
      const use = (slot: SlotImpl) => Effect.onExit(restore(f(slot)), slot.finalizer)
      if (slot !== undefined) return use(slot)
      return this.closed ? this.failClosed : Effect.flatMap(restore(this.wait), use)
    })
  }

  request(build: (writer: RequestWriter) => Request | RequestError): Effect.Effect<OwnedResponse, PoolRequestError> {
    const exchange = Effect.clockWith((clock) => {
      const t0 = clock.currentTimeMillisUnsafe()
      return this.withSlot((slot) => {
        const t1 = clock.currentTimeMillisUnsafe()
        const request = build(slot.writer)
        const connection = slot.connection
        // the facts the keep-alive race needs, taken before anything is written
        const reused = connection.requestCount > 0
        const readBefore = connection.transport.bytesRead
        const done = (response: Response) => {
          const owned = new Owned(response)
          // both metrics in one step, straight into the fiber's metric context
          return Effect.withFiberSucceed((fiber) => {
            this.acquireWait.updateUnsafe(Duration.millis(t1 - t0), fiber.context)
            this.requestLatency.updateUnsafe(Duration.millis(clock.currentTimeMillisUnsafe() - t0), fiber.context)
            return owned as OwnedResponse
          })
        }
        return Effect.matchEffect(slot.send(request), {
          onSuccess: done,
          onFailure: (error) =>
            reused && request._tag === "Request" && request.isIdempotent && !this.closed &&
              connection.transport.bytesRead === readBefore && diedUnanswered(error)
              ? Effect.flatMap(this.resend(slot as SlotImpl, request, error), done)
              : Effect.fail(error)
        })
      })
    })
    // a span only when a tracer that exports spans is installed: the default native tracer keeps
    // them nowhere, and a span around an exchange costs ~10 µs of a ~20 µs loopback round trip
    return Effect.withFiber((fiber) =>
      fiber.getRef(Tracer.Tracer) === Tracer.nativeTracer
        ? exchange
        : Effect.withSpan(exchange, "ClientPool.request", this.spanOptions)
    )
  }

  /**
   * The keep-alive race (the server closed a reused connection as the request went out): renews
   * the leased slot's connection in place and sends the same request bytes once more. The slot
   * stays leased, so its writer's bytes stay valid. A failure of this attempt is returned, with
   * `requestSent` true if either attempt wrote a byte.
   */
  private resend(slot: SlotImpl, request: Request, first: HttpConnection.HttpError): Effect.Effect<Response, HttpConnection.HttpError> {
    const sentEither = (error: HttpConnection.HttpError) =>
      error.requestSent || !first.requestSent
        ? error
        : new HttpConnection.HttpError({ address: error.address, reason: error.reason, requestSent: true })
    const renew = Effect.andThen(
      Scope.close(slot.scope, Exit.void),
      // adopt the fresh connection in the same step it succeeds, so an interruption cannot lose it
      Effect.onExit(this.connectOnce, (exit) =>
        Effect.sync(() => {
          if (exit._tag !== "Success") return
          slot.connection = exit.value.connection
          slot.scope = exit.value.scope
          this.totalReconnects++
        }))
    )
    return Effect.mapError(Effect.andThen(renew, Effect.suspend(() => slot.send(request))), sentEither)
  }

  readonly stats: Effect.Effect<Stats> = Effect.sync(() => ({
    available: this.idle.length,
    inUse: this.inUse,
    reconnecting: this.reconnecting,
    totalReconnects: this.totalReconnects,
    waiting: this.waiters.length
  }))

  /** Renews idle slots whose connection expired; runs every `healthCheckInterval`. */
  readonly healthCheck: Effect.Effect<void> = Effect.sync(() => {
    if (this.isClosed()) return
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const slot = this.idle[i]!
      if (slot.connection.isReusable) continue
      this.idle.splice(i, 1)
      this.eject(slot)
    }
  })

  /** The pool's finalizer: {@link closeNow}, if a request or heal has not already seen the close. */
  readonly shutdown: Effect.Effect<void> = Effect.sync(() => this.closeNow())
}

/**
 * The first fault of `basePath` or a default header, found with the checks a request's own path
 * and headers get (CR/LF/NUL, a name that is not a token, a character the field may not carry,
 * a header the writer sets itself); `undefined` when both are fine. Its message names the option.
 */
const writerOptionsFault = (options: Options): RequestError | undefined => {
  const basePath = options.basePath ?? ""
  const headers = options.defaultHeaders ?? []
  // room for any of them (a path character takes at most 9 bytes encoded), so a probe never overflows
  let capacity = 64 + 9 * basePath.length
  for (const [name, value] of headers) capacity += name.length + value.length + 4
  const probe = RequestWriterModule.make({ host: "probe", capacity })
  if (basePath.length > 0) {
    const built = probe.get(basePath).finish()
    if (built._tag !== "Request") return { ...built, message: `basePath: ${built.message}` }
  }
  for (const [name, value] of headers) {
    const built = probe.get("/").header(name, value).finish()
    // the name is quoted: it may itself hold the CR/LF at fault
    if (built._tag !== "Request") return { ...built, message: `default header ${JSON.stringify(name)}: ${built.message}` }
  }
  return undefined
}

/**
 * Builds a pool in the current scope: parses the origin, checks `basePath` and `defaultHeaders`,
 * connects every slot (failing with the first connect error), and starts the idle health check.
 * A bad URL fails with `HttpError` reason `InvalidUrl`, a bad base path or default header with
 * reason `InvalidRequest` — both before anything is dialed. Closing the scope fails waiters with
 * `PoolClosed`, stops reconnects and closes every socket. Throws `RangeError` for fewer than one
 * connection (caller misuse).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options: Options) => Effect.Effect<ClientPool, HttpConnection.HttpError, Scope.Scope> = Effect.fn(
  "ClientPool.make"
)(function*(options: Options) {
  const count = options.connections ?? DEFAULT_CONNECTIONS
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new RangeError(`ClientPool connections must be a positive integer, got ${count}`)
  }
  const parsed = Url.parse(options.url)
  if (parsed._tag !== "ParsedUrl") {
    return yield* Effect.fail(
      new HttpConnection.HttpError({
        address: "(url)",
        reason: new InvalidUrl({ error: parsed }),
        requestSent: false
      })
    )
  }
  const fault = writerOptionsFault(options)
  if (fault !== undefined) {
    return yield* Effect.fail(
      new HttpConnection.HttpError({
        address: parsed.hostHeader,
        reason: new HttpConnection.InvalidRequest({ error: fault }),
        requestSent: false
      })
    )
  }
  const scope = yield* Effect.scope
  const run = yield* FiberSet.makeRuntime<never, void, never>()
  const open = options.connect ?? HttpConnection.connect(options.url, options)
  const pool = new Pool(parsed.hostHeader, scope, run, options, open)
  yield* Scope.addFinalizer(scope, pool.shutdown)
  yield* pool.build(count, parsed.hostHeader)
  const interval = Duration.fromInputUnsafe(options.healthCheckInterval ?? DEFAULT_HEALTH_CHECK_INTERVAL)
  run(Effect.forever(Effect.andThen(Effect.sleep(interval), pool.healthCheck)))
  return pool as ClientPool
})

// ---------------------------------------------------------------------------------------------
// Retrying
// ---------------------------------------------------------------------------------------------

/**
 * Whether the connection died under a request without answering: a reset or other read fault, a
 * failed write, or a close before any response byte. Not a timeout (the server may be slow), a
 * bad response, or a local close.
 */
const diedUnanswered = (error: HttpConnection.HttpError): boolean => {
  const reason = error.reason
  switch (reason._tag) {
    case "ReadError":
      return reason.kind !== "BufferFull"
    case "WriteError":
      return true
    case "IncompleteResponse":
      return reason.received === 0
    default:
      return false
  }
}

const IDEMPOTENT: ReadonlySet<string> = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"])

/**
 * Whether `method` is idempotent (RFC 9110 §9.2.2): GET, HEAD, PUT, DELETE, OPTIONS, TRACE.
 *
 * @since 0.1.0
 * @category retrying
 */
export const isIdempotent = (method: string): boolean => IDEMPOTENT.has(method)

/**
 * Whether a failed pooled request may be sent again on another connection: never after an
 * `AcquireTimeout` (nothing is healthy; waiting longer is the acquire schedule's job) or a
 * `PoolClosed` (no connection will ever be free), and otherwise `HttpConnection.isRetryable`'s
 * rule — always when no byte reached a socket; for an idempotent method also when the
 * connection died under it without an answer; never after a read timeout or a bad response.
 *
 * @since 0.1.0
 * @category retrying
 */
export const isRetryable = (method: string, error: PoolRequestError): boolean =>
  error._tag === "PoolError"
    ? false
    : HttpConnection.isRetryable(error, { isIdempotent: isIdempotent(method) })

/**
 * Retries `effect` (a pooled request for `method`) per `schedule` (default `Schedule.recurs(2)`:
 * two immediate retries) while {@link isRetryable} says so; any other failure is returned at
 * once. A POST whose bytes reached the socket is never sent again.
 *
 * @since 0.1.0
 * @category retrying
 */
export const retryIdempotent = <A, R>(
  method: string,
  effect: Effect.Effect<A, PoolRequestError, R>,
  schedule: Schedule.Schedule<unknown, PoolRequestError> = Schedule.recurs(2)
): Effect.Effect<A, PoolRequestError, R> =>
  Effect.retry(effect, { schedule, while: (error: PoolRequestError) => isRetryable(method, error) })
