/**
 * `Recording` — records what the services saw into a `SessionRecorder` (issue #15), by wrapping
 * them: the `MarketFeed` and `RestClient` layers (`recordMarketFeed`, `recordRestClient`), and
 * for code that skips the services a `WebSocket` ({@link webSocket}) or a `ClientPool`
 * ({@link clientPool}). Replay them with `MarketFeed.layerReplay` and `RestClient.layerReplay`.
 *
 * What is written, each with its `Clock` time:
 * - feed: every event the application reads — each message of a `Messages` batch, `Gap` (with
 *   its error), `Connected` —
 *   stamped when the application *reads* it (what it saw, so a replay shows the same timings to
 *   the same code), every `Reconnecting` state, and the subscriptions at the start and after each
 *   change;
 * - WebSocket: every text and binary message received and sent, and the close frame received;
 * - REST: every request (method, target, headers, body, parsed from the bytes sent), then its
 *   response (status, headers, body) or its failure (the error, rebuilt on replay so that
 *   retries decide as they did). An interrupted request (a timeout) records no answer, and its
 *   replay never answers either.
 *
 * Secrets are removed by the recorder (see `SessionRecorder`): pass the values the feed sends in
 * its handshake or messages as `secrets`; REST API-key headers are redacted by name.
 *
 * ```ts
 * const live = Recording.recordMarketFeed(MarketFeed.layer(options)).pipe(
 *   Layer.provide(SessionRecorder.layer("session.nxs", { secrets: [apiKey] }))
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { Buffer } from "node:buffer"
import type * as FrameReader from "../Codec/FrameReader.ts"
import * as RequestReader from "../Codec/RequestReader.ts"
import type { Request, RequestError, RequestWriter } from "../Codec/RequestWriter.ts"
import type { Response } from "../Codec/ResponseReader.ts"
import { Kind } from "../Codec/SessionFile.ts"
import type * as ClientPool from "../Pool/ClientPool.ts"
import type * as WebSocket from "../Transport/WebSocket.ts"
import { type FeedEvent, MarketFeed, type MarketFeedService } from "./MarketFeed.ts"
import { RestClient } from "./RestClient.ts"
import { Recorder, type SessionRecorder } from "./SessionRecorder.ts"

// ---------------------------------------------------------------------------------------------
// Feed
// ---------------------------------------------------------------------------------------------

/** Records one feed event; returns it. */
const recordEvent = (recorder: SessionRecorder, event: FeedEvent): FeedEvent => {
  switch (event._tag) {
    case "Messages":
      for (let i = 0; i < event.count; i++) {
        if (event.isText(i)) recorder.text(Kind.InText, event.text(i))
        else recorder.binary(Kind.InBinary, event.payload(i))
      }
      break
    case "Gap":
      recorder.json(Kind.Gap, {
        connectedForMicros: Math.round(Duration.toMillis(event.gap.connectedFor) * 1000),
        at: event.gap.at,
        error: event.gap.error === undefined ? undefined : recorder.error(event.gap.error)
      })
      break
    case "Connected":
      recorder.json(Kind.Connected, { session: event.session, renewal: event.renewal })
      break
  }
  return event
}

/**
 * A `MarketFeed` service that records into `recorder` what `feed` delivers (see the module doc);
 * the state watcher runs in the current scope.
 *
 * @since 0.1.0
 * @category wrappers
 */
