/**
 * `effect-nexus ws URL` — an interactive (or piped) WebSocket client on `WebSocket.connect`.
 *
 * - Every incoming text message is printed to stdout as one line (a text containing newlines
 *   spans several); a binary message as `<binary N bytes: hex prefix>`. Pings are answered
 *   automatically and, like pongs, not printed.
 * - Every stdin line (LF or CRLF, the terminator removed) is sent as one text message, empty
 *   lines included. Stdout is written with backpressure: a slow reader slows the socket.
 * - stdin EOF (the end of a pipe, Ctrl-D in a terminal) starts the closing handshake with 1000;
 *   the tool exits 0 once the server answers. A server that closes first ends the session too:
 *   its code and reason go to stderr, and the exit is 0.
 * - Ctrl-C (SIGINT) or SIGTERM interrupts the session; the socket is then closed with 1001
 *   (going away), waiting at most {@link INTERRUPT_CLOSE_TIMEOUT} for the server's answer, and
 *   the exit code is 130.
 * - A connection lost without a close frame, a heartbeat miss or a protocol violation fails
 *   the session with the typed error's one-line message and exit 1.
 *
 * Flags: `--header "Name: value"` (repeatable), `--subprotocol NAME` (repeatable, most
 * preferred first), `--ping-interval DURATION` (a ping every N; the connection fails when no
 * byte arrives for 3×N), `--connect-timeout DURATION` (default 10 s, the library's default), and
 * `--insecure-skip-tls-verify-dangerous`, which maps to the `Tls` module's
 * `dangerouslyDisableCertificateVerification` and prints a warning on stderr when used.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stdio from "effect/Stdio"
import * as Stream from "effect/Stream"
import { Argument, Command, Flag } from "effect/cli"
import * as Tls from "../Transport/Tls.ts"
import * as WebSocket from "../Transport/WebSocket.ts"
import * as Output from "./Output.ts"

/** How long an interrupted session waits for the server's close before destroying the socket. */
export const INTERRUPT_CLOSE_TIMEOUT: Duration.Duration = Duration.seconds(2)

/** A heartbeat fails when nothing arrives for this many ping intervals. */
export const HEARTBEAT_MISSES = 3

// RFC 9110 §5.6.2 token characters: what a header name may be made of
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/**
 * Parses `"Name: value"` (the value trimmed; it may be empty) into a header pair.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseHeader = (text: string): Option.Option<readonly [string, string]> => {
  const colon = text.indexOf(":")
  if (colon <= 0) return Option.none()
  const name = text.slice(0, colon).trim()
  const value = text.slice(colon + 1).trim()
  if (!HEADER_NAME.test(name) || /[\r\n\0]/.test(value)) return Option.none()
  return Option.some([name, value] as const)
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/
const UNIT_MILLIS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const

/**
 * Parses a positive duration: `250ms`, `5s`, `1.5s`, `2m`, `1h`, a bare number of seconds, or
 * Effect's own spelling (`"5 seconds"`).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseDuration = (text: string): Option.Option<Duration.Duration> => {
  const match = DURATION.exec(text.trim())
  if (match !== null) {
    const millis = Number(match[1]) * UNIT_MILLIS[(match[2] ?? "s") as keyof typeof UNIT_MILLIS]
    return millis > 0 ? Option.some(Duration.millis(millis)) : Option.none()
  }
  return Option.filter(Duration.fromInput(text as Duration.Input), (d) => Duration.isGreaterThan(d, Duration.zero))
}

const durationFlag = (name: string) =>
  Flag.String(name).pipe(
    Flag.withMetavar("DURATION"),
    Flag.filterMap(parseDuration, () => "Expected a positive duration such as 500ms, 5s or 2m")
  )

/** What `ws` runs with, after the flags were parsed. */
interface WsOptions {
  readonly url: string
  readonly headers: ReadonlyArray<readonly [string, string]>
  readonly subprotocols: ReadonlyArray<string>
  readonly pingInterval: Option.Option<Duration.Duration>
  readonly connectTimeout: Option.Option<Duration.Duration>
  readonly insecure: boolean
}

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
  const ws = yield* WebSocket.connect(options.url, {
    headers: options.headers,
    protocols: options.subprotocols,
    ...(tls === undefined ? {} : { tls }),
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
  const printMessages = Effect.gen(function*() {
    while (true) {
      const message = yield* ws.recv
      switch (message._tag) {
        case "Text":
          yield* Output.stdout(message.text() + "\n")
          break
        case "Binary":
          yield* Output.stdout(Output.describeBinary(message.payload) + "\n")
          break
        case "Close":
          yield* Output.stderrLine(
            weClosed
              ? `closed: ${describeClose(message.code, message.reason)}`
              : `closed by the server: ${describeClose(message.code, message.reason)}`
          )
          return
        default:
          // pings are answered inside recv; neither they nor pongs are shown
          break
      }
    }
  })

  const stdio = yield* Stdio.Stdio
  const sendLines = stdio.stdin.pipe(
    Stream.decodeText(),
    Stream.splitLines,
    Stream.runForEach((line) => ws.sendText(line)),
    Effect.andThen(Effect.suspend(() => {
      weClosed = true
      return ws.close(1000, "")
    })),
    // after our close the reader reports the server's answer and ends the session
    Effect.andThen(Effect.never)
  )

  yield* Effect.raceFirst(printMessages, sendLines)
}, Effect.scoped)

/**
 * The `ws` subcommand.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("ws", {
  url: Argument.String("url").pipe(Argument.withDescription("ws:// or wss:// URL to connect to")),
  headers: Flag.String("header").pipe(
    Flag.withAlias("H"),
    Flag.withMetavar("\"NAME: VALUE\""),
    Flag.withDescription("Extra handshake header (repeatable), e.g. --header \"Authorization: Bearer …\""),
    Flag.filterMap(parseHeader, () => "Expected \"Name: value\" with a token (RFC 9110) name"),
    Flag.atLeast(0)
  ),
  subprotocols: Flag.String("subprotocol").pipe(
    Flag.withMetavar("NAME"),
    Flag.withDescription("Subprotocol to offer (repeatable, most preferred first)"),
    Flag.atLeast(0)
  ),
  pingInterval: durationFlag("ping-interval").pipe(
    Flag.withDescription(`Send a ping every DURATION; fail when nothing arrives for ${HEARTBEAT_MISSES}×DURATION`),
    Flag.optional
  ),
  connectTimeout: durationFlag("connect-timeout").pipe(
    Flag.withDescription("Time for the dial, TLS and the opening handshake (default 10s)"),
    Flag.optional
  ),
  insecure: Flag.Boolean("insecure-skip-tls-verify-dangerous").pipe(
    Flag.withDescription("INSECURE: accept any TLS certificate for any host (test rigs only)"),
    Flag.withDefault(false)
  )
}, session).pipe(
  Command.withDescription(
    "Connect to a WebSocket server: print incoming messages, send stdin lines as text messages; stdin EOF closes with 1000."
  ),
  Command.withShortDescription("WebSocket client: print messages, send stdin lines")
)
