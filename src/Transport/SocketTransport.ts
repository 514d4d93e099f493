/**
 * `SocketTransport` — the socket core that `Tcp` and `Tls` share: a `Transport` over a Node
 * `net.Socket` (or `tls.TLSSocket`), the finalizer-first `dial`, and the socket options.
 *
 * `dial` registers the finalizer that destroys the socket *before* dialing, so closing the
 * scope destroys it on success, failure and interruption alike (the same order as
 * `@effect/platform-node`'s `NodeSocket`). Dial errors become a `TransportError` whose reason is
 * a `ConnectError` with a `kind` naming the fault; `connectTimeout` (default
 * {@link DEFAULT_CONNECT_TIMEOUT}, 10 s, as undici and `WebSocket.connect`) is measured with
 * Effect's `Clock`, so a black-holed address (SYNs dropped, where the OS gives up only after
 * minutes) fails with kind `"Timeout"`.
 *
 * **How bytes reach the codec (decided by `bench/transport-read.ts`).** The socket is opened
 * with `onread: { buffer, callback }`: libuv reads into a fixed 64 KiB chunk, and the callback
 * copies those bytes straight into the `ReadBuf` of a parked `read` (or into a private inbox
 * when nobody is reading). Because the callback copies before it returns, one chunk serves
 * every socket of the process (libuv fills it for one socket at a time and JavaScript runs the
 * callback at once); a connection's own memory is its inbox, which starts at 4 KiB and grows
 * only while bytes wait for a `read`. Measured on loopback (Node 24.21,
 * 2 cores shared with other jobs, server in a worker thread, medians of 7 interleaved rounds;
 * throughput varies ±30% between runs on this box, the GC columns do not):
 *
 * ```text
 * workload                    onread→spare  onread+copy  'data'+copy  paused+copy  this transport
 * 1M x 128 B, 32 per write    6.4 M msg/s   5.6 M        5.6 M        5.5 M        5.9 M
 *   GCs per run (GC ms)       0 (0)         1 (0.4)      4 (18)       6 (22)       3 (1.8)
 * 100k x 128 B, 1 per write   250 k msg/s   192 k        201 k        231 k        223 k   (server-bound)
 * 64 MiB, 64 KiB writes       1.9 GB/s      1.2 GB/s     1.0 GB/s     1.0 GB/s     1.2 GB/s
 * ```
 *
 * `'data'` events and paused mode (`'readable'` + `read()`, what `NodeSocket` does) allocate a
 * `Buffer` per read and pay for it in GC pauses; `onread` allocates nothing per read, and the
 * Effect loop on top costs no measurable throughput over the raw `onread`+copy callback. Reading
 * *directly* into the codec's `spare()` (no copy at all) was fastest, but libuv keeps the buffer
 * it was handed until the next read completes: the codec could not compact, reset or write its
 * slab in between without racing the kernel, and a pull-based `read` rarely has a reader parked
 * at the moment the next buffer is chosen. The one memcpy buys a `ReadBuf` that may grow,
 * compact and be swapped freely; a guarded zero-copy mode is possible future work.
 *
 * Read-side backpressure: when the inbox holds `readHighWaterMark` bytes (default 64 KiB) the
 * socket stops reading (`readStop`), so the kernel window closes and the peer blocks; the `read`
 * that empties the inbox resumes it (not one that leaves bytes: resumed below the mark, a busy
 * feed's next chunk met the unread rest of the last one, which `ReadBuf` moved to the front to
 * make room — about one extra copy of every byte on the 40 B firehose). Write-side: `write` waits for `'drain'` when
 * `socket.write` returns `false` (`writeHighWaterMark`, Node's default 64 KiB).
 *
 * The WebSocket sender's two fast writes: `writeNow` (bytes it never reuses, from its send slab)
 * is synchronous — the first of an event-loop tick goes to the socket at once, the later ones
 * are held and leave as one write when the tick ends, so the echoes of one read cost one
 * `socket.write` rather than one each (`bench:server`); `writeBorrowed` (a caller's large
 * payload behind its header, uncopied) completes when Node has let go of the payload — at once
 * when the kernel took every byte, else at the write's callback.
 *
 * Socket buffer sizes: Node has no `SO_RCVBUF`/`SO_SNDBUF` setter on `net.Socket` (only UDP
 * sockets have one), so the kernel's autotuned sizes apply; what Node does offer is the
 * stream high-water marks above. `allowHalfOpen` is always on: a peer's FIN ends our reads
 * but leaves writing to us, and `end()` is ours to call.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import type * as net from "node:net"
import * as ReadBuf from "../Codec/ReadBuf.ts"
import {
  type ConnectErrorKind,
  copyInto,
  type InboundState,
  ReadError,
  type ReadErrorKind,
  TlsError,
  type TlsErrorKind,
  type Transport,
  TransportClosed,
  type TransportError,
  transportError,
  TypeId,
  WriteError,
  type WriteErrorKind
} from "./Transport.ts"

/**
 * The socket options of every dial (`Tcp.connect`, `Tls.connect`, `Dial.url`), all but where to.
 *
 * @since 0.1.0
 * @category models
 */
