/**
 * `SessionFile` — the sans-IO codec of a recorded session (issue #15): what a feed and its REST
 * calls did, with monotonic timestamps, in an append-only file that survives a crash. No Effect,
 * no file system, no clock: the writer is given times and hands back bytes to append; the reader
 * is fed bytes and hands back records. The format is specified in `docs/replay.md`.
 *
 * ```text
 * file   = header block*
 * header = "NXSF" major:u8 minor:u8 0x00 0x00                  (8 bytes, version 1.0)
 * block  = varint(bodyLength) crc32(body):u32be body           (one block per flush)
 * body   = record+
 * record = varint(length) kind:u8 varint(Δt µs) payload        (length covers kind, Δt, payload)
 * ```
 *
 * Rules:
 * - **Time** is microseconds on the recorder's monotonic clock, stored as the delta from the
 *   previous record (the first from 0), so a burst costs one byte per record.
 * - **Integrity** is per block: the writer appends one block per flush, so a crash can tear only
 *   the last block, whose records never reached the disk whole. The reader drops a torn last
 *   block (truncated, failing its CRC at the end of the file, or a zero-filled tail) and says so
 *   in {@link SessionReader.finish}; a bad block *followed by more bytes* is {@link CorruptBlock},
 *   never misread.
 * - **Versions**: a file with a newer major version is {@link UnsupportedSessionVersion}; a newer
 *   minor version may add record kinds, which {@link decodeEntry} returns as `Unknown` (skip them).
 * - Messages are stored as raw payload bytes; the rare structured records (connect, gap, close,
 *   REST exchanges) carry a small JSON head, and REST bodies their raw bytes after it.
 *
 * Lifetimes: a {@link RecordView} reads the reader's buffer, so it is valid until the next call
 * of `feed`; the block `flush` returns is valid until the next `append`.
 *
 * @since 0.1.0
 */
import { allocUnsafe, asBuffer, type Buffer, crc32, decodeUtf8, utf8Length, writeUtf8Buffer } from "./internal/node.ts"
import { NeedMore } from "./NeedMore.ts"

/**
 * The four magic bytes every session file starts with: `NXSF`.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAGIC: ReadonlyArray<number> = [0x4e, 0x58, 0x53, 0x46]

/**
 * The major format version this codec writes and reads: 1.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAJOR_VERSION = 1

/**
 * The minor format version this codec writes: 0.
 *
 * @since 0.1.0
 * @category constants
 */
export const MINOR_VERSION = 0

/**
 * Header length in bytes: 8.
 *
 * @since 0.1.0
 * @category constants
 */
export const HEADER_LENGTH = 8

/**
 * Default block size: the writer says a block is full (`isFull`) past 64 KiB.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_BLOCK_SIZE = 64 * 1024

/**
 * The largest block the reader accepts, and so the largest record the writer takes: 16 MiB.
 * A longer length field is {@link CorruptBlock}, never a 4 GiB allocation.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_BLOCK_SIZE = 16 * 1024 * 1024

/**
 * Record kinds (one byte each). Messages are raw payloads; the others are described in
 * `docs/replay.md`.
 *
 * @since 0.1.0
 * @category constants
 */
export const Kind = {
  /** JSON `{ startedAt, source? }`: written first; `startedAt` is wall-clock epoch millis. */
  Meta: 0x01,
  /** JSON `{}`: the recording was closed (its time is when the session ended). */
  End: 0x02,
  /** A text message received (UTF-8 payload). */
  InText: 0x10,
  /** A binary message received. */
  InBinary: 0x11,
  /** A text message sent. */
  OutText: 0x12,
  /** A binary message sent. */
  OutBinary: 0x13,
  /** JSON `{ session, renewal }`: a (re)connect completed. */
  Connected: 0x20,
  /** JSON `{ connectedForMicros, at, error? }`: the connection was lost. */
  Gap: 0x21,
  /** JSON `{ code, reason }`: a close frame was received. */
  Close: 0x22,
  /** JSON `{ attempt, delayMillis, error? }`: waiting before a reconnect attempt. */
  Reconnecting: 0x23,
  /** JSON `{ topics }`: the subscriptions changed (`subscribe`/`unsubscribe`). */
  Subscriptions: 0x24,
  /** varint(id) varint(headLength) JSON `{ method, target, headers, calledAtMicros? }` body: a REST request. */
  Request: 0x30,
  /** varint(id) varint(headLength) JSON `{ status, headers }` body: its response. */
  Response: 0x31,
  /** varint(id) varint(headLength) JSON `{ error }`: the request failed without a response. */
  Failure: 0x32,
  /**
   * varint(id) varint(headLength) JSON `{ calledAtMicros, error? }`: a request that never reached
   * the wire (it waited for a connection and was interrupted, or failed without one).
   */
  Unsent: 0x33
} as const

/**
 * A record kind byte.
 *
 * @since 0.1.0
 * @category models
 */
export type Kind = (typeof Kind)[keyof typeof Kind]

// ---------------------------------------------------------------------------------------------
// Violations
// ---------------------------------------------------------------------------------------------

