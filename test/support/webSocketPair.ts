/**
 * A client and a server WebSocket over one in-memory pair (`Memory.pair`): the client dials
 * `ws://memory.test/feed?x=1`, the server accepts, both handshakes run at once.
 */
import * as Effect from "effect/Effect"
import * as Memory from "../../src/Transport/Memory.ts"
import * as WebSocket from "../../src/Transport/WebSocket.ts"

/** Options of the pair (`memory`) and of each side. */
export interface ConnectedOptions {
  readonly memory?: Memory.Options
  readonly client?: WebSocket.ConnectOptions
  readonly server?: WebSocket.AcceptOptions
}

/** Connects both sides; returns them and the pair under them. */
export const connected = (options: ConnectedOptions = {}) =>
  Effect.gen(function*() {
    const pair = yield* Memory.pair(options.memory)
    const [client, server] = yield* Effect.all([
      WebSocket.connectOver(pair.client, "ws://memory.test/feed?x=1", options.client),
      WebSocket.accept(pair.server, options.server)
    ], { concurrency: 2 })
    return { pair, client, server }
  })
