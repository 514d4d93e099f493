/**
 * The WebSocket stream: one connection's receive state machine (`recv`, the `run` push loop,
 * auto-pong, the close echo, violations), the closing handshake, the heartbeat and the scope
 * finalizer, over the send serializer of `webSocketSender.ts`. Built by `open` once a handshake
 * driver (`webSocketHandshake.ts`) has agreed the upgrade; `WebSocket.ts` publishes it. The
 * rules it keeps (lifetimes of views, batching, closing, the failure model) are those of the
 * `WebSocket` module doc.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import { SingleShotGen } from "effect/Utils"
import { CloseCode } from "../../Codec/CloseCode.ts"
import * as FrameReader from "../../Codec/FrameReader.ts"
import { bufferView } from "../../Codec/internal/node.ts"
import * as FrameWriter from "../../Codec/FrameWriter.ts"
import * as MaskSource from "../../Codec/MaskSource.ts"
import * as PerMessageDeflate from "../../Codec/PerMessageDeflate.ts"
import type * as ReadBuf from "../../Codec/ReadBuf.ts"
import { copyInto } from "../Transport.ts"
import type { Transport, TransportError } from "../Transport.ts"
import {
  AbnormalClosure,
  fromTransport,
  WebSocketClosed,
  type WebSocketError,
  WebSocketProtocolError,
  WebSocketTimeout,
  wsError
} from "./webSocketErrors.ts"
import { Deflater, Inflater } from "./webSocketDeflate.ts"
import type { Agreed } from "./webSocketHandshake.ts"
import {
  compressionOf,
  type CompressionOptions,
  DEFAULT_BUFFER_CAPACITY,
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_COMPRESSION_LEVEL,
  DEFAULT_COMPRESSION_MEM_LEVEL,
  DEFAULT_COMPRESSION_THRESHOLD,
  DEFAULT_MAX_BATCH,
  DEFAULT_WRITE_BUFFER_CAPACITY,
  type StreamOptions,
  type UpgradeInfo
} from "./webSocketOptions.ts"
import { Sender } from "./webSocketSender.ts"

/**
 * Brand of a `WebSocket`.
 *
 * @since 0.1.0
 * @category type ids
 */
export const TypeId = "~effect-nexus/Transport/WebSocket" as const

const EMPTY = new Uint8Array(0)

/** An iterator that is done on its first `next`, with a message as its value (its own result, as Effect's `SingleShotGen`). */
interface Delivered extends Iterator<unknown, FrameReader.Message> {
  done: true
  value: FrameReader.Message
  next(): Delivered
}

/** Truncates an ASCII diagnostic to what fits in a close frame (123 bytes). */
const closeReasonOf = (text: string): string => {
  const ascii = text.replace(/[^\x20-\x7e]/g, "?")
  return ascii.length > 123 ? ascii.slice(0, 123) : ascii
}

/** Payloads up to this size are copied by `slice` (an on-heap array), larger ones into a pooled Buffer. */
const SMALL_COPY = 64

/** Most bytes `own` copies out of the slab at once for the payloads that follow (what one kept payload can keep alive). */
const BLOCK_MAX = 64 * 1024

type Waiter = (effect: Effect.Effect<void>) => void

let sharedMask: MaskSource.MaskSource | undefined

/** One crypto key pool for every client connection (one thread, no sharing hazard): 4 KiB once, not per socket. */
const sharedMaskSource = (): MaskSource.MaskSource => (sharedMask ??= MaskSource.crypto())

