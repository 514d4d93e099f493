/**
 * `ChunkedDecoder` — sans-IO decoder for the chunked transfer coding (RFC 9112 §7.1), decoding
 * in place so a chunked body ends up as one contiguous run of bytes.
 *
 * The decoder works on a caller-owned buffer region starting at `base` (the first byte after
 * the message head). Raw chunked bytes are read from `base + read` and the chunk data is moved
 * down to `base + written`; since every chunk is preceded by at least three framing bytes the
 * write cursor never passes the read cursor, so one `copyWithin` per chunk suffices. Both
 * cursors are relative to `base`, so the caller may move the whole region (compaction, growth)
 * between calls as long as it passes the new `base`.
 *
 * ```text
 * base      written           read            end
 * | decoded | (framing, dead) | unread raw ... |
 * ```
 *
 * `compact(buf, base, end)` squeezes the dead gap out so a body sent in tiny chunks needs no
 * more buffer than the decoded bytes plus one partial line; it returns how many bytes the
 * caller's `end` shrank by. A violation's `offset` counts from the first raw chunked byte,
 * whatever `compact` removed, so it does not depend on how the input was split into reads.
 *
 * Rules: chunk sizes are hex digits (no sign, no `0x`), at most 2^53 − 1; chunk extensions are
 * checked against RFC 9112 §7.1.1 — `*( BWS ";" BWS name [ BWS "=" BWS value ] )` with `name` a
 * token and `value` a token or a quoted string (RFC 9110 §5.6.4: HTAB, SP, VCHAR, obs-text,
 * backslash escapes; never CR or LF) — and then ignored: a `;` without a name, an empty name, a
 * quoted value that does not close before the line ends, or whitespace before the CR LF is
 * `InvalidChunkExtension`; every line ends with CR LF (a bare LF or CR is an error, as in
 * the head); chunk data must be followed by CR LF; the trailer section is validated with the
 * head's field rules and exposed as offsets in `trailers`. Limits (defaults): `maxBodySize`
 * 16 MiB of decoded data, `maxLineBytes` 4 KiB per chunk-size line, `maxTrailerBytes` 16 KiB,
 * `maxTrailers` 64 fields.
 *
 * @since 0.1.0
 */
import { FieldList, parseFields } from "./internal/fields.ts"
import * as Http from "./internal/http.ts"
import {
  bareCr,
  type BareCarriageReturn,
  bareLf,
  type BareLineFeed,
  bodyTooLarge,
  type BodyTooLarge,
  type FieldViolation
} from "./internal/violations.ts"
import { NeedMore } from "./NeedMore.ts"

// Module-local bindings of the shared byte values: V8 folds a module's own `const` into the
// hot loops but loads an imported binding from its cell on every use (measured on Node 24:
// ~10% of a response parse when the field and start-line parsers imported them).
const { BACKSLASH, CR, DQUOTE, EQUALS, HT, LF, SEMI, SP, TOKEN } = Http

/** Options for {@link make}. */
export interface Options {
  /** Largest decoded body in bytes. Default 16 MiB. */
  readonly maxBodySize?: number | undefined
  /** Largest chunk-size line (size plus extensions) in bytes. Default 4 KiB. */
  readonly maxLineBytes?: number | undefined
  /** Largest trailer section in bytes. Default 16 KiB. */
  readonly maxTrailerBytes?: number | undefined
  /** Most trailer fields. Default 64. */
  readonly maxTrailers?: number | undefined
}

/** Default `maxBodySize`: 16 MiB. */
export const DEFAULT_MAX_BODY_SIZE = 16 * 1024 * 1024
/** Default `maxLineBytes`: 4 KiB. */
export const DEFAULT_MAX_LINE_BYTES = 4 * 1024
/** Default `maxTrailerBytes`: 16 KiB. */
export const DEFAULT_MAX_TRAILER_BYTES = 16 * 1024
/** Default `maxTrailers`: 64. */
export const DEFAULT_MAX_TRAILERS = 64

/** The shared "body complete" result: read `written` (body length) and `read` (raw bytes used). */
export interface ChunkedDone {
  readonly _tag: "ChunkedDone"
}

/** Returned once the last chunk and the trailer section have been decoded. */
export const ChunkedDone: ChunkedDone = Object.freeze({ _tag: "ChunkedDone" as const })

/** A chunk-size line without hex digits, or with a byte that is neither hex nor an extension start. */
export interface InvalidChunkSize {
  readonly _tag: "InvalidChunkSize"
  readonly message: string
  readonly offset: number
}

