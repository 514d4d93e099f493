import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll } from "vitest"
import { client } from "../support/nexusHttpClient.ts"
import * as Tls from "../../src/Transport/Tls.ts"
import { nginxAccepts, nginxAvailableFor, nginxConfig, startNginx } from "../support/nginx.ts"
import { freePort, type Peer } from "../support/peers.ts"
import { makeThrowawayCa, type ThrowawayCa } from "../support/throwawayCa.ts"

// Effect's HttpClient on our pools against nginx (Debian) from its own prefix directory on
// 127.0.0.1: WebDAV PUT for uploads (nginx writes the body to disk, so what arrived is read
// back byte for byte), a static file streamed down, keepalive_requests 3 so nginx ends reused
// connections with Connection: close, and TLS with a throwaway CA.

const available = nginxAvailableFor("NexusHttpClient.nginx")

let ca: ThrowawayCa | undefined
let peer: Peer | undefined
let port = 0
let tlsPort = 0
let file = Buffer.alloc(0)

const servers = (dir: string) => `
  keepalive_requests 3;
  keepalive_timeout 5s;
  server {
    listen 127.0.0.1:${port};
    listen 127.0.0.1:${tlsPort} ssl;
    ssl_certificate ${dir}/server.pem;
    ssl_certificate_key ${dir}/server.key;
    root ${dir}/www;
    location /up/ { dav_methods PUT; create_full_put_path on; client_max_body_size 64m; }
    location = /small { return 200 "hello from nginx"; }
    location = /status { stub_status; }
  }`

beforeAll(async () => {
  if (!available) return
  ca = makeThrowawayCa()
  port = await freePort()
  tlsPort = await freePort()
  // nginx's workers may run as another user: let them write uploads in the docroot
  fs.mkdirSync(path.join(ca.dir, "www"), { mode: 0o777 })
  fs.chmodSync(path.join(ca.dir, "www"), 0o777)
  file = Buffer.allocUnsafe(4 * 1024 * 1024)
  for (let i = 0; i < file.length; i++) file[i] = (i * 31 + (i >>> 12)) & 0xff
  fs.writeFileSync(path.join(ca.dir, "www", "data.bin"), file, { mode: 0o644 })
  peer = await startNginx(ca.dir, nginxConfig(ca.dir, servers(ca.dir), "application/octet-stream"), [port, tlsPort])
}, 30_000)

afterAll(async () => {
  await peer?.stop()
  ca?.remove()
})

/** nginx's own count of accepted connections (stub_status). */
const accepts = () => Effect.promise(() => nginxAccepts(port))

/** 8 MiB with a pattern that shows any shifted, lost or repeated byte. */
const upload = (() => {
  const bytes = Buffer.allocUnsafe(8 * 1024 * 1024)
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i % 253) ^ (i >>> 16)
  return bytes
})()

describe.skipIf(!available)("NexusHttpClient against nginx", () => {
  it.live("an 8 MiB PUT from bytes and an 8 MiB chunked Stream PUT land on nginx's disk byte for byte", () =>
    Effect.gen(function*() {
      const http = HttpClient.filterStatusOk(yield* client({ connections: 1 }))
      const base = `http://127.0.0.1:${port}`
      const put = yield* http.execute(HttpClientRequest.put(`${base}/up/bytes.bin`).pipe(HttpClientRequest.bodyUint8Array(upload)))
      assert.strictEqual(put.status, 201)
      assert.isTrue(fs.readFileSync(path.join(ca!.dir, "www", "up", "bytes.bin")).equals(upload))
      const pieces = Stream.fromIterable(Array.from({ length: 100 }, (_, i) => upload.subarray(i * 83_887, Math.min((i + 1) * 83_887, upload.length))))
      const streamed = yield* http.execute(HttpClientRequest.put(`${base}/up/stream.bin`).pipe(HttpClientRequest.bodyStream(pieces)))
      assert.strictEqual(streamed.status, 201)
      assert.isTrue(fs.readFileSync(path.join(ca!.dir, "www", "up", "stream.bin")).equals(upload))
    }).pipe(Effect.scoped))

  it.live("a 4 MiB static file streams down in order and equals the file; text of the same file collects it", () =>
    Effect.gen(function*() {
      const http = yield* client({ connections: 1 })
      const response = yield* http.get(`http://127.0.0.1:${port}/data.bin`)
      assert.strictEqual(response.headers["content-length"], String(file.length))
      const chunks = yield* Stream.runCollect(response.stream)
      assert.isAbove(chunks.length, 4, "streamed in pieces")
      assert.isTrue(Buffer.concat(chunks).equals(file))
      const again = yield* (yield* http.get(`http://127.0.0.1:${port}/data.bin`)).arrayBuffer
      assert.isTrue(Buffer.from(again).equals(file))
    }).pipe(Effect.scoped))

  it.live("nginx's Connection: close on every third request: eight GETs on one slot take three connections", () =>
    Effect.gen(function*() {
      const before = yield* accepts()
      const http = yield* client({ connections: 1 })
      // 1-3 on the first connection, 4-6 on the one the pool healed the slot with, 7-8 on the third
      for (let i = 0; i < 8; i++) {
        assert.strictEqual(yield* (yield* http.get(`http://127.0.0.1:${port}/small`)).text, "hello from nginx")
      }
      // three of ours plus the status request itself
      assert.strictEqual((yield* accepts()) - before, 4)
    }).pipe(Effect.scoped))

  it.live("over TLS with the throwaway CA from TlsSettings' config", () =>
    Effect.gen(function*() {
      const tls = Tls.TlsConfig.makeUnsafe({ ca: [ca!.caPem], useSystemRoots: false })
      const http = yield* client({ connections: 1, tls })
      assert.strictEqual(yield* (yield* http.get(`https://127.0.0.1:${tlsPort}/small`)).text, "hello from nginx")
      const response = yield* http.get(`https://127.0.0.1:${tlsPort}/data.bin`)
      assert.isTrue(Buffer.concat(yield* Stream.runCollect(response.stream)).equals(file))
      const untrusted = yield* client({ connections: 1 })
      const error = yield* Effect.flip(untrusted.get(`https://127.0.0.1:${tlsPort}/small`))
      assert.strictEqual(error.reason._tag, "TransportError")
      const cause = error.reason.cause as { reason: { _tag: string }; requestSent: boolean }
      assert.deepStrictEqual([cause.reason._tag, cause.requestSent], ["TlsError", false])
    }).pipe(Effect.scoped))
})
