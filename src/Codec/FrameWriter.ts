/**
 * `FrameWriter` — sans-IO WebSocket frame encoder (RFC 6455 §5) for both roles.
 *
 * A client masks every frame with a fresh key from its {@link MaskSource} (§5.3); a server
 * never masks. Two targets, same bytes:
 *
 * ```text
 * encode(buf: WriteBuf, kind, payload)          payload into buf, header prepended ─► bytes | EncodeError
 * encodeInto(dst, offset, kind, payload)        frame(s) at dst[offset..]          ─► bytes | EncodeError
 * encodeHeaderInto(dst, offset, kind, length)   the header alone (server role)     ─► bytes | EncodeError
 * encodeClose(buf, code?, reason?) / encodeCloseInto(dst, offset, code?, reason?)
 * ```
 *
 * **WriteBuf target.** `encode` replaces the buffer's contents: it clears it, writes the payload
 * at the end of the headroom (a string straight into `spare()` as UTF-8), then writes the header
 * in place into the headroom with `reserveFront`, so `buf.data()` is the whole frame, contiguous,
 * ready for one socket write. The buffer needs a headroom of at least 10 bytes (server) or
 * 14 bytes (client) — the default 14 fits both.
 *
 * **Caller buffer.** `encodeInto` writes at `dst[offset]` and returns the byte count. Pass a
 * Node `Buffer` when the payload is a string: a plain `Uint8Array` costs a `Buffer` view per call.
 *
 * **Payloads.** Text is a string (written as UTF-8) or bytes the caller promises are UTF-8 (not
 * re-validated). The caller's bytes are never modified: they are copied into the target and
 * masked there; a string is encoded into the target and masked there in place. Control payloads
 * (ping, pong, close) are at most 125 bytes; a close payload is the code (big-endian) plus the
 * UTF-8 reason.
 *
 * **Fragmentation.** With `fragmentSize` set, a text or binary message longer than it becomes a
 * first frame plus continuation frames of `fragmentSize` payload bytes (the last one shorter),
 * FIN on the last only, each with its own key in the client role. Text is split at byte
 * boundaries (RFC 6455 allows a code point to straddle fragments). Control frames never fragment.
 *
 * **Lengths** use the minimal encoding: 7-bit up to 125, 16-bit (126) up to 65535, 64-bit (127)
 * above.
 *
 * **Errors are returned, never thrown**, for anything about the message or the room:
 * `ControlPayloadTooLarge`, `InvalidCloseCode`, `BufferTooSmall`. On an error nothing useful is
 * left in the target (a WriteBuf is left empty; `dst` past `offset` may hold garbage).
 *
 * **Throws only on caller misuse**: `make` throws `TypeError` for a client without a mask source
 * and `RangeError` for a `fragmentSize` that is not a positive integer; the encode methods throw
 * `RangeError` for a `kind` that is not a {@link Kind}, an `offset` that is not an integer in
 * `[0, dst.length]`, a WriteBuf headroom below the largest header of the role, or a close reason
 * without a code.
 *
 * @since 0.1.0
 */
import { isValidOnWire } from "./CloseCode.ts"
import { type BufferTooSmall, bufferTooSmall } from "./internal/bufferTooSmall.ts"
import { maskInPlace, wordsOf } from "./internal/frameWords.ts"
import { asBuffer, type Buffer, utf8Length, writeUtf8Buffer } from "./internal/node.ts"
import { MAX_CONTROL_PAYLOAD, Opcode } from "./internal/opcode.ts"
import type { MaskSource } from "./MaskSource.ts"
import type { WriteBuf } from "./WriteBuf.ts"

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

/** Which side of the connection this writer is on. */
export type Role = "client" | "server"

/** Options shared by both roles. */
interface BaseOptions {
  /**
   * Split text and binary messages longer than this many bytes into fragments of this size.
   * Default: no fragmentation.
   */
  readonly fragmentSize?: number | undefined
}

/**
 * Options for {@link make}: a client needs a mask source (e.g. `MaskSource.crypto()`), a
 * server takes none.
 */
