/**
 * The violations the HTTP/1.1 readers report for a message head, a field section and a body,
 * one tagged variant per RFC 9112 rule, each with a `message` naming the fault, plus the
 * constructors shared by the head parser and `ChunkedDecoder`. Plain data: no imports, so
 * every HTTP codec module may depend on it.
 *
 * @internal
 */

/** The head grew past `maxHeadBytes` (`size` is what was buffered or the full head length). */
export interface HeadTooLarge {
  readonly _tag: "HeadTooLarge"
  readonly message: string
  readonly size: number
  readonly limit: number
}

/** More than `maxHeaders` field lines. */
export interface TooManyHeaders {
  readonly _tag: "TooManyHeaders"
  readonly message: string
  readonly limit: number
}

/** An LF not preceded by CR; `offset` is relative to the start of the message (or chunked body). */
export interface BareLineFeed {
  readonly _tag: "BareLineFeed"
  readonly message: string
  readonly offset: number
}

/** A CR not followed by LF; `offset` is relative to the start of the message (or chunked body). */
export interface BareCarriageReturn {
  readonly _tag: "BareCarriageReturn"
  readonly message: string
  readonly offset: number
}

/** The status line is not `HTTP/d.d SP 3DIGIT [SP reason]` with a status in 100–599. */
export interface InvalidStatusLine {
  readonly _tag: "InvalidStatusLine"
  readonly message: string
  readonly offset: number
}

/** The request line is not `token SP target SP HTTP/d.d`. */
export interface InvalidRequestLine {
  readonly _tag: "InvalidRequestLine"
  readonly message: string
  readonly offset: number
}

/** A well-formed version other than HTTP/1.x (answer 505 on a server). */
export interface UnsupportedHttpVersion {
  readonly _tag: "UnsupportedHttpVersion"
  readonly message: string
  readonly major: number
  readonly minor: number
}

/** A field line starts with SP or HTAB (obs-fold, RFC 9112 §5.2). */
export interface ObsoleteLineFolding {
  readonly _tag: "ObsoleteLineFolding"
  readonly message: string
  readonly offset: number
}

/** Whitespace between a field name and its colon (RFC 9112 §5.1). */
export interface WhitespaceBeforeColon {
  readonly _tag: "WhitespaceBeforeColon"
  readonly message: string
  readonly offset: number
}

/** A field name that is empty, not a token, or not followed by a colon. */
export interface InvalidHeaderName {
  readonly _tag: "InvalidHeaderName"
  readonly message: string
  readonly offset: number
}

/** A field value holding a control character other than HTAB (NUL, DEL, ...). */
export interface InvalidHeaderValue {
  readonly _tag: "InvalidHeaderValue"
  readonly message: string
  readonly offset: number
}

/** A `Content-Length` that is not a list of decimal numbers ≤ 2^53 − 1 (negative, empty, hex, overflow). */
export interface InvalidContentLength {
  readonly _tag: "InvalidContentLength"
  readonly message: string
}

/** Two different `Content-Length` values in one message. */
export interface ConflictingContentLength {
  readonly _tag: "ConflictingContentLength"
  readonly message: string
  readonly first: number
  readonly second: number
}

/** Both `Content-Length` and `Transfer-Encoding` (a request-smuggling signature, RFC 9112 §6.3). */
export interface ContentLengthWithTransferEncoding {
  readonly _tag: "ContentLengthWithTransferEncoding"
  readonly message: string
}

/** A `Transfer-Encoding` other than exactly `chunked`, or any in an HTTP/1.0 message. */
export interface UnsupportedTransferEncoding {
  readonly _tag: "UnsupportedTransferEncoding"
  readonly message: string
}

/** Every violation the head parser reports. */
export type HeadViolation =
  | HeadTooLarge
  | TooManyHeaders
  | BareLineFeed
  | BareCarriageReturn
  | InvalidStatusLine
  | InvalidRequestLine
  | UnsupportedHttpVersion
  | ObsoleteLineFolding
  | WhitespaceBeforeColon
  | InvalidHeaderName
  | InvalidHeaderValue
  | InvalidContentLength
  | ConflictingContentLength
  | ContentLengthWithTransferEncoding
  | UnsupportedTransferEncoding

/** Violations a field section (head or trailers) can report. */
export type FieldViolation =
  | TooManyHeaders
  | BareLineFeed
  | BareCarriageReturn
  | ObsoleteLineFolding
  | WhitespaceBeforeColon
  | InvalidHeaderName
  | InvalidHeaderValue
  | InvalidContentLength
  | ConflictingContentLength
  | ContentLengthWithTransferEncoding
  | UnsupportedTransferEncoding

/** The message body is (or declares to be) larger than allowed. */
export interface BodyTooLarge {
  readonly _tag: "BodyTooLarge"
  readonly message: string
  readonly size: number
  readonly limit: number
}

/** `endOfInput()` was signalled while a message was incomplete; `received` is 0 when no byte of it arrived. */
export interface UnexpectedEndOfInput {
  readonly _tag: "UnexpectedEndOfInput"
  readonly message: string
  readonly received: number
}

/** A `BareLineFeed` violation at `offset`. */
export const bareLf = (offset: number): BareLineFeed => ({
  _tag: "BareLineFeed",
  message: `bare LF at offset ${offset}: lines must end with CR LF`,
  offset
})

/** A `BareCarriageReturn` violation at `offset`. */
export const bareCr = (offset: number): BareCarriageReturn => ({
  _tag: "BareCarriageReturn",
  message: `bare CR at offset ${offset}: CR must be followed by LF`,
  offset
})

/** A `TooManyHeaders` violation for `limit`. */
export const tooManyHeaders = (limit: number): TooManyHeaders => ({
  _tag: "TooManyHeaders",
  message: `more than ${limit} header fields`,
  limit
})

/** A `BodyTooLarge` violation: `size` bytes against `limit`. */
export const bodyTooLarge = (size: number, limit: number): BodyTooLarge => ({
  _tag: "BodyTooLarge",
  message: `body of ${size} bytes exceeds the limit of ${limit} bytes`,
  size,
  limit
})

/** An `UnsupportedTransferEncoding` violation saying `why`. */
export const unsupportedTransferEncoding = (why: string): UnsupportedTransferEncoding => ({
  _tag: "UnsupportedTransferEncoding",
  message: `unsupported Transfer-Encoding: ${why}`
})

/** An `UnexpectedEndOfInput` violation after `received` bytes of the incomplete message. */
export const unexpectedEnd = (received: number): UnexpectedEndOfInput => ({
  _tag: "UnexpectedEndOfInput",
  message: received === 0
    ? "input ended before any byte of the next message"
    : `input ended after ${received} bytes of an incomplete message`,
  received
})

/** A `HeadTooLarge` violation: `size` (or more) bytes against `limit`. */
export const headTooLarge = (size: number, limit: number): HeadTooLarge => ({
  _tag: "HeadTooLarge",
  message: `message head of ${size}+ bytes exceeds the limit of ${limit} bytes`,
  size,
  limit
})
