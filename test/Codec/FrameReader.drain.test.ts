import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as FrameReader from "../../src/Codec/FrameReader.ts"
import { hex } from "../support/bytes.ts"

type Item = FrameReader.OwnedMessage | FrameReader.FrameViolation | "NeedMore"

/** Records a `next()` result: `"more"` for a message, else whether the stream failed. */
const record = (r: FrameReader.ReadResult, out: Array<Item>): "more" | boolean => {
  if (r._tag === "NeedMore") return false
  out.push("closeCode" in r ? r : FrameReader.toOwned(r))
  return "closeCode" in r || "more"
}

/** `next()` until NeedMore or a violation, owned copies; true after a violation. */
const viaNext = (reader: FrameReader.FrameReader, out: Array<Item>): boolean => {
  while (true) {
    const done = record(reader.next(), out)
    if (done !== "more") return done
  }
}

/** `drain` (up to `max` at a time) then one `next()`, in turn, as the push loop does. */
const viaDrain = (reader: FrameReader.FrameReader, out: Array<Item>, max: number): boolean => {
  while (true) {
    const n = reader.drain((m) => void out.push(FrameReader.toOwned(m)), max)
    expect(n).toBeLessThanOrEqual(max)
    if (n === max) continue
    const done = record(reader.next(), out)
    if (done !== "more") return done
  }
}

/** Feeds `bytes` in `piece`-byte reads, draining after each with `read`. */
const readAll = (
  reader: FrameReader.FrameReader,
  bytes: Uint8Array,
  piece: number,
  read: (reader: FrameReader.FrameReader, out: Array<Item>) => boolean
): Array<Item> => {
  const out: Array<Item> = []
  for (let from = 0; from < bytes.length;) {
    from += reader.feed(bytes.subarray(from, from + piece))
    if (read(reader, out)) return out
  }
  read(reader, out)
  out.push("NeedMore")
  return out
}

const client = (options: Partial<FrameReader.Options> = {}) => FrameReader.make({ role: "client", ...options })
const server = (options: Partial<FrameReader.Options> = {}) => FrameReader.make({ role: "server", ...options })

/** What `drain` hands over (owned) and returns, in one call. */
const drainOnce = (reader: FrameReader.FrameReader, max = 100, stopAfter = -1) => {
  const got: Array<FrameReader.OwnedMessage> = []
  const count = reader.drain((m) => {
    got.push(FrameReader.toOwned(m))
    return got.length === stopAfter
  }, max)
  return { count, got }
}

const binary = (bytes: string) => ({ _tag: "Binary", payload: new Uint8Array(hex(bytes)) })

