/**
 * Compression conformance in the shape of Autobahn's sections 12 and 13 (permessage-deflate):
 * section 12 echoes runs of messages of growing size (16 B to 128 KiB; text, binary, JSON-like
 * snippets, random bytes) with the default offer; section 13 repeats it under the negotiation
 * variants Autobahn's 13.1–13.6 use (client_no_context_takeover, server_max_window_bits 9 and 15,
 * both; 13.7's several offers in one header is in test/Codec/PerMessageDeflate.test.ts). Scaled like section 9 (`Cases.LIMITS_SCALE`-style: 20
 * messages per size instead of 1000).
 *
 * The fuzzer of test/conformance/ frames without extensions (its reader refuses RSV1), so here
 * `ws` with `perMessageDeflate` plays Autobahn's part in both roles: our client against a `ws`
 * server configured as the case says, and a `ws` client making the case's offer against our
 * server (`accept` with `compression`). Each message must come back byte for byte, and the
 * agreement must be what the case negotiates. Every peer is on 127.0.0.1 with an ephemeral port.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as net from "node:net"
import { type PerMessageDeflateOptions, WebSocket as WsClient, WebSocketServer } from "ws"
import * as FrameReader from "../src/Codec/FrameReader.ts"
import * as WebSocket from "../src/Transport/WebSocket.ts"
import { echo, eventually, serveOurs } from "./support/ourServer.ts"

const SIZES = [16, 64, 256, 1024, 4096, 8192, 16384, 32768, 65536, 131072]
const PER_SIZE = 20

type Kind = "text" | "binary" | "snippets" | "random"

/** Autobahn 12.1–12.5's payloads: repeated text, repeated binary, JSON-like snippets, random bytes. */
const payloadOf = (kind: Kind, size: number, n: number): string | Buffer => {
  switch (kind) {
    case "text":
      return "Hello, world! ".repeat(Math.ceil(size / 14)).slice(0, size)
    case "binary":
      return Buffer.alloc(size, 0xfe)
    case "snippets": {
      let s = ""
      for (let i = 0; s.length < size; i++) s += `{"id":${n * 1000 + i},"px":"${(64000 + i * 0.5).toFixed(1)}","qty":${i % 17}},`
      return s.slice(0, size)
    }
    case "random": {
      const out = Buffer.allocUnsafe(size)
      let x = (size * 2654435761 + n) | 1
      for (let i = 0; i < size; i++) {
        x ^= x << 13
        x ^= x >>> 17
        x ^= x << 5
        out[i] = x & 0xff
      }
      return out
    }
  }
}

/** Autobahn 13.x: the offer (our client / the ws client) and what it must agree, server windows in bits. */
interface Variant {
  readonly id: string
  readonly client: WebSocket.CompressionOptions
  readonly ws: PerMessageDeflateOptions
  readonly agreed: { readonly clientNoContextTakeover: boolean; readonly serverMaxWindowBits: number }
}

const VARIANTS: ReadonlyArray<Variant> = [
  { id: "12 / 13.1 default offer", client: {}, ws: {}, agreed: { clientNoContextTakeover: false, serverMaxWindowBits: 15 } },
  {
    id: "13.2 client_no_context_takeover",
    client: { clientNoContextTakeover: true },
    ws: { clientNoContextTakeover: true },
    agreed: { clientNoContextTakeover: true, serverMaxWindowBits: 15 }
  },
  {
    id: "13.3 server_max_window_bits=9",
    client: { serverMaxWindowBits: 9 },
    ws: { serverMaxWindowBits: 9 },
    agreed: { clientNoContextTakeover: false, serverMaxWindowBits: 9 }
  },
  {
    id: "13.4 server_max_window_bits=15",
    client: { serverMaxWindowBits: 15 },
    ws: { serverMaxWindowBits: 15 },
    agreed: { clientNoContextTakeover: false, serverMaxWindowBits: 15 }
  },
  {
    id: "13.5 client_no_context_takeover, server_max_window_bits=9",
    client: { clientNoContextTakeover: true, serverMaxWindowBits: 9 },
    ws: { clientNoContextTakeover: true, serverMaxWindowBits: 9 },
    agreed: { clientNoContextTakeover: true, serverMaxWindowBits: 9 }
  },
  {
    id: "13.6 client_no_context_takeover, server_max_window_bits=15",
    client: { clientNoContextTakeover: true, serverMaxWindowBits: 15 },
    ws: { clientNoContextTakeover: true, serverMaxWindowBits: 15 },
    agreed: { clientNoContextTakeover: true, serverMaxWindowBits: 15 }
  }
]

