/**
 * The wrapper `NexusHttpClient` puts around its runner in place of `HttpClient.make`'s: the same
 * observable behaviour, per request cheaper. Built with `HttpClient.makeWith`, it does what
 * `make` (effect 4.1, `http/HttpClient.ts` `make`) does, in the same order:
 *
 * - the URL from `Url.make(request.url, urlParams, hash)`; a failure is an `InvalidUrlError`
 *   whose `cause` is the `UrlError`. A request with no URL params and no hash is looked up in a
 *   per-client cache by its URL string first (`new URL` costs ~1 µs; a REST client sends a
 *   handful of URLs over and over), together with what is read off it once: the runner's own
 *   reading (`make`'s `derive`, e.g. the origin and request target) and the span attributes.
 *   The cached `URL` is never mutated or handed out.
 * - tracing off (`Tracer.DisablePropagation`, or `HttpClient.TracerDisabledWhen` true for the
 *   request): no span. Else a `kind: "client"` span named by `HttpClient.SpanNameGenerator`, with
 *   `http.request.method`, the `url.*` / `server.*` attributes (`UrlParams.CurrentRedactedNames`
 *   and `Redacted` URL params redacted), the request and response headers that
 *   `HttpClient.TracerHeaderFilter` selects (`Headers.CurrentRedactedNames` as `<redacted>`),
 *   `http.response.status_code`, and for a 4xx/5xx `error.type` and the span ended with a
 *   `StatusCodeError`; the `b3` / `traceparent` headers set on the request the runner gets when
 *   `HttpClient.TracerPropagationEnabled`; the runner runs with the span as its parent.
 * - what `make` does not need here, left out: the `AbortController` of every request, and
 *   `trackResponse` (a `FinalizationRegistry` entry, a wrapper, a `WeakMap` entry) for a
 *   response whose body is already an owned copy. Both exist to abort the request's I/O, and a
 *   complete response has none left: its connection is back in its pool before it is handed
 *   out, and an interrupted exchange poisons its own connection (`HttpConnection.open`). A
 *   response whose body is still on the wire goes through {@link track}, which is `make`
 *   itself (tracing off), so `HttpClient.withScope`, garbage collection, interruption of a body
 *   accessor and `followRedirects`' abort of a discarded response reach it as they would under
 *   `make` — those use `HttpClient`'s private `WeakMap`s, which no other code can reach.
 * - under the native tracer (the default, which keeps spans nowhere) with the default header
 *   filter, only what leaves the process: the span is made for its ids (`Effect.makeSpan`, so
 *   parent, sampling and trace level are `useSpan`'s) and they go out as `b3` / `traceparent`;
 *   its attributes, status and end, which nobody could read, are not set. The runner reads no
 *   current span, so it does not run under this one.
 *
 * `test/Layers/NexusHttpClient.wrapper.test.ts` runs the same requests through `HttpClient.make`
 * and this wrapper around one runner, under a recording tracer, and compares the spans, the
 * propagated headers and the errors.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import { constFalse, constTrue } from "effect/Function"
import * as References from "effect/References"
import * as Result from "effect/Result"
import * as Tracer from "effect/Tracer"
import * as Headers from "effect/http/Headers"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientError from "effect/http/HttpClientError"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import type * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as Url from "effect/http/Url"
import * as UrlParams from "effect/http/UrlParams"

/**
 * What the wrapper calls per request: `request` as sent (with the propagation headers, when
 * set), its `url`, and `original`, the request as the caller executed it — the one to hand to
 * {@link track}.
 */
export type Runner<D> = (
  request: HttpClientRequest.HttpClientRequest,
  url: URL,
  original: HttpClientRequest.HttpClientRequest,
  derived: D
) => Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>

/** Most URL strings a client keeps parsed; past it the cache starts over. */
const URL_CACHE_SIZE = 256

