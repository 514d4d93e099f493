/**
 * The send serializer of a WebSocket: frames from several fibers reach the transport one write
 * at a time, so they never interleave, and frames sent while a write is in flight leave together.
 *
 * **One copy.** A frame is encoded straight into the connection's send slab (`writeBufferCapacity`
 * bytes, default 8 KiB): the payload copied once (and, in the client role, masked there), the
 * header written in front, and that range handed to the transport. A Node socket may keep a
 * region until the kernel takes it, so the slab is filled front to back and started over only
 * when no frame waits in it and the transport says it keeps none of its bytes (`release`);
 * otherwise a fresh slab is taken and the old one is left to the regions still in flight.
 *
 * **No copy above the slab.** A server's binary (or bytes-as-text) message that does not fit a
 * slab, uncompressed and unfragmented, sent while the slot is free, goes gathered: its header into
 * the slab, then the caller's payload uncopied (`transport.writeBorrowed`); the send completes
 * once Node has let go of the payload. Otherwise (a client masks; a string; a write in flight) it
 * is framed into a buffer of its own. Either way the caller may reuse its payload (or it may be a
 * `recv` view that the next read overwrites) as soon as the send returns.
 *
 * **Synchronous sends and batches.** When the transport is free a frame goes to the transport's
 * `writeNow` and, accepted, the send completes in the same step with a cached `Effect.void` — no
 * write Effect, no fiber suspension. The transport writes the tick's first frame at once and
 * holds the later ones, one socket write when the tick ends (see `SocketTransport.writeNow`).
 *
 * **Group writes.** While a write is in flight — Node's buffer is full and we wait for
 * `'drain'`, or another fiber's send is being written — later frames queue and leave together in
 * one write (one `writev` of the regions, adjacent slab regions merged into one), each send
 * completing when the write that carries its frame does. A send interrupted while it waits is
 * taken out of the group and its frame is never written.
 *
 * **Compression.** With permessage-deflate agreed, a text or binary message of at least
 * `threshold` bytes (UTF-16 units for a string) is deflated first (synchronously, into the
 * compressor's own buffer; a string is first written as UTF-8 into a scratch buffer, not a fresh
 * one) and that is framed with RSV1 into the slab as above; shorter ones and control frames go
 * out as they are. The compressor is made on the first compressed send.
 *
 * A failed or interrupted write poisons the sender: every later write fails at once with
 * `ConnectionPoisoned` naming the first failure, and `onPoisoned` tells the stream. After the
 * close frame (`closeSent`) the stream sends nothing but what it already decided to.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as FrameWriter from "../../Codec/FrameWriter.ts"
import type * as MaskSource from "../../Codec/MaskSource.ts"
import type { Deflater } from "./webSocketDeflate.ts"
import type { Transport, TransportError } from "../Transport.ts"
import { ConnectionPoisoned } from "../Transport.ts"
import type { WebSocketErrorReason } from "./webSocketErrors.ts"
import { fromTransport, InvalidMessage, type WebSocketError, WriteInterrupted, wsError } from "./webSocketErrors.ts"

const EMPTY = Buffer.alloc(0)

type Waiter = (effect: Effect.Effect<void, WebSocketError>) => void

/** The waiter of a queued frame whose send was interrupted but which must still be written. */
const ignoreOutcome: Waiter = () => {}

/** What a {@link Sender} is made with. */
export interface SenderOptions {
  readonly role: "client" | "server"
  /** The client's key source (required for the client role). */
  readonly maskSource: MaskSource.MaskSource | undefined
  readonly fragmentSize: number | undefined
  /** Bytes per send slab. */
  readonly writeBufferCapacity: number
  /** Called once, when the first write fails or is interrupted. */
  readonly onPoisoned: () => void
  /** permessage-deflate: the size from which messages are compressed, and how to make the compressor. */
  readonly compression: { readonly threshold: number; readonly make: () => Deflater } | undefined
}

/**
 * `chunks` with every run of regions that sit back to back in one buffer merged into one view
 * (frames encoded one after another into the same slab), so a group is one region when it can be.
 */
const mergeAdjacent = (chunks: ReadonlyArray<Uint8Array>): Array<Uint8Array> => {
  const out: Array<Uint8Array> = []
  let first = chunks[0]!
  let end = first.byteOffset + first.length
  for (let i = 1; i < chunks.length; i++) {
    const next = chunks[i]!
    if (next.buffer === first.buffer && next.byteOffset === end) {
      end += next.length
      continue
    }
    out.push(end === first.byteOffset + first.length ? first : Buffer.from(first.buffer, first.byteOffset, end - first.byteOffset))
    first = next
    end = next.byteOffset + next.length
  }
  out.push(end === first.byteOffset + first.length ? first : Buffer.from(first.buffer, first.byteOffset, end - first.byteOffset))
  return out
}

