/**
 * A small harness over tinybench for side-by-side comparisons: every `Suite` names its
 * candidates (ours and the peers) and the harness runs them in alternating rounds in the same
 * process, then reports medians of messages per second and the ratio against each peer.
 *
 * The machines are noisy 2-core boxes, so one sample proves little: `ROUNDS` repetitions with the
 * candidates interleaved, median of the rounds.
 */
import { Bench } from "tinybench"

/** One contender in a suite. `fn` runs `messagesPerOp` messages' worth of work per call. */
export interface Candidate {
  readonly name: string
  readonly fn: () => void
}

/** A question answered by running the candidates side by side. */
export interface Suite {
  readonly name: string
  /** How many messages (frames, requests) one call of a candidate's `fn` handles. */
  readonly messagesPerOp: number
  /** `candidates[0]` is ours; the rest are peers. */
  readonly candidates: ReadonlyArray<Candidate>
  /** The speed-up over the first peer the issue asks for, if any. */
  readonly target?: number | undefined
  /**
   * Optional latency target in nanoseconds per message for ours (e.g. "under 1 µs per round"),
   * compared with the p50 op time divided by `messagesPerOp`.
   */
  readonly targetNsPerMessage?: number | undefined
}

/** The measured outcome of a suite. */
export interface SuiteResult {
  readonly suite: Suite
  /** Median messages per second per candidate, same order as `suite.candidates`. */
  readonly messagesPerSecond: ReadonlyArray<number>
  /** Median over rounds of the p50 op latency divided by `messagesPerOp`, per candidate. */
  readonly nsPerMessage: ReadonlyArray<number>
  /** The same for the p99 op latency. */
  readonly nsPerMessageP99: ReadonlyArray<number>
}

/** The median of `values` (the mean of the middle two for an even count). */
export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Runs every suite `rounds` times with its candidates interleaved and returns the medians. */
export const runSuites = async (
  suites: ReadonlyArray<Suite>,
  options: { readonly rounds?: number; readonly timeMs?: number; readonly filter?: RegExp | undefined } = {}
): Promise<ReadonlyArray<SuiteResult>> => {
  const rounds = options.rounds ?? 3
  const timeMs = options.timeMs ?? 300
  const results: Array<SuiteResult> = []
  for (const suite of suites) {
    if (options.filter !== undefined && !options.filter.test(suite.name)) continue
    const mps: Array<Array<number>> = suite.candidates.map(() => [])
    const ns: Array<Array<number>> = suite.candidates.map(() => [])
    const ns99: Array<Array<number>> = suite.candidates.map(() => [])
    for (let round = 0; round < rounds; round++) {
      // alternate the order each round so neither side always runs on a warmer machine
      const order = suite.candidates.map((_, i) => i)
      if (round % 2 === 1) order.reverse()
      for (const i of order) {
        const candidate = suite.candidates[i]!
        const bench = new Bench({ time: timeMs, warmupTime: 100 })
        bench.add(candidate.name, candidate.fn)
        const [task] = await bench.run()
        const result = task!.result
        if (result.state !== "completed") {
          throw new Error(`bench ${suite.name} / ${candidate.name} did not complete: ${result.state}`)
        }
        mps[i]!.push(result.throughput.mean * suite.messagesPerOp)
        ns[i]!.push(result.latency.p50 * 1e6 / suite.messagesPerOp)
        ns99[i]!.push(result.latency.p99 * 1e6 / suite.messagesPerOp)
      }
    }
    results.push({ suite, messagesPerSecond: mps.map(median), nsPerMessage: ns.map(median), nsPerMessageP99: ns99.map(median) })
  }
  return results
}

const fmtRate = (n: number): string =>
  n >= 1e6 ? `${(n / 1e6).toFixed(2)} M/s` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k/s` : `${n.toFixed(0)} /s`

/**
 * Renders results as a Markdown table: ours, each peer, the ratio of median messages per second,
 * the target and its verdict. Latencies are per message: the p50/p99 of one timed call divided
 * by the messages it handles (a call handles 100), so p99 shows the slow calls — GC, a
 * descheduled core — spread over those 100.
 */
export const toMarkdown = (results: ReadonlyArray<SuiteResult>): string => {
  const lines = [
    "| case | ours | ns/msg ours p50 / p99 | peer | peer rate | ns/msg peer p50 / p99 | ratio | target | met |",
    "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | :---: |"
  ]
  const ns = (p50: number, p99: number): string => `${p50.toFixed(p50 < 100 ? 1 : 0)} / ${p99.toFixed(p99 < 100 ? 1 : 0)}`
  for (const { messagesPerSecond, nsPerMessage, nsPerMessageP99, suite } of results) {
    const ours = messagesPerSecond[0]!
    const peers = suite.candidates.slice(1)
    if (peers.length === 0) {
      const met = suite.targetNsPerMessage === undefined ? "" : nsPerMessage[0]! <= suite.targetNsPerMessage ? "yes" : "NO"
      const target = suite.targetNsPerMessage === undefined ? "" : `< ${suite.targetNsPerMessage} ns`
      lines.push(`| ${suite.name} | ${fmtRate(ours)} | ${ns(nsPerMessage[0]!, nsPerMessageP99[0]!)} | | | | | ${target} | ${met} |`)
    }
    peers.forEach((peer, j) => {
      const rate = messagesPerSecond[j + 1]!
      const ratio = ours / rate
      const hasTarget = j === 0 && suite.target !== undefined
      const met = hasTarget ? (ratio >= suite.target! ? "yes" : "NO") : ""
      lines.push(
        `| ${suite.name} | ${fmtRate(ours)} | ${ns(nsPerMessage[0]!, nsPerMessageP99[0]!)} | ${peer.name} | ${
          fmtRate(rate)
        } | ${ns(nsPerMessage[j + 1]!, nsPerMessageP99[j + 1]!)} | ${ratio.toFixed(2)}× | ${
          hasTarget ? `${suite.target}×` : ""
        } | ${met} |`
      )
    })
  }
  return lines.join("\n")
}
