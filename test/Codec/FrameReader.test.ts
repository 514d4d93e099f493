import { describe, expect, it } from "vitest"
import * as FrameReader from "../../src/Codec/FrameReader.ts"
import { NeedMore } from "../../src/Codec/NeedMore.ts"
import { hex } from "../support/bytes.ts"

type Item = FrameReader.OwnedMessage | FrameReader.FrameViolation | NeedMore

/** Feeds `bytes` and drains: owned messages, then the final NeedMore or violation. */
const readAll = (reader: FrameReader.FrameReader, bytes: Uint8Array): Array<Item> => {
  expect(reader.feed(bytes)).toBe(bytes.length)
  const out: Array<Item> = []
  while (true) {
    const r = reader.next()
    if (r._tag === "NeedMore") {
      out.push(r)
      return out
    }
    if ("closeCode" in r) {
      out.push(r)
      return out
    }
    out.push(FrameReader.toOwned(r))
  }
}

const client = (options: Partial<FrameReader.Options> = {}) => FrameReader.make({ role: "client", ...options })
const server = (options: Partial<FrameReader.Options> = {}) => FrameReader.make({ role: "server", ...options })
const readClient = (frames: string, options: Partial<FrameReader.Options> = {}) => readAll(client(options), hex(frames))
const readServer = (frames: string, options: Partial<FrameReader.Options> = {}) => readAll(server(options), hex(frames))

const text = (t: string) => ({ _tag: "Text", text: t })
const binary = (bytes: string) => ({ _tag: "Binary", payload: new Uint8Array(hex(bytes)) })

