import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as https from "node:https"
import type * as net from "node:net"
import type * as tls from "node:tls"
import { afterAll, beforeAll } from "vitest"
import { WebSocketServer } from "ws"
import * as ClientPool from "../../src/Pool/ClientPool.ts"
import * as Backoff from "../../src/Transport/Backoff.ts"
import * as Tls from "../../src/Transport/Tls.ts"
import * as WebSocket from "../../src/Transport/WebSocket.ts"
import { hasOpenssl, makeThrowawayCa, OPENSSL_HINT, type ThrowawayCa } from "../support/throwawayCa.ts"

// The session cache where it matters: a pool slot that heals and a WebSocket that reconnects
// resume the TLS session, seen from the server's side (`isSessionReused` on the accepted
// socket), against node:https and a `ws` server over it on 127.0.0.1.

let ca: ThrowawayCa | undefined
if (!hasOpenssl) console.warn(OPENSSL_HINT)
beforeAll(() => {
  if (hasOpenssl) ca = makeThrowawayCa()
})
afterAll(() => ca?.remove())

/** An HTTPS server answering every request with 200 "ok", recording each accepted TLS socket. */
const httpsOrigin = Effect.acquireRelease(
  Effect.callback<{ server: https.Server; port: number; sockets: Array<tls.TLSSocket>; resumed: Array<boolean> }>((resume) => {
    const sockets: Array<tls.TLSSocket> = []
    // read at accept time: a destroyed socket no longer knows
    const resumed: Array<boolean> = []
    const server = https.createServer({ key: ca!.key, cert: ca!.cert }, (_req, res) => res.end("ok"))
    server.on("secureConnection", (socket: tls.TLSSocket) => {
      sockets.push(socket)
      resumed.push(socket.isSessionReused())
    })
    server.listen(0, "127.0.0.1", () =>
      resume(Effect.succeed({ server, port: (server.address() as net.AddressInfo).port, sockets, resumed }))
    )
  }),
  ({ server, sockets }) =>
    Effect.sync(() => {
      for (const socket of sockets) socket.destroy()
      server.close()
    })
)

const eventually = (check: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500 && !check(); i++) yield* Effect.sleep("5 millis")
    assert.isTrue(check())
  })

describe.skipIf(!hasOpenssl)("TLS sessions resumed across reconnects", () => {
  it.live("a pool slot that heals after its connection was killed resumes the session", () =>
    Effect.gen(function*() {
      const origin = yield* httpsOrigin
      const config = Tls.TlsConfig.makeUnsafe({ ca: [ca!.caPem], useSystemRoots: false })
      const pool = yield* ClientPool.make({
        url: `https://127.0.0.1:${origin.port}`,
        connections: 1,
        tls: config,
        reconnectSchedule: Backoff.exponential({ base: "2 millis", cap: "20 millis" }),
        acquireSchedule: Backoff.exponential({ base: "1 millis", cap: "20 millis", retries: 200 })
      })
      assert.strictEqual((yield* pool.request((w) => w.get("/one").finish())).status, 200)
      origin.sockets[0]!.destroy()
      yield* eventually(() => origin.sockets.length === 2)
      assert.strictEqual((yield* pool.request((w) => w.get("/two").finish())).status, 200)
      assert.deepStrictEqual(origin.resumed, [false, true])
    }).pipe(Effect.scoped))

  it.live("a WebSocket reconnect with the same TlsConfig resumes the session", () =>
    Effect.gen(function*() {
      const origin = yield* httpsOrigin
      const wss = new WebSocketServer({ server: origin.server })
      wss.on("connection", (socket) => socket.on("message", (data) => socket.send(data)))
      const config = Tls.TlsConfig.makeUnsafe({ ca: [ca!.caPem], useSystemRoots: false })
      const session = Effect.scoped(Effect.gen(function*() {
        const socket = yield* WebSocket.connect(`wss://127.0.0.1:${origin.port}/feed`, { tls: config })
        yield* socket.sendText("ping")
        yield* socket.recv
        yield* socket.close()
      }))
      yield* session
      yield* session
      assert.deepStrictEqual(origin.resumed, [false, true])
      wss.close()
    }))
})
