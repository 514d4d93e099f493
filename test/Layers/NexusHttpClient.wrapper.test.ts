import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { constTrue } from "effect/Function"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import * as Headers from "effect/http/Headers"
import * as HttpClient from "effect/http/HttpClient"
import type * as HttpClientError from "effect/http/HttpClientError"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as UrlParams from "effect/http/UrlParams"
import * as ClientWrapper from "../../src/Layers/internal/clientWrapper.ts"

// NexusHttpClient's wrapper claims to behave as HttpClient.make: here both wrap one canned
// runner and run the same requests under a recording tracer, and what each produced — the
// spans (name, kind, attributes, status, parent), the headers the runner was handed, the
// errors — is compared whole.

interface Recorded {
  readonly spans: Array<Tracer.Span>
  readonly sent: Array<HttpClientRequest.HttpClientRequest>
}

/** A runner answering `status` with two headers, recording the request it was handed. */
const runner = (recorded: Recorded, status: number) => (request: HttpClientRequest.HttpClientRequest) => {
  recorded.sent.push(request)
  return Effect.succeed(HttpClientResponse.fromWeb(
    request,
    new Response("body", { status, headers: { "content-type": "text/plain", "set-cookie": "session=secret" } })
  ))
}

const clients = (status: number) => {
  const viaMake: Recorded = { spans: [], sent: [] }
  const viaWrapper: Recorded = { spans: [], sent: [] }
  return [
    [viaMake, HttpClient.make(runner(viaMake, status))],
    [viaWrapper, ClientWrapper.make(runner(viaWrapper, status))]
  ] as const
}

/** The native tracer's spans, each also kept in `spans`. */
const recordingTracer = (spans: Array<Tracer.Span>) =>
  Tracer.make({
    span: (options) => {
      const span = Tracer.nativeTracer.span(options)
      spans.push(span)
      return span
    }
  })

/** What a span shows a tracer, with its ids replaced by their role. */
const describeSpan = (span: Tracer.Span, outer: string | undefined) => ({
  name: span.name,
  kind: span.kind,
  attributes: [...span.attributes],
  status: span.status._tag,
  exit: span.status._tag === "Ended" ? span.status.exit._tag : undefined,
  parent: Option.match(span.parent, { onNone: () => "none", onSome: (p) => p.spanId === outer ? "outer" : "other" })
})

/** The headers the runner got, with the client span's ids (and its parent's) replaced by their role. */
const describeSent = (request: HttpClientRequest.HttpClientRequest, spans: ReadonlyArray<Tracer.Span>) => {
  const ids = new Map<string, string>()
  for (const span of spans) {
    ids.set(span.traceId, "<trace>")
    ids.set(span.traceId.padStart(32, "0"), "<trace>")
    ids.set(span.spanId, `<${span.name}>`)
  }
  const masked = (value: string) => value.replace(/[0-9a-f]{16,32}/g, (id) => ids.get(id) ?? `<unknown ${id}>`)
  return Object.entries(request.headers).map(([name, value]) => [name, masked(value)])
}

/**
 * Runs `request` through both clients inside an outer span, under the recording tracer and
 * `configure`; returns each side's spans, sent headers and outcome, described.
 */
const compare = (
  request: HttpClientRequest.HttpClientRequest,
  options: {
    readonly status?: number
    readonly configure?: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  } = {}
) =>
  Effect.forEach(clients(options.status ?? 200), ([recorded, client]) => {
    const configure = options.configure ?? ((effect) => effect)
    return Effect.gen(function*() {
      const outer = yield* Effect.currentSpan
      const exit = yield* Effect.exit(client.execute(request))
      return { outer: outer.spanId, exit }
    }).pipe(
      Effect.withSpan("outer"),
      configure,
      Effect.withTracer(recordingTracer(recorded.spans)),
      Effect.map(({ exit, outer }) => ({
        spans: recorded.spans.filter((span) => span.name !== "outer").map((span) => describeSpan(span, outer)),
        sent: recorded.sent.map((sent) => describeSent(sent, recorded.spans)),
        outcome: exit._tag === "Success"
          ? { status: exit.value.status, request: describeSent(exit.value.request, recorded.spans) }
          : describeError(exit.cause)
      }))
    )
  })