/** A chunk size above 2^53 − 1. */
export interface ChunkSizeOverflow {
  readonly _tag: "ChunkSizeOverflow"
  readonly message: string
  readonly offset: number
}

/**
 * A chunk-size line whose extension part breaks RFC 9112 §7.1.1: a `;` without a name, a name or
 * token value with a non-token byte, `=` without a value, an unterminated quoted string, a
 * control byte, or whitespace not followed by `;` (or `=` after a name). `offset` is the byte's.
 */
export interface InvalidChunkExtension {
  readonly _tag: "InvalidChunkExtension"
  readonly message: string
  readonly offset: number
}

/** Chunk data not followed by CR LF. */
export interface MissingChunkCrlf {
  readonly _tag: "MissingChunkCrlf"
  readonly message: string
  readonly offset: number
}

/** A chunk-size line (with extensions) longer than `maxLineBytes`. */
export interface ChunkLineTooLong {
  readonly _tag: "ChunkLineTooLong"
  readonly message: string
  readonly limit: number
}

/** A trailer section longer than `maxTrailerBytes`. */
export interface TrailersTooLarge {
  readonly _tag: "TrailersTooLarge"
  readonly message: string
  readonly limit: number
}

/** Every violation the chunked decoder reports. */
export type ChunkedViolation =
  | InvalidChunkSize
  | ChunkSizeOverflow
  | InvalidChunkExtension
  | MissingChunkCrlf
  | ChunkLineTooLong
  | TrailersTooLarge
  | BodyTooLarge
  | BareLineFeed
  | BareCarriageReturn
  | FieldViolation

/** What {@link ChunkedDecoder.decode} returns. */
export type ChunkedResult = NeedMore | ChunkedDone | ChunkedViolation

const State = {
  sizeStart: 0,
  size: 1,
  /** BWS after the size or after an extension value: only more BWS or ";" may follow. */
  extWs: 2,
  /** Right after ";" (BWS allowed): a name must start. */
  extNameStart: 3,
  extName: 4,
  /** BWS after a name: ";" or "=" must follow. */
  extNameWs: 5,
  /** Right after "=" (BWS allowed): a token or a quoted string must start. */
  extValueStart: 6,
  extToken: 7,
  extQuoted: 8,
  /** After a backslash inside a quoted string. */
  extQuotedPair: 9,
  /** After a quoted string's closing DQUOTE. */
  extValueEnd: 10,
  sizeLf: 11,
  data: 12,
  dataCr: 13,
  dataLf: 14,
  trailerLine: 15,
  trailerText: 16,
  trailerLf: 17,
  endLf: 18,
  done: 19,
  failed: 20
} as const

/**
 * `QDTEXT[b] === 1` for the bytes a quoted string holds without escaping (RFC 9110 §5.6.4:
 * HTAB, SP, VCHAR except DQUOTE and backslash, obs-text).
 */
const QDTEXT: Uint8Array = (() => {
  const table = new Uint8Array(256)
  table[HT] = 1
  for (let c = 0x20; c < 0x7f; c++) table[c] = 1
  for (let c = 0x80; c <= 0xff; c++) table[c] = 1
  table[DQUOTE] = 0
  table[BACKSLASH] = 0
  return table
})()

/** `HEX[b]` is the digit value of a hex byte, -1 otherwise. */
const HEX: Int8Array = (() => {
  const table = new Int8Array(256).fill(-1)
  for (let i = 0; i < 10; i++) table[0x30 + i] = i
  for (let i = 0; i < 6; i++) {
    table[0x41 + i] = 10 + i
    table[0x61 + i] = 10 + i
  }
  return table
})()

/** Largest value whose ×16 + 15 stays a safe integer. */
const SIZE_GUARD = Math.floor((Number.MAX_SAFE_INTEGER - 15) / 16)

/**
 * The decoder state machine. Reusable: `reset()` between bodies. After a violation every
 * `decode` returns the same violation until `reset()`.
 *
 * @since 0.1.0
 */
export class ChunkedDecoder {
  /** Raw bytes consumed, relative to `base`. */
  read: number
  /** Decoded body bytes at `base`, i.e. the body length so far. */
  written: number
  /** Trailer fields (offsets relative to `base`), valid once done. */
  readonly trailers: FieldList
  /** Start of the trailer section relative to `base` (valid in the trailer states). */
  trailerStart: number
  readonly maxBodySize: number
  readonly maxLineBytes: number
  readonly maxTrailerBytes: number
  readonly maxTrailers: number
  private state: number
  private remaining: number
  private size: number
  private lineBytes: number
  /** Bytes `compact()` removed so far: raw stream offset = offset in the buffer + `dropped`. */
  private dropped: number
  private failure: ChunkedViolation | undefined

