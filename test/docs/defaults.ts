import * as Duration from "effect/Duration"
import { type Block, blocks, modules } from "./markdown.ts"

// The rule the docs follow so that no stated default can drift from the code:
//
//   a default is written as its value followed by the exported constant that holds it —
//   `8 KiB (`WebSocket.DEFAULT_BUFFER_CAPACITY`)` in a table cell or prose, `(8 KiB,
//   `WebSocket.DEFAULT_BUFFER_CAPACITY`)` in a parenthesis, or in a table with a `constant`
//   column, the value in the `default` column and the constant in its own column. A schedule is
//   written `100 ms doubling to 5 s, forever (`Backoff.RECONNECT_DEFAULTS`)`; an object constant
//   may instead be followed by its literal: `Backoff.RECONNECT_DEFAULTS` (`{ base: ... }`).
//
// `checkPage` finds every such pair and compares the stated value with the constant's, and
// reports every number a page states as a default without naming its constant: a number in a
// table's `default` column, after the word "default", or in `option` (N) as tuning.md writes it.
// Words ("none", "never", `true`) name no number and are left alone.

const NUM = String.raw`\d+(?:\.\d+)?`
const DURATION = String.raw`${NUM} (?:ms|s|min|h)`
/** A stated value: a schedule, or a number with an optional size or time unit. */
const VALUE = String.raw`(?:${DURATION} doubling to ${DURATION}, (?:\d+ retries|forever)|${NUM}(?: (?:KiB|MiB|GiB|bytes|ms|s|min|h))?)(?![\w.-])`
/** A backticked reference to a default constant: `Module.DEFAULT_X` or `Module.X_DEFAULTS`. */
const REF = String.raw`\`([A-Z][A-Za-z0-9]*)\.((?:DEFAULT_[A-Z0-9_]+)|(?:[A-Z0-9_]+_DEFAULTS))\``

const BYTES: Record<string, number> = { bytes: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }
const MILLIS: Record<string, number> = { ms: 1, s: 1000, min: 60_000, h: 3_600_000 }

type Stated =
  | { readonly _tag: "Number"; readonly value: number }
  | { readonly _tag: "Bytes"; readonly value: number }
  | { readonly _tag: "Duration"; readonly millis: number }
  | { readonly _tag: "Schedule"; readonly base: number; readonly cap: number; readonly retries: number | undefined }

const parseDuration = (s: string): number => {
  const [n, unit] = s.split(" ")
  return Number(n) * MILLIS[unit!]!
}

/** Parses a stated value (the whole of `text` must be one `VALUE`). */
export const parseValue = (text: string): Stated => {
  const schedule = new RegExp(`^(${DURATION}) doubling to (${DURATION}), (?:(\\d+) retries|forever)$`).exec(text)
  if (schedule !== null) {
    return {
      _tag: "Schedule",
      base: parseDuration(schedule[1]!),
      cap: parseDuration(schedule[2]!),
      retries: schedule[3] === undefined ? undefined : Number(schedule[3])
    }
  }
  const [n, unit] = text.split(" ")
  if (unit === undefined) return { _tag: "Number", value: Number(n) }
  if (unit in BYTES) return { _tag: "Bytes", value: Number(n) * BYTES[unit]! }
  return { _tag: "Duration", millis: Number(n) * MILLIS[unit]! }
}

const millisOf = (input: unknown): number => Duration.toMillis(Duration.fromInputUnsafe(input as Duration.Input))

/** What the constant holds, rendered for a message. */
const show = (value: unknown): string =>
  Duration.isDuration(value) ? Duration.format(value) : typeof value === "object" ? JSON.stringify(value) : String(value)

/** Compares a stated value with a constant; undefined when they agree, else the problem. */
export const compare = (stated: Stated, ref: string, constant: unknown): string | undefined => {
  const differ = `states ${JSON.stringify(stated)} but \`${ref}\` is ${show(constant)}`
  if (typeof constant === "number") {
    if (stated._tag !== "Number" && stated._tag !== "Bytes") return `${differ} (a number, stated as a ${stated._tag})`
    return stated.value === constant ? undefined : differ
  }
  if (Duration.isDuration(constant)) {
    if (stated._tag !== "Duration") return `${differ} (a duration, stated as a ${stated._tag})`
    return stated.millis === Duration.toMillis(constant) ? undefined : differ
  }
  if (typeof constant === "object" && constant !== null && "base" in constant) {
    const s = constant as { base: unknown; factor?: number; cap?: unknown; retries?: number }
    if (stated._tag !== "Schedule") return `${differ} (a schedule, stated as a ${stated._tag})`
    const agree = stated.base === millisOf(s.base) && (s.factor ?? 2) === 2 && s.cap !== undefined &&
      stated.cap === millisOf(s.cap) && stated.retries === s.retries
    return agree ? undefined : differ
  }
  return `names \`${ref}\`, which is not a number, duration or schedule constant (${show(constant)})`
}

/** Resolves `Module.NAME` among the package's exports. */
const resolve = (module: string, name: string): { readonly found: boolean; readonly value: unknown } => {
  const ns = modules[module]
  return ns !== undefined && name in ns ? { found: true, value: ns[name] } : { found: false, value: undefined }
}