const defaultPorts: Record<string, number> = { "http:": 80, "https:": 443, "ws:": 80, "wss:": 443 }

/** A URL's span attributes, as `make`'s `tracing.addUrlAttributes` (internal to effect) computes them. */
class UrlAttributes {
  readonly redactedNames: ReadonlyArray<string | RegExp>
  readonly full: string
  readonly path: string
  readonly query: string
  readonly scheme: string
  readonly address: string | undefined
  readonly port: number | undefined
  constructor(url: URL, redactedNames: ReadonlyArray<string | RegExp>) {
    this.redactedNames = redactedNames
    this.query = UrlParams.redactUrl(url.search, redactedNames).slice(1)
    this.full = UrlParams.redactUrl(url.href, redactedNames)
    this.path = url.pathname
    this.scheme = url.protocol.slice(0, -1)
    const hostname = url.hostname
    this.address = hostname === "" ? undefined : hostname.startsWith("[") ? hostname.slice(1, -1) : hostname
    this.port = hostname === "" ? undefined : url.port === "" ? defaultPorts[url.protocol] : Number(url.port)
  }
  /** The attributes in `addUrlAttributes`' order. */
  addTo(span: Tracer.Span): void {
    span.attribute("url.full", this.full)
    span.attribute("url.path", this.path)
    if (this.query !== "") span.attribute("url.query", this.query)
    span.attribute("url.scheme", this.scheme)
    if (this.address !== undefined) {
      span.attribute("server.address", this.address)
      if (this.port !== undefined) span.attribute("server.port", this.port)
    }
  }
}

/**
 * A request's parsed URL with what is read off it once: the runner's own reading of it
 * (`derived`: where the request goes, say) and, when a span needs them, its span attributes.
 * One per URL string in the client's cache for requests with no params and no hash; made afresh
 * for the others, used once and dropped.
 */
class ParsedUrl<D> {
  readonly url: URL
  readonly derived: D
  /** The span attributes, for the redacted names they were computed with. */
  attributes: UrlAttributes | undefined
  constructor(url: URL, derived: D) {
    this.url = url
    this.derived = derived
    this.attributes = undefined
  }
  /** The span attributes under `names` (computed again only when the names changed). */
  attributesFor(names: ReadonlyArray<string | RegExp>): UrlAttributes {
    const cached = this.attributes
    if (cached !== undefined && cached.redactedNames === names) return cached
    return (this.attributes = new UrlAttributes(this.url, names))
  }
}

const deriveNothing = (): undefined => undefined

/** `make`'s `tracing.redactedNames`: the names of `Redacted` URL params join the redacted names. */
const redactedNames = (
  urlParams: UrlParams.UrlParams,
  names: ReadonlyArray<string | RegExp>
): ReadonlyArray<string | RegExp> => {
  const params = urlParams.params
  if (params.length === 0) return names
  const keys = params.filter(([, value]) => typeof value !== "string").map(([key]) => key)
  return keys.length === 0 ? names : [...names, ...new URLSearchParams(keys.map((key): [string, string] => [key, ""])).keys()]
}

/** `make`'s `tracing.addHeaderAttributes`; nothing at all (no header read) under the default filter. */
const addHeaderAttributes = (
  span: Tracer.Span,
  phase: "request" | "response",
  headers: () => Headers.Headers,
  filter: (headerName: string, phase: "request" | "response") => boolean,
  names: ReadonlyArray<string | RegExp>
): void => {
  if (filter === constFalse) return
  const record = headers()
  for (const name in record) {
    if (!filter(name, phase)) continue
    span.attribute(`http.${phase}.header.${name}`, Headers.isRedactedName(name, names) ? "<redacted>" : record[name])
  }
}

/**
 * `HttpClientRequest.setHeaders(request, HttpTraceContext.toHeaders(span))`, the same request
 * (the headers with `b3` and `traceparent` set, in that order) built in one copy instead of
 * three.
 */