  constructor(maxBodySize: number, maxLineBytes: number, maxTrailerBytes: number, maxTrailers: number) {
    this.read = 0
    this.written = 0
    this.trailers = new FieldList()
    this.trailerStart = 0
    this.maxBodySize = maxBodySize
    this.maxLineBytes = maxLineBytes
    this.maxTrailerBytes = maxTrailerBytes
    this.maxTrailers = maxTrailers
    this.state = State.sizeStart
    this.remaining = 0
    this.size = 0
    this.lineBytes = 0
    this.dropped = 0
    this.failure = undefined
  }

  /** Whether the final chunk and trailers have been decoded. */
  get done(): boolean {
    return this.state === State.done
  }

  /** Forgets everything: ready for the next body. */
  reset(): void {
    this.read = 0
    this.written = 0
    this.trailers.reset()
    this.trailerStart = 0
    this.state = State.sizeStart
    this.remaining = 0
    this.size = 0
    this.lineBytes = 0
    this.dropped = 0
    this.failure = undefined
  }

  private fail(violation: ChunkedViolation): ChunkedViolation {
    this.state = State.failed
    this.failure = violation
    return violation
  }

  /**
   * Decodes the raw bytes in `buf[base + read, end)`, moving chunk data down to
   * `buf[base + written, ...)`. Returns `ChunkedDone` (body is `buf[base, base + written)`, raw
   * bytes used `read`; bytes past `base + read` belong to the next message), `NeedMore`, or a
   * violation.
   */
  decode(buf: Uint8Array, base: number, end: number): ChunkedResult {
    if (this.state === State.done) return ChunkedDone
    if (this.state === State.failed) return this.failure!
    let r = base + this.read
    let w = base + this.written
    // violations name offsets in the raw chunked stream: add back what compact() squeezed out
    const origin = base - this.dropped
    let state: number = this.state
    while (r < end) {
      if (state === State.data) {
        const available = end - r
        const n = available < this.remaining ? available : this.remaining
        if (w !== r) buf.copyWithin(w, r, r + n)
        w += n
        r += n
        this.remaining -= n
        if (this.remaining === 0) state = State.dataCr
        continue
      }
      const c = buf[r]!
      switch (state) {
        case State.sizeStart:
        case State.size: {
          const d = HEX[c]!
          if (d >= 0) {
            if (this.size > SIZE_GUARD) {
              return this.fail({
                _tag: "ChunkSizeOverflow",
                message: `chunk size at offset ${r - origin} exceeds 2^53 - 1`,
                offset: r - origin
              })
            }
            this.size = this.size * 16 + d
            state = State.size
          } else if (state === State.size && c === CR) {
            state = State.sizeLf
          } else if (state === State.size && c === SEMI) {
            state = State.extNameStart
          } else if (state === State.size && (c === SP || c === HT)) {
            state = State.extWs
          } else if (c === LF) {
            return this.fail(bareLf(r - origin))
          } else {
            return this.fail({
              _tag: "InvalidChunkSize",
              message: `byte 0x${c.toString(16)} where a hex chunk size was expected at offset ${r - origin}`,
              offset: r - origin
            })
          }
          break
        }
        // chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ) (RFC 9112
        // §7.1.1): names and values are checked for grammar, then dropped
        case State.extWs: {
          if (c === SEMI) state = State.extNameStart
          else if (c !== SP && c !== HT) {
            return this.fail(extensionFault(c, r - origin, "\";\" after whitespace"))
          }
          break
        }
        case State.extNameStart: {
          if (TOKEN[c] === 1) state = State.extName
          else if (c !== SP && c !== HT) {
            return this.fail(extensionFault(c, r - origin, "an extension name (token) after \";\""))
          }
          break
        }
        case State.extName: {
          if (TOKEN[c] === 1) {
            const last = lastOfRun(TOKEN, buf, r, end)
            this.lineBytes += last - r
            r = last
            break
          }
          if (c === CR) state = State.sizeLf
          else if (c === SEMI) state = State.extNameStart
          else if (c === EQUALS) state = State.extValueStart
          else if (c === SP || c === HT) state = State.extNameWs
          else {
            return this.fail(extensionFault(c, r - origin, "\";\", \"=\" or CR LF after an extension name"))
          }
          break
        }
        case State.extNameWs: {
          if (c === SEMI) state = State.extNameStart
          else if (c === EQUALS) state = State.extValueStart
          else if (c !== SP && c !== HT) {
            return this.fail(extensionFault(c, r - origin, "\";\" or \"=\" after whitespace"))
          }
          break
        }
        case State.extValueStart: {
          if (TOKEN[c] === 1) state = State.extToken
          else if (c === DQUOTE) state = State.extQuoted
          else if (c !== SP && c !== HT) {
            return this.fail(extensionFault(c, r - origin, "an extension value (token or quoted string) after \"=\""))
          }
          break
        }
        case State.extQuoted: {
          if (QDTEXT[c] === 1) {
            const last = lastOfRun(QDTEXT, buf, r, end)
            this.lineBytes += last - r
            r = last
            break
          }
          if (c === DQUOTE) state = State.extValueEnd
          else if (c === BACKSLASH) state = State.extQuotedPair
          else return this.fail(invalidQuoted(c, r - origin))
          break
        }
        case State.extQuotedPair: {
          // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
          if (c === HT || (c >= SP && c !== 0x7f)) state = State.extQuoted
          else return this.fail(invalidQuoted(c, r - origin))
          break
        }
        case State.extToken:
        case State.extValueEnd: {
          if (state === State.extToken && TOKEN[c] === 1) {
            const last = lastOfRun(TOKEN, buf, r, end)
            this.lineBytes += last - r
            r = last
            break
          }
          if (c === CR) state = State.sizeLf
          else if (c === SEMI) state = State.extNameStart
          else if (c === SP || c === HT) state = State.extWs
          else {
            return this.fail(extensionFault(c, r - origin, "\";\" or CR LF after an extension value"))
          }
          break
        }
        case State.sizeLf: {
          if (c !== LF) return this.fail(bareCr(r - origin - 1))
          const size = this.size
          this.size = 0
          this.lineBytes = 0
          if (size === 0) {
            state = State.trailerLine
            this.trailerStart = r + 1 - base
          } else {
            const total = w - base + size
            if (total > this.maxBodySize) return this.fail(bodyTooLarge(total, this.maxBodySize))
            this.remaining = size
            state = State.data
          }
          r++
          continue
        }
        case State.dataCr: {
          if (c !== CR) return this.fail(missingCrlf(r - origin))
          state = State.dataLf
          break
        }
        case State.dataLf: {
          if (c !== LF) return this.fail(missingCrlf(r - origin))
          state = State.sizeStart
          r++
          continue
        }
        case State.trailerLine: {
          if (c === CR) state = State.endLf
          else if (c === LF) return this.fail(bareLf(r - origin))
          else state = State.trailerText
          break
        }
        case State.trailerText: {
          if (c === CR) state = State.trailerLf
          else if (c === LF) return this.fail(bareLf(r - origin))
          break
        }
        case State.trailerLf: {
          if (c !== LF) return this.fail(bareCr(r - origin - 1))
          state = State.trailerLine
          break
        }
        case State.endLf: {
          if (c !== LF) return this.fail(bareCr(r - origin - 1))
          r++
          this.read = r - base
          this.written = w - base
          const trailers = this.trailers
          const parsed = parseFields(buf, base + this.trailerStart, r, origin, trailers, this.maxTrailers, false)
          if (typeof parsed !== "number") return this.fail(parsed)
          // parsed against `origin` so a violation names the raw offset; the offsets are `base`'s
          if (this.dropped !== 0) {
            for (let i = 0, n = trailers.count * 4; i < n; i++) trailers.offsets[i] = trailers.offsets[i]! - this.dropped
          }
          this.state = State.done
          return ChunkedDone
        }
      }
      r++
      // line-length limits, checked per byte only in the line states
      if (state < State.data) {
        if (++this.lineBytes > this.maxLineBytes) {
          return this.fail({
            _tag: "ChunkLineTooLong",
            message: `chunk-size line longer than ${this.maxLineBytes} bytes`,
            limit: this.maxLineBytes
          })
        }
      } else if (state >= State.trailerLine && r - base - this.trailerStart > this.maxTrailerBytes) {
        return this.fail({
          _tag: "TrailersTooLarge",
          message: `trailer section longer than ${this.maxTrailerBytes} bytes`,
          limit: this.maxTrailerBytes
        })
      }
    }
    this.state = state
    this.read = r - base
    this.written = w - base
    return NeedMore
  }

