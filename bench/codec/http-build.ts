/**
 * How fast does `RequestWriter` build a typical order-entry REST request? One POST with four
 * headers (two default headers precomputed at `make`: API key and User-Agent; two per request:
 * Content-Type and a client order id) and a ~100 B JSON body given as a string, built into the
 * writer's reused buffer per op. Ours only: the question is our absolute cost per request.
 */
import type { Suite } from "../harness.ts"
import * as RequestWriter from "../../src/Codec/RequestWriter.ts"

/** The ~100 B JSON body of the benchmark request. */
export const ORDER_BODY = JSON.stringify({
  symbol: "BTC-USD",
  side: "BUY",
  type: "LIMIT",
  timeInForce: "GTC",
  price: "64250.10",
  quantity: "0.015",
  newClientOrderId: "c-7f3a9b"
})

/** The headers every request carries (set once on a writer): an API key and the user agent. */
export const ORDER_DEFAULT_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ["X-MBX-APIKEY", "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"],
  ["User-Agent", "effect-nexus/0.1"]
]

/** All four headers of the order request as a record, for clients that take one (undici, fetch, node:http). */
export const ORDER_HEADERS: Readonly<Record<string, string>> = {
  "x-mbx-apikey": ORDER_DEFAULT_HEADERS[0]![1],
  "user-agent": ORDER_DEFAULT_HEADERS[1]![1],
  "content-type": "application/json",
  "x-client-order-id": "c-7f3a9b"
}

/**
 * Builds a request builder over one reused `RequestWriter`: each call builds the order request
 * and returns its wire bytes (a view valid until the next call). Throws if the build ever fails.
 */
export const makeOrderBuilder = (): () => Uint8Array => {
  const writer = RequestWriter.make({
    host: "api.example.com",
    basePath: "/api/v3",
    defaultHeaders: ORDER_DEFAULT_HEADERS
  })
  const body = ORDER_BODY
  return () => {
    const request = writer
      .post("/order")
      .header("Content-Type", "application/json")
      .header("X-Client-Order-Id", "c-7f3a9b")
      .body(body)
      .finish()
    if (request._tag !== "Request") throw new Error(`order request did not build: ${request._tag}`)
    return request.bytes
  }
}

/** Builds the order request once; the build half of the combined order-entry round. */
export const buildOrderRequest: () => Uint8Array = makeOrderBuilder()

/**
 * Rounds per timed call: 100 back to back, so tinybench's per-call timer reads (tens of ns on
 * this machine) are not charged to one request; the table divides by it.
 */
const PER_OP = 100

let sink = 0

/** Suites answered by this file. */
export const suites: ReadonlyArray<Suite> = (() => {
  const build = makeOrderBuilder()
  return [{
    name: "order-entry request build",
    messagesPerOp: PER_OP,
    targetNsPerMessage: 1000,
    candidates: [{
      name: "RequestWriter",
      fn: () => {
        for (let i = 0; i < PER_OP; i++) sink += build().length
      }
    }]
  }]
})()

/** Keeps the sink observable so the build is never optimised away. */
export const sinkValue = (): number => sink
