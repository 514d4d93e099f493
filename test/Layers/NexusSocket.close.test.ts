import * as NodeSocket from "@effect/platform-node/NodeSocket"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Socket from "effect/socket/Socket"
import { type ClientOptions as WsClientOptions, WebSocket as WsClient } from "ws"
import { afterAll, beforeAll } from "vitest"
import * as NexusSocket from "../../src/Layers/NexusSocket.ts"
import { closeWs, type ListeningWs, listenWs } from "../support/wsServer.ts"

/**
 * `/three`: sends three 100-byte binary messages at once; `ws` answers a close with its echo.
 * `/deaf`: stops reading once connected, so a close is never answered.
 */
let peer: ListeningWs

beforeAll(async () => {
  peer = await listenWs()
  peer.server.on("connection", (ws: WsClient, request) => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1")
    if (url.pathname === "/three") {
      for (let i = 0; i < 3; i++) ws.send(Buffer.alloc(100, i))
    }
    // never reads again: our close frame is never answered
    if (url.pathname === "/deaf") ws.pause()
  })
})

afterAll(() => closeWs(peer.server))

const url = (path: string) => `ws://127.0.0.1:${peer.port}${path}`

type Item = string | Array<number>

const shape = (error: Socket.SocketError): { readonly _tag: string; readonly code?: number; readonly closeReason?: string | undefined } =>
  error.reason._tag === "SocketCloseError"
    ? { _tag: error.reason._tag, code: error.reason.code, closeReason: error.reason.closeReason }
    : { _tag: error.reason._tag }

/**
 * The reader is acquired and left unpulled until the loop is backpressured (highWaterMark 1:
 * the first message fills it), then a CloseEvent is written, then everything is pulled.
 */
const closeWhileBackpressured = (socket: Socket.Socket) =>
  Effect.scoped(Effect.gen(function*() {
    const reader = yield* socket.reader
    const writer = yield* socket.writer
    yield* Effect.sleep("100 millis")
    yield* writer.write(new Socket.CloseEvent(1000, "bye"))
    yield* Effect.sleep("100 millis")
    const items: Array<Item> = []
    for (;;) {
      const exit = yield* Effect.exit(reader.pull)
      if (Exit.isFailure(exit)) return { items, error: shape(yield* Effect.flip(exit)) }
      for (const chunk of exit.value) items.push(typeof chunk === "string" ? chunk : [...chunk])
    }
  }))

describe("NexusSocket closing, beside Effect's Socket on ws", () => {
  it.live("a CloseEvent written while the reader is backpressured: every message, then the peer's close code", () =>
    Effect.gen(function*() {
      const theirs = yield* closeWhileBackpressured(
        yield* Effect.provide(
          Socket.makeWebSocket(url("/three"), { highWaterMark: 1 }),
          NodeSocket.layerWebSocketConstructorWS
        )
      )
      const ours = yield* closeWhileBackpressured(yield* NexusSocket.makeWebSocket(url("/three"), { highWaterMark: 1 }))
      const want = {
        items: [0, 1, 2].map((i) => new Array(100).fill(i)),
        error: { _tag: "SocketCloseError", code: 1000, closeReason: "bye" }
      }
      assert.deepStrictEqual(theirs, want, "Effect's Socket on ws")
      assert.deepStrictEqual(ours, want, "NexusSocket")
    }))

  it.live("a CloseEvent the peer never answers: the reader fails with SocketCloseError 1006 once closeTimeout runs out, as on ws", () =>
    Effect.gen(function*() {
      const run = (socket: Socket.Socket) =>
        Effect.scoped(Effect.gen(function*() {
          const reader = yield* socket.reader
          const writer = yield* socket.writer
          yield* writer.write(new Socket.CloseEvent(1000))
          return shape(yield* Effect.flip(reader.pull))
        }))
      // Effect's Socket on a ws client whose close timeout is as short as ours
      const theirs = yield* run(yield* Socket.fromWebSocket(
        Effect.acquireRelease(
          Effect.sync(() => new WsClient(url("/deaf"), { closeTimeout: 200 } as unknown as WsClientOptions) as unknown as globalThis.WebSocket),
          (ws) => Effect.sync(() => ws.close(1000))
        )
      ))
      const ours = yield* run(yield* NexusSocket.makeWebSocket(url("/deaf"), { closeTimeout: "200 millis" }))
      const want = { _tag: "SocketCloseError", code: 1006, closeReason: "" }
      assert.deepStrictEqual(theirs, want, "Effect's Socket on ws")
      assert.deepStrictEqual(ours, want, "NexusSocket")
    }))
})
