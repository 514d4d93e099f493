import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { type ChildProcess, spawn } from "node:child_process"
import * as http from "node:http"
import { fileURLToPath } from "node:url"
import { afterEach, assert, describe, it } from "vitest"
import { WebSocket } from "ws"
import * as Exchange from "../../src/Demo/Exchange.ts"
import { closeHttp, listen } from "../support/httpServer.ts"
import { freePort } from "../support/peers.ts"
import { closeWs, listenWs } from "../support/wsServer.ts"

// The seeds' recipes in examples/, each run as its own process (`node examples/X.ts`, as a user
// runs it) against peers this file starts on 127.0.0.1:0: a `ws` server, a `node:http` server,
// `ws` clients, and the project's demo exchange. What is asserted is what the peers saw and
// what the recipe printed; every process is bounded and killed by pid if it is not.

const ROOT = fileURLToPath(new URL("../../", import.meta.url))
const NODE = fileURLToPath(new URL("../../node_modules/.bin/node", import.meta.url))

interface Run {
  readonly child: ChildProcess
  /** stdout so far. */
  readonly stdout: () => string
  /** Resolves with the exit code and both outputs; kills the process after `timeoutMs`. */
  readonly done: Promise<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }>
  /** Resolves with the first stdout match of `pattern`. */
  readonly waitFor: (pattern: RegExp) => Promise<RegExpExecArray>
}

const running = new Set<ChildProcess>()
afterEach(() => {
  for (const child of running) if (child.exitCode === null) process.kill(child.pid!, "SIGKILL")
  running.clear()
})

const runRecipe = (
  file: string,
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
  timeoutMs = 15_000
): Run => {
  const child = spawn(NODE, [`examples/${file}`, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  running.add(child)
  let stdout = ""
  let stderr = ""
  const watchers: Array<() => void> = []
  child.stdout!.on("data", (chunk) => {
    stdout += String(chunk)
    for (const w of watchers) w()
  })
  child.stderr!.on("data", (chunk) => (stderr += String(chunk)))
  const timer = setTimeout(() => process.kill(child.pid!, "SIGKILL"), timeoutMs)
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  )
  const waitFor = (pattern: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const m = pattern.exec(stdout)
        if (m !== null) resolve(m)
      }
      watchers.push(check)
      check()
      void done.then(() => reject(new Error(`exited before printing ${pattern}; stdout:\n${stdout}\nstderr:\n${stderr}`)))
    })
  return { child, stdout: () => stdout, done, waitFor }
}

const quote = (seq: number) => JSON.stringify({ type: "quote", symbol: "BTC-USD", bid: 100 + seq, ask: 101 + seq, seq })

describe("examples/exchange-feed.ts", () => {
  it("subscribes, prints quotes, and after the exchange closes the session reconnects and subscribes again", async () => {
    // a ws exchange: acks the subscription, sends 3 quotes per connection (seq continuing), and
    // closes the first connection with 1012 (service restart) once they are out
    const { port, server } = await listenWs()
    const subscriptions: Array<{ connection: number; request: unknown }> = []
    let connections = 0
    let seq = 0
    server.on("connection", (ws) => {
      const connection = ++connections
      ws.on("message", (data) => {
        const request = JSON.parse(String(data)) as { id: number }
        subscriptions.push({ connection, request })
        ws.send(JSON.stringify({ result: null, id: request.id }))
        for (let i = 0; i < 3; i++) ws.send(quote(++seq))
        if (connection === 1) ws.close(1012, "service restart")
      })
    })
    try {
      const run = runRecipe("exchange-feed.ts", [
        `ws://127.0.0.1:${port}/ws`,
        "--topics",
        "BTC-USD@quote,ETH-USD@quote",
        "--count",
        "6"
      ])
      const { code, stdout, stderr } = await run.done
      assert.strictEqual(code, 0, stderr)
      assert.deepStrictEqual(subscriptions, [
        { connection: 1, request: { method: "SUBSCRIBE", params: ["BTC-USD@quote", "ETH-USD@quote"], id: 1 } },
        { connection: 2, request: { method: "SUBSCRIBE", params: ["BTC-USD@quote", "ETH-USD@quote"], id: 2 } }
      ])
      const lines = stdout.trimEnd().split("\n")
      assert.deepStrictEqual(
        lines.filter((l) => l.startsWith("quote ")),
        [1, 2, 3, 4, 5, 6].map((n) => `quote BTC-USD bid=${100 + n} ask=${101 + n} seq=${n}`)
      )
      assert.deepStrictEqual(lines.filter((l) => l.startsWith("connected")), ["connected session=1", "connected session=2"])
      // 1012 is not a clean end: the feed reports why and backs off (issue #9)
      assert.match(stdout, /gap after [^:]+: WebSocket 127\.0\.0\.1:\d+: the server closed the feed with 1012 \(Service Restart, "service restart"\); reconnecting/)
      assert.strictEqual(lines.at(-1), "done: quotes=6 sessions=2 gaps=1")
    } finally {
      await closeWs(server)
    }
  })
})

