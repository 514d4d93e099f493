/**
 * `npm run bench:tls-resume` — what the per-origin session cache buys a reconnect: the time of a
 * full TLS handshake against a resumed one over loopback, both through `Tls.connect` with the
 * same certificate, the same server and the same P-256 key.
 *
 * - fresh: a `TlsConfig` with `sessionCacheSize: 0`, so every dial runs the full handshake
 *   (certificate sent, chain verified, ECDHE + signature).
 * - resumed: a `TlsConfig` with the default cache (100 origins), primed by one dial; every dial
 *   offers the cached ticket (PSK + ECDHE, no certificate). The count of `Tls.sessionReused`
 *   dials is printed, so a run where resumption silently failed shows.
 * - node:tls: the same pair with Node's own `tls.connect` (`session` option), the floor.
 *
 * Each sample is DIALS sequential dials (connect, handshake, close). The server is a `node:tls`
 * echo server in a worker thread, so its half of the handshake runs on the other core.
 * `ROUNDS` (default 7) rounds, candidates in alternating order; medians of the rounds, and the
 * median of the per-round fresh/resumed ratios.
 */
import * as Effect from "effect/Effect"
import * as tls from "node:tls"
import { Worker } from "node:worker_threads"
import * as ReadBuf from "../src/Codec/ReadBuf.ts"
import * as Tls from "../src/Transport/Tls.ts"
import { makeThrowawayCa } from "../test/support/throwawayCa.ts"
import { median } from "./harness.ts"

const ROUNDS = Number(process.env.ROUNDS ?? 7)
const DIALS = Number(process.env.DIALS ?? 200)

const ca = makeThrowawayCa()
process.once("exit", () => ca.remove())

// the server: a TLS 1.3 echo server in a worker thread, listening on 127.0.0.1:0
const worker = new Worker(
  `const tls = require("node:tls")
   const { parentPort, workerData } = require("node:worker_threads")
   const server = tls.createServer({ key: workerData.key, cert: workerData.cert }, (socket) => {
     socket.on("error", () => {})
     socket.on("data", (chunk) => socket.write(chunk))
     socket.on("end", () => socket.end())
   })
   server.listen(0, "127.0.0.1", () => parentPort.postMessage(server.address().port))`,
  { eval: true, workerData: { key: ca.key, cert: ca.cert } }
)
const port = await new Promise<number>((resolve) => worker.once("message", resolve))

const fresh = Tls.TlsConfig.makeUnsafe({ ca: [ca.caPem], useSystemRoots: false, sessionCacheSize: 0 })
const cached = Tls.TlsConfig.makeUnsafe({ ca: [ca.caPem], useSystemRoots: false })

/** DIALS sequential dials with `config`; returns µs per dial and how many resumed. */
const ours = (config: Tls.TlsConfig) =>
  Effect.runPromise(Effect.gen(function*() {
    let resumed = 0
    const t0 = performance.now()
    for (let i = 0; i < DIALS; i++) {
      yield* Effect.scoped(Effect.gen(function*() {
        const transport = yield* Tls.connect({ host: "127.0.0.1", port, servername: "localhost", config })
        if (Tls.sessionReused(transport)) resumed++
      }))
    }
    return { us: ((performance.now() - t0) * 1000) / DIALS, resumed }
  }))

const secureContext = tls.createSecureContext({ ca: [ca.caPem] })
let nodeSession: Buffer | undefined

/** The same with Node's tls.connect; `resume` offers the last session Node handed out. */
const node = async (resume: boolean) => {
  let resumed = 0
  const t0 = performance.now()
  for (let i = 0; i < DIALS; i++) {
    await new Promise<void>((resolve, reject) => {
      const socket = tls.connect({
        host: "127.0.0.1",
        port,
        servername: "localhost",
        secureContext,
        ...(resume && nodeSession !== undefined ? { session: nodeSession } : {})
      })
      if (resume) socket.on("session", (session: Buffer) => (nodeSession = session))
      socket.once("secureConnect", () => {
        if (socket.isSessionReused()) resumed++
        socket.destroy()
        resolve()
      })
      socket.once("error", reject)
    })
  }
  return { us: ((performance.now() - t0) * 1000) / DIALS, resumed }
}

/** Primes a cache: one dial that reads an echo, so the TLS 1.3 tickets arrive. */
const prime = async () => {
  await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const transport = yield* Tls.connect({ host: "127.0.0.1", port, servername: "localhost", config: cached })
    yield* transport.write(Buffer.from("x"))
    yield* transport.read(ReadBuf.make())
  })))
  await new Promise<void>((resolve) => {
    const socket = tls.connect({ host: "127.0.0.1", port, servername: "localhost", secureContext })
    socket.on("session", (session: Buffer) => (nodeSession = session))
    socket.once("secureConnect", () => socket.write("x"))
    socket.once("data", () => {
      socket.destroy()
      resolve()
    })
  })
}

await prime()
const candidates: ReadonlyArray<readonly [string, () => Promise<{ us: number; resumed: number }>]> = [
  ["effect-nexus Tls.connect, fresh (cache off)", () => ours(fresh)],
  ["effect-nexus Tls.connect, resumed (session cache)", () => ours(cached)],
  ["node:tls connect, fresh", () => node(false)],
  ["node:tls connect, resumed (session option)", () => node(true)]
]
const samples = candidates.map(() => [] as Array<number>)
const resumedCounts = candidates.map(() => [] as Array<number>)
const ratios: Array<number> = []
const nodeRatios: Array<number> = []
for (let round = 0; round < ROUNDS; round++) {
  const order = candidates.map((_, i) => i)
  if (round % 2 === 1) order.reverse()
  const thisRound: Array<number> = []
  for (const i of order) {
    const { us, resumed } = await candidates[i]![1]()
    samples[i]!.push(us)
    resumedCounts[i]!.push(resumed)
    thisRound[i] = us
  }
  ratios.push(thisRound[0]! / thisRound[1]!)
  nodeRatios.push(thisRound[2]! / thisRound[3]!)
}

console.log(`TLS 1.3 handshakes over loopback, ${DIALS} sequential dials per sample, ${ROUNDS} rounds (medians)`)
console.log(`Node ${process.version}, ${new Date().toISOString()}`)
console.log("| dial | µs per dial | resumed dials per sample |")
console.log("| --- | --- | --- |")
candidates.forEach(([name], i) => {
  console.log(`| ${name} | ${median(samples[i]!).toFixed(0)} | ${median(resumedCounts[i]!)} / ${DIALS} |`)
})
console.log(`median per-round ratio fresh / resumed: effect-nexus ${median(ratios).toFixed(2)}×, node:tls ${median(nodeRatios).toFixed(2)}×`)
await worker.terminate()