describe("FrameReader.drain", () => {
  it("hands over buffered text and binary frames and stops before a ping, which next() then returns", () => {
    const reader = client()
    reader.feed(hex("82 02 0102 81 02 6869 89 01 aa 82 01 ff"))
    expect(drainOnce(reader)).toEqual({ count: 2, got: [binary("0102"), { _tag: "Text", text: "hi" }] })
    expect(FrameReader.toOwned(reader.next() as FrameReader.Message)).toEqual({ _tag: "Ping", payload: new Uint8Array([0xaa]) })
    expect(drainOnce(reader)).toEqual({ count: 1, got: [binary("ff")] })
    expect(reader.next()._tag).toBe("NeedMore")
  })

  it("stops after max messages, and after a message for which the handler returned true", () => {
    const reader = client()
    reader.feed(hex("82 01 01 82 01 02 82 01 03 82 01 04"))
    expect(drainOnce(reader, 2)).toEqual({ count: 2, got: [binary("01"), binary("02")] })
    expect(drainOnce(reader, 100, 1)).toEqual({ count: 1, got: [binary("03")] })
    expect(drainOnce(reader)).toEqual({ count: 1, got: [binary("04")] })
    expect(drainOnce(reader)).toEqual({ count: 0, got: [] })
  })

  it("unmasks a server's frames, 16-bit lengths included", () => {
    const payload = Buffer.alloc(300, 0x61)
    const key = [0x37, 0xfa, 0x21, 0x3d]
    const masked = Buffer.from(payload.map((b, i) => b ^ key[i & 3]!))
    const reader = server()
    reader.feed(Buffer.concat([hex("81 85 37fa213d 7f9f4d5158 82 fe 012c 37fa213d"), masked]))
    expect(drainOnce(reader)).toEqual({
      count: 2,
      got: [{ _tag: "Text", text: "Hello" }, { _tag: "Binary", payload: new Uint8Array(payload) }]
    })
  })

  it("leaves a partial frame and every frame off its path to next(), consuming nothing of it", () => {
    const cases: ReadonlyArray<readonly [FrameReader.FrameReader, string, string]> = [
      [client(), "82 03 0102", "NeedMore"],
      [client(), `82 7e 0010 ${"00".repeat(16)}`, "NonMinimalLength"],
      [client(), "82 81 00000000 01", "MaskedFrame"],
      [server(), "82 01 01", "UnmaskedFrame"],
      [client(), "c2 01 01", "ReservedBitsSet"],
      [client({ maxFrameSize: 4 }), "82 05 0102030405", "FrameTooBig"],
      [client({ maxMessageSize: 200 }), `82 7e 00c9 ${"00".repeat(201)}`, "MessageTooBig"],
      [client(), "02 01 01 80 01 02", "Binary"],
      [client(), "8a 00", "Pong"]
    ]
    for (const [reader, frames, tag] of cases) {
      reader.feed(hex(frames))
      expect(drainOnce(reader)).toEqual({ count: 0, got: [] })
      expect(reader.next()._tag).toBe(tag)
    }
  })

  it("latches invalid UTF-8 as next() does (1007), after the messages before it", () => {
    const reader = client()
    reader.feed(hex("82 01 01 81 02 c328"))
    expect(drainOnce(reader)).toEqual({ count: 1, got: [binary("01")] })
    const violation = {
      _tag: "InvalidUtf8",
      closeCode: 1007,
      message: "text message is not valid UTF-8",
      fragment: 1
    }
    expect(reader.next()).toEqual(violation)
    expect(drainOnce(reader)).toEqual({ count: 0, got: [] })
    expect(reader.next()).toEqual(violation)
  })

  it("gives exactly what next() gives, on any bytes cut into any reads", () => {
    const header = fc.oneof(
      fc.tuple(fc.constantFrom(0x81, 0x82, 0x89, 0x8a, 0x02, 0x00, 0x80, 0xc2), fc.integer({ min: 0, max: 255 })),
      fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }))
    ).map(([b0, b1]) => Buffer.from([b0, b1]))
    // a 16-bit length, minimal or not, its payload whole or cut short by the next part
    const header16 = fc.tuple(fc.constantFrom(0x81, 0x82), fc.constantFrom(0x7e, 0xfe), fc.integer({ min: 0, max: 320 }))
      .map(([b0, b1, length]) => Buffer.from([b0, b1, length >> 8, length & 0xff]))
    const frameish = fc.array(
      fc.tuple(fc.oneof(header, header16), fc.uint8Array({ maxLength: 320 })).map(([h, rest]) => Buffer.concat([h, rest])),
      { maxLength: 12 }
    ).map((parts) => Buffer.concat(parts))
    fc.assert(
      fc.property(
        frameish,
        fc.constantFrom<FrameReader.Role>("client", "server"),
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 4 }),
        (bytes, role, piece, max) => {
          const make = () => FrameReader.make({ role, bufferCapacity: 64, maxFrameSize: 200, maxMessageSize: 300, maxFragments: 4 })
          const expected = readAll(make(), Buffer.from(bytes), piece, viaNext)
          expect(readAll(make(), Buffer.from(bytes), piece, (r, out) => viaDrain(r, out, max))).toEqual(expected)
        }
      ),
      { numRuns: 3000 }
    )
  })
})
