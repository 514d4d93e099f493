import { readdirSync } from "node:fs"
import { describe, expect, it } from "vitest"
import * as Nexus from "../src/index.ts"
import * as Codec from "../src/Codec/index.ts"
import * as Transport from "../src/Transport/index.ts"

/** The public modules of a layer folder: every `.ts` file beside its `index.ts`. */
const modulesOf = (folder: string): Array<string> =>
  readdirSync(new URL(`../src/${folder}/`, import.meta.url))
    .filter((name) => name.endsWith(".ts") && name !== "index.ts")
    .map((name) => name.slice(0, -3))
    .sort()

describe("package entry points", () => {
  it("the root re-exports the Codec and Transport layers as namespaces", () => {
    expect(Object.keys(Nexus).sort()).toEqual(["Codec", "Transport"])
    expect(Nexus.Codec).toBe(Codec)
    expect(Nexus.Transport).toBe(Transport)
  })

  it("src/Codec/index.ts re-exports every Codec module as a namespace", () => {
    expect(Object.keys(Codec).sort()).toEqual(modulesOf("Codec"))
    expect(typeof Codec.FrameReader.make).toBe("function")
    expect(typeof Codec.ResponseReader.make).toBe("function")
  })

  it("src/Transport/index.ts re-exports every Transport module as a namespace", () => {
    expect(Object.keys(Transport).sort()).toEqual(modulesOf("Transport"))
  })
})
