import { assert, describe, it } from "@effect/vitest"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as http from "node:http"
import * as https from "node:https"
import * as fs from "node:fs"
import * as tls from "node:tls"
import * as netModule from "node:net"
import type * as net from "node:net"
import { afterAll, beforeAll } from "vitest"
import { WebSocket as WsClient, WebSocketServer } from "ws"
import * as FrameReader from "../../src/Codec/FrameReader.ts"
import * as FromSocket from "../../src/Transport/FromSocket.ts"
import * as Tcp from "../../src/Transport/Tcp.ts"
import * as Tls from "../../src/Transport/Tls.ts"
import { InvalidUrl } from "../../src/Transport/Transport.ts"
import * as WebSocket from "../../src/Transport/WebSocket.ts"
import { echo, eventually, serveOurs } from "../support/ourServer.ts"
import { hasOpenssl, makeThrowawayCa, OPENSSL_HINT, type ThrowawayCa } from "../support/throwawayCa.ts"

// `ws` (npm) as the peer in both roles, on 127.0.0.1 with ephemeral ports. Every server counts
// its raw TCP sockets so each test can check that nothing leaked.

let ca: ThrowawayCa | undefined
if (!hasOpenssl) console.warn(`${OPENSSL_HINT} (the wss:// cases here skip)`)

beforeAll(() => {
  if (hasOpenssl) ca = makeThrowawayCa()
})
afterAll(() => ca?.remove())

interface WsPeer {
  readonly port: number
  readonly wss: WebSocketServer
  readonly open: () => number
  readonly closes: Array<{ code: number; reason: string }>
  readonly headers: Array<http.IncomingHttpHeaders>
}

/** A `ws` server (echo unless `onConnection` takes over) over http or https on 127.0.0.1:0. */
const wsServer = (
  options: { readonly secure?: boolean; readonly onConnection?: (ws: WsClient) => void } = {}
) =>
  Effect.acquireRelease(
    Effect.callback<WsPeer & { server: http.Server }>((resume) => {
      const server = options.secure ? https.createServer({ key: ca!.key, cert: ca!.cert }) : http.createServer()
      let open = 0
      server.on("connection", (socket: net.Socket) => {
        open++
        socket.on("close", () => open--)
      })
      const wss = new WebSocketServer({
        server,
        handleProtocols: (protocols) => (protocols.has("v1") ? "v1" : false)
      })
      const closes: Array<{ code: number; reason: string }> = []
      const headers: Array<http.IncomingHttpHeaders> = []
      wss.on("connection", (ws, request) => {
        headers.push(request.headers)
        ws.on("close", (code, reason) => closes.push({ code, reason: reason.toString() }))
        ws.on("error", () => {})
        if (options.onConnection !== undefined) return options.onConnection(ws)
        ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }))
      })
      server.listen(0, "127.0.0.1", () =>
        resume(Effect.succeed({
          server,
          port: (server.address() as net.AddressInfo).port,
          wss,
          open: () => open,
          closes,
          headers
        })))
    }),
    ({ server, wss }) =>
      Effect.sync(() => {
        for (const client of wss.clients) client.terminate()
        wss.close()
        server.close()
      })
  )

const pattern = (n: number, seed = 0) => {
  const buf = Buffer.allocUnsafe(n)
  for (let i = 0; i < n; i++) buf[i] = (i * 31 + seed) & 0xff
  return buf
}

const owned = (m: FrameReader.Message) => FrameReader.toOwned(m)

// Linux reports each socket's pending timer in /proc/net/tcp: "02" is the keep-alive timer, set
// only on a socket with SO_KEEPALIVE, with the time left in USER_HZ (1/100 s) ticks.
const hasProcNetTcp = fs.existsSync("/proc/net/tcp")
if (!hasProcNetTcp) console.warn("no /proc/net/tcp (not Linux): the TCP keep-alive case here skips")

