/**
 * `FromSocket` — a `Transport` over an `effect/socket` `Socket`, so the codecs run over whatever
 * socket an Effect program already has (`NodeSocket.makeNet`, `makeTls`, a test socket...).
 *
 * The adapter acquires the socket's `reader` and `writer` in child scopes of the caller's scope:
 * closing the reader scope ends the connection (and fails a parked `pull`, per the `Socket`
 * contract), closing the writer scope half-closes. `pull` yields batches of chunks; `read` copies
 * them into the caller's `ReadBuf` and keeps what does not fit for the next `read`, which then
 * completes synchronously. String chunks are encoded as UTF-8.
 *
 * Every failure is a `TransportError`; the mapping of `SocketError` reasons to its reason:
 * `SocketCloseError` code 1000 is end of stream (`read`
 * returns `0`), any other close code is `ReadError` kind `"Reset"`, `SocketReadError` is
 * `ReadError` kind `"Other"`, `SocketWriteError` is `WriteError` kind `"Other"`, and an
 * open failure while acquiring the reader is a `ConnectError` (kind `"Timeout"` for an open
 * timeout, else `"Other"`). Per-read cost: one `pull` per batch plus one copy — the native `Tcp`
 * transport avoids the batch arrays and is the faster choice when you dial yourself.
 *
 * @since 0.1.0
 */
import type { NonEmptyReadonlyArray } from "effect/Array"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import type { ReadBuf } from "../Codec/ReadBuf.ts"
import {
  ConnectError,
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
 * Options for {@link fromSocket}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The address named in error messages. Default `"effect/socket"`. */
  readonly remoteAddress?: string | undefined
}

const encoder = new TextEncoder()

class SocketAdapter implements Transport {
  readonly [TypeId] = TypeId
  readonly remoteAddress: string
  bytesWritten: number
  bytesRead: number
  private readonly pull: Effect.Effect<NonEmptyReadonlyArray<Uint8Array | string>, Socket.SocketError>
  private readonly writer: Socket.Writer
  private readonly readScope: Scope.Closeable
  private readonly writeScope: Scope.Closeable
  /** Chunks pulled but not yet fully copied out; `pendingIndex`/`pendingOffset` mark the next byte. */
  private pending: ReadonlyArray<Uint8Array>
  private pendingIndex: number
  private pendingOffset: number
  private eof: boolean
  private ended: boolean
  private destroyed: boolean

  constructor(
    remoteAddress: string,
    reader: Socket.Reader,
    writer: Socket.Writer,
    readScope: Scope.Closeable,
    writeScope: Scope.Closeable
  ) {
    this.remoteAddress = remoteAddress
    this.bytesWritten = 0
    this.bytesRead = 0
    this.pull = reader.pull
    this.writer = writer
    this.readScope = readScope
    this.writeScope = writeScope
    this.pending = []
    this.pendingIndex = 0
    this.pendingOffset = 0
    this.eof = false
    this.ended = false
    this.destroyed = false
  }

  /**
   * See `Transport.inboundState`. The `Socket` contract is pull-only, so this reflects only what
   * earlier reads pulled: a FIN or reset the adapter has not pulled yet still reads `"Open"`.
   */
  get inboundState(): InboundState {
    if (this.destroyed) return "Closed"
    if (this.pendingIndex < this.pending.length) return "Readable"
    return this.eof ? "Ended" : "Open"
  }

  /** Copies pending bytes into `buf`; -1 when `buf` is full and cannot grow, 0 when only empty chunks were left. */
  private copyPending(buf: ReadBuf): number {
    let total = 0
    while (this.pendingIndex < this.pending.length) {
      const chunk = this.pending[this.pendingIndex]!
      const rest = this.pendingOffset === 0 ? chunk : chunk.subarray(this.pendingOffset)
      const n = rest.length === 0 ? 0 : copyInto(buf, rest)
      if (n < 0) {
        if (total === 0) return -1
        break
      }
      total += n
      if (n < rest.length) {
        this.pendingOffset += n
        break
      }
      this.pendingIndex++
      this.pendingOffset = 0
    }
    if (this.pendingIndex === this.pending.length) {
      this.pending = []
      this.pendingIndex = 0
    }
    this.bytesRead += total
    return total
  }

  private readonly onPulled = (
    chunks: NonEmptyReadonlyArray<Uint8Array | string>
  ): ReadonlyArray<Uint8Array> => chunks.map((chunk) => typeof chunk === "string" ? encoder.encode(chunk) : chunk)

