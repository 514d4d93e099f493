import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as RequestWriter from "../../src/Codec/RequestWriter.ts"

const HOST = "api.example.com"
const DEFAULTS = [["X-API-KEY", "k3y"], ["User-Agent", "nexus/0.1"]] as const
const HEAD_TAIL = `HTTP/1.1\r\nHost: ${HOST}\r\nX-API-KEY: k3y\r\nUser-Agent: nexus/0.1\r\n`

const writer = (options: Partial<RequestWriter.Options> = {}) =>
  RequestWriter.make({ host: HOST, basePath: "/api/v3", defaultHeaders: DEFAULTS, ...options })

/** The wire text of a finished request, failing the test on an error. */
const wire = (result: RequestWriter.Request | RequestWriter.RequestError): string => {
  if (result._tag !== "Request") throw new Error(`${result._tag}: ${result.message}`)
  return Buffer.from(result.bytes).toString("latin1")
}

describe("RequestWriter request line, Host and default headers", () => {
  it("writes a GET with the base path, Host, the default headers in order and no Content-Length", () => {
    const result = writer().get("/ticker").finish()
    expect(result).toEqual({
      _tag: "Request",
      bytes: expect.any(Uint8Array),
      method: "GET",
      isIdempotent: true
    })
    expect(wire(result)).toBe(`GET /api/v3/ticker ${HEAD_TAIL}\r\n`)
  })

  it("writes every verb with the right Content-Length rule: none for GET/HEAD/DELETE, 0 for POST/PUT/PATCH", () => {
    const w = writer()
    expect(wire(w.head("/a").finish())).toBe(`HEAD /api/v3/a ${HEAD_TAIL}\r\n`)
    expect(wire(w.delete("/a").finish())).toBe(`DELETE /api/v3/a ${HEAD_TAIL}\r\n`)
    expect(wire(w.post("/a").finish())).toBe(`POST /api/v3/a ${HEAD_TAIL}Content-Length: 0\r\n\r\n`)
    expect(wire(w.put("/a").finish())).toBe(`PUT /api/v3/a ${HEAD_TAIL}Content-Length: 0\r\n\r\n`)
    expect(wire(w.patch("/a").finish())).toBe(`PATCH /api/v3/a ${HEAD_TAIL}Content-Length: 0\r\n\r\n`)
  })

  it("reports method and idempotency for the connection", () => {
    const w = writer()
    const summary = (r: RequestWriter.Request | RequestWriter.RequestError) =>
      r._tag === "Request" ? [r.method, r.isIdempotent] : r._tag
    expect(summary(w.get("/").finish())).toEqual(["GET", true])
    expect(summary(w.head("/").finish())).toEqual(["HEAD", true])
    expect(summary(w.put("/").finish())).toEqual(["PUT", true])
    expect(summary(w.delete("/").finish())).toEqual(["DELETE", true])
    expect(summary(w.post("/").finish())).toEqual(["POST", false])
    expect(summary(w.patch("/").finish())).toEqual(["PATCH", false])
    expect(summary(w.request("OPTIONS", "/").finish())).toEqual(["OPTIONS", true])
    expect(summary(w.request("PURGE", "/").finish())).toEqual(["PURGE", false])
  })

  it("writes a custom method, with Content-Length: 0 only for POST/PUT/PATCH", () => {
    const w = RequestWriter.make({ host: "h" })
    expect(wire(w.request("OPTIONS", "*").finish())).toBe("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n")
    expect(wire(w.request("POST", "/x").finish())).toBe("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n")
  })

  it("prefixes the base path verbatim and writes an empty target as /", () => {
    expect(wire(RequestWriter.make({ host: "h" }).get("").finish())).toBe("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    expect(wire(RequestWriter.make({ host: "h", basePath: "/v1" }).get("").finish())).toBe(
      "GET /v1 HTTP/1.1\r\nHost: h\r\n\r\n"
    )
    expect(wire(RequestWriter.make({ host: "h", basePath: "/v1/" }).get("x").finish())).toBe(
      "GET /v1/x HTTP/1.1\r\nHost: h\r\n\r\n"
    )
  })

  it("writes a Host with a non-default port and an IPv6 literal as given", () => {
    expect(wire(RequestWriter.make({ host: "[::1]:8080" }).get("/").finish())).toBe(
      "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"
    )
  })

  it("reuses its buffer: a new request overwrites the previous request's bytes", () => {
    const w = RequestWriter.make({ host: "h" })
    const first = w.get("/first").finish()
    if (first._tag !== "Request") throw new Error(first._tag)
    const firstBytes = first.bytes
    expect(wire(w.get("/2nd").finish())).toBe("GET /2nd HTTP/1.1\r\nHost: h\r\n\r\n")
    expect(Buffer.from(firstBytes).toString("latin1").startsWith("GET /2nd HTTP/1.1")).toBe(true)
  })
})