  /**
   * Forgets the `written` decoded bytes at `base` once the caller has taken them (a streamed
   * body): the caller advances its `base` by the count returned, and decoding goes on from there
   * with `written` 0. Violation offsets still count from the first raw chunked byte.
   */
  take(): number {
    const n = this.written
    if (n === 0) return 0
    this.read -= n
    this.dropped += n
    if (this.state >= State.trailerLine) this.trailerStart -= n
    this.written = 0
    return n
  }

  /**
   * Moves the unread raw bytes (and a partial trailer section) down to the end of the decoded
   * body, dropping the dead framing bytes between them. Returns the number of bytes removed:
   * the caller's data end shrinks by that much. Does nothing once done (the bytes after the
   * body belong to the next message).
   */
  compact(buf: Uint8Array, base: number, end: number): number {
    if (this.state === State.done || this.state === State.failed) return 0
    const keepFrom = this.state >= State.trailerLine ? this.trailerStart : this.read
    const gap = keepFrom - this.written
    if (gap === 0) return 0
    buf.copyWithin(base + this.written, base + keepFrom, end)
    this.read -= gap
    this.dropped += gap
    if (this.state >= State.trailerLine) this.trailerStart -= gap
    return gap
  }
}

/**
 * From `r`, a byte of `table`'s class, the offset of the last byte of the run of such bytes
 * before `end`: a name or value is skipped in one tight loop instead of one state switch per
 * byte. The caller counts the skipped bytes against `maxLineBytes`.
 */
