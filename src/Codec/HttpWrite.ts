/**
 * `HttpWrite` — one-shot HTTP/1.1 serializers for a request or response head plus an optional
 * body, written into a caller's buffer at an offset (RFC 9112 §3, §4, §5).
 *
 * ```text
 * writeRequest(target, offset, { method, path, headers }, body?)   ─► bytes written | HttpWriteError
 * writeResponse(target, offset, { status, reason?, headers }, body?) ─► bytes written | HttpWriteError
 * encodeRequest / encodeResponse (same arguments, no target)        ─► exact-size Uint8Array | HttpWriteError
 * requestLength / responseLength                                      ─► bytes the write needs
 * ```
 *
 * Rules (for the handshake and any other caller):
 * - Heads are written as latin1; the body is raw bytes or a string written as UTF-8.
 * - Validation happens while copying, in wire order; the first fault is returned as a tagged
 *   error and the bytes already written past `offset` are garbage (nothing is written when the
 *   buffer is too small — that check comes first, from `requestLength` / `responseLength`).
 *   - CR, LF or NUL in the method, path, reason or any header name/value → `CrlfInjection`.
 *   - A method or header name that is not an RFC 9110 token → `InvalidToken`.
 *   - Any other control character (not HTAB) or a character above U+00FF in a header value or
 *     reason, or a space / control / DEL / character above U+00FF in the path → `InvalidCharacter`.
 *   - `target.length - offset` smaller than the message → `BufferTooSmall { needed, available }`.
 * - An empty path is written as `/`.
 * - `Content-Length` is added after the caller's headers unless they already hold a
 *   `Content-Length` or `Transfer-Encoding` (any case): for a request only when a body is given
 *   (even an empty one); for a response always, except for 1xx, 204 and 304, which have no body.
 * - `reason` defaults to the standard phrase of `status` (empty for an unknown status).
 * - Throws `RangeError` only on caller misuse: a status that is not an integer in 100..999, a
 *   body given to a 1xx/204/304 response, or an offset outside the target.
 *
 * The error field names (`field`) are the {@link Field} values, shared with `RequestWriter`.
 *
 * @since 0.1.0
 */
import { type BufferTooSmall, bufferTooSmall } from "./internal/bufferTooSmall.ts"
import { TOKEN } from "./internal/http.ts"
import { utf8Length, writeUtf8 } from "./internal/node.ts"

/** Which part of the message an error points at. */
export const Field = {
  Method: "method",
  Path: "path",
  HeaderName: "header name",
  HeaderValue: "header value",
  Reason: "reason",
  QueryKey: "query key",
  QueryValue: "query value"
} as const

/** One of the {@link Field} values. */
export type Field = (typeof Field)[keyof typeof Field]

/** CR, LF or NUL in caller input (header injection / request smuggling). */
export interface CrlfInjection {
  readonly _tag: "CrlfInjection"
  readonly field: Field
  /** Index of the offending character in the field's string. */
  readonly index: number
  readonly message: string
}

/** A method or header name that is empty or holds a non-`tchar` (RFC 9110 §5.6.2). */
export interface InvalidToken {
  readonly _tag: "InvalidToken"
  readonly field: Field
  /** Index of the offending character (0 for an empty token). */
  readonly index: number
  readonly message: string
}

/** A character the field may not carry on the wire (control, space in a path, above U+00FF). */
export interface InvalidCharacter {
  readonly _tag: "InvalidCharacter"
  readonly field: Field
  readonly index: number
  /** The UTF-16 code unit found. */
  readonly code: number
  readonly message: string
}

/** The message does not fit between `offset` and the end of the target. */
export type { BufferTooSmall }

/** Every fault `writeRequest` / `writeResponse` report. */
export type HttpWriteError = CrlfInjection | InvalidToken | InvalidCharacter | BufferTooSmall

/** A request head: method, path (origin-form, may include `?query`), headers in wire order. */
export interface RequestHead {
  readonly method: string
  readonly path: string
  readonly headers: ReadonlyArray<readonly [string, string]>
}

/** A response head; `reason` defaults to the standard phrase of `status`. */
export interface ResponseHead {
  readonly status: number
  readonly reason?: string | undefined
  readonly headers: ReadonlyArray<readonly [string, string]>
}

/** A body: raw bytes, or a string written as UTF-8. */
export type Body = Uint8Array | string

