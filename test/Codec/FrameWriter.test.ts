import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as FrameWriter from "../../src/Codec/FrameWriter.ts"
import * as MaskSource from "../../src/Codec/MaskSource.ts"
import * as WriteBuf from "../../src/Codec/WriteBuf.ts"
import { toHex as hex } from "../support/bytes.ts"
import { patternedBytes as patterned, SIZES } from "../support/frames.ts"

const { Kind } = FrameWriter

const KEY = [0x37, 0xfa, 0x21, 0x3d] // the key of RFC 6455 §5.7's masked example

const client = (options: { readonly fragmentSize?: number } = {}) =>
  FrameWriter.make({ role: "client", maskSource: MaskSource.fixed(KEY), ...options })
const server = (options: { readonly fragmentSize?: number } = {}) => FrameWriter.make({ role: "server", ...options })

/** Encodes into a fresh WriteBuf and returns the frame bytes (or the error). */
const viaBuf = (
  writer: FrameWriter.FrameWriter,
  kind: FrameWriter.Kind,
  payload: string | Uint8Array,
  capacity = 4096
): string | FrameWriter.EncodeError => {
  const buf = WriteBuf.make({ capacity })
  const r = writer.encode(buf, kind, payload)
  if (typeof r !== "number") return r
  expect(r).toBe(buf.length)
  return hex(buf.data())
}

/** Encodes into a caller buffer at offset 3 and returns the frame bytes (or the error). */
const viaDst = (
  writer: FrameWriter.FrameWriter,
  kind: FrameWriter.Kind,
  payload: string | Uint8Array,
  size = 4096
): string | FrameWriter.EncodeError => {
  const dst = Buffer.alloc(size)
  const r = writer.encodeInto(dst, 3, kind, payload)
  if (typeof r !== "number") return r
  return hex(dst.subarray(3, 3 + r))
}

/** Both targets must agree byte for byte; returns the shared result. */
const both = (make: () => FrameWriter.FrameWriter, kind: FrameWriter.Kind, payload: string | Uint8Array) => {
  const a = viaBuf(make(), kind, payload, 2 * 1024 * 1024)
  const b = viaDst(make(), kind, payload, 2 * 1024 * 1024 + 20)
  expect(a).toEqual(b)
  return a
}

/** An independent reference: header hex for `n` bytes, then the payload XORed with `key`. */
const reference = (b0: number, payload: Uint8Array, key?: ReadonlyArray<number>): string => {
  const n = payload.length
  const m = key === undefined ? 0 : 0x80
  const head = n < 126
    ? [b0, m | n]
    : n < 65536
    ? [b0, m | 126, n >> 8, n & 0xff]
    : [b0, m | 127, 0, 0, 0, 0, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]
  const body = Buffer.from(payload)
  if (key !== undefined) for (let i = 0; i < n; i++) body[i]! ^= key[i & 3]!
  return Buffer.concat([Buffer.from(head), Buffer.from(key ?? []), body]).toString("hex")
}

describe("FrameWriter encodes RFC 6455 §5.7's examples", () => {
  it("writes an unmasked 'Hello' text frame as 81 05 48 65 6c 6c 6f", () => {
    expect(both(server, Kind.Text, "Hello")).toBe("810548656c6c6f")
  })

  it("writes a masked 'Hello' text frame with key 37 fa 21 3d", () => {
    expect(both(client, Kind.Text, "Hello")).toBe("818537fa213d7f9f4d5158")
  })

  it("writes an unmasked ping and a masked pong carrying 'Hello'", () => {
    expect(both(server, Kind.Ping, "Hello")).toBe("890548656c6c6f")
    expect(both(client, Kind.Pong, "Hello")).toBe("8a8537fa213d7f9f4d5158")
  })

  it("writes a 256-byte and a 64 KiB unmasked binary frame with 16- and 64-bit lengths", () => {
    expect((both(server, Kind.Binary, new Uint8Array(256)) as string).slice(0, 8)).toBe("827e0100")
    expect((both(server, Kind.Binary, new Uint8Array(65536)) as string).slice(0, 20)).toBe("827f0000000000010000")
  })
})

