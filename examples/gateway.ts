/**
 * Recipe: a gateway accepting many WebSocket connections (the seeds' "Gateway accepting many
 * connections"), broadcasting: every text or binary message a client sends goes to every client
 * connected at that moment, the sender included.
 *
 * `WebSocketServer.serve` runs each client in a fiber of its own; a failed handshake is printed
 * and ends that connection only. Each client first gets `welcome <id>` — sent once it is in the
 * broadcast group, so a client that waits for it cannot miss a broadcast. Pings are answered by
 * the stream, and the server pings idle clients. Per the seed's advice for many low-rate
 * clients, each connection starts with a 4 KiB read slab and refuses messages over 64 KiB
 * (close 1009), so 10 000 clients cost tens of MiB, not gigabytes.
 *
 * A broadcast is `Broadcast.publishText`: queued for every client at once, each client's queue
 * bounded (256 messages); a client that falls that far behind is closed with 1013 (try again
 * later), so one slow client delays nobody.
 *
 * Several cores: `--workers N` runs N processes on the same port (`reusePort`, Linux); the
 * parent relays each broadcast to the other workers over IPC, so every client of every worker
 * hears it. Each worker prints its own lines and summary (prefixed `[worker n]`).
 *
 * ```text
 * node examples/gateway.ts [--host 127.0.0.1] [--port 9001] [--clients N] [--seconds S] [--workers N]
 * npm run gateway -- --workers 2
 * ```
 *
 * `--port 0` picks a free port; the first line printed is `listening on ws://HOST:PORT`.
 * Bounded: it ends once `--clients` clients have come and gone (default 0: no limit) or after
 * `--seconds` (default 30), closing the listener and every connection (close 1001 "going away").
 * Environment: `GATEWAY_HOST`, `GATEWAY_PORT`.
 *
 * @since 0.1.0
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { parseArgs } from "node:util"
import * as Broadcast from "../src/Transport/Broadcast.ts"
import type { ListenFailure } from "../src/Transport/Listener.ts"
import * as WebSocketServer from "../src/Transport/WebSocketServer.ts"
import { numberOption, runProgram } from "./internal/program.ts"
import { onRelay, relay, reportListening, startWorkers, workerNumber } from "./internal/workers.ts"

/**
 * Options of {@link main}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly host: string
  /** 0 picks a free port. */
  readonly port: number
  /** End after this many clients were served; 0 for no limit. */
  readonly clients: number
  /** Longest run. */
  readonly seconds: number
  /** Worker processes on the port (1: this process only). */
  readonly workers?: number | undefined
  /** Where lines go. Default `console.log`. */
  readonly print?: ((line: string) => void) | undefined
}

/**
 * What a run did.
 *
 * @since 0.1.0
 * @category models
 */
export interface Summary {
  /** Clients that completed the handshake and left. */
  readonly served: number
  /** Messages received from clients (each broadcast once). */
  readonly messages: number
  /** Messages handed to client sockets. */
  readonly deliveries: number
}

/**
 * Reads the options from `argv` (without `node` and the script) and the environment.
 *
 * @since 0.1.0
 * @category options
 */
export const optionsFrom = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Options => {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      host: { type: "string" },
      port: { type: "string" },
      clients: { type: "string" },
      seconds: { type: "string" },
      workers: { type: "string" }
    }
  })
  return {
    host: values.host ?? env.GATEWAY_HOST ?? "127.0.0.1",
    port: numberOption("--port", values.port ?? env.GATEWAY_PORT, 9001),
    clients: numberOption("--clients", values.clients, 0),
    seconds: numberOption("--seconds", values.seconds, 30),
    workers: numberOption("--workers", values.workers, 1, 1)
  }
}

/**
 * Runs the gateway until `clients` clients were served or `seconds` passed; fails only when
 * the port cannot be bound.
 *
 * @since 0.1.0
 * @category running
 */
export const main = (options: Options): Effect.Effect<Summary, ListenFailure> => {
  const prefix = workerNumber === undefined ? "" : `[worker ${workerNumber}] `
  const print = (line: string) => (options.print ?? console.log)(prefix + line)
  return Effect.scoped(Effect.gen(function*() {
    const group = Broadcast.make({ capacity: 256, slowConsumer: 1013 })
    const summary = { served: 0, messages: 0 }
    const enough = yield* Deferred.make<void>()
    let nextId = 0
    // another worker's broadcast reaches this worker's clients too
    onRelay((message) => group.publishText(message as string))

    /** One client: welcome, then broadcast what it sends until it closes or fails. */
    const client = (ws: Parameters<Parameters<typeof WebSocketServer.serve>[0]>[0]) =>
      Effect.gen(function*() {
        const id = ++nextId
        yield* group.subscribe(ws)
        print(`client ${id} connected from ${ws.remoteAddress} (${group.size} online)`)
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            summary.served++
            print(`client ${id} left (${group.size} online)`)
            if (summary.served === options.clients) Deferred.doneUnsafe(enough, Exit.void)
          })
        )
        yield* ws.sendText(`welcome ${id}`)
        for (;;) {
          const message = yield* ws.recv
          if (message._tag === "Close") return
          if (message._tag === "Text") {
            summary.messages++
            // decode once: the view is reused by the next recv, the string is ours
            const text = message.text()
            group.publishText(text)
            relay(text)
          } else if (message._tag === "Binary") {
            summary.messages++
            group.publishBinary(message.payload.slice())
          }
        }
      }).pipe(
        Effect.catch((error) => Effect.sync(() => print(`connection ended: ${error.message}`)))
      )

    const server = yield* WebSocketServer.serve(client, {
      host: options.host,
      port: options.port,
      reusePort: workerNumber !== undefined,
      bufferCapacity: 4 * 1024,
      maxMessageSize: 64 * 1024,
      maxFrameSize: 64 * 1024,
      onHandshakeError: (error) => print(`handshake failed: ${error.message}`)
    })
    if (workerNumber === undefined) print(`listening on ws://${options.host}:${server.port}`)
    else reportListening(server.port)

    yield* Effect.raceFirst(Deferred.await(enough), Effect.sleep(Duration.seconds(options.seconds)))
    // the scope closes the server: stop accepting, 1001 "server shutting down" to whoever is left
    yield* server.listener.stop
    return { group, summary }
  })).pipe(
    // after the scope: every client said goodbye (or was cut off) and printed its line
    Effect.map(({ group, summary }) => ({ ...summary, deliveries: group.stats.delivered })),
    Effect.tap((done) =>
      Effect.sync(() =>
        print(`done: served ${done.served} clients, broadcast ${done.messages} messages, ${done.deliveries} deliveries`)
      )
    )
  )
}

/** The command line. */
const USAGE = "node examples/gateway.ts [--host 127.0.0.1] [--port 9001] [--clients N] [--seconds S] [--workers N]"

if (import.meta.main) {
  runProgram("gateway", USAGE, () => optionsFrom(process.argv.slice(2), process.env), (options) =>
    (options.workers ?? 1) > 1 && workerNumber === undefined
      ? Effect.promise(() => startWorkers(options.workers!, process.argv.slice(2), options.port)).pipe(
        Effect.flatMap((port) => Effect.sync(() => console.log(`listening on ws://${options.host}:${port}`))),
        Effect.andThen(Effect.never)
      )
      : main(options))
}
