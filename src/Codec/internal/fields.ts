/**
 * Field sections (RFC 9112 §5, RFC 9110 §5): the parser shared by a message head and a chunked
 * body's trailers, and the `FieldList` of offsets it fills. The framing fields a reader needs —
 * `Content-Length`, `Transfer-Encoding`, `Connection` — are interpreted on the way, so nothing
 * searches the fields twice.
 *
 * Rules: a field line starting with SP/HTAB (obsolete line folding) is `ObsoleteLineFolding`;
 * whitespace between the name and the colon is `WhitespaceBeforeColon`; a name must be a
 * token; values are trimmed of SP/HTAB and may hold only HTAB, SP, VCHAR or obs-text; lines end
 * with CR LF (`BareLineFeed`, `BareCarriageReturn`). `Content-Length` must be decimal digits
 * ≤ 2^53 − 1; duplicates (repeated lines or the list form `5, 5`) are accepted when every value
 * is identical (RFC 9110 §8.6) and `ConflictingContentLength` otherwise. `Transfer-Encoding`
 * must be exactly one `chunked` coding (any case): the codec decodes no content coding, and a
 * non-final `chunked` leaves the length undeterminable (`UnsupportedTransferEncoding`).
 *
 * @internal
 */
import * as Http from "./http.ts"
import { decodeLatin1 } from "./node.ts"
import {
  bareCr,
  bareLf,
  type ConflictingContentLength,
  type FieldViolation,
  type InvalidContentLength,
  tooManyHeaders,
  unsupportedTransferEncoding,
  type UnsupportedTransferEncoding
} from "./violations.ts"

// Module-local bindings of the shared byte values: V8 folds a module's own `const` into the
// hot loops but loads an imported binding from its cell on every use (measured on Node 24:
// ~10% of a response parse when the field and start-line parsers imported them).
const { COLON, COMMA, CR, FIELD_VALUE, HT, LF, SP, TOKEN, equalsIgnoreCase } = Http

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

/** Accepts exactly one `chunked` coding across every `Transfer-Encoding` line. */
const parseTransferEncoding = (
  buf: Uint8Array,
  p: number,
  end: number,
  list: FieldList
): UnsupportedTransferEncoding | undefined => {
  if (list.transferEncoding) return unsupportedTransferEncoding("chunked applied more than once")
  while (p < end && (buf[p] === SP || buf[p] === HT || buf[p] === COMMA)) p++
  let e = end
  while (e > p && (buf[e - 1] === SP || buf[e - 1] === HT || buf[e - 1] === COMMA)) e--
  if (e - p !== 7 || !equalsIgnoreCase(buf, p, "chunked")) {
    return unsupportedTransferEncoding(`only a single "chunked" coding is supported, got "${decodeLatin1(buf, p, e)}"`)
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
