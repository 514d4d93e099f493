import { readdirSync } from "node:fs"
import { describe, expect, it } from "vitest"
import * as Nexus from "../src/index.ts"
import * as Codec from "../src/Codec/index.ts"
import * as Layers from "../src/Layers/index.ts"
import * as Pool from "../src/Pool/index.ts"
import * as Reconnect from "../src/Reconnect/index.ts"
import * as Testing from "../src/Testing/index.ts"
import * as Transport from "../src/Transport/index.ts"

/** The public modules of a layer folder: every `.ts` file beside its `index.ts`. */
const modulesOf = (folder: string): Array<string> =>
  readdirSync(new URL(`../src/${folder}/`, import.meta.url))
    .filter((name) => name.endsWith(".ts") && name !== "index.ts")
    .map((name) => name.slice(0, -3))
    .sort()

const layers = { Codec, Layers, Pool, Reconnect, Transport } as const
/** Entry points the root does not re-export: `effect-nexus/testing` is test support, not API. */
const apart = { Testing } as const

/**
 * Modules a folder's index re-exports from a layer below instead of holding them: each must be
 * that very module (one definition), not a copy.
 */
const borrowed: Record<string, Record<string, unknown>> = {
  Reconnect: { Backoff: Transport.Backoff }
}

describe("package entry points", () => {
  it("the root re-exports every layer as a namespace", () => {
    expect(Object.keys(Nexus).sort()).toEqual(Object.keys(layers).sort())
    for (const [name, namespace] of Object.entries(layers)) expect(Nexus[name as keyof typeof layers]).toBe(namespace)
  })

  it("test support is its own entry point, reached neither from the root nor from Layers", () => {
    expect(Object.keys(Nexus)).not.toContain("Testing")
    expect(Object.keys(Layers)).not.toContain("TestPeers")
    const reachable = [...Object.values(Nexus), ...Object.values(layers).flatMap((folder) => Object.values(folder))]
    for (const module of Object.values(Testing)) expect(reachable).not.toContain(module)
  })

  it("package.json maps each entry point to its folder's index", async () => {
    const { exports } = (await import("../package.json", { with: { type: "json" } })).default as {
      exports: Record<string, { types: string; default: string } | string>
    }
    const folders = { Codec: "Codec", Transport: "Transport", Pool: "Pool", Reconnect: "Reconnect", Layers: "Layers", testing: "Testing" }
    expect(Object.keys(exports).sort()).toEqual([".", "./package.json", ...Object.keys(folders).map((key) => `./${key}`)].sort())
    for (const [key, folder] of Object.entries(folders)) {
      expect(exports[`./${key}`]).toEqual({ types: `./dist/${folder}/index.d.ts`, default: `./dist/${folder}/index.js` })
    }
  })

  for (const [name, namespace] of Object.entries({ ...layers, ...apart })) {
    it(`src/${name}/index.ts re-exports every ${name} module as a namespace`, () => {
      const lent = borrowed[name] ?? {}
      expect(Object.keys(namespace).sort()).toEqual([...modulesOf(name), ...Object.keys(lent)].sort())
      for (const [module, value] of Object.entries(lent)) expect(namespace[module as keyof typeof namespace]).toBe(value)
    })
  }

  it("the namespaces reach the modules", () => {
    expect(typeof Codec.FrameReader.make).toBe("function")
    expect(typeof Codec.ResponseReader.make).toBe("function")
    expect(typeof Pool.ClientPool.make).toBe("function")
    expect(typeof Reconnect.Feed.make).toBe("function")
    expect(typeof Transport.Backoff.exponential).toBe("function")
    expect(typeof Layers.RestClient.layer).toBe("function")
    expect(typeof Testing.RestClientTest.layer).toBe("function")
    expect(typeof Testing.MarketFeedTest.layer).toBe("function")
    expect(typeof Testing.TestPeers.makeHttpPeer).toBe("function")
  })
})
