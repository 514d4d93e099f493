import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as http from "node:http"
import * as net from "node:net"
import { WebSocket as WsClient, WebSocketServer } from "ws"
import * as FrameReader from "../../src/Codec/FrameReader.ts"
import * as Handshake from "../../src/Codec/Handshake.ts"
import * as Memory from "../../src/Transport/Memory.ts"
import * as WebSocket from "../../src/Transport/WebSocket.ts"
import { echo, eventually, serveOurs } from "../support/ourServer.ts"

// permessage-deflate (RFC 7692) against `ws` in both roles, on 127.0.0.1 with ephemeral ports.
// Each server counts the raw bytes it read and wrote, so a test can tell that compression
// really happened on the wire, and its open sockets, so nothing leaks.

interface DeflatePeer {
  readonly port: number
  readonly open: () => number
  readonly bytesRead: () => number
  readonly extensions: Array<string | undefined>
  readonly closes: Array<number>
}

/** A `ws` echo server with `perMessageDeflate` (threshold 0: every message compressed), or `onConnection`. */
const wsServer = (
  perMessageDeflate: object | boolean = { threshold: 0 },
  onConnection?: (ws: WsClient) => void
) =>
  Effect.acquireRelease(
    Effect.callback<DeflatePeer & { server: http.Server; wss: WebSocketServer }>((resume) => {
      const server = http.createServer()
      let open = 0
      let read = 0
      server.on("connection", (socket: net.Socket) => {
        open++
        socket.on("close", () => {
          open--
          read += socket.bytesRead
        })
      })
      const wss = new WebSocketServer({ server, perMessageDeflate })
      const extensions: Array<string | undefined> = []
      const closes: Array<number> = []
      wss.on("connection", (ws, request) => {
        extensions.push(request.headers["sec-websocket-extensions"])
        ws.on("close", (code) => closes.push(code))
        ws.on("error", () => {})
        if (onConnection !== undefined) return onConnection(ws)
        ws.on("message", (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }))
      })
      server.listen(0, "127.0.0.1", () =>
        resume(Effect.succeed({
          server,
          wss,
          port: (server.address() as net.AddressInfo).port,
          open: () => open,
          bytesRead: () => read,
          extensions,
          closes
        })))
    }),
    ({ server, wss }) =>
      Effect.sync(() => {
        for (const client of wss.clients) client.terminate()
        wss.close()
        server.close()
      })
  )

const orderBook = (i: number) =>
  JSON.stringify({
    e: "depthUpdate",
    s: "BTCUSDT",
    u: 1000 + i,
    b: Array.from({ length: 12 }, (_, k) => [(64000 - k * 0.5).toFixed(2), (1 + ((i + k) % 7) * 0.125).toFixed(3)]),
    a: Array.from({ length: 12 }, (_, k) => [(64001 + k * 0.5).toFixed(2), (2 + ((i + k) % 5) * 0.25).toFixed(3)])
  })

const pattern = (n: number, seed = 0) => {
  const buf = Buffer.allocUnsafe(n)
  for (let i = 0; i < n; i++) buf[i] = ((i >> 3) * 31 + seed) & 0xff
  return buf
}

