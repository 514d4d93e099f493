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
// checking read finds when it gets there, after serving the records before it.

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

  it.effect("a damaged body in a middle block passes checkFraming; a checking read serves what came before it, then fails with the whole error", () =>
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
      for (const chunkSize of [64, 1000, 1 << 20]) {
        const seen: Array<number> = []
        const error = yield* Effect.flip(Stream.runForEach(
          SessionLog.records(file, (r) => (r.kind === SessionFile.Kind.InBinary ? r.buf[r.start]! : undefined), { chunkSize }),
          (b) => Effect.sync(() => seen.push(b))
        ))
        assert.deepStrictEqual(error, expected)
        // the five whole blocks before it (those in the failing read too), never a record of the damaged one
        assert.deepStrictEqual(seen, Array.from({ length: 20 }, (_, i) => i), `chunk ${chunkSize}`)
      }
    }))
})
