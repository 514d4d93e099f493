/**
 * `SessionLog` — session files on disk (issue #15): reading one back as entries, and the one
 * error of recording and replaying, {@link SessionError}. The bytes are `Codec/SessionFile`'s;
 * this module adds the file system (`node:fs`, read in 256 KiB chunks, never the whole file at
 * once) and the Effect error. Reads are synchronous on purpose: a replay under `TestClock` must
 * not depend on when real I/O completes (the clock could move past an event while a read is
 * pending), and a 256 KiB read from the page cache takes a fraction of a millisecond. (Reading
 * ahead with `fs.read` on libuv's pool was tried for the fast replay, issue #15: it cost the
 * main thread more CPU than the synchronous copy it saved, 104–124 ms against 86–89 ms per
 * 133 MB file on the shared VM.) `docs/replay.md` specifies the format and the rules.
 *
 * A torn last block (a crash while recording) is dropped and reported to `onTorn`, never
 * misread; a damaged block in the middle, a file from a newer major version or a file that is
 * not a session fails with `SessionError` reason `SessionFileInvalid`.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import { Buffer } from "node:buffer"
import * as fs from "node:fs"
import * as SessionFile from "../Codec/SessionFile.ts"

/**
 * Bytes read from the file at a time: 256 KiB. In two interleaved A/B runs of the fast replay on
 * the shared VM it beat 1 MiB (median 5.0 and 4.4 M events/s against 3.3 and 2.4); a guess at
 * why: fewer decoded events wait for the consumer at once, so fewer survive a scavenge. With
 * the one-pass replay in `Messages` batches, `CHUNKS=131072,1048576 npm run bench:replay-parts`
 * printed 128 KiB, 256 KiB and 1 MiB within 5% of each other in main-thread CPU (shared VM,
 * `bench/runs/replay2-shared/replay-parts.log`): kept.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_READ_CHUNK = 256 * 1024

const EMPTY_BUFFER = Buffer.alloc(0)

/**
 * The file's bytes are not a readable session: not a session file, a newer major version, or
 * a damaged block that is not the last (`violation` says which, and where).
 *
 * @since 0.1.0
 * @category errors
 */
export class SessionFileInvalid extends Data.TaggedError("SessionFileInvalid")<{
  readonly violation: SessionFile.Violation
}> {
  override get message(): string {
    return this.violation.message
  }
}

/**
 * The file system refused an `operation` on the file (`code` is Node's, such as `ENOENT`).
 *
 * @since 0.1.0
 * @category errors
 */
export class SessionIo extends Data.TaggedError("SessionIo")<{
  readonly operation: "open" | "read" | "write" | "close"
  readonly code: string
  readonly detail: string
}> {
  override get message(): string {
    return `cannot ${this.operation} the file (${this.code}): ${this.detail}`
  }
}

/**
 * Every reason a {@link SessionError} carries.
 *
 * @since 0.1.0
 * @category errors
 */
export type SessionErrorReason = SessionFileInvalid | SessionIo

/**
 * The one error of recording and replaying: what went wrong (`reason`) with which `file`.
 *
 * @since 0.1.0
 * @category errors
 */
export class SessionError extends Data.TaggedError("SessionError")<{
  readonly file: string
  readonly reason: SessionErrorReason
}> {
  override get message(): string {
    return `session file ${this.file}: ${this.reason.message}`
  }
}

/**
 * The `SessionError` of a failed file system call.
 *
 * @since 0.1.0
 * @category errors
 */
export const ioError = (file: string, operation: SessionIo["operation"], cause: unknown): SessionError => {
  const error = cause as { readonly code?: unknown; readonly message?: unknown }
  return new SessionError({
    file,
    reason: new SessionIo({
      operation,
      code: typeof error?.code === "string" ? error.code : "EIO",
      detail: typeof error?.message === "string" ? error.message : String(cause)
    })
  })
}

