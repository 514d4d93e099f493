/**
 * `npm run bench:loopback [-- filter-regex]` — our WebSocket stream and HTTP connection over real
 * loopback sockets, side by side with the peers a Node or Effect user would reach for instead,
 * against the same servers (`bench/loopback-server.ts`, in a child process of its own).
 *
 * Questions answered (each candidate in every round, the order alternating between rounds; the
 * table quotes the median of the rounds; a rate table's ratios are medians of the per-round ratios):
 * - WebSocket firehose: the server streams 40 B and 128 B binary messages as fast as the socket
 *   takes them; messages/second received, every consumer reading each payload as it is handed
 *   out (a byte of it into a sink: the work a `ws` `message` listener gets). Ours on each path a
 *   user takes — `WebSocket.run` (the push loop, `message.payload`), the `recv` loop, and the
 *   `messages` Stream (owned copies, consumed a chunk at a time with `Stream.runForEachArray`) —
 *   vs `ws` vs Effect's `effect/socket` WebSocket (`NodeSocket.layerWebSocket`, i.e. Node's
 *   global WebSocket), and a raw `node:net` client that only counts bytes (the server's
 *   ceiling in the same run). Targets (issue #12): run ≥ 3×, recv ≥ 2×, messages ≥ 1.5× `ws`.
 * - Feed firehose: the same firehose read through the reconnecting feeds, the consumer touching
 *   each message's payload (its first and last byte, kept in a sink) as a `ws` listener reading
 *   `data` does: `Reconnect/Feed` (a handler on the supervisor's push loop), `Layers/MarketFeed`
 *   (`Messages` batches — payloads copied once into one owned buffer with an index — through its
 *   bounded queue, read as a Stream of chunks, each payload read through the index; owned, and
 *   with `lent: true`, the batches valid until the next pull) and `WebSocket.run`,
 *   beside `ws` touching the same bytes. Target: Feed and MarketFeed ≥ 2× `ws`.
 * - Effect Socket firehose: the same firehose through Effect's `Socket` interface (`reader.pull`,
 *   batches of owned frames, each touched): `Layers/NexusSocket` vs Effect's own `Socket` on `ws`
 *   (`Socket.makeWebSocket` with `NodeSocket.layerWebSocketConstructorWS`) and on Node's global
 *   WebSocket (`NodeSocket.layerWebSocket`), beside `ws` touching the same bytes. Target: ≥ 3×
 *   Effect's `Socket` on `ws`.
 * - WebSocket round trip: one 40 B binary message out, its echo back, sequentially; p50/p99.
 *   Ours through `recv`, `run`, the `messages` Stream and `Reconnect/Feed` (the next 40 B sent
 *   from `onMessage`), beside a raw `node:net` floor (a pre-masked frame
 *   written, the echo's byte count awaited: no client work). Target: our p50 ≤ 0.9× `ws`'s.
 *   Twice: on the machine as it is, and with one core kept busy by a spinning child process
 *   (started before the rounds, stopped by its pid after). On an idle 2-core VM each round trip
 *   waits for the other process to wake from idle (`bench/process-wakeup.ts`: 75–110 µs here),
 *   which every client pays alike, the floor too; with a core busy no core goes idle, the
 *   wake-up is a context switch, and the clients' own work shows — what a box whose cores
 *   busy-poll sees. Ours twice more with `busyPoll: "1 millis"` (`SocketOptions.busyPoll`):
 *   the client keeps its event loop polling while it waits, so only the server's wake-up is
 *   left — at the cost of the client's core kept busy while it waits.
 * - HTTP order entry on one keep-alive connection, sequentially: p50/p99 and requests/second.
 *   Ours vs `undici` (Client.request), `node:http` with a keep-alive Agent, `fetch`, Effect's
 *   HttpClient (`@effect/platform-node` undici layer) and a raw `node:net` floor that writes
 *   pre-built request bytes and waits for the known response length (no parsing); ours again
 *   with `busyPoll: "1 millis"`. Target: the latency we add on top of the floor's p50 is at
 *   most half of what `undici.request` adds.
 */
