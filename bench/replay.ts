/**
 * `npm run bench:replay` — issue #15's speed question: does replaying a 1-million-message session
 * as fast as possible through `MarketFeed` (`MarketFeed.layerReplay(file, { timing: "fast" })`,
 * read with `Stream.runForEach` as an application would) keep up with the live
 * `WebSocket.run` rate over loopback, measured in the same run? And what does the file cost
 * against the raw payload bytes for 40 B and 128 B messages?
 *
 * Candidates, per message size, interleaved in every round (the order alternating); every one
 * reads each payload's first and last byte, as the API hands the payload out:
 * - `replay, runForEach`: build the replayed feed (timed: it checks the file's framing and reads
 *   its first records) and read every event with `Stream.runForEach` (one Effect per event: the
 *   usual door; a `Messages` event holds every message of one read of the file, every block's
 *   CRC checked as it is read), each payload read through the batch's index.
 * - `replay, runForEachArray`: the same, read an array of events at a time.
 * - `replay (lent)`, both consumers: the same with `lent: true` — the file read
 *   into two buffers in turn, each batch lent until the next pull (read in place here, so like
 *   with like with the live handler's views).
 * - `replay (checksums: false)`, owned and lent, `runForEach`: the same without the blocks'
 *   CRC-32 (`MarketFeedReplay.Options.checksums`: a file `SessionLog.check` passed once, replayed
 *   many times); the framing and the last block's CRC are still checked when the feed is built.
 * - `live WebSocket.run`: our client on `bench/loopback-server.ts`'s firehose (a child process,
 *   the other core) streaming 1M binary messages of the same size, pushed to a handler that
 *   reads the view's bytes in place.
 *
 * The session file holds 1M binary messages of the size, 1 ms apart (a Δt of 1000 µs: 2 bytes),
 * with the recorder's Meta and End records, written by `SessionFile`'s writer in 64 KiB blocks.
 * Reported: messages/s medians over `ROUNDS` rounds (default 11), the median of the per-round
 * ratios replay/live, and file bytes / payload bytes. Each candidate starts from a collected heap
 * (`gc()`: the npm script runs with `--expose-gc`), so none pays for the last one's garbage; the
 * rounds are short (a million messages), so there are many. Run: `npm run bench:replay`.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type * as MarketFeed from "../src/Layers/MarketFeed.ts"
import * as MarketFeedReplay from "../src/Layers/MarketFeedReplay.ts"
import * as NexusWebSocket from "../src/Transport/WebSocket.ts"
import { writeBenchSession } from "./bench-session.ts"
import { median } from "./harness.ts"
import { startLoopbackServers } from "./loopback-peer.ts"

const COUNT = Number(process.env.COUNT ?? 1_000_000)
const ROUNDS = Number(process.env.ROUNDS ?? 11)
const SIZES = [40, 128]

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nexus-bench-replay-"))

/** Writes the bench session of `count` binary messages of `size` bytes; returns its path and size. */
const writeSession = (size: number, count: number): { file: string; bytes: number } => {
  const file = path.join(dir, `session-${size}.nxs`)
  return { file, bytes: writeBenchSession(file, size, count) }
}

/** Every consumer reads each payload's first and last byte into this sink. */
let touched = 0

const replayRate = (file: string, arrays: boolean, lent = false, checksums = true): Promise<number> =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const t0 = performance.now()
    const feed = yield* MarketFeedReplay.make(file, { timing: "fast", lent, checksums })
    let received = 0
    // each payload as the API hands it out: through the batch's index into its owned buffer
    const touchAll = (event: MarketFeed.FeedEvent) => {
      if (event._tag !== "Messages") return
      const bytes = event.bytes
      // counted before the loop: after it, the OSR-compiled loop met an addition with no type
      // feedback and deoptimized at the end of every batch (--trace-deopt)
      received += event.count
      for (let i = 0; i < event.count; i++) touched = (touched + bytes[event.start(i)]! + bytes[event.end(i) - 1]!) | 0
    }
    if (arrays) {
      yield* Stream.runForEachArray(feed.events, (events) => {
        for (const event of events) touchAll(event)
        return Effect.void
      })
    } else {
      yield* Stream.runForEach(feed.events, (event) => {
        touchAll(event)
        return Effect.void
      })
    }
    const t1 = performance.now()
    if (received !== COUNT) throw new Error(`replayed ${received} of ${COUNT} messages`)
    return COUNT / ((t1 - t0) / 1000)
  })))