/** One connection's stream; its public face is the `WebSocket` interface. */
export class WebSocketImpl {
  readonly [TypeId] = TypeId
  readonly role: "client" | "server"
  readonly remoteAddress: string
  readonly protocol: string | undefined
  readonly deflate: PerMessageDeflate.Agreed | undefined
  readonly upgrade: UpgradeInfo | undefined
  readonly transport: Transport
  state: "open" | "closing" | "closed" | "failed"
  readonly recv: Effect.Effect<FrameReader.Message, WebSocketError>
  private readonly reader: FrameReader.FrameReader
  /** The decompressor, when permessage-deflate was agreed. */
  private readonly inflater: Inflater | undefined
  private readonly rb: ReadBuf.ReadBuf
  private readonly sender: Sender
  private readonly autoPong: boolean
  private readonly maxBatch: number
  private readonly readTimeout: Duration.Duration | undefined
  readonly closeTimeout: Duration.Duration
  /** Messages delivered since `recv` last suspended or yielded. */
  private batch: number
  /** A recv is parked on (or continuing after) a transport read. */
  private receiving: boolean
  /**
   * `run` push loops in progress. A loop owns reading even while it is not parked on a read (its
   * handler's Effect is running, e.g. a consumer's backpressure), so `close` leaves reading to it
   * as to a parked `recv`: the loop's handler then sees the messages before the peer's close, and
   * the close itself, instead of `close` discarding them.
   */
  private running: number
  /** A transport read is outstanding (reads are serialized across fibers). */
  private reading: boolean
  private readonly readWaiters: Array<Waiter>
  /** The latched receive-side failure, returned by every later recv. */
  private failure: WebSocketError | undefined
  private closeReceived: boolean
  private closedCode: number
  private closedReason: string
  private closedBy: "local" | "peer"
  /** Completed when the peer's close arrives or the receive side fails. */
  readonly peerClosed: Deferred.Deferred<void>
  /** The transport returned end of stream. */
  private eof: boolean
  /** Handshake leftovers that did not fit the slab at once (rare: a tiny slab). */
  private leftover: Uint8Array
  /**
   * A reader result `recv`'s iterator took but could not hand over itself (a ping, a close, a
   * violation, `NeedMore`): the next {@link next} returns it before reading on.
   */
  private stashed: FrameReader.ReadResult | undefined
  /** `recv`'s iterator for a buffered message: done at once, the message as its value (reused). */
  private readonly delivered: Delivered
  /** One reusable success Exit per reused message view (at most five). */
  private readonly exits: Array<Exit.Success<FrameReader.Message>>
  /** A plain `Uint8Array` over `plainOf` (the reader's slab or join buffer), for `own`'s copies. */
  private plain: Uint8Array
  private plainOf: Uint8Array
  /**
   * The last owned copy of the slab's buffered bytes (client role, {@link blockAt}), which the
   * payloads `own` and `MarketFeed`'s runs hand out are views of: the slab (`blockOf`) bytes
   * `[blockBase, blockEnd)` as `block` (at `blockOffset` of `blockAb`), taken when
   * {@link refills} was `blockRefills` — stale once it moved. Never written again, unless
   * {@link blockCopy} says otherwise.
   */
  block: Buffer
  private blockOf: Uint8Array
  private blockAb: ArrayBufferLike
  private blockOffset: number
  private blockBase: number
  private blockEnd: number
  private blockRefills: number
  /**
   * Where {@link blockAt} copies a block (the copy of `src[start, start + length)`) instead of
   * into fresh memory: `MarketFeed`'s lent runs, which hand blocks out until the consumer pulls
   * again and then reuse their memory. Set by the socket's one block consumer; `undefined`
   * (fresh memory, never written again) by default.
   */
  blockCopy: ((src: Buffer, start: number, length: number) => Buffer) | undefined
  /**
   * Bumped whenever bytes are about to come into the slab (which may move or overwrite what was
   * buffered): a copy of the slab's buffered bytes taken at one count ({@link blockAt}) is
   * the bytes the messages parsed from that range hold, as long as the count has not moved: the
   * one mark of a stale block.
   */
  private refills: number

  constructor(
    role: "client" | "server",
    transport: Transport,
    agreed: Agreed,
    options: OpenOptions,
    maskSource: MaskSource.MaskSource | undefined
  ) {
    const deflate = agreed.deflate
    this.role = role
    this.remoteAddress = transport.remoteAddress
    this.protocol = agreed.protocol
    this.deflate = deflate
    this.upgrade = agreed.upgrade
    this.transport = transport
    this.state = "open"
    this.reader = FrameReader.make({
      role,
      bufferCapacity: options.bufferCapacity ?? DEFAULT_BUFFER_CAPACITY,
      maxFrameSize: options.maxFrameSize,
      maxMessageSize: options.maxMessageSize,
      maxFragments: options.maxFragments,
      compactAt: options.compactAt,
      compression: deflate !== undefined
    })
    this.inflater = deflate === undefined ? undefined : new Inflater(
      PerMessageDeflate.inflateWindowBits(role === "client" ? deflate.serverMaxWindowBits : deflate.clientMaxWindowBits),
      role === "client" ? deflate.serverNoContextTakeover : deflate.clientNoContextTakeover,
      this.reader.maxMessageSize
    )
    this.rb = this.reader.readBuf
    this.sender = new Sender(transport, {
      role,
      maskSource: role === "client" ? maskSource ?? sharedMaskSource() : undefined,
      fragmentSize: options.fragmentSize,
      writeBufferCapacity: options.writeBufferCapacity ?? DEFAULT_WRITE_BUFFER_CAPACITY,
      compression: deflate === undefined ? undefined : senderCompression(role, deflate, compressionOf(options.compression) ?? {}),
      onPoisoned: () => {
        this.state = this.state === "open" ? "failed" : this.state
      }
    })
    this.autoPong = options.autoPong ?? true
    this.maxBatch = Math.max(1, options.maxBatch ?? DEFAULT_MAX_BATCH)
    this.readTimeout = options.readTimeout === undefined ? undefined : Duration.fromInputUnsafe(options.readTimeout)
    this.closeTimeout = options.closeTimeout === undefined
      ? DEFAULT_CLOSE_TIMEOUT
      : Duration.fromInputUnsafe(options.closeTimeout)
    this.batch = 0
    this.receiving = false
    this.running = 0
    this.reading = false
    this.readWaiters = []
    this.failure = undefined
    this.closeReceived = false
    this.closedCode = CloseCode.NoStatus
    this.closedReason = ""
    this.closedBy = "local"
    this.peerClosed = Deferred.makeUnsafe<void>()
    this.eof = false
    this.leftover = EMPTY
    this.exits = []
    this.plain = EMPTY
    this.plainOf = EMPTY
    this.block = Buffer.alloc(0)
    this.blockCopy = undefined
    this.blockOf = EMPTY
    this.blockAb = EMPTY.buffer
    this.blockOffset = 0
    this.blockBase = 0
    this.blockEnd = 0
    this.blockRefills = -1
    this.refills = 0
    this.stashed = undefined
    this.delivered = {
      done: true,
      value: undefined as unknown as FrameReader.Message,
      next(): Delivered {
        return this
      }
    }
    const recv = Effect.suspend(() => this.recvStart())
    // `yield* ws.recv` asks for this iterator: a buffered message comes back from it at once
    ;(recv as unknown as { [Symbol.iterator]: () => Iterator<unknown> })[Symbol.iterator] = () => this.recvIterator(recv)
    this.recv = recv
  }

