/**
 * The HTTP/1.1 head parser shared by `ResponseReader` and `RequestReader` (RFC 9112 §2–§6), the
 * violations both readers report, and the parsed-message base class they extend.
 *
 * Rules applied identically on both sides (smuggling-safe, never lenient in one place and strict
 * in another):
 * - Lines end with CR LF. A bare LF (`BareLineFeed`) or a CR not followed by LF
 *   (`BareCarriageReturn`) anywhere in a head, a chunk-size line or a trailer is rejected.
 * - Empty lines (CR LF) before the start line are skipped (RFC 9112 §2.2).
 * - A field line starting with SP/HTAB (obsolete line folding) is `ObsoleteLineFolding`;
 *   whitespace between the field name and the colon is `WhitespaceBeforeColon`.
 * - Field values are trimmed of SP/HTAB and must hold only HTAB, SP, VCHAR or obs-text.
 * - `Content-Length` must be decimal digits ≤ 2^53 − 1. Duplicates — repeated lines or the list
 *   form `5, 5` — are accepted when every value is identical (RFC 9110 §8.6 allows this) and
 *   rejected as `ConflictingContentLength` otherwise.
 * - `Transfer-Encoding` must be exactly `chunked` (one coding, any case): anything else, `gzip,
 *   chunked` included, is `UnsupportedTransferEncoding` because the codec does not decode
 *   content codings and a non-final `chunked` makes the length undeterminable. Both
 *   `Content-Length` and `Transfer-Encoding` is `ContentLengthWithTransferEncoding`, and
 *   `Transfer-Encoding` in an HTTP/1.0 message is rejected (RFC 9112 §6.1).
 * - A head longer than `maxHeadBytes` is `HeadTooLarge`, detected as soon as that many bytes
 *   are buffered without the terminating empty line, so a dribbling peer cannot make us buffer
 *   forever. Re-parsing an incomplete head only happens once its terminator has arrived, so
 *   byte-at-a-time input costs linear time.
 *
 * @internal
 */
import { type Buffer, decodeLatin1, decodeUtf8 } from "./node.ts"
import { TOKEN } from "./http.ts"
import type { ChunkedDecoder, ChunkedViolation } from "../ChunkedDecoder.ts"
import { NeedMore } from "../NeedMore.ts"
import type { ReadBuf } from "../ReadBuf.ts"

// ---------------------------------------------------------------------------------------------
// Violations
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Byte classes
// ---------------------------------------------------------------------------------------------

const CR = 0x0d
const LF = 0x0a
const SP = 0x20
const HT = 0x09
const COLON = 0x3a
const COMMA = 0x2c

/** `FIELD_VALUE[b] === 1` for HTAB, SP, VCHAR and obs-text (RFC 9110 §5.5). */
const FIELD_VALUE: Uint8Array = (() => {
  const table = new Uint8Array(256)
  table[HT] = 1
  for (let c = 0x20; c < 0x7f; c++) table[c] = 1
  for (let c = 0x80; c <= 0xff; c++) table[c] = 1
  return table
})()

/** Whether `buf[start, start + lower.length)` equals the lower-case ASCII `lower`, ignoring case. */
export const equalsIgnoreCase = (buf: Uint8Array, start: number, lower: string): boolean => {
  for (let i = 0; i < lower.length; i++) {
    const b = buf[start + i]!
    const c = lower.charCodeAt(i)
    if (b !== c && ((b | 0x20) !== c || c < 0x61 || c > 0x7a)) return false
  }
  return true
}

/** Case-insensitive comparison of a field name in the buffer against any-case `name`. */
const nameEquals = (buf: Uint8Array, start: number, name: string): boolean => {
  for (let i = 0; i < name.length; i++) {
    const b = buf[start + i]!
    const c = name.charCodeAt(i)
    if (b !== c) {
      const lb = b | 0x20
      if (lb !== (c | 0x20) || lb < 0x61 || lb > 0x7a) return false
    }
  }
  return true
}

// ---------------------------------------------------------------------------------------------
// Field sections
// ---------------------------------------------------------------------------------------------

/** `Connection` option bits collected while parsing. */
export const ConnectionToken = {
  close: 1,
  keepAlive: 2,
  upgrade: 4
} as const

