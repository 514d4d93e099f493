/**
 * `RequestWriter` — a sans-IO HTTP/1.1 request builder for a REST client: configured once per
 * host, reused for every request, writing straight into one preallocated outbound buffer.
 *
 * ```text
 *   writer.get/post/put/delete/patch/head(path) | writer.request(method, path)
 *     │
 *     ▼
 *   QueryPhase ──.query(k, v)──► QueryPhase
 *     │ .header(k, v)
 *     ▼
 *   HeaderPhase ──.header(k, v)──► HeaderPhase
 *     │ .body(bytes | string) / .bodyWriter(fn) / .bodyFixed(n, fill)   (from either phase)
 *     │ .bodyFollows(n | undefined): the head only, the caller sends the body
 *     ▼
 *   Ready ──.finish()──► Request | RequestError                         (.finish() from any phase)
 * ```
 *
 * The phases are enforced by the type system: after `.header()` there is no `.query()`, after a
 * body only `.finish()`. At run time it is one builder object per writer (every phase interface
 * is that object), so a successful request allocates only its `Request` result and view.
 *
 * Wire rules:
 * - Request line `METHOD SP basePath path [?query] SP HTTP/1.1`, then `Host`, then the default
 *   headers (both precomputed at `make`), then the per-request headers, then `Content-Length`,
 *   then the body. `basePath` is prefixed verbatim (no slash added or removed); an empty target
 *   is written as `/`.
 * - Query keys and values are percent-encoded per RFC 3986: `A-Z a-z 0-9 - . _ ~` stay, every
 *   other UTF-8 byte becomes `%XX` (upper-case hex; a lone surrogate is encoded as U+FFFD). The
 *   first parameter adds `?` — or `&` when the path already holds a `?`. CR, LF and NUL are
 *   refused there too although encoding would defuse them: in a parameter they are a bug or an
 *   attack, so the request fails loudly instead.
 * - POST, PUT and PATCH without a body send `Content-Length: 0`; every other method without a
 *   body sends none. A body always sends its exact length. `Host`, `Content-Length` and
 *   `Transfer-Encoding` belong to the writer (`ReservedHeader` if given). A body sent apart from
 *   the head (`bodyFollows`) is announced with its `Content-Length`, or as
 *   `Transfer-Encoding: chunked` when its length is unknown; the writer writes no chunk itself.
 * - `.body(string)` writes UTF-8 in place after digits reserved for 3 bytes per UTF-16 unit;
 *   `.bodyWriter(fn)` after digits reserved for the whole free buffer. When the real length has
 *   fewer digits, the smaller of head and body is moved over the spare ones (`copyWithin`), so a
 *   large body is never copied; `Request.bytes` may then start a few bytes into the buffer.
 *
 * Errors are deferred and typed, never thrown for user input: the builder records the first
 * fault (`CrlfInjection`, `InvalidToken`, `InvalidCharacter`, `ReservedHeader`,
 * `RequestTooLarge`), ignores the rest of the request (only counting the bytes it would need
 * once it has overflowed, so `RequestTooLarge.needed` is exact), and `finish()` returns it.
 *
 * Lifetimes: the writer owns one buffer of `capacity` bytes (default 32 KiB). `Request.bytes` is
 * a view into it, valid until the next request is started on the same writer — hand it to the
 * socket (which copies or must finish with it) before building the next one. Starting a request
 * also restarts the builder any earlier phase object points at. The callbacks of `bodyWriter` /
 * `bodyFixed` receive that buffer (a Node `Buffer` at run time) and may write only the range
 * they are given.
 *
 * Throws only on caller misuse: an invalid `host`, `basePath` or default header at `make` (so a
 * bad configuration fails at start-up, `TypeError`), a non-positive capacity (`RangeError`), a
 * phase method called out of order through a cast or after `finish()` (`Error`), a `bodyWriter`
 * that returns more than `available` or a non-integer, or a negative `bodyFixed` length
 * (`RangeError`).
 *
 * @since 0.1.0
 */
import {
  copyAscii,
  copyTarget,
  copyToken,
  copyValue,
  type CrlfInjection,
  decimalWidth,
  Field,
  fieldError,
  type InvalidCharacter,
  type InvalidToken,
  writeDecimal
} from "./HttpWrite.ts"
import { allocUnsafe, type Buffer, utf8Length, writeUtf8 } from "./internal/node.ts"

