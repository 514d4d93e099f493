import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { afterAll, assert, describe, it } from "vitest"

// The package as a user gets it: a fresh clone of the committed HEAD (no `dist/`, as on a
// publisher's machine), `npm pack` there — whose `prepack` script must build `dist/` — then the
// tarball installed into a scratch project offline, every entry of the exports map imported with
// Node 24 and a consumer file typechecked against the shipped declarations. The clone borrows the
// repository's node_modules (a symlink) so `prepack`'s `tsc` runs without the network. The peers
// (`effect`, `@effect/platform-node`) and `@types/node` are the repository's own, linked into the
// scratch node_modules after the install (a user has them installed; `--legacy-peer-deps` keeps
// npm from fetching them). Only committed files reach the clone: commit before running this.

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
  it("packs a fresh clone (prepack builds dist/), installs offline into a scratch project, imports every entry with Node 24, runs the effect-nexus bin and typechecks against its declarations", async () => {
    // dist/ is a build output, never committed, and `files` ships it
    const committed = await run("git", ["-C", ROOT, "ls-files", "dist"], { env })
    assert.strictEqual(committed.stdout, "", "dist/ must not be committed")
    const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { files: Array<string> }
    assert.include(manifest.files, "dist")

    // a fresh clone of exactly the committed HEAD: what `npm publish` sees on a clean machine
    const head = (await run("git", ["-C", ROOT, "rev-parse", "HEAD"], { env })).stdout.trim()
    const clone = path.join(temp, "clone")
    await run("git", ["clone", "--quiet", "--no-checkout", ROOT, clone], { env })
    await run("git", ["-C", clone, "checkout", "--quiet", "--detach", head], { env })
    assert.isFalse(fs.existsSync(path.join(clone, "dist")), "the clone starts without dist/")
    fs.symlinkSync(MODULES, path.join(clone, "node_modules"))

    const packed = await run("npm", ["pack", "--json", "--pack-destination", temp], { cwd: clone, env })
    // lifecycle output (prepack's build) may precede the JSON report on stdout
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("\n[") + 1 || 0)) as Array<
      { filename: string; files: Array<{ path: string }> }
    >
    const files = info!.files.map((f) => f.path)
    for (const layer of ["", "Codec/", "Transport/", "Pool/", "Reconnect/", "Layers/"]) {
      assert.include(files, `dist/${layer}index.js`, "npm pack on a fresh clone must build dist/ (prepack)")
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
    assert.deepStrictEqual([refused.code, refused.stderr], [1, "effect-nexus: WebSocket 127.0.0.1:1: connect failed: connection refused\n"])

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
  }, 120_000)
})
