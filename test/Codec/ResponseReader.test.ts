import { describe, expect, it } from "vitest"
import { NeedMore } from "../../src/Codec/NeedMore.ts"
import * as ResponseReader from "../../src/Codec/ResponseReader.ts"
import { latin1 as bytes } from "../support/bytes.ts"

const summary = (result: ResponseReader.ResponseResult) =>
  result._tag !== "Response" ? result : {
    _tag: result._tag,
    status: result.status,
    reason: result.reason,
    version: result.version,
    headers: result.headers(),
    body: result.bodyText(),
    contentLength: result.contentLength,
    chunked: result.chunked,
    reusable: result.reusable,
    trailers: result.trailers()
  }

/** Feeds `raw` in one piece (after `expect(method)` when given) and returns the first result. */
const parse = (raw: string, options: ResponseReader.Options = {}, method?: string) => {
  const reader = ResponseReader.make(options)
  if (method !== undefined) reader.expect(method)
  expect(reader.feed(bytes(raw))).toBe(true)
  return summary(reader.next())
}

const ok = (headers: Array<[string, string]>, body = "", extra: object = {}) => ({
  _tag: "Response",
  status: 200,
  reason: "OK",
  version: "1.1",
  headers,
  body,
  contentLength: undefined,
  chunked: false,
  reusable: true,
  trailers: [],
  ...extra
})