export type Options =
  | (BaseOptions & { readonly role: "client"; readonly maskSource: MaskSource })
  | (BaseOptions & { readonly role: "server"; readonly maskSource?: undefined })

/**
 * What a frame carries: the data and control kinds other than close. The values are the
 * opcodes.
 *
 * @since 0.1.0
 */
export const Kind = {
  Text: Opcode.Text,
  Binary: Opcode.Binary,
  Ping: Opcode.Ping,
  Pong: Opcode.Pong
} as const

/** One of the {@link Kind} values. */
export type Kind = (typeof Kind)[keyof typeof Kind]

/** Largest header: 2 bytes, 8 of extended length, 4 of mask key. */
export const MAX_HEADER_SIZE = 14

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/**
 * A ping, pong or close payload over 125 bytes (RFC 6455 §5.5); for a close, `size` counts the
 * 2 code bytes plus the reason.
 *
 * @since 0.1.0
 */
export interface ControlPayloadTooLarge {
  readonly _tag: "ControlPayloadTooLarge"
  readonly size: number
  readonly limit: number
  readonly message: string
}

/**
 * A close code that may not be sent (RFC 6455 §7.4: not an integer in 1000–1003, 1007–1014 or
 * 3000–4999).
 *
 * @since 0.1.0
 */
export interface InvalidCloseCode {
  readonly _tag: "InvalidCloseCode"
  readonly code: number
  readonly message: string
}

/**
 * The frame(s) do not fit. For `encodeInto`, `needed` is the encoded size and `available` is
 * `dst.length - offset`; for a WriteBuf both count after its headroom (the first header goes
 * into the headroom): `needed` is the encoded size minus that header, `available` the
 * buffer's capacity.
 *
 * @since 0.1.0
 */
export type { BufferTooSmall }

/**
 * Everything an encode can return instead of a byte count.
 *
 * @since 0.1.0
 */
export type EncodeError = ControlPayloadTooLarge | InvalidCloseCode | BufferTooSmall

const tooSmall = (needed: number, available: number): BufferTooSmall => bufferTooSmall("frame", needed, available)

const controlTooLarge = (size: number, what: string): ControlPayloadTooLarge => ({
  _tag: "ControlPayloadTooLarge",
  size,
  limit: MAX_CONTROL_PAYLOAD,
  message: `${what} makes a control payload of ${size} bytes, over the limit of ${MAX_CONTROL_PAYLOAD}`
})

// ---------------------------------------------------------------------------------------------
// Header helpers
// ---------------------------------------------------------------------------------------------

const EMPTY = new Uint8Array(0)
const EMPTY_WORDS = new Uint32Array(0)

/**
 * Strings up to this many UTF-16 units are tried as ASCII with a JS loop before `Buffer.write`.
 * Measured on Node 24: the loop costs ~2–3 ns per character, a `Buffer.write` ~45–70 ns flat up
 * to 128 bytes, so the loop only wins for short strings.
 */
const ASCII_LOOP_MAX = 16

/**
 * Payloads up to this many bytes are copied with a JS loop instead of `set` (a masked one is
 * then masked in place by `maskInPlace`).
 */
const COPY_LOOP_MAX = 32

/** Header size for a payload of `n` bytes. */
const headerLength = (n: number, masked: boolean): number =>
  (n < 126 ? 2 : n < 65536 ? 4 : 10) + (masked ? 4 : 0)

/**
 * Writes the header (without the key) at `dst[pos]` and returns the full header length,
 * key included; the key, if any, goes to the header's last 4 bytes.
 */
