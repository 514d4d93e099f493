/**
 * `NexusHttpClient` — Effect's `HttpClient` service on effect-nexus: code written for
 * `NodeHttpClient.layerUndici` runs unchanged on `NexusHttpClient.layer()`. Named like
 * `@effect/platform-node`'s `NodeHttpClient` so that it never shadows Effect's `HttpClient`
 * in the files that use both; it lives in `Layers` because it reads the `TlsSettings` service.
 *
 * ```text
 *   HttpClient.execute(request) ── the wrapper (as HttpClient.make): URL, span, trace headers ──► runner
 *     runner: origin of the URL ──► its ClientPool (opened on first use, in the layer's scope)
 *       ├─ a slot leased in a scope of its own; the head built with the slot's RequestWriter,
 *       │   a body that fits written with it, a larger one or a Stream after it (HttpConnection.open)
 *       └─ the response head ──► body complete (≤ bufferBodyUpTo): owned copy, lease closed
 *                            └─► body still on the wire: the lease goes to the response's body
 * ```
 *
 * Rules:
 * - **One pool per origin** (`scheme://host:port`), as undici's `Agent` keeps one `Pool` per
 *   origin: created on the first request to it and connecting `connections` sockets at once
 *   (default 4, `ClientPool.DEFAULT_CONNECTIONS`). Concurrent first requests share one build;
 *   a failed build (a refused port) fails them all and leaves no pool behind, so the next
 *   request dials again.
 * - **Origins are capped and idle pools evicted.** At most `maxOrigins` pools (default
 *   {@link DEFAULT_MAX_ORIGINS}) are kept: opening one more closes the least recently used pool
 *   with no request in flight (a streamed body counts as one); when every pool is busy the new
 *   one opens anyway and the excess is closed as pools fall idle. A pool unused for
 *   `originIdleTimeout` (default {@link DEFAULT_ORIGIN_IDLE_TIMEOUT}) is closed by a sweep that
 *   runs that often, so it goes between one and two periods after its last request. Closing the
 *   layer closes every pool.
 * - **Request bodies.** A body that fits the slot's writer buffer (default 32 KiB) goes out with
 *   the head in one write; a larger one follows the head from the caller's own buffer, with its
 *   `Content-Length`; a `Stream` is written as it is pulled, with its declared `contentLength`
 *   or else chunked. `Host`, `Content-Length` and `Transfer-Encoding` from the request's
 *   headers are ignored: the writer sets them.
 * - **Responses.** A body whose `Content-Length` is at most `bufferBodyUpTo` (default
 *   {@link DEFAULT_BUFFER_BODY_UP_TO}), or that came whole with its head, is read whole (bounded
 *   by `maxBodySize`, default 16 MiB) and copied once; the connection goes back to its pool before
 *   the response is handed out. Any other body is read as the consumer pulls, its connection
 *   leased until the body ends, and poisoned when the body is given up (see
 *   `internal/nexusResponse.ts`). HEAD, 1xx, 204, 304 and `Connection: close` are the reader's
 *   and the pool's rules; `upgrade` fails (no connection hand-over).
 * - **Errors** are `HttpClientError`s. A failed exchange is a `TransportError` whose `cause` is
 *   the pool's error — an `HttpError` keeps `requestSent`, so {@link isRetryable} (for
 *   `HttpClient.retry`) never sends a POST twice; a request the writer refuses (CR/LF in a
 *   header) or a request body stream that fails is an `EncodeError`, a URL that is not
 *   `http`/`https` an `InvalidUrlError`, a streamed body that fails while read a `DecodeError`.
 *   A malformed or too-large response head is a `TransportError`: no response object exists yet.
 * - **The keep-alive race**: an idempotent request (or any request none of whose bytes went out)
 *   that a reused connection drops before any response byte is sent once more on another slot.
 * - Interrupting a request mid-flight poisons its connection only (the pool heals that slot).
 * - **Tracing**: the client is `HttpClient.makeWith` around `internal/clientWrapper.ts`, which
 *   does what `HttpClient.make` does (the same `InvalidUrlError`, span name and attributes,
 *   propagation headers, 4xx/5xx span status; tested side by side with `make`) at a fraction
 *   of its cost (`bench/http-client-wrapper.ts`): a per-client URL cache, no `AbortController` and no response tracking for a body
 *   already copied. A body still on the wire goes through `make` itself for its tracking
 *   (`withScope`, garbage collection, `followRedirects`; tracing off there, but `make`'s
 *   per-request cost is paid on top of the wrapper's). See docs/httpclient.md.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientError from "effect/http/HttpClientError"
import type * as HttpClientRequest from "effect/http/HttpClientRequest"
import type * as HttpClientResponse from "effect/http/HttpClientResponse"
import type { QueryPhase, Request, RequestError, RequestWriter } from "../Codec/RequestWriter.ts"
import * as ResponseReader from "../Codec/ResponseReader.ts"
import * as ClientPool from "../Pool/ClientPool.ts"
import type * as HttpConnection from "../Transport/HttpConnection.ts"
import type * as Transport from "../Transport/Transport.ts"
import * as ClientWrapper from "./internal/clientWrapper.ts"
import { track } from "./internal/clientWrapper.ts"
import { NexusResponse, own, PendingBody } from "./internal/nexusResponse.ts"
import * as ProxySettings from "./ProxySettings.ts"
import { TlsSettings } from "./TlsSettings.ts"

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

/**
 * Options of {@link make} and {@link layer}: every `ClientPool` option but the per-origin ones
 * (`url`, `basePath`, `defaultHeaders`, `connect`), applied to each origin's pool, plus the cap
 * on origins and their idle time. `tls` defaults to the `TlsSettings` service when one is
 * provided, else system roots; `proxy` to the `ProxySettings` service, else none.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends Omit<ClientPool.DialOptions, "url" | "basePath" | "defaultHeaders" | "connect"> {
  /** Most origin pools kept open. Default {@link DEFAULT_MAX_ORIGINS}. */
  readonly maxOrigins?: number | undefined
  /** A pool with no request for this long is closed. Default {@link DEFAULT_ORIGIN_IDLE_TIMEOUT}. */
  readonly originIdleTimeout?: Duration.Input | undefined
  /**
   * A response body whose `Content-Length` is at most this is read whole before the response is
   * handed out (its connection back in the pool at once); a longer, chunked or close-delimited
   * body not complete with its head is read as the consumer pulls. Default
   * {@link DEFAULT_BUFFER_BODY_UP_TO}.
   */
  readonly bufferBodyUpTo?: number | undefined
}

