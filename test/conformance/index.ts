/**
 * # effect-nexus WebSocket conformance suite
 *
 * The Autobahn testsuite cannot be installed on the project's machines, so the project
 * carries its own: the same cases, driven the same way, graded the same way, in TypeScript.
 *
 * **Where the cases come from.** Every case is re-written from the public case definitions of
 * crossbario/autobahn-testsuite (`autobahntestsuite/case/case*.py`: their DESCRIPTION,
 * EXPECTATION, payloads and expected event lists) and RFC 6455. Sections: 1 framing, 2
 * pings/pongs, 3 reserved bits, 4 opcodes, 5 fragmentation, 6 UTF-8 handling (incl. 6.4
 * fail-fast and Markus Kuhn's decoder test sequences as 6.5–6.23), 7 close handling (incl. the
 * valid 7.7 and invalid 7.9 close codes and the informational 7.1.6 and 7.13), 9
 * limits/performance and 10 misc in `Cases.all`; compression — Autobahn's 12 and 13, and a
 * section 14 of our own for broken compressed input — in `DeflateCases.all` (run with `cases:
 * DeflateCases.all`; the peer must have permessage-deflate on). 301 cases in `Cases.all`: 1: 16,
 * 2: 11, 3: 7, 4: 10, 5: 20, 6: 145, 7: 37, 9: 54, 10: 1 (7.9 uses the current Autobahn list of
 * nine invalid codes, which no longer includes 1012–1015); 234 in `DeflateCases.all`: 12: 95,
 * 13: 133, 14: 6. Ids and
 * order are Autobahn's, so `/runCase?case=N` runs the same case as Autobahn
 * would. Deviations: section 9 is scaled down by `Cases.LIMITS_SCALE` (¼: messages of 16 KiB
 * to 4 MiB, 250 round trips instead of 1000) and checks the echoed bytes, not just the length;
 * the waits a correct peer sits through are halved (`waitScale`, so 6.4's 1 s waits are 500 ms)
 * while the limits only a misbehaving peer reaches are doubled (`killScale`); Autobahn's
 * `sync` chops are not needed because every chop is flushed to the socket before the next.
 *
 * **How a case is graded.** Like Autobahn, a case records what it receives (messages, pongs,
 * pings, passed waits) and compares the list with its expected lists: equal to the `OK` list is
 * OK, to the `NON-STRICT` list NON-STRICT (for example 6.4.x, where failing the connection at
 * the end of the message instead of at the first invalid byte is NON-STRICT), anything else
 * FAILED. A peer frame that breaks RFC 6455 (wrong masking, RSV bits, reserved opcodes, invalid
 * UTF-8 text, bad close payload, anything after its close frame) is recorded as an event, so it
 * fails the case. The closing is judged separately with Autobahn's rules — who started the
 * closing handshake (`closedByMe`), whether it was clean, the peer's close code (`WRONG CODE`),
 * and, for the fuzzing client, whether the server closed TCP (`FAILED BY CLIENT` otherwise).
 * The headline grade combines both verdicts: FAILED if either failed (or the close was UNCLEAN
 * where a clean one is required), NON-STRICT if either was lax (WRONG CODE, FAILED BY CLIENT),
 * else OK; 7.1.6 and 7.13.x are INFORMATIONAL. Three rules are stricter than Autobahn: a peer
 * that does not react before the case's kill timer (or the fuzzer's closing-handshake timeout)
 * fires fails the case (Autobahn can pass a silent peer); a peer that fails the connection by
 * dropping TCP without a close frame is NON-STRICT (`NO CLOSE FRAME`: RFC 6455 §7.1.7 says it
 * SHOULD send one); and a frame length not in its minimal form is a violation (§5.2 MUST).
 *
 * **How the suite itself is checked** (test/conformance.test.ts): `ws` passes it as a client
 * and as a server (only 6.4.x NON-STRICT, as in ws's published Autobahn results), Python
 * `websockets` passes it in both roles (no FAILED), peers that ignore RSV bits and skip UTF-8 validation
 * fail exactly sections 3.1–3.6, the invalid-UTF-8 cases of 6 and 7.5.1, and one-fault peers
 * (silent, TCP drop, masking server, non-minimal lengths, TCP left open) get the grade the
 * rules above give.
 *
 * **How to run it against another implementation.**
 * - A client: write a driver `CMD --url ws://127.0.0.1:PORT --agent NAME` that fetches
 *   `/getCaseCount` (a text message with the count), runs `/runCase?case=N&agent=NAME` for
 *   N = 1..count echoing every text/binary message and answering pings, then opens
 *   `/updateReports?agent=NAME`, and exits. Then `runClientDriver(["CMD", ...args])`.
 * - A server: an echo server `CMD --port 0` that prints `listening PORT` on stdout. Then
 *   `runEchoServer(["CMD", ...args])`.
 * - From a shell: `node test/conformance/run.ts [--json FILE] client CMD ARGS...` or
 *   `node test/conformance/run.ts [--json FILE] server CMD ARGS...` prints every case that is
 *   not OK (with the reason) and the totals; `--json` writes every result.
 * - Peers must not send pings of their own (heartbeats) during a case: like Autobahn, the
 *   fuzzer records a ping as an event, so it fails the case. Limits (fragments per message,
 *   message size) must allow section 9: 65536 fragments and 4 MiB messages.
 *
 * **Compression.** A case with `deflate` negotiates permessage-deflate (the fuzzing client
 * offers, the fuzzing server accepts, each as the case says) and fails when the peer does not
 * agree it; every other case offers and accepts no extension, so sections 1–10 run the same
 * against a peer with compression on. The fuzzer compresses with `node:zlib` raw deflate and
 * inflates the peer's messages with the peer's agreed window and context, so a peer that breaks
 * its agreement is caught (test/conformance.deflate.test.ts checks it against `ws` and Python
 * `websockets` with compression on, and against our client and server).
 *
 * Modules: `Wire` (frames, compression contexts and handshake; its framing independent of
 * `src/Codec` so the oracle does not share the bugs it looks for), `Fuzzer` (one case over one
 * connection, grading), `Cases`, `DeflateCases`, `FuzzingServer`, `FuzzingClient`, and the
 * runners below.
 *
 * @since 0.1.0
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as Cases from "./Cases.ts"
import type { CaseDef, CaseResult, Grade, SessionOptions } from "./Fuzzer.ts"
import * as FuzzingClient from "./FuzzingClient.ts"
import * as FuzzingServer from "./FuzzingServer.ts"

export * as Cases from "./Cases.ts"
export * as DeflateCases from "./DeflateCases.ts"
export * as Fuzzer from "./Fuzzer.ts"
export * as FuzzingClient from "./FuzzingClient.ts"
export * as FuzzingServer from "./FuzzingServer.ts"
export * as Wire from "./Wire.ts"

/** A finished run: one result per case in suite order, and how the peer program ended. */
export interface Report {
  readonly results: ReadonlyArray<CaseResult>
  /** Case ids by grade. */
  readonly byGrade: Readonly<Record<Grade, ReadonlyArray<string>>>
  /** The peer program's stderr (last 4 KiB), for failure messages. */
  readonly stderr: string
  /** Exit code (client driver) or undefined (echo server, killed by us). */
  readonly exitCode: number | null | undefined
  /** Whether the client driver called `/updateReports` (undefined for an echo server). */
  readonly reported: boolean | undefined
}

