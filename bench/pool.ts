/**
 * `npm run bench:pool` — the REST pool, side by side with what a Node user would use instead,
 * against the same raw HTTP server (`bench/loopback-server.ts`, in a child process of its own).
 *
 * 1. Acquire + release, in-process, no I/O: our `tryAcquire` and `acquire` in a scoped lease,
 *    next to a bare Effect `Pool.get` in a scope (the cost of Effect's own pool, which ours is
 *    built on), and `withSlot` around nothing next to `Pool.use`, in ns per lease (median of
 *    rounds). undici has no separate lease: its cost is inside dispatch, so it
 *    appears only in the request table.
 * 2. Requests/second with 1, 4 and 8 connections and as many concurrent callers, each sending
 *    the order-entry POST and reading the response: ours (`request`, owned copy; and a lease +
 *    `send` reading the body view, through `withSlot`), undici's `Pool` through `request` and through `dispatch`
 *    with a bare handler (its fastest API), and a raw `node:net` floor with pre-built request
 *    bytes and no parsing. Target: ours ≥ 1.5× undici's fastest at 4 and 8 connections.
 * 3. In the same rounds, Effect's own `HttpClient` (one `execute` + `text` per call, the request
 *    built once) on `NexusHttpClient.layer` and on `NodeHttpClient.layerUndiciOptions`, both
 *    with `connections` per origin and warmed by one request per caller before the clock starts.
 *    Target (issue #11): on NexusHttpClient ≥ 2× `undici Pool.request` and ≥ 4× layerUndici.
 *
 * Each row also gives this process's CPU time per request in the timed window (user + system,
 * and the system part alone): on loopback the kernel's share — the write that also runs the
 * server socket's receive and wakes the server — bounds every client, the floor included.
 *
 * `ROUNDS` (default 5) rounds, candidates in alternating order; medians of the rounds.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { readFileSync } from "node:fs"
import * as net from "node:net"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as EffectPool from "effect/Pool"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import { Pool as UndiciPool } from "undici"
import * as NexusHttpClient from "../src/Layers/NexusHttpClient.ts"
import * as ClientPool from "../src/Pool/ClientPool.ts"
import { makeOrderBuilder, ORDER_BODY, ORDER_DEFAULT_HEADERS, ORDER_HEADERS } from "./codec/http-build.ts"
import { median } from "./harness.ts"
import { startLoopbackServers } from "./loopback-peer.ts"
import { ORDER_BODY as ORDER_RESPONSE_BODY, ORDER_RESPONSE } from "./codec/http-parse.ts"

const ROUNDS = Number(process.env.ROUNDS ?? 5)
const REQUESTS = Number(process.env.REQUESTS ?? 20_000)
const LEASES = Number(process.env.LEASES ?? 200_000)


const ports = await startLoopbackServers()
const url = `http://127.0.0.1:${ports.http}`

const DEFAULT_HEADERS = ORDER_DEFAULT_HEADERS
const BODY_LENGTH = Buffer.byteLength(ORDER_RESPONSE_BODY)

const check = (length: number): void => {
  if (length !== BODY_LENGTH) throw new Error(`unexpected response body length ${length}`)
}

// ---------------------------------------------------------------------------------------------
// 1. Acquire + release
// ---------------------------------------------------------------------------------------------

const timeLoop = (n: number, body: Effect.Effect<unknown, unknown>): Effect.Effect<number, unknown> =>
  Effect.gen(function*() {
    for (let i = 0; i < n / 10; i++) yield* body
    const t0 = performance.now()
    for (let i = 0; i < n; i++) yield* body
    return ((performance.now() - t0) * 1e6) / n
  })

const leaseCosts = (): Promise<ReadonlyArray<readonly [string, number]>> =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const pool = yield* ClientPool.make({ url, connections: 4, defaultHeaders: DEFAULT_HEADERS })
    const effectPool = yield* EffectPool.make({ acquire: Effect.succeed({ slot: 1 }), size: 4 })
    const candidates: ReadonlyArray<readonly [string, Effect.Effect<unknown, unknown>]> = [
      ["effect-nexus tryAcquire + release", Effect.scoped(pool.tryAcquire)],
      ["effect-nexus acquire + release", Effect.scoped(pool.acquire)],
      ["Effect Pool.get + release", Effect.scoped(EffectPool.get(effectPool))],
      ["effect-nexus withSlot (no exchange)", pool.withSlot(() => Effect.void)],
      ["Effect Pool.use (no work)", EffectPool.use(effectPool, () => Effect.void)]
    ]
    const samples = candidates.map(() => [] as Array<number>)
    for (let round = 0; round < ROUNDS; round++) {
      const order = candidates.map((_, i) => i)
      if (round % 2 === 1) order.reverse()
      for (const i of order) samples[i]!.push(yield* timeLoop(LEASES, candidates[i]![1]))
    }
    return candidates.map(([name], i) => [name, median(samples[i]!)] as const)
  })))

// ---------------------------------------------------------------------------------------------
// 2. Requests per second
// ---------------------------------------------------------------------------------------------

/** One candidate's round: its requests/second and this process's CPU time per request. */
interface RateSample {
  readonly rate: number
  /** User + system CPU µs per request, of this (the client's) process; the server's not counted. */
  readonly cpu: number
  /** The system (kernel) part of `cpu`: the socket syscalls and loopback's TCP work. */
  readonly sys: number
  /** The server process's CPU µs per request in the same window (`/proc`, 10 ms ticks). */
  readonly server: number
}

