/**
 * `MarketFeed` — a supervised WebSocket feed as a Context service: the application reads one
 * `Stream` of events (owned messages, gaps, (re)connects), watches the state, and changes its
 * subscriptions while the feed runs. Layers from options and from the environment (the test
 * layer over a scripted in-memory exchange is `MarketFeedTest.layer` in `effect-nexus/testing`).
 *
 * Messages come a batch at a time: a {@link Messages} event holds the text and binary messages
 * the push loop handed over since the last event (a new batch where the socket's slab was
 * refilled), their payloads copied once, a block of the socket's buffered bytes at a time, into
 * owned memory with an index (`count`, `start(i)`, `end(i)`, `isText(i)`, `text(i)`, `payload(i)`, or
 * `for (const message of event)` for owned messages one by one). Reading the bytes through the
 * index allocates nothing per message; the buffer is never written again, so what you keep stays
 * valid (with `lent: true` it is reused once you pull again: see {@link BaseOptions.lent}).
 * `Connected` and `Gap` sit between the batches in order. Every event queued since the
 * last pull is one chunk of the stream: a busy feed costs the consumer one pull per batch.
 *
 * The events queue is bounded (`bufferSize`, default 4096 messages and other events): once it
 * holds that many, the feed stops reading until the consumer pulls — a consumer that falls
 * behind slows the feed down (and, through the socket, the exchange) instead of growing memory
 * without bound. Read it from one fiber. `stop` never waits for the consumer: events already
 * queued can still be read, later ones are dropped, then the stream ends. The stream also
 * ends when the supervisor stops by itself (a finite `schedule` gave up). For the zero-copy
 * path (views valid during a handler) use `Reconnect/Feed` directly.
 *
 * Environment (`layerConfig`, prefix `NEXUS_FEED` by default):
 * - `NEXUS_FEED_URL` — `wss://…` (required).
 * - `NEXUS_FEED_SUBSCRIPTIONS` — comma-separated topics to start with (default none).
 * - `NEXUS_FEED_API_KEY` — a secret (`Redacted`) sent as the handshake header named by
 *   `NEXUS_FEED_API_KEY_HEADER` (default `X-API-KEY`).
 * - `NEXUS_FEED_PING_INTERVAL` — heartbeat: ping every interval, fail after three silent ones.
 * - `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` — the proxy, as `ProxySettings.layerConfig` reads
 *   them, unless a `ProxySettings` service is provided.
 *
 * Subscriptions are topic strings sent as `{ method: "SUBSCRIBE", params, id }` JSON by default
 * (Binance's protocol); pass `subscribe`/`unsubscribe` for another exchange's.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Feed from "../Reconnect/Feed.ts"
import type * as Supervisor from "../Reconnect/Supervisor.ts"
import type { TransportError } from "../Transport/Transport.ts"
import type * as WebSocket from "../Transport/WebSocket.ts"
import * as MarketFeedReplay from "./MarketFeedReplay.ts"
import type * as SessionLog from "./SessionLog.ts"
import type * as FeedService from "./internal/feedService.ts"
import { FeedEvents, type Messages as MessagesRun } from "./internal/messages.ts"
import * as ProxySettings from "./ProxySettings.ts"
import { TlsSettings } from "./TlsSettings.ts"

/**
 * What the application reads from the feed, in order.
 *
 * @since 0.1.0
 * @category models
 */
export type FeedEvent = FeedService.FeedEvent

/**
 * A batch of consecutive text and binary messages, owned (see the module doc): message `i` is
 * `bytes[start(i), end(i))`, text when `isText(i)`.
 *
 * @since 0.1.0
 * @category models
 */
export type Messages = MessagesRun

/**
 * The feed service (`MarketFeed.layerReplay` serves the same shape from a recording).
 *
 * @since 0.1.0
 * @category models
 */
export type MarketFeedService = FeedService.MarketFeedService

/**
 * The application's market-data feed.
 *
 * @since 0.1.0
 * @category services
 */
export class MarketFeed extends Context.Service<MarketFeed, MarketFeedService>()("effect-nexus/MarketFeed") {}

/**
 * Options of {@link make} and {@link layer}: the feed's own ({@link BaseOptions}) with either
 * `WebSocket.connect`'s connection options in `socket`, or a `dial` of your own and only the
 * handshake and stream options in `socket` (`Feed.Connection`: a dial option beside a custom
 * `dial` would do nothing, so the type rejects it). Without a `dial`, `socket.tls` defaults to
 * the `TlsSettings` service and `socket.proxy` to the `ProxySettings` service, when provided.
 *
 * @since 0.1.0
 * @category models
 */