const writeHeader = (dst: Uint8Array, pos: number, b0: number, n: number, masked: boolean): number => {
  const m = masked ? 0x80 : 0
  dst[pos] = b0
  if (n < 126) {
    dst[pos + 1] = m | n
    return masked ? 6 : 2
  }
  if (n < 65536) {
    dst[pos + 1] = m | 126
    dst[pos + 2] = n >>> 8
    dst[pos + 3] = n & 0xff
    return masked ? 8 : 4
  }
  const hi = Math.floor(n / 0x100000000)
  const lo = n >>> 0
  dst[pos + 1] = m | 127
  dst[pos + 2] = hi >>> 24
  dst[pos + 3] = (hi >>> 16) & 0xff
  dst[pos + 4] = (hi >>> 8) & 0xff
  dst[pos + 5] = hi & 0xff
  dst[pos + 6] = lo >>> 24
  dst[pos + 7] = (lo >>> 16) & 0xff
  dst[pos + 8] = (lo >>> 8) & 0xff
  dst[pos + 9] = lo & 0xff
  return masked ? 14 : 10
}

/**
 * Writes `text` as UTF-8 at `dst[p]`, not past `dst.length`. Returns the byte count, or -1 when
 * it does not fit. Short ASCII strings take a JS loop (no native call).
 */
const putText = (dst: Buffer, p: number, text: string): number => {
  const len = text.length
  const avail = dst.length - p
  if (len <= ASCII_LOOP_MAX && len <= avail) {
    let i = 0
    for (; i < len; i++) {
      const c = text.charCodeAt(i)
      if (c >= 0x80) break
      dst[p + i] = c
    }
    if (i === len) return len
  }
  if (len === 0) return 0
  if (avail < len) return -1 // UTF-8 is never shorter than the UTF-16 length
  const n = writeUtf8Buffer(dst, text, p)
  // Buffer.write stops before a code point that does not fit (at most 4 bytes), so only a
  // write ending within 3 bytes of the end can have been cut short
  if (n > avail - 4 && utf8Length(text) !== n) return -1
  return n
}

// ---------------------------------------------------------------------------------------------
// FrameWriter
// ---------------------------------------------------------------------------------------------

/**
 * The encoder for one connection. Reusable for any number of messages; keeps no state between
 * calls besides the mask source's.
 *
 * @since 0.1.0
 */
export class FrameWriter {
  /** The side this writer encodes for. */
  readonly role: Role
  /** Whether frames are masked (client role). */
  readonly masked: boolean
  /** Where keys come from (client role); a source that throws in the server role (never used). */
  readonly maskSource: MaskSource
  /** Largest payload of one text/binary frame before fragmenting (`MAX_SAFE_INTEGER`: never). */
  readonly fragmentSize: number
  /** The target the cached `buffer` view covers. */
  private bufferTarget: Uint8Array
  /** `bufferTarget` as a `Buffer` (the same object when it already is one). */
  private buffer: Buffer
  /** The target the cached `words` view covers (the WriteBuf slab, or the caller's buffer). */
  private wordsTarget: Uint8Array
  /** A word view over `wordsTarget`, for masking in place four bytes at a time. */
  private words: Uint32Array

  constructor(role: Role, maskSource: MaskSource | undefined, fragmentSize: number | undefined) {
    if (role !== "client" && role !== "server") {
      throw new RangeError(`FrameWriter role must be "client" or "server", got ${String(role)}`)
    }
    if (role === "client" && (maskSource === undefined || typeof maskSource.next !== "function")) {
      throw new TypeError("FrameWriter in the client role needs a maskSource (e.g. MaskSource.crypto())")
    }
    if (fragmentSize !== undefined && (!Number.isSafeInteger(fragmentSize) || fragmentSize <= 0)) {
      throw new RangeError(`FrameWriter fragmentSize must be a positive integer, got ${fragmentSize}`)
    }
    this.role = role
    this.masked = role === "client"
    this.maskSource = role === "client" ? maskSource! : NO_MASK
    this.fragmentSize = fragmentSize ?? Number.MAX_SAFE_INTEGER
    this.bufferTarget = EMPTY
    this.buffer = asBuffer(EMPTY)
    this.wordsTarget = EMPTY
    this.words = EMPTY_WORDS
  }

