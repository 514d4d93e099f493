/**
 * `FrameReader` — sans-IO WebSocket frame parser (RFC 6455 §5) for both roles.
 *
 * A client reads server frames (which must be unmasked); a server reads client frames (which
 * must be masked, and are unmasked in place). Feed it bytes, then drain:
 *
 * ```text
 * spare() ─► read socket into it ─► filled(n) ─┐
 * feed(chunk) (one copy) ──────────────────────┴─► next() ... until NeedMore
 * ```
 *
 * `next()` returns one complete message at a time — `Text`, `Binary`, `Ping`, `Pong`, `Close` —
 * the shared `NeedMore`, or a violation naming the broken rule and the close code to answer
 * with (1002 protocol error, 1007 invalid UTF-8, 1009 too big). Peer bytes never make it throw.
 *
 * **Message representation (measured).** The reader owns one message object per kind and
 * returns it again and again, mutated: `buf`, `start`, `end` locate the payload in the reader's
 * slab, `payload` makes a `Buffer` view on demand and `text()` decodes a string. Measured with
 * `bench/codec/parse.ts` on Node 24: an eager `Buffer` view per message costs ~25–30 ns (40 B
 * frames fell from ~22 M/s to ~13 M/s), while a fresh message object instead of the reused one
 * was lost in the noise (the JIT mostly elides it) — so views are lazy, and the object is reused
 * anyway so that no allocation per message depends on inlining. Reading `buf[start..end)`
 * allocates nothing.
 *
 * **Validity.** A message, its `buf`/`start`/`end` and any `payload` view are valid only until
 * the next call of any method of the reader (`next`, `feed`, `spare`, `filled`, `reset`): the
 * same object is reused and its bytes may be overwritten or moved. Keep a copy with
 * {@link toOwned}, `payload.slice()` or `text()`.
 *
 * **Text** payloads are strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
 * Fragmented text fails fast: each fragment is checked up to its last complete code point and
 * the carried 1–3 byte tail must still be a possible prefix, so `F5`, `ED A0` or `E0 80` fail
 * at the fragment that shows them.
 *
 * **Fragments.** A single-frame message is a view into the slab (zero copy). A fragmented one is
 * accumulated into a second buffer owned by the reader (one copy per byte, the same as `ws`):
 * joining in place would also move every byte and would tie the slab's size to `maxMessageSize`.
 * Control frames may arrive between fragments and are returned at once.
 *
 * **Buffer.** The slab starts at `bufferCapacity` and grows (doubling) only to hold a frame
 * whose header announces more than fits, up to `maxFrameSize + 14`, so every frame within
 * `maxFrameSize` fits; a bigger one is refused from its header (`FrameTooBig`) before its
 * payload is buffered.
 *
 * **Compression.** With `compression: true` (permessage-deflate was negotiated, RFC 7692) RSV1
 * may be set on the first frame of a text or binary message, never on a continuation or control
 * frame. Such a message is returned with `compressed: true` and its payload is the deflated
 * bytes (joined when fragmented), unchecked as UTF-8: the transport inflates it and hands the
 * result back through {@link FrameReader.inflated}, which checks the text and applies
 * `maxMessageSize` to the inflated size. The codec itself never inflates.
 *
 * **Strictness.** RSV2 and RSV3 must be clear, RSV1 too unless compression is on; lengths must use the
 * minimal encoding — RFC 6455 §5.2 says "the minimal number of bytes MUST be used", so a
 * 16-bit length below 126 or a 64-bit length below 65536 is `NonMinimalLength` (1002).
 *
 * **Failure is final.** After a violation every `next()` returns the same violation (the
 * stream is out of sync); later input is discarded. `reset()` starts over for a new connection.
 * A `Close` does not stop the reader: stop reading after it, as RFC 6455 §5.5.1 asks.
 *
 * @since 0.1.0
 */
import { CloseCode, isValidOnWire } from "./CloseCode.ts"
import { checkUtf8Prefix, isCompleteUtf8 } from "./internal/frameUtf8.ts"
import { isAscii, MAX_WORD_ASCII, maskInPlace, wordsOf } from "./internal/frameWords.ts"
import { allocUnsafe, type Buffer, bufferView, copyOut, decodeUtf8 } from "./internal/node.ts"
import { MAX_CONTROL_PAYLOAD, Opcode } from "./internal/opcode.ts"
import { NeedMore } from "./NeedMore.ts"
import * as ReadBuf from "./ReadBuf.ts"

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

/** Which side of the connection this reader is on. */
export type Role = "client" | "server"

/** Options for {@link make}. */
export interface Options {
  /** `"client"` reads server frames (unmasked), `"server"` reads client frames (masked). */
  readonly role: Role
  /** Initial slab capacity in bytes. Default 16 KiB. */
  readonly bufferCapacity?: number | undefined
  /** Largest payload of one frame. Default 16 MiB. */
  readonly maxFrameSize?: number | undefined
  /** Largest payload of one (possibly fragmented) message. Default 16 MiB. */
  readonly maxMessageSize?: number | undefined
  /** Most frames one data message may span. Default 1024. */
  readonly maxFragments?: number | undefined
  /** The slab's `ReadBuf.compactAt` (used by callers that read through {@link FrameReader.readBuf}). Default 0.5. */
  readonly compactAt?: number | undefined
  /** permessage-deflate was negotiated: RSV1 marks a compressed message. Default `false`. */
  readonly compression?: boolean | undefined
}