/**
 * The bytes do not start with the session magic (or the file ends inside the header).
 *
 * @since 0.1.0
 * @category violations
 */
export interface NotASessionFile {
  readonly _tag: "NotASessionFile"
  readonly message: string
}

/**
 * The file was written by a newer major version of the format than this reader knows.
 *
 * @since 0.1.0
 * @category violations
 */
export interface UnsupportedSessionVersion {
  readonly _tag: "UnsupportedSessionVersion"
  readonly message: string
  readonly major: number
  readonly minor: number
  readonly supported: number
}

/**
 * A block that is not the torn tail is damaged: its CRC fails, its length is impossible, or a
 * record overruns it. `offset` is the block's file offset.
 *
 * @since 0.1.0
 * @category violations
 */
export interface CorruptBlock {
  readonly _tag: "CorruptBlock"
  readonly message: string
  readonly offset: number
  readonly fault: "Checksum" | "Length" | "Record"
}

/**
 * Every violation the reader returns.
 *
 * @since 0.1.0
 * @category violations
 */
export type Violation = NotASessionFile | UnsupportedSessionVersion | CorruptBlock

const notASessionFile = (detail: string): NotASessionFile => ({
  _tag: "NotASessionFile",
  message: `not a session file: ${detail}`
})

const corrupt = (offset: number, fault: CorruptBlock["fault"]): CorruptBlock => ({
  _tag: "CorruptBlock",
  message: `session file block at offset ${offset} is corrupt (${
    fault === "Checksum" ? "CRC-32 mismatch" : fault === "Length" ? "impossible block length" : "a record overruns its block"
  }) and is not the last block`,
  offset,
  fault
})

// ---------------------------------------------------------------------------------------------
// Varints (LEB128, unsigned, up to 2^53)
// ---------------------------------------------------------------------------------------------

/** Bytes `value` takes as a varint. */
const varintLength = (value: number): number => {
  let n = 1
  while (value >= 0x80) {
    value = Math.floor(value / 128)
    n++
  }
  return n
}

/** Writes `value` at `offset`; returns the offset after it. */
const writeVarint = (buf: Uint8Array, offset: number, value: number): number => {
  while (value >= 0x80) {
    buf[offset++] = (value & 0x7f) | 0x80
    value = Math.floor(value / 128)
  }
  buf[offset++] = value
  return offset
}

/** Where {@link readVarint} leaves its results (one shared cursor: no allocation per read). */
const cursor = { value: 0, offset: 0 }

/** Reads a varint at `offset` before `end` into `cursor`; false when it does not end before `end` or is over 8 bytes. */
const readVarint = (buf: Uint8Array, offset: number, end: number): boolean => {
  let value = 0
  let scale = 1
  for (let i = 0; i < 8 && offset < end; i++) {
    const byte = buf[offset++]!
    value += (byte & 0x7f) * scale
    if (byte < 0x80) {
      cursor.value = value
      cursor.offset = offset
      return true
    }
    scale *= 128
  }
  return false
}

// ---------------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------------

/** Room kept in front of a block body for its length varint (≤ 4 bytes below 16 MiB) and CRC. */
const BLOCK_HEADROOM = 9

/**
 * Options of {@link makeWriter}.
 *
 * @since 0.1.0
 * @category models
 */
export interface WriterOptions {
  /** A block is full (`isFull`) past this many body bytes. Default {@link DEFAULT_BLOCK_SIZE}. */
  readonly blockSize?: number | undefined
}

/**
 * The session header bytes (magic and version).
 *
 * @since 0.1.0
 * @category encoding
 */
export const header = (): Uint8Array => Uint8Array.of(...MAGIC, MAJOR_VERSION, MINOR_VERSION, 0, 0)

/**
 * Appends records to the current block; `flush` closes the block and returns its bytes. The
 * caller writes `header()` once, then every flushed block, in order. Times must not go backwards
 * (an earlier time is stored as the previous one). Throws `RangeError` on misuse only: a record
 * larger than {@link MAX_BLOCK_SIZE} or a negative time.
 *
 * @since 0.1.0
 * @category encoding
 */
export class SessionWriter {
  private buf: Buffer
  private tail: number
  /** Where the current block's headroom starts (its body {@link BLOCK_HEADROOM} bytes later). */
  private blockStart: number
  /** Where the first block closed since the last `flush` starts, -1 when none was. */
  private first: number
  private lastTime: number
  private readonly blockSize: number
  /** Records appended since the writer was made. */
  records: number

  constructor(blockSize: number) {
    this.blockSize = blockSize
    this.buf = allocUnsafe(BLOCK_HEADROOM + blockSize + 1024)
    this.tail = BLOCK_HEADROOM
    this.blockStart = 0
    this.first = -1
    this.lastTime = 0
    this.records = 0
  }

  /** Whether the current block has reached the block size (or a record had to start a block of its own): time to `flush`. */
  get isFull(): boolean {
    return this.first !== -1 || this.tail - this.blockStart - BLOCK_HEADROOM >= this.blockSize
  }

