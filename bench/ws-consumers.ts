/**
 * Our three receive paths as firehose consumers, shared by `bench/loopback.ts`,
 * `bench/firehose-path.ts` and `bench/recv-paths.ts`: each reads `count` binary messages from
 * an open WebSocket, hands each payload to `touch` as the API hands it out (a view for `run` and
 * `recv`, an owned copy for `messages`: the work a `ws` `message` listener gets), and succeeds
 * with the milliseconds from its start to the `count`-th message.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { WebSocket, WebSocketError } from "../src/Transport/WebSocket.ts"
import * as NexusWebSocket from "../src/Transport/WebSocket.ts"

/** A consumer: milliseconds until the `count`-th binary message. */
export type Consumer = (ws: WebSocket, count: number, touch: (payload: Uint8Array) => void) => Effect.Effect<number, WebSocketError>

const closedEarly = (received: number) => new Error(`firehose closed after ${received} messages`)

/** Counts binary messages as a push consumer sees them; `elapsed` fails if the stream ended first. */
const counting = (count: number, touch: (payload: Uint8Array) => void) => {
  const started = performance.now()
  let received = 0
  let elapsed = 0
  return {
    take: (message: { readonly _tag: string; readonly payload: Uint8Array }): void => {
      if (message._tag !== "Binary") return
      touch(message.payload)
      if (++received === count) elapsed = performance.now() - started
    },
    elapsed: (): number => {
      if (received < count) throw closedEarly(received)
      return elapsed
    }
  }
}

/** `WebSocket.run`: messages pushed to a handler, many per Effect step. */
export const viaRun: Consumer = (ws, count, touch) =>
  Effect.suspend(() => {
    const counter = counting(count, touch)
    return Effect.map(NexusWebSocket.run(ws, counter.take), counter.elapsed)
  })

/**
 * A `recv`-shaped loop over any `step`: one `yield*` per message (`recv-paths.ts` also runs it
 * over a step that returns a cached Exit, Effect's own floor under the loop).
 */
export const recvLoop = (
  step: Effect.Effect<{ readonly _tag: string; readonly payload: Uint8Array }, WebSocketError>,
  count: number,
  touch: (payload: Uint8Array) => void
): Effect.Effect<number, WebSocketError> =>
  Effect.gen(function*() {
    const started = performance.now()
    let received = 0
    while (received < count) {
      const message = yield* step
      if (message._tag === "Binary") {
        touch(message.payload)
        received++
      } else if (message._tag === "Close") throw closedEarly(received)
    }
    return performance.now() - started
  })

/** The `recv` loop: one `yield*` per message, each a view. */
export const viaRecv: Consumer = (ws, count, touch) => recvLoop(ws.recv, count, touch)

/** The `messages` Stream: owned copies, a chunk per pull (`Stream.runForEachArray`). */
export const viaMessages: Consumer = (ws, count, touch) => messagesLoop(ws, count, touch, false)

/** The `messages` Stream with `{ lent: true }`: each chunk's payloads views until the next pull, read in place. */
export const viaMessagesLent: Consumer = (ws, count, touch) => messagesLoop(ws, count, touch, true)

const messagesLoop = (ws: WebSocket, count: number, touch: (payload: Uint8Array) => void, lent: boolean) =>
  Effect.suspend(() => {
    const counter = counting(count, touch)
    return Effect.map(
      Stream.runForEachArray(NexusWebSocket.messages(ws, { lent }), (batch) => {
        for (const message of batch) counter.take(message as { readonly _tag: string; readonly payload: Uint8Array })
        return Effect.void
      }),
      counter.elapsed
    )
  })
