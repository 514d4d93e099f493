import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

// `npm start` runs this demo; it checks its own round trips and exits 1 on any mismatch
describe("npm start (src/demo.ts)", () => {
  it("round-trips frames and HTTP messages and exits 0", () => {
    const demo = fileURLToPath(new URL("../src/demo.ts", import.meta.url))
    const out = execFileSync(process.execPath, [demo], { encoding: "utf8", timeout: 20_000 })
    expect(out).not.toContain("FAIL")
    expect(out.trimEnd().endsWith("all round trips ok")).toBe(true)
  })
})
