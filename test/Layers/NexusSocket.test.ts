import * as NodeSocket from "@effect/platform-node/NodeSocket"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import type { WebSocket as WsClient } from "ws"
import { afterAll, beforeAll } from "vitest"
import * as NexusSocket from "../../src/Layers/NexusSocket.ts"
import * as WebSocket from "../../src/Transport/WebSocket.ts"
import { serve } from "../support/netServer.ts"
import { closeWs, type ListeningWs, listenWs } from "../support/wsServer.ts"

/**
 * One `ws` server whose behaviour the path picks: `/echo` echoes (same type), `/script` sends
 * text, binary, then closes 4001 "bye", `/close-1000`, `/close-nostatus` (a close frame without
 * a code), `/terminate` (TCP gone, no close frame), `/violation` (a frame with RSV2 set),
 * `/flood?n=N` (N numbered 100-byte binary messages, then 1000), `/record` (keeps what it gets).
 * Every close the server sees is kept under the URL's `id`.
 */
let peer: ListeningWs
const recorded: Array<{ readonly data: string | Array<number>; readonly binary: boolean }> = []
/** Close frames the server got, by the `id` query parameter of the connection's URL. */
const closes = new Map<string, { readonly code: number; readonly reason: string }>()

beforeAll(async () => {
  peer = await listenWs()
  peer.server.on("connection", (ws: WsClient, request) => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1")
    ws.on("close", (code, reason) => void closes.set(url.searchParams.get("id") ?? "", { code, reason: reason.toString() }))
    switch (url.pathname) {
      case "/echo":
        ws.on("message", (data, binary) => ws.send(data, { binary }))
        break
      case "/script":
        ws.send("hello")
        ws.send(Buffer.from([1, 2, 3]))
        ws.close(4001, "bye")
        break
      case "/close-1000":
        ws.send("a")
        ws.close(1000)
        break
      case "/close-nostatus":
        ws.close()
        break
      case "/terminate":
        ws.send("x", () => setTimeout(() => ws.terminate(), 20))
        break
      case "/violation":
        // binary frame with RSV2 set and no extension negotiated: the client must fail with 1002
        ;(ws as unknown as { _socket: { write: (b: Buffer) => void } })._socket.write(Buffer.from([0xa2, 0x00]))
        break
      case "/flood": {
        const n = Number(url.searchParams.get("n"))
        for (let i = 0; i < n; i++) ws.send(Buffer.alloc(100, i & 0xff))
        ws.close(1000)
        break
      }
      case "/record":
        ws.on("message", (data, binary) =>
          void recorded.push({ data: binary ? [...(data as Buffer)] : data.toString(), binary }))
        break
    }
  })
})

afterAll(() => closeWs(peer.server))

const url = (path: string) => `ws://127.0.0.1:${peer.port}${path}`

/** Effect's own Socket on `ws` (the oracle) and ours, for the same URL. */
const effectOnWs = (path: string) =>
  Effect.provide(Socket.makeWebSocket(url(path)), NodeSocket.layerWebSocketConstructorWS)
const nexus = (path: string, options?: NexusSocket.Options) => NexusSocket.makeWebSocket(url(path), options)

type Item = string | Array<number>

/** Pulls until the reader fails: every message (bytes as arrays), then the error. */
const readToEnd = (socket: Socket.Socket) =>
  Effect.scoped(Effect.gen(function*() {
    const reader = yield* socket.reader
    const items: Array<Item> = []
    for (;;) {
      const exit = yield* Effect.exit(reader.pull)
      if (Exit.isFailure(exit)) {
        const error = yield* Effect.flip(exit)
        return { items, error }
      }
      for (const chunk of exit.value) items.push(typeof chunk === "string" ? chunk : [...chunk])
    }
  }))

/** The parts of a `SocketError` both implementations must agree on (a cause differs by library). */
const shape = (error: Socket.SocketError) => {
  const reason = error.reason
  switch (reason._tag) {
    case "SocketCloseError":
      return { _tag: reason._tag, code: reason.code, closeReason: reason.closeReason }
    case "SocketOpenError":
      return { _tag: reason._tag, kind: reason.kind }
    default:
      return { _tag: reason._tag }
  }
}

