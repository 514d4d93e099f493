import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import type * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll } from "vitest"
import * as Dial from "../../src/Transport/Dial.ts"
import * as Proxy from "../../src/Transport/Proxy.ts"
import * as Socks from "../../src/Transport/Socks.ts"
import * as Tls from "../../src/Transport/Tls.ts"
import * as WebSocket from "../../src/Transport/WebSocket.ts"
import { readText } from "../support/bytes.ts"
import { serve } from "../support/netServer.ts"
import { executable, freePort, type Peer, startPeer } from "../support/peers.ts"
import { hasOpenssl, makeThrowawayCa, type ThrowawayCa } from "../support/throwawayCa.ts"
import { closeWs, listenWs, type ListeningWs } from "../support/wsServer.ts"

// SOCKS5 (RFC 1928/1929): the request bytes, a scripted server for the authentication paths,
// and Debian's dante-server (`danted`) on 127.0.0.1 as the real proxy — one that lets everything
// through and one whose rules block every target.

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")

describe("Socks.connectRequest", () => {
  it("writes IPv4, IPv6 (with :: expanded) and names as RFC 1928 addresses with a big-endian port", () => {
    assert.strictEqual(hex(Socks.connectRequest("127.0.0.1", 443)), "050100017f00000101bb")
    assert.strictEqual(hex(Socks.connectRequest("::1", 80)), "05010004" + "0".repeat(30) + "01" + "0050")
    assert.strictEqual(hex(Socks.connectRequest("2001:db8::ffff:1.2.3.4", 1)), "05010004" + "20010db8000000000000ffff01020304" + "0001")
    assert.strictEqual(hex(Socks.connectRequest("example.com", 8080)), "050100030b" + Buffer.from("example.com").toString("hex") + "1f90")
    assert.throws(() => Socks.connectRequest("a".repeat(256), 1), RangeError, "SOCKS5 host names are at most 255 bytes, got 256")
  })
})

/**
 * A scripted SOCKS5 server: answers the greeting with `method`, checks username/password
 * against `expected`, then answers CONNECT with `reply` and (on success) echoes.
 */
const scriptedSocks = (method: number, reply: number, expected?: { user: string; pass: string }) =>
  serve((socket: net.Socket) => {
    let stage = 0
    let pending = Buffer.alloc(0)
    socket.on("data", (chunk: Buffer) => {
      if (stage === 3) return void socket.write(chunk)
      pending = Buffer.concat([pending, chunk])
      if (stage === 0 && pending.length >= 2 + pending[1]!) {
        pending = pending.subarray(2 + pending[1]!)
        socket.write(Buffer.from([5, method]))
        stage = method === 2 ? 1 : 2
      }
      if (stage === 1 && pending.length >= 2 && pending.length >= 3 + pending[1]! + pending[2 + pending[1]!]!) {
        const ulen = pending[1]!
        const user = pending.subarray(2, 2 + ulen).toString()
        const pass = pending.subarray(3 + ulen, 3 + ulen + pending[2 + ulen]!).toString()
        pending = pending.subarray(3 + ulen + pending[2 + ulen]!)
        const ok = expected !== undefined && user === expected.user && pass === expected.pass
        socket.write(Buffer.from([1, ok ? 0 : 1]))
        if (!ok) return void socket.end()
        stage = 2
      }
      if (stage === 2 && pending.length >= 10) {
        socket.write(Buffer.from([5, reply, 0, 1, 127, 0, 0, 1, 0, 80]))
        if (reply !== 0) return void socket.end()
        stage = 3
      }
    })
  })

const socksAt = (port: number, credentials?: Proxy.Credentials) =>
  Proxy.make({ protocol: "socks5", host: "127.0.0.1", port, credentials })


const target = { host: "10.9.9.9", port: 80, secure: false } as const

