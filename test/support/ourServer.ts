import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Listener from "../../src/Transport/Listener.ts"
import * as WebSocket from "../../src/Transport/WebSocket.ts"

/** What our test server saw: each connection's outcome, and how many sockets are still open. */
export interface OurServer {
  readonly port: number
  /** Accepted connections whose handler has not finished (their sockets are destroyed when it does). */
  readonly open: () => number
  /** One exit per finished connection handler, in completion order. */
  readonly exits: Array<Exit.Exit<unknown, WebSocket.WebSocketError>>
  /** Resolves once `n` handlers have finished. */
  readonly finished: (n: number) => Effect.Effect<void>
}

/**
 * A `Listener` on 127.0.0.1:0 running `handler` over `WebSocket.accept` (plain, with `options`
 * and none of `WebSocketServer`'s defaults) for each connection, each in its own scope (closed
 * when the handler ends, destroying the socket). Stopped with the test's scope.
 */
export const serveOurs = <A>(
  handler: (socket: WebSocket.WebSocket) => Effect.Effect<A, WebSocket.WebSocketError>,
  options: WebSocket.AcceptOptions = {}
) =>
  Effect.gen(function*() {
    const exits: Array<Exit.Exit<unknown, WebSocket.WebSocketError>> = []
    const waiters: Array<() => void> = []
    const listener = yield* Listener.listen((transport) =>
      Effect.flatMap(Effect.exit(Effect.flatMap(WebSocket.accept(transport, options), handler)), (exit) =>
        Effect.sync(() => {
          exits.push(exit)
          for (const wake of waiters.splice(0)) wake()
        }))
    )
    const finished = (n: number): Effect.Effect<void> =>
      Effect.suspend(() =>
        exits.length >= n ? Effect.void : Effect.andThen(
          Effect.callback<void>((wake) => {
            waiters.push(() => wake(Effect.void))
          }),
          finished(n)
        )
      )
    const state: OurServer = { port: listener.port, open: () => listener.open, exits, finished }
    return state
  })

/** An echo handler: every text and binary message goes back; ends after the close handshake. */
export const echo = (socket: WebSocket.WebSocket): Effect.Effect<number, WebSocket.WebSocketError> =>
  Effect.gen(function*() {
    let count = 0
    while (true) {
      const message = yield* socket.recv
      switch (message._tag) {
        case "Text":
          yield* socket.sendText(message.payload)
          count++
          break
        case "Binary":
          yield* socket.sendBinary(message.payload)
          count++
          break
        case "Close":
          return count
      }
    }
  })

/** Polls (live clock) until `check()` holds, for at most `ms`. */
export const eventually = (check: () => boolean, ms = 5000): Effect.Effect<void, Error> =>
  Effect.gen(function*() {
    const until = Date.now() + ms
    while (!check()) {
      if (Date.now() > until) return yield* Effect.fail(new Error("condition not reached in time"))
      yield* Effect.sleep("5 millis")
    }
  })
