/**
 * `npx node bench/firehose-path.ts PATH [SIZE] [COUNT] [ROUNDS]` — one receive path alone on the
 * loopback firehose (`bench/loopback-server.ts`), for profiling (`npx node --cpu-prof ...`):
 * PATH is `run`, `recv`, `messages`, `ws` or `raw` (a `node:net` client that only counts bytes:
 * the server's ceiling). Prints messages/second per round, with the main thread's CPU per message
 * (`process.threadCpuUsage`, connect included). `MAX_READ_SIZE`, `BUFFER_CAPACITY` and
 * `MAX_BATCH` set those options of ours.
 */
import * as Effect from "effect/Effect"
import * as NexusWebSocket from "../src/Transport/WebSocket.ts"
import { startLoopbackServers } from "./loopback-peer.ts"
import { rawFirehoseRate } from "./raw-client.ts"
import { type Consumer, viaMessages, viaRecv, viaRun } from "./ws-consumers.ts"
import { wsReceiveRate } from "./ws-receive.ts"

const path = process.argv[2] ?? "run"
const size = Number(process.argv[3] ?? 40)
const count = Number(process.argv[4] ?? 2_000_000)
const rounds = Number(process.argv[5] ?? 3)
const ports = await startLoopbackServers()
const url = `ws://127.0.0.1:${ports.ws}/stream?size=${size}&count=${count}`
let touched = 0
const connectOptions = {
  ...(process.env.MAX_READ_SIZE === undefined ? {} : { maxReadSize: Number(process.env.MAX_READ_SIZE) }),
  ...(process.env.BUFFER_CAPACITY === undefined ? {} : { bufferCapacity: Number(process.env.BUFFER_CAPACITY) }),
  ...(process.env.MAX_BATCH === undefined ? {} : { maxBatch: Number(process.env.MAX_BATCH) })
}

const raw = (): Promise<number> => rawFirehoseRate(ports.ws, size, count, (chunk) => void (touched += chunk[0]!))

const touch = (payload: Uint8Array): void => void (touched += payload[0]!)

const ours = (consume: Consumer) => (): Promise<number> =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const ws = yield* NexusWebSocket.connect(url, connectOptions)
    return count / ((yield* consume(ws, count, touch)) / 1000)
  })))

const run = ours(viaRun)
const recv = ours(viaRecv)
const messages = ours(viaMessages)

const ws = (): Promise<number> => wsReceiveRate(url, count, { touch })

const candidates: Record<string, () => Promise<number>> = { run, recv, messages, ws, raw }
const candidate = candidates[path]
if (candidate === undefined) throw new Error(`unknown path ${path}`)
for (let i = 0; i < rounds; i++) {
  const elu0 = performance.eventLoopUtilization()
  const cpu0 = process.cpuUsage()
  const thread0 = process.threadCpuUsage()
  const t0 = performance.now()
  const rate = await candidate()
  const cpu = process.cpuUsage(cpu0)
  const thread = process.threadCpuUsage(thread0)
  const elu = performance.eventLoopUtilization(elu0)
  const busy = (cpu.user + cpu.system) / 1000 / (performance.now() - t0)
  console.log(`${path} ${size} B: ${(rate / 1e6).toFixed(2)} M msg/s, ${((thread.user + thread.system) * 1000 / count).toFixed(0)} ns main-thread CPU/msg (client CPU, all threads, ${(100 * busy).toFixed(0)}% of the round, connect included; event loop utilization ${(100 * elu.utilization).toFixed(0)}%)`)
}
if (touched === 0) throw new Error("no payload was read")
ports.stop()
