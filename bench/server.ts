/**
 * `npm run bench:server [-- --seconds S --rounds R --connections C --window W]` — messages per
 * second echoed by a WebSocket server under the same client load: `WebSocketServer.serve`
 * (`scripts/echo-server.ts`) in one process, the same with `--workers 2` (two processes on one
 * port, `reusePort`), `ws`'s `WebSocketServer` (`bench/ws-echo-server.ts`), and the load's
 * ceiling: a raw TCP server that writes pre-built echoes without parsing anything
 * (`bench/raw-echo-server.ts`) — a server near its rate is bounded by the client.
 *
 * The load is the cheapest client we can write, in this process: C raw TCP connections, each
 * keeping W masked 64 B binary frames in flight (pre-built bytes; an echoed frame is counted by
 * its known length and answered by the next frame), for S seconds after a short warm-up. Each
 * server runs in a child process of its own; every round runs every candidate, the order
 * rotating between rounds, and the summary quotes the median of the in-round ratios.
 *
 * Targets (issue 14): ours ≥ 2× `ws` on one process; two workers ≥ 1.7× one. The client shares
 * the machine with the servers (and this box has 2 cores shared with other jobs), so the
 * two-worker figure is bounded by the cores left over from the client.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as net from "node:net"
import { parseArgs } from "node:util"
import { median } from "./harness.ts"
import { upgraded } from "./raw-client.ts"

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "3" },
    rounds: { type: "string", default: "5" },
    connections: { type: "string", default: "50" },
    window: { type: "string", default: "16" }
  }
})
const SECONDS = Number(values.seconds)
const ROUNDS = Number(values.rounds)
const CONNECTIONS = Number(values.connections)
const WINDOW = Number(values.window)
const PAYLOAD = 64

/** One masked client frame (mask key 0: the payload is sent as is), binary, FIN, 64 B. */
const FRAME = Buffer.concat([Buffer.from([0x82, 0x80 | PAYLOAD, 0, 0, 0, 0]), Buffer.alloc(PAYLOAD, 0x61)])
const FRAMES = Buffer.concat(Array.from({ length: WINDOW }, () => FRAME))
/** The server's echo: unmasked, 2-byte header. */
const ECHO_LENGTH = 2 + PAYLOAD
interface Candidate {
  readonly name: string
  readonly command: ReadonlyArray<string>
}

const NODE = process.execPath
const CANDIDATES: ReadonlyArray<Candidate> = [
  { name: "WebSocketServer.serve (1 process)", command: [NODE, "scripts/echo-server.ts", "--port", "0"] },
  { name: "ws WebSocketServer (1 process)", command: [NODE, "bench/ws-echo-server.ts"] },
  { name: "WebSocketServer.serve (2 workers)", command: [NODE, "scripts/echo-server.ts", "--port", "0", "--workers", "2"] },
  { name: "raw TCP, no WebSocket (load ceiling)", command: [NODE, "bench/raw-echo-server.ts"] }
]

const startServer = (candidate: Candidate): Promise<{ child: ChildProcess; port: number }> =>
  new Promise((resolve, reject) => {
    const child = spawn(candidate.command[0]!, candidate.command.slice(1), { stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      const match = /listening (\d+)/.exec(out)
      if (match !== null) resolve({ child, port: Number(match[1]) })
    })
    child.once("exit", (code) => reject(new Error(`${candidate.name} exited with ${code} before listening`)))
  })

const stopServer = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill("SIGTERM")
  })

/** One connection of the load: counts echoed frames into `counter.n` and keeps WINDOW in flight. */
const connectLoad = (port: number, counter: { n: number }): Promise<net.Socket> =>
  new Promise((resolve, reject) => {
    let partial = 0
    upgraded(port, "/", (socket) => {
      socket.write(FRAMES)
      resolve(socket)
    }, (chunk, socket) => {
      partial += chunk.length
      const frames = Math.floor(partial / ECHO_LENGTH)
      if (frames === 0) return
      partial -= frames * ECHO_LENGTH
      counter.n += frames
      // answer each echo with a new frame, WINDOW at a time at most
      for (let left = frames; left > 0; left -= WINDOW) {
        const k = Math.min(left, WINDOW)
        socket.write(k === WINDOW ? FRAMES : FRAMES.subarray(0, k * FRAME.length))
      }
    }, reject)
  })

const measure = async (candidate: Candidate): Promise<number> => {
  const { child, port } = await startServer(candidate)
  try {
    const counter = { n: 0 }
    const sockets = await Promise.all(Array.from({ length: CONNECTIONS }, () => connectLoad(port, counter)))
    await new Promise((r) => setTimeout(r, 500))
    const start = counter.n
    const t0 = performance.now()
    await new Promise((r) => setTimeout(r, SECONDS * 1000))
    const rate = (counter.n - start) / ((performance.now() - t0) / 1000)
    for (const socket of sockets) socket.destroy()
    return rate
  } finally {
    await stopServer(child)
  }
}

const rates = new Map<string, Array<number>>(CANDIDATES.map((c) => [c.name, []]))
const ratiosVsWs: Array<number> = []
const ratiosWorkers: Array<number> = []
const ratiosCeiling: Array<number> = []
for (let round = 0; round < ROUNDS; round++) {
  const order = CANDIDATES.map((_, i) => CANDIDATES[(i + round) % CANDIDATES.length]!)
  const inRound = new Map<string, number>()
  for (const candidate of order) {
    const rate = await measure(candidate)
    inRound.set(candidate.name, rate)
    rates.get(candidate.name)!.push(rate)
  }
  const ours = inRound.get(CANDIDATES[0]!.name)!
  ratiosVsWs.push(ours / inRound.get(CANDIDATES[1]!.name)!)
  ratiosWorkers.push(inRound.get(CANDIDATES[2]!.name)! / ours)
  ratiosCeiling.push(ours / inRound.get(CANDIDATES[3]!.name)!)
  console.log(`round ${round + 1}: ${order.map((c) => `${c.name} ${Math.round(inRound.get(c.name)!)} msg/s`).join(", ")}`)
}

console.log(`\nNode ${process.version}, ${CONNECTIONS} connections x ${WINDOW} in flight, 64 B binary, ${SECONDS} s per run, ${ROUNDS} rounds`)
console.log("| server | median msg/s |\n| --- | --- |")
for (const [name, list] of rates) console.log(`| ${name} | ${Math.round(median(list))} |`)
console.log(`\nserve / ws (1 process), median of in-round ratios: ${median(ratiosVsWs).toFixed(2)}x (rounds: ${ratiosVsWs.map((r) => r.toFixed(2)).join(", ")})`)
console.log(`2 workers / 1 process, median of in-round ratios: ${median(ratiosWorkers).toFixed(2)}x (rounds: ${ratiosWorkers.map((r) => r.toFixed(2)).join(", ")})`)
console.log(`serve (1 process) / raw TCP ceiling, median of in-round ratios: ${median(ratiosCeiling).toFixed(2)}x (rounds: ${ratiosCeiling.map((r) => r.toFixed(2)).join(", ")})`)