/** One connection's send side: the frame encoder, the send slab and the write slot. */
export class Sender {
  private readonly transport: Transport
  /** The transport's `writeNow`, when it has one. */
  private readonly writeSync:
    | ((buffer: Uint8Array, start: number, end: number) => Effect.Effect<void, TransportError> | undefined)
    | undefined
  /** The transport's `release`, when it has one. */
  private readonly release: (() => boolean) | undefined
  /** The transport's `writeBorrowed`, when it has one (server role only: a client's payload is masked in a copy). */
  private readonly lend: ((chunks: ReadonlyArray<Uint8Array>) => Effect.Effect<void, TransportError> | undefined) | undefined
  private readonly address: string
  private readonly writer: FrameWriter.FrameWriter
  private readonly onPoisoned: () => void
  /** The first write failure; later writes fail with ConnectionPoisoned. */
  failure: WebSocketErrorReason | undefined
  /** The close frame has been handed to the write slot. */
  closeSent: boolean
  private readonly slabSize: number
  /** Where frames are encoded, front to back; regions before `at` may still be in flight. */
  private slab: Buffer
  private at: number
  /** A transport write is in flight. */
  private writing: boolean
  /** Frames waiting for the next group write, and the sends waiting on each (same index). */
  private pending: Array<Uint8Array>
  private waiters: Array<Waiter>
  /** Messages at least this long are compressed (Infinity: compression off). */
  private readonly threshold: number
  private readonly makeDeflater: (() => Deflater) | undefined
  private deflater: Deflater | undefined
  /** UTF-8 of a string about to be compressed. */
  private scratch: Buffer

  constructor(transport: Transport, options: SenderOptions) {
    this.transport = transport
    this.writeSync = transport.writeNow
    this.lend = options.role === "server" ? transport.writeBorrowed : undefined
    this.release = transport.release
    this.address = transport.remoteAddress
    this.writer = options.role === "client"
      ? FrameWriter.make({ role: "client", maskSource: options.maskSource!, fragmentSize: options.fragmentSize })
      : FrameWriter.make({ role: "server", fragmentSize: options.fragmentSize })
    this.onPoisoned = options.onPoisoned
    this.failure = undefined
    this.closeSent = false
    this.slabSize = Math.max(options.writeBufferCapacity, 2 * FrameWriter.MAX_HEADER_SIZE)
    this.slab = Buffer.allocUnsafeSlow(this.slabSize)
    this.at = 0
    this.writing = false
    this.pending = []
    this.waiters = []
    this.threshold = options.compression?.threshold ?? Infinity
    this.makeDeflater = options.compression?.make
    this.deflater = undefined
    this.scratch = EMPTY
  }

  /** Frees the compressor's zlib state, if one was made. */
  releaseCompression(): void {
    this.deflater?.close()
    this.deflater = undefined
  }

  /** The error of a send after the first write failure. */
  poisoned(): WebSocketError {
    return wsError(this.address, new ConnectionPoisoned({ cause: this.failure! }))
  }

  /** Encodes and writes one message (no state checks: the stream makes them). */
  frame(kind: FrameWriter.Kind, payload: string | Uint8Array): Effect.Effect<void, WebSocketError> {
    if (payload.length >= this.threshold && kind < 8) return this.compressed(kind, payload)
    // bytes that cannot fit a slab skip the attempt (and the BufferTooSmall it would build)
    if (typeof payload !== "string" && this.writer.frameLength(payload.length) > this.slabSize) {
      return this.large(kind, payload)
    }
    let n = this.writer.encodeInto(this.slab, this.at, kind, payload)
    if (typeof n !== "number") {
      if (n._tag !== "BufferTooSmall") return this.invalid(n.message)
      if (n.needed > this.slabSize) return this.large(kind, payload)
      this.nextSlab()
      n = this.writer.encodeInto(this.slab, 0, kind, payload)
      if (typeof n !== "number") return this.invalid(n.message)
    }
    return this.writeSlab(n)
  }

