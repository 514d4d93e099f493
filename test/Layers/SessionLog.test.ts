import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as SessionFile from "../../src/Codec/SessionFile.ts"
import * as SessionLog from "../../src/Layers/SessionLog.ts"

// Session files on disk (issue #15): `checkFraming` (the replay's build-time check, without
// reading the bodies) finds what `check` finds except a damaged body in a middle block, which a
// checking read finds when it gets there; read-ahead reads the same records as synchronous reads.

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nexus-session-log-"))
let n = 0
const tempFile = (bytes: Uint8Array) => {
  const file = path.join(dir, `session-${++n}.nxs`)
  fs.writeFileSync(file, bytes)
  return file
}

/** A file of `count` binary messages of `size` bytes (byte 0 their number), a block per `perBlock`; its bytes and block ends. */
const session = (count: number, size: number, perBlock: number, blockSize?: number) => {
  const writer = SessionFile.makeWriter(blockSize === undefined ? {} : { blockSize })
  const parts: Array<Uint8Array> = [SessionFile.header()]
  const ends: Array<number> = []
  let offset = SessionFile.HEADER_LENGTH
  for (let i = 0; i < count; i++) {
    writer.append(SessionFile.Kind.InBinary, i * 10, new Uint8Array(size).fill(i & 0xff))
    if ((i + 1) % perBlock === 0 || i === count - 1) {
      const block = Uint8Array.from(writer.flush())
      parts.push(block)
      ends.push((offset += block.byteLength))
    }
  }
  return { bytes: Buffer.concat(parts), ends }
}

/** What a check says: `ok` or the violation's tag and offset, and what onTorn was told. */
const verdict = (check: typeof SessionLog.check, file: string) =>
  Effect.gen(function*() {
    const torn: Array<{ offset: number; bytes: number }> = []
    const result = yield* check(file, { onTorn: (t) => torn.push(t) }).pipe(
      Effect.as("ok"),
      Effect.catch((error) => Effect.succeed(error.reason._tag === "SessionFileInvalid" ? error.reason.violation : error.reason._tag))
    )
    return { result, torn }
  })

/** The first payload byte of every binary record, read with `options`. */
const firstBytes = (file: string, options: SessionLog.ReadOptions) =>
  Stream.runCollect(SessionLog.records(file, (r) => (r.kind === SessionFile.Kind.InBinary ? r.buf[r.start]! : undefined), options))

