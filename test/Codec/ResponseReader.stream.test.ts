import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { NeedMore } from "../../src/Codec/NeedMore.ts"
import * as ResponseReader from "../../src/Codec/ResponseReader.ts"
import { chop, latin1 as bytes } from "../support/bytes.ts"

// nextHead/nextBody: the head handed out before a long body, the body read in runs as it
// arrives, with the reader's buffer bounded whatever the body's size.

type Step = { readonly _tag: "Head"; readonly status: number; readonly pending: boolean; readonly body: string } |
  { readonly _tag: string; readonly [key: string]: unknown }

/**
 * Feeds `pieces` one at a time, asking `nextHead(bufferUpTo)` until the head, then `nextBody()`
 * until the end; returns the head, the body received and how the body ended.
 */
const stream = (pieces: ReadonlyArray<Uint8Array>, bufferUpTo: number, options: ResponseReader.Options = {}, end = false) => {
  const reader = ResponseReader.make(options)
  let head: Step | undefined
  const body: Array<Buffer> = []
  let ended: unknown
  const drain = () => {
    while (head === undefined) {
      const result = reader.nextHead(bufferUpTo)
      if (result === NeedMore) return
      if (result._tag !== "Response") {
        ended = result
        return
      }
      head = { _tag: "Head", status: result.status, pending: reader.bodyPending, body: result.bodyText() }
      if (!reader.bodyPending) ended = "complete"
    }
    while (ended === undefined) {
      const result = reader.nextBody()
      if (result === NeedMore) return
      if (result._tag === "BodyChunk") body.push(Buffer.from(result.bytes))
      else ended = result._tag === "BodyEnd" ? "BodyEnd" : result
    }
  }
  for (const piece of pieces) {
    expect(reader.feed(piece)).toBe(true)
    drain()
  }
  if (end) {
    reader.endOfInput()
    drain()
  }
  return { head, body: Buffer.concat(body).toString("latin1"), ended, reader }
}

const chunked = (parts: ReadonlyArray<string>) => parts.map((p) => `${p.length.toString(16)}\r\n${p}\r\n`).join("") + "0\r\n\r\n"

describe("ResponseReader.nextHead / nextBody", () => {
  it("hands out the head of a Content-Length body above bufferUpTo, then the body in runs, then BodyEnd", () => {
    const body = "x".repeat(5000)
    const raw = bytes(`HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n${body}`)
    const result = stream([raw.subarray(0, 100), raw.subarray(100, 3000), raw.subarray(3000)], 1024)
    expect(result.head).toEqual({ _tag: "Head", status: 200, pending: true, body: "" })
    expect(result.body).toBe(body)
    expect(result.ended).toBe("BodyEnd")
    expect(result.reader.bodyPending).toBe(false)
    expect(result.reader.buffered).toBe(0)
  })

  it("reads a Content-Length body at most bufferUpTo whole, and one already buffered whole whatever its size", () => {
    const small = stream([bytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel"), bytes("lo")], 5)
    expect(small).toMatchObject({ head: { status: 200, pending: false, body: "hello" }, ended: "complete" })
    const buffered = stream([bytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")], 0)
    expect(buffered).toMatchObject({ head: { status: 200, pending: false, body: "hello" }, ended: "complete" })
  })

  it("streams a Content-Length body above maxBodySize instead of refusing it", () => {
    const body = "y".repeat(3000)
    const raw = bytes(`HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n${body}`)
    const result = stream([raw.subarray(0, 50), raw.subarray(50)], 0, { maxBodySize: 1000 })
    expect(result).toMatchObject({ head: { pending: true }, body, ended: "BodyEnd" })
  })

  it("HEAD, 204 and 304 complete from the head; a chunked body complete in the first read is read whole", () => {
    expect(stream([bytes("HTTP/1.1 204 No Content\r\n\r\n")], 0)).toMatchObject({ head: { status: 204, pending: false }, ended: "complete" })
    expect(stream([bytes("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n")], 0)).toMatchObject({
      head: { status: 304, pending: false },
      ended: "complete"
    })
    expect(stream([bytes(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${chunked(["ab", "cd"])}`)], 0)).toMatchObject({
      head: { pending: false, body: "abcd" },
      ended: "complete"
    })
  })

  it("a chunked body in any chopping gives the same bytes, and bytes after it stay for the next response", () => {
    const parts = ["alpha", "b", "x".repeat(300), "gamma-delta"]
    const head = bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    const rest = bytes(`${chunked(parts)}HTTP/1.1 204 No Content\r\n\r\n`)
    fc.assert(
      fc.property(fc.array(fc.nat(), { minLength: 1, maxLength: 12 }), (cuts) => {
        // the head alone first, so the body is never complete with it and always streams
        const result = stream([head, ...chop(rest, cuts)], 0)
        expect(result.head).toEqual({ _tag: "Head", status: 200, pending: true, body: "" })
        expect(result.body).toBe(parts.join(""))
        expect(result.ended).toBe("BodyEnd")
        const next = result.reader.nextHead(0)
        expect(next._tag === "Response" && next.status).toBe(204)
      })
    )
  })

  it("a 1 MiB chunked body streams through a 16 KiB buffer that never grows", () => {
    const piece = "z".repeat(8000)
    const head = bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    const frame = bytes(`${piece.length.toString(16)}\r\n${piece}\r\n`)
    const reader = ResponseReader.make({ bufferCapacity: 16 * 1024, maxBodySize: 64 * 1024 })
    reader.feed(head)
    expect(reader.nextHead(0)).toMatchObject({ _tag: "Response", status: 200 })
    let received = 0
    const pull = () => {
      for (;;) {
        const result = reader.nextBody()
        if (result === NeedMore) return
        if (result._tag !== "BodyChunk") return result
        received += result.bytes.length
      }
    }
    for (let i = 0; i < 131; i++) {
      expect(reader.feed(frame)).toBe(true)
      expect(pull()).toBeUndefined()
    }
    reader.feed(bytes("0\r\n\r\n"))
    expect(pull()).toBe(ResponseReader.BodyEnd)
    expect(received).toBe(131 * 8000)
    expect(reader.readBuf.capacity).toBe(16 * 1024)
  })

  it("a close-delimited body ends at endOfInput; a Content-Length body cut short is UnexpectedEndOfInput", () => {
    const closeDelimited = stream([bytes("HTTP/1.1 200 OK\r\n\r\nfirst "), bytes("second")], 0, {}, true)
    expect(closeDelimited).toMatchObject({ head: { pending: true }, body: "first second", ended: "BodyEnd" })
    const cut = stream([bytes("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")], 0, {}, true)
    expect(cut.body).toBe("only this")
    expect(cut.ended).toEqual({
      _tag: "UnexpectedEndOfInput",
      message: "input ended after 9 bytes of an incomplete message",
      received: 9
    })
  })

  it("a bad chunk size mid-stream is the decoder's violation, offset counted in the raw chunked stream, and it is latched", () => {
    const result = stream([bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"), bytes("zz\r\n")], 0)
    expect(result.body).toBe("abc")
    expect(result.ended).toEqual({
      _tag: "InvalidChunkSize",
      message: "byte 0x7a where a hex chunk size was expected at offset 8",
      offset: 8
    })
    expect(result.reader.nextBody()).toEqual(result.ended)
  })
})
