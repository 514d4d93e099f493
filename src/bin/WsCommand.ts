/**
 * `effect-nexus ws URL` — an interactive (or piped) WebSocket client on `WebSocket.connect`.
 *
 * - Every incoming text message is printed to stdout as one line (a text containing newlines
 *   spans several); a binary message as `<binary N bytes: hex prefix>`. Pings are answered
 *   automatically and, like pongs, not printed. On a terminal, control characters in the
 *   text (ESC, CR, BEL, …) are shown escaped (`^[`), so a server cannot drive the terminal; a
 *   pipe or file gets the text exactly as sent.
 * - Every stdin line (LF or CRLF, the terminator removed) is sent as one text message, empty
 *   lines included. Stdout is written with backpressure: a slow reader slows the socket.
 * - stdin EOF (the end of a pipe, Ctrl-D in a terminal) starts the closing handshake with 1000;
 *   the tool exits 0 once the server answers. A server that closes first ends the session too:
 *   its code and reason go to stderr, and the exit is 0.
 *   Every message the server sent before answering our close is still printed.
 * - Ctrl-C (SIGINT) or SIGTERM interrupts the session; the socket is then closed with 1001
 *   (going away), waiting at most `WsSession.INTERRUPT_CLOSE_TIMEOUT` (2 s) for the server's
 *   answer, and the exit code is 130. A stdout closed by its reader (`| head`) ends the session
 *   the same way, quietly, with exit 0.
 * - A connection lost without a close frame, a heartbeat miss or a protocol violation fails
 *   the session with the typed error's one-line message and exit 1.
 *
 * Flags: `--header "Name: value"` (repeatable), `--subprotocol NAME` (repeatable, most
 * preferred first), `--ping-interval DURATION` (a ping every N; the connection fails when no
 * byte arrives for 3×N), `--connect-timeout DURATION` (default 10 s, the library's default;
 * durations are written `250ms`, `5s`, `1.5s`, `2m`, `1h` or as bare seconds), `--listen-only`
 * (stdin is not read, so a run with no terminal or pipe, e.g. from cron, does not close at
 * once on the empty stdin), and
 * `--insecure-skip-tls-verify-dangerous`, which maps to the `Tls` module's
 * `dangerouslyDisableCertificateVerification` and prints a warning on stderr when used.
 *
 * This module only parses; the session (`WsSession`, with the transport stack) is imported when
 * the command runs, so `--help` and argument errors answer without loading it.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { Argument, Command, Flag } from "effect/cli"
import * as Flags from "./Flags.ts"
import { HEARTBEAT_MISSES } from "./WsOptions.ts"

/**
 * The `ws` subcommand.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("ws", {
  url: Argument.String("url").pipe(Argument.withDescription("ws:// or wss:// URL to connect to")),
  headers: Flags.headers("Extra handshake header (repeatable), e.g. --header \"Authorization: Bearer …\""),
  subprotocols: Flag.String("subprotocol").pipe(
    Flag.withMetavar("NAME"),
    Flag.withDescription("Subprotocol to offer (repeatable, most preferred first)"),
    Flag.atLeast(0)
  ),
  pingInterval: Flags.duration("ping-interval").pipe(
    Flag.withDescription(`Send a ping every DURATION; fail when nothing arrives for ${HEARTBEAT_MISSES}×DURATION`),
    Flag.optional
  ),
  connectTimeout: Flags.duration("connect-timeout").pipe(
    Flag.withDescription("Time for the dial, TLS and the opening handshake (default 10s)"),
    Flag.optional
  ),
  proxy: Flag.String("proxy").pipe(
    Flag.withMetavar("URL"),
    Flag.withDescription(
      "HTTP CONNECT proxy, http://[user:password@]host:port (default: HTTPS_PROXY / HTTP_PROXY / NO_PROXY from the environment)"
    ),
    Flag.optional
  ),
  listenOnly: Flag.Boolean("listen-only").pipe(
    Flag.withDescription("Do not read stdin: print messages until the server closes or Ctrl-C (for cron, nohup, < /dev/null)"),
    Flag.withDefault(false)
  ),
  insecure: Flag.Boolean("insecure-skip-tls-verify-dangerous").pipe(
    Flag.withDescription("INSECURE: accept any TLS certificate for any host (test rigs only)"),
    Flag.withDefault(false)
  )
}, (options) =>
  Effect.flatMap(
    Effect.promise(() => import("./WsSession.ts")),
    (WsSession) => WsSession.session(options)
  )).pipe(
  Command.withDescription(
    "Connect to a WebSocket server: print incoming messages, send stdin lines as text messages; stdin EOF closes with 1000."
  ),
  Command.withShortDescription("WebSocket client: print messages, send stdin lines")
)
