/**
 * `npm run echo:server -- --port PORT` — a WebSocket echo server built on `WebSocket.accept`,
 * for fuzzing clients: every text and binary message goes back as it came; pings are answered
 * by `recv`'s automatic pong; a peer's close is echoed and the connection ends. A protocol
 * violation by the client is answered with the codec's close code, as the library does.
 *
 * Listens on 127.0.0.1 (`--host` to change it); `--port 0` picks a free port. `--compression`
 * accepts permessage-deflate offers (for Autobahn's sections 12 and 13). Prints
 * `listening PORT` on stdout once ready; exits 0 on SIGINT/SIGTERM after closing the listener
 * and every connection.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as net from "node:net"
import * as Tcp from "../src/Transport/Tcp.ts"
import * as WebSocket from "../src/Transport/WebSocket.ts"
import { echo } from "./echo.ts"
import { flag } from "./args.ts"

const port = Number(flag(process.argv.slice(2), "port") ?? "9001")
const host = flag(process.argv.slice(2), "host") ?? "127.0.0.1"

/** Limits big enough for Autobahn's largest cases (9.x: 16 MiB messages). */
const options: WebSocket.AcceptOptions = {
  maxFrameSize: 64 * 1024 * 1024,
  maxMessageSize: 64 * 1024 * 1024,
  maxFragments: 1 << 20,
  compression: process.argv.includes("--compression")
}


const connections = new Set<Fiber.Fiber<void>>()

const server = net.createServer({ allowHalfOpen: true }, (raw) => {
  raw.on("error", () => {})
  const fiber = Effect.runFork(
    Effect.ignore(Effect.scoped(
      Effect.flatMap(Tcp.fromNetSocket(raw), (transport) => Effect.flatMap(WebSocket.accept(transport, options), echo))
    ))
  )
  connections.add(fiber)
  fiber.addObserver(() => connections.delete(fiber))
})

if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write("usage: echo-server --port PORT\n")
  process.exit(2)
}

server.on("error", (error) => {
  process.stderr.write(`echo-server: ${error.message}\n`)
  process.exit(1)
})

server.listen(port, host, () => {
  process.stdout.write(`listening ${(server.address() as net.AddressInfo).port}\n`)
})

const stop = () => {
  server.close()
  Effect.runPromise(Effect.forEach([...connections], Fiber.interrupt, { discard: true })).then(() => process.exit(0))
}
process.once("SIGINT", stop)
process.once("SIGTERM", stop)
