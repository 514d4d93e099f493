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
import { HttpMessage, type OwnedMessage as InternalOwnedMessage, type ParsedMessage } from "./internal/message.ts"
import { MessageReader, Phase } from "./internal/messageReader.ts"
import { type Buffer, decodeLatin1 } from "./internal/node.ts"
import type { StartLine } from "./internal/startLine.ts"
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
import { unexpectedEnd } from "./internal/violations.ts"
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
 * An owned copy of a response's header fields and body (`Response.copyOwned()`), valid after the
 * reader moves on; its headers are decoded on first use.
 *
 * @since 0.1.0
 * @category models
 */
export type OwnedMessage = InternalOwnedMessage

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
 * A run of decoded body bytes from `nextBody()`: a view into the reader's buffer, valid until
 * the next call on the reader or the next read into its buffer — copy what you keep.
 */
export interface BodyChunk {
  readonly _tag: "BodyChunk"
  readonly bytes: Buffer
}

/** `nextBody()`'s result once a streamed body is complete. */
export interface BodyEnd {
  readonly _tag: "BodyEnd"
}

/** The one `BodyEnd` value. */
export const BodyEnd: BodyEnd = Object.freeze({ _tag: "BodyEnd" as const })

/**
 * The response reader. One per connection; reuse it for every response on that connection.
 *
 * @since 0.1.0
 */
