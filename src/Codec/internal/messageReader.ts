/**
 * `MessageReader`, the engine `ResponseReader` and `RequestReader` extend: the read buffer
 * (`spare`/`filled`/`feed`), head parsing, body framing (`Content-Length`, chunked through
 * `ChunkedDecoder`, until close) and the `ParsedMessage` a complete message is built from.
 *
 * Rules applied identically on both sides (smuggling-safe, never lenient in one place and strict
 * in another): the start-line, field and chunked rules of `startLine.ts`, `fields.ts` and
 * `ChunkedDecoder`; both `Content-Length` and `Transfer-Encoding` is
 * `ContentLengthWithTransferEncoding`, and `Transfer-Encoding` in an HTTP/1.0 message is
 * rejected (RFC 9112 §6.1). A head longer than `maxHeadBytes` is `HeadTooLarge`, detected as
 * soon as that many bytes are buffered without the terminating empty line, so a dribbling peer
 * cannot make us buffer forever. A violation is latched until `reset()`.
 *
 * @internal
 */
import type { ChunkedDecoder, ChunkedViolation } from "../ChunkedDecoder.ts"
import { NeedMore } from "../NeedMore.ts"
import type { ReadBuf } from "../ReadBuf.ts"
import { ConnectionToken, FieldList, INCOMPLETE, parseFields } from "./fields.ts"
import { NO_FIELDS, ParsedMessage } from "./message.ts"
import type { Buffer } from "./node.ts"
import { leadingEmptyLines, parseRequestLine, parseStatusLine, scanHeadEnd, StartLine } from "./startLine.ts"
import {
  type BodyTooLarge,
  bodyTooLarge,
  type HeadViolation,
  headTooLarge,
  unexpectedEnd,
  type UnexpectedEndOfInput,
  unsupportedTransferEncoding
} from "./violations.ts"

/** Where the reader is within the current message. */
export const Phase = {
  head: 0,
  fixed: 1,
  chunked: 2,
  untilClose: 3
} as const

/** Smallest spare region `spare()` tries to offer before the caller reads: 4 KiB. */
const MIN_SPARE = 4 * 1024

/** The violations both readers may return from `next()`. */
export type ReaderViolation = HeadViolation | ChunkedViolation | BodyTooLarge | UnexpectedEndOfInput

/**
 * Buffer handling, head parsing and body framing common to both readers. The current message
 * always starts at `rb.start`; every saved position is relative to it, so `spare()` may compact
 * or grow the buffer between calls.
 */
export class MessageReader {
  protected readonly rb: ReadBuf
  protected readonly decoder: ChunkedDecoder
  protected readonly fields: FieldList
  protected readonly line: StartLine
  /** The record each complete message is built from (see `parsedMessage`). */
  private readonly parsed: ParsedMessage
  /** Head limit in bytes (start line + fields + empty line). */
  readonly maxHeadBytes: number
  /** Most header fields per message. */
  readonly maxHeaders: number
  /** Largest body in bytes. */
  readonly maxBodySize: number
  /** The slab `words` covers; the ReadBuf replaces its slab when it grows. */
  private wordsBuf: Uint8Array | undefined
  /** An `Int32Array` over `wordsBuf` for the word-wise value scan (undefined: unaligned slab). */
  private words: Int32Array | undefined
  protected phase: number
  /** Relative offset the head scan resumes from; 0 before the first parse attempt. */
  protected resumeAt: number
  protected headLength: number
  protected ended: boolean
  protected failure: ReaderViolation | undefined

  constructor(
    rb: ReadBuf,
    decoder: ChunkedDecoder,
    maxHeadBytes: number,
    maxHeaders: number,
    maxBodySize: number
  ) {
    this.rb = rb
    this.decoder = decoder
    this.fields = new FieldList()
    this.line = new StartLine()
    this.parsed = new ParsedMessage(rb.buf, this.line, this.fields)
    this.maxHeadBytes = maxHeadBytes
    this.maxHeaders = maxHeaders
    this.maxBodySize = maxBodySize
    this.wordsBuf = undefined
    this.words = undefined
    this.phase = Phase.head
    this.resumeAt = 0
    this.headLength = 0
    this.ended = false
    this.failure = undefined
  }

  /** A word view of the current slab, made again only after the slab was replaced. */
  private slabWords(): Int32Array | undefined {
    const buf = this.rb.buf
    if (buf !== this.wordsBuf) {
      this.wordsBuf = buf
      this.words = (buf.byteOffset & 3) === 0 ? new Int32Array(buf.buffer, buf.byteOffset, buf.length >>> 2) : undefined
    }
    return this.words
  }