/** The kernel's timer for each established client socket connected to 127.0.0.1:`port`. */
const clientTimers = (port: number): Array<{ readonly timer: string; readonly seconds: number }> => {
  const remote = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`
  return fs.readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1).flatMap((line) => {
    const fields = line.trim().split(/\s+/)
    if (fields[2] !== remote || fields[3] !== "01") return []
    const [timer, when] = fields[5]!.split(":")
    return [{ timer: timer!, seconds: parseInt(when!, 16) / 100 }]
  })
}

describe("WebSocket client against a ws server", () => {
  it.live("echoes text and binary from 0 bytes to 1 MiB, with headers and a subprotocol", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer()
      yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* WebSocket.connect(`ws://127.0.0.1:${peer.port}/echo`, {
          headers: [["X-Api-Key", "secret-1"]],
          protocols: ["v2", "v1"]
        })
        assert.strictEqual(socket.protocol, "v1")
        assert.strictEqual(peer.headers[0]!["x-api-key"], "secret-1")
        for (const size of [0, 1, 125, 126, 65535, 65536, 1 << 20]) {
          const data = pattern(size, size)
          yield* socket.sendBinary(data)
          const back = yield* socket.recv
          assert.strictEqual(back._tag, "Binary")
          assert.isTrue(back.payload.equals(data), `binary ${size}`)
        }
        const text = "ünïcödé ".repeat(20_000)
        yield* socket.sendText(text)
        assert.deepStrictEqual(owned(yield* socket.recv), { _tag: "Text", text })
        yield* socket.close()
      }))
      yield* eventually(() => peer.open() === 0)
      assert.deepStrictEqual(peer.closes, [{ code: 1000, reason: "" }])
    }))

  it.live("sends fragmented messages ws joins, and joins the fragments ws sends", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer({
        onConnection: (ws) => {
          ws.on("message", (data, isBinary) => {
            const bytes = data as Buffer
            // answer in three fragments
            const third = Math.ceil(bytes.length / 3)
            ws.send(bytes.subarray(0, third), { binary: isBinary, fin: false })
            ws.send(bytes.subarray(third, 2 * third), { binary: isBinary, fin: false })
            ws.send(bytes.subarray(2 * third), { binary: isBinary, fin: true })
          })
        }
      })
      yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* WebSocket.connect(`ws://127.0.0.1:${peer.port}/`, { fragmentSize: 4096 })
        const data = pattern(300_000)
        yield* socket.sendBinary(data)
        const back = yield* socket.recv
        assert.isTrue(back.payload.equals(data))
        yield* socket.sendText("fragmented text ✓ ".repeat(1000))
        assert.deepStrictEqual(owned(yield* socket.recv), { _tag: "Text", text: "fragmented text ✓ ".repeat(1000) })
        yield* socket.close()
      }))
      yield* eventually(() => peer.open() === 0)
    }))

  it.live("gets ws's pong for its ping and answers ws's ping automatically", () =>
    Effect.gen(function*() {
      const pongs: Array<string> = []
      const peer = yield* wsServer({
        onConnection: (ws) => {
          ws.on("pong", (data) => pongs.push(data.toString()))
          ws.on("message", () => ws.ping("from ws"))
        }
      })
      yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* WebSocket.connect(`ws://127.0.0.1:${peer.port}/`)
        yield* socket.sendPing("from us")
        assert.deepStrictEqual(owned(yield* socket.recv), { _tag: "Pong", payload: new Uint8Array(Buffer.from("from us")) })
        yield* socket.sendText("ping me")
        assert.deepStrictEqual(owned(yield* socket.recv), { _tag: "Ping", payload: new Uint8Array(Buffer.from("from ws")) })
        yield* eventually(() => pongs.length === 1)
        assert.deepStrictEqual(pongs, ["from ws"])
        yield* socket.close()
      }))
      yield* eventually(() => peer.open() === 0)
    }))

  it.live("closing handshake started by us: ws sees our code and reason", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer()
      yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* WebSocket.connect(`ws://127.0.0.1:${peer.port}/`)
        yield* socket.close(4001, "bye now")
        assert.strictEqual(socket.state, "closed")
      }))
      yield* eventually(() => peer.closes.length === 1 && peer.open() === 0)
      assert.deepStrictEqual(peer.closes, [{ code: 4001, reason: "bye now" }])
    }))

  it.live("closing handshake started by ws: recv returns its close and the socket ends", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer({ onConnection: (ws) => ws.on("message", () => ws.close(4002, "server done")) })
      yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* WebSocket.connect(`ws://127.0.0.1:${peer.port}/`)
        yield* socket.sendText("go")
        assert.deepStrictEqual(owned(yield* socket.recv), { _tag: "Close", code: 4002, reason: "server done" })
        const error = yield* Effect.flip(socket.recv)
        assert.deepStrictEqual(
          error,
          new WebSocket.WebSocketError({
            address: `127.0.0.1:${peer.port}`,
            reason: new WebSocket.WebSocketClosed({ operation: "recv", code: 4002, closeReason: "server done", by: "peer" })
          })
        )
      }))
      yield* eventually(() => peer.open() === 0)
      assert.deepStrictEqual(peer.closes, [{ code: 4002, reason: "server done" }])
    }))

  it.live("a server sending a frame with RSV2 set gets close 1002 and recv fails with WebSocketProtocolError", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer({
        onConnection: (ws) => {
          // bypass ws's sender: a text frame with RSV2
          ;(ws as unknown as { _socket: net.Socket })._socket.write(Buffer.from([0xa1, 0x02, 0x68, 0x69]))
        }
      })
      yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* WebSocket.connect(`ws://127.0.0.1:${peer.port}/`)
        const error = yield* Effect.flip(socket.recv)
        assert.deepStrictEqual(
          error.reason._tag === "WebSocketProtocolError" && [error.reason.violation._tag, error.reason.closeCode],
          ["ReservedBitsSet", 1002]
        )
        assert.strictEqual(
          error.message,
          `WebSocket 127.0.0.1:${peer.port}: protocol violation by the peer: reserved bits set (RSV2) but no extension was negotiated (sent close 1002)`
        )
      }))
      yield* eventually(() => peer.closes.length === 1 && peer.open() === 0)
      assert.strictEqual(peer.closes[0]!.code, 1002)
    }))

  it.live("a server that resets the connection mid-message fails recv with a Reset ReadError", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer({
        onConnection: (ws) => {
          const raw = (ws as unknown as { _socket: net.Socket })._socket
          // a binary frame announcing 1000 bytes, 3 sent, then RST
          raw.write(Buffer.from([0x82, 0x7e, 0x03, 0xe8, 1, 2, 3]), () => setTimeout(() => raw.resetAndDestroy(), 20))
        }
      })
      yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* WebSocket.connect(`ws://127.0.0.1:${peer.port}/`)
        const error = yield* Effect.flip(socket.recv)
        assert.deepStrictEqual(
          [error.address, error.reason._tag, error.reason._tag === "ReadError" && error.reason.kind],
          [`127.0.0.1:${peer.port}`, "ReadError", "Reset"]
        )
        assert.include(error.message, `WebSocket 127.0.0.1:${peer.port}: read failed: Reset`)
        const send = yield* Effect.flip(socket.sendText("x"))
        // the stream failed: sends report the same failure
        assert.strictEqual(send.reason, error.reason)
      }))
      yield* eventually(() => peer.open() === 0)
    }))

  it.live.skipIf(!hasOpenssl)("wss:// through the throwaway CA; an untrusted CA is a TlsError", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer({ secure: true })
      const tls = Tls.TlsConfig.makeUnsafe({ ca: [ca!.caPem] })
      yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* WebSocket.connect(`wss://localhost:${peer.port}/secure`, { tls })
        const data = pattern(1 << 20, 3)
        yield* socket.sendBinary(data)
        assert.isTrue((yield* socket.recv).payload.equals(data))
        yield* socket.close()
      }))
      const error = yield* Effect.flip(Effect.scoped(WebSocket.connect(`wss://localhost:${peer.port}/`)))
      assert.deepStrictEqual(
        [error.address, error.reason._tag, error.reason._tag === "TlsError" && error.reason.kind],
        [`localhost:${peer.port}`, "TlsError", "CertificateUntrusted"]
      )
      yield* eventually(() => peer.open() === 0)
    }))

  it.live("connectOver runs over an effect/socket Socket adapted with FromSocket", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer()
      yield* Effect.scoped(Effect.gen(function*() {
        const effectSocket = yield* NodeSocket.makeNet({ host: "127.0.0.1", port: peer.port })
        const transport = yield* FromSocket.fromSocket(effectSocket, { remoteAddress: `127.0.0.1:${peer.port}` })
        const socket = yield* WebSocket.connectOver(transport, `ws://127.0.0.1:${peer.port}/via-effect-socket`)
        const data = pattern(200_000, 1)
        yield* socket.sendBinary(data)
        assert.isTrue((yield* socket.recv).payload.equals(data))
        yield* socket.close(1000, "adapter")
      }))
      yield* eventually(() => peer.closes.length === 1 && peer.open() === 0)
      assert.deepStrictEqual(peer.closes, [{ code: 1000, reason: "adapter" }])
    }))

  it.live("a server that accepts TCP but never answers the upgrade fails with a connect WebSocketTimeout", () =>
    Effect.gen(function*() {
      let open = 0
      const silent = yield* Effect.acquireRelease(
        Effect.callback<net.Server>((resume) => {
          const server: net.Server = netModule.createServer((socket) => {
            open++
            socket.on("close", () => open--)
            socket.on("error", () => {})
            socket.resume() // read (and drop) the upgrade request, so our FIN is seen
          })
          server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
        }),
        (server) => Effect.sync(() => server.close())
      )
      const port = (silent.address() as net.AddressInfo).port
      const error = yield* Effect.flip(
        Effect.scoped(WebSocket.connect(`ws://127.0.0.1:${port}/`, { connectTimeout: "150 millis" }))
      )
      assert.deepStrictEqual(
        error,
        new WebSocket.WebSocketError({
          address: `127.0.0.1:${port}`,
          reason: new WebSocket.WebSocketTimeout({ operation: "connect", after: Duration.millis(150) })
        })
      )
      assert.strictEqual(error.message, `WebSocket 127.0.0.1:${port}: connect timed out after 150ms`)
      // the timed-out dial's socket is destroyed with the scope
      yield* eventually(() => open === 0)
    }))

  it.effect("refuses non-WebSocket URLs and URLs with credentials (redacted) with InvalidUrl", () =>
    Effect.gen(function*() {
      const http = yield* Effect.flip(Effect.scoped(WebSocket.connect("http://127.0.0.1/")))
      assert.deepStrictEqual(
        http,
        new WebSocket.WebSocketError({
          address: "http://127.0.0.1/",
          reason: new InvalidUrl({
            error: { _tag: "UnsupportedScheme", scheme: "http", message: "scheme \"http\" is not ws or wss" }
          })
        })
      )
      assert.strictEqual(http.message, "WebSocket http://127.0.0.1/: URL refused: scheme \"http\" is not ws or wss")
      const secret = yield* Effect.flip(Effect.scoped(WebSocket.connect("ws://user:hunter2@127.0.0.1/")))
      assert.deepStrictEqual([secret.reason._tag, secret.reason._tag === "InvalidUrl" && secret.reason.error._tag], [
        "InvalidUrl",
        "CredentialsInUrl"
      ])
      assert.notInclude(secret.message, "hunter2")
      assert.notInclude(JSON.stringify(secret.reason), "hunter2")
    }))

  it.live("layer provides the WebSocket service", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer()
      const text = yield* Effect.gen(function*() {
        const socket = yield* WebSocket.WebSocket
        yield* socket.sendText("via layer")
        const back = owned(yield* socket.recv)
        yield* socket.close()
        return back
      }).pipe(Effect.provide(WebSocket.layer(`ws://127.0.0.1:${peer.port}/`)))
      assert.deepStrictEqual(text, { _tag: "Text", text: "via layer" })
      yield* eventually(() => peer.open() === 0)
    }))

  it.live("busyPoll reaches the socket of a ws:// and a wss:// dial: the event loop polls while recv waits, and sleeps without it", () =>
    Effect.gen(function*() {
      /** The event loop's utilization while `recv` waits 60 ms for a message that does not come: ~1 polling, ~0 asleep. */
      const waiting = (url: (port: number) => string, options: WebSocket.ConnectOptions, secure = false) =>
        Effect.scoped(Effect.gen(function*() {
          const peer = yield* wsServer({ secure })
          const socket = yield* WebSocket.connect(url(peer.port), options)
          const before = performance.eventLoopUtilization()
          yield* Effect.timeoutOption(socket.recv, "60 millis")
          return performance.eventLoopUtilization(before).utilization
        }))
      assert.isAbove(yield* waiting((port) => `ws://127.0.0.1:${port}/`, { busyPoll: "10 seconds" }), 0.7)
      assert.isBelow(yield* waiting((port) => `ws://127.0.0.1:${port}/`, {}), 0.3)
      if (hasOpenssl) {
        const tls = Tls.TlsConfig.makeUnsafe({ ca: [ca!.caPem] })
        assert.isAbove(yield* waiting((port) => `wss://127.0.0.1:${port}/`, { tls, busyPoll: "10 seconds" }, true), 0.7)
      }
    }))

  it.live.skipIf(!hasProcNetTcp)("keepAlive turns TCP keep-alive on with its initial delay, for ws:// and wss://; it is off by default", () =>
    Effect.gen(function*() {
      // one server per connection, so the client socket is the only one connected to its port
      const timers = (url: (port: number) => string, options: WebSocket.ConnectOptions, secure = false) =>
        Effect.scoped(Effect.gen(function*() {
          const peer = yield* wsServer({ secure })
          const socket = yield* WebSocket.connect(url(peer.port), options)
          // an echo round trip: everything we sent is acknowledged, so no retransmit timer shows instead
          yield* socket.sendText("ping")
          yield* socket.recv
          const seen = clientTimers(peer.port)
          yield* socket.close()
          return seen
        }))
      const on = yield* timers((port) => `ws://127.0.0.1:${port}/`, { keepAlive: "30 seconds" })
      assert.strictEqual(on.length, 1)
      assert.strictEqual(on[0]!.timer, "02")
      // generous margin below: only the time since the dial has run off the 30 s
      assert.isAtLeast(on[0]!.seconds, 20)
      assert.isAtMost(on[0]!.seconds, 30)
      const off = yield* timers((port) => `ws://127.0.0.1:${port}/`, {})
      assert.strictEqual(off.length, 1)
      assert.notStrictEqual(off[0]!.timer, "02")
      if (hasOpenssl) {
        const tls = Tls.TlsConfig.makeUnsafe({ ca: [ca!.caPem] })
        const secure = yield* timers((port) => `wss://127.0.0.1:${port}/`, { tls, keepAlive: "40 seconds" }, true)
        assert.strictEqual(secure.length, 1)
        assert.strictEqual(secure[0]!.timer, "02")
        assert.isAtLeast(secure[0]!.seconds, 30)
        assert.isAtMost(secure[0]!.seconds, 40)
      }
    }))

  it.live("the dial options reach the socket: lookup and family resolve the URL's host, servername, noDelay, writeHighWaterMark", () =>
    Effect.gen(function*() {
      // Node keeps a socket's TCP_NODELAY state under this symbol (net.js), set from `noDelay`
      const noDelayOf = (socket: net.Socket): unknown => {
        const key = Object.getOwnPropertySymbols(socket).find((symbol) => symbol.description === "kSetNoDelay")
        return key === undefined ? "no kSetNoDelay" : (socket as unknown as Record<symbol, unknown>)[key]
      }
      const asked: Array<[string, unknown]> = []
      const lookup: net.LookupFunction = (hostname, options, callback) => {
        asked.push([hostname, options.family])
        if (options.all === true) callback(null, [{ address: "127.0.0.1", family: 4 }])
        else callback(null, "127.0.0.1", 4)
      }
      const seen = (url: (port: number) => string, options: WebSocket.ConnectOptions, secure = false) =>
        Effect.scoped(Effect.gen(function*() {
          const peer = yield* wsServer({ secure })
          const socket = yield* WebSocket.connect(url(peer.port), options)
          yield* socket.sendText("dialed")
          const back = owned(yield* socket.recv)
          const raw = (socket.transport as unknown as { readonly socket: net.Socket }).socket
          const facts = { back, noDelay: noDelayOf(raw), writableHighWaterMark: raw.writableHighWaterMark }
          yield* socket.close()
          return facts
        }))
      const plain = yield* seen((port) => `ws://feed.test:${port}/`, { lookup, family: 4, noDelay: false, writeHighWaterMark: 4096 })
      assert.deepStrictEqual(plain, { back: { _tag: "Text", text: "dialed" }, noDelay: false, writableHighWaterMark: 4096 })
      assert.deepStrictEqual(asked, [["feed.test", 4]])
      const defaults = yield* seen((port) => `ws://127.0.0.1:${port}/`, {})
      assert.deepStrictEqual(defaults, { back: { _tag: "Text", text: "dialed" }, noDelay: true, writableHighWaterMark: 64 * 1024 })
      if (hasOpenssl) {
        // the certificate covers localhost, not the name in the URL: servername says which to check
        const tls = Tls.TlsConfig.makeUnsafe({ ca: [ca!.caPem] })
        const secure = yield* seen(
          (port) => `wss://feed.test:${port}/`,
          { tls, servername: "localhost", lookup, noDelay: false, writeHighWaterMark: 8192 },
          true
        )
        assert.deepStrictEqual(secure, { back: { _tag: "Text", text: "dialed" }, noDelay: false, writableHighWaterMark: 8192 })
        assert.deepStrictEqual(asked[1], ["feed.test", 0])
      }
    }))

  it.live("a refused connection is a Refused ConnectError naming the address", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer()
      const port = peer.port
      peer.wss.close()
      yield* Effect.promise(() => new Promise<void>((done) => (peer as unknown as { server: http.Server }).server.close(() => done())))
      const error = yield* Effect.flip(Effect.scoped(WebSocket.connect(`ws://127.0.0.1:${port}/`)))
      assert.deepStrictEqual(
        [error.address, error.reason._tag, error.reason._tag === "ConnectError" && error.reason.kind],
        [`127.0.0.1:${port}`, "ConnectError", "Refused"]
      )
      assert.include(error.message, `WebSocket 127.0.0.1:${port}: connect failed: connection refused`)
    }))
})

