import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as FrameReader from "../../src/Codec/FrameReader.ts"

type Item = FrameReader.OwnedMessage | FrameReader.FrameViolation

/** A frame encoder independent of the code under test: minimal lengths, optional mask key. */
const encodeFrame = (opcode: number, fin: boolean, payload: Uint8Array, key: Uint8Array | undefined): Buffer => {
  const len = payload.length
  const lengthBytes = len < 126 ? [len] : len < 65536 ? [126, len >> 8, len & 0xff] : [
    127, 0, 0, 0, 0, (len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff
  ]
  if (key !== undefined) lengthBytes[0] = lengthBytes[0]! | 0x80
  const body = Buffer.from(payload)
  if (key !== undefined) for (let i = 0; i < body.length; i++) body[i] = body[i]! ^ key[i & 3]!
  return Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | opcode, ...lengthBytes]), key ?? Buffer.alloc(0), body])
}

/** Drains the reader into `out`; true once it returned a violation. */
const drain = (reader: FrameReader.FrameReader, out: Array<Item>): boolean => {
  while (true) {
    const r = reader.next()
    if (r._tag === "NeedMore") return false
    if ("closeCode" in r) {
      out.push(r)
      return true
    }
    out.push(FrameReader.toOwned(r))
  }
}

/** Feeds `stream` cut at `cuts` through feed(), draining after every piece. */
const viaFeed = (reader: FrameReader.FrameReader, stream: Buffer, cuts: ReadonlyArray<number>): Array<Item> => {
  const out: Array<Item> = []
  let from = 0
  for (const to of [...cuts, stream.length]) {
    while (from < to) {
      from += reader.feed(stream.subarray(from, to))
      if (drain(reader, out)) return out
    }
  }
  drain(reader, out)
  return out
}

/** Feeds `stream` cut at `cuts` by copying into spare() and calling filled(n). */
const viaSpare = (reader: FrameReader.FrameReader, stream: Buffer, cuts: ReadonlyArray<number>): Array<Item> => {
  const out: Array<Item> = []
  let from = 0
  for (const to of [...cuts, stream.length]) {
    while (from < to) {
      const spare = reader.spare()
      const n = Math.min(spare.length, to - from)
      stream.copy(spare, 0, from, from + n)
      reader.filled(n)
      from += n
      if (drain(reader, out)) return out
    }
  }
  drain(reader, out)
  return out
}

const cutsOf = (length: number) =>
  fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, length - 1) }), { maxLength: 20 })
    .map((cuts) => cuts.filter((c) => c < length).sort((a, b) => a - b))

/** A data message, how its payload is cut into fragments, and the pings put between them. */
const messageArb = fc.record({
  text: fc.boolean(),
  str: fc.string({ unit: "binary", maxLength: 80 }),
  bytes: fc.uint8Array({ maxLength: 300 }),
  cuts: fc.uniqueArray(fc.nat({ max: 400 }), { maxLength: 4 }),
  pings: fc.array(fc.uint8Array({ maxLength: 125 }), { maxLength: 3 })
})

const streamArb = fc.record({
  role: fc.constantFrom<FrameReader.Role>("client", "server"),
  key: fc.uint8Array({ minLength: 4, maxLength: 4 }),
  messages: fc.array(messageArb, { maxLength: 8 }),
  close: fc.boolean()
}).map(({ close, key, messages, role }) => {
  const mask = role === "server" ? key : undefined
  const frames: Array<Buffer> = []
  const expected: Array<Item> = []
  for (const m of messages) {
    const payload = m.text ? Buffer.from(m.str) : Buffer.from(m.bytes)
    const cuts = m.cuts.filter((c) => c < payload.length).sort((a, b) => a - b)
    const bounds = [0, ...cuts, payload.length]
    for (let i = 0; i + 1 < bounds.length; i++) {
      const fin = i + 2 === bounds.length
      frames.push(encodeFrame(i === 0 ? (m.text ? 1 : 2) : 0, fin, payload.subarray(bounds[i], bounds[i + 1]), mask))
      const ping = m.pings[i]
      if (!fin && ping !== undefined) {
        frames.push(encodeFrame(9, true, ping, mask))
        expected.push({ _tag: "Ping", payload: new Uint8Array(ping) })
      }
    }
    expected.push(m.text ? { _tag: "Text", text: payload.toString() } : { _tag: "Binary", payload: new Uint8Array(payload) })
  }
  if (close) {
    frames.push(encodeFrame(8, true, Buffer.from([0x03, 0xe8, 0x6f, 0x6b]), mask))
    expected.push({ _tag: "Close", code: 1000, reason: "ok" })
  }
  return { role, stream: Buffer.concat(frames), expected }
})

