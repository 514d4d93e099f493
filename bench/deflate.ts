/**
 * `npm run bench:deflate` — a compressed 1 KiB JSON feed (order-book updates) over loopback:
 * our client with `compression: true` (through `WebSocket.run` and the `recv` loop) beside `ws`
 * with `perMessageDeflate`, and the same feed uncompressed beside it, every candidate against
 * the same server, in alternating rounds of one run (issue #14: compressed ≥ 1.5× `ws`).
 *
 * The server (this file with `server` as argument, in a child process so the client has the
 * other core) answers the upgrade with `permessage-deflate; server_no_context_takeover` when
 * offered and streams `COUNT` text frames cycling through 256 distinct ~1 KiB order-book
 * updates — each deflated on its own (no context takeover: a frame may be replayed in any order),
 * pre-built once, so the server's cost is the same for every client and a round measures the
 * client: read, inflate, UTF-8 check, hand the payload over (every consumer reads a byte of
 * each payload). It reports the bytes on the wire per message for both feeds.
 *
 * First, in-process, the question behind the design — which way to drive `node:zlib` for one
 * message at a time: the transport's `Inflater` (one persistent raw-inflate context, its native
 * handle's synchronous `writeSync`), `zlib.inflateRawSync` per message (a fresh context each
 * time: usable only without context takeover), and a `createInflateRaw` stream written and
 * flushed per message, awaiting the flush callback (what `ws` does). Same 256 payloads, rounds
 * alternating, messages/s.
 */
import { spawn } from "node:child_process"
import { createHash } from "node:crypto"
import * as net from "node:net"
import * as zlib from "node:zlib"
import * as Effect from "effect/Effect"
import { Inflater } from "../src/Transport/internal/webSocketDeflate.ts"
import * as NexusWebSocket from "../src/Transport/WebSocket.ts"
import { median } from "./harness.ts"
import { wsReceiveRate } from "./ws-receive.ts"

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
const DISTINCT = 256

/** The i-th order-book update: about 1 KiB of JSON. */
const update = (i: number): string =>
  JSON.stringify({
    e: "depthUpdate",
    E: 1733230000000 + i * 7,
    s: "BTCUSDT",
    U: 4000000 + i * 3,
    u: 4000002 + i * 3,
    b: Array.from({ length: 20 }, (_, k) => [(64000.1 - k * 0.1 - (i % 13) * 0.01).toFixed(2), ((i * 7 + k * 13) % 997 / 100).toFixed(5)]),
    a: Array.from({ length: 20 }, (_, k) => [(64000.2 + k * 0.1 + (i % 11) * 0.01).toFixed(2), ((i * 11 + k * 17) % 991 / 100).toFixed(5)])
  })

const frameHeader = (b0: number, n: number): Buffer =>
  n < 126 ? Buffer.from([b0, n]) : Buffer.from([b0, 126, n >> 8, n & 0xff])

/** The feed's frames, one batch of about 64 KiB at a time: compressed (RSV1) or plain text. */
const batchOf = (compressed: boolean): { batch: Buffer; perBatch: number; bytesPerMessage: number } => {
  const frames = Array.from({ length: DISTINCT }, (_, i) => {
    const text = Buffer.from(update(i))
    if (!compressed) return Buffer.concat([frameHeader(0x81, text.length), text])
    const deflated = zlib.deflateRawSync(text, { finishFlush: zlib.constants.Z_SYNC_FLUSH })
    const payload = deflated.subarray(0, deflated.length - 4)
    return Buffer.concat([frameHeader(0xc1, payload.length), payload])
  })
  const batch = Buffer.concat(frames)
  return { batch, perBatch: DISTINCT, bytesPerMessage: batch.length / DISTINCT }
}

// ---------------------------------------------------------------------------------------------
// The server (child process)
// ---------------------------------------------------------------------------------------------

