/** Runs `bench/codec/http-build.ts`: `npx node bench/codec/http-build-main.ts`. */
import { runSuites, toMarkdown } from "../harness.ts"
import { buildOrderRequest, sinkValue, suites } from "./http-build.ts"

const bytes = buildOrderRequest()
console.log(`request: ${bytes.length} B\n`)
const results = await runSuites(suites, { rounds: 3, timeMs: 500 })
console.log(toMarkdown(results))
console.log(`\n(node ${process.version}, sink ${sinkValue() > 0 ? "ok" : "empty"})`)