describe("Dial through a scripted SOCKS5 server", () => {
  it.live("no authentication: the reply opens the tunnel", () =>
    Effect.gen(function*() {
      const server = yield* scriptedSocks(0, 0)
      const transport = yield* Dial.connect(target, { proxy: socksAt(server.port) })
      assert.strictEqual(transport.remoteAddress, "10.9.9.9:80")
      yield* transport.write(Buffer.from("echo"))
      assert.strictEqual(yield* readText(transport, 4), "echo")
    }))

  it.live("username/password: the right pair tunnels, a wrong one is TunnelRefused \"authentication failed\"", () =>
    Effect.gen(function*() {
      const server = yield* scriptedSocks(2, 0, { user: "alice", pass: "s3cret" })
      const right = { username: "alice", password: Redacted.make("s3cret") }
      const transport = yield* Dial.connect(target, { proxy: socksAt(server.port, right) })
      yield* transport.write(Buffer.from("ok"))
      assert.strictEqual(yield* readText(transport, 2), "ok")
      const wrong = yield* Effect.flip(Dial.connect(target, { proxy: socksAt(server.port, { username: "alice", password: Redacted.make("hunter2") }) }))
      assert.strictEqual(wrong.message, `transport 10.9.9.9:80: proxy 127.0.0.1:${server.port} refused the tunnel: 1 authentication failed`)
    }))

  it.live("a server that accepts no offered method is TunnelRefused 255", () =>
    Effect.gen(function*() {
      const server = yield* scriptedSocks(0xff, 0)
      const error = yield* Effect.flip(Dial.connect(target, { proxy: socksAt(server.port) }))
      assert.deepStrictEqual([error.reason._tag === "ProxyError" && error.reason.status, error.reason._tag === "ProxyError" && error.reason.statusText], [
        255,
        "no acceptable authentication method"
      ])
    }))

  it.live("a refusing reply carries its code and RFC 1928 text", () =>
    Effect.gen(function*() {
      const server = yield* scriptedSocks(0, 4)
      const error = yield* Effect.flip(Dial.connect(target, { proxy: socksAt(server.port) }))
      assert.strictEqual(error.message, `transport 10.9.9.9:80: proxy 127.0.0.1:${server.port} refused the tunnel: 4 host unreachable`)
    }))

  it.live("a server that is not SOCKS5 is MalformedResponse, one that hangs up is Closed", () =>
    Effect.gen(function*() {
      const http = yield* serve((socket) => socket.end("HTTP/1.1 400 Bad Request\r\n\r\n"))
      const notSocks = yield* Effect.flip(Dial.connect(target, { proxy: socksAt(http.port) }))
      assert.deepStrictEqual([notSocks.reason._tag === "ProxyError" && notSocks.reason.kind], ["MalformedResponse"])
      const silent = yield* serve((socket) => socket.end())
      const closed = yield* Effect.flip(Dial.connect(target, { proxy: socksAt(silent.port) }))
      assert.deepStrictEqual([closed.reason._tag === "ProxyError" && closed.reason.kind], ["Closed"])
    }))
})

describe("SOCKS5 fields longer than one length byte", () => {
  it.live("a password over 255 bytes (RFC 1929's limit) is a typed error before anything is sent, never a wrapped length byte", () =>
    Effect.gen(function*() {
      // answers the greeting with username/password and keeps every byte that follows it
      let after = Buffer.alloc(0)
      const server = yield* serve((socket) => {
        let greeted = false
        socket.on("data", (chunk: Buffer) => {
          if (!greeted) {
            greeted = true
            return void socket.write(Buffer.from([5, 2]))
          }
          after = Buffer.concat([after, chunk])
          socket.end(Buffer.from([1, 1]))
        })
      })
      const password = "p".repeat(300)
      const error = yield* Effect.flip(
        Dial.connect(target, { proxy: socksAt(server.port, { username: "alice", password: Redacted.make(password) }) })
      )
      // what went out (if anything) must be a well-formed RFC 1929 request: 01 ULEN user PLEN pass
      if (after.length > 0) {
        const ulen = after[1]!
        const plen = after[2 + ulen]!
        assert.strictEqual(3 + ulen + plen, after.length, `PLEN says ${plen} but ${after.length - 3 - ulen} password bytes were sent`)
      }
      assert.strictEqual(error.reason._tag, "ProxyError")
      assert.notInclude(error.message, password)
      assert.notInclude(error.message, "authentication failed")
    }))

  it.live("a host name over 255 bytes fails the dial with a TransportError, not a defect", () =>
    Effect.gen(function*() {
      const server = yield* scriptedSocks(0, 0)
      const host = `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(63)}.test`
      const exit = yield* Effect.exit(Dial.connect({ host, port: 443, secure: false }, { proxy: socksAt(server.port) }))
      assert.isTrue(exit._tag === "Failure" && exit.cause.reasons.every((reason) => reason._tag === "Fail"), "the dial died")
      const error = yield* Effect.flip(Dial.connect({ host, port: 443, secure: false }, { proxy: socksAt(server.port) }))
      assert.strictEqual(error._tag, "TransportError")
      assert.include(error.message, "255 bytes")
    }))
})