/** Default initial slab capacity: 16 KiB. */
export const DEFAULT_BUFFER_CAPACITY = 16 * 1024

/** Default `maxFrameSize`: 16 MiB. */
export const DEFAULT_MAX_FRAME_SIZE = 16 * 1024 * 1024

/** Default `maxMessageSize`: 16 MiB. */
export const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024

/** Default `maxFragments`: 1024 frames per message. */
export const DEFAULT_MAX_FRAGMENTS = 1024

/** Longest frame header: 2 bytes, 8 of extended length, 4 of mask key. */
export const MAX_HEADER_SIZE = 14

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

/** What every message kind offers; see the module doc for how long it stays valid. */
interface MessageBase {
  /** The reader's slab (or fragment buffer) holding the payload at `[start, end)`. */
  readonly buf: Buffer
  /** Offset of the first payload byte in `buf`. */
  readonly start: number
  /** Offset one past the last payload byte in `buf`. */
  readonly end: number
  /** Payload length in bytes. */
  readonly length: number
  /** The payload as a `Buffer` view (allocates the view, never copies). */
  readonly payload: Buffer
  /**
   * RSV1 was set: the payload is still deflated (only with `compression` on, only text and
   * binary). A transport inflates it before delivering; see the module doc.
   */
  readonly compressed: boolean
}

/**
 * A text message: `payload` is validated UTF-8; `text()` decodes it to an owned string.
 *
 * @since 0.1.0
 */
export interface Text extends MessageBase {
  readonly _tag: "Text"
  /** Decodes the payload (an owned string). */
  text(): string
}

/**
 * A binary message.
 *
 * @since 0.1.0
 */
export interface Binary extends MessageBase {
  readonly _tag: "Binary"
}

/**
 * A ping (payload ≤ 125 bytes); answer it with a pong carrying the same payload.
 *
 * @since 0.1.0
 */
export interface Ping extends MessageBase {
  readonly _tag: "Ping"
}

/**
 * A pong (payload ≤ 125 bytes).
 *
 * @since 0.1.0
 */
export interface Pong extends MessageBase {
  readonly _tag: "Pong"
}

/**
 * A close frame: `code` is 1005 (`NoStatus`) with an empty reason when the frame had no
 * payload; otherwise a code valid on the wire. `payload` holds the UTF-8 reason bytes only.
 *
 * @since 0.1.0
 */
export interface Close extends MessageBase {
  readonly _tag: "Close"
  /** The close status code (1005 when none was sent). */
  readonly code: number
  /** The reason, decoded (validated UTF-8, possibly empty). */
  readonly reason: string
}

/** A complete message read by {@link FrameReader.next}. */
export type Message = Text | Binary | Ping | Pong | Close

/**
 * A message copied out of the reader, valid forever: data and ping/pong payloads as fresh
 * `Uint8Array`s (up to 4 KiB carved from a shared 64 KiB pool, as Node's `Buffer.allocUnsafe`
 * does: the `.buffer` is the pool's), text as a string, close as code and reason.
 *
 * @since 0.1.0
 */
export type OwnedMessage =
  | { readonly _tag: "Text"; readonly text: string }
  | { readonly _tag: "Binary" | "Ping" | "Pong"; readonly payload: Uint8Array }
  | { readonly _tag: "Close"; readonly code: number; readonly reason: string }

/** The reused message object; one instance per kind and reader (all share one shape). */
class MessageView {
  readonly _tag: Message["_tag"]
  buf: Buffer
  start: number
  end: number
  code: number
  compressed: boolean
  /** The `buf` that `ab` and `base` describe (the slab changes rarely: cached per buffer). */
  private viewOf: Buffer
  private ab: ArrayBufferLike
  private base: number

  constructor(tag: Message["_tag"], buf: Buffer) {
    this._tag = tag
    this.buf = buf
    this.start = 0
    this.end = 0
    this.code = 0
    this.compressed = false
    this.viewOf = buf
    this.ab = buf.buffer
    this.base = buf.byteOffset
  }

  /** Points the view at `buf[start, end)` and returns it (the reader's one way to fill a view). */
  at(buf: Buffer, start: number, end: number, compressed: boolean): this {
    this.buf = buf
    this.start = start
    this.end = end
    this.compressed = compressed
    return this
  }

  get length(): number {
    return this.end - this.start
  }

  get payload(): Buffer {
    // the view every consumer of a view pays for: `bufferView` skips `subarray`'s `buffer` getter
    const buf = this.buf
    if (buf !== this.viewOf) {
      this.viewOf = buf
      this.ab = buf.buffer
      this.base = buf.byteOffset
    }
    return bufferView(this.ab, this.base + this.start, this.end - this.start)
  }

  get reason(): string {
    return decodeUtf8(this.buf.subarray(this.start, this.end))
  }

  text(): string {
    return this.start === this.end ? "" : this.buf.toString("utf8", this.start, this.end)
  }
}

/**
 * Copies a message out of the reader so it outlives the next call.
 *
 * @since 0.1.0
 */