describe("FrameReader: messages (RFC 6455 §5.7 examples)", () => {
  it("reads a single-frame unmasked text message as a client", () => {
    expect(readClient("81 05 48656c6c6f")).toEqual([text("Hello"), NeedMore])
  })

  it("reads a single-frame masked text message as a server and unmasks it", () => {
    expect(readServer("81 85 37fa213d 7f9f4d5158")).toEqual([text("Hello"), NeedMore])
  })

  it("reassembles a fragmented unmasked text message", () => {
    expect(readClient("01 03 48656c 80 02 6c6f")).toEqual([text("Hello"), NeedMore])
  })

  it("reads ping and masked pong with their payloads", () => {
    expect(readClient("89 05 48656c6c6f 8a 00")).toEqual([
      { _tag: "Ping", payload: new Uint8Array(hex("48656c6c6f")) },
      { _tag: "Pong", payload: new Uint8Array() },
      NeedMore
    ])
    expect(readServer("8a 85 37fa213d 7f9f4d5158")).toEqual([
      { _tag: "Pong", payload: new Uint8Array(hex("48656c6c6f")) },
      NeedMore
    ])
  })

  it("reads a 256-byte binary message with a 16-bit length", () => {
    const payload = "ab".repeat(256)
    expect(readClient(`82 7e 0100 ${payload}`)).toEqual([binary(payload), NeedMore])
  })

  it("reads a 65536-byte binary message with a 64-bit length, growing the buffer", () => {
    const reader = client({ bufferCapacity: 1024 })
    const payload = Buffer.alloc(65536, 0x5a)
    const items = readAll(reader, Buffer.concat([hex("82 7f 0000000000010000"), payload]))
    expect(items).toEqual([{ _tag: "Binary", payload: new Uint8Array(payload) }, NeedMore])
  })

  it("reads empty text and binary messages", () => {
    expect(readClient("81 00 82 00")).toEqual([text(""), binary(""), NeedMore])
  })

  it("returns messages whose views point into the reader's buffer until the next call", () => {
    const reader = client()
    reader.feed(hex("82 03 010203 82 02 0405"))
    const first = reader.next()
    expect(first._tag).toBe("Binary")
    const m = first as FrameReader.Binary
    expect([...m.payload]).toEqual([1, 2, 3])
    expect(m.length).toBe(3)
    expect([...m.buf.subarray(m.start, m.end)]).toEqual([1, 2, 3])
    const second = reader.next() as FrameReader.Binary
    // the same object is reused for the next binary message
    expect(second).toBe(first)
    expect([...second.payload]).toEqual([4, 5])
  })

  it("decodes text with text() and keeps an owned copy with toOwned", () => {
    const reader = client()
    reader.feed(hex("81 04 f09f9880"))
    const m = reader.next() as FrameReader.Text
    const owned = FrameReader.toOwned(m)
    expect(m.text()).toBe("😀")
    reader.feed(hex("81 01 41"))
    expect((reader.next() as FrameReader.Text).text()).toBe("A")
    expect(owned).toEqual(text("😀"))
  })

  it("keeps every owned binary copy intact while the reader reuses its slab, across pooled copies and large ones", () => {
    // sizes from 0 to 5000 bytes: small copies share pools (several pools' worth), large ones do not
    const sizes = Array.from({ length: 1500 }, (_, i) => (i * 37) % 301 + (i % 100 === 0 ? 4700 : 0))
    const reader = client({ bufferCapacity: 16 * 1024 })
    const owned: Array<FrameReader.OwnedMessage> = []
    sizes.forEach((size, i) => {
      const header = size < 126 ? [0x82, size] : [0x82, 126, size >> 8, size & 0xff]
      reader.feed(Uint8Array.from([...header, ...new Uint8Array(size).fill(i & 0xff)]))
      owned.push(FrameReader.toOwned(reader.next() as FrameReader.Message))
    })
    expect(reader.next()).toBe(NeedMore)
    sizes.forEach((size, i) => expect(owned[i]).toEqual({ _tag: "Binary", payload: new Uint8Array(size).fill(i & 0xff) }))
  })

  it("returns NeedMore for every prefix of a frame and the message once complete", () => {
    const frame = hex("81 7e 007e" + "41".repeat(126))
    const reader = client()
    for (let i = 0; i < frame.length - 1; i++) {
      expect(reader.feed(frame.subarray(i, i + 1))).toBe(1)
      expect(reader.next()).toBe(NeedMore)
    }
    reader.feed(frame.subarray(frame.length - 1))
    expect(FrameReader.toOwned(reader.next() as FrameReader.Message)).toEqual(text("A".repeat(126)))
  })

  it("reads through spare() and filled(n) without feed", () => {
    const reader = client({ bufferCapacity: 16 })
    const frames = hex("82 7e 0100" + "cd".repeat(256) + "81 02 6869")
    let offset = 0
    const got: Array<Item> = []
    while (offset < frames.length) {
      const spare = reader.spare()
      expect(spare.length).toBeGreaterThan(0)
      const n = Math.min(spare.length, 7, frames.length - offset)
      frames.copy(spare, 0, offset, offset + n)
      reader.filled(n)
      offset += n
      for (let r = reader.next(); r._tag !== "NeedMore"; r = reader.next()) got.push(FrameReader.toOwned(r as FrameReader.Message))
    }
    expect(got).toEqual([binary("cd".repeat(256)), text("hi")])
    expect(reader.capacity).toBeLessThanOrEqual(16 * 1024 * 1024 + FrameReader.MAX_HEADER_SIZE)
  })

  it("takes only what fits from feed while complete messages are undrained, then the rest", () => {
    const reader = client({ bufferCapacity: 16, maxFrameSize: 8 })
    const frames = hex("82 06 000102030405".repeat(4))
    const taken = reader.feed(frames)
    expect(taken).toBeLessThan(frames.length)
    const got: Array<Item> = []
    let offset = taken
    while (true) {
      const r = reader.next()
      if (r._tag === "NeedMore") {
        if (offset === frames.length) break
        const n = reader.feed(frames.subarray(offset))
        expect(n).toBeGreaterThan(0)
        offset += n
        continue
      }
      got.push(FrameReader.toOwned(r as FrameReader.Message))
    }
    expect(got).toEqual(Array(4).fill(binary("000102030405")))
  })

  it("grows the buffer to hold a frame of exactly maxFrameSize", () => {
    const reader = client({ bufferCapacity: 64, maxFrameSize: 70000 })
    const payload = Buffer.alloc(70000, 1)
    const frame = Buffer.concat([hex("82 7f 0000000000011170"), payload])
    let offset = 0
    let result: FrameReader.ReadResult = NeedMore
    while (offset < frame.length) {
      offset += reader.feed(frame.subarray(offset, offset + 1000))
      result = reader.next()
    }
    expect(result._tag).toBe("Binary")
    expect((result as FrameReader.Binary).length).toBe(70000)
  })
})