  /** Deflates a data message and frames it with RSV1, into the slab or (larger) a buffer of its own. */
  private compressed(kind: FrameWriter.Kind, payload: string | Uint8Array): Effect.Effect<void, WebSocketError> {
    const deflater = this.deflater ??= this.makeDeflater!()
    let bytes: Uint8Array
    if (typeof payload === "string") {
      if (this.scratch.length < payload.length * 3) this.scratch = Buffer.allocUnsafeSlow(Math.max(4096, payload.length * 3))
      bytes = this.scratch.subarray(0, this.scratch.write(payload, 0, "utf8"))
    } else {
      bytes = payload
    }
    const length = deflater.deflate(bytes)
    if (typeof length === "string") return this.invalid(`compression failed: ${length}`)
    const deflated = deflater.out.subarray(0, length)
    let n = this.writer.encodeCompressedInto(this.slab, this.at, kind, deflated)
    if (typeof n !== "number") {
      if (n._tag !== "BufferTooSmall") return this.invalid(n.message)
      if (n.needed > this.slabSize) {
        const dst = Buffer.allocUnsafe(n.needed)
        const written = this.writer.encodeCompressedInto(dst, 0, kind, deflated)
        if (typeof written !== "number") return this.invalid(written.message)
        return this.write(dst, 0, written, deflater.keepsContext)
      }
      this.nextSlab()
      n = this.writer.encodeCompressedInto(this.slab, 0, kind, deflated)
      if (typeof n !== "number") return this.invalid(n.message)
    }
    return this.writeSlab(n, deflater.keepsContext)
  }

  /** Encodes and writes a close frame, and marks it sent (no state checks). */
  close(code: number | undefined, reason: string): Effect.Effect<void, WebSocketError> {
    let n = this.writer.encodeCloseInto(this.slab, this.at, code, reason)
    if (typeof n !== "number" && n._tag === "BufferTooSmall") {
      this.nextSlab()
      n = this.writer.encodeCloseInto(this.slab, 0, code, reason)
    }
    if (typeof n !== "number") return this.invalid(n.message)
    this.closeSent = true
    return this.writeSlab(n)
  }

  private invalid(detail: string): Effect.Effect<never, WebSocketError> {
    return Effect.fail(wsError(this.address, new InvalidMessage({ detail })))
  }

  /** Claims the `n` bytes just encoded at `at` for the transport; returns where they start. */
  private claim(n: number): number {
    const at = this.at
    this.at = at + n
    return at
  }

  /** Writes the `n` bytes just encoded at `at` (no view made unless the write needs one). */
  private writeSlab(n: number, mustWrite: boolean = false): Effect.Effect<void, WebSocketError> {
    const at = this.claim(n)
    return this.write(this.slab, at, at + n, mustWrite)
  }

  /**
   * Room for the next frame: the same slab from its start when no frame waits in it and the
   * transport keeps none of its regions any more (the kernel took them: no allocation, and the slab stays in cache), else a
   * fresh one.
   */
  private nextSlab(): void {
    // while a write is in flight, queued frames still sit in the slab, not yet handed over
    if (this.writing || this.pending.length > 0 || this.release === undefined || !this.release()) this.slab = Buffer.allocUnsafeSlow(this.slabSize)
    this.at = 0
  }

  /** A message that does not fit a slab: gathered when it can be, else framed into a buffer of its own. */
  private large(kind: FrameWriter.Kind, payload: string | Uint8Array): Effect.Effect<void, WebSocketError> {
    return this.lend === undefined || this.writing || this.pending.length > 0 || typeof payload === "string" || kind >= 8 ||
        payload.length > this.writer.fragmentSize
      ? this.frameAlone(kind, payload)
      : this.gathered(kind, payload, this.lend)
  }

  /**
   * A server's message larger than a slab, sent uncopied while the slot is free: the header into
   * the slab, then the caller's payload behind it in one gathered write. The send completes once
   * the socket has let go of the payload (at once when the kernel took it all), so the caller may
   * reuse it when the send returns, as for a copied one.
   */
  private gathered(
    kind: FrameWriter.Kind,
    payload: Uint8Array,
    lend: (chunks: ReadonlyArray<Uint8Array>) => Effect.Effect<void, TransportError> | undefined
  ): Effect.Effect<void, WebSocketError> {
    let h = this.writer.encodeHeaderInto(this.slab, this.at, kind, payload.length)
    if (typeof h !== "number") {
      this.nextSlab()
      h = this.writer.encodeHeaderInto(this.slab, 0, kind, payload.length) as number
    }
    const at = this.claim(h)
    const wait = lend([this.slab.subarray(at, at + h), payload])
    if (wait === undefined) return Effect.void
    this.writing = true
    return this.track(wait)
  }

