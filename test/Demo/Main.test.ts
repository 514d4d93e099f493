import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { readdirSync } from "node:fs"
import { Writable } from "node:stream"
import * as path from "node:path"
import * as Main from "../../src/Demo/Main.ts"
import { spawnCaptured } from "../support/peers.ts"

const openFds = () => readdirSync("/proc/self/fd").length

describe("the main job", () => {
  it.live("runs the demo exchange and strategy over real sockets, survives resets, prints status and summary, leaks nothing", () =>
    Effect.gen(function*() {
      const fdsBefore = openFds()
      let text = ""
      const output = new Writable({
        write(chunk, _encoding, callback) {
          text += String(chunk)
          callback()
        }
      })
      yield* Main.run({ durationSeconds: 3, dropEverySeconds: 1, output })
      const lines = text.split("\n")
      assert.match(lines[0]!, /^demo exchange: feed ws:\/\/127\.0\.0\.1:\d+\/ws, orders http:\/\/127\.0\.0\.1:\d+; running 3 s$/)
      assert.strictEqual(lines.filter((l) => /^\s+\ds\s+quotes/.test(l)).length, 3)
      const number = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? NaN)
      assert.isAbove(number(/quotes received\s+(\d+)/), 100)
      assert.isAbove(number(/orders\s+(\d+) ok/), 5)
      // the exchange reset everything at least twice: the feed came back and resynced each time
      assert.isAtLeast(number(/exchange\s+(\d+) connection resets/), 2)
      assert.isAtLeast(number(/(\d+) reconnects/), 2)
      assert.isAtLeast(number(/(\d+) resyncs/), 2)
      assert.strictEqual(number(/sequence breaks outside gaps (\d+)/), 0)
      // every socket of the exchange, the feed and the pool is closed again
      for (let i = 0; i < 100 && openFds() > fdsBefore + 2; i++) yield* Effect.sleep("10 millis")
      assert.isAtMost(openFds(), fdsBefore + 2)
    }), 30_000)

  it.live("npm start's entry ends cleanly on Ctrl-C: the summary is printed, the exit is 130, no error or stack trace", () =>
    Effect.gen(function*() {
      const root = path.resolve(import.meta.dirname, "../..")
      const demo = yield* spawnCaptured(process.execPath, [path.join(root, "src/Demo/start.ts")], { cwd: root })
      // wait for the first status line, so the exchange, the feed and the pool are all running
      for (let i = 0; i < 1000 && !/\n\s+1s\s+quotes/.test(demo.output()); i++) yield* Effect.sleep("10 millis")
      assert.match(demo.output(), /\n\s+1s\s+quotes/)
      demo.child.kill("SIGINT")
      const code = yield* Effect.timeout(demo.exited, "10 seconds")
      assert.strictEqual(code, 130)
      assert.match(demo.output(), /summary after \d+\.\d s:/)
      assert.match(demo.output(), /orders\s+\d+ ok/)
      assert.notMatch(demo.output(), /Error|at .*\.ts:\d+/)
    }), 30_000)
})