describe("RequestWriter query", () => {
  it("adds ? before the first parameter and & before the others", () => {
    expect(wire(writer().get("/depth").query("symbol", "BTCUSDT").query("limit", "5").finish())).toBe(
      `GET /api/v3/depth?symbol=BTCUSDT&limit=5 ${HEAD_TAIL}\r\n`
    )
  })

  it("continues with & when the path or base path already holds a ?", () => {
    expect(wire(writer().get("/depth?symbol=X").query("limit", "5").finish())).toBe(
      `GET /api/v3/depth?symbol=X&limit=5 ${HEAD_TAIL}\r\n`
    )
    expect(wire(RequestWriter.make({ host: "h", basePath: "/q?v=1" }).get("").query("a", "b").finish())).toBe(
      "GET /q?v=1&a=b HTTP/1.1\r\nHost: h\r\n\r\n"
    )
  })

  it("keeps RFC 3986 unreserved characters and percent-encodes everything else as upper-case UTF-8 hex", () => {
    const unreserved = "AZaz09-._~"
    expect(wire(RequestWriter.make({ host: "h" }).get("/").query(unreserved, "a b&c=d/e?f#g+h%i").finish())).toBe(
      `GET /?${unreserved}=a%20b%26c%3Dd%2Fe%3Ff%23g%2Bh%25i HTTP/1.1\r\nHost: h\r\n\r\n`
    )
    expect(wire(RequestWriter.make({ host: "h" }).get("/").query("é", "€😀").finish())).toBe(
      "GET /?%C3%A9=%E2%82%AC%F0%9F%98%80 HTTP/1.1\r\nHost: h\r\n\r\n"
    )
  })

  it("encodes a lone surrogate as U+FFFD and allows empty keys and values", () => {
    expect(wire(RequestWriter.make({ host: "h" }).get("/").query("\ud800", "").query("", "x").finish())).toBe(
      "GET /?%EF%BF%BD=&=x HTTP/1.1\r\nHost: h\r\n\r\n"
    )
  })

  it("encodes any string exactly like encodeURIComponent plus !'()* (property)", () => {
    const strict = (s: string) =>
      encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    const w = RequestWriter.make({ host: "h" })
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 40 }), fc.string({ unit: "binary", maxLength: 40 }), (k, v) => {
        fc.pre(!/[\r\n\0]/.test(k + v))
        expect(wire(w.get("/").query(k, v).finish())).toBe(`GET /?${strict(k)}=${strict(v)} HTTP/1.1\r\nHost: h\r\n\r\n`)
      }),
      { numRuns: 300 }
    )
  })
})