describe("FrameReader: close frames", () => {
  it("reports a close frame without payload as code 1005 with an empty reason", () => {
    expect(readClient("88 00")).toEqual([{ _tag: "Close", code: 1005, reason: "" }, NeedMore])
  })

  it("reads a close code and a UTF-8 reason", () => {
    expect(readClient("88 08 03e8 627965e280a6")).toEqual([{ _tag: "Close", code: 1000, reason: "bye…" }, NeedMore])
  })

  it("reads a masked close frame as a server", () => {
    // code 1001, reason "x", masked with key 01020304
    expect(readServer("88 83 01020304 02eb 7b")).toEqual([{ _tag: "Close", code: 1001, reason: "x" }, NeedMore])
  })

  it("accepts application close codes 3000 and 4999", () => {
    expect(readClient("88 02 0bb8 88 02 1387")).toEqual([
      { _tag: "Close", code: 3000, reason: "" },
      { _tag: "Close", code: 4999, reason: "" },
      NeedMore
    ])
  })

  it("rejects a 1-byte close payload with 1002", () => {
    expect(readClient("88 01 03")).toEqual([{
      _tag: "CloseFrameTooShort",
      closeCode: 1002,
      message: "close frame with a 1-byte payload: a status code needs 2 bytes"
    }])
  })

  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]) {
    it(`rejects close code ${code} with 1002`, () => {
      expect(readClient(`88 02 ${code.toString(16).padStart(4, "0")}`)).toEqual([{
        _tag: "InvalidCloseCode",
        closeCode: 1002,
        message: `close code ${code} may not be sent on the wire`,
        code
      }])
    })
  }

  it("rejects a close reason that is not UTF-8 with 1007", () => {
    expect(readClient("88 04 03e8 c328")).toEqual([{
      _tag: "InvalidCloseReason",
      closeCode: 1007,
      message: "close reason is not valid UTF-8"
    }])
  })
})

describe("FrameReader: header violations", () => {
  for (const [bits, names] of [[0x40, "RSV1"], [0x20, "RSV2"], [0x10, "RSV3"], [0x70, "RSV1, RSV2, RSV3"]] as const) {
    it(`rejects ${names} with 1002`, () => {
      expect(readClient(`${(0x82 | bits).toString(16)} 00`)).toEqual([{
        _tag: "ReservedBitsSet",
        closeCode: 1002,
        message: `reserved bits set (${names}) but no extension was negotiated`,
        bits
      }])
    })
  }

  for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    it(`rejects reserved opcode 0x${opcode.toString(16)} with 1002`, () => {
      expect(readClient(`${(0x80 | opcode).toString(16)} 00`)).toEqual([{
        _tag: "ReservedOpcode",
        closeCode: 1002,
        message: `reserved opcode 0x${opcode.toString(16)}`,
        opcode
      }])
    })
  }

  it("rejects a reserved opcode from its first byte alone", () => {
    expect(readClient("83")).toEqual([{ _tag: "ReservedOpcode", closeCode: 1002, message: "reserved opcode 0x3", opcode: 3 }])
  })

  it("rejects a ping with FIN clear with 1002", () => {
    expect(readClient("09 00")).toEqual([{
      _tag: "FragmentedControlFrame",
      closeCode: 1002,
      message: "ping frame with FIN clear: control frames must not be fragmented",
      opcode: 9
    }])
  })

  it("rejects a control payload over 125 bytes with 1002", () => {
    expect(readClient(`89 7e 007e ${"00".repeat(126)}`)).toEqual([{
      _tag: "ControlFrameTooLong",
      closeCode: 1002,
      message: "ping frame payload of 126 bytes exceeds the 125-byte control frame limit",
      opcode: 9,
      length: 126
    }])
  })

  it("accepts a control payload of exactly 125 bytes", () => {
    expect(readClient(`8a 7d ${"00".repeat(125)}`)).toEqual([
      { _tag: "Pong", payload: new Uint8Array(125) },
      NeedMore
    ])
  })

  it("rejects a continuation frame without a started message with 1002", () => {
    expect(readClient("80 00")).toEqual([{
      _tag: "UnexpectedContinuation",
      closeCode: 1002,
      message: "continuation frame without a fragmented message to continue"
    }])
  })

  it("rejects a new data frame inside an unfinished message with 1002", () => {
    expect(readClient("01 01 61 82 00")).toEqual([{
      _tag: "ExpectedContinuation",
      closeCode: 1002,
      message: "new binary frame while a fragmented message is unfinished (expected a continuation)",
      opcode: 2
    }])
  })

  it("rejects a masked frame as a client with 1002", () => {
    expect(readClient("81 81 00000000 41")).toEqual([{
      _tag: "MaskedFrame",
      closeCode: 1002,
      message: "masked frame from the server: servers must not mask frames"
    }])
  })

  it("rejects an unmasked frame as a server with 1002", () => {
    expect(readServer("81 01 41")).toEqual([{
      _tag: "UnmaskedFrame",
      closeCode: 1002,
      message: "unmasked frame from the client: clients must mask every frame"
    }])
  })

  it("rejects a 64-bit length with its top bit set with 1002", () => {
    expect(readClient("82 7f 8000000000000000")).toEqual([{
      _tag: "LengthTopBitSet",
      closeCode: 1002,
      message: "64-bit payload length has its most significant bit set"
    }])
  })

  it("rejects a 16-bit length below 126 as a non-minimal encoding with 1002", () => {
    expect(readClient("82 7e 007d")).toEqual([{
      _tag: "NonMinimalLength",
      closeCode: 1002,
      message: "payload length 125 encoded in 3 length bytes: the minimal encoding must be used",
      length: 125,
      encodedBytes: 2
    }])
  })

  it("rejects a 64-bit length below 65536 as a non-minimal encoding with 1002", () => {
    expect(readClient("82 7f 000000000000ffff")).toEqual([{
      _tag: "NonMinimalLength",
      closeCode: 1002,
      message: "payload length 65535 encoded in 9 length bytes: the minimal encoding must be used",
      length: 65535,
      encodedBytes: 8
    }])
  })
})