const describeError = (cause: unknown) => {
  const error = (cause as { reasons: ReadonlyArray<{ error?: HttpClientError.HttpClientError }> }).reasons[0]?.error
  return error === undefined ? "no error" : {
    tag: error.reason._tag,
    message: error.message,
    cause: (error.reason.cause as { _tag?: string } | undefined)?._tag
  }
}

describe("NexusHttpClient's wrapper beside HttpClient.make", () => {
  it.effect("a GET: the same client span, attributes and propagated b3 / traceparent headers", () =>
    Effect.gen(function*() {
      const request = HttpClientRequest.get("http://127.0.0.1:8080/api/v3/depth?symbol=BTCUSDT", {
        headers: { "x-mbx-apikey": "key", accept: "application/json" }
      })
      const [make, wrapper] = yield* compare(request)
      assert.deepStrictEqual(wrapper, make)
      assert.strictEqual(make.spans.length, 1)
      assert.deepStrictEqual(make.spans[0]!.attributes.map(([name]) => name), [
        "http.request.method",
        "url.full",
        "url.path",
        "url.query",
        "url.scheme",
        "server.address",
        "server.port",
        "http.response.status_code"
      ])
      assert.deepStrictEqual(make.sent[0]!.slice(-2), [
        ["b3", "<trace>-<GET>-1-<outer>"],
        ["traceparent", "00-<trace>-<GET>-01"]
      ])
    }))

  it.effect("the same request twice (the second from the URL cache) gives the same spans both times", () =>
    Effect.gen(function*() {
      const request = HttpClientRequest.post("https://api.example.test/order")
      const first = yield* compare(request)
      const second = yield* compare(request)
      assert.deepStrictEqual(first[1], first[0])
      assert.deepStrictEqual(second[1], second[0])
      assert.deepStrictEqual(second[1], first[1])
    }))

  it.effect("a 503 ends the span failed with error.type, and the response still succeeds", () =>
    Effect.gen(function*() {
      const [make, wrapper] = yield* compare(HttpClientRequest.post("http://127.0.0.1:8080/order"), { status: 503 })
      assert.deepStrictEqual(wrapper, make)
      assert.deepStrictEqual([make.spans[0]!.exit, make.outcome], ["Failure", {
        status: 503,
        request: make.sent[0]
      }])
      assert.deepInclude(make.spans[0]!.attributes, ["error.type", "503"])
    }))

  it.effect("URL params, a hash, redacted params and captured headers (redacted names as <redacted>)", () =>
    Effect.gen(function*() {
      const request = HttpClientRequest.get("http://user@127.0.0.1:8080/a%20b", {
        urlParams: { symbol: "ETH USDT", signature: "s3cret" },
        headers: { authorization: "Bearer token", "x-trace-me": "yes" }
      }).pipe(HttpClientRequest.setHash("frag"))
      const configure = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        effect.pipe(
          Effect.provideService(HttpClient.TracerHeaderFilter, constTrue),
          Effect.provideService(UrlParams.CurrentRedactedNames, ["signature"]),
          Effect.provideService(Headers.CurrentRedactedNames, ["authorization", "set-cookie"])
        )
      const [make, wrapper] = yield* compare(request, { configure })
      assert.deepStrictEqual(wrapper, make)
      assert.deepInclude(make.spans[0]!.attributes, ["http.request.header.authorization", "<redacted>"])
      assert.deepInclude(make.spans[0]!.attributes, ["http.response.header.set-cookie", "<redacted>"])
      assert.deepInclude(make.spans[0]!.attributes, ["url.query", "symbol=ETH+USDT&signature=REDACTED"])
    }))

  it.effect("SpanNameGenerator names the span; TracerPropagationEnabled false keeps the span, sends no headers", () =>
    Effect.gen(function*() {
      const configure = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        effect.pipe(
          Effect.provideService(HttpClient.SpanNameGenerator, (request) => `http ${request.method}`),
          Effect.provideService(HttpClient.TracerPropagationEnabled, false)
        )
      const [make, wrapper] = yield* compare(HttpClientRequest.get("http://127.0.0.1:8080/"), { configure })
      assert.deepStrictEqual(wrapper, make)
      assert.deepStrictEqual([make.spans[0]!.name, make.sent[0]], ["http GET", []])
    }))

  it.effect("TracerDisabledWhen and DisablePropagation: no span, no trace headers", () =>
    Effect.gen(function*() {
      const request = HttpClientRequest.get("http://127.0.0.1:8080/quiet", { headers: { accept: "*/*" } })
      const disabledWhen = yield* compare(request, {
        configure: (effect) => Effect.provideService(effect, HttpClient.TracerDisabledWhen, (r) => r.url.endsWith("/quiet"))
      })
      const disabled = yield* compare(request, {
        configure: (effect) => Effect.provideService(effect, Tracer.DisablePropagation, true)
      })
      assert.deepStrictEqual(disabledWhen[1], disabledWhen[0])
      assert.deepStrictEqual(disabled[1], disabled[0])
      assert.deepStrictEqual([disabledWhen[0].spans, disabledWhen[0].sent], [[], [[["accept", "*/*"]]]])
    }))

  it.effect("a URL that does not parse: the same InvalidUrlError, with the UrlError as its cause, and no span", () =>
    Effect.gen(function*() {
      const [make, wrapper] = yield* compare(HttpClientRequest.get("http://[::1"))
      assert.deepStrictEqual(wrapper, make)
      assert.deepStrictEqual([make.spans, make.sent, make.outcome], [[], [], {
        tag: "InvalidUrlError",
        message: (make.outcome as { message: string }).message,
        cause: "UrlError"
      }])
    }))

  it.effect("under the native tracer (no span kept) both send the same b3 / traceparent of the caller's trace", () =>
    Effect.gen(function*() {
      const sent = (configure: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>) =>
        Effect.forEach(clients(200), ([recorded, client]) =>
          Effect.gen(function*() {
            const outer = yield* Effect.currentSpan
            yield* client.execute(HttpClientRequest.get("http://127.0.0.1:8080/", { headers: { accept: "*/*" } }))
            return Object.entries(recorded.sent[0]!.headers).map(([name, value]) => [
              name,
              value.replace(outer.traceId.padStart(32, "0"), "<trace>").replace(outer.traceId, "<trace>")
                .replace(outer.spanId, "<outer>").replace(/[0-9a-f]{16}/, "<client>")
            ])
          }).pipe(Effect.withSpan("outer"), configure))
      const sampled = yield* sent((effect) => effect)
      assert.deepStrictEqual(sampled, [
        [["accept", "*/*"], ["b3", "<trace>-<client>-1-<outer>"], ["traceparent", "00-<trace>-<client>-01"]],
        [["accept", "*/*"], ["b3", "<trace>-<client>-1-<outer>"], ["traceparent", "00-<trace>-<client>-01"]]
      ])
      // an unsampled parent: the client span is unsampled too
      const unsampled = yield* sent((effect) => Effect.withSpan(effect, "root", { sampled: false }))
      assert.deepStrictEqual(unsampled[1], unsampled[0])
      assert.deepStrictEqual(unsampled[0]![2], ["traceparent", "00-<trace>-<client>-00"])
      const off = yield* sent((effect) => Effect.provideService(effect, HttpClient.TracerPropagationEnabled, false))
      assert.deepStrictEqual(off, [[["accept", "*/*"]], [["accept", "*/*"]]])
    }))
})
