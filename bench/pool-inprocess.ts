/**
 * `npx node bench/pool-inprocess.ts` — the client side of `bench:pool`'s request rows with no
 * socket and no server: each slot's transport answers every request with the bench's canned
 * order response, resuming the reading fiber from a `setImmediate` (the way a socket's read
 * callback resumes it: from the event loop, after the fiber parked). So a row is the CPU the
 * client spends per request — Effect steps, parsing, copies, metrics — without the kernel's
 * share or the server's, which `bench:pool` includes and which make its numbers noisy on a
 * shared machine. Rows: `ClientPool.request`, `withSlot` + `send`, and Effect's `HttpClient` on
 * `NexusHttpClient` (`execute` + `text`), whose pools are handed the same canned `connect` at
 * run time (`NexusHttpClient.Options` has no `connect`; the bench passes one past the type);
 * then two floor rows, Effect's HttpClient machinery around a runner with a ready response.
 * `CONNECTIONS` (default 8) slots and callers, `REQUESTS` (default 200 000) per round, `ROUNDS`
 * (default 5); prints the main thread's CPU µs per request (`process.threadCpuUsage`: what other
 * jobs on a shared machine take is not counted, and GC helper threads are not either) per round
 * and the median. `ONLY=i` runs
 * row `i` alone (for `--cpu-prof`).
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as NexusHttpClient from "../src/Layers/NexusHttpClient.ts"
import * as ClientWrapper from "../src/Layers/internal/clientWrapper.ts"
import { NexusResponse } from "../src/Layers/internal/nexusResponse.ts"
import type { ReadBuf } from "../src/Codec/ReadBuf.ts"
import * as HttpConnection from "../src/Transport/HttpConnection.ts"
import { copyInto, type Transport, TypeId } from "../src/Transport/Transport.ts"
import * as ClientPool from "../src/Pool/ClientPool.ts"
import { ORDER_BODY, ORDER_DEFAULT_HEADERS, ORDER_HEADERS } from "./codec/http-build.ts"
import { ORDER_BODY as ORDER_RESPONSE_BODY, ORDER_RESPONSE } from "./codec/http-parse.ts"
import { median } from "./harness.ts"

const CONNECTIONS = Number(process.env.CONNECTIONS ?? 8)
const REQUESTS = Number(process.env.REQUESTS ?? 200_000)
const ROUNDS = Number(process.env.ROUNDS ?? 5)
const BODY_LENGTH = Buffer.byteLength(ORDER_RESPONSE_BODY)

/** A transport whose peer answers each write with the canned response, one event-loop turn later. */
const cannedTransport = (): Transport => {
  let answers = 0
  let waiting: { readonly buf: ReadBuf; readonly resume: (e: Effect.Effect<number>) => void } | undefined
  const deliver = () => {
    const w = waiting
    if (w === undefined || answers === 0) return
    answers--
    waiting = undefined
    const n = copyInto(w.buf, ORDER_RESPONSE)
    transport.bytesRead += n
    w.resume(Effect.succeed(n))
  }
  const transport = {
    [TypeId]: TypeId,
    remoteAddress: "canned:80",
    bytesWritten: 0,
    bytesRead: 0,
    inboundState: "Open" as const,
    read: (buf: ReadBuf) =>
      Effect.callback<number>((resume) => {
        waiting = { buf, resume }
        setImmediate(deliver)
      }),
    write: (bytes: Uint8Array) =>
      Effect.sync(() => {
        transport.bytesWritten += bytes.length
        answers++
      }),
    writev: (chunks: ReadonlyArray<Uint8Array>) =>
      Effect.sync(() => {
        for (const c of chunks) transport.bytesWritten += c.length
        answers++
      }),
    end: () => Effect.void,
    destroy: () => Effect.void
  }
  return transport
}

const build = (w: Parameters<Parameters<ClientPool.ClientPool["request"]>[0]>[0]) =>
  w.post("/api/v3/order").header("Content-Type", "application/json").header("X-Client-Order-Id", "c-7f3a9b")
    .body(ORDER_BODY).finish()

/** One request of a row, given the pool (and the HttpClient over the same canned transports). */
type Once = (pool: ClientPool.ClientPool, client: HttpClient.HttpClient) => Effect.Effect<void, unknown>

const request = HttpClientRequest.post("http://canned:80/api/v3/order").pipe(
  HttpClientRequest.setHeaders(ORDER_HEADERS),
  HttpClientRequest.setHeader("x-client-order-id", "c-7f3a9b"),
  HttpClientRequest.bodyText(ORDER_BODY, "application/json")
)

