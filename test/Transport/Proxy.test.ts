import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import { TestClock } from "effect/testing"
import * as net from "node:net"
import { afterAll, beforeAll } from "vitest"
import * as Dial from "../../src/Transport/Dial.ts"
import * as Proxy from "../../src/Transport/Proxy.ts"
import * as Tls from "../../src/Transport/Tls.ts"
import { ProxyError } from "../../src/Transport/Transport.ts"
import { readText } from "../support/bytes.ts"
import { serve } from "../support/netServer.ts"
import { freePort } from "../support/peers.ts"
import { hasOpenssl, makeThrowawayCa, type ThrowawayCa } from "../support/throwawayCa.ts"

// The proxy rules (pure) and the CONNECT tunnel against scripted proxies on 127.0.0.1: a node:net
// server that reads the CONNECT head and answers as the test says. The real proxy (tinyproxy)
// is in Proxy.tinyproxy.test.ts.

let ca: ThrowawayCa | undefined
beforeAll(() => {
  if (hasOpenssl) ca = makeThrowawayCa()
})
afterAll(() => ca?.remove())

const proxyAt = (port: number, credentials?: Proxy.Credentials) => Proxy.make({ host: "127.0.0.1", port, credentials })

/**
 * A scripted proxy: collects the request head, hands it to `answer`, which writes what the test
 * wants (and may pipe the socket on to a target).
 */
const scripted = (answer: (socket: net.Socket, head: string) => void) =>
  serve((socket) => {
    let head = ""
    const onData = (chunk: Buffer) => {
      head += chunk.toString("latin1")
      if (!head.includes("\r\n\r\n")) return
      socket.off("data", onData)
      answer(socket, head)
    }
    socket.on("data", onData)
  })