  /** A message larger than a slab, framed into a buffer of its own. */
  private frameAlone(kind: FrameWriter.Kind, payload: string | Uint8Array): Effect.Effect<void, WebSocketError> {
    const length = typeof payload === "string" ? Buffer.byteLength(payload) : payload.length
    const dst = Buffer.allocUnsafe(kind < 8 ? this.writer.frameLength(length) : FrameWriter.MAX_HEADER_SIZE + length)
    const written = this.writer.encodeInto(dst, 0, kind, payload)
    if (typeof written !== "number") return this.invalid(written.message)
    return this.write(dst, 0, written)
  }

  /**
   * Writes `buffer[start, end)` now when the slot is free; otherwise joins the next group write.
   * Any failure poisons. A send interrupted while it waits takes its frame out of the group,
   * unless `mustWrite`: a message deflated with context takeover is already in the compressor's
   * window, so it stays queued and is written (the interrupted send just stops waiting for it).
   */
  private write(buffer: Uint8Array, start: number, end: number, mustWrite: boolean = false): Effect.Effect<void, WebSocketError> {
    if (!this.writing && this.pending.length === 0) {
      // the synchronous path: accepted at once, the send is done with no write to wait on
      const wait = this.writeSync === undefined
        ? this.transport.write(buffer.subarray(start, end))
        : this.writeSync(buffer, start, end)
      if (wait === undefined) return Effect.void
      this.writing = true
      return this.track(wait)
    }
    const bytes = buffer.subarray(start, end)
    return Effect.callback<void, WebSocketError>((resume) => {
      this.pending.push(bytes)
      this.waiters.push(resume)
      // frames left queued by interrupted sends (`mustWrite`) and no write in flight: this send
      // carries them and its own
      if (!this.writing) {
        this.writing = true
        this.releaseWrite()
      }
      // interrupted while waiting: the frame leaves the group, unwritten — unless the peer's
      // inflater needs it (context takeover), then it stays, with a waiter that nobody awaits
      return Effect.sync(() => {
        const i = this.waiters.indexOf(resume)
        if (i < 0) return
        if (mustWrite) {
          this.waiters[i] = ignoreOutcome
        } else {
          this.waiters.splice(i, 1)
          this.pending.splice(i, 1)
        }
      })
    })
  }

  private track(write: Effect.Effect<void, TransportError>): Effect.Effect<void, WebSocketError> {
    return Effect.onExit(Effect.mapError(write, fromTransport), this.afterWrite)
  }

  private readonly afterWrite = (exit: Exit.Exit<void, WebSocketError>) =>
    Effect.sync(() => {
      if (exit._tag === "Failure" && this.failure === undefined) {
        // a failed or interrupted write may have left a partial frame on the wire
        const failure = Cause.findError(exit.cause)
        this.failure = failure._tag === "Success" ? failure.success.reason : new WriteInterrupted()
        this.onPoisoned()
      }
      this.releaseWrite()
    })

  /**
   * Starts the next group write, or frees the slot. The first waiting send's fiber carries the
   * group's write; the others complete with its outcome. After a failure they all fail fast.
   */
  private releaseWrite(): void {
    const waiters = this.waiters
    if (waiters.length === 0) {
      this.writing = false
      return
    }
    if (this.failure !== undefined) {
      this.pending = []
      this.waiters = []
      this.writing = false
      const poisoned = Effect.fail(this.poisoned())
      for (const wake of waiters) wake(poisoned)
      return
    }
    // the carrier is a send still waiting; frames whose sends were interrupted but must be
    // written (`mustWrite`) wait for the next send to carry them
    const carrier = waiters.findIndex((wake) => wake !== ignoreOutcome)
    if (carrier < 0) {
      this.writing = false
      return
    }
    const chunks = this.pending
    this.pending = []
    this.waiters = []
    const merged = chunks.length === 1 ? chunks : mergeAdjacent(chunks)
    const write = this.track(merged.length === 1 ? this.transport.write(merged[0]!) : this.transport.writev(merged))
    if (waiters.length === 1) return waiters[0]!(write)
    waiters[carrier]!(Effect.onExit(write, (exit) =>
      Effect.sync(() => {
        // the others share the write's outcome; an interrupted carrier is their poisoning, not theirs to report as an interrupt
        const error = exit._tag === "Failure" ? Cause.findError(exit.cause) : undefined
        const outcome = error === undefined ? exit : Effect.fail(error._tag === "Success" ? error.success : this.poisoned())
        for (let i = 0; i < waiters.length; i++) if (i !== carrier) waiters[i]!(outcome)
      })))
  }
}