  read(buf: ReadBuf): Effect.Effect<number, TransportError> {
    return Effect.suspend((): Effect.Effect<number, TransportError> => {
      if (this.destroyed) return Effect.fail(transportError(this.remoteAddress, new TransportClosed({ operation: "read" })))
      if (this.pending.length > 0) return this.fromPending(buf)
      if (this.eof) return Effect.succeed(0)
      return Effect.matchEffect(this.pull, {
        onSuccess: (chunks) => {
          this.pending = this.onPulled(chunks)
          return this.fromPending(buf)
        },
        onFailure: (error) => this.readFailure(error)
      })
    })
  }

  private fromPending(buf: ReadBuf): Effect.Effect<number, TransportError> {
    const n = this.copyPending(buf)
    if (n < 0) return Effect.fail(transportError(this.remoteAddress, new ReadError({ kind: "BufferFull" })))
    // a batch of empty chunks carries nothing: pull again
    return n === 0 ? this.read(buf) : Effect.succeed(n)
  }

  private readFailure(error: Socket.SocketError): Effect.Effect<number, TransportError> {
    if (this.destroyed) return Effect.fail(transportError(this.remoteAddress, new TransportClosed({ operation: "read" })))
    const reason = error.reason
    if (reason._tag === "SocketCloseError" && reason.code === 1000) {
      this.eof = true
      return Effect.succeed(0)
    }
    return Effect.fail(
      transportError(
        this.remoteAddress,
        new ReadError({ kind: reason._tag === "SocketCloseError" ? "Reset" : "Other", cause: error })
      )
    )
  }

  private writeGuard(): TransportError | undefined {
    return this.destroyed || this.ended
      ? transportError(this.remoteAddress, new TransportClosed({ operation: "write" }))
      : undefined
  }

  private readonly toWriteError = (cause: Socket.SocketError) =>
    transportError(this.remoteAddress, new WriteError({ kind: "Other", cause }))

  write(bytes: Uint8Array): Effect.Effect<void, TransportError> {
    return Effect.suspend((): Effect.Effect<void, TransportError> => {
      const closed = this.writeGuard()
      if (closed !== undefined) return Effect.fail(closed)
      this.bytesWritten += bytes.length
      return Effect.mapError(this.writer.write(bytes), this.toWriteError)
    })
  }

  writev(chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, TransportError> {
    return Effect.suspend((): Effect.Effect<void, TransportError> => {
      const closed = this.writeGuard()
      if (closed !== undefined) return Effect.fail(closed)
      if (chunks.length === 0) return Effect.void
      for (const chunk of chunks) this.bytesWritten += chunk.length
      return Effect.mapError(
        this.writer.writeAll(chunks as NonEmptyReadonlyArray<Uint8Array>),
        this.toWriteError
      )
    })
  }

  end(): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.ended || this.destroyed) return Effect.void
      this.ended = true
      // releasing the writer half-closes where the socket supports it
      return Scope.close(this.writeScope, Exit.void)
    })
  }

  destroy(): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.destroyed) return Effect.void
      this.destroyed = true
      this.pending = []
      // closing the reader scope tears the connection down and fails a parked pull
      return Effect.andThen(Scope.close(this.readScope, Exit.void), Scope.close(this.writeScope, Exit.void))
    })
  }
}

/**
 * Adapts an `effect/socket` `Socket`: acquires its reader (which opens the connection) and its
 * writer in the current scope; closing that scope closes the connection.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromSocket = (
  socket: Socket.Socket,
  options: Options = {}
): Effect.Effect<Transport, TransportError, Scope.Scope> =>
  Effect.gen(function*() {
    const address = options.remoteAddress ?? "effect/socket"
    const scope = yield* Effect.scope
    const readScope = yield* Scope.fork(scope)
    const writeScope = yield* Scope.fork(scope)
    const reader = yield* Scope.provide(socket.reader, readScope).pipe(
      Effect.mapError((error) =>
        transportError(
          address,
          new ConnectError({
            kind: error.reason._tag === "SocketOpenError" && error.reason.kind === "Timeout" ? "Timeout" : "Other",
            cause: error
          })
        )
      )
    )
    const writer = yield* Scope.provide(socket.writer, writeScope)
    return new SocketAdapter(address, reader, writer, readScope, writeScope)
  })