export interface SocketOptions {
  /**
   * Fails with `ConnectError` kind `"Timeout"` after this long (Effect `Clock`); for TLS it
   * covers the handshake too. Default 10 s ({@link DEFAULT_CONNECT_TIMEOUT}); `"Infinity"`
   * leaves it to the OS limit (minutes for a black-holed address).
   */
  readonly connectTimeout?: Duration.Input | undefined
  /** Disables Nagle's algorithm (`TCP_NODELAY`). Default `true`. */
  readonly noDelay?: boolean | undefined
  /** TCP keep-alive initial delay, or `false` to leave it off. Default `false`. */
  readonly keepAlive?: Duration.Input | false | undefined
  /** Bytes the transport buffers unread before it stops reading from the kernel. Default 64 KiB. */
  readonly readHighWaterMark?: number | undefined
  /** Node's writable high-water mark: `write` waits for `'drain'` above it. Default Node's (64 KiB). */
  readonly writeHighWaterMark?: number | undefined
  /** Address family for name resolution (4, 6, or 0 for either). Default 0. */
  readonly family?: 0 | 4 | 6 | undefined
  /** Custom resolver with `dns.lookup`'s signature (a cache, a test stub). Default `dns.lookup`. */
  readonly lookup?: net.LookupFunction | undefined
  /**
   * Busy-polling: while a `read` waits with nothing buffered, keep Node's event loop polling
   * the sockets (one `setImmediate` turn after another) for up to this long before letting it
   * sleep, so the answer is taken without waiting for an idle core to wake — Linux's
   * `SO_BUSY_POLL`, or Aeron's busy-spin idle strategy, at the level Node offers. On an idle
   * 2-core VM a 40 B WebSocket round trip's p50 went from 67–81 µs to 26–28 µs (0.36–0.38×
   * `ws`) and a sequential REST order's from 81–99 µs to 34–35 µs (`bench:loopback`, "round
   * trip|http order", the `busyPoll` rows). The price: the thread spins at 100 % of a core while
   * a read waits, up to this long per wait; so it needs a core of its own. With every core busy
   * it saves nothing and starves a peer on the same machine (in the bench's busy-core rows the
   * p99 is the budget, ~1 ms). Wall time (`performance.now`), not Effect's `Clock`: it bounds
   * CPU, not a protocol timeout. Default off (`0`).
   */
  readonly busyPoll?: Duration.Input | undefined
}

/** Size of the chunk libuv reads into; also the largest single read. */
const CHUNK_SIZE = 64 * 1024

/** The one read chunk every socket transport shares (see the module doc for why that is safe). */
const SHARED_CHUNK = Buffer.allocUnsafe(CHUNK_SIZE)
/** `held` when nothing is held. */
const NO_BYTES = new Uint8Array(0)

/** Initial inbox size: it grows (doubling) only while bytes wait for a `read`. */
const INBOX_INITIAL_CAPACITY = 4 * 1024

/** Default read-side high-water mark. */
export const DEFAULT_READ_HIGH_WATER_MARK = 64 * 1024

