import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as net from "node:net"
import WS from "ws"
import * as FrameReader from "../../src/Codec/FrameReader.ts"
import * as FrameWriter from "../../src/Codec/FrameWriter.ts"
import type { SocketTransport } from "../../src/Transport/SocketTransport.ts"
import * as Tcp from "../../src/Transport/Tcp.ts"
import * as WebSocketServer from "../../src/Transport/WebSocketServer.ts"
import { serve } from "../support/netServer.ts"

/** A peer that keeps every byte it receives; `bytes(n)` resolves once `n` have arrived. */
const collector = () => {
  const chunks: Array<Buffer> = []
  let total = 0
  const waits: Array<{ n: number; wake: () => void }> = []
  const onSocket = (socket: net.Socket) =>
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk)
      total += chunk.length
      for (const w of waits.filter((w) => total >= w.n)) w.wake()
    })
  const bytes = (n: number) =>
    Effect.promise(() =>
      new Promise<Buffer>((resolve) => {
        const done = () => resolve(Buffer.concat(chunks))
        if (total >= n) done()
        else waits.push({ n, wake: done })
      })
    )
  return { onSocket, bytes }
}

/** Where each region made by {@link regions} sits: its slab and offset. */
const slabOf = new WeakMap<Uint8Array, { readonly slab: Buffer; readonly start: number }>()

/** `count` frames of `size` bytes encoded back to back into one slab, each as its own region. */
const regions = (count: number, size: number): Array<Buffer> => {
  const slab = Buffer.allocUnsafeSlow(count * size)
  return Array.from({ length: count }, (_, i) => {
    const region = slab.subarray(i * size, (i + 1) * size).fill(i & 0xff)
    slabOf.set(region, { slab, start: i * size })
    return region
  })
}

/** `transport.writeNow` of `bytes`: a region of {@link regions} as its slab range, else the whole buffer. */
const put = (transport: SocketTransport, bytes: Buffer) => {
  const at = slabOf.get(bytes)
  return at === undefined
    ? transport.writeNow(bytes, 0, bytes.length)
    : transport.writeNow(at.slab, at.start, at.start + bytes.length)
}

/** Counts the `socket.write` calls of a transport's socket (the writes Node's stream is handed). */
const countWrites = (transport: SocketTransport): { readonly calls: number } => {
  const socket = transport.socket!
  const counter = { calls: 0 }
  const write = socket.write.bind(socket) as (...args: Array<unknown>) => boolean
  socket.write = ((...args: Array<unknown>) => {
    counter.calls++
    return write(...args)
  }) as typeof socket.write
  return counter
}

/** A ws client whose socket is paused until `resume()`; its messages in order. */
const pausedClient = (port: number) =>
  Effect.promise(() =>
    new Promise<{ client: WS; messages: Array<Buffer>; resume: () => void; received: (n: number) => Promise<void> }>(
      (resolve, reject) => {
        const client = new WS(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false, maxPayload: 64 << 20 })
        const messages: Array<Buffer> = []
        const waits: Array<{ n: number; wake: () => void }> = []
        client.on("message", (data: Buffer) => {
          messages.push(data)
          for (const w of waits.filter((w) => messages.length >= w.n)) w.wake()
        })
        client.once("open", () => {
          const socket = (client as unknown as { _socket: net.Socket })._socket
          socket.pause()
          resolve({
            client,
            messages,
            resume: () => socket.resume(),
            received: (n) => new Promise((wake) => messages.length >= n ? wake() : waits.push({ n, wake }))
          })
        })
        client.once("error", reject)
      }
    )
  )

