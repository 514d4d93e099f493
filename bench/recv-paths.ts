/**
 * `npx node bench/recv-paths.ts [SIZE] [COUNT] [ROUNDS]` — the receive paths' own cost, without
 * a socket: a WebSocket stream over an in-process transport that serves a pre-encoded firehose
 * (64 KiB chunks of SIZE-byte binary frames, torn at chunk edges as a socket tears them, each
 * `read` copying what fits into the reader's slab, as the socket transport's inbox does). The
 * same consumer as `bench/loopback.ts` (a byte of each payload into a sink). Prints ns per
 * message per path (`feedEvents`: `MarketFeed`'s owned runs on the push loop), the paths
 * interleaved round by round, and the median of the rounds. One
 * process, one thread doing the work: the numbers do not depend on a second core being free,
 * and they are the main thread's CPU time (`process.threadCpuUsage`), not wall time: a shared
 * machine that takes the core away for a while does not count.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as ReadBuf from "../src/Codec/ReadBuf.ts"
import { FeedEvents } from "../src/Layers/internal/messages.ts"
import { copyInto, type Transport, TypeId } from "../src/Transport/Transport.ts"
import { open } from "../src/Transport/internal/webSocketStream.ts"
import type { WebSocket } from "../src/Transport/WebSocket.ts"
import * as NexusWebSocket from "../src/Transport/WebSocket.ts"
import { median } from "./harness.ts"
import { type Consumer, recvLoop, viaMessages, viaMessagesLent, viaRecv, viaRun } from "./ws-consumers.ts"

const size = Number(process.argv[2] ?? 40)
const count = Number(process.argv[3] ?? 2_000_000)
const rounds = Number(process.argv[4] ?? 5)
const CHUNK = 64 * 1024

const frame = Buffer.concat([size < 126 ? Buffer.from([0x82, size]) : Buffer.from([0x82, 126, size >> 8, size & 0xff]), Buffer.alloc(size, 0x61)])
// frames back to back, one chunk and one frame long: a chunk starts at any phase of a frame
const stream = Buffer.concat(Array.from({ length: Math.ceil(CHUNK / frame.length) + 1 }, () => frame))
const CLOSE = Buffer.from([0x88, 2, 0x03, 0xe8])

/** Serves `count` frames then a close, in 64 KiB chunks, each read taking what fits. */
const firehose = (): Transport => {
  let left = count * frame.length
  let offset = 0
  let chunk: Uint8Array = stream.subarray(0, 0)
  let closed = false
  const t = {
    [TypeId]: TypeId,
    remoteAddress: "memory:firehose",
    bytesWritten: 0,
    bytesRead: 0,
    read: (buf: ReadBuf.ReadBuf) =>
      Effect.sync(() => {
        if (chunk.length === 0) {
          if (left === 0) {
            if (closed) return 0
            closed = true
            chunk = CLOSE
          } else {
            const n = Math.min(CHUNK, left)
            chunk = stream.subarray(offset, offset + n)
            left -= n
            offset = (offset + n) % frame.length
          }
        }
        const n = copyInto(buf, chunk)
        chunk = chunk.subarray(n)
        t.bytesRead += n
        return n
      }),
    // what the socket transport offers too: the next bytes without an Effect (here always buffered)
    readBuffered: (buf: ReadBuf.ReadBuf) => Effect.runSync(t.read(buf)),
    write: () => Effect.void,
    writev: () => Effect.void,
    end: () => Effect.void,
    destroy: () => Effect.void
  }
  return t as Transport
}

let touched = 0
const floorMessage = { _tag: "Binary" as const, payload: Buffer.alloc(size, 0x61) }
const floorExit = Exit.succeed(floorMessage)
const floorStep = Effect.suspend(() => floorExit)
const socket = (): Effect.Effect<WebSocket, never, import("effect/Scope").Scope> =>
  open("client", firehose(), { protocol: undefined, upgrade: undefined, leftover: new Uint8Array(0), deflate: undefined }, process.env.MAX_BATCH === undefined ? {} : { maxBatch: Number(process.env.MAX_BATCH) }, undefined) as never

const touch = (payload: Uint8Array): void => void (touched += payload[0]!)

/** Main-thread CPU ns per message of `consume` over a fresh firehose socket. */
const timed = (consume: Consumer) => (): Promise<number> =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const ws = yield* socket()
    const cpu0 = process.threadCpuUsage()
    yield* consume(ws, count, touch)
    const cpu = process.threadCpuUsage(cpu0)
    return ((cpu.user + cpu.system) * 1000) / count
  })))

/**
 * `MarketFeed`'s events queue on the push loop (its owned `Messages` runs, the bounded batch at
 * its default 4096), taken by a second fiber that reads each payload's first and last byte
 * through the run's index, as `bench/loopback.ts` does: the copy and queue over `run`'s cost.
 */
const viaFeedEvents: Consumer = (ws, count) =>
  Effect.gen(function*() {
    const events = new FeedEvents<never>(4096)
    yield* Effect.forkChild(NexusWebSocket.run(ws, (message) => {
      if (message._tag === "Binary" || message._tag === "Text") return events.message(message, ws)
    }))
    const started = performance.now()
    let received = 0
    while (received < count) {
      for (const run of yield* events.batch.take) {
        const bytes = run.bytes
        for (let i = 0; i < run.count; i++) {
          if (run.isText(i)) continue
          touched = (touched + bytes[run.start(i)]! + bytes[run.end(i) - 1]!) | 0
          received++
        }
      }
    }
    return performance.now() - started
  }) as Effect.Effect<number, never>

const all: ReadonlyArray<readonly [string, () => Promise<number>]> = [
  ["run", timed(viaRun)],
  ["recv", timed(viaRecv)],
  // recv through a combinator: no iterator shortcut, one Effect step per message (a cached Exit)
  ["recv via Effect.map", timed((ws, n, t) => recvLoop(Effect.map(ws.recv, (message) => message), n, t))],
  // Effect's own cost of a step under a `yield*` loop: an `Effect.suspend` that returns a cached
  // success Exit (what recv through a combinator does with a buffered message), nothing parsed
  ["floor: yield* suspend(exit)", timed(() => recvLoop(floorStep, count, touch))],
  ["messages", timed(viaMessages)],
  ["messages lent", timed(viaMessagesLent)],
  ["feedEvents", timed(viaFeedEvents)]
]

// PATHS=run,recv picks some (for a profile of one)
const paths = process.env.PATHS === undefined ? all : all.filter(([name]) => process.env.PATHS!.split(",").includes(name))
const results = paths.map(() => [] as Array<number>)
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? paths.map((_, i) => i) : paths.map((_, i) => paths.length - 1 - i)
  for (const i of order) results[i]!.push(await paths[i]![1]())
}
console.log(`receive paths over an in-process firehose, ${size} B, ${count} messages, ${rounds} rounds (node ${process.version})`)
paths.forEach(([name], i) => console.log(`${name.padEnd(28)} ${median(results[i]!).toFixed(1)} ns of main-thread CPU per message (rounds: ${results[i]!.map((x) => x.toFixed(0)).join(", ")})`))
if (touched === 0) throw new Error("no payload was read")
