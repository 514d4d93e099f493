/**
 * `ErrorReport` — turns whatever ended the command-line tool into one stderr line and an exit
 * status, never a stack trace:
 *
 * | outcome                                     | stderr                                   | exit |
 * |---------------------------------------------|------------------------------------------|------|
 * | success                                     | —                                        | 0    |
 * | bad arguments (`CliError`)                  | the parser's message and a `--help` hint | 2    |
 * | bare `effect-nexus` (help shown)            | —                                        | 2    |
 * | a typed failure (`WebSocketError`, …)       | its `message`                            | 1    |
 * | stdout closed by its reader (`EPIPE`)       | —                                        | 0    |
 * | interrupted (Ctrl-C, SIGTERM)               | —                                        | 130  |
 * | a defect (a bug)                            | `internal error: <message>`              | 70   |
 *
 * A `WebSocketError` is reported by its message, which names the address once
 * (`WebSocket 127.0.0.1:1: connect failed: connection refused`); for a connect failure of a
 * known kind, Node's own text (`connect ECONNREFUSED 127.0.0.1:1`) is left out, as it would
 * repeat the address.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { CliError, CliOutput } from "effect/cli"
import { ConnectError } from "../Transport/Transport.ts"
import type * as WebSocket from "../Transport/WebSocket.ts"
import * as Output from "./Output.ts"

/** Exit status for bad arguments. */
export const EXIT_USAGE = 2
/** Exit status for a typed failure. */
export const EXIT_FAILURE = 1
/** Exit status for an interrupted run (128 + SIGINT). */
export const EXIT_INTERRUPTED = 130
/** Exit status for a defect (`EX_SOFTWARE`). */
export const EXIT_DEFECT = 70

/** Collapses a multi-line message (the parser's "Did you mean…" block) onto one line. */
const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, " ").trim()

/**
 * The one line describing a parse error, e.g. `Unrecognized flag: --nope in command
 * effect-nexus ws (try effect-nexus ws --help)`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const usageLine = (errors: ReadonlyArray<CliError.CliError>, commandPath: ReadonlyArray<string>): string => {
  const first = errors[0]
  const text = first === undefined ? "invalid arguments" : oneLine(first.message)
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : ""
  return `${text}${more} (try ${commandPath.join(" ")} --help)`
}

/**
 * A presenter for Effect's CLI runner: help and version as usual on stdout, but an invalid
 * invocation as one stderr line instead of the full help followed by the errors.
 *
 * @since 0.1.0
 * @category layers
 */
export const presenterLayer = CliOutput.layerPresenter({
  present: (event) =>
    event._tag === "InvalidInvocation"
      ? Output.stderrLine(usageLine(event.errors, event.commandPath))
      : CliOutput.defaultPresenter.present(event)
})

// checked by tag, not instanceof, so reporting does not load the WebSocket module
const isWebSocketError = (error: unknown): error is WebSocket.WebSocketError =>
  typeof error === "object" && error !== null && (error as { _tag?: unknown })._tag === "WebSocketError"

/** The message to print for a typed failure. */
const failureLine = (error: unknown): string => {
  if (isWebSocketError(error)) {
    const reason = error.reason
    // a named kind (refused, unreachable, …) says it all; Node's text would repeat the address
    return reason._tag === "ConnectError" && reason.kind !== "Other"
      ? `WebSocket ${error.address}: ${new ConnectError({ kind: reason.kind }).message}`
      : oneLine(error.message)
  }
  if (error instanceof Error) return oneLine(error.message)
  return oneLine(String(error))
}

/**
 * Prints what `exit` calls for (see the module doc) and returns the process exit status.
 *
 * @since 0.1.0
 * @category reporting
 */
export const report = <A, E>(exit: Exit.Exit<A, E>): Effect.Effect<number> => {
  if (Exit.isSuccess(exit)) return Effect.succeed(0)
  const cause = exit.cause
  if (Cause.hasInterruptsOnly(cause)) return Effect.succeed(EXIT_INTERRUPTED)
  const error = Cause.findErrorOption(cause)
  if (error._tag === "Some") {
    const value: unknown = error.value
    // the presenter already printed the parse errors (or the implicit help)
    if (CliError.isCliError(value)) {
      return value._tag === "ShowHelp"
        ? Effect.succeed(EXIT_USAGE)
        : Effect.as(Output.stderrLine(usageLine([value], ["effect-nexus"])), EXIT_USAGE)
    }
    if (value instanceof Output.StdoutClosed) return Effect.succeed(0)
    return Effect.as(Output.stderrLine(failureLine(value)), EXIT_FAILURE)
  }
  const defect = Cause.squash(cause)
  return Effect.as(Output.stderrLine(`internal error: ${failureLine(defect)}`), EXIT_DEFECT)
}
