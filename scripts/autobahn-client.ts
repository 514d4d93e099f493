/**
 * `npm run autobahn:client -- --url URL --agent NAME` — the Autobahn fuzzing-server client
 * protocol over `WebSocket.connect`:
 *
 * 1. `URL/getCaseCount`: the server sends the number of cases as a text message, then closes.
 * 2. For each case N: `URL/runCase?case=N&agent=NAME`, echoing every text and binary message
 *    (pings are answered by `recv`'s automatic pong) until the server closes the connection or
 *    the stream fails — a failure is what some cases test, so it is reported and the run goes on.
 * 3. `URL/updateReports?agent=NAME`, waiting for the server to close.
 *
 * Prints `cases N` and one line per case (`case N: ok` or `case N: <error>`) on stdout; exits 0
 * once the reports are updated, 1 when the count cannot be fetched or the arguments are wrong.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as WebSocket from "../src/Transport/WebSocket.ts"
import { echo } from "./echo.ts"
import { flag } from "./args.ts"

const url = (flag(process.argv.slice(2), "url") ?? "").replace(/\/+$/, "")
const agent = flag(process.argv.slice(2), "agent") ?? "effect-nexus"

/** Limits big enough for Autobahn's largest cases (9.x: 16 MiB messages). */
const options: WebSocket.ConnectOptions = {
  maxFrameSize: 64 * 1024 * 1024,
  maxMessageSize: 64 * 1024 * 1024,
  maxFragments: 1 << 20,
  closeTimeout: "5 seconds",
  // `--compression` offers permessage-deflate (Autobahn's sections 12 and 13)
  compression: process.argv.includes("--compression")
}


const caseCount = Effect.scoped(
  Effect.gen(function*() {
    const socket = yield* WebSocket.connect(`${url}/getCaseCount`, options)
    while (true) {
      const message = yield* socket.recv
      if (message._tag === "Text") {
        const count = Number(message.text())
        // let the server finish its close handshake
        yield* Effect.ignore(echoUntilClose(socket))
        return count
      }
      if (message._tag === "Close") return yield* Effect.fail(new Error("server closed before sending the case count"))
    }
  })
)

const echoUntilClose = (socket: WebSocket.WebSocket) =>
  Effect.gen(function*() {
    while ((yield* socket.recv)._tag !== "Close") {
      // discard
    }
  })

const runCase = (n: number) =>
  Effect.scoped(
    Effect.flatMap(
      WebSocket.connect(`${url}/runCase?case=${n}&agent=${encodeURIComponent(agent)}`, options),
      echo
    )
  ).pipe(
    Effect.match({
      onSuccess: () => `case ${n}: ok`,
      onFailure: (error) => `case ${n}: ${error.message}`
    }),
    Effect.flatMap((line) => Effect.sync(() => process.stdout.write(`${line}\n`)))
  )

const updateReports = Effect.scoped(
  Effect.flatMap(
    WebSocket.connect(`${url}/updateReports?agent=${encodeURIComponent(agent)}`, options),
    (socket) => Effect.ignore(echoUntilClose(socket))
  )
)

const main = Effect.gen(function*() {
  if (url === "") return yield* Effect.fail(new Error("usage: autobahn-client --url ws://HOST:PORT --agent NAME"))
  const count = yield* caseCount
  if (!Number.isSafeInteger(count) || count < 0) return yield* Effect.fail(new Error(`bad case count ${count}`))
  process.stdout.write(`cases ${count}\n`)
  for (let n = 1; n <= count; n++) yield* runCase(n)
  yield* updateReports
  process.stdout.write("done\n")
})

Effect.runPromiseExit(main).then((exit) => {
  if (exit._tag === "Failure") {
    const error = exit.cause.reasons[0]
    process.stderr.write(`autobahn-client: ${error !== undefined && "error" in error ? (error.error as Error).message : String(exit.cause)}\n`)
    process.exitCode = 1
  }
})
