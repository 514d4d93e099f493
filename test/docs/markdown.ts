import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Nexus from "../../src/index.ts"
import * as Testing from "../../src/Testing/index.ts"

// Shared by the docs drift tests: the pages they read, split into tables and prose, and the
// package's modules by namespace name (`WebSocket`, `ClientPool`, ...) as `src/index.ts` exports
// them, plus the `effect-nexus/testing` entry. Namespace names are unique across the layers, so `WebSocket.DEFAULT_MAX_BATCH` names
// exactly one export.

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url))

/** Every page a user reads: the README and everything under `docs/`, as `[relative path, text]`. */
export const pages = (): ReadonlyArray<readonly [string, string]> => {
  const docs = fs.readdirSync(path.join(ROOT, "docs")).filter((f) => f.endsWith(".md")).sort().map((f) => `docs/${f}`)
  return ["README.md", ...docs].map((file) => [file, fs.readFileSync(path.join(ROOT, file), "utf8")] as const)
}

/** Every module namespace of the package, by name: `{ WebSocket: {...}, ClientPool: {...}, ... }`. */
export const modules: Readonly<Record<string, Readonly<Record<string, unknown>>>> = (() => {
  const out: Record<string, Record<string, unknown>> = {}
  for (const [layerName, layer] of Object.entries({ ...Nexus, Testing })) {
    for (const [name, module] of Object.entries(layer as Record<string, Record<string, unknown>>)) {
      // a layer may re-export a lower layer's module (Reconnect's Backoff is Transport's): the same
      // object is fine, two different modules under one name are not
      if (name in out && out[name] !== module) throw new Error(`module name ${name} is exported by two layers (${layerName} and another)`)
      out[name] = module
    }
  }
  return out
})()

/** A block of a page: a table (its rows split into cells) or a paragraph joined into one line. */
export type Block =
  | { readonly _tag: "Table"; readonly line: number; readonly header: ReadonlyArray<string>; readonly rows: ReadonlyArray<ReadonlyArray<string>> }
  | { readonly _tag: "Prose"; readonly line: number; readonly text: string }

/** Splits a row on the `|` that are not escaped (`\|` inside a cell stays). */
const cells = (line: string): Array<string> =>
  line.trim().replace(/^\|/, "").replace(/\|$/, "").split(/(?<!\\)\|/).map((c) => c.trim())

/** Tables and paragraphs of a page; fenced code blocks are skipped (they hold code, not claims). */
export const blocks = (text: string): Array<Block> => {
  const out: Array<Block> = []
  const lines = text.split("\n")
  let fenced = false
  let table: Array<string> = []
  let prose: Array<string> = []
  let start = 0
  const flush = () => {
    if (table.length > 0) {
      out.push({ _tag: "Table", line: start, header: cells(table[0]!), rows: table.slice(2).map(cells) })
    }
    if (prose.length > 0) out.push({ _tag: "Prose", line: start, text: prose.join(" ") })
    table = []
    prose = []
  }
  lines.forEach((raw, i) => {
    const line = raw.trim()
    if (line.startsWith("```")) {
      flush()
      fenced = !fenced
      return
    }
    if (fenced) return
    if (line.startsWith("|")) {
      if (prose.length > 0) flush()
      if (table.length === 0) start = i + 1
      table.push(line)
    } else if (line === "") {
      flush()
    } else {
      if (table.length > 0) flush()
      if (prose.length === 0) start = i + 1
      prose.push(line)
    }
  })
  flush()
  return out
}