  /** Whether the current block holds no record. */
  get isEmpty(): boolean {
    return this.tail === BLOCK_HEADROOM
  }

  /** Appends a record of `kind` at `timeMicros` whose payload is `payload` (copied). */
  append(kind: Kind, timeMicros: number, payload: Uint8Array): void {
    const at = this.begin(kind, timeMicros, payload.byteLength)
    this.buf.set(payload, at)
    this.tail = at + payload.byteLength
  }

  /** Appends a record whose payload is `text` as UTF-8 (written in place, no intermediate bytes). */
  appendText(kind: Kind, timeMicros: number, text: string): void {
    const at = this.begin(kind, timeMicros, utf8Length(text))
    this.tail = at + writeUtf8Buffer(this.buf, text, at)
  }

  /** Appends a JSON record (`value` stringified). */
  appendJson(kind: Kind, timeMicros: number, value: unknown): void {
    this.appendText(kind, timeMicros, JSON.stringify(value))
  }

  /** Appends a REST record: `varint(id) varint(headLength) head-JSON body`. */
  appendExchange(kind: Kind, timeMicros: number, id: number, head: unknown, body: Uint8Array): void {
    const json = JSON.stringify(head)
    const jsonLength = utf8Length(json)
    const length = varintLength(id) + varintLength(jsonLength) + jsonLength + body.byteLength
    let at = this.begin(kind, timeMicros, length)
    at = writeVarint(this.buf, at, id)
    at = writeVarint(this.buf, at, jsonLength)
    at += writeUtf8Buffer(this.buf, json, at)
    this.buf.set(body, at)
    this.tail = at + body.byteLength
  }

  /**
   * Closes the block: its bytes (length, CRC, body), valid until the next append; empty when no
   * record was appended. A record that would have taken the block past {@link MAX_BLOCK_SIZE}
   * started a block of its own: then the bytes are those blocks, one after the other.
   */
  flush(): Uint8Array {
    if (this.isEmpty) return new Uint8Array(0)
    if (this.tail > this.blockStart + BLOCK_HEADROOM) this.seal()
    else this.tail = this.blockStart
    const blocks = this.buf.subarray(this.first, this.tail)
    this.tail = BLOCK_HEADROOM
    this.blockStart = 0
    this.first = -1
    return blocks
  }

  /** Writes the current block's length and CRC in front of its body, right against the block before it. */
  private seal(): void {
    const bodyStart = this.blockStart + BLOCK_HEADROOM
    const body = this.buf.subarray(bodyStart, this.tail)
    const start = bodyStart - 4 - varintLength(body.byteLength)
    writeVarint(this.buf, start, body.byteLength)
    this.buf.writeUInt32BE(crc32(body), bodyStart - 4)
    if (this.first === -1) this.first = start
    else if (start > this.blockStart) {
      this.buf.copyWithin(this.blockStart, start, this.tail)
      this.tail -= start - this.blockStart
    }
  }

  /** Writes a record's length, kind and time delta; returns where its payload goes. */
  private begin(kind: Kind, timeMicros: number, payloadLength: number): number {
    if (!(timeMicros >= 0)) throw new RangeError(`SessionWriter: time must be a non-negative number of microseconds, got ${timeMicros}`)
    const time = Math.floor(timeMicros)
    const delta = time > this.lastTime ? time - this.lastTime : 0
    const length = 1 + varintLength(delta) + payloadLength
    if (length > MAX_BLOCK_SIZE - 8) {
      throw new RangeError(`SessionWriter: a record of ${payloadLength} bytes exceeds the ${MAX_BLOCK_SIZE}-byte block limit`)
    }
    if (delta > 0) this.lastTime = time
    const recordLength = varintLength(length) + length
    const bodyStart = this.blockStart + BLOCK_HEADROOM
    if (this.tail > bodyStart && this.tail - bodyStart + recordLength > MAX_BLOCK_SIZE) {
      // the block would be longer than a reader accepts: it ends here, the record starts the next
      this.seal()
      this.blockStart = this.tail
      this.tail += BLOCK_HEADROOM
    }
    const needed = this.tail + recordLength
    if (needed > this.buf.byteLength) {
      const grown = allocUnsafe(Math.max(needed, this.buf.byteLength * 2))
      this.buf.copy(grown, 0, 0, this.tail)
      this.buf = grown
    }
    let at = writeVarint(this.buf, this.tail, length)
    this.buf[at++] = kind
    at = writeVarint(this.buf, at, delta)
    this.records++
    return at
  }
}

/**
 * A writer; see {@link SessionWriter}. Throws `RangeError` for a block size that is not a
 * positive integer up to {@link MAX_BLOCK_SIZE}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeWriter = (options: WriterOptions = {}): SessionWriter => {
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE
  if (!Number.isInteger(blockSize) || blockSize <= 0 || blockSize > MAX_BLOCK_SIZE) {
    throw new RangeError(`SessionFile.makeWriter: blockSize must be an integer in 1..${MAX_BLOCK_SIZE}, got ${blockSize}`)
  }
  return new SessionWriter(blockSize)
}

// ---------------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------------

/**
 * One record, a view into the reader's buffer (valid until the next `feed`; the same object is
 * reused for every record).
 *
 * @since 0.1.0
 * @category models
 */