export type Options = BaseOptions & Feed.Connection<never>

/**
 * Options of a feed dialed by `WebSocket.connect` (what {@link config} reads).
 *
 * @since 0.1.0
 * @category models
 */
export type ConnectOptions = BaseOptions & Feed.Connect

/**
 * The feed's options other than how it connects.
 *
 * @since 0.1.0
 * @category models
 */
export interface BaseOptions {
  readonly url: string
  /** Topics to start with. */
  readonly subscriptions?: ReadonlyArray<string> | undefined
  /** Sends subscriptions. Default `Feed.jsonRpcSubscribe("SUBSCRIBE")`. */
  readonly subscribe?: ((ws: WebSocket.WebSocket, topics: ReadonlyArray<string>) => Effect.Effect<void, WebSocket.WebSocketError>) | undefined
  /** Sends unsubscriptions. Default `Feed.jsonRpcSubscribe("UNSUBSCRIBE")`. */
  readonly unsubscribe?: ((ws: WebSocket.WebSocket, topics: ReadonlyArray<string>) => Effect.Effect<void, WebSocket.WebSocketError>) | undefined
  /** Reconnect delays. Default `Backoff.reconnect`. */
  readonly schedule?: Supervisor.Options<unknown, unknown, unknown, unknown, unknown, unknown>["schedule"]
  /** A session this long restarts the backoff. Default 30 s. */
  readonly resetAfter?: Duration.Input | undefined
  /** A clean close sooner than this after connecting counts as a failed attempt (`0`: off). Default 5 s. */
  readonly minSessionLifetime?: Duration.Input | undefined
  /** Renew connections (without a gap) after this long. Default never. */
  readonly maxSessionLifetime?: Duration.Input | undefined
  /** Events buffered for a slow consumer before the feed waits. Default 4096. */
  readonly bufferSize?: number | undefined
  /**
   * Lend the `Messages` batches instead of owning them: a batch's `bytes`, and every
   * `payload(i)` view of them, are valid only until the stream is pulled again, and their
   * memory is then reused for later batches — copy what you keep (`text(i)` is a fresh string;
   * `Buffer.from(payload(i))` a copy). The payloads are still copied out of the socket a block
   * at a time, but into memory reused from batch to batch rather than fresh memory: at 128 B
   * the fresh memory's allocation and the mark-compacts V8 spends on it were about a fifth of
   * the owned feed's CPU ("`MarketFeed` with lent batches" in `bench/RESULTS.md`). For a
   * consumer that reads each chunk in place (`Stream.runForEach`, `runForEachArray`,
   * `Stream.toPull`); a combinator that pulls ahead of it (`Stream.buffer`, `merge`, `grouped`,
   * `mapEffect` with concurrency) must not sit between the events and the reads. The same name and contract as
   * `WebSocket.messages(socket, { lent: true })` and `layerReplay(file, { lent: true })`.
   * Default `false`: owned, valid for ever.
   */
  readonly lent?: boolean | undefined
}