  /**
   * Encodes one message of `kind` into `buf`, replacing its contents; `buf.data()` is then the
   * frame(s). Returns the byte count (`buf.length`) or an error (leaving `buf` empty).
   */
  encode(buf: WriteBuf, kind: Kind, payload: string | Uint8Array = EMPTY): number | EncodeError {
    this.checkHeadroom(buf)
    checkKind(kind)
    buf.clear()
    const p = buf.tail
    if (typeof payload === "string") {
      let n: number
      if (kind >= 8 || payload.length * 3 > this.fragmentSize) {
        n = utf8Length(payload)
        if (kind >= 8 && n > MAX_CONTROL_PAYLOAD) return controlTooLarge(n, "the payload")
        if (kind < 8 && n > this.fragmentSize) return this.fragmentedTextIntoBuf(buf, kind, payload, n)
      }
      n = putText(buf.buf, p, payload)
      if (n < 0) return tooSmall(utf8Length(payload), buf.buf.length - p)
      this.finishFrame(buf.buf, buf.reserveFront(headerLength(n, this.masked)), 0x80 | kind, n)
      buf.tail = p + n
      return buf.tail - buf.head
    }
    const n = payload.length
    if (kind >= 8 && n > MAX_CONTROL_PAYLOAD) return controlTooLarge(n, "the payload")
    // control frames are never fragmented (RFC 6455 §5.5), whatever fragmentSize says
    if (kind < 8 && n > this.fragmentSize) {
      const total = this.fragmentedLength(n)
      const h = headerLength(this.fragmentSize, this.masked)
      if (total - h > buf.buf.length - p) return tooSmall(total - h, buf.buf.length - p)
      this.fragmentBytes(buf.buf, buf.reserveFront(h), kind, payload)
      buf.tail = p + total - h
      return total
    }
    if (n > buf.buf.length - p) return tooSmall(n, buf.buf.length - p)
    const written = this.frameBytes(buf.buf, buf.reserveFront(headerLength(n, this.masked)), 0x80 | kind, payload)
    buf.tail = p + n
    return written
  }

  /**
   * Encodes one already deflated text or binary message (permessage-deflate, RFC 7692) at
   * `dst[offset]`: like {@link encodeInto} for bytes, with RSV1 set on the first frame only
   * (continuations never carry it). Returns the bytes written or an error.
   */
  encodeCompressedInto(dst: Uint8Array, offset: number, kind: Kind, payload: Uint8Array): number | EncodeError {
    checkOffset(dst, offset)
    if (kind !== Kind.Text && kind !== Kind.Binary) throw new RangeError(`FrameWriter: only text and binary messages are compressed, got kind ${kind}`)
    const avail = dst.length - offset
    const n = payload.length
    if (n > this.fragmentSize) {
      const total = this.fragmentedLength(n)
      if (total > avail) return tooSmall(total, avail)
      this.fragmentBytes(dst, offset, kind, payload, 0x40)
      return total
    }
    const total = headerLength(n, this.masked) + n
    if (total > avail) return tooSmall(total, avail)
    return this.frameBytes(dst, offset, 0xc0 | kind, payload)
  }

  /**
   * Encodes one message of `kind` at `dst[offset]`. Returns the bytes written or an error.
   */
  encodeInto(dst: Uint8Array, offset: number, kind: Kind, payload: string | Uint8Array = EMPTY): number | EncodeError {
    checkOffset(dst, offset)
    checkKind(kind)
    const avail = dst.length - offset
    const masked = this.masked
    if (typeof payload === "string") {
      if (kind >= 8 || payload.length * 3 > this.fragmentSize) {
        const n = utf8Length(payload)
        if (kind >= 8 && n > MAX_CONTROL_PAYLOAD) return controlTooLarge(n, "the payload")
        if (kind < 8 && n > this.fragmentSize) return this.fragmentedTextInto(dst, offset, kind, payload, n)
      }
      // guess the header from the UTF-16 length (exact for ASCII), move the payload if wrong
      const h0 = headerLength(payload.length, masked)
      const p = offset + h0
      const n = putText(this.bufferOf(dst), p, payload)
      if (n < 0) {
        const exact = utf8Length(payload)
        return tooSmall(headerLength(exact, masked) + exact, avail)
      }
      const h = headerLength(n, masked)
      if (h + n > avail) return tooSmall(h + n, avail)
      if (h !== h0) dst.copyWithin(offset + h, p, p + n)
      return this.finishFrame(dst, offset, 0x80 | kind, n)
    }
    const n = payload.length
    if (kind >= 8 && n > MAX_CONTROL_PAYLOAD) return controlTooLarge(n, "the payload")
    // control frames are never fragmented (RFC 6455 §5.5), whatever fragmentSize says
    if (kind < 8 && n > this.fragmentSize) {
      const total = this.fragmentedLength(n)
      if (total > avail) return tooSmall(total, avail)
      this.fragmentBytes(dst, offset, kind, payload)
      return total
    }
    const total = headerLength(n, masked) + n
    if (total > avail) return tooSmall(total, avail)
    return this.frameBytes(dst, offset, 0x80 | kind, payload)
  }

