/**
 * Compression conformance: the fuzzer of test/conformance/ speaks permessage-deflate (RFC 7692;
 * `node:zlib` raw deflate, negotiation by `src/Codec/PerMessageDeflate.ts`) and runs
 * `DeflateCases.all` — Autobahn's sections 12 (compressed echoes, 16 B to 256 KiB, text and
 * binary, fragmented or not) and 13 (each negotiation: no_context_takeover and max_window_bits on
 * the tested side, then every parameter on both) and our section 14 (bad deflate data, deflated
 * invalid UTF-8, RSV1 on a control or continuation frame, RSV1 without negotiation, a bomb).
 *
 * First the fuzzer itself is validated, as test/conformance.test.ts does for sections 1–10:
 * `ws` with `perMessageDeflate` passes every case in both roles, Python `websockets` (compression
 * on) fails none, a server without compression fails exactly the cases that need it, and a
 * server that keeps its context after agreeing `server_no_context_takeover` is caught. Then our
 * client (`npm run autobahn:client -- --compression`) and our server (`npm run echo:server --
 * --compression`) must pass every case. Every peer is on 127.0.0.1 with an ephemeral port,
 * stopped by pid.
 */
import { describe, expect, it } from "@effect/vitest"
import { Buffer } from "node:buffer"
import { spawnSync } from "node:child_process"
import * as net from "node:net"
import { fileURLToPath } from "node:url"
import * as PerMessageDeflate from "../src/Codec/PerMessageDeflate.ts"
import { DeflateCases, type Fuzzer, FuzzingClient, type Report, runClientDriver, runEchoServer, Wire } from "./conformance/index.ts"

const here = (file: string) => fileURLToPath(new URL(`./conformance/${file}`, import.meta.url))
const root = fileURLToPath(new URL("..", import.meta.url))
const node = process.execPath
const RUN_TIMEOUT = 60_000
const WAIT_SCALE = 0.25
const ALL = DeflateCases.all.length

const PYTHON = "/usr/bin/python3"
const hasPythonWebsockets = spawnSync(PYTHON, ["-c", "import websockets"]).status === 0

/** The close code each section-14 case must draw from the tested side. */
const BROKEN_CLOSE = { "14.1": 1007, "14.2": 1007, "14.3": 1002, "14.4": 1002, "14.5": 1002, "14.6": 1009 }

const closeCodes = (report: Report) =>
  Object.fromEntries(report.results.filter((r) => r.id.startsWith("14.")).map((r) => [r.id, r.remoteCloseCode]))

const failures = (report: Report): Array<Fuzzer.CaseResult> => report.results.filter((r) => r.grade !== "OK")

/** Every 12/13 case of at least 256 B per message got every echo back compressed (smaller ones may go plain). */
const uncompressedEchoes = (report: Report): Array<string> =>
  report.results
    .filter((r) => /^1[23]\./.test(r.id) && !/\.[12]$/.test(r.id) && !(r.compressedIn! > 0))
    .map((r) => `${r.id}: ${r.compressedIn}`)

/**
 * A compressing echo server that keeps its context although it agreed `server_no_context_takeover`:
 * what the fuzzer must catch (its inflater, reset per message as agreed, cannot follow a back
 * reference into an earlier message).
 */