describe("permessage-deflate: our client against a ws server", () => {
  it.live("negotiates, round-trips text and binary from 0 bytes to 1 MiB compressed, and puts fewer bytes on the wire", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer()
      const sent = yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* WebSocket.connect(`ws://127.0.0.1:${peer.port}/`, { compression: { threshold: 0 } })
        assert.deepStrictEqual(socket.deflate, {
          _tag: "Agreed",
          serverNoContextTakeover: false,
          clientNoContextTakeover: false,
          serverMaxWindowBits: 15,
          clientMaxWindowBits: 15
        })
        let total = 0
        for (let i = 0; i < 50; i++) {
          const text = orderBook(i)
          total += text.length
          yield* socket.sendText(text)
          assert.deepStrictEqual(FrameReader.toOwned(yield* socket.recv), { _tag: "Text", text })
        }
        for (const size of [0, 1, 125, 126, 65535, 65536, 1 << 20]) {
          const data = pattern(size, size)
          total += size
          yield* socket.sendBinary(data)
          const back = yield* socket.recv
          assert.strictEqual(back._tag, "Binary")
          assert.isTrue(back.payload.equals(data), `binary ${size}`)
        }
        const text = "ünïcödé ".repeat(20_000)
        total += Buffer.byteLength(text)
        yield* socket.sendText(text)
        assert.deepStrictEqual(FrameReader.toOwned(yield* socket.recv), { _tag: "Text", text })
        yield* socket.close()
        return total
      }))
      yield* eventually(() => peer.open() === 0)
      assert.deepStrictEqual(peer.extensions, ["permessage-deflate; client_max_window_bits"])
      assert.deepStrictEqual(peer.closes, [1000])
      // the payloads repeat: compressed they are a small fraction of their size
      assert.isBelow(peer.bytesRead(), sent / 10, `${peer.bytesRead()} bytes on the wire for ${sent} of payload`)
    }))

  it.live("without context takeover and with smaller windows: agreed as offered, every message still round-trips", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer({ threshold: 0 })
      yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* WebSocket.connect(`ws://127.0.0.1:${peer.port}/`, {
          compression: {
            threshold: 0,
            clientNoContextTakeover: true,
            serverNoContextTakeover: true,
            serverMaxWindowBits: 10,
            clientMaxWindowBits: 11
          },
          fragmentSize: 100
        })
        assert.deepStrictEqual(socket.deflate, {
          _tag: "Agreed",
          serverNoContextTakeover: true,
          clientNoContextTakeover: true,
          serverMaxWindowBits: 10,
          clientMaxWindowBits: 11
        })
        for (let i = 0; i < 20; i++) {
          const text = orderBook(i)
          yield* socket.sendText(text)
          assert.deepStrictEqual(FrameReader.toOwned(yield* socket.recv), { _tag: "Text", text })
        }
        yield* socket.close()
      }))
      assert.deepStrictEqual(peer.extensions, [
        "permessage-deflate; client_no_context_takeover; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11"
      ])
    }))

  it.live("stays uncompressed when the server does not take the offer", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer(false)
      yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* WebSocket.connect(`ws://127.0.0.1:${peer.port}/`, { compression: true })
        assert.strictEqual(socket.deflate, undefined)
        yield* socket.sendText(orderBook(1))
        assert.deepStrictEqual(FrameReader.toOwned(yield* socket.recv), { _tag: "Text", text: orderBook(1) })
        yield* socket.close()
      }))
    }))

  it.live("a deflate bomb (32 MiB of zeros in ~32 KiB) closes with 1009 once the inflated size passes maxMessageSize", () =>
    Effect.gen(function*() {
      const bomb = Buffer.alloc(32 * 1024 * 1024)
      const peer = yield* wsServer({ threshold: 0 }, (ws) => ws.send(bomb, { binary: true }))
      const error = yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* WebSocket.connect(`ws://127.0.0.1:${peer.port}/`, {
          compression: true,
          maxMessageSize: 1024 * 1024
        })
        return yield* Effect.flip(socket.recv)
      }))
      assert.strictEqual(error.reason._tag, "WebSocketProtocolError")
      if (error.reason._tag !== "WebSocketProtocolError") return
      assert.deepStrictEqual(error.reason.violation, {
        _tag: "MessageTooBig",
        closeCode: 1009,
        message: `message payload of ${1024 * 1024 + 1} bytes exceeds maxMessageSize ${1024 * 1024}`,
        length: 1024 * 1024 + 1,
        max: 1024 * 1024
      })
      yield* eventually(() => peer.closes.length === 1)
      assert.deepStrictEqual(peer.closes, [1009])
      yield* eventually(() => peer.open() === 0)
    }))
})

/** Our client and server over a Memory pair, compression agreed, every message compressed. */
const compressedPair = Effect.gen(function*() {
  const pair = yield* Memory.pair()
  const [client, server] = yield* Effect.all([
    WebSocket.connectOver(pair.client, "ws://memory.test/", { compression: true }),
    WebSocket.accept(pair.server, { compression: { threshold: 0 } })
  ], { concurrency: 2 })
  return { client, server }
})