// ---------------------------------------------------------------------------------------------
// Checked copy primitives, shared with RequestWriter. Each copies `s` as latin1 at `pos` while
// checking every character, and returns the position after it, or `-(index + 1)` for the first
// bad character. The caller guarantees room for `s.length` bytes.
// ---------------------------------------------------------------------------------------------

/** `VALUE[c] === 1` when `c` may appear in a header value or reason: HTAB, SP..~, 0x80..0xFF. */
const VALUE: Uint8Array = (() => {
  const table = new Uint8Array(256)
  table[0x09] = 1
  for (let c = 0x20; c <= 0x7e; c++) table[c] = 1
  for (let c = 0x80; c <= 0xff; c++) table[c] = 1
  return table
})()

/** `TARGET[c] === 1` when `c` may appear in a request target: `!`..`~` and 0x80..0xFF. */
const TARGET: Uint8Array = (() => {
  const table = new Uint8Array(256)
  for (let c = 0x21; c <= 0x7e; c++) table[c] = 1
  for (let c = 0x80; c <= 0xff; c++) table[c] = 1
  return table
})()

/** @internal Copies a token (method, header name); empty → `-1`. */
export const copyToken = (buf: Uint8Array, pos: number, s: string): number => {
  const n = s.length
  if (n === 0) return -1
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c > 0xff || TOKEN[c] !== 1) return -(i + 1)
    buf[pos + i] = c
  }
  return pos + n
}

/** @internal Copies a header value or reason phrase. */
export const copyValue = (buf: Uint8Array, pos: number, s: string): number => {
  const n = s.length
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c > 0xff || VALUE[c] !== 1) return -(i + 1)
    buf[pos + i] = c
  }
  return pos + n
}

/** @internal Copies a request target (path and query). */
export const copyTarget = (buf: Uint8Array, pos: number, s: string): number => {
  const n = s.length
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c > 0xff || TARGET[c] !== 1) return -(i + 1)
    buf[pos + i] = c
  }
  return pos + n
}

/** @internal Copies ASCII known to be valid (constants). */
export const copyAscii = (buf: Uint8Array, pos: number, s: string): number => {
  const n = s.length
  for (let i = 0; i < n; i++) buf[pos + i] = s.charCodeAt(i)
  return pos + n
}

/** @internal Writes the decimal digits of a non-negative safe integer; returns the end position. */
export const writeDecimal = (buf: Uint8Array, pos: number, value: number): number => {
  const width = decimalWidth(value)
  let v = value
  for (let i = pos + width - 1; i >= pos; i--) {
    const q = Math.floor(v / 10)
    buf[i] = 0x30 + (v - q * 10)
    v = q
  }
  return pos + width
}

/**
 * @internal Decimal digit count of a non-negative safe integer. Comparisons, not a division
 * loop: a request build asks up to four times (measured ~7% of an order-entry build as a loop).
 */
export const decimalWidth = (value: number): number => {
  if (value < 10000) return value < 10 ? 1 : value < 100 ? 2 : value < 1000 ? 3 : 4
  if (value < 100000000) return value < 100000 ? 5 : value < 1000000 ? 6 : value < 10000000 ? 7 : 8
  let width = 9
  for (let limit = 1000000000; value >= limit && width < 16; limit *= 10) width++
  return width
}

const describeChar = (code: number): string =>
  code === 0x0d ? "CR" : code === 0x0a ? "LF" : code === 0x00 ? "NUL" : `U+${code.toString(16).toUpperCase().padStart(4, "0")}`

/**
 * @internal The tagged error for the bad character at `index` of `s` in `field`: CR/LF/NUL give
 * `CrlfInjection`, anything else `InvalidToken` for token fields and `InvalidCharacter` otherwise.
 */
export const fieldError = (field: Field, s: string, index: number): CrlfInjection | InvalidToken | InvalidCharacter => {
  if (s.length === 0) {
    return { _tag: "InvalidToken", field, index: 0, message: `${field} is empty` }
  }
  const code = s.charCodeAt(index)
  if (code === 0x0d || code === 0x0a || code === 0x00) {
    return { _tag: "CrlfInjection", field, index, message: `${field} holds ${describeChar(code)} at index ${index}` }
  }
  if (field === Field.Method || field === Field.HeaderName) {
    return {
      _tag: "InvalidToken",
      field,
      index,
      message: `${field} ${JSON.stringify(s)} is not a token: ${describeChar(code)} at index ${index}`
    }
  }
  return {
    _tag: "InvalidCharacter",
    field,
    index,
    code,
    message: `${field} holds ${describeChar(code)} at index ${index}, which HTTP/1.1 cannot carry there`
  }
}