/** Sentinel: the field section is not complete within the given bytes. */
export const INCOMPLETE = -1

/**
 * The fields of one section, as offsets relative to a base, plus the framing facts gathered on
 * the way (`contentLength`, `transferEncoding`, `connection`) so the reader never searches twice.
 */
export class FieldList {
  /**
   * Four offsets per field: name start, name end, value start, value end. Only the first
   * `count * 4` entries belong to the current section (the array is reused, see `reset`).
   */
  offsets: Array<number>
  count: number
  /** The agreed `Content-Length`, or -1 when absent. */
  contentLength: number
  /** Whether a `Transfer-Encoding` field was present (only `chunked` survives validation). */
  transferEncoding: boolean
  /** `ConnectionToken` bits. */
  connection: number

  constructor() {
    this.offsets = []
    this.count = 0
    this.contentLength = -1
    this.transferEncoding = false
    this.connection = 0
  }

  /**
   * Starts a new section, keeping the offsets array: the message that pointed into it is
   * invalid from the next reader call anyway (the module docs of both readers say so), and
   * reusing it saves the array and its regrowth on every message — measured on Node 24, most of
   * the ~850 bytes a 7-header response parse allocated.
   */
  reset(): void {
    this.count = 0
    this.contentLength = -1
    this.transferEncoding = false
    this.connection = 0
  }
}

const invalidContentLength = (why: string): InvalidContentLength => ({
  _tag: "InvalidContentLength",
  message: `invalid Content-Length: ${why}`
})

/** Parses a `Content-Length` value (possibly a list of identical numbers) into `list`. */
const parseContentLength = (
  buf: Uint8Array,
  p: number,
  end: number,
  list: FieldList
): InvalidContentLength | ConflictingContentLength | undefined => {
  let value = -1
  while (true) {
    while (p < end && (buf[p] === SP || buf[p] === HT)) p++
    let n = 0
    const digitsStart = p
    while (p < end) {
      const d = buf[p]! - 0x30
      if (d < 0 || d > 9) break
      n = n * 10 + d
      if (n > Number.MAX_SAFE_INTEGER) return invalidContentLength("exceeds 2^53 - 1")
      p++
    }
    if (p === digitsStart) return invalidContentLength("expected decimal digits")
    while (p < end && (buf[p] === SP || buf[p] === HT)) p++
    if (value !== -1 && n !== value) {
      return {
        _tag: "ConflictingContentLength",
        message: `conflicting Content-Length values ${value} and ${n}`,
        first: value,
        second: n
      }
    }
    value = n
    if (p === end) break
    if (buf[p] !== COMMA) return invalidContentLength("expected decimal digits")
    p++
  }
  if (list.contentLength !== -1 && list.contentLength !== value) {
    return {
      _tag: "ConflictingContentLength",
      message: `conflicting Content-Length values ${list.contentLength} and ${value}`,
      first: list.contentLength,
      second: value
    }
  }
  list.contentLength = value
  return undefined
}

const unsupportedTe = (why: string): UnsupportedTransferEncoding => ({
  _tag: "UnsupportedTransferEncoding",
  message: `unsupported Transfer-Encoding: ${why}`
})

/** Accepts exactly one `chunked` coding across every `Transfer-Encoding` line. */
const parseTransferEncoding = (
  buf: Uint8Array,
  p: number,
  end: number,
  list: FieldList
): UnsupportedTransferEncoding | undefined => {
  if (list.transferEncoding) return unsupportedTe("chunked applied more than once")
  while (p < end && (buf[p] === SP || buf[p] === HT || buf[p] === COMMA)) p++
  let e = end
  while (e > p && (buf[e - 1] === SP || buf[e - 1] === HT || buf[e - 1] === COMMA)) e--
  if (e - p !== 7 || !equalsIgnoreCase(buf, p, "chunked")) {
    return unsupportedTe(`only a single "chunked" coding is supported, got "${decodeLatin1(buf, p, e)}"`)
  }
  list.transferEncoding = true
  return undefined
}

