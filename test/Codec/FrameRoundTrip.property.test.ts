import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as FrameReader from "../../src/Codec/FrameReader.ts"
import * as FrameWriter from "../../src/Codec/FrameWriter.ts"
import * as MaskSource from "../../src/Codec/MaskSource.ts"
import * as WriteBuf from "../../src/Codec/WriteBuf.ts"
import { SIZES } from "../support/frames.ts"

// Our writer's frames, read back by our reader: every frame kind in both directions (client
// writer → server reader, masked; server writer → client reader, unmasked), at the payload
// sizes around each length form, optionally fragmented, the stream chopped at random points.

const { Kind } = FrameWriter
const CONTROL_SIZES = [0, 1, 125]

type Role = FrameWriter.Role
const peerOf = (role: Role): Role => (role === "client" ? "server" : "client")

const writerFor = (role: Role, seed: number, fragmentSize: number | undefined): FrameWriter.FrameWriter =>
  role === "client"
    ? FrameWriter.make({ role, maskSource: MaskSource.seeded(seed), fragmentSize })
    : FrameWriter.make({ role, fragmentSize })

/** `size` pseudo-random bytes from `seed` (xorshift32, so a 1 MiB payload costs no fast-check shrinking). */
const bytesOf = (size: number, seed: number): Uint8Array => {
  const out = new Uint8Array(size)
  let x = seed | 1
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

/** A string of exactly `size` UTF-8 bytes mixing 1- to 4-byte characters, chosen by `seed`. */
const textOf = (size: number, seed: number): string => {
  const pool = ["a", "~", "é", "ж", "€", "✓", "😀", "𝄞"]
  const picks = bytesOf(size, seed)
  let s = ""
  let bytes = 0
  for (let i = 0; bytes < size; i++) {
    const c = pool[picks[i]! & 7]!
    const n = Buffer.byteLength(c)
    const piece = bytes + n <= size ? c : "x"
    s += piece
    bytes += Buffer.byteLength(piece)
  }
  return s
}

/** Encodes with the WriteBuf target (grown for the largest case) and returns an owned copy. */
const encode = (writer: FrameWriter.FrameWriter, kind: FrameWriter.Kind, payload: string | Uint8Array): Buffer => {
  const buf = WriteBuf.make({ capacity: 2 * 1024 * 1024 + 64 * 1024 })
  const n = writer.encode(buf, kind, payload)
  if (typeof n !== "number") throw new Error(`encode failed: ${n.message}`)
  return Buffer.from(buf.data())
}

const encodeClose = (writer: FrameWriter.FrameWriter, code?: number, reason?: string): Buffer => {
  const buf = WriteBuf.make({ capacity: 256 })
  const n = writer.encodeClose(buf, code, reason)
  if (typeof n !== "number") throw new Error(`encodeClose failed: ${n.message}`)
  return Buffer.from(buf.data())
}

/** Feeds `stream` to a fresh reader of `role`, cut at `cuts`, and drains owned messages or the violation. */
const readChopped = (
  role: Role,
  stream: Buffer,
  cuts: ReadonlyArray<number>
): Array<FrameReader.OwnedMessage | FrameReader.FrameViolation> => {
  const reader = FrameReader.make({ role })
  const out: Array<FrameReader.OwnedMessage | FrameReader.FrameViolation> = []
  let from = 0
  for (const to of [...cuts, stream.length]) {
    reader.feed(stream.subarray(from, to))
    from = to
    for (let m = reader.next(); m._tag !== "NeedMore"; m = reader.next()) {
      if ("closeCode" in m) return [...out, m]
      out.push(FrameReader.toOwned(m))
    }
  }
  return out
}

/** Where to chop a stream, as fractions of its length (the length is known only later). */
const chopArb = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 })

/** Cut offsets strictly inside `[0, length)`, ascending, without repeats. */
const cutsAt = (fractions: ReadonlyArray<number>, length: number): Array<number> =>
  [...new Set(fractions.map((f) => Math.floor(f * length)))].filter((c) => c > 0 && c < length).sort((a, b) => a - b)

