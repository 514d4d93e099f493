/**
 * `ClientPool` — a fixed set of HTTP/1.1 keep-alive connections to one origin, each in a slot
 * that owns a `RequestWriter`, a `ResponseReader` and the current `HttpConnection`, with
 * self-healing reconnect. The slots are the items of a fixed-size Effect `Pool`
 * (`effect/Pool`, `Pool.make({ size: connections })`).
 *
 * ```text
 *   tryAcquire ── head of Effect's Pool healthy, nobody waiting? ──yes──► Pool.get (sync) ──► lease
 *       │ no: none, at once                                               withSlot: Pool.use (sync)
 *   acquire ── wait in Effect's Pool queue, raced with the acquire         │ scope/use ends:
 *       │      schedule and the close; then PoolError AcquireTimeout        │ Pool's release
 *       ▼      (with the last connect failure, if any)                      ▼ (back to the front: LIFO)
 *   a dead connection (at the head, after a `request`, or by the sweep) → Pool.invalidate → Effect's
 *   Pool acquires a replacement in the background: the heal loop (reconnect schedule, never
 *   giving up by default) is the item acquisition
 * ```
 *
 * Rules:
 * - **Never a bad slot.** A slot is handed out only when its connection would write now
 *   (`HttpConnection.isReusable`: not poisoned, not closed by the server, within its idle and
 *   request limits). A background sweep (every `healthCheckInterval`, default 1 s) retires idle
 *   slots whose connection expired, so a quiet pool is warm when traffic returns.
 * - **LIFO.** The most recently returned slot goes out first (Effect's Pool returns a released
 *   item to the front of its available list); a freshly connected slot joins at the back.
 * - `tryAcquire` does no I/O and never waits or fails: `Option.some(lease)` or `Option.none()`.
 *   `acquire` waits for a release or a heal, per `acquireSchedule` (default `Backoff.acquire`:
 *   1 ms doubling to 1 s, 20 retries), then fails with a `PoolError` whose reason is
 *   `AcquireTimeout` — carrying `lastFailure`, the last failed connect (its `HttpError`, with the
 *   address and a `ConnectError`/`TlsError` kind) when the origin could not be reached. Waiters
 *   are served oldest first (Effect's queue).
 * - A lease is scoped: closing its scope returns the slot (on success, failure, interruption
 *   or defect). The writer and reader survive reconnects (a new item takes the shell of the one
 *   it replaces), so default headers, base path and buffer capacities stay as configured.
 * - Building checks `basePath` and `defaultHeaders` (a fault fails with `HttpError` reason
 *   `InvalidRequest`, nothing dialed), then connects every slot at once; a failed initial
 *   connect fails the build with its `HttpError`. The connections become Effect's Pool's first
 *   fill.
 * - **Shutdown.** From the moment the pool's scope (or a parent of it) *begins* to close — before
 *   its finalizers run, so also while the finalizers of request fibers forked into the same
 *   scope run — the pool dials nothing and heals nothing, and a fiber that would wait fails at
 *   once with a `PoolError` reason `PoolClosed`; when the pool's finalizer runs, every waiter
 *   fails with it, and so do `acquire`, `withSlot` and `request` from then on (`tryAcquire`
 *   returns none). One lease may still be served from an idle healthy slot in between: the
 *   lease fast path reads the flag the finalizer latches, not the scope chain. The scope then
 *   closes every socket (a request in flight fails with its `HttpError`, reason
 *   `TransportClosed`) and Effect's Pool shuts down.
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
 * What sits on top of Effect's Pool (4.1, `node_modules/effect/src/Pool.ts`), and why:
 * - **A check before `get`/`use`.** Their fast path (lines 487, 594) takes the head of the
 *   available list synchronously when nobody waits; otherwise they wait in Effect's queue with
 *   no bound (`waitForItem`, line 779). So the lease paths look at the head first (nobody
 *   waiting, a live connection, scheduler budget left for the next step) and call `get`/`use`
 *   only when it will be taken at once: that is `tryAcquire`'s "none" and the fast path of
 *   `acquire`/`withSlot`/`request`. A stale head is invalidated first.
 * - **The acquire schedule.** A patient acquire waits in Effect's queue (`Pool.get` in a scope of
 *   its own) raced with the schedule's timer and the close; a lease taken in the same turn the
 *   timer fires is kept. Effect's Pool has no timeout of its own.
 * - **Health.** Effect's Pool never looks at an item; a connection's health is
 *   `isReusable`, checked at the head before each lease, by a waiter handed a slot, at the end
 *   of each `request` (`retireIfDead` invalidates a connection it left unusable, so the
 *   replacement dials at once) and by the sweep, which walks `Pool.state`'s available list.
 *   `withSlot` and the scoped leases add nothing around the lease (see `retireIfDead`): a dead
 *   connection they return is retired when next seen.
 * - **The close.** Effect's Pool shuts down when its scope closes, and its shutdown waits for
 *   every lease to be returned (line 457) while its borrowers are interrupted (line 486), not
 *   failed. So it lives in a scope of its own, closed in the background by the pool's
 *   finalizer; the sockets live in a child of the caller's scope that closes right after it,
 *   and a closed flag (latched by the finalizer, or by a dial or heal that sees the caller's
 *   scope closing) answers `PoolClosed`. The lease fast path reads only that flag.
 * - **Healing is serial.** Effect's Pool refills under one semaphore (line 1121): while the
 *   origin is down one slot runs the reconnect schedule and the others queue behind it; the
 *   first reconnect that succeeds lets the next one dial at once.
 * - **The keep-alive retry** renews the connection of a leased slot in place, unseen by
 *   Effect's Pool, so the writer's bytes stay valid for the second send.
 *
 * It also uses Effect's `Scope`, `Schedule`, `Deferred`, `Metric` and spans (`request` runs in
 * a `ClientPool.request` span when a tracer that exports spans is installed).
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as EffectPool from "effect/Pool"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import type { Request, RequestError, RequestWriter } from "../Codec/RequestWriter.ts"
import * as RequestWriterModule from "../Codec/RequestWriter.ts"
import type { OwnedMessage, Response, ResponseReader } from "../Codec/ResponseReader.ts"
import * as ResponseReaderModule from "../Codec/ResponseReader.ts"
import * as Url from "../Codec/Url.ts"
import * as Backoff from "../Transport/Backoff.ts"
import type * as Dial from "../Transport/Dial.ts"
import * as HttpConnection from "../Transport/HttpConnection.ts"
import { InvalidUrl } from "../Transport/Transport.ts"
import type { NoRecordedExchange } from "./NoRecordedExchange.ts"

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

/**
 * Options of {@link make}: the pool's own ({@link PoolOptions}) and either the connection
 * options `HttpConnection.connect` dials every slot with ({@link DialOptions}: `connectTimeout`,
 * `readTimeout`, `noDelay`, TCP `keepAlive`, `tls`, `proxy`, `idleTimeout`, `maxRequests`, …),
 * or a custom `connect` ({@link CustomConnectOptions}), with which a connection option would do
 * nothing — so the type rejects them rather than ignoring them.
 *
 * @since 0.1.0
 * @category models
 */