export const toOwned = (message: Message): OwnedMessage => {
  switch (message._tag) {
    case "Text":
      return { _tag: "Text", text: message.text() }
    case "Close":
      return { _tag: "Close", code: message.code, reason: message.reason }
    default:
      // pooled: ~10× cheaper than a new Uint8Array over 64 bytes
      return { _tag: message._tag, payload: copyOut(message.buf, message.start, message.end) }
  }
}

// ---------------------------------------------------------------------------------------------
// Violations
// ---------------------------------------------------------------------------------------------

/**
 * RSV1, RSV2 or RSV3 was set, but no extension was negotiated (§5.2) — or, with compression on,
 * RSV1 on a continuation or control frame (RFC 7692 §6.1). `bits` holds the three bits as they
 * sit in the first header byte (`0x40 | 0x20 | 0x10`). Close code 1002.
 */
export interface ReservedBitsSet {
  readonly _tag: "ReservedBitsSet"
  readonly closeCode: 1002
  readonly message: string
  readonly bits: number
}

/** An opcode reserved for future use: 3–7 or 0xB–0xF (§5.2). Close code 1002. */
export interface ReservedOpcode {
  readonly _tag: "ReservedOpcode"
  readonly closeCode: 1002
  readonly message: string
  readonly opcode: number
}

/** A control frame (close, ping, pong) with FIN clear: control frames are never fragmented (§5.5). 1002. */
export interface FragmentedControlFrame {
  readonly _tag: "FragmentedControlFrame"
  readonly closeCode: 1002
  readonly message: string
  readonly opcode: number
}

/** A control frame whose payload exceeds 125 bytes (§5.5). Close code 1002. */
export interface ControlFrameTooLong {
  readonly _tag: "ControlFrameTooLong"
  readonly closeCode: 1002
  readonly message: string
  readonly opcode: number
  readonly length: number
}

/** A continuation frame with no unfinished message to continue (§5.4). Close code 1002. */
export interface UnexpectedContinuation {
  readonly _tag: "UnexpectedContinuation"
  readonly closeCode: 1002
  readonly message: string
}

/** A new text/binary frame while a fragmented message is unfinished (§5.4). Close code 1002. */
export interface ExpectedContinuation {
  readonly _tag: "ExpectedContinuation"
  readonly closeCode: 1002
  readonly message: string
  readonly opcode: number
}

/** A masked frame read by a client: servers must not mask (§5.1). Close code 1002. */
export interface MaskedFrame {
  readonly _tag: "MaskedFrame"
  readonly closeCode: 1002
  readonly message: string
}

/** An unmasked frame read by a server: clients must mask every frame (§5.1). Close code 1002. */
export interface UnmaskedFrame {
  readonly _tag: "UnmaskedFrame"
  readonly closeCode: 1002
  readonly message: string
}

/** A 64-bit payload length with its most significant bit set (§5.2). Close code 1002. */
export interface LengthTopBitSet {
  readonly _tag: "LengthTopBitSet"
  readonly closeCode: 1002
  readonly message: string
}

/**
 * A length in a longer encoding than needed (16-bit below 126, 64-bit below 65536): §5.2 says
 * the minimal number of bytes MUST be used. `encodedBytes` is 2 or 8. Close code 1002.
 */
export interface NonMinimalLength {
  readonly _tag: "NonMinimalLength"
  readonly closeCode: 1002
  readonly message: string
  readonly length: number
  readonly encodedBytes: number
}

/** A close frame with a 1-byte payload: a status code needs two (§5.5.1). Close code 1002. */
export interface CloseFrameTooShort {
  readonly _tag: "CloseFrameTooShort"
  readonly closeCode: 1002
  readonly message: string
}

/** A close frame carrying a code that may not appear on the wire (§7.4). Close code 1002. */
export interface InvalidCloseCode {
  readonly _tag: "InvalidCloseCode"
  readonly closeCode: 1002
  readonly message: string
  readonly code: number
}

/** A close reason that is not valid UTF-8 (§5.5.1). Close code 1007. */
export interface InvalidCloseReason {
  readonly _tag: "InvalidCloseReason"
  readonly closeCode: 1007
  readonly message: string
}

/**
 * A text message that is not valid UTF-8 (§8.1), detected at the first fragment that shows it.
 * `fragment` is the 1-based index of that frame in the message. Close code 1007.
 */
export interface InvalidUtf8 {
  readonly _tag: "InvalidUtf8"
  readonly closeCode: 1007
  readonly message: string
  readonly fragment: number
}

/**
 * A compressed message whose payload zlib cannot inflate (not raw deflate, or a reference back
 * past what the stream holds); `detail` is zlib's message. Close code 1007, as `ws` sends. (A
 * deflate stream that ends in a BFINAL block is not this: the next message starts a new one.)
 */
export interface InvalidCompressedData {
  readonly _tag: "InvalidCompressedData"
  readonly closeCode: 1007
  readonly message: string
  readonly detail: string
}

/** A frame whose payload exceeds `maxFrameSize` (refused from its header). Close code 1009. */
export interface FrameTooBig {
  readonly _tag: "FrameTooBig"
  readonly closeCode: 1009
  readonly message: string
  readonly length: number
  readonly max: number
}

