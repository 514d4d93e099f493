/**
 * `WsSession` — the running `effect-nexus ws` session: connect with `WebSocket.connect` (the
 * library's one dial path, through `--proxy` or the proxy environment variables), print what
 * arrives, send stdin lines, and close (see `WsCommand` for the behaviour the user sees).
 *
 * Two fibers race: the printer (`recv` in a loop; it ends after the server's close) and the
 * sender (stdin lines, then `close(1000)` at EOF, then waiting). The printer finishing ends the
 * session and interrupts the sender; either one failing fails it. A finalizer registered after
 * the connect (so it runs before the socket is destroyed) sends close 1001 when the stream is
 * still open — the Ctrl-C and failure paths — waiting at most {@link INTERRUPT_CLOSE_TIMEOUT}.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stdio from "effect/Stdio"
import * as Stream from "effect/Stream"
import * as ProxySettings from "../Layers/ProxySettings.ts"
import * as Proxy from "../Transport/Proxy.ts"
import * as Tls from "../Transport/Tls.ts"
import * as WebSocket from "../Transport/WebSocket.ts"
import * as Output from "./Output.ts"
import { HEARTBEAT_MISSES, type WsOptions } from "./WsOptions.ts"

/**
 * How long an interrupted session waits for the server's close before destroying the socket.
 *
 * @since 0.1.0
 * @category constants
 */
export const INTERRUPT_CLOSE_TIMEOUT: Duration.Duration = Duration.seconds(2)

const describeClose = (code: number, reason: string): string =>
  code === 1005 ? "no status code" : `code ${code}${reason === "" ? "" : `, reason ${JSON.stringify(reason)}`}`

/**
 * The session: connect, then print messages and send stdin lines until one side closes.
 *
 * @since 0.1.0
 * @category handlers
 */
export const session = Effect.fnUntraced(function*(options: WsOptions) {
  let tls: Tls.TlsConfig | undefined
  if (options.insecure) {
    yield* Output.stderrLine(
      "WARNING: --insecure-skip-tls-verify-dangerous is set: the server's certificate and host name are NOT verified; anyone on the path can read and change this session"
    )
    tls = yield* Tls.TlsConfig.make({ dangerouslyDisableCertificateVerification: true })
  }
  // --proxy wins; otherwise the environment's HTTPS_PROXY / HTTP_PROXY / NO_PROXY, as curl does
  const proxy: Proxy.ProxyOption = Option.isSome(options.proxy)
    ? yield* Proxy.fromUrl(options.proxy.value)
    : yield* ProxySettings.fromConfig
  const ws = yield* WebSocket.connect(options.url, {
    tls,
    proxy,
    headers: options.headers,
    protocols: options.subprotocols,
    ...(Option.isSome(options.connectTimeout) ? { connectTimeout: options.connectTimeout.value } : {}),
    ...(Option.isSome(options.pingInterval)
      ? {
        heartbeat: {
          interval: options.pingInterval.value,
          timeout: Duration.times(options.pingInterval.value, HEARTBEAT_MISSES)
        }
      }
      : {})
  })
  // Runs before the scope destroys the socket (finalizers run in reverse): an interrupted or
  // failed session still sends its close frame when the stream is open.
  yield* Effect.addFinalizer(() =>
    ws.state === "open"
      ? Effect.ignore(Effect.timeout(ws.close(1001, ""), INTERRUPT_CLOSE_TIMEOUT))
      : Effect.void
  )
  if (ws.protocol !== undefined) yield* Output.stderrLine(`subprotocol: ${ws.protocol}`)

  let weClosed = false
  // the printer's calls to `recv` so far, and whether it is inside one; see closeWhenReaderParked
  let recvCalls = 0
  let inRecv = false
  const reportClose = (code: number, reason: string) =>
    Output.stderrLine(
      weClosed ? `closed: ${describeClose(code, reason)}` : `closed by the server: ${describeClose(code, reason)}`
    )
  const escape = Output.escapesForTerminal()
  const printMessages = Effect.gen(function*() {
    while (true) {
      recvCalls++
      inRecv = true
      const message = yield* ws.recv
      inRecv = false
      switch (message._tag) {
        case "Text":
          yield* Output.stdout((escape ? Output.escapeControls(message.text()) : message.text()) + "\n")
          break
        case "Binary":
          yield* Output.stdout(Output.describeBinary(message.payload) + "\n")
          break
        case "Close":
          return yield* reportClose(message.code, message.reason)
        default:
          // pings are answered inside recv; neither they nor pongs are shown
          break
      }
    }
  }).pipe(
    // our close() read the server's answer itself (the printer was not parked in recv)
    Effect.catchIf(
      (error): error is WebSocket.WebSocketError =>
        error._tag === "WebSocketError" && error.reason._tag === "WebSocketClosed",
      (error) => {
        const closed = error.reason as WebSocket.WebSocketClosed
        return reportClose(closed.code, closed.closeReason)
      }
    )
  )

  // `close` leaves reading to a fiber parked in `recv`'s transport read, so every message the
  // server sends before its close answer is still printed; called while the printer is
  // anywhere else (writing stdout, or in the fairness yield inside `recv`) it would read, and
  // drop, those messages itself. So: wait until the printer has stayed inside the *same* `recv`
  // across a scheduler round (a `recv` that only yielded has run on by then: it returned a
  // buffered message or parked on the read), then close at once, without yielding in between.
  const closeWhenReaderParked = Effect.gen(function*() {
    while (true) {
      if (inRecv) {
        const seen = recvCalls
        yield* Effect.yieldNow
        if (inRecv && recvCalls === seen) break
      } else {
        yield* Effect.sleep(Duration.millis(1))
      }
    }
    weClosed = true
    yield* ws.close(1000, "")
  })

  const stdio = yield* Stdio.Stdio
  const sendLines = options.listenOnly ? Effect.never : stdio.stdin.pipe(
    Stream.decodeText(),
    Stream.splitLines,
    Stream.runForEach((line) => ws.sendText(line)),
    Effect.andThen(closeWhenReaderParked),
    // after our close the printer reports the server's answer and ends the session
    Effect.andThen(Effect.never)
  )

  yield* Effect.raceFirst(printMessages, sendLines)
}, Effect.scoped)

