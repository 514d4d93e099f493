/**
 * `node bench/http-client-profile.ts` — one candidate of `bench:pool`'s request table alone, for
 * `--cpu-prof`: `CANDIDATE=nexus` (Effect's HttpClient on NexusHttpClient, the default),
 * `make` (the same runner under `HttpClient.make`) or `pool` (`ClientPool.request`), with
 * `CONNECTIONS` (default 4) callers for `REQUESTS` (default 50 000) requests. Prints req/s and
 * this process's CPU time per request (user + system, the server's not counted). `NO_TRACE=1`
 * runs the HttpClient candidates with tracing off (`HttpClient.TracerDisabledWhen`).
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as NexusHttpClient from "../src/Layers/NexusHttpClient.ts"
import * as ClientPool from "../src/Pool/ClientPool.ts"
import { ORDER_BODY, ORDER_DEFAULT_HEADERS, ORDER_HEADERS } from "./codec/http-build.ts"
import { startLoopbackServers } from "./loopback-peer.ts"

const CANDIDATE = process.env.CANDIDATE ?? "nexus"
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 4)
const REQUESTS = Number(process.env.REQUESTS ?? 50_000)

const ports = await startLoopbackServers()
const url = `http://127.0.0.1:${ports.http}`
const perCaller = Math.ceil(REQUESTS / CONNECTIONS)

const run = (once: Effect.Effect<unknown, unknown>) =>
  Effect.gen(function*() {
    const caller = Effect.gen(function*() {
      for (let i = 0; i < perCaller; i++) yield* once
    })
    yield* Effect.all(Array.from({ length: CONNECTIONS }, () => once), { concurrency: "unbounded", discard: true })
    const t0 = performance.now()
    const cpu0 = process.cpuUsage()
    yield* Effect.all(Array.from({ length: CONNECTIONS }, () => caller), { concurrency: "unbounded", discard: true })
    const cpu = process.cpuUsage(cpu0)
    const n = perCaller * CONNECTIONS
    return `${(n / ((performance.now() - t0) / 1000)).toFixed(0)} req/s, ${((cpu.user + cpu.system) / n).toFixed(1)} µs CPU/request (user ${(cpu.user / n).toFixed(1)}, sys ${(cpu.system / n).toFixed(1)})`
  })

const program = Effect.scoped(Effect.gen(function*() {
  if (CANDIDATE === "pool") {
    const pool = yield* ClientPool.make({ url, connections: CONNECTIONS, defaultHeaders: ORDER_DEFAULT_HEADERS })
    return yield* run(pool.request((w) =>
      w.post("/api/v3/order").header("Content-Type", "application/json").header("X-Client-Order-Id", "c-7f3a9b")
        .body(ORDER_BODY).finish()
    ))
  }
  const client = Context.get(yield* Layer.build(NexusHttpClient.layer({ connections: CONNECTIONS })), HttpClient.HttpClient)
  const request = HttpClientRequest.post(`${url}/api/v3/order`).pipe(
    HttpClientRequest.setHeaders(ORDER_HEADERS),
    HttpClientRequest.bodyText(ORDER_BODY, "application/json")
  )
  const once = Effect.flatMap(client.execute(request), (response) => response.text)
  // NO_TRACE=1: the same with `HttpClient.TracerDisabledWhen` true (no client span, no trace headers)
  return yield* run(process.env.NO_TRACE ? Effect.provideService(once, HttpClient.TracerDisabledWhen, () => true) : once)
}))

console.log(`${CANDIDATE}, ${CONNECTIONS} connections: ${await Effect.runPromise(program)}`)
ports.stop()