const serve = (): void => {
  const feeds = { true: batchOf(true), false: batchOf(false) }
  const server = net.createServer((socket) => {
    socket.setNoDelay(true)
    socket.on("error", () => {})
    let head = Buffer.alloc(0)
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk])
      const end = head.indexOf("\r\n\r\n")
      if (end < 0) return
      socket.off("data", onData)
      const text = head.subarray(0, end).toString()
      const key = /sec-websocket-key: *(\S+)/i.exec(text)![1]!
      const count = Number(/count=(\d+)/.exec(text)![1]!)
      const compressed = /sec-websocket-extensions:[^\r]*permessage-deflate/i.test(text) && /compressed=1/.test(text)
      socket.write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Accept: ${createHash("sha1").update(key + GUID).digest("base64")}\r\n` +
          (compressed ? "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n" : "") + "\r\n"
      )
      const feed = feeds[compressed ? "true" : "false"]
      void (async () => {
        let sent = 0
        while (sent < count && !socket.destroyed) {
          sent += feed.perBatch
          if (!socket.write(feed.batch)) await new Promise<void>((resolve) => socket.once("drain", resolve))
        }
      })()
    }
    socket.on("data", onData)
  })
  server.listen(0, "127.0.0.1", () => {
    process.stdout.write(JSON.stringify({ port: (server.address() as net.AddressInfo).port }) + "\n")
  })
  process.stdin.on("end", () => process.exit(0))
  process.stdin.resume()
}

// ---------------------------------------------------------------------------------------------
// The clients
// ---------------------------------------------------------------------------------------------

type Candidate = (url: string, count: number) => Promise<number>

let touched = 0
const DONE = "done" as const

const wsClient = (compressed: boolean): Candidate => (url, count) =>
  wsReceiveRate(url, count, {
    client: { perMessageDeflate: compressed },
    onOpen: (socket) => {
      if (compressed && !socket.extensions.includes("permessage-deflate")) throw new Error("ws: no compression agreed")
    },
    touch: (data) => void (touched += data[0]!)
  })

const oursRun = (compressed: boolean): Candidate => (url, count) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const ws = yield* NexusWebSocket.connect(url, { compression: compressed })
    if (compressed && ws.deflate === undefined) throw new Error("ours: no compression agreed")
    const started = performance.now()
    let received = 0
    let elapsed = 0
    // the feed never ends by itself: the handler stops the loop with a sentinel failure
    yield* Effect.catch(
      NexusWebSocket.run(ws, (message) => {
        if (message._tag === "Text") {
          touched += message.buf[message.start]!
          if (++received === count) {
            elapsed = performance.now() - started
            return Effect.fail(DONE)
          }
        }
      }),
      (error) => (error === DONE ? Effect.void : Effect.fail(error))
    )
    return count / (elapsed / 1000)
  })))

const oursRecv = (compressed: boolean): Candidate => (url, count) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const ws = yield* NexusWebSocket.connect(url, { compression: compressed })
    if (compressed && ws.deflate === undefined) throw new Error("ours: no compression agreed")
    const started = performance.now()
    let received = 0
    while (received < count) {
      const message = yield* ws.recv
      if (message._tag === "Text") {
        touched += message.buf[message.start]!
        received++
      }
    }
    return count / ((performance.now() - started) / 1000)
  })))

/** The feed's deflated payloads (without the trailer), as a receiver sees them. */
const payloads = (): Array<Buffer> =>
  Array.from({ length: DISTINCT }, (_, i) => {
    const deflated = zlib.deflateRawSync(Buffer.from(update(i)), { finishFlush: zlib.constants.Z_SYNC_FLUSH })
    return deflated.subarray(0, deflated.length - 4)
  })

const TRAILER = Buffer.from([0, 0, 0xff, 0xff])

const zlibDrivers = async (rounds: number, count: number): Promise<void> => {
  const inputs = payloads()
  const withTrailer = inputs.map((p) => Buffer.concat([p, TRAILER]))
  const handle = (): number => {
    const inflater = new Inflater(15, true, 1 << 24)
    const t0 = performance.now()
    for (let i = 0; i < count; i++) {
      const p = inputs[i % DISTINCT]!
      const n = inflater.inflate(p, 0, p.length) as number
      touched += inflater.out[n - 1]!
    }
    const rate = count / ((performance.now() - t0) / 1000)
    inflater.close()
    return rate
  }
  const oneShot = (): number => {
    const t0 = performance.now()
    for (let i = 0; i < count; i++) {
      const out = zlib.inflateRawSync(withTrailer[i % DISTINCT]!, { finishFlush: zlib.constants.Z_SYNC_FLUSH })
      touched += out[out.length - 1]!
    }
    return count / ((performance.now() - t0) / 1000)
  }
  const stream = async (): Promise<number> => {
    const inflate = zlib.createInflateRaw({ windowBits: 15 })
    let chunks: Array<Buffer> = []
    inflate.on("data", (chunk: Buffer) => chunks.push(chunk))
    const t0 = performance.now()
    for (let i = 0; i < count; i++) {
      inflate.write(withTrailer[i % DISTINCT]!)
      await new Promise<void>((resolve) => inflate.flush(() => resolve()))
      const out = Buffer.concat(chunks)
      chunks = []
      touched += out[out.length - 1]!
      inflate.reset()
    }
    const rate = count / ((performance.now() - t0) / 1000)
    inflate.close()
    return rate
  }
  const rates: Array<Array<number>> = [[], [], []]
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? [0, 1, 2] : [2, 1, 0]
    for (const k of order) rates[k]!.push(k === 0 ? handle() : k === 1 ? oneShot() : await stream())
  }
  const names = ["persistent context, native writeSync (ours)", "zlib.inflateRawSync per message", "stream write + flush per message (ws)"]
  console.log(`inflate ~1 KiB JSON, ${count} messages per round, ${rounds} rounds, medians (machine shared):`)
  console.log("| zlib driver | messages/s | × stream |")
  console.log("| --- | ---: | ---: |")
  const base = median(rates[2]!)
  names.forEach((name, k) =>
    console.log(`| ${name} | ${Math.round(median(rates[k]!)).toLocaleString("en-US")} | ${(median(rates[k]!) / base).toFixed(2)}× |`)
  )
  console.log("")
}

const main = async (): Promise<void> => {
  await zlibDrivers(Number(process.env.ROUNDS ?? 5), Number(process.env.ZLIB_COUNT ?? 50_000))
  const child = spawn(process.execPath, [new URL(import.meta.url).pathname, "server"], { stdio: ["pipe", "pipe", "inherit"] })
  const port = await new Promise<number>((resolve) =>
    child.stdout.once("data", (line: Buffer) => resolve((JSON.parse(line.toString()) as { port: number }).port))
  )
  const ROUNDS = Number(process.env.ROUNDS ?? 5)
  const COUNT = Number(process.env.COUNT ?? 200_000)
  const url = (compressed: boolean) => `ws://127.0.0.1:${port}/feed?count=${COUNT + DISTINCT}&compressed=${compressed ? 1 : 0}`
  const candidates: ReadonlyArray<readonly [string, boolean, Candidate]> = [
    ["ours run, compressed", true, oursRun(true)],
    ["ours recv, compressed", true, oursRecv(true)],
    ["ws, compressed", true, wsClient(true)],
    ["ours run, uncompressed", false, oursRun(false)],
    ["ours recv, uncompressed", false, oursRecv(false)],
    ["ws, uncompressed", false, wsClient(false)]
  ]
  const rates = candidates.map(() => [] as Array<number>)
  const ratios = { run: [] as Array<number>, recv: [] as Array<number>, runPlain: [] as Array<number> }
  for (let round = 0; round < ROUNDS; round++) {
    const order = candidates.map((_, i) => i)
    if (round % 2 === 1) order.reverse()
    const got: Array<number> = []
    for (const i of order) {
      const [, compressed, run] = candidates[i]!
      got[i] = await run(url(compressed), COUNT)
      rates[i]!.push(got[i]!)
    }
    ratios.run.push(got[0]! / got[2]!)
    ratios.recv.push(got[1]! / got[2]!)
    ratios.runPlain.push(got[3]! / got[5]!)
    console.log(`round ${round + 1}: ${candidates.map(([name], i) => `${name} ${Math.round(got[i]!)}`).join(" · ")}`)
  }
  const compressed = batchOf(true)
  const plain = batchOf(false)
  const text = Buffer.byteLength(update(0))
  console.log(`\nNode ${process.version}, ${ROUNDS} rounds of ${COUNT} messages (payload ~${text} B JSON); machine shared, medians:`)
  console.log("| candidate | messages/s | wire bytes/message |")
  console.log("| --- | ---: | ---: |")
  candidates.forEach(([name, isCompressed], i) => {
    const bytes = isCompressed ? compressed.bytesPerMessage : plain.bytesPerMessage
    console.log(`| ${name} | ${Math.round(median(rates[i]!)).toLocaleString("en-US")} | ${bytes.toFixed(1)} |`)
  })
  console.log(`\nmedian in-run ratio ours/ws, compressed: run ${median(ratios.run).toFixed(2)}×, recv ${median(ratios.recv).toFixed(2)}× (target 1.5×)`)
  console.log(`median in-run ratio ours/ws, uncompressed: run ${median(ratios.runPlain).toFixed(2)}×`)
  console.log(`wire: ${compressed.bytesPerMessage.toFixed(1)} B/message compressed vs ${plain.bytesPerMessage.toFixed(1)} B uncompressed (${(100 * compressed.bytesPerMessage / plain.bytesPerMessage).toFixed(1)}%) (sink ${touched & 1})`)
  child.stdin.end()
  child.kill()
}

if (process.argv[2] === "server") serve()
else await main()