export class RecordView {
  readonly _tag = "Record"
  /** The kind byte (see {@link Kind}; a newer minor version may add others). */
  kind: number
  /** Microseconds since the recording's clock origin. */
  time: number
  /** The buffer holding the payload. */
  buf: Buffer
  /** Payload start in `buf`. */
  start: number
  /** Payload end in `buf`. */
  end: number

  constructor(buf: Buffer) {
    this.kind = 0
    this.time = 0
    this.buf = buf
    this.start = 0
    this.end = 0
  }

  /** The payload, a view. */
  payload(): Uint8Array {
    return this.buf.subarray(this.start, this.end)
  }

  /** The payload decoded as UTF-8 (an owned string). */
  text(): string {
    return this.start === this.end ? "" : this.buf.toString("utf8", this.start, this.end)
  }
}

/**
 * How the file ended, once {@link SessionReader.finish} is called at end of input: whole, or
 * with a torn last block of `bytes` bytes at `offset` that was dropped.
 *
 * @since 0.1.0
 * @category models
 */
export type Tail =
  | { readonly _tag: "Complete" }
  | { readonly _tag: "Torn"; readonly offset: number; readonly bytes: number }

/** The message kinds the bulk path reads, as plain numbers. */
const KIND_IN_TEXT: number = Kind.InText
const KIND_IN_BINARY: number = Kind.InBinary

const EMPTY = allocUnsafe(0)
const Complete: Tail = Object.freeze({ _tag: "Complete" as const })

/**
 * The pull reader: `feed(chunk)` as bytes arrive, `next()` until `NeedMore`, and `finish()` at
 * the end of the file. A violation is latched: `next` keeps returning it.
 *
 * @since 0.1.0
 * @category decoding
 */
export class SessionReader {
  private buf: Buffer
  /** Unread bytes are `buf[pos, end)`; `base` is the file offset of `buf[0]`. */
  private pos: number
  private end: number
  private base: number
  private headerDone: boolean
  /** The block being read: records in `[pos, blockEnd)`, or -1 between blocks. */
  private blockEnd: number
  private time: number
  private failure: Violation | undefined
  private readonly view: RecordView
  private readonly checksums: boolean
  /** The version read from the header (0 before it). */
  major: number
  minor: number

  constructor(checksums: boolean) {
    this.checksums = checksums
    this.buf = EMPTY
    this.pos = 0
    this.end = 0
    this.base = 0
    this.headerDone = false
    this.blockEnd = -1
    this.time = 0
    this.failure = undefined
    this.view = new RecordView(EMPTY)
    this.major = 0
    this.minor = 0
  }

  /** Bytes fed but not read yet (the start of a record or block that straddles the chunks). */
  get pending(): number {
    return this.end - this.pos
  }

  /**
   * Moves to `target`: copies the {@link pending} bytes to its start and reads from it from now
   * on; fill it after them and call {@link filled}. The way to feed a file without copying each
   * chunk: read straight into the buffer the reader reads. `target` may be the buffer the reader
   * reads now (the pending bytes move to its start). Invalidates the last view.
   */
  moveTo(target: Buffer): number {
    const left = this.end - this.pos
    if (target.byteLength < left) throw new RangeError(`SessionReader.moveTo: the target holds ${target.byteLength} bytes, ${left} are pending`)
    this.buf.copy(target, 0, this.pos, this.end)
    this.base += this.pos
    if (this.blockEnd !== -1) this.blockEnd -= this.pos
    this.buf = target
    this.pos = 0
    this.end = left
    return left
  }

  /** Says that `n` more bytes were written into the buffer after the pending ones (see {@link moveTo}). */
  filled(n: number): void {
    this.end += n
  }

  /** Adds bytes; the reader keeps `chunk` as it is (no copy) when nothing is left over. Invalidates the last view. */
  feed(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return
    if (this.pos === this.end) {
      this.base += this.end
      this.buf = asBuffer(chunk)
      this.pos = 0
      this.end = chunk.byteLength
      return
    }
    // bytes straddle the chunks: copy the left-over and the new bytes into one buffer
    const left = this.end - this.pos
    const merged = allocUnsafe(left + chunk.byteLength)
    this.buf.copy(merged, 0, this.pos, this.end)
    merged.set(chunk, left)
    this.base += this.pos
    if (this.blockEnd !== -1) this.blockEnd -= this.pos
    this.buf = merged
    this.pos = 0
    this.end = merged.byteLength
  }

  /** The next record, `NeedMore`, or a violation. */
  next(): RecordView | NeedMore | Violation {
    // the hot path, inside a block, tests only what it must
    if (this.blockEnd !== -1 && this.failure === undefined) return this.readRecord()
    const outside = this.enterBlock()
    return outside === undefined ? this.readRecord() : outside
  }

