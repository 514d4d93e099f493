/**
 * `ReadBuf` — one contiguous byte slab for inbound parsing.
 *
 * Bytes enter at the tail and leave at the head:
 *
 * ```text
 * 0        start            end               capacity
 * |consumed|  data()  ...   |   spare()  ...   |
 * ```
 *
 * A transport reads straight into `spare()` and reports the count with `filled(n)` (no copy),
 * or hands over a chunk with `write(chunk)` (one copy). A parser looks at `data()` and drops
 * what it used with `advance(n)`. When every byte is consumed the slab resets to the start for
 * free; otherwise `compact()` moves the unconsumed tail to the front, and `maybeCompact()` does
 * so only once the consumed head passes the `compactAt` fraction of the capacity.
 *
 * The slab may grow: `reserve(n)` doubles the capacity (up to `maxCapacity`) until `n` spare
 * bytes fit. A request beyond `maxCapacity` is an explicit `false` (capacity error), never a
 * silent reallocation past the limit.
 *
 * Views returned by `data()` and `spare()` stay valid until the next `advance`, `compact`,
 * `reserve` or `write`. With `swapOnCompact` set, compaction copies the unconsumed tail into a
 * second slab and swaps the two instead of moving bytes within one: what was read before a
 * compaction stays intact until the one after it, so a consumer lent views of consumed bytes
 * keeps them across one compaction (the cost: a second slab of the same capacity).
 *
 * @since 0.1.0
 */
import { allocUnsafe, type Buffer } from "./internal/node.ts"

/** Options for {@link make}. */
export interface Options {
  /** Initial capacity in bytes. Default 16 KiB. */
  readonly capacity?: number | undefined
  /** Largest capacity `reserve` may grow to. Default: the initial capacity (no growth). */
  readonly maxCapacity?: number | undefined
  /** Fraction of the capacity the consumed head must exceed before `maybeCompact` moves data. Default 0.5. */
  readonly compactAt?: number | undefined
}

/** Default initial capacity: 16 KiB. */
export const DEFAULT_CAPACITY = 16 * 1024

/** Default compaction threshold: half the capacity. */
export const DEFAULT_COMPACT_AT = 0.5

/**
 * A growable read slab. Fields are public for hot loops (`buf`, `start`, `end`), but callers
 * should move them only through the methods.
 *
 * @since 0.1.0
 */
export class ReadBuf {
  /** The backing slab; replaced when the buffer grows. */
  buf: Buffer
  /** Offset of the first unconsumed byte. */
  start: number
  /** Offset one past the last filled byte. */
  end: number
  /** Growth limit in bytes. */
  readonly maxCapacity: number
  /** Compaction threshold as a fraction of the capacity. */
  readonly compactAt: number
  /** Compact into a second slab and swap, leaving the old one's bytes as they were (see the module doc). Default `false`. */
  swapOnCompact = false
  /** The slab swapped out by the last compaction under `swapOnCompact`, reused by the next one. */
  private other: Buffer | undefined = undefined

  constructor(capacity: number, maxCapacity: number, compactAt: number) {
    if (!Number.isInteger(capacity) || capacity <= 0) {
      throw new RangeError(`ReadBuf capacity must be a positive integer, got ${capacity}`)
    }
    if (!Number.isInteger(maxCapacity) || maxCapacity < capacity) {
      throw new RangeError(`ReadBuf maxCapacity must be an integer >= capacity (${capacity}), got ${maxCapacity}`)
    }
    if (!(compactAt >= 0 && compactAt <= 1)) {
      throw new RangeError(`ReadBuf compactAt must be within [0, 1], got ${compactAt}`)
    }
    this.buf = allocUnsafe(capacity)
    this.start = 0
    this.end = 0
    this.maxCapacity = maxCapacity
    this.compactAt = compactAt
  }

  /** Current capacity in bytes. */
  get capacity(): number {
    return this.buf.length
  }

