/**
 * `npx node bench/replay-faults.ts [SIZE=128] [ROUNDS=5]` — the fast replay of `bench/replay.ts`
 * alone (1M messages, `MarketFeedReplay.make(file, { timing: "fast" })`, `runForEach`, or
 * `runForEachArray` with `ARR=1`; `CHUNK=n` sets `chunkSize`), one line per round: wall and
 * main-thread CPU ms, the process's minor page faults in the round and its GCs by kind
 * (`PerformanceObserver`; 1 minor, 4 major, 8 incremental). Issue #15: the 128 B replay's wall time
 * follows its page faults (fresh memory for every read). The session file is written once to the
 * temp directory and kept for the next run.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as path from "node:path"
import * as os from "node:os"
import * as MarketFeedReplay from "../src/Layers/MarketFeedReplay.ts"
import type { FeedEvent } from "../src/Layers/MarketFeed.ts"
import { writeBenchSession } from "./bench-session.ts"
const COUNT = 1_000_000
const size = Number(process.argv[2] ?? 128)
const rounds = Number(process.argv[3] ?? 5)
const file = path.join(os.tmpdir(), `nexus-replay-faults-${size}.nxs`)
if (!fs.existsSync(file)) writeBenchSession(file, size, COUNT)
let touched = 0
const { PerformanceObserver } = await import("node:perf_hooks")
let gcs: Record<string, number> = {}
new PerformanceObserver((l) => { for (const e of l.getEntries()) { const k = String((e as unknown as { detail?: { kind?: number } }).detail?.kind); gcs[k] = (gcs[k] ?? 0) + 1 } }).observe({ entryTypes: ["gc"] })
const arrays = process.env.ARR === "1"
try {
for (let r = 0; r < rounds; r++) {
  gcs = {}
  const u0 = process.resourceUsage(); const c0 = process.threadCpuUsage()
  const t0 = performance.now()
  let received = 0
  await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const feed = yield* MarketFeedReplay.make(file, { timing: "fast", chunkSize: process.env.CHUNK ? Number(process.env.CHUNK) : undefined })
    const touchAll = (event: FeedEvent) => {
      if (event._tag !== "Messages") return
      const bytes = event.bytes
      received += event.count
      for (let i = 0; i < event.count; i++) touched = (touched + bytes[event.start(i)]! + bytes[event.end(i) - 1]!) | 0
    }
    if (arrays) yield* Stream.runForEachArray(feed.events, (evs) => { for (const e of evs) touchAll(e); return Effect.void })
    else yield* Stream.runForEach(feed.events, (e) => { touchAll(e); return Effect.void })
  })))
  const t1 = performance.now()
  const c1 = process.threadCpuUsage(c0); const flt = process.resourceUsage().minorPageFault - u0.minorPageFault
  await new Promise((r) => setTimeout(r, 20))
  console.log(`round ${r}: ${(t1 - t0).toFixed(1)} ms wall, ${((c1.user + c1.system) / 1000).toFixed(1)} ms cpu, ${(COUNT / ((t1 - t0) / 1000) / 1e6).toFixed(2)} M/s, minflt ${flt} gcs ${JSON.stringify(gcs)} ${received}`)
}
} finally {
  if (touched === 0) console.log("(no payload byte was non-zero)")
}