/**
 * Options of {@link records} and {@link entries}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadOptions {
  /** Told when the last block was torn and dropped (its file offset and length). */
  readonly onTorn?: ((torn: { readonly offset: number; readonly bytes: number }) => void) | undefined
  /** Bytes read at a time. Default {@link DEFAULT_READ_CHUNK}. */
  readonly chunkSize?: number | undefined
  /** Check every block's CRC-32 while reading (`false` only after {@link check} passed). Default `true`. */
  readonly checksums?: boolean | undefined
}

/**
 * The records of `file` decoded with `decode`, in arrays of whatever one read of the file holds
 * (a pull-based stream: the file is read as the stream is consumed and closed when it ends).
 * `decode` sees each record as a view and returns what to keep, or `undefined` to skip it.
 * Every read goes into a fresh buffer that is never reused, so a `payload()` view taken in
 * `decode` stays valid after it: keep it without copying.
 *
 * @since 0.1.0
 * @category reading
 */
export const records = <A>(
  file: string,
  decode: (record: SessionFile.RecordView) => A | undefined,
  options: ReadOptions = {}
): Stream.Stream<A, SessionError> =>
  reads<A>(file, (reader, _buffer, out) => {
    for (;;) {
      const result = reader.next()
      if (result._tag === "NeedMore") return undefined
      if (result._tag !== "Record") return result
      const value = decode(result)
      if (value !== undefined) out.push(value)
    }
  }, options)

/**
 * Options of {@link reads}: those of {@link records}, and whether the read buffers are reused.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadsOptions extends ReadOptions {
  /**
   * Lend the reads: read the file into two buffers in turn instead of a fresh one per read (the
   * library's one name for "valid until a later pull, copy what you keep"): no fresh memory
   * for the kernel to fault in and the GC to sweep (a third to half of a fast replay's time at
   * 128 B messages, `bench:replay`), but what points into a read's buffer is valid only until
   * the stream is pulled again after the pull that delivered it (read N's buffer is written by
   * read N + 2). Default `false`: every read's buffer is fresh and never written again.
   */
  readonly lent?: boolean | undefined
}

/**
 * The lower door of {@link records}: after every read of `file`, `drain` is handed the reader
 * (fed with it), the read's buffer (fresh, never reused, so what points into it is owned —
 * unless `lent`) and the array to fill; it reads the reader until `NeedMore` (returning
 * `undefined`) or a violation (returned, and failing the stream). For a reader of many records
 * in bulk (`SessionReader.readMessages`, the fast replay).
 *
 * @since 0.1.0
 * @category reading
 */