  /**
   * Bytes {@link encodeInto} writes for a text or binary message of `n` payload bytes (UTF-8 bytes
   * for text): one header in front, or one per fragment above `fragmentSize`.
   */
  frameLength(n: number): number {
    return n > this.fragmentSize ? this.fragmentedLength(n) : headerLength(n, this.masked) + n
  }

  /**
   * Writes at `dst[offset]` only the header of one unfragmented, unmasked text or binary frame
   * of `length` payload bytes — for a server that hands the payload to the socket itself, behind
   * the header (a gathered write, no copy). Returns the header length or `BufferTooSmall`.
   * Throws `RangeError` in the client role (its payload is masked, so it must be copied: use
   * {@link encodeInto}), for a kind other than text or binary, or a `length` over `fragmentSize`.
   */
  encodeHeaderInto(dst: Uint8Array, offset: number, kind: Kind, length: number): number | EncodeError {
    checkOffset(dst, offset)
    if (this.masked) throw new RangeError("FrameWriter.encodeHeaderInto: a client masks its payload, so it is copied (encodeInto)")
    if (kind !== Kind.Text && kind !== Kind.Binary) throw new RangeError(`FrameWriter.encodeHeaderInto: text or binary only, got kind ${kind}`)
    if (length > this.fragmentSize) throw new RangeError(`FrameWriter.encodeHeaderInto: ${length} bytes would be fragmented (fragmentSize ${this.fragmentSize})`)
    const h = headerLength(length, false)
    if (h > dst.length - offset) return tooSmall(h, dst.length - offset)
    return writeHeader(dst, offset, 0x80 | kind, length, false)
  }

  /**
   * Encodes a close frame into `buf`, replacing its contents: no payload when `code` is
   * omitted, else the code and the UTF-8 `reason` (default empty). Throws `RangeError` for a
   * reason without a code.
   */
  encodeClose(buf: WriteBuf, code?: number, reason: string = ""): number | EncodeError {
    this.checkHeadroom(buf)
    buf.clear()
    const n = closePayloadLength(code, reason)
    if (typeof n !== "number") return n
    const p = buf.tail
    if (n > buf.buf.length - p) return tooSmall(n, buf.buf.length - p)
    const written = this.closeFrame(buf.buf, buf.reserveFront(headerLength(n, this.masked)), n, code, reason)
    buf.tail = p + n
    return written
  }

  /**
   * Encodes a close frame at `dst[offset]` (payload as for {@link encodeClose}). Returns the
   * bytes written or an error. Throws `RangeError` for a reason without a code.
   */
  encodeCloseInto(dst: Uint8Array, offset: number, code?: number, reason: string = ""): number | EncodeError {
    checkOffset(dst, offset)
    const n = closePayloadLength(code, reason)
    if (typeof n !== "number") return n
    const total = headerLength(n, this.masked) + n
    if (total > dst.length - offset) return tooSmall(total, dst.length - offset)
    return this.closeFrame(dst, offset, n, code, reason)
  }

  // -------------------------------------------------------------------------------------------
  // Internals
  // -------------------------------------------------------------------------------------------

