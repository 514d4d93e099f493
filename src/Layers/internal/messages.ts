/**
 * The market feed's messages a batch at a time (`MarketFeed.Messages`): one event holds a run
 * of consecutive text and binary messages as one owned buffer and an index of where each
 * payload lies in it, so a busy feed costs the consumer no allocation per message. Written once
 * here for `MarketFeed` (the live feed fills runs from its push loop, {@link FeedEvents}) and
 * `MarketFeedReplay` (a {@link MessageRun} over each read buffer of the file, its index written
 * by the session reader in bulk).
 *
 * Index layout: two `Uint32` per message, its payload's start in `bytes` and `end * 2 + isText`
 * (so a run's buffer stays below 2 GiB: a live run is at most one slab, a replayed one one read
 * of the file).
 *
 * @internal
 */
import { Buffer } from "node:buffer"
import type * as Cause from "effect/Cause"
import type * as Effect from "effect/Effect"
import type * as FrameReader from "../../Codec/FrameReader.ts"
import { WebSocketImpl } from "../../Transport/internal/webSocketStream.ts"
import { Batch } from "./batch.ts"

/** One message of a batch, owned: `Text` with its string, or `Binary` with a view of the batch's bytes. */
export type OwnedDataMessage =
  | { readonly _tag: "Text"; readonly text: string }
  | { readonly _tag: "Binary"; readonly payload: Uint8Array }

/**
 * Consecutive text and binary messages of the feed, in order, owned: `bytes` and every payload
 * in it stay valid for ever (nothing is written over them), whatever is read next. Message `i`
 * (`0 ≤ i < count`) is `bytes[start(i), end(i))`, text (UTF-8) when `isText(i)`. Reading the
 * bytes through `start`/`end` allocates nothing; `text(i)`, `payload(i)`, `message(i)` and the
 * iterator each allocate their result. `bytes` may hold other bytes between the payloads.
 */
export interface Messages extends Iterable<OwnedDataMessage> {
  readonly _tag: "Messages"
  /** How many messages (at least 1). */
  readonly count: number
  /** The buffer holding every payload. */
  readonly bytes: Buffer
  /** Where message `i`'s payload starts in `bytes`. */
  start(i: number): number
  /** One past where message `i`'s payload ends in `bytes`. */
  end(i: number): number
  /** Whether message `i` is a text message (its payload is valid UTF-8). */
  isText(i: number): boolean
  /** Message `i`'s payload decoded as UTF-8 (an owned string; meant for text messages). */
  text(i: number): string
  /** Message `i`'s payload as a `Buffer` view of `bytes` (owned: valid for ever). */
  payload(i: number): Buffer
  /** Message `i` as an owned message: `Text` with its string, or `Binary` with its {@link payload}. */
  message(i: number): OwnedDataMessage
}

const EMPTY_BYTES = Buffer.alloc(0)
const EMPTY_INDEX = new Uint32Array(0)

/** A run of messages; filled by its builder before the consumer sees it (`seal`). */
export class MessageRun implements Messages {
  readonly _tag = "Messages" as const
  count: number
  bytes: Buffer
  index: Uint32Array

  constructor(bytes: Buffer, index: Uint32Array, count: number) {
    this.count = count
    this.bytes = bytes
    this.index = index
  }

  start(i: number): number {
    return this.index[2 * i]!
  }

  end(i: number): number {
    return this.index[2 * i + 1]! >>> 1
  }

  isText(i: number): boolean {
    return (this.index[2 * i + 1]! & 1) === 1
  }

  text(i: number): string {
    const start = this.index[2 * i]!
    const end = this.index[2 * i + 1]! >>> 1
    return start === end ? "" : this.bytes.toString("utf8", start, end)
  }

  payload(i: number): Buffer {
    return this.bytes.subarray(this.index[2 * i]!, this.index[2 * i + 1]! >>> 1)
  }

  message(i: number): OwnedDataMessage {
    return this.isText(i) ? { _tag: "Text", text: this.text(i) } : { _tag: "Binary", payload: this.payload(i) }
  }

  *[Symbol.iterator](): Iterator<OwnedDataMessage> {
    for (let i = 0; i < this.count; i++) yield this.message(i)
  }
}