describe("SocketTransport.writeNow", () => {
  it.live("writes the first of a tick at once and the rest, adjacent in memory, as one region when the tick ends", () =>
    Effect.gen(function*() {
      const peer = collector()
      const server = yield* serve(peer.onSocket)
      const transport = (yield* Tcp.connect({ host: "127.0.0.1", port: server.port })) as SocketTransport
      const writes = countWrites(transport)
      const frames = regions(16, 100)
      // one tick: every call returns undefined (accepted, nothing to wait for)
      const results = yield* Effect.sync(() => frames.map((f) => put(transport, f)))
      assert.deepStrictEqual(results, frames.map(() => undefined))
      assert.strictEqual(writes.calls, 1)
      const got = yield* peer.bytes(1600)
      assert.strictEqual(writes.calls, 2)
      assert.isTrue(got.equals(Buffer.concat(frames)))
      assert.strictEqual(transport.bytesWritten, 1600)
    }))

  it.live("keeps the order of the calls across held bytes, other memory and a plain write", () =>
    Effect.gen(function*() {
      const peer = collector()
      const server = yield* serve(peer.onSocket)
      const transport = (yield* Tcp.connect({ host: "127.0.0.1", port: server.port })) as SocketTransport
      const [a, b, c] = regions(3, 10)
      const other = Buffer.alloc(10, 0xee)
      yield* Effect.sync(() => {
        put(transport, a!)
        put(transport, b!)
        put(transport, other)
        put(transport, c!)
      })
      yield* transport.write(Buffer.from("end"))
      const got = yield* peer.bytes(43)
      assert.isTrue(got.equals(Buffer.concat([a!, b!, other, c!, Buffer.from("end")])))
    }))

  it.live("sends the held bytes before a destroy in the same tick", () =>
    Effect.gen(function*() {
      const peer = collector()
      const server = yield* serve(peer.onSocket)
      const transport = (yield* Tcp.connect({ host: "127.0.0.1", port: server.port })) as SocketTransport
      const frames = regions(4, 50)
      yield* Effect.sync(() => {
        for (const f of frames) put(transport, f)
        transport.destroyNow()
      })
      const got = yield* peer.bytes(200)
      assert.isTrue(got.equals(Buffer.concat(frames)))
    }))

  it.live("writes the held bytes at once when they reach the high-water mark", () =>
    Effect.gen(function*() {
      const peer = collector()
      const server = yield* serve(peer.onSocket)
      const transport =
        (yield* Tcp.connect({ host: "127.0.0.1", port: server.port, writeHighWaterMark: 1024 })) as SocketTransport
      const writes = countWrites(transport)
      const frames = regions(12, 100)
      const calls = yield* Effect.sync(() =>
        frames.map((f) => {
          put(transport, f)
          return writes.calls
        })
      )
      // the first goes straight out; the ones held behind it reach 1024 bytes with the 12th
      assert.deepStrictEqual(calls, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2])
      const got = yield* peer.bytes(1200)
      assert.isTrue(got.equals(Buffer.concat(frames)))
    }))

  it.live("has the caller wait for 'drain' while the socket's buffer is full, as write does", () =>
    Effect.gen(function*() {
      const peer = collector()
      const server = yield* serve((socket) => {
        socket.pause()
        peer.onSocket(socket)
      })
      const transport =
        (yield* Tcp.connect({ host: "127.0.0.1", port: server.port, writeHighWaterMark: 1024 })) as SocketTransport
      // more than loopback's socket buffers hold while the peer does not read
      const big = Buffer.alloc(16 << 20, 1)
      const frames = regions(3, 100)
      const waits = yield* Effect.sync(() => [big, ...frames].map((f) => put(transport, f)))
      assert.deepStrictEqual(waits.map((w) => w !== undefined), [true, true, true, true])
      const accepted = yield* Effect.forkChild(Effect.all(waits as Array<Effect.Effect<void, unknown>>))
      const socket = yield* Effect.promise(() => server.connected(1))
      socket.resume()
      yield* Fiber.join(accepted)
      const got = yield* peer.bytes(big.length + 300)
      assert.isTrue(got.equals(Buffer.concat([big, ...frames])))
    }))
})