describe("FrameReader: limits", () => {
  it("rejects a frame over maxFrameSize from its header with 1009", () => {
    expect(readClient("82 7e 0101", { maxFrameSize: 256 })).toEqual([{
      _tag: "FrameTooBig",
      closeCode: 1009,
      message: "frame payload of 257 bytes exceeds maxFrameSize 256",
      length: 257,
      max: 256
    }])
  })

  it("rejects a huge 64-bit length as too big rather than buffering it", () => {
    expect(readClient("82 7f 7fffffffffffffff")).toMatchObject([{ _tag: "FrameTooBig", closeCode: 1009 }])
  })

  it("rejects a fragmented message over maxMessageSize with 1009", () => {
    expect(readClient("02 03 010203 00 03 040506", { maxMessageSize: 5 })).toEqual([{
      _tag: "MessageTooBig",
      closeCode: 1009,
      message: "message payload of 6 bytes exceeds maxMessageSize 5",
      length: 6,
      max: 5
    }])
  })

  it("rejects a single frame over maxMessageSize with 1009", () => {
    expect(readClient("82 06 010203040506", { maxMessageSize: 5 })).toEqual([{
      _tag: "MessageTooBig",
      closeCode: 1009,
      message: "message payload of 6 bytes exceeds maxMessageSize 5",
      length: 6,
      max: 5
    }])
  })

  it("accepts exactly maxFragments frames and rejects one more with 1009", () => {
    expect(readClient("01 01 61 00 01 62 80 01 63", { maxFragments: 3 })).toEqual([text("abc"), NeedMore])
    expect(readClient("01 01 61 00 01 62 00 01 63 80 01 64", { maxFragments: 3 })).toEqual([{
      _tag: "TooManyFragments",
      closeCode: 1009,
      message: "message spans more than maxFragments 3 frames",
      max: 3
    }])
  })

  it("throws RangeError on invalid options (caller misuse)", () => {
    expect(() => FrameReader.make({ role: "peer" as FrameReader.Role })).toThrow(RangeError)
    expect(() => client({ maxFrameSize: 0 })).toThrow(RangeError)
    expect(() => client({ maxFragments: 1.5 })).toThrow(RangeError)
  })
})

describe("FrameReader: fragmentation", () => {
  it("returns control frames interleaved with a fragmented message at once", () => {
    expect(readClient("01 02 6865 89 01 70 00 02 6c6c 8a 00 80 01 6f")).toEqual([
      { _tag: "Ping", payload: new Uint8Array([0x70]) },
      { _tag: "Pong", payload: new Uint8Array() },
      text("hello"),
      NeedMore
    ])
  })

  it("reassembles masked binary fragments as a server", () => {
    // "abc" + "de" masked with 01020304 (each frame restarts the key cycle)
    expect(readServer("02 83 01020304 606060 80 82 01020304 6567")).toEqual([binary("6162636465"), NeedMore])
  })

  it("reassembles with empty first and last fragments", () => {
    expect(readClient("02 00 00 02 0102 80 00")).toEqual([binary("0102"), NeedMore])
  })

  it("reads the next message after a fragmented one", () => {
    expect(readClient("01 01 61 80 01 62 81 01 63")).toEqual([text("ab"), text("c"), NeedMore])
  })

  it("accepts a code point split across fragments", () => {
    // U+1F600 split 1 + 3, then 2 + 2 bytes of U+00E9 U+00E9 split inside
    expect(readClient("01 01 f0 00 03 9f9880 00 01 c3 80 03 a9c3a9")).toEqual([text("😀éé"), NeedMore])
  })
})