import { spawn } from "node:child_process"
import * as http from "node:http"
import * as net from "node:net"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as Socket from "effect/socket/Socket"
import { Client as UndiciClient } from "undici"
import WebSocket from "ws"
import * as RequestWriter from "../src/Codec/RequestWriter.ts"
import * as ResponseReader from "../src/Codec/ResponseReader.ts"
import * as HttpConnection from "../src/Transport/HttpConnection.ts"
import * as NexusWebSocket from "../src/Transport/WebSocket.ts"
import type { WebSocketError } from "../src/Transport/WebSocket.ts"
import type { SocketOptions } from "../src/Transport/SocketTransport.ts"
import * as NexusSocket from "../src/Layers/NexusSocket.ts"
import * as Feed from "../src/Reconnect/Feed.ts"
import { makeOrderBuilder, ORDER_BODY, ORDER_DEFAULT_HEADERS, ORDER_HEADERS } from "./codec/http-build.ts"
import { median } from "./harness.ts"
import { sink, viaFeed, viaMarketFeed, viaMarketFeedLent } from "./feed-consumers.ts"
import { startLoopbackServers } from "./loopback-peer.ts"
import { rawFirehoseRate, rawRoundTrip } from "./raw-client.ts"
import { type Consumer, viaMessages, viaMessagesLent, viaRecv, viaRun } from "./ws-consumers.ts"
import { wsReceiveRate } from "./ws-receive.ts"
import { ORDER_BODY as ORDER_RESPONSE_BODY, ORDER_RESPONSE } from "./codec/http-parse.ts"

// ---------------------------------------------------------------------------------------------
// Measurement plumbing
// ---------------------------------------------------------------------------------------------

const filter = process.argv[2] === undefined ? undefined : new RegExp(process.argv[2])
const ROUNDS = Number(process.env.ROUNDS ?? 5)
// long enough that JIT warm-up and the connect are a small part of a round
const STREAM_COUNT = Number(process.env.STREAM_COUNT ?? 2_000_000)
const RTT_COUNT = Number(process.env.RTT_COUNT ?? 5_000)
const HTTP_COUNT = Number(process.env.HTTP_COUNT ?? 5_000)
/** The `busyPoll` budget of the busy-polling rows: a millisecond, ten times an idle VM's round trip. */
const BUSY_POLL = "1 millis"
const WARMUP_FRACTION = 0.1

const quantile = (sorted: Float64Array, q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!

/** One round's measurement of a latency candidate: per-iteration times in µs after warm-up. */
interface LatencySample {
  readonly p50: number
  readonly p99: number
  readonly perSecond: number
}

const summarize = (times: Float64Array, totalMs: number, iterations: number): LatencySample => {
  const sorted = times.slice().sort()
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), perSecond: iterations / (totalMs / 1000) }
}

/**
 * Runs `step` `count` times sequentially (the first tenth is warm-up and not recorded) and
 * summarises the per-step latency in µs.
 */
const timeSteps = async (count: number, step: () => Promise<void>): Promise<LatencySample> => {
  const warm = Math.floor(count * WARMUP_FRACTION)
  for (let i = 0; i < warm; i++) await step()
  const times = new Float64Array(count)
  const started = performance.now()
  for (let i = 0; i < count; i++) {
    const t0 = performance.now()
    await step()
    times[i] = (performance.now() - t0) * 1000
  }
  return summarize(times, performance.now() - started, count)
}

/** The same as {@link timeSteps} for an Effect step, inside one fiber. */
const timeStepsEffect = <E>(count: number, step: Effect.Effect<unknown, E>): Effect.Effect<LatencySample, E> =>
  Effect.gen(function*() {
    const warm = Math.floor(count * WARMUP_FRACTION)
    for (let i = 0; i < warm; i++) yield* step
    const times = new Float64Array(count)
    const started = performance.now()
    for (let i = 0; i < count; i++) {
      const t0 = performance.now()
      yield* step
      times[i] = (performance.now() - t0) * 1000
    }
    return summarize(times, performance.now() - started, count)
  })

// ---------------------------------------------------------------------------------------------
// The servers
// ---------------------------------------------------------------------------------------------

const ports = await startLoopbackServers()
const wsBase = `ws://127.0.0.1:${ports.ws}`
const httpBase = `http://127.0.0.1:${ports.http}`

// ---------------------------------------------------------------------------------------------
// WebSocket candidates
// ---------------------------------------------------------------------------------------------

/**
 * Runs `f` while a child process spins on one core, so no core of a 2-core VM goes idle between
 * a round trip's steps (no wake-up from idle); the child is stopped by its pid however `f` ends.
 */
const withBusyCore = async <A>(f: () => Promise<A>): Promise<A> => {
  const spinner = spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" })
  try {
    return await f()
  } finally {
    process.kill(spinner.pid!)
  }
}

/** Connects to the firehose, receives `count` messages of `size` bytes, returns messages/second. */
type StreamCandidate = (size: number, count: number) => Promise<number>
/** Connects to the echo server and measures `count` sequential 40 B round trips. */
type RttCandidate = (count: number) => Promise<LatencySample>

const streamUrl = (size: number, count: number) => `${wsBase}/stream?size=${size}&count=${count}`
/** Every consumer adds a byte of each payload here, so no candidate skips looking at its messages. */
let touched = 0
/** Reads a payload's first and last byte into the sink (the feed and Socket rows). */
const touch = (bytes: Uint8Array): void => {
  touched = (touched + bytes[0]! + bytes[bytes.length - 1]!) | 0
}
const RTT_PAYLOAD = Buffer.alloc(40, 0x62)
/** The raw ceiling client's touch: a byte of each chunk (it parses no frames). */
const touchChunk = (chunk: Buffer): void => void (touched += chunk[0]!)