describe("WebSocket server send of a payload larger than the send slab", () => {
  it.live("completes only once the socket let go of it: changing the payload after the send does not change what the client receives", () =>
    Effect.gen(function*() {
      // 16 MiB is more than loopback's socket buffers take while the client is paused, so the
      // send has to wait for the client to read; the payload is then changed and sent again
      const payload = Buffer.alloc(16 << 20, 0x61)
      const sent: Array<string> = []
      const server = yield* WebSocketServer.serve((socket) =>
        Effect.gen(function*() {
          yield* socket.sendBinary(payload)
          sent.push("first")
          payload.fill(0x62)
          yield* socket.sendBinary(payload)
          sent.push("second")
          yield* socket.recv
        }), { port: 0, host: "127.0.0.1", heartbeat: false })
      const peer = yield* pausedClient(server.port)
      // the first send cannot have completed: the client has read nothing
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 50)))
      assert.deepStrictEqual(sent, [])
      peer.resume()
      yield* Effect.promise(() => peer.received(2))
      assert.deepStrictEqual(sent, ["first", "second"])
      assert.strictEqual(peer.messages[0]!.length, 16 << 20)
      assert.isTrue(peer.messages[0]!.every((b) => b === 0x61))
      assert.isTrue(peer.messages[1]!.every((b) => b === 0x62))
      peer.client.close()
    }))

  it.live("keeps its place between small sends from the same and other fibers", () =>
    Effect.gen(function*() {
      const big = Buffer.alloc(100_000, 0x42)
      const server = yield* WebSocketServer.serve((socket) =>
        Effect.gen(function*() {
          const other = yield* Effect.forkChild(socket.sendText("other fiber"))
          yield* socket.sendText("before")
          yield* socket.sendBinary(big)
          yield* socket.sendText("after")
          yield* Fiber.join(other)
          yield* socket.recv
        }), { port: 0, host: "127.0.0.1", heartbeat: false })
      const peer = yield* pausedClient(server.port)
      peer.resume()
      yield* Effect.promise(() => peer.received(4))
      const texts = peer.messages.map((m) => m.length === big.length ? "big" : m.toString())
      assert.deepStrictEqual(texts.filter((t) => t !== "other fiber"), ["before", "big", "after"])
      assert.isTrue(peer.messages[texts.indexOf("big")]!.equals(big))
      peer.client.close()
    }))
})

describe("WebSocket server sends through the send slab", () => {
  it.live("deliver every frame intact whether the slab is reused (a reading client) or replaced (a paused one)", () =>
    Effect.gen(function*() {
      // 3000 B frames: two fit an 8 KiB slab, so every third send needs the next slab
      const message = (i: number) => Buffer.alloc(3000, i & 0xff)
      const count = 300
      const server = yield* WebSocketServer.serve((socket) =>
        Effect.gen(function*() {
          for (let i = 0; i < count; i++) {
            yield* socket.sendBinary(message(i))
            // every 50 sends, let the client read (the socket empties and the slab may be reused)
            if (i % 50 === 49) yield* Effect.promise(() => new Promise((r) => setTimeout(r, 5)))
          }
          yield* socket.recv
        }), { port: 0, host: "127.0.0.1", heartbeat: false })
      const peer = yield* pausedClient(server.port)
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 20)))
      peer.resume()
      yield* Effect.promise(() => peer.received(count))
      for (let i = 0; i < count; i++) assert.isTrue(peer.messages[i]!.equals(message(i)), `message ${i}`)
      peer.client.close()
    }))
})

describe("FrameWriter.encodeHeaderInto", () => {
  it("writes the header a whole frame would start with, for every length form", () => {
    const writer = FrameWriter.make({ role: "server" })
    for (const n of [0, 125, 126, 65535, 65536]) {
      const payload = Buffer.alloc(n, 7)
      const whole = Buffer.alloc(n + 10)
      const total = writer.encodeInto(whole, 0, FrameWriter.Kind.Binary, payload) as number
      const header = Buffer.alloc(10)
      const h = writer.encodeHeaderInto(header, 0, FrameWriter.Kind.Binary, n)
      assert.strictEqual(h, total - n)
      assert.isTrue(header.subarray(0, h as number).equals(whole.subarray(0, total - n)))
      const reader = FrameReader.make({ role: "client" })
      reader.feed(Buffer.concat([header.subarray(0, h as number), payload]))
      const m = reader.next()
      assert.deepStrictEqual([m._tag, "payload" in m ? m.payload.length : -1], ["Binary", n])
    }
  })

  it("returns BufferTooSmall when the header does not fit, and refuses the client role", () => {
    const writer = FrameWriter.make({ role: "server" })
    assert.deepStrictEqual(writer.encodeHeaderInto(Buffer.alloc(3), 0, FrameWriter.Kind.Text, 200), {
      _tag: "BufferTooSmall",
      needed: 4,
      available: 3,
      message: "the frame needs 4 bytes but only 3 are available"
    })
    const client = FrameWriter.make({ role: "client", maskSource: { next: () => {} } })
    assert.throws(() => client.encodeHeaderInto(Buffer.alloc(14), 0, FrameWriter.Kind.Binary, 10), RangeError)
  })
})