export type Options = DialOptions | CustomConnectOptions

/**
 * The pool's own options, whichever way its connections are opened.
 *
 * @since 0.1.0
 * @category models
 */
export interface PoolOptions {
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
}

/**
 * Options of a pool whose slots `HttpConnection.connect(url, options)` dials (the default).
 *
 * @since 0.1.0
 * @category models
 */
export interface DialOptions extends PoolOptions, HttpConnection.ConnectOptions {
  /** Absent: the slots are dialed with this object's connection options. */
  readonly connect?: undefined
}

/**
 * Options of a pool whose connections `connect` opens (tests pass one over an in-memory
 * transport; a caller may dial its own way). Every `HttpConnection.ConnectOptions` key is `never`
 * here: give those to the connection `connect` makes.
 *
 * @since 0.1.0
 * @category models
 */
export type CustomConnectOptions = PoolOptions & {
  /** How one connection is opened (once per slot, and again on every heal). */
  readonly connect: Effect.Effect<HttpConnection.HttpConnection, HttpConnection.HttpError, Scope.Scope>
} & Dial.NoneOf<HttpConnection.ConnectOptions>

/** Default number of connections. */
export const DEFAULT_CONNECTIONS = 4

/** Default interval of the idle-slot health check. */
export const DEFAULT_HEALTH_CHECK_INTERVAL: Duration.Duration = Duration.seconds(1)

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/**
 * A patient `acquire` found no healthy slot within its schedule: `attempts` tries over `waited`.
 * When the origin could not be reached, `lastFailure` is the last failed connect since the last
 * successful one — an `HttpError` with the address and a `ConnectError` or `TlsError` reason
 * naming the kind (refused, timed out, untrusted certificate, …); absent when every slot was
 * simply busy.
 *
 * @since 0.1.0
 * @category errors
 */
