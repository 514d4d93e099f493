/**
 * The send serializer of a WebSocket: encodes one frame (or a fragmented message) at a time and
 * hands it to the transport, so frames from several fibers never interleave.
 *
 * Each frame is encoded into the reused write buffer and copied once into a fresh pooled
 * `Buffer` handed to the transport (a Node socket may keep that buffer until the kernel takes
 * it, so the reused one could not be handed over); a message over the write buffer's capacity
 * is framed straight into a buffer of its own. A failed or interrupted write poisons the
 * sender: every later write fails at once with `ConnectionPoisoned` naming the first failure,
 * and `onPoisoned` tells the stream. After the close frame (`closeSent`) the stream sends
 * nothing but what it already decided to.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as FrameWriter from "../../Codec/FrameWriter.ts"
import type * as MaskSource from "../../Codec/MaskSource.ts"
import * as WriteBuf from "../../Codec/WriteBuf.ts"
import type { Transport } from "../Transport.ts"
import { ConnectionPoisoned } from "../Transport.ts"
import type { WebSocketErrorReason } from "./webSocketErrors.ts"
import { fromTransport, InvalidMessage, type WebSocketError, WriteInterrupted, wsError } from "./webSocketErrors.ts"

/** Copies `bytes` into a fresh (pooled for small sizes) Buffer the transport may keep. */
const owned = (bytes: Uint8Array): Buffer => {
  const copy = Buffer.allocUnsafe(bytes.length)
  copy.set(bytes)
  return copy
}

type Waiter = (effect: Effect.Effect<void>) => void

/** What a {@link Sender} is made with. */
export interface SenderOptions {
  readonly role: "client" | "server"
  /** The client's key source (required for the client role). */
  readonly maskSource: MaskSource.MaskSource | undefined
  readonly fragmentSize: number | undefined
  readonly writeBufferCapacity: number
  /** Called once, when the first write fails or is interrupted. */
  readonly onPoisoned: () => void
}

/** One connection's send side: the frame encoder, the reused write buffer and the write slot. */
export class Sender {
  private readonly transport: Transport
  private readonly address: string
  private readonly writer: FrameWriter.FrameWriter
  private readonly wb: WriteBuf.WriteBuf
  private readonly onPoisoned: () => void
  /** The first write failure; later writes fail with ConnectionPoisoned. */
  failure: WebSocketErrorReason | undefined
  /** The close frame has been handed to the write slot. */
  closeSent: boolean
  private writing: boolean
  private readonly writeWaiters: Array<Waiter>

  constructor(transport: Transport, options: SenderOptions) {
    this.transport = transport
    this.address = transport.remoteAddress
    this.writer = options.role === "client"
      ? FrameWriter.make({ role: "client", maskSource: options.maskSource!, fragmentSize: options.fragmentSize })
      : FrameWriter.make({ role: "server", fragmentSize: options.fragmentSize })
    this.wb = WriteBuf.make({ capacity: options.writeBufferCapacity })
    this.onPoisoned = options.onPoisoned
    this.failure = undefined
    this.closeSent = false
    this.writing = false
    this.writeWaiters = []
  }

  /** The error of a send after the first write failure. */
  poisoned(): WebSocketError {
    return wsError(this.address, new ConnectionPoisoned({ cause: this.failure! }))
  }

  /** Encodes and writes one message (no state checks: the stream makes them). */
  frame(kind: FrameWriter.Kind, payload: string | Uint8Array): Effect.Effect<void, WebSocketError> {
    const n = this.writer.encode(this.wb, kind, payload)
    if (typeof n === "number") return this.write(owned(this.wb.data()))
    if (n._tag !== "BufferTooSmall") return Effect.fail(wsError(this.address, new InvalidMessage({ detail: n.message })))
    // larger than the write buffer: frame it into a buffer of its own
    const length = typeof payload === "string" ? Buffer.byteLength(payload) : payload.length
    const frames = this.writer.fragmentSize >= length ? 1 : Math.ceil(length / this.writer.fragmentSize)
    const dst = Buffer.allocUnsafe(length + frames * FrameWriter.MAX_HEADER_SIZE)
    const written = this.writer.encodeInto(dst, 0, kind, payload)
    if (typeof written !== "number") {
      return Effect.fail(wsError(this.address, new InvalidMessage({ detail: written.message })))
    }
    return this.write(dst.subarray(0, written))
  }

  /** Encodes and writes a close frame, and marks it sent (no state checks). */
  close(code: number | undefined, reason: string): Effect.Effect<void, WebSocketError> {
    const n = this.writer.encodeClose(this.wb, code, reason)
    if (typeof n !== "number") return Effect.fail(wsError(this.address, new InvalidMessage({ detail: n.message })))
    this.closeSent = true
    return this.write(owned(this.wb.data()))
  }

  /** Serialized write: one frame at a time reaches the transport; any failure poisons. */
  private write(bytes: Uint8Array): Effect.Effect<void, WebSocketError> {
    if (this.writing) {
      return Effect.andThen(
        Effect.callback<void>((resume) => {
          this.writeWaiters.push(resume)
          return Effect.sync(() => {
            const i = this.writeWaiters.indexOf(resume)
            if (i >= 0) this.writeWaiters.splice(i, 1)
          })
        }),
        Effect.suspend(() => {
          if (this.failure !== undefined) {
            this.releaseWrite()
            return Effect.fail(this.poisoned())
          }
          return this.writeNow(bytes)
        })
      )
    }
    this.writing = true
    return this.writeNow(bytes)
  }

  private writeNow(bytes: Uint8Array): Effect.Effect<void, WebSocketError> {
    return Effect.onExit(Effect.mapError(this.transport.write(bytes), fromTransport), this.afterWrite)
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

  /** Hands the write slot to the next waiter (which re-checks poisoning), or frees it. */
  private releaseWrite(): void {
    const next = this.writeWaiters.shift()
    if (next === undefined) this.writing = false
    else next(Effect.void)
  }
}
