/**
 * Medians across several saved `npm run bench:codec` outputs, so a results file can quote one
 * number per case that a command printed rather than one picked by hand:
 * `npx node bench/summarize.ts run1.txt run2.txt run3.txt`, or `bench/RESULTS.md` itself (its
 * summary table has another header, so only the recorded runs count).
 *
 * Reads the rows of every table with `bench/harness.ts`'s header in the given files and, per
 * case and peer, prints the median of ours, of the peer's rate, of the ratio and of our p50
 * per message, with the target verdict recomputed from the median.
 */
import { readFileSync } from "node:fs"
import { median } from "./harness.ts"

const HEADER = "| case | ours | ns/msg ours p50 / p99 |"

interface Row {
  readonly name: string
  readonly peer: string
  readonly ours: number
  readonly oursP50: number
  readonly peerRate: number
  readonly ratio: number
  readonly target: string
}

/** `"22.86 M/s"` / `"902.6 k/s"` → messages per second. */
const rate = (s: string): number => {
  const [n, unit] = s.trim().split(" ")
  return Number(n) * (unit === "M/s" ? 1e6 : unit === "k/s" ? 1e3 : 1)
}

const fmtRate = (n: number): string =>
  n >= 1e6 ? `${(n / 1e6).toFixed(2)} M/s` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k/s` : `${n.toFixed(0)} /s`


let tables = 0

const rowsOf = (text: string): Array<Row> => {
  const rows: Array<Row> = []
  let inTable = false
  for (const line of text.split("\n")) {
    if (line.startsWith(HEADER)) {
      inTable = true
      tables++
      continue
    }
    if (!line.startsWith("|")) {
      inTable = false
      continue
    }
    if (!inTable || line.startsWith("| ---")) continue
    const cells = line.split("|").slice(1, -1).map((c) => c.trim())
    const [name, ours, oursNs, peer, peerRate, , ratio, target] = cells
    rows.push({
      name: name!,
      peer: peer!,
      ours: rate(ours!),
      oursP50: Number(oursNs!.split("/")[0]),
      peerRate: peer === "" ? Number.NaN : rate(peerRate!),
      ratio: peer === "" ? Number.NaN : Number(ratio!.replace("×", "")),
      target: target!
    })
  }
  return rows
}

const files = process.argv.slice(2)
if (files.length === 0) {
  console.error("usage: npx node bench/summarize.ts OUTPUT...")
  process.exit(2)
}
const byCase = new Map<string, Array<Row>>()
for (const file of files) {
  for (const row of rowsOf(readFileSync(file, "utf8"))) {
    const key = `${row.name}\u0000${row.peer}`
    byCase.set(key, [...(byCase.get(key) ?? []), row])
  }
}
console.log(`median of ${tables} bench:codec table(s) in ${files.join(", ")}\n`)
console.log("| case | peer | runs | ours (median) | ours p50 ns/msg (median) | peer (median) | ratio (median) | ratio range | target | met |")
console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: |")
for (const rows of byCase.values()) {
  const first = rows[0]!
  const ours = median(rows.map((r) => r.ours))
  const p50 = median(rows.map((r) => r.oursP50))
  if (first.peer === "") {
    const limit = first.target.startsWith("<") ? Number(first.target.replace(/[^0-9.]/g, "")) : Number.NaN
    const met = Number.isNaN(limit) ? "" : p50 <= limit ? "yes" : "NO"
    console.log(`| ${first.name} | | ${rows.length} | ${fmtRate(ours)} | ${p50.toFixed(0)} | | | | ${first.target} | ${met} |`)
    continue
  }
  const ratios = rows.map((r) => r.ratio)
  const ratio = median(ratios)
  const target = first.target === "" ? Number.NaN : Number(first.target.replace("×", ""))
  const met = Number.isNaN(target) ? "" : ratio >= target ? "yes" : "NO"
  console.log(
    `| ${first.name} | ${first.peer} | ${rows.length} | ${fmtRate(ours)} | ${p50.toFixed(p50 < 100 ? 1 : 0)} | ${
      fmtRate(median(rows.map((r) => r.peerRate)))
    } | ${ratio.toFixed(2)}× | ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}× | ${first.target} | ${met} |`
  )
}
