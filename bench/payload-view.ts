/**
 * `npx node bench/payload-view.ts [ROUNDS]` — what handing a handler one payload costs, alone:
 * a fresh view over the slab (`bufferView`, what `message.payload` makes; a plain
 * `new Uint8Array`), or copying the bytes into one reused buffer of that length (`buf.copy`,
 * `copyWithin` inside one `ArrayBuffer`). 40 and 128 B payloads at moving offsets of a 16 KiB
 * slab, the first byte of each read into a sink. Prints main-thread CPU ns per payload per
 * round, the cases interleaved.
 */
import { bufferView } from "../src/Codec/internal/node.ts"

const rounds = Number(process.argv[2] ?? 3)
const N = 10_000_000
const SLAB = 16 * 1024
const ab = new ArrayBuffer(SLAB + 256)
const plain = new Uint8Array(ab)
plain.fill(7)
const slab = Buffer.from(ab, 0, SLAB)
const scratch = Buffer.from(ab, SLAB, 256)
const reused = Array.from({ length: 257 }, (_, n) => Buffer.from(ab, SLAB, n))
let sink = 0

const cases = (len: number): ReadonlyArray<readonly [string, (offset: number) => Uint8Array]> => [
  [`${len} B view (bufferView)`, (o) => bufferView(ab, o, len)],
  [`${len} B view (new Uint8Array)`, (o) => new Uint8Array(ab, o, len)],
  [`${len} B copy into a reused buffer (buf.copy)`, (o) => {
    slab.copy(scratch, 0, o, o + len)
    return reused[len]!
  }],
  [`${len} B copy into a reused buffer (copyWithin)`, (o) => {
    plain.copyWithin(SLAB, o, o + len)
    return reused[len]!
  }]
]

const all = [...cases(40), ...cases(128)]
const timed = (f: (offset: number) => Uint8Array): number => {
  const t0 = process.threadCpuUsage()
  for (let i = 0; i < N; i++) sink = (sink + f((i * 42) & 8191)[0]!) | 0
  const t = process.threadCpuUsage(t0)
  return ((t.user + t.system) * 1000) / N
}
for (let round = 0; round < rounds; round++) {
  for (const [name, f] of all) console.log(`${name.padEnd(48)} ${timed(f).toFixed(1)} ns`)
}
if (sink === 0) throw new Error("no byte was read")