const withTraceHeaders = (
  request: HttpClientRequest.HttpClientRequest,
  span: Tracer.Span
): HttpClientRequest.HttpClientRequest => {
  // as `Headers.setAll` builds it (`Object.assign` onto the prototype: no prototype swap)
  const headers: Record<string, string> = Object.assign(Object.create(Object.getPrototypeOf(request.headers)), request.headers)
  const parent = span.parent
  headers.b3 = `${span.traceId}-${span.spanId}-${span.sampled ? "1" : "0"}${
    parent._tag === "Some" ? `-${parent.value.spanId}` : ""
  }`
  headers.traceparent = `00-${span.traceId.padStart(32, "0")}-${span.spanId}-${span.sampled ? "01" : "00"}`
  return HttpClientRequest.makeWith(
    request.method,
    request.url,
    request.urlParams,
    request.hash,
    headers as Headers.Headers,
    request.body
  )
}

/** `make`'s `endSpanWithStatusError`: the span ends failed with a `StatusCodeError`, built without a stack. */
const endSpanWithStatusError = (
  fiber: Fiber.Fiber<unknown, unknown>,
  span: Tracer.Span,
  request: HttpClientRequest.HttpClientRequest,
  response: HttpClientResponse.HttpClientResponse
): void => {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  let exit: Exit.Exit<never, HttpClientError.HttpClientError>
  try {
    exit = Exit.fail(
      new HttpClientError.HttpClientError({ reason: new HttpClientError.StatusCodeError({ request, response }) })
    )
  } finally {
    Error.stackTraceLimit = limit
  }
  span.end(fiber.getRef(References.TracerTimingEnabled) ? fiber.getRef(Clock.Clock).currentTimeNanosUnsafe() : 0n, exit)
}

/**
 * Builds the client around `runner`. Each client keeps its own URL cache: per URL string, the
 * parsed `URL`, `derive`'s reading of it (handed to the runner as `derived`) and its span
 * attributes, so a REST client sending a handful of URLs over and over parses and reads each once.
 */