/** A message whose payload (all fragments so far) exceeds `maxMessageSize`. Close code 1009. */
export interface MessageTooBig {
  readonly _tag: "MessageTooBig"
  readonly closeCode: 1009
  readonly message: string
  readonly length: number
  readonly max: number
}

/** A message spanning more than `maxFragments` frames. Close code 1009. */
export interface TooManyFragments {
  readonly _tag: "TooManyFragments"
  readonly closeCode: 1009
  readonly message: string
  readonly max: number
}

/** Every rule `next()` can report broken. */
export type FrameViolation =
  | ReservedBitsSet
  | ReservedOpcode
  | FragmentedControlFrame
  | ControlFrameTooLong
  | UnexpectedContinuation
  | ExpectedContinuation
  | MaskedFrame
  | UnmaskedFrame
  | LengthTopBitSet
  | NonMinimalLength
  | CloseFrameTooShort
  | InvalidCloseCode
  | InvalidCloseReason
  | InvalidUtf8
  | InvalidCompressedData
  | FrameTooBig
  | MessageTooBig
  | TooManyFragments

/** What `next()` returns. */
export type ReadResult = NeedMore | Message | FrameViolation

const opcodeName = (opcode: number): string =>
  opcode === Opcode.Close ? "close" : opcode === Opcode.Ping ? "ping" : opcode === Opcode.Pong ? "pong" :
  opcode === Opcode.Text ? "text" : opcode === Opcode.Binary ? "binary" : `0x${opcode.toString(16)}`

// ---------------------------------------------------------------------------------------------
// The reader
// ---------------------------------------------------------------------------------------------

const EMPTY: Buffer = allocUnsafe(0)

/** Smallest spare region `spare()` offers before it compacts: 2 KiB. */
const MIN_SPARE = 2048

/** A fragment buffer larger than this is released once its message has been delivered. */
const RETAIN_FRAGMENT_BUFFER = 1024 * 1024

/**
 * The frame reader. One per connection; see the module doc for the feeding loop and the
 * validity of returned messages.
 *
 * @since 0.1.0
 */
export class FrameReader {
  /** The role given to {@link make}. */
  readonly role: Role
  /** Largest frame payload accepted. */
  readonly maxFrameSize: number
  /** Largest message payload accepted. */
  readonly maxMessageSize: number
  /** Most frames per data message. */
  readonly maxFragments: number
  private readonly rb: ReadBuf.ReadBuf
  /** 0x80 when frames must be masked (server), 0 when they must not (client). */
  private readonly maskBit: number
  /** Largest payload the one-frame binary fast path of `next` takes: 125, or a lower frame or message limit. */
  private readonly smallMax: number
  /** Largest payload {@link FrameReader.drain} takes in a 16-bit length: 65535, or a lower frame or message limit. */
  private readonly midMax: number
  /** 0x40 when RSV1 may mark a compressed message (permessage-deflate), else 0. */
  private readonly rsv1: number
  /** The unfinished fragmented message is compressed (its first frame had RSV1). */
  private fragCompressed: boolean
  private failure: FrameViolation | undefined
  /** Opcode of the unfinished fragmented message (1 or 2), 0 when none. */
  private fragOpcode: number
  /** Frames received so far for the unfinished message. */
  private fragCount: number
  /** Accumulated payload of the unfinished message: `acc[0, accLen)`. */
  private acc: Buffer
  private accLen: number
  /** Start of the not yet validated (incomplete) UTF-8 tail in `acc`. */
  private utf8Pos: number
  private readonly textMsg: MessageView
  private readonly binaryMsg: MessageView
  private readonly pingMsg: MessageView
  private readonly pongMsg: MessageView
  private readonly closeMsg: MessageView
  /** A `Uint32Array` over `wordsBuf` (the slab last seen) for the word-at-a-time loops. */
  private words: Uint32Array
  private wordsBuf: Buffer

  constructor(
    role: Role,
    bufferCapacity: number,
    maxFrameSize: number,
    maxMessageSize: number,
    maxFragments: number,
    compactAt: number = ReadBuf.DEFAULT_COMPACT_AT,
    compression: boolean = false
  ) {
    this.role = role
    this.maxFrameSize = maxFrameSize
    this.maxMessageSize = maxMessageSize
    this.maxFragments = maxFragments
    this.rb = ReadBuf.make({
      capacity: bufferCapacity,
      maxCapacity: Math.max(bufferCapacity, maxFrameSize + MAX_HEADER_SIZE),
      compactAt
    })
    this.maskBit = role === "server" ? 0x80 : 0
    this.smallMax = Math.min(125, maxFrameSize, maxMessageSize)
    this.midMax = Math.min(65535, maxFrameSize, maxMessageSize)
    this.rsv1 = compression ? 0x40 : 0
    this.fragCompressed = false
    this.failure = undefined
    this.fragOpcode = 0
    this.fragCount = 0
    this.acc = EMPTY
    this.accLen = 0
    this.utf8Pos = 0
    this.textMsg = new MessageView("Text", EMPTY)
    this.binaryMsg = new MessageView("Binary", EMPTY)
    this.pingMsg = new MessageView("Ping", EMPTY)
    this.pongMsg = new MessageView("Pong", EMPTY)
    this.closeMsg = new MessageView("Close", EMPTY)
    this.wordsBuf = this.rb.buf
    this.words = wordsOf(this.rb.buf)
  }