export class AcquireTimeout extends Data.TaggedError("AcquireTimeout")<{
  readonly attempts: number
  readonly waited: Duration.Duration
  readonly lastFailure?: HttpConnection.HttpError | undefined
}> {
  override get message(): string {
    const waited = `no healthy connection became free after ${this.attempts} attempts (${Duration.format(this.waited)})`
    const last = this.lastFailure
    return last === undefined ? waited : `${waited}; the last connect to ${last.address} failed: ${last.reason.message}`
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
  /** Slots without a live connection: being re-established, or queued behind the one that is. */
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
  /**
   * The body's bytes, copied. A small copy is cut from a shared pool (as `Buffer.allocUnsafe`
   * cuts from Node's), so its `buffer` may be larger than the body:
   * read it through `byteOffset`/`byteLength`, and copy it (`.slice()`) to keep many small bodies
   * compactly.
   */
  readonly body: Uint8Array
  /** The body decoded as UTF-8. */
  readonly text: string
}

/** What a slot keeps across reconnects: its number, writer and reader (the buffers are reused). */
class Shell {
  readonly id: number
  readonly writer: RequestWriter
  readonly reader: ResponseReader
  /** The state of `request` on this slot, made by its first request. */
  exchange: Exchange | undefined
  constructor(id: number, writer: RequestWriter, reader: ResponseReader) {
    this.id = id
    this.writer = writer
    this.reader = reader
    this.exchange = undefined
  }
}

/** A connection opened in its own scope (a child of the pool's connection scope). */
interface Opened {
  readonly connection: HttpConnection.HttpConnection
  readonly scope: Scope.Closeable
}

/**
 * One item of Effect's `Pool`: a shell and its current connection. A new item (a reconnect) is
 * a new `SlotImpl` around a shell handed back by a retired one, so `Pool.invalidate`, which
 * matches items by identity, never confuses the two.
 */
class SlotImpl implements Slot {
  readonly id: number
  readonly writer: RequestWriter
  readonly reader: ResponseReader
  connection: HttpConnection.HttpConnection
  /** The current connection's scope; the keep-alive retry renews both in place. */
  scope: Scope.Closeable
  /**
   * Run by `request` as its exchange ends, while the slot is still leased: when the connection
   * will not carry another request, invalidates the item so its replacement dials now.
   * Allocated once per item. `withSlot` and the scoped leases do not run it — a wrapper around
   * the lease (an `onExit` frame, measured at ~0.28 µs of a ~0.8 µs `withSlot`; a second
   * finalizer in the caller's scope, ~1.5 µs) would cost more than the lease itself — so the
   * dead connection they return is retired where it is next seen: at the head by the next
   * lease, by a waiter it is handed to, or by the sweep. (The reader needs no reset on return:
   * every `send` starts it clean.)
   */
  readonly retireIfDead: Effect.Effect<void>
  /** What the slot keeps across reconnects (its request state among it). */
  readonly shell: Shell
  constructor(shell: Shell, opened: Opened, retire: (slot: SlotImpl) => Effect.Effect<void>) {
    this.shell = shell
    this.id = shell.id
    this.writer = shell.writer
    this.reader = shell.reader
    this.connection = opened.connection
    this.scope = opened.scope
    this.retireIfDead = Effect.suspend(() => this.connection.isReusable ? Effect.void : retire(this))
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

/**
 * An owned response: one copy of the header fields and the body (`Response.copyOwned`); the
 * headers become strings on first use (eager, they cost ~0.85 µs of a request for the 7 fields of
 * the bench response), the text is decoded on first use too.
 */
class Owned implements OwnedResponse {
  readonly status: number
  readonly body: Uint8Array
  private readonly copy: OwnedMessage
  private decoded: string | undefined
  constructor(response: Response) {
    this.status = response.status
    const copy = response.copyOwned()
    this.copy = copy
    this.body = copy.body
    this.decoded = undefined
  }
  get headers(): ReadonlyArray<[string, string]> {
    return this.copy.headers()
  }
  get text(): string {
    return (this.decoded ??= Buffer.from(this.body.buffer, this.body.byteOffset, this.body.byteLength).toString("utf8"))
  }
}

/**
 * The one `request` a leased slot runs: its facts (timings, the keep-alive race's facts, the
 * request) and its continuations, allocated once per slot and reused by every request on it —
 * a slot is leased to one fiber at a time, so one state per slot is enough, and a request
 * allocates no closures or handler objects of its own.
 */
class Exchange {
  private readonly pool: PoolImpl
  private slot: SlotImpl | undefined
  private fiber: Fiber.Fiber<unknown, unknown> | undefined
  private clock: Clock.Clock | undefined
  private t0: number
  private t1: number
  private reused: boolean
  private readBefore: number
  private request: Request | RequestError | undefined
  private readonly handlers: {
    readonly onSuccess: (response: Response) => Effect.Effect<OwnedResponse>
    readonly onFailure: (error: HttpConnection.HttpError) => Effect.Effect<OwnedResponse, HttpConnection.HttpError>
  }
  private readonly resendHandlers: {
    readonly onSuccess: (response: Response) => Effect.Effect<OwnedResponse>
    readonly onFailure: (error: HttpConnection.HttpError) => Effect.Effect<never, HttpConnection.HttpError>
  }

  constructor(pool: PoolImpl) {
    this.pool = pool
    this.slot = undefined
    this.fiber = undefined
    this.clock = undefined
    this.t0 = 0
    this.t1 = 0
    this.reused = false
    this.readBefore = 0
    this.request = undefined
    this.handlers = { onSuccess: this.owned, onFailure: this.failed }
    this.resendHandlers = { onSuccess: this.owned, onFailure: this.failedAgain }
  }

  start(
    slot: SlotImpl,
    fiber: Fiber.Fiber<unknown, unknown>,
    clock: Clock.Clock,
    t0: number,
    request: Request | RequestError
  ): Effect.Effect<OwnedResponse, HttpConnection.HttpError> {
    this.slot = slot
    this.fiber = fiber
    this.clock = clock
    this.t0 = t0
    this.t1 = clock.currentTimeMillisUnsafe()
    this.request = request
    // the facts the keep-alive race needs, taken before anything is written
    const connection = slot.connection
    this.reused = connection.requestCount > 0
    this.readBefore = connection.transport.bytesRead
    return Effect.matchEffect(slot.send(request), this.handlers)
  }

  /** Owns the response and records the metrics; a connection left unusable (Connection: close, a reset, a timeout) is retired before the lease ends, so its replacement dials now. */
  private readonly owned = (response: Response): Effect.Effect<OwnedResponse> => {
    const slot = this.slot!
    const result = new Owned(response)
    this.pool.recordRequest(this.fiber!.context, this.t1 - this.t0, this.clock!.currentTimeMillisUnsafe() - this.t0)
    this.end()
    return slot.connection.isReusable ? Effect.succeed(result) : Effect.as(slot.retireIfDead, result)
  }

  private readonly failed = (error: HttpConnection.HttpError): Effect.Effect<OwnedResponse, HttpConnection.HttpError> => {
    const slot = this.slot!
    const request = this.request!
    if (
      this.reused && request._tag === "Request" && request.isIdempotent && !this.pool.isClosed() &&
      slot.connection.transport.bytesRead === this.readBefore && diedUnanswered(error)
    ) {
      return Effect.matchEffect(this.pool.resend(slot, request, error), this.resendHandlers)
    }
    this.end()
    return Effect.andThen(slot.retireIfDead, Effect.fail(error))
  }

  private readonly failedAgain = (error: HttpConnection.HttpError): Effect.Effect<never, HttpConnection.HttpError> => {
    const slot = this.slot!
    this.end()
    return Effect.andThen(slot.retireIfDead, Effect.fail(error))
  }

  /** Drops the references to the caller (its fiber, its request) once the exchange has its answer. */
  private end(): void {
    this.fiber = undefined
    this.request = undefined
  }
}

/** A lease taken by a waiter: the slot, and the scope its Effect-Pool lease lives in. */
interface Lease {
  readonly slot: SlotImpl
  readonly scope: Scope.Closeable
}

class PoolImpl implements ClientPool {
  readonly origin: string
  /** Effect's pool of slots; set by {@link make} right after the constructor. */
  pool!: EffectPool.Pool<SlotImpl, HttpConnection.HttpError | PoolError>
  /** Connections dialed by `make`, taken by Effect's Pool's first fill (id 0 last, so popped first). */
  seeds: Array<{ readonly shell: Shell; readonly opened: Opened }> = []
  /** Shells of retired slots, for the next reconnect to take (oldest first). */
  private readonly spare: Array<Shell> = []
  private readonly size: number
  /** The number a shell made beyond the first `size` takes (when no retired shell is back yet). */
  private nextId: number
  private totalReconnects = 0
  /** The last failed connect since the last successful one, for {@link AcquireTimeout}. */
  private lastFailure: HttpConnection.HttpError | undefined = undefined
  /** Latched by {@link isClosed} or the pool's finalizer, whichever sees the close first. */
  closed = false
  /** Failed with `PoolClosed` when the close begins: every waiter races it. */
  private readonly closing: Deferred.Deferred<never, PoolError> = Deferred.makeUnsafe<never, PoolError>()
  /** The scope `make` ran in; its close (or a parent's) closes the pool. */
  private readonly scope: Scope.Scope
  /** Every connection lives in a child of this scope, which closes right after the pool's finalizer. */
  private readonly connScope: Scope.Scope
  private readonly closedError: PoolError
  private readonly options: Options
  private readonly failClosed: Effect.Effect<never, PoolError>
  private readonly openConnection: Effect.Effect<HttpConnection.HttpConnection, HttpConnection.HttpError, Scope.Scope>
  private readonly reconnectSchedule: Schedule.Schedule<Duration.Duration, unknown>
  private readonly acquireSchedule: Schedule.Schedule<Duration.Duration, unknown>
  private readonly reconnectAttempts: Metric.Counter<number>
  private readonly reconnectFailures: Metric.Counter<number>
  private readonly spanOptions: { readonly attributes: Record<string, string>; readonly captureStackTrace: false }
  /** The last caller context {@link metricContext} saw, and that context with the pool's attributes. */
  private metricBase: Context.Context<never> | undefined = undefined
  private metricMerged: Context.Context<never> | undefined = undefined

  constructor(
    origin: string,
    size: number,
    scope: Scope.Scope,
    connScope: Scope.Scope,
    options: Options,
    openConnection: Effect.Effect<HttpConnection.HttpConnection, HttpConnection.HttpError, Scope.Scope>
  ) {
    this.origin = origin
    this.size = size
    this.nextId = size
    this.scope = scope
    this.connScope = connScope
    this.closedError = new PoolError({ origin, reason: new PoolClosed() })
    this.failClosed = Effect.fail(this.closedError)
    this.options = options
    this.openConnection = openConnection
    this.reconnectSchedule = options.reconnectSchedule ?? Backoff.reconnect
    this.acquireSchedule = options.acquireSchedule ?? Backoff.acquire
    const attributes = { origin }
    this.reconnectAttempts = Metric.withAttributes(metrics.reconnectAttempts, attributes)
    this.reconnectFailures = Metric.withAttributes(metrics.reconnectFailures, attributes)
    // no call-site capture: a span should not build an Error stack per request (its own cost was
    // not measured apart: the ~10 µs measured per exchange was the span with or without it)
    this.spanOptions = { attributes: { "server.address": origin }, captureStackTrace: false }
  }

  // -------------------------------------------------------------------------------------------
  // Connections: what Effect's Pool acquires
  // -------------------------------------------------------------------------------------------

  /** Opens a connection in a child scope of the connection scope, so closing the pool closes it. */
  readonly connectOnce: Effect.Effect<Opened, HttpConnection.HttpError> = Effect.suspend(() =>
    Effect.flatMap(Scope.fork(this.connScope), (scope) =>
      Effect.onExit(Scope.provide(this.openConnection, scope), (exit) =>
        Exit.isFailure(exit) ? Scope.close(scope, exit) : Effect.void).pipe(
          Effect.map((connection): Opened => ({ connection, scope }))
        ))
  )

  /**
   * One reconnect attempt, counted in the metrics; its failure is kept for `AcquireTimeout`.
   * Once the close has begun it dials nothing (a child of a closing scope is born closed, and a
   * socket opened in it would belong to no one) and fails with `PoolClosed`, which stops the retry.
   */
  private readonly reconnectOnce: Effect.Effect<Opened, HttpConnection.HttpError | PoolError> = Effect.suspend((): Effect.Effect<
    Opened,
    HttpConnection.HttpError | PoolError
  > =>
    this.isClosed()
      ? this.failClosed
      : Effect.matchEffect(this.connectOnce, {
        onSuccess: (opened) => {
          this.lastFailure = undefined
          this.totalReconnects++
          return Effect.as(Metric.update(this.reconnectAttempts, 1), opened)
        },
        onFailure: (error) => {
          this.lastFailure = error
          return Effect.andThen(
            Effect.andThen(Metric.update(this.reconnectAttempts, 1), Metric.update(this.reconnectFailures, 1)),
            Effect.fail(error)
          )
        }
      })
  )

  /** The heal loop: reconnect attempts per the reconnect schedule until one succeeds or the pool closes. */
  private readonly reconnect: Effect.Effect<Opened, HttpConnection.HttpError | PoolError> = Effect.suspend(() =>
    Effect.retry(this.reconnectOnce, { schedule: this.reconnectSchedule, while: (error) => error._tag !== "PoolError" })
  )

  /**
   * The item acquisition of Effect's Pool, run in the item's scope: a connection dialed by `make`
   * while any is left, otherwise the heal loop. The item's scope closes the connection (the
   * current one: the keep-alive retry may have renewed it) and hands the shell back.
   */
  readonly openSlot: Effect.Effect<SlotImpl, HttpConnection.HttpError | PoolError, Scope.Scope> = Effect.flatMap(
    Effect.scope,
    (itemScope) => {
      const seed = this.seeds.pop()
      const opened: Effect.Effect<Opened, HttpConnection.HttpError | PoolError> = seed === undefined
        ? this.reconnect
        : Effect.succeed(seed.opened)
      return Effect.flatMap(opened, (opened) => {
        // a reconnect takes its shell only now, after its connect: the retired item's finalizer
        // has handed it back by then (its lease ends in the same step that invalidated it)
        const shell = seed?.shell ?? this.spare.shift() ?? this.makeShell(this.nextId++)
        const slot = new SlotImpl(shell, opened, this.retire)
        return Effect.as(
          Scope.addFinalizer(
            itemScope,
            Effect.suspend(() => Effect.andThen(Scope.close(slot.scope, Exit.void), Effect.sync(() => void this.spare.push(shell))))
          ),
          slot
        )
      })
    }
  )

  // -------------------------------------------------------------------------------------------
  // Closing
  // -------------------------------------------------------------------------------------------

  /**
   * Whether the pool's close has begun, latching it the first time it is seen. A scope's state
   * turns `Closed` when its close *begins*, before its finalizers run — and the finalizers of
   * fibers forked into it after the pool (requests in flight) run before the pool's own — so
   * the state of the pool's scope and of its parents is what tells. Only the paths that may
   * dial or heal ask this; the lease fast path reads the latched flag alone.
   */
  isClosed(): boolean {
    if (this.closed) return true
    for (let scope: Scope.Scope | undefined = this.scope; scope !== undefined; scope = scope.parent) {
      if (scope.state._tag === "Closed") {
        this.closeNow()
        return true
      }
    }
    return false
  }

  /** Latches the close and fails every waiter with `PoolClosed` now. Synchronous and idempotent. */
  private closeNow(): void {
    if (this.closed) return
    this.closed = true
    Deferred.doneUnsafe(this.closing, Exit.fail(this.closedError))
  }

  /**
   * Ends a slot whose connection will not carry another request: Effect's Pool drops the item
   * (closing its connection, now or when its lease ends) and acquires a replacement in the
   * background, which runs the heal loop. Nothing once the close has begun.
   */
  private readonly retire = (slot: SlotImpl): Effect.Effect<void> =>
    this.isClosed() ? Effect.void : EffectPool.invalidate(this.pool, slot)

  // -------------------------------------------------------------------------------------------
  // Leasing
  // -------------------------------------------------------------------------------------------

  /**
   * Whether Effect's `Pool.get`/`Pool.use` would hand out a healthy slot synchronously on the
   * next step: nobody waits, and the head of the available list (the most recently returned
   * item) is a live, reusable connection. The fiber must also have scheduler budget for that
   * step — Effect's run loop may yield before any step, and a fiber that took the head meanwhile
   * would leave `get` waiting in Effect's queue, unbounded by the acquire schedule.
   */
  private headReady(fiber: Fiber.Fiber<unknown, unknown>): boolean {
    const state = this.pool.state
    const head = state.availableHead
    return state.waiters.size === 0 && head !== undefined && head.exit._tag === "Success" &&
      head.exit.value.connection.isReusable && fiber.currentOpCount + 2 < fiber.cache.maxOpsBeforeYield
  }

  /** What to do when {@link headReady} says no: `0` wait, `1` yield then look again, `2` eject a stale head. */
  private whyNotReady(fiber: Fiber.Fiber<unknown, unknown>): 0 | 1 | 2 {
    const state = this.pool.state
    const head = state.availableHead
    if (state.waiters.size > 0 || head === undefined || head.exit._tag !== "Success") return 0
    if (!head.exit.value.connection.isReusable) return 2
    return fiber.currentOpCount + 2 < fiber.cache.maxOpsBeforeYield ? 0 : 1
  }

  /** Invalidates the idle head while its connection is stale (the sweep's work, done on demand). */
  private readonly ejectStaleHead: Effect.Effect<void> = Effect.suspend(() => {
    const head = this.pool.state.availableHead
    return head !== undefined && head.exit._tag === "Success" && !head.exit.value.connection.isReusable
      ? this.retire(head.exit.value)
      : Effect.void
  })

  /**
   * One try at a healthy slot from Effect's queue, in a scope of its own; a stale slot is retired
   * and its lease ended at once (`false`: try again). Uninterruptible but for the wait, and
   * the lease is recorded in `won` in the step it is taken, so an interruption cannot lose it.
   */
  private takeOnce(won: { lease: Lease | undefined }): Effect.Effect<boolean, PoolError> {
    return Effect.uninterruptibleMask((restore) => {
      const scope = Scope.makeUnsafe()
      return Effect.flatMap(Effect.exit(restore(Scope.provide(EffectPool.get(this.pool), scope))), (exit) => {
        if (Exit.isSuccess(exit)) {
          const slot = exit.value
          if (slot.connection.isReusable) {
            won.lease = { slot, scope }
            return Effect.succeed(true)
          }
          return Effect.as(Effect.andThen(this.retire(slot), Scope.close(scope, Exit.void)), false)
        }
        const error = Cause.findErrorOption(exit.cause)
        if (error._tag === "Some") {
          // a refill that gave up (a finite reconnect schedule ran out): the next `get` asks for
          // another; the close: answer with it
          return error.value._tag === "PoolError" ? Effect.fail(error.value) : Effect.succeed(false)
        }
        // Effect's Pool interrupts its borrowers when it shuts down, which only the close does
        return this.closed ? this.failClosed : Effect.failCause(exit.cause as Cause.Cause<never>)
      })
    })
  }

  /**
   * Waits in Effect's queue (oldest first) for a healthy slot, per the acquire schedule: the
   * schedule's timer, the close and the queue race, and a lease taken in the same turn as the
   * timer fired is kept, not lost. Gives up with `AcquireTimeout`, carrying the last connect
   * failure when the origin could not be reached.
   */
  private readonly wait: Effect.Effect<Lease, PoolError> = Effect.suspend(() => {
    const won: { lease: Lease | undefined } = { lease: undefined }
    const take: Effect.Effect<void, PoolError> = Effect.flatMap(this.takeOnce(won), (got) => got ? Effect.void : take)
    const timer = Effect.gen({ self: this }, function*() {
      const started = yield* Clock.currentTimeMillis
      const step = yield* Schedule.toStep(this.acquireSchedule)
      let attempts = 1
      for (;;) {
        const next = yield* Effect.exit(step(yield* Clock.currentTimeMillis, undefined))
        if (Exit.isFailure(next)) break
        yield* Effect.sleep(next.value[1])
        attempts++
      }
      const waited = Duration.millis((yield* Clock.currentTimeMillis) - started)
      const lastFailure = this.lastFailure
      return yield* Effect.fail(
        new PoolError({
          origin: this.origin,
          reason: new AcquireTimeout(lastFailure === undefined ? { attempts, waited } : { attempts, waited, lastFailure })
        })
      )
    })
    return Effect.flatMap(
      Effect.exit(Effect.raceFirst(take, Effect.raceFirst(timer, Deferred.await(this.closing)))),
      (exit) => won.lease !== undefined ? Effect.succeed(won.lease) : (exit as Exit.Exit<never, PoolError>)
    )
  })

  // The fast paths of `tryAcquire` and `acquire` need no uninterruptible region of their own:
  // Effect's `Pool.get` takes the item and registers its release in the caller's scope in one
  // uninterruptible step, and an interruption before it takes nothing. (Measured in
  // `bench:pool`'s lease table, three paired runs on the shared VM: acquire + release
  // 829–843 ns with the mask, 673–716 ns without, beside 559–686 ns for `Pool.get` + release.)

  readonly tryAcquire: Effect.Effect<Option.Option<Slot>, never, Scope.Scope> = Effect.withFiber(
    (fiber): Effect.Effect<Option.Option<Slot>, never, Scope.Scope> => {
      if (this.closed) return Effect.succeedNone
      // (`get` fails with the pool's error only when it waited for an acquisition that failed;
      // with a ready head it does not wait)
      if (this.headReady(fiber)) {
        return Effect.map(EffectPool.get(this.pool), Option.some) as unknown as Effect.Effect<Option.Option<Slot>, never, Scope.Scope>
      }
      switch (this.whyNotReady(fiber)) {
        case 1:
          return Effect.andThen(Effect.yieldNow, this.tryAcquire)
        case 2:
          return Effect.andThen(Effect.uninterruptible(this.ejectStaleHead), this.tryAcquire)
        default:
          return Effect.succeedNone
      }
    }
  )

  readonly acquire: Effect.Effect<Slot, PoolError, Scope.Scope> = Effect.withFiber(
    (fiber): Effect.Effect<Slot, PoolError, Scope.Scope> => {
      if (this.closed) return this.failClosed
      if (this.headReady(fiber)) return EffectPool.get(this.pool) as Effect.Effect<Slot, PoolError, Scope.Scope>
      switch (this.whyNotReady(fiber)) {
        case 1:
          return Effect.andThen(Effect.yieldNow, this.acquire)
        case 2:
          return Effect.andThen(Effect.uninterruptible(this.ejectStaleHead), this.acquire)
        default:
          if (this.isClosed()) return this.failClosed
          // the wait is interruptible; the lease it won is tied to the caller's scope in the
          // same uninterruptible step
          return Effect.uninterruptibleMask((restore) =>
            Effect.flatMap(restore(this.wait), ({ scope: leaseScope, slot }) =>
              Effect.as(
                Scope.addFinalizerExit(Context.getUnsafe(fiber.context, Scope.Scope), (exit) => Scope.close(leaseScope, exit)),
                slot
              ))
          )
      }
    }
  )

  withSlot<A, E, R>(f: (slot: Slot) => Effect.Effect<A, E, R>): Effect.Effect<A, E | PoolError, R> {
    return Effect.withFiber((fiber) => this.lease(fiber, f))
  }

  /** `withSlot` inside a step that has the fiber (so `request` needs no step of its own for it). */
  private lease<A, E, R>(
    fiber: Fiber.Fiber<unknown, unknown>,
    f: (slot: Slot) => Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | PoolError, R> {
    if (this.closed) return this.failClosed
    // the hot path: Effect's `Pool.use` takes the head synchronously and returns it when `f`
    // ends, nothing else around it
    // (`use` fails with the pool's error only when it waited for an acquisition that failed;
    // with a ready head it does not wait)
    if (this.headReady(fiber)) {
      return EffectPool.use(this.pool, f) as Effect.Effect<A, E, R>
    }
    switch (this.whyNotReady(fiber)) {
      case 1:
        return Effect.andThen(Effect.yieldNow, this.withSlot(f))
      case 2:
        return Effect.andThen(this.ejectStaleHead, this.withSlot(f))
      default:
        // about to wait: a close that has begun answers now (the fast path reads only the flag)
        if (this.isClosed()) return this.failClosed
        return Effect.uninterruptibleMask((restore) =>
          Effect.flatMap(restore(this.wait), ({ scope, slot }) =>
            Effect.onExit(restore(f(slot)), (exit) => Scope.close(scope, exit)))
        )
    }
  }

  request(build: (writer: RequestWriter) => Request | RequestError): Effect.Effect<OwnedResponse, PoolRequestError> {
    // a span only when a tracer that exports spans is installed: the default native tracer keeps
    // them nowhere, and a span around an exchange costs ~10 µs of a ~20 µs loopback round trip
    return Effect.withFiber((fiber) =>
      fiber.getRef(Tracer.Tracer) === Tracer.nativeTracer
        ? this.exchange(fiber, build)
        : Effect.withSpan(Effect.withFiber((fiber) => this.exchange(fiber, build)), "ClientPool.request", this.spanOptions)
    )
  }

  /**
   * `request` in the step that checks the tracer: the clock read, the lease ({@link lease}, the
   * same path as `withSlot`) and the exchange, with no step or closure of their own in between.
   */
  private exchange(
    fiber: Fiber.Fiber<unknown, unknown>,
    build: (writer: RequestWriter) => Request | RequestError
  ): Effect.Effect<OwnedResponse, PoolRequestError> {
    const clock = fiber.getRef(Clock.Clock)
    const t0 = clock.currentTimeMillisUnsafe()
    return this.lease(fiber, (slot: Slot) => {
      const impl = slot as SlotImpl
      const exchange = impl.shell.exchange ??= new Exchange(this)
      const request = build(slot.writer)
      return exchange.start(impl, fiber, clock, t0, request)
    })
  }

  /** The request metrics of one exchange, updated when its response is owned. */
  recordRequest(context: Context.Context<never>, acquireWaitMs: number, latencyMs: number): void {
    const metricContext = this.metricContext(context)
    metrics.acquireWait.updateUnsafe(Duration.millis(acquireWaitMs), metricContext)
    metrics.requestLatency.updateUnsafe(Duration.millis(latencyMs), metricContext)
  }

  /**
   * The fiber's context with this pool's metric attributes (`origin`), for the request metrics:
   * what `Metric.withAttributes` builds on every update (a `Context.add`, a copy of the context),
   * built here once per fiber context and reused while the caller's context stays the same.
   */
  private metricContext(context: Context.Context<never>): Context.Context<never> {
    if (context !== this.metricBase) {
      this.metricBase = context
      const inherited = Context.get(context, Metric.CurrentMetricAttributes)
      this.metricMerged = Context.add(context, Metric.CurrentMetricAttributes, { ...inherited, origin: this.origin })
    }
    return this.metricMerged!
  }

  /**
   * The keep-alive race (the server closed a reused connection as the request went out): renews
   * the leased slot's connection in place and sends the same request bytes once more. The slot
   * stays leased (Effect's Pool sees nothing), so its writer's bytes stay valid. A failure of
   * this attempt is returned, with `requestSent` true if either attempt wrote a byte.
   */
  resend(slot: SlotImpl, request: Request, first: HttpConnection.HttpError): Effect.Effect<Response, HttpConnection.HttpError> {
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

  readonly stats: Effect.Effect<Stats> = Effect.suspend(() =>
    Effect.map(EffectPool.stats(this.pool), (stats): Stats => ({
      available: this.closed ? 0 : stats.idle,
      inUse: stats.used,
      // slots without a live connection: being re-established, or waiting for Effect's Pool
      // to start their refill (it refills one item at a time)
      reconnecting: this.closed ? 0 : Math.max(0, this.size - stats.idle - stats.used),
      totalReconnects: this.totalReconnects,
      waiting: stats.pending
    }))
  )

  /** Retires idle slots whose connection expired; runs every `healthCheckInterval`. */
  readonly healthCheck: Effect.Effect<void> = Effect.suspend(() => {
    if (this.isClosed()) return Effect.void
    const stale: Array<SlotImpl> = []
    for (let item = this.pool.state.availableHead; item !== undefined; item = item.availableNext) {
      if (item.exit._tag === "Success" && !item.exit.value.connection.isReusable) stale.push(item.exit.value)
    }
    return stale.length === 0 ? Effect.void : Effect.forEach(stale, this.retire, { discard: true })
  })

  /**
   * The pool's finalizer, registered after the connection scope was made, so it runs before the
   * sockets close: latches the close (waiters fail now) and shuts Effect's Pool down. That
   * shutdown waits for every lease to come back (`Pool.ts` `shutdown`: `semaphore.take(size)`),
   * and a lease held by a scope that outlives the pool would hold it for good, so it runs in a
   * fiber of its own; the sockets do not wait for it.
   */
  shutdown(poolScope: Scope.Closeable): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.closeNow()
      return Effect.asVoid(Effect.forkDetach(Scope.close(poolScope, Exit.void)))
    })
  }

  makeShell(id: number): Shell {
    return new Shell(
      id,
      RequestWriterModule.make({
        host: this.origin,
        basePath: this.options.basePath,
        defaultHeaders: this.options.defaultHeaders,
        capacity: this.options.writeBufferCapacity
      }),
      ResponseReaderModule.make({
        bufferCapacity: this.options.responseBufferCapacity,
        maxBodySize: this.options.maxBodySize
      })
    )
  }
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
  // the sockets' scope first, the pool's finalizer after it: the finalizer runs first on close
  const connScope = yield* Scope.fork(scope)
  const open = options.connect ?? HttpConnection.connect(options.url, options)
  const pool = new PoolImpl(parsed.hostHeader, count, scope, connScope, options, open)
  // each slot's writer and reader are made before any dial, so a bad buffer option throws
  // without opening a socket; then every slot connects at once, and the first failure fails
  // the build (closing the connections already open)
  const shells = Array.from({ length: count }, (_, id) => pool.makeShell(id))
  const seeds = yield* Effect.forEach(
    shells,
    (shell) => Effect.map(pool.connectOnce, (opened) => ({ shell, opened })),
    { concurrency: "unbounded" }
  ).pipe(Effect.onError(() => Scope.close(connScope, Exit.void)))
  pool.seeds = seeds.reverse()
  // Effect's Pool lives in a scope of its own: its shutdown waits for every lease (see `shutdown`)
  const poolScope = Scope.makeUnsafe()
  pool.pool = yield* Scope.provide(EffectPool.make({ acquire: pool.openSlot, size: count }), poolScope)
  yield* Scope.addFinalizer(scope, pool.shutdown(poolScope))
  // wait for the first fill (the seeds, no I/O): take every slot once and return them, the
  // first taken last, so slot 0 ends on top
  yield* Effect.orDie(Effect.scoped(Effect.forEach(shells, () => EffectPool.get(pool.pool), { discard: true })))
  const interval = Duration.fromInputUnsafe(options.healthCheckInterval ?? DEFAULT_HEALTH_CHECK_INTERVAL)
  yield* Effect.forkIn(Effect.forever(Effect.andThen(Effect.sleep(interval), pool.healthCheck)), scope)
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