describe("FrameWriter writes every frame kind in both roles", () => {
  it("writes text from a string and from UTF-8 bytes identically", () => {
    expect(both(server, Kind.Text, "héllo")).toBe("810668c3a96c6c6f")
    expect(both(server, Kind.Text, Buffer.from("héllo"))).toBe("810668c3a96c6c6f")
    expect(both(client, Kind.Text, "héllo")).toBe("818637fa213d5f3988515b95")
    expect(both(client, Kind.Text, Buffer.from("héllo"))).toBe("818637fa213d5f3988515b95")
  })

  it("writes binary, ping and pong from bytes or strings", () => {
    expect(both(server, Kind.Binary, Uint8Array.of(0, 1, 0xfe, 0xff))).toBe("82040001feff")
    expect(both(client, Kind.Binary, Uint8Array.of(0, 1, 0xfe, 0xff))).toBe("828437fa213d37fbdfc2")
    expect(both(server, Kind.Binary, "ab")).toBe("82026162")
    expect(both(server, Kind.Ping, Uint8Array.of(1, 2))).toBe("89020102")
    expect(both(client, Kind.Pong, "")).toBe("8a8037fa213d")
  })

  it("writes empty text, binary, ping and pong frames", () => {
    expect(both(server, Kind.Text, "")).toBe("8100")
    expect(both(server, Kind.Binary, new Uint8Array(0))).toBe("8200")
    expect(both(server, Kind.Ping, new Uint8Array(0))).toBe("8900")
    expect(both(client, Kind.Text, "")).toBe("818037fa213d")
  })

  it("defaults the payload to empty", () => {
    const buf = WriteBuf.make()
    expect(server().encode(buf, Kind.Ping)).toBe(2)
    expect(hex(buf.data())).toBe("8900")
    const dst = Buffer.alloc(8)
    expect(client().encodeInto(dst, 0, Kind.Pong)).toBe(6)
    expect(hex(dst.subarray(0, 6))).toBe("8a8037fa213d")
  })

  it("writes close frames with a code and reason, a code alone, or nothing", () => {
    const cases: Array<[FrameWriter.FrameWriter, number | undefined, string, string]> = [
      [server(), 1000, "bye", "880503e8627965"],
      [client(), 1000, "bye", "888537fa213d3412434452"],
      [server(), 1001, "", "880203e9"],
      [server(), 4000, "", "88020fa0"],
      [server(), undefined, "", "8800"],
      [client(), undefined, "", "888037fa213d"]
    ]
    for (const [writer, code, reason, expected] of cases) {
      const buf = WriteBuf.make()
      expect(writer.encodeClose(buf, code, reason)).toBe(expected.length / 2)
      expect(hex(buf.data())).toBe(expected)
      const dst = Buffer.alloc(64)
      expect(writer.encodeCloseInto(dst, 5, code, reason)).toBe(expected.length / 2)
      expect(hex(dst.subarray(5, 5 + expected.length / 2))).toBe(expected)
    }
  })

  it("writes a 123-byte close reason (the largest that fits) with a multi-byte character", () => {
    const reason = "é" + "r".repeat(121) // 123 bytes
    expect(Buffer.byteLength(reason)).toBe(123)
    const expected = reference(0x88, Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.from(reason)]), KEY)
    const buf = WriteBuf.make()
    expect(client().encodeClose(buf, 1000, reason)).toBe(131)
    expect(hex(buf.data())).toBe(expected)
  })

  it("never modifies the caller's bytes when masking", () => {
    const data = patterned(300)
    const copy = Uint8Array.from(data)
    both(client, Kind.Binary, data)
    both(() => client({ fragmentSize: 100 }), Kind.Binary, data)
    expect(data).toEqual(copy)
  })

  it("writes the same bytes into a plain Uint8Array, an unaligned view and alternating targets", () => {
    const text = "x".repeat(40) + "é" // masked in place: word-wise when aligned, bytewise otherwise
    const expected = reference(0x81, Buffer.from(text), KEY)
    const writer = client()
    const plain = new Uint8Array(64)
    const unaligned = new Uint8Array(65).subarray(1)
    const buffer = Buffer.alloc(64)
    for (const dst of [plain, unaligned, buffer, plain, unaligned, buffer]) {
      dst.fill(0)
      const n = writer.encodeInto(dst, 0, Kind.Text, text) as number
      expect(hex(dst.subarray(0, n))).toBe(expected)
    }
  })

  it("draws a fresh key for every frame from its mask source", () => {
    const writer = FrameWriter.make({ role: "client", maskSource: MaskSource.seeded(1) })
    const buf = WriteBuf.make()
    writer.encode(buf, Kind.Text, "")
    expect(hex(buf.data())).toBe("818000042021") // xorshift32(1) = 0x00042021
    writer.encode(buf, Kind.Text, "")
    expect(hex(buf.data())).not.toBe("818000042021")
  })
})