/** Options shared by the runners. */
export interface RunOptions extends SessionOptions {
  /** The cases to run. Default: the whole suite. */
  readonly cases?: ReadonlyArray<CaseDef> | undefined
  /** Working directory for the peer program. Default: the current one. */
  readonly cwd?: string | undefined
  /** Limit for the whole run in milliseconds; the peer is killed after it. Default 120 000. */
  readonly timeoutMs?: number | undefined
}

const makeReport = (
  results: ReadonlyArray<CaseResult>,
  stderr: string,
  exitCode: number | null | undefined,
  reported: boolean | undefined
): Report => {
  const byGrade: Record<Grade, Array<string>> = { OK: [], "NON-STRICT": [], FAILED: [], INFORMATIONAL: [] }
  for (const r of results) byGrade[r.grade].push(r.id)
  return { results, byGrade, stderr, exitCode, reported }
}

/** A case the peer never ran. */
const missing = (def: CaseDef, why: string): CaseResult => ({
  id: def.id,
  grade: "FAILED",
  behavior: "FAILED",
  behaviorClose: "FAILED",
  result: `Missing: ${why}`,
  resultClose: "Missing",
  received: [],
  remoteCloseCode: null,
  durationMs: 0
})

/** Spawns `command` in its own process group so the whole tree can be killed by our pid. */
const spawnPeer = (command: ReadonlyArray<string>, cwd: string | undefined): { child: ChildProcess; stderr: () => string } => {
  const [file, ...args] = command
  const child = spawn(file, args, { cwd, detached: true, stdio: ["ignore", "pipe", "pipe"] })
  let err = ""
  child.stderr?.on("data", (d: Buffer) => {
    err = (err + d.toString()).slice(-4096)
  })
  return { child, stderr: () => err }
}