const rows: ReadonlyArray<readonly [string, Once]> = [
  ["ClientPool.request (owned copy)", (pool) =>
    Effect.map(pool.request(build), (response) => {
      if (response.body.length !== BODY_LENGTH) throw new Error("bad body")
    })],
  ["withSlot + send (view)", (pool) =>
    pool.withSlot((slot) =>
      Effect.map(slot.send(build(slot.writer)), (response) => {
        if (response.bodyLength !== BODY_LENGTH) throw new Error("bad body")
      })
    )],
  ["Effect HttpClient on NexusHttpClient", (_, client) =>
    Effect.flatMap(client.execute(request), (response) =>
      Effect.map(response.text, (text) => {
        if (text.length !== BODY_LENGTH) throw new Error("bad body")
      }))]
]

/**
 * The floor of Effect's own HttpClient machinery, no pool and no I/O: `execute` + `text` through
 * NexusHttpClient's wrapper (`HttpClient.makeWith`, the span's ids, the trace headers) and
 * through `HttpClient.make`, each around a runner that answers at once with a ready response.
 */
/** No headers, the order body; `headers` too, so the bench also runs on checkouts from before `copy`. */
const CANNED_OWNED = { status: 200, copy: { headers: () => [] }, headers: [], body: new Uint8Array(Buffer.from(ORDER_RESPONSE_BODY)) }
const cannedResponse = (req: HttpClientRequest.HttpClientRequest) =>
  Effect.succeed(new NexusResponse(req, "http://canned:80/api/v3/order", CANNED_OWNED))
const viaWrapper = ClientWrapper.make((req) => cannedResponse(req))
const viaMake = HttpClient.make((req) => cannedResponse(req))
const executeText = (client: HttpClient.HttpClient) =>
  Effect.flatMap(client.execute(request), (response) =>
    Effect.map(response.text, (text) => {
      if (text.length !== BODY_LENGTH) throw new Error("bad body")
    }))
const floorRows: ReadonlyArray<readonly [string, Once]> = [
  ["floor: HttpClient.makeWith + wrapper, canned response", () => executeText(viaWrapper)],
  ["floor: HttpClient.make, canned response", () => executeText(viaMake)]
]
const allRows = [...rows, ...floorRows]

const connect = Effect.flatMap(Effect.sync(cannedTransport), (t) => HttpConnection.make(t))

const round = (once: Once) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const pool = yield* Scope.provide(
      ClientPool.make({ url: "http://canned:80", connections: CONNECTIONS, defaultHeaders: ORDER_DEFAULT_HEADERS, connect }),
      scope
    )
    const layer = NexusHttpClient.layer({ connections: CONNECTIONS, connect } as NexusHttpClient.Options)
    const client = Context.get(yield* Scope.provide(Layer.build(layer), scope), HttpClient.HttpClient)
    const perCaller = Math.ceil(REQUESTS / CONNECTIONS)
    const one = once(pool, client)
    const caller = Effect.gen(function*() {
      for (let i = 0; i < perCaller; i++) yield* one
    })
    // one request per caller first, so the HttpClient's pool is open
    yield* Effect.all(Array.from({ length: CONNECTIONS }, () => one), { concurrency: "unbounded", discard: true })
    const cpu0 = process.threadCpuUsage()
    yield* Effect.all(Array.from({ length: CONNECTIONS }, () => caller), { concurrency: "unbounded", discard: true })
    const cpu = process.threadCpuUsage(cpu0)
    const us = (cpu.user + cpu.system) / (perCaller * CONNECTIONS)
    yield* Scope.close(scope, Exit.void)
    return us
  })

const ONLY = process.env.ONLY === undefined ? undefined : Number(process.env.ONLY)
const samples = allRows.map(() => [] as Array<number>)
for (let r = 0; r < ROUNDS; r++) {
  const order = allRows.map((_, i) => i)
  if (r % 2 === 1) order.reverse()
  for (const i of order) if (ONLY === undefined || ONLY === i) samples[i]!.push(await Effect.runPromise(round(allRows[i]![1])))
}
console.log(`pool in-process — node ${process.version}, ${CONNECTIONS} slots/callers, ${REQUESTS} requests × ${ROUNDS} rounds; main-thread CPU µs per request\n`)
console.log("| client | rounds | median |")
console.log("| --- | --- | ---: |")
allRows.forEach(([name], i) => samples[i]!.length > 0 && console.log(`| ${name} | ${samples[i]!.map((x) => x.toFixed(2)).join(" ")} | ${median(samples[i]!).toFixed(2)} |`))