  /**
   * Reads the run of received messages (`InText`/`InBinary` records) that starts here into
   * `index` from slot `at`, two slots per message: its payload's start in the buffer the reader
   * reads and {@link indexWord}`(end, text)` (so that buffer must stay below 2 GiB). The run goes on
   * across the blocks held whole in the buffer (each one's CRC checked as {@link next} would)
   * and stops before a record of another kind, a damaged record, a block not yet whole, or at
   * slot `limit`; returns the slot after the last message written. The record it stopped at is
   * {@link next}'s to read (or its violation, or `NeedMore`). Times advance as with `next`. The
   * replay's fast path: no view, no call per message.
   */
  readMessages(index: Uint32Array, at: number, limit: number): number {
    for (;;) {
      if (this.failure !== undefined) return at
      if (this.blockEnd === -1 && this.enterBlock() !== undefined) return at
      at = this.scanBlock(index, at, limit)
      // stopped inside the block (another kind, an odd record, the limit): next's turn
      if (this.blockEnd !== -1) return at
    }
  }

  /**
   * {@link readMessages} inside the current block: the hot loop, kept apart from opening blocks
   * (a rare branch inside it deoptimized the loop at every block end).
   */
  private scanBlock(index: Uint32Array, at: number, limit: number): number {
    const buf = this.buf
    const blockEnd = this.blockEnd
    let pos = this.pos
    let time = this.time
    while (at + 2 <= limit) {
      // length, kind and Δt: a message record of under 16 KiB starts with a 1- or 2-byte
      // length and a 1- or 2-byte Δt; anything longer or odd is left to readRecord
      let p = pos
      let length = buf[p++]!
      if (length >= 0x80) {
        if (p >= blockEnd) break
        const b = buf[p++]!
        if (b >= 0x80) break
        length = (length & 0x7f) | (b << 7)
      }
      const end = p + length
      if (length < 2 || end > blockEnd) break
      const kind = buf[p++]!
      if (kind !== KIND_IN_BINARY && kind !== KIND_IN_TEXT) break
      let delta = buf[p++]!
      if (delta >= 0x80) {
        if (p >= end) break
        const b = buf[p++]!
        if (b >= 0x80) break
        delta = (delta & 0x7f) | (b << 7)
      }
      if (p > end) break
      time += delta
      index[at] = p
      index[at + 1] = indexWord(end, kind === KIND_IN_TEXT)
      at += 2
      pos = end
      if (pos === blockEnd) {
        this.blockEnd = -1
        break
      }
    }
    this.pos = pos
    this.time = time
    return at
  }

  /**
   * Checks the next whole block (its length and CRC) and steps over it without reading its
   * records: `true`, `NeedMore`, or a violation — a whole-file check at the speed of the CRC.
   * Use it instead of `next` for a whole file, never between `next` calls inside a block.
   */
  skipBlock(): true | NeedMore | Violation {
    const outside = this.enterBlock()
    if (outside !== undefined) return outside
    this.pos = this.blockEnd
    this.blockEnd = -1
    return true
  }

  /**
   * Ends the input: `Complete`, `Torn` (a torn last block was dropped), or a violation (no
   * complete header). Call after `next` returned `NeedMore`.
   */
  finish(): Tail | Violation {
    if (this.failure !== undefined) return this.failure
    if (!this.headerDone) return this.fail(notASessionFile(`the file ends after ${this.end - this.pos} bytes, inside the 8-byte header`))
    if (this.pos === this.end) return Complete
    return { _tag: "Torn", offset: this.base + this.pos, bytes: this.end - this.pos }
  }

  /**
   * Gets inside a block: the latched violation, else reads the header and opens the next block
   * as needed; `undefined` once `[pos, blockEnd)` holds the block's records.
   */
  private enterBlock(): NeedMore | Violation | undefined {
    if (this.failure !== undefined) return this.failure
    if (!this.headerDone) {
      const header = this.readHeader()
      if (header !== undefined) return header
    }
    return this.blockEnd === -1 ? this.openBlock() : undefined
  }

  private fail<V extends Violation>(violation: V): V {
    this.failure = violation
    return violation
  }

  private readHeader(): NeedMore | Violation | undefined {
    const available = this.end - this.pos
    for (let i = 0; i < Math.min(available, MAGIC.length); i++) {
      if (this.buf[this.pos + i] !== MAGIC[i]) return this.fail(notASessionFile("the first bytes are not the NXSF magic"))
    }
    if (available < HEADER_LENGTH) return NeedMore
    this.major = this.buf[this.pos + 4]!
    this.minor = this.buf[this.pos + 5]!
    if (this.major > MAJOR_VERSION || this.major === 0) {
      return this.fail({
        _tag: "UnsupportedSessionVersion",
        message: `session file format ${this.major}.${this.minor} is not supported (this reader reads major version ${MAJOR_VERSION})`,
        major: this.major,
        minor: this.minor,
        supported: MAJOR_VERSION
      })
    }
    this.pos += HEADER_LENGTH
    this.headerDone = true
    return undefined
  }