  /**
   * Takes the bytes that arrived behind the handshake head: into the slab when they fit, the
   * rest served by the next reads before the transport is asked for more.
   */
  feedLeftover(bytes: Uint8Array): void {
    if (bytes.length === 0) return
    if (!this.rb.write(bytes)) this.leftover = bytes
  }

  // -------------------------------------------------------------------------------------------
  // Receiving
  // -------------------------------------------------------------------------------------------

  /**
   * `recv` under `yield*`. A text, binary or pong message the codec already holds completes the
   * `yield*` at once — no Effect step, the generator resumes with the view — counted against
   * `maxBatch` as `dispatch` counts it, so the yield after `maxBatch` messages still comes (from
   * `recvStart`, through the Effect). Anything else is stashed for `next` and the `yield*` goes
   * through `recv` as an Effect, which then finds it first: a ping is answered, a close echoed,
   * a violation latched exactly as on the Effect path. Each `yield*` asks afresh, so a stored
   * `recv` yielded twice gives two messages. Nothing between the iterator and the runtime can
   * run on this fiber (JavaScript is single-threaded), so interruption sees the same points.
   */
  private recvIterator(recv: Effect.Effect<FrameReader.Message, WebSocketError>): Iterator<unknown> {
    if (this.failure === undefined && !this.closeReceived && this.batch < this.maxBatch && this.stashed === undefined) {
      const result = this.next()
      const tag = result._tag
      if (tag === "Text" || tag === "Binary" || tag === "Pong") {
        this.batch++
        this.delivered.value = result
        return this.delivered
      }
      this.stashed = result
    }
    return new SingleShotGen(recv)
  }

  private recvStart(): Effect.Effect<FrameReader.Message, WebSocketError> {
    if (this.failure !== undefined) return Effect.fail(this.failure)
    if (this.closeReceived) return Effect.fail(this.closedError("recv"))
    if (this.batch >= this.maxBatch) {
      this.batch = 0
      return Effect.andThen(Effect.yieldNow, this.recv)
    }
    return this.step()
  }

  /**
   * The push loop behind {@link run}: hands every buffered text, binary and pong message to
   * `handler` synchronously in one Effect step, goes through `dispatch` (read, auto-pong, close
   * echo, violation) only when the codec needs bytes or meets a ping, close or violation, and
   * yields after `maxBatch` messages.
   */
  run<E>(
    handler: (message: FrameReader.Message) => Effect.Effect<void, E> | void
  ): Effect.Effect<void, WebSocketError | E> {
    const deliver = (message: FrameReader.Message): Effect.Effect<void, WebSocketError | E> => {
      const effect = handler(message)
      if (message._tag === "Close") return effect === undefined ? Effect.void : effect
      return effect === undefined ? loop : Effect.andThen(effect, loop)
    }
    // the effect a handler returned inside `reader.drain`, run before the loop goes on
    let pending: Effect.Effect<void, E> | undefined
    const each = (message: FrameReader.Text | FrameReader.Binary): boolean => {
      const effect = handler(message)
      if (effect === undefined) return false
      pending = effect
      return true
    }
    const reader = this.reader
    const loop: Effect.Effect<void, WebSocketError | E> = Effect.suspend(() => {
      if (this.failure !== undefined) return Effect.fail(this.failure)
      if (this.closeReceived) return Effect.void
      while (true) {
        // the same counter as recv's: messages delivered through dispatch count too
        if (this.batch >= this.maxBatch) {
          this.batch = 0
          return Effect.andThen(Effect.yieldNow, loop)
        }
        // the common frames first, pushed by the codec's own loop; the rest one by one below
        // (after a result recv's iterator stashed, which comes first)
        if (this.stashed === undefined) this.batch += reader.drain(each, this.maxBatch - this.batch)
        if (pending !== undefined) {
          const effect = pending
          pending = undefined
          return Effect.andThen(effect, loop)
        }
        if (this.batch >= this.maxBatch) continue
        const result = this.next()
        if (result._tag === "Text" || result._tag === "Binary" || result._tag === "Pong") {
          this.batch++
          const effect = handler(result)
          if (effect !== undefined) return Effect.andThen(effect, loop)
          continue
        }
        // the handler is done with every view (it returned): refill in place when the bytes are here
        if (result._tag === "NeedMore" && this.refillNow()) continue
        return Effect.flatMap(this.dispatch(result), deliver)
      }
    })
    return Effect.suspend(() => {
      this.running++
      return Effect.onExit(loop, this.runDone)
    })
  }

