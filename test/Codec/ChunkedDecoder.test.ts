import { describe, expect, it } from "vitest"
import * as ChunkedDecoder from "../../src/Codec/ChunkedDecoder.ts"
import { NeedMore } from "../../src/Codec/NeedMore.ts"
import { latin1 as bytes } from "../support/bytes.ts"

/** Decodes `raw` placed at offset `base` of a scratch buffer in one call. */
const decodeAll = (raw: string, options: ChunkedDecoder.Options = {}, base = 3) => {
  const buf = Buffer.concat([Buffer.alloc(base, 0xee), bytes(raw)])
  const decoder = ChunkedDecoder.make(options)
  const result = decoder.decode(buf, base, buf.length)
  return { result, decoder, buf, body: buf.subarray(base, base + decoder.written).toString("latin1") }
}

/** Decodes `raw` in two reads cut at `split`, compacting in between as a reader does. */
const decodeSplit = (raw: Buffer, split: number) => {
  const buf = Buffer.alloc(raw.length)
  raw.copy(buf, 0, 0, split)
  const decoder = ChunkedDecoder.make()
  let end = split
  let result = decoder.decode(buf, 0, end)
  if (result === NeedMore) {
    end -= decoder.compact(buf, 0, end)
    end += raw.copy(buf, end, split)
    result = decoder.decode(buf, 0, end)
  }
  const t = decoder.trailers
  const trailers = Array.from({ length: t.count }, (_, i) =>
    `${buf.toString("latin1", t.offsets[i * 4]!, t.offsets[i * 4 + 1]!)}=${
      buf.toString("latin1", t.offsets[i * 4 + 2]!, t.offsets[i * 4 + 3]!)
    }`)
  return { result, body: buf.toString("latin1", 0, decoder.written), trailers }
}

/** Decodes `raw` one byte per read; returns the first result that is not `NeedMore`. */
const decodeBytewise = (raw: Buffer): ChunkedDecoder.ChunkedResult => {
  const buf = Buffer.alloc(raw.length)
  const decoder = ChunkedDecoder.make()
  let end = 0
  for (let i = 0; i < raw.length; i++) {
    buf[end++] = raw[i]!
    const result = decoder.decode(buf, 0, end)
    if (result !== NeedMore) return result
    end -= decoder.compact(buf, 0, end)
  }
  return NeedMore
}