/** The field faults `finish()` shares with `HttpWrite` (CR/LF/NUL, non-token names, bad characters). */
export type { CrlfInjection, InvalidCharacter, InvalidToken }

/** Options for {@link make}. */
export interface Options {
  /** `Host` header value, with the port when it is not the scheme default (`Url.hostHeader`). */
  readonly host: string
  /** Prefixed verbatim to every path, e.g. `/api/v3`. Default `""`. */
  readonly basePath?: string | undefined
  /** Headers written on every request after `Host`, in order (API keys, `User-Agent`). Default none. */
  readonly defaultHeaders?: ReadonlyArray<readonly [string, string]> | undefined
  /** Outbound buffer size in bytes; a request must fit in it. Default 32 KiB. */
  readonly capacity?: number | undefined
}

/** Default outbound buffer size: 32 KiB. */
export const DEFAULT_CAPACITY = 32 * 1024

/** A header the writer sets itself (`Host`, `Content-Length`, `Transfer-Encoding`) given by the caller. */
export interface ReservedHeader {
  readonly _tag: "ReservedHeader"
  readonly name: string
  readonly message: string
}

/** The request does not fit in the writer's buffer. `needed` is absent when a `bodyWriter` ran out of room. */
export interface RequestTooLarge {
  readonly _tag: "RequestTooLarge"
  readonly needed?: number | undefined
  readonly capacity: number
  readonly message: string
}

/** Every fault a request build can end with. */
export type RequestError = CrlfInjection | InvalidToken | InvalidCharacter | ReservedHeader | RequestTooLarge

/** A finished request: its wire bytes and what the connection needs to send it and read the answer. */
export interface Request {
  readonly _tag: "Request"
  /** The wire bytes: a view into the writer's buffer, valid until the next request starts. */
  readonly bytes: Uint8Array
  /** The method, for `ResponseReader.expect(method)`. */
  readonly method: string
  /** Whether the method is idempotent (RFC 9110 §9.2.2): safe to retry on a fresh connection. */
  readonly isIdempotent: boolean
}

/**
 * Serializes a body in place: writes at most `available` bytes into `buf` from `offset` and
 * returns how many it wrote, or `-1` when the body does not fit (reported as `RequestTooLarge`).
 */
export type BodyWriter = (buf: Uint8Array, offset: number, available: number) => number

/** Fills exactly the announced number of bytes at `offset`. */
export type BodyFill = (buf: Uint8Array, offset: number) => void

/** Closing phase: only `finish()` is left. */
export interface Ready {
  /** Ends the request: its bytes, or the first fault recorded while building it. */
  finish(): Request | RequestError
}

/** Body phase methods, available from the query and header phases. */
export interface BodyPhase extends Ready {
  /** Sends `body` (bytes as they are, a string as UTF-8) with its `Content-Length`. */
  body(body: Uint8Array | string): Ready
  /** Lets `write` serialize the body straight into the outbound buffer; it returns the bytes written (or -1 when `available` is too small). */
  bodyWriter(write: BodyWriter): Ready
  /** Announces a body of exactly `length` bytes that `fill` writes at `offset`. */
  bodyFixed(length: number, fill: BodyFill): Ready
  /**
   * Ends the head for a body the caller sends itself after `finish()`'s bytes: with
   * `Content-Length: length`, or `Transfer-Encoding: chunked` when `length` is `undefined` (the
   * caller then frames the chunks). `finish()` returns the head alone.
   */
  bodyFollows(length: number | undefined): Ready
}

/** Header phase: more headers, a body, or `finish()`. */
export interface HeaderPhase extends BodyPhase {
  /** Adds a header line after the default headers. */
  header(name: string, value: string): HeaderPhase
}

/** Query phase, right after the method and path: query parameters, headers, a body or `finish()`. */
export interface QueryPhase extends HeaderPhase {
  /** Appends `key=value`, both percent-encoded (RFC 3986 unreserved characters kept). */
  query(key: string, value: string): QueryPhase
}

const Phase = { Idle: 0, Query: 1, Headers: 2, Body: 3, Done: 4 } as const