  /** Bytes buffered and not yet returned as messages. */
  get buffered(): number {
    return this.rb.length
  }

  /**
   * The slab itself, for a transport whose `read(buf)` fills a `ReadBuf` (the `Transport` seam):
   * read into it directly instead of `spare()`/`filled(n)`. Same rules as `spare()`: drain
   * `next()` until `NeedMore` before reading, and the messages returned so far become invalid.
   * Bytes read after a violation are not discarded by this path; the latched violation is
   * still returned by every `next()`.
   */
  get readBuf(): ReadBuf.ReadBuf {
    return this.rb
  }

  /** Current slab capacity in bytes (grows up to `maxFrameSize + 14`). */
  get capacity(): number {
    return this.rb.capacity
  }

  /**
   * The writable tail of the slab: read socket bytes into it, then call `filled(n)`. Compacts
   * when less than 2 KiB is spare. After `next()` returned `NeedMore` it is never empty (the
   * slab has grown to hold the whole pending frame); it can be empty only while complete
   * messages are still buffered, so drain `next()` first.
   */
  spare(): Buffer {
    const rb = this.rb
    if (rb.buf.length - rb.end < MIN_SPARE && rb.start > 0) rb.compact()
    return rb.spare()
  }

  /** Marks `n` bytes of `spare()` as filled. Throws `RangeError` beyond the spare region (caller misuse). */
  filled(n: number): void {
    this.rb.filled(n)
    if (this.failure !== undefined) this.rb.clear()
  }

  /**
   * Copies `chunk` into the slab and returns how many of its bytes were taken: all of them,
   * unless undrained messages fill the slab — then drain `next()` until `NeedMore` and feed
   * the rest (after `NeedMore` at least one byte always fits). A failed reader discards input.
   */
  feed(chunk: Uint8Array): number {
    if (this.failure !== undefined) return chunk.length
    const rb = this.rb
    if (rb.write(chunk)) return chunk.length
    const n = Math.min(rb.buf.length - rb.end, chunk.length)
    rb.buf.set(chunk.subarray(0, n), rb.end)
    rb.end += n
    return n
  }

  /** Forgets every buffered byte, the unfinished message and any failure (for a new connection). */
  reset(): void {
    this.rb.clear()
    this.failure = undefined
    this.fragOpcode = 0
    this.fragCount = 0
    this.acc = EMPTY
    this.accLen = 0
    this.utf8Pos = 0
    this.fragCompressed = false
  }

  /** Returns the next complete message, `NeedMore`, or the violation that failed the stream. */
  next(): ReadResult {
    if (this.failure !== undefined) return this.failure
    if (this.fragOpcode === 0 && this.acc.length > RETAIN_FRAGMENT_BUFFER) this.acc = EMPTY
    const rb = this.rb
    while (true) {
      const buf = rb.buf
      const pos = rb.start
      const avail = rb.end - pos
      if (avail === 0) return NeedMore
      const b0 = buf[pos]!
      // the feed's common frame first: FIN binary, no RSV, a 7-bit length within the limits, the
      // mask bit as the role wants it (`^` clears it then; a wrong one makes `len` ≥ 128), whole
      // in the slab. Everything else, violations included, goes the general way below.
      if (b0 === 0x82 && avail >= 2 && this.fragOpcode === 0) {
        const len = buf[pos + 1]! ^ this.maskBit
        const header = this.maskBit === 0 ? 2 : 6
        if (len <= this.smallMax && avail >= header + len) {
          const start = pos + header
          const end = start + len
          if (this.maskBit !== 0 && len > 0) {
            maskInPlace(buf, buf === this.wordsBuf ? this.words : this.wordsFor(buf), start, end, pos + 2)
          }
          rb.advance(header + len)
          return this.binaryMsg.at(buf, start, end, false)
        }
      }
      const opcode = b0 & 0x0f
      // RSV1 marks a compressed message: only with compression on, only on a message's first frame
      const rsv = b0 & 0x70
      if (rsv !== 0 && (rsv !== this.rsv1 || opcode === Opcode.Continuation || opcode >= 8)) {
        return this.fail(reservedBits(rsv, this.rsv1 !== 0))
      }
      const fin = (b0 & 0x80) !== 0
      if (opcode >= 8) {
        if (opcode > Opcode.Pong) return this.fail(reservedOpcode(opcode))
        if (!fin) return this.fail(fragmentedControl(opcode))
      } else if (opcode === Opcode.Continuation) {
        if (this.fragOpcode === 0) return this.fail(unexpectedContinuation)
      } else if (opcode <= Opcode.Binary) {
        if (this.fragOpcode !== 0) return this.fail(expectedContinuation(opcode))
      } else {
        return this.fail(reservedOpcode(opcode))
      }
      if (avail < 2) return NeedMore
      const b1 = buf[pos + 1]!
      if ((b1 & 0x80) !== this.maskBit) return this.fail(this.maskBit === 0 ? maskedFrame : unmaskedFrame)
      let len = b1 & 0x7f
      let header = 2
      if (len === 126) {
        if (avail < 4) return NeedMore
        len = (buf[pos + 2]! << 8) | buf[pos + 3]!
        if (len < 126) return this.fail(nonMinimal(len, 2))
        header = 4
      } else if (len === 127) {
        if (avail < 10) return NeedMore
        const hi = buf.readUInt32BE(pos + 2)
        if (hi >= 0x80000000) return this.fail(lengthTopBit)
        len = hi * 0x100000000 + buf.readUInt32BE(pos + 6)
        if (len < 65536) return this.fail(nonMinimal(len, 8))
        header = 10
      }
      if (opcode >= 8) {
        if (len > MAX_CONTROL_PAYLOAD) return this.fail(controlTooLong(opcode, len))
        if (opcode === Opcode.Close && len === 1) return this.fail(closeTooShort)
      } else {
        if (len > this.maxFrameSize) return this.fail(frameTooBig(len, this.maxFrameSize))
        const messageLength = opcode === Opcode.Continuation ? this.accLen + len : len
        if (messageLength > this.maxMessageSize) return this.fail(messageTooBig(messageLength, this.maxMessageSize))
        if (opcode === Opcode.Continuation && this.fragCount >= this.maxFragments) {
          return this.fail(tooManyFragments(this.maxFragments))
        }
      }
      if (this.maskBit !== 0) header += 4
      const total = header + len
      if (avail < total) {
        // make room for the whole frame now, so spare() never comes back empty after NeedMore
        if (buf.length - pos < total) rb.reserve(total - avail)
        return NeedMore
      }
      const start = pos + header
      const end = start + len
      if (this.maskBit !== 0 && len > 0) {
        maskInPlace(buf, buf === this.wordsBuf ? this.words : this.wordsFor(buf), start, end, start - 4)
      }
      rb.advance(total)

      if (opcode === Opcode.Binary && fin) {
        return this.binaryMsg.at(buf, start, end, rsv !== 0)
      }
      if (rsv !== 0 && opcode === Opcode.Text && fin) {
        // deflated: checked as UTF-8 once inflated (`inflated`)
        return this.textMsg.at(buf, start, end, true)
      }
      if (opcode === Opcode.Text && fin) {
        const ascii = len <= MAX_WORD_ASCII &&
          isAscii(buf, buf === this.wordsBuf ? this.words : this.wordsFor(buf), start, end)
        if (!ascii && !isCompleteUtf8(buf, start, end)) return this.fail(invalidUtf8(1))
        return this.textMsg.at(buf, start, end, false)
      }
      if (opcode < 8) {
        if (opcode !== Opcode.Continuation) this.fragCompressed = rsv !== 0
        const result = this.fragment(opcode, fin, buf, start, end)
        if (result === undefined) continue
        return result
      }
      return this.control(opcode, buf, start, end)
    }
  }