/** Collects `close` / `keep-alive` / `upgrade` from a comma-separated `Connection` value. */
const parseConnection = (buf: Uint8Array, p: number, end: number, list: FieldList): void => {
  while (p < end) {
    while (p < end && (buf[p] === SP || buf[p] === HT || buf[p] === COMMA)) p++
    const s = p
    while (p < end && buf[p] !== COMMA) p++
    let e = p
    while (e > s && (buf[e - 1] === SP || buf[e - 1] === HT)) e--
    const n = e - s
    if (n === 5 && equalsIgnoreCase(buf, s, "close")) list.connection |= ConnectionToken.close
    else if (n === 10 && equalsIgnoreCase(buf, s, "keep-alive")) list.connection |= ConnectionToken.keepAlive
    else if (n === 7 && equalsIgnoreCase(buf, s, "upgrade")) list.connection |= ConnectionToken.upgrade
  }
}

/** The first offset in `[p, end)` holding a byte that may not appear in a field value, else `end`. */
const skipFieldValue = (buf: Uint8Array, p: number, end: number): number => {
  while (p < end && FIELD_VALUE[buf[p]!] === 1) p++
  return p
}

/** Values at least this long are scanned a word at a time. */
const MIN_WORD_SCAN = 16

/**
 * `skipFieldValue` four bytes per step through `words`, an `Int32Array` over the same (4-byte
 * aligned) memory as `buf`: a word passes when none of its bytes is below 0x20 or 0x7F (the
 * usual SWAR "has a byte less than" test; obs-text 0x80–0xFF passes). A word that fails — the
 * CR ending the value, an HTAB, or a bad byte — is finished by the byte loop, which decides.
 * Measured on Node 24 (loaded 2-core box, CPU time, A/B): ~20 ns (~4%) off the 7-header,
 * 330-byte order-entry response of `bench/codec/http-parse.ts`.
 */
const skipFieldValueWords = (buf: Uint8Array, words: Int32Array, p: number, end: number): number => {
  if (end - p >= MIN_WORD_SCAN) {
    while ((p & 3) !== 0) {
      if (FIELD_VALUE[buf[p]!] !== 1) return p
      p++
    }
    const kEnd = end >> 2
    let k = p >> 2
    for (; k < kEnd; k++) {
      const w = words[k]!
      const d = w ^ 0x7f7f7f7f
      if (((((w - 0x20202020) | 0) & ~w) | (((d - 0x01010101) | 0) & ~d)) & 0x80808080) break
    }
    p = k << 2
  }
  while (p < end && FIELD_VALUE[buf[p]!] === 1) p++
  return p
}

/**
 * Parses field lines from `p` (a line start) through the terminating empty line, appending
 * offsets relative to `base` to `list`. With `framing`, `Content-Length`, `Transfer-Encoding`
 * and `Connection` are interpreted (not for trailers). Returns the offset just past the empty
 * line's LF, `INCOMPLETE` when `end` cuts the section, or a violation.
 */
