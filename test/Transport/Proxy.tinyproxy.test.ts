import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll } from "vitest"
import * as ReadBuf from "../../src/Codec/ReadBuf.ts"
import * as RequestWriter from "../../src/Codec/RequestWriter.ts"
import * as ResponseReader from "../../src/Codec/ResponseReader.ts"
import * as HttpClient from "effect/http/HttpClient"
import * as MarketFeed from "../../src/Layers/MarketFeed.ts"
import * as NexusHttpClient from "../../src/Layers/NexusHttpClient.ts"
import * as RestClient from "../../src/Layers/RestClient.ts"
import * as ProxySettings from "../../src/Layers/ProxySettings.ts"
import * as TlsSettings from "../../src/Layers/TlsSettings.ts"
import * as ClientPool from "../../src/Pool/ClientPool.ts"
import * as Backoff from "../../src/Transport/Backoff.ts"
import * as Dial from "../../src/Transport/Dial.ts"
import * as HttpConnection from "../../src/Transport/HttpConnection.ts"
import * as Proxy from "../../src/Transport/Proxy.ts"
import * as Tls from "../../src/Transport/Tls.ts"
import * as WebSocket from "../../src/Transport/WebSocket.ts"
import { nginxAvailable, nginxConfig, startNginx } from "../support/nginx.ts"
import { establishedAt, executable, freePort, type Peer, startPeer } from "../support/peers.ts"
import { makeThrowawayCa, type ThrowawayCa } from "../support/throwawayCa.ts"
import { closeWs, listenWs, type ListeningWs } from "../support/wsServer.ts"

// Debian's tinyproxy (HTTP CONNECT) in front of nginx (plain and TLS, the TLS server also
// proxying WebSocket upgrades) and a `ws` echo server, all on 127.0.0.1 with ephemeral ports.
// Three proxies: open, with BasicAuth, and one whose ConnectPort list refuses every target.
// See PEERS.md for tinyproxy's answers (407 without credentials, 401 for wrong ones, 500 when the
// target port is closed).

const TINYPROXY = "/usr/bin/tinyproxy"
const available = nginxAvailable && executable(TINYPROXY)
if (!available) {
  console.warn("Proxy.tinyproxy: skipped — install with `apt-get install -y tinyproxy nginx openssl` (.ci/run does)")
}

let ca: ThrowawayCa | undefined
const peers: Array<Peer> = []
let ws: ListeningWs | undefined
/** Each upgrade the ws server saw: its path, and nginx's `$ssl_session_reused` ("r" resumed, "." not). */
const upgrades: Array<{ readonly path: string; readonly reused: string }> = []
const ports = { plain: 0, tls: 0, open: 0, auth: 0, strict: 0 }

const tinyproxyConfig = (dir: string, name: string, port: number, extra: string) => {
  const file = path.join(dir, `${name}.conf`)
  fs.writeFileSync(file, [
    `Port ${port}`,
    "Listen 127.0.0.1",
    "Allow 127.0.0.1",
    `PidFile "${dir}/${name}.pid"`,
    `LogFile "${dir}/${name}.log"`,
    "LogLevel Warning",
    "Timeout 30",
    extra
  ].join("\n") + "\n")
  return file
}

beforeAll(async () => {
  if (!available) return
  ca = makeThrowawayCa()
  const dir = ca.dir
  ws = await listenWs()
  // an echo server; on /feed it also closes after each echo, so a feed must reconnect
  ws.server.on("connection", (socket, request) => {
    upgrades.push({ path: request.url ?? "", reused: String(request.headers["x-session-reused"]) })
    socket.on("message", (data, isBinary) => {
      socket.send(data, { binary: isBinary })
      if (request.url === "/feed") socket.close(1000)
    })
  })
  for (const key of Object.keys(ports) as Array<keyof typeof ports>) ports[key] = await freePort()
  peers.push(await startNginx(dir, nginxConfig(dir, `
  server {
    listen 127.0.0.1:${ports.plain};
    location = /hello { return 200 "plain nginx"; }
  }
  server {
    listen 127.0.0.1:${ports.tls} ssl;
    ssl_certificate ${dir}/server.pem;
    ssl_certificate_key ${dir}/server.key;
    location = /hello { return 200 "secure nginx"; }
    location ~ ^/(ws|feed)$ {
      proxy_pass http://127.0.0.1:${ws.port};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_set_header X-Session-Reused $ssl_session_reused;
    }
  }`), [ports.plain, ports.tls]))
  const start = (name: string, port: number, extra: string) =>
    startPeer({ command: TINYPROXY, args: ["-d", "-c", tinyproxyConfig(dir, name, port, extra)], ports: [port] })
  peers.push(await start("open", ports.open, ""))
  peers.push(await start("auth", ports.auth, "BasicAuth alice s3cret"))
  // any ConnectPort line restricts CONNECT to the ports listed: port 1 serves nothing here
  peers.push(await start("strict", ports.strict, "ConnectPort 1"))
})

