/**
 * Shell entry for the conformance suite:
 * `node test/conformance/run.ts [--json FILE] client CMD ARGS...` grades a client driver,
 * `node test/conformance/run.ts [--json FILE] server CMD ARGS...` grades an echo server. Prints
 * one line per case that is not OK, the totals, writes every result to FILE with `--json`, and
 * exits 1 when a case FAILED. `--deflate` (before the mode) runs the compression cases
 * (`DeflateCases.all`) instead of sections 1–10.
 *
 * @since 0.1.0
 */
import { writeFileSync } from "node:fs"
import { DeflateCases, runClientDriver, runEchoServer } from "./index.ts"

const argv = process.argv.slice(2)
const jsonAt = argv.indexOf("--json")
const jsonFile = jsonAt === 0 ? argv.splice(0, 2)[1] : undefined
const deflate = argv[0] === "--deflate" ? argv.shift() !== undefined : false
const cases = deflate ? DeflateCases.all : undefined
const [mode, ...command] = argv
if ((mode !== "client" && mode !== "server") || command.length === 0) {
  process.stderr.write("usage: run.ts [--json FILE] [--deflate] client|server CMD [ARGS...]\n")
  process.exit(2)
}
const report = mode === "client"
  ? await runClientDriver(command, { agent: command.join(" "), cases })
  : await runEchoServer(command, { cases })
for (const r of report.results) {
  if (r.grade !== "OK") process.stdout.write(`${r.id.padEnd(8)} ${r.grade.padEnd(13)} ${r.result} / ${r.behaviorClose}: ${r.resultClose}\n`)
}
if (jsonFile !== undefined) writeFileSync(jsonFile, JSON.stringify(report.results, null, 2))
process.stdout.write(Object.entries(report.byGrade).map(([g, ids]) => `${g} ${ids.length}`).join(", ") + "\n")
process.exit(report.byGrade.FAILED.length > 0 ? 1 : 0)