describe("FrameWriter uses the minimal length encoding", () => {
  for (const size of SIZES) {
    it(`writes a ${size}-byte payload with the ${size < 126 ? "7" : size < 65536 ? "16" : "64"}-bit length, both roles and targets`, () => {
      const data = patterned(size)
      expect(both(server, Kind.Binary, data)).toBe(reference(0x82, data))
      expect(both(client, Kind.Binary, data)).toBe(reference(0x82, data, KEY))
      const text = "x".repeat(size)
      expect(both(server, Kind.Text, text)).toBe(reference(0x81, Buffer.from(text)))
      expect(both(client, Kind.Text, text)).toBe(reference(0x81, Buffer.from(text), KEY))
    })
  }

  it("moves a string payload when its UTF-8 length needs a longer header than its UTF-16 length", () => {
    // 42 × "€" is 42 UTF-16 units but 126 bytes; 21846 × "€" is 65538 bytes
    for (const text of ["€".repeat(42), "€".repeat(21846), "a😀".repeat(30)]) {
      const bytes = Buffer.from(text)
      expect(both(server, Kind.Text, text)).toBe(reference(0x81, bytes))
      expect(both(client, Kind.Text, text)).toBe(reference(0x81, bytes, KEY))
    }
  })

  it("writes the header bytes of 126, 127 and 65535 exactly", () => {
    expect((both(server, Kind.Binary, new Uint8Array(126)) as string).slice(0, 8)).toBe("827e007e")
    expect((both(server, Kind.Binary, new Uint8Array(127)) as string).slice(0, 8)).toBe("827e007f")
    expect((both(server, Kind.Binary, new Uint8Array(65535)) as string).slice(0, 8)).toBe("827effff")
    expect((both(server, Kind.Binary, new Uint8Array(125)) as string).slice(0, 4)).toBe("827d")
    expect((both(client, Kind.Binary, new Uint8Array(1024 * 1024)) as string).slice(0, 28)).toBe(
      "82ff0000000000100000" + "37fa213d"
    )
  })
})