describe("NexusSocket against a ws server, beside Effect's Socket on ws", () => {
  it.live("delivers text as strings and binary as bytes, then fails with the peer's close code and reason", () =>
    Effect.gen(function*() {
      const ours = yield* readToEnd(yield* nexus("/script"))
      const theirs = yield* readToEnd(yield* effectOnWs("/script"))
      assert.deepStrictEqual(ours.items, ["hello", [1, 2, 3]])
      assert.deepStrictEqual(ours.items, theirs.items)
      assert.deepStrictEqual(
        ours.error,
        new Socket.SocketError({ reason: new Socket.SocketCloseError({ code: 4001, closeReason: "bye" }) })
      )
      assert.deepStrictEqual(shape(ours.error), shape(theirs.error))
      assert.strictEqual(ours.error.message, "4001: bye")
    }))

  it.live("maps each way a connection ends as Effect's Socket on ws does", () =>
    Effect.gen(function*() {
      const expected: Record<string, { readonly items: Array<Item>; readonly error: ReturnType<typeof shape> }> = {
        "/close-1000": { items: ["a"], error: { _tag: "SocketCloseError", code: 1000, closeReason: "" } },
        "/close-nostatus": { items: [], error: { _tag: "SocketCloseError", code: 1005, closeReason: "" } },
        "/terminate": { items: ["x"], error: { _tag: "SocketCloseError", code: 1006, closeReason: "" } },
        "/violation": { items: [], error: { _tag: "SocketReadError" } }
      }
      for (const [path, want] of Object.entries(expected)) {
        const ours = yield* readToEnd(yield* nexus(path))
        const theirs = yield* readToEnd(yield* effectOnWs(path))
        assert.deepStrictEqual({ items: ours.items, error: shape(ours.error) }, want, path)
        assert.deepStrictEqual({ items: theirs.items, error: shape(theirs.error) }, want, `${path} (Effect on ws)`)
      }
      // our read error carries what the stream saw: the violation, and the close code it sent
      const violation = yield* readToEnd(yield* nexus("/violation"))
      const cause = (violation.error.reason as Socket.SocketReadError).cause as WebSocket.WebSocketError
      assert.strictEqual(cause.reason._tag, "WebSocketProtocolError")
      assert.strictEqual((cause.reason as WebSocket.WebSocketProtocolError).closeCode, 1002)
    }))

  it.live("fails to open with SocketOpenError: Unknown for a refused port, Timeout when openTimeout runs out", () =>
    Effect.gen(function*() {
      const refused = yield* Effect.flip(Effect.scoped(Effect.flatMap(NexusSocket.makeWebSocket("ws://127.0.0.1:1/"), (s) => s.reader)))
      assert.deepStrictEqual(shape(refused), { _tag: "SocketOpenError", kind: "Unknown" })
      const cause = (refused.reason as Socket.SocketOpenError).cause as WebSocket.WebSocketError
      assert.strictEqual(cause.reason._tag, "ConnectError")
      // a server that accepts TCP and never answers the upgrade
      const silent = yield* serve()
      const timedOut = yield* Effect.flip(Effect.scoped(Effect.flatMap(
        NexusSocket.makeWebSocket(`ws://127.0.0.1:${silent.port}/`, { openTimeout: "150 millis" }),
        (s) => s.reader
      )))
      assert.deepStrictEqual(shape(timedOut), { _tag: "SocketOpenError", kind: "Timeout" })
      assert.strictEqual(timedOut.message, `timeout waiting for "open"`)
    }))

  it.live("writes strings as text and bytes as binary; a write before the reader waits for the connection", () =>
    Effect.gen(function*() {
      recorded.length = 0
      const socket = yield* nexus("/record")
      const writer = yield* socket.writer
      const early = yield* Effect.forkChild(writer.write("before the connection"))
      yield* Effect.sleep("20 millis")
      assert.isUndefined(early.pollUnsafe())
      yield* Effect.scoped(Effect.gen(function*() {
        yield* socket.reader
        yield* Fiber.join(early)
        yield* writer.writeAll(["text", new Uint8Array([9, 8, 7]), "last"])
        yield* Effect.promise(() => until(() => recorded.length === 4))
      }))
      assert.deepStrictEqual(recorded, [
        { data: "before the connection", binary: false },
        { data: "text", binary: false },
        { data: [9, 8, 7], binary: true },
        { data: "last", binary: false }
      ])
    }))

  it.live("a CloseEvent runs the closing handshake: the reader fails with the echoed code, the peer saw ours", () =>
    Effect.gen(function*() {
      const socket = yield* nexus("/echo?id=close-event")
      const result = yield* Effect.scoped(Effect.gen(function*() {
        const reader = yield* socket.reader
        const writer = yield* socket.writer
        yield* writer.write("ping")
        const echoed = yield* reader.pull
        yield* writer.write(new Socket.CloseEvent(4000, "done"))
        return { echoed, error: yield* Effect.flip(reader.pull) }
      }))
      assert.deepStrictEqual(result.echoed, ["ping"])
      assert.deepStrictEqual(shape(result.error), { _tag: "SocketCloseError", code: 4000, closeReason: "done" })
      yield* Effect.promise(() => until(() => closes.has("close-event")))
      assert.deepStrictEqual(closes.get("close-event"), { code: 4000, reason: "done" })
      // a close code no close frame may carry is a write error, and nothing is sent
      const bad = yield* Effect.scoped(Effect.gen(function*() {
        yield* socket.reader
        const writer = yield* socket.writer
        return yield* Effect.flip(writer.write(new Socket.CloseEvent(1006)))
      }))
      assert.strictEqual(bad.reason._tag, "SocketWriteError")
      const invalid = (bad.reason as Socket.SocketWriteError).cause as WebSocket.WebSocketError
      assert.deepStrictEqual(invalid.reason, new WebSocket.InvalidMessage({ detail: "close code 1006 may not be sent" }))
    }))

  it.live("closing the reader's scope fails a parked pull with 1006 and closes the connection with 1000", () =>
    Effect.gen(function*() {
      const socket = yield* nexus("/echo?id=scope")
      const scope = yield* Scope.make()
      const reader = yield* Scope.provide(socket.reader, scope)
      const parked = yield* Effect.forkChild(reader.pull)
      yield* Effect.sleep("20 millis")
      yield* Scope.close(scope, Exit.void)
      const error = yield* Effect.flip(Fiber.join(parked))
      assert.deepStrictEqual(shape(error), { _tag: "SocketCloseError", code: 1006, closeReason: "" })
      yield* Effect.promise(() => until(() => closes.has("scope")))
      assert.deepStrictEqual(closes.get("scope"), { code: 1000, reason: "" })
    }))

  it.live("with a 1-byte highWaterMark every message still arrives, in order, in batches no pull asked twice for", () =>
    Effect.gen(function*() {
      const n = 3000
      for (const highWaterMark of [1, undefined]) {
        const { items, error } = yield* readToEnd(yield* nexus(`/flood?n=${n}`, { highWaterMark }))
        assert.strictEqual(items.length, n)
        items.forEach((item, i) => assert.deepStrictEqual(item, new Array(100).fill(i & 0xff)))
        assert.deepStrictEqual(shape(error), { _tag: "SocketCloseError", code: 1000, closeReason: "" })
      }
    }))

  it.live("runs Socket.toChannel unchanged: an echo through the channel, ended by the peer's close", () =>
    Effect.gen(function*() {
      const socket = yield* nexus("/echo")
      const out = Stream.make("one", new Uint8Array([2]), "three", new Socket.CloseEvent(1000)).pipe(
        Stream.pipeThroughChannel(Socket.toChannel(socket))
      )
      const got: Array<Array<number>> = []
      const exit = yield* Effect.exit(Stream.runForEach(out, (bytes) => Effect.sync(() => void got.push([...bytes]))))
      assert.deepStrictEqual(got, [[...Buffer.from("one")], [2], [...Buffer.from("three")]])
      assert.deepStrictEqual(
        exit,
        Exit.fail(new Socket.SocketError({ reason: new Socket.SocketCloseError({ code: 1000, closeReason: "" }) }))
      )
    }))

  it.live("layerWebSocket provides Socket.Socket for code written against Effect's interface", () =>
    Effect.gen(function*() {
      const program = Effect.gen(function*() {
        const socket = yield* Socket.Socket
        return yield* readToEnd(socket)
      })
      const ours = yield* Effect.provide(program, NexusSocket.layerWebSocket(url("/script")))
      const theirs = yield* Effect.provide(
        program,
        Socket.layerWebSocket(url("/script")).pipe(Layer.provide(NodeSocket.layerWebSocketConstructorWS))
      )
      assert.deepStrictEqual(ours.items, theirs.items)
      assert.deepStrictEqual(shape(ours.error), shape(theirs.error))
    }))
})

/** Resolves once `ready()` holds (checked every 5 ms). */
const until = (ready: () => boolean): Promise<void> =>
  new Promise((resolve) => {
    const check = () => (ready() ? resolve() : setTimeout(check, 5))
    check()
  })
