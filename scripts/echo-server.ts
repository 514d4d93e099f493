/**
 * `npm run echo:server -- --port PORT [--workers N]` — a WebSocket echo server on
 * `WebSocketServer.serve`, for fuzzing clients and for `bench/server.ts`: every text and binary
 * message goes back as it came; pings are answered by `recv`'s automatic pong; a peer's close
 * is echoed and the connection ends. A protocol violation by the client is answered with the
 * codec's close code, as the library does. The server's heartbeat is off (a fuzzing client is
 * not expected to answer pings on time) and its limits are raised for Autobahn's largest cases.
 *
 * Listens on 127.0.0.1 (`--host` to change it); `--port 0` picks a free port. With
 * `--workers N` (N > 1) it runs as N processes sharing the port (`reusePort`, Linux).
 * `--compression` accepts permessage-deflate offers (for Autobahn's sections 12 and 13). Prints
 * `listening PORT` on stdout once ready; exits 0 on SIGINT/SIGTERM after closing the listener
 * and every connection.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as WebSocketServer from "../src/Transport/WebSocketServer.ts"
import { reportListening, startWorkers, workerNumber } from "../examples/internal/workers.ts"
import { echo } from "./echo.ts"
import { flag } from "./args.ts"

const argv = process.argv.slice(2)
const port = Number(flag(argv, "port") ?? "9001")
const host = flag(argv, "host") ?? "127.0.0.1"
const workers = Number(flag(argv, "workers") ?? "1")

/** Limits big enough for Autobahn's largest cases (9.x: 16 MiB messages). */
const options: WebSocketServer.Options = {
  host,
  port,
  reusePort: workers > 1,
  heartbeat: false,
  handshakeTimeout: "10 seconds",
  maxFrameSize: 64 * 1024 * 1024,
  maxMessageSize: 64 * 1024 * 1024,
  maxFragments: 1 << 20,
  compression: process.argv.includes("--compression")
}

if (!Number.isInteger(port) || port < 0 || port > 65535 || !Number.isInteger(workers) || workers < 1) {
  process.stderr.write("usage: echo-server --port PORT [--workers N]\n")
  process.exit(2)
}

if (workers > 1 && workerNumber === undefined) {
  startWorkers(workers, argv, port).then(
    (bound) => process.stdout.write(`listening ${bound}\n`),
    (error: Error) => {
      process.stderr.write(`echo-server: ${error.message}\n`)
      process.exit(1)
    }
  )
} else {
  const scope = Effect.runSync(Scope.make())
  Effect.runPromise(Scope.provide(WebSocketServer.serve(echo, options), scope)).then(
    (server) => {
      if (workerNumber === undefined) process.stdout.write(`listening ${server.port}\n`)
      else reportListening(server.port)
    },
    (error: Error) => {
      process.stderr.write(`echo-server: ${error.message}\n`)
      process.exit(1)
    }
  )
  const stop = () => {
    Effect.runPromise(Scope.close(scope, Exit.void)).then(() => process.exit(0))
  }
  process.once("SIGINT", stop)
  process.once("SIGTERM", stop)
}