export const reads = <A>(
  file: string,
  drain: (reader: SessionFile.SessionReader, buffer: Buffer, out: Array<A>) => SessionFile.Violation | undefined,
  options: ReadsOptions = {}
): Stream.Stream<A, SessionError> =>
  Stream.unwrap(Effect.gen(function*() {
    const fd = yield* Effect.acquireRelease(
      Effect.try({ try: () => fs.openSync(file, "r"), catch: (cause) => ioError(file, "open", cause) }),
      (fd) => Effect.sync(() => fs.closeSync(fd))
    )
    const reader = SessionFile.makeReader({ checksums: options.checksums })
    const chunkSize = options.chunkSize ?? DEFAULT_READ_CHUNK
    let ended = false
    // with lent, the two buffers read into in turn
    const reused = options.lent === true ? [EMPTY_BUFFER, EMPTY_BUFFER] : undefined
    let turn = 0
    /** The violation to fail with once the records before it were pulled. */
    let failure: SessionError | undefined
    type Pulled = Effect.Effect<Arr.NonEmptyReadonlyArray<A>, SessionError | Cause.Done>
    const pull: Pulled = Effect.suspend((): Pulled => {
      for (;;) {
        if (ended) return failure === undefined ? Cause.done() : Effect.fail(failure)
        // a fresh buffer per read, never reused (views into it stay valid), or the other of the
        // two reused ones: the pending bytes of a straddling record first (moved out of the last
        // read's buffer), then the file's next bytes read straight after them
        const size = reader.pending + chunkSize
        let buffer: Buffer
        if (reused === undefined) buffer = Buffer.allocUnsafe(size)
        else {
          turn ^= 1
          // grown to at least twice its size: a block straddling many small reads grows it a few times, not every read
          if (reused[turn]!.byteLength < size) reused[turn] = Buffer.allocUnsafeSlow(Math.max(size, 2 * reused[turn]!.byteLength))
          buffer = reused[turn]!
        }
        const at = reader.moveTo(buffer)
        let bytesRead: number
        try {
          bytesRead = fs.readSync(fd, buffer, at, chunkSize, null)
        } catch (cause) {
          return Effect.fail(ioError(file, "read", cause))
        }
        const out: Array<A> = []
        if (bytesRead === 0) {
          ended = true
          const tail = reader.finish()
          if (tail._tag === "Torn") options.onTorn?.({ offset: tail.offset, bytes: tail.bytes })
          else if (tail._tag !== "Complete") return Effect.fail(invalidFile(file, tail))
        } else {
          reader.filled(bytesRead)
          const violation = drain(reader, buffer, out)
          if (violation !== undefined) {
            // what came before it in this read is served first; the next pull fails
            if (out.length === 0) return Effect.fail(invalidFile(file, violation))
            ended = true
            failure = invalidFile(file, violation)
          }
        }
        if (out.length > 0) return Effect.succeed(out as unknown as Arr.NonEmptyReadonlyArray<A>)
      }
    })
    return Stream.fromPull(Effect.succeed(pull))
  }))

/** The `SessionError` of a file that is not a replayable session. */
const invalidFile = (file: string, violation: SessionFile.Violation): SessionError =>
  new SessionError({ file, reason: new SessionFileInvalid({ violation }) })

/**
 * Runs `scan` synchronously over `file` opened for reading (closed after, however it ends),
 * failing with `SessionError` for an I/O error or for the violation `scan` returns.
 */
const scanFile = (file: string, scan: (fd: number) => SessionFile.Violation | undefined): Effect.Effect<void, SessionError> =>
  Effect.try({
    try: () => {
      const fd = fs.openSync(file, "r")
      try {
        return scan(fd)
      } finally {
        fs.closeSync(fd)
      }
    },
    catch: (cause) => ioError(file, "read", cause)
  }).pipe(Effect.flatMap((violation) => violation === undefined ? Effect.void : Effect.fail(invalidFile(file, violation))))

/**
 * Checks `file` whole — header, version, every block's length and CRC-32 — without decoding a
 * record (at the speed of the native CRC); a torn last block is reported to `onTorn`.
 *
 * @since 0.1.0
 * @category reading
 */
export const check = (file: string, options: ReadOptions = {}): Effect.Effect<void, SessionError> =>
  scanFile(file, (fd) => {
    const reader = SessionFile.makeReader()
    const chunkSize = options.chunkSize ?? DEFAULT_READ_CHUNK
    // no view outlives a read here: one buffer for every read (grown for a straddling block
    // bigger than a read), so checking a big file does not allocate its size in fresh memory
    let buffer = Buffer.allocUnsafeSlow(chunkSize)
    for (;;) {
      if (buffer.byteLength < reader.pending + chunkSize) buffer = Buffer.allocUnsafeSlow(reader.pending + chunkSize)
      const at = reader.moveTo(buffer)
      const bytesRead = fs.readSync(fd, buffer, at, chunkSize, null)
      if (bytesRead === 0) break
      reader.filled(bytesRead)
      for (;;) {
        const result = reader.skipBlock()
        if (result === true) continue
        if (result._tag === "NeedMore") break
        return result
      }
    }
    const tail = reader.finish()
    if (tail._tag === "Torn") options.onTorn?.({ offset: tail.offset, bytes: tail.bytes })
    return tail._tag === "Torn" || tail._tag === "Complete" ? undefined : tail
  })