// ---------------------------------------------------------------------------------------------
// dante-server
// ---------------------------------------------------------------------------------------------

const DANTED = "/usr/sbin/danted"
const danteAvailable = executable(DANTED) && hasOpenssl
if (!danteAvailable) console.warn("Socks: dante cases skipped — install with `apt-get install -y dante-server openssl`")

let dir = ""
let ca: ThrowawayCa | undefined
let ws: ListeningWs | undefined
const dante: Array<Peer> = []
const ports = { open: 0, blocked: 0 }

const danteConfig = (port: number, rule: "pass" | "block") => `
logoutput: stderr
internal: 127.0.0.1 port = ${port}
external: 127.0.0.1
socksmethod: none
clientmethod: none
user.privileged: ${os.userInfo().username}
user.unprivileged: ${os.userInfo().username}
client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
socks ${rule} { from: 127.0.0.0/8 to: 0.0.0.0/0 }
`

beforeAll(async () => {
  if (!danteAvailable) return
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "nexus-dante-"))
  ca = makeThrowawayCa()
  ws = await listenWs()
  ws.server.on("connection", (socket) => socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary })))
  for (const [name, rule] of [["open", "pass"], ["blocked", "block"]] as const) {
    ports[name] = await freePort()
    const file = path.join(dir, `${name}.conf`)
    fs.writeFileSync(file, danteConfig(ports[name], rule))
    dante.push(await startPeer({ command: DANTED, args: ["-f", file, "-p", path.join(dir, `${name}.pid`), "-N", "1"], ports: [ports[name]] }))
  }
})

afterAll(async () => {
  for (const peer of dante) await peer.stop()
  if (ws !== undefined) await closeWs(ws.server)
  ca?.remove()
  if (dir !== "") fs.rmSync(dir, { recursive: true, force: true })
})

describe.skipIf(!danteAvailable)("Dial through dante-server (SOCKS5)", () => {
  it.live("ws: a WebSocket to the ws server through the SOCKS5 tunnel", () =>
    Effect.gen(function*() {
      const url = `ws://127.0.0.1:${ws!.port}/`
      const transport = yield* Dial.url(url, { proxy: socksAt(ports.open) })
      const socket = yield* WebSocket.connectOver(transport, url)
      yield* socket.sendText("via socks")
      const message = yield* socket.recv
      assert.strictEqual(message._tag === "Text" ? message.text() : message._tag, "via socks")
    }))

  it.live("https-like: TLS inside the SOCKS5 tunnel to a node:tls server, the name checked is the target's", () =>
    Effect.gen(function*() {
      const server = yield* serve((socket) => socket.on("data", (chunk) => socket.write(chunk)), { tls: { key: ca!.key, cert: ca!.cert } })
      const config = Tls.TlsConfig.makeUnsafe({ ca: [ca!.caPem], useSystemRoots: false })
      const transport = yield* Dial.connect({ host: "127.0.0.1", port: server.port, secure: true }, {
        proxy: yield* Proxy.fromUrl(`socks5h://127.0.0.1:${ports.open}`),
        tls: config,
        servername: "localhost"
      })
      yield* transport.write(Buffer.from("sealed"))
      assert.strictEqual(yield* readText(transport, 6), "sealed")
    }))

  it.live("a closed target port is reply 5, connection refused", () =>
    Effect.gen(function*() {
      const closed = yield* Effect.promise(freePort)
      const error = yield* Effect.flip(Dial.connect({ host: "127.0.0.1", port: closed, secure: false }, { proxy: socksAt(ports.open) }))
      assert.deepStrictEqual(
        [error.address, error.reason._tag, error.reason._tag === "ProxyError" && error.reason.kind, error.reason._tag === "ProxyError" && error.reason.status],
        [`127.0.0.1:${closed}`, "ProxyError", "TunnelRefused", 5]
      )
    }))

  it.live("a rule that blocks the target is reply 2, connection not allowed by ruleset", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Dial.connect({ host: "127.0.0.1", port: ws!.port, secure: false }, { proxy: socksAt(ports.blocked) }))
      assert.strictEqual(
        error.message,
        `transport 127.0.0.1:${ws!.port}: proxy 127.0.0.1:${ports.blocked} refused the tunnel: 2 connection not allowed by ruleset`
      )
    }))
})
