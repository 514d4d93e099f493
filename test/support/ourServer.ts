import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as net from "node:net"
import * as Tcp from "../../src/Transport/Tcp.ts"
import * as WebSocket from "../../src/Transport/WebSocket.ts"

/** What our test server saw: each connection's outcome, and how many sockets are still open. */
export interface OurServer {
  readonly port: number
  /** Raw TCP sockets accepted and not yet closed. */
  readonly open: () => number
  /** One exit per finished connection handler, in completion order. */
  readonly exits: Array<Exit.Exit<unknown, WebSocket.WebSocketError>>
  /** Resolves once `n` handlers have finished. */
  readonly finished: (n: number) => Effect.Effect<void>
}

/**
 * A `net.Server` on 127.0.0.1:0 running `handler` over `WebSocket.accept` for each connection,
 * each in its own scope (closed when the handler ends, destroying the socket). Stopped with the
 * test's scope.
 */
export const serveOurs = <A>(
  handler: (socket: WebSocket.WebSocket) => Effect.Effect<A, WebSocket.WebSocketError>,
  options: WebSocket.AcceptOptions = {}
) =>
  Effect.acquireRelease(
    Effect.callback<{ server: net.Server; state: OurServer }>((resume) => {
      let open = 0
      const exits: Array<Exit.Exit<unknown, WebSocket.WebSocketError>> = []
      const waiters: Array<() => void> = []
      const server = net.createServer({ allowHalfOpen: true }, (socket) => {
        open++
        socket.on("close", () => open--)
        const run = Effect.scoped(
          Effect.flatMap(Tcp.fromNetSocket(socket), (transport) =>
            Effect.flatMap(WebSocket.accept(transport, options), handler))
        )
        Effect.runPromiseExit(run).then((exit) => {
          exits.push(exit)
          for (const wake of waiters.splice(0)) wake()
        })
      })
      const finished = (n: number): Effect.Effect<void> =>
        Effect.suspend(() =>
          exits.length >= n ? Effect.void : Effect.andThen(
            Effect.callback<void>((wake) => {
              waiters.push(() => wake(Effect.void))
            }),
            finished(n)
          )
        )
      server.listen(0, "127.0.0.1", () =>
        resume(Effect.succeed({
          server,
          state: { port: (server.address() as net.AddressInfo).port, open: () => open, exits, finished }
        })))
    }),
    ({ server }) => Effect.sync(() => server.close())
  ).pipe(Effect.map(({ state }) => state))

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
