/**
 * Recipe: a gateway accepting many WebSocket connections (the seeds' "Gateway accepting many
 * connections"), broadcasting: every text or binary message a client sends goes to every client
 * connected at that moment, the sender included.
 *
 * A `node:net` server hands each socket to `Tcp.fromNetSocket` and `WebSocket.accept` in a fiber
 * of its own; a failed handshake is printed and ends that fiber only. Each client first gets
 * `welcome <id>` — sent once it is in the broadcast set, so a client that waits for it cannot miss
 * a broadcast. Pings are answered by the stream. Per the seed's advice for many low-rate
 * clients, each connection starts with a 4 KiB read slab and refuses messages over 64 KiB
 * (close 1009), so 10 000 clients cost tens of MiB, not gigabytes.
 *
 * A broadcast sends to the clients concurrently and waits for every socket to accept the bytes,
 * so one slow client delays the sender's next message, not the other clients; a client whose
 * send fails is dropped by its own fiber when its socket errors.
 *
 * ```text
 * node examples/gateway.ts [--host 127.0.0.1] [--port 9001] [--clients N] [--seconds S]
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
import * as FiberSet from "effect/FiberSet"
import * as net from "node:net"
import { parseArgs } from "node:util"
import * as CloseCode from "../src/Codec/CloseCode.ts"
import * as Tcp from "../src/Transport/Tcp.ts"
import * as WebSocket from "../src/Transport/WebSocket.ts"
import { numberOption, runProgram } from "./internal/program.ts"

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
      seconds: { type: "string" }
    }
  })
  return {
    host: values.host ?? env.GATEWAY_HOST ?? "127.0.0.1",
    port: numberOption("--port", values.port ?? env.GATEWAY_PORT, 9001),
    clients: numberOption("--clients", values.clients, 0),
    seconds: numberOption("--seconds", values.seconds, 30)
  }
}

/** Listens and resumes with the bound port, or dies with the listen error (port in use). */
const listen = (server: net.Server, host: string, port: number): Effect.Effect<number> =>
  Effect.callback<number>((resume) => {
    server.once("error", (cause) => resume(Effect.die(cause)))
    server.listen(port, host, () => resume(Effect.succeed((server.address() as net.AddressInfo).port)))
  })

/**
 * Runs the gateway until `clients` clients were served or `seconds` passed.
 *
 * @since 0.1.0
 * @category running
 */
export const main = (options: Options): Effect.Effect<Summary> =>
  Effect.scoped(Effect.gen(function*() {
    const print = options.print ?? console.log
    const peers = new Set<WebSocket.WebSocket>()
    const sockets = new Set<net.Socket>()
    const summary = { served: 0, messages: 0, deliveries: 0 }
    const enough = yield* Deferred.make<void>()
    let nextId = 0

    const broadcast = (send: (peer: WebSocket.WebSocket) => Effect.Effect<void, WebSocket.WebSocketError>) =>
      Effect.forEach(
        [...peers],
        (peer) => Effect.ignore(Effect.tap(send(peer), () => Effect.sync(() => summary.deliveries++))),
        { concurrency: "unbounded", discard: true }
      )

    /** One client: handshake, welcome, then broadcast what it sends until it closes or fails. */
    const serve = (socket: net.Socket) =>
      Effect.scoped(Effect.gen(function*() {
        const transport = yield* Tcp.fromNetSocket(socket)
        const accepted = yield* Effect.result(WebSocket.accept(transport, {
          bufferCapacity: 4 * 1024,
          maxMessageSize: 64 * 1024,
          handshakeTimeout: "5 seconds"
        }))
        if (accepted._tag === "Failure") {
          print(`handshake failed: ${accepted.failure.message}`)
          return
        }
        const ws = accepted.success
        const id = ++nextId
        peers.add(ws)
        print(`client ${id} connected from ${ws.remoteAddress} (${peers.size} online)`)
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            peers.delete(ws)
            summary.served++
            print(`client ${id} left (${peers.size} online)`)
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
            yield* broadcast((peer) => peer.sendText(text))
          } else if (message._tag === "Binary") {
            summary.messages++
            const bytes = message.payload.slice()
            yield* broadcast((peer) => peer.sendBinary(bytes))
          }
        }
      }).pipe(
        Effect.catch((error) => Effect.sync(() => print(`connection ended: ${error.message}`)))
      ))

    const fibers = yield* FiberSet.make()
    const run = yield* FiberSet.runtime(fibers)<never>()
    // allowHalfOpen: a client's FIN must not end our side before we answer its close
    const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
      run(serve(socket))
    })
    const port = yield* listen(server, options.host, options.port)
    yield* Effect.addFinalizer(() =>
      Effect.callback<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      })
    )
    print(`listening on ws://${options.host}:${port}`)

    yield* Effect.raceFirst(Deferred.await(enough), Effect.sleep(Duration.seconds(options.seconds)))
    // stop accepting, say goodbye to whoever is still here (bounded), then the scope closes the rest
    server.close()
    yield* Effect.forEach(
      [...peers],
      (peer) => Effect.ignore(Effect.timeout(peer.close(CloseCode.CloseCode.GoingAway, "gateway shutting down"), "1 second")),
      { concurrency: "unbounded", discard: true }
    )
    // let the connection fibers see their close and leave; the scope interrupts any straggler
    yield* Effect.ignore(Effect.timeout(FiberSet.awaitEmpty(fibers), "1 second"))
    print(`done: served ${summary.served} clients, broadcast ${summary.messages} messages, ${summary.deliveries} deliveries`)
    return summary
  }))

/** The command line. */
const USAGE = "node examples/gateway.ts [--host 127.0.0.1] [--port 9001] [--clients N] [--seconds S]"

if (import.meta.main) {
  runProgram("gateway", USAGE, () => optionsFrom(process.argv.slice(2), process.env), main)
}