describe("SessionLog", () => {
  it.effect("checkFraming gives check's verdict at every truncation point, and for damaged tails, zeros, versions", () =>
    Effect.gen(function*() {
      const { bytes } = session(12, 30, 3)
      for (let cut = 0; cut <= bytes.byteLength; cut++) {
        const file = tempFile(bytes.subarray(0, cut))
        assert.deepStrictEqual(yield* verdict(SessionLog.checkFraming, file), yield* verdict(SessionLog.check, file), `cut at ${cut}`)
        fs.rmSync(file)
      }
      const damagedTail = Buffer.from(bytes)
      damagedTail[bytes.byteLength - 2]! ^= 0x10
      const zeroTail = Buffer.concat([bytes, Buffer.alloc(70_000)])
      const zerosThenData = Buffer.concat([bytes, Buffer.alloc(100), bytes.subarray(SessionFile.HEADER_LENGTH)])
      const newer = Uint8Array.of(0x4e, 0x58, 0x53, 0x46, 2, 0, 0, 0)
      const notSession = Buffer.from("GET / HTTP/1.1\r\n\r\n")
      const garbageLength = Buffer.concat([bytes, new Uint8Array(12).fill(0xff)])
      for (const [name, contents] of Object.entries({ damagedTail, zeroTail, zerosThenData, newer, notSession, garbageLength })) {
        const file = tempFile(contents)
        const expected = yield* verdict(SessionLog.check, file)
        assert.deepStrictEqual(yield* verdict(SessionLog.checkFraming, file), expected, name)
        // and each case is the one meant
        const meant = {
          damagedTail: "Torn", zeroTail: "Torn", zerosThenData: "CorruptBlock", newer: "UnsupportedSessionVersion",
          notSession: "NotASessionFile", garbageLength: "CorruptBlock"
        }[name]
        assert.strictEqual(expected.result === "ok" ? (expected.torn.length > 0 ? "Torn" : "ok") : (expected.result as { _tag: string })._tag, meant, name)
      }
    }))

  it.effect("a damaged body in a middle block passes checkFraming; a checking read fails there with the whole error, synchronous or reading ahead", () =>
    Effect.gen(function*() {
      const { bytes, ends } = session(40, 100, 4)
      const damaged = Buffer.from(bytes)
      damaged[ends[4]! + 20]! ^= 0x01 // inside the sixth block's body
      const file = tempFile(damaged)
      const expected = new SessionLog.SessionError({
        file,
        reason: new SessionLog.SessionFileInvalid({ violation: SessionFile.corruptBlock(ends[4]!, "Checksum") })
      })
      assert.deepStrictEqual(yield* Effect.flip(SessionLog.check(file)), expected)
      yield* SessionLog.checkFraming(file)
      for (const readAhead of [false, true]) {
        for (const chunkSize of [64, 1000, 1 << 20]) {
          const seen: Array<number> = []
          const error = yield* Effect.flip(Stream.runForEach(
            SessionLog.records(file, (r) => (r.kind === SessionFile.Kind.InBinary ? r.buf[r.start]! : undefined), { readAhead, chunkSize }),
            (b) => Effect.sync(() => seen.push(b))
          ))
          assert.deepStrictEqual(error, expected)
          // the five whole blocks before it, never a record of the damaged one
          assert.deepStrictEqual(seen, Array.from({ length: 20 }, (_, i) => i), `readAhead ${readAhead}, chunk ${chunkSize}`)
        }
      }
    }))

  it.effect("reading ahead reads what synchronous reads read, whatever the chunk and block sizes (blocks past the headroom too)", () =>
    Effect.gen(function*() {
      for (const [count, size, perBlock, blockSize] of [[300, 37, 7, undefined], [40, 20_000, 8, 256 * 1024], [3, 1, 1, undefined]] as const) {
        const { bytes } = session(count, size, perBlock, blockSize)
        const file = tempFile(Buffer.concat([bytes, bytes.subarray(SessionFile.HEADER_LENGTH, SessionFile.HEADER_LENGTH + 5)]))
        const expected = Array.from({ length: count }, (_, i) => i & 0xff)
        for (const chunkSize of [100, 4096, 70_000, 1 << 20]) {
          const torn: Array<unknown> = []
          const ahead = yield* firstBytes(file, { readAhead: true, chunkSize, onTorn: (t) => torn.push(t) })
          assert.deepStrictEqual([...ahead], expected, `${size} B, chunk ${chunkSize}`)
          assert.deepStrictEqual([...(yield* firstBytes(file, { chunkSize }))], expected)
          // the torn 5 bytes at the end, as the synchronous read reports them
          assert.deepStrictEqual(torn, [{ offset: bytes.byteLength, bytes: 5 }])
        }
      }
    }))

  it.effect("reading ahead stops at once when the stream is interrupted, its file closed once the read in flight completes", () =>
    Effect.gen(function*() {
      const { bytes } = session(2000, 100, 10)
      const file = tempFile(bytes)
      const open = () => fs.readdirSync("/proc/self/fd").length
      const before = open()
      for (let i = 0; i < 20; i++) {
        const taken = yield* Stream.runCollect(
          SessionLog.records(file, (r) => r.buf[r.start]!, { readAhead: true, chunkSize: 1024 }).pipe(Stream.take(3))
        )
        assert.deepStrictEqual([...taken], [0, 1, 2])
      }
      // every descriptor closed, by the release or by the read that was in flight
      for (let i = 0; i < 100 && open() > before; i++) yield* Effect.promise(() => new Promise((r) => setTimeout(r, 5)))
      assert.strictEqual(open(), before)
    }))
})
