import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { TestClock } from "effect/testing"
import * as net from "node:net"
import * as ReadBuf from "../../src/Codec/ReadBuf.ts"
import { SocketTransport } from "../../src/Transport/SocketTransport.ts"
import * as Tcp from "../../src/Transport/Tcp.ts"
import { ReadError, Transport, TransportClosed } from "../../src/Transport/Transport.ts"
import { blackHole } from "../support/blackHole.ts"
import { serve } from "../support/netServer.ts"
import { executable, freePort } from "../support/peers.ts"

// Every socket in this file talks to 127.0.0.1; name resolution is stubbed, never sent anywhere.

const echo = (socket: net.Socket) => {
  socket.on("data", (chunk) => socket.write(chunk))
  socket.on("end", () => socket.end())
}

const text = (buf: ReadBuf.ReadBuf) => buf.data().toString("latin1")

const readAll = (transport: Transport, buf: ReadBuf.ReadBuf, n: number) =>
  Effect.gen(function*() {
    while (buf.length < n) {
      if ((yield* transport.read(buf)) === 0) break
    }
    return text(buf)
  })

/** A free port: listen, note the port, close. Nothing listens there afterwards. */
const closedPort = Effect.promise(freePort)

describe("Tcp", () => {
  it.live("connects over loopback and echoes bytes, counting what it wrote and read", () =>
    Effect.gen(function*() {
      const server = yield* serve(echo)
      const transport = yield* Tcp.connect({ host: "127.0.0.1", port: server.port })
      assert.strictEqual(transport.remoteAddress, `127.0.0.1:${server.port}`)
      yield* transport.write(Buffer.from("hello "))
      yield* transport.writev([Buffer.from("wor"), Buffer.from("ld")])
      assert.strictEqual(yield* readAll(transport, ReadBuf.make(), 11), "hello world")
      assert.deepStrictEqual([transport.bytesWritten, transport.bytesRead], [11, 11])
    }))

  it.live("connections sharing the process's read chunk each get exactly their own bytes, read now or later", () =>
    Effect.gen(function*() {
      // four servers stream 1 MiB of distinct patterns; two clients read as bytes arrive, two
      // only after everything has landed in their inboxes (the chunk was reused in between)
      const pattern = (seed: number) => Buffer.from(Array.from({ length: 1 << 20 }, (_, i) => (i * 7 + seed * 31) & 0xff))
      const expected = [1, 2, 3, 4].map(pattern)
      const servers = yield* Effect.forEach(expected, (bytes) => serve((socket) => socket.end(bytes)))
      const transports = yield* Effect.forEach(servers, (server) =>
        Tcp.connect({ host: "127.0.0.1", port: server.port, readHighWaterMark: 2 << 20 }))
      const readEager = (transport: Transport) => readAll(transport, ReadBuf.make({ capacity: 1024, maxCapacity: 2 << 20 }), 1 << 20)
      const eager = yield* Effect.all([readEager(transports[0]!), readEager(transports[1]!)], { concurrency: 2 })
      yield* Effect.sleep("100 millis")
      const late = yield* Effect.all([readEager(transports[2]!), readEager(transports[3]!)], { concurrency: 2 })
      const got = [...eager, ...late].map((latin1) => Buffer.from(latin1, "latin1"))
      got.forEach((bytes, i) => assert.isTrue(bytes.equals(expected[i]!), `connection ${i} got its own bytes`))
    }))

  it.live("completes a read synchronously when bytes are already buffered", () =>
    Effect.gen(function*() {
      const server = yield* serve(echo)
      const transport = yield* Tcp.connect({ host: "127.0.0.1", port: server.port })
      yield* transport.write(Buffer.from("abcdef"))
      const small = ReadBuf.make({ capacity: 2 })
      assert.strictEqual(yield* readAll(transport, small, 2), "ab")
      // wait until the echo is fully in (read more through a second buffer), then check sync
      const rest = ReadBuf.make({ capacity: 1 })
      assert.strictEqual(yield* transport.read(rest), 1)
      const buf = ReadBuf.make({ capacity: 16 })
      const exit = Effect.runSyncExit(transport.read(buf))
      assert.deepStrictEqual(exit, Exit.succeed(3))
      assert.strictEqual(text(buf), "def")
    }))

  it.live("busyPoll keeps the event loop polling while a read waits, for at most its budget, and stops once the read is answered or interrupted; off by default", () =>
    Effect.gen(function*() {
      // each byte comes back 80 ms after it was sent
      const server = yield* serve((socket) => socket.on("data", (chunk) => setTimeout(() => socket.write(chunk), 80)))
      /** The event loop's utilization (`performance.eventLoopUtilization`) over `effect`: ~1 while it polls, ~0 while it sleeps. */
      const utilization = <A, E>(effect: Effect.Effect<A, E>) =>
        Effect.gen(function*() {
          const before = performance.eventLoopUtilization()
          yield* effect
          return performance.eventLoopUtilization(before).utilization
        })
      /** One echo awaited with `busyPoll`: the loop's utilization during the wait. */
      const wait = (busyPoll: Duration.Input | undefined) =>
        Effect.scoped(Effect.gen(function*() {
          const transport = yield* Tcp.connect({ host: "127.0.0.1", port: server.port, busyPoll })
          yield* transport.write(Buffer.from("x"))
          const buf = ReadBuf.make()
          const busy = yield* utilization(transport.read(buf))
          assert.strictEqual(text(buf), "x")
          return busy
        }))
      assert.isBelow(yield* wait(undefined), 0.3, "off: the loop sleeps in the poll")
      assert.isAbove(yield* wait("10 seconds"), 0.7, "on: it polls the whole wait")
      assert.isBelow(yield* wait("10 millis"), 0.5, "a 10 ms budget of an 80 ms wait")
      const idle = utilization(Effect.sleep("60 millis"))
      // answered: no read waits, so the polling ended with it
      const transport = yield* Tcp.connect({ host: "127.0.0.1", port: server.port, busyPoll: "10 seconds" })
      yield* transport.write(Buffer.from("y"))
      yield* transport.read(ReadBuf.make())
      assert.isBelow(yield* idle, 0.3, "after an answered read")
      // interrupted while it waits: the polling ends with the wait
      const reader = yield* Effect.forkChild(transport.read(ReadBuf.make()))
      yield* Effect.sleep("10 millis")
      yield* Fiber.interrupt(reader)
      assert.isBelow(yield* idle, 0.3, "after an interrupted read")
      // two reads polling at once: the polling lasts until the later one is answered
      const early = yield* serve((socket) => socket.on("data", (chunk) => setTimeout(() => socket.write(chunk), 10)))
      const both = yield* Effect.forEach([early.port, server.port], (port) =>
        Tcp.connect({ host: "127.0.0.1", port, busyPoll: "10 seconds" }))
      yield* Effect.forEach(both, (t) => t.write(Buffer.from("z")), { discard: true })
      const busy = yield* utilization(Effect.forEach(both, (t) => t.read(ReadBuf.make()), { concurrency: 2 }))
      assert.isAbove(busy, 0.7, "two reads, answered 10 ms and 80 ms later")
    }))

  it.live("readBuffered hands over the inbox without an Effect, and 0 when only read can answer", () =>
    Effect.gen(function*() {
      const server = yield* serve((socket) => socket.once("data", () => socket.end("abcdef")))
      const transport = yield* Tcp.connect({ host: "127.0.0.1", port: server.port })
      const first = ReadBuf.make({ capacity: 4 })
      // nothing has arrived yet
      assert.strictEqual(transport.readBuffered!(first), 0)
      yield* transport.write(Buffer.from("go"))
      // the parked read takes what fits; the rest waits in the inbox
      yield* readAll(transport, first, 1)
      while ((transport as SocketTransport).buffered < 6 - first.length) yield* Effect.sleep("1 millis")
      const full = ReadBuf.make({ capacity: 1 })
      full.filled(1)
      assert.strictEqual(transport.readBuffered!(full), 0)
      const rest = ReadBuf.make({ capacity: 16 })
      const before = transport.bytesRead
      const n = transport.readBuffered!(rest)
      assert.deepStrictEqual([n, text(first) + text(rest), transport.bytesRead - before], [6 - first.length, "abcdef", n])
      // the inbox is empty: the end of stream, and then the destroy, are read's to report
      while (transport.inboundState === "Open") yield* Effect.sleep("1 millis")
      assert.strictEqual(transport.readBuffered!(rest), 0)
      assert.strictEqual(yield* transport.read(rest), 0)
      yield* transport.destroy()
      assert.strictEqual(transport.readBuffered!(rest), 0)
      assert.deepStrictEqual((yield* Effect.flip(transport.read(rest))).reason, new TransportClosed({ operation: "read" }))
    }))

  it.live("grows the ReadBuf when allowed and fails with BufferFull when it is full at maxCapacity", () =>
    Effect.gen(function*() {
      const server = yield* serve(echo)
      const transport = yield* Tcp.connect({ host: "127.0.0.1", port: server.port })
      yield* transport.write(Buffer.alloc(100, 0x61))
      const growable = ReadBuf.make({ capacity: 8, maxCapacity: 256 })
      yield* readAll(transport, growable, 100)
      assert.strictEqual(growable.length, 100)
      assert.isTrue(growable.capacity >= 100)
      yield* transport.write(Buffer.from("xyz"))
      const full = ReadBuf.make({ capacity: 2 })
      yield* readAll(transport, full, 2)
      const error = yield* Effect.flip(transport.read(full))
      assert.deepStrictEqual([error.address, error.reason, error.message], [
        `127.0.0.1:${server.port}`,
        new ReadError({ kind: "BufferFull" }),
        `transport 127.0.0.1:${server.port}: read failed: the read buffer is full at its maximum capacity`
      ])
      // with nothing buffered, a full buffer fails at once instead of parking
      full.advance(2)
      yield* readAll(transport, full, 1)
      full.filled(full.spareLength)
      const early = yield* Effect.flip(transport.read(full))
      assert.deepStrictEqual(early.reason, new ReadError({ kind: "BufferFull" }))
    }))

  it.live("reads 0 (sticky) after the peer ends, while still able to write half-open", () =>
    Effect.gen(function*() {
      let received = ""
      const server = yield* serve((socket) => {
        socket.on("data", (chunk) => (received += chunk.toString()))
        socket.end("bye")
      })
      const transport = yield* Tcp.connect({ host: "127.0.0.1", port: server.port })
      const buf = ReadBuf.make()
      assert.strictEqual(yield* readAll(transport, buf, 4), "bye")
      assert.strictEqual(yield* transport.read(buf), 0)
      assert.strictEqual(yield* transport.read(buf), 0)
      yield* transport.write(Buffer.from("still here"))
      yield* transport.end()
      yield* Effect.promise(() => server.closed(1))
      assert.strictEqual(received, "still here")
    }))

  it.live("end() half-closes: the server sees EOF and its reply still arrives", () =>
    Effect.gen(function*() {
      const server = yield* serve((socket) => {
        let body = ""
        socket.on("data", (chunk) => (body += chunk.toString()))
        socket.on("end", () => socket.end(`got ${body}`))
      })
      const transport = yield* Tcp.connect({ host: "127.0.0.1", port: server.port })
      yield* transport.write(Buffer.from("request"))
      yield* transport.end()
      yield* transport.end()
      const error = yield* Effect.flip(transport.write(Buffer.from("more")))
      assert.deepStrictEqual(error.reason, new TransportClosed({ operation: "write" }))
      assert.strictEqual(yield* readAll(transport, ReadBuf.make(), 100), "got request")
    }))

  it.live("fails reads with ReadError kind Reset when the peer resets", () =>
    Effect.gen(function*() {
      const server = yield* serve((socket) => socket.once("data", () => socket.resetAndDestroy()))
      const transport = yield* Tcp.connect({ host: "127.0.0.1", port: server.port })
      yield* transport.write(Buffer.from("x"))
      const error = yield* Effect.flip(transport.read(ReadBuf.make()))
      assert.deepStrictEqual([error.reason._tag, error.reason._tag === "ReadError" && error.reason.kind], ["ReadError", "Reset"])
      assert.strictEqual(error.message, `transport 127.0.0.1:${server.port}: read failed: Reset (read ECONNRESET)`)
    }))

  it.live("fails reads and writes with TransportClosed after destroy", () =>
    Effect.gen(function*() {
      const server = yield* serve()
      const transport = yield* Tcp.connect({ host: "127.0.0.1", port: server.port })
      const parked = yield* Effect.forkChild(Effect.flip(transport.read(ReadBuf.make())))
      yield* Effect.yieldNow
      yield* transport.destroy()
      assert.deepStrictEqual((yield* Fiber.join(parked)).reason, new TransportClosed({ operation: "read" }))
      const error = yield* Effect.flip(transport.write(Buffer.from("x")))
      assert.deepStrictEqual([error.address, error.reason, error.message], [
        `127.0.0.1:${server.port}`,
        new TransportClosed({ operation: "write" }),
        `transport 127.0.0.1:${server.port}: write after the transport was closed locally`
      ])
      yield* Effect.promise(() => server.closed(1))
    }))

  it.live("fails with ConnectError kind Refused naming the address when nothing listens", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const error = yield* Effect.flip(Tcp.connect({ host: "127.0.0.1", port }))
      assert.deepStrictEqual([error.reason._tag, error.reason._tag === "ConnectError" && error.reason.kind, error.address], [
        "ConnectError",
        "Refused",
        `127.0.0.1:${port}`
      ])
      assert.strictEqual(
        error.message,
        `transport 127.0.0.1:${port}: connect failed: connection refused (connect ECONNREFUSED 127.0.0.1:${port})`
      )
    }))

  // A real lookup of a `.invalid` name would go to the configured resolver, which on this machine
  // is off loopback; the resolver is stubbed with dns.lookup's own NXDOMAIN error instead.
  it.live("fails with ConnectError kind DnsFailure when the name does not resolve", () =>
    Effect.gen(function*() {
      const lookup: net.LookupFunction = (hostname, _options, callback) => {
        const error = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
          code: "ENOTFOUND",
          hostname
        })
        process.nextTick(() => callback(error, "", 0))
      }
      const error = yield* Effect.flip(Tcp.connect({ host: "nexus-test.invalid", port: 80, lookup }))
      assert.deepStrictEqual([error.reason._tag, error.reason._tag === "ConnectError" && error.reason.kind, error.message], [
        "ConnectError",
        "DnsFailure",
        "transport nexus-test.invalid:80: connect failed: host name did not resolve (getaddrinfo ENOTFOUND nexus-test.invalid)"
      ])
    }))

  it.effect("fails with ConnectError kind Timeout once connectTimeout passes on the TestClock", () =>
    Effect.gen(function*() {
      // the stub never answers, so the dial hangs in name resolution without any traffic
      const lookup: net.LookupFunction = () => {}
      const fiber = yield* Effect.forkChild(
        Effect.flip(Effect.scoped(Tcp.connect({ host: "hang.invalid", port: 80, lookup, connectTimeout: "2 seconds" })))
      )
      yield* TestClock.adjust("1999 millis")
      assert.strictEqual(fiber.pollUnsafe(), undefined)
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(fiber)
      assert.deepStrictEqual([error.reason._tag, error.reason._tag === "ConnectError" && error.reason.kind, error.message], [
        "ConnectError",
        "Timeout",
        "transport hang.invalid:80: connect failed: timed out (no connection within 2s)"
      ])
    }))

  it.effect("without connectTimeout a dial that never completes fails after the default 10 s", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(Tcp.DEFAULT_CONNECT_TIMEOUT, Duration.seconds(10))
      const lookup: net.LookupFunction = () => {}
      const fiber = yield* Effect.forkChild(Effect.flip(Effect.scoped(Tcp.connect({ host: "hang.invalid", port: 80, lookup }))))
      yield* TestClock.adjust("9999 millis")
      assert.strictEqual(fiber.pollUnsafe(), undefined)
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(fiber)
      assert.deepStrictEqual([error.reason._tag, error.reason._tag === "ConnectError" && error.reason.kind, error.message], [
        "ConnectError",
        "Timeout",
        "transport hang.invalid:80: connect failed: timed out (no connection within 10s)"
      ])
    }))

  // A real black hole without leaving loopback: a listener that never accepts, whose accept queue
  // is full, so the kernel drops every further SYN and the connect would wait for the OS limit.
  it.live.skipIf(!executable("/usr/bin/python3"))("times out against a black-holed loopback address (a full accept queue)", () =>
    Effect.gen(function*() {
      const hole = yield* blackHole
      const error = yield* Effect.flip(Effect.scoped(Tcp.connect({ host: "127.0.0.1", port: hole.port, connectTimeout: "300 millis" })))
      assert.deepStrictEqual([error.reason._tag === "ConnectError" && error.reason.kind, error.address], [
        "Timeout",
        `127.0.0.1:${hole.port}`
      ])
      assert.include(error.message, "timed out (no connection within 300ms)")
    }))

  it.live("closing the scope destroys the socket after a successful connect", () =>
    Effect.gen(function*() {
      const server = yield* serve()
      yield* Effect.scoped(Tcp.connect({ host: "127.0.0.1", port: server.port }))
      yield* Effect.promise(() => server.closed(1))
      assert.strictEqual(server.sockets.length, 1)
    }))

  it.live("closing the scope destroys the socket when the scope fails after connecting", () =>
    Effect.gen(function*() {
      const server = yield* serve()
      const exit = yield* Effect.exit(Effect.scoped(Effect.andThen(
        Tcp.connect({ host: "127.0.0.1", port: server.port }),
        Effect.fail("boom")
      )))
      assert.deepStrictEqual(exit, Exit.fail("boom"))
      yield* Effect.promise(() => server.closed(1))
    }))

  it.live("closing the scope destroys the socket when a reader is interrupted", () =>
    Effect.gen(function*() {
      const server = yield* serve()
      const fiber = yield* Effect.forkChild(Effect.scoped(Effect.flatMap(
        Tcp.connect({ host: "127.0.0.1", port: server.port }),
        (transport) => transport.read(ReadBuf.make())
      )))
      yield* Effect.promise(() => server.connected(1))
      yield* Fiber.interrupt(fiber)
      yield* Effect.promise(() => server.closed(1))
    }))

  it.live("an interrupted dial never connects: the finalizer destroyed the socket first", () =>
    Effect.gen(function*() {
      let gotData: () => void = () => {}
      const data = new Promise<void>((resolve) => (gotData = resolve))
      const server = yield* serve((socket) => socket.on("data", gotData))
      let answer: (() => void) | undefined
      const lookup: net.LookupFunction = (_hostname, _options, callback) => {
        answer = () => (callback as (e: null, address: string, family: number) => void)(null, "127.0.0.1", 4)
      }
      const fiber = yield* Effect.forkChild(Effect.scoped(Tcp.connect({ host: "slow.test", port: server.port, lookup })))
      while (answer === undefined) yield* Effect.yieldNow
      yield* Fiber.interrupt(fiber)
      // the resolver answers late; a socket that was not destroyed would dial now
      answer()
      const transport = yield* Tcp.connect({ host: "127.0.0.1", port: server.port })
      yield* transport.write(Buffer.from("x"))
      yield* Effect.promise(() => data)
      assert.strictEqual(server.sockets.length, 1)
    }))

  it.live("write waits for the peer to read instead of buffering without bound", () =>
    Effect.gen(function*() {
      let peer: net.Socket | undefined
      let received = 0
      const server = yield* serve((socket) => {
        peer = socket
        socket.pause()
        socket.on("data", (chunk) => (received += chunk.length))
      })
      const transport = yield* Tcp.connect({ host: "127.0.0.1", port: server.port })
      // more than the loopback kernel buffers on both sides can hold
      const size = 32 * 1024 * 1024
      const writer = yield* Effect.forkChild(transport.write(Buffer.alloc(size)))
      yield* Effect.promise(() => server.connected(1))
      yield* Effect.sleep("100 millis")
      assert.strictEqual(writer.pollUnsafe(), undefined)
      assert.isBelow(received, size)
      peer!.resume()
      yield* Fiber.join(writer)
      assert.strictEqual(transport.bytesWritten, size)
    }))

  it.live("stops reading from the kernel once readHighWaterMark bytes wait unread", () =>
    Effect.gen(function*() {
      const size = 32 * 1024 * 1024
      let drained = false
      const server = yield* serve((socket) => {
        if (socket.write(Buffer.alloc(size, 1))) drained = true
        socket.once("drain", () => (drained = true))
      })
      const transport = yield* Tcp.connect({ host: "127.0.0.1", port: server.port, readHighWaterMark: 64 * 1024 })
      yield* Effect.sleep("100 millis")
      assert.isFalse(drained)
      assert.isAtMost((transport as SocketTransport).buffered, 64 * 1024 + 64 * 1024)
      const buf = ReadBuf.make({ capacity: 256 * 1024 })
      let total = 0
      while (total < size) {
        const n = yield* transport.read(buf)
        assert.isAbove(n, 0)
        total += n
        buf.advance(buf.length)
      }
      assert.strictEqual(total, size)
    }))

  it.live("inboundState sees unread bytes, then the server's FIN, without a read being parked", () =>
    Effect.gen(function*() {
      const server = yield* serve((socket) => socket.on("data", () => {}))
      const transport = yield* Tcp.connect({ host: "127.0.0.1", port: server.port })
      const socket = yield* Effect.promise(() => server.connected(1))
      assert.strictEqual(transport.inboundState, "Open")
      socket.write("unsolicited")
      socket.end()
      while (transport.inboundState === "Open") yield* Effect.sleep("1 millis")
      assert.strictEqual(transport.inboundState, "Readable")
      const buf = ReadBuf.make({ capacity: 64 })
      while (buf.length < 11) yield* transport.read(buf)
      // the bytes are consumed: "Open" (or "Readable" while the FIN is still pending) until the
      // FIN is seen — it may trail the data — then "Ended", with no read parked
      // (read through a function: TypeScript narrowed the field at the assertion above)
      const state = () => transport.inboundState
      while (state() === "Open" || state() === "Readable") yield* Effect.sleep("1 millis")
      assert.strictEqual(transport.inboundState, "Ended")
      yield* transport.destroy()
      assert.strictEqual(transport.inboundState, "Closed")
    }))

  it.live("inboundState is Failed after the server resets an idle connection", () =>
    Effect.gen(function*() {
      const server = yield* serve()
      const transport = yield* Tcp.connect({ host: "127.0.0.1", port: server.port })
      const socket = yield* Effect.promise(() => server.connected(1))
      socket.resetAndDestroy()
      while (transport.inboundState === "Open") yield* Effect.sleep("1 millis")
      assert.strictEqual(transport.inboundState, "Failed")
    }))
})

