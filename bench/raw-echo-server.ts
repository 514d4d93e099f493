/**
 * The load ceiling of `bench/server.ts`: not a WebSocket server but the least a server can do
 * for that load — a `node:net` server that answers the upgrade with a fixed 101 head, then for
 * every 70 bytes in (one masked 64 B binary frame, which the load always sends) writes one
 * pre-built 66-byte echo frame, all the echoes of one read in one write. Nothing is parsed or
 * unmasked. If ours or `ws` comes near its rate, the client, not the server, is what was
 * measured. Prints `listening PORT` once ready; exits on SIGTERM.
 */
import * as net from "node:net"

const IN = 6 + 64
const ECHO = Buffer.concat([Buffer.from([0x82, 64]), Buffer.alloc(64, 0x61)])
/** Echoes for up to 256 frames of one read, cut to length. */
const ECHOES = Buffer.concat(Array.from({ length: 256 }, () => ECHO))
const HEAD = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"

const server = net.createServer({ noDelay: true }, (socket) => {
  let upgraded = false
  let head = ""
  let partial = 0
  socket.on("data", (chunk: Buffer) => {
    let bytes = chunk.length
    if (!upgraded) {
      head += chunk.toString("latin1")
      const end = head.indexOf("\r\n\r\n")
      if (end < 0) return
      upgraded = true
      bytes = head.length - end - 4
      socket.write(HEAD)
    }
    partial += bytes
    let frames = Math.floor(partial / IN)
    partial -= frames * IN
    for (; frames > 0; frames -= 256) socket.write(ECHOES.subarray(0, Math.min(frames, 256) * ECHO.length))
  })
  socket.on("error", () => socket.destroy())
})
server.listen(0, "127.0.0.1", () => {
  const address = server.address() as net.AddressInfo
  process.stdout.write(`listening ${address.port}\n`)
})
process.once("SIGTERM", () => process.exit(0))
