/**
 * The echo both conformance programs run: every text and binary message goes back as it came
 * (pings are answered by the stream's auto-pong), until the peer's close.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as WebSocket from "../src/Transport/WebSocket.ts"

/** Echoes until the peer's close (returned normally) or a failure (returned as the error). */
export const echo = (socket: WebSocket.WebSocket): Effect.Effect<void, WebSocket.WebSocketError> =>
  Effect.gen(function*() {
    while (true) {
      const message = yield* socket.recv
      if (message._tag === "Text") yield* socket.sendText(message.payload)
      else if (message._tag === "Binary") yield* socket.sendBinary(message.payload)
      else if (message._tag === "Close") return
    }
  })
