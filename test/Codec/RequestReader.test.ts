import { describe, expect, it } from "vitest"
import { NeedMore } from "../../src/Codec/NeedMore.ts"
import * as RequestReader from "../../src/Codec/RequestReader.ts"
import { latin1 as bytes } from "../support/bytes.ts"

const summary = (result: RequestReader.RequestResult) =>
  result._tag !== "Request" ? result : {
    _tag: result._tag,
    method: result.method,
    target: result.target,
    version: result.version,
    headers: result.headers(),
    body: result.bodyText(),
    contentLength: result.contentLength,
    chunked: result.chunked,
    reusable: result.reusable,
    trailers: result.trailers()
  }

const parse = (raw: string, options: RequestReader.Options = {}) => {
  const reader = RequestReader.make(options)
  reader.feed(bytes(raw))
  return summary(reader.next())
}

const request = (method: string, target: string, headers: Array<[string, string]>, extra: object = {}) => ({
  _tag: "Request",
  method,
  target,
  version: "1.1",
  headers,
  body: "",
  contentLength: undefined,
  chunked: false,
  reusable: true,
  trailers: [],
  ...extra
})

describe("RequestReader", () => {
  it("parses a WebSocket upgrade request and leaves the frames sent right after it in the buffer", () => {
    const reader = RequestReader.make()
    reader.feed(Buffer.concat([
      bytes(
        "GET /ws?x=1&y=%20 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
      ),
      Buffer.from("818537fa213d7f9f4d5158", "hex")
    ]))
    const result = reader.next()
    expect(summary(result)).toEqual(request("GET", "/ws?x=1&y=%20", [
      ["Host", "example.com"],
      ["Upgrade", "websocket"],
      ["Connection", "Upgrade"],
      ["Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="],
      ["Sec-WebSocket-Version", "13"]
    ]))
    if (result._tag !== "Request") throw new Error(result._tag)
    expect(result.hasToken("connection", "UPGRADE")).toBe(true)
    expect(result.header("sec-websocket-key")).toBe("dGhlIHNhbXBsZSBub25jZQ==")
    expect(reader.leftover().toString("hex")).toBe("818537fa213d7f9f4d5158")
    expect(reader.buffered).toBe(11)
  })

  it("reads Content-Length and chunked bodies and pipelined requests", () => {
    const reader = RequestReader.make()
    reader.feed(bytes(
      "POST /order HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n{\"qty\":100}" +
        "PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\nDigest: z\r\n\r\n" +
        "DELETE /y HTTP/1.0\r\nContent-Length: 0\r\n\r\n"
    ))
    expect(summary(reader.next())).toEqual(
      request("POST", "/order", [["Host", "h"], ["Content-Length", "11"]], { body: "{\"qty\":100}", contentLength: 11 })
    )
    expect(summary(reader.next())).toEqual(
      request("PUT", "/x", [["Host", "h"], ["Transfer-Encoding", "chunked"]], {
        body: "abcd",
        chunked: true,
        trailers: [["Digest", "z"]]
      })
    )
    expect(summary(reader.next())).toEqual(
      request("DELETE", "/y", [["Content-Length", "0"]], { version: "1.0", contentLength: 0, reusable: false })
    )
    expect(reader.next()).toBe(NeedMore)
  })

  it("treats a request without Content-Length or Transfer-Encoding as bodiless", () => {
    expect(parse("POST /a HTTP/1.1\r\nHost: h\r\n\r\n")).toEqual(request("POST", "/a", [["Host", "h"]]))
  })

  it("accepts absolute-form, authority-form and asterisk-form targets", () => {
    expect(parse("GET http://a.b/c?d HTTP/1.1\r\n\r\n")).toEqual(request("GET", "http://a.b/c?d", []))
    expect(parse("CONNECT a.b:443 HTTP/1.1\r\n\r\n")).toEqual(request("CONNECT", "a.b:443", []))
    expect(parse("OPTIONS * HTTP/1.1\r\n\r\n")).toEqual(request("OPTIONS", "*", []))
  })

  it("rejects malformed request lines", () => {
    const invalid = (offset: number, why: string) => ({
      _tag: "InvalidRequestLine",
      message: `invalid request line: ${why}`,
      offset
    })
    expect(parse(" GET / HTTP/1.1\r\n\r\n")).toEqual(invalid(0, "expected a method token"))
    expect(parse("GET  / HTTP/1.1\r\n\r\n")).toEqual(invalid(4, "expected a request target"))
    expect(parse("GET /a b HTTP/1.1\r\n\r\n")).toEqual(invalid(7, "expected HTTP/d.d at the end"))
    expect(parse("GET /\x7f HTTP/1.1\r\n\r\n")).toEqual(invalid(5, "invalid byte in the request target"))
    expect(parse("GET / HTTP/1.1 \r\n\r\n")).toEqual(invalid(6, "expected HTTP/d.d at the end"))
    expect(parse("GET / HTTP/11\r\n\r\n")).toEqual(invalid(6, "expected HTTP/d.d at the end"))
    expect(parse("G(T / HTTP/1.1\r\n\r\n")).toEqual(invalid(1, "expected a space after the method"))
    expect(parse("GET /\r\n\r\n")).toEqual(invalid(5, "invalid byte in the request target"))
  })

  it("rejects the smuggling signatures with the status a server should answer", () => {
    const both = parse("POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    expect(both).toEqual({
      _tag: "ContentLengthWithTransferEncoding",
      message: "both Content-Length and Transfer-Encoding (possible request smuggling)"
    })
    expect(RequestReader.statusFor(both as RequestReader.RequestViolation)).toBe(400)
    const gzip = parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n")
    expect(gzip._tag).toBe("UnsupportedTransferEncoding")
    expect(RequestReader.statusFor(gzip as RequestReader.RequestViolation)).toBe(501)
    expect(parse("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")._tag).toBe(
      "ConflictingContentLength"
    )
    expect(parse("POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n")._tag).toBe("WhitespaceBeforeColon")
    expect(parse("POST / HTTP/1.1\r\nX: 1\r\n Transfer-Encoding: chunked\r\n\r\n")._tag).toBe("ObsoleteLineFolding")
    expect(parse("GET / HTTP/1.1\nHost: h\r\n\r\n")._tag).toBe("BareLineFeed")
  })

  it("rejects chunk extensions outside RFC 9112 §7.1.1 with 400 and accepts the valid forms (issue 16)", () => {
    const chunked = (body: string) => parse(`POST /o HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n${body}`)
    const unterminated = chunked("5;a=\"def; ghi\r\nhello\r\n0\r\n\r\n")
    expect(unterminated).toEqual({
      _tag: "InvalidChunkExtension",
      message: "unterminated quoted string in a chunk extension at offset 13 (a quoted string cannot hold CR or LF)",
      offset: 13
    })
    expect(RequestReader.statusFor(unterminated as RequestReader.RequestViolation)).toBe(400)
    expect(chunked("2;\r\naa\r\n0\r\n\r\n")._tag).toBe("InvalidChunkExtension")
    expect(chunked("5;=x\r\nhello\r\n0\r\n\r\n")._tag).toBe("InvalidChunkExtension")
    expect(chunked("5 ; n = \"q \\\" v\" ;t=1;e\r\nhello\r\n0\r\n\r\n")).toEqual(
      request("POST", "/o", [["Transfer-Encoding", "chunked"]], { body: "hello", chunked: true })
    )
  })

  it("maps version, size and body limits to 505, 431 and 413", () => {
    const version = parse("GET / HTTP/2.0\r\n\r\n")
    expect(version).toEqual({
      _tag: "UnsupportedHttpVersion",
      message: "unsupported HTTP version 2.0",
      major: 2,
      minor: 0
    })
    expect(RequestReader.statusFor(version as RequestReader.RequestViolation)).toBe(505)
    const head = parse("GET / HTTP/1.1\r\nX: " + "a".repeat(100), { maxHeadBytes: 64 })
    expect(head).toEqual({
      _tag: "HeadTooLarge",
      message: "message head of 119+ bytes exceeds the limit of 64 bytes",
      size: 119,
      limit: 64
    })
    expect(RequestReader.statusFor(head as RequestReader.RequestViolation)).toBe(431)
    const fields = parse("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n", { maxHeaders: 1 })
    expect(fields).toEqual({ _tag: "TooManyHeaders", message: "more than 1 header fields", limit: 1 })
    expect(RequestReader.statusFor(fields as RequestReader.RequestViolation)).toBe(431)
    const body = parse("POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n", { maxBodySize: 99 })
    expect(body).toEqual({
      _tag: "BodyTooLarge",
      message: "body of 100 bytes exceeds the limit of 99 bytes",
      size: 100,
      limit: 99
    })
    expect(RequestReader.statusFor(body as RequestReader.RequestViolation)).toBe(413)
  })

  it("hands over the leftover bytes as an owned copy and starts clean afterwards", () => {
    const reader = RequestReader.make()
    reader.feed(bytes("GET /ws HTTP/1.1\r\nHost: h\r\n\r\n\x81\x00"))
    expect(reader.next()._tag).toBe("Request")
    const leftover = reader.takeLeftover()
    expect(Buffer.from(leftover).toString("hex")).toBe("8100")
    expect(reader.buffered).toBe(0)
    expect(reader.next()).toBe(NeedMore)
  })

  it("reports UnexpectedEndOfInput when the client closes mid-request", () => {
    const reader = RequestReader.make()
    reader.feed(bytes("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab"))
    expect(reader.next()).toBe(NeedMore)
    reader.endOfInput()
    expect(reader.next()).toEqual({
      _tag: "UnexpectedEndOfInput",
      message: "input ended after 40 bytes of an incomplete message",
      received: 40
    })
  })
})