/** Kills the process group we started (by its pid), TERM first, then KILL. */
const killPeer = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return resolve()
    const pid = child.pid
    const signal = (s: NodeJS.Signals) => {
      try {
        process.kill(-pid, s)
      } catch {
        // already gone
      }
    }
    const hard = setTimeout(() => signal("SIGKILL"), 2000)
    child.once("exit", () => {
      clearTimeout(hard)
      signal("SIGKILL") // grandchildren (npm → sh → node) that outlived the leader
      resolve()
    })
    signal("SIGTERM")
  })

/**
 * Grades a WebSocket client: starts the fuzzing server on 127.0.0.1 and an ephemeral port,
 * runs `command --url ws://127.0.0.1:PORT --agent AGENT`, waits for it to exit (killing it
 * after `timeoutMs`), and returns a result for every case (FAILED "Missing" for a case the
 * driver never ran).
 */
export const runClientDriver = async (
  command: ReadonlyArray<string>,
  options: RunOptions & { readonly agent?: string | undefined } = {}
): Promise<Report> => {
  const cases = options.cases ?? Cases.all
  const agent = options.agent ?? "agent"
  const server = await FuzzingServer.start({ ...options, cases })
  const peer = spawnPeer([...command, "--url", `ws://127.0.0.1:${server.port}`, "--agent", agent], options.cwd)
  let spawnError: string | undefined
  try {
    const exitCode = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => killPeer(peer.child).then(() => resolve(null)), options.timeoutMs ?? 120_000)
      peer.child.once("error", (e) => {
        clearTimeout(timer)
        spawnError = e.message
        resolve(null)
      })
      peer.child.once("exit", (code) => {
        clearTimeout(timer)
        resolve(code)
      })
    })
    // a case's result is recorded when its TCP connection closes, which may trail the exit
    const deadline = Date.now() + 5000
    while (server.running() > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20))
    }
    const got = server.results.get(agent)
    const why = spawnError === undefined ? "the driver never ran this case" : `the driver could not start: ${spawnError}`
    const results = cases.map((def) => got?.get(def.id) ?? missing(def, why))
    return makeReport(results, spawnError ?? peer.stderr(), exitCode, server.reported.has(agent))
  } finally {
    await killPeer(peer.child)
    await server.close()
  }
}

/**
 * Grades a WebSocket server: runs `command --port 0`, waits for `listening PORT` on its stdout,
 * runs every case against it with the fuzzing client, then kills it by pid.
 */
export const runEchoServer = async (command: ReadonlyArray<string>, options: RunOptions = {}): Promise<Report> => {
  const cases = options.cases ?? Cases.all
  const peer = spawnPeer([...command, "--port", "0"], options.cwd)
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = ""
      const timer = setTimeout(() => reject(new Error(`no "listening PORT" line within 15 s; stderr: ${peer.stderr()}`)), 15_000)
      peer.child.stdout?.on("data", (d: Buffer) => {
        out += d.toString()
        const m = /listening (\d+)/.exec(out)
        if (m) {
          clearTimeout(timer)
          resolve(Number(m[1]))
        }
      })
      peer.child.once("exit", (code) => reject(new Error(`echo server exited (${code}) before listening; stderr: ${peer.stderr()}`)))
      peer.child.once("error", (e) => reject(new Error(`echo server ${command.join(" ")} could not start: ${e.message}`)))
    })
    const deadline = Date.now() + (options.timeoutMs ?? 120_000)
    const results: Array<CaseResult> = []
    for (const def of cases) {
      results.push(Date.now() < deadline ? await FuzzingClient.runOne(def, "127.0.0.1", port, options) : missing(def, "run timed out"))
    }
    return makeReport(results, peer.stderr(), undefined, undefined)
  } finally {
    await killPeer(peer.child)
  }
}