describe("Tcp.layer", () => {
  it.live("provides the Transport service and closes the socket with the layer", () =>
    Effect.gen(function*() {
      const server = yield* serve(echo)
      const reply = yield* Effect.gen(function*() {
        const transport = yield* Transport
        yield* transport.write(Buffer.from("via layer"))
        return yield* readAll(transport, ReadBuf.make(), 9)
      }).pipe(Effect.provide(Tcp.layer({ host: "127.0.0.1", port: server.port })))
      assert.strictEqual(reply, "via layer")
      yield* Effect.promise(() => server.closed(1))
    }))
})

/** A listening server and one accepted connection: the client end and the server's socket. */
const acceptOne = Effect.acquireRelease(
  Effect.callback<{ server: net.Server; client: net.Socket; accepted: net.Socket }>((resume) => {
    const server = net.createServer({ allowHalfOpen: true }, (accepted) => {
      accepted.on("error", () => {})
      resume(Effect.succeed({ server, client, accepted }))
    })
    let client: net.Socket
    server.listen(0, "127.0.0.1", () => {
      client = net.connect({ host: "127.0.0.1", port: (server.address() as net.AddressInfo).port, allowHalfOpen: true })
      client.on("error", () => {})
    })
  }),
  ({ accepted, client, server }) =>
    Effect.sync(() => {
      client.destroy()
      accepted.destroy()
      server.close()
    })
)

