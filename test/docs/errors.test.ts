import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Memory from "../../src/Transport/Memory.ts"
import * as WebSocket from "../../src/Transport/WebSocket.ts"
import * as Nexus from "../../src/index.ts"
import { blocks, modules, pages, ROOT } from "./markdown.ts"

// The error vocabulary is documented once, in docs/errors.md (issue #10): every exported error
// class must appear there, and no page may name an error, reason or kind the package does not
// have. A new error class or a renamed tag fails here until the docs follow.

const errorsPage = fs.readFileSync(path.join(ROOT, "docs/errors.md"), "utf8")

/** Every exported class whose instances are `Error`s with a `_tag`, as `Module.Export` → tag. */
const errorClasses: ReadonlyArray<readonly [string, string]> = Object.entries(modules).flatMap(([module, ns]) =>
  Object.entries(ns).flatMap(([name, value]) => {
    if (typeof value !== "function" || value.prototype === undefined) return []
    let instance: unknown
    try {
      instance = new (value as new(args: object) => unknown)({})
    } catch {
      return []
    }
    return instance instanceof Error && typeof (instance as { _tag?: unknown })._tag === "string"
      ? [[`${module}.${name}`, (instance as unknown as { _tag: string })._tag] as const]
      : []
  })
)

/**
 * The names the package has: every tag, kind or reason it spells as a string literal, every name
 * it exports, and the keys of exported objects (`CloseCode.CloseCode.Normal`). Read from the
 * sources behind `src/index.ts` (the demo and the CLI are not part of the API).
 */
const packageNames: ReadonlySet<string> = (() => {
  const names = new Set<string>([...Object.keys(Nexus), ...Object.keys(modules)])
  const walk = (dir: string): Array<string> =>
    fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory()
        ? (["Demo", "bin"].includes(e.name) ? [] : walk(path.join(dir, e.name)))
        : e.name.endsWith(".ts") ? [path.join(dir, e.name)] : []
    )
  for (const file of walk(path.join(ROOT, "src"))) {
    const text = fs.readFileSync(file, "utf8")
    for (const m of text.matchAll(/"([A-Z][A-Za-z0-9]*)"/g)) names.add(m[1]!)
    for (const m of text.matchAll(/export (?:declare )?(?:class|interface|type|const|function) ([A-Z][A-Za-z0-9]*)/g)) names.add(m[1]!)
  }
  for (const ns of Object.values(modules)) {
    for (const value of Object.values(ns)) {
      if (typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
        for (const key of Object.keys(value)) names.add(key)
      }
    }
  }
  return names
})()

/**
 * Names the pages use that belong to Effect, Node, JavaScript or `ws`, not to this package.
 * Type parameters (`E`, `EH`, `N`) and environment variables (`ROUNDS`) are not names at all.
 */
const FOREIGN = new Set([
  "Buffer", "Clock", "Config", "ConfigError", "Deferred", "Duration", "HttpClient", "Metric", "NodeSocket",
  "None", "RangeError", "Receiver", "Redacted", "Schedule", "Scope", "SecureContext", "Sender", "Stream",
  "String", "SubscriptionRef", "TestClock", "TypeError", "Uint8Array",
  // effect/socket/Socket, which NexusSocket implements
  "CloseEvent", "Layer", "Socket", "SocketCloseError", "SocketError", "SocketOpenError", "SocketReadError",
  "SocketUpgradeError", "SocketWriteError"
])

/** Backticked names in prose and tables: `Name`, `Module.Name`, `Name { fields }`, `Name(args)`. */
const namesOn = (text: string): Array<string> =>
  blocks(text).flatMap((block) => {
    const text = block._tag === "Prose" ? block.text : block.rows.flat().join(" ") + " " + block.header.join(" ")
    return [...text.matchAll(/`([A-Z][A-Za-z0-9]*)(?:\.([A-Z][A-Za-z0-9]*))?(?=[`\s{(])/g)]
      .map((m) => m[2] ?? m[1]!)
      .filter((name) => !/^[A-Z][A-Z0-9_]*$/.test(name)) // type parameters and environment variables
  })

describe("the error vocabulary", () => {
  it("finds the package's error classes (the walk works)", () => {
    const found = new Map(errorClasses)
    assert.strictEqual(found.get("WebSocket.WriteInterrupted"), "WriteInterrupted")
    assert.strictEqual(found.get("HttpConnection.HttpError"), "HttpError")
    assert.strictEqual(found.get("ClientPool.AcquireTimeout"), "AcquireTimeout")
    assert.strictEqual(found.get("Supervisor.FeedGaveUp"), "FeedGaveUp")
    assert.strictEqual(found.get("Transport.ConnectError"), "ConnectError")
    assert.isFalse(found.has("WebSocket.connect"))
  })

  it("docs/errors.md names every exported error class", () => {
    const missing = errorClasses
      .filter(([, tag]) => !new RegExp("`" + tag + "(?![A-Za-z0-9])").test(errorsPage))
      .map(([name, tag]) => `${name} (_tag ${tag}) is not in docs/errors.md`)
    assert.deepStrictEqual(missing, [])
  })

  for (const [file, text] of pages()) {
    it(`${file} names only errors, reasons and kinds the package has`, () => {
      const unknown = [...new Set(namesOn(text))].filter((name) => !packageNames.has(name) && !FOREIGN.has(name))
      assert.deepStrictEqual(unknown.map((name) => `${file}: \`${name}\` is not a name of the package`), [])
    })
  }

  it("rejects a made-up reason (the check can fail)", () => {
    const unknown = namesOn("a send fails with `ConnectionPoisoned { cause }` or `WriteTimedOut`.")
      .filter((name) => !packageNames.has(name) && !FOREIGN.has(name))
    assert.deepStrictEqual(unknown, ["WriteTimedOut"])
  })
})

