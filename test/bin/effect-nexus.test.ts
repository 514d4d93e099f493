import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as http from "node:http"
import type { IncomingHttpHeaders } from "node:http"
import * as https from "node:https"
import * as net from "node:net"
import * as path from "node:path"
import { afterAll, afterEach, assert, beforeAll, describe, it } from "vitest"
import { type WebSocket as WsSocket, WebSocketServer } from "ws"
import { freePort } from "../support/peers.ts"
import { makeThrowawayCa, type ThrowawayCa } from "../support/throwawayCa.ts"

// The CLI runs as a child process (the same Node, src/bin/effect-nexus.ts straight from the
// sources) against `ws` servers on 127.0.0.1:0. Every test waits for its children to exit; any
// still running at the end of the file (a failed test) are killed by pid. Servers are closed
// after each test (the tests that use one run sequentially; the argument tests concurrently).

const root = path.resolve(import.meta.dirname, "../..")
const bin = path.join(root, "src/bin/effect-nexus.ts")

interface Run {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  readonly exited: Promise<number | string>
}

const children: Array<ChildProcess> = []
const servers: Array<WebSocketServer> = []

afterAll(() => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  }
})

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) =>
    new Promise<void>((done) => {
      for (const client of server.clients) client.terminate()
      server.close(() => done())
    })
  ))
})

/** Starts the CLI; `stdin` is written and ended when given, left open otherwise. */
const cli = (args: ReadonlyArray<string>, stdin?: string): Run => {
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, stdio: "pipe" })
  children.push(child)
  let out = ""
  let err = ""
  child.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()))
  child.stderr!.on("data", (chunk: Buffer) => (err += chunk.toString()))
  if (stdin !== undefined) child.stdin!.end(stdin)
  const exited = new Promise<number | string>((done) =>
    child.once("exit", (code, signal) => done(code ?? signal ?? "unknown"))
  )
  return { child, stdout: () => out, stderr: () => err, exited }
}

/** A `ws` server on 127.0.0.1:0 (optionally over TLS) that records upgrades and closes. */
interface Server {
  readonly url: string
  readonly upgrades: Array<IncomingHttpHeaders>
  readonly closes: Array<readonly [number, string]>
  readonly connected: Promise<WsSocket>
}

const serve = (
  onMessage: (socket: WsSocket, data: Buffer, isBinary: boolean) => void,
  tls?: { readonly key: string; readonly cert: string },
  autoPong = true,
  onConnection: (socket: WsSocket) => void = () => {}
): Promise<Server> =>
  new Promise((done) => {
    const upgrades: Array<IncomingHttpHeaders> = []
    const closes: Array<readonly [number, string]> = []
    let connected!: (socket: WsSocket) => void
    const connection = new Promise<WsSocket>((resolve) => (connected = resolve))
    const httpsServer = tls === undefined ? undefined : https.createServer(tls)
    const server = httpsServer === undefined
      ? new WebSocketServer({ host: "127.0.0.1", port: 0, autoPong })
      : new WebSocketServer({ server: httpsServer, autoPong })
    servers.push(server)
    server.on("connection", (socket, request) => {
      upgrades.push(request.headers)
      socket.on("message", (data: Buffer, isBinary) => onMessage(socket, data, isBinary))
      socket.on("close", (code, reason) => closes.push([code, reason.toString()]))
      connected(socket)
      onConnection(socket)
    })
    const ready = (port: number) =>
      done({ url: `${tls === undefined ? "ws" : "wss"}://127.0.0.1:${port}/feed`, upgrades, closes, connected: connection })
    if (httpsServer === undefined) server.on("listening", () => ready((server.address() as net.AddressInfo).port))
    else {
      server.on("close", () => httpsServer.close())
      httpsServer.listen(0, "127.0.0.1", () => ready((httpsServer.address() as net.AddressInfo).port))
    }
  })

const echo = (socket: WsSocket, data: Buffer, isBinary: boolean) => socket.send(data, { binary: isBinary })

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
const closedPort = freePort