describe("FrameReader properties", () => {
  it("yields the same messages for any chopping, through feed() and through spare()/filled()", () => {
    fc.assert(
      fc.property(
        streamArb.chain((s) => fc.record({ s: fc.constant(s), cuts: cutsOf(s.stream.length), capacity: fc.integer({ min: 14, max: 600 }) })),
        ({ capacity, cuts, s }) => {
          const whole = viaFeed(FrameReader.make({ role: s.role }), s.stream, [])
          expect(whole).toEqual(s.expected)
          expect(viaFeed(FrameReader.make({ role: s.role, bufferCapacity: capacity }), s.stream, cuts)).toEqual(whole)
          expect(viaSpare(FrameReader.make({ role: s.role, bufferCapacity: capacity }), s.stream, cuts)).toEqual(whole)
        }
      ),
      { numRuns: 300 }
    )
  })

  it("never throws or loops on random bytes: each call gives a message, NeedMore or a violation", () => {
    const frameish = fc.array(
      fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 140 }))
        .map(([b0, b1, rest]) => Buffer.concat([Buffer.from([b0, b1]), rest])),
      { maxLength: 12 }
    ).map((parts) => Buffer.concat(parts))
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b)), frameish),
        fc.constantFrom<FrameReader.Role>("client", "server"),
        fc.integer({ min: 1, max: 64 }),
        (bytes, role, piece) => {
          const reader = FrameReader.make({ role, bufferCapacity: 64, maxFrameSize: 200, maxMessageSize: 300, maxFragments: 4 })
          let calls = 0
          for (let from = 0; from < bytes.length;) {
            from += reader.feed(bytes.subarray(from, from + piece))
            while (true) {
              // every message consumes at least two bytes, so this bounds a non-looping reader
              expect(++calls).toBeLessThanOrEqual(bytes.length + 2 * (from + 1))
              const r = reader.next()
              if (r._tag === "NeedMore") break
              if ("closeCode" in r) {
                expect([1002, 1007, 1009]).toContain(r.closeCode)
                expect(r.message.length).toBeGreaterThan(0)
                expect(reader.next()).toBe(r)
                break
              }
              expect(["Text", "Binary", "Ping", "Pong", "Close"]).toContain(r._tag)
            }
          }
        }
      ),
      { numRuns: 2000 }
    )
  })

  it("fails text at the first fragment where the bytes can no longer be UTF-8, like a streaming fatal decoder", () => {
    const candidates = fc.array(
      fc.oneof(
        fc.string({ unit: "binary", maxLength: 6 }).map((s) => Buffer.from(s)),
        fc.constantFrom("f5", "eda0", "e080", "f490", "c0", "80", "c3", "f09f", "e2", "ff").map((h) => Buffer.from(h, "hex"))
      ),
      { minLength: 1, maxLength: 10 }
    ).map((parts) => Buffer.concat(parts))
    fc.assert(
      fc.property(candidates.chain((bytes) => fc.record({ bytes: fc.constant(bytes), cuts: cutsOf(bytes.length) })), ({ bytes, cuts }) => {
        const bounds = [0, ...cuts, bytes.length]
        const frames: Array<Buffer> = []
        // oracle: the WHATWG decoder in fatal streaming mode throws at the first impossible byte
        const decoder = new TextDecoder("utf-8", { fatal: true })
        let expectedFragment = 0
        for (let i = 0; i + 1 < bounds.length; i++) {
          const fin = i + 2 === bounds.length
          const piece = bytes.subarray(bounds[i], bounds[i + 1])
          frames.push(encodeFrame(i === 0 ? 1 : 0, fin, piece, undefined))
          if (expectedFragment === 0) {
            try {
              decoder.decode(piece, { stream: !fin })
            } catch {
              expectedFragment = i + 1
            }
          }
        }
        const got = viaFeed(FrameReader.make({ role: "client" }), Buffer.concat(frames), [])
        if (expectedFragment === 0) {
          expect(got).toEqual([{ _tag: "Text", text: bytes.toString() }])
        } else {
          expect(got).toMatchObject([{ _tag: "InvalidUtf8", closeCode: 1007, fragment: expectedFragment }])
        }
      }),
      { numRuns: 1500 }
    )
  })
})