/** The firehose consumers' touch: a payload's first byte into the sink. */
const touchFirst = (payload: Uint8Array): void => void (touched += payload[0]!)

const wsStream: StreamCandidate = (size, count) => wsReceiveRate(streamUrl(size, count), count, { touch: touchFirst })

const wsRtt: RttCandidate = (count) =>
  new Promise((resolve, reject) => {
    const socket = new WebSocket(`${wsBase}/echo`)
    let wake: () => void = () => {}
    socket.on("message", () => wake())
    socket.on("error", reject)
    socket.on("open", () => {
      timeSteps(count, () =>
        new Promise<void>((done) => {
          wake = done
          socket.send(RTT_PAYLOAD)
        })).then((sample) => {
          socket.terminate()
          resolve(sample)
        }, reject)
    })
  })

const effectSocketLayer = (url: string) => NodeSocket.layerWebSocket(url)

const effectStream: StreamCandidate = (size, count) =>
  Effect.runPromise(
    Effect.gen(function*() {
      const socket = yield* Socket.Socket
      const reader = yield* socket.reader
      const touch = (batch: ReadonlyArray<string | Uint8Array>): number => {
        for (const data of batch) touched += typeof data === "string" ? data.charCodeAt(0) : data[0]!
        return batch.length
      }
      let received = touch(yield* reader.pull)
      // timed from the first batch: the connection opens lazily with the reader
      const started = performance.now()
      while (received < count) received += touch(yield* reader.pull)
      return count / ((performance.now() - started) / 1000)
    }).pipe(Effect.scoped, Effect.provide(effectSocketLayer(streamUrl(size, count))))
  )

const effectRtt: RttCandidate = (count) =>
  Effect.runPromise(
    Effect.gen(function*() {
      const socket = yield* Socket.Socket
      const reader = yield* socket.reader
      const writer = yield* socket.writer
      let pending = 0
      const step = Effect.gen(function*() {
        yield* writer.write(RTT_PAYLOAD)
        while (pending === 0) pending += (yield* reader.pull).length
        pending--
      })
      return yield* timeStepsEffect(count, step)
    }).pipe(Effect.scoped, Effect.provide(effectSocketLayer(`${wsBase}/echo`)))
  )

// ---------------------------------------------------------------------------------------------
// HTTP candidates
// ---------------------------------------------------------------------------------------------

/** Sends `count` sequential order requests over one keep-alive connection. */
type HttpCandidate = (count: number) => Promise<LatencySample>

const ORDER_PATH = "/api/v3/order"
const RESPONSE_LENGTH = ORDER_RESPONSE.length

const checkBody = (text: string): void => {
  if (text !== ORDER_RESPONSE_BODY) throw new Error(`unexpected response body: ${text}`)
}

const rawFloor: HttpCandidate = (count) =>
  new Promise((resolve, reject) => {
    // the same bytes our writer builds, built once: the floor neither builds nor parses
    const request = Buffer.from(makeOrderBuilder()())
    const socket = net.connect({ host: "127.0.0.1", port: ports.http, noDelay: true })
    let got = 0
    let wake: () => void = () => {}
    socket.on("data", (chunk) => {
      got += chunk.length
      if (got >= RESPONSE_LENGTH) {
        got -= RESPONSE_LENGTH
        wake()
      }
    })
    socket.on("error", reject)
    socket.on("connect", () => {
      timeSteps(count, () =>
        new Promise<void>((done) => {
          wake = done
          socket.write(request)
        })).then((sample) => {
          socket.destroy()
          resolve(sample)
        }, reject)
    })
  })

const undiciRequest: HttpCandidate = async (count) => {
  const client = new UndiciClient(httpBase, { pipelining: 1 })
  try {
    return await timeSteps(count, async () => {
      const response = await client.request({ path: ORDER_PATH, method: "POST", headers: ORDER_HEADERS, body: ORDER_BODY })
      checkBody(await response.body.text())
    })
  } finally {
    await client.close()
  }
}

const nodeHttp: HttpCandidate = async (count) => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const once = () =>
    new Promise<void>((resolve, reject) => {
      const request = http.request(`${httpBase}${ORDER_PATH}`, {
        method: "POST",
        agent,
        headers: { ...ORDER_HEADERS, "content-length": Buffer.byteLength(ORDER_BODY) }
      }, (response) => {
        let text = ""
        response.setEncoding("utf8")
        response.on("data", (chunk: string) => (text += chunk))
        response.on("end", () => {
          checkBody(text)
          resolve()
        })
      })
      request.on("error", reject)
      request.end(ORDER_BODY)
    })
  try {
    return await timeSteps(count, once)
  } finally {
    agent.destroy()
  }
}