const lastOfRun = (table: Uint8Array, buf: Uint8Array, r: number, end: number): number => {
  let p = r + 1
  while (p < end && table[buf[p]!] === 1) p++
  return p - 1
}

/** How a byte reads in a message: `"="`, `SP`, `CR`, or `byte 0x7f`. */
const describeByte = (c: number): string =>
  c === SP ? "SP" : c === HT ? "HTAB" : c === CR ? "CR" : c === LF ? "LF" :
  c > SP && c < 0x7f ? `"${String.fromCharCode(c)}"` : `byte 0x${c.toString(16)}`

/** A control byte (other than HTAB) may appear nowhere in a chunk-size line. */
const isControl = (c: number): boolean => (c < SP && c !== HT) || c === 0x7f

const invalidExtension = (c: number, offset: number, expected: string): InvalidChunkExtension => ({
  _tag: "InvalidChunkExtension",
  message: isControl(c) && c !== CR
    ? `control byte 0x${c.toString(16)} in a chunk extension at offset ${offset}`
    : `expected ${expected} in a chunk extension at offset ${offset}, got ${describeByte(c)}`,
  offset
})

/** The violation for byte `c` where an extension expected `expected`: a bare LF is its own rule. */
const extensionFault = (c: number, offset: number, expected: string): BareLineFeed | InvalidChunkExtension =>
  c === LF ? bareLf(offset) : invalidExtension(c, offset, expected)

const invalidQuoted = (c: number, offset: number): InvalidChunkExtension => ({
  _tag: "InvalidChunkExtension",
  message: c === CR || c === LF
    ? `unterminated quoted string in a chunk extension at offset ${offset} (a quoted string cannot hold CR or LF)`
    : `control byte 0x${c.toString(16)} in a quoted chunk extension value at offset ${offset}`,
  offset
})

const missingCrlf = (offset: number): MissingChunkCrlf => ({
  _tag: "MissingChunkCrlf",
  message: `chunk data not followed by CR LF at offset ${offset}`,
  offset
})

/**
 * Creates a `ChunkedDecoder`. Defaults: `maxBodySize` 16 MiB, `maxLineBytes` 4 KiB,
 * `maxTrailerBytes` 16 KiB, `maxTrailers` 64. Throws `RangeError` for a negative or
 * non-integer limit (caller misuse).
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): ChunkedDecoder => {
  const maxBodySize = options.maxBodySize ?? DEFAULT_MAX_BODY_SIZE
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES
  const maxTrailerBytes = options.maxTrailerBytes ?? DEFAULT_MAX_TRAILER_BYTES
  const maxTrailers = options.maxTrailers ?? DEFAULT_MAX_TRAILERS
  for (const [name, value] of [
    ["maxBodySize", maxBodySize],
    ["maxLineBytes", maxLineBytes],
    ["maxTrailerBytes", maxTrailerBytes],
    ["maxTrailers", maxTrailers]
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`ChunkedDecoder ${name} must be a non-negative integer, got ${value}`)
    }
  }
  return new ChunkedDecoder(maxBodySize, maxLineBytes, maxTrailerBytes, maxTrailers)
}
