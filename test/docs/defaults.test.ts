import { assert, describe, it } from "vitest"
import { checkPage, namedConstants } from "./defaults.ts"
import { modules, pages } from "./markdown.ts"

// Docs that cannot drift (issue #10): every default a page states is compared with the exported
// constant the code reads it from, so a changed default fails here until the docs follow. The
// format is described in ./defaults.ts.

const table = (rows: string) => `| option | default |\n| --- | --- |\n${rows}\n`

describe("the defaults checker", () => {
  it("accepts a default stated as its constant holds it: sizes, durations, counts, schedules, literals", () => {
    const page = [
      table("| `maxBatch` | 1024 (`WebSocket.DEFAULT_MAX_BATCH`) |\n| `bufferCapacity` | 8 KiB (`WebSocket.DEFAULT_BUFFER_CAPACITY`) |"),
      table("| `closeTimeout` | 5 s (`WebSocket.DEFAULT_CLOSE_TIMEOUT`) |\n| `autoPong` | `true` |"),
      table("| `acquireSchedule` | `Backoff.acquire`: 1 ms doubling to 1 s, 20 retries (`Backoff.ACQUIRE_DEFAULTS`) |"),
      "`maxIdleTimeout` (10 min, `HttpConnection.DEFAULT_MAX_IDLE_TIMEOUT`) and a pool of\n4 (`ClientPool.DEFAULT_CONNECTIONS`) connections, default 1 s (`ClientPool.DEFAULT_HEALTH_CHECK_INTERVAL`).",
      "`Backoff.RECONNECT_DEFAULTS` (`{ base: \"100 millis\", factor: 2, cap: \"5 seconds\" }`)",
      "| option | default | constant |\n| --- | --- | --- |\n| `readTimeout` | 30 s (or `\"Infinity\"`) | `HttpConnection.DEFAULT_READ_TIMEOUT` |"
    ].join("\n")
    assert.deepStrictEqual(checkPage("ok.md", page), [])
  })

  it("reports a table row whose number differs from its constant (the maxBatch drift of issue #10)", () => {
    assert.deepStrictEqual(checkPage("x.md", table("| `maxBatch` | 64 (`WebSocket.DEFAULT_MAX_BATCH`) |")), [
      "x.md:1, table row 1 (`maxBatch`): states {\"_tag\":\"Number\",\"value\":64} but `WebSocket.DEFAULT_MAX_BATCH` is 1024: \"64 (`WebSocket.DEFAULT_MAX_BATCH`)\""
    ])
  })

  it("reports a wrong unit, a wrong duration, a wrong schedule and a wrong literal", () => {
    const problems = checkPage("x.md", [
      table("| a | 8 MiB (`WebSocket.DEFAULT_BUFFER_CAPACITY`) |\n| b | 10 s (`WebSocket.DEFAULT_CLOSE_TIMEOUT`) |"),
      table("| c | 1 ms doubling to 1 s, 10 retries (`Backoff.ACQUIRE_DEFAULTS`) |\n| d | 5 s (`WebSocket.DEFAULT_MAX_BATCH`) |"),
      "",
      "`Backoff.RECONNECT_DEFAULTS` (`{ base: \"100 millis\", factor: 2, cap: \"10 seconds\" }`)",
      "",
      "| option | default | constant |\n| --- | --- | --- |\n| `readTimeout` | 20 s | `HttpConnection.DEFAULT_READ_TIMEOUT` |"
    ].join("\n"))
    assert.strictEqual(problems.length, 6, problems.join("\n"))
    assert.include(problems[0], "but `WebSocket.DEFAULT_BUFFER_CAPACITY` is 8192")
    assert.include(problems[1], "but `WebSocket.DEFAULT_CLOSE_TIMEOUT` is 5s")
    assert.include(problems[2], "but `Backoff.ACQUIRE_DEFAULTS` is {\"base\":\"1 millis\",\"factor\":2,\"cap\":\"1 second\",\"retries\":20}")
    assert.include(problems[3], "(a number, stated as a Duration)")
    assert.include(problems[4], "states { base: \"100 millis\", factor: 2, cap: \"10 seconds\" } but `Backoff.RECONNECT_DEFAULTS` is")
    assert.include(problems[5], "table row 1 (`readTimeout`): states {\"_tag\":\"Duration\",\"millis\":20000} but `HttpConnection.DEFAULT_READ_TIMEOUT` is 30s")
  })

  it("reports a number stated as a default without its constant: in a default column, after \"default\", and as `option` (N)", () => {
    const problems = checkPage("x.md", [
      table("| `maxBatch` | 64 |"),
      "",
      "After `maxBatch` messages (default 64) the next `recv` yields.",
      "",
      "- `maxBatch` (64): messages `recv` delivers without suspending."
    ].join("\n"))
    assert.deepStrictEqual(problems.map((p) => p.replace(/: ".*$/, "")), [
      "x.md:1, table row 1 (`maxBatch`): the default 64 names no constant (write \"64 (`Module.DEFAULT_X`)\")",
      "x.md:6: the default 64 names no constant (write \"64 (`Module.DEFAULT_X`)\")",
      "x.md:8: the default 64 names no constant (write \"64 (`Module.DEFAULT_X`)\")"
    ])
  })

  it("reports a constant that is not exported, one named without its module, and one named without its value", () => {
    const problems = checkPage("x.md", "`WebSocket.DEFAULT_NOTHING` (1 s), `DEFAULT_MAX_BATCH`, see `WebSocket.DEFAULT_MAX_BATCH`.")
    assert.deepStrictEqual(problems.map((p) => p.replace(/: ".*$/, "")), [
      "x.md:1: `WebSocket.DEFAULT_NOTHING` is not an export of the package",
      "x.md:1: `WebSocket.DEFAULT_MAX_BATCH` is named without its value right before it (\"VALUE (`WebSocket.DEFAULT_MAX_BATCH`)\")",
      "x.md:1: `DEFAULT_MAX_BATCH` must be qualified with its module (`Module.DEFAULT_MAX_BATCH`)"
    ])
  })
})

describe("the docs", () => {
  for (const [file, text] of pages()) {
    it(`${file} states every default as the code sets it`, () => {
      assert.deepStrictEqual(checkPage(file, text), [])
    })
  }

  it("name every exported default constant of the package somewhere, with its value", () => {
    const named = new Set(pages().flatMap(([, text]) => [...namedConstants(text)]))
    const exported = Object.entries(modules).flatMap(([module, ns]) =>
      Object.keys(ns).filter((name) => /^DEFAULT_|_DEFAULTS$/.test(name)).map((name) => `${module}.${name}`)
    )
    assert.deepStrictEqual(exported.filter((name) => !named.has(name)).sort(), [])
  })
})
