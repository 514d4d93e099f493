/**
 * permessage-deflate's compression (RFC 7692) for one connection: a raw-deflate compressor and
 * decompressor from `node:zlib`, each with its own persistent context, driven synchronously.
 *
 * **Why synchronous, and how.** The receive loop drains the codec synchronously (many messages
 * per Effect step); an asynchronous zlib stream (what `ws` uses) would cost a thread-pool round
 * trip and an Effect suspension per message. `zlib.inflateRawSync` is synchronous but makes a
 * fresh context per call, so it cannot keep the LZ77 window between messages (context
 * takeover), and `_processChunk` closes the engine after one synchronous call. So this module
 * keeps one `zlib.createInflateRaw` / `createDeflateRaw` engine and calls its native handle's
 * `writeSync` directly — the same call `zlib`'s own sync path makes — writing straight into a
 * buffer this module owns: no per-message stream, callback, or output list. The handle is
 * Node's internal API (stable since Node 10, used by `zlib.*Sync` themselves); `make` checks
 * that it is there and throws at connect time rather than misbehave if a Node release drops it.
 *
 * **Memory** (per connection, bounded): the decompressor's zlib state is 2^windowBits + ~7 KiB
 * (39 KiB at 15 bits), made when compression is agreed; its output buffer grows (doubling, from
 * 16 KiB) to the largest inflated message and never past `maxMessageSize` + 1 — a deflate bomb
 * stops there with `MessageTooBig` (1009) — and one over 1 MiB is released before the next
 * message. The compressor is made on the first compressed send: 2^(windowBits+2) +
 * 2^(memLevel+9) bytes of zlib state (256 KiB at 15 bits and memLevel 8; `memLevel` and
 * `serverMaxWindowBits` / `clientMaxWindowBits` shrink it) plus an output buffer the size of
 * the largest compressed message.
 *
 * @internal
 */
import * as zlib from "node:zlib"

/** The four bytes a sender strips from each message and the receiver appends (RFC 7692 §7.2.1). */
const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff])

const INITIAL_OUTPUT = 16 * 1024

/** An inflate output buffer larger than this is released before the next message. */
const RETAIN_OUTPUT = 1024 * 1024

/** The part of zlib's native handle this module drives. */
interface NativeHandle {
  writeSync(
    flush: number,
    input: Uint8Array,
    inOff: number,
    inLen: number,
    output: Uint8Array,
    outOff: number,
    outLen: number
  ): void
  reset(): void
  close(): void
  onerror: (message: string, errno: number) => void
}

interface Engine {
  readonly _handle: NativeHandle | null
  /** `[availOutAfter, availInAfter]` after each `writeSync`. */
  readonly _writeState: Uint32Array
}

/** The handle and write state of a fresh engine; throws when this Node lacks them (see the module doc). */
const nativeOf = (engine: object): { handle: NativeHandle; state: Uint32Array } => {
  const e = engine as Engine
  if (e._handle === null || typeof e._handle?.writeSync !== "function" || !(e._writeState instanceof Uint32Array)) {
    throw new Error("permessage-deflate: this Node's zlib has no synchronous native handle")
  }
  return { handle: e._handle, state: e._writeState }
}

/** What `inflate` reports besides a length: the limit was passed, or the data is not deflate. */
export type InflateFailure =
  | { readonly _tag: "TooBig"; readonly length: number }
  | { readonly _tag: "Corrupt"; readonly detail: string }

/** One connection's decompressor. */
export class Inflater {
  private readonly handle: NativeHandle
  private readonly state: Uint32Array
  private readonly resetEach: boolean
  private readonly max: number
  /** The inflated bytes of the last message, at `[0, n)`; reused. */
  out: Buffer
  private error: string | undefined

  constructor(windowBits: number, noContextTakeover: boolean, maxMessageSize: number) {
    const { handle, state } = nativeOf(zlib.createInflateRaw({ windowBits }))
    this.handle = handle
    this.state = state
    this.resetEach = noContextTakeover
    this.max = maxMessageSize
    this.out = Buffer.allocUnsafe(Math.min(INITIAL_OUTPUT, maxMessageSize + 1))
    this.error = undefined
    handle.onerror = (message) => {
      this.error = message
    }
  }

  /**
   * Inflates `data[start, end)` plus the trailer into `out`; returns the inflated length, or why
   * not. Stops once more than `maxMessageSize` bytes came out (the rest is never inflated).
   */
  inflate(data: Uint8Array, start: number, end: number): number | InflateFailure {
    if (this.out.length > RETAIN_OUTPUT) this.out = Buffer.allocUnsafe(INITIAL_OUTPUT)
    let n = this.feed(data, start, end - start, 0, true)
    if (typeof n === "number") n = this.feed(TRAILER, 0, 4, n, false)
    if (this.resetEach && typeof n === "number") this.handle.reset()
    return n
  }