/** One message's index entry: `[start, end * 2 + isText]`, as a run of its own (the replay's paced path). */
export const single = (bytes: Buffer, start: number, end: number, text: boolean): MessageRun =>
  new MessageRun(bytes, Uint32Array.of(start, end * 2 + (text ? 1 : 0)), 1)

// ---------------------------------------------------------------------------------------------
// The live feed: runs copied into slabs from the push loop
// ---------------------------------------------------------------------------------------------

/**
 * Bytes of a live slab: 64 KiB (a run is at most one slab; a message bigger than that gets a
 * slab of its own size). Like Node's `Buffer` pool, a kept run keeps its slab alive.
 */
const SLAB_SIZE = 64 * 1024
/** Index entries of a live index slab: 8192 (4096 messages). */
const INDEX_SLAB_SIZE = 8 * 1024
/**
 * Copies up to this many bytes are made eight at a time through `DataView`s (`BigInt64`,
 * which TurboFan moves without a BigInt): a native `Buffer#copy` costs a call into C++
 * (measured on Node 24, a shared machine, one process per variant: 15–24 ns for 40 B against
 * 36–48 ns native; at 128 B native wins or ties, 36–54 ns against 44–59 ns).
 */
const SMALL_COPY = 64

/**
 * `MarketFeed`'s events queue: the {@link Batch} of events with the current run of messages
 * growing at its tail. {@link message} copies a message's payload into the run (no allocation
 * per message), {@link event} queues a `Connected` or `Gap` after the run; the run is sealed
 * when the consumer takes the batch, when another event comes, or when a slab is full.
 * `bufferSize` counts messages, as it counted message events.
 *
 * The copy is taken a block at a time: at a payload in a client socket's slab, everything the
 * slab holds from there on (up to the slab's room) is copied in one `Buffer#copy`, and the
 * payloads parsed from that range afterwards are indexed where the block put them, with no copy
 * of their own, for as long as no bytes came into the socket's slab (its `refills`). One large
 * copy into fresh memory costs a fraction of many small ones (measured on the loopback firehose,
 * 128 B: ~40–50 ns less per message, `bench/owned-path.ts`); the frame headers and any bytes
 * parsed later that are not data messages ride along unindexed, between the payloads.
 */
export class FeedEvents<E> {
  readonly batch: Batch<Messages | E, Cause.Done>
  private run: MessageRun | undefined
  private slab: Buffer
  private slabView: DataView
  /** Where the next copy goes in `slab`. */
  private pos: number
  /** Where the current run's bytes start in `slab`, and one past its last payload. */
  private runStart: number
  private runEnd: number
  private index: Uint32Array
  private indexPos: number
  private indexStart: number
  /** The last source buffer and its `DataView` (the reader's slab: the same one message after message). */
  private source: Buffer
  private sourceView: DataView
  /** The connection of the last message and its slab's bookkeeping, when it is our WebSocket. */
  private conn: unknown
  private buffered: WebSocketImpl | undefined
  /** The last block: `blockOf[blockBase, blockEnd)` copied to `slab` at `blockAt`, at `blockRefills` of `blockSource`. */
  private blockOf: Buffer
  private blockSource: WebSocketImpl | undefined
  private blockRefills: number
  private blockBase: number
  private blockEnd: number
  private blockAt: number

  constructor(highWaterMark: number) {
    this.batch = new Batch(highWaterMark, () => this.seal())
    this.run = undefined
    this.slab = EMPTY_BYTES
    this.slabView = new DataView(EMPTY_BYTES.buffer, 0, 0)
    this.pos = 0
    this.runStart = 0
    this.runEnd = 0
    this.index = EMPTY_INDEX
    this.indexPos = 0
    this.indexStart = 0
    this.source = EMPTY_BYTES
    this.sourceView = this.slabView
    this.conn = undefined
    this.buffered = undefined
    this.blockOf = EMPTY_BYTES
    this.blockSource = undefined
    this.blockRefills = 0
    this.blockBase = 0
    this.blockEnd = 0
    this.blockAt = 0
  }