/** The server's record of closes, once its `close` event (which follows the TCP close) fired. */
const closesOf = async (server: Server): Promise<Array<readonly [number, string]>> => {
  const until = Date.now() + 5_000
  while (server.closes.length === 0 && Date.now() < until) await new Promise((done) => setTimeout(done, 5))
  return server.closes
}

const lines = (text: string): Array<string> => text.split("\n").filter((line) => line !== "")

const noStackTrace = (text: string) => assert.notMatch(text, /^\s+at /m, `stack trace in: ${text}`)

describe("effect-nexus ws", () => {
  it("prints the echo of every piped stdin line, then closes with 1000 at EOF and exits 0", async () => {
    const server = await serve(echo)
    const run = cli(["ws", server.url], "hello\nwörld ✓\n\nlast line without newline")
    assert.strictEqual(await run.exited, 0, run.stderr())
    assert.deepStrictEqual(run.stdout().split("\n"), ["hello", "wörld ✓", "", "last line without newline", ""])
    assert.deepStrictEqual(await closesOf(server), [[1000, ""]])
    assert.deepStrictEqual(lines(run.stderr()), ["effect-nexus: closed: code 1000"])
  })

  it("prints every message the server sent before answering the close that stdin EOF started", async () => {
    const count = 3000
    const server = await serve((socket) => {
      for (let i = 0; i < count; i++) socket.send(`tick ${i}`)
    })
    const run = cli(["ws", server.url], "go\n")
    assert.strictEqual(await run.exited, 0, run.stderr())
    const printed = lines(run.stdout())
    assert.lengthOf(printed, count, run.stderr())
    assert.strictEqual(printed[count - 1], `tick ${count - 1}`)
    assert.deepStrictEqual(await closesOf(server), [[1000, ""]])
  })

  it("prints every message already in flight when stdin EOF starts the close", async () => {
    const count = 3000
    // all of them are written before the server can read the client's close frame
    const server = await serve(() => {}, undefined, true, (socket) => {
      for (let i = 0; i < count; i++) socket.send(`tick ${i}`)
    })
    const run = cli(["ws", server.url], "")
    assert.strictEqual(await run.exited, 0, run.stderr())
    const printed = lines(run.stdout())
    assert.lengthOf(printed, count, run.stderr())
    assert.strictEqual(printed[count - 1], `tick ${count - 1}`)
    assert.deepStrictEqual(await closesOf(server), [[1000, ""]])
  })

  it("prints a binary message as its length and a hex prefix", async () => {
    const server = await serve((socket) => {
      socket.send(Buffer.from([0xde, 0xad, 0xbe, 0xef]), { binary: true })
      socket.send(Buffer.alloc(40, 0xab), { binary: true })
    })
    const run = cli(["ws", server.url])
    run.child.stdin!.write("send me bytes\n")
    const socket = await server.connected
    await new Promise((done) => setTimeout(done, 100))
    socket.close(1000, "done")
    assert.strictEqual(await run.exited, 0, run.stderr())
    assert.deepStrictEqual(lines(run.stdout()), [
      "<binary 4 bytes: deadbeef>",
      `<binary 40 bytes: ${"ab".repeat(16)}…>`
    ])
  })

  it("sends every --header and the offered --subprotocol values in the upgrade request", async () => {
    const server = await serve(echo)
    const run = cli([
      "ws",
      server.url,
      "--header",
      "X-Api-Key: k-123",
      "-H",
      "X-Trace:  t 1 ",
      "--subprotocol",
      "v2.feed",
      "--subprotocol",
      "v1.feed"
    ], "")
    assert.strictEqual(await run.exited, 0, run.stderr())
    const headers = server.upgrades[0]!
    assert.strictEqual(headers["x-api-key"], "k-123")
    assert.strictEqual(headers["x-trace"], "t 1")
    assert.strictEqual(headers["sec-websocket-protocol"], "v2.feed, v1.feed")
    // ws picks the first offered protocol; the CLI reports the agreed one
    assert.include(run.stderr(), "effect-nexus: subprotocol: v2.feed\n")
  })

  it("reports the server's close code and reason on stderr and exits 0 while stdin is still open", async () => {
    const server = await serve((socket, data) => socket.close(4001, `bye ${data.toString()}`))
    const run = cli(["ws", server.url])
    run.child.stdin!.write("alice\n")
    assert.strictEqual(await run.exited, 0, run.stderr())
    assert.deepStrictEqual(lines(run.stderr()), [`effect-nexus: closed by the server: code 4001, reason "bye alice"`])
    assert.deepStrictEqual(await closesOf(server), [[4001, "bye alice"]])
    assert.strictEqual(run.stdout(), "")
  })

  it("does not read stdin with --listen-only: prints until the server closes", async () => {
    const received: Array<string> = []
    const server = await serve((_socket, data) => received.push(data.toString()), undefined, true, (socket) => {
      socket.send("only news")
      setTimeout(() => socket.close(1000, "end of feed"), 200)
    })
    // stdin ends at once: without the flag that would close the session before the news
    const run = cli(["ws", server.url, "--listen-only"], "not to be sent\n")
    assert.strictEqual(await run.exited, 0, run.stderr())
    assert.strictEqual(run.stdout(), "only news\n")
    assert.deepStrictEqual(received, [])
    assert.deepStrictEqual(lines(run.stderr()), [`effect-nexus: closed by the server: code 1000, reason "end of feed"`])
  })

  it("closes the socket with 1001 on SIGINT and exits 130", async () => {
    const server = await serve(echo)
    const run = cli(["ws", server.url, "--ping-interval", "100ms"])
    run.child.stdin!.write("ping?\n")
    await server.connected
    while (run.stdout() !== "ping?\n") await new Promise((done) => setTimeout(done, 10))
    run.child.kill("SIGINT")
    assert.strictEqual(await run.exited, 130)
    assert.deepStrictEqual(await closesOf(server), [[1001, ""]])
    assert.strictEqual(run.stderr(), "")
  })

  it("fails with one heartbeat line and exit 1 when a silent server leaves 3 ping intervals unanswered", async () => {
    const server = await serve(() => {}, undefined, false)
    const started = Date.now()
    const run = cli(["ws", server.url, "--ping-interval", "100ms"])
    assert.strictEqual(await run.exited, 1)
    assert.isAtLeast(Date.now() - started, 300)
    assert.match(run.stderr(), /^effect-nexus: WebSocket 127\.0\.0\.1:\d+: heartbeat timed out after 300ms\n$/)
  })

  it("fails an unreachable URL with exactly one stderr line and exit 1", async () => {
    const port = await closedPort()
    const run = cli(["ws", `ws://127.0.0.1:${port}/`], "never sent\n")
    assert.strictEqual(await run.exited, 1)
    assert.strictEqual(run.stderr(), `effect-nexus: WebSocket 127.0.0.1:${port}: connect failed: connection refused\n`)
    assert.strictEqual(run.stdout(), "")
  })

  it("reports a server that answers the upgrade with 404 in one line and exit 1", async () => {
    const plain = http.createServer((_request, response) => response.writeHead(404).end("no socket here"))
    await new Promise<void>((done) => plain.listen(0, "127.0.0.1", done))
    try {
      const { port } = plain.address() as net.AddressInfo
      const run = cli(["ws", `ws://127.0.0.1:${port}/missing`], "")
      assert.strictEqual(await run.exited, 1)
      assert.strictEqual(
        run.stderr(),
        `effect-nexus: WebSocket 127.0.0.1:${port}: handshake failed: expected 101 Switching Protocols, got 404\n`
      )
    } finally {
      await new Promise((done) => plain.close(done))
    }
  })

  it("--proxy tunnels through an HTTP CONNECT proxy: the proxy sees CONNECT for the server's address", async () => {
    const server = await serve(echo)
    const target = new URL(server.url)
    const heads: Array<string> = []
    // a minimal CONNECT proxy on 127.0.0.1:0 that pipes the tunnel to the ws server
    const proxy = net.createServer((client) => {
      client.once("data", (head: Buffer) => {
        heads.push(head.toString("latin1").split("\r\n")[0]!)
        const upstream = net.connect({ host: "127.0.0.1", port: Number(target.port) }, () => {
          client.write("HTTP/1.1 200 Connection established\r\n\r\n")
          client.pipe(upstream).pipe(client)
        })
        upstream.on("error", () => client.destroy())
      })
      client.on("error", () => {})
    })
    await new Promise<void>((done) => proxy.listen(0, "127.0.0.1", done))
    try {
      const proxyPort = (proxy.address() as net.AddressInfo).port
      const run = cli(["ws", "--proxy", `http://127.0.0.1:${proxyPort}`, server.url], "via proxy\n")
      assert.strictEqual(await run.exited, 0, run.stderr())
      assert.strictEqual(run.stdout(), "via proxy\n")
      assert.deepStrictEqual(heads, [`CONNECT 127.0.0.1:${target.port} HTTP/1.1`])
    } finally {
      proxy.close()
    }
  })

  it("--proxy to a port nobody listens on fails with one line naming the proxy, exit 1", async () => {
    const proxyPort = await closedPort()
    const run = cli(["ws", "--proxy", `http://127.0.0.1:${proxyPort}`, "ws://127.0.0.1:1/"], "")
    assert.strictEqual(await run.exited, 1)
    assert.strictEqual(
      run.stderr(),
      `effect-nexus: WebSocket 127.0.0.1:1: proxy 127.0.0.1:${proxyPort} unreachable (connect failed: connection refused (connect ECONNREFUSED 127.0.0.1:${proxyPort}))\n`
    )
  })

  it("refuses a URL that is not ws: or wss: with one line and exit 1", async () => {
    const run = cli(["ws", "http://127.0.0.1:1/"], "")
    assert.strictEqual(await run.exited, 1)
    assert.strictEqual(run.stderr(), `effect-nexus: WebSocket http://127.0.0.1:1/: URL refused: scheme "http" is not ws or wss\n`)
  })
})

