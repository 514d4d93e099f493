/**
 * `RequestReader` — sans-IO HTTP/1.1 request parser for the server side (RFC 9112), used by
 * the WebSocket server handshake.
 *
 * Fed like `ResponseReader` (`spare()`/`filled(n)` or `feed(chunk)`), then `next()` returns
 * `NeedMore`, a `Request`, or a violation. The head rules are the same shared parser
 * (`internal/startLine.ts`, `internal/fields.ts`, `internal/messageReader.ts`): bare LF/CR, obs-fold, whitespace before the colon, duplicate or invalid
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
import { HttpMessage, type ParsedMessage } from "./internal/message.ts"
import { MessageReader, Phase } from "./internal/messageReader.ts"
import { decodeLatin1 } from "./internal/node.ts"
import {
  DEFAULT_BUFFER_CAPACITY,
  DEFAULT_MAX_BODY_SIZE,
  DEFAULT_MAX_HEAD_BYTES,
  DEFAULT_MAX_HEADERS,
  type ReaderOptions,
  resolveReaderOptions
} from "./internal/readerOptions.ts"
import type {
  BodyTooLarge,
  HeadViolation,
  InvalidRequestLine,
  InvalidStatusLine,
  UnexpectedEndOfInput
} from "./internal/violations.ts"
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

  /** Builds the request from the reader's record of it (see `RequestReader.next`). */
  constructor(parsed: ParsedMessage) {
    super(parsed)
    const line = parsed.line
    const base = parsed.base
    this.method = decodeLatin1(parsed.buf, base + line.aStart, base + line.aEnd)
    this.target = decodeLatin1(parsed.buf, base + line.bStart, base + line.bEnd)
    this.version = line.minor === 0 ? "1.0" : "1.1"
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
    const contentLength = this.fields.contentLength
    const request = new Request(
      this.parsedMessage(bodyEnd, contentLength === -1 ? undefined : contentLength, this.persistent())
    )
    this.consume(bodyEnd)
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
