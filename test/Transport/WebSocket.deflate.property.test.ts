import * as Effect from "effect/Effect"
import * as fc from "fast-check"
import * as zlib from "node:zlib"
import { assert, describe, it } from "vitest"
import * as FrameReader from "../../src/Codec/FrameReader.ts"
import * as FrameWriter from "../../src/Codec/FrameWriter.ts"
import * as MaskSource from "../../src/Codec/MaskSource.ts"
import * as Memory from "../../src/Transport/Memory.ts"
import * as WebSocket from "../../src/Transport/WebSocket.ts"

// permessage-deflate round trips, as properties: our client and our server over a Memory pair
// (chopped into random chunk sizes) with random negotiation settings (context takeover on or
// off on each side, window bits, threshold, fragmentation) exchange any sequence of text,
// binary, ping and pong messages, and every message comes back as sent; and at the codec level,
// compressed fragmented messages with control frames between their fragments read back as
// compressed messages whose payload inflates to what was sent.

/** `size` bytes from `seed`, compressible (runs of repeated bytes) or not, by `seed`'s parity. */
const bytesOf = (size: number, seed: number): Buffer => {
  const out = Buffer.allocUnsafe(size)
  let x = seed | 1
  const run = seed % 2 === 0 ? 16 : 1
  for (let i = 0; i < size; i++) {
    if (i % run === 0) {
      x ^= x << 13
      x ^= x >>> 17
      x ^= x << 5
    }
    out[i] = x & 0xff
  }
  return out
}

const textOf = (size: number, seed: number): string => {
  const pool = ["a", "b", "{\"px\":", "é", "✓", "😀", ",", "1"]
  let s = ""
  const picks = bytesOf(size, seed)
  for (let i = 0; i < size; i++) s += pool[picks[i]! & 7]
  return s
}

type Op = { readonly kind: "text" | "binary" | "ping" | "pong"; readonly size: number; readonly seed: number }

const op: fc.Arbitrary<Op> = fc.record({
  kind: fc.constantFrom<Op["kind"]>("text", "binary", "binary", "text", "ping", "pong"),
  size: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 70_000 })),
  seed: fc.integer({ min: 1, max: 1 << 30 })
})

const config = fc.record({
  clientNoContextTakeover: fc.boolean(),
  serverNoContextTakeover: fc.boolean(),
  clientMaxWindowBits: fc.option(fc.integer({ min: 9, max: 15 }), { nil: undefined }),
  serverMaxWindowBits: fc.option(fc.integer({ min: 9, max: 15 }), { nil: undefined }),
  threshold: fc.constantFrom(0, 1, 128)
})

const expectedOf = (o: Op): FrameReader.OwnedMessage => {
  const size = o.kind === "ping" || o.kind === "pong" ? Math.min(o.size, 125) : o.size
  if (o.kind === "text") return { _tag: "Text", text: textOf(size, o.seed) }
  return { _tag: o.kind === "binary" ? "Binary" : o.kind === "ping" ? "Ping" : "Pong", payload: new Uint8Array(bytesOf(size, o.seed)) }
}