/**
 * Checks `file`'s framing without reading its bodies: the header and version, the chain of
 * block lengths (one small read per block: a 133 MB file of 64 KiB blocks is ~2000 reads of 16
 * bytes) and the last block whole, CRC-32 included — so a file that is not a session, is of a
 * newer major version, or has an impossible length or a zero-filled gap before more data fails
 * with `SessionError`, and a torn last block is found (and reported to `onTorn`) exactly as
 * {@link check} finds it. What it cannot see is a damaged body inside a middle block whose
 * length is intact: a reader with checksums on (the default of {@link records}) finds that when
 * it gets there. This is how the fast replay stays one pass over the file (issue #15).
 *
 * @since 0.1.0
 * @category reading
 */
export const checkFraming = (file: string, options: Pick<ReadOptions, "onTorn"> = {}): Effect.Effect<void, SessionError> =>
  scanFile(file, (fd) => {
    const size = fs.fstatSync(fd).size
    const head = Buffer.allocUnsafeSlow(16)
    const torn = (offset: number) => {
      options.onTorn?.({ offset, bytes: size - offset })
      return undefined
    }
    // the header through the reader: the same violations as a whole read
    const reader = SessionFile.makeReader()
    const headerBytes = fs.readSync(fd, head, 0, SessionFile.HEADER_LENGTH, 0)
    reader.feed(head.subarray(0, headerBytes))
    const header = reader.next()
    if (header._tag !== "NeedMore") return header._tag === "Record" ? undefined : header
    if (headerBytes < SessionFile.HEADER_LENGTH) {
      const tail = reader.finish()
      return tail._tag === "Torn" || tail._tag === "Complete" ? undefined : tail
    }
    let offset = SessionFile.HEADER_LENGTH
    while (offset < size) {
      const n = fs.readSync(fd, head, 0, 16, offset)
      const block = SessionFile.readBlockHead(head.subarray(0, n))
      if (block === undefined) return SessionFile.corruptBlock(offset, "Length")
      if (block._tag === "NeedMore") return torn(offset)
      if (block.bodyLength === 0) {
        // a zero-filled tail is torn; zeros followed by data are corruption
        return allZero(fd, offset, size) ? torn(offset) : SessionFile.corruptBlock(offset, "Length")
      }
      const bodyEnd = offset + block.headLength + block.bodyLength
      if (bodyEnd > size) return torn(offset)
      if (bodyEnd === size) {
        // the last block: torn when its CRC fails (a crash mid-write), as the reader decides
        const body = Buffer.allocUnsafeSlow(block.bodyLength)
        const read = fs.readSync(fd, body, 0, block.bodyLength, offset + block.headLength)
        return read === block.bodyLength && SessionFile.blockChecksum(body) === block.crc ? undefined : torn(offset)
      }
      offset = bodyEnd
    }
    return undefined
  })

/** Whether `fd`'s bytes `[from, size)` are all zero. */
const allZero = (fd: number, from: number, size: number): boolean => {
  const buffer = Buffer.allocUnsafeSlow(Math.min(64 * 1024, size - from))
  for (let at = from; at < size;) {
    const n = fs.readSync(fd, buffer, 0, Math.min(buffer.byteLength, size - at), at)
    if (n === 0) return true
    for (let i = 0; i < n; i++) if (buffer[i] !== 0) return false
    at += n
  }
  return true
}

/**
 * Every entry of `file`, decoded (`SessionFile.decodeEntry`), as a stream.
 *
 * @since 0.1.0
 * @category reading
 */
export const entries = (file: string, options: ReadOptions = {}): Stream.Stream<SessionFile.Entry, SessionError> =>
  records(file, SessionFile.decodeEntry, options)

/**
 * Every entry of `file`, in memory.
 *
 * @since 0.1.0
 * @category reading
 */
export const readAll = (file: string, options: ReadOptions = {}): Effect.Effect<Array<SessionFile.Entry>, SessionError> =>
  Effect.map(Stream.runCollect(entries(file, options)), (all) => [...all])
