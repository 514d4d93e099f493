/**
 * Paired `npm run bench:pool` runs of two checkouts, told apart on a shared, noisy machine by
 * in-run ratios: `npx node bench/pool-pairs.ts LOG`, where LOG holds the printouts, each after
 * a line `=== <label> run <n> ...` (the label names the checkout). Made with, for example:
 *
 * ```sh
 * for i in 1 2 3; do for c in base new; do
 *   echo "=== $c run $i $(date -u +%T) $(uptime | sed 's/.*load/load/')"
 *   (cd ../$c && ROUNDS=3 REQUESTS=20000 LEASES=100000 node bench/pool.ts)
 * done; done > pairs.log
 * ```
 *
 * Per label and connection count it prints each run's ratio of ours (`request`, `withSlot`) to
 * undici's `Pool.request`, to undici's fastest API and to the raw floor, and the median over the
 * runs (undici's fastest: the faster of its `Pool.request` and `Pool.dispatch` in that run); per
 * label, the lease rows (ns) of each run; and the HttpClient ratio lines each run printed
 * (Effect's HttpClient on NexusHttpClient against undici `Pool.request` and `layerUndici`), and
 * the sequential latency (1 connection) each adds over the raw floor.
 */
import { readFileSync } from "node:fs"
import { median } from "./harness.ts"

const log = readFileSync(process.argv[2] ?? "/dev/stdin", "utf8")
const runs = log.split(/^=== /m).slice(1)

/** label → connections → rows (client → req/s) of each run. */
const rates = new Map<string, Map<number, Array<Map<string, number>>>>()
/** The keys under which a run's printed HttpClient ratios (medians of its in-round ratios) are kept. */
const HC_UNDICI = "HttpClient ÷ undici Pool.request (printed)"
const HC_LAYER = "HttpClient ÷ layerUndici (printed)"
const leases = new Map<string, Array<Map<string, number>>>()

for (const run of runs) {
  const label = run.split(/\s/)[0]!
  for (const section of run.split(/^### /m)) {
    const rows = new Map<string, number>()
    const connections = /^order entry, (\d+) connection/.exec(section)
    for (const line of section.split("\n")) {
      const rate = /^\| (.+?) \| ([\d.]+) k\/s \|/.exec(line)
      if (rate !== null) rows.set(rate[1]!, Number(rate[2]) * 1e3)
      const ns = /^\| (.+?) \| (\d+) \|$/.exec(line)
      if (ns !== null) rows.set(ns[1]!, Number(ns[2]))
      const client = /^Effect HttpClient on NexusHttpClient: ([\d.]+)× undici Pool\.request, ([\d.]+)× on layerUndici/.exec(line)
      if (client !== null) {
        rows.set(HC_UNDICI, Number(client[1]))
        rows.set(HC_LAYER, Number(client[2]))
      }
    }
    if (connections !== null) {
      const byConnections = rates.get(label) ?? new Map()
      rates.set(label, byConnections)
      const list = byConnections.get(Number(connections[1])) ?? []
      byConnections.set(Number(connections[1]), list)
      list.push(rows)
    } else if (section.startsWith("acquire + release")) {
      const list = leases.get(label) ?? []
      leases.set(label, list)
      list.push(rows)
    }
  }
}

const REQUEST = "effect-nexus request (owned copy)"
const HTTP_CLIENT = "Effect HttpClient on NexusHttpClient"
const WITH_SLOT = "effect-nexus withSlot + send (view)"
const fmt = (xs: ReadonlyArray<number>) => `${xs.map((x) => x.toFixed(2)).join(" / ")} (median ${median([...xs]).toFixed(2)})`

console.log(`paired bench:pool runs in ${process.argv[2] ?? "stdin"}: in-run ratios, each run, then the median\n`)
console.log(
  "| checkout | connections | request ÷ undici Pool.request | request ÷ undici's fastest | withSlot ÷ undici Pool.request | withSlot ÷ undici's fastest | withSlot ÷ raw floor |"
)
console.log("| --- | ---: | --- | --- | --- | --- | --- |")
for (const [label, byConnections] of rates) {
  for (const [connections, list] of byConnections) {
    const ratio = (name: string, against: (rows: Map<string, number>) => number) =>
      list.map((rows) => rows.get(name)! / against(rows))
    const undiciRequest = (rows: Map<string, number>) => rows.get("undici Pool.request")!
    const fastest = (rows: Map<string, number>) => Math.max(rows.get("undici Pool.request")!, rows.get("undici Pool.dispatch")!)
    const floor = (rows: Map<string, number>) => rows.get("raw node:net floor")!
    console.log(
      `| ${label} | ${connections} | ${fmt(ratio(REQUEST, undiciRequest))} | ${fmt(ratio(REQUEST, fastest))} | ${
        fmt(ratio(WITH_SLOT, undiciRequest))
      } | ${
        fmt(ratio(WITH_SLOT, fastest))
      } | ${fmt(ratio(WITH_SLOT, floor))} |`
    )
  }
}
console.log(
  "\n| checkout | connections | HttpClient ÷ undici Pool.request (printed) | HttpClient ÷ layerUndici (printed) | HttpClient ÷ request (tables' medians) |"
)
console.log("| --- | ---: | --- | --- | --- |")
for (const [label, byConnections] of rates) {
  for (const [connections, list] of byConnections) {
    if (!list.every((rows) => rows.has(HC_UNDICI))) continue
    console.log(
      `| ${label} | ${connections} | ${fmt(list.map((rows) => rows.get(HC_UNDICI)!))} | ${
        fmt(list.map((rows) => rows.get(HC_LAYER)!))
      } | ${fmt(list.map((rows) => rows.get(HTTP_CLIENT)! / rows.get(REQUEST)!))} |`
    )
  }
}
// sequential latency (1 connection, 1 caller) added over the raw floor: 1/rate − 1/floor, in µs
console.log(
  "\n| checkout | µs added over the raw floor, 1 connection: HttpClient | request | undici Pool.request | HttpClient's ÷ undici's |"
)
console.log("| --- | --- | --- | --- | --- |")
for (const [label, byConnections] of rates) {
  const list = byConnections.get(1)
  if (list === undefined || !list.every((rows) => rows.has(HTTP_CLIENT))) continue
  const added = (name: string) => list.map((rows) => 1e6 / rows.get(name)! - 1e6 / rows.get("raw node:net floor")!)
  const us = (xs: ReadonlyArray<number>) => `${xs.map((x) => x.toFixed(1)).join(" / ")} (median ${median([...xs]).toFixed(1)})`
  const client = added(HTTP_CLIENT)
  const undici = added("undici Pool.request")
  console.log(
    `| ${label} | ${us(client)} | ${us(added(REQUEST))} | ${us(undici)} | ${fmt(client.map((x, i) => x / undici[i]!))} |`
  )
}
console.log("\n| checkout | lease | ns, each run |")
console.log("| --- | --- | --- |")
for (const [label, list] of leases) {
  for (const name of list[0]!.keys()) {
    console.log(`| ${label} | ${name} | ${list.map((rows) => rows.get(name) ?? "—").join(" / ")} |`)
  }
}