/** The text of every source file under `src/` (the CLI and the demo included), as `[path, text]`. */
const sources: ReadonlyArray<readonly [string, string]> = (() => {
  const walk = (dir: string): Array<string> =>
    fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(path.join(dir, e.name)) : e.name.endsWith(".ts") ? [path.join(dir, e.name)] : []
    )
  return walk(path.join(ROOT, "src")).map((file) => [path.relative(ROOT, file), fs.readFileSync(file, "utf8")] as const)
})()

describe("error tags are unique across the package (issue #10)", () => {
  /** Where each `Data.TaggedError("X")` class is defined: tag → `file` per definition. */
  const definitions = new Map<string, Array<string>>()
  for (const [file, text] of sources) {
    for (const m of text.matchAll(/TaggedError\("([A-Za-z0-9]+)"\)/g)) {
      definitions.set(m[1]!, [...(definitions.get(m[1]!) ?? []), file])
    }
  }

  /**
   * The tags of the values the package returns rather than fails with — codec violations,
   * handshake verdicts, URL faults — read as every capitalised string literal under `src/Codec`
   * and every `_tag: "X"` literal elsewhere. An error class must not reuse one of them.
   */
  const valueTags = new Set<string>()
  for (const [file, text] of sources) {
    const literals = file.startsWith(path.join("src", "Codec")) ? /"([A-Z][A-Za-z0-9]*)"/g : /_tag: "([A-Z][A-Za-z0-9]*)"/g
    for (const m of text.matchAll(literals)) valueTags.add(m[1]!)
  }

  it("finds the definitions and the value tags (the scans work)", () => {
    assert.deepStrictEqual(definitions.get("WebSocketError"), [path.join("src", "Transport", "internal", "webSocketErrors.ts")])
    assert.deepStrictEqual(definitions.get("StdoutClosed"), [path.join("src", "bin", "Output.ts")])
    for (const tag of ["MalformedUrl", "BodyTooLarge", "MethodNotGet", "ReservedBitsSet", "HandshakeTooLarge"]) {
      assert.isTrue(valueTags.has(tag), tag)
    }
  })

  it("every error class defined under src/ has a tag no other class has", () => {
    const shared = [...definitions].filter(([, files]) => files.length > 1).map(([tag, files]) => `${tag}: ${files.join(", ")}`)
    assert.deepStrictEqual(shared, [])
  })

  it("every exported error class is one class per tag, wherever it is re-exported", () => {
    const byTag = new Map<string, Set<unknown>>()
    for (const [module, ns] of Object.entries(modules)) {
      for (const [name, value] of Object.entries(ns)) {
        const tag = errorClasses.find(([qualified]) => qualified === `${module}.${name}`)?.[1]
        if (tag !== undefined) byTag.set(tag, new Set([...(byTag.get(tag) ?? []), value]))
      }
    }
    assert.isAbove(byTag.size, 30)
    assert.deepStrictEqual([...byTag].filter(([, classes]) => classes.size > 1).map(([tag]) => tag), [])
  })

  it("no error class reuses the tag of a value the package returns", () => {
    assert.deepStrictEqual([...definitions.keys()].filter((tag) => valueTags.has(tag)), [])
  })
})

describe("docs/websocket.md", () => {
  const page = fs.readFileSync(path.join(ROOT, "docs/websocket.md"), "utf8").replace(/\s+/g, " ")

  it.effect("names the cause an interrupted write actually poisons the stream with", () =>
    Effect.gen(function*() {
      const stated = /an interrupted write's cause is `([A-Za-z]+)`/.exec(page)?.[1]
      const pair = yield* Memory.pair({ capacity: 1024 })
      const [client] = yield* Effect.all([
        WebSocket.connectOver(pair.client, "ws://memory.test/"),
        WebSocket.accept(pair.server)
      ], { concurrency: 2 })
      // a frame larger than the pipe: the write parks until the peer reads, and is interrupted there
      const sending = yield* Effect.forkChild(client.sendBinary(Buffer.alloc(10_000)))
      yield* Effect.yieldNow
      yield* Fiber.interrupt(sending)
      const error = yield* Effect.flip(client.sendText("after"))
      const cause = error.reason._tag === "ConnectionPoisoned" ? error.reason.cause._tag : `not poisoned: ${error.reason._tag}`
      assert.deepStrictEqual(stated, cause)
    }).pipe(Effect.scoped))
})