const KINDS: ReadonlyArray<Kind> = ["text", "binary", "snippets", "random"]

/** A ws echo server with `perMessageDeflate` (threshold 0), closed with the test's scope. */
const wsEcho = (options: PerMessageDeflateOptions) =>
  Effect.acquireRelease(
    Effect.callback<{ wss: WebSocketServer; port: number }>((resume) => {
      const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: { ...options, threshold: 0 }, maxPayload: 1 << 24 })
      wss.on("connection", (ws) => {
        ws.on("error", () => {})
        ws.on("message", (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }))
      })
      wss.once("listening", () => resume(Effect.succeed({ wss, port: (wss.address() as net.AddressInfo).port })))
    }),
    ({ wss }) =>
      Effect.sync(() => {
        for (const client of wss.clients) client.terminate()
        wss.close()
      })
  )

describe("compression conformance (Autobahn 12/13 shape): our client against ws", () => {
  for (const variant of VARIANTS) {
    it.live(`${variant.id}: every kind and size echoes back`, () =>
      Effect.gen(function*() {
        const { port } = yield* wsEcho(variant.ws)
        yield* Effect.scoped(Effect.gen(function*() {
          const socket = yield* WebSocket.connect(`ws://127.0.0.1:${port}/`, { compression: { ...variant.client, threshold: 0 } })
          assert.strictEqual(socket.deflate?.clientNoContextTakeover, variant.agreed.clientNoContextTakeover)
          assert.strictEqual(socket.deflate?.serverMaxWindowBits, variant.agreed.serverMaxWindowBits)
          for (const kind of KINDS) {
            for (const size of SIZES) {
              for (let n = 0; n < PER_SIZE; n++) {
                const payload = payloadOf(kind, size, n)
                yield* typeof payload === "string" ? socket.sendText(payload) : socket.sendBinary(payload)
                const back = FrameReader.toOwned(yield* socket.recv)
                if (typeof payload === "string") assert.deepStrictEqual(back, { _tag: "Text", text: payload }, `${kind} ${size} #${n}`)
                else assert.isTrue(back._tag === "Binary" && Buffer.from(back.payload).equals(payload), `${kind} ${size} #${n}`)
              }
            }
          }
          yield* socket.close()
        }))
      }), 60_000)
  }
})

describe("compression conformance (Autobahn 12/13 shape): a ws client against our server", () => {
  for (const variant of VARIANTS) {
    it.live(`${variant.id}: every kind and size echoes back`, () =>
      Effect.gen(function*() {
        const server = yield* serveOurs(echo, { compression: { threshold: 0 }, maxMessageSize: 1 << 24 })
        const result = yield* Effect.promise(() =>
          new Promise<{ extensions: string; mismatches: Array<string> }>((resolve, reject) => {
            const client = new WsClient(`ws://127.0.0.1:${server.port}/`, { perMessageDeflate: { ...variant.ws, threshold: 0 } })
            const expected: Array<string | Buffer> = []
            for (const kind of KINDS) for (const size of SIZES) for (let n = 0; n < PER_SIZE; n++) expected.push(payloadOf(kind, size, n))
            const mismatches: Array<string> = []
            let i = 0
            client.on("error", reject)
            client.on("open", () => {
              const next = expected[0]!
              client.send(next, { binary: typeof next !== "string" })
            })
            client.on("message", (data: Buffer, isBinary) => {
              const want = expected[i]!
              const ok = typeof want === "string" ? !isBinary && data.toString() === want : isBinary && data.equals(want)
              if (!ok) mismatches.push(`#${i}`)
              i++
              if (i === expected.length) return client.close(1000)
              const next = expected[i]!
              client.send(next, { binary: typeof next !== "string" })
            })
            client.on("close", () => resolve({ extensions: client.extensions, mismatches }))
          })
        )
        assert.deepStrictEqual(result.mismatches, [])
        assert.match(result.extensions, /^permessage-deflate/)
        yield* server.finished(1)
        assert.strictEqual(server.exits[0]!._tag, "Success")
        yield* eventually(() => server.open() === 0)
      }), 60_000)
  }
})