/** `UNRESERVED[c] === 1` for RFC 3986 unreserved characters. */
const UNRESERVED: Uint8Array = (() => {
  const table = new Uint8Array(128)
  for (let c = 0x30; c <= 0x39; c++) table[c] = 1
  for (let c = 0x41; c <= 0x5a; c++) table[c] = 1
  for (let c = 0x61; c <= 0x7a; c++) table[c] = 1
  table[0x2d] = 1
  table[0x2e] = 1
  table[0x5f] = 1
  table[0x7e] = 1
  return table
})()

const HEX = "0123456789ABCDEF"

const pct = (buf: Uint8Array, pos: number, byte: number): number => {
  buf[pos] = 0x25
  buf[pos + 1] = HEX.charCodeAt(byte >> 4)
  buf[pos + 2] = HEX.charCodeAt(byte & 15)
  return pos + 3
}

/**
 * Percent-encodes `s` at `pos`; returns the end, or `-(index + 1)` for CR, LF or NUL. The caller
 * guarantees room for `encodedLength(s)` bytes.
 */
const encodeComponent = (buf: Uint8Array, pos: number, s: string): number => {
  const n = s.length
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i)
    if (c < 0x80) {
      if (UNRESERVED[c] === 1) {
        buf[pos++] = c
      } else {
        if (c === 0x0d || c === 0x0a || c === 0x00) return -(i + 1)
        pos = pct(buf, pos, c)
      }
    } else if (c < 0x800) {
      pos = pct(buf, pos, 0xc0 | (c >> 6))
      pos = pct(buf, pos, 0x80 | (c & 63))
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < n ? s.charCodeAt(i + 1) : 0
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00)
        i++
        pos = pct(buf, pos, 0xf0 | (c >> 18))
        pos = pct(buf, pos, 0x80 | ((c >> 12) & 63))
        pos = pct(buf, pos, 0x80 | ((c >> 6) & 63))
        pos = pct(buf, pos, 0x80 | (c & 63))
      } else {
        // lone surrogate: U+FFFD, as TextEncoder does
        pos = pct(buf, pos, 0xef)
        pos = pct(buf, pos, 0xbf)
        pos = pct(buf, pos, 0xbd)
      }
    } else {
      pos = pct(buf, pos, 0xe0 | (c >> 12))
      pos = pct(buf, pos, 0x80 | ((c >> 6) & 63))
      pos = pct(buf, pos, 0x80 | (c & 63))
    }
  }
  return pos
}

/** Exact length of `encodeComponent(s)`. */
const encodedLength = (s: string): number => {
  const n = s.length
  let total = 0
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) total += UNRESERVED[c] === 1 ? 1 : 3
    else if (c < 0x800) total += 6
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const next = s.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        total += 12
        i++
      } else total += 9
    } else total += 9
  }
  return total
}

/** Whether `name` equals the lower-case ASCII `lower`, ignoring case, without allocating. */
const equalsLower = (name: string, lower: string): boolean => {
  for (let i = 0; i < lower.length; i++) {
    if ((name.charCodeAt(i) | 0x20) !== lower.charCodeAt(i)) return false
  }
  return true
}

/** `Host`, `Content-Length`, `Transfer-Encoding` in any case (the caller has checked the token). */
const isReserved = (name: string): boolean => {
  const n = name.length
  return (n === 4 && equalsLower(name, "host")) ||
    (n === 14 && equalsLower(name, "content-length")) ||
    (n === 17 && equalsLower(name, "transfer-encoding"))
}

const IDEMPOTENT = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"])
const LENGTH_WHEN_EMPTY = new Set(["POST", "PUT", "PATCH"])

/** `Content-Length: ` */
const CL_PREFIX = 16

/** What `make` precomputes for one of the common methods: `METHOD SP basePath` as bytes. */
class MethodPlan {
  readonly name: string
  readonly prefix: Uint8Array
  readonly isIdempotent: boolean
  readonly lengthWhenEmpty: boolean
  constructor(name: string, basePath: string) {
    this.name = name
    this.prefix = latin1Bytes(`${name} ${basePath}`)
    this.isIdempotent = IDEMPOTENT.has(name)
    this.lengthWhenEmpty = LENGTH_WHEN_EMPTY.has(name)
  }
}

const latin1Bytes = (s: string): Uint8Array => {
  const out = new Uint8Array(s.length)
  copyAscii(out, 0, s)
  return out
}

