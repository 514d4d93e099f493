/**
 * Cross-check against a real `node:http` server: raw socket bytes go into our reader and the
 * parsed responses must match what the server was told to send.
 */
import * as http from "node:http"
import * as net from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as ResponseReader from "../../src/Codec/ResponseReader.ts"
import { closeHttp, listen } from "../support/httpServer.ts"

const summary = (r: ResponseReader.Response) => ({
  status: r.status,
  reason: r.reason,
  version: r.version,
  // Date varies per run; everything else is compared exactly, in wire order
  headers: r.headers().map(([n, v]): [string, string] => n === "Date" ? [n, "<date>"] : [n, v]),
  body: r.bodyText(),
  chunked: r.chunked,
  contentLength: r.contentLength,
  reusable: r.reusable,
  trailers: r.trailers()
})

const server = http.createServer((req, res) => {
  switch (req.url) {
    case "/fixed":
      res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": "5" })
      res.end(req.method === "HEAD" ? undefined : "hello")
      return
    case "/json": {
      const body = JSON.stringify({ orderId: 42, status: "NEW" })
      res.writeHead(201, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) })
      res.end(body)
      return
    }
    case "/chunked":
      res.writeHead(200, { "Content-Type": "text/plain" })
      res.write("one,")
      setTimeout(() => {
        res.write("two,")
        setTimeout(() => res.end("three"), 5)
      }, 5)
      return
    case "/close":
      res.writeHead(200, { "Connection": "close", "Content-Length": "3" })
      res.end("bye")
      return
    case "/204":
      res.writeHead(204)
      res.end()
      return
    case "/304":
      res.writeHead(304, { "ETag": "\"v1\"" })
      res.end()
      return
    case "/hints":
      res.writeEarlyHints({ link: "</style.css>; rel=preload; as=style" })
      res.writeHead(200, { "Content-Length": "2" })
      res.end("ok")
      return
    case "/upload": {
      const parts: Array<Buffer> = []
      req.on("data", (c: Buffer) => parts.push(c))
      req.on("end", () => {
        res.writeHead(200, { "Content-Length": Buffer.concat(parts).length })
        res.end(Buffer.concat(parts))
      })
      return
    }
    case "/trailers":
      res.writeHead(200, { "Content-Type": "text/plain", "Trailer": "X-Checksum" })
      res.write("data")
      res.addTrailers({ "X-Checksum": "abc123" })
      res.end()
      return
    case "/stream":
      res.writeHead(200, { "Content-Type": "text/plain" })
      res.write("until ")
      setTimeout(() => res.end("close"), 5)
      return
    default:
      res.writeHead(404, { "Content-Length": "0" })
      res.end()
  }
})
let port = 0

beforeAll(async () => {
  port = await listen(server)
})

afterAll(() => closeHttp(server))

/**
 * Writes `requests` (each a raw request plus the method its response is framed for) on one
 * socket — all at once when `pipelined`, else one after the other — and reads the responses.
 * With `zeroCopy` the socket reads straight into `reader.spare()` (net `onread`).
 */
const exchange = (
  requests: ReadonlyArray<readonly [method: string, raw: string]>,
  options: { readonly pipelined?: boolean; readonly zeroCopy?: boolean } = {}
) =>
  new Promise<Array<ReturnType<typeof summary>>>((resolve, reject) => {
    const reader = ResponseReader.make({ bufferCapacity: 256 })
    const out: Array<ReturnType<typeof summary>> = []
    let index = 0
    const drain = () => {
      while (index < requests.length) {
        reader.expect(requests[index]![0])
        const result = reader.next()
        if (result._tag === "NeedMore") return
        if (result._tag !== "Response") return reject(new Error(`${result._tag}: ${result.message}`))
        out.push(summary(result))
        index++
        if (!options.pipelined && index < requests.length) socket.write(requests[index]![1])
      }
      socket.destroy()
      resolve(out)
    }
    const socket = options.zeroCopy
      ? net.connect({
        port,
        host: "127.0.0.1",
        onread: {
          buffer: () => reader.spare(),
          callback: (n: number) => {
            reader.filled(n)
            drain()
            return true
          }
        }
      })
      : net.connect(port, "127.0.0.1")
    if (!options.zeroCopy) {
      socket.on("data", (chunk: Buffer) => {
        expect(reader.feed(chunk)).toBe(true)
        drain()
      })
    }
    socket.on("end", () => {
      reader.endOfInput()
      drain()
    })
    socket.on("error", reject)
    socket.write(options.pipelined ? requests.map(([, raw]) => raw).join("") : requests[0]![1])
  })

const get = (path: string, extra = ""): readonly [string, string] =>
  ["GET", `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}\r\n`]