/** @internal Whether `name` is `content-length` or `transfer-encoding` in any case. */
export const isFramingHeader = (name: string): boolean => {
  const n = name.length
  if (n !== 14 && n !== 17) return false
  const lower = name.toLowerCase()
  return lower === "content-length" || lower === "transfer-encoding"
}

const hasFramingHeader = (headers: ReadonlyArray<readonly [string, string]>): boolean => {
  for (let i = 0; i < headers.length; i++) if (isFramingHeader(headers[i]![0])) return true
  return false
}

const headersLength = (headers: ReadonlyArray<readonly [string, string]>): number => {
  let total = 0
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!
    total += h[0].length + h[1].length + 4 // ": " and CRLF
  }
  return total
}

const bodyLength = (body: Body | undefined): number =>
  body === undefined ? 0 : typeof body === "string" ? utf8Length(body) : body.byteLength

/** `Content-Length: ` is 16 bytes, plus digits and CRLF. */
const contentLengthLine = (length: number): number => 16 + decimalWidth(length) + 2

/** Standard reason phrases (RFC 9110 §15) for the statuses a WebSocket / REST peer sends. */
const REASONS: Readonly<Record<number, string>> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  411: "Length Required",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  426: "Upgrade Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported"
}

/**
 * The standard reason phrase of `status`, or `""` when this module does not know it.
 *
 * @since 0.1.0
 */
export const reasonPhrase = (status: number): string => REASONS[status] ?? ""

const responseHasNoBody = (status: number): boolean => status < 200 || status === 204 || status === 304

const checkStatus = (status: number, body: Body | undefined): void => {
  if (!Number.isInteger(status) || status < 100 || status > 999) {
    throw new RangeError(`HttpWrite: status must be an integer in 100..999, got ${status}`)
  }
  if (responseHasNoBody(status) && body !== undefined && bodyLength(body) > 0) {
    throw new RangeError(`HttpWrite: a ${status} response cannot carry a body`)
  }
}

const checkOffset = (target: Uint8Array, offset: number): void => {
  if (!Number.isInteger(offset) || offset < 0 || offset > target.length) {
    throw new RangeError(`HttpWrite: offset ${offset} is outside the ${target.length}-byte target`)
  }
}

/**
 * Exact byte count `writeRequest` needs for this head and body (assuming it is valid: every
 * head character takes one byte).
 *
 * @since 0.1.0
 */
export const requestLength = (head: RequestHead, body?: Body): number => {
  const pathLength = head.path.length === 0 ? 1 : head.path.length
  let total = head.method.length + 1 + pathLength + 11 + headersLength(head.headers) + 2 // " HTTP/1.1\r\n", blank line
  if (body !== undefined) {
    const n = bodyLength(body)
    total += n
    if (!hasFramingHeader(head.headers)) total += contentLengthLine(n)
  }
  return total
}

/**
 * Exact byte count `writeResponse` needs for this head and body. Throws `RangeError` for an
 * invalid status (see the module doc).
 *
 * @since 0.1.0
 */
export const responseLength = (head: ResponseHead, body?: Body): number => {
  checkStatus(head.status, body)
  const reason = head.reason ?? reasonPhrase(head.status)
  const n = bodyLength(body)
  let total = 13 + reason.length + 2 + headersLength(head.headers) + 2 + n // "HTTP/1.1 NNN " + reason + CRLF
  if (!responseHasNoBody(head.status) && !hasFramingHeader(head.headers)) total += contentLengthLine(n)
  return total
}

const tooSmall = (needed: number, available: number): BufferTooSmall => bufferTooSmall("message", needed, available)