const CL_BYTES = latin1Bytes("Content-Length: ")
const CL_ZERO_BYTES = latin1Bytes("Content-Length: 0\r\n")
const TE_CHUNKED_BYTES = latin1Bytes("Transfer-Encoding: chunked\r\n\r\n")

/** A header line checked before: its value and its bytes (`name: value CRLF`). */
interface CachedLine {
  readonly value: string
  readonly bytes: Uint8Array
}

/** Most header names a writer remembers lines for (see `Builder.lines`). */
const MAX_CACHED_HEADERS = 32

/** Copies constant bytes: a JS loop below 17 bytes, the native `set` above (measured crossover). */
const copyBytes = (buf: Uint8Array, pos: number, src: Uint8Array): number => {
  const n = src.length
  if (n > 16) {
    buf.set(src, pos)
  } else {
    for (let i = 0; i < n; i++) buf[pos + i] = src[i]!
  }
  return pos + n
}

const misuse = (phase: number, call: string): Error =>
  new Error(
    phase === Phase.Done || phase === Phase.Idle
      ? `RequestWriter: ${call} called with no request in progress (start one with get/post/...)`
      : `RequestWriter: ${call} called out of phase order (query → header → body → finish)`
  )

/**
 * The in-flight request of one writer. Every phase interface the writer hands out is this one
 * object, reset by each `begin`; it owns the outbound buffer.
 */
class Builder implements QueryPhase {
  /** The outbound buffer as a plain `Uint8Array` (one element kind for every byte store, cheap views). */
  readonly buf: Uint8Array
  /** The same memory as a Node `Buffer`, for the native UTF-8 writer and the callbacks. */
  readonly nodeBuf: Buffer
  readonly capacity: number
  /** `" HTTP/1.1\r\nHost: …\r\n"` followed by the default header lines. */
  readonly lineTail: Uint8Array
  readonly basePath: string
  readonly baseHasQuery: boolean
  phase: number
  pos: number
  /** Where the request bytes start (moves right when a body write shifts the head). */
  start: number
  hasQuery: boolean
  method: string
  isIdempotent: boolean
  lengthWhenEmpty: boolean
  error: RequestError | undefined
  /** Bytes the request would need once it overflowed, `-1` before that, `NaN` when unknown. */
  needed: number
  /**
   * Header lines sent before, by name: a value seen once (a string), or a value seen twice in a
   * row with its checked bytes (`name: value CRLF`), which later requests copy without checking
   * a character again. A client sends the same few headers with every request (API keys,
   * `User-Agent`, `Content-Type`): checking and copying them one character at a time cost
   * ~130 ns per header. A value that changes every time (a trace header) is never cached.
   * At most {@link MAX_CACHED_HEADERS} names. Headers known when the writer is made belong in
   * `defaultHeaders` (written once into {@link lineTail}, no lookup at all); this cache is for
   * callers that cannot declare them up front — Effect's `HttpClient`, whose requests each carry
   * their own headers.
   */
  readonly lines: Map<string, string | CachedLine>

  constructor(capacity: number, lineTail: Uint8Array, basePath: string) {
    this.nodeBuf = allocUnsafe(capacity)
    this.buf = new Uint8Array(this.nodeBuf.buffer, this.nodeBuf.byteOffset, capacity)
    this.capacity = capacity
    this.lineTail = lineTail
    this.basePath = basePath
    this.baseHasQuery = basePath.includes("?")
    this.phase = Phase.Idle
    this.pos = 0
    this.start = 0
    this.hasQuery = false
    this.method = ""
    this.isIdempotent = false
    this.lengthWhenEmpty = false
    this.error = undefined
    this.needed = -1
    this.lines = new Map()
  }

  /** Starts a request with any method token (validated; a bad one is reported by `finish()`). */
  request(method: string, path: string): QueryPhase {
    this.reset(method, IDEMPOTENT.has(method), LENGTH_WHEN_EMPTY.has(method))
    const base = this.basePath
    const room = method.length + 1 + base.length
    if (room > this.capacity) return this.overflow(room).path(path)
    const end = copyToken(this.buf, 0, method)
    if (end < 0) {
      this.error = fieldError(Field.Method, method, -end - 1)
      return this
    }
    this.buf[end] = 0x20
    this.pos = copyAscii(this.buf, end + 1, base)
    return this.path(path)
  }

