/**
 * The conformance suite (test/conformance/, Autobahn sections 1–7, 9, 10) run in `npm test`:
 * first validated — `ws` must pass it in both roles, deliberately broken peers must fail exactly
 * the cases they break, and the grading rules are checked on peers that misbehave in one way —
 * then run against the project's own programs once they exist.
 *
 * Every peer is started on 127.0.0.1 with an ephemeral port and stopped by pid.
 */
import { describe, expect, it } from "@effect/vitest"
import { Buffer } from "node:buffer"
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import * as net from "node:net"
import { fileURLToPath } from "node:url"
import { Cases, FuzzingClient, runClientDriver, runEchoServer, Wire } from "./conformance/index.ts"

const here = (file: string) => fileURLToPath(new URL(`./conformance/${file}`, import.meta.url))
const root = fileURLToPath(new URL("..", import.meta.url))
const node = process.execPath
const RUN_TIMEOUT = 45_000
/**
 * Waits a correct peer sits through (6.4's fail-fast windows, 2.7's "nothing arrives") at a
 * quarter of Autobahn's: 250 ms is still ample on loopback, and a slow-but-correct peer can
 * only move from OK to NON-STRICT, never to FAILED (kill limits are not scaled down).
 */
const WAIT_SCALE = 0.25

const PYTHON = "/usr/bin/python3"
const hasPythonWebsockets = spawnSync(PYTHON, ["-c", "import websockets"]).status === 0
if (!hasPythonWebsockets) {
  console.log("conformance: skipping the Python websockets cross-check — install it with `apt-get install -y python3-websockets`")
}

const ids = (prefix: string) => Cases.all.map((c) => c.id).filter((id) => id.startsWith(prefix))
const INFORMATIONAL = ["7.1.6", "7.13.1", "7.13.2"]

/**
 * ws validates UTF-8 only when a text message is complete (receiver.js checks `isValidUTF8` on
 * the joined message, not per fragment), so it fails 6.4.x at the end of the message instead
 * of at the invalid byte: Autobahn's NON-STRICT, the grade ws's own published Autobahn reports
 * show for these four cases. Nothing else may be NON-STRICT.
 */
const WS_NON_STRICT = ["6.4.1", "6.4.2", "6.4.3", "6.4.4"]

/**
 * What a peer that ignores RSV bits and never validates UTF-8 must fail: 3.1–3.6 (3.7, a close
 * frame with RSV = 7, is answered with a close by any peer, so Autobahn's rules cannot tell the
 * difference), every invalid-UTF-8 text case of section 6, and 7.5.1 (invalid UTF-8 close
 * reason answered with 1000 instead of 1002/1007).
 */
const invalidUtf8Cases = Cases.all
  .filter((c) => /^6\.(\d+)\./.test(c.id) && Number(c.id.split(".")[1]) >= 5 && c.description.includes("not valid UTF-8"))
  .map((c) => c.id)
const BROKEN_FAILS = [...ids("3.").slice(0, 6), "6.3.1", "6.3.2", ...WS_NON_STRICT, ...invalidUtf8Cases, "7.5.1"].sort()

const sorted = (xs: ReadonlyArray<string>) => [...xs].sort()

describe("conformance suite", () => {
  it("holds Autobahn's case count per section (1–7, 9, 10; 301 cases)", () => {
    expect(Cases.countBySection()).toEqual({ "1": 16, "2": 11, "3": 7, "4": 10, "5": 20, "6": 145, "7": 37, "9": 54, "10": 1 })
    expect(new Set(Cases.all.map((c) => c.id)).size).toBe(301)
    // Kuhn's invalid sequences as Autobahn lists them, spot-checked by id
    expect(invalidUtf8Cases).toEqual(expect.arrayContaining(["6.6.1", "6.8.1", "6.11.5", "6.12.8", "6.15.1", "6.20.7", "6.21.8"]))
    expect(invalidUtf8Cases).not.toContain("6.6.2")
    expect(invalidUtf8Cases).toHaveLength(69)
  })
})

// ---------------------------------------------------------------------------------------------
// Grading rules on in-process peers that misbehave in exactly one way
// ---------------------------------------------------------------------------------------------

