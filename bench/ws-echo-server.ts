/**
 * The `ws` side of `bench/server.ts`: a `ws` `WebSocketServer` echoing every message back (text
 * stays text), `perMessageDeflate` off (its default for a server), on 127.0.0.1:0. Prints
 * `listening PORT` once ready; exits on SIGTERM.
 */
import { WebSocketServer } from "ws"

const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false })
server.on("connection", (socket) => {
  socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }))
  socket.on("error", () => socket.terminate())
})
server.on("listening", () => {
  const address = server.address()
  process.stdout.write(`listening ${typeof address === "string" || address === null ? address : address.port}\n`)
})
process.once("SIGTERM", () => process.exit(0))
