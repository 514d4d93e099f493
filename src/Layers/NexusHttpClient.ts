/**
 * `NexusHttpClient` — Effect's `HttpClient` service on effect-nexus: code written for
 * `NodeHttpClient.layerUndici` runs unchanged on `NexusHttpClient.layer()`. Named like
 * `@effect/platform-node`'s `NodeHttpClient` so that it never shadows Effect's `HttpClient`
 * in the files that use both; it lives in `Layers` because it reads the `TlsSettings` service.
 *
 * ```text
 *   HttpClient.execute(request) ── HttpClient.make: URL, span, trace headers ──► runner
 *     runner: origin of the URL ──► its ClientPool (opened on first use, in the layer's scope)
 *       ├─ body → bytes: Uint8Array / text / JSON / urlencoded as they are, FormData as
 *       │   multipart, a Stream collected first; head and body built with the slot's RequestWriter
 *       └─ ClientPool.request ──► owned copy of the response ──► our HttpClientResponse over it
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
 *   with no request in flight; when every pool is busy the new one opens anyway and the excess
 *   is closed as pools fall idle. A pool unused for `originIdleTimeout` (default
 *   {@link DEFAULT_ORIGIN_IDLE_TIMEOUT}) is closed by a sweep that runs that often, so it goes
 *   between one and two periods after its last request. Closing the layer closes every pool.
 * - **Bodies.** The request is written by the slot's `RequestWriter` (its buffer, default 32 KiB,
 *   holds head and body without a copy); a larger body is sent from one exact-size buffer
 *   instead, so any size goes out, always with `Content-Length`. A `Stream` body is collected
 *   before the request is sent (not sent chunked yet). `Host`, `Content-Length` and
 *   `Transfer-Encoding` from the request's headers are ignored: the writer sets them.
 * - **Responses** are read whole by the pool (bounded by `maxBodySize`, default 16 MiB) and
 *   copied once; the connection goes back to its pool before the response is handed out, so an
 *   unread or abandoned body holds no connection. `text`, `json`, `arrayBuffer`, `stream`,
 *   `urlParamsBody` and `formData` read that copy; `upgrade` fails (no connection hand-over).
 *   HEAD, 1xx, 204, 304 and `Connection: close` are the reader's and the pool's rules.
 * - **Errors** are `HttpClientError`s. A failed exchange is a `TransportError` whose `cause` is
 *   the pool's error — an `HttpError` keeps `requestSent`, so {@link isRetryable} (for
 *   `HttpClient.retry`) never sends a POST twice; a request the writer refuses (CR/LF in a
 *   header) is an `EncodeError`, a URL that is not `http`/`https` an `InvalidUrlError`. A
 *   malformed or too-large response is a `TransportError` too: no response object exists yet.
 * - Interrupting a request mid-flight poisons its connection only (the pool heals that slot);
 *   tracing and trace-context propagation are `HttpClient.make`'s, as in Effect's own clients.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { pipeArguments } from "effect/Pipeable"
import type * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import type * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import * as Cookies from "effect/http/Cookies"
import * as Headers from "effect/http/Headers"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientError from "effect/http/HttpClientError"
import type * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as HttpIncomingMessage from "effect/http/HttpIncomingMessage"
import * as UrlParams from "effect/http/UrlParams"
import type { QueryPhase, Request, RequestError, RequestWriter } from "../Codec/RequestWriter.ts"
import * as ClientPool from "../Pool/ClientPool.ts"
import { TlsSettings } from "./TlsSettings.ts"

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

/**
 * Options of {@link make} and {@link layer}: every `ClientPool` option but the per-origin ones
 * (`url`, `basePath`, `defaultHeaders`, `connect`), applied to each origin's pool, plus the cap
 * on origins and their idle time. `tls` defaults to the `TlsSettings` service when one is
 * provided, else system roots.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends Omit<ClientPool.Options, "url" | "basePath" | "defaultHeaders" | "connect"> {
  /** Most origin pools kept open. Default {@link DEFAULT_MAX_ORIGINS}. */
  readonly maxOrigins?: number | undefined
  /** A pool with no request for this long is closed. Default {@link DEFAULT_ORIGIN_IDLE_TIMEOUT}. */
  readonly originIdleTimeout?: Duration.Input | undefined
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
  constructor(origin: string, now: number) {
    this.origin = origin
    this.ready = Deferred.makeUnsafe<ClientPool.ClientPool, ExchangeError>()
    this.pool = undefined
    this.scope = undefined
    this.inFlight = 0
    this.lastUsed = now
    this.evicted = false
  }
}