describe("permessage-deflate: the three ways to consume, over a Memory pair", () => {
  it.live("run, recv and messages all hand over inflated messages, batches included", () =>
    Effect.gen(function*() {
      const { client, server } = yield* compressedPair
      const texts = Array.from({ length: 90 }, (_, i) => orderBook(i))
      // one burst: the client's reader meets many compressed frames per read
      yield* Effect.forEach(texts, (text) => server.sendText(text), { discard: true })
      const viaRecv: Array<string> = []
      for (let i = 0; i < 30; i++) {
        const m = yield* client.recv
        if (m._tag === "Text") viaRecv.push(m.text())
      }
      const viaRun: Array<string> = []
      yield* Effect.catch(
        WebSocket.run(client, (m) => {
          if (m._tag === "Text") viaRun.push(m.text())
          return viaRun.length === 30 ? Effect.fail("enough" as const) : undefined
        }),
        () => Effect.void
      )
      const viaStream = yield* Stream.runCollect(Stream.take(WebSocket.messages(client), 30))
      assert.deepStrictEqual(viaRecv, texts.slice(0, 30))
      assert.deepStrictEqual(viaRun, texts.slice(30, 60))
      assert.deepStrictEqual(Array.from(viaStream), texts.slice(60).map((text) => ({ _tag: "Text" as const, text })))
    }))

  it.live("messages with lent: inflated binary payloads are copies of their own, whole after the stream ends", () =>
    Effect.gen(function*() {
      const { client, server } = yield* compressedPair
      const sent = Array.from({ length: 60 }, (_, i) => Buffer.from(orderBook(i)))
      yield* Effect.forEach(sent, (bytes) => server.sendBinary(bytes), { discard: true })
      const kept: Array<Uint8Array> = []
      const seen: Array<string> = []
      yield* Stream.runForEachArray(Stream.take(WebSocket.messages(client, { lent: true }), 60), (chunk) =>
        Effect.sync(() => {
          for (const message of chunk) {
            if (message._tag !== "Binary") continue
            seen.push(Buffer.from(message.payload).toString("hex"))
            kept.push(message.payload)
          }
        }))
      const expected = sent.map((bytes) => bytes.toString("hex"))
      assert.deepStrictEqual(seen, expected)
      // not views of the read slab (it holds the compressed bytes): kept, they stay whole
      assert.deepStrictEqual(kept.map((payload) => Buffer.from(payload).toString("hex")), expected)
    }))
})

