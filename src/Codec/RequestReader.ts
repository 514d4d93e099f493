/**
 * `RequestReader` — sans-IO HTTP/1.1 request parser for the server side (RFC 9112), used by
 * the WebSocket server handshake.
 *
 * Fed like `ResponseReader` (`spare()`/`filled(n)` or `feed(chunk)`), then `next()` returns
 * `NeedMore`, a `Request`, or a violation. The head rules are the same shared parser
 * (`internal/head.ts`): bare LF/CR, obs-fold, whitespace before the colon, duplicate or invalid
 * `Content-Length`, `Transfer-Encoding` other than `chunked`, CL + TE together — all rejected.
 * Bodies: `Transfer-Encoding: chunked` (decoded in place), `Content-Length`, otherwise none (a
 * request never runs until close). `statusFor(violation)` names the status to answer with.
 *
 * Bytes after a complete request stay buffered: the next `next()` parses a pipelined request,
 * and after an upgrade request `leftover()` / `takeLeftover()` hand them to the frame reader,
 * so frames a client sends right behind its upgrade request are not lost.
 *
 * Lifetimes: a `Request` reads the reader's buffer lazily, so it is valid until the next call
 * of `next`, `spare`, `filled`, `feed`, `takeLeftover` or `reset`; `method` and `target` are
 * owned strings. A violation is latched until `reset()`.
 *
 * @since 0.1.0
 */
import * as ChunkedDecoder from "./ChunkedDecoder.ts"
import {
  type BodyTooLarge,
  DEFAULT_BUFFER_CAPACITY,
  DEFAULT_MAX_BODY_SIZE,
  DEFAULT_MAX_HEAD_BYTES,
  DEFAULT_MAX_HEADERS,
  type FieldList,
  type HeadViolation,
  HttpMessage,
  type InvalidRequestLine,
  type InvalidStatusLine,
  MessageReader,
  Phase,
  type ReaderOptions,
  resolveReaderOptions,
  type UnexpectedEndOfInput
} from "./internal/head.ts"
import { type Buffer, decodeLatin1 } from "./internal/node.ts"
import { NeedMore } from "./NeedMore.ts"
import * as ReadBuf from "./ReadBuf.ts"

/** The request-line violation (the other head violations are listed in {@link RequestViolation}). */
export type { InvalidRequestLine }

/** Options for {@link make}; see `ReaderOptions` for the fields and their defaults. */
export type Options = ReaderOptions

/** Reader defaults: buffer 32 KiB, head 16 KiB, 64 header fields, body 16 MiB. */
export { DEFAULT_BUFFER_CAPACITY, DEFAULT_MAX_BODY_SIZE, DEFAULT_MAX_HEAD_BYTES, DEFAULT_MAX_HEADERS }

/**
 * One parsed request. Header lookup is case-insensitive; iteration is in wire order. Valid
 * until the next call on the reader (see module doc).
 *
 * @since 0.1.0
 */
export class Request extends HttpMessage {
  readonly _tag = "Request"
  /** The method as sent (case-sensitive token). */
  readonly method: string
  /** The request target as sent (origin form: path plus query). */
  readonly target: string
  /** `"1.1"` (also for any later HTTP/1.x) or `"1.0"`. */
  readonly version: "1.0" | "1.1"

  constructor(
    buf: Buffer,
    base: number,
    method: string,
    target: string,
    version: "1.0" | "1.1",
    fields: FieldList,
    bodyStart: number,
    bodyEnd: number,
    contentLength: number | undefined,
    chunked: boolean,
    reusable: boolean,
    trailerOffsets: Array<number>,
    trailerCount: number
  ) {
    super(buf, base, fields, bodyStart, bodyEnd, contentLength, chunked, reusable, trailerOffsets, trailerCount)
    this.method = method
    this.target = target
    this.version = version
  }
}