/**
 * Default cap on origin pools: 64 (each holds `connections` sockets).
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_MAX_ORIGINS = 64

/**
 * Default idle time after which an origin's pool is closed: 60 s.
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_ORIGIN_IDLE_TIMEOUT: Duration.Duration = Duration.seconds(60)

/**
 * Default `bufferBodyUpTo`: 64 KiB. A REST answer up to that size is read whole and its
 * connection returned before the caller sees it; a longer one streams through the slot's reader
 * buffer instead of growing it.
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_BUFFER_BODY_UP_TO = 64 * 1024

// ---------------------------------------------------------------------------------------------
// Origins: one pool each, opened lazily, capped, evicted when idle
// ---------------------------------------------------------------------------------------------

/** The layer closed before (or while) the request wanted its pool; internal, mapped to a `TransportError`. */
class ClientClosed extends Data.TaggedError("ClientClosed")<{ readonly origin: string }> {
  override get message(): string {
    return `the effect-nexus HttpClient is closed; no pool to ${this.origin} can be opened`
  }
}

/** What acquiring an origin's pool or sending on it fails with. */
type ExchangeError = ClientPool.PoolRequestError | ClientClosed

/** One origin's pool, from the first request on. `pool` is set once the build succeeded. */
class Origin {
  readonly origin: string
  readonly ready: Deferred.Deferred<ClientPool.ClientPool, ExchangeError>
  pool: ClientPool.ClientPool | undefined
  scope: Scope.Closeable | undefined
  /** Requests using (or waiting for) the pool now: a pool with any is never evicted. */
  inFlight: number
  /** Clock time (ms) the last request ended. */
  lastUsed: number
  /** Evicted or the layer closed: a build that finishes now closes its pool at once. */
  evicted: boolean
  /**
   * Counts one more use past the request (a response body still on its connection) until the
   * function it returns is called: the pool is not evicted under a streamed body.
   */
  readonly retain: () => () => void
  /** Ends one use of the origin (a request's, counted by `Origins.use`). */
  readonly done: () => void
  constructor(origin: string, now: number, release: (entry: Origin) => void) {
    this.origin = origin
    this.ready = Deferred.makeUnsafe<ClientPool.ClientPool, ExchangeError>()
    this.pool = undefined
    this.scope = undefined
    this.inFlight = 0
    this.lastUsed = now
    this.evicted = false
    this.done = () => release(this)
    this.retain = () => {
      this.inFlight++
      let released = false
      return () => {
        if (released) return
        released = true
        release(this)
      }
    }
  }
}

