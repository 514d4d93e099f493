/**
 * Start lines and head boundaries (RFC 9112 §2–§4): the status line a client reads, the request
 * line a server reads, the empty lines allowed before either (§2.2), and the scan for the empty
 * line ending a head that gates re-parsing a dribbled head, so byte-at-a-time input costs
 * linear time.
 *
 * Rules: `HTTP/d.d SP 3DIGIT [SP reason]` with a status in 100–599 (a missing reason is
 * accepted, a reason is VCHAR/obs-text/SP/HTAB); `token SP target SP HTTP/d.d` with a target
 * of visible ASCII; a well-formed version other than 1.x is `UnsupportedHttpVersion`, and any
 * later 1.x reads as 1.1. Lines end with CR LF.
 *
 * @internal
 */
import { INCOMPLETE } from "./fields.ts"
import * as Http from "./http.ts"
import {
  bareCr,
  type BareCarriageReturn,
  bareLf,
  type BareLineFeed,
  type HeadViolation,
  type InvalidRequestLine,
  type InvalidStatusLine,
  type UnsupportedHttpVersion
} from "./violations.ts"

// Module-local bindings of the shared byte values: V8 folds a module's own `const` into the
// hot loops but loads an imported binding from its cell on every use (measured on Node 24:
// ~10% of a response parse when the field and start-line parsers imported them).
const { CR, FIELD_VALUE, LF, SP, TOKEN } = Http

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
