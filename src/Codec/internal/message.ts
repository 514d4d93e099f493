/**
 * `HttpMessage`, what a parsed `Response` and `Request` share — header lookup, the body view,
 * trailers — and `ParsedMessage`, the one record a reader fills to build it.
 *
 * A message reads the reader's buffer lazily through offsets, so it is valid only until the
 * next call on the reader that produced it; copy what you keep (`bodyText()`, `headers()`,
 * `copyBody()` and `trailers()` return owned values).
 *
 * @internal
 */
import type { FieldList } from "./fields.ts"
import * as Http from "./http.ts"
import { asBuffer, type Buffer, copyOut, copyOutHeadBody, decodeLatin1, decodeUtf8 } from "./node.ts"
import type { StartLine } from "./startLine.ts"

// Module-local bindings of the shared byte values: V8 folds a module's own `const` into the
// hot loops but loads an imported binding from its cell on every use (measured on Node 24:
// ~10% of a response parse when the field and start-line parsers imported them).
const { COMMA, HT, SP, equalsIgnoreCase, nameEquals } = Http

/** A shared empty offsets array for messages without trailers (never mutated). */
export const NO_FIELDS: Array<number> = []

/**
 * One parsed message as the reader hands it to a message constructor: the head (start line and
 * fields), where the body lies and how the message was framed. Each reader owns one and fills
 * it again for every message, so building a message allocates nothing beyond the message; a
 * constructor copies what it needs and keeps no reference to the record.
 */
export class ParsedMessage {
  /** The buffer every offset points into. */
  buf: Buffer
  /** Absolute offset of the message's first byte in `buf`. */
  base: number
  /** The start line; its offsets are relative to `base`. */
  readonly line: StartLine
  /** The header fields; offsets relative to `base`. */
  readonly fields: FieldList
  /** Absolute offset of the first (decoded) body byte. */
  bodyStart: number
  /** Absolute offset just past the (decoded) body. */
  bodyEnd: number
  /** `Content-Length` as declared, or `undefined` (absent, or ignored for a body-less response). */
  contentLength: number | undefined
  /** Whether the body was sent with chunked transfer coding. */
  chunked: boolean
  /** Whether the connection may carry another message after this one. */
  reusable: boolean
  /** Trailer offsets relative to `base` (`NO_FIELDS` without trailers). */
  trailerOffsets: Array<number>
  /** Number of trailer fields. */
  trailerCount: number

  constructor(buf: Buffer, line: StartLine, fields: FieldList) {
    this.buf = buf
    this.base = 0
    this.line = line
    this.fields = fields
    this.bodyStart = 0
    this.bodyEnd = 0
    this.contentLength = undefined
    this.chunked = false
    this.reusable = false
    this.trailerOffsets = NO_FIELDS
    this.trailerCount = 0
  }
}

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

  constructor(parsed: ParsedMessage) {
    const fields = parsed.fields
    this.buf = parsed.buf
    this.base = parsed.base
    this.fieldOffsets = fields.offsets
    this.headerCount = fields.count
    this.bodyStart = parsed.bodyStart
    this.bodyEnd = parsed.bodyEnd
    this.contentLength = parsed.contentLength
    this.chunked = parsed.chunked
    this.reusable = parsed.reusable
    this.connectionTokens = fields.connection
    this.trailerOffsets = parsed.trailerOffsets
    this.trailerCount = parsed.trailerCount
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

  /** An owned copy of the body; a small one is a view into a shared pool (its `.buffer` is not its own). */
  copyBody(): Uint8Array {
    // a view into `copyOut`'s shared pool for a small body: a typed array of its own costs ~10×
    return copyOut(this.buf, this.bodyStart, this.bodyEnd)
  }

  /**
   * An owned copy of the header fields and the body in one allocation (a small one carved from
   * `copyOut`'s shared pool), whose headers become strings only when asked for: building them
   * here (two latin1 strings and a pair per field) costs ~0.85 µs for a 7-field response, about
   * eight times the copy. `withBody` false copies the fields only (a head whose body is streamed).
   */
  copyOwned(withBody = true): OwnedMessage {
    const count = this.headerCount
    const o = this.fieldOffsets
    const headStart = count === 0 ? 0 : this.base + o[0]!
    const headEnd = count === 0 ? 0 : this.base + o[count * 4 - 1]!
    const body = copyOutHeadBody(this.buf, headStart, headEnd, this.bodyStart, withBody ? this.bodyEnd : this.bodyStart)
    return new OwnedMessage(body, headEnd - headStart, o.slice(0, count * 4), count, count === 0 ? 0 : o[0]!)
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

/**
 * An owned copy of a message's header fields and body (`HttpMessage.copyOwned`): safe to keep
 * after the reader moves on. The body is a plain `Uint8Array` over the copy, the header bytes
 * lie just before it in the same memory and are decoded on first use, once.
 */
export class OwnedMessage {
  /** The body's bytes (a view into memory that may be shared with other copies: read it through `byteOffset`/`byteLength`). */
  readonly body: Uint8Array
  /** Number of header fields. */
  readonly headerCount: number
  /** Length of the header bytes before `body`. */
  private readonly headLength: number
  /** Field offsets into the header bytes plus `shift`, four per field. */
  private readonly offsets: Array<number>
  private readonly shift: number
  private list: Array<[string, string]> | undefined
  private headView: Buffer | undefined

  constructor(body: Uint8Array, headLength: number, offsets: Array<number>, count: number, shift: number) {
    this.body = body
    this.headerCount = count
    this.headLength = headLength
    this.offsets = offsets
    this.shift = shift
    this.list = undefined
    this.headView = undefined
  }

  /** The header bytes, a view made when first asked for and kept. */
  private head(): Buffer {
    if (this.headView !== undefined) return this.headView
    const body = this.body
    return (this.headView = asBuffer(new Uint8Array(body.buffer, body.byteOffset - this.headLength, this.headLength)))
  }

  /** All headers as `[name, value]` pairs in wire order; decoded on the first call, the same array after. */
  headers(): Array<[string, string]> {
    if (this.list !== undefined) return this.list
    const bytes = this.head()
    const o = this.offsets
    const d = this.shift
    const out: Array<[string, string]> = []
    for (let i = 0; i < this.headerCount; i++) {
      out.push([
        decodeLatin1(bytes, o[i * 4]! - d, o[i * 4 + 1]! - d),
        decodeLatin1(bytes, o[i * 4 + 2]! - d, o[i * 4 + 3]! - d)
      ])
    }
    return (this.list = out)
  }

  /** The first value of header `name` (case-insensitive), or `undefined`; builds no list. */
  header(name: string): string | undefined {
    const bytes = this.head()
    const o = this.offsets
    const d = this.shift
    // the offsets are `shift` past the head's first byte: `findField` reads `bytes[-shift + o]`
    const i = findField(bytes, -d, o, this.headerCount, name, 0)
    return i === -1 ? undefined : decodeLatin1(bytes, o[i * 4 + 2]! - d, o[i * 4 + 3]! - d)
  }
}