describe("RequestWriter headers", () => {
  it("writes per-request headers after the defaults and before Content-Length", () => {
    expect(
      wire(writer().post("/order").header("Content-Type", "application/json").header("X-Req", "7").body("{}").finish())
    ).toBe(`POST /api/v3/order ${HEAD_TAIL}Content-Type: application/json\r\nX-Req: 7\r\nContent-Length: 2\r\n\r\n{}`)
  })

  it("writes a header repeated over requests the same way once its line is remembered, and checks a changed value again", () => {
    const w = RequestWriter.make({ host: "h" })
    const send = (value: string) => w.get("/").header("X-Key", value).header("X-Trace", value + "!").finish()
    for (let i = 0; i < 4; i++) expect(wire(send("abc"))).toBe("GET / HTTP/1.1\r\nHost: h\r\nX-Key: abc\r\nX-Trace: abc!\r\n\r\n")
    expect(send("a\r\nX-Evil: 1")).toEqual({
      _tag: "CrlfInjection",
      field: "header value",
      index: 1,
      message: "header value holds CR at index 1"
    })
    expect(wire(send("abd"))).toBe("GET / HTTP/1.1\r\nHost: h\r\nX-Key: abd\r\nX-Trace: abd!\r\n\r\n")
    expect(wire(send("abc"))).toBe("GET / HTTP/1.1\r\nHost: h\r\nX-Key: abc\r\nX-Trace: abc!\r\n\r\n")
  })

  it("reports RequestTooLarge for a remembered header line that no longer fits", () => {
    const w = RequestWriter.make({ host: "h", capacity: 64 })
    for (let i = 0; i < 3; i++) wire(w.get("/").header("X-Key", "0123456789").finish())
    const built = w.get("/" + "p".repeat(20)).header("X-Key", "0123456789").finish()
    expect(built._tag).toBe("RequestTooLarge")
  })

  it("writes a query then headers in one request", () => {
    expect(wire(RequestWriter.make({ host: "h" }).delete("/order").query("id", "42").header("X-A", "b").finish()))
      .toBe("DELETE /order?id=42 HTTP/1.1\r\nHost: h\r\nX-A: b\r\n\r\n")
  })
})