  /** Number of unconsumed bytes. */
  get length(): number {
    return this.end - this.start
  }

  /** Number of writable bytes at the tail. */
  get spareLength(): number {
    return this.buf.length - this.end
  }

  /** The writable tail: read socket bytes into it, then call `filled(n)`. */
  spare(): Buffer {
    return this.buf.subarray(this.end)
  }

  /** Marks `n` bytes of `spare()` as filled. Throws `RangeError` if `n` exceeds the spare space (caller misuse). */
  filled(n: number): void {
    if (n < 0 || n > this.buf.length - this.end) {
      throw new RangeError(`ReadBuf.filled(${n}) exceeds the ${this.buf.length - this.end} spare bytes`)
    }
    this.end += n
  }

  /** The unconsumed bytes, as a view. */
  data(): Buffer {
    return this.buf.subarray(this.start, this.end)
  }

  /** Drops `n` consumed bytes from the head; resets to the slab's start when empty. Throws `RangeError` past the data (caller misuse). */
  advance(n: number): void {
    const start = this.start + n
    if (n < 0 || start > this.end) {
      throw new RangeError(`ReadBuf.advance(${n}) exceeds the ${this.end - this.start} unconsumed bytes`)
    }
    if (start === this.end) {
      this.start = 0
      this.end = 0
    } else {
      this.start = start
    }
  }

  /** Moves the unconsumed bytes to the front of the slab so the whole tail is spare. */
  compact(): void {
    if (this.start === 0) return
    if (this.swapOnCompact) {
      const old = this.buf
      let next = this.other
      if (next === undefined || next.length !== old.length) next = allocUnsafe(old.length)
      old.copy(next, 0, this.start, this.end)
      this.other = old
      this.buf = next
    } else {
      this.buf.copyWithin(0, this.start, this.end)
    }
    this.end -= this.start
    this.start = 0
  }

  /** Compacts only when the consumed head exceeds `compactAt × capacity`; returns whether it did. */
  maybeCompact(): boolean {
    if (this.start > 0 && this.start >= this.buf.length * this.compactAt) {
      this.compact()
      return true
    }
    return false
  }

  /**
   * Ensures at least `n` spare bytes, compacting first and then doubling the slab up to
   * `maxCapacity`. Returns `false` — a capacity error — when `n` cannot fit even at
   * `maxCapacity`; the buffer is unchanged in that case except for compaction.
   */
  reserve(n: number): boolean {
    if (this.buf.length - this.end >= n) return true
    this.compact()
    const needed = this.end + n
    if (needed <= this.buf.length) return true
    if (needed > this.maxCapacity) return false
    let capacity = this.buf.length * 2
    while (capacity < needed) capacity *= 2
    if (capacity > this.maxCapacity) capacity = this.maxCapacity
    const next = allocUnsafe(capacity)
    this.buf.copy(next, 0, 0, this.end)
    this.buf = next
    return true
  }

  /**
   * Copies `chunk` into the tail (growing if allowed). Returns `false` — a capacity error —
   * when it cannot fit within `maxCapacity`; nothing is written in that case.
   */
  write(chunk: Uint8Array): boolean {
    if (!this.reserve(chunk.length)) return false
    this.buf.set(chunk, this.end)
    this.end += chunk.length
    return true
  }

  /** Drops every byte (consumed or not). */
  clear(): void {
    this.start = 0
    this.end = 0
  }
}

/**
 * Creates a `ReadBuf`. Defaults: capacity 16 KiB, no growth (`maxCapacity = capacity`),
 * `compactAt` 0.5. Throws `RangeError` for a non-positive capacity or `compactAt` outside [0, 1].
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): ReadBuf => {
  const capacity = options.capacity ?? DEFAULT_CAPACITY
  return new ReadBuf(capacity, options.maxCapacity ?? capacity, options.compactAt ?? DEFAULT_COMPACT_AT)
}
