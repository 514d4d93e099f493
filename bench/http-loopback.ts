/**
 * What does one order-entry REST round trip cost on a keep-alive connection, and how much do we
 * add on top of the raw socket? Sequential requests on ONE connection to a minimal `node:net`
 * server in a worker thread (its own event loop, the other core), which answers each request
 * with a fixed ~100 B JSON response. Candidates, interleaved in alternating rounds in one process:
 *
 * - `HttpConnection` (ours): `RequestWriter` + `HttpConnection.send` + `ResponseReader`, the
 *   loop running inside one Effect fiber as an Effect user would run it;
 * - `undici Client` (`client.request`, body read with `.text()`), pipelining 1;
 * - `node:http` with a keep-alive `Agent` (maxSockets 1);
 * - `fetch` (Node's built-in, undici inside);
 * - Effect's `HttpClient` from `@effect/platform-node` (`NodeHttpClient.layerUndici`);
 * - the raw `node:net` floor: pre-built request bytes, no parsing, waits for the response's
 *   known byte count.
 *
 * Ours and undici get a one-hour idle timeout, so neither reconnects between rounds (the other
 * candidates run in between, longer than the 4 s defaults).
 *
 * Reported: p50 and p99 of per-request latency, requests/second, and the latency each adds over
 * the floor's p50 (the target: ours adds at most half of what undici adds).
 *
 * Run: `npx node bench/http-loopback.ts` (`ROUNDS=5 REQUESTS=4000` by default; override with env
 * vars). Main's `bench/loopback.ts` asks the same question with the same peers; this file is
 * the standalone version written on the `http` branch before that landed, to be folded into it.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as Scope from "effect/Scope"
import * as http from "node:http"
import * as net from "node:net"
import * as os from "node:os"
import { Worker } from "node:worker_threads"
import * as undici from "undici"
import * as RequestWriter from "../src/Codec/RequestWriter.ts"
import * as ResponseReader from "../src/Codec/ResponseReader.ts"
import * as HttpConnection from "../src/Transport/HttpConnection.ts"
import { ORDER_BODY } from "./codec/http-build.ts"

const ROUNDS = Number(process.env.ROUNDS ?? 5)
const REQUESTS = Number(process.env.REQUESTS ?? 4000)
const WARMUP = 1000
const API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"

// The server: parses just enough (head end, Content-Length) to answer each request once.
const serverSource = `
const net = require("node:net")
const { parentPort } = require("node:worker_threads")
const body = '{"orderId":28457,"status":"NEW","clientOrderId":"c-7f3a9b","price":"64250.10","origQty":"0.015"}'
const response = Buffer.from("HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: " + body.length + "\\r\\n\\r\\n" + body)
const server = net.createServer({ noDelay: true }, (socket) => {
  let pending = Buffer.alloc(0)
  socket.on("data", (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
    while (true) {
      const end = pending.indexOf("\\r\\n\\r\\n")
      if (end < 0) return
      const head = pending.subarray(0, end).toString("latin1")
      const m = /\\r\\ncontent-length:\\s*(\\d+)/i.exec(head)
      const total = end + 4 + (m ? Number(m[1]) : 0)
      if (pending.length < total) return
      pending = pending.subarray(total)
      socket.write(response)
    }
  })
  socket.on("error", () => {})
})
server.listen(0, "127.0.0.1", () => parentPort.postMessage({ port: server.address().port, responseLength: response.length }))
parentPort.on("message", () => { server.close(); process.exit(0) })
`

interface Candidate {
  readonly name: string
  /** Runs `n` sequential round trips, calling `record(ns)` with each one's latency. */
  readonly run: (n: number, record: (ns: number) => void) => Promise<void>
  readonly close: () => Promise<void>
}

const now = () => process.hrtime.bigint()

