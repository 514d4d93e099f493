/**
 * `node --cpu-prof bench/codec/send-write-profile.ts [filter]`: the `bench/codec/send-write.ts`
 * suites' first candidates (ours) alone in a loop, for a CPU profile of the send path.
 */
import { suites } from "./send-write.ts"

const filter = new RegExp(process.argv[2] ?? "128 B server")
for (const suite of suites.filter((s) => filter.test(s.name))) {
  const fn = suite.candidates[0]!.fn
  const t0 = performance.now()
  let ops = 0
  while (performance.now() - t0 < 3000) {
    for (let i = 0; i < 100; i++) fn()
    ops += 100
  }
  const ns = (performance.now() - t0) * 1e6 / (ops * suite.messagesPerOp)
  console.log(`${suite.name}: ${ns.toFixed(0)} ns/msg`)
}