  /**
   * The writable tail of the buffer (at least 4 KiB when the limits allow, growing the buffer
   * up to `maxBufferCapacity`): read socket bytes into it, then call `filled(n)`. Invalidates
   * the views of the last message. Empty only when a message filled the buffer at its maximum,
   * which `next()` reports as `HeadTooLarge` / `BodyTooLarge`.
   */
  spare(): Buffer {
    const rb = this.rb
    if (rb.spareLength < MIN_SPARE && !rb.reserve(MIN_SPARE)) rb.reserve(rb.maxCapacity - rb.end)
    return rb.spare()
  }

  /** Marks `n` bytes of `spare()` as filled. Throws `RangeError` beyond the spare region (caller misuse). */
  filled(n: number): void {
    this.rb.filled(n)
  }

  /**
   * Copies `chunk` into the buffer (growing up to `maxBufferCapacity`). Returns `false` — nothing
   * stored — when the buffered bytes would exceed `maxBufferCapacity`; treat it as fatal.
   */
  feed(chunk: Uint8Array): boolean {
    return this.rb.write(chunk)
  }

  /**
   * Signals that the peer closed its side. A body delimited by the connection close completes;
   * any other incomplete message makes `next()` return `UnexpectedEndOfInput`.
   */
  endOfInput(): void {
    this.ended = true
  }

  /**
   * The reader's own buffer, for a transport that reads into it directly (`Transport.read`):
   * bytes appended at its tail are what `filled(n)` would report. Only append; never consume.
   */
  get readBuf(): ReadBuf {
    return this.rb
  }

  /** Number of buffered, unconsumed bytes (the current partial message plus anything after it). */
  get buffered(): number {
    return this.rb.length
  }

  /**
   * The unconsumed bytes as a view (valid until the next call on the reader). Right after an
   * upgrade (101 response, or an upgrade request) these belong to the WebSocket frame reader.
   */
  leftover(): Buffer {
    return this.rb.data()
  }

  /** An owned copy of the unconsumed bytes, which are then dropped from the reader. */
  takeLeftover(): Uint8Array {
    const copy = Uint8Array.prototype.slice.call(this.rb.data()) as Uint8Array
    this.rb.clear()
    this.resetMessage()
    return copy
  }

  /** Drops every buffered byte and all state (including a latched violation): a fresh connection. */
  reset(): void {
    this.rb.clear()
    this.resetMessage()
    this.ended = false
    this.failure = undefined
  }

  /**
   * Whether the current message's head has been parsed and its body is being read (a message
   * without a body completes straight from the head and never shows this).
   */
  get readingBody(): boolean {
    return this.phase !== Phase.head
  }

  protected resetMessage(): void {
    this.phase = Phase.head
    this.resumeAt = 0
    this.headLength = 0
    this.fields.reset()
    this.decoder.reset()
  }

  /** Latches a violation: the stream is out of sync, so every later `next()` repeats it. */
  protected fail<V extends ReaderViolation>(violation: V): V {
    this.failure = violation
    return violation
  }

  /**
   * Parses the head at `rb.start`. Returns `undefined` once complete (`headLength`, `line` and
   * `fields` are then set), otherwise `NeedMore` or a (latched) violation.
   */
  /**
   * Whether the head after `line` frames a body, so its `Content-Length`, `Transfer-Encoding` and
   * `Connection` fields are parsed and checked: yes, unless a reader knows better (a 2xx answer to
   * `CONNECT`, whose framing fields a client must ignore, RFC 9110 §9.3.6).
   */
  protected framingFields(_line: StartLine): boolean {
    return true
  }

  protected readHead(request: boolean): NeedMore | ReaderViolation | undefined {
    const rb = this.rb
    const skip = leadingEmptyLines(rb.buf, rb.start, rb.end)
    if (skip > 0) {
      rb.advance(skip)
      this.resumeAt = 0
    }
    const buf = rb.buf
    const start = rb.start
    const end = rb.end
    if (end === start) return this.ended ? this.fail(unexpectedEnd(0)) : NeedMore
    let bound = end - start > this.maxHeadBytes ? start + this.maxHeadBytes : end
    if (this.resumeAt > 0) {
      // parse again only once the terminating empty line has arrived
      const from = this.resumeAt > 3 ? start + this.resumeAt - 3 : start
      const found = scanHeadEnd(buf, start, from, end)
      if (typeof found !== "number") return this.fail(found)
      if (found === INCOMPLETE) return this.headIncomplete(start, end)
      if (found > this.maxHeadBytes) return this.fail(headTooLarge(found, this.maxHeadBytes))
      bound = start + found
    }
    const line = this.line
    const p = request ? parseRequestLine(buf, start, bound, line) : parseStatusLine(buf, start, bound, line)
    if (typeof p !== "number") return this.fail(p)
    if (p === INCOMPLETE) return this.headIncomplete(start, end)
    const fields = this.fields
    const q = parseFields(buf, p, bound, start, fields, this.maxHeaders, this.framingFields(line), this.slabWords())
    if (typeof q !== "number") return this.fail(q)
    if (q === INCOMPLETE) {
      fields.reset()
      return this.headIncomplete(start, end)
    }
    this.headLength = q - start
    if (fields.transferEncoding) {
      if (fields.contentLength !== -1) {
        return this.fail({
          _tag: "ContentLengthWithTransferEncoding",
          message: "both Content-Length and Transfer-Encoding (possible request smuggling)"
        })
      }
      if (line.minor === 0) return this.fail(unsupportedTransferEncoding("Transfer-Encoding in an HTTP/1.0 message"))
    }
    return undefined
  }