/** Runs: fewer for the large sizes, whose cost is the payload, not the chopping. */
const runsFor = (size: number): number => (size >= 65536 ? 4 : 40)

describe("FrameWriter → FrameReader round trip", () => {
  for (const size of SIZES) {
    it(`text and binary messages of ${size} bytes come back whole, both roles, fragmented or not, any chopping`, () => {
      fc.assert(
        fc.property(
          fc.constantFrom<Role>("client", "server"),
          fc.integer({ min: 1, max: 0x7fffffff }),
          // at most ~1000 fragments, under the reader's default maxFragments of 1024
          fc.option(fc.integer({ min: Math.max(1, Math.ceil(size / 1000)), max: Math.max(1, size) }), { nil: undefined }),
          fc.boolean(),
          fc.boolean(),
          chopArb,
          (role, seed, fragmentSize, text, textAsBytes, chop) => {
            const writer = writerFor(role, seed, fragmentSize)
            const str = text ? textOf(size, seed) : ""
            const bytes = text ? Buffer.from(str) : bytesOf(size, seed)
            expect(bytes.length).toBe(size)
            const payload = text && !textAsBytes ? str : bytes
            const stream = Buffer.concat([
              encode(writer, text ? Kind.Text : Kind.Binary, payload),
              encodeClose(writer, 1000, "done")
            ])
            const expected = [
              text ? { _tag: "Text", text: str } : { _tag: "Binary", payload: new Uint8Array(bytes) },
              { _tag: "Close", code: 1000, reason: "done" }
            ]
            expect(readChopped(peerOf(role), stream, cutsAt(chop, stream.length))).toEqual(expected)
          }
        ),
        { numRuns: runsFor(size) }
      )
    })
  }

  for (const size of CONTROL_SIZES) {
    it(`ping and pong payloads of ${size} bytes come back, both roles, any chopping`, () => {
      fc.assert(
        fc.property(
          fc.constantFrom<Role>("client", "server"),
          fc.integer({ min: 1, max: 0x7fffffff }),
          fc.constantFrom(Kind.Ping, Kind.Pong),
          chopArb,
          (role, seed, kind, chop) => {
            const writer = writerFor(role, seed, undefined)
            const payload = bytesOf(size, seed)
            const stream = encode(writer, kind, payload)
            const tag = kind === Kind.Ping ? "Ping" : "Pong"
            expect(readChopped(peerOf(role), stream, cutsAt(chop, stream.length))).toEqual([
              { _tag: tag, payload: new Uint8Array(payload) }
            ])
          }
        ),
        { numRuns: 40 }
      )
    })
  }

  it("close frames with no payload, a code alone and a code with a reason up to 125 payload bytes come back", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<Role>("client", "server"),
        fc.integer({ min: 1, max: 0x7fffffff }),
        fc.constantFrom(1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999),
        fc.string({ unit: "grapheme", maxLength: 40 }).filter((s) => Buffer.byteLength(s) <= 123),
        fc.constantFrom("none", "code", "reason"),
        chopArb,
        (role, seed, code, reason, shape, chop) => {
          const writer = writerFor(role, seed, undefined)
          const stream = shape === "none"
            ? encodeClose(writer)
            : encodeClose(writer, code, shape === "reason" ? reason : undefined)
          const expected = shape === "none"
            ? { _tag: "Close", code: 1005, reason: "" }
            : { _tag: "Close", code, reason: shape === "reason" ? reason : "" }
          expect(readChopped(peerOf(role), stream, cutsAt(chop, stream.length))).toEqual([expected])
        }
      ),
      { numRuns: 100 }
    )
    // the largest close payload: a code and a 123-byte reason
    const reason = "é".repeat(61) + "x"
    for (const role of ["client", "server"] as const) {
      expect(readChopped(peerOf(role), encodeClose(writerFor(role, 7, undefined), 4000, reason), [])).toEqual([
        { _tag: "Close", code: 4000, reason }
      ])
    }
  })
})