describe("FrameReader: UTF-8", () => {
  const invalid = (fragment: number) => ({
    _tag: "InvalidUtf8",
    closeCode: 1007,
    message: fragment === 1
      ? "text message is not valid UTF-8"
      : `text message is not valid UTF-8 (detected in fragment ${fragment})`,
    fragment
  })

  for (const [name, bytes] of [
    ["a lone continuation byte", "80"],
    ["an overlong 2-byte form", "c0af"],
    ["an overlong 3-byte form", "e080af"],
    ["an encoded surrogate", "eda080"],
    ["a code point above U+10FFFF", "f4908080"],
    ["the byte F5", "f5"],
    ["a truncated sequence at the end", "e282"]
  ] as const) {
    it(`rejects ${name} in a single frame with 1007`, () => {
      expect(readClient(`81 ${(bytes.length / 2).toString(16).padStart(2, "0")} ${bytes}`)).toEqual([invalid(1)])
    })
  }

  it("rejects invalid UTF-8 in a long (SIMD-checked) single frame", () => {
    const payload = "41".repeat(600) + "ff"
    expect(readClient(`81 7e ${(601).toString(16).padStart(4, "0")} ${payload}`)).toEqual([invalid(1)])
  })

  it("rejects an invalid byte in the first fragment before the message ends", () => {
    expect(readClient("01 02 41ff")).toEqual([invalid(1)])
  })

  for (const [name, prefix] of [["F5", "f5"], ["ED A0 (surrogate)", "eda0"], ["overlong E0 80", "e080"], ["F4 90", "f490"]] as const) {
    it(`fails fast on a fragment ending in the impossible prefix ${name}`, () => {
      // a 3-byte first fragment: ASCII, then the prefix that no continuation can complete
      const payload = "41".repeat(3 - prefix.length / 2) + prefix
      expect(readClient(`01 03 ${payload}`)).toEqual([invalid(1)])
    })
  }

  it("fails fast in the middle fragment without waiting for FIN", () => {
    expect(readClient("01 01 41 00 02 c328")).toEqual([invalid(2)])
  })

  it("fails fast when a long fragment's tail is an impossible prefix", () => {
    const payload = "41".repeat(300) + "eda0"
    expect(readClient(`01 7e ${(302).toString(16).padStart(4, "0")} ${payload}`)).toEqual([invalid(1)])
  })

  it("carries a valid incomplete tail of a long fragment into the next one", () => {
    const first = "41".repeat(300) + "f09f"
    expect(readClient(`01 7e ${(302).toString(16).padStart(4, "0")} ${first} 80 02 9880`)).toEqual([
      text("A".repeat(300) + "😀"),
      NeedMore
    ])
  })

  it("rejects a message whose last fragment leaves a code point unfinished", () => {
    expect(readClient("01 01 f0 80 02 9f98")).toEqual([invalid(2)])
  })

  it("accepts non-ASCII text of every length class", () => {
    const s = "é€😀".repeat(60)
    const bytes = Buffer.from(s)
    expect(readAll(client(), Buffer.concat([hex(`81 7e ${bytes.length.toString(16).padStart(4, "0")}`), bytes]))).toEqual([
      text(s),
      NeedMore
    ])
  })
})

describe("FrameReader: failure is final", () => {
  it("keeps returning the same violation and discards later input", () => {
    const reader = client()
    reader.feed(hex("c1 00"))
    const first = reader.next()
    expect(first).toMatchObject({ _tag: "ReservedBitsSet", closeCode: 1002 })
    expect(reader.feed(hex("81 01 41"))).toBe(3)
    expect(reader.next()).toBe(first)
    expect(reader.buffered).toBe(0)
  })

  it("starts over after reset()", () => {
    const reader = client()
    reader.feed(hex("c1 00"))
    reader.next()
    reader.reset()
    reader.feed(hex("81 01 41"))
    expect(FrameReader.toOwned(reader.next() as FrameReader.Message)).toEqual(text("A"))
  })
})