  begin(plan: MethodPlan, path: string): QueryPhase {
    this.reset(plan.name, plan.isIdempotent, plan.lengthWhenEmpty)
    if (plan.prefix.length > this.capacity) return this.overflow(plan.prefix.length).path(path)
    this.pos = copyBytes(this.buf, 0, plan.prefix)
    return this.path(path)
  }

  private reset(method: string, isIdempotent: boolean, lengthWhenEmpty: boolean): void {
    this.phase = Phase.Query
    this.pos = 0
    this.start = 0
    this.hasQuery = this.baseHasQuery
    this.method = method
    this.isIdempotent = isIdempotent
    this.lengthWhenEmpty = lengthWhenEmpty
    this.error = undefined
    this.needed = -1
  }

  private path(path: string): QueryPhase {
    if (path.length === 0) {
      if (this.basePath.length > 0) return this
      path = "/"
    }
    if (this.error !== undefined) {
      this.count(path.length)
      return this
    }
    if (this.pos + path.length > this.capacity) return this.overflow(this.pos + path.length)
    const end = copyTarget(this.buf, this.pos, path)
    if (end < 0) {
      this.error = fieldError(Field.Path, path, -end - 1)
      return this
    }
    if (!this.hasQuery && path.includes("?")) this.hasQuery = true
    this.pos = end
    return this
  }

  /** Records `RequestTooLarge` from now on; later steps only add to `needed`. */
  private overflow(needed: number): this {
    this.needed = needed
    this.error = { _tag: "RequestTooLarge", capacity: this.capacity, message: "" }
    return this
  }

  /** Adds `n` bytes to the running need after an overflow (a no-op for other errors). */
  private count(n: number): void {
    if (this.needed >= 0) this.needed += n
  }

  query(key: string, value: string): QueryPhase {
    if (this.phase !== Phase.Query) throw misuse(this.phase, "query()")
    if (this.error !== undefined) {
      if (this.needed >= 0) this.count(2 + encodedLength(key) + encodedLength(value))
      return this
    }
    const buf = this.buf
    let pos = this.pos
    // worst case 9 bytes per UTF-16 unit; compute exactly only near the end of the buffer
    if (pos + 2 + 9 * (key.length + value.length) > this.capacity) {
      const exact = 2 + encodedLength(key) + encodedLength(value)
      if (pos + exact > this.capacity) return this.overflow(pos + exact)
    }
    buf[pos++] = this.hasQuery ? 0x26 : 0x3f // '&' : '?'
    this.hasQuery = true
    pos = encodeComponent(buf, pos, key)
    if (pos < 0) {
      this.error = fieldError(Field.QueryKey, key, -pos - 1)
      return this
    }
    buf[pos++] = 0x3d // '='
    pos = encodeComponent(buf, pos, value)
    if (pos < 0) {
      this.error = fieldError(Field.QueryValue, value, -pos - 1)
      return this
    }
    this.pos = pos
    return this
  }

  /** Ends the request line: `SP HTTP/1.1 CRLF`, `Host`, default headers. */
  private closeLine(): void {
    this.phase = Phase.Headers
    const tail = this.lineTail
    if (this.error !== undefined) return this.count(tail.length)
    if (this.pos + tail.length > this.capacity) {
      this.overflow(this.pos + tail.length)
      return
    }
    this.pos = copyBytes(this.buf, this.pos, tail)
  }

  header(name: string, value: string): HeaderPhase {
    if (this.phase === Phase.Query) this.closeLine()
    else if (this.phase !== Phase.Headers) throw misuse(this.phase, "header()")
    const lineLength = name.length + value.length + 4
    if (this.error !== undefined) {
      this.count(lineLength)
      return this
    }
    if (this.pos + lineLength > this.capacity) return this.overflow(this.pos + lineLength)
    const buf = this.buf
    const seen = this.lines.get(name)
    if (seen !== undefined && typeof seen !== "string" && seen.value === value) {
      this.pos = copyBytes(buf, this.pos, seen.bytes)
      return this
    }
    const start = this.pos
    const next = copyToken(buf, start, name)
    if (next < 0) {
      this.error = fieldError(Field.HeaderName, name, -next - 1)
      return this
    }
    if (isReserved(name)) {
      this.error = {
        _tag: "ReservedHeader",
        name,
        message: `header ${name} is set by the writer (Host at make, Content-Length from the body)`
      }
      return this
    }
    buf[next] = 0x3a
    buf[next + 1] = 0x20
    const end = copyValue(buf, next + 2, value)
    if (end < 0) {
      this.error = fieldError(Field.HeaderValue, value, -end - 1)
      return this
    }
    buf[end] = 0x0d
    buf[end + 1] = 0x0a
    this.pos = end + 2
    if (seen === value) this.lines.set(name, { value, bytes: buf.slice(start, end + 2) })
    else if (seen !== undefined || this.lines.size < MAX_CACHED_HEADERS) this.lines.set(name, value)
    return this
  }

