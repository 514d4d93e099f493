import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { afterAll, assert, describe, it } from "vitest"

// The package as a user gets it: `npm run build`, `npm pack`, install the tarball into a scratch
// project offline, then import every entry of the exports map with Node 24 and typecheck a
// consumer file against the shipped declarations. The peers (`effect`, `@effect/platform-node`)
// and `@types/node` are the repository's own, linked into the scratch node_modules after the
// install (a user has them installed; `--legacy-peer-deps` keeps npm from fetching them).

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL("../", import.meta.url))
const NODE = fileURLToPath(new URL("../node_modules/.bin/node", import.meta.url))
const MODULES = fs.realpathSync(path.join(ROOT, "node_modules"))
// npm itself runs under Node 24 too
const env = { ...process.env, PATH: `${path.dirname(NODE)}${path.delimiter}${process.env.PATH ?? ""}` }

const temp = fs.mkdtempSync(path.join(os.tmpdir(), "effect-nexus-pack-"))
afterAll(() => fs.rmSync(temp, { recursive: true, force: true }))

/** Runs the shipped code: every entry, a codec round trip, a WebSocket echo over Memory, the exports guard. */
const CHECK_JS = `
import * as Nexus from "effect-nexus"
import { FrameReader, FrameWriter, MaskSource } from "effect-nexus/Codec"
import { Memory, WebSocket } from "effect-nexus/Transport"
import { ClientPool } from "effect-nexus/Pool"
import { Backoff, Feed, Supervisor } from "effect-nexus/Reconnect"
import { MarketFeed, RestClient, TlsSettings } from "effect-nexus/Layers"
import * as Effect from "effect/Effect"

const writer = FrameWriter.make({ role: "client", maskSource: MaskSource.crypto() })
const wire = new Uint8Array(64)
const n = writer.encodeInto(wire, 0, FrameWriter.Kind.Text, "héllo nexus")
const reader = FrameReader.make({ role: "server" })
reader.feed(wire.subarray(0, n))
const message = reader.next()
const codec = { tag: message._tag, text: message.text(), masked: wire[1] >> 7, bytes: n }

const echoed = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
  const { client, server } = yield* Memory.pair()
  yield* Effect.forkChild(Effect.scoped(Effect.gen(function*() {
    const ws = yield* WebSocket.accept(server)
    const m = yield* ws.recv
    yield* ws.sendText(m.text().toUpperCase())
    yield* ws.recv
  })))
  const ws = yield* WebSocket.connectOver(client, "ws://memory.test/echo")
  yield* ws.sendText("over the package")
  const text = (yield* ws.recv).text()
  yield* ws.close()
  return text
})))

let deepImport
try {
  await import("effect-nexus/dist/Codec/FrameReader.js")
  deepImport = "allowed"
} catch (e) {
  deepImport = e.code
}

console.log(JSON.stringify({
  root: Object.keys(Nexus).sort(),
  sameModules: Nexus.Codec.FrameReader === FrameReader && Nexus.Transport.WebSocket === WebSocket &&
    Nexus.Pool.ClientPool === ClientPool && Nexus.Reconnect.Feed === Feed && Nexus.Layers.RestClient === RestClient,
  api: [typeof ClientPool.make, typeof ClientPool.retryIdempotent, Backoff.reconnect === undefined, typeof Supervisor.make,
    typeof RestClient.layer, typeof MarketFeed.layer, typeof TlsSettings.layer],
  codec,
  echoed,
  deepImport
}))
`

/** Uses the declarations; the expect-error line fails the check if they degraded to \`any\`. */
const CHECK_TS = `
import { Codec, Transport } from "effect-nexus"
import { FrameReader, FrameWriter, MaskSource } from "effect-nexus/Codec"
import type { WebSocket } from "effect-nexus/Transport"
import { ClientPool } from "effect-nexus/Pool"
import { Backoff } from "effect-nexus/Reconnect"
import { RestClient } from "effect-nexus/Layers"
import type * as Effect from "effect/Effect"

export const writer: FrameWriter.FrameWriter = FrameWriter.make({ role: "client", maskSource: MaskSource.crypto() })
const result: FrameReader.ReadResult = FrameReader.make({ role: "server" }).next()
export const text: string | undefined = result._tag === "Text" ? result.text() : undefined
export const connect: (url: string) => Effect.Effect<WebSocket.WebSocket, WebSocket.WebSocketError, unknown> =
  Transport.WebSocket.connect
export const pool: typeof ClientPool.make = ClientPool.make
export const layer = RestClient.layer({ url: "http://127.0.0.1:1" })
export const schedule = Backoff.reconnect
export const same: typeof Codec.FrameWriter.make = FrameWriter.make
// @ts-expect-error a server writer takes no mask source: the declarations must say so
FrameWriter.make({ role: "server", maskSource: MaskSource.crypto() })
`

