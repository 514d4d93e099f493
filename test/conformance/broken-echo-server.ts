/**
 * A deliberately broken echo server that proves the suite can fail a peer. CLI like
 * `ws-echo-server.ts` (`--port PORT`, prints `listening PORT`). It is a minimal raw-socket
 * WebSocket server built on the suite's own frame reader with two checks turned off: it
 * ignores RSV bits and never validates UTF-8 (in text messages or close reasons). Everything
 * else — masking, opcodes, fragmentation, control frames, close codes — it handles correctly,
 * so exactly sections 3 (reserved bits) and the invalid-UTF-8 cases of 6 and 7 must fail.
 *
 * @since 0.1.0
 */
import { Buffer } from "node:buffer"
import * as net from "node:net"
import * as Wire from "./Wire.ts"

const i = process.argv.indexOf("--port")
const port = i >= 0 ? Number(process.argv[i + 1]) : 0

const server = net.createServer((socket) => {
  socket.on("error", () => {})
  const reader = new Wire.FrameReader("server", { rsv: false, utf8: false })
  let head = Buffer.alloc(0)
  let open = false
  let closing = false
  const send = (opcode: number, payload: Buffer) => socket.write(Wire.encodeFrame({ opcode, payload }, false))
  const frames = (chunk: Buffer) => {
    for (const m of reader.push(chunk)) {
      if (closing) return
      switch (m._tag) {
        case "Message":
          send(m.binary ? 2 : 1, m.payload)
          break
        case "Ping":
          send(10, m.payload)
          break
        case "Pong":
          break
        case "Close":
          closing = true
          send(8, m.code === null ? Buffer.alloc(0) : Wire.closePayload(m.code))
          socket.end()
          return
        case "Violation":
          closing = true
          send(8, Wire.closePayload(1002))
          socket.end()
          return
      }
    }
  }
  socket.on("data", (chunk: Buffer) => {
    if (open) return frames(chunk)
    head = Buffer.concat([head, chunk])
    const taken = Wire.takeHead(head)
    if (taken === undefined) return
    const answer = Wire.answerUpgrade(taken.head)
    if (!answer.ok) return void socket.end(answer.response)
    socket.write(answer.response)
    open = true
    if (taken.rest.length > 0) frames(taken.rest)
  })
})
server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`listening ${(server.address() as net.AddressInfo).port}\n`)
})
process.on("SIGTERM", () => server.close(() => process.exit(0)))