describe("ResponseReader framing", () => {
  it("parses a Content-Length response with headers in wire order and case-insensitive lookup", () => {
    const reader = ResponseReader.make()
    reader.feed(bytes("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Rate: 1\r\nx-rate: 2\r\nContent-Length: 7\r\n\r\n{\"a\":1}"))
    const response = reader.next()
    if (response._tag !== "Response") throw new Error(response._tag)
    expect(summary(response)).toEqual(ok([
      ["Content-Type", "application/json"],
      ["X-Rate", "1"],
      ["x-rate", "2"],
      ["Content-Length", "7"]
    ], "{\"a\":1}", { contentLength: 7 }))
    expect(response.header("CONTENT-type")).toBe("application/json")
    expect(response.header("x-missing")).toBeUndefined()
    expect(response.headerAll("X-RATE")).toEqual(["1", "2"])
    expect([...response]).toEqual(response.headers())
    expect(Buffer.from(response.body).toString()).toBe("{\"a\":1}")
    expect(response.keepAlive).toBe(true)
    expect(reader.buffered).toBe(0)
    expect(reader.next()).toBe(NeedMore)
  })

  it("copyOwned keeps the headers and body after the reader parses the next response, chunked bodies included", () => {
    const reader = ResponseReader.make()
    reader.feed(bytes(
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Rate:  1 \r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    ))
    const first = reader.next()
    if (first._tag !== "Response") throw new Error(first._tag)
    const owned = first.copyOwned()
    const headOnly = first.copyOwned(false)
    reader.feed(bytes("HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\nX-Other: zzzzzzzzzzzzzzzzzzzzzz\r\n\r\nnope"))
    const second = reader.next()
    if (second._tag !== "Response") throw new Error(second._tag)
    const secondOwned = second.copyOwned()
    const expected = [["Content-Type", "text/plain"], ["X-Rate", "1"], ["Transfer-Encoding", "chunked"]]
    expect(owned.headers()).toEqual(expected)
    expect(owned.headers()).toBe(owned.headers())
    expect(owned.header("x-RATE")).toBe("1")
    expect(owned.header("x-missing")).toBeUndefined()
    expect(owned.headerCount).toBe(3)
    expect(Buffer.from(owned.body).toString()).toBe("abcde")
    expect(headOnly.headers()).toEqual(expected)
    expect(headOnly.body.length).toBe(0)
    expect(secondOwned.headers()).toEqual([["Content-Length", "4"], ["X-Other", "zzzzzzzzzzzzzzzzzzzzzz"]])
    expect(Buffer.from(secondOwned.body).toString()).toBe("nope")
  })

  it("copyOwned of a response without header fields or body is empty", () => {
    const reader = ResponseReader.make()
    reader.feed(bytes("HTTP/1.1 204 No Content\r\n\r\n"))
    const response = reader.next()
    if (response._tag !== "Response") throw new Error(response._tag)
    const owned = response.copyOwned()
    expect(owned.headers()).toEqual([])
    expect(owned.body.length).toBe(0)
  })

  it("reads through spare()/filled() and grows the buffer for a body larger than the initial capacity", () => {
    const body = "x".repeat(100_000)
    const wire = bytes(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`)
    const reader = ResponseReader.make({ bufferCapacity: 1024 })
    let offset = 0
    let result: ResponseReader.ResponseResult = reader.next()
    while (result === NeedMore) {
      const spare = reader.spare()
      const n = Math.min(spare.length, wire.length - offset)
      wire.copy(spare, 0, offset, offset + n)
      offset += n
      reader.filled(n)
      result = reader.next()
    }
    expect(summary(result)).toEqual(ok([["Content-Length", "100000"]], body, { contentLength: 100_000 }))
  })

  it("decodes a chunked body with extensions and trailers", () => {
    expect(parse(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
        "5;name=value\r\nhello\r\n1 ; a=\"b\"\r\n,\r\nA\r\n world!!!!\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n"
    )).toEqual(ok([["Transfer-Encoding", "chunked"]], "hello, world!!!!", {
      chunked: true,
      trailers: [["X-Checksum", "abc"], ["X-Other", "1"]]
    }))
  })

  it("accepts Transfer-Encoding chunked in any case", () => {
    expect(parse("HTTP/1.1 200 OK\r\ntransfer-encoding: ChUnKeD\r\n\r\n0\r\n\r\n")).toEqual(
      ok([["transfer-encoding", "ChUnKeD"]], "", { chunked: true })
    )
  })

  it("reads a body delimited by the connection close once endOfInput() is called", () => {
    const reader = ResponseReader.make()
    reader.feed(bytes("HTTP/1.1 200 OK\r\nServer: x\r\n\r\npart one,"))
    expect(reader.next()).toBe(NeedMore)
    reader.feed(bytes(" part two"))
    expect(reader.next()).toBe(NeedMore)
    reader.endOfInput()
    expect(summary(reader.next())).toEqual(ok([["Server", "x"]], "part one, part two", { reusable: false }))
  })

  it("reports UnexpectedEndOfInput for a truncated body and for a close before any byte", () => {
    const reader = ResponseReader.make()
    reader.feed(bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"))
    expect(reader.next()).toBe(NeedMore)
    reader.endOfInput()
    expect(reader.next()).toEqual({
      _tag: "UnexpectedEndOfInput",
      message: "input ended after 42 bytes of an incomplete message",
      received: 42
    })
    const idle = ResponseReader.make()
    idle.endOfInput()
    expect(idle.next()).toEqual({
      _tag: "UnexpectedEndOfInput",
      message: "input ended before any byte of the next message",
      received: 0
    })
  })

  it("reports UnexpectedEndOfInput for a truncated head and a truncated chunked body", () => {
    const head = ResponseReader.make()
    head.feed(bytes("HTTP/1.1 200 OK\r\nServ"))
    expect(head.next()).toBe(NeedMore)
    head.endOfInput()
    expect(head.next()).toEqual({
      _tag: "UnexpectedEndOfInput",
      message: "input ended after 21 bytes of an incomplete message",
      received: 21
    })
    const chunked = ResponseReader.make()
    chunked.feed(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"))
    expect(chunked.next()).toBe(NeedMore)
    chunked.endOfInput()
    expect(chunked.next()._tag).toBe("UnexpectedEndOfInput")
  })

  it("returns no body for HEAD even with a Content-Length, and parses the next response right after", () => {
    const reader = ResponseReader.make()
    reader.expect("HEAD")
    reader.feed(bytes("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"))
    expect(summary(reader.next())).toEqual(ok([["Content-Length", "1234"]], "", { contentLength: 1234 }))
    expect(summary(reader.next())).toEqual(ok([["Content-Length", "2"]], "hi", { contentLength: 2 }))
  })

  it("returns no body for 204 and 304", () => {
    const reader = ResponseReader.make()
    reader.feed(bytes(
      "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\nETag: \"x\"\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n!"
    ))
    expect(summary(reader.next())).toEqual(ok([], "", { status: 204, reason: "No Content" }))
    expect(summary(reader.next())).toEqual(
      ok([["Content-Length", "50"], ["ETag", "\"x\""]], "", { status: 304, reason: "Not Modified", contentLength: 50 })
    )
    expect(summary(reader.next())).toEqual(ok([["Content-Length", "1"]], "!", { contentLength: 1 }))
  })

  it("skips 100 Continue and 103 Early Hints and returns the final response", () => {
    expect(parse(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" +
        "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
    )).toEqual(ok([["Content-Length", "0"]], "", { status: 201, reason: "Created", contentLength: 0 }))
  })

  it("returns 101 without a body and leaves the following frame bytes in the buffer", () => {
    const reader = ResponseReader.make()
    reader.feed(Buffer.concat([
      bytes("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"),
      Buffer.from("8102686981", "hex")
    ]))
    expect(summary(reader.next())).toEqual(ok([["Upgrade", "websocket"], ["Connection", "Upgrade"]], "", {
      status: 101,
      reason: "Switching Protocols",
      reusable: false
    }))
    expect(reader.leftover().toString("hex")).toBe("8102686981")
    expect(Buffer.from(reader.takeLeftover()).toString("hex")).toBe("8102686981")
    expect(reader.buffered).toBe(0)
  })

  it("treats a 2xx answer to CONNECT as a tunnel without body", () => {
    const reader = ResponseReader.make()
    reader.expect("CONNECT")
    reader.feed(bytes("HTTP/1.1 200 Connection Established\r\n\r\n\x16\x03\x01"))
    expect(summary(reader.next())).toEqual(ok([], "", { reason: "Connection Established", reusable: false }))
    expect(reader.leftover().toString("hex")).toBe("160301")
  })

  it("parses pipelined responses from one chunk and keeps the bytes beyond them", () => {
    const reader = ResponseReader.make()
    reader.feed(bytes(
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na" +
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nb\r\n0\r\n\r\n" +
        "HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\ncHTTP/1.1 2"
    ))
    expect(summary(reader.next())).toEqual(ok([["Content-Length", "1"]], "a", { contentLength: 1 }))
    expect(summary(reader.next())).toEqual(ok([["Transfer-Encoding", "chunked"]], "b", { chunked: true }))
    expect(summary(reader.next())).toEqual(
      ok([["Content-Length", "1"]], "c", { status: 404, reason: "Not Found", contentLength: 1 })
    )
    expect(reader.next()).toBe(NeedMore)
    expect(reader.leftover().toString()).toBe("HTTP/1.1 2")
  })

  it("decides reuse from the version and Connection tokens", () => {
    const reusable = (raw: string) => {
      const result = parse(raw)
      return "reusable" in result ? result.reusable : result._tag
    }
    expect(reusable("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")).toBe(false)
    expect(reusable("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n")).toBe(true)
    expect(reusable("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")).toBe(false)
    expect(reusable("HTTP/1.1 200 OK\r\nConnection: keep-alive, CLOSE\r\nContent-Length: 0\r\n\r\n")).toBe(false)
    expect(reusable("HTTP/1.1 200 OK\r\nConnection: closed\r\nContent-Length: 0\r\n\r\n")).toBe(true)
    expect(reusable("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")).toBe(true)
  })

  it("accepts a status line without a reason phrase, later HTTP/1.x minors, and leading empty lines", () => {
    expect(parse("\r\n\r\nHTTP/1.1 200\r\nContent-Length: 0\r\n\r\n")).toEqual(
      ok([["Content-Length", "0"]], "", { reason: "", contentLength: 0 })
    )
    expect(parse("HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n")).toEqual(
      ok([["Content-Length", "0"]], "", { contentLength: 0 })
    )
    expect(parse("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n")).toEqual(
      ok([["Content-Length", "0"]], "", { reason: "", contentLength: 0 })
    )
  })

  it("accepts identical duplicate Content-Length values, as repeated lines or a list", () => {
    expect(parse("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello")).toEqual(
      ok([["Content-Length", "5, 5"]], "hello", { contentLength: 5 })
    )
    expect(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\nhello")).toEqual(
      ok([["Content-Length", "5"], ["content-length", "5"]], "hello", { contentLength: 5 })
    )
  })

  it("trims optional whitespace around field values and allows empty values", () => {
    expect(parse("HTTP/1.1 200 OK\r\nA:\t x y \t\r\nB:\r\nC: \r\nContent-Length: 0\r\n\r\n")).toEqual(
      ok([["A", "x y"], ["B", ""], ["C", ""], ["Content-Length", "0"]], "", { contentLength: 0 })
    )
  })

  it("latches a violation until reset()", () => {
    const reader = ResponseReader.make()
    reader.feed(bytes("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n"))
    const violation = reader.next()
    expect(violation._tag).toBe("WhitespaceBeforeColon")
    reader.feed(bytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
    expect(reader.next()).toBe(violation)
    reader.reset()
    reader.feed(bytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
    expect(summary(reader.next())).toEqual(ok([["Content-Length", "0"]], "", { contentLength: 0 }))
  })

  it("gives the same responses when fed one byte at a time", () => {
    const wire = bytes(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;e\r\nabc\r\n0\r\nT: v\r\n\r\n" +
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nde"
    )
    const reader = ResponseReader.make()
    const out: Array<unknown> = []
    for (const byte of wire) {
      reader.feed(Uint8Array.of(byte))
      for (let r = reader.next(); r !== NeedMore; r = reader.next()) out.push(summary(r))
    }
    expect(out).toEqual([
      ok([["Transfer-Encoding", "chunked"]], "abc", { chunked: true, trailers: [["T", "v"]] }),
      ok([["Content-Length", "2"]], "de", { contentLength: 2 })
    ])
  })

  it("refuses a chunk that would exceed maxBufferCapacity in feed()", () => {
    const reader = ResponseReader.make({ bufferCapacity: 64, maxBufferCapacity: 128, maxHeadBytes: 64 })
    expect(reader.feed(new Uint8Array(100))).toBe(true)
    expect(reader.feed(new Uint8Array(29))).toBe(false)
    expect(reader.buffered).toBe(100)
  })

  it("throws RangeError for invalid options (caller misuse)", () => {
    expect(() => ResponseReader.make({ maxHeadBytes: 0 })).toThrow(RangeError)
    expect(() => ResponseReader.make({ bufferCapacity: 64, maxBufferCapacity: 32 })).toThrow(RangeError)
    expect(() => ResponseReader.make({ maxHeadBytes: 1024, maxBufferCapacity: 512, bufferCapacity: 256 })).toThrow(
      RangeError
    )
    expect(() => ResponseReader.make({ maxBodySize: -1 })).toThrow(RangeError)
  })
})

describe("ResponseReader violations", () => {
  it("rejects Content-Length together with Transfer-Encoding", () => {
    expect(parse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")).toEqual({
      _tag: "ContentLengthWithTransferEncoding",
      message: "both Content-Length and Transfer-Encoding (possible request smuggling)"
    })
    expect(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n")._tag).toBe(
      "ContentLengthWithTransferEncoding"
    )
  })

  it("rejects differing Content-Length values", () => {
    expect(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n")).toEqual({
      _tag: "ConflictingContentLength",
      message: "conflicting Content-Length values 5 and 6",
      first: 5,
      second: 6
    })
    expect(parse("HTTP/1.1 200 OK\r\nContent-Length: 5, 50\r\n\r\n")).toEqual({
      _tag: "ConflictingContentLength",
      message: "conflicting Content-Length values 5 and 50",
      first: 5,
      second: 50
    })
  })

  it("rejects negative, non-digit, empty and overflowing Content-Length values", () => {
    const invalid = (why: string) => ({ _tag: "InvalidContentLength", message: `invalid Content-Length: ${why}` })
    const digits = invalid("expected decimal digits")
    expect(parse("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n")).toEqual(digits)
    expect(parse("HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n")).toEqual(digits)
    expect(parse("HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n")).toEqual(digits)
    expect(parse("HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n")).toEqual(digits)
    expect(parse("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n")).toEqual(digits)
    expect(parse("HTTP/1.1 200 OK\r\nContent-Length: 5,\r\n\r\n")).toEqual(digits)
    expect(parse("HTTP/1.1 200 OK\r\nContent-Length: 9007199254740992\r\n\r\n")).toEqual(invalid("exceeds 2^53 - 1"))
    expect(parse("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n")).toEqual(
      invalid("exceeds 2^53 - 1")
    )
  })

  it("rejects a Content-Length beyond maxBodySize before reading the body", () => {
    expect(parse("HTTP/1.1 200 OK\r\nContent-Length: 9007199254740991\r\n\r\n")).toEqual({
      _tag: "BodyTooLarge",
      message: "body of 9007199254740991 bytes exceeds the limit of 16777216 bytes",
      size: 9007199254740991,
      limit: 16777216
    })
    expect(parse("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", { maxBodySize: 10 })).toEqual({
      _tag: "BodyTooLarge",
      message: "body of 11 bytes exceeds the limit of 10 bytes",
      size: 11,
      limit: 10
    })
  })

  it("rejects a chunked body beyond maxBodySize as soon as the chunk size says so", () => {
    expect(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n5\r\n", { maxBodySize: 10 }))
      .toEqual({
        _tag: "BodyTooLarge",
        message: "body of 11 bytes exceeds the limit of 10 bytes",
        size: 11,
        limit: 10
      })
  })

  it("rejects a body delimited by close beyond maxBodySize", () => {
    expect(parse("HTTP/1.1 200 OK\r\n\r\n0123456789a", { maxBodySize: 10 })).toEqual({
      _tag: "BodyTooLarge",
      message: "body of 11 bytes exceeds the limit of 10 bytes",
      size: 11,
      limit: 10
    })
  })

  it("rejects transfer codings other than a single chunked", () => {
    const unsupported = (why: string) => ({
      _tag: "UnsupportedTransferEncoding",
      message: `unsupported Transfer-Encoding: ${why}`
    })
    expect(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n")).toEqual(
      unsupported("only a single \"chunked\" coding is supported, got \"gzip\"")
    )
    expect(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")).toEqual(
      unsupported("only a single \"chunked\" coding is supported, got \"gzip, chunked\"")
    )
    expect(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n")).toEqual(
      unsupported("only a single \"chunked\" coding is supported, got \"chunked, gzip\"")
    )
    expect(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n")).toEqual(
      unsupported("chunked applied more than once")
    )
    expect(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n")).toEqual(
      unsupported("only a single \"chunked\" coding is supported, got \"\"")
    )
    expect(parse("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")).toEqual(
      unsupported("Transfer-Encoding in an HTTP/1.0 message")
    )
  })

  it("rejects obsolete line folding", () => {
    expect(parse("HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 0\r\n\r\n")).toEqual({
      _tag: "ObsoleteLineFolding",
      message: "field line starting with whitespace at offset 25 (obsolete line folding)",
      offset: 25
    })
    expect(parse("HTTP/1.1 200 OK\r\n\tX-A: 1\r\n\r\n")._tag).toBe("ObsoleteLineFolding")
  })

  it("rejects whitespace between a field name and the colon", () => {
    expect(parse("HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello")).toEqual({
      _tag: "WhitespaceBeforeColon",
      message: "whitespace between field name and colon at offset 31",
      offset: 31
    })
  })

  it("rejects invalid field names and values", () => {
    expect(parse("HTTP/1.1 200 OK\r\n: x\r\n\r\n")).toEqual({
      _tag: "InvalidHeaderName",
      message: "empty or invalid field name at offset 17",
      offset: 17
    })
    expect(parse("HTTP/1.1 200 OK\r\nX(a): x\r\n\r\n")).toEqual({
      _tag: "InvalidHeaderName",
      message: "field name followed by byte 0x28 instead of a colon at offset 18",
      offset: 18
    })
    expect(parse("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n")).toEqual({
      _tag: "InvalidHeaderName",
      message: "field name followed by byte 0xd instead of a colon at offset 24",
      offset: 24
    })
    expect(parse("HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n")).toEqual({
      _tag: "InvalidHeaderValue",
      message: "control byte 0x0 in a field value at offset 21",
      offset: 21
    })
    expect(parse("HTTP/1.1 200 OK\r\nX: a\x7fb\r\n\r\n")._tag).toBe("InvalidHeaderValue")
  })

  it("rejects bare LF as a line end anywhere in the head, even before the head is complete", () => {
    const bareLf = (offset: number) => ({
      _tag: "BareLineFeed",
      message: `bare LF at offset ${offset}: lines must end with CR LF`,
      offset
    })
    expect(parse("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n")).toEqual(bareLf(15))
    expect(parse("HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n")).toEqual(bareLf(34))
    expect(parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\n")).toEqual(bareLf(36))
    expect(parse("HTTP/1.1 200 OK\n\n")).toEqual(bareLf(15))
    // incomplete heads: found by the incremental scan on the second feed
    const reader = ResponseReader.make()
    reader.feed(bytes("HTTP/1.1 200 OK\r\nA: b"))
    expect(reader.next()).toBe(NeedMore)
    reader.feed(bytes("\nB: c"))
    expect(reader.next()).toEqual(bareLf(21))
  })

  it("rejects a bare CR in the head", () => {
    expect(parse("HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n")).toEqual({
      _tag: "BareCarriageReturn",
      message: "bare CR at offset 21: CR must be followed by LF",
      offset: 21
    })
    expect(parse("HTTP/1.1 200 OK\rX\r\n\r\n")).toEqual({
      _tag: "BareCarriageReturn",
      message: "bare CR at offset 15: CR must be followed by LF",
      offset: 15
    })
    const reader = ResponseReader.make()
    reader.feed(bytes("HTTP/1.1 200 OK\r\nA: b"))
    expect(reader.next()).toBe(NeedMore)
    reader.feed(bytes("\r"))
    expect(reader.next()).toBe(NeedMore)
    reader.feed(bytes("x"))
    expect(reader.next()).toEqual({
      _tag: "BareCarriageReturn",
      message: "bare CR at offset 21: CR must be followed by LF",
      offset: 21
    })
  })

  it("rejects malformed status lines", () => {
    const invalid = (offset: number, why: string) => ({
      _tag: "InvalidStatusLine",
      message: `invalid status line: ${why}`,
      offset
    })
    expect(parse("HTTP/1.1 20 OK\r\n\r\n")).toEqual(invalid(9, "expected a 3-digit status code"))
    expect(parse("HTTP/1.1 2000 OK\r\n\r\n")).toEqual(invalid(12, "expected a space after the status code"))
    expect(parse("HTTP/1.1 600 Nope\r\n\r\n")).toEqual(invalid(9, "status 600 outside 100-599"))
    expect(parse("HTTP/1.1 099 Nope\r\n\r\n")).toEqual(invalid(9, "status 99 outside 100-599"))
    expect(parse("HTTP/1.1200 OK\r\n\r\n")).toEqual(invalid(8, "expected a space after the version"))
    expect(parse("HTTP/1.1  200 OK\r\n\r\n")).toEqual(invalid(9, "expected a 3-digit status code"))
    expect(parse("ICY 200 OK\r\n\r\n")).toEqual(invalid(0, "too short"))
    expect(parse("http/1.1 200 OK\r\n\r\n")).toEqual(invalid(0, "expected HTTP/d.d"))
    expect(parse("HTTP/1.1 200 O\x01K\r\n\r\n")).toEqual(invalid(14, "control byte in the reason phrase"))
  })

  it("rejects HTTP versions other than 1.x", () => {
    expect(parse("HTTP/2.0 200 OK\r\n\r\n")).toEqual({
      _tag: "UnsupportedHttpVersion",
      message: "unsupported HTTP version 2.0",
      major: 2,
      minor: 0
    })
  })

  it("rejects more than maxHeaders fields", () => {
    const head = "HTTP/1.1 204 No Content\r\n" + "A: 1\r\n".repeat(4) + "\r\n"
    expect(parse(head, { maxHeaders: 4 })).toMatchObject({ status: 204, headers: [["A", "1"], ["A", "1"], ["A", "1"], ["A", "1"]] })
    expect(parse("HTTP/1.1 204 No Content\r\n" + "A: 1\r\n".repeat(5) + "\r\n", { maxHeaders: 4 })).toEqual({
      _tag: "TooManyHeaders",
      message: "more than 4 header fields",
      limit: 4
    })
  })

  it("rejects a head beyond maxHeadBytes whether or not it is complete", () => {
    const complete = "HTTP/1.1 204 No Content\r\nX: " + "a".repeat(100) + "\r\n\r\n"
    expect(parse(complete, { maxHeadBytes: complete.length })).toMatchObject({ status: 204, headers: [["X", "a".repeat(100)]] })
    expect(parse(complete, { maxHeadBytes: complete.length - 1 })).toEqual({
      _tag: "HeadTooLarge",
      message: `message head of ${complete.length}+ bytes exceeds the limit of ${complete.length - 1} bytes`,
      size: complete.length,
      limit: complete.length - 1
    })
    // a peer dribbling header bytes: rejected once the limit is passed, without a terminator
    const reader = ResponseReader.make({ maxHeadBytes: 64 })
    reader.feed(bytes("HTTP/1.1 200 OK\r\nX: "))
    let result: ResponseReader.ResponseResult = reader.next()
    let fed = 20
    while (result === NeedMore) {
      reader.feed(bytes("a"))
      fed++
      result = reader.next()
    }
    expect(fed).toBe(65)
    expect(result).toEqual({
      _tag: "HeadTooLarge",
      message: "message head of 65+ bytes exceeds the limit of 64 bytes",
      size: 65,
      limit: 64
    })
  })

  it("rejects a dribbled head whose terminator lands past maxHeadBytes", () => {
    const reader = ResponseReader.make({ maxHeadBytes: 40 })
    reader.feed(bytes("HTTP/1.1 200 OK\r\nX: 0123456789012345678"))
    expect(reader.next()).toBe(NeedMore)
    reader.feed(bytes("\r\n\r\n"))
    expect(reader.next()).toEqual({
      _tag: "HeadTooLarge",
      message: "message head of 43+ bytes exceeds the limit of 40 bytes",
      size: 43,
      limit: 40
    })
  })
})

describe("ResponseReader chunked violations", () => {
  const chunked = (body: string) => parse(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${body}`)

  it("rejects a chunk size that is not hex", () => {
    expect(chunked("g\r\n")).toEqual({
      _tag: "InvalidChunkSize",
      message: "byte 0x67 where a hex chunk size was expected at offset 0",
      offset: 0
    })
    expect(chunked("-1\r\n")._tag).toBe("InvalidChunkSize")
    expect(chunked("\r\n")._tag).toBe("InvalidChunkSize")
    expect(chunked("0x5\r\n")._tag).toBe("InvalidChunkSize")
  })

  it("rejects a chunk size above 2^53 - 1", () => {
    expect(chunked("20000000000000\r\n")).toEqual({
      _tag: "ChunkSizeOverflow",
      message: "chunk size at offset 13 exceeds 2^53 - 1",
      offset: 13
    })
  })

  it("rejects chunk data not followed by CRLF", () => {
    expect(chunked("3\r\nabcd\r\n0\r\n\r\n")).toEqual({
      _tag: "MissingChunkCrlf",
      message: "chunk data not followed by CR LF at offset 6",
      offset: 6
    })
    expect(chunked("3\r\nabc\rX")._tag).toBe("MissingChunkCrlf")
  })

  it("rejects a bare LF after a chunk size", () => {
    expect(chunked("3\nabc\r\n")).toEqual({
      _tag: "BareLineFeed",
      message: "bare LF at offset 1: lines must end with CR LF",
      offset: 1
    })
  })

  it("rejects control bytes in chunk extensions", () => {
    expect(chunked("3;a\x00\r\nabc\r\n0\r\n\r\n")).toEqual({
      _tag: "InvalidChunkExtension",
      message: "control byte 0x0 in a chunk extension at offset 3",
      offset: 3
    })
  })

  it("rejects a \";\" without a name, an empty name and an unterminated quoted value for every split, latched", () => {
    const head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    const cases: Array<[string, ResponseReader.ResponseViolation]> = [
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
    for (const [body, violation] of cases) {
      const wire = bytes(head + body)
      for (let split = 0; split <= wire.length; split++) {
        const reader = ResponseReader.make({ bufferCapacity: 64 })
        reader.feed(wire.subarray(0, split))
        let result = reader.next()
        if (result === NeedMore) {
          reader.feed(wire.subarray(split))
          result = reader.next()
        }
        expect([body, split, result]).toEqual([body, split, violation])
        expect(reader.next()).toBe(result)
      }
    }
  })

  it("accepts the extension forms RFC 9112 allows: bare names, tokens, quoted strings, BWS, several", () => {
    expect(chunked("3 ;a; b = c\t;d=\"q \\\" ;\"\r\nabc\r\n0;last=\"\"\r\n\r\n")).toEqual(
      ok([["Transfer-Encoding", "chunked"]], "abc", { chunked: true })
    )
  })

  it("rejects invalid trailer fields with the head's rules", () => {
    expect(chunked("0\r\nBad Trailer: 1\r\n\r\n")).toEqual({
      _tag: "WhitespaceBeforeColon",
      message: "whitespace between field name and colon at offset 6",
      offset: 6
    })
  })
})
