/**
 * Question: how should socket bytes reach a codec's `ReadBuf`?
 *
 * A server in a worker thread (its own event loop, the other core) pumps fixed-size messages over
 * loopback; the client counts whole messages out of a 64 KiB `ReadBuf` the way a codec would
 * (`data()` + `advance`). Candidates:
 *
 * - `onread-spare`: `net` `onread` with `buffer: () => readBuf.spare()` — the kernel copies
 *   straight into the codec's slab, no JS copy.
 * - `onread-copy`: `onread` into one fixed 64 KiB staging buffer, then `readBuf.write(chunk)`.
 * - `data-copy`: flowing mode, every `'data'` chunk (a fresh Buffer per read) copied in.
 * - `readable-copy`: paused mode, `'readable'` + `socket.read()` loop, copied in (what
 *   `@effect/platform-node`'s `NodeSocket` does).
 * - `transport`: the real `Tcp.connect` transport driven by an Effect loop
 *   (`transport.read(readBuf)` per wake-up) — the cost we actually ship.
 *
 * Workloads: 100k × 128 B messages written one `write()` each (many small segments, the
 * market-data shape) and 64 MiB in 64 KiB writes (bulk). Rounds are interleaved, medians reported.
 *
 * Run: `npx node bench/transport-read.ts` (ROUNDS=5 by default).
 */
import * as Effect from "effect/Effect"
import * as net from "node:net"
import { PerformanceObserver } from "node:perf_hooks"
import { Worker } from "node:worker_threads"
import * as ReadBuf from "../src/Codec/ReadBuf.ts"
import * as Tcp from "../src/Transport/Tcp.ts"

interface Workload {
  readonly name: string
  readonly messageSize: number
  readonly count: number
  /** Messages per server `write()` call. */
  readonly perWrite: number
}

const workloads: ReadonlyArray<Workload> = [
  { name: "100k x 128 B, one write each", messageSize: 128, count: 100_000, perWrite: 1 },
  { name: "1M x 128 B, 32 per write", messageSize: 128, count: 1_000_000, perWrite: 32 },
  { name: "64 MiB in 64 KiB writes", messageSize: 65_536, count: 1024, perWrite: 1 }
]

// The server: on each connection, read one line "size count perWrite\n", then send and close.
const serverSource = `
const net = require("node:net")
const { parentPort } = require("node:worker_threads")
const server = net.createServer({ noDelay: true }, (socket) => {
  let line = ""
  socket.on("data", function onData(chunk) {
    line += chunk.toString("latin1")
    if (!line.includes("\\n")) return
    socket.off("data", onData)
    const [size, count, perWrite] = line.trim().split(" ").map(Number)
    const batch = Buffer.alloc(size * perWrite, 0x61)
    let sent = 0
    const pump = () => {
      while (sent < count) {
        sent += perWrite
        if (!socket.write(batch)) return socket.once("drain", pump)
      }
      socket.end()
    }
    pump()
  })
  socket.on("error", () => {})
})
server.listen(0, "127.0.0.1", () => parentPort.postMessage(server.address().port))
parentPort.on("message", () => server.close(() => process.exit(0)))
`

/** Every candidate parses out of a slab of this size (the codec's choice, not the transport's). */
const CAPACITY = 256 * 1024

type Strategy = (port: number, w: Workload) => Promise<number>

const request = (w: Workload): string => `${w.messageSize} ${w.count} ${w.perWrite}\n`

/** Consumes whole messages from `buf` like a codec; returns how many. */
const drainMessages = (buf: ReadBuf.ReadBuf, size: number): number => {
  let n = 0
  while (buf.length >= size) {
    buf.advance(size)
    n++
  }
  if (buf.spareLength < size) buf.compact()
  return n
}

/**
 * Runs one client: `open` creates the socket and calls `consumed()` each time it has put bytes
 * into `buf`; resolves with the message count once all arrived.
 */
const client = (
  w: Workload,
  open: (buf: ReadBuf.ReadBuf, consumed: () => void) => net.Socket
): Promise<number> =>
  new Promise((resolve, reject) => {
    const buf = ReadBuf.make({ capacity: CAPACITY })
    let got = 0
    const consumed = () => {
      got += drainMessages(buf, w.messageSize)
      if (got >= w.count) {
        socket.destroy()
        resolve(got)
      }
    }
    const socket = open(buf, consumed)
    socket.on("error", reject)
    socket.write(request(w))
  })

const put = (buf: ReadBuf.ReadBuf, chunk: Uint8Array) => {
  if (!buf.write(chunk)) throw new Error("slab overflow")
}