type Misbehaviour = "silent" | "drop" | "masks" | "no-tcp-close" | "long-length"

/** A raw echo server on 127.0.0.1:0 with one fault; resolves with its port and a stop function. */
const faultyServer = (fault: Misbehaviour) =>
  new Promise<{ port: number; stop: () => Promise<void> }>((resolve) => {
    const sockets = new Set<net.Socket>()
    const server = net.createServer((socket) => {
      sockets.add(socket)
      socket.on("error", () => {})
      socket.on("close", () => sockets.delete(socket))
      const reader = new Wire.FrameReader("server")
      let head: Buffer | undefined = Buffer.alloc(0)
      const frames = (chunk: Buffer) => {
        for (const m of reader.push(chunk)) {
          if (fault === "silent") return
          if (fault === "drop") return void socket.destroy()
          const send = (opcode: number, payload: Buffer) =>
            socket.write(
              fault === "long-length" && payload.length < 126
                ? Buffer.concat([Buffer.from([0x80 | opcode, 126, 0, payload.length]), payload]) // 16-bit form for a short payload
                : Wire.encodeFrame({ opcode, payload }, fault === "masks")
            )
          if (m._tag === "Message") send(m.binary ? 2 : 1, m.payload)
          else if (m._tag === "Ping") send(10, m.payload)
          else if (m._tag === "Close" || m._tag === "Violation") {
            send(8, Wire.closePayload(m._tag === "Close" ? m.code ?? 1000 : 1002))
            if (fault !== "no-tcp-close") socket.end()
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
        const answer = Wire.answerUpgrade(taken.head)
        socket.write(answer.response)
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

const byId = (id: string) => {
  const def = Cases.all.find((c) => c.id === id)
  if (def === undefined) throw new Error(`no case ${id}`)
  return def
}

const gradeAgainst = async (fault: Misbehaviour, caseIds: ReadonlyArray<string>) => {
  const server = await faultyServer(fault)
  try {
    const out: Record<string, string> = {}
    for (const id of caseIds) {
      const r = await FuzzingClient.runOne(byId(id), "127.0.0.1", server.port, { waitScale: 0.25, killScale: 0.5 })
      out[id] = `${r.grade} ${r.behaviorClose}`
    }
    return out
  } finally {
    await server.stop()
  }
}

// ---------------------------------------------------------------------------------------------
// The project's own programs (issue 3: "Two runnable programs used by conformance suites")
// ---------------------------------------------------------------------------------------------

const scripts: Record<string, string> = JSON.parse(readFileSync(`${root}/package.json`, "utf8")).scripts ?? {}
const hasClient = "autobahn:client" in scripts
const hasServer = "echo:server" in scripts
if (!hasClient || !hasServer) {
  console.log(
    "conformance: skipping the effect-nexus programs — they run once package.json has the scripts " +
      `${[!hasClient && "\"autobahn:client\"", !hasServer && "\"echo:server\""].filter(Boolean).join(" and ")} ` +
      "(npm run autobahn:client -- --url URL --agent NAME; npm run echo:server -- --port PORT, printing \"listening PORT\")"
  )
}

// One concurrent block: every run is mostly waiting on timers and child processes, so the runs
// overlap instead of queueing (the file stays well under a minute on two cores).
describe.concurrent("conformance runs", () => {
  describe("validated against ws and broken peers", () => {
    it("ws as a client (fuzzing server + ws-client-driver.ts): no case FAILED", { timeout: 60_000 }, async () => {
      const report = await runClientDriver([node, here("ws-client-driver.ts")], { agent: "ws", timeoutMs: RUN_TIMEOUT, waitScale: WAIT_SCALE })
      expect(report.exitCode, report.stderr).toBe(0)
      expect(report.reported).toBe(true)
      expect(report.results.filter((r) => r.grade === "FAILED")).toEqual([])
      expect(report.byGrade["NON-STRICT"]).toEqual(WS_NON_STRICT)
      expect(report.byGrade.INFORMATIONAL).toEqual(INFORMATIONAL)
      expect(report.byGrade.OK).toHaveLength(301 - 4 - 3)
    })

    it("ws as a server (fuzzing client + ws-echo-server.ts): no case FAILED", { timeout: 60_000 }, async () => {
      const report = await runEchoServer([node, here("ws-echo-server.ts")], { timeoutMs: RUN_TIMEOUT, waitScale: WAIT_SCALE })
      expect(report.results.filter((r) => r.grade === "FAILED")).toEqual([])
      expect(report.byGrade["NON-STRICT"]).toEqual(WS_NON_STRICT)
      expect(report.byGrade.INFORMATIONAL).toEqual(INFORMATIONAL)
      expect(report.byGrade.OK).toHaveLength(301 - 4 - 3)
    })

    // a second independent implementation, both roles: no FAILED either. Its NON-STRICT cases (3.2–3.4, 4.x.3–5,
    // 5.15: it fails before its echo of the first message is out; 6.4.3/6.4.4: it validates per
    // frame, not per byte) depend on asyncio scheduling, so only the FAILED set is asserted.
    it.skipIf(!hasPythonWebsockets)("Python websockets as a server (python-echo-server.py): no case FAILED", { timeout: 60_000 }, async () => {
      const report = await runEchoServer([PYTHON, here("python-echo-server.py")], { timeoutMs: RUN_TIMEOUT, waitScale: WAIT_SCALE })
      expect(report.results.filter((r) => r.grade === "FAILED")).toEqual([])
      expect(report.byGrade.INFORMATIONAL).toEqual(INFORMATIONAL)
    })

    it.skipIf(!hasPythonWebsockets)("Python websockets as a client (python-client-driver.py): no case FAILED", { timeout: 60_000 }, async () => {
      const report = await runClientDriver([PYTHON, here("python-client-driver.py")], { agent: "python-websockets", timeoutMs: RUN_TIMEOUT, waitScale: WAIT_SCALE })
      expect(report.exitCode, report.stderr).toBe(0)
      expect(report.results.filter((r) => r.grade === "FAILED")).toEqual([])
      expect(report.byGrade.INFORMATIONAL).toEqual(INFORMATIONAL)
    })

    it("a server that ignores RSV bits and skips UTF-8 validation fails exactly those cases", { timeout: 60_000 }, async () => {
      const report = await runEchoServer([node, here("broken-echo-server.ts")], { timeoutMs: RUN_TIMEOUT, waitScale: WAIT_SCALE })
      expect(sorted(report.byGrade.FAILED)).toEqual(BROKEN_FAILS)
      expect(report.byGrade.INFORMATIONAL).toEqual(INFORMATIONAL)
      // the failures carry the reason: the echo of invalid text is itself a peer violation
      expect(report.results.find((r) => r.id === "6.3.1")?.received).toEqual(["peer broke a rule: text message is not valid UTF-8"])
      expect(report.results.find((r) => r.id === "7.5.1")?.behaviorClose).toBe("WRONG CODE")
    })

    it("a client that ignores RSV bits and skips UTF-8 validation fails exactly those cases", { timeout: 60_000 }, async () => {
      const report = await runClientDriver([node, here("broken-client-driver.ts")], { agent: "broken", timeoutMs: RUN_TIMEOUT, waitScale: WAIT_SCALE })
      expect(report.exitCode, report.stderr).toBe(0)
      expect(sorted(report.byGrade.FAILED)).toEqual(BROKEN_FAILS)
      expect(report.results.find((r) => r.id === "3.1")?.received).toEqual(["text \"Hello, world!\""])
    })
  })

  describe("grading rules", () => {
    it("a peer that never reacts fails: the fuzzer's kill timer is not a pass (stricter than Autobahn)", async () => {
      expect(await gradeAgainst("silent", ["1.1.1", "3.1", "7.9.1"])).toEqual({
        "1.1.1": "FAILED FAILED",
        "3.1": "FAILED FAILED",
        "7.9.1": "FAILED FAILED"
      })
    })

    it("failing the connection by dropping TCP without a close frame is NON-STRICT; where a clean close is required it fails", async () => {
      expect(await gradeAgainst("drop", ["3.1", "6.3.1", "7.9.1", "1.1.2"])).toEqual({
        "3.1": "NON-STRICT NO CLOSE FRAME",
        "6.3.1": "NON-STRICT NO CLOSE FRAME",
        "7.9.1": "OK OK", // Autobahn: "Clean close with protocol error code or drop TCP"
        "1.1.2": "FAILED FAILED"
      })
    })

    it("a server that masks its frames fails every case that reads a frame from it", async () => {
      // the fuzzer fails the connection at the masked frame, so the closing is the wrong endpoint's too
      expect(await gradeAgainst("masks", ["1.1.1", "2.1"])).toEqual({ "1.1.1": "FAILED FAILED", "2.1": "FAILED FAILED" })
    })

    it("a server that encodes a short length in the 16-bit form fails (RFC 6455 §5.2 minimal length; Autobahn does not check)", async () => {
      const server = await faultyServer("long-length")
      try {
        const r = await FuzzingClient.runOne(byId("1.1.2"), "127.0.0.1", server.port, { waitScale: 0.25, killScale: 0.5 })
        expect([r.grade, r.received]).toEqual(["FAILED", ["peer broke a rule: 16-bit length form for a 125-byte payload"]])
      } finally {
        await server.stop()
      }
    })

    it("a server that leaves TCP open after the closing handshake is FAILED BY CLIENT or UNCLEAN", async () => {
      expect(await gradeAgainst("no-tcp-close", ["7.9.1", "1.1.1"])).toEqual({
        "7.9.1": "NON-STRICT FAILED BY CLIENT",
        "1.1.1": "FAILED UNCLEAN"
      })
    })
  })

  describe("runners", () => {
    const few = Cases.all.filter((c) => c.id === "1.1.1" || c.id === "2.1")

    it("grades every case a driver never ran as FAILED (Missing), with the reason", async () => {
      const report = await runClientDriver([node, "-e", "process.exit(3)", "--"], { cases: few, timeoutMs: 10_000 })
      expect(report.exitCode).toBe(3)
      expect(report.results.map((r) => [r.id, r.grade, r.result])).toEqual([
        ["1.1.1", "FAILED", "Missing: the driver never ran this case"],
        ["2.1", "FAILED", "Missing: the driver never ran this case"]
      ])
    })

    it("kills a driver that hangs past the timeout and reports its cases missing", async () => {
      const report = await runClientDriver([node, "-e", "setInterval(() => {}, 1000)", "--"], { cases: few, timeoutMs: 500 })
      expect(report.exitCode).toBe(null)
      expect(report.byGrade.FAILED).toEqual(["1.1.1", "2.1"])
    })

    it("rejects with the reason when an echo server cannot start or exits before listening", async () => {
      await expect(runEchoServer(["/nonexistent/echo-server"], { cases: few })).rejects.toThrow(
        "echo server /nonexistent/echo-server could not start: spawn /nonexistent/echo-server ENOENT"
      )
      await expect(runEchoServer([node, "-e", "console.error('boom'); process.exit(4)", "--"], { cases: few })).rejects.toThrow(
        "echo server exited (4) before listening; stderr: boom"
      )
    })
  })

  describe.skipIf(!hasClient)("conformance: effect-nexus client (npm run autobahn:client)", () => {
    it("passes every case OK or NON-STRICT", { timeout: 60_000 }, async () => {
      const report = await runClientDriver(["npm", "run", "--silent", "autobahn:client", "--"], {
        agent: "effect-nexus",
        cwd: root,
        timeoutMs: RUN_TIMEOUT, waitScale: WAIT_SCALE
      })
      expect(report.exitCode, report.stderr).toBe(0)
      expect(report.results.filter((r) => r.grade === "FAILED")).toEqual([])
    })
  })

  describe.skipIf(!hasServer)("conformance: effect-nexus server (npm run echo:server)", () => {
    it("passes every case OK or NON-STRICT", { timeout: 60_000 }, async () => {
      const report = await runEchoServer(["npm", "run", "--silent", "echo:server", "--"], { cwd: root, timeoutMs: RUN_TIMEOUT, waitScale: WAIT_SCALE })
      expect(report.results.filter((r) => r.grade === "FAILED")).toEqual([])
    })
  })
})
