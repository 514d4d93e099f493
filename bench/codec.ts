/**
 * `npm run bench:codec`: every codec question of issue 2 in one run, ours beside `ws` (its
 * `Receiver` and `Sender`, with `bufferutil`/`utf-8-validate` loaded when they installed):
 *
 * - parse (`bench/codec/parse.ts`): server→client unmasked binary and text frames of 40, 128,
 *   512 and 2048 B, one frame per chunk and 100 frames per chunk; client→server masked 128 B;
 * - encode (`bench/codec/encode.ts`): 128 B text, masked and unmasked;
 * - send + write (`bench/codec/send-write.ts`): the encode plus the writes the socket needs, and
 *   copy vs gathered write from 128 B to 64 KiB;
 * - HTTP (`bench/codec/http-*.ts`, `order-entry.ts`): order-entry request build, response parse
 *   and the combined round (target < 1 µs).
 *
 * Prints a Markdown table (medians over interleaved rounds, see `bench/harness.ts`) and the
 * machine it ran on. An optional argument filters suites by name:
 * `npm run bench:codec -- 'parse .* 40 B'`.
 */
import { createRequire } from "node:module"
import { cpus } from "node:os"
import { runSuites, type Suite, toMarkdown } from "./harness.ts"
import * as Encode from "./codec/encode.ts"
import * as HttpBuild from "./codec/http-build.ts"
import * as HttpParse from "./codec/http-parse.ts"
import * as OrderEntry from "./codec/order-entry.ts"
import * as Parse from "./codec/parse.ts"
import * as SendWrite from "./codec/send-write.ts"

/** Whether `ws` can load its optional native helper `name` (it requires them from its own dir). */
const loaded = (name: string): string => {
  try {
    createRequire(import.meta.resolve("ws"))(name)
    return "loaded"
  } catch {
    return "absent"
  }
}

const filter = process.argv[2] === undefined ? undefined : new RegExp(process.argv[2])
const suites: ReadonlyArray<Suite> = [
  ...Parse.suites,
  ...Encode.suites,
  ...SendWrite.suites,
  ...HttpBuild.suites,
  ...HttpParse.suites,
  ...OrderEntry.suites
]

const started = new Date()
const results = await runSuites(suites, { rounds: 5, timeMs: 400, filter })
console.log(toMarkdown(results))
// every file whose suites ran must have fed its sink (nothing optimised away)
const ran = (m: { readonly suites: ReadonlyArray<Suite> }) => m.suites.some((s) => filter === undefined || filter.test(s.name))
const sinks = [Parse, Encode, SendWrite, HttpBuild, HttpParse, OrderEntry].every((m) => !ran(m) || m.sinkValue() !== 0)
console.log(
  `\nnode ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ` +
    `ws with bufferutil ${loaded("bufferutil")}, utf-8-validate ${loaded("utf-8-validate")}; ` +
    `started ${started.toISOString()}, ${((Date.now() - started.getTime()) / 1000).toFixed(0)} s; ` +
    `sinks ${sinks ? "ok" : "EMPTY"}`
)
