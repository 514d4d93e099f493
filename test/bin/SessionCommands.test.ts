import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, describe, it } from "vitest"
import { WebSocketServer } from "ws"

// `effect-nexus record` against a `ws` server on 127.0.0.1:0, then `effect-nexus replay` on the
// file it wrote (issue #15). The children run the sources with this Node; each is awaited.

const root = path.resolve(import.meta.dirname, "../..")
const bin = path.join(root, "src/bin/effect-nexus.ts")
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nexus-cli-replay-"))

const run = (args: ReadonlyArray<string>) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += String(d)))
    child.stderr.on("data", (d) => (stderr += String(d)))
    child.on("exit", (code) => resolve({ code, stdout, stderr }))
  })

const servers: Array<WebSocketServer> = []
afterAll(() => {
  for (const server of servers) server.close()
})

describe("effect-nexus record / replay", () => {
  it("records a feed with its subscriptions for --duration, keeps the API key out of the file, and replays it with timings", async () => {
    const server = new WebSocketServer({ host: "127.0.0.1", port: 0 })
    servers.push(server)
    await new Promise<void>((done) => server.once("listening", () => done()))
    const port = (server.address() as { port: number }).port
    const keys: Array<string | undefined> = []
    const received: Array<string> = []
    server.on("connection", (ws, request) => {
      keys.push(request.headers["x-api-key"] as string | undefined)
      ws.on("message", (data) => received.push(String(data)))
      let seq = 0
      const timer = setInterval(() => ws.send(JSON.stringify({ seq: ++seq, key: "SECRET-KEY-123 echoed" })), 20)
      ws.on("close", () => clearInterval(timer))
    })
    const file = path.join(dir, "feed.nxs")
    const recorded = await run([
      "record", `ws://127.0.0.1:${port}/`, "--out", file, "--duration", "1500ms", "-H", "X-API-KEY: SECRET-KEY-123", "--subscribe", "btc@trade"
    ])
    assert.strictEqual(recorded.code, 0, recorded.stderr)
    assert.deepStrictEqual(keys, ["SECRET-KEY-123"])
    assert.deepStrictEqual(received.map((r) => JSON.parse(r)), [{ method: "SUBSCRIBE", params: ["btc@trade"], id: 1 }])
    const final = /recorded (\d+) messages, 0 gaps, 1 connects to /.exec(recorded.stdout.trim().split("\n").at(-1)!)
    assert.isNotNull(final, recorded.stdout)
    assert.isAbove(Number(final![1]), 20)
    assert.strictEqual(fs.readFileSync(file).indexOf("SECRET-KEY-123"), -1)

    const replayed = await run(["replay", file])
    assert.strictEqual(replayed.code, 0, replayed.stderr)
    const lines = replayed.stdout.trim().split("\n")
    assert.match(lines[0]!, /^\+0\.000000s META \{"startedAt":\d+,"source":"ws:\/\/127\.0\.0\.1:\d+\/"\}$/)
    assert.match(lines.find((l) => l.includes("IN "))!, /^\+\d+\.\d{6}s IN  "\{\\"seq\\":1,\\"key\\":\\"<redacted> echoed\\"\}"$/)
    assert.match(lines.at(-2)!, /^\+\d+\.\d{6}s END \{\}$/)
    assert.match(lines.at(-1)!, new RegExp(`^\\d+ records \\(${final![1]} messages\\) over 1\\.\\d{3} s, \\d+ bytes$`))
  }, 30_000)

  it("record with a URL that can never connect (not a URL, not ws/wss) is one line on stderr and exit 2, the file untouched", async () => {
    const file = path.join(dir, "kept.nxs")
    fs.writeFileSync(file, "yesterday's session")
    for (const url of ["notaurl", "http://127.0.0.1:1/"]) {
      const result = await run(["record", url, "--out", file, "--duration", "1s"])
      assert.strictEqual(result.code, 2, `${url}: ${JSON.stringify(result)}`)
      assert.strictEqual(result.stdout, "", url)
      assert.match(result.stderr, /^effect-nexus: .*url.*\n$/i, url)
      assert.strictEqual(fs.readFileSync(file, "utf8"), "yesterday's session", url)
    }
  }, 30_000)

  it("replay of a file from a newer format version is one line on stderr and exit 1", async () => {
    const file = path.join(dir, "newer.nxs")
    fs.writeFileSync(file, Uint8Array.of(0x4e, 0x58, 0x53, 0x46, 3, 1, 0, 0))
    const result = await run(["replay", file])
    assert.deepStrictEqual(result, {
      code: 1,
      stdout: "",
      stderr: `effect-nexus: session file ${file}: session file format 3.1 is not supported (this reader reads major version 1)\n`
    })
  }, 30_000)
})
