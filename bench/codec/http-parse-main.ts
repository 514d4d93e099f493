/** Runs `bench/codec/http-parse.ts`: `npx node bench/codec/http-parse-main.ts`. */
import { runSuites, toMarkdown } from "../harness.ts"
import { sinkValue, suites } from "./http-parse.ts"

const results = await runSuites(suites, { rounds: 3, timeMs: 500 })
console.log(toMarkdown(results))
console.log(`\n(node ${process.version}, sink ${sinkValue() > 0 ? "ok" : "empty"})`)