const main = async () => {
  const worker = new Worker(serverSource, { eval: true })
  const { port, responseLength } = await new Promise<{ port: number; responseLength: number }>((resolve) =>
    worker.once("message", resolve)
  )
  const origin = `http://127.0.0.1:${port}`
  const path = "/api/v3/order"
  const headers = {
    "X-MBX-APIKEY": API_KEY,
    "User-Agent": "effect-nexus/0.1",
    "Content-Type": "application/json",
    "X-Client-Order-Id": "c-7f3a9b"
  }
  let sink = 0

  // --- ours: one connection, one writer, one reader, the loop inside one fiber
  const ours = await (async (): Promise<Candidate> => {
    const writer = RequestWriter.make({
      host: `127.0.0.1:${port}`,
      basePath: "/api/v3",
      defaultHeaders: [["X-MBX-APIKEY", API_KEY], ["User-Agent", "effect-nexus/0.1"]]
    })
    const reader = ResponseReader.make()
    const { connection, close } = await Effect.runPromise(
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const connection = yield* Scope.provide(HttpConnection.connect(origin, { idleTimeout: "1 hour" }), scope)
        return { connection, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
      })
    )
    return {
      name: "HttpConnection",
      run: (n, record) =>
        Effect.runPromise(Effect.gen(function*() {
          for (let i = 0; i < n; i++) {
            const start = now()
            const request = writer.post("/order").header("Content-Type", "application/json")
              .header("X-Client-Order-Id", "c-7f3a9b").body(ORDER_BODY).finish()
            const response = yield* connection.send(request, reader)
            sink += response.bodyLength
            record(Number(now() - start))
          }
        })),
      close
    }
  })()

  // --- undici Client, one connection
  const undiciClient = (() => {
    const client = new undici.Client(origin, { pipelining: 1, keepAliveTimeout: 3_600_000, keepAliveMaxTimeout: 3_600_000 })
    return {
      name: "undici Client",
      run: async (n, record) => {
        for (let i = 0; i < n; i++) {
          const start = now()
          const res = await client.request({ path, method: "POST", headers, body: ORDER_BODY })
          sink += (await res.body.text()).length
          record(Number(now() - start))
        }
      },
      close: () => client.close()
    } satisfies Candidate
  })()

  // --- node:http with a keep-alive agent, one socket
  const nodeHttp = (() => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    const once = () =>
      new Promise<number>((resolve, reject) => {
        const req = http.request({ host: "127.0.0.1", port, path, method: "POST", agent, headers }, (res) => {
          let length = 0
          res.on("data", (chunk: Buffer) => (length += chunk.length))
          res.on("end", () => resolve(length))
        })
        req.on("error", reject)
        req.end(ORDER_BODY)
      })
    return {
      name: "node:http Agent",
      run: async (n, record) => {
        for (let i = 0; i < n; i++) {
          const start = now()
          sink += await once()
          record(Number(now() - start))
        }
      },
      close: async () => agent.destroy()
    } satisfies Candidate
  })()

  // --- fetch (global undici Agent, keep-alive)
  const fetchCandidate: Candidate = {
    name: "fetch",
    run: async (n, record) => {
      for (let i = 0; i < n; i++) {
        const start = now()
        const res = await fetch(origin + path, { method: "POST", headers, body: ORDER_BODY })
        sink += (await res.text()).length
        record(Number(now() - start))
      }
    },
    close: async () => {}
  }

  // --- Effect HttpClient over undici
  const effectClient = (() => {
    const request = HttpClientRequest.post(origin + path).pipe(
      HttpClientRequest.setHeaders(headers),
      HttpClientRequest.bodyText(ORDER_BODY, "application/json")
    )
    return {
      name: "Effect HttpClient (undici)",
      run: (n, record) =>
        Effect.runPromise(Effect.gen(function*() {
          const client = yield* HttpClient.HttpClient
          for (let i = 0; i < n; i++) {
            const start = now()
            const response = yield* client.execute(request)
            sink += (yield* response.text).length
            record(Number(now() - start))
          }
        }).pipe(Effect.provide(NodeHttpClient.layerUndici))),
      close: async () => {}
    } satisfies Candidate
  })()

  // --- raw floor: pre-built bytes, count the known response length, no parsing
  const raw = await (async (): Promise<Candidate> => {
    const head = `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
      Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("") +
      `Content-Length: ${Buffer.byteLength(ORDER_BODY)}\r\n\r\n`
    const bytes = Buffer.from(head + ORDER_BODY)
    const socket = net.connect({ host: "127.0.0.1", port, noDelay: true })
    await new Promise((resolve) => socket.once("connect", resolve))
    let received = 0
    let done: (() => void) | undefined
    socket.on("data", (chunk: Buffer) => {
      received += chunk.length
      if (received >= responseLength) {
        received -= responseLength
        const resume = done
        done = undefined
        resume?.()
      }
    })
    const once = () =>
      new Promise<void>((resolve) => {
        done = resolve
        socket.write(bytes)
      })
    return {
      name: "raw node:net floor",
      run: async (n, record) => {
        for (let i = 0; i < n; i++) {
          const start = now()
          await once()
          record(Number(now() - start))
        }
      },
      close: async () => {
        socket.destroy()
      }
    }
  })()

  const candidates: Array<Candidate> = [ours, undiciClient, nodeHttp, fetchCandidate, effectClient, raw]
  const samples: Array<Array<number>> = candidates.map(() => [])
  const elapsed: Array<number> = candidates.map(() => 0)
  for (const candidate of candidates) await candidate.run(WARMUP, () => {})
  for (let round = 0; round < ROUNDS; round++) {
    const order = candidates.map((_, i) => i)
    if (round % 2 === 1) order.reverse()
    for (const i of order) {
      const start = now()
      await candidates[i]!.run(REQUESTS, (ns) => samples[i]!.push(ns))
      elapsed[i]! += Number(now() - start)
    }
  }
  for (const candidate of candidates) await candidate.close()
  worker.postMessage("stop")

  const pct = (sorted: Array<number>, p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!
  const rows = candidates.map((candidate, i) => {
    const sorted = samples[i]!.sort((a, b) => a - b)
    return {
      name: candidate.name,
      p50: pct(sorted, 0.5) / 1000,
      p99: pct(sorted, 0.99) / 1000,
      rps: (samples[i]!.length / elapsed[i]!) * 1e9
    }
  })
  const floor = rows[rows.length - 1]!.p50
  console.log("| client | p50 µs | p99 µs | req/s | added over floor p50 µs |")
  console.log("| --- | ---: | ---: | ---: | ---: |")
  for (const row of rows) {
    console.log(
      `| ${row.name} | ${row.p50.toFixed(1)} | ${row.p99.toFixed(1)} | ${row.rps.toFixed(0)} | ${
        (row.p50 - floor).toFixed(1)
      } |`
    )
  }
  const oursAdded = rows[0]!.p50 - floor
  const undiciAdded = rows[1]!.p50 - floor
  console.log(
    `\nours adds ${oursAdded.toFixed(1)} µs, undici adds ${undiciAdded.toFixed(1)} µs over the floor: ` +
      `target (≤ half of undici's) ${oursAdded <= undiciAdded / 2 ? "met" : "NOT met"}`
  )
  console.log(
    `(node ${process.version}, ${os.cpus().length} cpus ${os.cpus()[0]?.model ?? ""}, ${ROUNDS} rounds × ${REQUESTS} requests, ${
      new Date().toISOString()
    }, sink ${sink > 0 ? "ok" : "empty"})`
  )
}

await main()