  private readonly runDone = () => this.runDoneEffect

  private readonly runDoneEffect = Effect.sync(() => {
    this.running--
  })

  /**
   * The batch behind `messages`: every text, binary and pong message already buffered, up to
   * `maxBatch`, as owned copies in one array — one Effect step for the lot; when nothing is
   * buffered, the next message through `recv`'s path (read, auto-pong, close echo), then what
   * that read brought behind it. A ping or close ends the batch (after its pong or echo); a
   * violation met behind buffered messages is left latched in the reader, so those messages are
   * delivered first and the next pull fails. Yields once after `maxBatch` messages, as `recv`.
   *
   * `lent` (`messages(socket, { lent: true })`): binary and pong payloads in the slab are views
   * of it, not copies, valid until the next pull — the batch then ends where the slab would be
   * refilled, so no slab byte a view points at is written before the consumer pulls again; the
   * compaction the reader does at a torn frame (to fit the whole frame) swaps slabs
   * (`ReadBuf.swapOnCompact`, which {@link lendSlab} sets) rather than moving bytes under the
   * views. Payloads outside the slab (joined fragments, inflated bytes: buffers the reader
   * reuses) are still copied.
   */
  pullOwned(lent: boolean): Effect.Effect<Array<FrameReader.OwnedMessage>, WebSocketError> {
    return Effect.suspend(() => {
      if (this.failure !== undefined) return Effect.fail(this.failure)
      if (this.closeReceived) return Effect.fail(this.closedError("recv"))
      if (this.batch >= this.maxBatch) {
        this.batch = 0
        return Effect.andThen(Effect.yieldNow, this.pullOwned(lent))
      }
      return this.fillOwned([], lent)
    })
  }

  private fillOwned(out: Array<FrameReader.OwnedMessage>, lent: boolean): Effect.Effect<Array<FrameReader.OwnedMessage>, WebSocketError> {
    while (this.batch < this.maxBatch) {
      const result = this.next()
      if (result._tag === "Text" || result._tag === "Binary" || result._tag === "Pong") {
        this.batch++
        out.push(lent ? this.lend(result) : this.own(result))
        continue
      }
      if (result._tag === "NeedMore") {
        // owned copies let the slab be refilled (and compacted) under the batch; lent views do not
        if ((!lent || out.length === 0) && this.refillNow()) continue
        if (out.length > 0) return Effect.succeed(out)
        return Effect.flatMap(this.readMore(), (message) => this.afterDispatch(out, message, lent))
      }
      if (result._tag !== "Ping" && result._tag !== "Close" && out.length > 0) {
        // a violation stays latched in the reader: the next pull reports it
        return Effect.succeed(out)
      }
      return Effect.flatMap(this.dispatch(result), (message) => this.afterDispatch(out, message, lent))
    }
    return Effect.succeed(out)
  }

  private afterDispatch(
    out: Array<FrameReader.OwnedMessage>,
    message: FrameReader.Message,
    lent: boolean
  ): Effect.Effect<Array<FrameReader.OwnedMessage>, WebSocketError> {
    out.push(lent ? this.lend(message) : this.own(message))
    // after a ping or close, hand over what we have; after data, drain what the read brought
    return message._tag === "Text" || message._tag === "Binary" || message._tag === "Pong"
      ? this.fillOwned(out, lent)
      : Effect.succeed(out)
  }

  /**
   * Readies the read slab for lent views (`messages(socket, { lent: true })`, once per stream):
   * the reader may compact the slab at a torn frame behind views already handed out, so from now
   * on it compacts by swapping slabs (`ReadBuf.swapOnCompact`).
   */
  lendSlab(): void {
    this.rb.swapOnCompact = true
  }

  /** A message for a lent batch: a binary or pong payload in the slab as a view of it (valid until the slab is refilled), else as {@link own}. */
  private lend(message: FrameReader.Message): FrameReader.OwnedMessage {
    if ((message._tag === "Binary" || message._tag === "Pong") && message.buf === this.rb.buf) {
      return { _tag: message._tag, payload: message.payload }
    }
    return this.own(message)
  }