/** Every violation `next()` can return. */
export type RequestViolation =
  | Exclude<HeadViolation, InvalidStatusLine>
  | ChunkedDecoder.ChunkedViolation
  | BodyTooLarge
  | UnexpectedEndOfInput

/** What `next()` returns. */
export type RequestResult = NeedMore | Request | RequestViolation

/**
 * The request reader. One per connection; reuse it for every request on that connection.
 *
 * @since 0.1.0
 */
export class RequestReader extends MessageReader {
  constructor(rb: ReadBuf.ReadBuf, maxHeadBytes: number, maxHeaders: number, maxBodySize: number) {
    super(
      rb,
      ChunkedDecoder.make({ maxBodySize, maxTrailers: maxHeaders, maxTrailerBytes: maxHeadBytes }),
      maxHeadBytes,
      maxHeaders,
      maxBodySize
    )
  }

  /** Parses the next request from the buffered bytes: `NeedMore`, a `Request`, or a violation. */
  next(): RequestResult {
    if (this.failure !== undefined) return this.failure as RequestViolation
    if (this.phase === Phase.head) {
      const head = this.readHead(true)
      if (head !== undefined) return head as NeedMore | RequestViolation
      const fields = this.fields
      if (fields.transferEncoding) {
        this.phase = Phase.chunked
      } else if (fields.contentLength > 0) {
        const error = this.beginFixed(fields.contentLength)
        if (error !== undefined) return error
      } else {
        return this.complete(this.rb.start + this.headLength)
      }
    }
    const bodyEnd = this.readBody(this.fields.contentLength)
    if (typeof bodyEnd !== "number") return bodyEnd as NeedMore | RequestViolation
    return this.complete(bodyEnd)
  }

  private complete(bodyEnd: number): Request {
    const rb = this.rb
    const line = this.line
    const fields = this.fields
    const base = rb.start
    const chunked = this.phase === Phase.chunked
    const request = new Request(
      rb.buf,
      base,
      decodeLatin1(rb.buf, base + line.aStart, base + line.aEnd),
      decodeLatin1(rb.buf, base + line.bStart, base + line.bEnd),
      line.minor === 0 ? "1.0" : "1.1",
      fields,
      base + this.headLength,
      bodyEnd,
      fields.contentLength === -1 ? undefined : fields.contentLength,
      chunked,
      this.persistent(),
      this.trailerOffsets(),
      chunked ? this.decoder.trailers.count : 0
    )
    rb.advance(this.phase === Phase.head ? this.headLength : this.consumedLength(bodyEnd))
    this.resetMessage()
    return request
  }
}

/**
 * The HTTP status a server should answer a violation with: 431 for an oversized head or too
 * many fields, 413 for an oversized body, 501 for an unsupported transfer coding, 505 for an
 * unsupported version, 400 otherwise.
 *
 * @since 0.1.0
 */
export const statusFor = (violation: RequestViolation): 400 | 413 | 431 | 501 | 505 => {
  switch (violation._tag) {
    case "HeadTooLarge":
    case "TooManyHeaders":
      return 431
    case "BodyTooLarge":
      return 413
    case "UnsupportedTransferEncoding":
      return 501
    case "UnsupportedHttpVersion":
      return 505
    default:
      return 400
  }
}

/**
 * Creates a `RequestReader`. Defaults: `bufferCapacity` 32 KiB, `maxHeadBytes` 16 KiB,
 * `maxHeaders` 64, `maxBodySize` 16 MiB, `maxBufferCapacity` their sum. Throws `RangeError`
 * for non-positive sizes or a `maxBufferCapacity` below `maxHeadBytes` (caller misuse).
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): RequestReader => {
  const { capacity, maxBodySize, maxCapacity, maxHeadBytes, maxHeaders } = resolveReaderOptions(
    options,
    "RequestReader"
  )
  return new RequestReader(ReadBuf.make({ capacity, maxCapacity }), maxHeadBytes, maxHeaders, maxBodySize)
}