describe("Proxy rules", () => {
  it("NO_PROXY entries: *, names with their subdomains, leading dots, IP literals, ports, case", () => {
    const list = ["internal.example", ".corp.test", "*.svc.local", "10.0.0.7", "api.example:8443", "[::1]:9000", "  "]
    const cases: ReadonlyArray<readonly [string, number, boolean]> = [
      ["internal.example", 443, true],
      ["a.b.internal.example", 80, true],
      ["notinternal.example", 443, false],
      ["corp.test", 443, true],
      ["x.corp.test", 443, true],
      ["db.svc.local", 5432, true],
      ["10.0.0.7", 80, true],
      ["10.0.0.70", 80, false],
      ["api.example", 8443, true],
      ["api.example", 443, false],
      ["::1", 9000, true],
      ["::1", 9001, false],
      ["INTERNAL.Example", 443, true],
      ["elsewhere.test", 443, false]
    ]
    assert.deepStrictEqual(
      cases.map(([host, port]) => Proxy.bypasses(list, host, port)),
      cases.map(([, , expected]) => expected)
    )
    assert.isTrue(Proxy.bypasses(["*"], "anything.test", 1))
  })

  it("picks the https proxy for secure endpoints, the http one for plain, none for a NO_PROXY match", () => {
    const http = Proxy.make({ host: "plain-proxy", port: 3128 })
    const https = Proxy.make({ host: "secure-proxy", port: 3129 })
    const rules: Proxy.Rules = { http, https, noProxy: ["localhost"] }
    assert.strictEqual(Proxy.forEndpoint(rules, { host: "api.test", port: 443, secure: true }), https)
    assert.strictEqual(Proxy.forEndpoint(rules, { host: "api.test", port: 80, secure: false }), http)
    assert.strictEqual(Proxy.forEndpoint(rules, { host: "localhost", port: 443, secure: true }), undefined)
    assert.strictEqual(Proxy.forEndpoint({ http }, { host: "api.test", port: 443, secure: true }), undefined)
    // one proxy given directly is used for everything, NO_PROXY does not apply
    assert.strictEqual(Proxy.forEndpoint(http, { host: "localhost", port: 443, secure: true }), http)
    assert.strictEqual(Proxy.forEndpoint(undefined, { host: "api.test", port: 443, secure: true }), undefined)
  })

  it.effect("fromUrl reads host, port (default 80) and percent-encoded credentials as Redacted", () =>
    Effect.gen(function*() {
      const proxy = yield* Proxy.fromUrl("http://al%40ice:p%3Ass@proxy.corp:3128")
      assert.deepStrictEqual([proxy.host, proxy.port, proxy.credentials?.username], ["proxy.corp", 3128, "al@ice"])
      assert.strictEqual(Redacted.value(proxy.credentials!.password), "p:ss")
      assert.notInclude(String(proxy.credentials!.password), "p:ss")
      const bare = yield* Proxy.fromUrl("127.0.0.1:8080")
      assert.deepStrictEqual([bare.host, bare.port, bare.credentials], ["127.0.0.1", 8080, undefined])
      const v6 = yield* Proxy.fromUrl("http://[::1]")
      assert.deepStrictEqual([v6.protocol, v6.host, v6.port], ["http", "::1", 80])
      const socks = yield* Proxy.fromUrl("socks5h://bob:pw@127.0.0.1")
      assert.deepStrictEqual([socks.protocol, socks.port, socks.credentials?.username], ["socks5", 1080, "bob"])
    }))

  it.effect("fromUrl refuses other schemes and garbage without echoing the URL", () =>
    Effect.gen(function*() {
      const socks = yield* Effect.flip(Proxy.fromUrl("https://user:hunter2@proxy:1080"))
      assert.deepStrictEqual([socks._tag, socks.address, socks.reason._tag, socks.reason._tag === "ProxyError" && socks.reason.kind], [
        "TransportError",
        "proxy",
        "ProxyError",
        "InvalidProxyUrl"
      ])
      assert.strictEqual(
        socks.message,
        "transport proxy: invalid proxy URL (proxy scheme \"https\" is not supported; use http://, socks5:// or socks5h://)"
      )
      const garbage = yield* Effect.flip(Proxy.fromUrl("http://user:hunter2@"))
      assert.notInclude(garbage.message, "hunter2")
    }))

  it.effect("fromUrl: credentials that are not valid percent-encoding are InvalidProxyUrl, not a defect", () =>
    Effect.gen(function*() {
      // WHATWG keeps a lone "%" in the userinfo, so these parse as URLs; decoding them must not throw
      for (const url of ["http://alice:100%@proxy.corp:3128", "http://al%zzice:pw@proxy.corp:3128"]) {
        const exit = yield* Effect.exit(Proxy.fromUrl(url))
        assert.isTrue(exit._tag === "Failure" && exit.cause.reasons.every((reason) => reason._tag === "Fail"), `${url} died`)
        const error = yield* Effect.flip(Proxy.fromUrl(url))
        assert.deepStrictEqual([error.address, error.reason._tag, error.reason._tag === "ProxyError" && error.reason.kind], [
          "proxy",
          "ProxyError",
          "InvalidProxyUrl"
        ])
        assert.notInclude(error.message, "100%")
      }
    }))

  it("writes CONNECT in authority form with Host and Basic credentials; IPv6 in brackets", () => {
    const credentials = { username: "alice", password: Redacted.make("s3cret") }
    assert.strictEqual(
      Buffer.from(Proxy.connectRequest(proxyAt(1, credentials), "api.test", 443)).toString("latin1"),
      "CONNECT api.test:443 HTTP/1.1\r\nHost: api.test:443\r\nProxy-Authorization: Basic YWxpY2U6czNjcmV0\r\n\r\n"
    )
    assert.strictEqual(
      Buffer.from(Proxy.connectRequest(proxyAt(1), "::1", 8080)).toString("latin1"),
      "CONNECT [::1]:8080 HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"
    )
  })
})