  /** Checks the next block; on success `pos`/`blockEnd` frame its body. */
  private openBlock(): NeedMore | Violation | undefined {
    const buf = this.buf
    const start = this.pos
    if (start === this.end) return NeedMore
    const head = readBlockHead(buf, start, this.end)
    if (head === undefined) return this.fail(corrupt(this.base + start, "Length"))
    if (head._tag === "NeedMore") return NeedMore
    if (head.bodyLength === 0) {
      // a zero-filled tail (space the file system allocated but the crash never filled) is torn;
      // zeros followed by data are corruption
      for (let i = start; i < this.end; i++) if (buf[i] !== 0) return this.fail(corrupt(this.base + start, "Length"))
      return NeedMore
    }
    const bodyStart = start + head.headLength
    const bodyEnd = bodyStart + head.bodyLength
    if (bodyEnd > this.end) return NeedMore
    if (this.checksums && head.crc !== crc32(buf.subarray(bodyStart, bodyEnd))) {
      // the last bytes we have: torn if the file ends here (finish), corrupt if more follow
      return bodyEnd === this.end ? NeedMore : this.fail(corrupt(this.base + start, "Checksum"))
    }
    this.pos = bodyStart
    this.blockEnd = bodyEnd
    return undefined
  }

  private readRecord(): RecordView | Violation {
    const buf = this.buf
    const blockEnd = this.blockEnd
    const at = this.pos
    if (!readVarint(buf, at, blockEnd)) return this.fail(corrupt(this.base + at, "Record"))
    const end = cursor.offset + cursor.value
    if (cursor.value < 2 || end > blockEnd) return this.fail(corrupt(this.base + at, "Record"))
    const kind = buf[cursor.offset]!
    if (!readVarint(buf, cursor.offset + 1, end)) return this.fail(corrupt(this.base + at, "Record"))
    this.time += cursor.value
    const view = this.view
    view.kind = kind
    view.time = this.time
    view.buf = buf
    view.start = cursor.offset
    view.end = end
    this.pos = end
    if (end === blockEnd) this.blockEnd = -1
    return view
  }
}

/**
 * The head of a block: the bytes of its length varint and CRC (`headLength`, the body starts
 * after them), its body's length and the CRC-32 it records.
 *
 * @since 0.1.0
 * @category models
 */
export interface BlockHead {
  readonly _tag: "BlockHead"
  readonly headLength: number
  readonly bodyLength: number
  readonly crc: number
}

/**
 * Reads the head of the block that starts at `bytes[start]` (bytes up to `end`) without its
 * body: the head, `NeedMore` when the bytes end inside it, or `undefined` when no block can
 * start so (a length varint over 8 bytes or a length over {@link MAX_BLOCK_SIZE}). A length of
 * 0 is returned as it is: a zero-filled tail if only zeros follow, corruption otherwise; the
 * caller decides. The reader opens every block through it, and `SessionLog.checkFraming` walks
 * a file's chain of blocks by it, so both frame a file by the same rules.
 *
 * @since 0.1.0
 * @category decoding
 */
export const readBlockHead = (
  bytes: Uint8Array,
  start: number = 0,
  end: number = bytes.byteLength
): BlockHead | NeedMore | undefined => {
  if (!readVarint(bytes, start, end)) return end - start >= 8 ? undefined : NeedMore
  const bodyLength = cursor.value
  if (bodyLength > MAX_BLOCK_SIZE) return undefined
  const at = cursor.offset
  const headLength = at + 4 - start
  if (bodyLength === 0) return { _tag: "BlockHead", headLength, bodyLength, crc: 0 }
  if (end - start < headLength) return NeedMore
  const crc = ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0
  return { _tag: "BlockHead", headLength, bodyLength, crc }
}

/**
 * The second slot of a message's entry in a message index ({@link SessionReader.readMessages}
 * writes them, `Messages` batches read them): its payload's end and whether it is text, in one
 * `Uint32` as `end * 2 + (text ? 1 : 0)`; the first slot is the payload's start.
 *
 * @since 0.1.0
 * @category decoding
 */
export const indexWord = (end: number, text: boolean): number => end * 2 + (text ? 1 : 0)

/**
 * The payload's end of an {@link indexWord}.
 *
 * @since 0.1.0
 * @category decoding
 */
export const indexEnd = (word: number): number => word >>> 1

/**
 * Whether an {@link indexWord}'s message is text.
 *
 * @since 0.1.0
 * @category decoding
 */
export const indexIsText = (word: number): boolean => (word & 1) === 1

/**
 * The CRC-32 of a block body as the writer records it (zlib's, IEEE).
 *
 * @since 0.1.0
 * @category decoding
 */
export const blockChecksum = (body: Uint8Array): number => crc32(body)

/**
 * The `CorruptBlock` violation of the block at file `offset`, as the reader reports it.
 *
 * @since 0.1.0
 * @category violations
 */
export const corruptBlock = (offset: number, fault: CorruptBlock["fault"]): CorruptBlock => corrupt(offset, fault)