/**
 * Default time a dial may take — the TCP connect, and for TLS the handshake too: 10 s (undici's
 * `connectTimeout`, and the value of `WebSocket.DEFAULT_CONNECT_TIMEOUT`).
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_CONNECT_TIMEOUT: Duration.Duration = Duration.seconds(10)

type Resume = (effect: Effect.Effect<number, TransportError>) => void

/**
 * The transports whose waiting read busy-polls (`SocketOptions.busyPoll`), and whether a turn is
 * scheduled. A pending `setImmediate` keeps libuv's poll from sleeping (its timeout is 0 while an
 * immediate waits), so every event-loop turn polls the sockets; one turn serves every polling
 * transport, and schedules the next while any of them still polls.
 */
const pollers = new Set<SocketTransport>()
let pollScheduled = false

const pollTurn = (): void => {
  const now = performance.now()
  for (const transport of pollers) if (!transport.stillPolling(now)) pollers.delete(transport)
  if (pollers.size > 0) setImmediate(pollTurn)
  else pollScheduled = false
}

const errorCode = (cause: unknown): string | undefined => {
  if (typeof cause !== "object" || cause === null) return undefined
  const code = (cause as { code?: unknown }).code
  if (typeof code === "string") return code
  // autoSelectFamily (happy eyeballs) reports an AggregateError of per-address attempts
  const errors = (cause as { errors?: unknown }).errors
  return Array.isArray(errors) && errors.length > 0 ? errorCode(errors[0]) : undefined
}

/**
 * Maps a Node socket error to a `ConnectError` kind.
 *
 * @since 0.1.0
 * @category errors
 */
export const connectErrorKind = (cause: unknown): ConnectErrorKind => {
  switch (errorCode(cause)) {
    case "ECONNREFUSED":
      return "Refused"
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "Unreachable"
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_FAIL":
    case "EAI_NONAME":
      return "DnsFailure"
    case "ETIMEDOUT":
      return "Timeout"
    case "ECONNRESET":
      return "Reset"
    default:
      return "Other"
  }
}

const untrusted = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "CERT_SIGNATURE_FAILURE",
  "CERT_CHAIN_TOO_LONG",
  "INVALID_CA"
])

/**
 * The alerts a server sends when it wants a client certificate or refuses ours: in TLS 1.2
 * during the handshake, in TLS 1.3 after it (the client's first read sees them).
 */
const clientCertificateAlerts = new Set([
  "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED",
  "ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE",
  "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA",
  "ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN",
  "ERR_SSL_TLSV1_ALERT_ACCESS_DENIED"
])

/**
 * Maps a handshake error to a `TlsError` kind; `Tls.tlsErrorKind` is this function.
 *
 * @since 0.1.0
 * @category errors
 */