describe("FrameWriter returns typed errors", () => {
  it("refuses a ping or pong payload over 125 bytes", () => {
    const expected = {
      _tag: "ControlPayloadTooLarge",
      size: 126,
      limit: 125,
      message: "the payload makes a control payload of 126 bytes, over the limit of 125"
    }
    expect(viaBuf(server(), Kind.Ping, new Uint8Array(126))).toEqual(expected)
    expect(viaDst(client(), Kind.Pong, new Uint8Array(126))).toEqual(expected)
    expect(viaBuf(client(), Kind.Ping, "é".repeat(63))).toEqual(expected)
    expect(viaDst(server(), Kind.Pong, "é".repeat(63))).toEqual(expected)
    expect(both(server, Kind.Ping, new Uint8Array(125))).toBe(reference(0x89, new Uint8Array(125)))
  })

  it("refuses a close reason that makes the payload longer than 125 bytes", () => {
    const expected = {
      _tag: "ControlPayloadTooLarge",
      size: 126,
      limit: 125,
      message: "the close code and a 124-byte reason makes a control payload of 126 bytes, over the limit of 125"
    }
    expect(server().encodeClose(WriteBuf.make(), 1000, "r".repeat(124))).toEqual(expected)
    expect(client().encodeCloseInto(Buffer.alloc(200), 0, 1000, "é".repeat(62))).toEqual(expected)
  })

  it("refuses close codes that may not appear on the wire", () => {
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 1000.5, -1000]) {
      const expected = { _tag: "InvalidCloseCode", code, message: `close code ${code} may not be sent on the wire` }
      expect(server().encodeClose(WriteBuf.make(), code)).toEqual(expected)
      expect(client().encodeCloseInto(Buffer.alloc(20), 0, code, "x")).toEqual(expected)
    }
    for (const code of [1000, 1003, 1007, 1014, 3000, 4999]) {
      expect(server().encodeClose(WriteBuf.make(), code)).toBe(4)
    }
  })

  it("reports a caller buffer that is too small with the exact need", () => {
    const dst = Buffer.alloc(20)
    expect(server().encodeInto(dst, 10, Kind.Binary, new Uint8Array(9))).toEqual({
      _tag: "BufferTooSmall",
      needed: 11,
      available: 10,
      message: "the frame needs 11 bytes but only 10 are available"
    })
    expect(server().encodeInto(dst, 10, Kind.Binary, new Uint8Array(8))).toBe(10)
    expect(client().encodeInto(dst, 10, Kind.Text, "abcde")).toEqual({
      _tag: "BufferTooSmall",
      needed: 11,
      available: 10,
      message: "the frame needs 11 bytes but only 10 are available"
    })
    expect(client().encodeInto(dst, 10, Kind.Text, "abcd")).toBe(10)
    // a string whose last code point does not fit, and one whose header grows past the end
    expect(server().encodeInto(dst, 0, Kind.Text, "a".repeat(17) + "€")).toMatchObject({
      _tag: "BufferTooSmall",
      needed: 22,
      available: 20
    })
    expect(server().encodeInto(Buffer.alloc(128), 0, Kind.Text, "€".repeat(42))).toMatchObject({
      _tag: "BufferTooSmall",
      needed: 130,
      available: 128
    })
    expect(server().encodeInto(Buffer.alloc(1), 1, Kind.Text, "")).toMatchObject({ needed: 2, available: 0 })
    expect(server().encodeCloseInto(Buffer.alloc(4), 1, 1000)).toMatchObject({ needed: 4, available: 3 })
    expect(server({ fragmentSize: 2 }).encodeInto(Buffer.alloc(8), 0, Kind.Text, "abcde")).toMatchObject({
      needed: 11,
      available: 8
    })
  })

  it("reports a WriteBuf that is too small and leaves it empty", () => {
    const buf = WriteBuf.make({ capacity: 8 })
    const writer = client()
    expect(writer.encode(buf, Kind.Binary, new Uint8Array(9))).toEqual({
      _tag: "BufferTooSmall",
      needed: 9,
      available: 8,
      message: "the frame needs 9 bytes but only 8 are available"
    })
    expect(buf.length).toBe(0)
    expect(writer.encode(buf, Kind.Text, "€€€")).toMatchObject({ _tag: "BufferTooSmall", needed: 9, available: 8 })
    expect(buf.length).toBe(0)
    expect(writer.encode(buf, Kind.Text, "a".repeat(20))).toMatchObject({ needed: 20, available: 8 })
    expect(FrameWriter.make({ role: "server", fragmentSize: 4 }).encode(buf, Kind.Binary, new Uint8Array(9)))
      .toMatchObject({ needed: 13, available: 8 })
    expect(writer.encode(buf, Kind.Text, "12345678")).toBe(14)
    expect(buf.length).toBe(14)
  })

  it("throws only on caller misuse", () => {
    expect(() => FrameWriter.make({ role: "client" } as unknown as FrameWriter.Options)).toThrow(TypeError)
    expect(() => FrameWriter.make({ role: "server", fragmentSize: 0 })).toThrow(RangeError)
    expect(() => FrameWriter.make({ role: "server", fragmentSize: 1.5 })).toThrow(RangeError)
    expect(() => FrameWriter.make({ role: "peer" } as unknown as FrameWriter.Options)).toThrow(RangeError)
    const writer = client()
    expect(() => writer.encodeInto(Buffer.alloc(8), 0, 8 as FrameWriter.Kind, "")).toThrow(RangeError)
    expect(() => writer.encode(WriteBuf.make(), 0 as FrameWriter.Kind, "")).toThrow(RangeError)
    expect(() => writer.encodeInto(Buffer.alloc(8), -1, Kind.Text, "")).toThrow(RangeError)
    expect(() => writer.encodeInto(Buffer.alloc(8), 9, Kind.Text, "")).toThrow(RangeError)
    expect(() => writer.encodeCloseInto(Buffer.alloc(8), 0.5, 1000)).toThrow(RangeError)
    expect(() => writer.encode(WriteBuf.make({ headroom: 10 }), Kind.Text, "")).toThrow(RangeError)
    expect(server().encode(WriteBuf.make({ headroom: 10 }), Kind.Text, "")).toBe(2)
    expect(() => server().encode(WriteBuf.make({ headroom: 9 }), Kind.Text, "")).toThrow(RangeError)
    expect(() => writer.encodeClose(WriteBuf.make(), undefined, "why")).toThrow(RangeError)
  })
})

