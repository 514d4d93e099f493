/**
 * `Memory` — two connected in-process `Transport` ends, no sockets, for tests.
 *
 * Each direction is a bounded pipe: a `write` copies bytes in while there is room (`capacity`,
 * default 64 KiB) and waits for the peer to `read` when it is full — so sender backpressure can
 * be tested. Fault hooks, all driven through Effect so `TestClock` controls time:
 *
 * - `delay`: every written byte becomes readable `delay` after its `write` (Effect `Clock`), so
 *   a reader parks until `TestClock.adjust` moves past it.
 * - `chunkSize`: at most this many bytes per `read` (`1` delivers bytes one at a time).
 * - `end()`: half-close; the peer reads the buffered bytes, then `0`; the ended side keeps reading.
 * - `destroy()`: the peer reads what was buffered, then `0`; its writes fail `WriteError`
 *   kind `"BrokenPipe"`. This side's pending and later calls fail `TransportClosed`.
 * - `Pair.drop()`: a reset — buffered bytes are discarded, both ends become `"destroyed"`, and
 *   both sides' reads and writes (pending and later) fail with kind `"Reset"`.
 *
 * Closure is observable: `state`, `peerEnded`, `buffered`, and `awaitClosed`. The pair's scope
 * destroys both ends when it closes. Written bytes are copied, so callers may reuse their buffers.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { ReadBuf } from "../Codec/ReadBuf.ts"
import {
  copyInto,
  type InboundState,
  ReadError,
  type Transport,
  TransportClosed,
  type TransportError,
  transportError,
  TypeId,
  WriteError
} from "./Transport.ts"

/**
 * Default bytes each direction buffers before `write` waits: 64 KiB.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_CAPACITY = 64 * 1024

/**
 * Options for {@link pair}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Bytes each direction buffers before `write` waits for the peer to read. Default 64 KiB. */
  readonly capacity?: number | undefined
  /** Delivery delay of every write (measured with Effect's `Clock`). Default 0. */
  readonly delay?: Duration.Input | undefined
  /** Largest number of bytes one `read` returns; `1` delivers byte by byte. Default unlimited. */
  readonly chunkSize?: number | undefined
  /** The two ends' `remoteAddress` values. Default `["memory:server", "memory:client"]`. */
  readonly addresses?: readonly [client: string, server: string] | undefined
}

/**
 * Local state of a memory end: `"open"`, `"ended"` (this side half-closed) or `"destroyed"`.
 *
 * @since 0.1.0
 * @category models
 */
export type State = "open" | "ended" | "destroyed"

/**
 * One end of a memory pair: a `Transport` plus observers for tests.
 *
 * @since 0.1.0
 * @category models
 */
export interface MemoryTransport extends Transport {
  /** This side's state. */
  readonly state: State
  /** Whether the peer half-closed or destroyed its end (this side reads `0` once drained). */
  readonly peerEnded: boolean
  /** Bytes this side wrote that the peer has not read yet. */
  readonly buffered: number
  /** The inbound side as `Transport.inboundState` defines it (always present on a memory end). */
  readonly inboundState: InboundState
  /** Completes once this end is destroyed (by `destroy`, `drop` or the pair's scope). */
  readonly awaitClosed: Effect.Effect<void>
}

/**
 * Two connected ends and the reset hook.
 *
 * @since 0.1.0
 * @category models
 */
export interface Pair {
  readonly client: MemoryTransport
  readonly server: MemoryTransport
  /** Resets the connection: buffered bytes vanish, both sides' reads and writes fail kind `"Reset"`. */
  drop(): Effect.Effect<void>
}

/** Wakes every fiber parked on it; waiters re-check their condition. */
class Signal {
  readonly waiters: Set<(effect: Effect.Effect<void>) => void>
  /** Parks until the next `notify`. */
  readonly wait: Effect.Effect<void>
  constructor() {
    const waiters = new Set<(effect: Effect.Effect<void>) => void>()
    this.waiters = waiters
    this.wait = Effect.callback<void>((resume) => {
      waiters.add(resume)
      return Effect.sync(() => {
        waiters.delete(resume)
      })
    })
  }
  notify(): void {
    if (this.waiters.size === 0) return
    const waiters = [...this.waiters]
    this.waiters.clear()
    for (const resume of waiters) resume(Effect.void)
  }
}