describe.concurrent("effect-nexus arguments", () => {
  it("rejects an unknown flag with one line naming it and exit 2", async () => {
    const run = cli(["ws", "ws://127.0.0.1:1/", "--no-such-flag"], "")
    assert.strictEqual(await run.exited, 2)
    assert.strictEqual(
      run.stderr(),
      "effect-nexus: Unrecognized flag: --no-such-flag in command effect-nexus ws (try effect-nexus ws --help)\n"
    )
    assert.strictEqual(run.stdout(), "")
  })

  it("rejects a malformed --header and --ping-interval with one line each", async () => {
    const header = cli(["ws", "ws://127.0.0.1:1/", "--header", "no colon here"], "")
    const interval = cli(["ws", "ws://127.0.0.1:1/", "--ping-interval", "soon"], "")
    assert.strictEqual(await header.exited, 2)
    assert.strictEqual(await interval.exited, 2)
    assert.strictEqual(
      header.stderr(),
      `effect-nexus: Invalid value for flag --header: "no colon here". Expected "Name: value" with a token (RFC 9110) name (try effect-nexus ws --help)\n`
    )
    assert.strictEqual(
      interval.stderr(),
      `effect-nexus: Invalid value for flag --ping-interval: "soon". Expected a positive duration such as 500ms, 5s or 2m (try effect-nexus ws --help)\n`
    )
  })

  it("rejects a missing URL and an unknown subcommand or bench suite with one line and exit 2", async () => {
    const runs = [cli(["ws"], ""), cli(["connect"], ""), cli(["bench", "everything"], "")]
    for (const run of runs) {
      assert.strictEqual(await run.exited, 2)
      assert.lengthOf(lines(run.stderr()), 1, run.stderr())
      noStackTrace(run.stderr())
    }
    assert.strictEqual(runs[0]!.stderr(), "effect-nexus: Missing required argument: url (try effect-nexus ws --help)\n")
    assert.strictEqual(runs[1]!.stderr(), `effect-nexus: Unknown subcommand "connect" for "effect-nexus" (try effect-nexus --help)\n`)
    assert.include(runs[2]!.stderr(), `Invalid value for argument <suite>: "everything"`)
  })

  it("lists the subcommands in --help and exits 0", async () => {
    const run = cli(["--help"], "")
    assert.strictEqual(await run.exited, 0)
    const out = run.stdout()
    assert.match(out, /SUBCOMMANDS\n\s+ws\s+WebSocket client/)
    assert.match(out, /\n\s+demo\s+Run the demo exchange/)
    assert.match(out, /\n\s+bench\s+Run the benchmarks/)
    assert.strictEqual(run.stderr(), "")
  })

  it("documents every ws flag in ws --help, the insecure one saying it is insecure", async () => {
    const run = cli(["ws", "--help"], "")
    assert.strictEqual(await run.exited, 0)
    for (const flag of ["--header", "--subprotocol", "--ping-interval", "--connect-timeout", "--listen-only"]) {
      assert.include(run.stdout(), flag)
    }
    assert.match(run.stdout(), /--insecure-skip-tls-verify-dangerous\s+INSECURE:/)
  })
})