/** Writes the header lines, the Content-Length line when asked, the blank line and the body. */
const writeFieldsAndBody = (
  target: Uint8Array,
  pos: number,
  headers: ReadonlyArray<readonly [string, string]>,
  addLength: boolean,
  body: Body | undefined,
  length: number
): number | HttpWriteError => {
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!
    let next = copyToken(target, pos, h[0])
    if (next < 0) return fieldError(Field.HeaderName, h[0], -next - 1)
    target[next] = 0x3a // ':'
    target[next + 1] = 0x20
    pos = copyValue(target, next + 2, h[1])
    if (pos < 0) return fieldError(Field.HeaderValue, h[1], -pos - 1)
    target[pos] = 0x0d
    target[pos + 1] = 0x0a
    pos += 2
  }
  if (addLength) {
    pos = copyAscii(target, pos, "Content-Length: ")
    pos = writeDecimal(target, pos, length)
    target[pos] = 0x0d
    target[pos + 1] = 0x0a
    pos += 2
  }
  target[pos] = 0x0d
  target[pos + 1] = 0x0a
  pos += 2
  if (body === undefined || length === 0) return pos
  if (typeof body === "string") return pos + writeUtf8(target, body, pos)
  target.set(body, pos)
  return pos + length
}

/**
 * Writes a request (`METHOD SP path SP HTTP/1.1`, the headers, `Content-Length` when a body is
 * given and the headers hold no framing header, the blank line, the body) into `target` at
 * `offset`. Returns the number of bytes written, or the first fault as a tagged error.
 * Throws `RangeError` for an offset outside the target.
 *
 * @since 0.1.0
 */
export const writeRequest = (
  target: Uint8Array,
  offset: number,
  head: RequestHead,
  body?: Body
): number | HttpWriteError => {
  checkOffset(target, offset)
  const needed = requestLength(head, body)
  const available = target.length - offset
  if (needed > available) return tooSmall(needed, available)
  let pos = copyToken(target, offset, head.method)
  if (pos < 0) return fieldError(Field.Method, head.method, -pos - 1)
  target[pos++] = 0x20
  if (head.path.length === 0) {
    target[pos++] = 0x2f // '/'
  } else {
    const next = copyTarget(target, pos, head.path)
    if (next < 0) return fieldError(Field.Path, head.path, -next - 1)
    pos = next
  }
  pos = copyAscii(target, pos, " HTTP/1.1\r\n")
  const addLength = body !== undefined && !hasFramingHeader(head.headers)
  const end = writeFieldsAndBody(target, pos, head.headers, addLength, body, bodyLength(body))
  return typeof end === "number" ? end - offset : end
}

/**
 * Writes a response (`HTTP/1.1 SP status SP reason`, the headers, `Content-Length` unless the
 * status has no body or the headers hold a framing header, the blank line, the body) into
 * `target` at `offset`. Returns the bytes written or the first fault. Throws `RangeError` for
 * an invalid status, a body on 1xx/204/304, or an offset outside the target.
 *
 * @since 0.1.0
 */
export const writeResponse = (
  target: Uint8Array,
  offset: number,
  head: ResponseHead,
  body?: Body
): number | HttpWriteError => {
  checkOffset(target, offset)
  const needed = responseLength(head, body)
  const available = target.length - offset
  if (needed > available) return tooSmall(needed, available)
  let pos = copyAscii(target, offset, "HTTP/1.1 ")
  pos = writeDecimal(target, pos, head.status)
  target[pos++] = 0x20
  const reason = head.reason ?? reasonPhrase(head.status)
  const next = copyValue(target, pos, reason)
  if (next < 0) return fieldError(Field.Reason, reason, -next - 1)
  pos = next
  target[pos] = 0x0d
  target[pos + 1] = 0x0a
  pos += 2
  const addLength = !responseHasNoBody(head.status) && !hasFramingHeader(head.headers)
  const end = writeFieldsAndBody(target, pos, head.headers, addLength, body, bodyLength(body))
  return typeof end === "number" ? end - offset : end
}

/**
 * `writeRequest` into a freshly allocated array of exactly `requestLength` bytes.
 *
 * @since 0.1.0
 */
export const encodeRequest = (head: RequestHead, body?: Body): Uint8Array | HttpWriteError => {
  const out = new Uint8Array(requestLength(head, body))
  const written = writeRequest(out, 0, head, body)
  return typeof written === "number" ? out : written
}

/**
 * `writeResponse` into a freshly allocated array of exactly `responseLength` bytes. Throws
 * `RangeError` like `writeResponse`.
 *
 * @since 0.1.0
 */
export const encodeResponse = (head: ResponseHead, body?: Body): Uint8Array | HttpWriteError => {
  const out = new Uint8Array(responseLength(head, body))
  const written = writeResponse(out, 0, head, body)
  return typeof written === "number" ? out : written
}