/**
 * Default events buffered for a slow consumer before the feed waits: 4096.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_BUFFER_SIZE = 4096

/**
 * Starts the feed in the current scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<MarketFeedService, never, Scope.Scope> =>
  Effect.gen(function*() {
    // the push loop's handler copies into the current run without an Effect step below the
    // mark; the stream takes everything queued per pull
    const events = new FeedEvents<Exclude<FeedEvent, Messages>>(options.bufferSize ?? DEFAULT_BUFFER_SIZE, options.lent === true)
    const emit = (event: Exclude<FeedEvent, Messages>): Effect.Effect<void> => events.event(event) ?? Effect.void
    const end = Effect.sync(() => events.batch.end(Cause.Done()))
    // the shared TlsConfig and proxy rules, unless the options name their own; built once here, so
    // every reconnect dials with the same TlsConfig and resumes its session
    const tls = yield* Effect.serviceOption(TlsSettings)
    const proxy = yield* Effect.serviceOption(ProxySettings.ProxySettings)
    const connection: Feed.Connection<never> = options.dial === undefined
      ? {
        socket: {
          ...options.socket,
          tls: options.socket?.tls ?? Option.getOrUndefined(tls),
          proxy: options.socket?.proxy ?? Option.getOrUndefined(proxy)
        }
      }
      : { socket: options.socket, dial: options.dial }
    const supervisor = yield* Feed.make<string, never, never>({
      url: options.url,
      ...connection,
      subscriptions: options.subscriptions,
      subscribe: options.subscribe ?? Feed.jsonRpcSubscribe("SUBSCRIBE"),
      unsubscribe: options.unsubscribe ?? Feed.jsonRpcSubscribe("UNSUBSCRIBE"),
      schedule: options.schedule,
      resetAfter: options.resetAfter,
      minSessionLifetime: options.minSessionLifetime,
      maxSessionLifetime: options.maxSessionLifetime,
      onConnect: (_ws, info) => emit({ _tag: "Connected", session: info.session, renewal: info.renewal }),
      onGap: (gap) => emit({ _tag: "Gap", gap }),
      onMessage: (message, ws) => events.message(message, ws)
    })
    // ending first lets a handler parked on a full batch go, so the supervisor stops at once
    const stop = Effect.andThen(end, supervisor.stop)
    // a supervisor that stops by itself (a finite schedule gave up) ends the events stream too
    yield* Effect.forkScoped(Effect.andThen(Effect.exit(supervisor.await), end))
    return {
      events: Stream.fromPull(Effect.succeed(events.batch.take)),
      state: supervisor.state,
      subscribe: supervisor.subscribe,
      unsubscribe: supervisor.unsubscribe,
      subscriptions: supervisor.subscriptions,
      stop
    }
  })

/**
 * A layer from explicit options.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<MarketFeed> => Layer.effect(MarketFeed, make(options))

/**
 * Reads the feed's settings from `Config` (see the module doc for the names).
 *
 * @since 0.1.0
 * @category config
 */
export const config = (prefix = "NEXUS_FEED"): Config.Config<ConnectOptions> =>
  Config.map(
    Config.all({
      url: Config.String(`${prefix}_URL`),
      subscriptions: Config.withDefault(Config.String(`${prefix}_SUBSCRIPTIONS`), ""),
      apiKey: Config.option(Config.Redacted(`${prefix}_API_KEY`)),
      apiKeyHeader: Config.withDefault(Config.String(`${prefix}_API_KEY_HEADER`), "X-API-KEY"),
      pingInterval: Config.option(Config.Duration(`${prefix}_PING_INTERVAL`))
    }),
    (c): ConnectOptions => ({
      url: c.url,
      subscriptions: c.subscriptions.split(",").map((s) => s.trim()).filter((s) => s.length > 0),
      socket: {
        headers: Option.isSome(c.apiKey) ? [[c.apiKeyHeader, Redacted.value(c.apiKey.value)]] : [],
        heartbeat: Option.isSome(c.pingInterval)
          ? { interval: c.pingInterval.value, timeout: Duration.times(c.pingInterval.value, 3) }
          : undefined
      }
    })
  )

/**
 * A layer from the environment (see the module doc); `overrides` win over what it reads. The
 * proxy is the `ProxySettings` service when one is provided, otherwise `HTTPS_PROXY` /
 * `HTTP_PROXY` / `NO_PROXY` (`ProxySettings.fromConfig`); a proxy URL that does not parse fails
 * the layer with `ProxyError` kind `"InvalidProxyUrl"`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: { readonly prefix?: string | undefined; readonly overrides?: Partial<ConnectOptions> | undefined } = {}
): Layer.Layer<MarketFeed, Config.ConfigError | TransportError> =>
  Layer.effect(
    MarketFeed,
    Effect.gen(function*() {
      const c = yield* config(options.prefix)
      const provided = yield* Effect.serviceOption(ProxySettings.ProxySettings)
      const proxy = Option.isSome(provided) ? provided.value : yield* ProxySettings.fromConfig
      return yield* make({ ...c, socket: { ...c.socket, proxy }, ...options.overrides })
    })
  )

/**
 * The feed served from a recorded session file (see `MarketFeedReplay`): the recorded events
 * at their recorded times on the `Clock` (`TestClock` in tests), or as fast as they are read
 * (`{ timing: "fast" }`). A file that cannot be replayed fails the layer with `SessionError`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerReplay = (
  file: string,
  options: MarketFeedReplay.Options = {}
): Layer.Layer<MarketFeed, SessionLog.SessionError> => Layer.effect(MarketFeed, MarketFeedReplay.make(file, options))
