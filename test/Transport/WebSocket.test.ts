import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import * as FrameReader from "../../src/Codec/FrameReader.ts"
import * as FrameWriter from "../../src/Codec/FrameWriter.ts"
import * as Handshake from "../../src/Codec/Handshake.ts"
import * as MaskSource from "../../src/Codec/MaskSource.ts"
import * as ReadBuf from "../../src/Codec/ReadBuf.ts"
import * as Memory from "../../src/Transport/Memory.ts"
import { ConnectionPoisoned, type Transport, TypeId as TransportTypeId } from "../../src/Transport/Transport.ts"
import * as WebSocket from "../../src/Transport/WebSocket.ts"
import { hex } from "../support/bytes.ts"
import { connected } from "../support/webSocketPair.ts"


/** Everything the peer has sent so far, parsed as frames of the given role's reader. */
const readFrames = (transport: Transport, role: "client" | "server", count: number) =>
  Effect.gen(function*() {
    const reader = FrameReader.make({ role })
    const out: Array<FrameReader.OwnedMessage | FrameReader.FrameViolation> = []
    while (out.length < count) {
      const result = reader.next()
      if (result._tag === "NeedMore") {
        if ((yield* transport.read(reader.readBuf)) === 0) break
        continue
      }
      out.push("closeCode" in result ? result : FrameReader.toOwned(result))
    }
    return out
  })

/**
 * Asserts the client's failure for a server frame with RSV1 set — `WebSocketProtocolError`
 * `ReservedBitsSet`, close 1002 — and that the close frame reached the server's end.
 */
const assertRsv1Failure = (error: WebSocket.WebSocketError, server: Transport) =>
  Effect.gen(function*() {
    assert.deepStrictEqual(error.reason._tag === "WebSocketProtocolError" && [error.reason.violation._tag, error.reason.closeCode], [
      "ReservedBitsSet",
      1002
    ])
    assert.strictEqual(
      error.message,
      "WebSocket memory:server: protocol violation by the peer: reserved bits set (RSV1) but no extension was negotiated (sent close 1002)"
    )
    assert.deepStrictEqual((yield* readFrames(server, "server", 1))[0], {
      _tag: "Close",
      code: 1002,
      reason: "reserved bits set (RSV1) but no extension was negotiated"
    })
  })

/** `transport` with every `write` / `writev` call recorded as `[method, chunks]`. */
const countingWrites = (transport: Transport) => {
  const calls: Array<readonly [string, number]> = []
  const counted: Transport = {
    [TransportTypeId]: TransportTypeId,
    get remoteAddress() {
      return transport.remoteAddress
    },
    get bytesWritten() {
      return transport.bytesWritten
    },
    get bytesRead() {
      return transport.bytesRead
    },
    read: (buf) => transport.read(buf),
    write: (bytes) => {
      calls.push(["write", 1])
      return transport.write(bytes)
    },
    writev: (chunks) => {
      calls.push(["writev", chunks.length])
      return transport.writev(chunks)
    },
    end: () => transport.end(),
    destroy: () => transport.destroy()
  }
  return { transport: counted, calls }
}

/** Sends a raw HTTP request head and returns the raw response text (until the blank line). */
const rawUpgrade = (transport: Transport, head: string) =>
  Effect.gen(function*() {
    yield* transport.write(Buffer.from(head, "latin1"))
    const buf = ReadBuf.make({ capacity: 4096 })
    while (!buf.data().toString("latin1").includes("\r\n\r\n")) {
      if ((yield* transport.read(buf)) === 0) break
    }
    return buf.data().toString("latin1")
  })