  /**
   * `FrameReader.toOwned`, cheaper for binary and pong payloads (measured on Node 24,
   * `bench/recv-paths.ts`): on the client, a `Buffer` view of one copy of the slab's buffered
   * bytes taken at the first payload after a refill (up to 64 KiB, {@link BLOCK_MAX}): one memcpy
   * and a view per message, ~60 ns against ~95 ns for `Buffer.copyBytesFrom` each at 128 B, and
   * at 40 B 80–93 ns per message of the stream against 111–115 ns for the on-heap `slice` of
   * each payload it replaced there — so a kept payload keeps that copy alive, as a pooled
   * `Buffer` keeps its pool. A server's slab is unmasked frame by frame, so it (and a payload
   * outside the slab: joined fragments, inflated bytes) copies each payload on its own: up to
   * 64 bytes a `slice` of a plain `Uint8Array` view (V8 keeps so small an array on its heap),
   * above a `Buffer.copyBytesFrom`. Either way the payload is the message's own.
   */
  private own(message: FrameReader.Message): FrameReader.OwnedMessage {
    if (message._tag === "Text" || message._tag === "Close") return FrameReader.toOwned(message)
    const buf = message.buf
    const n = message.end - message.start
    const at = this.blockAt(buf, message.start, message.end)
    if (at >= 0) return { _tag: message._tag, payload: bufferView(this.blockAb, this.blockOffset + at, n) }
    if (buf !== this.plainOf) {
      this.plainOf = buf
      this.plain = new Uint8Array(buf.buffer, buf.byteOffset, buf.length)
    }
    const payload = n <= SMALL_COPY
      ? this.plain.slice(message.start, message.end)
      : Buffer.copyBytesFrom(this.plain, message.start, n)
    return { _tag: message._tag, payload }
  }

  /** Makes the next {@link blockAt} take a block afresh (through {@link blockCopy}), as after a refill. */
  forgetBlock(): void {
    this.blockRefills = -1
  }

  /**
   * Where the payload `buf[start, end)` of a message just read lies in {@link block}, for a
   * consumer that keeps owned payloads a block at a time (`own`, `MarketFeed`'s runs): when the
   * block does not hold it, the block is taken afresh — one copy of the slab from `start` to the
   * end of what it buffers (at most {@link BLOCK_MAX}), which the messages parsed next are read
   * from too. `-1` when `buf` is not a client's slab (joined fragments, inflated bytes, a
   * server's slab, unmasked frame by frame): copy that payload on its own.
   */
  blockAt(buf: Uint8Array, start: number, end: number): number {
    const rb = this.rb
    if (buf !== rb.buf || this.role !== "client") return -1
    if (this.blockRefills !== this.refills || buf !== this.blockOf || start < this.blockBase || end > this.blockEnd) {
      // the reader resets an emptied slab to 0, so `rb.end` may be before this message
      const length = Math.max(end - start, Math.min(BLOCK_MAX, rb.end - start))
      const block = this.blockCopy === undefined
        ? Buffer.copyBytesFrom(rb.buf, start, length)
        : this.blockCopy(rb.buf, start, length)
      this.block = block
      this.blockOf = buf
      this.blockRefills = this.refills
      this.blockAb = block.buffer
      this.blockOffset = block.byteOffset
      this.blockBase = start
      this.blockEnd = start + length
    }
    return start - this.blockBase
  }

  private readonly recvDone = () => this.recvDoneEffect

  private readonly recvDoneEffect = Effect.sync(() => {
    this.receiving = false
  })

  /** Drains the codec; reads only on NeedMore. */
  private step(): Effect.Effect<FrameReader.Message, WebSocketError> {
    return this.dispatch(this.next())
  }

  /** The reader's next result, a compressed message inflated (synchronously) on the way. */
  private next(): FrameReader.ReadResult {
    const stashed = this.stashed
    if (stashed !== undefined) {
      this.stashed = undefined
      return stashed
    }
    const result = this.reader.next()
    if (this.inflater === undefined || (result._tag !== "Text" && result._tag !== "Binary") || !result.compressed) {
      return result
    }
    const n = this.inflater.inflate(result.buf, result.start, result.end)
    if (typeof n === "number") return this.reader.inflated(result, this.inflater.out, 0, n)
    return n._tag === "TooBig" ? this.reader.inflatedTooBig(n.length) : this.reader.inflateFailed(n.detail)
  }

  /** Frees the zlib state (scope close). */
  releaseCompression(): void {
    this.inflater?.close()
    this.sender.releaseCompression()
  }

  /**
   * A success `Exit` (an Effect) for a message view. The reader reuses one view object per kind,
   * so the Exit made for it is reused too (an Exit is immutable; the runtime only reads it):
   * no allocation per delivered message.
   */
  private exitOf(message: FrameReader.Message): Exit.Exit<FrameReader.Message> {
    const exits = this.exits
    for (let i = 0; i < exits.length; i++) {
      if (exits[i]!.value === message) return exits[i]!
    }
    const exit = Exit.succeed(message) as Exit.Success<FrameReader.Message>
    exits.push(exit)
    return exit
  }

  private dispatch(result: FrameReader.ReadResult): Effect.Effect<FrameReader.Message, WebSocketError> {
    if (result._tag === "NeedMore") return this.readMore()
    switch (result._tag) {
      case "Text":
      case "Binary":
      case "Pong":
        this.batch++
        return this.exitOf(result)
      case "Ping":
        this.batch++
        if (!this.autoPong || this.sender.closeSent) return Effect.succeed(result)
        // a failed pong poisons the sends (reported by the next send); the ping is still delivered
        return Effect.as(Effect.ignore(this.sender.frame(FrameWriter.Kind.Pong, result.payload)), result)
      case "Close":
        return this.onPeerClose(result)
      default:
        return this.onViolation(result)
    }
  }