  /** Throws unless `buf` has room for the role's largest header in front. */
  private checkHeadroom(buf: WriteBuf): void {
    const need = this.masked ? 14 : 10
    if (buf.headroom < need) {
      throw new RangeError(`FrameWriter needs a WriteBuf headroom of at least ${need} bytes, got ${buf.headroom}`)
    }
  }

  /**
   * Writes the header at `dst[pos]` for the `n` payload bytes that already follow it, drawing
   * and applying a key in the client role. Returns the frame length.
   */
  private finishFrame(dst: Uint8Array, pos: number, b0: number, n: number): number {
    const h = writeHeader(dst, pos, b0, n, this.masked)
    if (this.masked) {
      const k = pos + h - 4
      this.maskSource.next(dst, k)
      maskInPlace(dst, this.wordsFor(dst), pos + h, pos + h + n, k)
    }
    return h + n
  }

  /** `dst` as a `Buffer` (itself, or a view made once per new target), for `Buffer.write`. */
  private bufferOf(dst: Uint8Array): Buffer {
    if (this.bufferTarget !== dst) {
      this.buffer = asBuffer(dst)
      this.bufferTarget = dst
    }
    return this.buffer
  }

  /**
   * `wordsOf(dst)` for `maskInPlace` (empty for a target that is not 4-byte aligned: byte loop
   * only), cached for the last target seen.
   */
  private wordsFor(dst: Uint8Array): Uint32Array {
    if (this.wordsTarget !== dst) {
      this.words = (dst.byteOffset & 3) === 0 ? wordsOf(dst) : EMPTY_WORDS
      this.wordsTarget = dst
    }
    return this.words
  }

  /**
   * Writes one frame of `data` at `dst[pos]` (copied, then masked in the copy, so the caller's
   * bytes are never modified); returns its length.
   */
  private frameBytes(dst: Uint8Array, pos: number, b0: number, data: Uint8Array): number {
    const n = data.length
    const h = writeHeader(dst, pos, b0, n, this.masked)
    const p = pos + h
    if (n <= COPY_LOOP_MAX) {
      for (let i = 0; i < n; i++) dst[p + i] = data[i]!
    } else {
      dst.set(data, p)
    }
    if (this.masked) {
      this.maskSource.next(dst, p - 4)
      maskInPlace(dst, this.wordsFor(dst), p, p + n, p - 4)
    }
    return h + n
  }

  /** Writes a close frame with an `n`-byte payload at `dst[pos]`; returns its length. */
  private closeFrame(dst: Uint8Array, pos: number, n: number, code: number | undefined, reason: string): number {
    if (code !== undefined) {
      const p = pos + headerLength(n, this.masked)
      dst[p] = code >>> 8
      dst[p + 1] = code & 0xff
      if (n > 2) writeUtf8Buffer(this.bufferOf(dst), reason, p + 2)
    }
    return this.finishFrame(dst, pos, 0x80 | Opcode.Close, n)
  }

  /** Total bytes of an `n`-byte message split into `fragmentSize` frames (`n > fragmentSize`). */
  private fragmentedLength(n: number): number {
    const size = this.fragmentSize
    const full = Math.floor(n / size)
    const last = n - full * size
    return n + full * headerLength(size, this.masked) + (last > 0 ? headerLength(last, this.masked) : 0)
  }

  /** Writes `data` as fragments starting at `dst[pos]` (room already checked). */
  private fragmentBytes(dst: Uint8Array, pos: number, kind: Kind, data: Uint8Array, rsv: number = 0): void {
    const n = data.length
    const size = this.fragmentSize
    for (let a = 0; a < n; a += size) {
      const b = Math.min(n, a + size)
      const b0 = (b === n ? 0x80 : 0) | (a === 0 ? rsv | kind : Opcode.Continuation)
      const h = writeHeader(dst, pos, b0, b - a, this.masked)
      const p = pos + h
      dst.set(data.subarray(a, b), p)
      if (this.masked) {
        this.maskSource.next(dst, p - 4)
        maskInPlace(dst, this.wordsFor(dst), p, p + b - a, p - 4)
      }
      pos = p + b - a
    }
  }