const connectOnread = (
  port: number,
  buffer: Uint8Array | (() => Uint8Array),
  callback: (n: number, chunk: Uint8Array) => boolean
) => net.connect({ port, host: "127.0.0.1", noDelay: true, onread: { buffer, callback } })

const onreadSpare: Strategy = (port, w) =>
  client(w, (buf, consumed) =>
    connectOnread(port, () => buf.spare(), (n) => {
      buf.filled(n)
      consumed()
      return true
    }))

const onreadCopy: Strategy = (port, w) =>
  client(w, (buf, consumed) =>
    connectOnread(port, Buffer.allocUnsafe(65_536), (n, chunk) => {
      put(buf, chunk.subarray(0, n))
      consumed()
      return true
    }))

const dataCopy: Strategy = (port, w) =>
  client(w, (buf, consumed) =>
    net.connect({ port, host: "127.0.0.1", noDelay: true }).on("data", (chunk: Buffer) => {
      put(buf, chunk)
      consumed()
    }))

const readableCopy: Strategy = (port, w) =>
  client(w, (buf, consumed) => {
    const socket = net.connect({ port, host: "127.0.0.1", noDelay: true })
    socket.pause()
    return socket.on("readable", () => {
      let chunk: Buffer | null
      while ((chunk = socket.read() as Buffer | null) !== null) put(buf, chunk)
      consumed()
    })
  })

const transport: Strategy = (port, w) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const t = yield* Tcp.connect({ host: "127.0.0.1", port })
    yield* t.write(Buffer.from(request(w)))
    const buf = ReadBuf.make({ capacity: CAPACITY })
    let got = 0
    while (got < w.count) {
      const n = yield* t.read(buf)
      if (n === 0) break
      got += drainMessages(buf, w.messageSize)
    }
    return got
  })))

const strategies: ReadonlyArray<readonly [string, Strategy]> = [
  ["onread-spare", onreadSpare],
  ["onread-copy", onreadCopy],
  ["data-copy", dataCopy],
  ["readable-copy", readableCopy],
  ["transport (Tcp.connect + Effect loop)", transport]
]

// GC activity per run: allocation per read shows up here even when throughput is noise-bound
let gcCount = 0
let gcMs = 0
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gcCount++
    gcMs += entry.duration
  }
}).observe({ entryTypes: ["gc"] })
const settle = () => new Promise((resolve) => setImmediate(resolve))

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

const main = async () => {
  const rounds = Number(process.env.ROUNDS ?? 5)
  const worker = new Worker(serverSource, { eval: true })
  const port = await new Promise<number>((resolve) => worker.once("message", resolve))
  let sink = 0
  const lines = [
    `Node ${process.version}, ${rounds} interleaved rounds, median; ${new Date().toISOString()}`,
    "",
    "| workload | strategy | messages/s | MB/s | GCs/run | GC ms/run |",
    "| --- | --- | ---: | ---: | ---: | ---: |"
  ]
  for (const w of workloads) {
    const times: Array<Array<number>> = strategies.map(() => [])
    const gcs: Array<Array<number>> = strategies.map(() => [])
    const gcTimes: Array<Array<number>> = strategies.map(() => [])
    // warm-up: one run each
    for (const [, s] of strategies) sink += await s(port, w)
    for (let round = 0; round < rounds; round++) {
      const order = strategies.map((_, i) => i)
      if (round % 2 === 1) order.reverse()
      for (const i of order) {
        await settle()
        const [gc0, gcMs0] = [gcCount, gcMs]
        const start = process.hrtime.bigint()
        const got = await strategies[i]![1](port, w)
        const ns = Number(process.hrtime.bigint() - start)
        await settle()
        gcs[i]!.push(gcCount - gc0)
        gcTimes[i]!.push(gcMs - gcMs0)
        if (got !== w.count) throw new Error(`${strategies[i]![0]} received ${got} of ${w.count}`)
        sink += got
        times[i]!.push(ns)
      }
    }
    strategies.forEach(([name], i) => {
      const seconds = median(times[i]!) / 1e9
      const rate = w.count / seconds
      const mbps = (w.count * w.messageSize) / seconds / 1e6
      lines.push(
        `| ${w.name} | ${name} | ${rate.toFixed(0)} | ${mbps.toFixed(0)} | ${median(gcs[i]!)} | ${
          median(gcTimes[i]!).toFixed(1)
        } |`
      )
    })
  }
  worker.postMessage("stop")
  console.log(lines.join("\n"))
  if (sink < 0) console.log(sink)
}

await main()