/** Opens a ws client and resolves once it is open (or rejects with its error). */
const wsConnect = (url: string, options: { protocols?: Array<string> } = {}) =>
  Effect.acquireRelease(
    Effect.callback<WsClient, Error>((resume) => {
      const ws = new WsClient(url, options.protocols ?? [])
      ws.once("open", () => resume(Effect.succeed(ws)))
      ws.once("error", (error) => resume(Effect.fail(error)))
      ws.once("unexpected-response", (_req, res) => resume(Effect.fail(new Error(`status ${res.statusCode}`))))
    }),
    (ws) => Effect.sync(() => ws.terminate())
  )

/** Collects ws client events. */
const track = (ws: WsClient) => {
  const messages: Array<{ data: Buffer; binary: boolean }> = []
  const pongs: Array<string> = []
  const closes: Array<{ code: number; reason: string }> = []
  ws.on("message", (data, binary) => messages.push({ data: data as Buffer, binary }))
  ws.on("pong", (data) => pongs.push(data.toString()))
  ws.on("close", (code, reason) => closes.push({ code, reason: reason.toString() }))
  ws.on("error", () => {})
  return { messages, pongs, closes }
}

describe("WebSocket server (accept) against a ws client", () => {
  it.live("echoes text and binary up to 1 MiB, fragmented input included, and answers pings", () =>
    Effect.gen(function*() {
      const server = yield* serveOurs(echo, { protocols: ["v1"] })
      const ws = yield* wsConnect(`ws://127.0.0.1:${server.port}/room?id=7`, { protocols: ["v0", "v1"] })
      assert.strictEqual(ws.protocol, "v1")
      const seen = track(ws)
      const big = pattern(1 << 20, 9)
      ws.send(big)
      ws.send("hello ✓")
      ws.send(Buffer.from("frag-"), { binary: false, fin: false })
      ws.send(Buffer.from("ment"), { binary: false, fin: true })
      ws.ping("hb")
      yield* eventually(() => seen.messages.length === 3 && seen.pongs.length === 1)
      assert.isTrue(seen.messages[0]!.data.equals(big))
      assert.deepStrictEqual(seen.messages.slice(1).map((m) => [m.data.toString(), m.binary]), [
        ["hello ✓", false],
        ["frag-ment", false]
      ])
      assert.deepStrictEqual(seen.pongs, ["hb"])
      ws.close(1000, "done")
      yield* server.finished(1)
      yield* eventually(() => seen.closes.length === 1 && server.open() === 0)
      assert.deepStrictEqual(seen.closes, [{ code: 1000, reason: "done" }])
      assert.strictEqual(server.exits[0]!._tag, "Success")
    }))

  it.live("closing handshake started by our server: ws gets the code and the socket closes", () =>
    Effect.gen(function*() {
      const server = yield* serveOurs((socket) =>
        Effect.andThen(socket.recv, socket.close(4003, "maintenance"))
      )
      const ws = yield* wsConnect(`ws://127.0.0.1:${server.port}/`)
      const seen = track(ws)
      ws.send("hi")
      yield* server.finished(1)
      assert.strictEqual(server.exits[0]!._tag, "Success")
      yield* eventually(() => seen.closes.length === 1 && server.open() === 0)
      assert.deepStrictEqual(seen.closes, [{ code: 4003, reason: "maintenance" }])
    }))

  it.live("an unmasked frame from the client is UnmaskedFrame: close 1002 to ws, WebSocketProtocolError here", () =>
    Effect.gen(function*() {
      const server = yield* serveOurs(echo)
      const ws = yield* wsConnect(`ws://127.0.0.1:${server.port}/`)
      const seen = track(ws)
      ;(ws as unknown as { _socket: net.Socket })._socket.write(Buffer.from([0x81, 0x02, 0x68, 0x69]))
      yield* server.finished(1)
      const exit = server.exits[0]!
      assert.strictEqual(exit._tag, "Failure")
      const error = exit._tag === "Failure" ? (exit.cause.reasons[0] as { error: WebSocket.WebSocketError }).error : undefined
      assert.deepStrictEqual(
        error?.reason._tag === "WebSocketProtocolError" && [error.reason.violation._tag, error.reason.closeCode],
        ["UnmaskedFrame", 1002]
      )
      yield* eventually(() => seen.closes.length === 1 && server.open() === 0)
      assert.strictEqual(seen.closes[0]!.code, 1002)
    }))

  it.live("a client that resets mid-message fails the handler with a Reset ReadError and frees the socket", () =>
    Effect.gen(function*() {
      const server = yield* serveOurs(echo)
      const ws = yield* wsConnect(`ws://127.0.0.1:${server.port}/`)
      const raw = (ws as unknown as { _socket: net.Socket })._socket
      // a masked binary frame announcing 1000 bytes, 4 sent, then RST
      raw.write(Buffer.from([0x82, 0xfe, 0x03, 0xe8, 0, 0, 0, 0, 1, 2, 3, 4]), () =>
        setTimeout(() => raw.resetAndDestroy(), 20))
      yield* server.finished(1)
      const exit = server.exits[0]!
      const error = exit._tag === "Failure" ? (exit.cause.reasons[0] as { error: WebSocket.WebSocketError }).error : undefined
      assert.deepStrictEqual(
        [error?.reason._tag, error?.reason._tag === "ReadError" && error.reason.kind],
        ["ReadError", "Reset"]
      )
      yield* eventually(() => server.open() === 0)
    }))

  it.live.skipIf(!hasOpenssl)("serves wss:// over a tls.Server socket adopted with Tcp.fromNetSocket", () =>
    Effect.gen(function*() {
      let open = 0
      const exits: Array<string> = []
      const server = yield* Effect.acquireRelease(
        Effect.callback<tls.Server>((resume) => {
          const s: tls.Server = tls.createServer({ key: ca!.key, cert: ca!.cert, allowHalfOpen: true }, (socket) => {
            Effect.runPromiseExit(Effect.scoped(
              Effect.flatMap(Tcp.fromNetSocket(socket), (t) => Effect.flatMap(WebSocket.accept(t), echo))
            )).then((exit) => exits.push(exit._tag))
          })
          s.on("connection", (raw: net.Socket) => {
            open++
            raw.on("close", () => open--)
          })
          s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
        }),
        (s) => Effect.sync(() => s.close())
      )
      const port = (server.address() as net.AddressInfo).port
      const echoed = yield* Effect.promise(() =>
        new Promise<string>((done, fail) => {
          const ws = new WsClient(`wss://localhost:${port}/`, { ca: ca!.caPem })
          ws.on("error", fail)
          ws.on("open", () => ws.send("secret ✓"))
          ws.on("message", (data) => {
            ws.close(1000)
            done(data.toString())
          })
        })
      )
      assert.strictEqual(echoed, "secret ✓")
      yield* eventually(() => exits.length === 1 && open === 0)
      assert.deepStrictEqual(exits, ["Success"])
    }))

  it.live("verify refuses an upgrade with its own status before the 101", () =>
    Effect.gen(function*() {
      const server = yield* serveOurs(echo, {
        verify: (upgrade) => upgrade.target.startsWith("/private") ? { status: 403, reason: "no access" } : undefined
      })
      const status = yield* Effect.promise(() =>
        new Promise<number>((done) => {
          const ws = new WsClient(`ws://127.0.0.1:${server.port}/private/feed`)
          ws.on("unexpected-response", (_req, res) => {
            done(res.statusCode ?? 0)
            ws.terminate()
          })
          ws.on("error", () => {})
        })
      )
      assert.strictEqual(status, 403)
      yield* server.finished(1)
      const exit = server.exits[0]!
      const error = exit._tag === "Failure" ? (exit.cause.reasons[0] as { error: WebSocket.WebSocketError }).error : undefined
      assert.deepStrictEqual(error?.reason._tag === "HandshakeError" && error.reason.violation, {
        _tag: "RefusedByServer",
        status: 403,
        message: "refused by the server's verify with 403: no access"
      })
      assert.match(error!.message, /^WebSocket 127\.0\.0\.1:\d+: handshake failed: refused by the server's verify with 403: no access$/)
      const ok = yield* wsConnect(`ws://127.0.0.1:${server.port}/public`)
      assert.strictEqual(ok.readyState, WsClient.OPEN)
      ok.close()
      yield* server.finished(2)
      yield* eventually(() => server.open() === 0)
    }))

  it.live("a plain HTTP request is refused with 400 and the handshake fails with a typed error", () =>
    Effect.gen(function*() {
      const server = yield* serveOurs(echo)
      const status = yield* Effect.promise(() =>
        new Promise<number>((done) => {
          http.get({ host: "127.0.0.1", port: server.port, path: "/" }, (res) => {
            res.resume()
            done(res.statusCode ?? 0)
          })
        })
      )
      assert.strictEqual(status, 400)
      yield* server.finished(1)
      const exit = server.exits[0]!
      const error = exit._tag === "Failure" ? (exit.cause.reasons[0] as { error: WebSocket.WebSocketError }).error : undefined
      assert.deepStrictEqual(error?.reason._tag === "HandshakeError" && error.reason.violation, {
        _tag: "UpgradeNotWebSocket",
        status: 400,
        reason: "Upgrade header must be websocket",
        message: "WebSocket upgrade refused: Upgrade header must be websocket"
      })
      yield* eventually(() => server.open() === 0)
    }))
})

describe("WebSocket client against our own server over TCP", () => {
  it.live("sends wait for drain when the peer stops reading, and finish once it reads again", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const server = yield* serveOurs((socket) =>
        Effect.andThen(Deferred.await(gate), Effect.andThen(Effect.repeat(socket.recv, { times: 31 }), socket.close()))
      )
      yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* WebSocket.connect(`ws://127.0.0.1:${server.port}/`)
        const chunk = Buffer.alloc(1 << 20, 7)
        let sent = 0
        const sending = yield* Effect.forkChild(Effect.repeat(
          Effect.andThen(socket.sendBinary(chunk), Effect.sync(() => sent++)),
          { times: 31 }
        ))
        yield* Effect.sleep("300 millis")
        // 32 MiB cannot all fit in the kernel buffers and the peer's 64 KiB read-ahead
        assert.isUndefined(sending.pollUnsafe())
        assert.isBelow(sent, 32)
        yield* Deferred.succeed(gate, undefined)
        yield* Fiber.join(sending)
        assert.strictEqual(sent, 32)
        const close = yield* socket.recv
        assert.strictEqual(close._tag, "Close")
      }))
      yield* server.finished(1)
      assert.strictEqual(server.exits[0]!._tag, "Success")
      yield* eventually(() => server.open() === 0)
    }))

  it.live("Stream and Sink carry messages end to end", () =>
    Effect.gen(function*() {
      const server = yield* serveOurs(echo)
      yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* WebSocket.connect(`ws://127.0.0.1:${server.port}/`)
        const reading = yield* Effect.forkChild(Stream.runCollect(Stream.take(WebSocket.messages(socket), 2)))
        yield* Stream.run(Stream.make("a", new Uint8Array([1, 2])), WebSocket.sink(socket))
        assert.deepStrictEqual(yield* Fiber.join(reading), [
          { _tag: "Text", text: "a" },
          { _tag: "Binary", payload: new Uint8Array([1, 2]) }
        ])
        yield* socket.close()
      }))
      yield* server.finished(1)
      yield* eventually(() => server.open() === 0)
    }))
})