describe("FrameWriter fragments long messages when asked", () => {
  it("splits text into a first frame and continuations, FIN on the last only", () => {
    expect(both(() => server({ fragmentSize: 4 }), Kind.Text, "abcdefghij")).toBe(
      "010461626364" + "000465666768" + "8002696a"
    )
    expect(both(() => server({ fragmentSize: 4 }), Kind.Binary, Buffer.from("abcdefgh"))).toBe(
      "020461626364" + "800465666768"
    )
  })

  it("masks each fragment with its own key in the client role", () => {
    const make = () => FrameWriter.make({ role: "client", maskSource: MaskSource.seeded(7), fragmentSize: 3 })
    const keys = new Uint8Array(12)
    const source = MaskSource.seeded(7)
    for (let i = 0; i < 3; i++) source.next(keys, i * 4)
    const k = (i: number) => Array.from(keys.subarray(i * 4, i * 4 + 4))
    const data = Buffer.from("abcdefgh")
    const expected = reference(0x01, data.subarray(0, 3), k(0)) + reference(0x00, data.subarray(3, 6), k(1)) +
      reference(0x80, data.subarray(6), k(2))
    expect(both(make, Kind.Text, "abcdefgh")).toBe(expected)
    expect(both(make, Kind.Text, data)).toBe(expected)
    expect(new Set([0, 1, 2].map((i) => hex(Uint8Array.from(k(i))))).size).toBe(3)
  })

  it("splits a multi-byte character across fragments at byte boundaries", () => {
    const text = "a€b" // 61 e2 82 ac 62
    expect(both(() => server({ fragmentSize: 2 }), Kind.Text, text)).toBe("010261e2" + "000282ac" + "800162")
  })

  it("keeps a message no longer than fragmentSize in one frame and never fragments control frames", () => {
    expect(both(() => server({ fragmentSize: 4 }), Kind.Text, "abcd")).toBe("810461626364")
    expect(both(() => server({ fragmentSize: 4 }), Kind.Ping, "abcdef")).toBe("8906616263646566")
    const buf = WriteBuf.make()
    expect(server({ fragmentSize: 1 }).encodeClose(buf, 1000, "ok")).toBe(6)
    expect(hex(buf.data())).toBe("880403e86f6b")
  })

  it("lays out fragments whose headers differ in size (full 16-bit chunks, short last chunk)", () => {
    for (const [size, fragmentSize] of [[300, 126], [1024 * 1024 + 100, 65536], [200000, 70000]] as const) {
      const data = patterned(size)
      const chunks: Array<[number, number]> = []
      for (let a = 0; a < size; a += fragmentSize) chunks.push([a, Math.min(size, a + fragmentSize)])
      const b0 = (i: number) => (i === chunks.length - 1 ? 0x80 : 0) | (i === 0 ? 0x02 : 0)
      const unmasked = chunks.map(([a, b], i) => reference(b0(i), data.subarray(a, b))).join("")
      const masked = chunks.map(([a, b], i) => reference(b0(i), data.subarray(a, b), KEY)).join("")
      expect(both(() => server({ fragmentSize }), Kind.Binary, data)).toBe(unmasked)
      expect(both(() => client({ fragmentSize }), Kind.Binary, data)).toBe(masked)
      // the same bytes as text (ASCII), encoded from a string in place
      const text = Buffer.from(data.map((b) => 0x20 + (b % 90))).toString("latin1")
      const t = Buffer.from(text)
      const b0t = (i: number) => (i === chunks.length - 1 ? 0x80 : 0) | (i === 0 ? 0x01 : 0)
      expect(both(() => server({ fragmentSize }), Kind.Text, text)).toBe(
        chunks.map(([a, b], i) => reference(b0t(i), t.subarray(a, b))).join("")
      )
      expect(both(() => client({ fragmentSize }), Kind.Text, text)).toBe(
        chunks.map(([a, b], i) => reference(b0t(i), t.subarray(a, b), KEY)).join("")
      )
    }
  })
})