  /**
   * Inflates `input[inOff, inOff + inLen)` into `out` from `at`. A deflate stream may end inside
   * a message (a block with BFINAL set, RFC 7692 §7.2.3.4): zlib then takes no more input until
   * it is reset, so it is reset — a raw deflate stream that follows starts with an empty window —
   * and the rest of the message (the RFC example's 0x00, or a new stream) goes on into the fresh
   * stream (`message`); the rest of the trailer is dropped (nothing of the message is in it).
   */
  private feed(input: Uint8Array, inOff: number, inLen: number, at: number, message: boolean): number | InflateFailure {
    const state = this.state
    while (true) {
      const room = this.out.length - at
      this.handle.writeSync(zlib.constants.Z_SYNC_FLUSH, input, inOff, inLen, this.out, at, room)
      if (this.error !== undefined) return { _tag: "Corrupt", detail: this.error }
      const availOut = state[0]!
      const availIn = state[1]!
      at += room - availOut
      if (at > this.max) return { _tag: "TooBig", length: at }
      if (availOut !== 0 && availIn !== 0) {
        // room left and input left: only the end of the stream stops a sync-flushed inflate
        this.handle.reset()
        if (!message) return at
        inOff += inLen - availIn
        inLen = availIn
        continue
      }
      if (availOut !== 0) return at
      // output full: grow (never past max + 1, enough to see the limit passed) and go on
      inOff += inLen - availIn
      inLen = availIn
      if (this.out.length > this.max) return { _tag: "TooBig", length: at }
      const next = Buffer.allocUnsafe(Math.min(this.out.length * 2, this.max + 1))
      this.out.copy(next, 0, 0, at)
      this.out = next
    }
  }

  /** Frees zlib's state. */
  close(): void {
    this.handle.close()
  }
}

/** Options of the compressor. */
export interface DeflaterOptions {
  readonly windowBits: number
  readonly noContextTakeover: boolean
  readonly level: number
  readonly memLevel: number
}

/** One connection's compressor. */
export class Deflater {
  private readonly handle: NativeHandle
  private readonly state: Uint32Array
  private readonly resetEach: boolean
  /** The compressed bytes of the last message, at `[0, n)`; reused. */
  out: Buffer
  private error: string | undefined

  constructor(options: DeflaterOptions) {
    const { handle, state } = nativeOf(zlib.createDeflateRaw({
      windowBits: options.windowBits,
      level: options.level,
      memLevel: options.memLevel
    }))
    this.handle = handle
    this.state = state
    this.resetEach = options.noContextTakeover
    this.out = Buffer.allocUnsafe(INITIAL_OUTPUT)
    this.error = undefined
    handle.onerror = (message) => {
      this.error = message
    }
  }

  /**
   * The compressor keeps its window from message to message (context takeover): every message
   * it deflated must reach the peer, in order, or the peer inflates the next ones against a
   * history it never saw.
   */
  get keepsContext(): boolean {
    return !this.resetEach
  }

  /**
   * Deflates `data` with a sync flush into `out` and returns the length without the trailing
   * `00 00 ff ff` (RFC 7692 §7.2.1), or a string naming zlib's error.
   */
  deflate(data: Uint8Array): number | string {
    const state = this.state
    let inOff = 0
    let inLen = data.length
    let at = 0
    while (true) {
      const room = this.out.length - at
      this.handle.writeSync(zlib.constants.Z_SYNC_FLUSH, data, inOff, inLen, this.out, at, room)
      if (this.error !== undefined) return this.error
      const availOut = state[0]!
      const availIn = state[1]!
      at += room - availOut
      if (availOut !== 0) break
      inOff += inLen - availIn
      inLen = availIn
      const next = Buffer.allocUnsafe(this.out.length * 2)
      this.out.copy(next, 0, 0, at)
      this.out = next
    }
    if (this.resetEach) this.handle.reset()
    // a sync flush ends with the empty stored block's 00 00 ff ff, stripped here; with nothing to
    // flush (an empty message after earlier ones) zlib writes nothing: send the single 0x00
    // byte RFC 7692 §7.2.3.6 allows for an empty message
    if (at < 4) {
      this.out[0] = 0
      return 1
    }
    return at - 4
  }

  /** Frees zlib's state. */
  close(): void {
    this.handle.close()
  }
}