const fetchCandidate: HttpCandidate = (count) =>
  timeSteps(count, async () => {
    const response = await fetch(`${httpBase}${ORDER_PATH}`, { method: "POST", headers: ORDER_HEADERS, body: ORDER_BODY })
    checkBody(await response.text())
  })

const effectHttpClient: HttpCandidate = (count) =>
  Effect.runPromise(
    Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const request = HttpClientRequest.post(`${httpBase}${ORDER_PATH}`).pipe(
        HttpClientRequest.setHeaders(ORDER_HEADERS),
        HttpClientRequest.bodyText(ORDER_BODY, "application/json")
      )
      const step = Effect.flatMap(client.execute(request), (response) => Effect.map(response.text, checkBody))
      return yield* timeStepsEffect(count, step)
    }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndiciOptions({ connections: 1 }) as Layer.Layer<HttpClient.HttpClient>))
  )

// ---------------------------------------------------------------------------------------------
// Running and reporting
// ---------------------------------------------------------------------------------------------

/** A named question with its candidates, `candidates[0]` being ours when present. */
interface Question<C> {
  readonly name: string
  readonly candidates: ReadonlyArray<readonly [name: string, run: C]>
}

/** Any `Socket` on the firehose: pull batches, touch every frame (the Effect Socket rows). */
const socketFirehose = (make: (url: string) => Effect.Effect<Socket.Socket>): StreamCandidate => (size, count) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const socket = yield* make(streamUrl(size, count))
    const reader = yield* socket.reader
    let received = 0
    let started = 0
    while (received < count) {
      const chunk = yield* reader.pull
      // timed from the first batch: Effect's reader opens before the server's first frame
      if (started === 0) started = performance.now()
      for (const frame of chunk) touch(frame as Uint8Array)
      received += chunk.length
    }
    return count / ((performance.now() - started) / 1000)
  })))

const effectSocketOnWs = socketFirehose((url) => Effect.provide(Socket.makeWebSocket(url), NodeSocket.layerWebSocketConstructorWS))
const effectSocketGlobal = socketFirehose((url) => Effect.provide(Socket.makeWebSocket(url), NodeSocket.layerWebSocketConstructor))

const alternate = <T>(items: ReadonlyArray<T>, round: number): ReadonlyArray<T> =>
  round % 2 === 0 ? items : [...items].reverse()

/** One candidate's rounds: its rates, and the main-thread CPU time (µs) each round's run took. */
interface Rounds {
  readonly rates: ReadonlyArray<number>
  readonly cpu: ReadonlyArray<number>
}

/**
 * Every round's rate per candidate, the order alternating between rounds, with the main
 * thread's CPU time of each run (`process.threadCpuUsage`: connect and close included, GC
 * helper threads and the server not) — the work the client did, whatever share of a core the
 * shared machine gave it.
 */
const runRounds = async (question: Question<() => Promise<number>>): Promise<ReadonlyArray<Rounds>> => {
  const rounds = question.candidates.map(() => ({ rates: [] as Array<number>, cpu: [] as Array<number> }))
  for (let round = 0; round < ROUNDS; round++) {
    for (const i of alternate(question.candidates.map((_, i) => i), round)) {
      const cpu0 = process.threadCpuUsage()
      rounds[i]!.rates.push(await question.candidates[i]![1]())
      const cpu = process.threadCpuUsage(cpu0)
      rounds[i]!.cpu.push(cpu.user + cpu.system)
    }
  }
  return rounds
}

/**
 * A rate table whose ratios are medians of the per-round ratios against each base (candidates
 * of one round run back to back, so a slow spell of the shared machine hits both sides), and
 * the client's main-thread CPU per message beside it (its ratio: the base's CPU over ours, so
 * above 1× is less work than the base), which a busy machine moves much less than the rates.
 */