/** The server child's user + system CPU time in µs, from `/proc/PID/stat` (Linux; NaN elsewhere). */
const serverCpu = (): number => {
  try {
    const fields = readFileSync(`/proc/${ports.pid}/stat`, "latin1").split(") ")[1]!.split(" ")
    return (Number(fields[11]) + Number(fields[12])) * (1e6 / 100)
  } catch {
    return Number.NaN
  }
}

/** Runs `connections` concurrent callers until `REQUESTS` responses. */
type RateCandidate = (connections: number) => Promise<RateSample>

/** Starts the wall clock and the CPU clock for `requests`; the returned function stops both. */
const stopwatch = (requests: number): () => RateSample => {
  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  const server0 = serverCpu()
  return () => {
    const cpu = process.cpuUsage(cpu0)
    return {
      rate: requests / ((performance.now() - t0) / 1000),
      cpu: (cpu.user + cpu.system) / requests,
      sys: cpu.system / requests,
      server: (serverCpu() - server0) / requests
    }
  }
}

const ours: RateCandidate = (connections) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const pool = yield* ClientPool.make({ url, connections, defaultHeaders: DEFAULT_HEADERS })
    const perCaller = Math.ceil(REQUESTS / connections)
    const caller = Effect.gen(function*() {
      for (let i = 0; i < perCaller; i++) {
        const response = yield* pool.request((w) =>
          w.post("/api/v3/order").header("Content-Type", "application/json").header("X-Client-Order-Id", "c-7f3a9b")
            .body(ORDER_BODY).finish()
        )
        check(response.body.length)
      }
    })
    const stop = stopwatch(perCaller * connections)
    yield* Effect.all(Array.from({ length: connections }, () => caller), { concurrency: "unbounded", discard: true })
    return stop()
  })))

const oursLease: RateCandidate = (connections) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const pool = yield* ClientPool.make({ url, connections, defaultHeaders: DEFAULT_HEADERS })
    const perCaller = Math.ceil(REQUESTS / connections)
    const once = pool.withSlot((slot) =>
      Effect.map(
        slot.send(
          slot.writer.post("/api/v3/order").header("Content-Type", "application/json")
            .header("X-Client-Order-Id", "c-7f3a9b").body(ORDER_BODY).finish()
        ),
        (response) => check(response.bodyLength)
      ))
    const caller = Effect.gen(function*() {
      for (let i = 0; i < perCaller; i++) yield* once
    })
    const stop = stopwatch(perCaller * connections)
    yield* Effect.all(Array.from({ length: connections }, () => caller), { concurrency: "unbounded", discard: true })
    return stop()
  })))