  /**
   * The push form of {@link next} for a feed's common frames: hands each buffered message that
   * is one FIN text or binary frame (no RSV bits, a 7- or 16-bit length within the limits,
   * masked as the role wants, whole in the slab) to `each`, in order, and returns how many it
   * handed over. It stops before the first other frame (call `next()` for it; nothing of that
   * frame is consumed), after `max` messages, or after a message for which `each` returned
   * `true`. Text is checked as UTF-8 first: invalid text is latched as `InvalidUtf8`, as
   * `next()` latches it, and ends the drain. The message is the object `next()` returns, valid
   * until `each` returns; `each` must not call the reader. A failed reader delivers nothing.
   *
   * Measured (`bench/firehose-path.ts`, `bench/recv-paths.ts`): the loop keeps the slab's
   * cursor in locals and skips `next()`'s general checks and its caller's tag tests.
   */
  drain(each: (message: Text | Binary) => boolean | void, max: number): number {
    if (this.failure !== undefined || this.fragOpcode !== 0) return 0
    const rb = this.rb
    const buf = rb.buf
    const end = rb.end
    const maskBit = this.maskBit
    const keyBytes = maskBit === 0 ? 0 : 4
    const smallMax = this.smallMax
    const midMax = this.midMax
    let pos = rb.start
    let count = 0
    while (count < max && end - pos >= 2) {
      const b0 = buf[pos]!
      if (b0 !== 0x82 && b0 !== 0x81) break
      // a wrong mask bit makes `len` 128 or more: not this path (`next` reports it)
      let len = buf[pos + 1]! ^ maskBit
      let start = pos + 2
      if (len > smallMax) {
        if (len !== 126 || end - pos < 4) break
        len = (buf[pos + 2]! << 8) | buf[pos + 3]!
        if (len < 126 || len > midMax) break
        start = pos + 4
      }
      start += keyBytes
      const stop = start + len
      if (stop > end) break
      const words = maskBit === 0 && b0 === 0x82 ? undefined : buf === this.wordsBuf ? this.words : this.wordsFor(buf)
      if (maskBit !== 0 && len > 0) maskInPlace(buf, words!, start, stop, start - 4)
      pos = stop
      // the slab's cursor is past the frame before `each` runs, as after `next()`
      if (pos === end) {
        rb.start = 0
        rb.end = 0
      } else {
        rb.start = pos
      }
      let m: MessageView
      if (b0 === 0x82) {
        m = this.binaryMsg
      } else {
        if (!(len <= MAX_WORD_ASCII && isAscii(buf, words!, start, stop)) && !isCompleteUtf8(buf, start, stop)) {
          this.fail(invalidUtf8(1))
          break
        }
        m = this.textMsg
      }
      count++
      if (each(m.at(buf, start, stop, false) as Text | Binary) === true) break
    }
    return count
  }

