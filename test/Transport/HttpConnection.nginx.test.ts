import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as zlib from "node:zlib"
import { afterAll, beforeAll } from "vitest"
import * as RequestWriter from "../../src/Codec/RequestWriter.ts"
import * as ResponseReader from "../../src/Codec/ResponseReader.ts"
import * as HttpConnection from "../../src/Transport/HttpConnection.ts"
import * as Tls from "../../src/Transport/Tls.ts"
import { nginxAccepts, nginxAvailableFor, nginxConfig, startNginx } from "../support/nginx.ts"
import { awaitEstablished, freePort, type Peer } from "../support/peers.ts"
import { makeThrowawayCa, type ThrowawayCa } from "../support/throwawayCa.ts"

// nginx (Debian) as a real peer, from its own prefix directory on 127.0.0.1 with ephemeral
// ports, plain and TLS (a throwaway CA made by openssl). keepalive_requests 3 and
// keepalive_timeout 2s make nginx end reused connections itself.

const available = nginxAvailableFor("HttpConnection.nginx")

let ca: ThrowawayCa | undefined
let peer: Peer | undefined
let port = 0
let tlsPort = 0
let file = Buffer.alloc(0)

const servers = (dir: string) => `
  keepalive_requests 3;
  keepalive_timeout 2s;
  gzip on;
  gzip_types application/octet-stream;
  gzip_min_length 1;
  server {
    listen 127.0.0.1:${port};
    listen 127.0.0.1:${tlsPort} ssl;
    ssl_certificate ${dir}/server.pem;
    ssl_certificate_key ${dir}/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    root ${dir}/www;
    location = /small { gzip off; return 200 "hello from nginx"; }
    location = /hinted { keepalive_timeout 2s 2s; return 200 "hinted"; }
    location = /redirect { return 302 /small; }
    location = /status { stub_status; }
  }`

beforeAll(async () => {
  if (!available) return
  ca = makeThrowawayCa()
  port = await freePort()
  tlsPort = await freePort()
  fs.mkdirSync(path.join(ca.dir, "www"), { mode: 0o755 })
  // compressible but not trivial: gzip keeps it chunked and far smaller than the original
  file = Buffer.alloc(200_000)
  for (let i = 0; i < file.length; i++) file[i] = 97 + ((i * 7) % 13)
  fs.writeFileSync(path.join(ca.dir, "www", "data.bin"), file, { mode: 0o644 })
  peer = await startNginx(ca.dir, nginxConfig(ca.dir, servers(ca.dir), "application/octet-stream"), [port, tlsPort])
})

afterAll(async () => {
  await peer?.stop()
  ca?.remove()
})

/** nginx's own count of accepted connections (stub_status). */
const accepts = () => Effect.promise(() => nginxAccepts(port))

/** Waits until the server side holds `n` established connections on `at`; returns the count seen. */
const established = (at: number, n: number) => Effect.promise(() => awaitEstablished(at, n))

const writer = () => RequestWriter.make({ host: `127.0.0.1:${port}` })