describe("permessage-deflate: a ws client against our server", () => {
  it.live("compresses both ways when the server is configured, and not when it is not", () =>
    Effect.gen(function*() {
      for (const compression of [true, undefined]) {
        const server = yield* serveOurs(echo, { compression })
        const result = yield* Effect.promise(() =>
          new Promise<{ extensions: string; texts: Array<string> }>((resolve, reject) => {
            const client = new WsClient(`ws://127.0.0.1:${server.port}/`, { perMessageDeflate: { threshold: 0 } })
            const texts: Array<string> = []
            client.on("error", reject)
            client.on("open", () => {
              for (let i = 0; i < 30; i++) client.send(orderBook(i))
            })
            client.on("message", (data) => {
              texts.push(data.toString())
              if (texts.length === 30) client.close(1000)
            })
            client.on("close", () => resolve({ extensions: client.extensions, texts }))
          })
        )
        assert.deepStrictEqual(result.texts, Array.from({ length: 30 }, (_, i) => orderBook(i)))
        assert.strictEqual(result.extensions, compression === true ? "permessage-deflate" : "")
        yield* server.finished(1)
        yield* eventually(() => server.open() === 0)
      }
    }))

  it.live("refuses a malformed Sec-WebSocket-Extensions with 400 and a typed HandshakeError", () =>
    Effect.gen(function*() {
      const server = yield* serveOurs(echo, { compression: true })
      const key = Handshake.generateKey()
      const answer = yield* Effect.promise(() =>
        new Promise<string>((resolve) => {
          const socket = net.connect(server.port, "127.0.0.1", () => {
            socket.write(
              `GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
                `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; =oops\r\n\r\n`
            )
          })
          let text = ""
          socket.on("data", (chunk) => (text += chunk.toString()))
          socket.on("end", () => {
            socket.end()
            resolve(text)
          })
        })
      )
      assert.match(answer, /^HTTP\/1\.1 400 /)
      yield* server.finished(1)
      const exit = server.exits[0]!
      assert.strictEqual(exit._tag, "Failure")
      if (exit._tag !== "Failure") return
      const error = exit.cause.reasons.find((r) => r._tag === "Fail")
      assert.deepStrictEqual((error as { error: WebSocket.WebSocketError } | undefined)?.error.reason, new WebSocket.HandshakeError({
        violation: {
          _tag: "InvalidExtensions",
          message: "Sec-WebSocket-Extensions \"permessage-deflate; =oops\" is invalid: parameter \"\" of permessage-deflate is not a token",
          header: "permessage-deflate; =oops"
        }
      }))
    }))
})

/** A raw server that answers any upgrade with 101 and the given extensions header, then `after`. */
const rawServer = (extensions: string, after: Buffer = Buffer.alloc(0)) =>
  Effect.acquireRelease(
    Effect.callback<net.Server>((resume) => {
      const server = net.createServer((socket) => {
        socket.on("error", () => {})
        socket.once("data", (chunk) => {
          const key = /sec-websocket-key: (\S+)/i.exec(chunk.toString())![1]!
          socket.write(
            `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
              `Sec-WebSocket-Accept: ${Handshake.acceptKey(key)}\r\nSec-WebSocket-Extensions: ${extensions}\r\n\r\n`
          )
          socket.write(after)
        })
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.sync(() => server.close())
  )

describe("permessage-deflate: a server's answer our client refuses", () => {
  const cases: ReadonlyArray<readonly [string, object, unknown]> = [
    ["permessage-deflate; server_max_window_bits=16", {}, {
      _tag: "InvalidDeflateParameter",
      message: "permessage-deflate parameter server_max_window_bits in the server's answer needs a value from 8 to 15",
      parameter: "server_max_window_bits"
    }],
    ["permessage-deflate; client_no_context_takeover; client_no_context_takeover", {}, {
      _tag: "InvalidDeflateParameter",
      message: "permessage-deflate parameter client_no_context_takeover in the server's answer appears twice",
      parameter: "client_no_context_takeover"
    }],
    ["permessage-deflate; mystery", {}, {
      _tag: "InvalidDeflateParameter",
      message: "permessage-deflate parameter mystery in the server's answer is not a permessage-deflate parameter",
      parameter: "mystery"
    }],
    ["x-webkit-deflate-frame", {}, {
      _tag: "UnofferedExtension",
      message: "server selected extensions \"x-webkit-deflate-frame\" that were not offered",
      extensions: "x-webkit-deflate-frame"
    }],
    ["permessage-deflate; client_max_window_bits=8", {}, {
      _tag: "UnsupportedWindowBits",
      message: "the server asked for client_max_window_bits=8, which zlib's raw deflate cannot honour",
      bits: 8
    }],
    ["permessage-deflate", { serverMaxWindowBits: 10 }, {
      _tag: "InvalidDeflateParameter",
      message: "permessage-deflate parameter server_max_window_bits in the server's answer is absent, looser than the offered 10",
      parameter: "server_max_window_bits"
    }]
  ]
  for (const [answer, config, violation] of cases) {
    it.live(`fails the handshake on "${answer}"`, () =>
      Effect.gen(function*() {
        const server = yield* rawServer(answer)
        const port = (server.address() as net.AddressInfo).port
        const error = yield* Effect.flip(Effect.scoped(WebSocket.connect(`ws://127.0.0.1:${port}/`, { compression: config })))
        assert.deepStrictEqual(error.reason, new WebSocket.HandshakeError({ violation: violation as WebSocket.HandshakeViolation }))
      }))
  }

  it.live("a compressed message zlib cannot inflate fails the stream with InvalidCompressedData and close 1007", () =>
    Effect.gen(function*() {
      // c1 = FIN | RSV1 | text; ff ff ff ff is no raw deflate block
      const server = yield* rawServer("permessage-deflate", Buffer.from("c104ffffffff", "hex"))
      const port = (server.address() as net.AddressInfo).port
      const error = yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* WebSocket.connect(`ws://127.0.0.1:${port}/`, { compression: true })
        return yield* Effect.flip(socket.recv)
      }))
      assert.deepStrictEqual(error.reason, new WebSocket.WebSocketProtocolError({
        violation: {
          _tag: "InvalidCompressedData",
          closeCode: 1007,
          message: "compressed message cannot be inflated: invalid block type",
          detail: "invalid block type"
        },
        closeCode: 1007
      }))
    }))
})