const contextKeepingServer = () =>
  new Promise<{ port: number; stop: () => Promise<void> }>((resolve) => {
    const sockets = new Set<net.Socket>()
    const server = net.createServer((socket) => {
      sockets.add(socket)
      socket.on("error", () => {})
      socket.on("close", () => sockets.delete(socket))
      let head: Buffer | undefined = Buffer.alloc(0)
      let reader: Wire.FrameReader | undefined
      let deflate: Wire.Deflate | undefined
      const frames = (chunk: Buffer) => {
        for (const m of reader!.push(chunk)) {
          if (m._tag === "Message") socket.write(Wire.encodeFrame({ opcode: m.binary ? 2 : 1, rsv: 4, payload: deflate!.compress(m.payload) }, false))
          else if (m._tag === "Ping") socket.write(Wire.encodeFrame({ opcode: 10, payload: m.payload }, false))
          else if (m._tag === "Close" || m._tag === "Violation") {
            socket.end(Wire.encodeFrame({ opcode: 8, payload: Wire.closePayload(m._tag === "Close" ? m.code ?? 1000 : 1002) }, false))
            return
          }
        }
      }
      socket.on("data", (chunk: Buffer) => {
        if (head === undefined) return frames(chunk)
        head = Buffer.concat([head, chunk])
        const taken = Wire.takeHead(head)
        if (taken === undefined) return
        head = undefined
        const offer = taken.head.headers.get("sec-websocket-extensions")
        const accepted = offer === undefined ? undefined : PerMessageDeflate.acceptOffer([offer], {})
        const agreed = accepted?._tag === "AcceptedOffer" ? accepted : undefined
        socket.write(Wire.answerUpgrade(taken.head, agreed?.header).response)
        if (agreed !== undefined) {
          deflate = new Wire.Deflate(agreed.agreed.serverMaxWindowBits, false) // the fault: context kept
          reader = new Wire.FrameReader("server", {}, 1 << 26, Wire.contexts(agreed.agreed, "server", 1 << 26).inflate)
        } else reader = new Wire.FrameReader("server")
        frames(taken.rest)
      })
    })
    server.listen(0, "127.0.0.1", () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        stop: () =>
          new Promise((done) => {
            for (const s of sockets) s.destroy()
            server.close(() => done())
          })
      })
    )
  })

describe("compression cases", () => {
  it("hold Autobahn's sections 12 (5 corpora) and 13 (7 negotiations) at 19 sizes each, and our 6 broken inputs", () => {
    expect(Object.fromEntries(["12", "13", "14"].map((s) => [s, DeflateCases.all.filter((c) => c.id.split(".")[0] === s).length])))
      .toEqual({ "12": 95, "13": 133, "14": 6 })
    expect(DeflateCases.all.filter((c) => c.deflate === undefined).map((c) => c.id)).toEqual(["14.5"])
  })
})