/**
 * Effect's HttpClient from `layer(connections)`: `connections` callers each `execute` the order
 * POST and read its `text`, after one warm-up request each (so every connection is open).
 */
const effectHttpClient = (
  layer: (connections: number) => Layer.Layer<HttpClient.HttpClient>
): RateCandidate =>
(connections) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const client = Context.get(yield* Layer.build(layer(connections)), HttpClient.HttpClient)
    const request = HttpClientRequest.post(`${url}/api/v3/order`).pipe(
      HttpClientRequest.setHeaders(ORDER_HEADERS),
      HttpClientRequest.setHeader("x-client-order-id", "c-7f3a9b"),
      HttpClientRequest.bodyText(ORDER_BODY, "application/json")
    )
    const once = Effect.flatMap(client.execute(request), (response) => Effect.map(response.text, (text) => check(text.length)))
    const perCaller = Math.ceil(REQUESTS / connections)
    const caller = Effect.gen(function*() {
      for (let i = 0; i < perCaller; i++) yield* once
    })
    yield* Effect.all(Array.from({ length: connections }, () => once), { concurrency: "unbounded", discard: true })
    const stop = stopwatch(perCaller * connections)
    yield* Effect.all(Array.from({ length: connections }, () => caller), { concurrency: "unbounded", discard: true })
    return stop()
  })))

const nexusHttpClient = effectHttpClient((connections) => NexusHttpClient.layer({ connections }))
const undiciHttpClient = effectHttpClient((connections) =>
  NodeHttpClient.layerUndiciOptions({ connections, pipelining: 1 }) as Layer.Layer<HttpClient.HttpClient>
)

const undiciRequest: RateCandidate = async (connections) => {
  const pool = new UndiciPool(url, { connections, pipelining: 1 })
  const perCaller = Math.ceil(REQUESTS / connections)
  const caller = async () => {
    for (let i = 0; i < perCaller; i++) {
      const response = await pool.request({ path: "/api/v3/order", method: "POST", headers: ORDER_HEADERS, body: ORDER_BODY })
      check((await response.body.text()).length)
    }
  }
  const stop = stopwatch(perCaller * connections)
  await Promise.all(Array.from({ length: connections }, caller))
  const sample = stop()
  await pool.close()
  return sample
}

const undiciDispatch: RateCandidate = async (connections) => {
  const pool = new UndiciPool(url, { connections, pipelining: 1 })
  const perCaller = Math.ceil(REQUESTS / connections)
  const options = { origin: url, path: "/api/v3/order", method: "POST" as const, headers: ORDER_HEADERS, body: ORDER_BODY }
  const once = () =>
    new Promise<void>((resolve, reject) => {
      let length = 0
      pool.dispatch(options, {
        onRequestStart: () => {},
        onResponseStart: () => {},
        onResponseData: (_controller, chunk) => void (length += chunk.length),
        onResponseEnd: () => {
          check(length)
          resolve()
        },
        onResponseError: (_controller, error) => reject(error)
      })
    })
  const caller = async () => {
    for (let i = 0; i < perCaller; i++) await once()
  }
  const stop = stopwatch(perCaller * connections)
  await Promise.all(Array.from({ length: connections }, caller))
  const sample = stop()
  await pool.close()
  return sample
}

