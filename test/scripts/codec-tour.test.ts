import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

// the codec tour checks its own round trips and exits 1 on any mismatch
describe("npm run codec:tour (scripts/codec-tour.ts)", () => {
  it("round-trips frames and HTTP messages and exits 0", () => {
    const demo = fileURLToPath(new URL("../../scripts/codec-tour.ts", import.meta.url))
    const out = execFileSync(process.execPath, [demo], { encoding: "utf8", timeout: 20_000 })
    expect(out).not.toContain("FAIL")
    expect(out.trimEnd().endsWith("all round trips ok")).toBe(true)
  })
})