describe("effect-nexus demo", () => {
  it("runs the main job for --duration seconds, prints its summary and exits 0", async () => {
    const run = cli(["demo", "--duration", "1", "--drop-every", "1"], "")
    assert.strictEqual(await run.exited, 0, run.stderr())
    assert.match(run.stdout(), /^demo exchange: feed ws:\/\/127\.0\.0\.1:\d+\/ws, orders http:\/\/127\.0\.0\.1:\d+; running 1 s\n/)
    assert.match(run.stdout(), /\nsummary after 1\.\d s:\n  quotes received   [1-9]\d* /)
    assert.strictEqual(run.stderr(), "")
  })
})

describe("effect-nexus bench", () => {
  it("runs bench/codec.ts as a child of the same Node, passing --filter on and streaming its table", async () => {
    // a filter that matches nothing: the script starts, prints an empty table and its machine line
    const run = cli(["bench", "codec", "--filter", "^no such benchmark$"], "")
    assert.strictEqual(await run.exited, 0, run.stderr())
    assert.match(run.stdout(), /^\| case \| ours \|/m)
    assert.include(run.stdout(), `node ${process.version}`)
    assert.notInclude(run.stdout(), "| parse")
  })
})

const hasOpenssl = (() => {
  try {
    execFileSync("openssl", ["version"], { stdio: "pipe" })
    return true
  } catch {
    return false
  }
})()
if (!hasOpenssl) console.warn("skipping the wss:// CLI tests: openssl is missing (apt-get install -y openssl)")