const pairedTable = async (
  title: string,
  candidates: ReadonlyArray<readonly [string, () => Promise<number>]>,
  bases: ReadonlyArray<number>,
  count: number
): Promise<void> => {
  const rounds = await runRounds({ name: title, candidates })
  const ratio = (i: number, base: number) => median(rounds[i]!.rates.map((rate, round) => rate / rounds[base]!.rates[round]!))
  const cpuRatio = (i: number, base: number) => median(rounds[i]!.cpu.map((cpu, round) => rounds[base]!.cpu[round]! / cpu))
  const cpuPerMessage = (i: number) => (median(rounds[i]!.cpu) * 1000) / count
  print(`### ${title}\n`)
  print(`| client | messages/s | ${bases.map((b) => `vs ${candidates[b]![0]} (median of round ratios)`).join(" | ")} | main-thread CPU ns/msg | ${bases.map((b) => `CPU: ${candidates[b]![0]}'s / ours`).join(" | ")} |`)
  print(`| --- | ---: | ${bases.map(() => "---:").join(" | ")} | ---: | ${bases.map(() => "---:").join(" | ")} |`)
  candidates.forEach(([n], i) =>
    print(`| ${n} | ${fmtRate(median(rounds[i]!.rates))} | ${bases.map((b) => `${ratio(i, b).toFixed(2)}×`).join(" | ")} | ${cpuPerMessage(i).toFixed(0)} | ${bases.map((b) => `${cpuRatio(i, b).toFixed(2)}×`).join(" | ")} |`))
  print("")
}

const runLatencies = async (question: Question<() => Promise<LatencySample>>): Promise<ReadonlyArray<LatencySample>> => {
  const samples = question.candidates.map(() => [] as Array<LatencySample>)
  for (let round = 0; round < ROUNDS; round++) {
    for (const i of alternate(question.candidates.map((_, i) => i), round)) {
      samples[i]!.push(await question.candidates[i]![1]())
    }
  }
  return samples.map((s) => ({
    p50: median(s.map((x) => x.p50)),
    p99: median(s.map((x) => x.p99)),
    perSecond: median(s.map((x) => x.perSecond))
  }))
}

const fmtRate = (n: number): string =>
  n >= 1e6 ? `${(n / 1e6).toFixed(2)} M/s` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k/s` : `${n.toFixed(0)} /s`

const lines: Array<string> = []
const print = (line: string) => {
  lines.push(line)
  console.log(line)
}

/** Candidates for our side (each missing one is left out of its table). */
interface Ours {
  readonly wsRun?: StreamCandidate
  readonly wsStream?: StreamCandidate
  readonly wsMessages?: StreamCandidate
  readonly wsMessagesLent?: StreamCandidate
  readonly wsRttRun?: RttCandidate
  readonly wsRttMessages?: RttCandidate
  /** `Reconnect/Feed` on the echo server: the next 40 B sent from `onMessage`. */
  readonly feedRtt?: RttCandidate
  /** The feed firehose: name → candidate, in table order. */
  readonly feeds?: ReadonlyArray<readonly [string, StreamCandidate]>
  /** Effect's `Socket` interface on the firehose. */
  readonly socket?: StreamCandidate
  readonly wsRtt?: RttCandidate
  readonly http?: HttpCandidate
  /** The same with `busyPoll` on (`SocketOptions.busyPoll`: the client polls while it waits). */
  readonly busyPoll?: {
    readonly wsRtt: RttCandidate
    readonly wsRttRun: RttCandidate
    readonly wsRttMessages: RttCandidate
    readonly feedRtt: RttCandidate
    readonly http: HttpCandidate
  }
}

/** Runs every question; `ours` supplies our candidates. */
const run = async (ours: Ours): Promise<void> => {
  print(`loopback bench — node ${process.version}, ${ROUNDS} rounds, medians of the rounds\n`)
  // a filter may run no firehose (round trip alone, say): then no payload is expected to be read
  let firehoses = 0
  for (const size of [40, 128]) {
    const name = `ws firehose ${size} B`
    if (filter !== undefined && !filter.test(name)) continue
    const candidates: Array<readonly [string, () => Promise<number>]> = []
    if (ours.wsRun !== undefined) candidates.push(["effect-nexus run", () => ours.wsRun!(size, STREAM_COUNT)])
    if (ours.wsStream !== undefined) candidates.push(["effect-nexus recv", () => ours.wsStream!(size, STREAM_COUNT)])
    if (ours.wsMessages !== undefined) candidates.push(["effect-nexus messages", () => ours.wsMessages!(size, STREAM_COUNT)])
    if (ours.wsMessagesLent !== undefined) {
      candidates.push(["effect-nexus messages (lent)", () => ours.wsMessagesLent!(size, STREAM_COUNT)])
    }
    candidates.push(["ws", () => wsStream(size, STREAM_COUNT)])
    candidates.push(["effect/socket", () => effectStream(size, STREAM_COUNT)])
    // the server's ceiling in the same run: a client that only counts bytes
    candidates.push(["raw node:net, counts bytes (ceiling)", () => rawFirehoseRate(ports.ws, size, STREAM_COUNT, touchChunk)])
    // per-round ratios, as the other firehose tables: a slow spell of the shared machine hits both sides
    firehoses++
    await pairedTable(`${name} (${STREAM_COUNT} messages per round)`, candidates, [candidates.findIndex(([n]) => n === "ws")], STREAM_COUNT)
  }
  for (const size of [40, 128]) {
    const name = `feed firehose ${size} B`
    if (ours.feeds === undefined || (filter !== undefined && !filter.test(name))) continue
    const candidates: Array<readonly [string, () => Promise<number>]> = ours.feeds.map(([n, c]) => [n, () => c(size, STREAM_COUNT)])
    candidates.push(["ws (touching each payload)", () => wsStream(size, STREAM_COUNT)])
    firehoses++
    await pairedTable(`${name}, the consumer touching each payload (${STREAM_COUNT} messages per round)`, candidates, [candidates.length - 1], STREAM_COUNT)
  }
  for (const size of [40, 128]) {
    const name = `effect socket firehose ${size} B`
    if (ours.socket === undefined || (filter !== undefined && !filter.test(name))) continue
    const candidates: Array<readonly [string, () => Promise<number>]> = [
      ["effect-nexus NexusSocket", () => ours.socket!(size, STREAM_COUNT)],
      ["Effect Socket on ws", () => effectSocketOnWs(size, STREAM_COUNT)],
      ["Effect Socket on global WebSocket", () => effectSocketGlobal(size, STREAM_COUNT)],
      ["ws (touching each payload)", () => wsStream(size, STREAM_COUNT)]
    ]
    firehoses++
    await pairedTable(`${name}, the consumer touching each frame (${STREAM_COUNT} messages per round)`, candidates, [1, 3], STREAM_COUNT)
  }
  const latencyTable = (title: string, candidates: ReadonlyArray<readonly [string, unknown]>, samples: ReadonlyArray<LatencySample>, base: string) => {
    const b = samples[candidates.findIndex(([n]) => n === base)]!
    print(`### ${title}\n`)
    print(`| client | p50 µs | p99 µs | per second | p50 vs ${base} |`)
    print("| --- | ---: | ---: | ---: | ---: |")
    candidates.forEach(([n], i) => {
      const s = samples[i]!
      print(`| ${n} | ${s.p50.toFixed(1)} | ${s.p99.toFixed(1)} | ${fmtRate(s.perSecond)} | ${(s.p50 / b.p50).toFixed(2)}× |`)
    })
    print("")
  }
  const rttCandidates = () => {
    const candidates: Array<readonly [string, () => Promise<LatencySample>]> = []
    if (ours.wsRtt !== undefined) candidates.push(["effect-nexus recv", () => ours.wsRtt!(RTT_COUNT)])
    if (ours.wsRttRun !== undefined) candidates.push(["effect-nexus run", () => ours.wsRttRun!(RTT_COUNT)])
    if (ours.wsRttMessages !== undefined) candidates.push(["effect-nexus messages", () => ours.wsRttMessages!(RTT_COUNT)])
    if (ours.feedRtt !== undefined) candidates.push(["effect-nexus Feed", () => ours.feedRtt!(RTT_COUNT)])
    if (ours.busyPoll !== undefined) {
      candidates.push([`effect-nexus recv, busyPoll ${BUSY_POLL}`, () => ours.busyPoll!.wsRtt(RTT_COUNT)])
      candidates.push([`effect-nexus run, busyPoll ${BUSY_POLL}`, () => ours.busyPoll!.wsRttRun(RTT_COUNT)])
      candidates.push([`effect-nexus messages, busyPoll ${BUSY_POLL}`, () => ours.busyPoll!.wsRttMessages(RTT_COUNT)])
      candidates.push([`effect-nexus Feed, busyPoll ${BUSY_POLL}`, () => ours.busyPoll!.feedRtt(RTT_COUNT)])
    }
    candidates.push(["ws", () => wsRtt(RTT_COUNT)])
    candidates.push(["effect/socket", () => effectRtt(RTT_COUNT)])
    // the floor: sockets, kernel and server, no client work (a pre-masked frame, the echo's length awaited)
    candidates.push(["raw node:net floor", () => rawRoundTrip(ports.ws, (step) => timeSteps(RTT_COUNT, step))])
    return candidates
  }
  if (filter === undefined || filter.test("ws round trip")) {
    const candidates = rttCandidates()
    latencyTable(`ws round trip 40 B (${RTT_COUNT} per round)`, candidates, await runLatencies({ name: "rtt", candidates }), "ws")
  }
  if (filter === undefined || filter.test("ws round trip, a core kept busy")) {
    const candidates = rttCandidates()
    const samples = await withBusyCore(() => runLatencies({ name: "rtt-busy", candidates }))
    latencyTable(`ws round trip 40 B, a core kept busy (${RTT_COUNT} per round)`, candidates, samples, "ws")
  }
  if (filter === undefined || filter.test("http order entry")) {
    const candidates: Array<readonly [string, () => Promise<LatencySample>]> = []
    if (ours.http !== undefined) candidates.push(["effect-nexus", () => ours.http!(HTTP_COUNT)])
    if (ours.busyPoll !== undefined) candidates.push([`effect-nexus, busyPoll ${BUSY_POLL}`, () => ours.busyPoll!.http(HTTP_COUNT)])
    candidates.push(["raw node:net floor", () => rawFloor(HTTP_COUNT)])
    candidates.push(["undici Client.request", () => undiciRequest(HTTP_COUNT)])
    candidates.push(["node:http keep-alive Agent", () => nodeHttp(HTTP_COUNT)])
    candidates.push(["fetch", () => fetchCandidate(HTTP_COUNT)])
    candidates.push(["Effect HttpClient (undici)", () => effectHttpClient(HTTP_COUNT)])
    const samples = await runLatencies({ name: "http", candidates })
    latencyTable(`http order entry, one connection, sequential (${HTTP_COUNT} per round)`, candidates, samples, "raw node:net floor")
    const at = (n: string) => samples[candidates.findIndex(([c]) => c === n)]
    const floor = at("raw node:net floor")!.p50
    const undici = at("undici Client.request")!.p50
    const ourSample = at("effect-nexus")
    print(`added over the floor's p50: undici ${(undici - floor).toFixed(1)} µs` +
      (ourSample === undefined ? "" : `, effect-nexus ${(ourSample.p50 - floor).toFixed(1)} µs (target ≤ ${((undici - floor) / 2).toFixed(1)} µs)`))
  }
  if (firehoses > 0 && touched === 0 && sink.touched === 0) throw new Error("no payload was read")
  ports.stop()
}