describe.concurrent("compression conformance runs", () => {
  describe("the fuzzer validated against ws, Python websockets and faulty peers", () => {
    it("ws as a server with perMessageDeflate (ws-echo-server.ts --compression): every case OK", { timeout: RUN_TIMEOUT }, async () => {
      const report = await runEchoServer([node, here("ws-echo-server.ts"), "--compression"], { cases: DeflateCases.all, timeoutMs: RUN_TIMEOUT, waitScale: WAIT_SCALE })
      expect(failures(report)).toEqual([])
      expect(report.byGrade.OK).toHaveLength(ALL)
      expect(closeCodes(report)).toEqual(BROKEN_CLOSE)
    })

    it("ws as a client (ws-client-driver.ts, perMessageDeflate by default): every case OK", { timeout: RUN_TIMEOUT }, async () => {
      const report = await runClientDriver([node, here("ws-client-driver.ts")], { cases: DeflateCases.all, agent: "ws", timeoutMs: RUN_TIMEOUT, waitScale: WAIT_SCALE })
      expect(report.exitCode, report.stderr).toBe(0)
      expect(failures(report)).toEqual([])
      expect(report.byGrade.OK).toHaveLength(ALL)
      expect(closeCodes(report)).toEqual(BROKEN_CLOSE)
    })

    // Python websockets fails bad deflate data with 1002 (a ProtocolError), not 1007 as ws and we
    // do: 14.1 is NON-STRICT (WRONG CODE) for it, every other case OK
    it.skipIf(!hasPythonWebsockets)("Python websockets as a server with compression: every case OK but 14.1 (1002)", { timeout: RUN_TIMEOUT }, async () => {
      const report = await runEchoServer([PYTHON, here("python-echo-server.py"), "--compression"], { cases: DeflateCases.all, timeoutMs: RUN_TIMEOUT, waitScale: WAIT_SCALE })
      expect(report.byGrade.FAILED).toEqual([])
      expect(report.byGrade["NON-STRICT"]).toEqual(["14.1"])
      expect(closeCodes(report)).toEqual({ ...BROKEN_CLOSE, "14.1": 1002 })
    })

    it.skipIf(!hasPythonWebsockets)("Python websockets as a client with compression: every case OK but 14.1 (1002)", { timeout: RUN_TIMEOUT }, async () => {
      const report = await runClientDriver([PYTHON, here("python-client-driver.py"), "--compression"], { cases: DeflateCases.all, agent: "python-websockets", timeoutMs: RUN_TIMEOUT, waitScale: WAIT_SCALE })
      expect(report.exitCode, report.stderr).toBe(0)
      expect(report.byGrade.FAILED).toEqual([])
      expect(report.byGrade["NON-STRICT"]).toEqual(["14.1"])
    })

    it("a server without compression fails every case that needs it, and passes RSV1 without negotiation (14.5)", { timeout: RUN_TIMEOUT }, async () => {
      const report = await runEchoServer([node, here("ws-echo-server.ts")], { cases: DeflateCases.all, timeoutMs: RUN_TIMEOUT, waitScale: WAIT_SCALE })
      expect(report.byGrade.OK).toEqual(["14.5"])
      expect(report.byGrade.FAILED).toHaveLength(ALL - 1)
      expect(new Set(report.results.filter((r) => r.id !== "14.5").map((r) => r.result))).toEqual(new Set(["permessage-deflate was not agreed"]))
    })

    it("a server that keeps its context after agreeing server_no_context_takeover fails 13.2 once a message can refer back", async () => {
      const server = await contextKeepingServer()
      try {
        const results: Record<string, string> = {}
        for (const id of ["13.1.1", "13.2.1", "13.2.3"]) {
          const def = DeflateCases.all.find((c) => c.id === id)!
          const r = await FuzzingClient.runOne(def, "127.0.0.1", server.port, { waitScale: WAIT_SCALE, killScale: 0.5 })
          results[id] = `${r.grade} ${r.received.join("; ")}`
        }
        expect(results).toEqual({
          // with context takeover agreed, keeping it is right
          "13.1.1": "OK ",
          "13.2.1": "FAILED peer broke a rule: compressed message does not inflate (invalid distance too far back)",
          "13.2.3": "FAILED peer broke a rule: compressed message does not inflate (invalid distance too far back)"
        })
      } finally {
        await server.stop()
      }
    })
  })

  describe("effect-nexus", () => {
    it("our client (npm run autobahn:client -- --compression): every case OK, every echo of 256 B and more compressed", { timeout: RUN_TIMEOUT }, async () => {
      const report = await runClientDriver(["npm", "run", "--silent", "autobahn:client", "--", "--compression"], {
        cases: DeflateCases.all,
        agent: "effect-nexus",
        cwd: root,
        timeoutMs: RUN_TIMEOUT,
        waitScale: WAIT_SCALE
      })
      expect(report.exitCode, report.stderr).toBe(0)
      expect(failures(report)).toEqual([])
      expect(report.byGrade.OK).toHaveLength(ALL)
      expect(closeCodes(report)).toEqual(BROKEN_CLOSE)
      expect(uncompressedEchoes(report)).toEqual([])
    })

    it("our server (npm run echo:server -- --compression): every case OK, every echo of 256 B and more compressed", { timeout: RUN_TIMEOUT }, async () => {
      const report = await runEchoServer(["npm", "run", "--silent", "echo:server", "--", "--compression"], {
        cases: DeflateCases.all,
        cwd: root,
        timeoutMs: RUN_TIMEOUT,
        waitScale: WAIT_SCALE
      })
      expect(failures(report)).toEqual([])
      expect(report.byGrade.OK).toHaveLength(ALL)
      expect(closeCodes(report)).toEqual(BROKEN_CLOSE)
      expect(uncompressedEchoes(report)).toEqual([])
    })
  })
})
