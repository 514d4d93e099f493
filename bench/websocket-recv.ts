/**
 * Question: how many small binary messages per second does a WebSocket client take off one
 * loopback connection — ours (`WebSocket.run` push loop, `recv` pull loop) against `ws` and
 * Effect's own `effect/socket` WebSocket (over `ws`, through `@effect/platform-node`)?
 *
 * A raw server in a worker thread (its own event loop, the other core) answers the upgrade by
 * hand and pumps pre-encoded unmasked binary frames, `PER_WRITE` per `write()`, then a close
 * frame — so the server is never the bottleneck and every client sees the same bytes. Each
 * candidate opens one connection per round, counts `COUNT` messages (touching each payload's
 * length), and the time from the first byte requested to the last message is taken. Rounds are
 * interleaved and alternated; medians are reported.
 *
 * Run: `npm run bench:websocket` (ROUNDS=5, COUNT=1000000 by default; SIZES=40,128).
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Effect from "effect/Effect"
import * as Socket from "effect/socket/Socket"
import { Worker } from "node:worker_threads"
import { WebSocket as WsClient } from "ws"
import * as WebSocket from "../src/Transport/WebSocket.ts"

const serverSource = `
const net = require("node:net")
const { createHash } = require("node:crypto")
const { parentPort } = require("node:worker_threads")
const server = net.createServer({ noDelay: true }, (socket) => {
  let head = ""
  socket.on("data", function onData(chunk) {
    head += chunk.toString("latin1")
    if (!head.includes("\\r\\n\\r\\n")) return
    socket.off("data", onData)
    const key = /sec-websocket-key: *(.+)\\r\\n/i.exec(head)[1].trim()
    const query = new URL(/^GET (\\S+)/.exec(head)[1], "http://x").searchParams
    const size = Number(query.get("size")), count = Number(query.get("count")), perWrite = Number(query.get("perWrite"))
    const accept = createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64")
    socket.write("HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Accept: " + accept + "\\r\\n\\r\\n")
    const header = size < 126 ? Buffer.from([0x82, size]) : Buffer.from([0x82, 126, size >> 8, size & 255])
    const frame = Buffer.concat([header, Buffer.alloc(size, 0x61)])
    const batch = Buffer.concat(Array(perWrite).fill(frame))
    let sent = 0
    const pump = () => {
      while (sent < count) {
        sent += perWrite
        if (!socket.write(batch)) return socket.once("drain", pump)
      }
      socket.write(Buffer.from([0x88, 0x02, 0x03, 0xe8]))
    }
    pump()
  })
  socket.on("error", () => {})
})
server.listen(0, "127.0.0.1", () => parentPort.postMessage(server.address().port))
parentPort.on("message", () => server.close(() => process.exit(0)))
`

type Candidate = (url: string, count: number) => Promise<number>

let sink = 0

/** Ours, push form: buffered messages go to a synchronous handler, many per Effect step. */
const nexusRun: Candidate = (url) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const socket = yield* WebSocket.connect(url)
    let got = 0
    yield* WebSocket.run(socket, (message) => {
      if (message._tag === "Binary") {
        sink += message.length
        got++
      }
    })
    return got
  })))

/** Ours, pull form: one `recv` (one Effect step) per message. */
const nexusRecv: Candidate = (url, count) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const socket = yield* WebSocket.connect(url)
    let got = 0
    while (got < count) {
      const message = yield* socket.recv
      if (message._tag !== "Binary") break
      sink += message.length
      got++
    }
    return got
  })))

/** `ws` with bufferutil / utf-8-validate installed, `'message'` events. */
const ws: Candidate = (url, count) =>
  new Promise((resolve, reject) => {
    const client = new WsClient(url)
    let got = 0
    client.on("message", (data: Buffer) => {
      sink += data.length
      if (++got === count) {
        client.terminate()
        resolve(got)
      }
    })
    client.on("error", reject)
  })

/** Effect's `effect/socket` WebSocket over `ws`, reading batches with `pull`. */
const effectSocket: Candidate = (url, count) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const socket = yield* Socket.makeWebSocket(url)
    const reader = yield* socket.reader
    let got = 0
    while (got < count) {
      const batch = yield* reader.pull
      for (const item of batch) sink += item.length
      got += batch.length
    }
    return got
  })).pipe(Effect.provide(NodeSocket.layerWebSocketConstructorWS)))

const candidates: ReadonlyArray<readonly [string, Candidate]> = [
  ["effect-nexus WebSocket.run", nexusRun],
  ["effect-nexus recv loop", nexusRecv],
  ["ws", ws],
  ["effect/socket WebSocket (ws)", effectSocket]
]

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

const main = async () => {
  const rounds = Number(process.env.ROUNDS ?? 5)
  const count = Number(process.env.COUNT ?? 1_000_000)
  const perWrite = Number(process.env.PER_WRITE ?? 64)
  const sizes = (process.env.SIZES ?? "40,128").split(",").map(Number)
  const worker = new Worker(serverSource, { eval: true })
  const port = await new Promise<number>((resolve) => worker.once("message", resolve))
  console.log(`node ${process.version}, ${rounds} rounds, ${count} messages per run, ${perWrite} frames per server write`)
  for (const size of sizes) {
    const url = `ws://127.0.0.1:${port}/?size=${size}&count=${count}&perWrite=${perWrite}`
    const rates: Array<Array<number>> = candidates.map(() => [])
    for (let round = 0; round < rounds; round++) {
      const order = candidates.map((_, i) => i)
      if (round % 2 === 1) order.reverse()
      for (const i of order) {
        const start = performance.now()
        const got = await candidates[i]![1](url, count)
        const seconds = (performance.now() - start) / 1000
        if (got < count) throw new Error(`${candidates[i]![0]} received ${got} of ${count}`)
        rates[i]!.push(count / seconds)
        await new Promise((resolve) => setImmediate(resolve))
      }
    }
    const wsRate = median(rates[2]!)
    console.log(`\n${size} B binary messages (median msg/s, ratio to ws)`)
    for (let i = 0; i < candidates.length; i++) {
      const rate = median(rates[i]!)
      console.log(`  ${candidates[i]![0].padEnd(30)} ${(rate / 1e6).toFixed(2).padStart(6)} M/s  ${(rate / wsRate).toFixed(2)}x`)
    }
  }
  worker.postMessage("stop")
  if (sink === -1) console.log(sink)
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