// ---------------------------------------------------------------------------------------------
// Ours
// ---------------------------------------------------------------------------------------------

/** The order request through `RequestWriter` (built per request) over one `HttpConnection` dialed with `options`. */
const oursHttpWith = (options: SocketOptions): HttpCandidate => (count) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const connection = yield* HttpConnection.connect(httpBase, options)
    const writer = RequestWriter.make({
      host: `127.0.0.1:${ports.http}`,
      defaultHeaders: ORDER_DEFAULT_HEADERS
    })
    const reader = ResponseReader.make()
    const step = Effect.suspend(() =>
      Effect.map(
        connection.send(
          writer.post(ORDER_PATH).header("Content-Type", "application/json").header("X-Client-Order-Id", "c-7f3a9b")
            .body(ORDER_BODY).finish(),
          reader
        ),
        (response) => {
          if (response.bodyLength !== ORDER_RESPONSE_BODY.length) throw new Error("unexpected response body")
        }
      )
    )
    return yield* timeStepsEffect(count, step)
  })))

/** One of our receive paths (`bench/ws-consumers.ts`) on the firehose, each payload's first byte into the sink. */
const oursFirehose = (consume: Consumer): StreamCandidate => (size, count) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const ws = yield* NexusWebSocket.connect(streamUrl(size, count))
    const elapsed = yield* consume(ws, count, touchFirst)
    return count / (elapsed / 1000)
  })))