describe.skipIf(!available)("HttpConnection against nginx", () => {
  it.live("nginx ends every third request with Connection: close; nine requests take three connections, none leaked", () =>
    Effect.gen(function*() {
      const before = yield* accepts()
      const w = writer()
      const reader = ResponseReader.make()
      const statuses: Array<string> = []
      for (let c = 0; c < 3; c++) {
        yield* Effect.scoped(Effect.gen(function*() {
          const connection = yield* HttpConnection.connect(`http://127.0.0.1:${port}`)
          for (let i = 0; i < 3; i++) {
            const response = yield* connection.send(w.get("/small").finish(), reader)
            assert.deepStrictEqual([response.status, response.bodyText()], [200, "hello from nginx"])
            statuses.push(connection.status)
          }
          const error = yield* Effect.flip(connection.send(w.get("/small").finish(), reader))
          assert.deepStrictEqual(error.reason, new HttpConnection.ConnectionNotReusable({ kind: "ConnectionClose" }))
          assert.isFalse(error.requestSent)
        }))
      }
      assert.deepStrictEqual(statuses, Array(3).fill(["Ready", "Ready", "NotReusable"]).flat())
      // three connections of ours plus the status request itself
      assert.strictEqual((yield* accepts()) - before, 4)
      assert.strictEqual(yield* established(port, 0), 0)
    }))

  it.live("a connection nginx closed after keepalive_timeout 2s is ConnectionStale before anything is written", () =>
    Effect.scoped(Effect.gen(function*() {
      const connection = yield* HttpConnection.connect(`http://127.0.0.1:${port}`, { idleTimeout: "30 seconds" })
      const w = writer()
      const reader = ResponseReader.make()
      yield* connection.send(w.get("/small").finish(), reader)
      const start = Date.now()
      while (connection.status === "Ready" && Date.now() - start < 5000) yield* Effect.sleep("20 millis")
      assert.isAtLeast(Date.now() - start, 1500)
      const written = connection.transport.bytesWritten
      const error = yield* Effect.flip(connection.send(w.post("/small").body("order").finish(), reader))
      assert.deepStrictEqual(error.reason, new HttpConnection.ConnectionStale({ kind: "PeerEnded" }))
      assert.deepStrictEqual([error.requestSent, connection.transport.bytesWritten], [false, written])
      assert.strictEqual(yield* established(port, 0), 0)
    })))

  it.live("nginx's Keep-Alive: timeout=2 hint retires the connection after 1 s, before nginx would", () =>
    Effect.scoped(Effect.gen(function*() {
      const connection = yield* HttpConnection.connect(`http://127.0.0.1:${port}`, { idleTimeout: "30 seconds" })
      const response = yield* connection.send(writer().get("/hinted").finish(), ResponseReader.make())
      const answered = Date.now()
      assert.strictEqual(response.header("keep-alive"), "timeout=2")
      yield* Effect.sleep("500 millis")
      // (on a stalled machine the sleep may overshoot the 1 s deadline; then only the end is checked)
      if (Date.now() - answered < 900) assert.strictEqual(connection.status, "Ready")
      yield* Effect.sleep("600 millis")
      assert.deepStrictEqual(connection.unusableReason, new HttpConnection.ConnectionStale({ kind: "IdleTimeout" }))
      // the reaper closed the socket; nginx sees it gone
      assert.strictEqual(yield* established(port, 0), 0)
    })))

  it.live("reads a gzip'd static file as a chunked response and a plain one by Content-Length on one connection", () =>
    Effect.scoped(Effect.gen(function*() {
      const connection = yield* HttpConnection.connect(`http://127.0.0.1:${port}`)
      const w = writer()
      const reader = ResponseReader.make()
      const gz = yield* connection.send(w.get("/data.bin").header("Accept-Encoding", "gzip").finish(), reader)
      assert.deepStrictEqual([gz.status, gz.chunked, gz.header("content-encoding")], [200, true, "gzip"])
      assert.isTrue(zlib.gunzipSync(gz.body).equals(file))
      const plain = yield* connection.send(w.get("/data.bin").finish(), reader)
      assert.deepStrictEqual([plain.chunked, plain.contentLength], [false, file.length])
      assert.isTrue(Buffer.from(plain.body).equals(file))
      const redirect = yield* connection.send(w.get("/redirect").finish(), reader)
      assert.deepStrictEqual([redirect.status, redirect.header("location")], [302, `http://127.0.0.1:${port}/small`])
      assert.strictEqual(connection.status, "NotReusable")
    })))

  it.live("speaks HTTPS to nginx with the throwaway CA, chunked included, and ends the third request too", () =>
    Effect.gen(function*() {
      const tls = Tls.TlsConfig.makeUnsafe({ ca: [ca!.caPem], useSystemRoots: false })
      yield* Effect.scoped(Effect.gen(function*() {
        const connection = yield* HttpConnection.connect(`https://127.0.0.1:${tlsPort}`, { tls })
        const w = RequestWriter.make({ host: `127.0.0.1:${tlsPort}` })
        const reader = ResponseReader.make()
        const small = yield* connection.send(w.get("/small").finish(), reader)
        assert.strictEqual(small.bodyText(), "hello from nginx")
        assert.strictEqual(Tls.protocolVersion(connection.transport), "TLSv1.3")
        const gz = yield* connection.send(w.get("/data.bin").header("Accept-Encoding", "gzip").finish(), reader)
        assert.isTrue(gz.chunked)
        assert.isTrue(zlib.gunzipSync(gz.body).equals(file))
        yield* connection.send(w.get("/small").finish(), reader)
        assert.strictEqual(connection.status, "NotReusable")
      }))
      assert.strictEqual(yield* established(tlsPort, 0), 0)
    }))

  it.live("refuses nginx's certificate without the CA: HttpError with TlsError CertificateUntrusted", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.scoped(HttpConnection.connect(`https://127.0.0.1:${tlsPort}`)))
      assert.deepStrictEqual([error.reason._tag, error.requestSent], ["TlsError", false])
      assert.deepStrictEqual([error.address, error.reason._tag === "TlsError" && error.reason.kind], [
        `127.0.0.1:${tlsPort}`,
        "CertificateUntrusted"
      ])
      assert.include(error.message, `HTTP exchange with 127.0.0.1:${tlsPort} failed: TLS failed: CertificateUntrusted`)
      assert.strictEqual(yield* established(tlsPort, 0), 0)
    }))
})