describe("MaskSource", () => {
  it("hands out crypto keys from one pool, refilled once per 1024 keys", () => {
    const source = MaskSource.crypto()
    const pool = source.pool
    expect(pool.length).toBe(4096)
    expect(source.refills).toBe(0)
    const keys = new Uint8Array(4 * 1024)
    for (let i = 0; i < 1024; i++) source.next(keys, i * 4)
    expect(source.refills).toBe(1)
    expect(source.pool).toBe(pool)
    expect(keys).toEqual(pool) // every key is 4 bytes copied out of the pool, in order
    const distinct = new Set<string>()
    for (let i = 0; i < 1024; i++) distinct.add(hex(keys.subarray(i * 4, i * 4 + 4)))
    expect(distinct.size).toBeGreaterThan(1000)
    const next = new Uint8Array(4)
    source.next(next, 0)
    expect(source.refills).toBe(2)
    expect(source.pool).toBe(pool)
    expect(next).toEqual(pool.subarray(0, 4))
  })

  it("accepts a custom pool size and refuses one that is not a positive multiple of 4", () => {
    const source = MaskSource.crypto({ poolSize: 8 })
    const keys = new Uint8Array(12)
    for (let i = 0; i < 3; i++) source.next(keys, i * 4)
    expect(source.refills).toBe(2)
    expect(() => MaskSource.crypto({ poolSize: 6 })).toThrow(RangeError)
    expect(() => MaskSource.crypto({ poolSize: 0 })).toThrow(RangeError)
  })

  it("makes the same xorshift32 keys from the same seed", () => {
    const take = (source: MaskSource.MaskSource, n: number) => {
      const out = new Uint8Array(4 * n)
      for (let i = 0; i < n; i++) source.next(out, i * 4)
      return hex(out)
    }
    expect(take(MaskSource.seeded(1), 3)).toBe("00042021" + "04080601" + "9dcca8c5")
    expect(take(MaskSource.seeded(42), 100)).toBe(take(MaskSource.seeded(42), 100))
    expect(take(MaskSource.seeded(42), 4)).not.toBe(take(MaskSource.seeded(43), 4))
    expect(take(MaskSource.seeded(0), 1)).toBe(take(MaskSource.seeded(0x9e3779b9), 1))
    expect(() => MaskSource.seeded(1.5)).toThrow(RangeError)
  })

  it("repeats a fixed key and refuses a key that is not 4 bytes", () => {
    const source = MaskSource.fixed([1, 2, 3, 4])
    const out = new Uint8Array(9)
    source.next(out, 1)
    source.next(out, 5)
    expect(hex(out)).toBe("000102030401020304")
    expect(() => MaskSource.fixed([1, 2, 3])).toThrow(RangeError)
  })
})