describe("Dial through a scripted proxy", () => {
  it.live("a 200 answer turns the proxy connection into the tunnel; errors then name the target", () =>
    Effect.gen(function*() {
      const proxy = yield* scripted((socket, head) => {
        assert.match(head, /^CONNECT target\.test:9 HTTP\/1\.1\r\nHost: target\.test:9\r\n\r\n$/)
        socket.write("HTTP/1.1 200 Connection established\r\n\r\n")
        // the "target": echoes
        socket.on("data", (chunk) => socket.write(chunk))
      })
      const transport = yield* Dial.connect({ host: "target.test", port: 9, secure: false }, { proxy: proxyAt(proxy.port) })
      assert.strictEqual(transport.remoteAddress, "target.test:9")
      yield* transport.write(Buffer.from("through"))
      assert.strictEqual(yield* readText(transport, 7), "through")
    }))

  it.live("a 2xx CONNECT answer's Content-Length / Transfer-Encoding are ignored, as RFC 9110 §9.3.6 requires of a client", () =>
    Effect.gen(function*() {
      // "A client MUST ignore any Content-Length or Transfer-Encoding header fields received in a
      // successful response to CONNECT": whatever they say, the tunnel is open after the head
      for (const fields of ["Content-Length: 0\r\nTransfer-Encoding: chunked", "Content-Length: none", "Transfer-Encoding: identity"]) {
        const proxy = yield* scripted((socket) => {
          socket.write(`HTTP/1.1 200 Connection established\r\n${fields}\r\n\r\n`)
          socket.on("data", (chunk) => socket.write(chunk))
        })
        const exit = yield* Effect.exit(Effect.scoped(Effect.gen(function*() {
          const transport = yield* Dial.connect({ host: "target.test", port: 9, secure: false }, { proxy: proxyAt(proxy.port) })
          yield* transport.write(Buffer.from("through"))
          return yield* readText(transport, 7)
        })))
        assert.deepStrictEqual(exit._tag === "Success" ? exit.value : String(exit.cause), "through", fields)
      }
    }))

  it.live("a 403 is TunnelRefused with the proxy's status, reason and address", () =>
    Effect.gen(function*() {
      const proxy = yield* scripted((socket) => socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"))
      const error = yield* Effect.flip(Dial.connect({ host: "blocked.test", port: 443, secure: true }, { proxy: proxyAt(proxy.port) }))
      assert.deepStrictEqual(
        error.reason,
        new ProxyError({ kind: "TunnelRefused", proxy: `127.0.0.1:${proxy.port}`, status: 403, statusText: "Forbidden" })
      )
      assert.strictEqual(error.address, "blocked.test:443")
      assert.strictEqual(error.message, `transport blocked.test:443: proxy 127.0.0.1:${proxy.port} refused the tunnel: 403 Forbidden`)
    }))

  it.live("a 407 with a body says the credentials are missing or wrong, and never shows them", () =>
    Effect.gen(function*() {
      const proxy = yield* scripted((socket) =>
        socket.write("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\nContent-Length: 5\r\n\r\nnope!")
      )
      const credentials = { username: "alice", password: Redacted.make("hunter2") }
      const error = yield* Effect.flip(Dial.connect({ host: "api.test", port: 80, secure: false }, { proxy: proxyAt(proxy.port, credentials) }))
      assert.strictEqual(
        error.message,
        `transport api.test:80: proxy 127.0.0.1:${proxy.port} refused the tunnel: 407 Proxy Authentication Required (proxy credentials missing or wrong)`
      )
      assert.notInclude(JSON.stringify(error.reason), "hunter2")
    }))

  it.live("a proxy that closes before answering is ProxyError Closed", () =>
    Effect.gen(function*() {
      const proxy = yield* scripted((socket) => socket.end())
      const error = yield* Effect.flip(Dial.connect({ host: "api.test", port: 80, secure: false }, { proxy: proxyAt(proxy.port) }))
      assert.deepStrictEqual([error.reason._tag, error.reason._tag === "ProxyError" && error.reason.kind], ["ProxyError", "Closed"])
      assert.strictEqual(
        error.message,
        `transport api.test:80: proxy 127.0.0.1:${proxy.port} closed the connection before the tunnel was open (the proxy closed the connection before answering CONNECT)`
      )
    }))

  it.live("an answer that is not HTTP is MalformedResponse", () =>
    Effect.gen(function*() {
      const proxy = yield* scripted((socket) => socket.end("SSH-2.0-OpenSSH_9.2\r\n\r\n"))
      const error = yield* Effect.flip(Dial.connect({ host: "api.test", port: 80, secure: false }, { proxy: proxyAt(proxy.port) }))
      assert.deepStrictEqual([error.reason._tag, error.reason._tag === "ProxyError" && error.reason.kind], [
        "ProxyError",
        "MalformedResponse"
      ])
    }))

  it.live("an unreachable proxy is ProxyError Unreachable carrying the ConnectError", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(freePort)
      const error = yield* Effect.flip(Dial.connect({ host: "api.test", port: 443, secure: true }, { proxy: proxyAt(port) }))
      assert.strictEqual(error.address, "api.test:443")
      assert.deepStrictEqual(
        [error.reason._tag, error.reason._tag === "ProxyError" && error.reason.kind, error.reason._tag === "ProxyError" && (error.reason.cause as { kind?: string }).kind],
        ["ProxyError", "Unreachable", "Refused"]
      )
      assert.strictEqual(error.message, `transport api.test:443: proxy 127.0.0.1:${port} unreachable (connect failed: connection refused (connect ECONNREFUSED 127.0.0.1:${port}))`)
    }))

  it.effect("a proxy that never answers CONNECT is ProxyError Timeout after connectTimeout (TestClock)", () =>
    Effect.gen(function*() {
      let heard: () => void = () => {}
      const asked = new Promise<void>((resolve) => (heard = resolve))
      const proxy = yield* scripted(() => heard())
      const fiber = yield* Effect.forkChild(Effect.flip(Effect.scoped(
        Dial.connect({ host: "api.test", port: 80, secure: false }, { proxy: proxyAt(proxy.port), connectTimeout: "3 seconds" })
      )))
      yield* Effect.promise(() => asked)
      yield* TestClock.adjust("3 seconds")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error.message, `transport api.test:80: proxy 127.0.0.1:${proxy.port} did not answer CONNECT in time (not connected within 3s)`)
    }))

  it.live("NO_PROXY sends a matching endpoint direct: the (dead) proxy is never asked", () =>
    Effect.gen(function*() {
      const deadProxy = proxyAt(yield* Effect.promise(freePort))
      const target = yield* serve((socket) => socket.end("direct"))
      const rules: Proxy.Rules = { http: deadProxy, https: deadProxy, noProxy: ["127.0.0.1"] }
      const transport = yield* Dial.connect({ host: "127.0.0.1", port: target.port, secure: false }, { proxy: rules })
      assert.strictEqual(yield* readText(transport, 6), "direct")
      const error = yield* Effect.flip(Dial.connect({ host: "localhost", port: target.port, secure: false }, { proxy: rules }))
      assert.deepStrictEqual([error.reason._tag, error.reason._tag === "ProxyError" && error.reason.kind], ["ProxyError", "Unreachable"])
    }))
})