describe("examples/exchange-feed.ts after failures", () => {
  it("keeps dialing with backoff while the exchange refuses the upgrade, then subscribes once it accepts", async () => {
    // the first two upgrades are answered 503; the third connection is served
    let attempts = 0
    const { port, server } = await listenWs({
      verifyClient: (_info, callback) => callback(++attempts > 2, 503, "maintenance")
    })
    const subscriptions: Array<unknown> = []
    server.on("connection", (ws) =>
      ws.on("message", (data) => {
        subscriptions.push(JSON.parse(String(data)))
        for (let seq = 1; seq <= 3; seq++) ws.send(quote(seq))
      }))
    try {
      const { code, stdout, stderr } = await runRecipe("exchange-feed.ts", [`ws://127.0.0.1:${port}/ws`, "--count", "3"]).done
      assert.strictEqual(code, 0, stderr)
      assert.strictEqual(attempts, 3)
      assert.deepStrictEqual(subscriptions, [{ method: "SUBSCRIBE", params: ["BTC-USD@quote"], id: 1 }])
      // refused dials are not sessions: no gap is reported for them
      assert.deepStrictEqual(stdout.trimEnd().split("\n").slice(1), [
        "connected session=1",
        "quote BTC-USD bid=101 ask=102 seq=1",
        "quote BTC-USD bid=102 ask=103 seq=2",
        "quote BTC-USD bid=103 ask=104 seq=3",
        "done: quotes=3 sessions=1 gaps=0"
      ])
    } finally {
      await closeWs(server)
    }
  })
})

describe("examples/rest-pool.ts", () => {
  it("retries the GET after a reset, sends the failed POST exactly once, and rejects the order at once when every slot is leased", async () => {
    // node:http origin: the first GET and the first POST lose their connection with no answer
    const seen: Array<{ method: string; url: string; body: string; apiKey: string | undefined }> = []
    const server = http.createServer((req, res) => {
      let body = ""
      req.on("data", (chunk) => (body += String(chunk)))
      req.on("end", () => {
        seen.push({ method: req.method!, url: req.url!, body, apiKey: req.headers["x-api-key"] as string | undefined })
        const first = seen.filter((r) => r.method === req.method).length === 1
        if (first) return req.socket.destroy()
        res.setHeader("Content-Type", "application/json")
        res.end(JSON.stringify({ symbol: "BTC-USD", seq: 42 }))
      })
    })
    const port = await listen(server)
    try {
      const run = runRecipe("rest-pool.ts", [`http://127.0.0.1:${port}`, "--connections", "2"], {
        NEXUS_REST_API_KEY: "k-123"
      })
      const { code, stdout, stderr } = await run.done
      assert.strictEqual(code, 0, stderr)
      const order = JSON.stringify({ symbol: "BTC-USD", side: "BUY", qty: 1, price: 64250, clientOrderId: "recipe-1" })
      assert.deepStrictEqual(seen, [
        { method: "GET", url: "/api/v3/snapshot?symbol=BTC-USD", body: "", apiKey: "k-123" },
        { method: "GET", url: "/api/v3/snapshot?symbol=BTC-USD", body: "", apiKey: "k-123" },
        { method: "POST", url: "/api/v3/order", body: order, apiKey: "k-123" }
      ])
      const lines = stdout.trimEnd().split("\n")
      assert.strictEqual(lines[0], `pool of 2 connections to 127.0.0.1:${port}/api/v3`)
      assert.strictEqual(lines[1], `GET /snapshot → 200 {"symbol":"BTC-USD","seq":42} (attempts: 2)`)
      assert.match(lines[2]!, /^POST \/order failed, not retried: HTTP exchange with 127\.0\.0\.1:\d+ failed: .* \(request bytes were sent\)$/)
      assert.strictEqual(
        lines[3],
        `POST /order with all 2 connections leased rejected at once: no healthy idle connection to 127.0.0.1:${port}: order rejected without sending`
      )
      assert.match(lines[4]!, /^pool: 2 idle, 0 in use, 0 reconnecting, [1-9]\d* reconnects$/)
    } finally {
      await closeHttp(server)
    }
  })
})

