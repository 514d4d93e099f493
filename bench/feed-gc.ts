/**
 * `npx node [V8 flags] bench/feed-gc.ts PATH [SIZE] [COUNT] [ROUNDS]` — one reconnecting feed
 * alone on the loopback firehose (`bench/loopback-server.ts` in a child process), with the
 * counters that explain an owned copy's cost: PATH is `marketfeed` (`Messages` batches, owned
 * copies), `marketfeed-lent` (the batches lent: copied into reused memory) or `feed` (views, no
 * copy). Per round: messages/second, the main thread's CPU per
 * message (`process.threadCpuUsage`), this process's minor page faults per 1000 messages
 * (`process.resourceUsage`), and the garbage collections (`PerformanceObserver` `gc` entries):
 * how many scavenges and mark-compacts, and their total pause.
 */
import { PerformanceObserver } from "node:perf_hooks"
import { constants } from "node:perf_hooks"
import { sink, viaFeed, viaMarketFeed, viaMarketFeedLent } from "./feed-consumers.ts"
import { startLoopbackServers } from "./loopback-peer.ts"

const path = process.argv[2] ?? "marketfeed"
const size = Number(process.argv[3] ?? 128)
const count = Number(process.argv[4] ?? 2_000_000)
const rounds = Number(process.argv[5] ?? 3)
const consumer = path === "marketfeed"
  ? viaMarketFeed
  : path === "marketfeed-lent"
  ? viaMarketFeedLent
  : path === "feed"
  ? viaFeed
  : undefined
if (consumer === undefined) throw new Error(`unknown path ${path}`)
const servers = await startLoopbackServers()
const url = `ws://127.0.0.1:${servers.ws}/stream?size=${size}&count=${count}`

const gc = { minor: 0, major: 0, minorMs: 0, majorMs: 0 }
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = (entry as unknown as { readonly detail: { readonly kind: number } }).detail.kind
    if (kind === constants.NODE_PERFORMANCE_GC_MINOR) {
      gc.minor++
      gc.minorMs += entry.duration
    } else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
      gc.major++
      gc.majorMs += entry.duration
    }
  }
}).observe({ entryTypes: ["gc"] })

for (let round = 0; round < rounds; round++) {
  Object.assign(gc, { minor: 0, major: 0, minorMs: 0, majorMs: 0 })
  const faults0 = process.resourceUsage().minorPageFault
  const cpu0 = process.threadCpuUsage()
  const elapsed = await consumer(url, count)
  const cpu = process.threadCpuUsage(cpu0)
  const faults = process.resourceUsage().minorPageFault - faults0
  // the observer's entries arrive on a later turn
  await new Promise((resolve) => setTimeout(resolve, 50))
  console.log(
    `${path} ${size} B: ${(count / elapsed / 1000).toFixed(2)} M msg/s, ` +
      `${((cpu.user + cpu.system) * 1000 / count).toFixed(0)} ns main-thread CPU/msg, ` +
      `${(faults * 1000 / count).toFixed(1)} minor page faults per 1000 messages, ` +
      `GC: ${gc.minor} scavenges ${gc.minorMs.toFixed(0)} ms, ${gc.major} mark-compacts ${gc.majorMs.toFixed(0)} ms`
  )
}
servers.stop()
if (sink.touched === 0) throw new Error("no payload was read")