export const make = <D = undefined>(
  runner: Runner<D>,
  derive: (url: URL) => D = deriveNothing as unknown as (url: URL) => D
): HttpClient.HttpClient => {
  const urls = new Map<string, ParsedUrl<D>>()

  /** `Url.make`, through the cache when the request has no params and no hash (and no page `location` is the base). */
  const parse = (request: HttpClientRequest.HttpClientRequest): ParsedUrl<D> | HttpClientError.HttpClientError => {
    const plain = request.urlParams.params.length === 0 && request.hash._tag === "None" &&
      (globalThis as { location?: unknown }).location === undefined
    if (plain) {
      const cached = urls.get(request.url)
      if (cached !== undefined) return cached
    }
    const result = Url.make(request.url, request.urlParams, request.hash._tag === "Some" ? request.hash.value : undefined)
    if (Result.isFailure(result)) {
      return new HttpClientError.HttpClientError({
        reason: new HttpClientError.InvalidUrlError({ request, cause: result.failure })
      })
    }
    const parsed = new ParsedUrl(result.success, derive(result.success))
    if (plain) {
      if (urls.size >= URL_CACHE_SIZE) urls.clear()
      urls.set(request.url, parsed)
    }
    return parsed
  }

  const execute = (
    request: HttpClientRequest.HttpClientRequest,
    fiber: Fiber.Fiber<unknown, unknown>
  ): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> => {
    const parsed = parse(request)
    if (parsed instanceof HttpClientError.HttpClientError) return Effect.fail(parsed)
    const url = parsed.url
    const derived = parsed.derived
    if (fiber.getRef(Tracer.DisablePropagation) || fiber.getRef(HttpClient.TracerDisabledWhen)(request)) {
      return runner(request, url, request, derived)
    }
    const name = fiber.getRef(HttpClient.SpanNameGenerator)(request)
    if (fiber.getRef(Tracer.Tracer) === Tracer.nativeTracer && fiber.getRef(HttpClient.TracerHeaderFilter) === constFalse) {
      // the native tracer (the default) keeps its spans nowhere: no one can read the client
      // span's attributes, status or end, only the ids it propagates. So the span is made (as
      // `useSpan` makes it: parent, sampling, trace level) for those, and nothing else is done
      // with it (measured: ~7 µs CPU of a ~40 µs loopback request with the attributes and end)
      if (!fiber.getRef(HttpClient.TracerPropagationEnabled)) return runner(request, url, request, derived)
      return Effect.flatMap(
        Effect.makeSpan(name, { kind: "client" }),
        (span) => runner(withTraceHeaders(request, span), url, request, derived)
      )
    }
    return Effect.useSpan(name, { kind: "client" }, (span) => {
      span.attribute("http.request.method", request.method)
      const redactedHeaderNames = fiber.getRef(Headers.CurrentRedactedNames)
      parsed.attributesFor(redactedNames(request.urlParams, fiber.getRef(UrlParams.CurrentRedactedNames))).addTo(span)
      const headerFilter = fiber.getRef(HttpClient.TracerHeaderFilter)
      addHeaderAttributes(span, "request", () => request.headers, headerFilter, redactedHeaderNames)
      const sent = fiber.getRef(HttpClient.TracerPropagationEnabled) ? withTraceHeaders(request, span) : request
      return Effect.map(
        Effect.withParentSpan(runner(sent, url, request, derived), span, { captureStackTrace: false }),
        (response) => {
          span.attribute("http.response.status_code", response.status)
          addHeaderAttributes(span, "response", () => response.headers, headerFilter, redactedHeaderNames)
          // as `make`: OpenTelemetry marks a client span failed for a 4xx/5xx answer, which
          // still succeeds
          if (response.status >= 400 && response.status < 600) {
            span.attribute("error.type", String(response.status))
            endSpanWithStatusError(fiber, span, sent, response)
          }
          return response
        }
      )
    })
  }

  return HttpClient.makeWith(
    (effect: Effect.Effect<HttpClientRequest.HttpClientRequest>) => {
      // `execute`'s preprocess is `Effect.succeed`, an `Exit`: read it without a step of its own
      if (Exit.isExit(effect) && effect._tag === "Success") {
        const request = (effect as Exit.Success<HttpClientRequest.HttpClientRequest>).value
        return Effect.withFiber((fiber) => execute(request, fiber))
      }
      return Effect.flatMap(effect, (request) => Effect.withFiber((fiber) => execute(request, fiber)))
    },
    Effect.succeed as HttpClient.HttpClient.Preprocess<never, never>
  )
}

/**
 * Hands a response whose body is still on its connection through `HttpClient.make` (tracing off,
 * so no second span), so that it is tracked as `make` tracks it: `onAbort` runs when the
 * request's `withScope` scope closes, when the response is garbage-collected unread, when a body
 * accessor is interrupted or the stream ends, and when `followRedirects` drops it. `original` is
 * the request as executed (the key `withScope` registered). Run it where it cannot be
 * interrupted, so no pending body is left untracked.
 *
 * `make` is built per streamed response: the response reaches `make`'s runner only through the
 * runner's closure. One shared client would need a side table keyed by the request, which two
 * concurrent executions of one request value (common: one `HttpClientRequest` in `Effect.all`)
 * would confuse.
 */
export const track = (
  original: HttpClientRequest.HttpClientRequest,
  response: HttpClientResponse.HttpClientResponse,
  onAbort: () => void
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> =>
  Effect.provideService(
    HttpClient.make((_request, _url, signal) => {
      signal.addEventListener("abort", onAbort, { once: true })
      return Effect.succeed(response)
    }).execute(original),
    HttpClient.TracerDisabledWhen,
    constTrue
  )