describe("examples/gateway.ts", () => {
  it("serves 8 ws clients at once and broadcasts every client's message to all of them, then ends by itself", async () => {
    const N = 8
    const run = runRecipe("gateway.ts", ["--port", "0", "--clients", String(N), "--seconds", "15"])
    const url = (await run.waitFor(/^listening on (ws:\/\/127\.0\.0\.1:\d+)$/m))[1]!
    const clients = Array.from({ length: N }, () => new WebSocket(url))
    const received = clients.map(() => [] as Array<string>)
    // each client speaks once every client has been welcomed (is in the broadcast set)
    let welcomed = 0
    const allHeard = Promise.all(clients.map((ws, i) =>
      new Promise<void>((resolve, reject) => {
        ws.on("error", reject)
        ws.on("message", (data) => {
          received[i]!.push(String(data))
          if (received[i]!.length === 1 && ++welcomed === N) clients.forEach((c, j) => c.send(`hello from ${j}`))
          if (received[i]!.length === N + 1) {
            ws.close(1000)
            resolve()
          }
        })
      })
    ))
    await allHeard
    const { code, stdout, stderr } = await run.done
    assert.strictEqual(code, 0, stderr)
    const hellos = Array.from({ length: N }, (_, j) => `hello from ${j}`)
    received.forEach((messages) => {
      assert.match(messages[0]!, /^welcome [1-8]$/)
      assert.deepStrictEqual([...messages.slice(1)].sort(), hellos)
    })
    assert.deepStrictEqual(new Set(received.map((m) => m[0])).size, N)
    assert.strictEqual(stdout.match(/^client \d+ connected from 127\.0\.0\.1:\d+/gm)?.length, N)
    assert.strictEqual(stdout.match(/^client \d+ left/gm)?.length, N)
    assert.strictEqual(stdout.trimEnd().split("\n").at(-1), `done: served ${N} clients, broadcast ${N} messages, ${N * N} deliveries`)
  })

  it("with --workers 2, two processes share the port and every broadcast reaches the clients of both; SIGTERM stops them all", async () => {
    const N = 12
    const run = runRecipe("gateway.ts", ["--port", "0", "--workers", "2", "--seconds", "30"], {}, 40_000)
    const url = (await run.waitFor(/^listening on (ws:\/\/127\.0\.0\.1:\d+)$/m))[1]!
    const clients = Array.from({ length: N }, () => new WebSocket(url))
    const received = clients.map(() => [] as Array<string>)
    let welcomed = 0
    await Promise.all(clients.map((ws, i) =>
      new Promise<void>((resolve, reject) => {
        ws.on("error", reject)
        ws.on("message", (data) => {
          received[i]!.push(String(data))
          if (received[i]!.length === 1 && ++welcomed === N) clients.forEach((c, j) => c.send(`hello from ${j}`))
          if (received[i]!.length === N + 1) resolve()
        })
      })
    ))
    const hellos = Array.from({ length: N }, (_, j) => `hello from ${j}`).sort()
    received.forEach((messages) => assert.deepStrictEqual([...messages.slice(1)].sort(), hellos))
    // the kernel spread the clients over both workers (all 12 on one: odds 1 in 2048)
    const workers = new Set(run.stdout().match(/^\[worker \d\] client \d+ connected/gm)?.map((l) => l.slice(0, 10)))
    assert.deepStrictEqual([...workers].sort(), ["[worker 1]", "[worker 2]"])
    clients.forEach((c) => c.close(1000))
    process.kill(run.child.pid!, "SIGTERM")
    // the workers inherit the output pipes: `done` waits for every one of them to exit
    await run.done
  }, 60_000)

  it("survives a client that fails the handshake and keeps serving the next one", async () => {
    const run = runRecipe("gateway.ts", ["--port", "0", "--clients", "1", "--seconds", "15"])
    const port = (await run.waitFor(/^listening on ws:\/\/127\.0\.0\.1:(\d+)$/m))[1]!
    // a plain HTTP GET is not an upgrade: refused with a 4xx, the gateway carries on
    const status = await new Promise<number>((resolve, reject) =>
      http.get(`http://127.0.0.1:${port}/`, (res) => {
        res.resume()
        resolve(res.statusCode!)
      }).on("error", reject)
    )
    assert.isAtLeast(status, 400)
    assert.isBelow(status, 500)
    await run.waitFor(/^handshake failed: /m)
    const ws = new WebSocket(`ws://127.0.0.1:${port}`)
    const first = await new Promise<string>((resolve, reject) => {
      ws.once("message", (data) => resolve(String(data)))
      ws.once("error", reject)
    })
    assert.strictEqual(first, "welcome 1")
    ws.close(1000)
    const { code, stdout } = await run.done
    assert.strictEqual(code, 0)
    assert.strictEqual(stdout.trimEnd().split("\n").at(-1), "done: served 1 clients, broadcast 0 messages, 0 deliveries")
  })
})