  /**
   * Refills the slab without an Effect when it can: from the handshake leftovers, else from the
   * read-ahead the transport already holds (a busy feed: every read but the ones that wait).
   * `false` when only `readMore` can go on (a failure or close to report, another fiber's read
   * outstanding, an empty transport). Call only once the codec said `NeedMore` and the
   * messages handed out are done with: it may compact the slab.
   */
  private refillNow(): boolean {
    if (this.failure !== undefined || this.closeReceived) return false
    // bytes are about to come into the slab, maybe where a block was copied from
    this.refills++
    const rb = this.rb
    if (rb.start > 0 && (rb.spareLength === 0 || rb.start >= rb.capacity * rb.compactAt)) rb.compact()
    if (this.leftover.length > 0) {
      const n = copyInto(rb, this.leftover)
      if (n > 0) {
        this.leftover = this.leftover.subarray(n)
        return true
      }
    }
    // one transport read at a time: while another fiber's read is outstanding, wait for it
    if (this.reading) return false
    const transport = this.transport
    return transport.readBuffered !== undefined && transport.readBuffered(this.rb) > 0
  }

  private readMore(): Effect.Effect<FrameReader.Message, WebSocketError> {
    if (this.refillNow()) return this.step()
    // another fiber may have taken the peer's close (or failed the stream) while this one waited
    if (this.failure !== undefined) return Effect.fail(this.failure)
    if (this.closeReceived) return Effect.fail(this.closedError("recv"))
    // one transport read at a time: a second fiber (close() draining while a consumer pulls)
    // waits for the outstanding read, then steps again — the transports keep a single waiter
    if (this.reading) return Effect.andThen(this.awaitRead, this.recv)
    const rb = this.rb
    this.refills++
    this.reading = true
    // a transport with buffered bytes completes reads synchronously, so only an explicit yield
    // bounds the run of messages delivered without giving way; a read that must wait for the
    // peer ("Open": nothing buffered, no end, no failure) gives way, so the batch starts over
    if (this.transport.inboundState === "Open") this.batch = 0
    const raw = Effect.onExit(this.transport.read(rb), this.readDone)
    const read = this.readTimeout === undefined ? raw : Effect.timeoutOrElse(
      raw,
      {
        duration: this.readTimeout,
        orElse: () =>
          Effect.fail(new WebSocketTimeout({ operation: "read", after: this.readTimeout! }))
      }
    )
    // `receiving` marks a recv parked on the transport, so a concurrent close() leaves reading
    // to it; tracked only around reads, so messages already buffered cost no exit hook
    const next = Effect.matchEffect(read, { onSuccess: this.onRead, onFailure: this.onReadFailure })
    // the continuation of a read that needs another read runs in tail position; one exit hook
    // per recv keeps the fiber's stack flat however many reads a message takes
    if (this.receiving) return next
    this.receiving = true
    return Effect.onExit(next, this.recvDone)
  }

  /** Frees the read slot and wakes the fibers waiting for it. */
  private readonly readDone = () => this.readDoneEffect

  private readonly readDoneEffect = Effect.sync(() => {
    this.reading = false
    // no array per read: waiters are rare (a close draining while a consumer reads)
    if (this.readWaiters.length === 0) return
    const waiters = this.readWaiters.splice(0)
    for (const wake of waiters) wake(Effect.void)
  })

  /** Parks until the outstanding transport read completes. */
  private readonly awaitRead: Effect.Effect<void> = Effect.callback<void>((resume) => {
    this.readWaiters.push(resume)
    return Effect.sync(() => {
      const i = this.readWaiters.indexOf(resume)
      if (i >= 0) this.readWaiters.splice(i, 1)
    })
  })

  private readonly onRead = (n: number): Effect.Effect<FrameReader.Message, WebSocketError> => {
    if (n === 0) {
      this.eof = true
      const error = wsError(this.remoteAddress, new AbnormalClosure({ midMessage: this.rb.length > 0 }))
      return this.failRecv(error)
    }
    return this.step()
  }

  private readonly onReadFailure = (
    error: TransportError | WebSocketTimeout
  ): Effect.Effect<FrameReader.Message, WebSocketError> => {
    // a heartbeat timeout destroys the transport: report the timeout, not the closed transport
    if (this.failure !== undefined) return Effect.fail(this.failure)
    return this.failRecv(
      error._tag === "WebSocketTimeout" ? wsError(this.remoteAddress, error) : fromTransport(error)
    )
  }

  private failRecv(error: WebSocketError): Effect.Effect<never, WebSocketError> {
    this.failure = error
    this.state = "failed"
    Deferred.doneUnsafe(this.peerClosed, Effect.void)
    return Effect.fail(error)
  }

  private onViolation(violation: FrameReader.FrameViolation): Effect.Effect<never, WebSocketError> {
    const error = wsError(this.remoteAddress, new WebSocketProtocolError({ violation, closeCode: violation.closeCode }))
    this.failure = error
    this.state = "failed"
    Deferred.doneUnsafe(this.peerClosed, Effect.void)
    // tell the peer why (best effort: the stream is failed whatever the write does), then FIN
    const notify = this.sender.closeSent
      ? Effect.void
      : Effect.ignore(this.sender.close(violation.closeCode, closeReasonOf(violation.message)))
    return Effect.andThen(Effect.andThen(notify, this.transport.end()), Effect.fail(error))
  }

