import { spawn } from "node:child_process"
import * as Effect from "effect/Effect"
import * as ClientPool from "./src/Pool/ClientPool.ts"
import { ORDER_BODY } from "./bench/codec/http-build.ts"
const child = spawn(process.execPath, ["bench/loopback-server.ts"], { stdio: ["pipe", "pipe", "inherit"] })
const ports: any = await new Promise((r) => child.stdout.once("data", (l) => r(JSON.parse(String(l)))))
const mode = process.argv[2] ?? "request"
const N = 40000, C = 4
const r = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
  const pool = yield* ClientPool.make({ url: `http://127.0.0.1:${ports.http}`, connections: C, defaultHeaders: [["X-MBX-APIKEY", "k".repeat(64)], ["User-Agent", "effect-nexus/0.1"]] })
  const build = (w: any) => w.post("/api/v3/order").header("Content-Type", "application/json").header("X-Client-Order-Id", "c-7f3a9b").body(ORDER_BODY).finish()
  const one = mode === "request" ? pool.request(build) : pool.withSlot((slot) => Effect.map(slot.send(build(slot.writer)), (r) => r.bodyLength))
  const caller = Effect.gen(function*() { for (let i = 0; i < N / C; i++) yield* one })
  const t0 = performance.now()
  yield* Effect.all(Array.from({ length: C }, () => caller), { concurrency: "unbounded", discard: true })
  return N / ((performance.now() - t0) / 1000)
})))
console.log(mode, (r / 1000).toFixed(1), "k req/s")
child.kill()
