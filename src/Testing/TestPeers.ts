/**
 * `TestPeers` — scripted in-memory peers behind the test layers (`RestClientTest`,
 * `MarketFeedTest`): an HTTP origin and a WebSocket exchange, each reached over `Memory` pairs
 * instead of sockets. They run the toolkit's own server side (`HttpServe.serve`,
 * `WebSocket.accept`), keep a log of what they saw, and take faults (refuse connects, drop every
 * connection, stall), all on Effect's `Clock`, so an application runs unchanged and
 * deterministically under `TestClock`. Test support only: published as `effect-nexus/testing`,
 * never imported by the production layers.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import * as HttpConnection from "../Transport/HttpConnection.ts"
import * as HttpServe from "../Transport/HttpServe.ts"
import * as Memory from "../Transport/Memory.ts"
import { ConnectError } from "../Transport/Transport.ts"
import * as WebSocket from "../Transport/WebSocket.ts"

// ---------------------------------------------------------------------------------------------
// HTTP origin
// ---------------------------------------------------------------------------------------------

/**
 * Control of a scripted HTTP origin.
 *
 * @since 0.1.0
 * @category models
 */
export interface HttpPeer {
  /** Requests seen so far, in order; `connection` is the 1-based connection number. */
  readonly requests: ReadonlyArray<HttpServe.Request>
  /** Connections accepted so far. */
  readonly connections: number
  /** While down, connects are refused (`ConnectError` `"Refused"`) and live connections are dropped. */
  setDown(down: boolean): Effect.Effect<void>
  /** Drops every live connection (a reset), without refusing new ones. */
  readonly dropAll: Effect.Effect<void>
  /** Opens one connection to the origin: `ClientPool`'s `connect` option. */
  readonly connect: Effect.Effect<HttpConnection.HttpConnection, HttpConnection.HttpError, Scope.Scope>
}

/**
 * The scripted HTTP origin of a test layer.
 *
 * @since 0.1.0
 * @category services
 */
export class TestHttpPeer extends Context.Service<TestHttpPeer, HttpPeer>()("effect-nexus/TestHttpPeer") {}

/**
 * Makes a scripted origin named `address` answering with `handler`; its server fibers live in
 * the current scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeHttpPeer = (
  handler: HttpServe.Handler,
  options: { readonly address?: string | undefined; readonly connection?: HttpConnection.Options | undefined } = {}
): Effect.Effect<HttpPeer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const address = options.address ?? "origin.test:443"
    const scope = yield* Effect.scope
    const requests: Array<HttpServe.Request> = []
    const live = new Set<Memory.Pair>()
    let connections = 0
    let down = false

    const serve = (pair: Memory.Pair, id: number) =>
      HttpServe.serve(pair.server, handler, { connection: id, onRequest: (seen) => requests.push(seen) }).pipe(
        Effect.ensuring(Effect.sync(() => live.delete(pair)))
      )

    const dropAll = Effect.suspend(() => Effect.forEach([...live], (pair) => pair.drop(), { discard: true }))

    const peer: HttpPeer = {
      get requests() {
        return requests
      },
      get connections() {
        return connections
      },
      setDown: (value) => Effect.suspend(() => {
        down = value
        return value ? dropAll : Effect.void
      }),
      dropAll,
      connect: Effect.gen(function*() {
        if (down) {
          return yield* Effect.fail(
            new HttpConnection.HttpError({
              address,
              reason: new ConnectError({ kind: "Refused" }),
              requestSent: false
            })
          )
        }
        const pair = yield* Memory.pair({ addresses: [address, "client.test:50000"] })
        live.add(pair)
        const id = ++connections
        yield* Effect.forkIn(serve(pair, id), scope)
        return yield* HttpConnection.make(pair.client, options.connection ?? {})
      })
    }
    return peer
  })

// ---------------------------------------------------------------------------------------------
// WebSocket exchange
// ---------------------------------------------------------------------------------------------

/**
 * Control of a scripted WebSocket exchange.
 *
 * @since 0.1.0
 * @category models
 */
export interface FeedPeer {
  /** Every text message clients sent (subscriptions, auth), with the session number. */
  readonly received: ReadonlyArray<{ readonly session: number; readonly text: string }>
  /** Sessions (accepted connections) so far. */
  readonly sessions: number
  /** Sessions open now. */
  readonly open: number
  /** Sends `text` to every open session. */
  publish(text: string): Effect.Effect<void>
  /** Drops every open session (a reset). */
  readonly dropAll: Effect.Effect<void>
  /** Refuses the next `n` connects. */
  refuse(n: number): Effect.Effect<void>
  /** Dials the exchange: `Feed`'s `dial` option. */
  readonly dial: Effect.Effect<Memory.MemoryTransport, WebSocket.WebSocketError, Scope.Scope>
}

/**
 * The scripted exchange of a test layer.
 *
 * @since 0.1.0
 * @category services
 */
export class TestFeedPeer extends Context.Service<TestFeedPeer, FeedPeer>()("effect-nexus/TestFeedPeer") {}

/**
 * Makes a scripted exchange named `address`; its server fibers live in the current scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeFeedPeer = (
  options: { readonly address?: string | undefined } = {}
): Effect.Effect<FeedPeer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const address = options.address ?? "exchange.test:443"
    const scope = yield* Effect.scope
    const received: Array<{ session: number; text: string }> = []
    const open = new Map<number, { pair: Memory.Pair; ws: WebSocket.WebSocket }>()
    let sessions = 0
    let refusals = 0

    const serve = (pair: Memory.Pair, id: number) =>
      Effect.gen(function*() {
        const ws = yield* WebSocket.accept(pair.server)
        open.set(id, { pair, ws })
        for (;;) {
          const message = yield* ws.recv
          if (message._tag === "Text") received.push({ session: id, text: message.text() })
          if (message._tag === "Close") return
        }
      }).pipe(Effect.scoped, Effect.ignore, Effect.ensuring(Effect.sync(() => open.delete(id))))

    const dropAll = Effect.suspend(() => Effect.forEach([...open.values()], ({ pair }) => pair.drop(), { discard: true }))

    const peer: FeedPeer = {
      get received() {
        return received
      },
      get sessions() {
        return sessions
      },
      get open() {
        return open.size
      },
      publish: (text) =>
        Effect.suspend(() => Effect.forEach([...open.values()], ({ ws }) => Effect.ignore(ws.sendText(text)), { discard: true })),
      dropAll,
      refuse: (n) => Effect.sync(() => void (refusals = n)),
      dial: Effect.gen(function*() {
        if (refusals > 0) {
          refusals--
          return yield* Effect.fail(
            new WebSocket.WebSocketError({ address, reason: new ConnectError({ kind: "Refused" }) })
          )
        }
        const pair = yield* Memory.pair({ addresses: [address, "client.test:50001"] })
        const id = ++sessions
        yield* Effect.forkIn(serve(pair, id), scope)
        return pair.client
      })
    }
    return peer
  })
