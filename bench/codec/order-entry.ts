/**
 * The latency question: one order-entry round — build the POST request
 * (`bench/codec/http-build.ts`) and parse its 200 OK response (`bench/codec/http-parse.ts`) —
 * in under 1 µs. Both halves reuse their writer/reader, as a connection would, and alternate
 * build, parse, build, parse as a request/response cycle does.
 */
import type { Suite } from "../harness.ts"
import { makeOrderBuilder } from "./http-build.ts"
import { makeOrderResponseParser } from "./http-parse.ts"

/**
 * Rounds per timed call: 100 back to back, so tinybench's per-call timer reads (tens of ns on
 * this machine) are not charged to one request; the table divides by it.
 */
const PER_OP = 100

let sink = 0

/** Keeps the sink observable so neither half is optimised away. */
export const sinkValue = (): number => sink

/** Suites answered by this file. */
export const suites: ReadonlyArray<Suite> = (() => {
  const build = makeOrderBuilder()
  const parse = makeOrderResponseParser()
  return [{
    name: "order-entry round (request build + response parse)",
    messagesPerOp: PER_OP,
    targetNsPerMessage: 1000,
    candidates: [{
      name: "RequestWriter + ResponseReader",
      fn: () => {
        for (let i = 0; i < PER_OP; i++) sink += build().length + parse()
      }
    }]
  }]
})()