const oursWsStream = oursFirehose(viaRecv)
const oursWsRun = oursFirehose(viaRun)
const oursWsMessages = oursFirehose(viaMessages)
const oursWsMessagesLent = oursFirehose(viaMessagesLent)

/** Our client on the echo server (dialed with `options`): send 40 B, `recv` its echo, sequentially. */
const oursWsRttWith = (options: SocketOptions): RttCandidate => (count) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const ws = yield* NexusWebSocket.connect(`${wsBase}/echo`, options)
    const step = Effect.flatMap(ws.sendBinary(RTT_PAYLOAD), () => ws.recv)
    return yield* timeStepsEffect(count, step)
  })))

/**
 * The clock of `count` sequential round trips driven from a handler (the echo's handler sends
 * the next): `sent` before each send, `echoed` as each echo arrives (`true` once the last is in;
 * the first `WARMUP_FRACTION` are not kept), then `sample`.
 */
const roundTrips = (count: number) => {
  const times = new Float64Array(count)
  let i = -Math.floor(count * WARMUP_FRACTION)
  let t0 = 0
  let started = 0
  let ended = 0
  return {
    sent: (): void => void (t0 = performance.now()),
    echoed: (): boolean => {
      const now = performance.now()
      if (i >= 0) times[i] = (now - t0) * 1000
      if (++i === 0) started = now
      if (i < count) return false
      ended = now
      return true
    },
    sample: (): LatencySample => summarize(times, ended - started, count)
  }
}

/** The failure a handler ends its loop with once the last echo is in, and its catch. */
const ENOUGH = "enough" as const
const untilEnough = <A, E, R>(loop: Effect.Effect<A, E | typeof ENOUGH, R>) =>
  Effect.catchIf(loop, (e): e is typeof ENOUGH => e === ENOUGH, () => Effect.void)

/**
 * Our client on the echo server (dialed with `options`), the round trips driven from a
 * receiving loop: it sends the first 40 B, then `loop` runs with `echo`, the handler's answer to
 * each echo (time it, send the next, or end the loop once the last is in).
 */