describe("Tcp.fromNetSocket", () => {
  it.live("adopts an accepted socket: reads, writes, reads 0 after the peer's FIN, and the scope destroys it", () =>
    Effect.gen(function*() {
      const { accepted, client } = yield* acceptOne
      const received: Array<Buffer> = []
      client.on("data", (chunk: Buffer) => received.push(chunk))
      yield* Effect.scoped(Effect.gen(function*() {
        const transport = yield* Tcp.fromNetSocket(accepted)
        assert.strictEqual(transport.remoteAddress, `127.0.0.1:${client.localPort}`)
        client.write("hello")
        assert.strictEqual(yield* readAll(transport, ReadBuf.make(), 5), "hello")
        yield* transport.write(Buffer.from("back"))
        client.end()
        const buf = ReadBuf.make()
        assert.strictEqual(yield* transport.read(buf), 0)
        while (Buffer.concat(received).length < 4) yield* Effect.sleep("5 millis")
        assert.strictEqual(Buffer.concat(received).toString(), "back")
      }))
      assert.isTrue(accepted.destroyed)
    }))

  it.live("pauses the socket above the read high-water mark and resumes as reads drain it", () =>
    Effect.gen(function*() {
      const { accepted, client } = yield* acceptOne
      const transport = yield* Tcp.fromNetSocket(accepted, { readHighWaterMark: 4096 })
      const payload = Buffer.alloc(200_000, 9)
      client.write(payload)
      yield* Effect.sleep("100 millis")
      assert.isTrue(accepted.isPaused())
      assert.isBelow((transport as SocketTransport).buffered, 4096 + 65_536 + 1)
      const buf = ReadBuf.make({ capacity: 1 << 18 })
      while (buf.length < payload.length) assert.isAbove(yield* transport.read(buf), 0)
      assert.isTrue(buf.data().equals(payload))
    }))
})
