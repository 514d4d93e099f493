/**
 * The latency question: one order-entry round — build the POST request
 * (`bench/codec/http-build.ts`) and parse its 200 OK response (`bench/codec/http-parse.ts`) —
 * in under 1 µs. Both halves reuse their writer/reader, as a connection would.
 */
import type { Suite } from "../harness.ts"
import { makeOrderBuilder } from "./http-build.ts"
import { makeOrderResponseParser } from "./http-parse.ts"

let sink = 0

/** Keeps the sink observable so neither half is optimised away. */
export const sinkValue = (): number => sink

/** Suites answered by this file. */
export const suites: ReadonlyArray<Suite> = (() => {
  const build = makeOrderBuilder()
  const parse = makeOrderResponseParser()
  return [{
    name: "order-entry round (request build + response parse)",
    messagesPerOp: 1,
    targetNsPerOp: 1000,
    candidates: [{
      name: "RequestWriter + ResponseReader",
      fn: () => {
        sink += build().length + parse()
      }
    }]
  }]
})()