describe("ChunkedDecoder", () => {
  it("decodes in place into one contiguous body and reports the raw bytes used", () => {
    const { body, buf, decoder, result } = decodeAll("4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\nNEXT")
    expect(result).toBe(ChunkedDecoder.ChunkedDone)
    expect(body).toBe("Wikipedia in\r\n\r\nchunks.")
    expect(decoder.written).toBe(23)
    expect(decoder.done).toBe(true)
    expect(buf.subarray(3 + decoder.read).toString()).toBe("NEXT")
    expect(buf.subarray(0, 3).toString("hex")).toBe("eeeeee")
  })

  it("ignores chunk extensions, including quoted values and whitespace before the semicolon", () => {
    expect(decodeAll("3;a=1;b=\"x y\"\r\nabc\r\n2 \t; c\r\nde\r\n0;last\r\n\r\n").body).toBe("abcde")
  })

  it("accepts every chunk-extension form RFC 9112 §7.1.1 allows, for every split of the input", () => {
    const forms = [
      ";name",
      ";name=token",
      ";name=\"quoted \\\" value\"",
      ";q=\"\"",
      ";q=\"\\\\;\\a\t\x80\xff=\"",
      " \t; \tname \t= \t\"v\" \t;next",
      ";a;b=1;c=\"2\";d",
      ";!#$%&'*+-.^_`|~09AZaz=!#$%&'*+-.^_`|~09AZaz"
    ]
    for (const ext of forms) {
      const raw = bytes(`2${ext}\r\nab\r\n1${ext}\r\nc\r\n0${ext}\r\nT: 1\r\n\r\n`)
      for (let split = 0; split <= raw.length; split++) {
        const { result, body, trailers } = decodeSplit(raw, split)
        expect([ext, split, result, body, trailers]).toEqual([ext, split, ChunkedDecoder.ChunkedDone, "abc", ["T=1"]])
      }
    }
  })

  it("rejects a \";\" without an extension name, an empty name and an unterminated quoted value, for every split", () => {
    const cases: Array<[string, ChunkedDecoder.ChunkedViolation]> = [
      ["2;\r\naa\r\n0\r\n\r\n", {
        _tag: "InvalidChunkExtension",
        message: "expected an extension name (token) after \";\" in a chunk extension at offset 2, got CR",
        offset: 2
      }],
      ["5;=x\r\nhello\r\n0\r\n\r\n", {
        _tag: "InvalidChunkExtension",
        message: "expected an extension name (token) after \";\" in a chunk extension at offset 2, got \"=\"",
        offset: 2
      }],
      ["5;a=\"def; ghi\r\nhello\r\n0\r\n\r\n", {
        _tag: "InvalidChunkExtension",
        message:
          "unterminated quoted string in a chunk extension at offset 13 (a quoted string cannot hold CR or LF)",
        offset: 13
      }]
    ]
    for (const [text, violation] of cases) {
      const raw = bytes(text)
      for (let split = 0; split <= raw.length; split++) {
        expect([text, split, decodeSplit(raw, split).result]).toEqual([text, split, violation])
      }
      expect([text, "byte at a time", decodeBytewise(raw)]).toEqual([text, "byte at a time", violation])
    }
  })

  it("names the offset in the raw chunked stream however the reads were split and compacted", () => {
    const cases: Array<[string, unknown]> = [
      ["1\r\nx\r\n2\r\nab\r\n3\r\nabcd", {
        _tag: "MissingChunkCrlf",
        message: "chunk data not followed by CR LF at offset 19",
        offset: 19
      }],
      ["1\r\nx\r\n2;a=@\r\nab\r\n0\r\n\r\n", {
        _tag: "InvalidChunkExtension",
        message: "expected an extension value (token or quoted string) after \"=\" in a chunk extension at offset 10, got \"@\"",
        offset: 10
      }],
      ["1\r\nx\r\n0\r\nOk: 1\r\nBad Trailer: 1\r\n\r\n", {
        _tag: "WhitespaceBeforeColon",
        message: "whitespace between field name and colon at offset 19",
        offset: 19
      }]
    ]
    for (const [text, violation] of cases) {
      const raw = bytes(text)
      for (let split = 0; split <= raw.length; split++) {
        expect([text, split, decodeSplit(raw, split).result]).toEqual([text, split, violation])
      }
      expect([text, "byte at a time", decodeBytewise(raw)]).toEqual([text, "byte at a time", violation])
    }
  })

  it("rejects the other extension shapes the grammar does not produce, naming the byte", () => {
    const invalid = (offset: number, message: string) => ({ _tag: "InvalidChunkExtension", message, offset })
    const afterName = "\";\", \"=\" or CR LF after an extension name"
    const afterValue = "\";\" or CR LF after an extension value"
    const cases: Array<[string, unknown]> = [
      ["1; \r\n", invalid(3, "expected an extension name (token) after \";\" in a chunk extension at offset 3, got CR")],
      ["1;;a\r\n", invalid(2, "expected an extension name (token) after \";\" in a chunk extension at offset 2, got \";\"")],
      ["1;a@b\r\n", invalid(3, `expected ${afterName} in a chunk extension at offset 3, got "@"`)],
      ["1;a\"b\"\r\n", invalid(3, `expected ${afterName} in a chunk extension at offset 3, got "\""`)],
      ["1;a=\r\n", invalid(4, "expected an extension value (token or quoted string) after \"=\" in a chunk extension at offset 4, got CR")],
      ["1;a==b\r\n", invalid(4, "expected an extension value (token or quoted string) after \"=\" in a chunk extension at offset 4, got \"=\"")],
      ["1;a b\r\n", invalid(4, "expected \";\" or \"=\" after whitespace in a chunk extension at offset 4, got \"b\"")],
      ["1;a \r\n", invalid(4, "expected \";\" or \"=\" after whitespace in a chunk extension at offset 4, got CR")],
      ["1;a=b c\r\n", invalid(6, "expected \";\" after whitespace in a chunk extension at offset 6, got \"c\"")],
      ["1;a=b \r\n", invalid(6, "expected \";\" after whitespace in a chunk extension at offset 6, got CR")],
      ["1;a=b/c\r\n", invalid(5, `expected ${afterValue} in a chunk extension at offset 5, got "/"`)],
      ["1;a=\"b\"c\r\n", invalid(7, `expected ${afterValue} in a chunk extension at offset 7, got "c"`)],
      ["1;a=\"b\\\r\n", invalid(7, "unterminated quoted string in a chunk extension at offset 7 (a quoted string cannot hold CR or LF)")],
      ["1;a=\"b\nc\"\r\n", invalid(6, "unterminated quoted string in a chunk extension at offset 6 (a quoted string cannot hold CR or LF)")],
      ["1;a=\"\x00\"\r\n", invalid(5, "control byte 0x0 in a quoted chunk extension value at offset 5")],
      ["1;a=\"\\\x7f\"\r\n", invalid(6, "control byte 0x7f in a quoted chunk extension value at offset 6")],
      ["1;a=b\x01\r\n", invalid(5, "control byte 0x1 in a chunk extension at offset 5")],
      ["1;\x7f\r\n", invalid(2, "control byte 0x7f in a chunk extension at offset 2")],
      ["1;a=b\nx", { _tag: "BareLineFeed", message: "bare LF at offset 5: lines must end with CR LF", offset: 5 }],
      ["1;a=\"b\"\rx", { _tag: "BareCarriageReturn", message: "bare CR at offset 7: CR must be followed by LF", offset: 7 }]
    ]
    for (const [text, violation] of cases) expect([text, decodeAll(text).result]).toEqual([text, violation])
  })

  it("counts extensions, quoted values included, against maxLineBytes", () => {
    const limit = { _tag: "ChunkLineTooLong", message: "chunk-size line longer than 16 bytes", limit: 16 }
    expect(decodeAll("1;a=\"" + "x".repeat(20) + "\"\r\nx\r\n0\r\n\r\n", { maxLineBytes: 16 }).result).toEqual(limit)
    expect(decodeAll("1 ;  a  =  " + "b".repeat(10) + "\r\nx\r\n0\r\n\r\n", { maxLineBytes: 16 }).result).toEqual(limit)
    // 15 bytes of line plus its CR: exactly at the limit
    expect(decodeAll("1;a=\"" + "x".repeat(8) + "\"\r\nx\r\n0\r\n\r\n", { maxLineBytes: 16 }).body).toBe("x")
  })

  it("exposes the trailer fields, offsets relative to the base", () => {
    const { buf, decoder, result } = decodeAll("1\r\nx\r\n0\r\nExpires: never\r\nX-Sum:  42 \r\n\r\n")
    expect(result).toBe(ChunkedDecoder.ChunkedDone)
    const t = decoder.trailers
    expect(t.count).toBe(2)
    const field = (i: number) => [
      buf.toString("latin1", 3 + t.offsets[i * 4]!, 3 + t.offsets[i * 4 + 1]!),
      buf.toString("latin1", 3 + t.offsets[i * 4 + 2]!, 3 + t.offsets[i * 4 + 3]!)
    ]
    expect([field(0), field(1)]).toEqual([["Expires", "never"], ["X-Sum", "42"]])
  })

  it("accepts upper- and lower-case hex and leading zeros", () => {
    expect(decodeAll("0000A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n").body).toBe("0123456789abcdefghij")
  })

  it("resumes across calls and compacts the dead framing bytes out of the buffer", () => {
    const raw = bytes("1\r\na\r\n1\r\nb\r\n1\r\nc\r\n0\r\nT: 1\r\n")
    const buf = Buffer.alloc(64)
    raw.copy(buf)
    const decoder = ChunkedDecoder.make()
    let end = raw.length
    expect(decoder.decode(buf, 0, end)).toBe(NeedMore)
    expect(decoder.written).toBe(3)
    end -= decoder.compact(buf, 0, end)
    // the decoded body and the partial trailer section are all that is left
    expect(buf.toString("latin1", 0, end)).toBe("abcT: 1\r\n")
    end += bytes("\r\nrest").copy(buf, end)
    expect(decoder.decode(buf, 0, end)).toBe(ChunkedDecoder.ChunkedDone)
    expect(buf.toString("latin1", 0, decoder.written)).toBe("abc")
    expect(buf.toString("latin1", decoder.read, end)).toBe("rest")
    expect(decoder.trailers.count).toBe(1)
    expect(decoder.compact(buf, 0, end)).toBe(0)
  })

  it("decodes the same body for every split point of the input", () => {
    const raw = bytes("3;x=y\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nA: b\r\n\r\n")
    for (let split = 0; split <= raw.length; split++) {
      const buf = Buffer.alloc(raw.length)
      raw.copy(buf, 0, 0, split)
      const decoder = ChunkedDecoder.make()
      let end = split
      expect(decoder.decode(buf, 0, end)).toBe(split === raw.length ? ChunkedDecoder.ChunkedDone : NeedMore)
      end -= decoder.compact(buf, 0, end)
      end += raw.copy(buf, end, split)
      expect(decoder.decode(buf, 0, end)).toBe(ChunkedDecoder.ChunkedDone)
      expect(buf.toString("latin1", 0, decoder.written)).toBe("abc0123456789abcdef")
    }
  })

  it("latches a violation and starts over after reset()", () => {
    const buf = bytes("z\r\n")
    const decoder = ChunkedDecoder.make()
    const violation = decoder.decode(buf, 0, buf.length)
    expect(violation).toEqual({
      _tag: "InvalidChunkSize",
      message: "byte 0x7a where a hex chunk size was expected at offset 0",
      offset: 0
    })
    expect(decoder.decode(buf, 0, buf.length)).toBe(violation)
    decoder.reset()
    const ok = bytes("0\r\n\r\n")
    expect(decoder.decode(ok, 0, ok.length)).toBe(ChunkedDecoder.ChunkedDone)
  })

  it("rejects a chunk-size line longer than maxLineBytes", () => {
    expect(decodeAll("1;" + "a".repeat(20) + "\r\nx\r\n0\r\n\r\n", { maxLineBytes: 16 }).result).toEqual({
      _tag: "ChunkLineTooLong",
      message: "chunk-size line longer than 16 bytes",
      limit: 16
    })
  })

  it("rejects a trailer section longer than maxTrailerBytes", () => {
    expect(decodeAll("0\r\nX: " + "a".repeat(40) + "\r\n\r\n", { maxTrailerBytes: 32 }).result).toEqual({
      _tag: "TrailersTooLarge",
      message: "trailer section longer than 32 bytes",
      limit: 32
    })
  })

  it("rejects more trailer fields than maxTrailers", () => {
    expect(decodeAll("0\r\nA: 1\r\nB: 2\r\n\r\n", { maxTrailers: 1 }).result).toEqual({
      _tag: "TooManyHeaders",
      message: "more than 1 header fields",
      limit: 1
    })
  })

  it("rejects a decoded body beyond maxBodySize", () => {
    expect(decodeAll("5\r\nabcde\r\n1\r\n", { maxBodySize: 5 }).result).toEqual({
      _tag: "BodyTooLarge",
      message: "body of 6 bytes exceeds the limit of 5 bytes",
      size: 6,
      limit: 5
    })
  })

  it("rejects bad sizes, overflow, missing CRLF, bare LF/CR and bad extensions", () => {
    expect(decodeAll("\r\n").result).toEqual({
      _tag: "InvalidChunkSize",
      message: "byte 0xd where a hex chunk size was expected at offset 0",
      offset: 0
    })
    expect(decodeAll("1fffffffffffff\r\n").result).toEqual({
      _tag: "BodyTooLarge",
      message: "body of 9007199254740991 bytes exceeds the limit of 16777216 bytes",
      size: 9007199254740991,
      limit: 16777216
    })
    expect(decodeAll("20000000000000\r\n").result).toEqual({
      _tag: "ChunkSizeOverflow",
      message: "chunk size at offset 13 exceeds 2^53 - 1",
      offset: 13
    })
    expect(decodeAll("2\r\nabc").result).toEqual({
      _tag: "MissingChunkCrlf",
      message: "chunk data not followed by CR LF at offset 5",
      offset: 5
    })
    expect(decodeAll("2\r\nab\rc").result).toEqual({
      _tag: "MissingChunkCrlf",
      message: "chunk data not followed by CR LF at offset 6",
      offset: 6
    })
    expect(decodeAll("2;x\nab").result).toEqual({
      _tag: "BareLineFeed",
      message: "bare LF at offset 3: lines must end with CR LF",
      offset: 3
    })
    expect(decodeAll("2\rab").result).toEqual({
      _tag: "BareCarriageReturn",
      message: "bare CR at offset 1: CR must be followed by LF",
      offset: 1
    })
    expect(decodeAll("2 x\r\nab").result).toEqual({
      _tag: "InvalidChunkExtension",
      message: "expected \";\" after whitespace in a chunk extension at offset 2, got \"x\"",
      offset: 2
    })
    expect(decodeAll("0\r\nA: 1\n\r\n").result).toEqual({
      _tag: "BareLineFeed",
      message: "bare LF at offset 7: lines must end with CR LF",
      offset: 7
    })
    expect(decodeAll("0\r\n\rX").result).toEqual({
      _tag: "BareCarriageReturn",
      message: "bare CR at offset 3: CR must be followed by LF",
      offset: 3
    })
  })

  it("throws RangeError for invalid limits (caller misuse)", () => {
    expect(() => ChunkedDecoder.make({ maxBodySize: -1 })).toThrow(RangeError)
    expect(() => ChunkedDecoder.make({ maxLineBytes: 1.5 })).toThrow(RangeError)
  })
})