const handlerRtt = (
  options: SocketOptions,
  loop: (
    ws: NexusWebSocket.WebSocket,
    echo: () => Effect.Effect<void, WebSocketError | typeof ENOUGH>
  ) => Effect.Effect<void, WebSocketError | typeof ENOUGH>
): RttCandidate =>
(count) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const ws = yield* NexusWebSocket.connect(`${wsBase}/echo`, options)
    const clock = roundTrips(count)
    const echo = () => {
      if (clock.echoed()) return Effect.fail(ENOUGH)
      clock.sent()
      return ws.sendBinary(RTT_PAYLOAD)
    }
    clock.sent()
    yield* ws.sendBinary(RTT_PAYLOAD)
    yield* untilEnough(loop(ws, echo))
    return clock.sample()
  })))

/** Through `run`: the handler answers each echo (no Effect fiber per step: the push loop drives it). */
const oursWsRttRunWith = (options: SocketOptions): RttCandidate =>
  handlerRtt(options, (ws, echo) =>
    NexusWebSocket.run<WebSocketError | typeof ENOUGH>(ws, (message) => message._tag === "Binary" ? echo() : undefined))

/** Through the `messages` Stream (`Stream.runForEachArray`): each chunk holding an echo answered, so the Stream's pulls drive it. */
const oursWsRttMessagesWith = (options: SocketOptions): RttCandidate =>
  handlerRtt(options, (ws, echo) =>
    Stream.runForEachArray(NexusWebSocket.messages(ws), (chunk) =>
      chunk.some((message) => message._tag === "Binary") ? echo() : Effect.void))

/**
 * `Reconnect/Feed` on the echo server (its socket dialed with `options`): `onConnect` sends the
 * first 40 B, `onMessage` times each echo and sends the next on the connection it came on.
 */
const oursFeedRttWith = (options: SocketOptions): RttCandidate => (count) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const done = yield* Deferred.make<LatencySample>()
    const clock = roundTrips(count)
    let finished = false
    yield* Feed.make({
      url: `${wsBase}/echo`,
      socket: options,
      onConnect: (ws) =>
        Effect.suspend(() => {
          clock.sent()
          return ws.sendBinary(RTT_PAYLOAD)
        }),
      onMessage: (message, ws) => {
        if (message._tag !== "Binary" || finished) return
        if (clock.echoed()) {
          finished = true
          return void Deferred.doneUnsafe(done, Effect.succeed(clock.sample()))
        }
        clock.sent()
        return ws.sendBinary(RTT_PAYLOAD)
      }
    })
    return yield* Deferred.await(done)
  })))

/** `Reconnect/Feed` on the firehose (`bench/feed-consumers.ts`): a synchronous handler on the supervisor's push loop. */
const oursFeed: StreamCandidate = (size, count) => viaFeed(streamUrl(size, count), count).then((elapsed) => count / (elapsed / 1000))

/**
 * `Layers/MarketFeed` on the firehose (`bench/feed-consumers.ts`): `Messages` events read as
 * chunks, every payload's first and last byte read through the batch's index.
 */
const oursMarketFeed: StreamCandidate = (size, count) =>
  viaMarketFeed(streamUrl(size, count), count).then((elapsed) => count / (elapsed / 1000))

/** The same with `lent: true`: batches valid until the next pull, their memory reused. */
const oursMarketFeedLent: StreamCandidate = (size, count) =>
  viaMarketFeedLent(streamUrl(size, count), count).then((elapsed) => count / (elapsed / 1000))

await run({
  http: oursHttpWith({}),
  busyPoll: {
    wsRtt: oursWsRttWith({ busyPoll: BUSY_POLL }),
    wsRttRun: oursWsRttRunWith({ busyPoll: BUSY_POLL }),
    wsRttMessages: oursWsRttMessagesWith({ busyPoll: BUSY_POLL }),
    feedRtt: oursFeedRttWith({ busyPoll: BUSY_POLL }),
    http: oursHttpWith({ busyPoll: BUSY_POLL })
  },
  wsRun: oursWsRun,
  wsStream: oursWsStream,
  wsMessages: oursWsMessages,
  wsMessagesLent: oursWsMessagesLent,
  wsRtt: oursWsRttWith({}),
  wsRttRun: oursWsRttRunWith({}),
  wsRttMessages: oursWsRttMessagesWith({}),
  feedRtt: oursFeedRttWith({}),
  socket: socketFirehose((url) => NexusSocket.makeWebSocket(url)),
  feeds: [
    ["effect-nexus Feed", oursFeed],
    ["effect-nexus MarketFeed", oursMarketFeed],
    ["effect-nexus MarketFeed (lent)", oursMarketFeedLent],
    ["effect-nexus run", oursWsRun]
  ]
})