export const marketFeed = (feed: MarketFeedService, recorder: SessionRecorder): Effect.Effect<MarketFeedService, never, Scope.Scope> =>
  Effect.gen(function*() {
    const recordTopics = Effect.map(feed.subscriptions, (topics) => recorder.json(Kind.Subscriptions, { topics }))
    yield* recordTopics
    yield* Effect.forkScoped(Stream.runForEach(SubscriptionRef.changes(feed.state), (state) =>
      Effect.sync(() => {
        if (state._tag === "Reconnecting") {
          recorder.json(Kind.Reconnecting, {
            attempt: state.attempt,
            delayMillis: Duration.toMillis(state.delay),
            error: state.error === undefined ? undefined : recorder.error(state.error)
          })
        }
      })))
    return {
      events: Stream.map(feed.events, (event) => recordEvent(recorder, event)),
      state: feed.state,
      subscribe: (...topics) => Effect.andThen(feed.subscribe(...topics), recordTopics),
      unsubscribe: (...topics) => Effect.andThen(feed.unsubscribe(...topics), recordTopics),
      subscriptions: feed.subscriptions,
      stop: feed.stop
    }
  })

/**
 * Wraps a `MarketFeed` layer so that the feed it builds is recorded by the `Recorder` service
 * (see {@link marketFeed}); whatever else the layer provides (a test peer) is kept.
 *
 * @since 0.1.0
 * @category layers
 */
export const recordMarketFeed = <ROut, E, R>(
  feed: Layer.Layer<ROut | MarketFeed, E, R>
): Layer.Layer<ROut | MarketFeed, E, R | Recorder> =>
  Layer.effectContext(Effect.gen(function*() {
    const built = yield* Layer.build(feed)
    const wrapped = yield* marketFeed(Context.get(built, MarketFeed), yield* Recorder)
    return Context.add(built, MarketFeed, wrapped)
  }))

// ---------------------------------------------------------------------------------------------
// WebSocket
// ---------------------------------------------------------------------------------------------

const recordMessage = (recorder: SessionRecorder, message: FrameReader.Message): void => {
  switch (message._tag) {
    case "Text":
      return recorder.text(Kind.InText, message.text())
    case "Binary":
      return recorder.binary(Kind.InBinary, message.payload)
    case "Close":
      return recorder.json(Kind.Close, { code: message.code, reason: message.reason })
  }
}

/**
 * A `WebSocket` that records every text and binary message received and sent, and the close
 * frame received, then does what `ws` does (the same views, the same errors).
 *
 * @since 0.1.0
 * @category wrappers
 */
export const webSocket = (ws: WebSocket.WebSocket, recorder: SessionRecorder): WebSocket.WebSocket => {
  const recv = Effect.map(ws.recv, (message) => {
    recordMessage(recorder, message)
    return message
  })
  const wrapped: WebSocket.WebSocket = Object.create(ws, {
    recv: { value: recv },
    sendText: {
      value: (text: string | Uint8Array) => {
        if (typeof text === "string") recorder.text(Kind.OutText, text)
        else recorder.text(Kind.OutText, Buffer.from(text.buffer, text.byteOffset, text.byteLength).toString("utf8"))
        return ws.sendText(text)
      }
    },
    sendBinary: {
      value: (data: Uint8Array) => {
        recorder.binary(Kind.OutBinary, data)
        return ws.sendBinary(data)
      }
    },
    run: {
      value: <E>(handler: (message: FrameReader.Message) => Effect.Effect<void, E> | void) =>
        ws.run((message) => {
          recordMessage(recorder, message)
          return handler(message)
        })
    }
  })
  return wrapped
}

// ---------------------------------------------------------------------------------------------
// REST
// ---------------------------------------------------------------------------------------------

/** Parses the request bytes back (they are ours: well-formed) and records them. */
const recordRequest = (
  recorder: SessionRecorder,
  reader: RequestReader.RequestReader,
  id: number,
  bytes: Uint8Array,
  calledAtMicros?: number
): void => {
  reader.reset()
  reader.feed(bytes)
  const parsed = reader.next()
  if (parsed._tag !== "Request") return
  // the call time only when the request waited for a connection: the replay's latency counts from it
  const waited = calledAtMicros !== undefined && recorder.now() - calledAtMicros >= 1000
  recorder.exchange(
    Kind.Request,
    id,
    { method: parsed.method, target: parsed.target, headers: parsed.headers(), ...(waited ? { calledAtMicros } : {}) },
    parsed.copyBody()
  )
  reader.reset()
}