class Origins {
  /** Least recently used first: a use moves its origin to the end. */
  private readonly entries = new Map<string, Origin>()
  private closed = false
  private readonly scope: Scope.Scope
  private readonly run: (effect: Effect.Effect<void>) => unknown
  private readonly now: () => number
  private readonly poolOptions: Omit<ClientPool.Options, "url">
  private readonly maxOrigins: number
  readonly idleMs: number

  constructor(
    scope: Scope.Scope,
    run: (effect: Effect.Effect<void>) => unknown,
    now: () => number,
    poolOptions: Omit<ClientPool.Options, "url">,
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
   * Runs `f` with the pool of `origin`, opening it on first use. The origin counts as in use
   * from the first synchronous step to the end of `f`, however it ends, so it is never evicted
   * under a request.
   */
  use<A>(
    origin: string,
    f: (pool: ClientPool.ClientPool) => Effect.Effect<A, ExchangeError>
  ): Effect.Effect<A, ExchangeError> {
    return Effect.uninterruptibleMask((restore) => {
      if (this.closed) return Effect.fail(new ClientClosed({ origin }))
      let entry = this.entries.get(origin)
      if (entry === undefined) {
        entry = new Origin(origin, this.now())
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
      const pool = held.pool !== undefined ? Effect.succeed(held.pool) : Deferred.await(held.ready)
      return Effect.onExit(restore(Effect.flatMap(pool, f)), () => Effect.sync(() => this.release(held)))
    })
  }

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

/** A request body as bytes (with the content type it implies), or the typed reason it cannot be. */
type Encoded = {
  readonly bytes: Uint8Array | undefined
  readonly contentType: string | undefined
}

const EMPTY: Encoded = { bytes: undefined, contentType: undefined }

const encodeError = (request: HttpClientRequest.HttpClientRequest, description: string, cause?: unknown) =>
  new HttpClientError.HttpClientError({
    reason: new HttpClientError.EncodeError({ request, description, cause })
  })

/** The request's body as bytes: a `Stream` collected, `FormData` as multipart with its boundary. */
const encodeBody = (
  request: HttpClientRequest.HttpClientRequest
): Effect.Effect<Encoded, HttpClientError.HttpClientError> => {
  const body = request.body
  switch (body._tag) {
    case "Empty":
      return Effect.succeed(EMPTY)
    case "Uint8Array":
      return Effect.succeed({ bytes: body.body, contentType: undefined })
    case "Raw": {
      const raw = body.body
      if (raw instanceof Uint8Array) return Effect.succeed({ bytes: raw, contentType: undefined })
      if (typeof raw === "string") return Effect.succeed({ bytes: Buffer.from(raw, "utf8"), contentType: undefined })
      return Effect.fail(encodeError(request, "a raw body must be a Uint8Array or a string"))
    }
    case "FormData":
      // the platform's multipart encoder, as fetch and undici use it
      return Effect.tryPromise({
        try: async () => {
          const web = new globalThis.Response(body.formData)
          return {
            bytes: new Uint8Array(await web.arrayBuffer()),
            contentType: web.headers.get("content-type") ?? undefined
          }
        },
        catch: (cause) => encodeError(request, "the form data could not be encoded", cause)
      })
    case "Stream":
      return Stream.runCollect(body.stream).pipe(
        Effect.map((chunks): Encoded => ({ bytes: Buffer.concat(chunks as Array<Uint8Array>), contentType: undefined })),
        Effect.mapError((cause) => encodeError(request, "the request body stream failed", cause))
      )
  }
}

/** Header names the writer sets itself; the request's own values are not sent. */
const WRITER_HEADERS: ReadonlySet<string> = new Set(["host", "content-length", "transfer-encoding"])

/** `Content-Length: 0\r\n\r\n`: how the writer ends a head whose body is empty. */
const EMPTY_LENGTH_TAIL = 21

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

/** The head: request line, `Host`, the request's headers (and the body's content type). */
const head = (
  writer: RequestWriter,
  request: HttpClientRequest.HttpClientRequest,
  target: string,
  contentType: string | undefined
) => {
  let phase = begin(writer, request.method, target) as ReturnType<QueryPhase["header"]>
  const headers = request.headers
  for (const name in headers) {
    if (WRITER_HEADERS.has(name)) continue
    if (contentType !== undefined && name === "content-type") continue
    phase = phase.header(name, headers[name]!)
  }
  if (contentType !== undefined) phase = phase.header("content-type", contentType)
  return phase
}

/**
 * Builds the request with the slot's writer. A body too large for the writer's buffer is
 * copied once, with the writer's validated head, into a buffer of its exact size.
 */
const buildRequest = (
  request: HttpClientRequest.HttpClientRequest,
  target: string,
  encoded: Encoded
) =>
(writer: RequestWriter): Request | RequestError => {
  const bytes = encoded.bytes
  if (bytes === undefined) return head(writer, request, target, encoded.contentType).finish()
  const built = head(writer, request, target, encoded.contentType).body(bytes).finish()
  if (built._tag !== "RequestTooLarge") return built
  // the head with an empty body ends with `Content-Length: 0` CRLF CRLF (the writer's wire rule)
  const empty = head(writer, request, target, encoded.contentType).bodyFixed(0, noFill).finish()
  if (empty._tag !== "Request") return empty
  const headBytes = empty.bytes.subarray(0, empty.bytes.length - EMPTY_LENGTH_TAIL)
  const lengthLine = `Content-Length: ${bytes.length}\r\n\r\n`
  const out = Buffer.allocUnsafe(headBytes.length + lengthLine.length + bytes.length)
  out.set(headBytes, 0)
  out.write(lengthLine, headBytes.length, "latin1")
  out.set(bytes, headBytes.length + lengthLine.length)
  return { _tag: "Request", bytes: out, method: empty.method, isIdempotent: empty.isIdempotent }
}

const noFill = (): void => {}

/**
 * The one place a nexus failure becomes an `HttpClientError` reason: a request the writer refused
 * is an `EncodeError`, a URL the pool cannot dial an `InvalidUrlError`, everything else (connect,
 * TLS, I/O, timeouts, a malformed or too-large response, no free connection, a closed client) a
 * `TransportError` whose `cause` is the pool's error, `requestSent` and all.
 */
const toClientError = (request: HttpClientRequest.HttpClientRequest, error: ExchangeError) => {
  const tag = error._tag === "HttpError" ? error.reason._tag : error._tag
  switch (tag) {
    case "InvalidRequest":
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

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

const decodeError = (response: NexusResponse, cause: unknown, description?: string) =>
  new HttpClientError.HttpClientError({
    reason: new HttpClientError.DecodeError({ request: response.request, response, cause, description })
  })

/**
 * An `HttpClientResponse` over the pool's owned copy of a response: status, headers and body
 * are already in memory, so every accessor is synchronous work behind an Effect.
 */
class NexusResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [HttpIncomingMessage.TypeId]: typeof HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  readonly [HttpClientResponse.TypeId]: typeof HttpClientResponse.TypeId = HttpClientResponse.TypeId
  readonly request: HttpClientRequest.HttpClientRequest
  readonly url: string
  readonly status: number
  private readonly owned: ClientPool.OwnedResponse
  private cachedHeaders: Headers.Headers | undefined
  private cachedCookies: Cookies.Cookies | undefined

  constructor(request: HttpClientRequest.HttpClientRequest, url: string, owned: ClientPool.OwnedResponse) {
    super()
    this.request = request
    this.url = url
    this.status = owned.status
    this.owned = owned
    this.cachedHeaders = undefined
    this.cachedCookies = undefined
  }

  /** Lower-case names; repeated fields joined with `", "`, as undici's client presents them. */
  get headers(): Headers.Headers {
    if (this.cachedHeaders !== undefined) return this.cachedHeaders
    const record: Record<string, string> = {}
    for (const [name, value] of this.owned.headers) {
      const key = name.toLowerCase()
      const before = record[key]
      record[key] = before === undefined ? value : `${before}, ${value}`
    }
    return (this.cachedHeaders = Headers.fromRecordUnsafe(record))
  }

  get cookies(): Cookies.Cookies {
    if (this.cachedCookies !== undefined) return this.cachedCookies
    const lines: Array<string> = []
    for (const [name, value] of this.owned.headers) if (name.toLowerCase() === "set-cookie") lines.push(value)
    return (this.cachedCookies = lines.length === 0 ? Cookies.empty : Cookies.fromSetCookie(lines))
  }

  get remoteAddress(): Option.Option<string> {
    return Option.none()
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.HttpClientError> {
    return Effect.sync(() => {
      const body = this.owned.body
      // the pool's copy owns its whole buffer; anything else is sliced to the body
      return body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer
        ? body.buffer
        : body.slice().buffer as ArrayBuffer
    })
  }

  get text(): Effect.Effect<string, HttpClientError.HttpClientError> {
    return Effect.sync(() => this.owned.text)
  }

  get json(): Effect.Effect<Schema.Json, HttpClientError.HttpClientError> {
    return Effect.try({
      try: () => {
        const text = this.owned.text
        return text === "" ? null : JSON.parse(text)
      },
      catch: (cause) => decodeError(this, cause, "the response body is not JSON")
    })
  }

  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.HttpClientError> {
    return Effect.try({
      try: () => UrlParams.fromInput(new URLSearchParams(this.owned.text)),
      catch: (cause) => decodeError(this, cause, "the response body is not URL-encoded")
    })
  }

  get formData(): Effect.Effect<FormData, HttpClientError.HttpClientError> {
    return Effect.tryPromise({
      try: () => new globalThis.Response(this.owned.body, { headers: this.headers }).formData(),
      catch: (cause) => decodeError(this, cause, "the response body is not form data")
    })
  }

  /** The body as one chunk (none for an empty body). */
  get stream(): Stream.Stream<Uint8Array, HttpClientError.HttpClientError> {
    const body = this.owned.body
    return body.length === 0 ? Stream.empty : Stream.succeed(body)
  }

  get upgrade(): Effect.Effect<Socket.Socket, HttpClientError.HttpClientError> {
    return Effect.fail(
      new HttpClientError.HttpClientError({
        reason: new HttpClientError.StatusCodeError({
          request: this.request,
          response: this,
          description: "the effect-nexus HttpClient does not hand over connections (HTTP upgrade)"
        })
      })
    )
  }

  toJSON(): unknown {
    return HttpIncomingMessage.inspect(this, {
      _id: "HttpClientResponse",
      request: this.request.toJSON(),
      status: this.status
    })
  }

  pipe() {
    return pipeArguments(this, arguments)
  }
}

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

/**
 * Builds the client in the current scope: no socket is opened until a request needs an origin;
 * closing the scope closes every pool. `tls` comes from the options, else the `TlsSettings`
 * service when provided, else system roots. Throws `RangeError` for a `maxOrigins` below 1 or a
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
  const { maxOrigins: _m, originIdleTimeout: _i, ...rest } = options
  const tls = options.tls ?? Option.getOrUndefined(yield* Effect.serviceOption(TlsSettings))
  const poolOptions: Omit<ClientPool.Options, "url"> = tls === undefined ? rest : { ...rest, tls }
  const scope = yield* Effect.scope
  const run = yield* FiberSet.makeRuntime<never, void, never>()
  const clock = yield* Effect.clockWith(Effect.succeed)
  const origins = new Origins(scope, run, () => clock.currentTimeMillisUnsafe(), poolOptions, maxOrigins, idleMs)
  yield* Scope.addFinalizer(scope, origins.close)
  if (Number.isFinite(idleMs)) run(Effect.forever(Effect.andThen(Effect.sleep(idle), origins.sweep)))

  return HttpClient.make((request, url) => {
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      return Effect.fail(invalidUrl(request, `scheme "${url.protocol.slice(0, -1)}" is not HTTP; use http or https`))
    }
    if (url.username !== "" || url.password !== "") {
      return Effect.fail(invalidUrl(request, "credentials in the URL are not sent; set an Authorization header"))
    }
    const origin = `${url.protocol}//${url.host}`
    const target = url.pathname + url.search
    const href = url.hash === "" ? url.href : url.href.slice(0, url.href.length - url.hash.length)
    return Effect.flatMap(encodeBody(request), (encoded) => {
      const build = buildRequest(request, target, encoded)
      return origins.use(origin, (pool) => pool.request(build)).pipe(
        Effect.map((owned): HttpClientResponse.HttpClientResponse => new NexusResponse(request, href, owned)),
        Effect.mapError((error) => toClientError(request, error))
      )
    })
  })
})

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
 * A layer from the environment (see {@link config}); `overrides` win over what it reads.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: { readonly prefix?: string | undefined; readonly overrides?: Options | undefined } = {}
): Layer.Layer<HttpClient.HttpClient, Config.ConfigError> =>
  Layer.effect(
    HttpClient.HttpClient,
    Effect.gen(function*() {
      const fromEnv = yield* config(options.prefix)
      return yield* make({ ...fromEnv, ...options.overrides })
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
    case "EncodeError":
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
