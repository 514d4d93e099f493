/**
 * `ResponseReader` — sans-IO HTTP/1.1 response parser for the client side (RFC 9112).
 *
 * Feed it like the WebSocket frame reader: read socket bytes into `spare()` and report them
 * with `filled(n)` (no copy), or hand over a chunk with `feed(chunk)`. Before each request's
 * response call `expect(method)` (only `HEAD` and `CONNECT` change the framing; the default is
 * a GET-like request), then call `next()` until it returns something other than `NeedMore`:
 *
 * ```text
 * expect("GET") ─► next() ─► NeedMore ─► spare()/filled(n) ─► next() ─► Response | violation
 * ```
 *
 * Framing (RFC 9112 §6.3): no body for `HEAD`, 1xx, 204, 304 and a 2xx answer to `CONNECT`;
 * `Transfer-Encoding: chunked` (decoded in place by `ChunkedDecoder`); `Content-Length`;
 * otherwise the body runs until the connection closes — signal that with `endOfInput()`, and
 * the response (never reusable) completes with every byte received. Interim 1xx responses
 * (100 Continue, 103 Early Hints) are skipped, except `101 Switching Protocols`, which is
 * returned with no body and leaves every following byte in the buffer (`leftover()`) for the
 * frame reader. Bytes after a complete response stay buffered, so pipelined responses come out
 * of successive `next()` calls.
 *
 * Head rules (bare LF/CR, obs-fold, duplicate `Content-Length`, `Transfer-Encoding`) are those
 * of `internal/startLine.ts`, `internal/fields.ts` and `internal/messageReader.ts`, shared with
 * `RequestReader`. A violation is latched: the stream is
 * out of sync, so every later `next()` returns it again until `reset()`.
 *
 * Lifetimes: a `Response` reads the reader's buffer lazily (headers, body view), so it is valid
 * only until the next call of `next`, `spare`, `filled`, `feed`, `takeLeftover` or `reset`.
 * Copy what you keep: `bodyText()`, `copyBody()`, `headers()` return owned values.
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
  BareCarriageReturn,
  BareLineFeed,
  BodyTooLarge,
  ConflictingContentLength,
  ContentLengthWithTransferEncoding,
  HeadTooLarge,
  HeadViolation,
  InvalidContentLength,
  InvalidHeaderName,
  InvalidHeaderValue,
  InvalidRequestLine,
  InvalidStatusLine,
  ObsoleteLineFolding,
  TooManyHeaders,
  UnexpectedEndOfInput,
  UnsupportedHttpVersion,
  UnsupportedTransferEncoding,
  WhitespaceBeforeColon
} from "./internal/violations.ts"
import { NeedMore } from "./NeedMore.ts"
import * as ReadBuf from "./ReadBuf.ts"

/** The violations of the shared head parser and the body limits, each a tagged object with a `message`. */
export type {
  BareCarriageReturn,
  BareLineFeed,
  BodyTooLarge,
  ConflictingContentLength,
  ContentLengthWithTransferEncoding,
  HeadTooLarge,
  InvalidContentLength,
  InvalidHeaderName,
  InvalidHeaderValue,
  InvalidStatusLine,
  ObsoleteLineFolding,
  TooManyHeaders,
  UnexpectedEndOfInput,
  UnsupportedHttpVersion,
  UnsupportedTransferEncoding,
  WhitespaceBeforeColon
}

/** Options for {@link make}; see `ReaderOptions` for the fields and their defaults. */
export type Options = ReaderOptions

/** Reader defaults: buffer 32 KiB, head 16 KiB, 64 header fields, body 16 MiB. */
export { DEFAULT_BUFFER_CAPACITY, DEFAULT_MAX_BODY_SIZE, DEFAULT_MAX_HEAD_BYTES, DEFAULT_MAX_HEADERS }

/**
 * One parsed response. Header lookup is case-insensitive; iteration (`for (const [name, value]
 * of response)`) is in wire order. Valid until the next call on the reader (see module doc).
 *
 * @since 0.1.0
 */
export class Response extends HttpMessage {
  readonly _tag = "Response"
  /** Status code, 100–599. */
  readonly status: number
  /** `"1.1"` (also for any later HTTP/1.x) or `"1.0"`. */
  readonly version: "1.0" | "1.1"
  private readonly reasonStart: number
  private readonly reasonEnd: number

  /** Builds the response from the reader's record of it (see `ResponseReader.next`). */
  constructor(parsed: ParsedMessage) {
    super(parsed)
    const line = parsed.line
    this.status = line.status
    this.version = line.minor === 0 ? "1.0" : "1.1"
    this.reasonStart = line.aStart
    this.reasonEnd = line.aEnd
  }

