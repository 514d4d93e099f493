import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as net from "node:net"
import * as path from "node:path"
import { WebSocket as WsClient, WebSocketServer } from "ws"
import { spawnCaptured } from "../support/peers.ts"

// The two conformance programs run as child processes (stopped by pid, also on failure), with
// `ws` on the other side on 127.0.0.1.

const root = path.resolve(import.meta.dirname, "../..")

const run = (script: string, args: Array<string>) =>
  spawnCaptured(process.execPath, [path.join(root, script), ...args], { cwd: root })

const waitFor = (check: () => boolean, what: () => string, ms = 15_000) =>
  Effect.gen(function*() {
    const until = Date.now() + ms
    while (!check()) {
      if (Date.now() > until) return yield* Effect.die(new Error(`timed out waiting; output so far: ${what()}`))
      yield* Effect.sleep("10 millis")
    }
  })

describe("npm run echo:server", () => {
  it.live("prints its port, echoes text, binary and pings for ws, and exits 0 on SIGTERM", () =>
    Effect.gen(function*() {
      const server = yield* run("scripts/echo-server.ts", ["--port", "0"])
      yield* waitFor(() => /listening \d+\n/.test(server.output()), server.output)
      const port = Number(/listening (\d+)/.exec(server.output())![1])
      const got = yield* Effect.promise(() =>
        new Promise<Array<string>>((done, fail) => {
          const ws = new WsClient(`ws://127.0.0.1:${port}/`)
          const seen: Array<string> = []
          ws.on("error", fail)
          ws.on("open", () => {
            ws.send("text ✓")
            ws.send(Buffer.alloc(70_000, 5))
            ws.ping("p")
          })
          ws.on("message", (data, binary) => {
            seen.push(binary ? `binary ${(data as Buffer).length}` : `text ${data.toString()}`)
            if (seen.length === 2) ws.close(1000, "bye")
          })
          ws.on("pong", (data) => seen.push(`pong ${data.toString()}`))
          ws.on("close", (code, reason) => {
            seen.push(`close ${code} ${reason.toString()}`)
            done(seen)
          })
        })
      )
      assert.sameMembers(got, ["text text ✓", "binary 70000", "pong p", "close 1000 bye"])
      server.child.kill("SIGTERM")
      assert.strictEqual(yield* server.exited, 0)
    }))
})

describe("npm run autobahn:client", () => {
  it.live("runs getCaseCount, every case (echoing text, binary, answering pings), then updateReports", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const fuzzing = yield* Effect.acquireRelease(
        Effect.callback<WebSocketServer>((resume) => {
          const wss: WebSocketServer = new WebSocketServer({ host: "127.0.0.1", port: 0 }, () => resume(Effect.succeed(wss)))
          wss.on("connection", (ws, request) => {
            const url = new URL(request.url ?? "/", "ws://x")
            log.push(`${url.pathname}${url.search}`)
            if (url.pathname === "/getCaseCount") {
              ws.send("2")
              ws.close()
            } else if (url.pathname === "/runCase") {
              const replies: Array<string> = []
              ws.on("message", (data, binary) => {
                replies.push(binary ? `binary ${(data as Buffer).toString("hex")}` : `text ${data.toString()}`)
                if (replies.length === 2) {
                  log.push(`case ${url.searchParams.get("case")}: ${replies.join(", ")}`)
                  ws.close(1000)
                }
              })
              ws.on("pong", (data) => log.push(`pong ${data.toString()}`))
              ws.ping("c")
              ws.send(`hello ${url.searchParams.get("case")}`)
              ws.send(Buffer.from([1, 2, 3]))
            } else {
              ws.close()
            }
          })
        }),
        (wss) => Effect.sync(() => wss.close())
      )
      const port = (fuzzing.address() as net.AddressInfo).port
      const client = yield* run("scripts/autobahn-client.ts", ["--url", `ws://127.0.0.1:${port}`, "--agent", "nexus"])
      const code = yield* client.exited
      assert.strictEqual(code, 0, client.output())
      assert.strictEqual(client.output(), "cases 2\ncase 1: ok\ncase 2: ok\ndone\n")
      assert.deepStrictEqual(log.filter((l) => !l.startsWith("pong")), [
        "/getCaseCount",
        "/runCase?case=1&agent=nexus",
        "case 1: text hello 1, binary 010203",
        "/runCase?case=2&agent=nexus",
        "case 2: text hello 2, binary 010203",
        "/updateReports?agent=nexus"
      ])
      assert.deepStrictEqual(log.filter((l) => l.startsWith("pong")), ["pong c", "pong c"])
    }))
})