  /**
   * Appends a text or binary message (a view, copied here) read from `conn` (the push loop's
   * connection: copies a block at a time when it is our WebSocket); the Effect to wait on at the
   * mark, else `undefined`.
   */
  message(message: FrameReader.Text | FrameReader.Binary, conn?: unknown): Effect.Effect<void> | undefined {
    if (this.batch.isEnded) return undefined
    if (conn !== this.conn) {
      this.conn = conn
      this.buffered = conn instanceof WebSocketImpl ? conn : undefined
    }
    const buf = message.buf
    const start = message.start
    const end = message.end
    const source = this.buffered
    const at = buf === this.blockOf && source === this.blockSource && source!.refills === this.blockRefills &&
        start >= this.blockBase && end <= this.blockEnd
      ? this.blockAt + start - this.blockBase
      : this.copy(buf, start, end, source)
    const run = this.run
    let wait: Effect.Effect<void> | undefined
    if (run === undefined || this.indexPos === this.index.length) {
      wait = this.open()
    } else {
      run.count++
      wait = this.batch.add(1)
    }
    const runStart = this.runStart
    const i = this.indexPos
    this.index[i] = at - runStart
    this.index[i + 1] = (at + end - start - runStart) * 2 + (message._tag === "Text" ? 1 : 0)
    this.indexPos = i + 2
    this.runEnd = at + end - start
    return wait
  }

  /** Queues another event (`Connected`, `Gap`) after the messages so far; as {@link message}. */
  event(event: E): Effect.Effect<void> | undefined {
    this.seal()
    return this.batch.offer(event, 1)
  }

  /**
   * Copies `buf[start, end)` into the slab (a fresh one, sealing the run, when it does not fit)
   * with, from a client socket's slab, the bytes buffered behind it (the next block); where it
   * went.
   */
  private copy(buf: Buffer, start: number, end: number, source: WebSocketImpl | undefined): number {
    const size = end - start
    if (this.pos + size > this.slab.byteLength) {
      this.seal()
      this.slab = Buffer.allocUnsafeSlow(Math.max(SLAB_SIZE, size))
      this.slabView = new DataView(this.slab.buffer, this.slab.byteOffset, this.slab.byteLength)
      this.pos = 0
      this.runStart = 0
      this.runEnd = 0
      // a block is where it lies in its slab
      this.blockOf = EMPTY_BYTES
    }
    const at = this.pos
    const buffered = source === undefined ? -1 : source.bufferedEnd(buf)
    const length = buffered > end ? Math.min(buffered - start, this.slab.byteLength - at) : size
    if (length <= SMALL_COPY) {
      if (buf !== this.source) {
        this.source = buf
        this.sourceView = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
      }
      const from = this.sourceView
      const to = this.slabView
      let i = 0
      // BigInt64 moves eight bytes exactly (a Float64 round trip may rewrite a NaN's bits)
      for (; i + 8 <= length; i += 8) to.setBigInt64(at + i, from.getBigInt64(start + i, true), true)
      for (; i < length; i++) to.setUint8(at + i, from.getUint8(start + i))
    } else {
      buf.copy(this.slab, at, start, start + length)
    }
    if (length > size) {
      this.blockOf = buf
      this.blockSource = source
      this.blockRefills = source!.refills
      this.blockBase = start
      this.blockEnd = start + length
      this.blockAt = at
    } else {
      // the block is no longer the slab's tail: what it holds is copied again, so the payloads
      // of a run only ever go forward in its slab (a run's bytes end at its last payload)
      this.blockOf = EMPTY_BYTES
    }
    this.pos = at + length
    return at
  }

  /** Starts a run (in a fresh index slab when the current one is full) and queues it. */
  private open(): Effect.Effect<void> | undefined {
    this.seal()
    if (this.indexPos === this.index.length) {
      this.index = new Uint32Array(INDEX_SLAB_SIZE)
      this.indexPos = 0
      this.indexStart = 0
    }
    const run = new MessageRun(EMPTY_BYTES, EMPTY_INDEX, 1)
    this.run = run
    return this.batch.offer(run, 1)
  }

  /** Finishes the current run (its bytes and index become views of what was written), if any. */
  private seal(): void {
    const run = this.run
    if (run === undefined) return
    this.run = undefined
    run.bytes = this.slab.subarray(this.runStart, this.runEnd)
    run.index = this.index.subarray(this.indexStart, this.indexPos)
    this.runStart = this.runEnd
    this.indexStart = this.indexPos
  }
}