/** A client connected over a memory pair whose raw server end answers 101 with `frames` right behind it, in one write. */
const upgradedWith = (frames: Uint8Array) =>
  Effect.gen(function*() {
    const pair = yield* Memory.pair()
    const connecting = yield* Effect.forkChild(WebSocket.connectOver(pair.client, "ws://memory.test/"))
    const request = ReadBuf.make({ capacity: 4096 })
    while (!request.data().toString("latin1").includes("\r\n\r\n")) yield* pair.server.read(request)
    const key = /Sec-WebSocket-Key: (.+)\r\n/.exec(request.data().toString("latin1"))![1]!
    yield* pair.server.write(Buffer.concat([
      Buffer.from(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Accept: ${Handshake.acceptKey(key)}\r\n\r\n`,
        "latin1"
      ),
      frames
    ]))
    return { pair, client: yield* Fiber.join(connecting) }
  })

const validHead = (extra = "") =>
  "GET /chat HTTP/1.1\r\nHost: memory.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`

describe("WebSocket over the memory pair", () => {
  it.effect("exchanges text and binary both ways and reports the upgrade to the server", () =>
    Effect.gen(function*() {
      const { client, server } = yield* connected({
        client: { protocols: ["v2", "v1"], headers: { "X-Api-Key": "k1" } },
        server: { protocols: ["v1", "v2"] }
      })
      assert.strictEqual(client.protocol, "v1")
      assert.strictEqual(server.protocol, "v1")
      assert.strictEqual(server.upgrade?.target, "/feed?x=1")
      assert.deepInclude(server.upgrade?.headers ?? [], ["X-Api-Key", "k1"])
      yield* client.sendText("héllo")
      const text = yield* server.recv
      assert.deepStrictEqual(FrameReader.toOwned(text), { _tag: "Text", text: "héllo" })
      yield* server.sendBinary(new Uint8Array([1, 2, 3]))
      const binary = yield* client.recv
      assert.deepStrictEqual(FrameReader.toOwned(binary), { _tag: "Binary", payload: new Uint8Array([1, 2, 3]) })
    }))

  it.effect("answers a ping with a pong carrying the same payload and returns both to the callers", () =>
    Effect.gen(function*() {
      const { client, server } = yield* connected()
      yield* client.sendPing("are you there")
      assert.deepStrictEqual(FrameReader.toOwned(yield* server.recv), {
        _tag: "Ping",
        payload: new Uint8Array(Buffer.from("are you there"))
      })
      assert.deepStrictEqual(FrameReader.toOwned(yield* client.recv), {
        _tag: "Pong",
        payload: new Uint8Array(Buffer.from("are you there"))
      })
    }))

  it.effect("does not answer pings when autoPong is off", () =>
    Effect.gen(function*() {
      const { client, server } = yield* connected({ server: { autoPong: false } })
      yield* client.sendPing("x")
      assert.strictEqual((yield* server.recv)._tag, "Ping")
      yield* server.sendText("after")
      const next = yield* client.recv
      assert.deepStrictEqual(FrameReader.toOwned(next), { _tag: "Text", text: "after" })
    }))

  it.effect("runs the closing handshake started by the client; later calls fail with WebSocketClosed", () =>
    Effect.gen(function*() {
      const { client, pair, server } = yield* connected()
      const closing = yield* Effect.forkChild(client.close(4000, "bye"))
      const close = yield* server.recv
      assert.deepStrictEqual(FrameReader.toOwned(close), { _tag: "Close", code: 4000, reason: "bye" })
      yield* Fiber.join(closing)
      assert.deepStrictEqual([client.state, server.state], ["closed", "closed"])
      assert.deepStrictEqual([pair.client.state, pair.server.state], ["ended", "ended"])
      const error = yield* Effect.flip(server.recv)
      assert.deepStrictEqual(
        error,
        new WebSocket.WebSocketError({
          address: "memory:client",
          reason: new WebSocket.WebSocketClosed({ operation: "recv", code: 4000, closeReason: "bye", by: "peer" })
        })
      )
      const sendError = yield* Effect.flip(client.sendText("late"))
      assert.deepStrictEqual(
        sendError.reason,
        new WebSocket.WebSocketClosed({ operation: "send", code: 4000, closeReason: "bye", by: "local" })
      )
      assert.strictEqual(
        sendError.message,
        "WebSocket memory:server: send after the stream was closed by the local side (code 4000, \"bye\")"
      )
      // idempotent
      yield* client.close()
    }))

  it.effect("runs the closing handshake started by the server while the client sits in recv", () =>
    Effect.gen(function*() {
      const { client, server } = yield* connected()
      const receiving = yield* Effect.forkChild(client.recv.pipe(Effect.map(FrameReader.toOwned)))
      yield* server.close(1001, "restart")
      assert.deepStrictEqual(yield* Fiber.join(receiving), { _tag: "Close", code: 1001, reason: "restart" })
    }))

  it.effect("close() while another fiber is in recv leaves reading to that fiber", () =>
    Effect.gen(function*() {
      const { client, server } = yield* connected()
      const receiving = yield* Effect.forkChild(client.recv.pipe(Effect.map(FrameReader.toOwned)))
      yield* Effect.yieldNow
      const closing = yield* Effect.forkChild(client.close())
      assert.deepStrictEqual(FrameReader.toOwned(yield* server.recv), { _tag: "Close", code: 1000, reason: "" })
      assert.deepStrictEqual(yield* Fiber.join(receiving), { _tag: "Close", code: 1000, reason: "" })
      yield* Fiber.join(closing)
    }))

  it.effect("a recv started while close() is draining shares the reads (never two at once) and ends with WebSocketClosed", () =>
    Effect.gen(function*() {
      const { client, server } = yield* connected()
      const closing = yield* Effect.forkChild(client.close(1000, "x"))
      yield* Effect.yieldNow
      // a consumer that shows up mid-close: whichever fiber is woken first takes "late data"
      const consumer = yield* Effect.forkChild(Effect.gen(function*() {
        const got: Array<string> = []
        while (true) {
          const exit = yield* Effect.exit(client.recv)
          if (exit._tag === "Failure") return { got, error: Cause.findErrorOption(exit.cause) }
          got.push(exit.value._tag === "Text" ? exit.value.text() : exit.value._tag)
        }
      }))
      yield* Effect.yieldNow
      yield* server.sendText("late data")
      assert.deepStrictEqual(FrameReader.toOwned(yield* server.recv), { _tag: "Close", code: 1000, reason: "x" })
      yield* Fiber.join(closing)
      const { error, got } = yield* Fiber.join(consumer)
      assert.isTrue(got.length === 0 || (got.length === 1 && got[0] === "late data"), JSON.stringify(got))
      assert.deepStrictEqual(
        error._tag === "Some" && error.value,
        new WebSocket.WebSocketError({
          address: "memory:server",
          reason: new WebSocket.WebSocketClosed({ operation: "recv", code: 1000, closeReason: "x", by: "local" })
        }),
        JSON.stringify(got)
      )
    }))

  it.effect("delivers frames that arrive in the same write as the upgrade request", () =>
    Effect.gen(function*() {
      const pair = yield* Memory.pair()
      const writer = FrameWriter.make({ role: "client", maskSource: MaskSource.fixed([1, 2, 3, 4]) })
      const frame = new Uint8Array(64)
      const n = writer.encodeInto(frame, 0, FrameWriter.Kind.Text, "early")
      assert.isNumber(n)
      yield* pair.client.write(Buffer.concat([Buffer.from(validHead(), "latin1"), frame.subarray(0, n as number)]))
      const server = yield* WebSocket.accept(pair.server)
      assert.deepStrictEqual(FrameReader.toOwned(yield* server.recv), { _tag: "Text", text: "early" })
    }))

  it.effect("keeps leftovers bigger than a tiny slab and delivers them over the next reads", () =>
    Effect.gen(function*() {
      const pair = yield* Memory.pair()
      const writer = FrameWriter.make({ role: "client", maskSource: MaskSource.fixed([9, 8, 7, 6]) })
      const frames = Buffer.alloc(4000)
      let at = 0
      for (let i = 0; i < 40; i++) at += writer.encodeInto(frames, at, FrameWriter.Kind.Text, `message ${i}`) as number
      yield* pair.client.write(Buffer.concat([Buffer.from(validHead(), "latin1"), frames.subarray(0, at)]))
      const server = yield* WebSocket.accept(pair.server, { bufferCapacity: 64, maxFrameSize: 32 })
      const got: Array<string> = []
      for (let i = 0; i < 40; i++) got.push((yield* server.recv).payload.toString())
      assert.deepStrictEqual(got, Array.from({ length: 40 }, (_, i) => `message ${i}`))
    }))

  it.effect("delivers frames the server sends right behind its 101 in one write", () =>
    Effect.gen(function*() {
      const { client } = yield* upgradedWith(hex("81 05 66 69 72 73 74 82 01 ff"))
      assert.deepStrictEqual(FrameReader.toOwned(yield* client.recv), { _tag: "Text", text: "first" })
      assert.deepStrictEqual(FrameReader.toOwned(yield* client.recv), { _tag: "Binary", payload: new Uint8Array([0xff]) })
    }))

  it.effect("refuses a bad upgrade with 400 and a wrong version with 426", () =>
    Effect.gen(function*() {
      const bad = yield* Memory.pair()
      const serving = yield* Effect.forkChild(Effect.flip(WebSocket.accept(bad.server)))
      const response = yield* rawUpgrade(bad.client, validHead().replace("Upgrade: websocket", "Upgrade: h2c"))
      assert.match(response, /^HTTP\/1\.1 400 Bad Request\r\n/)
      const error = yield* Fiber.join(serving)
      assert.deepStrictEqual([error.address, error.reason._tag, error.reason._tag === "HandshakeError" && error.reason.violation._tag], [
        "memory:client",
        "HandshakeError",
        "UpgradeNotWebSocket"
      ])
      assert.strictEqual(error.message, "WebSocket memory:client: handshake failed: WebSocket upgrade refused: Upgrade header must be websocket")

      const old = yield* Memory.pair()
      const serving2 = yield* Effect.forkChild(Effect.flip(WebSocket.accept(old.server)))
      const response2 = yield* rawUpgrade(old.client, validHead().replace("Version: 13", "Version: 8"))
      assert.match(response2, /^HTTP\/1\.1 426 Upgrade Required\r\n/)
      assert.include(response2, "Sec-WebSocket-Version: 13\r\n")
      const error2 = yield* Fiber.join(serving2)
      assert.deepStrictEqual(
        [error2.address, error2.reason._tag === "HandshakeError" && error2.reason.violation._tag, error2.message],
        ["memory:client", "UnsupportedWebSocketVersion", "WebSocket memory:client: handshake failed: WebSocket upgrade refused: Sec-WebSocket-Version must be 13"]
      )
    }))

  it.effect("answers a request line that is not HTTP with 400 and fails with the parser's violation", () =>
    Effect.gen(function*() {
      const pair = yield* Memory.pair()
      const serving = yield* Effect.forkChild(Effect.flip(WebSocket.accept(pair.server)))
      const response = yield* rawUpgrade(pair.client, "HELLO THERE\r\n\r\n")
      assert.match(response, /^HTTP\/1\.1 400 Bad Request\r\n/)
      const error = yield* Fiber.join(serving)
      assert.deepStrictEqual([error.address, error.reason._tag === "HandshakeError" && error.reason.violation._tag], [
        "memory:client",
        "InvalidRequestLine"
      ])
      assert.strictEqual(pair.server.state, "ended")
    }))

  it.effect("accept fails with a handshake WebSocketTimeout when no request arrives, and destroys the transport", () =>
    Effect.gen(function*() {
      const pair = yield* Memory.pair()
      const serving = yield* Effect.forkChild(Effect.flip(WebSocket.accept(pair.server, { handshakeTimeout: "3 seconds" })))
      yield* TestClock.adjust("3 seconds")
      const error = yield* Fiber.join(serving)
      assert.deepStrictEqual(
        error,
        new WebSocket.WebSocketError({
          address: "memory:client",
          reason: new WebSocket.WebSocketTimeout({ operation: "handshake", after: Duration.seconds(3) })
        })
      )
      assert.strictEqual(error.message, "WebSocket memory:client: handshake timed out after 3s")
      assert.strictEqual(pair.server.state, "destroyed")
    }))

  it.effect("connectOver fails with a handshake WebSocketTimeout when the server never answers", () =>
    Effect.gen(function*() {
      const pair = yield* Memory.pair()
      const connecting = yield* Effect.forkChild(Effect.flip(WebSocket.connectOver(pair.client, "ws://memory.test/")))
      yield* TestClock.adjust("10 seconds")
      const error = yield* Fiber.join(connecting)
      assert.deepStrictEqual(
        error,
        new WebSocket.WebSocketError({
          address: "memory:server",
          reason: new WebSocket.WebSocketTimeout({ operation: "handshake", after: Duration.seconds(10) })
        })
      )
    }))

  it.effect("fails the client handshake when the server answers 200", () =>
    Effect.gen(function*() {
      const pair = yield* Memory.pair()
      const connecting = yield* Effect.forkChild(Effect.flip(WebSocket.connectOver(pair.client, "ws://memory.test/")))
      const buf = ReadBuf.make({ capacity: 4096 })
      yield* pair.server.read(buf)
      yield* pair.server.write(Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
      const error = yield* Fiber.join(connecting)
      assert.strictEqual(error.address, "memory:server")
      assert.deepStrictEqual(error.reason._tag === "HandshakeError" && error.reason.violation, {
        _tag: "UnexpectedStatus",
        message: "expected 101 Switching Protocols, got 200",
        status: 200
      })
    }))

  it.effect("handshakes and streams with bytes delivered one at a time", () =>
    Effect.gen(function*() {
      const { client, server } = yield* connected({ memory: { chunkSize: 1 } })
      const payload = Buffer.alloc(300, 7)
      yield* client.sendBinary(payload)
      yield* client.sendText("tail")
      assert.deepStrictEqual(FrameReader.toOwned(yield* server.recv), { _tag: "Binary", payload: new Uint8Array(payload) })
      assert.deepStrictEqual(FrameReader.toOwned(yield* server.recv), { _tag: "Text", text: "tail" })
    }))

  it.effect("reads a 64 KiB message delivered one byte per read (65 551 reads, one recv)", () =>
    Effect.gen(function*() {
      const { client, server } = yield* connected({ memory: { chunkSize: 1, capacity: 1 << 20 } })
      const payload = Buffer.alloc(65_536, 3)
      yield* client.sendBinary(payload)
      const message = yield* server.recv
      assert.isTrue(message.payload.equals(payload))
    }))

  it.effect("joins fragmented messages and grows the read slab only to the message", () =>
    Effect.gen(function*() {
      const { client, server } = yield* connected({
        client: { fragmentSize: 1000 },
        server: { bufferCapacity: 1024 }
      })
      const payload = Buffer.alloc(100_000)
      for (let i = 0; i < payload.length; i++) payload[i] = i % 253
      const sending = yield* Effect.forkChild(client.sendBinary(payload))
      const message = yield* server.recv
      yield* Fiber.join(sending)
      assert.isTrue(message.payload.equals(payload))
    }))

  it.effect("fails with WebSocketProtocolError and sends close 1002 when the server sets RSV1", () =>
    Effect.gen(function*() {
      const pair = yield* Memory.pair()
      const accepting = yield* Effect.forkChild(WebSocket.accept(pair.server))
      const client = yield* WebSocket.connectOver(pair.client, "ws://memory.test/")
      yield* Fiber.join(accepting)
      yield* pair.server.write(hex("c1 02 6f 6b"))
      const error = yield* Effect.flip(client.recv)
      yield* assertRsv1Failure(error, pair.server)
      assert.isTrue(pair.server.peerEnded)
      // latched
      assert.strictEqual((yield* Effect.flip(client.recv)).reason, error.reason)
    }))

  it.effect("sends close 1007 for invalid UTF-8 and 1009 for a message over maxMessageSize", () =>
    Effect.gen(function*() {
      const { client, pair } = yield* connected({ server: { maxMessageSize: 10 } })
      yield* pair.server.write(hex("81 02 c3 28"))
      const error = yield* Effect.flip(client.recv)
      assert.deepStrictEqual(
        error.reason._tag === "WebSocketProtocolError" && [error.reason.violation._tag, error.reason.closeCode, error.address],
        ["InvalidUtf8", 1007, "memory:server"]
      )

      const second = yield* connected({ server: { maxMessageSize: 10 } })
      yield* second.client.sendBinary(new Uint8Array(11))
      const tooBig = yield* Effect.flip(second.server.recv)
      assert.strictEqual(tooBig.reason._tag === "WebSocketProtocolError" && tooBig.reason.closeCode, 1009)
      assert.deepStrictEqual(tooBig.reason._tag === "WebSocketProtocolError" && tooBig.reason.violation, {
        _tag: "MessageTooBig",
        closeCode: 1009,
        message: "message payload of 11 bytes exceeds maxMessageSize 10",
        length: 11,
        max: 10
      })
      const frames = yield* readFrames(second.pair.client, "client", 1)
      assert.strictEqual((frames[0] as { code: number }).code, 1009)
    }))

  it.effect("fails with a Reset ReadError when the connection drops mid-message", () =>
    Effect.gen(function*() {
      const { client, pair } = yield* connected()
      yield* pair.server.write(hex("82 7e 01 00 00 01 02"))
      const receiving = yield* Effect.forkChild(Effect.flip(client.recv))
      yield* Effect.yieldNow
      yield* pair.drop()
      const error = yield* Fiber.join(receiving)
      assert.deepStrictEqual([error.address, error.reason._tag, error.reason._tag === "ReadError" && error.reason.kind, error.message], [
        "memory:server",
        "ReadError",
        "Reset",
        "WebSocket memory:server: read failed: Reset (memory pair dropped)"
      ])
    }))

  it.effect("fails with AbnormalClosure when the peer ends the stream mid-message", () =>
    Effect.gen(function*() {
      const { client, pair } = yield* connected()
      yield* pair.server.write(hex("82 05 01 02"))
      yield* pair.server.end()
      const error = yield* Effect.flip(client.recv)
      assert.deepStrictEqual(
        error,
        new WebSocket.WebSocketError({ address: "memory:server", reason: new WebSocket.AbnormalClosure({ midMessage: true }) })
      )
      assert.strictEqual(
        error.message,
        "WebSocket memory:server: the peer ended the connection without a close frame in the middle of a message (1006)"
      )
    }))

  it.effect("close() times out under the TestClock when the peer never answers, and destroys the socket", () =>
    Effect.gen(function*() {
      const { client, pair } = yield* connected({ client: { closeTimeout: "2 seconds" } })
      const closing = yield* Effect.forkChild(Effect.flip(client.close()))
      yield* TestClock.adjust("1999 millis")
      assert.strictEqual(pair.client.state, "open")
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(closing)
      assert.deepStrictEqual(error.reason, new WebSocket.WebSocketTimeout({ operation: "close", after: Duration.seconds(2) }))
      assert.strictEqual(error.message, "WebSocket memory:server: close timed out after 2s")
      assert.strictEqual(pair.client.state, "destroyed")
    }))

  it.effect("after close() times out, state is \"closed\" (not \"closing\"), the socket is released, and the stream reports the timeout", () =>
    Effect.gen(function*() {
      const { client, pair } = yield* connected({ client: { closeTimeout: "2 seconds" } })
      const error = yield* Effect.flip(Effect.forkChild(client.close(1000)).pipe(
        Effect.tap(() => TestClock.adjust("2 seconds")),
        Effect.flatMap(Fiber.join)
      ))
      assert.strictEqual(error.message, "WebSocket memory:server: close timed out after 2s")
      assert.strictEqual(client.state, "closed")
      assert.strictEqual(pair.client.state, "destroyed")
      yield* pair.client.awaitClosed
      // the stream is over: a recv fails with the timeout, a send with the closed stream, a
      // second close does nothing
      const recv = yield* Effect.flip(client.recv)
      assert.deepStrictEqual(recv, error)
      const send = yield* Effect.flip(client.sendText("late"))
      assert.deepStrictEqual(
        send.reason,
        new WebSocket.WebSocketClosed({ operation: "send", code: 1000, closeReason: "", by: "local" })
      )
      assert.strictEqual(send.message, "WebSocket memory:server: send after the stream was closed by the local side (code 1000)")
      yield* client.close()
      assert.strictEqual(client.state, "closed")
    }))

  it.effect("a recv parked while close() times out fails with the close timeout, and state stays \"closed\"", () =>
    Effect.gen(function*() {
      const { client, pair } = yield* connected({ client: { closeTimeout: "2 seconds" } })
      const parked = yield* Effect.forkChild(Effect.flip(client.recv))
      yield* Effect.yieldNow
      const closing = yield* Effect.forkChild(Effect.flip(client.close()))
      yield* Effect.yieldNow
      assert.strictEqual(client.state, "closing")
      yield* TestClock.adjust("2 seconds")
      const error = yield* Fiber.join(closing)
      assert.deepStrictEqual(
        error,
        new WebSocket.WebSocketError({
          address: "memory:server",
          reason: new WebSocket.WebSocketTimeout({ operation: "close", after: Duration.seconds(2) })
        })
      )
      assert.deepStrictEqual(yield* Fiber.join(parked), error)
      assert.strictEqual(client.state, "closed")
      assert.strictEqual(pair.client.state, "destroyed")
    }))

  it.effect("heartbeat: pings every interval and fails recv with a heartbeat timeout when the peer is silent", () =>
    Effect.gen(function*() {
      const { client, pair } = yield* connected({
        client: { heartbeat: { interval: "1 second", timeout: "3 seconds" } }
      })
      const receiving = yield* Effect.forkChild(Effect.flip(client.recv))
      yield* TestClock.adjust("2 seconds")
      const pings = yield* readFrames(pair.server, "server", 2)
      assert.deepStrictEqual(pings.map((p) => p._tag), ["Ping", "Ping"])
      yield* TestClock.adjust("2 seconds")
      const error = yield* Fiber.join(receiving)
      assert.deepStrictEqual(error.reason, new WebSocket.WebSocketTimeout({ operation: "heartbeat", after: Duration.seconds(3) }))
      assert.strictEqual(error.message, "WebSocket memory:server: heartbeat timed out after 3s")
      assert.strictEqual(pair.client.state, "destroyed")
    }))

  it.effect("heartbeat: a peer that answers pings keeps the connection alive", () =>
    Effect.gen(function*() {
      const { client, server } = yield* connected({
        client: { heartbeat: { interval: "1 second", timeout: "3 seconds" } }
      })
      // the server answers pings inside recv (autoPong)
      yield* Effect.forkChild(Effect.forever(server.recv))
      const received = yield* Effect.forkChild(Effect.forever(client.recv))
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(client.state, "open")
      yield* Fiber.interrupt(received)
    }))

  it.effect("readTimeout fails recv with a read timeout under the TestClock", () =>
    Effect.gen(function*() {
      const { client } = yield* connected({ client: { readTimeout: "500 millis" } })
      const receiving = yield* Effect.forkChild(Effect.flip(client.recv))
      yield* TestClock.adjust("500 millis")
      const error = yield* Fiber.join(receiving)
      assert.deepStrictEqual(
        error,
        new WebSocket.WebSocketError({
          address: "memory:server",
          reason: new WebSocket.WebSocketTimeout({ operation: "read", after: Duration.millis(500) })
        })
      )
      assert.strictEqual(error.message, "WebSocket memory:server: read timed out after 500ms")
    }))

  it.effect("a failed send poisons the stream: the next send fails fast with ConnectionPoisoned", () =>
    Effect.gen(function*() {
      const { client, pair } = yield* connected()
      yield* pair.server.destroy()
      const first = yield* Effect.flip(client.sendText("lost"))
      assert.deepStrictEqual([first.address, first.reason._tag, first.reason._tag === "WriteError" && first.reason.kind], [
        "memory:server",
        "WriteError",
        "BrokenPipe"
      ])
      const second = yield* Effect.flip(client.sendText("again"))
      assert.deepStrictEqual(
        second,
        new WebSocket.WebSocketError({ address: "memory:server", reason: new ConnectionPoisoned({ cause: first.reason }) })
      )
      assert.strictEqual(
        second.message,
        "WebSocket memory:server: the connection is unusable after an earlier failure: write failed: BrokenPipe (peer destroyed)"
      )
    }))

  it.effect("an interrupted send poisons the stream with WriteInterrupted", () =>
    Effect.gen(function*() {
      const { client } = yield* connected({ memory: { capacity: 1024 } })
      const sending = yield* Effect.forkChild(client.sendBinary(Buffer.alloc(10_000)))
      yield* Effect.yieldNow
      yield* Fiber.interrupt(sending)
      const error = yield* Effect.flip(client.sendText("after"))
      assert.deepStrictEqual(
        error,
        new WebSocket.WebSocketError({
          address: "memory:server",
          reason: new ConnectionPoisoned({ cause: new WebSocket.WriteInterrupted() })
        })
      )
    }))

  it.effect("sends wait for the peer to read when the pipe is full (backpressure) and never interleave", () =>
    Effect.gen(function*() {
      const { client, server } = yield* connected({ memory: { capacity: 1024 } })
      const big = Buffer.alloc(10_000, 1)
      const senders = yield* Effect.forkChild(
        Effect.all([client.sendBinary(big), client.sendText("small"), client.sendBinary(big)], { concurrency: 3 })
      )
      yield* Effect.yieldNow
      assert.isUndefined(senders.pollUnsafe())
      const got: Array<string> = []
      for (let i = 0; i < 3; i++) {
        const m = yield* server.recv
        got.push(`${m._tag}:${m.length}`)
      }
      yield* Fiber.join(senders)
      assert.sameMembers(got, ["Binary:10000", "Text:5", "Binary:10000"])
    }))

  it.effect("refuses a ping over 125 bytes with InvalidMessage and writes nothing", () =>
    Effect.gen(function*() {
      const { client, pair } = yield* connected()
      const before = pair.client.bytesWritten
      const error = yield* Effect.flip(client.sendPing(new Uint8Array(126)))
      assert.deepStrictEqual([error.address, error.reason._tag, error.message], [
        "memory:server",
        "InvalidMessage",
        "WebSocket memory:server: invalid message: the payload makes a control payload of 126 bytes, over the limit of 125"
      ])
      assert.strictEqual(pair.client.bytesWritten, before)
      yield* client.sendText("still fine")
    }))

  it.effect("yields between batches when many frames arrive in one read", () =>
    Effect.gen(function*() {
      const { client, pair } = yield* connected({ client: { maxBatch: 8 } })
      const writer = FrameWriter.make({ role: "server" })
      const frames = Buffer.alloc(1000 * 3)
      let at = 0
      for (let i = 0; i < 1000; i++) at += writer.encodeInto(frames, at, FrameWriter.Kind.Binary, new Uint8Array([i & 0xff])) as number
      yield* pair.server.write(frames.subarray(0, at))
      let other = -1
      let received = 0
      yield* Effect.forkChild(Effect.sync(() => {
        other = received
      }))
      while (received < 1000) {
        yield* client.recv
        received++
      }
      assert.isAtLeast(other, 0)
      assert.isAtMost(other, 8)
    }))

  it.effect("yield* recv over buffered frames: messages in order, the ping answered, the close echoed, a stored recv never repeats", () =>
    Effect.gen(function*() {
      // the 101 and five frames in one write: all of them are buffered when the first recv runs
      // (binary 01, ping 02, text "three", binary 04, close 1000)
      const { client, pair } = yield* upgradedWith(hex("82 01 01 89 01 02 81 05 74 68 72 65 65 82 01 04 88 02 03 e8"))
      const recv = client.recv
      const seen: Array<FrameReader.OwnedMessage> = []
      seen.push(FrameReader.toOwned(yield* recv))
      seen.push(FrameReader.toOwned(yield* recv))
      // the Effect door on the same socket, between two yield*s, takes the next message
      seen.push(yield* Effect.map(recv, FrameReader.toOwned))
      seen.push(FrameReader.toOwned(yield* recv))
      seen.push(FrameReader.toOwned(yield* recv))
      assert.deepStrictEqual(seen, [
        { _tag: "Binary", payload: new Uint8Array([1]) },
        { _tag: "Ping", payload: new Uint8Array([2]) },
        { _tag: "Text", text: "three" },
        { _tag: "Binary", payload: new Uint8Array([4]) },
        { _tag: "Close", code: 1000, reason: "" }
      ])
      // the ping was answered and the close echoed, as on the Effect path
      assert.deepStrictEqual(yield* readFrames(pair.server, "server", 2), [
        { _tag: "Pong", payload: new Uint8Array([2]) },
        { _tag: "Close", code: 1000, reason: "" }
      ])
      const error = yield* Effect.flip(recv)
      assert.strictEqual(error.reason._tag, "WebSocketClosed")
      // the server's side of the TCP close, which the client's scope waits for
      yield* pair.server.end()
    }))

  it.effect("run hands every message to the handler, pings after their pong, and ends with the peer's close", () =>
    Effect.gen(function*() {
      const { client, pair, server } = yield* connected()
      const writer = FrameWriter.make({ role: "server" })
      const frames = Buffer.alloc(20_000)
      let at = 0
      for (let i = 0; i < 500; i++) {
        at += writer.encodeInto(frames, at, i % 100 === 50 ? FrameWriter.Kind.Ping : FrameWriter.Kind.Binary, new Uint8Array([i & 0xff])) as number
      }
      at += writer.encodeCloseInto(frames, at, 4000, "end") as number
      yield* pair.server.write(frames.subarray(0, at))
      const seen: Array<string> = []
      yield* WebSocket.run(client, (message) => {
        seen.push(message._tag === "Close" ? `Close ${message.code} ${message.reason}` : `${message._tag} ${message.buf[message.start]}`)
      })
      assert.strictEqual(seen.length, 501)
      assert.deepStrictEqual(seen.slice(49, 52), ["Binary 49", "Ping 50", "Binary 51"])
      assert.strictEqual(seen[500], "Close 4000 end")
      // the pings were answered (5 pongs) and the close echoed
      const answers = yield* Effect.gen(function*() {
        const out: Array<string> = []
        while (out.length < 6) {
          const m = yield* server.recv
          out.push(m._tag)
        }
        return out
      }).pipe(Effect.catch(() => Effect.succeed(["failed"])))
      assert.deepStrictEqual(answers, ["Pong", "Pong", "Pong", "Pong", "Pong", "Close"])
    }))

  it.effect("run waits for the Effect a handler returns (an echo) and fails with the stream's error", () =>
    Effect.gen(function*() {
      const { client, pair, server } = yield* connected()
      const running = yield* Effect.forkChild(Effect.flip(WebSocket.run(server, (message) =>
        message._tag === "Text" ? server.sendText(message.payload) : undefined
      )))
      yield* client.sendText("a")
      yield* client.sendText("b")
      assert.deepStrictEqual(FrameReader.toOwned(yield* client.recv), { _tag: "Text", text: "a" })
      assert.deepStrictEqual(FrameReader.toOwned(yield* client.recv), { _tag: "Text", text: "b" })
      yield* pair.client.write(hex("81 80 00 00 00 00 c1 80 00 00 00 00"))
      const error = yield* Fiber.join(running)
      assert.deepStrictEqual(
        error.reason._tag === "WebSocketProtocolError" && [error.reason.violation._tag, error.reason.closeCode],
        ["ReservedBitsSet", 1002]
      )
    }))

  it.effect("run yields between batches too", () =>
    Effect.gen(function*() {
      const { client, pair } = yield* connected({ client: { maxBatch: 8 } })
      const writer = FrameWriter.make({ role: "server" })
      const frames = Buffer.alloc(1000 * 3 + 2)
      let at = 0
      for (let i = 0; i < 1000; i++) at += writer.encodeInto(frames, at, FrameWriter.Kind.Binary, new Uint8Array([i & 0xff])) as number
      at += writer.encodeCloseInto(frames, at) as number
      yield* pair.server.write(frames.subarray(0, at))
      // a well-behaved peer ends after its close; the scope's finalizer waits for that FIN
      yield* pair.server.end()
      let other = -1
      let received = 0
      yield* Effect.forkChild(Effect.sync(() => {
        other = received
      }))
      yield* WebSocket.run(client, () => {
        received++
      })
      assert.strictEqual(received, 1001)
      assert.isAtLeast(other, 0)
      assert.isAtMost(other, 8)
    }))

  it.effect("refuses an unsendable subprotocol, header or path before writing the upgrade request", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [string, WebSocket.ConnectOptions, string]> = [
        ["ws://memory.test/", { protocols: ["a b"] }, `Handshake: subprotocol "a b" is not a token`],
        ["ws://memory.test/", { headers: [["X Y", "1"]] }, `Handshake: header name "X Y" is not a token`],
        ["ws://memory.test/", { headers: { "X-Api-Key": "k\r\nInjected: 1" } }, "Handshake: header X-Api-Key holds CR, LF or NUL"]
      ]
      for (const [url, options, detail] of cases) {
        const pair = yield* Memory.pair()
        const error = yield* Effect.flip(WebSocket.connectOver(pair.client, url, options))
        assert.strictEqual(error.reason._tag, "InvalidMessage")
        assert.strictEqual(error.message, `WebSocket memory:server: invalid message: ${detail}`)
        assert.strictEqual(pair.client.bytesWritten, 0)
      }
    }))

  it.effect("refuses an unsendable 101 header on accept and writes no 101", () =>
    Effect.gen(function*() {
      const pair = yield* Memory.pair()
      yield* pair.client.write(Buffer.from(validHead(), "latin1"))
      const error = yield* Effect.flip(WebSocket.accept(pair.server, { headers: [["X-Server", "a\nb"]] }))
      assert.strictEqual(error.reason._tag, "InvalidMessage")
      assert.strictEqual(error.message, "WebSocket memory:client: invalid message: Handshake: header X-Server holds CR, LF or NUL")
      assert.strictEqual(pair.server.bytesWritten, 0)
    }))

  it.effect("Stream of owned messages ends after the peer's close; Sink sends in order", () =>
    Effect.gen(function*() {
      const { client, server } = yield* connected()
      const collecting = yield* Effect.forkChild(Stream.runCollect(WebSocket.messages(server)))
      yield* Stream.run(
        Stream.make("one", new Uint8Array([2]), { _tag: "Close", code: 1000, reason: "done" } as const),
        WebSocket.sink(client)
      )
      assert.deepStrictEqual(yield* Fiber.join(collecting), [
        { _tag: "Text", text: "one" },
        { _tag: "Binary", payload: new Uint8Array([2]) },
        { _tag: "Close", code: 1000, reason: "done" }
      ])
    }))

  it.effect("messages' payloads, empty to 154 bytes, stay their own while the slab is refilled and compacted under them", () =>
    Effect.gen(function*() {
      // reads of 997 bytes into a 1 KiB slab: frames torn at every read, the slab compacted and
      // its ranges reused hundreds of times while earlier payloads are still held
      const { client, pair } = yield* connected({ memory: { chunkSize: 997, capacity: 1 << 20 }, client: { bufferCapacity: 1024 } })
      const writer = FrameWriter.make({ role: "server" })
      // every size from 0 to 154 bytes (views of the block copy, like the larger ones)
      const payloads = Array.from({ length: 300 }, (_, i) => Buffer.alloc(i % 155, i & 0xff))
      const frames = Buffer.alloc(300 * 160)
      let at = 0
      for (const payload of payloads) at += writer.encodeInto(frames, at, FrameWriter.Kind.Binary, payload) as number
      at += writer.encodeCloseInto(frames, at, 1000) as number
      yield* pair.server.write(frames.subarray(0, at))
      const got = yield* Stream.runCollect(WebSocket.messages(client))
      assert.deepStrictEqual(got, [...payloads.map((payload) => ({ _tag: "Binary" as const, payload })), { _tag: "Close" as const, code: 1000, reason: "" }])
      yield* pair.server.end()
    }))

  it.effect("messages with lent: payloads are views of the read slab, right when their chunk comes, through torn frames and a compacted slab; owned ones are copies", () =>
    Effect.gen(function*() {
      const writer = FrameWriter.make({ role: "server" })
      // every size from 0 to 154 bytes, a fragmented message (joined: copied) and a pong among them
      const payloads = Array.from({ length: 300 }, (_, i) => Buffer.alloc(i % 155, i & 0xff))
      const frames = Buffer.alloc(300 * 160 + 1024)
      let at = 0
      for (const [i, payload] of payloads.entries()) {
        at += writer.encodeInto(frames, at, FrameWriter.Kind.Binary, payload) as number
        if (i === 150) {
          at += hex("02 02 0a 0b 80 02 0c 0d").copy(frames, at)
          at += writer.encodeInto(frames, at, FrameWriter.Kind.Pong, Buffer.from("pp")) as number
        }
      }
      at += writer.encodeCloseInto(frames, at, 1000) as number
      const expected = [
        ...payloads.slice(0, 151).map((p) => `Binary ${p.toString("hex")}`),
        "Binary 0a0b0c0d",
        `Pong ${Buffer.from("pp").toString("hex")}`,
        ...payloads.slice(151).map((p) => `Binary ${p.toString("hex")}`),
        "Close"
      ]
      for (const lent of [true, false]) {
        // reads of 997 bytes into a 1 KiB slab: frames torn at every read, the slab compacted
        // and its ranges reused hundreds of times
        const { client, pair } = yield* connected({ memory: { chunkSize: 997, capacity: 1 << 20 }, client: { bufferCapacity: 1024 } })
        yield* pair.server.write(frames.subarray(0, at))
        // the peer's end behind the close: a reader that lost its place fails at the end of input
        // (a torn frame never completed) instead of waiting for bytes that will not come
        yield* pair.server.end()
        const seen: Array<string> = []
        const kept: Array<Uint8Array> = []
        const buffers = new Set<ArrayBufferLike>()
        let chunks = 0
        yield* Stream.runForEachArray(WebSocket.messages(client, { lent }), (chunk) =>
          Effect.sync(() => {
            chunks++
            for (const message of chunk) {
              if (message._tag === "Binary" || message._tag === "Pong") {
                // read when its chunk is handed out: a lent view must still hold its bytes
                seen.push(`${message._tag} ${Buffer.from(message.payload).toString("hex")}`)
                kept.push(message.payload)
                if (message.payload.length > 64) buffers.add(message.payload.buffer)
              } else seen.push(message._tag)
            }
          }))
        assert.deepStrictEqual(seen, expected, `lent ${lent}`)
        assert.isAbove(chunks, 20)
        if (lent) {
          // views of the 1 KiB slab (and of the one it swaps with at a compaction), not copies
          assert.isAtMost(buffers.size, 2)
          for (const buffer of buffers) assert.strictEqual(buffer.byteLength, 1024)
        } else {
          // owned copies keep their bytes after the slab was refilled under them 300 times
          const after = kept.map((payload) => Buffer.from(payload).toString("hex"))
          assert.deepStrictEqual(after, seen.filter((s) => s !== "Close").map((s) => s.split(" ")[1]))
        }
      }
    }))

  it.effect("messages emits what is buffered as one chunk per pull, at most maxBatch, as owned copies", () =>
    Effect.gen(function*() {
      const pair = yield* Memory.pair()
      const accepting = yield* Effect.forkChild(WebSocket.accept(pair.server))
      const client = yield* WebSocket.connectOver(pair.client, "ws://memory.test/", { maxBatch: 3 })
      yield* Fiber.join(accepting)
      // five binary messages (one of 600 B, copied into a Buffer of its own), a text, then close 1000
      const big = Buffer.alloc(600, 0x5a)
      yield* pair.server.write(Buffer.concat([
        hex("82 01 01 82 01 02 82 01 03 82 01 04"),
        hex("82 7e 02 58"),
        big,
        hex("81 02 6f 6b 88 02 03 e8")
      ]))
      const chunks = yield* Stream.runCollect(Stream.chunks(WebSocket.messages(client)))
      assert.deepStrictEqual(chunks, [
        [
          { _tag: "Binary", payload: new Uint8Array([1]) },
          { _tag: "Binary", payload: new Uint8Array([2]) },
          { _tag: "Binary", payload: new Uint8Array([3]) }
        ],
        [
          { _tag: "Binary", payload: new Uint8Array([4]) },
          { _tag: "Binary", payload: Buffer.from(big) },
          { _tag: "Text", text: "ok" }
        ],
        [{ _tag: "Close", code: 1000, reason: "" }]
      ])
      // the close was echoed; our end of stream lets the client's scope finish cleanly
      assert.deepStrictEqual(yield* readFrames(pair.server, "server", 1), [{ _tag: "Close", code: 1000, reason: "" }])
      yield* pair.server.end()
    }))

  it.effect("messages delivers the messages buffered before a violation, then fails with it", () =>
    Effect.gen(function*() {
      const pair = yield* Memory.pair()
      const accepting = yield* Effect.forkChild(WebSocket.accept(pair.server))
      const client = yield* WebSocket.connectOver(pair.client, "ws://memory.test/")
      yield* Fiber.join(accepting)
      yield* pair.server.write(hex("82 01 07 81 01 61 c1 02 6f 6b"))
      const seen: Array<ReadonlyArray<FrameReader.OwnedMessage>> = []
      const error = yield* Effect.flip(
        Stream.runForEach(Stream.chunks(WebSocket.messages(client)), (chunk) => Effect.sync(() => seen.push(chunk)))
      )
      assert.deepStrictEqual(seen, [[{ _tag: "Binary", payload: new Uint8Array([7]) }, { _tag: "Text", text: "a" }]])
      yield* assertRsv1Failure(error, pair.server)
    }))

  it.effect("sends made while a write waits for the peer leave together in one write, in order", () =>
    Effect.gen(function*() {
      const pair = yield* Memory.pair({ capacity: 1024 })
      const writes = countingWrites(pair.client)
      const accepting = yield* Effect.forkChild(WebSocket.accept(pair.server))
      const client = yield* WebSocket.connectOver(writes.transport, "ws://memory.test/")
      const server = yield* Fiber.join(accepting)
      writes.calls.length = 0
      // the first send fills the pipe and waits for the server to read; five more queue behind it
      const big = yield* Effect.forkChild(client.sendBinary(Buffer.alloc(10_000, 1)))
      yield* Effect.yieldNow
      const small: Array<Fiber.Fiber<void, WebSocket.WebSocketError>> = []
      for (let i = 0; i < 5; i++) {
        small.push(yield* Effect.forkChild(client.sendText(`m${i}`)))
        yield* Effect.yieldNow
      }
      assert.deepStrictEqual(writes.calls, [["write", 1]])
      const got: Array<string> = []
      for (let i = 0; i < 6; i++) {
        const m = yield* server.recv
        got.push(m._tag === "Text" ? m.text() : `${m._tag}:${m.length}`)
      }
      yield* Fiber.join(big)
      for (const fiber of small) yield* Fiber.join(fiber)
      assert.deepStrictEqual(got, ["Binary:10000", "m0", "m1", "m2", "m3", "m4"])
      // the five frames sat back to back in the send slab: one region, one write
      assert.deepStrictEqual(writes.calls, [["write", 1], ["write", 1]])
    }))

  it.effect("a send interrupted while it waits for the group write is never written", () =>
    Effect.gen(function*() {
      const { client, server } = yield* connected({ memory: { capacity: 1024 } })
      const big = yield* Effect.forkChild(client.sendBinary(Buffer.alloc(10_000, 1)))
      yield* Effect.yieldNow
      const dropped = yield* Effect.forkChild(client.sendText("dropped"))
      yield* Effect.yieldNow
      const kept = yield* Effect.forkChild(client.sendText("kept"))
      yield* Effect.yieldNow
      yield* Fiber.interrupt(dropped)
      const first = yield* server.recv
      assert.strictEqual(`${first._tag}:${first.length}`, "Binary:10000")
      yield* Fiber.join(big)
      yield* Fiber.join(kept)
      yield* client.sendText("after")
      assert.strictEqual(((yield* server.recv) as FrameReader.Text).text(), "kept")
      assert.strictEqual(((yield* server.recv) as FrameReader.Text).text(), "after")
    }))
})
