import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as net from "node:net"
import { readdirSync } from "node:fs"
import * as ReadBuf from "../../src/Codec/ReadBuf.ts"
import * as HttpServe from "../../src/Transport/HttpServe.ts"
import * as Listener from "../../src/Transport/Listener.ts"
import * as Tcp from "../../src/Transport/Tcp.ts"
import { ListenError, type Transport, TransportError } from "../../src/Transport/Transport.ts"
import { utf8 } from "../support/bytes.ts"
import { eventually } from "../support/ourServer.ts"

const openFds = () => readdirSync("/proc/self/fd").length

/** Reads until the peer ends the stream; returns everything as text. */
const readToEnd = (transport: Transport) =>
  Effect.gen(function*() {
    const buf = ReadBuf.make({ capacity: 64 * 1024 })
    while ((yield* transport.read(buf)) > 0) {}
    return new TextDecoder().decode(buf.data())
  })

/** An echo handler: everything read goes back; ends (half-closing) when the client ends. */
const echo = (transport: Transport) =>
  Effect.gen(function*() {
    const buf = ReadBuf.make({ capacity: 4096 })
    for (;;) {
      buf.clear()
      const n = yield* transport.read(buf)
      if (n === 0) return yield* transport.end()
      yield* transport.write(buf.data().slice())
    }
  })

/** A raw client socket that resolves once closed, with everything it received. */
const rawClient = (port: number, send?: string) =>
  new Promise<{ socket: net.Socket; closed: Promise<string> }>((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1", allowHalfOpen: false })
    let text = ""
    socket.on("data", (chunk) => (text += chunk.toString()))
    socket.on("error", () => {})
    const closed = new Promise<string>((done) => socket.on("close", () => done(text)))
    socket.once("connect", () => {
      if (send !== undefined) socket.end(send)
      resolve({ socket, closed })
    })
    socket.once("error", reject)
  })

describe("Listener", () => {
  it.live("busyPoll reaches the accepted connections: the event loop polls while a handler's read waits, and sleeps without it", () =>
    Effect.gen(function*() {
      /** The event loop's utilization while a connected client stays silent for 60 ms and the handler reads. */
      const waiting = (options: Listener.Options) =>
        Effect.scoped(Effect.gen(function*() {
          const reading = yield* Deferred.make<void>()
          const listener = yield* Listener.listen((transport) =>
            Effect.andThen(Deferred.succeed(reading, undefined), transport.read(ReadBuf.make())), options)
          const client = yield* Effect.promise(() => rawClient(listener.port))
          yield* Deferred.await(reading)
          const before = performance.eventLoopUtilization()
          yield* Effect.sleep("60 millis")
          const busy = performance.eventLoopUtilization(before).utilization
          client.socket.destroy()
          return busy
        }))
      assert.isAbove(yield* waiting({ busyPoll: "10 seconds" }), 0.7)
      assert.isBelow(yield* waiting({}), 0.3)
    }))

  it.live("runs the handler for every connection in its own fiber, and counts them", () =>
    Effect.scoped(Effect.gen(function*() {
      const listener = yield* Listener.listen(echo)
      assert.strictEqual(listener.address, `127.0.0.1:${listener.port}`)
      const answers = yield* Effect.forEach(
        ["one", "two", "three"],
        (text) =>
          Effect.scoped(Effect.gen(function*() {
            const transport = yield* Tcp.connect({ host: "127.0.0.1", port: listener.port })
            yield* transport.write(utf8(text))
            yield* transport.end()
            return yield* readToEnd(transport)
          })),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(answers, ["one", "two", "three"])
      yield* eventually(() => listener.open === 0)
      assert.deepStrictEqual(
        { accepted: listener.accepted, refused: listener.refused, failed: listener.failed, acceptErrors: listener.acceptErrors },
        { accepted: 3, refused: 0, failed: 0, acceptErrors: 0 }
      )
    })))

  it.live("destroys connections over maxConnections on arrival, before the handler sees them", () =>
    Effect.scoped(Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      const listener = yield* Listener.listen(() => Deferred.await(release), { maxConnections: 2 })
      const held = yield* Effect.promise(() => Promise.all([rawClient(listener.port), rawClient(listener.port)]))
      yield* eventually(() => listener.open === 2)
      const third = yield* Effect.promise(() => rawClient(listener.port))
      assert.strictEqual(yield* Effect.promise(() => third.closed), "")
      assert.deepStrictEqual({ open: listener.open, accepted: listener.accepted, refused: listener.refused }, {
        open: 2,
        accepted: 2,
        refused: 1
      })
      yield* Deferred.succeed(release, undefined)
      // the handlers ended: their sockets are destroyed, the clients see the close
      yield* Effect.promise(() => Promise.all(held.map((client) => client.closed)))
      yield* eventually(() => listener.open === 0)
    })))

  it.live("fails with ListenError AddressInUse when the port is taken (and leaks no descriptor)", () =>
    Effect.scoped(Effect.gen(function*() {
      const first = yield* Listener.listen(echo)
      const before = openFds()
      const error = yield* Effect.flip(Effect.scoped(Listener.listen(echo, { port: first.port })))
      assert.isTrue(error instanceof TransportError)
      assert.instanceOf(error.reason, ListenError)
      assert.deepStrictEqual(
        { tag: error.reason._tag, address: error.address, operation: error.reason.operation, kind: error.reason.kind },
        { tag: "ListenError", address: `127.0.0.1:${first.port}`, operation: "listen", kind: "AddressInUse" }
      )
      assert.strictEqual(error.message, `transport 127.0.0.1:${first.port}: listen failed: address already in use (listen EADDRINUSE: address already in use 127.0.0.1:${first.port})`)
      assert.strictEqual(openFds(), before)
    })))

  it.live("with reusePort, two listeners share one port", () =>
    Effect.scoped(Effect.gen(function*() {
      const first = yield* Listener.listen(echo, { reusePort: true })
      const second = yield* Listener.listen(echo, { reusePort: true, port: first.port })
      assert.strictEqual(second.port, first.port)
      const answers = yield* Effect.forEach(
        Array.from({ length: 8 }, (_, i) => `m${i}`),
        (text) => Effect.promise(() => rawClient(first.port, text).then((client) => client.closed)),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(answers, Array.from({ length: 8 }, (_, i) => `m${i}`))
      assert.strictEqual(first.accepted + second.accepted, 8)
    })))

  it.live("closing the scope stops accepting, interrupts every handler, destroys its socket and closes the descriptors", () =>
    Effect.gen(function*() {
      const before = openFds()
      const scope = yield* Scope.make()
      const finalized: Array<string> = []
      const listener = yield* Scope.provide(
        Listener.listen(() => Effect.addFinalizer(() => Effect.sync(() => finalized.push("handler"))).pipe(Effect.andThen(Effect.never))),
        scope
      )
      const clients = yield* Effect.promise(() => Promise.all(Array.from({ length: 5 }, () => rawClient(listener.port))))
      yield* eventually(() => listener.open === 5)
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(finalized, ["handler", "handler", "handler", "handler", "handler"])
      assert.deepStrictEqual(yield* Effect.promise(() => Promise.all(clients.map((client) => client.closed))), ["", "", "", "", ""])
      const refused = yield* Effect.flip(Effect.scoped(Tcp.connect({ host: "127.0.0.1", port: listener.port })))
      assert.strictEqual(refused.reason._tag, "ConnectError")
      assert.strictEqual(listener.failed, 0)
      yield* eventually(() => openFds() === before)
    }))

  it.live("counts a handler's failure and goes on serving", () =>
    Effect.scoped(Effect.gen(function*() {
      let n = 0
      const listener = yield* Listener.listen((transport): Effect.Effect<void, TransportError | string> =>
        ++n === 1 ? Effect.fail("boom") : echo(transport)
      )
      const first = yield* Effect.promise(() => rawClient(listener.port, "x").then((client) => client.closed))
      const second = yield* Effect.promise(() => rawClient(listener.port, "y").then((client) => client.closed))
      assert.deepStrictEqual([first, second], ["", "y"])
      assert.strictEqual(listener.failed, 1)
    })))
})