describe("examples/combined.ts", () => {
  const withExchange = async <A>(
    options: Exchange.Options,
    use: (exchange: Exchange.Exchange) => Promise<A>
  ): Promise<A> => {
    const scope = Effect.runSync(Scope.make())
    try {
      const exchange = await Effect.runPromise(Scope.provide(Exchange.start(options), scope))
      return await use(exchange)
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }

  it("takes both endpoints from NEXUS_* variables: a snapshot on connect, an order every 10th quote, all seen by the exchange", () =>
    withExchange({ dropEvery: "never" }, async (exchange) => {
      const run = runRecipe("combined.ts", ["--quotes", "40", "--order-every", "10"], {
        NEXUS_REST_URL: exchange.restUrl,
        NEXUS_REST_BASE_PATH: "/api/v3",
        NEXUS_REST_CONNECTIONS: "2",
        NEXUS_FEED_URL: exchange.feedUrl,
        NEXUS_FEED_SUBSCRIPTIONS: "BTC-USD@quote"
      })
      const { code, stdout, stderr } = await run.done
      assert.strictEqual(code, 0, stderr)
      const lines = stdout.trimEnd().split("\n")
      assert.match(lines[0]!, /^session 1: snapshot 200 \{"symbol":"BTC-USD","seq":\d+\}$/)
      const orders = lines.filter((l) => / order → 200 \{"orderId":\d+,"status":"NEW"\}$/.test(l))
      assert.strictEqual(orders.length, 4)
      assert.match(lines.at(-1)!, /^done: quotes=40 sessions=1 snapshots=1 orders ok=4 failed=0; pool 2 idle, 0 reconnects$/)
      assert.strictEqual(exchange.stats.ordersReceived, 4)
      assert.strictEqual(exchange.stats.feedConnections, 1)
      assert.strictEqual(exchange.stats.restConnections, 2)
    }))

  it("with --rest/--feed, rides out the exchange resetting every connection: the feed comes back, resyncs each session, and no order is sent twice", () =>
    withExchange({ dropEvery: "400 millis" }, async (exchange) => {
      const run = runRecipe("combined.ts", [
        "--rest",
        exchange.restUrl,
        "--feed",
        exchange.feedUrl,
        "--quotes",
        "100000000",
        "--order-every",
        "200",
        "--seconds",
        "1.5"
      ])
      const { code, stdout, stderr } = await run.done
      assert.strictEqual(code, 0, stderr)
      const done = /^done: quotes=(\d+) sessions=(\d+) snapshots=(\d+) orders ok=(\d+) failed=(\d+);/m.exec(stdout)
      assert.isNotNull(done, stdout)
      const [quotes, sessions, snapshots, ok, failed] = done!.slice(1).map(Number) as [number, number, number, number, number]
      assert.isAbove(quotes, 0)
      assert.isAtLeast(exchange.stats.drops, 2)
      assert.isAtLeast(sessions, 2)
      // a gap after every session but the last, which may also have ended before the stop
      assert.include([sessions - 1, sessions], stdout.match(/^feed gap after /gm)?.length)
      // every session asked for a snapshot (the last may have been cut short by the stop); a
      // reset in the middle of one may fail it
      assert.isAtLeast(stdout.match(/^session \d+: snapshot /gm)?.length ?? 0, sessions - 1)
      assert.isAtLeast(snapshots, 1)
      // the stop lets the order in flight finish: every order the exchange saw was answered or
      // failed on our side exactly once, never sent again
      assert.isAtLeast(exchange.stats.ordersReceived, ok)
      assert.isAtMost(exchange.stats.ordersReceived, ok + failed)
    }))
})

describe("the recipes as programs", () => {
  it("a bad argument is one line and the usage, exit 2, before any connection", async () => {
    const results = await Promise.all([
      runRecipe("exchange-feed.ts", ["ws://127.0.0.1:1/ws", "--count", "many"]).done,
      runRecipe("gateway.ts", ["--bogus"]).done
    ])
    assert.deepStrictEqual(results.map((r) => [r.code, r.stdout]), [[2, ""], [2, ""]])
    assert.strictEqual(
      results[0]!.stderr,
      `exchange-feed: --count must be a number of at least 1, got "many"\n` +
        `usage: node examples/exchange-feed.ts [URL] [--topics a,b] [--count N] [--seconds S]\n`
    )
    assert.match(results[1]!.stderr, /^gateway: Unknown option '--bogus'.*\nusage: node examples\/gateway\.ts .*\n$/)
  })

  it("an origin that refuses the connection is one line naming it, exit 1", async () => {
    // a port that was just free on 127.0.0.1: nothing listens there
    const port = await freePort()
    const { code, stderr } = await runRecipe("rest-pool.ts", [`http://127.0.0.1:${port}`]).done
    assert.strictEqual(code, 1)
    assert.strictEqual(
      stderr,
      `rest-pool: HTTP exchange with 127.0.0.1:${port} failed: connect failed: connection refused ` +
        `(connect ECONNREFUSED 127.0.0.1:${port}) (no request byte was sent)\n`
    )
  })
})
