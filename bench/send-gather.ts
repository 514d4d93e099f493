/**
 * `npm run bench:gather`: where does a gathered write (header, then the caller's payload,
 * uncopied) beat copying the payload into an 8 KiB send slab, over a real loopback socket?
 * Binary frames of 512 B to 64 KiB, one send per tick and 16 per tick; copy: header and payload
 * into the slab, the tick's frames after the first corked into one flush; gathered:
 * `cork(); write(header); write(payload); uncork()` per send, waiting for `'drain'` when the
 * socket kept bytes (the payload may not be reused before). Five interleaved runs per case,
 * medians and the median in-run ratio. This is the measurement behind the sender's threshold
 * (a server's message larger than the slab goes gathered; see docs/websocket.md).
 */
import * as net from "node:net"
import { median } from "./harness.ts"

const server = net.createServer((s) => s.on("data", () => {}))
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
const sock = net.connect({ port: (server.address() as net.AddressInfo).port, host: "127.0.0.1", noDelay: true })
await new Promise<void>((resolve) => sock.once("connect", () => resolve()))

const SLAB = 8192
let slab = Buffer.allocUnsafeSlow(SLAB)
let at = 0
/** `n` bytes of the slab (a fresh slab when they do not fit; a buffer of their own above a slab). */
const region = (n: number): Buffer => {
  if (at + n > SLAB) {
    if (n > SLAB) return Buffer.allocUnsafe(n)
    slab = Buffer.allocUnsafeSlow(SLAB)
    at = 0
  }
  const r = slab.subarray(at, at + n)
  at += n
  return r
}
const header = (r: Buffer, n: number) => {
  r[0] = 0x82
  r[1] = 126
  r.writeUInt16BE(Math.min(n, 65535), 2)
}
const drained = () => sock.writableLength > 0 ? new Promise<void>((r) => sock.once("drain", () => r())) : Promise.resolve()
const tick = () => new Promise<void>((r) => setImmediate(r))

/** ns per message, copying every frame into the slab. */
const copyRun = async (payload: Buffer, total: number, perTick: number): Promise<number> => {
  const t0 = performance.now()
  for (let i = 0; i < total; i += perTick) {
    for (let j = 0; j < perTick; j++) {
      const r = region(payload.length + 4)
      header(r, payload.length)
      r.set(payload, 4)
      if (j === 1) sock.cork()
      sock.write(r)
    }
    if (perTick > 1) sock.uncork()
    await drained()
    await tick()
  }
  return (performance.now() - t0) * 1e6 / total
}

/** ns per message, header in the slab and the payload uncopied, each send flushed at once. */
const gatherRun = async (payload: Buffer, total: number, perTick: number): Promise<number> => {
  const t0 = performance.now()
  for (let i = 0; i < total; i += perTick) {
    for (let j = 0; j < perTick; j++) {
      const h = region(4)
      header(h, payload.length)
      sock.cork()
      sock.write(h)
      sock.write(payload)
      sock.uncork()
      if (sock.writableLength > 0) await new Promise<void>((r) => sock.once("drain", () => r()))
    }
    await tick()
  }
  return (performance.now() - t0) * 1e6 / total
}

console.log("| sends per tick | payload | copy ns/msg | gathered ns/msg | copy / gathered (median in-run) |")
console.log("| ---: | ---: | ---: | ---: | ---: |")
for (const perTick of [1, 16]) {
  for (const size of [512, 1024, 4096, 16384, 65536]) {
    const payload = Buffer.alloc(size, 0x61)
    const total = Math.max(2000, Math.floor(2e7 / size)) & ~15
    const copies: Array<number> = []
    const gathers: Array<number> = []
    for (let k = 0; k < 5; k++) {
      copies.push(await copyRun(payload, total, perTick))
      gathers.push(await gatherRun(payload, total, perTick))
    }
    const ratio = median(copies.map((c, i) => c / gathers[i]!))
    console.log(`| ${perTick} | ${size} B | ${median(copies).toFixed(0)} | ${median(gathers).toFixed(0)} | ${ratio.toFixed(2)}× |`)
  }
}
console.log(`\nnode ${process.version}, loopback TCP, ${new Date().toISOString()}`)
sock.destroy()
server.close()