export const tlsErrorKind = (cause: unknown): TlsErrorKind => {
  const code = errorCode(cause)
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") return "HostnameMismatch"
  if (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID") return "CertificateExpired"
  if (code !== undefined && untrusted.has(code)) return "CertificateUntrusted"
  if (code !== undefined && clientCertificateAlerts.has(code)) return "ClientCertificateRejected"
  return "HandshakeFailed"
}

/** A read failure: a server's refusal of our client certificate is a `TlsError`, the rest `ReadError`. */
const readFailure = (cause: unknown): ReadError | TlsError => {
  const code = errorCode(cause)
  return code !== undefined && clientCertificateAlerts.has(code)
    ? new TlsError({ kind: "ClientCertificateRejected", cause })
    : new ReadError({ kind: readErrorKind(cause), cause })
}

const readErrorKind = (cause: unknown): ReadErrorKind => {
  switch (errorCode(cause)) {
    case "ECONNRESET":
      return "Reset"
    case "ETIMEDOUT":
      return "Timeout"
    default:
      return "Other"
  }
}

const writeErrorKind = (cause: unknown): WriteErrorKind => {
  switch (errorCode(cause)) {
    case "ECONNRESET":
      return "Reset"
    case "EPIPE":
      return "BrokenPipe"
    default:
      return "Other"
  }
}

/**
 * The transport over a `net.Socket` (or a `tls.TLSSocket`). Build it first, pass its `onread`
 * to the socket's constructor options, then `attach` the socket.
 *
 * @since 0.1.0
 * @category models
 */
export class SocketTransport implements Transport {
  readonly [TypeId] = TypeId
  /** The address errors name; `Dial` renames a proxy tunnel after its target once it is open. */
  remoteAddress: string
  bytesWritten: number
  bytesRead: number
  /** Pass to `net.connect`/`tls.connect` as the `onread` option. */
  readonly onread: { readonly buffer: Uint8Array; readonly callback: (n: number, chunk: Uint8Array) => boolean }
  /** The socket, once attached. */
  socket: net.Socket | undefined
  private readonly inbox: ReadBuf.ReadBuf
  private readonly readHighWaterMark: number
  private waiter: Resume | undefined
  private waiterBuf: ReadBuf.ReadBuf | undefined
  private paused: boolean
  private eof: boolean
  private ended: boolean
  private destroyed: boolean
  private failure: unknown
  /** A `writeNow` happened this tick (its `endBatch` is scheduled). */
  private batching: boolean
  /** Bytes `writeNow` holds back until the tick ends: `held[heldStart, heldEnd)` (none: both -1). */
  private held: Uint8Array
  private heldStart: number
  private heldEnd: number
  /** `writeBorrowed` calls so far, and how many of their write callbacks have fired. */
  private lentIssued: number
  private lentDone: number
  /** The first error a `writeBorrowed` write callback reported. */
  private lentError: Error | undefined
  /** `writeBorrowed` waits for their callback, by call number. */
  private lentWaiters: Array<{ readonly n: number; readonly resume: (effect: Effect.Effect<void, TransportError>) => void }>
  /** `SocketOptions.busyPoll` in milliseconds; `0` off. */
  private readonly busyPollMs: number
  /** While busy-polling: the `performance.now()` the current wait stops polling at. */
  private pollUntil: number

  constructor(remoteAddress: string, readHighWaterMark: number, busyPoll: Duration.Input | undefined = undefined) {
    this.remoteAddress = remoteAddress
    this.bytesWritten = 0
    this.bytesRead = 0
    this.onread = { buffer: SHARED_CHUNK, callback: (n, chunk) => this.onRead(n, chunk) }
    this.socket = undefined
    // the inbox never holds more than the high-water mark plus one chunk
    this.inbox = ReadBuf.make({ capacity: INBOX_INITIAL_CAPACITY, maxCapacity: readHighWaterMark + 2 * CHUNK_SIZE })
    this.readHighWaterMark = readHighWaterMark
    this.waiter = undefined
    this.waiterBuf = undefined
    this.paused = false
    this.eof = false
    this.ended = false
    this.destroyed = false
    this.failure = undefined
    this.batching = false
    this.held = NO_BYTES
    this.heldStart = -1
    this.heldEnd = -1
    this.lentIssued = 0
    this.lentDone = 0
    this.lentError = undefined
    this.lentWaiters = []
    this.busyPollMs = busyPoll === undefined ? 0 : Duration.toMillis(Duration.fromInputUnsafe(busyPoll))
    this.pollUntil = 0
  }

  /** Bytes received from the socket that no `read` has taken yet (bounded by the read high-water mark plus one chunk). */
  get buffered(): number {
    return this.inbox.length
  }

  /** See `Transport.inboundState`: reflects the inbox, `'end'`, `'error'`/`'close'` and `destroy`. */
  get inboundState(): InboundState {
    if (this.destroyed) return "Closed"
    if (this.inbox.length > 0) return "Readable"
    if (this.failure !== undefined) return "Failed"
    return this.eof ? "Ended" : "Open"
  }

  /** Wires the socket's events; call once, right after creating the socket. */
  attach(socket: net.Socket): void {
    this.socket = socket
    socket.on("end", () => {
      this.eof = true
      this.wake()
    })
    socket.on("error", (cause: Error) => {
      this.failure ??= cause
      this.wake()
    })
    socket.on("close", () => {
      // a close without 'end' or 'error' (e.g. destroyed by Node) reads as end of stream
      this.eof = true
      this.wake()
    })
  }

  private onRead(n: number, chunk: Uint8Array): boolean {
    const resume = this.waiter
    let offset = 0
    let result: Effect.Effect<number, TransportError> | undefined
    if (resume !== undefined) {
      const target = this.waiterBuf!
      this.waiter = undefined
      this.waiterBuf = undefined
      const copied = copyInto(target, n === chunk.length ? chunk : chunk.subarray(0, n))
      if (copied < 0) {
        result = Effect.fail(transportError(this.remoteAddress, new ReadError({ kind: "BufferFull" })))
      } else {
        offset = copied
        this.bytesRead += copied
        result = Effect.succeed(copied)
      }
    }
    if (offset < n) this.inbox.write(chunk.subarray(offset, n))
    if (this.inbox.length >= this.readHighWaterMark) this.paused = true
    // resume last: the fiber may run synchronously and call read again, which must see the
    // inbox; if that read drained it and un-paused, `paused` is false again and reading goes on
    if (result !== undefined) resume!(result)
    return !this.paused
  }

  /** Resumes a parked reader with whatever the state now says (EOF, error, closed). */
  private wake(): void {
    const resume = this.waiter
    if (resume === undefined) return
    const target = this.waiterBuf!
    this.waiter = undefined
    this.waiterBuf = undefined
    resume(this.readNow(target))
  }

  private readNow(buf: ReadBuf.ReadBuf): Effect.Effect<number, TransportError> {
    if (this.destroyed) return Effect.fail(transportError(this.remoteAddress, new TransportClosed({ operation: "read" })))
    if (this.inbox.length > 0) {
      const n = this.takeBuffered(buf)
      if (n < 0) return Effect.fail(transportError(this.remoteAddress, new ReadError({ kind: "BufferFull" })))
      return Effect.succeed(n)
    }
    if (this.failure !== undefined) {
      return Effect.fail(transportError(this.remoteAddress, readFailure(this.failure)))
    }
    if (this.eof) return Effect.succeed(0)
    // a full buffer that cannot grow would only fail once bytes arrive: fail now
    if (buf.spareLength === 0 && !buf.reserve(1)) {
      return Effect.fail(transportError(this.remoteAddress, new ReadError({ kind: "BufferFull" })))
    }
    return Effect.callback<number, TransportError>((resume) => {
      this.waiter = resume
      this.waiterBuf = buf
      if (this.busyPollMs > 0) this.startPolling()
      return Effect.sync(() => {
        if (this.waiter === resume) {
          this.waiter = undefined
          this.waiterBuf = undefined
        }
      })
    })
  }

  /** Busy-polling (`SocketOptions.busyPoll`): this read polls until its budget is spent (see {@link pollTurn}). */
  private startPolling(): void {
    this.pollUntil = performance.now() + this.busyPollMs
    pollers.add(this)
    if (pollScheduled) return
    pollScheduled = true
    setImmediate(pollTurn)
  }

  /** @internal Still busy-polling at `now`: a read waits, the socket is open and the budget is not spent. */
  stillPolling(now: number): boolean {
    return this.waiter !== undefined && !this.destroyed && now < this.pollUntil
  }

  /** Moves what fits of the (non-empty) inbox into `buf`, resuming a paused socket once the inbox is empty; `-1` when `buf` is full. */
  private takeBuffered(buf: ReadBuf.ReadBuf): number {
    const inbox = this.inbox
    const n = copyInto(buf, inbox.data())
    if (n < 0) return n
    inbox.advance(n)
    this.bytesRead += n
    // resumed once empty, not as soon as it is below the mark: the next chunk then lands at the
    // start of an empty inbox, where making room for it moves nothing (resumed below the mark,
    // the unread rest of the last chunk was moved to the front for nearly every chunk of a feed)
    if (this.paused && inbox.length === 0) {
      this.paused = false
      this.socket?.resume()
    }
    return n
  }

  /** See `Transport.readBuffered`: the inbox's bytes, synchronously; `read` reports every other case. */
  readBuffered(buf: ReadBuf.ReadBuf): number {
    if (this.destroyed || this.inbox.length === 0) return 0
    const n = this.takeBuffered(buf)
    return n < 0 ? 0 : n
  }

  read(buf: ReadBuf.ReadBuf): Effect.Effect<number, TransportError> {
    return Effect.suspend(() => this.readNow(buf))
  }

  private writeFailure(): TransportError | undefined {
    if (this.destroyed || this.ended) return transportError(this.remoteAddress, new TransportClosed({ operation: "write" }))
    if (this.failure !== undefined) {
      return transportError(this.remoteAddress, new WriteError({ kind: writeErrorKind(this.failure), cause: this.failure }))
    }
    return undefined
  }

  /** The failure of a write whose socket closed under it. */
  private closedWrite(): TransportError {
    return this.writeFailure() ??
      transportError(this.remoteAddress, new WriteError({ kind: "Other", cause: new Error("socket closed") }))
  }

  private awaitDrain(socket: net.Socket): Effect.Effect<void, TransportError> {
    return Effect.callback<void, TransportError>((resume) => {
      // run after the event it waits for (a caller that held the Effect a while): answer now
      if (socket.destroyed) return resume(Effect.fail(this.closedWrite()))
      if (!socket.writableNeedDrain) return resume(Effect.void)
      const cleanup = () => {
        socket.off("drain", onDrain)
        socket.off("close", onClose)
      }
      const onDrain = () => {
        cleanup()
        resume(Effect.void)
      }
      const onClose = () => {
        cleanup()
        resume(Effect.fail(this.closedWrite()))
      }
      socket.on("drain", onDrain)
      socket.on("close", onClose)
      return Effect.sync(cleanup)
    })
  }

  write(bytes: Uint8Array): Effect.Effect<void, TransportError> {
    return Effect.suspend(() => {
      const failure = this.writeFailure()
      if (failure !== undefined) return Effect.fail(failure)
      const socket = this.socket!
      this.flushHeld(socket)
      this.bytesWritten += bytes.length
      return socket.write(bytes) ? Effect.void : this.awaitDrain(socket)
    })
  }

  /**
   * See `Transport.writeNow`. The first write of a tick goes to the socket at once (the latency
   * path: no waiting). Later ones in the same tick are held back and leave together when the
   * tick ends (a `nextTick`): bytes that continue the held ones in the same memory (frames
   * encoded back to back into one slab) only extend the held range, so a batch of echoes of one
   * read is one `socket.write` of one region. What is held stays under the high-water mark: at
   * the mark it is written at once and the caller waits for `'drain'`, as for `write`. Every
   * other write (`write`, `writev`, `writeBorrowed`, `end`, `destroy`) first writes what is held,
   * so the order on the wire is the order of the calls.
   */
  readonly writeNow = (buffer: Uint8Array, start: number, end: number): Effect.Effect<void, TransportError> | undefined => {
    const failure = this.writeFailure()
    if (failure !== undefined) return Effect.fail(failure)
    const socket = this.socket!
    this.bytesWritten += end - start
    if (!this.batching) {
      this.batching = true
      process.nextTick(this.endBatch)
      return socket.write(buffer.subarray(start, end)) ? undefined : this.awaitDrain(socket)
    }
    if (this.heldEnd !== start || this.held !== buffer) {
      if (!this.flushHeld(socket)) {
        // the held bytes filled the buffer: these go behind them, then wait like `write`
        socket.write(buffer.subarray(start, end))
        return this.awaitDrain(socket)
      }
      this.held = buffer
      this.heldStart = start
    }
    this.heldEnd = end
    if (socket.writableLength + end - this.heldStart < socket.writableHighWaterMark) return undefined
    return this.flushHeld(socket) ? undefined : this.awaitDrain(socket)
  }

  /**
   * Hands `chunks` to the socket now, in order behind everything written before, and returns
   * `undefined` when the kernel took them all at once — Node keeps no reference, so the caller
   * may change them — or the Effect that completes when the socket has let go of them (the last
   * chunk's write callback: written, or failed). For a large payload sent uncopied, behind a
   * header; the transport's own `'drain'` wait is not needed, the socket's buffer is flushed up
   * to these chunks when the Effect completes.
   */
  readonly writeBorrowed = (chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, TransportError> | undefined => {
    const failure = this.writeFailure()
    if (failure !== undefined) return Effect.fail(failure)
    const socket = this.socket!
    this.flushHeld(socket)
    const last = chunks.length - 1
    socket.cork()
    for (let i = 0; i < last; i++) {
      this.bytesWritten += chunks[i]!.length
      socket.write(chunks[i]!)
    }
    this.bytesWritten += chunks[last]!.length
    // one shared callback (Node merges a run of them into one tick), counted: they fire in order
    socket.write(chunks[last]!, this.onLentWritten)
    socket.uncork()
    const n = ++this.lentIssued
    // the write completed synchronously (libuv's try-write took every byte): nothing is held
    if (socket.writableLength === 0) return undefined
    return Effect.callback<void, TransportError>((resume) => {
      if (this.lentDone >= n) return resume(this.lentOutcome())
      const waiter = { n, resume }
      this.lentWaiters.push(waiter)
      return Effect.sync(() => {
        const i = this.lentWaiters.indexOf(waiter)
        if (i >= 0) this.lentWaiters.splice(i, 1)
      })
    })
  }

  /** The write callback of every `writeBorrowed`: counts it and wakes the waits it completes. */
  private readonly onLentWritten = (error?: Error | null): void => {
    this.lentDone++
    if (error != null) this.lentError ??= error
    if (this.lentWaiters.length === 0) return
    const done = this.lentWaiters.filter((w) => w.n <= this.lentDone)
    if (done.length === 0) return
    this.lentWaiters = this.lentWaiters.filter((w) => w.n > this.lentDone)
    const outcome = this.lentOutcome()
    for (const w of done) w.resume(outcome)
  }

  /** What a completed `writeBorrowed` reports: done, or the first write failure. */
  private lentOutcome(): Effect.Effect<void, TransportError> {
    const error = this.lentError
    if (error === undefined) return Effect.void
    return Effect.fail(
      this.writeFailure() ?? transportError(this.remoteAddress, new WriteError({ kind: writeErrorKind(error), cause: error }))
    )
  }

  /**
   * Ends the tick's batch of `writeNow`s now, as the `nextTick` scheduled by its first write
   * would: the held bytes go to the socket. For a caller that knows its batch is over (a
   * benchmark's op stands for one tick).
   */
  readonly endBatch = (): void => {
    this.batching = false
    if (this.heldEnd > this.heldStart && !this.destroyed) this.flushHeld(this.socket!)
  }

  /**
   * See `Transport.release`: writes the held bytes, then answers whether the socket's buffer is
   * empty (the kernel took every byte, so Node keeps no reference to any of them).
   */
  readonly release = (): boolean => {
    const socket = this.socket
    if (socket === undefined || this.destroyed) return false
    this.flushHeld(socket)
    return socket.writableLength === 0
  }

  /** Writes the held bytes, if any; `false` when the socket's buffer is now full. */
  private flushHeld(socket: net.Socket): boolean {
    const start = this.heldStart
    const end = this.heldEnd
    if (end === start) return true
    this.heldStart = this.heldEnd = -1
    const held = this.held
    this.held = NO_BYTES
    return socket.write(held.subarray(start, end))
  }

  writev(chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, TransportError> {
    return Effect.suspend(() => {
      const failure = this.writeFailure()
      if (failure !== undefined) return Effect.fail(failure)
      const socket = this.socket!
      let full = !this.flushHeld(socket)
      socket.cork()
      for (let i = 0; i < chunks.length; i++) {
        this.bytesWritten += chunks[i]!.length
        full = !socket.write(chunks[i]!) || full
      }
      socket.uncork()
      return full ? this.awaitDrain(socket) : Effect.void
    })
  }

  end(): Effect.Effect<void> {
    return Effect.sync(() => {
      if (this.ended || this.destroyed) return
      this.ended = true
      if (this.socket !== undefined) this.flushHeld(this.socket)
      this.socket?.end()
    })
  }

  /** Synchronous teardown, used by the scope finalizer. */
  destroyNow(): void {
    if (this.destroyed) return
    this.destroyed = true
    // the tick's held writes go to the kernel first: a close frame before a destroy is sent
    if (this.socket !== undefined) this.flushHeld(this.socket)
    this.socket?.destroy()
    this.wake()
  }

  destroy(): Effect.Effect<void> {
    return Effect.sync(() => this.destroyNow())
  }
}

/**
 * Opens the socket with `open` (which must pass `transport.onread` to Node and attach nothing
 * itself), waiting for `readyEvent`, under the finalizer-first discipline. Shared by TCP and TLS.
 *
 * @internal
 */
export const dial = <E>(options: {
  readonly address: string
  readonly readHighWaterMark: number
  /** `SocketOptions.busyPoll`. */
  readonly busyPoll?: Duration.Input | undefined
  /** The dial's time limit; `undefined` is {@link DEFAULT_CONNECT_TIMEOUT}, an infinite one none. */
  readonly connectTimeout: Duration.Input | undefined
  readonly open: (transport: SocketTransport) => net.Socket
  readonly readyEvent: "connect" | "secureConnect" | "secure"
  /** Maps an error before the ready event; `tcpConnected` says whether TCP got through. */
  readonly onError: (cause: unknown, tcpConnected: boolean) => E
  /** The error once `after` passed without the ready event. */
  readonly onTimeout: (tcpConnected: boolean, after: Duration.Duration) => E
}): Effect.Effect<SocketTransport, E, Scope.Scope> =>
  Effect.flatMap(Effect.scope, (scope) => {
    const transport = new SocketTransport(options.address, options.readHighWaterMark, options.busyPoll)
    let tcpConnected = false
    const handshake = Effect.callback<SocketTransport, E>((resume) => {
      const socket = options.open(transport)
      transport.attach(socket)
      const cleanup = () => {
        socket.off("connect", onConnect)
        socket.off(options.readyEvent, onReady)
        socket.off("error", onError)
      }
      const onConnect = () => {
        tcpConnected = true
      }
      const onReady = () => {
        cleanup()
        resume(Effect.succeed(transport))
      }
      const onError = (cause: Error) => {
        cleanup()
        resume(Effect.fail(options.onError(cause, tcpConnected)))
      }
      socket.on("connect", onConnect)
      socket.once(options.readyEvent, onReady)
      socket.once("error", onError)
      // on interruption the scope finalizer destroys the socket
      return Effect.sync(cleanup)
    })
    const after = Duration.fromInputUnsafe(options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT)
    const timed = !Number.isFinite(Duration.toMillis(after)) ? handshake : Effect.timeoutOrElse(handshake, {
      duration: after,
      orElse: () => Effect.fail(options.onTimeout(tcpConnected, after))
    })
    // finalizer first: an interrupted or failed dial still destroys the socket
    return Effect.andThen(Scope.addFinalizer(scope, Effect.sync(() => transport.destroyNow())), timed)
  })

const keepAliveOptions = (keepAlive: Duration.Input | false | undefined) =>
  keepAlive === undefined || keepAlive === false
    ? { keepAlive: false }
    : { keepAlive: true, keepAliveInitialDelay: Duration.toMillis(keepAlive) }

/**
 * Node socket options shared by TCP and TLS: `onread`, `noDelay`, keep-alive, half-open, marks.
 *
 * @internal
 */
export const socketOptions = (
  transport: SocketTransport,
  options: SocketOptions & { readonly host: string; readonly port: number }
) => ({
  ...(options.lookup === undefined ? {} : { lookup: options.lookup }),
  host: options.host,
  port: options.port,
  family: options.family ?? 0,
  onread: transport.onread,
  noDelay: options.noDelay ?? true,
  allowHalfOpen: true,
  ...keepAliveOptions(options.keepAlive),
  ...(options.writeHighWaterMark === undefined ? {} : { writableHighWaterMark: options.writeHighWaterMark })
})

/**
 * Applies `noDelay` and keep-alive on a socket Node created without them (`tls.connect` does not
 * forward those options to the underlying socket); Node defers them until the handle exists.
 *
 * @internal
 */
export const applySocketOptions = (
  socket: net.Socket,
  options: Pick<SocketOptions, "noDelay" | "keepAlive">
): net.Socket => {
  socket.setNoDelay(options.noDelay ?? true)
  if (options.keepAlive !== undefined && options.keepAlive !== false) {
    socket.setKeepAlive(true, Duration.toMillis(options.keepAlive))
  }
  return socket
}

/**
 * Feeds `transport` from `socket`'s `'data'` events, for sockets that cannot take `onread`
 * (a server's accepted socket, a `tls.TLSSocket` over a stream that is not a `net.Socket`): one
 * `Buffer` per read, copied like the `onread` path, and the socket paused above the read
 * high-water mark (`read` resumes it once drained). Call right after `attach`.
 *
 * @internal
 */
export const feedFromData = (transport: SocketTransport, socket: net.Socket): void => {
  socket.on("data", (chunk: Buffer) => {
    // the callback answers "keep reading?"; readNow resumes the socket once drained
    if (!transport.onread.callback(chunk.length, chunk)) socket.pause()
  })
}