interface Segment {
  readonly bytes: Uint8Array
  offset: number
  /** Clock time (ms) from which the bytes are readable. */
  readonly at: number
}

/** One direction. */
class Pipe {
  readonly segments: Array<Segment>
  buffered: number
  /** The writing end half-closed or was destroyed. */
  writerDone: boolean
  /** The reading end was destroyed: writes fail BrokenPipe. */
  readerGone: boolean
  dropped: boolean
  readonly readable: Signal
  readonly writable: Signal
  constructor() {
    this.segments = []
    this.buffered = 0
    this.writerDone = false
    this.readerGone = false
    this.dropped = false
    this.readable = new Signal()
    this.writable = new Signal()
  }
  wakeAll(): void {
    this.readable.notify()
    this.writable.notify()
  }
}

class End implements MemoryTransport {
  readonly [TypeId] = TypeId
  readonly remoteAddress: string
  bytesWritten: number
  bytesRead: number
  state: State
  readonly closed: Signal
  private readonly input: Pipe
  private readonly output: Pipe
  private readonly capacity: number
  private readonly delayMs: number
  private readonly chunkSize: number

  constructor(remoteAddress: string, input: Pipe, output: Pipe, options: Options) {
    this.remoteAddress = remoteAddress
    this.bytesWritten = 0
    this.bytesRead = 0
    this.state = "open"
    this.closed = new Signal()
    this.input = input
    this.output = output
    this.capacity = options.capacity ?? DEFAULT_CAPACITY
    this.delayMs = options.delay === undefined ? 0 : Duration.toMillis(options.delay)
    this.chunkSize = options.chunkSize ?? Number.POSITIVE_INFINITY
  }

  get peerEnded(): boolean {
    return this.input.writerDone
  }

  get buffered(): number {
    return this.output.buffered
  }

  /** See `Transport.inboundState`; bytes still held back by `delay` count as buffered. */
  get inboundState(): InboundState {
    if (this.state === "destroyed") return this.input.dropped ? "Failed" : "Closed"
    if (this.input.dropped) return "Failed"
    if (this.input.segments.length > 0) return "Readable"
    return this.input.writerDone ? "Ended" : "Open"
  }

  get awaitClosed(): Effect.Effect<void> {
    return Effect.suspend(() => this.state === "destroyed" ? Effect.void : Effect.andThen(this.closed.wait, this.awaitClosed))
  }

  /** Copies visible bytes into `buf`; `undefined` when none are visible yet. */
  private take(buf: ReadBuf, now: number): number | undefined {
    const pipe = this.input
    let total = 0
    while (pipe.segments.length > 0 && total < this.chunkSize) {
      const segment = pipe.segments[0]!
      if (segment.at > now) break
      const want = Math.min(segment.bytes.length - segment.offset, this.chunkSize - total)
      const n = copyInto(buf, segment.bytes.subarray(segment.offset, segment.offset + want))
      if (n < 0) break
      segment.offset += n
      total += n
      if (segment.offset === segment.bytes.length) pipe.segments.shift()
      if (n < want) break // buf is full
    }
    if (total === 0) return undefined
    pipe.buffered -= total
    this.bytesRead += total
    pipe.writable.notify()
    return total
  }