afterAll(async () => {
  for (const peer of peers) await peer.stop()
  if (ws !== undefined) await closeWs(ws.server)
  ca?.remove()
})

const proxy = (port: number, credentials?: Proxy.Credentials) => Proxy.make({ host: "127.0.0.1", port, credentials })
const trusted = () => Tls.TlsConfig.makeUnsafe({ ca: [ca!.caPem], useSystemRoots: false })

/** GET /hello over a fresh HttpConnection with the given dial options. */
const hello = (url: string, options: HttpConnection.ConnectOptions) =>
  Effect.scoped(Effect.gen(function*() {
    const connection = yield* HttpConnection.connect(url, options)
    const writer = RequestWriter.make({ host: new URL(url).host })
    const response = yield* connection.send(writer.get("/hello").finish(), ResponseReader.make())
    return `${response.status} ${Buffer.from(response.body).toString("latin1")}`
  }))

/**
 * One text message echoed by the ws server over `WebSocket.connect` (the dial path inside it),
 * and how many client connections the proxy held while the socket was open.
 */
const echoOverWs = (url: string, options: WebSocket.ConnectOptions, proxyPort: number) =>
  Effect.scoped(Effect.gen(function*() {
    const socket = yield* WebSocket.connect(url, options)
    const atProxy = establishedAt(proxyPort)
    yield* socket.sendText("through the proxy")
    const message = yield* socket.recv
    const text = message._tag === "Text" ? message.text() : message._tag
    yield* socket.close()
    return { text, atProxy }
  }))