const keepAlive: Array<[string, string]> = [["Date", "<date>"], ["Connection", "keep-alive"], ["Keep-Alive", "timeout=5"]]

const fixed = {
  status: 200,
  reason: "OK",
  version: "1.1",
  headers: [["Content-Type", "text/plain"], ["Content-Length", "5"], ...keepAlive],
  body: "hello",
  chunked: false,
  contentLength: 5,
  reusable: true,
  trailers: []
}

describe("ResponseReader against node:http", () => {
  it("reads a fixed-length response", async () => {
    expect(await exchange([get("/fixed")])).toEqual([fixed])
  })

  it("reads a fixed-length response with zero-copy reads into spare()", async () => {
    expect(await exchange([get("/fixed"), get("/json")], { zeroCopy: true })).toEqual([fixed, {
      status: 201,
      reason: "Created",
      version: "1.1",
      headers: [["Content-Type", "application/json"], ["Content-Length", "29"], ...keepAlive],
      body: "{\"orderId\":42,\"status\":\"NEW\"}",
      chunked: false,
      contentLength: 29,
      reusable: true,
      trailers: []
    }])
  })

  it("reads a chunked response written in several pieces", async () => {
    expect(await exchange([get("/chunked")])).toEqual([{
      status: 200,
      reason: "OK",
      version: "1.1",
      headers: [["Content-Type", "text/plain"], ...keepAlive, ["Transfer-Encoding", "chunked"]],
      body: "one,two,three",
      chunked: true,
      contentLength: undefined,
      reusable: true,
      trailers: []
    }])
  })

  it("reads trailers added with res.addTrailers", async () => {
    expect(await exchange([get("/trailers")])).toEqual([{
      status: 200,
      reason: "OK",
      version: "1.1",
      headers: [["Content-Type", "text/plain"], ["Trailer", "X-Checksum"], ...keepAlive, [
        "Transfer-Encoding",
        "chunked"
      ]],
      body: "data",
      chunked: true,
      contentLength: undefined,
      reusable: true,
      trailers: [["X-Checksum", "abc123"]]
    }])
  })

  it("reads several responses on one keep-alive socket, sequential and pipelined", async () => {
    const requests = [get("/fixed"), get("/chunked"), ["HEAD", "HEAD /fixed HTTP/1.1\r\nHost: h\r\n\r\n"] as const, get("/204"), get("/fixed")]
    const expected = [
      fixed,
      expect.objectContaining({ body: "one,two,three", chunked: true }),
      { ...fixed, body: "" },
      {
        status: 204,
        reason: "No Content",
        version: "1.1",
        headers: keepAlive,
        body: "",
        chunked: false,
        contentLength: undefined,
        reusable: true,
        trailers: []
      },
      fixed
    ]
    expect(await exchange(requests)).toEqual(expected)
    expect(await exchange(requests, { pipelined: true })).toEqual(expected)
  })

  it("reads Connection: close as not reusable", async () => {
    expect(await exchange([get("/close")])).toEqual([{
      status: 200,
      reason: "OK",
      version: "1.1",
      headers: [["Connection", "close"], ["Content-Length", "3"], ["Date", "<date>"]],
      body: "bye",
      chunked: false,
      contentLength: 3,
      reusable: false,
      trailers: []
    }])
  })

  it("reads 304 without a body", async () => {
    expect(await exchange([get("/304"), get("/fixed")])).toEqual([{
      status: 304,
      reason: "Not Modified",
      version: "1.1",
      headers: [["ETag", "\"v1\""], ...keepAlive],
      body: "",
      chunked: false,
      contentLength: undefined,
      reusable: true,
      trailers: []
    }, fixed])
  })

  it("skips 103 Early Hints and 100 Continue", async () => {
    const ok = (extra: object) => ({
      status: 200,
      reason: "OK",
      version: "1.1",
      headers: [["Content-Length", "2"], ...keepAlive],
      body: "ok",
      chunked: false,
      contentLength: 2,
      reusable: true,
      trailers: [],
      ...extra
    })
    expect(await exchange([get("/hints")])).toEqual([ok({})])
    // node answers Expect: 100-continue with an interim 100 before the handler reads the body
    const upload: readonly [string, string] = [
      "POST",
      "POST /upload HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok"
    ]
    expect(await exchange([upload])).toEqual([ok({})])
  })

  it("reads a body delimited by the connection close (HTTP/1.0 without Content-Length)", async () => {
    expect(await exchange([["GET", "GET /stream HTTP/1.0\r\n\r\n"]])).toEqual([{
      status: 200,
      reason: "OK",
      version: "1.1",
      headers: [["Content-Type", "text/plain"], ["Date", "<date>"], ["Connection", "close"]],
      body: "until close",
      chunked: false,
      contentLength: undefined,
      reusable: false,
      trailers: []
    }])
  })
})
