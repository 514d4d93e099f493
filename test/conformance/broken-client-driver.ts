/**
 * A deliberately broken client driver that proves the fuzzing server can fail a client. CLI
 * like `ws-client-driver.ts` (`--url ws://127.0.0.1:PORT --agent NAME`). A minimal raw-socket
 * WebSocket client on the suite's own frame reader with two checks turned off: it ignores RSV
 * bits and never validates UTF-8. It masks, fragments, pongs and closes correctly, so exactly
 * the reserved-bit and invalid-UTF-8 cases must fail.
 *
 * @since 0.1.0
 */
import { Buffer } from "node:buffer"
import * as net from "node:net"
import * as Wire from "./Wire.ts"

const arg = (name: string): string => {
  const i = process.argv.indexOf(`--${name}`)
  const value = i >= 0 ? process.argv[i + 1] : undefined
  if (value === undefined) process.exit(2)
  return value
}
const url = new URL(arg("url"))
const agent = encodeURIComponent(arg("agent"))

/** One connection to `path`: echo data, pong pings, answer close; resolves with the first text. */
const session = (path: string): Promise<string | undefined> =>
  new Promise((resolve) => {
    const socket = net.connect({ host: url.hostname, port: Number(url.port) })
    const { request, key } = Wire.upgradeRequest(url.host, path)
    const reader = new Wire.FrameReader("client", { rsv: false, utf8: false })
    let head: Buffer | undefined = Buffer.alloc(0)
    let first: string | undefined
    let closing = false
    const send = (opcode: number, payload: Buffer) => socket.write(Wire.encodeFrame({ opcode, payload }, true))
    const frames = (chunk: Buffer) => {
      for (const m of reader.push(chunk)) {
        if (closing) return
        if (m._tag === "Message") {
          if (first === undefined && !m.binary) first = m.payload.toString()
          send(m.binary ? 2 : 1, m.payload)
        } else if (m._tag === "Ping") send(10, m.payload)
        else if (m._tag === "Close") {
          closing = true
          send(8, m.code === null ? Buffer.alloc(0) : Wire.closePayload(m.code))
        } else if (m._tag === "Violation") {
          closing = true
          send(8, Wire.closePayload(1002))
        }
      }
    }
    socket.on("connect", () => socket.write(request))
    socket.on("error", () => {})
    socket.on("close", () => resolve(first))
    socket.on("data", (chunk: Buffer) => {
      if (head === undefined) return frames(chunk)
      head = Buffer.concat([head, chunk])
      const taken = Wire.takeHead(head)
      if (taken === undefined) return
      head = undefined
      if (Wire.checkUpgradeResponse(taken.head, key) !== undefined) return void socket.destroy()
      frames(taken.rest)
    })
  })

const count = Number(await session("/getCaseCount"))
for (let n = 1; n <= count; n++) await session(`/runCase?case=${n}&agent=${agent}`)
await session(`/updateReports?agent=${agent}`)
process.exit(0)