const recordResponse = (recorder: SessionRecorder, id: number, response: ClientPool.OwnedResponse | Response): void => {
  if (response instanceof Object && "copyBody" in response) {
    recorder.exchange(Kind.Response, id, { status: response.status, headers: response.headers() }, response.copyBody())
  } else {
    recorder.exchange(Kind.Response, id, { status: response.status, headers: response.headers }, response.body)
  }
}

const recordFailure = (recorder: SessionRecorder, id: number, error: unknown): void =>
  recorder.exchange(Kind.Failure, id, { error: recorder.error(error) }, new Uint8Array(0))

/**
 * A `ClientPool` that records every exchange (request, then response or failure) made through
 * `request` and through the slots it hands out, then does what `pool` does.
 *
 * @since 0.1.0
 * @category wrappers
 */
export const clientPool = (pool: ClientPool.ClientPool, recorder: SessionRecorder): ClientPool.ClientPool => {
  // one parser for the bytes we send: a request is parsed synchronously inside `build`
  const reader = RequestReader.make({ maxBodySize: 64 * 1024 * 1024 })
  const wrapSlot = (slot: ClientPool.Slot): ClientPool.Slot =>
    Object.create(slot, {
      send: {
        value: (request: Request | RequestError) => {
          if (request._tag !== "Request") return slot.send(request)
          const id = recorder.nextExchangeId()
          recordRequest(recorder, reader, id, request.bytes)
          return slot.send(request).pipe(
            Effect.tap((response) => Effect.sync(() => recordResponse(recorder, id, response))),
            Effect.tapError((error) => Effect.sync(() => recordFailure(recorder, id, error)))
          )
        }
      }
    })
  return {
    origin: pool.origin,
    tryAcquire: Effect.map(pool.tryAcquire, Option.map(wrapSlot)),
    acquire: Effect.map(pool.acquire, wrapSlot),
    withSlot: (f) => pool.withSlot((slot) => f(wrapSlot(slot))),
    request: (build: (writer: RequestWriter) => Request | RequestError) =>
      Effect.suspend(() => {
        const id = recorder.nextExchangeId()
        const calledAtMicros = recorder.now()
        let built = false
        let recorded = false
        return pool.request((writer) => {
          built = true
          const request = build(writer)
          if (request._tag === "Request") {
            recordRequest(recorder, reader, id, request.bytes, calledAtMicros)
            recorded = true
          }
          return request
        }).pipe(
          Effect.tap((response) => Effect.sync(() => recordResponse(recorder, id, response))),
          Effect.tapError((error) => Effect.sync(() => recorded && recordFailure(recorder, id, error))),
          // a call that never built its request (it waited for a connection) is recorded by its
          // time alone, so that its replay fails or waits as it did (docs/replay.md)
          Effect.onExit((exit) =>
            Effect.sync(() => {
              if (built) return
              const error = exit._tag === "Failure" ? Cause.findErrorOption(exit.cause) : Option.none()
              recorder.exchange(Kind.Unsent, id, {
                calledAtMicros,
                error: Option.isSome(error) ? recorder.error(error.value) : undefined
              }, new Uint8Array(0))
            })
          )
        )
      }),
    stats: pool.stats
  }
}

/**
 * Wraps a `RestClient` layer so that the pool it builds is recorded by the `Recorder` service
 * (see {@link clientPool}); whatever else the layer provides (a test peer) is kept.
 *
 * @since 0.1.0
 * @category layers
 */
export const recordRestClient = <ROut, E, R>(
  rest: Layer.Layer<ROut | RestClient, E, R>
): Layer.Layer<ROut | RestClient, E, R | Recorder> =>
  Layer.effectContext(Effect.gen(function*() {
    const built = yield* Layer.build(rest)
    return Context.add(built, RestClient, clientPool(Context.get(built, RestClient), yield* Recorder))
  }))