describe("RequestWriter bodies", () => {
  it("sends a byte body with its length", () => {
    expect(wire(RequestWriter.make({ host: "h" }).put("/x").body(Uint8Array.of(0, 1, 0xff)).finish())).toBe(
      "PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n\x00\x01\xff"
    )
  })

  it("sends a string body as UTF-8 with its byte length, and an empty body as Content-Length: 0", () => {
    const w = RequestWriter.make({ host: "h" })
    expect(wire(w.post("/x").body("é€").finish())).toBe(
      `POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n${Buffer.from("é€").toString("latin1")}`
    )
    expect(wire(w.post("/x").body("").finish())).toBe("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n")
    expect(wire(w.get("/x").body(new Uint8Array(0)).finish())).toBe(
      "GET /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"
    )
  })

  it("sends a string body whose byte length has fewer digits than its worst case (gap closed)", () => {
    const body = "a".repeat(40) // worst case 120 bytes (3 digits), real 40 (2 digits)
    expect(wire(RequestWriter.make({ host: "h" }).post("/x").body(body).finish())).toBe(
      `POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 40\r\n\r\n${body}`
    )
  })

  it("sends a string body near the end of the buffer, measuring it exactly", () => {
    const head = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 20\r\n\r\n"
    const body = "b".repeat(20)
    const w = RequestWriter.make({ host: "h", capacity: head.length + 20 })
    expect(wire(w.post("/x").body(body).finish())).toBe(head + body)
    expect(w.post("/x").body(body + "!").finish()).toEqual({
      _tag: "RequestTooLarge",
      needed: head.length + 21,
      capacity: head.length + 20,
      message: `the POST request needs ${head.length + 21} bytes but the buffer holds ${head.length + 20}`
    })
  })

  it("lets bodyWriter serialize in place and fills in Content-Length", () => {
    const w = writer()
    let offered = -1
    const result = w.post("/order").header("Content-Type", "application/json").bodyWriter((buf, offset, available) => {
      offered = available
      return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).write(`{"qty":"0.5"}`, offset, "latin1")
    }).finish()
    expect(wire(result)).toBe(
      `POST /api/v3/order ${HEAD_TAIL}Content-Type: application/json\r\nContent-Length: 13\r\n\r\n{"qty":"0.5"}`
    )
    expect(offered).toBeGreaterThan(32 * 1024 - 200)
  })

  it("closes the bodyWriter digit gap by moving the body when it is smaller than the head", () => {
    const w = RequestWriter.make({ host: "h", capacity: 1000 }) // 3 digits reserved
    const result = w.post("/x").bodyWriter((buf, offset) => {
      buf[offset] = 0x5a
      return 1
    }).finish()
    expect(wire(result)).toBe("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nZ")
    expect((result as RequestWriter.Request).bytes.byteOffset).toBe(0)
  })

  it("closes the bodyWriter digit gap by moving the head when the body is larger", () => {
    const w = RequestWriter.make({ host: "h", capacity: 1000 }) // 3 digits reserved, 2 used
    const body = "x".repeat(60)
    const result = w.post("/x").bodyWriter((buf, offset) => {
      buf.set(Buffer.from(body), offset)
      return body.length
    }).finish()
    expect(wire(result)).toBe(`POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 60\r\n\r\n${body}`)
    expect((result as RequestWriter.Request).bytes.byteOffset).toBe(1)
    // the next request starts at the front again
    expect((w.get("/").finish() as RequestWriter.Request).bytes.byteOffset).toBe(0)
  })

  it("writes a bodyWriter body that uses every digit it reserved", () => {
    const head = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: "
    const capacity = 200 // available after the head: 200 - 44 - 3 - 4 = 149 (3 digits)
    const w = RequestWriter.make({ host: "h", capacity })
    const result = w.post("/x").bodyWriter((buf, offset, available) => {
      buf.fill(0x61, offset, offset + available)
      return available
    }).finish()
    const n = capacity - head.length - 3 - 4
    expect(wire(result)).toBe(`${head}${n}\r\n\r\n${"a".repeat(n)}`)
  })

  it("reports RequestTooLarge without needed when bodyWriter returns -1", () => {
    expect(RequestWriter.make({ host: "h", capacity: 100 }).post("/x").bodyWriter(() => -1).finish()).toEqual({
      _tag: "RequestTooLarge",
      capacity: 100,
      message: "the POST request body does not fit in the 100-byte buffer"
    })
  })

  it("throws RangeError when bodyWriter claims more than it was offered (caller misuse)", () => {
    const w = RequestWriter.make({ host: "h", capacity: 100 })
    expect(() => w.post("/x").bodyWriter((_b, _o, available) => available + 1)).toThrow(RangeError)
    expect(() => w.post("/x").bodyWriter(() => 1.5)).toThrow(RangeError)
  })

  it("announces a bodyFixed length and lets fill write exactly there", () => {
    const w = RequestWriter.make({ host: "h" })
    const result = w.patch("/x").bodyFixed(4, (buf, offset) => buf.set([0x31, 0x32, 0x33, 0x34], offset)).finish()
    expect(wire(result)).toBe("PATCH /x HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\n1234")
    expect(() => w.post("/x").bodyFixed(-1, () => {})).toThrow(RangeError)
  })

  it("reports RequestTooLarge with the exact need for a bodyFixed that does not fit, without calling fill", () => {
    const w = RequestWriter.make({ host: "h", capacity: 64 })
    let called = false
    expect(w.post("/x").bodyFixed(100, () => (called = true)).finish()).toEqual({
      _tag: "RequestTooLarge",
      needed: 27 + 23 + 100,
      capacity: 64,
      message: "the POST request needs 150 bytes but the buffer holds 64"
    })
    expect(called).toBe(false)
  })
})