/**
 * A fresh reader. `checksums: false` skips the CRC of every block — only for a file already
 * checked whole (`skipBlock`). Default `true`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeReader = (options: { readonly checksums?: boolean | undefined } = {}): SessionReader =>
  new SessionReader(options.checksums ?? true)

// ---------------------------------------------------------------------------------------------
// Entries: the records decoded
// ---------------------------------------------------------------------------------------------

/**
 * A header pair as recorded (secrets replaced by `<redacted>` before they were written).
 *
 * @since 0.1.0
 * @category models
 */
export type Header = readonly [string, string]

/**
 * A record decoded into a value, with its time in microseconds.
 *
 * @since 0.1.0
 * @category models
 */
export type Entry =
  | { readonly _tag: "Meta"; readonly time: number; readonly startedAt: number; readonly source: string | undefined }
  | { readonly _tag: "End"; readonly time: number }
  | { readonly _tag: "Message"; readonly time: number; readonly direction: "In" | "Out"; readonly text: string }
  | { readonly _tag: "BinaryMessage"; readonly time: number; readonly direction: "In" | "Out"; readonly payload: Uint8Array }
  | { readonly _tag: "Connected"; readonly time: number; readonly session: number; readonly renewal: boolean }
  | {
    readonly _tag: "Gap"
    readonly time: number
    readonly connectedForMicros: number
    readonly at: number
    readonly error: RecordedError | undefined
  }
  | { readonly _tag: "Close"; readonly time: number; readonly code: number; readonly reason: string }
  | {
    readonly _tag: "Reconnecting"
    readonly time: number
    readonly attempt: number
    readonly delayMillis: number
    readonly error: RecordedError | undefined
  }
  | { readonly _tag: "Subscriptions"; readonly time: number; readonly topics: ReadonlyArray<string> }
  | {
    readonly _tag: "Request"
    readonly time: number
    readonly id: number
    readonly method: string
    readonly target: string
    readonly headers: ReadonlyArray<Header>
    readonly body: Uint8Array
    /** When the application made the call, if it waited for a connection before the request was built. */
    readonly calledAtMicros?: number | undefined
  }
  | {
    readonly _tag: "Response"
    readonly time: number
    readonly id: number
    readonly status: number
    readonly headers: ReadonlyArray<Header>
    readonly body: Uint8Array
  }
  | { readonly _tag: "Failure"; readonly time: number; readonly id: number; readonly error: RecordedError }
  | {
    readonly _tag: "Unsent"
    readonly time: number
    readonly id: number
    readonly calledAtMicros: number
    readonly error: RecordedError | undefined
  }
  | { readonly _tag: "Unknown"; readonly time: number; readonly kind: number }
  /** A known kind whose payload does not parse (damaged inside a good CRC: a writer bug). */
  | { readonly _tag: "Malformed"; readonly time: number; readonly kind: number }

/**
 * An error as recorded: its `_tag` (or name) and message; the object itself is not kept.
 *
 * @since 0.1.0
 * @category models
 */
export interface RecordedError {
  readonly tag: string
  readonly message: string
  /** The error's own fields as JSON (nested reasons keep their `_tag`), for rebuilding it on replay. */
  readonly fields?: unknown
}

