/**
 * `WriteBuf` — an outbound slab with headroom at the front, so a protocol header can be
 * *prepended* after the payload is written, leaving one contiguous slice for a single write.
 *
 * ```text
 * 0      head           tail             capacity
 * |headroom|  data()  ... |  spare()  ...   |
 * ```
 *
 * `clear()` resets `head` and `tail` to `headroom`. `append` copies at the tail, or a writer
 * fills `spare()` and calls `filled(n)`; `prepend` copies just before `head`. Running out of
 * room is an explicit `false` (capacity error): nothing is written and nothing is lost.
 *
 * @since 0.1.0
 */
import { allocUnsafe, type Buffer } from "./internal/node.ts"

/** Options for {@link make}. */
export interface Options {
  /** Bytes available for payload after the headroom. Default 64 KiB. */
  readonly capacity?: number | undefined
  /** Bytes reserved in front for prepended headers. Default 14 (the largest WebSocket header). */
  readonly headroom?: number | undefined
}

/** Default payload capacity: 64 KiB. */
export const DEFAULT_CAPACITY = 64 * 1024

/** Default headroom: 14 bytes, the largest WebSocket frame header (2 + 8 length + 4 mask). */
export const DEFAULT_HEADROOM = 14

/**
 * A write slab with headroom.
 *
 * @since 0.1.0
 */
export class WriteBuf {
  /** The backing slab (`headroom + capacity` bytes). */
  readonly buf: Buffer
  /** Offset of the first byte of `data()`. */
  head: number
  /** Offset one past the last byte of `data()`. */
  tail: number
  /** Headroom size in bytes. */
  readonly headroom: number

  constructor(capacity: number, headroom: number) {
    if (!Number.isInteger(capacity) || capacity <= 0) {
      throw new RangeError(`WriteBuf capacity must be a positive integer, got ${capacity}`)
    }
    if (!Number.isInteger(headroom) || headroom < 0) {
      throw new RangeError(`WriteBuf headroom must be a non-negative integer, got ${headroom}`)
    }
    this.buf = allocUnsafe(headroom + capacity)
    this.headroom = headroom
    this.head = headroom
    this.tail = headroom
  }

  /** Bytes currently in `data()`. */
  get length(): number {
    return this.tail - this.head
  }

  /** Bytes still free at the tail. */
  get spareLength(): number {
    return this.buf.length - this.tail
  }

  /** Bytes still free in front of `head`. */
  get headroomLeft(): number {
    return this.head
  }

  /** The ready-to-write bytes: prepended headers followed by the payload, contiguous. */
  data(): Buffer {
    return this.buf.subarray(this.head, this.tail)
  }

  /** The writable tail: fill it, then call `filled(n)`. */
  spare(): Buffer {
    return this.buf.subarray(this.tail)
  }

  /** Marks `n` bytes of `spare()` as written. Throws `RangeError` past the spare space (caller misuse). */
  filled(n: number): void {
    if (n < 0 || n > this.buf.length - this.tail) {
      throw new RangeError(`WriteBuf.filled(${n}) exceeds the ${this.buf.length - this.tail} spare bytes`)
    }
    this.tail += n
  }

  /** Copies `bytes` to the tail. Returns `false` (capacity error, nothing written) when they do not fit. */
  append(bytes: Uint8Array): boolean {
    if (bytes.length > this.buf.length - this.tail) return false
    this.buf.set(bytes, this.tail)
    this.tail += bytes.length
    return true
  }

  /** Copies `bytes` just before `head`. Returns `false` (capacity error, nothing written) when the headroom is too small. */
  prepend(bytes: Uint8Array): boolean {
    if (bytes.length > this.head) return false
    this.head -= bytes.length
    this.buf.set(bytes, this.head)
    return true
  }

  /**
   * Moves `head` back by `n` bytes and returns the new `head` offset, so a header can be written
   * in place into `buf`. Returns `-1` (capacity error) when the headroom is too small.
   */
  reserveFront(n: number): number {
    if (n > this.head) return -1
    this.head -= n
    return this.head
  }

  /** Empties the buffer and restores the full headroom. */
  clear(): void {
    this.head = this.headroom
    this.tail = this.headroom
  }
}

/**
 * Creates a `WriteBuf`. Defaults: capacity 64 KiB, headroom 14 bytes. Throws `RangeError` for a
 * non-positive capacity or negative headroom.
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): WriteBuf =>
  new WriteBuf(options.capacity ?? DEFAULT_CAPACITY, options.headroom ?? DEFAULT_HEADROOM)
