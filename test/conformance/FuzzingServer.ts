/**
 * The fuzzing server: a `node:net` WebSocket server speaking Autobahn's fuzzing-server client
 * protocol, so any client with a small driver can be graded.
 *
 * ```text
 * GET /getCaseCount                 → text message "<count>", then close 1000
 * GET /runCase?case=N&agent=NAME    → runs case N (1-based, Autobahn's order) against the client
 * GET /updateReports?agent=NAME     → close 1000 (results are kept in memory, see `results`)
 * ```
 *
 * The client must echo every text and binary message and answer pings. Each finished case is
 * recorded under its agent in `results`. A compression case (`deflate`) accepts the client's
 * permessage-deflate offer with the case's parameters (`PerMessageDeflate.acceptOffer`); every
 * other request is answered without extensions, whatever the client offers.
 *
 * @since 0.1.0
 */
import { Buffer } from "node:buffer"
import * as net from "node:net"
import * as PerMessageDeflate from "../../src/Codec/PerMessageDeflate.ts"
import * as Cases from "./Cases.ts"
import { type CaseDef, type CaseResult, runCase, type SessionOptions } from "./Fuzzer.ts"
import * as Wire from "./Wire.ts"

/** A running fuzzing server. */
export interface FuzzingServer {
  readonly port: number
  /** Results by agent, then case id, in the order the cases finished. */
  readonly results: ReadonlyMap<string, ReadonlyMap<string, CaseResult>>
  /** Agents that called `/updateReports`. */
  readonly reported: ReadonlySet<string>
  /** How many cases are running now (their results are recorded when their TCP closes). */
  readonly running: () => number
  /** Stops listening and destroys every open connection. */
  readonly close: () => Promise<void>
}

/** Options for {@link start}. */
export interface Options extends SessionOptions {
  /** The cases to serve. Default: the whole suite. */
  readonly cases?: ReadonlyArray<CaseDef> | undefined
}

/** Sends `text` (if any) and a close 1000, waits briefly for the client's close, ends. */
const controlSession = (socket: net.Socket, text: string | undefined) => {
  if (text !== undefined) socket.write(Wire.encodeFrame({ opcode: 1, payload: text }, false))
  socket.write(Wire.encodeFrame({ opcode: 8, payload: Wire.closePayload(1000) }, false))
  const reader = new Wire.FrameReader("server")
  const timer = setTimeout(() => socket.destroy(), 2000)
  socket.on("data", (chunk: Buffer) => {
    if (reader.push(chunk).some((m) => m._tag === "Close" || m._tag === "Violation")) socket.end()
  })
  socket.on("close", () => clearTimeout(timer))
}

/** Starts a fuzzing server on 127.0.0.1 and an ephemeral port. */
export const start = (options: Options = {}): Promise<FuzzingServer> => {
  const cases = options.cases ?? Cases.all
  const results = new Map<string, Map<string, CaseResult>>()
  const reported = new Set<string>()
  const sockets = new Set<net.Socket>()
  let running = 0

  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
    socket.on("error", () => {})
    let buf = Buffer.alloc(0)
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk])
      const taken = Wire.takeHead(buf)
      if (taken === undefined) {
        if (buf.length > 16 * 1024) socket.destroy()
        return
      }
      socket.off("data", onData)
      socket.pause()
      const answer = Wire.answerUpgrade(taken.head)
      if (!answer.ok) return void socket.end(answer.response)
      const url = new URL(answer.path, "ws://fuzzer")
      const agent = url.searchParams.get("agent") ?? "unknown"
      if (url.pathname === "/runCase") {
        const n = Number(url.searchParams.get("case"))
        const def = Number.isInteger(n) ? cases[n - 1] : undefined
        if (def === undefined) return void socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        const offers = taken.head.headers.get("sec-websocket-extensions")
        const accepted = def.deflate === undefined || offers === undefined
          ? undefined
          : PerMessageDeflate.acceptOffer([offers], def.deflate.accept)
        if (accepted?._tag === "InvalidExtensions") return void socket.end(Wire.BAD_REQUEST)
        socket.write(accepted === undefined ? answer.response : Wire.answerUpgrade(taken.head, accepted.header).response)
        running++
        runCase(def, socket, "server", taken.rest, options, accepted?.agreed).then((result) => {
          running--
          let byCase = results.get(agent)
          if (byCase === undefined) results.set(agent, byCase = new Map())
          byCase.set(def.id, result)
        })
        socket.resume()
        return
      }
      socket.write(answer.response)
      socket.resume()
      if (url.pathname === "/getCaseCount") controlSession(socket, String(cases.length))
      else if (url.pathname === "/updateReports") {
        reported.add(agent)
        controlSession(socket, undefined)
      } else controlSession(socket, undefined)
    }
    socket.on("data", onData)
  })

  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as net.AddressInfo
      resolve({
        port: address.port,
        results,
        reported,
        running: () => running,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy()
            server.close(() => done())
          })
      })
    })
  })
}