/** A minimal independent frame parser: checks FIN/opcode layout and minimal lengths, unmasks. */
const parseMessage = (bytes: Uint8Array, masked: boolean): { opcode: number; payload: Buffer; frames: number } => {
  const parts: Array<Buffer> = []
  let pos = 0
  let opcode = -1
  let frames = 0
  while (pos < bytes.length) {
    const b0 = bytes[pos]!
    const b1 = bytes[pos + 1]!
    expect(b1 >> 7).toBe(masked ? 1 : 0)
    expect(b0 & 0x70).toBe(0)
    if (frames === 0) {
      opcode = b0 & 0x0f
      expect(opcode).not.toBe(0) // the first frame names the kind, the rest are continuations
    } else {
      expect(b0 & 0x0f).toBe(0)
    }
    let n = b1 & 0x7f
    pos += 2
    if (n === 126) {
      n = (bytes[pos]! << 8) | bytes[pos + 1]!
      expect(n).toBeGreaterThanOrEqual(126)
      pos += 2
    } else if (n === 127) {
      n = Number(Buffer.from(bytes.subarray(pos, pos + 8)).readBigUInt64BE(0))
      expect(n).toBeGreaterThanOrEqual(65536)
      pos += 8
    }
    const key = masked ? bytes.subarray(pos, pos + 4) : undefined
    if (masked) pos += 4
    const chunk = Buffer.from(bytes.subarray(pos, pos + n))
    if (key !== undefined) for (let i = 0; i < n; i++) chunk[i]! ^= key[i & 3]!
    parts.push(chunk)
    pos += n
    frames++
    expect(b0 >> 7).toBe(pos === bytes.length ? 1 : 0)
  }
  return { opcode, payload: Buffer.concat(parts), frames }
}

describe("FrameWriter properties", () => {
  it("any message, role and fragment size round-trips, and both targets agree byte for byte", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: "binary", maxLength: 400, size: "max" }), fc.uint8Array({ maxLength: 700, size: "max" })),
        fc.boolean(),
        fc.option(fc.integer({ min: 1, max: 300 }), { nil: undefined }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (payload, masked, fragmentSize, seed) => {
          const make = () =>
            masked
              ? FrameWriter.make({ role: "client", maskSource: MaskSource.seeded(seed), fragmentSize })
              : FrameWriter.make({ role: "server", fragmentSize })
          const kind = typeof payload === "string" ? Kind.Text : Kind.Binary
          // Room for the worst case: 400 four-byte characters in 1-byte masked fragments (6 + 1 each).
          const buf = WriteBuf.make({ capacity: 16384 })
          const a = make().encode(buf, kind, payload) as number
          const dst = Buffer.alloc(16384)
          const b = make().encodeInto(dst, 1, kind, payload) as number
          expect(a).toBe(b)
          expect(hex(buf.data())).toBe(hex(dst.subarray(1, 1 + b)))
          const bytes = typeof payload === "string" ? Buffer.from(payload) : Buffer.from(payload)
          // frameLength is exact: the frames fit a buffer of that size, and not one byte less
          expect(make().frameLength(bytes.length)).toBe(b)
          expect(make().encodeInto(Buffer.alloc(b), 0, kind, payload)).toBe(b)
          expect(make().encodeInto(Buffer.alloc(b - 1), 0, kind, payload)).toMatchObject({ _tag: "BufferTooSmall", needed: b })
          const message = parseMessage(buf.data(), masked)
          expect(message.opcode).toBe(kind)
          expect(message.payload).toEqual(bytes)
          const size = fragmentSize ?? Infinity
          expect(message.frames).toBe(bytes.length > size ? Math.ceil(bytes.length / size) : 1)
        }
      ),
      { numRuns: 300 }
    )
  })

  it("frameLength counts each header form at its length boundaries, masked and not", () => {
    for (const masked of [false, true]) {
      const writer = masked
        ? FrameWriter.make({ role: "client", maskSource: MaskSource.seeded(1) })
        : FrameWriter.make({ role: "server" })
      const key = masked ? 4 : 0
      for (const [n, header] of [[0, 2], [125, 2], [126, 4], [65535, 4], [65536, 10]] as const) {
        expect(writer.frameLength(n)).toBe(n + header + key)
        expect(writer.encodeInto(Buffer.alloc(n + header + key), 0, Kind.Binary, Buffer.alloc(n))).toBe(n + header + key)
      }
    }
  })
})
