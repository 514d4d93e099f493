import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as RequestReader from "../../src/Codec/RequestReader.ts"
import * as ResponseReader from "../../src/Codec/ResponseReader.ts"
import { chop, latin1 } from "../support/bytes.ts"

const RESERVED = new Set(["content-length", "transfer-encoding", "connection", "trailer"])

const headerName = fc.stringMatching(/^[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,15}$/).filter((n) =>
  !RESERVED.has(n.toLowerCase())
)
// visible characters at both ends (values are trimmed), anything printable or obs-text between
const headerValue = fc.oneof(
  fc.constant(""),
  fc.stringMatching(/^[!-~\x80-\xff]([ \t!-~\x80-\xff]{0,30}[!-~\x80-\xff])?$/)
)
const fields = fc.array(fc.tuple(headerName, headerValue), { maxLength: 6 })

// chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ) (RFC 9112 §7.1.1)
const bws = fc.constantFrom("", " ", "\t", " \t ")
const token = fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,8}$/)
const quotedString = fc.array(
  fc.oneof(fc.stringMatching(/^[\t !#-\[\]-~\x80-\xff]$/), fc.stringMatching(/^\\[\t -~\x80-\xff]$/)),
  { maxLength: 8 }
).map((parts) => `"${parts.join("")}"`)
const chunkExtension = fc.array(
  fc.tuple(bws, bws, token, fc.option(fc.tuple(bws, bws, fc.oneof(token, quotedString)), { nil: undefined })).map(
    ([before, after, name, value]) =>
      `${before};${after}${name}${value === undefined ? "" : `${value[0]}=${value[1]}${value[2]}`}`
  ),
  { maxLength: 3 }
).map((extensions) => extensions.join(""))

interface Message {
  readonly status: number
  readonly headers: Array<[string, string]>
  readonly body: Uint8Array
  /**
   * `undefined`: Content-Length; otherwise the chunk sizes' cut points, the chunk extensions
   * (chunk `i`, the last one included, carries `ext[i % ext.length]`) and trailers.
   */
  readonly chunked: {
    readonly cuts: Array<number>
    readonly ext: Array<string>
    readonly trailers: Array<[string, string]>
  } | undefined
}

const message: fc.Arbitrary<Message> = fc.record({
  status: fc.constantFrom(200, 201, 202, 400, 404, 500, 503),
  headers: fields,
  body: fc.uint8Array({ maxLength: 300 }),
  chunked: fc.option(
    fc.record({
      cuts: fc.array(fc.nat({ max: 300 }), { maxLength: 5 }),
      ext: fc.array(chunkExtension, { maxLength: 3 }),
      trailers: fields
    }),
    { nil: undefined }
  )
})


/** Serialises the framing and body of `m` after a start line. */
const encode = (startLine: string, m: Message): Buffer => {
  const head = m.headers.map(([n, v]) => `${n}: ${v}\r\n`).join("")
  if (m.chunked === undefined) {
    return Buffer.concat([latin1(`${startLine}\r\n${head}Content-Length: ${m.body.length}\r\n\r\n`), m.body])
  }
  const cuts = [...new Set(m.chunked.cuts.filter((c) => c > 0 && c < m.body.length))].sort((a, b) => a - b)
  const bounds = [0, ...cuts, m.body.length]
  const parts: Array<Buffer> = [latin1(`${startLine}\r\n${head}Transfer-Encoding: chunked\r\n\r\n`)]
  const ext = (i: number) => m.chunked!.ext.length === 0 ? "" : m.chunked!.ext[i % m.chunked!.ext.length]!
  let i = 0
  for (; i + 1 < bounds.length; i++) {
    const size = bounds[i + 1]! - bounds[i]!
    if (size === 0) continue
    parts.push(latin1(`${size.toString(16)}${ext(i)}\r\n`))
    parts.push(Buffer.from(m.body.subarray(bounds[i]!, bounds[i + 1]!)))
    parts.push(latin1("\r\n"))
  }
  parts.push(latin1(`0${ext(i)}\r\n${m.chunked.trailers.map(([n, v]) => `${n}: ${v}\r\n`).join("")}\r\n`))
  return Buffer.concat(parts)
}

const framingHeader = (m: Message): [string, string] =>
  m.chunked === undefined ? ["Content-Length", String(m.body.length)] : ["Transfer-Encoding", "chunked"]

const streams = fc.tuple(fc.array(message, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 12 }))

describe("HTTP readers under arbitrary chopping", () => {
  it("ResponseReader yields the same responses for any chopping of a pipelined stream", () => {
    fc.assert(
      fc.property(streams, fc.boolean(), ([messages, cuts], zeroCopy) => {
        const wire = Buffer.concat(messages.map((m) => encode(`HTTP/1.1 ${m.status} Reason`, m)))
        const reader = ResponseReader.make({ bufferCapacity: 64 })
        const got: Array<unknown> = []
        for (const piece of chop(wire, cuts)) {
          if (zeroCopy) {
            let offset = 0
            while (offset < piece.length) {
              const spare = reader.spare()
              const n = Math.min(spare.length, piece.length - offset)
              piece.copy(spare, 0, offset, offset + n)
              reader.filled(n)
              offset += n
            }
          } else {
            expect(reader.feed(piece)).toBe(true)
          }
          for (let r = reader.next(); r._tag !== "NeedMore"; r = reader.next()) {
            if (r._tag !== "Response") throw new Error(`${r._tag}: ${r.message}`)
            got.push({
              status: r.status,
              headers: r.headers(),
              body: Buffer.from(r.body).toString("hex"),
              trailers: r.trailers()
            })
          }
        }
        expect(got).toEqual(messages.map((m) => ({
          status: m.status,
          headers: [...m.headers, framingHeader(m)],
          body: Buffer.from(m.body).toString("hex"),
          trailers: m.chunked?.trailers ?? []
        })))
        expect(reader.buffered).toBe(0)
      }),
      { numRuns: 200 }
    )
  })

  it("RequestReader yields the same requests for any chopping of a pipelined stream", () => {
    fc.assert(
      fc.property(streams, ([messages, cuts]) => {
        const wire = Buffer.concat(messages.map((m, i) => encode(`POST /r/${i}?q=${m.status} HTTP/1.1`, m)))
        const reader = RequestReader.make({ bufferCapacity: 64 })
        const got: Array<unknown> = []
        for (const piece of chop(wire, cuts)) {
          expect(reader.feed(piece)).toBe(true)
          for (let r = reader.next(); r._tag !== "NeedMore"; r = reader.next()) {
            if (r._tag !== "Request") throw new Error(`${r._tag}: ${r.message}`)
            got.push({ target: r.target, headers: r.headers(), body: Buffer.from(r.body).toString("hex") })
          }
        }
        expect(got).toEqual(messages.map((m, i) => ({
          target: `/r/${i}?q=${m.status}`,
          headers: [...m.headers, framingHeader(m)],
          body: Buffer.from(m.body).toString("hex")
        })))
      }),
      { numRuns: 150 }
    )
  })
})

describe("HTTP readers on hostile input", () => {
  /** Feeds pieces, draining after each; returns how many results came out. Must not throw or spin. */
  const drain = (reader: ResponseReader.ResponseReader | RequestReader.RequestReader, pieces: Array<Buffer>) => {
    let results = 0
    let calls = 0
    const pump = () => {
      while (true) {
        if (++calls > 10_000) throw new Error("reader does not make progress")
        const r = reader.next()
        if (r._tag === "NeedMore") return
        results++
        if (r._tag !== "Response" && r._tag !== "Request") {
          expect(typeof r.message).toBe("string")
          // a violation is latched: asking again returns it, without looping
          expect(reader.next()).toBe(r)
          return
        }
      }
    }
    for (const piece of pieces) {
      if (!reader.feed(piece)) return results
      pump()
    }
    reader.endOfInput()
    pump()
    return results
  }

  it("random bytes never make either reader throw or loop", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.array(fc.nat(), { maxLength: 8 }), (bytes, cuts) => {
        const wire = Buffer.from(bytes)
        drain(ResponseReader.make({ bufferCapacity: 64, maxHeadBytes: 256, maxBodySize: 1024 }), chop(wire, cuts))
        drain(RequestReader.make({ bufferCapacity: 64, maxHeadBytes: 256, maxBodySize: 1024 }), chop(wire, cuts))
      }),
      { numRuns: 500 }
    )
  })

  it("valid streams with one corrupted byte never make either reader throw or loop", () => {
    fc.assert(
      fc.property(streams, fc.nat(), fc.integer({ min: 0, max: 255 }), ([messages, cuts], at, byte) => {
        const responses = Buffer.concat(messages.map((m) => encode(`HTTP/1.1 ${m.status} R`, m)))
        responses[at % responses.length] = byte
        drain(ResponseReader.make({ bufferCapacity: 64 }), chop(responses, cuts))
        const requests = Buffer.concat(messages.map((m) => encode("PUT /x HTTP/1.1", m)))
        requests[at % requests.length] = byte
        drain(RequestReader.make({ bufferCapacity: 64 }), chop(requests, cuts))
      }),
      { numRuns: 300 }
    )
  })
})