  /** Enters the body phase; returns false when the build already failed (the caller then only counts). */
  private enterBody(call: string): boolean {
    if (this.phase === Phase.Query) this.closeLine()
    else if (this.phase !== Phase.Headers) throw misuse(this.phase, call)
    this.phase = Phase.Body
    return this.error === undefined
  }

  body(body: Uint8Array | string): Ready {
    if (typeof body === "string") return this.bodyString(body)
    if (!this.enterBody("body()")) {
      const n = body.length
      this.count(CL_PREFIX + decimalWidth(n) + 4 + n)
      return this
    }
    const n = body.length
    const end = this.pos + CL_PREFIX + decimalWidth(n) + 4 + n
    if (end > this.capacity) return this.overflow(end)
    const pos = this.writeLength(n)
    this.buf.set(body, pos)
    this.pos = pos + n
    return this
  }

  private bodyString(body: string): Ready {
    if (!this.enterBody("body()")) {
      const n = utf8Length(body)
      this.count(CL_PREFIX + decimalWidth(n) + 4 + n)
      return this
    }
    // A UTF-8 string takes at most 3 bytes per UTF-16 unit: reserve digits for that, write in
    // place, and close the gap only when the real length has fewer digits.
    const maxBytes = 3 * body.length
    const avail = this.capacity - this.pos - CL_PREFIX - 4
    if (decimalWidth(maxBytes) + maxBytes > avail) {
      const n = utf8Length(body)
      const end = this.pos + CL_PREFIX + decimalWidth(n) + 4 + n
      if (end > this.capacity) return this.overflow(end)
      const pos = this.writeLength(n)
      this.pos = pos + writeUtf8(this.nodeBuf, body, pos)
      return this
    }
    const width = decimalWidth(maxBytes)
    const bodyStart = this.pos + CL_PREFIX + width + 4
    const n = writeUtf8(this.nodeBuf, body, bodyStart)
    this.closeLength(width, bodyStart, n)
    return this
  }

  bodyWriter(write: BodyWriter): Ready {
    if (!this.enterBody("bodyWriter()")) {
      this.needed = Number.NaN
      return this
    }
    const avail = this.capacity - this.pos - CL_PREFIX - 4
    const width = decimalWidth(Math.max(avail, 0))
    const bodyStart = this.pos + CL_PREFIX + width + 4
    if (bodyStart > this.capacity) {
      this.overflow(bodyStart)
      this.needed = Number.NaN
      return this
    }
    const available = this.capacity - bodyStart
    const n = write(this.nodeBuf, bodyStart, available)
    if (n === -1) {
      this.overflow(0)
      this.needed = Number.NaN
      return this
    }
    if (!Number.isInteger(n) || n < 0 || n > available) {
      throw new RangeError(`RequestWriter: bodyWriter returned ${n}, expected 0..${available} or -1`)
    }
    this.closeLength(width, bodyStart, n)
    return this
  }

  bodyFixed(length: number, fill: BodyFill): Ready {
    if (!Number.isInteger(length) || length < 0) {
      throw new RangeError(`RequestWriter: bodyFixed length must be a non-negative integer, got ${length}`)
    }
    if (!this.enterBody("bodyFixed()")) {
      this.count(CL_PREFIX + decimalWidth(length) + 4 + length)
      return this
    }
    const end = this.pos + CL_PREFIX + decimalWidth(length) + 4 + length
    if (end > this.capacity) return this.overflow(end)
    const pos = this.writeLength(length)
    fill(this.nodeBuf, pos)
    this.pos = pos + length
    return this
  }

