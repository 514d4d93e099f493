/**
 * Runs `bench/codec/encode.ts`: `npx node bench/codec/encode-main.ts [filter-regex]`.
 */
import { runSuites, toMarkdown } from "../harness.ts"
import { sinkValue, suites } from "./encode.ts"

const filter = process.argv[2] === undefined ? undefined : new RegExp(process.argv[2])
const results = await runSuites(suites, { rounds: 5, timeMs: 400, filter })
console.log(toMarkdown(results))
console.log(`\n(node ${process.version}, sink ${sinkValue() > 0 ? "ok" : "empty"})`)