  /** The reason phrase as sent (may be empty; clients should not rely on it). */
  get reason(): string {
    return decodeLatin1(this.buf, this.base + this.reasonStart, this.base + this.reasonEnd)
  }
}

/** Every violation `next()` can return, each a tagged object with a `message`. */
export type ResponseViolation =
  | Exclude<HeadViolation, InvalidRequestLine>
  | ChunkedDecoder.ChunkedViolation
  | BodyTooLarge
  | UnexpectedEndOfInput

/** What `next()` returns. */
export type ResponseResult = NeedMore | Response | ResponseViolation

/**
 * The response reader. One per connection; reuse it for every response on that connection.
 *
 * @since 0.1.0
 */
export class ResponseReader extends MessageReader {
  private expectHead: boolean
  private expectConnect: boolean

  constructor(rb: ReadBuf.ReadBuf, maxHeadBytes: number, maxHeaders: number, maxBodySize: number) {
    super(
      rb,
      ChunkedDecoder.make({ maxBodySize, maxTrailers: maxHeaders, maxTrailerBytes: maxHeadBytes }),
      maxHeadBytes,
      maxHeaders,
      maxBodySize
    )
    this.expectHead = false
    this.expectConnect = false
  }

  /**
   * Declares the method of the request whose response comes next: `HEAD` responses carry no
   * body, a 2xx to `CONNECT` turns the connection into a tunnel. Methods are case-sensitive.
   * Applies to the next final response, then reverts to the GET-like default.
   */
  expect(method: string): void {
    this.expectHead = method === "HEAD"
    this.expectConnect = method === "CONNECT"
  }

  /** Parses the next response from the buffered bytes: `NeedMore`, a `Response`, or a violation. */
  next(): ResponseResult {
    if (this.failure !== undefined) return this.failure as ResponseViolation
    while (true) {
      if (this.phase === Phase.head) {
        const head = this.readHead(false)
        if (head !== undefined) return head as NeedMore | ResponseViolation
        const status = this.line.status
        if (status < 200 && status !== 101) {
          // interim response (100 Continue, 103 Early Hints): skip it, the final one follows
          this.rb.advance(this.headLength)
          this.resetMessage()
          continue
        }
        if (
          status === 101 || status === 204 || status === 304 || this.expectHead ||
          (this.expectConnect && status < 300)
        ) {
          const bodyStart = this.rb.start + this.headLength
          return this.complete(bodyStart, status !== 101 && (!this.expectConnect || status >= 300))
        }
        const fields = this.fields
        if (fields.transferEncoding) {
          this.phase = Phase.chunked
        } else if (fields.contentLength !== -1) {
          const error = this.beginFixed(fields.contentLength)
          if (error !== undefined) return error
        } else {
          this.phase = Phase.untilClose
        }
      }
      const bodyEnd = this.readBody(this.fields.contentLength)
      if (typeof bodyEnd !== "number") return bodyEnd as NeedMore | ResponseViolation
      return this.complete(bodyEnd, this.phase !== Phase.untilClose)
    }
  }

  private complete(bodyEnd: number, mayPersist: boolean): Response {
    const fields = this.fields
    const bodyless = this.phase === Phase.head
    const response = new Response(this.parsedMessage(
      bodyEnd,
      fields.contentLength === -1 || (bodyless && this.line.status === 101) ? undefined : fields.contentLength,
      mayPersist && this.persistent()
    ))
    this.consume(bodyEnd)
    this.expectHead = false
    this.expectConnect = false
    return response
  }

  /** Drops all buffered bytes and state, including a latched violation and the expected method. */
  override reset(): void {
    super.reset()
    this.expectHead = false
    this.expectConnect = false
  }
}

/**
 * Creates a `ResponseReader`. Defaults: `bufferCapacity` 32 KiB, `maxHeadBytes` 16 KiB,
 * `maxHeaders` 64, `maxBodySize` 16 MiB, `maxBufferCapacity` their sum. Throws `RangeError`
 * for non-positive sizes or a `maxBufferCapacity` below `maxHeadBytes` (caller misuse).
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): ResponseReader => {
  const { capacity, maxBodySize, maxCapacity, maxHeadBytes, maxHeaders } = resolveReaderOptions(options, "ResponseReader")
  return new ResponseReader(ReadBuf.make({ capacity, maxCapacity }), maxHeadBytes, maxHeaders, maxBodySize)
}