  /** Lays a word view over a slab that has grown since the last one. */
  private wordsFor(buf: Buffer): Uint32Array {
    this.wordsBuf = buf
    this.words = wordsOf(buf)
    return this.words
  }

  /** Appends a data fragment; returns the assembled message on FIN, undefined for "keep reading". */
  private fragment(opcode: number, fin: boolean, buf: Buffer, start: number, end: number): ReadResult | undefined {
    if (opcode !== Opcode.Continuation) {
      this.fragOpcode = opcode
      this.fragCount = 0
      this.accLen = 0
      this.utf8Pos = 0
    }
    this.fragCount++
    const len = end - start
    const needed = this.accLen + len
    if (this.acc.length < needed) {
      let capacity = Math.max(this.acc.length * 2, 4096)
      while (capacity < needed) capacity *= 2
      const next = allocUnsafe(Math.min(capacity, Math.max(this.maxMessageSize, needed)))
      this.acc.copy(next, 0, 0, this.accLen)
      this.acc = next
    }
    const acc = this.acc
    acc.set(buf.subarray(start, end), this.accLen)
    this.accLen = needed
    if (this.fragOpcode === Opcode.Text && !this.fragCompressed) {
      if (fin) {
        if (!isCompleteUtf8(acc, this.utf8Pos, needed)) return this.fail(invalidUtf8(this.fragCount))
      } else {
        const pos = checkUtf8Prefix(acc, this.utf8Pos, needed)
        if (pos < 0) return this.fail(invalidUtf8(this.fragCount))
        this.utf8Pos = pos
      }
    }
    if (!fin) return undefined
    const m = this.fragOpcode === Opcode.Text ? this.textMsg : this.binaryMsg
    m.compressed = this.fragCompressed
    this.fragCompressed = false
    this.fragOpcode = 0
    this.fragCount = 0
    this.accLen = 0
    this.utf8Pos = 0
    m.buf = acc
    m.start = 0
    m.end = needed
    return m
  }

  /** Builds a ping, pong or close message from a complete control frame. */
  private control(opcode: number, buf: Buffer, start: number, end: number): ReadResult {
    if (opcode === Opcode.Close) {
      const m = this.closeMsg
      m.buf = buf
      if (start === end) {
        m.code = CloseCode.NoStatus
        m.start = start
        m.end = end
        return m
      }
      const code = (buf[start]! << 8) | buf[start + 1]!
      if (!isValidOnWire(code)) return this.fail(invalidCloseCode(code))
      if (!isCompleteUtf8(buf, start + 2, end)) return this.fail(invalidCloseReason)
      m.code = code
      m.start = start + 2
      m.end = end
      return m
    }
    const m = opcode === Opcode.Ping ? this.pingMsg : this.pongMsg
    m.buf = buf
    m.start = start
    m.end = end
    return m
  }

  /**
   * Delivers the inflated payload of a `compressed` message: `buf[start, end)` (the transport's
   * inflate buffer) becomes the view of the same kind, with `compressed: false`. A text payload
   * is checked as UTF-8 (`InvalidUtf8`, 1007, latched like any violation). The view is valid
   * until the next call, as always, and as long as the transport leaves `buf` alone.
   */
  inflated(message: Text | Binary, buf: Buffer, start: number, end: number): Text | Binary | InvalidUtf8 {
    if (message._tag === "Text" && !isCompleteUtf8(buf, start, end)) return this.fail(invalidUtf8(1)) as InvalidUtf8
    return (message._tag === "Text" ? this.textMsg : this.binaryMsg).at(buf, start, end, false) as Text | Binary
  }

  /**
   * Latches `MessageTooBig` (1009) for a compressed message whose inflated size passed
   * `maxMessageSize` after `length` bytes (the transport stops inflating there: a deflate bomb
   * never grows past the limit).
   */
  inflatedTooBig(length: number): MessageTooBig {
    return this.fail(messageTooBig(length, this.maxMessageSize)) as MessageTooBig
  }

  /** Latches `InvalidCompressedData` (1007) for a compressed message zlib failed on with `detail`. */
  inflateFailed(detail: string): InvalidCompressedData {
    return this.fail({
      _tag: "InvalidCompressedData",
      closeCode: 1007,
      message: `compressed message cannot be inflated: ${detail}`,
      detail
    }) as InvalidCompressedData
  }

  /** Latches a violation: the stream is out of sync, nothing after it can be trusted. */
  private fail(violation: FrameViolation): FrameViolation {
    this.failure = violation
    this.rb.clear()
    this.acc = EMPTY
    this.accLen = 0
    return violation
  }
}

// Violation builders (allocate only on the failure path)

const reservedBits = (bits: number, compression: boolean): ReservedBitsSet => ({
  _tag: "ReservedBitsSet",
  closeCode: 1002,
  message: `reserved bits set (${[bits & 0x40 ? "RSV1" : "", bits & 0x20 ? "RSV2" : "", bits & 0x10 ? "RSV3" : ""]
    .filter((s) => s !== "").join(", ")}) ${
    compression && bits === 0x40
      ? "on a continuation or control frame: only a message's first frame may be compressed"
      : "but no extension was negotiated"
  }`,
  bits
})