  private onPeerClose(message: FrameReader.Close): Effect.Effect<FrameReader.Message, WebSocketError> {
    this.closeReceived = true
    Deferred.doneUnsafe(this.peerClosed, Effect.void)
    if (this.sender.closeSent) {
      // the answer to our close: the handshake is complete
      this.state = "closed"
      return Effect.succeed(message)
    }
    this.closedBy = "peer"
    this.closedCode = message.code
    this.closedReason = message.reason
    this.state = "closed"
    // echo the status and reason (RFC 6455 §5.5.1; ws echoes the reason too), then half-close;
    // the view stays valid (no read happens in between)
    const echo = message.code === CloseCode.NoStatus
      ? this.sender.close(undefined, "")
      : this.sender.close(message.code, message.reason)
    return Effect.as(Effect.andThen(Effect.ignore(echo), this.transport.end()), message)
  }

  private closedError(operation: "recv" | "send"): WebSocketError {
    return wsError(
      this.remoteAddress,
      new WebSocketClosed({ operation, code: this.closedCode, closeReason: this.closedReason, by: this.closedBy })
    )
  }

  // -------------------------------------------------------------------------------------------
  // Sending
  // -------------------------------------------------------------------------------------------

  sendText(text: string | Uint8Array): Effect.Effect<void, WebSocketError> {
    return this.send(FrameWriter.Kind.Text, text)
  }

  sendBinary(data: Uint8Array): Effect.Effect<void, WebSocketError> {
    return this.send(FrameWriter.Kind.Binary, data)
  }

  sendPing(data: Uint8Array | string = EMPTY): Effect.Effect<void, WebSocketError> {
    return this.send(FrameWriter.Kind.Ping, data)
  }

  sendPong(data: Uint8Array | string = EMPTY): Effect.Effect<void, WebSocketError> {
    return this.send(FrameWriter.Kind.Pong, data)
  }

  private send(kind: FrameWriter.Kind, payload: string | Uint8Array): Effect.Effect<void, WebSocketError> {
    return Effect.suspend(() => {
      if (this.sender.failure !== undefined) return Effect.fail(this.sender.poisoned())
      if (this.sender.closeSent || this.closeReceived) return Effect.fail(this.closedError("send"))
      if (this.state === "failed") return Effect.fail(this.failure!)
      return this.sender.frame(kind, payload)
    })
  }

  // -------------------------------------------------------------------------------------------
  // Closing
  // -------------------------------------------------------------------------------------------

  close(code: number = CloseCode.Normal, reason: string = ""): Effect.Effect<void, WebSocketError> {
    return Effect.suspend(() => {
      if (this.sender.closeSent || this.state === "failed" || this.state === "closed") return Effect.void
      this.closedBy = "local"
      this.closedCode = code
      this.closedReason = reason
      const deadline = this.closeTimeout
      const handshake = Effect.andThen(
        this.sender.close(code, reason),
        Effect.suspend(() => {
          // the peer's close may have arrived while our frame was being written (state "closed")
          if (this.state === "open") this.state = "closing"
          if (this.receiving || this.running > 0) return Deferred.await(this.peerClosed)
          return this.drainUntilClose()
        })
      )
      const full = Effect.andThen(
        handshake,
        Effect.andThen(
          this.transport.end(),
          // decided after the handshake: a fiber parked in recv owns reading
          Effect.suspend(() => (this.receiving || this.running > 0 ? Effect.void : this.drainUntilEof()))
        )
      )
      return Effect.timeoutOrElse(full, {
        duration: deadline,
        orElse: () =>
          Effect.suspend(() => {
            const error = wsError(this.remoteAddress, new WebSocketTimeout({ operation: "close", after: deadline }))
            // issue #9: the stream is over even though the peer never answered — `state` said
            // "closing" for ever. Latched before the destroy, so a recv parked on the transport
            // (and every later one) reports the timeout instead of failing the stream
            this.state = "closed"
            if (!this.closeReceived) this.failure ??= error
            Deferred.doneUnsafe(this.peerClosed, Effect.void)
            return Effect.andThen(this.transport.destroy(), Effect.fail(error))
          })
      })
    })
  }

  /** Reads (discarding data messages) until the peer's close; a failure of the stream ends it. */
  private drainUntilClose(): Effect.Effect<void> {
    const loop: Effect.Effect<void> = Effect.suspend(() => {
      if (this.closeReceived || this.failure !== undefined) return Effect.void
      return Effect.matchEffect(this.recv, { onSuccess: () => loop, onFailure: () => Effect.void })
    })
    return loop
  }

  /** After the close handshake: waits for the peer's end of stream, discarding bytes. */
  private drainUntilEof(): Effect.Effect<void> {
    // failed, or another fiber holds the read slot (it will see the end of stream itself)
    if (this.failure !== undefined || this.reading) return Effect.void
    const rb = this.rb
    this.refills++
    const loop: Effect.Effect<void> = Effect.suspend(() => {
      rb.clear()
      return Effect.matchEffect(this.transport.read(rb), {
        onSuccess: (n) => {
          if (n > 0) return loop
          this.eof = true
          return Effect.void
        },
        onFailure: () => Effect.void
      })
    })
    return loop
  }

