/**
 * The session file the replay benches read (`bench/replay.ts`, `bench/replay-parts.ts`,
 * `bench/replay-faults.ts`): `count` binary messages of `size` bytes, 1 ms apart (a Δt of 1000 µs),
 * with the recorder's Meta, Connected and End records, written by `SessionFile`'s writer in its
 * default blocks.
 */
import * as fs from "node:fs"
import * as SessionFile from "../src/Codec/SessionFile.ts"

/** Writes the session to `file`; returns the file's size in bytes. */
export const writeBenchSession = (file: string, size: number, count: number): number => {
  const fd = fs.openSync(file, "w")
  const writer = SessionFile.makeWriter()
  let bytes = 0
  const put = (b: Uint8Array) => {
    fs.writeSync(fd, b)
    bytes += b.byteLength
  }
  put(SessionFile.header())
  writer.appendJson(SessionFile.Kind.Meta, 0, { startedAt: Date.now(), source: "bench" })
  writer.appendJson(SessionFile.Kind.Connected, 0, { session: 1, renewal: false })
  const payload = new Uint8Array(size).fill(0x61)
  for (let i = 0; i < count; i++) {
    payload[0] = i & 0xff
    writer.append(SessionFile.Kind.InBinary, 1000 + i * 1000, payload)
    if (writer.isFull) put(writer.flush())
  }
  writer.appendJson(SessionFile.Kind.End, 1000 + count * 1000, {})
  put(writer.flush())
  fs.closeSync(fd)
  return bytes
}