describe("permessage-deflate round trips (property)", () => {
  it("any messages, both directions, any negotiated settings and chopping: every message arrives as sent", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { minLength: 1, maxLength: 12 }),
        config,
        fc.option(fc.integer({ min: 16, max: 5000 }), { nil: undefined }),
        fc.integer({ min: 7, max: 9000 }),
        (ops, settings, fragmentSize, chunkSize) =>
          Effect.runPromise(Effect.scoped(Effect.gen(function*() {
            const pair = yield* Memory.pair({ chunkSize })
            const [client, server] = yield* Effect.all([
              WebSocket.connectOver(pair.client, "ws://memory.test/", { compression: settings, fragmentSize, autoPong: false, maxFragments: 1 << 20 }),
              WebSocket.accept(pair.server, {
                compression: { threshold: settings.threshold },
                fragmentSize,
                autoPong: false,
                maxFragments: 1 << 20
              })
            ], { concurrency: 2 })
            assert.deepStrictEqual(client.deflate, server.deflate)
            assert.strictEqual(client.deflate?.clientNoContextTakeover, settings.clientNoContextTakeover)
            assert.strictEqual(client.deflate?.serverMaxWindowBits, settings.serverMaxWindowBits ?? 15)
            for (const o of ops) {
              const message = expectedOf(o)
              // client → server, then the server sends it back: both compressors and inflaters run
              // (concurrently: a message larger than the pair's buffer waits for the reader)
              const [, got] = yield* Effect.all([WebSocket.send(client, message), Effect.map(server.recv, FrameReader.toOwned)], {
                concurrency: 2
              })
              assert.deepStrictEqual(got, message)
              const [, back] = yield* Effect.all([WebSocket.send(server, got), Effect.map(client.recv, FrameReader.toOwned)], {
                concurrency: 2
              })
              assert.deepStrictEqual(back, message)
            }
          })))
      ),
      { numRuns: 60 }
    )
  })

  it("compressed fragmented messages with control frames between the fragments read back compressed, inflating to what was sent", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ text: fc.boolean(), size: fc.integer({ min: 0, max: 5000 }), seed: fc.integer({ min: 1, max: 1 << 30 }) }), {
          minLength: 1,
          maxLength: 6
        }),
        fc.integer({ min: 1, max: 700 }),
        fc.integer({ min: 1, max: 997 }),
        (messages, fragmentSize, chop) => {
          const writer = FrameWriter.make({ role: "client", maskSource: MaskSource.seeded(7), fragmentSize })
          const plain = FrameWriter.make({ role: "client", maskSource: MaskSource.seeded(8) })
          const chunks: Array<Uint8Array> = []
          const want: Array<Buffer> = []
          for (const m of messages) {
            const data = m.text ? Buffer.from(textOf(m.size, m.seed)) : bytesOf(m.size, m.seed)
            want.push(data)
            const deflated = zlib.deflateRawSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH })
            const payload = deflated.subarray(0, deflated.length - 4)
            const dst = Buffer.alloc(payload.length + 14 * (Math.ceil(payload.length / fragmentSize) + 1))
            const n = writer.encodeCompressedInto(dst, 0, m.text ? FrameWriter.Kind.Text : FrameWriter.Kind.Binary, payload)
            if (typeof n !== "number") throw new Error(n.message)
            chunks.push(dst.subarray(0, n))
            const ping = Buffer.alloc(20)
            const p = plain.encodeInto(ping, 0, FrameWriter.Kind.Ping, "between")
            if (typeof p !== "number") throw new Error(p.message)
            chunks.push(ping.subarray(0, p))
          }
          // interleave: move each ping right after its message's first frame
          const stream = Buffer.concat(chunks.flatMap((c, i) => (i % 2 === 0 ? splitAfterFirstFrame(c, chunks[i + 1]!) : [])))
          const reader = FrameReader.make({ role: "server", compression: true, maxFragments: 1 << 20 })
          const got: Array<Buffer> = []
          let pings = 0
          for (let at = 0; at < stream.length; at += chop) {
            let rest: Uint8Array = stream.subarray(at, Math.min(stream.length, at + chop))
            while (rest.length > 0) {
              const taken = reader.feed(rest)
              rest = rest.subarray(taken)
              for (let r = reader.next(); r._tag !== "NeedMore"; r = reader.next()) {
                if (r._tag === "Ping") {
                  pings++
                  continue
                }
                if (r._tag !== "Text" && r._tag !== "Binary") throw new Error(`unexpected ${r._tag}: ${"message" in r ? r.message : ""}`)
                assert.isTrue(r.compressed)
                got.push(zlib.inflateRawSync(Buffer.concat([r.payload, Buffer.from([0, 0, 0xff, 0xff])]), {
                  finishFlush: zlib.constants.Z_SYNC_FLUSH
                }))
              }
            }
          }
          assert.strictEqual(pings, messages.length)
          assert.deepStrictEqual(got.map((b) => b.toString("hex")), want.map((b) => b.toString("hex")))
        }
      ),
      { numRuns: 200 }
    )
  })
})

/** `frames` (one compressed message, maybe fragmented) with `control` placed after its first frame. */
const splitAfterFirstFrame = (frames: Uint8Array, control: Uint8Array): Array<Uint8Array> => {
  const b1 = frames[1]! & 0x7f
  const header = (b1 === 126 ? 4 : b1 === 127 ? 10 : 2) + 4
  const len = b1 === 126 ? (frames[2]! << 8) | frames[3]! : b1
  const end = header + len
  return [frames.subarray(0, end), control, frames.subarray(end)]
}