  bodyFollows(length: number | undefined): Ready {
    if (length !== undefined && (!Number.isSafeInteger(length) || length < 0)) {
      throw new RangeError(`RequestWriter: bodyFollows length must be a non-negative integer, got ${length}`)
    }
    const line = length === undefined ? TE_CHUNKED_BYTES.length : CL_PREFIX + decimalWidth(length) + 4
    if (!this.enterBody("bodyFollows()")) {
      this.count(line)
      return this
    }
    const end = this.pos + line
    if (end > this.capacity) return this.overflow(end)
    this.pos = length === undefined ? copyBytes(this.buf, this.pos, TE_CHUNKED_BYTES) : this.writeLength(length)
    return this
  }

  /** Writes `Content-Length: n CRLF CRLF` at `pos`; returns where the body starts. */
  private writeLength(n: number): number {
    const buf = this.buf
    let pos = copyBytes(buf, this.pos, CL_BYTES)
    pos = writeDecimal(buf, pos, n)
    buf[pos] = 0x0d
    buf[pos + 1] = 0x0a
    buf[pos + 2] = 0x0d
    buf[pos + 3] = 0x0a
    return pos + 4
  }

  /**
   * The body (`n` bytes) sits at `bodyStart`, after room for `width` length digits. Writes the
   * length line and closes the gap left by unused digits by moving the smaller side: the body
   * left, or the head (from `start`) right.
   */
  private closeLength(width: number, bodyStart: number, n: number): void {
    const buf = this.buf
    const gap = width - decimalWidth(n)
    if (gap === 0) {
      this.writeLength(n)
      this.pos = bodyStart + n
      return
    }
    if (n <= this.pos - this.start) {
      buf.copyWithin(bodyStart - gap, bodyStart, bodyStart + n)
      this.writeLength(n)
      this.pos = bodyStart - gap + n
      return
    }
    buf.copyWithin(this.start + gap, this.start, this.pos)
    this.start += gap
    this.pos += gap
    this.writeLength(n)
    this.pos = bodyStart + n
  }

  finish(): Request | RequestError {
    const phase = this.phase
    if (phase === Phase.Query) this.closeLine()
    else if (phase === Phase.Done || phase === Phase.Idle) throw misuse(phase, "finish()")
    this.phase = Phase.Done
    const error = this.error
    if (error !== undefined) {
      if (error._tag !== "RequestTooLarge") return error
      const tail = phase === Phase.Body ? 0 : 2 + (this.lengthWhenEmpty ? CL_PREFIX + 3 : 0)
      const needed = this.needed + tail
      return Number.isNaN(needed)
        ? {
          _tag: "RequestTooLarge",
          capacity: this.capacity,
          message: `the ${this.method} request body does not fit in the ${this.capacity}-byte buffer`
        }
        : {
          _tag: "RequestTooLarge",
          needed,
          capacity: this.capacity,
          message: `the ${this.method} request needs ${needed} bytes but the buffer holds ${this.capacity}`
        }
    }
    if (phase !== Phase.Body) {
      const buf = this.buf
      let pos = this.pos
      const end = pos + 2 + (this.lengthWhenEmpty ? CL_PREFIX + 3 : 0)
      if (end > this.capacity) {
        this.needed = end
        return {
          _tag: "RequestTooLarge",
          needed: end,
          capacity: this.capacity,
          message: `the ${this.method} request needs ${end} bytes but the buffer holds ${this.capacity}`
        }
      }
      if (this.lengthWhenEmpty) {
        pos = copyBytes(buf, pos, CL_ZERO_BYTES)
      }
      buf[pos] = 0x0d
      buf[pos + 1] = 0x0a
      this.pos = pos + 2
    }
    return {
      _tag: "Request",
      bytes: this.buf.subarray(this.start, this.pos),
      method: this.method,
      isIdempotent: this.isIdempotent
    }
  }
}

/**
 * A request writer for one host: precomputed request-line prefixes and header block, one
 * outbound buffer, one builder. Create with {@link make}; each method starts a request (and
 * invalidates the previous one's bytes).
 *
 * @since 0.1.0
 */
export class RequestWriter {
  /** Outbound buffer size in bytes. */
  readonly capacity: number
  private readonly builder: Builder
  private readonly GET: MethodPlan
  private readonly POST: MethodPlan
  private readonly PUT: MethodPlan
  private readonly DELETE: MethodPlan
  private readonly PATCH: MethodPlan
  private readonly HEAD: MethodPlan