const rawFloor: RateCandidate = (connections) =>
  new Promise((resolve, reject) => {
    const request = Buffer.from(makeOrderBuilder()())
    const perCaller = Math.ceil(REQUESTS / connections)
    let done = 0
    let stop: () => RateSample
    const sockets: Array<net.Socket> = []
    const finish = () => {
      if (++done < connections) return
      const sample = stop()
      for (const s of sockets) s.destroy()
      resolve(sample)
    }
    let connected = 0
    for (let c = 0; c < connections; c++) {
      const socket = net.connect({ host: "127.0.0.1", port: ports.http, noDelay: true })
      sockets.push(socket)
      let got = 0
      let sent = 0
      socket.on("error", reject)
      socket.on("data", (chunk) => {
        got += chunk.length
        if (got < ORDER_RESPONSE.length) return
        got -= ORDER_RESPONSE.length
        if (++sent === perCaller) return finish()
        socket.write(request)
      })
      socket.on("connect", () => {
        if (++connected < connections) return
        stop = stopwatch(perCaller * connections)
        for (const s of sockets) s.write(request)
      })
    }
  })

const fmt = (n: number) => (n >= 1e3 ? `${(n / 1e3).toFixed(1)} k/s` : `${n.toFixed(0)} /s`)

console.log(`pool bench — node ${process.version}, ${ROUNDS} rounds, medians of the rounds\n`)
console.log(`### acquire + release (${LEASES} leases per round)\n`)
console.log("| lease | ns |")
console.log("| --- | ---: |")
for (const [name, ns] of await leaseCosts()) console.log(`| ${name} | ${ns.toFixed(0)} |`)

const rateCandidates: ReadonlyArray<readonly [string, RateCandidate]> = [
  ["effect-nexus request (owned copy)", ours],
  ["effect-nexus withSlot + send (view)", oursLease],
  ["undici Pool.request", undiciRequest],
  ["undici Pool.dispatch", undiciDispatch],
  ["raw node:net floor", rawFloor],
  ["Effect HttpClient on NexusHttpClient", nexusHttpClient],
  ["Effect HttpClient on NodeHttpClient.layerUndici", undiciHttpClient]
]
for (const connections of [1, 4, 8]) {
  const samples = rateCandidates.map(() => [] as Array<RateSample>)
  for (let round = 0; round < ROUNDS; round++) {
    const order = rateCandidates.map((_, i) => i)
    if (round % 2 === 1) order.reverse()
    for (const i of order) samples[i]!.push(await rateCandidates[i]![1](connections))
  }
  const rates = samples.map((rounds) => median(rounds.map((s) => s.rate)))
  const cpus = samples.map((rounds) => median(rounds.map((s) => s.cpu)))
  const syss = samples.map((rounds) => median(rounds.map((s) => s.sys)))
  const servers = samples.map((rounds) => median(rounds.map((s) => s.server)))
  const undiciBest = Math.max(rates[2]!, rates[3]!)
  console.log(`\n### order entry, ${connections} connection(s), ${connections} concurrent caller(s), ${REQUESTS} requests per round\n`)
  console.log("| client | requests/s | vs undici's fastest | vs floor | client CPU µs/request | of it, kernel | server CPU µs/request |")
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
  rateCandidates.forEach(([name], i) =>
    console.log(
      `| ${name} | ${fmt(rates[i]!)} | ${(rates[i]! / undiciBest).toFixed(2)}× | ${(rates[i]! / rates[4]!).toFixed(2)}× | ${
        cpus[i]!.toFixed(1)
      } | ${syss[i]!.toFixed(1)} | ${servers[i]!.toFixed(1)} |`
    )
  )
  // the targets, as medians of the in-round ratios (each round runs every candidate once)
  const ratio = (a: number, b: number) =>
    median(samples[a]!.map((x, round) => x.rate / samples[b]![round]!.rate)).toFixed(2)
  console.log(`\nEffect HttpClient on NexusHttpClient: ${ratio(5, 2)}× undici Pool.request, ${ratio(5, 6)}× on layerUndici (medians of in-round ratios)`)
  console.log(`effect-nexus request: ${ratio(0, 2)}× undici Pool.request; the raw node:net floor: ${ratio(4, 2)}× (medians of in-round ratios)`)
}
ports.stop()
