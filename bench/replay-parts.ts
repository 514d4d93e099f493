/**
 * `npm run bench:replay-parts` — where a fast replay's time goes (issue #15), for the 1M-message
 * session of `bench/replay.ts` at 40 B and 128 B: each part of reading the file alone, timed on
 * the wall and in main-thread CPU (`process.threadCpuUsage`, steadier than the wall on a shared
 * machine), interleaved over `ROUNDS` rounds (default 7), medians printed. Parts:
 * - `check` (every block's CRC, one reused buffer) and `checkFraming` (block lengths only): what
 *   the layer build did before this change and does now;
 * - `read, reused buffer`, `read, fresh buffers`: the file's 256 KiB reads alone (`readSync`),
 *   into one buffer and into a fresh one per read as the replay must (its batches own them);
 * - `reads + readMessages, no CRC` and `... CRC`: `SessionLog.reads` indexing every message in
 *   bulk, without and with the per-block CRC;
 * - `replay`: `MarketFeedReplay.make(file, { timing: "fast" })` read with `Stream.runForEach`,
 *   each payload's first and last byte read through the batch's index (as `bench/replay.ts`);
 *   with `CHUNKS=131072,1048576` also with those read sizes (`chunkSize`).
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as MarketFeedReplay from "../src/Layers/MarketFeedReplay.ts"
import * as SessionLog from "../src/Layers/SessionLog.ts"
import { writeBenchSession } from "./bench-session.ts"
import { median } from "./harness.ts"

const COUNT = 1_000_000
const ROUNDS = Number(process.env.ROUNDS ?? 7)
const CHUNK = SessionLog.DEFAULT_READ_CHUNK
/** Other read sizes to replay with (`CHUNKS=131072,1048576`), beside the default. */
const chunks = (process.env.CHUNKS ?? "").split(",").filter((c) => c !== "").map(Number)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nexus-bench-replay-parts-"))

/** The session of bench/replay.ts: `COUNT` binary messages of `size` bytes, 1 ms apart. */
const writeSession = (size: number): string => {
  const file = path.join(dir, `session-${size}.nxs`)
  writeBenchSession(file, size, COUNT)
  return file
}

let sink = 0

const readAll = (file: string, fresh: boolean) => {
  const fd = fs.openSync(file, "r")
  let buffer = Buffer.allocUnsafeSlow(CHUNK)
  for (;;) {
    if (fresh) buffer = Buffer.allocUnsafe(CHUNK)
    const n = fs.readSync(fd, buffer, 0, CHUNK, null)
    if (n === 0) break
    sink ^= buffer[n - 1]!
  }
  fs.closeSync(fd)
}

const index = new Uint32Array(32 * 1024)
const bulk = (file: string, checksums: boolean) =>
  Effect.runPromise(Stream.runDrain(SessionLog.reads<number>(file, (reader, buffer, out) => {
    for (;;) {
      const at = reader.readMessages(index, 0, index.length)
      for (let i = 0; i < at; i += 2) sink = (sink + buffer[index[i]!]!) | 0
      if (at === index.length) continue
      const record = reader.next()
      if (record._tag === "NeedMore") {
        out.push(0)
        return undefined
      }
      if (record._tag !== "Record") return record
    }
  }, { checksums })))

const replay = (file: string, chunkSize?: number) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const feed = yield* MarketFeedReplay.make(file, { timing: "fast", chunkSize })
    let received = 0
    yield* Stream.runForEach(feed.events, (event) => {
      if (event._tag === "Messages") {
        const bytes = event.bytes
        received += event.count // before the loop, as in bench/replay.ts (no deopt after it)
        for (let i = 0; i < event.count; i++) sink = (sink + bytes[event.start(i)]! + bytes[event.end(i) - 1]!) | 0
      }
      return Effect.void
    })
    if (received !== COUNT) throw new Error(`replayed ${received} of ${COUNT}`)
  })))

try {
  console.log(`replay parts, ${COUNT} messages, ${ROUNDS} rounds, Node ${process.version}, ${os.cpus().length} cores, ${new Date().toISOString()}`)
  for (const size of [40, 128]) {
    const file = writeSession(size)
    const parts: Array<{ name: string; run: () => unknown }> = [
      { name: "check (every CRC, one buffer)", run: () => Effect.runPromise(SessionLog.check(file)) },
      { name: "checkFraming (block lengths)", run: () => Effect.runPromise(SessionLog.checkFraming(file)) },
      { name: "read, reused buffer", run: () => readAll(file, false) },
      { name: "read, fresh buffers", run: () => readAll(file, true) },
      { name: "reads + readMessages, no CRC", run: () => bulk(file, false) },
      { name: "reads + readMessages, CRC", run: () => bulk(file, true) },
      { name: "replay (make + runForEach)", run: () => replay(file) },
      ...chunks.map((chunk) => ({ name: `replay, reads of ${chunk / 1024} KiB`, run: () => replay(file, chunk) }))
    ]
    const wall: Array<Array<number>> = parts.map(() => [])
    const cpu: Array<Array<number>> = parts.map(() => [])
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < parts.length; k++) {
        const i = round % 2 === 0 ? k : parts.length - 1 - k
        const t0 = performance.now()
        const c0 = process.threadCpuUsage()
        await parts[i]!.run()
        const c = process.threadCpuUsage(c0)
        wall[i]!.push(performance.now() - t0)
        cpu[i]!.push((c.user + c.system) / 1000)
      }
    }
    console.log(`\n### ${size} B — file ${fs.statSync(file).size} bytes`)
    console.log("| part | median wall ms | median main-thread CPU ms |")
    console.log("| --- | --- | --- |")
    parts.forEach((p, i) => console.log(`| ${p.name} | ${median(wall[i]!).toFixed(1)} | ${median(cpu[i]!).toFixed(1)} |`))
    fs.rmSync(file)
  }
  if (sink === 0.5) console.log("(unreachable: keeps the reads)")
} finally {
  fs.rmSync(dir, { recursive: true, force: true })
}
