/**
 * The market feed's messages a batch at a time (`MarketFeed.Messages`): one event holds a run
 * of consecutive text and binary messages as one owned buffer and an index of where each
 * payload lies in it, so a busy feed costs the consumer no allocation per message. Written once
 * here for `MarketFeed` (the live feed fills runs from its push loop, {@link FeedEvents}) and
 * `MarketFeedReplay` (a {@link MessageRun} over each read buffer of the file, its index written
 * by the session reader in bulk).
 *
 * Index layout: two `Uint32` per message, its payload's start in `bytes` and `end * 2 + isText`
 * (`SessionFile.indexWord`, the layout `SessionReader.readMessages` writes; so a run's buffer
 * stays below 2 GiB: a live run is at most one slab, a replayed one one read of the file).
 *
 * @internal
 */
import { Buffer } from "node:buffer"
import type * as Cause from "effect/Cause"
import type * as Effect from "effect/Effect"
import type * as FrameReader from "../../Codec/FrameReader.ts"
import { bufferView } from "../../Codec/internal/node.ts"
import { indexEnd, indexIsText, indexWord } from "../../Codec/SessionFile.ts"
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
    return indexEnd(this.index[2 * i + 1]!)
  }

  isText(i: number): boolean {
    return indexIsText(this.index[2 * i + 1]!)
  }

  text(i: number): string {
    const start = this.index[2 * i]!
    const end = indexEnd(this.index[2 * i + 1]!)
    return start === end ? "" : this.bytes.toString("utf8", start, end)
  }

  payload(i: number): Buffer {
    return this.bytes.subarray(this.index[2 * i]!, indexEnd(this.index[2 * i + 1]!))
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
  new MessageRun(bytes, Uint32Array.of(start, indexWord(end, text)), 1)

// ---------------------------------------------------------------------------------------------
// The live feed: runs over the socket's blocks (or copied into slabs) from the push loop
// ---------------------------------------------------------------------------------------------

/**
 * Bytes of a slab for payloads the socket keeps no block of: 64 KiB (a run is at most one slab
 * or block; a message bigger than that gets a slab of its own size). Like Node's `Buffer` pool,
 * a kept run keeps its slab (or block) alive.
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

/** Bytes of a {@link LentBlocks} slab: 256 KiB (four of the socket's largest blocks). */
const LENT_SLAB_SIZE = 256 * 1024
/**
 * Free slabs {@link LentBlocks} keeps for reuse: 16 (4 MiB). A burst that needed more (a slow
 * consumer with a large `bufferSize` of large messages) leaves the rest to the GC, so the memory
 * a burst took is not held for the feed's lifetime.
 */
const LENT_FREE_MAX = 16

/**
 * The memory of `MarketFeed`'s lent runs (`lent: true`): the socket copies each block
 * (`WebSocketImpl.blockCopy`) into the current slab here, one after another, instead of into
 * fresh memory. A slab that filled up is retired with the number of the last batch that holds
 * one of its blocks, and is reused once the consumer takes a later batch than that — it asks
 * for the next batch only when it is done with the one before (the lent contract: valid until
 * the next pull). So the fresh memory, and the mark-compacts V8 spends on it at 128 B (19–31 a
 * 10 M-message round, `bench/feed-gc.ts`), go; the one memcpy per block stays.
 */
class LentBlocks {
  private slab: Buffer = EMPTY_BYTES
  /** The current slab's `ArrayBuffer` (the slab is one of its own, at offset 0), for its block views. */
  private slabAb: ArrayBufferLike = EMPTY_BYTES.buffer
  private pos = 0
  /** The number of the last batch holding a block of the current slab. */
  private slabLast = 0
  private readonly retired: Array<Buffer> = []
  private readonly retiredLast: Array<number> = []
  private readonly free: Array<Buffer> = []
  /** Batches handed to the consumer so far: the number of the batch being filled. */
  private taken = 0

  /** `WebSocketImpl.blockCopy`: `src[start, start + length)` copied into the current slab. */
  readonly copy = (src: Buffer, start: number, length: number): Buffer => {
    if (this.pos + length > this.slab.byteLength) this.nextSlab(length)
    const at = this.pos
    src.copy(this.slab, at, start, start + length)
    this.pos = at + length
    return bufferView(this.slabAb, at, length)
  }

  /**
   * A message in the socket's current block is queued in the batch being filled. That block is
   * the last one {@link copy} made, so it lies in the current slab: `FeedEvents` makes a socket
   * it leaves take its next block afresh (`WebSocketImpl.forgetBlock`), so no other socket's
   * block is current.
   */
  mark(): void {
    this.slabLast = this.taken
  }

  /**
   * A batch is handed to the consumer, which asked for it once done with the one before: every
   * retired slab whose last batch is older than the one being handed out is free.
   */
  took(): void {
    const retired = this.retired
    const last = this.retiredLast
    let kept = 0
    for (let i = 0; i < retired.length; i++) {
      if (last[i]! < this.taken) {
        // a slab of its own (a message over the slab size), or one past the free list's bound,
        // is left to the GC
        if (retired[i]!.byteLength === LENT_SLAB_SIZE && this.free.length < LENT_FREE_MAX) this.free.push(retired[i]!)
      } else {
        retired[kept] = retired[i]!
        last[kept++] = last[i]!
      }
    }
    retired.length = kept
    last.length = kept
    this.taken++
  }

  private nextSlab(length: number): void {
    if (this.slab.byteLength > 0) {
      this.retired.push(this.slab)
      this.retiredLast.push(this.slabLast)
    }
    this.slab = length <= LENT_SLAB_SIZE && this.free.length > 0
      ? this.free.pop()!
      : Buffer.allocUnsafeSlow(Math.max(LENT_SLAB_SIZE, length))
    this.slabAb = this.slab.buffer
    this.pos = 0
    this.slabLast = this.taken
  }
}

/**
 * `MarketFeed`'s events queue: the {@link Batch} of events with the current run of messages
 * growing at its tail. {@link message} indexes a message's payload into the run (no allocation
 * per message), {@link event} queues a `Connected` or `Gap` after the run; the run is sealed
 * when the consumer takes the batch, when another event comes, when its index slab is full, or
 * when a payload lies in other owned bytes than the run's. `bufferSize` counts messages, as it
 * counted message events.
 *
 * The copy is taken a block at a time, by the socket (`WebSocketImpl.blockAt`, the block
 * `messages` hands out views of): at a payload in a client socket's slab, everything the slab
 * buffers from there on is copied in one `Buffer#copy`, and the payloads parsed from that range
 * afterwards are indexed where the block put them, with no copy of their own. One large copy
 * into fresh memory costs a fraction of many small ones (measured on the loopback firehose,
 * 128 B: ~40–50 ns less per message, `bench/owned-path.ts`); the frame headers between the
 * payloads ride along unindexed. A payload the socket keeps no block of (joined fragments,
 * inflated bytes, a server's slab, another transport) is copied on its own into a slab here.
 */
export class FeedEvents<E> {
  readonly batch: Batch<Messages | E, Cause.Done>
  private run: MessageRun | undefined
  /** The owned bytes the current run's payloads lie in (a socket's block or {@link slab}), from `runStart` to `runEnd`. */
  private runBytes: Buffer
  private runStart: number
  private runEnd: number
  private index: Uint32Array
  private indexPos: number
  private indexStart: number
  /** Where payloads without a block are copied one by one, and where the next one goes. */
  private slab: Buffer
  private slabView: DataView
  private pos: number
  /** The last source buffer copied from and its `DataView`. */
  private source: Buffer
  private sourceView: DataView
  /** The connection of the last message, and it again when it is our WebSocket. */
  private conn: unknown
  private socket: WebSocketImpl | undefined
  /** Where the sockets copy their blocks when the runs are lent (`MarketFeed`'s `lent`). */
  private readonly lent: LentBlocks | undefined

  constructor(highWaterMark: number, lent = false) {
    this.lent = lent ? new LentBlocks() : undefined
    this.batch = new Batch(highWaterMark, () => {
      this.seal()
      if (this.lent !== undefined) this.lent.took()
    })
    this.run = undefined
    this.runBytes = EMPTY_BYTES
    this.runStart = 0
    this.runEnd = 0
    this.index = EMPTY_INDEX
    this.indexPos = 0
    this.indexStart = 0
    this.slab = EMPTY_BYTES
    this.slabView = new DataView(EMPTY_BYTES.buffer, 0, 0)
    this.pos = 0
    this.source = EMPTY_BYTES
    this.sourceView = this.slabView
    this.conn = undefined
    this.socket = undefined
  }

  /**
   * Appends a text or binary message (a view, copied here) read from `conn` (the push loop's
   * connection: its block is taken when it is our WebSocket); the Effect to wait on at the
   * mark, else `undefined`.
   */
  message(message: FrameReader.Text | FrameReader.Binary, conn?: unknown): Effect.Effect<void> | undefined {
    if (this.batch.isEnded) return undefined
    if (conn !== this.conn) {
      // lent: the socket left takes its next block afresh, so the one socket whose current block
      // a message may still come from is the one that copied last, into the current slab
      if (this.lent !== undefined && this.socket !== undefined) this.socket.forgetBlock()
      this.conn = conn
      this.socket = conn instanceof WebSocketImpl ? conn : undefined
      if (this.socket !== undefined && this.lent !== undefined) this.socket.blockCopy = this.lent.copy
    }
    const buf = message.buf
    const start = message.start
    const end = message.end
    const socket = this.socket
    let at = socket === undefined ? -1 : socket.blockAt(buf, start, end)
    let bytes: Buffer
    if (at >= 0) {
      bytes = socket!.block
      if (this.lent !== undefined) this.lent.mark()
    } else {
      at = this.copy(buf, start, end)
      bytes = this.slab
    }
    const run = this.run
    let wait: Effect.Effect<void> | undefined
    if (run === undefined || bytes !== this.runBytes || this.indexPos === this.index.length) {
      wait = this.open(bytes, at)
    } else {
      run.count++
      wait = this.batch.add(1)
    }
    const runStart = this.runStart
    const i = this.indexPos
    this.index[i] = at - runStart
    this.index[i + 1] = indexWord(at + end - start - runStart, message._tag === "Text")
    this.indexPos = i + 2
    this.runEnd = at + end - start
    return wait
  }

  /** Queues another event (`Connected`, `Gap`) after the messages so far; as {@link message}. */
  event(event: E): Effect.Effect<void> | undefined {
    this.seal()
    return this.batch.offer(event, 1)
  }

  /** Copies `buf[start, end)` into the slab (a fresh one when it does not fit); where it went. */
  private copy(buf: Buffer, start: number, end: number): number {
    const size = end - start
    if (this.pos + size > this.slab.byteLength) {
      this.slab = Buffer.allocUnsafeSlow(Math.max(SLAB_SIZE, size))
      this.slabView = new DataView(this.slab.buffer, this.slab.byteOffset, this.slab.byteLength)
      this.pos = 0
    }
    const at = this.pos
    if (size <= SMALL_COPY) {
      if (buf !== this.source) {
        this.source = buf
        this.sourceView = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
      }
      const from = this.sourceView
      const to = this.slabView
      let i = 0
      // BigInt64 moves eight bytes exactly (a Float64 round trip may rewrite a NaN's bits)
      for (; i + 8 <= size; i += 8) to.setBigInt64(at + i, from.getBigInt64(start + i, true), true)
      for (; i < size; i++) to.setUint8(at + i, from.getUint8(start + i))
    } else {
      buf.copy(this.slab, at, start, end)
    }
    this.pos = at + size
    return at
  }

  /**
   * Starts a run at `bytes[at]` (in a fresh index slab when the current one is full) and
   * queues it, sealing the one before.
   */
  private open(bytes: Buffer, at: number): Effect.Effect<void> | undefined {
    this.seal()
    if (this.indexPos === this.index.length) {
      this.index = new Uint32Array(INDEX_SLAB_SIZE)
      this.indexPos = 0
      this.indexStart = 0
    }
    this.runBytes = bytes
    this.runStart = at
    const run = new MessageRun(EMPTY_BYTES, EMPTY_INDEX, 1)
    this.run = run
    return this.batch.offer(run, 1)
  }

  /** Finishes the current run (its bytes and index become views of what was written), if any. */
  private seal(): void {
    const run = this.run
    if (run === undefined) return
    this.run = undefined
    run.bytes = this.runBytes.subarray(this.runStart, this.runEnd)
    run.index = this.index.subarray(this.indexStart, this.indexPos)
    this.indexStart = this.indexPos
  }
}