describe("the published package", () => {
  it("builds, packs, installs offline into a scratch project, imports every entry with Node 24, runs the effect-nexus bin and typechecks against its declarations", async () => {
    // a clean build, so the tarball holds exactly what the sources compile to
    fs.rmSync(path.join(ROOT, "dist"), { recursive: true, force: true })
    await run("npm", ["run", "build"], { cwd: ROOT, env })
    const packed = await run("npm", ["pack", "--json", "--pack-destination", temp], { cwd: ROOT, env })
    const [info] = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>
    const files = info!.files.map((f) => f.path)
    for (const layer of ["", "Codec/", "Transport/", "Pool/", "Reconnect/", "Layers/"]) {
      assert.include(files, `dist/${layer}index.js`)
      assert.include(files, `dist/${layer}index.d.ts`)
    }
    assert.deepStrictEqual(files.filter((f) => !/^(dist|src)\//.test(f)).sort(), ["README.md", "package.json"])

    const scratch = path.join(temp, "scratch")
    fs.mkdirSync(scratch)
    fs.writeFileSync(path.join(scratch, "package.json"), JSON.stringify({ name: "scratch", private: true, type: "module" }))
    await run("npm", [
      "install",
      "--no-audit",
      "--no-fund",
      "--offline",
      "--legacy-peer-deps",
      "--no-package-lock",
      path.join(temp, info!.filename)
    ], { cwd: scratch, env })
    const installed = JSON.parse(fs.readFileSync(path.join(scratch, "node_modules/effect-nexus/package.json"), "utf8"))
    assert.deepStrictEqual(installed.peerDependencies, { "@effect/platform-node": "^4.0.6", effect: "^4.1.0" })
    for (const dep of ["effect", "@effect/platform-node", "@types/node"]) {
      fs.mkdirSync(path.dirname(path.join(scratch, "node_modules", dep)), { recursive: true })
      fs.symlinkSync(path.join(MODULES, dep), path.join(scratch, "node_modules", dep))
    }

    // the `bin` entry: npm linked it into node_modules/.bin, and it runs from the tarball's dist
    const bin = path.join(scratch, "node_modules/.bin/effect-nexus")
    assert.strictEqual(fs.realpathSync(bin), fs.realpathSync(path.join(scratch, "node_modules/effect-nexus/dist/bin/effect-nexus.js")))
    const version = await run(NODE, [bin, "--version"], { cwd: scratch, env })
    assert.strictEqual(version.stdout, "effect-nexus v0.1.0\n")
    const refused = await run(NODE, [bin, "ws", "ws://127.0.0.1:1/"], { cwd: scratch, env })
      .then(() => ({ code: 0, stderr: "" }), (e: { code: number; stderr: string }) => e)
    assert.deepStrictEqual([refused.code, refused.stderr], [1, "effect-nexus: connect to 127.0.0.1:1 failed: connection refused\n"])

    fs.writeFileSync(path.join(scratch, "check.mjs"), CHECK_JS)
    const { stdout } = await run(NODE, ["check.mjs"], { cwd: scratch, env })
    assert.deepStrictEqual(JSON.parse(stdout), {
      root: ["Codec", "Layers", "Pool", "Reconnect", "Transport"],
      sameModules: true,
      api: ["function", "function", false, "function", "function", "function", "function"],
      codec: { tag: "Text", text: "héllo nexus", masked: 1, bytes: 2 + 4 + 12 },
      echoed: "OVER THE PACKAGE",
      deepImport: "ERR_PACKAGE_PATH_NOT_EXPORTED"
    })

    // skipLibCheck off: the shipped .d.ts files themselves must check (DOM only for effect's crypto types)
    fs.writeFileSync(path.join(scratch, "check.ts"), CHECK_TS)
    fs.writeFileSync(path.join(scratch, "tsconfig.json"), JSON.stringify({
      compilerOptions: {
        target: "ES2023",
        lib: ["ES2023", "DOM"],
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        noEmit: true,
        types: ["node"],
        skipLibCheck: false
      },
      files: ["check.ts"]
    }))
    const tsc = await run(NODE, [path.join(MODULES, "typescript/bin/tsc"), "-p", "tsconfig.json"], { cwd: scratch, env })
      .then(() => "")
      .catch((e: { stdout: string }) => e.stdout)
    assert.strictEqual(tsc, "")
  }, 60_000)
})