describe("RequestWriter errors", () => {
  const cases: ReadonlyArray<
    [string, (w: RequestWriter.RequestWriter) => RequestWriter.Ready, RequestWriter.RequestError]
  > = [
    ["CR in the path", (w) => w.get("/a\r\nX: 1"), {
      _tag: "CrlfInjection",
      field: "path",
      index: 2,
      message: "path holds CR at index 2"
    }],
    ["LF in a query key", (w) => w.get("/").query("a\nb", "1"), {
      _tag: "CrlfInjection",
      field: "query key",
      index: 1,
      message: "query key holds LF at index 1"
    }],
    ["NUL in a query value", (w) => w.get("/").query("a", "\u0000"), {
      _tag: "CrlfInjection",
      field: "query value",
      index: 0,
      message: "query value holds NUL at index 0"
    }],
    ["CR LF in a header value", (w) => w.post("/").header("X-A", "1\r\nX-Evil: 2"), {
      _tag: "CrlfInjection",
      field: "header value",
      index: 1,
      message: "header value holds CR at index 1"
    }],
    ["LF in a header name", (w) => w.post("/").header("X-A\n", "1"), {
      _tag: "CrlfInjection",
      field: "header name",
      index: 3,
      message: "header name holds LF at index 3"
    }],
    ["CR in a custom method", (w) => w.request("GET\r", "/"), {
      _tag: "CrlfInjection",
      field: "method",
      index: 3,
      message: "method holds CR at index 3"
    }],
    ["a method that is not a token", (w) => w.request("GET /x", "/"), {
      _tag: "InvalidToken",
      field: "method",
      index: 3,
      message: `method "GET /x" is not a token: U+0020 at index 3`
    }],
    ["a header name that is not a token", (w) => w.get("/").header("X A", "1"), {
      _tag: "InvalidToken",
      field: "header name",
      index: 1,
      message: `header name "X A" is not a token: U+0020 at index 1`
    }],
    ["an empty header name", (w) => w.get("/").header("", "1"), {
      _tag: "InvalidToken",
      field: "header name",
      index: 0,
      message: "header name is empty"
    }],
    ["a space in the path", (w) => w.get("/a b"), {
      _tag: "InvalidCharacter",
      field: "path",
      index: 2,
      code: 0x20,
      message: "path holds U+0020 at index 2, which HTTP/1.1 cannot carry there"
    }],
    ["a character above U+00FF in a header value", (w) => w.get("/").header("X-A", "€"), {
      _tag: "InvalidCharacter",
      field: "header value",
      index: 0,
      code: 0x20ac,
      message: "header value holds U+20AC at index 0, which HTTP/1.1 cannot carry there"
    }],
    ["a Content-Length header", (w) => w.post("/").header("content-length", "5"), {
      _tag: "ReservedHeader",
      name: "content-length",
      message: "header content-length is set by the writer (Host at make, Content-Length from the body)"
    }],
    ["a Host header", (w) => w.get("/").header("HOST", "evil"), {
      _tag: "ReservedHeader",
      name: "HOST",
      message: "header HOST is set by the writer (Host at make, Content-Length from the body)"
    }],
    ["a Transfer-Encoding header", (w) => w.post("/").header("Transfer-Encoding", "chunked"), {
      _tag: "ReservedHeader",
      name: "Transfer-Encoding",
      message: "header Transfer-Encoding is set by the writer (Host at make, Content-Length from the body)"
    }]
  ]

  for (const [what, build, error] of cases) {
    it(`returns ${error._tag} for ${what}, from finish() and not before`, () => {
      const w = RequestWriter.make({ host: "h" })
      expect(build(w).finish()).toEqual(error)
      // the writer is usable again right after
      expect(wire(w.get("/ok").finish())).toBe("GET /ok HTTP/1.1\r\nHost: h\r\n\r\n")
    })
  }

  it("keeps the first error and ignores the rest of the request", () => {
    const result = RequestWriter.make({ host: "h" }).post("/").query("a", "\r").header("X A", "1").body("x").finish()
    expect(result).toMatchObject({ _tag: "CrlfInjection", field: "query value" })
  })

  it("reports RequestTooLarge with the exact size the whole request would need", () => {
    const full = "POST /order?a=b HTTP/1.1\r\nHost: h\r\nX-Long: 0123456789\r\nContent-Length: 5\r\n\r\nhello"
    const build = (w: RequestWriter.RequestWriter) =>
      w.post("/order").query("a", "b").header("X-Long", "0123456789").body("hello").finish()
    expect(wire(build(RequestWriter.make({ host: "h", capacity: full.length })))).toBe(full)
    expect(build(RequestWriter.make({ host: "h", capacity: 40 }))).toEqual({
      _tag: "RequestTooLarge",
      needed: full.length,
      capacity: 40,
      message: `the POST request needs ${full.length} bytes but the buffer holds 40`
    })
  })

  it("counts the exact need across every step after an overflow (each step overflowing in turn)", () => {
    const full = "PUT /p?k=%C3%A9 HTTP/1.1\r\nHost: h\r\nA: b\r\nContent-Length: 0\r\n\r\n"
    for (let capacity = 1; capacity < full.length; capacity++) {
      const result = RequestWriter.make({ host: "h", capacity }).put("/p").query("k", "é").header("A", "b").finish()
      expect(result).toEqual({
        _tag: "RequestTooLarge",
        needed: full.length,
        capacity,
        message: `the PUT request needs ${full.length} bytes but the buffer holds ${capacity}`
      })
    }
    expect(wire(RequestWriter.make({ host: "h", capacity: full.length }).put("/p").query("k", "é").header("A", "b").finish()))
      .toBe(full)
  })

  it("counts the exact need of a byte body and a string body after an overflow", () => {
    const full = "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\né"
    for (let capacity = 1; capacity < Buffer.byteLength(full); capacity++) {
      expect(RequestWriter.make({ host: "h", capacity }).post("/p").body("é").finish()).toMatchObject({
        _tag: "RequestTooLarge",
        needed: Buffer.byteLength(full, "utf8")
      })
      expect(RequestWriter.make({ host: "h", capacity }).post("/p").body(Buffer.from("é")).finish()).toMatchObject({
        _tag: "RequestTooLarge",
        needed: Buffer.byteLength(full, "utf8")
      })
    }
  })
})

