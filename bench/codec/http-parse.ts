/**
 * How fast does `ResponseReader` turn a typical order-entry REST response into a `Response`?
 * One 200 OK with six everyday headers and a ~100 B JSON body (Content-Length), fed into a
 * reused reader and parsed per op. Ours only: the question is our absolute cost per response.
 */
import type { Suite } from "../harness.ts"
import * as ResponseReader from "../../src/Codec/ResponseReader.ts"

/** The ~100 B JSON body of the benchmark response. */
export const ORDER_BODY = JSON.stringify({
  orderId: 1234567890,
  clientOrderId: "c-7f3a9b",
  symbol: "BTC-USD",
  side: "BUY",
  status: "NEW",
  price: "64250.10",
  qty: "0.015"
})

/** The wire bytes of the benchmark response. */
export const ORDER_RESPONSE: Buffer = Buffer.from(
  "HTTP/1.1 200 OK\r\n" +
    "Content-Type: application/json;charset=UTF-8\r\n" +
    `Content-Length: ${Buffer.byteLength(ORDER_BODY)}\r\n` +
    "Date: Tue, 14 May 2024 09:30:00 GMT\r\n" +
    "Connection: keep-alive\r\n" +
    "X-RateLimit-Remaining: 1199\r\n" +
    "X-Request-Id: 8f14e45f-ceea-467d-a8b7-2e3f1c9d2b61\r\n" +
    "\r\n" +
    ORDER_BODY,
  "latin1"
)

/**
 * Builds a parser over one reused `ResponseReader`: each call feeds the order response and
 * parses it, returning status + body length (a value to sink). Throws if parsing ever fails.
 */
export const makeOrderResponseParser = (): () => number => {
  const reader = ResponseReader.make()
  const wire = ORDER_RESPONSE
  return () => {
    reader.feed(wire)
    const response = reader.next()
    if (response._tag !== "Response") throw new Error(`order response did not parse: ${response._tag}`)
    return response.status + response.bodyLength
  }
}

/**
 * Rounds per timed call: 100 back to back, so tinybench's per-call timer reads (tens of ns on
 * this machine) are not charged to one request; the table divides by it.
 */
const PER_OP = 100

let sink = 0

/** Suites answered by this file. */
export const suites: ReadonlyArray<Suite> = (() => {
  const parse = makeOrderResponseParser()
  return [{
    name: "order-entry response parse",
    messagesPerOp: PER_OP,
    targetNsPerMessage: 1000,
    candidates: [{
      name: "ResponseReader",
      fn: () => {
        for (let i = 0; i < PER_OP; i++) sink += parse()
      }
    }]
  }]
})()

/** Keeps the sink observable so the parse is never optimised away. */
export const sinkValue = (): number => sink