  /**
   * Turns the `n` payload bytes at `dst[pos + firstHeader]` into fragments in place: moves every
   * chunk after the first right to open a gap for its header (last chunk first, so nothing is
   * overwritten), then writes the headers and masks each chunk with its own key.
   */
  private spreadFragments(dst: Uint8Array, pos: number, kind: Kind, n: number): void {
    const size = this.fragmentSize
    const masked = this.masked
    const hFull = headerLength(size, masked)
    const p = pos + hFull
    const count = Math.ceil(n / size)
    for (let i = count - 1; i >= 1; i--) {
      const a = i * size
      const b = Math.min(n, a + size)
      // chunk i moves right by the headers of chunks 1..i (the first header is already in
      // place); only the last chunk's header can be shorter than a full chunk's
      dst.copyWithin(p + a + (i - 1) * hFull + headerLength(b - a, masked), p + a, p + b)
    }
    for (let i = 0; i < count; i++) {
      const a = i * size
      const b = Math.min(n, a + size)
      const b0 = (b === n ? 0x80 : 0) | (i === 0 ? kind : Opcode.Continuation)
      pos += this.finishFrame(dst, pos, b0, b - a)
    }
  }

  /** `encodeInto` for a string of `n > fragmentSize` UTF-8 bytes. */
  private fragmentedTextInto(dst: Uint8Array, offset: number, kind: Kind, text: string, n: number): number | EncodeError {
    const total = this.fragmentedLength(n)
    if (total > dst.length - offset) return tooSmall(total, dst.length - offset)
    writeUtf8Buffer(this.bufferOf(dst), text, offset + headerLength(this.fragmentSize, this.masked))
    this.spreadFragments(dst, offset, kind, n)
    return total
  }

  /** `encode` for a string of `n > fragmentSize` UTF-8 bytes. */
  private fragmentedTextIntoBuf(buf: WriteBuf, kind: Kind, text: string, n: number): number | EncodeError {
    const total = this.fragmentedLength(n)
    const h = headerLength(this.fragmentSize, this.masked)
    const p = buf.tail
    if (total - h > buf.buf.length - p) return tooSmall(total - h, buf.buf.length - p)
    writeUtf8Buffer(buf.buf, text, p)
    this.spreadFragments(buf.buf, buf.reserveFront(h), kind, n)
    buf.tail = p + total - h
    return total
  }
}

/** The server role's source: never called, present so every writer has the same shape. */
const NO_MASK: MaskSource = {
  next: () => {
    throw new Error("FrameWriter: a server never masks")
  }
}

const checkKind = (kind: number): void => {
  if (kind !== 1 && kind !== 2 && kind !== 9 && kind !== 10) {
    throw new RangeError(`FrameWriter kind must be a Kind (1, 2, 9 or 10), got ${kind}`)
  }
}

const checkOffset = (dst: Uint8Array, offset: number): void => {
  if (!Number.isInteger(offset) || offset < 0 || offset > dst.length) {
    throw new RangeError(`FrameWriter offset ${offset} is outside the ${dst.length}-byte destination`)
  }
}

/** The close payload length, or the error that stops it. Throws for a reason without a code. */
const closePayloadLength = (code: number | undefined, reason: string): number | EncodeError => {
  if (code === undefined) {
    if (reason.length > 0) throw new RangeError("FrameWriter: a close reason needs a close code")
    return 0
  }
  if (!Number.isInteger(code) || !isValidOnWire(code)) {
    return { _tag: "InvalidCloseCode", code, message: `close code ${code} may not be sent on the wire` }
  }
  const n = 2 + utf8Length(reason)
  return n > MAX_CONTROL_PAYLOAD ? controlTooLarge(n, `the close code and a ${n - 2}-byte reason`) : n
}

/**
 * Creates a writer. Throws `TypeError` for a client without `maskSource` and `RangeError` for
 * an invalid role or `fragmentSize`. Defaults: no fragmentation.
 *
 * @since 0.1.0
 */
export const make = (options: Options): FrameWriter =>
  new FrameWriter(options.role, options.maskSource, options.fragmentSize)