export const parseFields = (
  buf: Uint8Array,
  p: number,
  end: number,
  base: number,
  list: FieldList,
  maxFields: number,
  framing: boolean,
  words?: Int32Array | undefined
): number | FieldViolation => {
  const offsets = list.offsets
  while (true) {
    if (p >= end) return INCOMPLETE
    let c = buf[p]!
    if (c === CR) {
      if (p + 1 >= end) return INCOMPLETE
      if (buf[p + 1] !== LF) return bareCr(p - base)
      return p + 2
    }
    if (c === LF) return bareLf(p - base)
    if (c === SP || c === HT) {
      return {
        _tag: "ObsoleteLineFolding",
        message: `field line starting with whitespace at offset ${p - base} (obsolete line folding)`,
        offset: p - base
      }
    }
    const nameStart = p
    while (p < end && TOKEN[buf[p]!] === 1) p++
    if (p >= end) return INCOMPLETE
    const nameEnd = p
    c = buf[p]!
    if (c !== COLON || nameEnd === nameStart) {
      if ((c === SP || c === HT) && nameEnd > nameStart) {
        return {
          _tag: "WhitespaceBeforeColon",
          message: `whitespace between field name and colon at offset ${p - base}`,
          offset: p - base
        }
      }
      if (c === LF) return bareLf(p - base)
      return {
        _tag: "InvalidHeaderName",
        message: nameEnd === nameStart
          ? `empty or invalid field name at offset ${p - base}`
          : `field name followed by byte 0x${c.toString(16)} instead of a colon at offset ${p - base}`,
        offset: p - base
      }
    }
    p++
    while (p < end && (buf[p] === SP || buf[p] === HT)) p++
    const valueStart = p
    p = words === undefined ? skipFieldValue(buf, p, end) : skipFieldValueWords(buf, words, p, end)
    if (p >= end) return INCOMPLETE
    c = buf[p]!
    if (c !== CR) {
      if (c === LF) return bareLf(p - base)
      return {
        _tag: "InvalidHeaderValue",
        message: `control byte 0x${c.toString(16)} in a field value at offset ${p - base}`,
        offset: p - base
      }
    }
    if (p + 1 >= end) return INCOMPLETE
    if (buf[p + 1] !== LF) return bareCr(p - base)
    let valueEnd = p
    while (valueEnd > valueStart && (buf[valueEnd - 1] === SP || buf[valueEnd - 1] === HT)) valueEnd--
    p += 2
    if (list.count === maxFields) return tooManyHeaders(maxFields)
    const k = list.count * 4
    offsets[k] = nameStart - base
    offsets[k + 1] = nameEnd - base
    offsets[k + 2] = valueStart - base
    offsets[k + 3] = valueEnd - base
    list.count++
    if (framing) {
      const n = nameEnd - nameStart
      if (n === 14) {
        if (equalsIgnoreCase(buf, nameStart, "content-length")) {
          const error = parseContentLength(buf, valueStart, valueEnd, list)
          if (error !== undefined) return error
        }
      } else if (n === 17) {
        if (equalsIgnoreCase(buf, nameStart, "transfer-encoding")) {
          const error = parseTransferEncoding(buf, valueStart, valueEnd, list)
          if (error !== undefined) return error
        }
      } else if (n === 10 && equalsIgnoreCase(buf, nameStart, "connection")) {
        parseConnection(buf, valueStart, valueEnd, list)
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Start lines
// ---------------------------------------------------------------------------------------------

/** What the start line parser found; reused per reader. */
export class StartLine {
  /** Minor version (0 for HTTP/1.0, 1 for 1.1 and any later 1.x). */
  minor: number
  status: number
  /** Reason phrase or method/target offsets, relative to the message base. */
  aStart: number
  aEnd: number
  bStart: number
  bEnd: number

  constructor() {
    this.minor = 1
    this.status = 0
    this.aStart = 0
    this.aEnd = 0
    this.bStart = 0
    this.bEnd = 0
  }
}

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39

const invalidStatus = (offset: number, why: string): InvalidStatusLine => ({
  _tag: "InvalidStatusLine",
  message: `invalid status line: ${why}`,
  offset
})

const invalidRequest = (offset: number, why: string): InvalidRequestLine => ({
  _tag: "InvalidRequestLine",
  message: `invalid request line: ${why}`,
  offset
})

/** Checks `HTTP/d.d` at `p`; returns the major/minor or -1 for a malformed version. */
const parseVersion = (buf: Uint8Array, p: number, out: StartLine): number => {
  if (
    buf[p] !== 0x48 || buf[p + 1] !== 0x54 || buf[p + 2] !== 0x54 || buf[p + 3] !== 0x50 ||
    buf[p + 4] !== 0x2f || !isDigit(buf[p + 5]!) || buf[p + 6] !== 0x2e || !isDigit(buf[p + 7]!)
  ) return -1
  out.minor = buf[p + 7]! - 0x30
  return buf[p + 5]! - 0x30
}

const unsupportedVersion = (major: number, minor: number): UnsupportedHttpVersion => ({
  _tag: "UnsupportedHttpVersion",
  message: `unsupported HTTP version ${major}.${minor}`,
  major,
  minor
})

/** Finds the CR LF ending the line at `p`; returns the CR offset, `INCOMPLETE`, or a violation. */
const lineEnd = (buf: Uint8Array, p: number, end: number, base: number): number | BareLineFeed | BareCarriageReturn => {
  for (let i = p; i < end; i++) {
    const c = buf[i]
    if (c === CR) {
      if (i + 1 >= end) return INCOMPLETE
      return buf[i + 1] === LF ? i : bareCr(i - base)
    }
    if (c === LF) return bareLf(i - base)
  }
  return INCOMPLETE
}

/** Parses `HTTP/d.d SP 3DIGIT [SP reason] CRLF` at `p`; returns the next line's offset. */
export const parseStatusLine = (
  buf: Uint8Array,
  p: number,
  end: number,
  out: StartLine
): number | HeadViolation => {
  const base = p
  const e = lineEnd(buf, p, end, base)
  if (typeof e !== "number") return e
  if (e === INCOMPLETE) return INCOMPLETE
  if (e - p < 12) return invalidStatus(0, "too short")
  const major = parseVersion(buf, p, out)
  if (major === -1) return invalidStatus(0, "expected HTTP/d.d")
  if (major !== 1) return unsupportedVersion(major, out.minor)
  if (out.minor > 1) out.minor = 1
  if (buf[p + 8] !== SP) return invalidStatus(8, "expected a space after the version")
  const d0 = buf[p + 9]!, d1 = buf[p + 10]!, d2 = buf[p + 11]!
  if (!isDigit(d0) || !isDigit(d1) || !isDigit(d2)) return invalidStatus(9, "expected a 3-digit status code")
  const status = (d0 - 0x30) * 100 + (d1 - 0x30) * 10 + (d2 - 0x30)
  if (status < 100 || status > 599) return invalidStatus(9, `status ${status} outside 100-599`)
  out.status = status
  // "HTTP/1.1 200\r\n" (no SP, no reason) is common enough to accept; the reason is ignored anyway
  if (e === p + 12) {
    out.aStart = out.aEnd = 12
  } else {
    if (buf[p + 12] !== SP) return invalidStatus(12, "expected a space after the status code")
    for (let i = p + 13; i < e; i++) {
      if (FIELD_VALUE[buf[i]!] !== 1) return invalidStatus(i - base, "control byte in the reason phrase")
    }
    out.aStart = 13
    out.aEnd = e - base
  }
  return e + 2
}

/** Parses `method SP request-target SP HTTP/d.d CRLF` at `p`; returns the next line's offset. */
export const parseRequestLine = (
  buf: Uint8Array,
  p: number,
  end: number,
  out: StartLine
): number | HeadViolation => {
  const base = p
  const e = lineEnd(buf, p, end, base)
  if (typeof e !== "number") return e
  if (e === INCOMPLETE) return INCOMPLETE
  let i = p
  while (i < e && TOKEN[buf[i]!] === 1) i++
  if (i === p) return invalidRequest(0, "expected a method token")
  if (buf[i] !== SP) return invalidRequest(i - base, "expected a space after the method")
  out.aStart = 0
  out.aEnd = i - base
  const targetStart = ++i
  // request-target: visible ASCII only (no SP, no controls, no DEL, no obs-text)
  while (i < e) {
    const c = buf[i]!
    if (c <= SP || c >= 0x7f) break
    i++
  }
  if (i === targetStart) return invalidRequest(i - base, "expected a request target")
  if (buf[i] !== SP) return invalidRequest(i - base, "invalid byte in the request target")
  out.bStart = targetStart - base
  out.bEnd = i - base
  i++
  if (e - i !== 8) return invalidRequest(i - base, "expected HTTP/d.d at the end")
  const major = parseVersion(buf, i, out)
  if (major === -1) return invalidRequest(i - base, "expected HTTP/d.d at the end")
  if (major !== 1) return unsupportedVersion(major, out.minor)
  if (out.minor > 1) out.minor = 1
  return e + 2
}

/** Number of leading CR LF pairs at `p` (empty lines before a start line), i.e. bytes to skip. */
export const leadingEmptyLines = (buf: Uint8Array, p: number, end: number): number => {
  let n = 0
  while (p + n + 1 < end && buf[p + n] === CR && buf[p + n + 1] === LF) n += 2
  return n
}

/**
 * Scans `[from, end)` of an incomplete head for the terminating CR LF CR LF while checking line
 * endings; returns the head length (relative to `base`), `INCOMPLETE`, or a violation. Used to
 * gate re-parsing so a dribbled head is parsed in full only once.
 */
export const scanHeadEnd = (
  buf: Uint8Array,
  base: number,
  from: number,
  end: number
): number | BareLineFeed | BareCarriageReturn => {
  for (let i = from; i < end; i++) {
    const c = buf[i]
    if (c === LF) {
      if (i === base || buf[i - 1] !== CR) return bareLf(i - base)
      if (i - 3 >= base && buf[i - 2] === LF && buf[i - 3] === CR) return i + 1 - base
    } else if (c === CR && i + 1 < end && buf[i + 1] !== LF) {
      return bareCr(i - base)
    }
  }
  return INCOMPLETE
}

// ---------------------------------------------------------------------------------------------
// Parsed messages
// ---------------------------------------------------------------------------------------------

const findField = (buf: Uint8Array, base: number, offsets: Array<number>, count: number, name: string, from: number): number => {
  const n = name.length
  for (let i = from; i < count; i++) {
    const s = offsets[i * 4]!
    if (offsets[i * 4 + 1]! - s === n && nameEquals(buf, base + s, name)) return i
  }
  return -1
}

/**
 * What `Response` and `Request` share: fields (case-insensitive lookup, wire order), the body
 * view and trailers. Everything reads the reader's buffer lazily, so a message is valid only
 * until the next call on the reader that produced it; copy what you keep (`bodyText()`,
 * `headers()` and `copyBody()` return owned values).
 */
export class HttpMessage {
  /** The buffer the offsets point into. */
  readonly buf: Buffer
  /** Absolute offset of the message's first byte in `buf`. */
  readonly base: number
  /** Field offsets relative to `base`, four per field. */
  readonly fieldOffsets: Array<number>
  /** Number of header fields. */
  readonly headerCount: number
  /** Absolute offsets of the (decoded) body in `buf`. */
  readonly bodyStart: number
  readonly bodyEnd: number
  /** `Content-Length` as declared, or `undefined` (absent, or ignored for a body-less response). */
  readonly contentLength: number | undefined
  /** Whether the body was sent with chunked transfer coding. */
  readonly chunked: boolean
  /** Whether the connection may carry another message after this one (keep-alive). */
  readonly reusable: boolean
  /** `Connection` tokens seen (`ConnectionToken` bits). */
  readonly connectionTokens: number
  /** Trailer offsets relative to `base` (chunked bodies only). */
  readonly trailerOffsets: Array<number>
  readonly trailerCount: number

  constructor(
    buf: Buffer,
    base: number,
    fields: FieldList,
    bodyStart: number,
    bodyEnd: number,
    contentLength: number | undefined,
    chunked: boolean,
    reusable: boolean,
    trailerOffsets: Array<number>,
    trailerCount: number
  ) {
    this.buf = buf
    this.base = base
    this.fieldOffsets = fields.offsets
    this.headerCount = fields.count
    this.bodyStart = bodyStart
    this.bodyEnd = bodyEnd
    this.contentLength = contentLength
    this.chunked = chunked
    this.reusable = reusable
    this.connectionTokens = fields.connection
    this.trailerOffsets = trailerOffsets
    this.trailerCount = trailerCount
  }

  /** Alias of `reusable`. */
  get keepAlive(): boolean {
    return this.reusable
  }

  /** The first value of header `name` (case-insensitive), or `undefined`. */
  header(name: string): string | undefined {
    const i = findField(this.buf, this.base, this.fieldOffsets, this.headerCount, name, 0)
    return i === -1 ? undefined : this.headerValue(i)
  }

  /** Every value of header `name` (case-insensitive) in wire order. */
  headerAll(name: string): Array<string> {
    const out: Array<string> = []
    let i = findField(this.buf, this.base, this.fieldOffsets, this.headerCount, name, 0)
    while (i !== -1) {
      out.push(this.headerValue(i))
      i = findField(this.buf, this.base, this.fieldOffsets, this.headerCount, name, i + 1)
    }
    return out
  }

  /** Whether header `name` holds `token` (case-insensitive) in any of its comma-separated lists. */
  hasToken(name: string, token: string): boolean {
    const lower = token.toLowerCase()
    const o = this.fieldOffsets
    let i = findField(this.buf, this.base, o, this.headerCount, name, 0)
    while (i !== -1) {
      let p = this.base + o[i * 4 + 2]!
      const end = this.base + o[i * 4 + 3]!
      while (p < end) {
        while (p < end && (this.buf[p] === SP || this.buf[p] === HT || this.buf[p] === COMMA)) p++
        const s = p
        while (p < end && this.buf[p] !== COMMA) p++
        let e = p
        while (e > s && (this.buf[e - 1] === SP || this.buf[e - 1] === HT)) e--
        if (e - s === lower.length && equalsIgnoreCase(this.buf, s, lower)) return true
      }
      i = findField(this.buf, this.base, o, this.headerCount, name, i + 1)
    }
    return false
  }

  /** The name of the `i`-th header as sent (wire order, original case). */
  headerName(i: number): string {
    const o = this.fieldOffsets
    return decodeLatin1(this.buf, this.base + o[i * 4]!, this.base + o[i * 4 + 1]!)
  }

  /** The value of the `i`-th header (wire order, trimmed, latin1-decoded). */
  headerValue(i: number): string {
    const o = this.fieldOffsets
    return decodeLatin1(this.buf, this.base + o[i * 4 + 2]!, this.base + o[i * 4 + 3]!)
  }

  /** All headers as owned `[name, value]` pairs in wire order. */
  headers(): Array<[string, string]> {
    const out: Array<[string, string]> = []
    for (let i = 0; i < this.headerCount; i++) out.push([this.headerName(i), this.headerValue(i)])
    return out
  }

  /** Iterates `[name, value]` pairs in wire order. */
  *[Symbol.iterator](): IterableIterator<[string, string]> {
    for (let i = 0; i < this.headerCount; i++) yield [this.headerName(i), this.headerValue(i)]
  }

  /** The body as a view into the reader's buffer: valid until the next call on the reader. */
  get body(): Buffer {
    return this.buf.subarray(this.bodyStart, this.bodyEnd)
  }

  /** Body length in bytes (decoded, for chunked bodies). */
  get bodyLength(): number {
    return this.bodyEnd - this.bodyStart
  }

  /** An owned copy of the body. */
  copyBody(): Uint8Array {
    return Uint8Array.prototype.slice.call(this.buf, this.bodyStart, this.bodyEnd)
  }

  /** The body decoded as UTF-8 (invalid sequences become U+FFFD); an owned string. */
  bodyText(): string {
    return decodeUtf8(this.buf.subarray(this.bodyStart, this.bodyEnd))
  }

  /** The first value of trailer `name` (case-insensitive), or `undefined`. */
  trailer(name: string): string | undefined {
    const o = this.trailerOffsets
    const i = findField(this.buf, this.base, o, this.trailerCount, name, 0)
    return i === -1 ? undefined : decodeLatin1(this.buf, this.base + o[i * 4 + 2]!, this.base + o[i * 4 + 3]!)
  }

  /** All trailers as owned `[name, value]` pairs in wire order. */
  trailers(): Array<[string, string]> {
    const o = this.trailerOffsets
    const out: Array<[string, string]> = []
    for (let i = 0; i < this.trailerCount; i++) {
      out.push([
        decodeLatin1(this.buf, this.base + o[i * 4]!, this.base + o[i * 4 + 1]!),
        decodeLatin1(this.buf, this.base + o[i * 4 + 2]!, this.base + o[i * 4 + 3]!)
      ])
    }
    return out
  }
}

/** A shared empty offsets array for messages without trailers (never mutated). */
export const NO_FIELDS: Array<number> = []


// ---------------------------------------------------------------------------------------------
// The reader engine shared by ResponseReader and RequestReader
// ---------------------------------------------------------------------------------------------

/** Where the reader is within the current message. */
export const Phase = {
  head: 0,
  fixed: 1,
  chunked: 2,
  untilClose: 3
} as const

/** Smallest spare region `spare()` tries to offer before the caller reads: 4 KiB. */
const MIN_SPARE = 4 * 1024

const unexpectedEnd = (received: number): UnexpectedEndOfInput => ({
  _tag: "UnexpectedEndOfInput",
  message: received === 0
    ? "input ended before any byte of the next message"
    : `input ended after ${received} bytes of an incomplete message`,
  received
})

const headTooLarge = (size: number, limit: number): HeadTooLarge => ({
  _tag: "HeadTooLarge",
  message: `message head of ${size}+ bytes exceeds the limit of ${limit} bytes`,
  size,
  limit
})

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

  /**
   * Whether the current message's head has been parsed and its body is being read (a message
   * without a body completes straight from the head and never shows this).
   */
  get readingBody(): boolean {
    return this.phase !== Phase.head
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
    const q = parseFields(buf, p, bound, start, fields, this.maxHeaders, true, this.slabWords())
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
      if (line.minor === 0) return this.fail(unsupportedTe("Transfer-Encoding in an HTTP/1.0 message"))
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

  /** Raw bytes the complete current message occupies (head plus framed body). */
  protected consumedLength(bodyEnd: number): number {
    return this.phase === Phase.chunked
      ? this.headLength + this.decoder.read
      : bodyEnd - this.rb.start
  }

  /** Trailer offsets of a completed chunked body, rebased onto the message start. */
  protected trailerOffsets(): Array<number> {
    const trailers = this.decoder.trailers
    if (this.phase !== Phase.chunked || trailers.count === 0) return NO_FIELDS
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

/** Options of both readers. */
export interface ReaderOptions {
  /** Initial buffer capacity in bytes. Default 32 KiB. */
  readonly bufferCapacity?: number | undefined
  /**
   * Largest the buffer may grow to. Default `maxHeadBytes + maxBodySize + bufferCapacity`, so
   * any message within the limits fits (a message is parsed from one contiguous region).
   */
  readonly maxBufferCapacity?: number | undefined
  /** Largest head (start line, fields, empty line) in bytes. Default 16 KiB. */
  readonly maxHeadBytes?: number | undefined
  /** Most header fields per message (trailers too). Default 64. */
  readonly maxHeaders?: number | undefined
  /** Largest body in bytes (decoded, for chunked). Default 16 MiB. */
  readonly maxBodySize?: number | undefined
}

/** Default `bufferCapacity`: 32 KiB. */
export const DEFAULT_BUFFER_CAPACITY = 32 * 1024
/** Default `maxHeadBytes`: 16 KiB. */
export const DEFAULT_MAX_HEAD_BYTES = 16 * 1024
/** Default `maxHeaders`: 64. */
export const DEFAULT_MAX_HEADERS = 64
/** Default `maxBodySize`: 16 MiB. */
export const DEFAULT_MAX_BODY_SIZE = 16 * 1024 * 1024

/** Validates and defaults reader options; throws `RangeError` naming `who` on misuse. */
export const resolveReaderOptions = (options: ReaderOptions, who: string) => {
  const capacity = options.bufferCapacity ?? DEFAULT_BUFFER_CAPACITY
  const maxHeadBytes = options.maxHeadBytes ?? DEFAULT_MAX_HEAD_BYTES
  const maxHeaders = options.maxHeaders ?? DEFAULT_MAX_HEADERS
  const maxBodySize = options.maxBodySize ?? DEFAULT_MAX_BODY_SIZE
  const maxCapacity = options.maxBufferCapacity ?? Math.max(capacity, maxHeadBytes + maxBodySize + capacity)
  for (const [name, value] of [
    ["bufferCapacity", capacity],
    ["maxHeadBytes", maxHeadBytes],
    ["maxHeaders", maxHeaders]
  ] as const) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`${who} ${name} must be a positive integer, got ${value}`)
    }
  }
  if (!Number.isSafeInteger(maxBodySize) || maxBodySize < 0) {
    throw new RangeError(`${who} maxBodySize must be a non-negative integer, got ${maxBodySize}`)
  }
  if (!Number.isSafeInteger(maxCapacity) || maxCapacity < capacity || maxCapacity < maxHeadBytes) {
    throw new RangeError(
      `${who} maxBufferCapacity must be an integer >= bufferCapacity and >= maxHeadBytes, got ${maxCapacity}`
    )
  }
  return { capacity, maxBodySize, maxCapacity, maxHeadBytes, maxHeaders }
}