describe.skipIf(!hasOpenssl)("effect-nexus ws over TLS (throwaway CA from openssl)", () => {
  let ca: ThrowawayCa | undefined
  beforeAll(() => {
    ca = makeThrowawayCa()
  })
  afterAll(() => ca?.remove())

  it("fails an untrusted certificate with one line naming the TLS fault", async () => {
    const server = await serve(echo, ca!)
    const run = cli(["ws", server.url], "hi\n")
    assert.strictEqual(await run.exited, 1)
    assert.lengthOf(lines(run.stderr()), 1, run.stderr())
    assert.match(run.stderr(), /^effect-nexus: WebSocket 127\.0\.0\.1:\d+: TLS failed: CertificateUntrusted/)
  })

  it("connects with --insecure-skip-tls-verify-dangerous after a warning line on stderr", async () => {
    const server = await serve(echo, ca!)
    const run = cli(["ws", server.url, "--insecure-skip-tls-verify-dangerous"], "over tls\n")
    assert.strictEqual(await run.exited, 0, run.stderr())
    assert.strictEqual(run.stdout(), "over tls\n")
    const [warning, ...rest] = lines(run.stderr())
    assert.match(warning!, /^effect-nexus: WARNING: --insecure-skip-tls-verify-dangerous .*NOT verified/)
    assert.deepStrictEqual(rest, ["effect-nexus: closed: code 1000"])
  })
})