  /**
   * Scope finalizer: after a close handshake the peer started (we echoed and half-closed), give
   * it up to `closeTimeout` to end its side, so the TCP close is clean rather than a reset of
   * unread bytes. Anything else is torn down at once by the transport's own finalizer.
   */
  finish(): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.state !== "closed" || this.eof || this.receiving) return Effect.void
      return Effect.ignore(Effect.timeout(this.drainUntilEof(), this.closeTimeout))
    })
  }

  // -------------------------------------------------------------------------------------------
  // Heartbeat
  // -------------------------------------------------------------------------------------------

  heartbeat(interval: Duration.Duration, timeout: Duration.Duration): Effect.Effect<void> {
    let lastBytes = this.transport.bytesRead
    let lastChange = -1
    const tick: Effect.Effect<boolean> = Effect.flatMap(Clock.currentTimeMillis, (now) => {
      if (this.state !== "open") return Effect.succeed(false)
      if (lastChange < 0 || this.transport.bytesRead !== lastBytes) {
        lastBytes = this.transport.bytesRead
        lastChange = now
      } else if (now - lastChange >= Duration.toMillis(timeout)) {
        // dead peer: latch the timeout, then destroy so a parked recv wakes up and reports it
        this.failure ??= wsError(this.remoteAddress, new WebSocketTimeout({ operation: "heartbeat", after: timeout }))
        this.state = "failed"
        Deferred.doneUnsafe(this.peerClosed, Effect.void)
        return Effect.as(this.transport.destroy(), false)
      }
      return Effect.as(Effect.ignore(this.send(FrameWriter.Kind.Ping, EMPTY)), true)
    })
    const loop: Effect.Effect<void> = Effect.flatMap(
      Effect.andThen(Effect.sleep(interval), tick),
      (again) => (again ? loop : Effect.void)
    )
    // the first tick records the starting point without waiting
    return Effect.andThen(tick, loop)
  }
}

/**
 * Opens the stream over `transport` once the handshake agreed the upgrade: `leftover` holds the
 * bytes that arrived behind the handshake head. Registers the graceful-finish finalizer (it runs
 * before the transport's), then starts the heartbeat fiber when asked.
 */
export const open = (
  role: "client" | "server",
  transport: Transport,
  agreed: Agreed,
  options: OpenOptions,
  maskSource: MaskSource.MaskSource | undefined
): Effect.Effect<WebSocketImpl, never, Scope.Scope> => {
  const socket = new WebSocketImpl(role, transport, agreed, options, maskSource)
  socket.feedLeftover(agreed.leftover)
  const release = Effect.addFinalizer(() => Effect.sync(() => socket.releaseCompression()))
  // finalizers run last-in first: the graceful finish (which may still read) before the zlib release
  return Effect.andThen(
    Effect.andThen(release, Effect.addFinalizer(() => socket.finish())),
    startHeartbeat(socket, options)
  )
}

/** What `open` reads: the stream options and the role's `compression` setting. */
export type OpenOptions = StreamOptions & { readonly compression?: boolean | CompressionOptions | undefined }

/** Throws `RangeError` for a setting outside `min`–`max` (caller misuse, like the reader's limits). */
const checkRange = (name: string, value: number, min: number, max: number): number => {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`WebSocket compression.${name} must be an integer from ${min} to ${max}, got ${value}`)
  }
  return value
}

/**
 * Our compressor's settings: our role's window and context rule as agreed, the tuning as
 * configured (checked here, at the handshake, not at the first compressed send).
 */
const senderCompression = (role: "client" | "server", agreed: PerMessageDeflate.Agreed, config: CompressionOptions) => {
  const level = checkRange("level", config.level ?? DEFAULT_COMPRESSION_LEVEL, 0, 9)
  const memLevel = checkRange("memLevel", config.memLevel ?? DEFAULT_COMPRESSION_MEM_LEVEL, 1, 9)
  const threshold = checkRange("threshold", config.threshold ?? DEFAULT_COMPRESSION_THRESHOLD, 0, Number.MAX_SAFE_INTEGER)
  return {
    threshold,
    make: () =>
      new Deflater({
        windowBits: role === "client" ? agreed.clientMaxWindowBits : agreed.serverMaxWindowBits,
        noContextTakeover: role === "client" ? agreed.clientNoContextTakeover : agreed.serverNoContextTakeover,
        level,
        memLevel
      })
  }
}

const startHeartbeat = (socket: WebSocketImpl, options: StreamOptions): Effect.Effect<WebSocketImpl, never, Scope.Scope> =>
  options.heartbeat === undefined
    ? Effect.succeed(socket)
    : Effect.as(
      Effect.forkScoped(
        socket.heartbeat(
          Duration.fromInputUnsafe(options.heartbeat.interval),
          Duration.fromInputUnsafe(options.heartbeat.timeout)
        )
      ),
      socket
    )