const json = (record: RecordView): Record<string, unknown> | undefined => {
  try {
    const value: unknown = JSON.parse(record.text())
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

const recordedError = (value: unknown): RecordedError | undefined =>
  typeof value === "object" && value !== null && typeof (value as RecordedError).tag === "string"
    ? "fields" in value
      ? { tag: (value as RecordedError).tag, message: String((value as RecordedError).message ?? ""), fields: (value as RecordedError).fields }
      : { tag: (value as RecordedError).tag, message: String((value as RecordedError).message ?? "") }
    : undefined

const headersOf = (value: unknown): ReadonlyArray<Header> =>
  Array.isArray(value) ? value.filter((h): h is Header => Array.isArray(h) && h.length === 2).map(([n, v]) => [String(n), String(v)]) : []

const num = (value: unknown): number => (typeof value === "number" ? value : NaN)

/** Decodes a REST record's `varint(id) varint(headLength) head body`. */
const exchange = (record: RecordView) => {
  if (!readVarint(record.buf, record.start, record.end)) return undefined
  const id = cursor.value
  if (!readVarint(record.buf, cursor.offset, record.end)) return undefined
  const headEnd = cursor.offset + cursor.value
  if (headEnd > record.end) return undefined
  try {
    const head = JSON.parse(decodeUtf8(record.buf.subarray(cursor.offset, headEnd))) as Record<string, unknown>
    return { id, head, body: new Uint8Array(record.buf.subarray(headEnd, record.end)) }
  } catch {
    return undefined
  }
}

/**
 * Decodes a record into an {@link Entry} (owned: it outlives the view). Unknown kinds are
 * `Unknown`; a known kind whose payload does not parse is `Malformed`. Never throws.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeEntry = (record: RecordView): Entry => {
  const time = record.time
  const kind = record.kind
  switch (kind) {
    case Kind.InText:
    case Kind.OutText:
      return { _tag: "Message", time, direction: kind === Kind.InText ? "In" : "Out", text: record.text() }
    case Kind.InBinary:
    case Kind.OutBinary:
      return {
        _tag: "BinaryMessage",
        time,
        direction: kind === Kind.InBinary ? "In" : "Out",
        payload: new Uint8Array(record.buf.subarray(record.start, record.end))
      }
    case Kind.Request:
    case Kind.Response: {
      const x = exchange(record)
      if (x === undefined) return { _tag: "Malformed", time, kind }
      return kind === Kind.Request
        ? typeof x.head.calledAtMicros === "number"
          ? {
            _tag: "Request", time, id: x.id, method: String(x.head.method), target: String(x.head.target),
            headers: headersOf(x.head.headers), body: x.body, calledAtMicros: x.head.calledAtMicros
          }
          : { _tag: "Request", time, id: x.id, method: String(x.head.method), target: String(x.head.target), headers: headersOf(x.head.headers), body: x.body }
        : { _tag: "Response", time, id: x.id, status: num(x.head.status), headers: headersOf(x.head.headers), body: x.body }
    }
    case Kind.Failure: {
      const x = exchange(record)
      const error = recordedError(x?.head.error)
      return x === undefined || error === undefined ? { _tag: "Malformed", time, kind } : { _tag: "Failure", time, id: x.id, error }
    }
    case Kind.Unsent: {
      const x = exchange(record)
      return x === undefined
        ? { _tag: "Malformed", time, kind }
        : { _tag: "Unsent", time, id: x.id, calledAtMicros: num(x.head.calledAtMicros), error: recordedError(x.head.error) }
    }
  }
  const value = json(record)
  if (value === undefined) {
    return kind === Kind.Meta || kind === Kind.End || (kind >= 0x20 && kind <= 0x24) ? { _tag: "Malformed", time, kind } : { _tag: "Unknown", time, kind }
  }
  switch (kind) {
    case Kind.Meta:
      return { _tag: "Meta", time, startedAt: num(value.startedAt), source: typeof value.source === "string" ? value.source : undefined }
    case Kind.End:
      return { _tag: "End", time }
    case Kind.Connected:
      return { _tag: "Connected", time, session: num(value.session), renewal: value.renewal === true }
    case Kind.Gap:
      return { _tag: "Gap", time, connectedForMicros: num(value.connectedForMicros), at: num(value.at), error: recordedError(value.error) }
    case Kind.Close:
      return { _tag: "Close", time, code: num(value.code), reason: String(value.reason ?? "") }
    case Kind.Reconnecting:
      return { _tag: "Reconnecting", time, attempt: num(value.attempt), delayMillis: num(value.delayMillis), error: recordedError(value.error) }
    case Kind.Subscriptions:
      return { _tag: "Subscriptions", time, topics: Array.isArray(value.topics) ? value.topics.map(String) : [] }
    default:
      return { _tag: "Unknown", time, kind }
  }
}

/**
 * Writes an {@link Entry} with the writer (the inverse of {@link decodeEntry}; `Unknown` and
 * `Malformed` entries are skipped).
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeEntry = (writer: SessionWriter, entry: Entry): void => {
  const t = entry.time
  switch (entry._tag) {
    case "Meta":
      return writer.appendJson(Kind.Meta, t, { startedAt: entry.startedAt, source: entry.source })
    case "End":
      return writer.appendJson(Kind.End, t, {})
    case "Message":
      return writer.appendText(entry.direction === "In" ? Kind.InText : Kind.OutText, t, entry.text)
    case "BinaryMessage":
      return writer.append(entry.direction === "In" ? Kind.InBinary : Kind.OutBinary, t, entry.payload)
    case "Connected":
      return writer.appendJson(Kind.Connected, t, { session: entry.session, renewal: entry.renewal })
    case "Gap":
      return writer.appendJson(Kind.Gap, t, { connectedForMicros: entry.connectedForMicros, at: entry.at, error: entry.error })
    case "Close":
      return writer.appendJson(Kind.Close, t, { code: entry.code, reason: entry.reason })
    case "Reconnecting":
      return writer.appendJson(Kind.Reconnecting, t, { attempt: entry.attempt, delayMillis: entry.delayMillis, error: entry.error })
    case "Subscriptions":
      return writer.appendJson(Kind.Subscriptions, t, { topics: entry.topics })
    case "Request":
      return writer.appendExchange(
        Kind.Request, t, entry.id,
        { method: entry.method, target: entry.target, headers: entry.headers, calledAtMicros: entry.calledAtMicros },
        entry.body
      )
    case "Response":
      return writer.appendExchange(Kind.Response, t, entry.id, { status: entry.status, headers: entry.headers }, entry.body)
    case "Failure":
      return writer.appendExchange(Kind.Failure, t, entry.id, { error: entry.error }, EMPTY)
    case "Unsent":
      return writer.appendExchange(Kind.Unsent, t, entry.id, { calledAtMicros: entry.calledAtMicros, error: entry.error }, EMPTY)
  }
}