const ports = await startLoopbackServers()
const liveRate = (size: number): Promise<number> =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const ws = yield* NexusWebSocket.connect(`ws://127.0.0.1:${ports.ws}/stream?size=${size}&count=${COUNT}`)
    const started = performance.now()
    let received = 0
    let elapsed = 0
    yield* NexusWebSocket.run(ws, (message) => {
      if (message._tag !== "Binary") return
      // the view's bytes, read in place (no payload view allocated)
      touched = (touched + message.buf[message.start]! + message.buf[message.end - 1]!) | 0
      if (++received === COUNT) elapsed = performance.now() - started
    })
    if (received < COUNT) throw new Error(`firehose closed after ${received} messages`)
    return COUNT / (elapsed / 1000)
  })))

const fmt = (n: number) => `${(n / 1e6).toFixed(2)} M/s`
try {
  console.log(`replay vs live, ${COUNT} messages, ${ROUNDS} rounds, Node ${process.version}, ${os.cpus().length} cores, ${new Date().toISOString()}`)
  for (const size of SIZES) {
    const { file, bytes } = writeSession(size, COUNT)
    const candidates = [
      { name: "replay (MarketFeed.layerReplay, fast), runForEach", run: () => replayRate(file, false) },
      { name: "replay (MarketFeed.layerReplay, fast), runForEachArray", run: () => replayRate(file, true) },
      { name: "live WebSocket.run (loopback firehose)", run: () => liveRate(size) },
      { name: "replay (fast, lent: batches lent until the next pull), runForEach", run: () => replayRate(file, false, true) },
      { name: "replay (fast, lent), runForEachArray", run: () => replayRate(file, true, true) },
      { name: "replay (fast, checksums: false), runForEach", run: () => replayRate(file, false, false, false) },
      { name: "replay (fast, lent, checksums: false), runForEach", run: () => replayRate(file, false, true, false) }
    ]
    const samples: Array<Array<number>> = candidates.map(() => [])
    for (let round = 0; round < ROUNDS; round++) {
      // live in the middle, the replays around it, the order reversed every other round
      const order = round % 2 === 0 ? [0, 3, 5, 2, 1, 4, 6] : [6, 4, 1, 2, 5, 3, 0]
      for (const i of order) {
        // each candidate from a collected heap: the last one's garbage is not its bill
        ;(globalThis as { gc?: () => void }).gc?.()
        samples[i]!.push(await candidates[i]!.run())
      }
    }
    const live = samples[2]!
    const ratioLine = (label: string, i: number) => {
      const ratios = samples[i]!.map((r, round) => r / live[round]!)
      console.log(`${label} / live, median of per-round ratios: ${median(ratios).toFixed(2)}× (rounds: ${ratios.map((r) => r.toFixed(2)).join(", ")})`)
    }
    console.log(`\n### ${size} B binary messages — file ${bytes} bytes for ${size * COUNT} payload bytes: ${(bytes / (size * COUNT)).toFixed(3)}× raw`)
    console.log("| candidate | median msg/s | rounds |")
    console.log("| --- | --- | --- |")
    candidates.forEach((c, i) => console.log(`| ${c.name} | ${fmt(median(samples[i]!))} | ${samples[i]!.map(fmt).join(", ")} |`))
    console.log("")
    ratioLine("replay (runForEach)", 0)
    ratioLine("replay (runForEachArray)", 1)
    ratioLine("replay (lent, runForEach)", 3)
    ratioLine("replay (lent, runForEachArray)", 4)
    ratioLine("replay (checksums: false, runForEach)", 5)
    ratioLine("replay (lent, checksums: false, runForEach)", 6)
    fs.rmSync(file)
  }
  if (touched === 0) console.log("(no payload byte was non-zero)")
} finally {
  ports.stop()
  fs.rmSync(dir, { recursive: true, force: true })
}