describe.skipIf(!available)("Dial through tinyproxy", () => {
  it.live("http: a request to nginx goes through the proxy's tunnel (the proxy holds the connection)", () =>
    Effect.gen(function*() {
      const answer = yield* Effect.scoped(Effect.gen(function*() {
        const connection = yield* HttpConnection.connect(`http://127.0.0.1:${ports.plain}`, { proxy: proxy(ports.open) })
        // while the connection is open, the kernel sees one client connection at the proxy
        assert.strictEqual(establishedAt(ports.open), 1)
        const response = yield* connection.send(
          RequestWriter.make({ host: `127.0.0.1:${ports.plain}` }).get("/hello").finish(),
          ResponseReader.make()
        )
        return `${response.status} ${Buffer.from(response.body).toString("latin1")}`
      }))
      assert.strictEqual(answer, "200 plain nginx")
    }))

  it.live("https: TLS to nginx inside the tunnel, the certificate checked against the target", () =>
    Effect.gen(function*() {
      assert.strictEqual(
        yield* hello(`https://127.0.0.1:${ports.tls}`, { proxy: proxy(ports.open), tls: trusted(), servername: "localhost" }),
        "200 secure nginx"
      )
      const untrusted = yield* Effect.flip(
        hello(`https://127.0.0.1:${ports.tls}`, { proxy: proxy(ports.open), tls: Tls.TlsConfig.makeUnsafe({ useSystemRoots: false }) })
      )
      assert.deepStrictEqual([untrusted.reason._tag, untrusted.reason._tag === "TlsError" && untrusted.reason.kind], [
        "TlsError",
        "CertificateUntrusted"
      ])
    }))

  it.live("https: the second connection through the proxy resumes the TLS session", () =>
    Effect.gen(function*() {
      const config = trusted()
      const once = Effect.scoped(Effect.gen(function*() {
        const transport = yield* Dial.url(`https://127.0.0.1:${ports.tls}`, { proxy: proxy(ports.open), tls: config })
        yield* transport.write(Buffer.from(`GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`))
        const buf = ReadBuf.make()
        yield* transport.read(buf)
        return Tls.sessionReused(transport)
      }))
      assert.deepStrictEqual([yield* once, yield* once], [false, true])
    }))

  it.live("ws: WebSocket.connect reaches the ws server through the tunnel (the proxy holds the connection)", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(
        yield* echoOverWs(`ws://127.0.0.1:${ws!.port}/`, { proxy: proxy(ports.open) }, ports.open),
        { text: "through the proxy", atProxy: 1 }
      )
    }))

  it.live("wss: WebSocket.connect through the proxy, TLS to nginx inside the tunnel, upgraded through to the ws server", () =>
    Effect.gen(function*() {
      const right = { username: "alice", password: Redacted.make("s3cret") }
      assert.deepStrictEqual(
        yield* echoOverWs(`wss://127.0.0.1:${ports.tls}/ws`, { proxy: proxy(ports.auth, right), tls: trusted() }, ports.auth),
        { text: "through the proxy", atProxy: 1 }
      )
    }))

  it.live("WebSocket.connect through a proxy that wants credentials: WebSocketError naming the target, ProxyError 407", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(echoOverWs(`wss://127.0.0.1:${ports.tls}/ws`, { proxy: proxy(ports.auth), tls: trusted() }, ports.auth))
      assert.deepStrictEqual(
        [error._tag, error.address, error.reason._tag, error.reason._tag === "ProxyError" && [error.reason.kind, error.reason.status, error.reason.proxy]],
        ["WebSocketError", `127.0.0.1:${ports.tls}`, "ProxyError", ["TunnelRefused", 407, `127.0.0.1:${ports.auth}`]]
      )
      assert.include(error.message, `proxy 127.0.0.1:${ports.auth} refused the tunnel: 407 Proxy Authentication Required`)
    }))

  it.live("MarketFeed.layerConfig: HTTPS_PROXY carries a wss feed through the proxy, and each reconnect resumes the TLS session", () =>
    Effect.gen(function*() {
      const env = ConfigProvider.layer(ConfigProvider.fromEnvRecord({
        NEXUS_FEED_URL: `wss://127.0.0.1:${ports.tls}/feed`,
        NEXUS_FEED_SUBSCRIPTIONS: "btc",
        HTTPS_PROXY: `http://alice:s3cret@127.0.0.1:${ports.auth}`
      }))
      const before = upgrades.length
      // the server closes after echoing each subscription: three sessions, two reconnects
      const seen = yield* Effect.gen(function*() {
        const feed = yield* MarketFeed.MarketFeed
        return yield* feed.events.pipe(
          Stream.flatMap((event) => Stream.fromIterable(event._tag === "Messages" ? event : [])),
          Stream.map((message) => message._tag === "Text" ? JSON.parse(message.text).params : []),
          Stream.take(3),
          Stream.runCollect
        )
      }).pipe(
        Effect.provide(
          MarketFeed.layerConfig({
            overrides: { minSessionLifetime: 0, schedule: Backoff.exponential({ base: "5 millis", cap: "20 millis" }) }
          }).pipe(Layer.provide(Layer.mergeAll(env, Layer.succeed(TlsSettings.TlsSettings, trusted()))))
        )
      )
      assert.deepStrictEqual(seen, [["btc"], ["btc"], ["btc"]])
      assert.deepStrictEqual(upgrades.slice(before, before + 3), [
        { path: "/feed", reused: "." },
        { path: "/feed", reused: "r" },
        { path: "/feed", reused: "r" }
      ])
      // the variable is what routes the feed: pointed at the proxy that refuses every target, it fails
      const refused = yield* Effect.gen(function*() {
        const feed = yield* MarketFeed.MarketFeed
        for (let i = 0; i < 500; i++) {
          const state = yield* SubscriptionRef.get(feed.state)
          if (state._tag === "Reconnecting") return state.error as WebSocket.WebSocketError
          yield* Effect.sleep("5 millis")
        }
        return yield* Effect.die("the feed never failed")
      }).pipe(
        Effect.provide(
          MarketFeed.layerConfig().pipe(Layer.provide(Layer.mergeAll(
            ConfigProvider.layer(ConfigProvider.fromEnvRecord({
              NEXUS_FEED_URL: `wss://127.0.0.1:${ports.tls}/feed`,
              HTTPS_PROXY: `http://127.0.0.1:${ports.strict}`
            })),
            Layer.succeed(TlsSettings.TlsSettings, trusted())
          )))
        )
      )
      assert.deepStrictEqual(
        [refused.address, refused.reason._tag, refused.reason._tag === "ProxyError" && [refused.reason.kind, refused.reason.status, refused.reason.proxy]],
        [`127.0.0.1:${ports.tls}`, "ProxyError", ["TunnelRefused", 403, `127.0.0.1:${ports.strict}`]]
      )
    }))

  it.live("RestClient.layerConfig: HTTPS_PROXY routes the pool through the proxy; a ProxySettings service wins over the variables", () =>
    Effect.gen(function*() {
      const env = ConfigProvider.layer(ConfigProvider.fromEnvRecord({
        NEXUS_REST_URL: `https://127.0.0.1:${ports.tls}`,
        NEXUS_REST_CONNECTIONS: "1",
        HTTPS_PROXY: `http://alice:s3cret@127.0.0.1:${ports.auth}`
      }))
      const before = establishedAt(ports.auth)
      const hello = Effect.gen(function*() {
        const client = yield* RestClient.RestClient
        const response = yield* client.request((w) => w.get("/hello").finish())
        return [response.status, Buffer.from(response.body).toString("latin1"), establishedAt(ports.auth) - before]
      })
      const tls = Layer.succeed(TlsSettings.TlsSettings, trusted())
      assert.deepStrictEqual(
        yield* hello.pipe(Effect.provide(RestClient.layerConfig().pipe(Layer.provide(Layer.mergeAll(env, tls))))),
        [200, "secure nginx", 1]
      )
      // a provided ProxySettings (here: the strict proxy) is used instead of the variables
      const refused = yield* Effect.flip(Layer.build(RestClient.layerConfig().pipe(Layer.provide(Layer.mergeAll(
        env,
        tls,
        ProxySettings.layer({ https: proxy(ports.strict) })
      )))).pipe(Effect.scoped))
      assert.deepStrictEqual(
        [refused._tag, refused._tag === "HttpError" && refused.reason._tag === "ProxyError" && [refused.reason.status, refused.reason.proxy]],
        ["HttpError", [403, `127.0.0.1:${ports.strict}`]]
      )
    }))

  /** GET /hello on the TLS nginx through an HttpClient layer, and the proxy connections it opened meanwhile. */
  const helloThrough = (client: Layer.Layer<HttpClient.HttpClient, unknown>) =>
    Effect.gen(function*() {
      const before = establishedAt(ports.auth)
      const http = yield* HttpClient.HttpClient
      const response = yield* http.get(`https://127.0.0.1:${ports.tls}/hello`)
      // counted while the layer (and its pool's connection) is open
      return [yield* response.text, establishedAt(ports.auth) - before]
    }).pipe(Effect.scoped, Effect.provide(client))

  it.live("NexusHttpClient takes its proxy from the ProxySettings service", () =>
    Effect.gen(function*() {
      const seen = yield* helloThrough(NexusHttpClient.layer({ connections: 1 }).pipe(Layer.provide(Layer.mergeAll(
        Layer.succeed(TlsSettings.TlsSettings, trusted()),
        ProxySettings.layer({ https: proxy(ports.auth, { username: "alice", password: Redacted.make("s3cret") }) })
      ))))
      assert.deepStrictEqual(seen, ["secure nginx", 1])
    }))

  it.live("NexusHttpClient.layerConfig: HTTPS_PROXY routes every origin's pool through the proxy", () =>
    Effect.gen(function*() {
      const seen = yield* helloThrough(NexusHttpClient.layerConfig({ overrides: { connections: 1 } }).pipe(Layer.provide(Layer.mergeAll(
        ConfigProvider.layer(ConfigProvider.fromEnvRecord({ HTTPS_PROXY: `http://alice:s3cret@127.0.0.1:${ports.auth}` })),
        Layer.succeed(TlsSettings.TlsSettings, trusted())
      ))))
      assert.deepStrictEqual(seen, ["secure nginx", 1])
    }))

  it.live("BasicAuth: the right credentials tunnel; none is 407, wrong ones 401 (tinyproxy's answer)", () =>
    Effect.gen(function*() {
      const url = `http://127.0.0.1:${ports.plain}`
      const right = { username: "alice", password: Redacted.make("s3cret") }
      assert.strictEqual(yield* hello(url, { proxy: proxy(ports.auth, right) }), "200 plain nginx")
      const none = yield* Effect.flip(hello(url, { proxy: proxy(ports.auth) }))
      assert.deepStrictEqual([none._tag, none.address, none.requestSent], ["HttpError", `127.0.0.1:${ports.plain}`, false])
      assert.deepStrictEqual(
        [none.reason._tag, none.reason._tag === "ProxyError" && none.reason.status, none.reason._tag === "ProxyError" && none.reason.proxy],
        ["ProxyError", 407, `127.0.0.1:${ports.auth}`]
      )
      assert.include(none.message, `proxy 127.0.0.1:${ports.auth} refused the tunnel: 407 Proxy Authentication Required (proxy credentials missing or wrong)`)
      const wrong = yield* Effect.flip(hello(url, { proxy: proxy(ports.auth, { username: "alice", password: Redacted.make("hunter2") }) }))
      assert.deepStrictEqual([wrong.reason._tag === "ProxyError" && wrong.reason.kind, wrong.reason._tag === "ProxyError" && wrong.reason.status], [
        "TunnelRefused",
        401
      ])
      assert.notInclude(wrong.message, "hunter2")
    }))

  it.live("ClientPool: every slot dials through the proxy (its options are HttpConnection.connect's)", () =>
    Effect.gen(function*() {
      const pool = yield* ClientPool.make({
        url: `https://127.0.0.1:${ports.tls}`,
        connections: 2,
        tls: trusted(),
        proxy: proxy(ports.auth, { username: "alice", password: Redacted.make("s3cret") })
      })
      const response = yield* pool.request((w) => w.get("/hello").finish())
      assert.deepStrictEqual([response.status, Buffer.from(response.body).toString("latin1")], [200, "secure nginx"])
      assert.strictEqual(establishedAt(ports.auth), 2)
    }).pipe(Effect.scoped))

  it.live("a proxy whose ConnectPort list leaves the target out answers 403: TunnelRefused", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.scoped(Dial.url(`https://127.0.0.1:${ports.tls}`, { proxy: proxy(ports.strict), tls: trusted() })))
      assert.deepStrictEqual(
        [error.address, error.reason._tag, error.reason._tag === "ProxyError" && error.reason.kind, error.reason._tag === "ProxyError" && error.reason.status],
        [`127.0.0.1:${ports.tls}`, "ProxyError", "TunnelRefused", 403]
      )
    }))

  it.live("a target port nobody listens on: tinyproxy answers 500, TunnelRefused", () =>
    Effect.gen(function*() {
      const closed = yield* Effect.promise(freePort)
      const error = yield* Effect.flip(Effect.scoped(Dial.url(`http://127.0.0.1:${closed}`, { proxy: proxy(ports.open) })))
      assert.deepStrictEqual([error.reason._tag === "ProxyError" && error.reason.kind, error.reason._tag === "ProxyError" && error.reason.status], [
        "TunnelRefused",
        500
      ])
    }))

  it.live("ProxySettings.layerConfig: HTTPS_PROXY with credentials for https, HTTP_PROXY for http, NO_PROXY goes direct", () =>
    Effect.gen(function*() {
      const env = ConfigProvider.layer(ConfigProvider.fromEnvRecord({
        HTTPS_PROXY: `http://alice:s3cret@127.0.0.1:${ports.auth}`,
        http_proxy: `127.0.0.1:${ports.strict}`,
        NO_PROXY: "localhost, example.internal"
      }))
      const rules = yield* Effect.provide(
        Effect.gen(function*() {
          return yield* ProxySettings.ProxySettings
        }),
        ProxySettings.layerConfig.pipe(Layer.provide(env))
      )
      assert.deepStrictEqual([rules.https?.port, rules.https?.credentials?.username, rules.http?.port, rules.noProxy], [
        ports.auth,
        "alice",
        ports.strict,
        ["localhost", "example.internal"]
      ])
      // https through the authenticating proxy
      assert.strictEqual(
        yield* hello(`https://127.0.0.1:${ports.tls}`, { proxy: rules, tls: trusted() }),
        "200 secure nginx"
      )
      // http through the strict proxy: refused
      const refused = yield* Effect.flip(hello(`http://127.0.0.1:${ports.plain}`, { proxy: rules }))
      assert.strictEqual(refused.reason._tag === "ProxyError" && refused.reason.status, 403)
      // localhost is in NO_PROXY: direct, the strict proxy is not asked
      assert.strictEqual(yield* hello(`http://localhost:${ports.plain}`, { proxy: rules, family: 4 }), "200 plain nginx")
    }))
})