describe.skipIf(!hasOpenssl)("Dial to TLS through a scripted proxy", () => {
  it.live("runs TLS inside the tunnel, checking the target's name (not the proxy's)", () =>
    Effect.gen(function*() {
      const target = yield* serve((socket) => {
        socket.on("data", (chunk) => socket.write(chunk))
      }, { tls: { key: ca!.key, cert: ca!.cert } })
      const proxy = yield* scripted((socket) => {
        const upstream = net.connect({ host: "127.0.0.1", port: target.port }, () => {
          socket.write("HTTP/1.1 200 OK\r\n\r\n")
          socket.pipe(upstream).pipe(socket)
        })
        upstream.on("error", () => socket.destroy())
      })
      const config = Tls.TlsConfig.makeUnsafe({ ca: [ca!.caPem], useSystemRoots: false })
      const transport = yield* Dial.connect({ host: "localhost", port: target.port, secure: true }, { proxy: proxyAt(proxy.port), tls: config })
      assert.strictEqual(Tls.protocolVersion(transport), "TLSv1.3")
      yield* transport.write(Buffer.from("secret"))
      assert.strictEqual(yield* readText(transport, 6), "secret")
      const wrongName = yield* Effect.flip(
        Dial.connect({ host: "localhost", port: target.port, secure: true }, { proxy: proxyAt(proxy.port), tls: config, servername: "elsewhere.test" })
      )
      assert.deepStrictEqual([wrongName.address, wrongName.reason._tag === "TlsError" && wrongName.reason.kind], [
        `localhost:${target.port}`,
        "HostnameMismatch"
      ])
    }))

  it.live("a proxy that closes mid-tunnel, during the TLS handshake, is TlsError HandshakeFailed naming the disconnect", () =>
    Effect.gen(function*() {
      // answers 200, then hangs up as the ClientHello comes through the tunnel
      const proxy = yield* scripted((socket) => {
        socket.write("HTTP/1.1 200 OK\r\n\r\n")
        socket.once("data", () => socket.destroy())
      })
      const config = Tls.TlsConfig.makeUnsafe({ ca: [ca!.caPem], useSystemRoots: false })
      const error = yield* Effect.flip(Dial.connect({ host: "localhost", port: 443, secure: true }, { proxy: proxyAt(proxy.port), tls: config }))
      assert.deepStrictEqual([error.address, error.reason._tag, error.reason._tag === "TlsError" && error.reason.kind], [
        "localhost:443",
        "TlsError",
        "HandshakeFailed"
      ])
      assert.include(error.message, "Client network socket disconnected before secure TLS connection was established")
    }))
})