const excerpt = (text: string, at: number): string => JSON.stringify(text.slice(Math.max(0, at - 50), at + 70))

/**
 * Checks one run of text (a paragraph or a table cell): every reference against its adjacent
 * value, and every number stated as a default for a reference right after it.
 */
const checkText = (where: string, text: string): Array<string> => {
  const problems: Array<string> = []
  for (const m of text.matchAll(new RegExp(REF, "g"))) {
    const ref = `${m[1]}.${m[2]}`
    const { found, value } = resolve(m[1]!, m[2]!)
    if (!found) {
      problems.push(`${where}: \`${ref}\` is not an export of the package: ${excerpt(text, m.index)}`)
      continue
    }
    const after = text.slice(m.index + m[0].length)
    const literal = /^ \(`(\{[^`]*\})`\)/.exec(after)
    if (literal !== null) {
      const stated = new Function(`return (${literal[1]})`)() as unknown
      if (JSON.stringify(stated) !== JSON.stringify(value)) {
        problems.push(`${where}: states ${literal[1]} but \`${ref}\` is ${show(value)}`)
      }
      continue
    }
    const before = new RegExp(`(?<![\\w.])(${VALUE})(?: \\(|, )$`).exec(text.slice(Math.max(0, m.index - 120), m.index))
    if (before === null) {
      problems.push(`${where}: \`${ref}\` is named without its value right before it ("VALUE (\`${ref}\`)"): ${excerpt(text, m.index)}`)
      continue
    }
    const problem = compare(parseValue(before[1]!), ref, value)
    if (problem !== undefined) problems.push(`${where}: ${problem}: ${excerpt(text, m.index)}`)
  }
  // a default constant named without its module cannot be resolved (several modules have a DEFAULT_BUFFER_CAPACITY)
  for (const m of text.matchAll(/`((?:DEFAULT_[A-Z0-9_]+)|(?:[A-Z0-9_]+_DEFAULTS))`/g)) {
    problems.push(`${where}: \`${m[1]}\` must be qualified with its module (\`Module.${m[1]}\`): ${excerpt(text, m.index)}`)
  }
  // numbers stated as defaults: "default 10 s", "defaults: 16 KiB", "`option` (64"
  const claims = [/\bdefaults?(?::| is)? (?=\d)/gi, /`[a-z][A-Za-z0-9]*` \((?=\d)/g]
  for (const claim of claims) {
    for (const m of text.matchAll(claim)) {
      const at = m.index + m[0].length
      const value = new RegExp(`^${VALUE}`).exec(text.slice(at))
      if (value === null) continue // "1-based", not a value
      if (!new RegExp(`^(?: \\(|, )${REF}`).test(text.slice(at + value[0].length))) {
        problems.push(`${where}: the default ${value[0]} names no constant (write "${value[0]} (\`Module.DEFAULT_X\`)"): ${excerpt(text, m.index)}`)
      }
    }
  }
  return problems
}

/** Checks a table: every cell as text, and every number in a `default` column for its constant. */
const checkTable = (where: string, block: Extract<Block, { _tag: "Table" }>): Array<string> => {
  const problems: Array<string> = []
  const defaultColumn = block.header.findIndex((h) => /^default/i.test(h))
  const constantColumn = block.header.findIndex((h) => /^constant/i.test(h))
  block.rows.forEach((row, r) => {
    const at = `${where}, table row ${r + 1} (${row[0]})`
    row.forEach((cell, c) => {
      if (c !== constantColumn) problems.push(...checkText(at, cell))
    })
    if (defaultColumn < 0) return
    // the default cell may start with the schedule's name: "`Backoff.acquire`: 1 ms doubling to ..."
    const cell = (row[defaultColumn] ?? "").replace(/^`[^`]+`: /, "")
    const value = new RegExp(`^${VALUE}`).exec(cell)
    if (value === null) return // a word: none, never, `true`, required
    const rest = cell.slice(value[0].length)
    if (new RegExp(`^(?: \\(|, )${REF}`).test(rest)) return // checked by checkText
    const ref = constantColumn < 0 ? null : new RegExp(`^${REF}$`).exec(row[constantColumn] ?? "")
    if (ref === null) {
      problems.push(`${at}: the default ${value[0]} names no constant (write "${value[0]} (\`Module.DEFAULT_X\`)")`)
      return
    }
    const name = `${ref[1]}.${ref[2]}`
    const { found, value: constant } = resolve(ref[1]!, ref[2]!)
    const problem = found ? compare(parseValue(value[0]), name, constant) : `\`${name}\` is not an export of the package`
    if (problem !== undefined) problems.push(`${at}: ${problem}`)
  })
  return problems
}

/** Every drifted or unchecked default on a page, as messages naming the page, the place and the fault. */
export const checkPage = (file: string, text: string): Array<string> =>
  blocks(text).flatMap((block) =>
    block._tag === "Table"
      ? checkTable(`${file}:${block.line}`, block)
      : checkText(`${file}:${block.line}`, block.text)
  )

/** The `Module.NAME` of every default constant a page names. */
export const namedConstants = (text: string): Set<string> =>
  new Set([...text.matchAll(new RegExp(REF, "g"))].map((m) => `${m[1]}.${m[2]}`))
