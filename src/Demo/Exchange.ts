/**
 * `Exchange` — the embedded demo exchange of the main job, on real sockets on 127.0.0.1 and
 * built from the toolkit's server side: a WebSocket market-data feed (`WebSocketServer.serve`) that
 * streams sequenced quotes to subscribers, and a REST endpoint (`HttpServe.serve` on a `Listener`) that
 * accepts orders and serves snapshots. Every `dropEvery` it resets every connection, feed and
 * REST alike, to show the feed re-subscribing and the pool healing.
 *
 * Quotes: `{"type":"quote","symbol","bid","ask","seq","ts"}`, `quotesPerTick` of them every
 * `tickInterval`, `seq` counting per symbol across connections (a reconnecting client sees the
 * jump and resyncs from `GET /api/v3/snapshot?symbol=…`). Orders: `POST /api/v3/order` → 200
 * `{"orderId", "status":"NEW"}`.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import type * as Scope from "effect/Scope"
import * as HttpServe from "../Transport/HttpServe.ts"
import * as Listener from "../Transport/Listener.ts"
import { SocketTransport } from "../Transport/SocketTransport.ts"
import type { Transport } from "../Transport/Transport.ts"
import type * as WebSocket from "../Transport/WebSocket.ts"
import * as WebSocketServer from "../Transport/WebSocketServer.ts"

/**
 * Options of {@link start}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The one symbol quoted. Default `BTC-USD`. */
  readonly symbol?: string | undefined
  /** Time between quote batches. Default 1 ms. */
  readonly tickInterval?: Duration.Input | undefined
  /** Quotes per batch. Default 5. */
  readonly quotesPerTick?: number | undefined
  /** Reset every connection this often. Default 5 s; `undefined` in options keeps it. */
  readonly dropEvery?: Duration.Input | "never" | undefined
}

/**
 * A running exchange.
 *
 * @since 0.1.0
 * @category models
 */
export interface Exchange {
  /** `ws://127.0.0.1:PORT/ws`. */
  readonly feedUrl: string
  /** `http://127.0.0.1:PORT`. */
  readonly restUrl: string
  /** Counters for the summary. */
  readonly stats: { quotesSent: number; ordersReceived: number; drops: number; feedConnections: number; restConnections: number }
}

/** Tracks `transport` in `open` while the current scope lives: the connections a drop resets. */
const tracked = (open: Set<Transport>, transport: Transport): Effect.Effect<void, never, Scope.Scope> =>
  Effect.andThen(
    Effect.sync(() => open.add(transport)),
    Effect.addFinalizer(() => Effect.sync(() => open.delete(transport)))
  )

/** Resets a connection (RST, not FIN), as a crashing exchange would; other transports are destroyed. */
const reset = (transport: Transport): void => {
  if (transport instanceof SocketTransport && transport.socket !== undefined) transport.socket.resetAndDestroy()
  else Effect.runFork(transport.destroy())
}

/**
 * Starts the exchange in the current scope; closing the scope closes both listeners and every
 * connection.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (options: Options = {}): Effect.Effect<Exchange, never, Scope.Scope> =>
  Effect.gen(function*() {
    const symbol = options.symbol ?? "BTC-USD"
    const tick = Duration.fromInputUnsafe(options.tickInterval ?? "1 millis")
    const perTick = options.quotesPerTick ?? 5
    const fibers = yield* FiberSet.make()
    const run = yield* FiberSet.runtime(fibers)<never>()
    const stats = { quotesSent: 0, ordersReceived: 0, drops: 0, feedConnections: 0, restConnections: 0 }
    const subscribers = new Set<WebSocket.WebSocket>()
    const feedConnections = new Set<Transport>()
    const restConnections = new Set<Transport>()
    let seq = 0
    let orderId = 0

    // the demo's own clients answer no server pings: the heartbeat stays off, as before
    const feed = yield* WebSocketServer.serve((ws: WebSocket.WebSocket) =>
      Effect.gen(function*() {
        stats.feedConnections++
        yield* tracked(feedConnections, ws.transport)
        yield* Effect.addFinalizer(() => Effect.sync(() => subscribers.delete(ws)))
        for (;;) {
          const message = yield* ws.recv
          if (message._tag === "Close") return
          if (message._tag !== "Text") continue
          const request = JSON.parse(message.text()) as { method?: string; params?: Array<string>; id?: number }
          if (request.method === "SUBSCRIBE") subscribers.add(ws)
          if (request.method === "UNSUBSCRIBE") subscribers.delete(ws)
          yield* ws.sendText(JSON.stringify({ result: null, id: request.id }))
        }
      }), { heartbeat: false, handshakeTimeout: "10 seconds" }).pipe(Effect.orDie)

    const answer: HttpServe.Handler = (request) => {
      if (request.method === "POST" && request.target === "/api/v3/order") {
        stats.ordersReceived++
        return Effect.succeed({
          status: 200,
          headers: [["Content-Type", "application/json"]],
          body: JSON.stringify({ orderId: ++orderId, status: "NEW" })
        })
      }
      if (request.method === "GET" && request.target.startsWith("/api/v3/snapshot")) {
        return Effect.succeed({ status: 200, headers: [["Content-Type", "application/json"]], body: JSON.stringify({ symbol, seq }) })
      }
      return Effect.succeed({ status: 404, body: "not found" })
    }
    const rest = yield* Listener.listen((transport) => {
      stats.restConnections++
      return Effect.andThen(tracked(restConnections, transport), HttpServe.serve(transport, answer))
    }).pipe(Effect.orDie)

    // the quote pump: one batch per tick to every subscriber, serialised per socket by its sends
    const publish = Effect.gen(function*() {
      for (let i = 0; i < perTick; i++) {
        seq++
        const bid = 64250 + Math.sin(seq / 500) * 50
        const text = JSON.stringify({ type: "quote", symbol, bid: +bid.toFixed(2), ask: +(bid + 0.5).toFixed(2), seq, ts: Date.now() })
        for (const ws of subscribers) {
          stats.quotesSent++
          yield* Effect.ignore(ws.sendText(text))
        }
      }
    })
    run(Effect.forever(Effect.andThen(publish, Effect.sleep(tick))))

    if (options.dropEvery !== "never") {
      const every = Duration.fromInputUnsafe(options.dropEvery ?? "5 seconds")
      run(Effect.forever(Effect.andThen(Effect.sleep(every), Effect.sync(() => {
        stats.drops++
        for (const transport of feedConnections) reset(transport)
        for (const transport of restConnections) reset(transport)
      }))))
    }

    return { feedUrl: `ws://127.0.0.1:${feed.port}/ws`, restUrl: `http://127.0.0.1:${rest.port}`, stats }
  })