  constructor(capacity: number, lineTail: Uint8Array, basePath: string) {
    this.capacity = capacity
    this.builder = new Builder(capacity, lineTail, basePath)
    this.GET = new MethodPlan("GET", basePath)
    this.POST = new MethodPlan("POST", basePath)
    this.PUT = new MethodPlan("PUT", basePath)
    this.DELETE = new MethodPlan("DELETE", basePath)
    this.PATCH = new MethodPlan("PATCH", basePath)
    this.HEAD = new MethodPlan("HEAD", basePath)
  }

  /** Starts a GET (no `Content-Length` without a body). */
  get(path: string): QueryPhase {
    return this.builder.begin(this.GET, path)
  }

  /** Starts a POST (`Content-Length: 0` without a body). */
  post(path: string): QueryPhase {
    return this.builder.begin(this.POST, path)
  }

  /** Starts a PUT (`Content-Length: 0` without a body). */
  put(path: string): QueryPhase {
    return this.builder.begin(this.PUT, path)
  }

  /** Starts a DELETE (no `Content-Length` without a body). */
  delete(path: string): QueryPhase {
    return this.builder.begin(this.DELETE, path)
  }

  /** Starts a PATCH (`Content-Length: 0` without a body). */
  patch(path: string): QueryPhase {
    return this.builder.begin(this.PATCH, path)
  }

  /** Starts a HEAD (no `Content-Length`; the answer has no body). */
  head(path: string): QueryPhase {
    return this.builder.begin(this.HEAD, path)
  }

  /**
   * Starts a request with any method token; a method that is not a token is reported by
   * `finish()` as `InvalidToken`. POST/PUT/PATCH get `Content-Length: 0` without a body.
   */
  request(method: string, path: string): QueryPhase {
    return this.builder.request(method, path)
  }
}

const buildLineTail = (host: string, defaultHeaders: ReadonlyArray<readonly [string, string]>): Uint8Array => {
  let text = " HTTP/1.1\r\nHost: " + host + "\r\n"
  for (const [name, value] of defaultHeaders) text += name + ": " + value + "\r\n"
  const bytes = new Uint8Array(text.length)
  let pos = copyAscii(bytes, 0, " HTTP/1.1\r\nHost: ")
  const check = (field: Field, s: string, end: number): number => {
    if (end < 0) {
      const e = fieldError(field, s, -end - 1)
      throw new TypeError(`RequestWriter.make: ${e.message}`)
    }
    return end
  }
  if (host.length === 0) throw new TypeError("RequestWriter.make: host is empty")
  pos = check(Field.HeaderValue, host, copyValue(bytes, pos, host))
  pos = copyAscii(bytes, pos, "\r\n")
  for (const [name, value] of defaultHeaders) {
    pos = check(Field.HeaderName, name, copyToken(bytes, pos, name))
    if (isReserved(name)) throw new TypeError(`RequestWriter.make: default header ${name} is set by the writer`)
    pos = copyAscii(bytes, pos, ": ")
    pos = check(Field.HeaderValue, value, copyValue(bytes, pos, value))
    pos = copyAscii(bytes, pos, "\r\n")
  }
  return bytes
}

/**
 * Creates a writer for one host. Defaults: no base path, no default headers, a 32 KiB buffer.
 * Throws `TypeError` for an empty or invalid `host`, an invalid `basePath` or default header, or
 * a default `Host` / `Content-Length` / `Transfer-Encoding`; `RangeError` for a non-positive
 * capacity.
 *
 * @since 0.1.0
 */
export const make = (options: Options): RequestWriter => {
  const capacity = options.capacity ?? DEFAULT_CAPACITY
  if (!Number.isInteger(capacity) || capacity <= 0) {
    throw new RangeError(`RequestWriter.make: capacity must be a positive integer, got ${capacity}`)
  }
  const basePath = options.basePath ?? ""
  if (basePath.length > 0) {
    const end = copyTarget(new Uint8Array(basePath.length), 0, basePath)
    if (end < 0) throw new TypeError(`RequestWriter.make: ${fieldError(Field.Path, basePath, -end - 1).message} (basePath)`)
  }
  return new RequestWriter(capacity, buildLineTail(options.host, options.defaultHeaders ?? []), basePath)
}
