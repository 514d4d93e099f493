/**
 * Cross-check against a real `node:http` server (llhttp): the writer's bytes go down a raw
 * `net` socket on 127.0.0.1, pipelined, and the server must parse exactly the method, URL,
 * headers and body we meant.
 */
import * as http from "node:http"
import * as net from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as RequestWriter from "../../src/Codec/RequestWriter.ts"
import { closeHttp, listen } from "../support/httpServer.ts"

interface Seen {
  readonly method: string
  readonly url: string
  readonly headers: ReadonlyArray<readonly [string, string]>
  readonly body: string
}

const seen: Array<Seen> = []
const clientErrors: Array<string> = []
let onSeen: () => void = () => {}

const server = http.createServer((req, res) => {
  const chunks: Array<Buffer> = []
  req.on("data", (chunk: Buffer) => chunks.push(chunk))
  req.on("end", () => {
    const headers: Array<readonly [string, string]> = []
    for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!])
    seen.push({ method: req.method!, url: req.url!, headers, body: Buffer.concat(chunks).toString("latin1") })
    res.writeHead(204)
    res.end()
    onSeen()
  })
})
server.on("clientError", (error: Error, socket: net.Socket) => {
  clientErrors.push(error.message)
  socket.destroy()
})

let port = 0
beforeAll(async () => {
  port = await listen(server)
})
afterAll(() => closeHttp(server))

/**
 * Sends the requests pipelined in one write, waits until the server has parsed them all, then
 * half-closes and waits for the server to close too (so no reset leaks into the next test).
 */
const roundTrip = async (requests: ReadonlyArray<Uint8Array>): Promise<ReadonlyArray<Seen>> => {
  seen.length = 0
  clientErrors.length = 0
  const socket = net.connect(port, "127.0.0.1")
  socket.resume() // discard the 204 answers
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()))
  try {
    const all = new Promise<void>((resolve, reject) => {
      onSeen = () => {
        if (seen.length === requests.length) resolve()
      }
      socket.on("error", reject)
      void closed.then(() => reject(new Error(`socket closed after ${seen.length} requests: ${clientErrors.join("; ")}`)))
    })
    socket.write(Buffer.concat(requests))
    await all
    socket.end()
    await closed
    expect(clientErrors).toEqual([])
    return [...seen]
  } finally {
    socket.destroy()
  }
}

/** Copies the request bytes out of the writer's reused buffer. */
const bytes = (result: RequestWriter.Request | RequestWriter.RequestError): Uint8Array => {
  if (result._tag !== "Request") throw new Error(`${result._tag}: ${result.message}`)
  return Uint8Array.from(result.bytes)
}

const writer = RequestWriter.make({
  host: "api.example.com:8443",
  basePath: "/api/v3",
  defaultHeaders: [["X-API-KEY", "k3y-123"], ["User-Agent", "nexus-test/1"]]
})
const DEFAULTS = [["Host", "api.example.com:8443"], ["X-API-KEY", "k3y-123"], ["User-Agent", "nexus-test/1"]] as const

describe("RequestWriter against node:http", () => {
  it("gets its query parameters back, unicode and reserved characters included", async () => {
    const symbol = "BTC/USDT"
    const tricky = "é€😀 &=?#+%/~._-"
    const [got] = await roundTrip([
      bytes(writer.get("/ticker").query("symbol", symbol).query("q é", tricky).query("empty", "").finish())
    ])
    expect(got).toEqual({
      method: "GET",
      url: "/api/v3/ticker?symbol=BTC%2FUSDT&q%20%C3%A9=%C3%A9%E2%82%AC%F0%9F%98%80%20%26%3D%3F%23%2B%25%2F~._-&empty=",
      headers: DEFAULTS,
      body: ""
    })
    const params = new URL(got!.url, "http://x").searchParams
    expect([...params]).toEqual([["symbol", symbol], ["q é", tricky], ["empty", ""]])
  })

  it("parses a POST with each body variant and the right Content-Length", async () => {
    const json = JSON.stringify({ symbol: "BTC-USD", side: "BUY", price: "64250.10", note: "ü" })
    const large = "L".repeat(5000) // more than the head: the head moves over the spare digit
    const got = await roundTrip([
      bytes(writer.post("/order").header("Content-Type", "application/json").body(json).finish()),
      bytes(writer.post("/order").body(Uint8Array.of(0, 1, 2, 0xfe, 0xff)).finish()),
      bytes(writer.post("/order").bodyWriter((buf, offset) => {
        buf.set(Buffer.from("small"), offset)
        return 5
      }).finish()),
      bytes(writer.post("/order").bodyWriter((buf, offset) => {
        buf.set(Buffer.from(large), offset)
        return large.length
      }).finish()),
      bytes(writer.post("/order").bodyFixed(3, (buf, offset) => buf.set([0x61, 0x62, 0x63], offset)).finish()),
      bytes(writer.post("/order").finish())
    ])
    const post = (body: string, length: number, extra: ReadonlyArray<readonly [string, string]> = []): Seen => ({
      method: "POST",
      url: "/api/v3/order",
      headers: [...DEFAULTS, ...extra, ["Content-Length", String(length)]],
      body
    })
    expect(got).toEqual([
      post(Buffer.from(json).toString("latin1"), Buffer.byteLength(json), [["Content-Type", "application/json"]]),
      post("\x00\x01\x02\xfe\xff", 5),
      post("small", 5),
      post(large, 5000),
      post("abc", 3),
      post("", 0)
    ])
  })

  it("parses PUT, PATCH, DELETE, HEAD and a custom method with headers after the defaults", async () => {
    const got = await roundTrip([
      bytes(writer.put("/userDataStream").query("listenKey", "abc").body("x=1").finish()),
      bytes(writer.patch("/order/7").header("If-Match", "\"v1\"").body("{}").finish()),
      bytes(writer.delete("/order").query("orderId", "42").header("X-Trace", "t 1").finish()),
      bytes(writer.head("/ping").finish()),
      bytes(writer.request("OPTIONS", "/ping").finish())
    ])
    expect(got).toEqual([
      {
        method: "PUT",
        url: "/api/v3/userDataStream?listenKey=abc",
        headers: [...DEFAULTS, ["Content-Length", "3"]],
        body: "x=1"
      },
      {
        method: "PATCH",
        url: "/api/v3/order/7",
        headers: [...DEFAULTS, ["If-Match", "\"v1\""], ["Content-Length", "2"]],
        body: "{}"
      },
      { method: "DELETE", url: "/api/v3/order?orderId=42", headers: [...DEFAULTS, ["X-Trace", "t 1"]], body: "" },
      { method: "HEAD", url: "/api/v3/ping", headers: DEFAULTS, body: "" },
      { method: "OPTIONS", url: "/api/v3/ping", headers: DEFAULTS, body: "" }
    ])
  })
})