const reservedOpcode = (opcode: number): ReservedOpcode => ({
  _tag: "ReservedOpcode",
  closeCode: 1002,
  message: `reserved opcode 0x${opcode.toString(16)}`,
  opcode
})

const fragmentedControl = (opcode: number): FragmentedControlFrame => ({
  _tag: "FragmentedControlFrame",
  closeCode: 1002,
  message: `${opcodeName(opcode)} frame with FIN clear: control frames must not be fragmented`,
  opcode
})

const controlTooLong = (opcode: number, length: number): ControlFrameTooLong => ({
  _tag: "ControlFrameTooLong",
  closeCode: 1002,
  message: `${opcodeName(opcode)} frame payload of ${length} bytes exceeds the 125-byte control frame limit`,
  opcode,
  length
})

const unexpectedContinuation: UnexpectedContinuation = Object.freeze({
  _tag: "UnexpectedContinuation",
  closeCode: 1002,
  message: "continuation frame without a fragmented message to continue"
})

const expectedContinuation = (opcode: number): ExpectedContinuation => ({
  _tag: "ExpectedContinuation",
  closeCode: 1002,
  message: `new ${opcodeName(opcode)} frame while a fragmented message is unfinished (expected a continuation)`,
  opcode
})

const maskedFrame: MaskedFrame = Object.freeze({
  _tag: "MaskedFrame",
  closeCode: 1002,
  message: "masked frame from the server: servers must not mask frames"
})

const unmaskedFrame: UnmaskedFrame = Object.freeze({
  _tag: "UnmaskedFrame",
  closeCode: 1002,
  message: "unmasked frame from the client: clients must mask every frame"
})

const lengthTopBit: LengthTopBitSet = Object.freeze({
  _tag: "LengthTopBitSet",
  closeCode: 1002,
  message: "64-bit payload length has its most significant bit set"
})

const nonMinimal = (length: number, encodedBytes: number): NonMinimalLength => ({
  _tag: "NonMinimalLength",
  closeCode: 1002,
  message: `payload length ${length} encoded in ${encodedBytes + 1} length bytes: the minimal encoding must be used`,
  length,
  encodedBytes
})

const closeTooShort: CloseFrameTooShort = Object.freeze({
  _tag: "CloseFrameTooShort",
  closeCode: 1002,
  message: "close frame with a 1-byte payload: a status code needs 2 bytes"
})

const invalidCloseCode = (code: number): InvalidCloseCode => ({
  _tag: "InvalidCloseCode",
  closeCode: 1002,
  message: `close code ${code} may not be sent on the wire`,
  code
})

const invalidCloseReason: InvalidCloseReason = Object.freeze({
  _tag: "InvalidCloseReason",
  closeCode: 1007,
  message: "close reason is not valid UTF-8"
})

const invalidUtf8 = (fragment: number): InvalidUtf8 => ({
  _tag: "InvalidUtf8",
  closeCode: 1007,
  message: fragment === 1
    ? "text message is not valid UTF-8"
    : `text message is not valid UTF-8 (detected in fragment ${fragment})`,
  fragment
})

const frameTooBig = (length: number, max: number): FrameTooBig => ({
  _tag: "FrameTooBig",
  closeCode: 1009,
  message: `frame payload of ${length} bytes exceeds maxFrameSize ${max}`,
  length,
  max
})

const messageTooBig = (length: number, max: number): MessageTooBig => ({
  _tag: "MessageTooBig",
  closeCode: 1009,
  message: `message payload of ${length} bytes exceeds maxMessageSize ${max}`,
  length,
  max
})

const tooManyFragments = (max: number): TooManyFragments => ({
  _tag: "TooManyFragments",
  closeCode: 1009,
  message: `message spans more than maxFragments ${max} frames`,
  max
})

const positiveInteger = (name: string, value: number): number => {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`FrameReader ${name} must be a positive safe integer, got ${value}`)
  }
  return value
}

/**
 * Creates a reader for `role`. Defaults: `bufferCapacity` 16 KiB, `maxFrameSize` 16 MiB,
 * `maxMessageSize` 16 MiB, `maxFragments` 1024, `compactAt` 0.5. Throws `RangeError` for a role other than
 * `"client"`/`"server"` or a limit that is not a positive safe integer (caller misuse);
 * `bufferCapacity` below 14 is raised to 14 so any header fits.
 *
 * @since 0.1.0
 */
export const make = (options: Options): FrameReader => {
  if (options.role !== "client" && options.role !== "server") {
    throw new RangeError(`FrameReader role must be "client" or "server", got ${String(options.role)}`)
  }
  return new FrameReader(
    options.role,
    Math.max(MAX_HEADER_SIZE, positiveInteger("bufferCapacity", options.bufferCapacity ?? DEFAULT_BUFFER_CAPACITY)),
    positiveInteger("maxFrameSize", options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE),
    positiveInteger("maxMessageSize", options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE),
    positiveInteger("maxFragments", options.maxFragments ?? DEFAULT_MAX_FRAGMENTS),
    options.compactAt ?? ReadBuf.DEFAULT_COMPACT_AT,
    options.compression === true
  )
}