class Origins {
  /** Least recently used first: a use moves its origin to the end. */
  private readonly entries = new Map<string, Origin>()
  private closed = false
  private readonly scope: Scope.Scope
  private readonly run: (effect: Effect.Effect<void>) => unknown
  private readonly now: () => number
  private readonly poolOptions: Omit<ClientPool.DialOptions, "url">
  private readonly maxOrigins: number
  readonly idleMs: number

  constructor(
    scope: Scope.Scope,
    run: (effect: Effect.Effect<void>) => unknown,
    now: () => number,
    poolOptions: Omit<ClientPool.DialOptions, "url">,
    maxOrigins: number,
    idleMs: number
  ) {
    this.scope = scope
    this.run = run
    this.now = now
    this.poolOptions = poolOptions
    this.maxOrigins = maxOrigins
    this.idleMs = idleMs
  }

  /**
   * Runs `f` with the pool of `origin`, opening it on first use, in the uninterruptible region
   * whose `restore` it is handed (one mask for the whole request: `f` restores interruption
   * around its I/O only). The origin counts as in use from the first synchronous step until `f`
   * calls `done`, which it must do exactly once however it ends, so the origin is never evicted
   * under a request. A failure to get the pool (the client closed, the pool's build failed)
   * fails through `mapError`.
   */
  use<A, E>(
    origin: string,
    f: (
      pool: ClientPool.ClientPool,
      retain: () => () => void,
      done: () => void,
      restore: <AX, EX, RX>(effect: Effect.Effect<AX, EX, RX>) => Effect.Effect<AX, EX, RX>
    ) => Effect.Effect<A, E>,
    mapError: (error: ExchangeError) => E
  ): Effect.Effect<A, E> {
    return Effect.uninterruptibleMask((restore) => {
      if (this.closed) return Effect.fail(mapError(new ClientClosed({ origin })))
      let entry = this.entries.get(origin)
      if (entry === undefined) {
        entry = new Origin(origin, this.now(), this.releaseEntry)
        this.entries.set(origin, entry)
        entry.inFlight++
        this.run(this.build(entry))
        this.trim()
      } else {
        // move to the most recently used end
        this.entries.delete(origin)
        this.entries.set(origin, entry)
        entry.inFlight++
      }
      const held = entry
      // an open pool (every request but an origin's first few) needs no step to be reached
      if (held.pool !== undefined) return f(held.pool, held.retain, held.done, restore)
      return Effect.matchCauseEffect(restore(Deferred.await(held.ready)), {
        onFailure: (cause) => {
          held.done()
          return Effect.failCause(Cause.map(cause, mapError))
        },
        onSuccess: (pool) => f(pool, held.retain, held.done, restore)
      })
    })
  }

  private readonly releaseEntry = (entry: Origin): void => this.release(entry)

  private release(entry: Origin): void {
    entry.inFlight--
    entry.lastUsed = this.now()
    if (entry.inFlight === 0 && this.entries.size > this.maxOrigins) this.trim()
  }

  /** Opens the origin's pool in a child scope of the layer; its outcome settles `ready`. */
  private build(entry: Origin): Effect.Effect<void> {
    return Effect.gen({ self: this }, function*() {
      const scope = yield* Scope.fork(this.scope)
      const exit = yield* Effect.exit(
        Scope.provide(ClientPool.make({ ...this.poolOptions, url: entry.origin }), scope)
      )
      if (Exit.isFailure(exit)) {
        yield* Scope.close(scope, Exit.void)
        // a failed build leaves nothing behind: the next request dials again
        if (this.entries.get(entry.origin) === entry) this.entries.delete(entry.origin)
        yield* Deferred.done(entry.ready, exit)
        return
      }
      if (entry.evicted) {
        yield* Scope.close(scope, Exit.void)
        yield* Deferred.fail(entry.ready, new ClientClosed({ origin: entry.origin }))
        return
      }
      entry.pool = exit.value
      entry.scope = scope
      yield* Deferred.succeed(entry.ready, exit.value)
    })
  }

