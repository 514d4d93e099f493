import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import { assert, describe, it } from "vitest"
import { parseDuration, parseHeader } from "../../src/bin/Flags.ts"
import { describeBinary, escapeControls } from "../../src/bin/Output.ts"

describe("parseHeader", () => {
  it("splits at the first colon and trims the name and the value", () => {
    assert.deepStrictEqual(parseHeader("Authorization: Bearer a:b"), Option.some(["Authorization", "Bearer a:b"] as const))
    assert.deepStrictEqual(parseHeader(" X-Empty :"), Option.some(["X-Empty", ""] as const))
  })

  it("refuses a missing colon, an empty name, a non-token name and CR/LF in the value", () => {
    for (const text of ["no colon", ": value", "Bad Name: v", "X-A: a\r\nX-B: b", "X(y): v"]) {
      assert.isTrue(Option.isNone(parseHeader(text)), text)
    }
  })
})

describe("parseDuration", () => {
  it("reads ms, s, m and h suffixes, bare seconds and Effect's spelled-out units", () => {
    const millis = (text: string) => Option.map(parseDuration(text), Duration.toMillis)
    assert.deepStrictEqual(millis("250ms"), Option.some(250))
    assert.deepStrictEqual(millis("1.5s"), Option.some(1500))
    assert.deepStrictEqual(millis("2m"), Option.some(120_000))
    assert.deepStrictEqual(millis("1h"), Option.some(3_600_000))
    assert.deepStrictEqual(millis("3"), Option.some(3000))
    assert.deepStrictEqual(millis("5 seconds"), Option.some(5000))
  })

  it("refuses zero, negative and unreadable durations", () => {
    for (const text of ["0", "0s", "-1s", "soon", "", "5 fortnights"]) {
      assert.isTrue(Option.isNone(parseDuration(text)), text)
    }
  })
})

describe("describeBinary", () => {
  it("shows the length and up to 16 bytes in hex, with an ellipsis when there are more", () => {
    assert.strictEqual(describeBinary(new Uint8Array(0)), "<binary 0 bytes>")
    assert.strictEqual(describeBinary(Uint8Array.of(0, 1, 0xff)), "<binary 3 bytes: 0001ff>")
    assert.strictEqual(describeBinary(new Uint8Array(17).fill(0x10)), `<binary 17 bytes: ${"10".repeat(16)}…>`)
  })
})

describe("escapeControls", () => {
  it("shows ESC, CR, BEL, DEL and C1 codes as escapes and keeps TAB, LF and other text", () => {
    assert.strictEqual(escapeControls("\x1b]0;owned\x07red\x1b[31m!\r"), "^[]0;owned^Gred^[[31m!^M")
    assert.strictEqual(escapeControls("a\x7fb\x9bc"), "a^?b\\x9bc")
    const plain = "tab\there\nnext line ✓"
    assert.strictEqual(escapeControls(plain), plain)
  })
})
