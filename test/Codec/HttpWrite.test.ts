import * as fc from "fast-check"
import * as http from "node:http"
import * as net from "node:net"
import { describe, expect, it } from "vitest"
import * as HttpWrite from "../../src/Codec/HttpWrite.ts"
import { closeHttp, listen } from "../support/httpServer.ts"

const text = (bytes: Uint8Array, n?: number): string => Buffer.from(bytes.subarray(0, n)).toString("latin1")

const encodeRequestText = (head: HttpWrite.RequestHead, body?: HttpWrite.Body): string => {
  const out = HttpWrite.encodeRequest(head, body)
  if (!(out instanceof Uint8Array)) throw new Error(out.message)
  return text(out)
}

describe("writeRequest", () => {
  it("writes the request line, the headers in order and the blank line for a bodyless GET", () => {
    const target = new Uint8Array(256)
    const head = { method: "GET", path: "/chat?x=1", headers: [["Host", "example.com"], ["Upgrade", "websocket"]] as const }
    const n = HttpWrite.writeRequest(target, 0, head)
    expect(n).toBe(HttpWrite.requestLength(head))
    expect(text(target, n as number)).toBe("GET /chat?x=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\r\n")
  })

  it("writes at the offset and returns the bytes written, not the end position", () => {
    const target = new Uint8Array(64).fill(0x2e)
    const n = HttpWrite.writeRequest(target, 5, { method: "GET", path: "/", headers: [] })
    expect(n).toBe(18)
    expect(text(target, 23)).toBe(".....GET / HTTP/1.1\r\n\r\n")
  })

  it("adds Content-Length for a byte body, a UTF-8 string body and an explicitly empty body", () => {
    expect(encodeRequestText({ method: "POST", path: "/o", headers: [["Host", "h"]] }, Uint8Array.of(0x61, 0x62)))
      .toBe("POST /o HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nab")
    expect(encodeRequestText({ method: "POST", path: "/o", headers: [] }, "é€"))
      .toBe(`POST /o HTTP/1.1\r\nContent-Length: 5\r\n\r\n${Buffer.from("é€").toString("latin1")}`)
    expect(encodeRequestText({ method: "POST", path: "/o", headers: [] }, ""))
      .toBe("POST /o HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
  })

  it("leaves framing to the caller when the headers already hold Content-Length or Transfer-Encoding", () => {
    expect(encodeRequestText({ method: "POST", path: "/", headers: [["content-LENGTH", "3"]] }, "abc"))
      .toBe("POST / HTTP/1.1\r\ncontent-LENGTH: 3\r\n\r\nabc")
    expect(encodeRequestText({ method: "POST", path: "/", headers: [["Transfer-Encoding", "chunked"]] }, "0\r\n\r\n"))
      .toBe("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
  })

  it("writes an empty path as /", () => {
    expect(encodeRequestText({ method: "OPTIONS", path: "", headers: [] })).toBe("OPTIONS / HTTP/1.1\r\n\r\n")
  })

  it("keeps latin1 obs-text in header values and HTAB inside a value", () => {
    expect(encodeRequestText({ method: "GET", path: "/", headers: [["X-A", "caf\u00e9\tb"]] }))
      .toBe("GET / HTTP/1.1\r\nX-A: caf\u00e9\tb\r\n\r\n")
  })

  it("rejects CR, LF and NUL in every field with CrlfInjection naming the field and index", () => {
    const cases: ReadonlyArray<[HttpWrite.RequestHead, HttpWrite.Field, number, string]> = [
      [{ method: "GE\rT", path: "/", headers: [] }, "method", 2, "CR"],
      [{ method: "GET", path: "/a\r\nX: y", headers: [] }, "path", 2, "CR"],
      [{ method: "GET", path: "/", headers: [["X-A\n", "v"]] }, "header name", 3, "LF"],
      [{ method: "GET", path: "/", headers: [["X-A", "v\r\nInjected: 1"]] }, "header value", 1, "CR"],
      [{ method: "GET", path: "/", headers: [["X-A", "a\u0000"]] }, "header value", 1, "NUL"]
    ]
    for (const [head, field, index, name] of cases) {
      expect(HttpWrite.writeRequest(new Uint8Array(128), 0, head)).toEqual({
        _tag: "CrlfInjection",
        field,
        index,
        message: `${field} holds ${name} at index ${index}`
      })
    }
  })

  it("rejects a method or header name that is not a token with InvalidToken", () => {
    expect(HttpWrite.writeRequest(new Uint8Array(128), 0, { method: "G T", path: "/", headers: [] })).toEqual({
      _tag: "InvalidToken",
      field: "method",
      index: 1,
      message: `method "G T" is not a token: U+0020 at index 1`
    })
    expect(HttpWrite.writeRequest(new Uint8Array(128), 0, { method: "GET", path: "/", headers: [["", "v"]] })).toEqual({
      _tag: "InvalidToken",
      field: "header name",
      index: 0,
      message: "header name is empty"
    })
    expect(HttpWrite.writeRequest(new Uint8Array(128), 0, { method: "GET", path: "/", headers: [["X:Y", "v"]] }))
      .toMatchObject({ _tag: "InvalidToken", field: "header name", index: 1 })
  })

  it("rejects a space in the path and characters above U+00FF or controls in a value with InvalidCharacter", () => {
    expect(HttpWrite.writeRequest(new Uint8Array(128), 0, { method: "GET", path: "/a b", headers: [] })).toEqual({
      _tag: "InvalidCharacter",
      field: "path",
      index: 2,
      code: 0x20,
      message: "path holds U+0020 at index 2, which HTTP/1.1 cannot carry there"
    })
    expect(HttpWrite.writeRequest(new Uint8Array(128), 0, { method: "GET", path: "/", headers: [["X", "\u20ac"]] }))
      .toMatchObject({ _tag: "InvalidCharacter", field: "header value", index: 0, code: 0x20ac })
    expect(HttpWrite.writeRequest(new Uint8Array(128), 0, { method: "GET", path: "/", headers: [["X", "a\u007f"]] }))
      .toMatchObject({ _tag: "InvalidCharacter", field: "header value", index: 1, code: 0x7f })
  })

  it("reports BufferTooSmall with the exact need and writes nothing", () => {
    const target = new Uint8Array(30)
    const head = { method: "POST", path: "/order", headers: [["Host", "h"]] as const }
    expect(HttpWrite.requestLength(head, "abc")).toBe(55)
    expect(HttpWrite.writeRequest(target, 2, head, "abc")).toEqual({
      _tag: "BufferTooSmall",
      needed: 55,
      available: 28,
      message: "the message needs 55 bytes but only 28 are available"
    })
    expect(target.every((b) => b === 0)).toBe(true)
  })

  it("throws RangeError for an offset outside the target (caller misuse)", () => {
    expect(() => HttpWrite.writeRequest(new Uint8Array(4), 5, { method: "GET", path: "/", headers: [] })).toThrow(RangeError)
  })
})

describe("writeResponse", () => {
  const encode = (head: HttpWrite.ResponseHead, body?: HttpWrite.Body): string => {
    const out = HttpWrite.encodeResponse(head, body)
    if (!(out instanceof Uint8Array)) throw new Error(out.message)
    return text(out)
  }

  it("writes 101 with the default reason and no Content-Length", () => {
    expect(encode({ status: 101, headers: [["Upgrade", "websocket"], ["Connection", "Upgrade"]] }))
      .toBe("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
  })

  it("adds Content-Length to a 400 with a text body, and Content-Length: 0 to a bodyless 200", () => {
    expect(encode({ status: 400, reason: "Bad Request", headers: [["Connection", "close"]] }, "bad key"))
      .toBe("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 7\r\n\r\nbad key")
    expect(encode({ status: 200, headers: [] })).toBe("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
  })

  it("writes no Content-Length for 204 and 304, and an empty reason for an unknown status", () => {
    expect(encode({ status: 204, headers: [] })).toBe("HTTP/1.1 204 No Content\r\n\r\n")
    expect(encode({ status: 304, headers: [] })).toBe("HTTP/1.1 304 Not Modified\r\n\r\n")
    expect(encode({ status: 599, headers: [] }, "x")).toBe("HTTP/1.1 599 \r\nContent-Length: 1\r\n\r\nx")
  })

  it("rejects CR/LF in the reason and a bad header with typed errors", () => {
    expect(HttpWrite.writeResponse(new Uint8Array(128), 0, { status: 200, reason: "OK\r\nX: 1", headers: [] }))
      .toEqual({ _tag: "CrlfInjection", field: "reason", index: 2, message: "reason holds CR at index 2" })
    expect(HttpWrite.writeResponse(new Uint8Array(128), 0, { status: 200, headers: [["Set Cookie", "a"]] }))
      .toMatchObject({ _tag: "InvalidToken", field: "header name", index: 3 })
  })

  it("reports BufferTooSmall with the exact need", () => {
    expect(HttpWrite.writeResponse(new Uint8Array(10), 0, { status: 200, headers: [] })).toEqual({
      _tag: "BufferTooSmall",
      needed: 38,
      available: 10,
      message: "the message needs 38 bytes but only 10 are available"
    })
  })

  it("throws RangeError for a bad status or a body on a 204 (caller misuse)", () => {
    expect(() => HttpWrite.writeResponse(new Uint8Array(64), 0, { status: 99, headers: [] })).toThrow(RangeError)
    expect(() => HttpWrite.writeResponse(new Uint8Array(64), 0, { status: 200.5, headers: [] })).toThrow(RangeError)
    expect(() => HttpWrite.writeResponse(new Uint8Array(64), 0, { status: 204, headers: [] }, "x")).toThrow(RangeError)
  })
})

describe("HttpWrite against node:http", () => {
  it("writes a request node:http parses into the same method, url, headers and body", async () => {
    const server = http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        const json = JSON.stringify({ method: req.method, url: req.url, raw: req.rawHeaders, body: Buffer.concat(chunks).toString() })
        res.writeHead(200, { "Content-Length": Buffer.byteLength(json), "Connection": "close" })
        res.end(json)
      })
    })
    const socket = net.connect(await listen(server), "127.0.0.1")
    try {
      const out = HttpWrite.encodeRequest(
        { method: "POST", path: "/chat?room=1", headers: [["Host", "example.com"], ["X-Key", "v a l"]] },
        "héllo"
      )
      if (!(out instanceof Uint8Array)) throw new Error(out.message)
      const chunks: Array<Buffer> = []
      socket.on("data", (c: Buffer) => chunks.push(c))
      const ended = new Promise<void>((resolve) => socket.on("end", () => resolve()))
      socket.write(out)
      await ended
      const answer = Buffer.concat(chunks).toString()
      expect(JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4))).toEqual({
        method: "POST",
        url: "/chat?room=1",
        raw: ["Host", "example.com", "X-Key", "v a l", "Content-Length", "6"],
        body: "héllo"
      })
    } finally {
      socket.destroy()
      await closeHttp(server)
    }
  })

  it("writes a response an http.get client parses into the same status, reason, headers and body", async () => {
    const out = HttpWrite.encodeResponse(
      { status: 426, headers: [["Sec-WebSocket-Version", "13"], ["Connection", "close"]] },
      "upgrade required"
    )
    if (!(out instanceof Uint8Array)) throw new Error(out.message)
    const server = net.createServer((socket) => {
      socket.once("data", () => socket.end(out))
    })
    const port = await listen(server)
    try {
      const got = await new Promise<{ status: number; reason: string; raw: Array<string>; body: string }>(
        (resolve, reject) => {
          http.get({ host: "127.0.0.1", port, path: "/", agent: false }, (res) => {
            const chunks: Array<Buffer> = []
            res.on("data", (c: Buffer) => chunks.push(c))
            res.on("end", () =>
              resolve({
                status: res.statusCode!,
                reason: res.statusMessage!,
                raw: res.rawHeaders,
                body: Buffer.concat(chunks).toString()
              }))
          }).on("error", reject)
        }
      )
      expect(got).toEqual({
        status: 426,
        reason: "Upgrade Required",
        raw: ["Sec-WebSocket-Version", "13", "Connection", "close", "Content-Length", "16"],
        body: "upgrade required"
      })
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })
})

describe("HttpWrite decimal helpers", () => {
  it("count and write the digits of every safe integer like String(n) (property, every width)", () => {
    const edges = [0, 9, 10, 99, 100, 9999, 10000, 99999999, 100000000, 999999999, 1e9, 1e15 - 1, 1e15, Number.MAX_SAFE_INTEGER]
    const buf = new Uint8Array(20)
    const check = (n: number) => {
      expect(HttpWrite.decimalWidth(n)).toBe(String(n).length)
      const end = HttpWrite.writeDecimal(buf, 2, n)
      expect(text(buf.subarray(2), end - 2)).toBe(String(n))
    }
    edges.forEach(check)
    fc.assert(fc.property(fc.oneof(fc.nat(), fc.maxSafeNat()), check), { numRuns: 500 })
  })
})