  private headIncomplete(start: number, end: number): NeedMore | ReaderViolation {
    const size = end - start
    if (size > this.maxHeadBytes) return this.fail(headTooLarge(size, this.maxHeadBytes))
    if (this.ended) return this.fail(unexpectedEnd(size))
    this.resumeAt = size
    return NeedMore
  }

  /** Starts reading a `Content-Length` body; `length` was validated by the head parser. */
  protected beginFixed(length: number): BodyTooLarge | undefined {
    const limit = Math.min(this.maxBodySize, this.rb.maxCapacity - this.headLength)
    if (length > limit) return this.fail(bodyTooLarge(length, limit))
    this.phase = Phase.fixed
    return undefined
  }

  /**
   * Advances the body phase. Returns the absolute body end when the message is complete (the
   * body starts at `rb.start + headLength`; `consumedLength()` bytes belong to it), otherwise
   * `NeedMore` or a violation.
   */
  protected readBody(declared: number): number | NeedMore | ReaderViolation {
    const rb = this.rb
    const start = rb.start
    const bodyStart = start + this.headLength
    if (this.phase === Phase.fixed) {
      if (rb.end - bodyStart >= declared) return bodyStart + declared
    } else if (this.phase === Phase.chunked) {
      const result = this.decoder.decode(rb.buf, bodyStart, rb.end)
      if (result._tag === "ChunkedDone") return bodyStart + this.decoder.written
      if (result._tag !== "NeedMore") return this.fail(result)
      // squeeze the chunk framing out so the buffer holds little more than the decoded body
      // (writing `end` directly: the bytes past it are dead, not data the ReadBuf still owns)
      rb.end -= this.decoder.compact(rb.buf, bodyStart, rb.end)
    } else {
      const size = rb.end - bodyStart
      if (size > this.maxBodySize) return this.fail(bodyTooLarge(size, this.maxBodySize))
      if (this.ended) return rb.end
      return rb.length >= rb.maxCapacity ? this.fail(bodyTooLarge(size, rb.maxCapacity - this.headLength)) : NeedMore
    }
    if (this.ended) return this.fail(unexpectedEnd(rb.length))
    if (rb.length >= rb.maxCapacity) {
      return this.fail(bodyTooLarge(rb.length - this.headLength, rb.maxCapacity - this.headLength))
    }
    return NeedMore
  }

  /**
   * Fills the reader's `ParsedMessage` for the complete current message, whose body ends at
   * `bodyEnd` (a body-less message is still in the head phase: `bodyEnd` is where its head
   * ends). Build the message from it, then call `consume`.
   */
  protected parsedMessage(bodyEnd: number, contentLength: number | undefined, reusable: boolean): ParsedMessage {
    const rb = this.rb
    const parsed = this.parsed
    const chunked = this.phase === Phase.chunked
    parsed.buf = rb.buf
    parsed.base = rb.start
    parsed.bodyStart = rb.start + this.headLength
    parsed.bodyEnd = bodyEnd
    parsed.contentLength = contentLength
    parsed.chunked = chunked
    parsed.reusable = reusable
    parsed.trailerOffsets = chunked ? this.trailerOffsets() : NO_FIELDS
    parsed.trailerCount = chunked ? this.decoder.trailers.count : 0
    return parsed
  }

  /**
   * Drops the complete current message (head plus framed body) from the buffer and gets ready
   * for the next one; the bytes after it stay buffered.
   */
  protected consume(bodyEnd: number): void {
    const phase = this.phase
    this.rb.advance(
      phase === Phase.head
        ? this.headLength
        : phase === Phase.chunked
        ? this.headLength + this.decoder.read
        : bodyEnd - this.rb.start
    )
    this.resetMessage()
  }

  /** Trailer offsets of a completed chunked body, rebased onto the message start. */
  private trailerOffsets(): Array<number> {
    const trailers = this.decoder.trailers
    if (trailers.count === 0) return NO_FIELDS
    const out = trailers.offsets
    for (let i = 0, n = trailers.count * 4; i < n; i++) out[i] = out[i]! + this.headLength
    return out
  }

  /** Whether the connection stays usable after this message (RFC 9112 §9.3). */
  protected persistent(): boolean {
    const connection = this.fields.connection
    return this.line.minor >= 1
      ? (connection & ConnectionToken.close) === 0
      : (connection & ConnectionToken.keepAlive) !== 0
  }
}