  /** Closes least recently used idle pools while more than `maxOrigins` are open. */
  private trim(): void {
    if (this.entries.size <= this.maxOrigins) return
    for (const entry of this.entries.values()) {
      if (this.entries.size <= this.maxOrigins) return
      if (entry.inFlight === 0) this.evict(entry)
    }
  }

  private evict(entry: Origin): void {
    this.entries.delete(entry.origin)
    entry.evicted = true
    const scope = entry.scope
    if (scope !== undefined) this.run(Scope.close(scope, Exit.void))
  }

  /** Closes every pool idle for `idleMs` or longer; runs every `idleMs`. */
  readonly sweep: Effect.Effect<void> = Effect.sync(() => {
    const now = this.now()
    for (const entry of [...this.entries.values()]) {
      if (entry.inFlight === 0 && entry.pool !== undefined && now - entry.lastUsed >= this.idleMs) this.evict(entry)
    }
  })

  /** The layer's finalizer: no pool opens from now on; pending builds fail their waiters. */
  readonly close: Effect.Effect<void> = Effect.suspend(() => {
    this.closed = true
    const pending = [...this.entries.values()]
    this.entries.clear()
    return Effect.forEach(pending, (entry) => {
      entry.evicted = true
      return Deferred.fail(entry.ready, new ClientClosed({ origin: entry.origin }))
    }, { discard: true })
  })
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

const encodeError = (request: HttpClientRequest.HttpClientRequest, description: string, cause?: unknown) =>
  new HttpClientError.HttpClientError({
    reason: new HttpClientError.EncodeError({ request, description, cause })
  })

/** Header names the writer sets itself; the request's own values are not sent. */
const WRITER_HEADERS: ReadonlySet<string> = new Set(["host", "content-length", "transfer-encoding"])

/** Starts the request: the writer's precomputed plans for the common methods, else any token. */
const begin = (writer: RequestWriter, method: string, target: string): QueryPhase => {
  switch (method) {
    case "GET":
      return writer.get(target)
    case "POST":
      return writer.post(target)
    case "PUT":
      return writer.put(target)
    case "DELETE":
      return writer.delete(target)
    case "PATCH":
      return writer.patch(target)
    case "HEAD":
      return writer.head(target)
    default:
      return writer.request(method, target)
  }
}

/**
 * One request on its way: what the runner knows before a slot is leased (target, the body as
 * bytes or a stream) and builds with the slot's writer. A body that fits the writer's buffer is
 * written into it with the head; a larger one, and every `Stream`, follows the head
 * (`bodyFollows`): bytes straight from the caller's buffer, a stream as it is pulled — chunked
 * unless the body declares its length.
 */
class Outgoing {
  readonly request: HttpClientRequest.HttpClientRequest
  readonly target: string
  private readonly bytes: Uint8Array | undefined
  private readonly stream: Stream.Stream<Uint8Array, unknown> | undefined
  private readonly length: number | undefined
  private readonly contentType: string | undefined
  private readonly inline: HttpConnection.OpenOptions
  /** The options of the last build: `inline`, or the body to send after the head. */
  options: HttpConnection.OpenOptions

  constructor(
    request: HttpClientRequest.HttpClientRequest,
    target: string,
    body: Uint8Array | Stream.Stream<Uint8Array, unknown> | undefined,
    length: number | undefined,
    contentType: string | undefined,
    inline: HttpConnection.OpenOptions
  ) {
    this.request = request
    this.target = target
    this.bytes = body instanceof Uint8Array ? body : undefined
    this.stream = body === undefined || body instanceof Uint8Array ? undefined : body
    this.length = length
    this.contentType = contentType
    this.inline = inline
    this.options = inline
  }

  /** The head: request line, `Host`, the request's headers (and the body's content type). */
  private head(writer: RequestWriter) {
    let phase = begin(writer, this.request.method, this.target) as ReturnType<QueryPhase["header"]>
    const headers = this.request.headers
    const contentType = this.contentType
    // `Object.keys`, not `for in`: a `Headers` has a prototype, which takes `for in` off its fast path
    for (const name of Object.keys(headers)) {
      if (WRITER_HEADERS.has(name)) continue
      if (contentType !== undefined && name === "content-type") continue
      phase = phase.header(name, headers[name]!)
    }
    if (contentType !== undefined) phase = phase.header("content-type", contentType)
    return phase
  }