  read(buf: ReadBuf): Effect.Effect<number, TransportError> {
    const loop: Effect.Effect<number, TransportError> = Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const pipe = this.input
      if (pipe.dropped) {
        return Effect.fail(
          transportError(this.remoteAddress, new ReadError({ kind: "Reset", cause: new Error("memory pair dropped") }))
        )
      }
      if (this.state === "destroyed") {
        return Effect.fail(transportError(this.remoteAddress, new TransportClosed({ operation: "read" })))
      }
      if (pipe.segments.length > 0) {
        const n = this.take(buf, now)
        if (n !== undefined) return Effect.succeed(n)
        const head = pipe.segments[0]!
        if (head.at <= now) {
          return Effect.fail(transportError(this.remoteAddress, new ReadError({ kind: "BufferFull" })))
        }
        // not visible yet: sleep until it is, unless a fault or close wakes us first
        return Effect.andThen(Effect.raceFirst(Effect.sleep(head.at - now), pipe.readable.wait), loop)
      }
      if (pipe.writerDone) return Effect.succeed(0)
      return Effect.andThen(pipe.readable.wait, loop)
    })
    return loop
  }

  write(bytes: Uint8Array): Effect.Effect<void, TransportError> {
    return this.writeFrom(bytes.slice(), 0)
  }

  private writeFrom(bytes: Uint8Array, offset: number): Effect.Effect<void, TransportError> {
    return Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const pipe = this.output
      if (pipe.dropped) {
        return Effect.fail(
          transportError(this.remoteAddress, new WriteError({ kind: "Reset", cause: new Error("memory pair dropped") }))
        )
      }
      if (this.state !== "open") {
        return Effect.fail(transportError(this.remoteAddress, new TransportClosed({ operation: "write" })))
      }
      if (pipe.readerGone) {
        return Effect.fail(
          transportError(this.remoteAddress, new WriteError({ kind: "BrokenPipe", cause: new Error("peer destroyed") }))
        )
      }
      if (offset === bytes.length) return Effect.void
      const room = this.capacity - pipe.buffered
      if (room <= 0) return Effect.andThen(pipe.writable.wait, this.writeFrom(bytes, offset))
      const n = Math.min(room, bytes.length - offset)
      pipe.segments.push({ bytes: bytes.subarray(offset, offset + n), offset: 0, at: now + this.delayMs })
      pipe.buffered += n
      this.bytesWritten += n
      pipe.readable.notify()
      return n === bytes.length - offset ? Effect.void : this.writeFrom(bytes, offset + n)
    })
  }

  writev(chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, TransportError> {
    let total = 0
    for (const chunk of chunks) total += chunk.length
    const joined = new Uint8Array(total)
    let offset = 0
    for (const chunk of chunks) {
      joined.set(chunk, offset)
      offset += chunk.length
    }
    return this.writeFrom(joined, 0)
  }

  end(): Effect.Effect<void> {
    return Effect.sync(() => {
      if (this.state !== "open") return
      this.state = "ended"
      this.output.writerDone = true
      this.output.wakeAll()
    })
  }

  destroyNow(): void {
    if (this.state === "destroyed") return
    this.state = "destroyed"
    this.output.writerDone = true
    this.input.readerGone = true
    this.input.wakeAll()
    this.output.wakeAll()
    this.closed.notify()
  }

  destroy(): Effect.Effect<void> {
    return Effect.sync(() => this.destroyNow())
  }

  /** Resets both directions as seen from this end, then closes it. */
  dropNow(): void {
    for (const pipe of [this.input, this.output]) {
      pipe.dropped = true
      pipe.segments.length = 0
      pipe.buffered = 0
    }
    this.destroyNow()
  }
}

/**
 * Creates two connected ends. Closing the scope destroys both. Defaults: 64 KiB per direction,
 * no delay, unlimited read size.
 *
 * @since 0.1.0
 * @category constructors
 */
export const pair = (options: Options = {}): Effect.Effect<Pair, never, Scope.Scope> => {
  const [clientAddress, serverAddress] = options.addresses ?? ["memory:server", "memory:client"]
  const toServer = new Pipe()
  const toClient = new Pipe()
  const client = new End(clientAddress, toClient, toServer, options)
  const server = new End(serverAddress, toServer, toClient, options)
  const drop = () =>
    Effect.sync(() => {
      client.dropNow()
      server.dropNow()
    })
  return Effect.as(
    Effect.addFinalizer(() =>
      Effect.sync(() => {
        client.destroyNow()
        server.destroyNow()
      })
    ),
    { client, server, drop }
  )
}