describe("RequestWriter misuse", () => {
  it("throws TypeError at make for an empty or unsafe host, base path or default header", () => {
    expect(() => RequestWriter.make({ host: "" })).toThrow(TypeError)
    expect(() => RequestWriter.make({ host: "h\r\nX: 1" })).toThrow(/header value holds CR at index 1/)
    expect(() => RequestWriter.make({ host: "h", basePath: "/a b" })).toThrow(TypeError)
    expect(() => RequestWriter.make({ host: "h", defaultHeaders: [["X A", "1"]] })).toThrow(TypeError)
    expect(() => RequestWriter.make({ host: "h", defaultHeaders: [["X", "1\n"]] })).toThrow(TypeError)
    expect(() => RequestWriter.make({ host: "h", defaultHeaders: [["Content-Length", "1"]] })).toThrow(
      "RequestWriter.make: default header Content-Length is set by the writer"
    )
  })

  it("throws RangeError at make for a non-positive capacity", () => {
    expect(() => RequestWriter.make({ host: "h", capacity: 0 })).toThrow(RangeError)
    expect(() => RequestWriter.make({ host: "h", capacity: 1.5 })).toThrow(RangeError)
  })

  it("throws when a phase method is forced out of order or called after finish()", () => {
    const w = RequestWriter.make({ host: "h" })
    const builder = w.get("/") as RequestWriter.QueryPhase
    builder.header("A", "b")
    expect(() => builder.query("a", "b")).toThrow("RequestWriter: query() called out of phase order (query → header → body → finish)")
    builder.finish()
    expect(() => builder.finish()).toThrow("RequestWriter: finish() called with no request in progress (start one with get/post/...)")
    const withBody = w.post("/") as RequestWriter.QueryPhase
    withBody.body("x")
    expect(() => withBody.header("A", "b")).toThrow(/out of phase order/)
    expect(() => withBody.body("y")).toThrow(/out of phase order/)
  })
})

describe("RequestWriter bodyFollows", () => {
  it("ends the head with Content-Length for a known length and Transfer-Encoding: chunked without one; the body is not written", () => {
    const w = writer()
    expect(wire(w.post("/upload").header("Content-Type", "application/octet-stream").bodyFollows(8 * 1024 * 1024).finish())).toBe(
      `POST /api/v3/upload ${HEAD_TAIL}Content-Type: application/octet-stream\r\nContent-Length: 8388608\r\n\r\n`
    )
    expect(wire(w.put("/upload").bodyFollows(undefined).finish())).toBe(
      `PUT /api/v3/upload ${HEAD_TAIL}Transfer-Encoding: chunked\r\n\r\n`
    )
  })

  it("counts the line it would need when the head overflows, and refuses a negative length (caller misuse)", () => {
    const w = writer({ capacity: 128 })
    expect(w.post("/upload").header("X-Long", "v".repeat(200)).bodyFollows(10).finish()).toMatchObject({
      _tag: "RequestTooLarge",
      capacity: 128
    })
    expect(() => w.post("/upload").bodyFollows(-1)).toThrow(
      new RangeError("RequestWriter: bodyFollows length must be a non-negative integer, got -1")
    )
  })
})