  build(writer: RequestWriter): Request | RequestError {
    const bytes = this.bytes
    if (this.stream !== undefined) {
      this.options = { ...this.inline, body: { content: this.stream, length: this.length } }
      return this.head(writer).bodyFollows(this.length).finish()
    }
    this.options = this.inline
    if (bytes === undefined) return this.head(writer).finish()
    if (bytes.length <= writer.capacity) {
      const built = this.head(writer).body(bytes).finish()
      if (built._tag !== "RequestTooLarge") return built
    }
    this.options = { ...this.inline, body: { content: bytes, length: bytes.length } }
    return this.head(writer).bodyFollows(bytes.length).finish()
  }
}

/** The request's body as bytes or a stream (with its declared length), `FormData` encoded as multipart. */
const outgoing = (
  request: HttpClientRequest.HttpClientRequest,
  target: string,
  inline: HttpConnection.OpenOptions
): Outgoing | Effect.Effect<Outgoing, HttpClientError.HttpClientError> => {
  const body = request.body
  switch (body._tag) {
    case "Empty":
      return new Outgoing(request, target, undefined, undefined, undefined, inline)
    case "Uint8Array":
      return new Outgoing(request, target, body.body, undefined, undefined, inline)
    case "Raw": {
      const raw = body.body
      if (raw instanceof Uint8Array) return new Outgoing(request, target, raw, undefined, undefined, inline)
      if (typeof raw === "string") {
        return new Outgoing(request, target, Buffer.from(raw, "utf8"), undefined, undefined, inline)
      }
      return Effect.fail(encodeError(request, "a raw body must be a Uint8Array or a string"))
    }
    case "FormData":
      // the platform's multipart encoder, as fetch and undici use it
      return Effect.tryPromise({
        try: async () => {
          const web = new globalThis.Response(body.formData)
          const bytes = new Uint8Array(await web.arrayBuffer())
          return new Outgoing(request, target, bytes, undefined, web.headers.get("content-type") ?? undefined, inline)
        },
        catch: (cause) => encodeError(request, "the form data could not be encoded", cause)
      })
    case "Stream":
      return new Outgoing(request, target, body.stream, body.contentLength, undefined, inline)
  }
}

/**
 * The one place a nexus failure becomes an `HttpClientError` reason: a request the writer refused
 * and a request body stream that failed are an `EncodeError`, a URL the pool cannot dial an
 * `InvalidUrlError`, everything else (connect, TLS, I/O, timeouts, a malformed or too-large
 * response, no free connection, a closed client) a `TransportError`. The `cause` is the pool's
 * error either way, `requestSent` and all.
 */
const toClientError = (request: HttpClientRequest.HttpClientRequest, error: ExchangeError) => {
  const tag = error._tag === "HttpError" ? error.reason._tag : error._tag
  switch (tag) {
    case "InvalidRequest":
    case "RequestBodyFailed":
      return new HttpClientError.HttpClientError({
        reason: new HttpClientError.EncodeError({ request, cause: error, description: error.message })
      })
    case "InvalidUrl":
      return new HttpClientError.HttpClientError({
        reason: new HttpClientError.InvalidUrlError({ request, cause: error, description: error.message })
      })
    default:
      return new HttpClientError.HttpClientError({
        reason: new HttpClientError.TransportError({ request, cause: error, description: error.message })
      })
  }
}

const invalidUrl = (request: HttpClientRequest.HttpClientRequest, description: string) =>
  new HttpClientError.HttpClientError({ reason: new HttpClientError.InvalidUrlError({ request, description }) })

/** What the runner needs beside the pool: the layer's fiber runner and the size limits. */
interface Exchange {
  readonly run: (effect: Effect.Effect<void>) => unknown
  readonly maxBodySize: number
}

/**
 * One exchange on a leased slot, run inside `Origins.use`'s uninterruptible region (`restore`
 * opens it to interruption around the lease and the I/O only): the lease is a scope of its own,
 * closed at once when the response is complete (its copy taken first), or handed to the
 * response's pending body. `done` ends the origin's use as the exchange ends, however it ends.
 * The keep-alive race — a reused connection that died under an idempotent request (or under
 * any request none of whose bytes went out) before any response byte — is retried once on
 * another slot, as `ClientPool.request` does on the same one. Failures leave as
 * `HttpClientError`s ({@link toClientError}).
 */
const exchange = (
  pool: ClientPool.ClientPool,
  retain: () => () => void,
  done: () => void,
  restore: <AX, EX, RX>(effect: Effect.Effect<AX, EX, RX>) => Effect.Effect<AX, EX, RX>,
  out: Outgoing,
  href: string,
  original: HttpClientRequest.HttpClientRequest,
  context: Exchange,
  retry: boolean
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> => {
  const lease = Scope.makeUnsafe()
  let slot: ClientPool.Slot | undefined
  let reused = false
  let readBefore = 0
  const send = Effect.flatMap(Scope.provide(pool.acquire, lease), (leased) => {
    slot = leased
    const connection = leased.connection
    reused = connection.requestCount > 0
    readBefore = connection.transport.bytesRead
    const request = out.build(leased.writer)
    return connection.open(request, leased.reader, out.options)
  })
  return Effect.matchCauseEffect(restore(send), {
    onSuccess: (response) => {
      const leased = slot!
      if (!leased.reader.bodyPending) {
        let result: NexusResponse
        try {
          result = new NexusResponse(out.request, href, own(response))
        } catch (defect) {
          // a throw while taking the copy (out of memory, a bug) still gives the lease and the origin back
          return Effect.flatMap(Scope.close(lease, Exit.void), () => {
            done()
            return Effect.die(defect)
          })
        }
        // the origin's use ends after the lease is back, so an eviction never closes a pool under it
        return Effect.map(Scope.close(lease, Exit.void), () => {
          done()
          return result
        })
      }
      const pending = new PendingBody(leased.connection, lease, retain(), context.run, context.maxBodySize)
      done()
      try {
        // tracked as `HttpClient.make` tracks a response (scope, GC, redirects), still uninterruptible
        return Effect.orDie(track(original, new NexusResponse(out.request, href, own(response, pending)), pending.onAbort))
      } catch (defect) {
        // the body is still on the connection: giving it up poisons the slot and returns the lease
        return Effect.andThen(pending.giveUp, Effect.die(defect))
      }
    },
    onFailure: (cause) => {
      // however the exchange ended — a failure, an interruption, a defect — the lease goes back
      // (a poisoned connection is ejected and healed by the pool)
      const closed = Scope.close(lease, Exit.void)
      const error = Cause.hasInterrupts(cause) ? undefined : Option.getOrUndefined(Cause.findErrorOption(cause))
      // a Stream body is pulled as it is sent: once any request byte went out it may be a
      // one-shot source (a Readable, a queue) that a second run would send truncated
      const again = retry && error !== undefined && error._tag === "HttpError" && reused && slot !== undefined &&
        slot.connection.transport.bytesRead === readBefore &&
        (out.request.body._tag !== "Stream" || !error.requestSent) &&
        ClientPool.isRetryable(out.request.method, error)
      if (again) return Effect.andThen(closed, exchange(pool, retain, done, restore, out, href, original, context, false))
      return Effect.flatMap(closed, () => {
        done()
        return Effect.failCause(Cause.map(cause, (error) => toClientError(out.request, error)))
      })
    }
  })
}

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

/**
 * Builds the client in the current scope: no socket is opened until a request needs an origin;
 * closing the scope closes every pool. `tls` comes from the options, else the `TlsSettings`
 * service when provided, else system roots; `proxy` from the options, else the `ProxySettings`
 * service when provided, else none. Throws `RangeError` for a `maxOrigins` below 1 or a
 * non-positive `originIdleTimeout` (caller misuse).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options?: Options) => Effect.Effect<HttpClient.HttpClient, never, Scope.Scope> = Effect.fn(
  "NexusHttpClient.make"
)(function*(options: Options = {}) {
  const maxOrigins = options.maxOrigins ?? DEFAULT_MAX_ORIGINS
  if (!Number.isSafeInteger(maxOrigins) || maxOrigins < 1) {
    throw new RangeError(`NexusHttpClient maxOrigins must be a positive integer, got ${maxOrigins}`)
  }
  const idle = Duration.fromInputUnsafe(options.originIdleTimeout ?? DEFAULT_ORIGIN_IDLE_TIMEOUT)
  const idleMs = Duration.toMillis(idle)
  if (!(idleMs > 0)) throw new RangeError(`NexusHttpClient originIdleTimeout must be positive, got ${Duration.format(idle)}`)
  const bufferUpTo = options.bufferBodyUpTo ?? DEFAULT_BUFFER_BODY_UP_TO
  if (!(bufferUpTo >= 0)) throw new RangeError(`NexusHttpClient bufferBodyUpTo must be non-negative, got ${bufferUpTo}`)
  const { bufferBodyUpTo: _b, maxOrigins: _m, originIdleTimeout: _i, ...rest } = options
  const poolOptions: Omit<ClientPool.DialOptions, "url"> = {
    ...rest,
    tls: options.tls ?? Option.getOrUndefined(yield* Effect.serviceOption(TlsSettings)),
    proxy: options.proxy ?? Option.getOrUndefined(yield* Effect.serviceOption(ProxySettings.ProxySettings))
  }
  const scope = yield* Effect.scope
  const run = yield* FiberSet.makeRuntime<never, void, never>()
  const clock = yield* Effect.clockWith(Effect.succeed)
  const origins = new Origins(scope, run, () => clock.currentTimeMillisUnsafe(), poolOptions, maxOrigins, idleMs)
  yield* Scope.addFinalizer(scope, origins.close)
  if (Number.isFinite(idleMs)) run(Effect.forever(Effect.andThen(Effect.sleep(idle), origins.sweep)))

  const inline: HttpConnection.OpenOptions = { bufferUpTo }
  const context: Exchange = { run, maxBodySize: options.maxBodySize ?? ResponseReader.DEFAULT_MAX_BODY_SIZE }
  return ClientWrapper.make((request, _url, original, where) => {
    if (typeof where === "string") return Effect.fail(invalidUrl(request, where))
    const { origin, path, href } = where
    const send = (out: Outgoing) =>
      origins.use(
        origin,
        (pool, retain, done, restore) => exchange(pool, retain, done, restore, out, href, original, context, true),
        (error) => toClientError(request, error)
      )
    const out = outgoing(request, path, inline)
    return out instanceof Outgoing ? send(out) : Effect.flatMap(out, send)
  }, target)
})

/** Where a URL's request goes: its origin's pool, the request target, the response's `url`. */
interface Target {
  readonly origin: string
  readonly path: string
  readonly href: string
}

/** The target of a URL, or why it cannot be requested (an `InvalidUrlError`'s description). */
const target = (url: URL): Target | string => {
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `scheme "${url.protocol.slice(0, -1)}" is not HTTP; use http or https`
  }
  if (url.username !== "" || url.password !== "") return "credentials in the URL are not sent; set an Authorization header"
  return {
    origin: `${url.protocol}//${url.host}`,
    path: url.pathname + url.search,
    href: url.hash === "" ? url.href : url.href.slice(0, url.href.length - url.hash.length)
  }
}

/**
 * A layer providing Effect's `HttpClient` over effect-nexus pools; swap it in for
 * `NodeHttpClient.layerUndici`. The pools live in the layer's scope and close with it.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<HttpClient.HttpClient> =>
  Layer.effect(HttpClient.HttpClient, make(options))

/**
 * Reads the client's settings from `Config` (prefix `NEXUS_HTTP` by default):
 * `_CONNECTIONS` (default 4, `ClientPool.DEFAULT_CONNECTIONS`), `_MAX_ORIGINS` (default
 * {@link DEFAULT_MAX_ORIGINS}), `_ORIGIN_IDLE_TIMEOUT` (default {@link DEFAULT_ORIGIN_IDLE_TIMEOUT}),
 * and the optional durations `_CONNECT_TIMEOUT` and `_READ_TIMEOUT`.
 *
 * @since 0.1.0
 * @category config
 */
export const config = (prefix = "NEXUS_HTTP"): Config.Config<Options> =>
  Config.map(
    Config.all({
      connections: Config.withDefault(Config.Int(`${prefix}_CONNECTIONS`), ClientPool.DEFAULT_CONNECTIONS),
      maxOrigins: Config.withDefault(Config.Int(`${prefix}_MAX_ORIGINS`), DEFAULT_MAX_ORIGINS),
      originIdleTimeout: Config.withDefault(Config.Duration(`${prefix}_ORIGIN_IDLE_TIMEOUT`), DEFAULT_ORIGIN_IDLE_TIMEOUT),
      connectTimeout: Config.option(Config.Duration(`${prefix}_CONNECT_TIMEOUT`)),
      readTimeout: Config.option(Config.Duration(`${prefix}_READ_TIMEOUT`))
    }),
    (c): Options => ({
      connections: c.connections,
      maxOrigins: c.maxOrigins,
      originIdleTimeout: c.originIdleTimeout,
      connectTimeout: Option.getOrUndefined(c.connectTimeout),
      readTimeout: Option.getOrUndefined(c.readTimeout)
    })
  )

/**
 * A layer from the environment (see {@link config}); `overrides` win over what it reads. The
 * proxy is the `ProxySettings` service when one is provided, otherwise `HTTPS_PROXY` /
 * `HTTP_PROXY` / `NO_PROXY` (`ProxySettings.fromConfig`); a proxy URL that does not parse fails
 * the layer with `ProxyError` kind `"InvalidProxyUrl"`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: { readonly prefix?: string | undefined; readonly overrides?: Options | undefined } = {}
): Layer.Layer<HttpClient.HttpClient, Config.ConfigError | Transport.TransportError> =>
  Layer.effect(
    HttpClient.HttpClient,
    Effect.gen(function*() {
      const fromEnv = yield* config(options.prefix)
      const provided = yield* Effect.serviceOption(ProxySettings.ProxySettings)
      const proxy = Option.isSome(provided) ? provided.value : yield* ProxySettings.fromConfig
      return yield* make({ ...fromEnv, proxy, ...options.overrides })
    })
  )

// ---------------------------------------------------------------------------------------------
// Retrying
// ---------------------------------------------------------------------------------------------

/**
 * Whether any byte of the failed request reached a socket: `false` or `true` from the pool's
 * `HttpError`, `false` for a failure before any connection was used (no free connection, a
 * closed client, a body that could not be encoded, a bad URL), `undefined` for a status or
 * decode error (the request was answered) or a failure from another client.
 *
 * @since 0.1.0
 * @category retrying
 */
export const requestSent = (error: HttpClientError.HttpClientError): boolean | undefined => {
  const reason = error.reason
  switch (reason._tag) {
    case "EncodeError": {
      // a request body stream that failed after its head went out carries the connection's error
      const cause = reason.cause as { readonly _tag?: unknown; readonly requestSent?: unknown } | undefined
      return cause !== undefined && cause._tag === "HttpError" && cause.requestSent === true
    }
    case "InvalidUrlError":
      return false
    case "TransportError": {
      const cause = reason.cause as { readonly _tag?: unknown; readonly requestSent?: unknown } | undefined
      // a nexus cause without `requestSent` (no free connection, a closed client) used no socket
      if (cause === undefined || typeof cause._tag !== "string") return undefined
      return cause.requestSent === true
    }
    default:
      return undefined
  }
}

/**
 * Whether a failed request may be sent again — the rule of `ClientPool.isRetryable` over the
 * `TransportError`'s cause: always when no byte reached a socket; for an idempotent method also
 * when the connection died under it unanswered; never after a read timeout, a bad response, an
 * `AcquireTimeout` or a closed client. A transient status (`HttpClient.isTransientResponse`:
 * 408, 429, 5xx gateway faults) is retried for idempotent methods only. Use it as
 * `HttpClient.retry({ while: NexusHttpClient.isRetryable, times: 2 })` instead of
 * `retryTransient`, which would send a POST twice.
 *
 * @since 0.1.0
 * @category retrying
 */
export const isRetryable = (error: HttpClientError.HttpClientError): boolean => {
  const reason = error.reason
  const method = reason.request.method
  switch (reason._tag) {
    case "StatusCodeError":
      return ClientPool.isIdempotent(method) && HttpClient.isTransientResponse(reason.response)
    case "TransportError": {
      const cause = reason.cause as ExchangeError | undefined
      if (cause === undefined || typeof cause._tag !== "string" || cause._tag === "ClientClosed") return false
      return ClientPool.isRetryable(method, cause)
    }
    default:
      return false
  }
}