export class ResponseReader extends MessageReader {
  private expectHead: boolean
  private expectConnect: boolean
  /** `nextHead` handed out a head whose body is still being read by `nextBody`. */
  private streaming: boolean
  /** Bytes of a streamed `Content-Length` body still to come. */
  private remaining: number
  /** Bytes of the streamed body handed out so far. */
  private delivered: number

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
    this.streaming = false
    this.remaining = 0
    this.delivered = 0
  }

  /** A 2xx answer to `CONNECT` opens a tunnel: its `Content-Length` and `Transfer-Encoding` are ignored (RFC 9110 §9.3.6). */
  protected override framingFields(line: StartLine): boolean {
    return !(this.expectConnect && line.status >= 200 && line.status < 300)
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
    if (this.phase === Phase.head) {
      const head = this.headStep(Number.POSITIVE_INFINITY)
      if (head !== undefined) return head
    }
    const bodyEnd = this.readBody(this.fields.contentLength)
    if (typeof bodyEnd !== "number") return bodyEnd as NeedMore | ResponseViolation
    return this.complete(bodyEnd, this.phase !== Phase.untilClose)
  }

  /**
   * Like `next()`, but hands the head out before a body that may be long: the complete
   * `Response` when it has no body, when its `Content-Length` is at most `bufferUpTo`, or when
   * the whole body is already buffered; otherwise the head alone (its `body` empty,
   * {@link bodyPending} true), whose body then comes from `nextBody()`. A streamed body is not
   * bounded by `maxBodySize` (except a single chunk of a chunked body): the consumer bounds it.
   */
  nextHead(bufferUpTo: number): ResponseResult {
    if (this.failure !== undefined) return this.failure as ResponseViolation
    if (this.phase === Phase.head) {
      const head = this.headStep(bufferUpTo)
      if (head !== undefined) return head
      // headStep picked the framing (the compiler still sees the head phase here)
      const framing: number = this.phase
      if (framing === Phase.fixed) {
        const declared = this.fields.contentLength
        const bodyStart = this.rb.start + this.headLength
        if (this.rb.end - bodyStart >= declared) return this.complete(bodyStart + declared, true)
        if (declared > bufferUpTo) return this.streamHead(declared)
      } else {
        const bodyEnd = this.readBody(this.fields.contentLength)
        if (typeof bodyEnd === "number") return this.complete(bodyEnd, framing !== Phase.untilClose)
        if (bodyEnd !== NeedMore) return bodyEnd as ResponseViolation
        return this.streamHead(0)
      }
    }
    const bodyEnd = this.readBody(this.fields.contentLength)
    if (typeof bodyEnd !== "number") return bodyEnd as NeedMore | ResponseViolation
    return this.complete(bodyEnd, this.phase !== Phase.untilClose)
  }

  /**
   * Whether `nextHead` handed out a head whose body has not ended yet: read it with
   * `nextBody()` until `BodyEnd` (or `reset()` to give it up).
   */
  get bodyPending(): boolean {
    return this.streaming
  }

  /**
   * The next decoded bytes of the body `nextHead` left pending: a {@link BodyChunk} whose view
   * is valid until the next call on the reader or the next read into its buffer, {@link BodyEnd}
   * once the body is complete (the reader then waits for the next response; bytes already
   * buffered past the body stay, see `buffered`), `NeedMore`, or a violation (latched).
   */
  nextBody(): BodyChunk | BodyEnd | NeedMore | ResponseViolation {
    if (this.failure !== undefined) return this.failure as ResponseViolation
    const rb = this.rb
    if (this.headLength > 0) {
      // the head was handed out with the first result: its bytes go, the body starts at rb.start
      rb.advance(this.headLength)
      this.headLength = 0
    }
    const start = rb.start
    switch (this.phase) {
      case Phase.fixed: {
        const remaining = this.remaining
        if (remaining === 0) return this.endBody(0)
        const available = rb.end - start
        if (available === 0) return this.ended ? this.fail(unexpectedEnd(this.delivered)) : NeedMore
        const n = available < remaining ? available : remaining
        this.remaining = remaining - n
        return this.chunk(start, n)
      }
      case Phase.chunked: {
        const result = this.decoder.decode(rb.buf, start, rb.end)
        const written = this.decoder.take()
        if (written > 0) return this.chunk(start, written)
        if (result._tag === "ChunkedDone") return this.endBody(this.decoder.read)
        if (result._tag !== "NeedMore") return this.fail(result)
        rb.end -= this.decoder.compact(rb.buf, start, rb.end)
        return this.ended ? this.fail(unexpectedEnd(this.delivered + rb.length)) : NeedMore
      }
      default: {
        const available = rb.end - start
        if (available > 0) return this.chunk(start, available)
        return this.ended ? this.endBody(0) : NeedMore
      }
    }
  }

  /** Starts streaming the body after the head; `remaining` counts a `Content-Length` body. */
  private streamHead(remaining: number): Response {
    const fields = this.fields
    this.streaming = true
    this.remaining = remaining
    this.delivered = 0
    const bodyStart = this.rb.start + this.headLength
    return new Response(this.parsedMessage(
      bodyStart,
      fields.contentLength === -1 ? undefined : fields.contentLength,
      this.phase !== Phase.untilClose && this.persistent()
    ))
  }

  /** Hands out `n` body bytes at `start` and drops them from the buffer (the view stays readable). */
  private chunk(start: number, n: number): BodyChunk {
    const bytes = this.rb.buf.subarray(start, start + n)
    this.rb.advance(n)
    this.delivered += n
    return { _tag: "BodyChunk", bytes }
  }

  /** Ends a streamed body: drops its last `framing` bytes (chunked trailers), ready for the next response. */
  private endBody(framing: number): BodyEnd {
    if (framing > 0) this.rb.advance(framing)
    this.streaming = false
    this.resetMessage()
    this.expectHead = false
    this.expectConnect = false
    return BodyEnd
  }

  /**
   * The head phase of `next` and `nextHead`: skips interim 1xx responses, completes a body-less
   * response, or picks the body's framing and returns `undefined`; `NeedMore` or a violation
   * while the head is incomplete or bad. A `Content-Length` above `bufferUpTo` will be streamed,
   * so the buffer's limits do not apply to it.
   */
  private headStep(bufferUpTo: number): NeedMore | Response | ResponseViolation | undefined {
    while (true) {
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
      } else if (fields.contentLength > bufferUpTo) {
        this.phase = Phase.fixed
      } else if (fields.contentLength !== -1) {
        const error = this.beginFixed(fields.contentLength)
        if (error !== undefined) return error
      } else {
        this.phase = Phase.untilClose
      }
      return undefined
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

  /** Drops all buffered bytes and state, including a latched violation, the expected method and a pending body. */
  override reset(): void {
    super.reset()
    this.streaming = false
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