describe("HttpServe.listen", () => {
  it.live("serves HTTP/1.1 keep-alive on the listener, numbering connections from 1", () =>
    Effect.scoped(Effect.gen(function*() {
      const listener = yield* HttpServe.listen((request) =>
        Effect.succeed({ status: 200, body: `${request.connection} ${request.method} ${request.target}` })
      )
      const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`
      const first = yield* Effect.promise(() => rawClient(listener.port, get("/a") + get("/b")).then((c) => c.closed))
      const second = yield* Effect.promise(() => rawClient(listener.port, get("/c")).then((c) => c.closed))
      const answer = (body: string) => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`
      assert.deepStrictEqual([first, second], [answer("1 GET /a") + answer("1 GET /b"), answer("2 GET /c")])
    })))
})

describe("HttpServe.listen, the last answer", () => {
  /**
   * A client that pipelines two requests, half-closes, and reads slowly (a pause after every
   * chunk), as `printf ... | nc` behind a slow link does; resolves with the bytes it got.
   */
  const slowPipelined = (port: number, requests: string) =>
    new Promise<number>((resolve) => {
      const socket = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true })
      let received = 0
      socket.on("data", (chunk) => {
        received += chunk.length
        socket.pause()
        setTimeout(() => socket.resume(), 3)
      })
      socket.on("error", () => {})
      socket.on("close", () => resolve(received))
      socket.once("connect", () => socket.end(requests))
    })

  it.live("reaches a client that half-closed after its requests, even when the socket's buffer still held it as the handler returned", () =>
    Effect.scoped(Effect.gen(function*() {
      // more than the loopback's kernel buffers take, so the first answer waits for 'drain';
      // the second (under Node's 64 KiB high-water mark) is queued behind a full kernel buffer
      const big = "a".repeat(8 * 1024 * 1024)
      const small = "b".repeat(60_000)
      const listener = yield* HttpServe.listen((request) =>
        Effect.succeed({ status: 200, body: request.target === "/big" ? big : small })
      )
      const answer = (body: string) => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`.length + body.length
      const expected = answer(big) + answer(small)
      const requests = "GET /big HTTP/1.1\r\nHost: x\r\n\r\nGET /small HTTP/1.1\r\nHost: x\r\n\r\n"
      // whether the kernel buffer is full at that moment is timing: try until it was (a few
      // rounds before the fix), or 200 times
      for (let round = 0; round < 40; round++) {
        const got = yield* Effect.promise(() => Promise.all(Array.from({ length: 5 }, () => slowPipelined(listener.port, requests))))
        assert.deepStrictEqual(got, got.map(() => expected), `round ${round}`)
      }
    })), { timeout: 60_000 })
})
