/**
 * `Output` — how the command-line tool writes lines: straight to the process's stdout/stderr
 * streams, waiting for `'drain'` when a pipe is full (so a slow reader such as `| less` slows the
 * WebSocket down instead of growing memory), and turning a closed stdout (`EPIPE`, e.g. `| head`)
 * into a typed `StdoutClosed` instead of an uncaught `'error'` event.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"

/**
 * Stdout was closed by its reader (`EPIPE`) or failed; nothing more can be printed.
 *
 * @since 0.1.0
 * @category errors
 */
export class StdoutClosed extends Data.TaggedError("StdoutClosed")<{
  readonly code: string
}> {
  override get message(): string {
    return `stdout closed (${this.code})`
  }
}

let stdoutFailure: StdoutClosed | undefined
let listening = false

const fail = (code: string): void => {
  stdoutFailure ??= new StdoutClosed({ code })
}

const listen = (): void => {
  if (listening) return
  listening = true
  // one listener for the process' lifetime: a failed write is reported here, asynchronously
  process.stdout.on("error", (error: NodeJS.ErrnoException) => fail(error.code ?? error.message))
  process.stdout.on("close", () => fail("closed"))
}

// a reader that went away (EPIPE) never drains: wake on 'error' and 'close' as well
const waitForDrain = Effect.callback<void, StdoutClosed>((resume) => {
  const onDrain = () => resume(Effect.void)
  const onGone = () => resume(Effect.fail(stdoutFailure ?? new StdoutClosed({ code: "closed" })))
  const stream = process.stdout
  stream.once("drain", onDrain)
  stream.once("error", onGone)
  stream.once("close", onGone)
  return Effect.sync(() => {
    stream.off("drain", onDrain)
    stream.off("error", onGone)
    stream.off("close", onGone)
  })
})

/**
 * Writes `text` (which should end with a newline) to stdout; suspends until `'drain'` when the
 * stream's buffer is full. Fails with `StdoutClosed` once stdout has failed.
 *
 * @since 0.1.0
 * @category output
 */
export const stdout = (text: string): Effect.Effect<void, StdoutClosed> =>
  Effect.suspend(() => {
    listen()
    if (stdoutFailure !== undefined) return Effect.fail(stdoutFailure)
    return process.stdout.write(text) ? Effect.void : waitForDrain
  })

/**
 * Writes one diagnostic line to stderr, prefixed with the tool's name (`effect-nexus: `).
 * Stderr is not waited on (diagnostics are few and short), and a failed stderr is ignored.
 *
 * @since 0.1.0
 * @category output
 */
export const stderrLine = (line: string): Effect.Effect<void> =>
  Effect.sync(() => {
    if (!stderrGuarded) {
      stderrGuarded = true
      // a closed stderr must not crash the process with an unhandled 'error' event
      process.stderr.on("error", () => {})
    }
    process.stderr.write(`effect-nexus: ${line}\n`)
  })

let stderrGuarded = false

// C0 controls but TAB and LF, DEL, and the C1 range (0x9b is a one-byte CSI on some terminals)
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g

const caret = (char: string): string => {
  const code = char.charCodeAt(0)
  return code < 0x20 ? `^${String.fromCharCode(code + 0x40)}` : code === 0x7f ? "^?" : `\\x${code.toString(16)}`
}

/**
 * Makes server-sent text safe to show on a terminal: control characters other than TAB and LF
 * (ESC, CR, BEL, backspace, C1 codes) become visible caret or `\xNN` escapes, so a peer cannot
 * move the cursor, retitle the window or hide earlier output. Text without them is returned as is.
 *
 * @since 0.1.0
 * @category output
 */
export const escapeControls = (text: string): string => {
  CONTROL.lastIndex = 0
  return CONTROL.test(text) ? text.replace(CONTROL, caret) : text
}

/**
 * Whether printed messages are escaped with {@link escapeControls}: when stdout is a terminal.
 * A pipe or a file gets the bytes exactly as sent.
 *
 * @since 0.1.0
 * @category output
 */
export const escapesForTerminal = (): boolean => process.stdout.isTTY === true

const HEX_PREFIX_BYTES = 16

/**
 * How a binary message is shown: `<binary N bytes: 0a1b…>`, the first 16 bytes in hex followed
 * by `…` when there are more.
 *
 * @since 0.1.0
 * @category output
 */
export const describeBinary = (payload: Uint8Array): string => {
  const shown = payload.subarray(0, HEX_PREFIX_BYTES)
  const hex = Buffer.from(shown.buffer, shown.byteOffset, shown.byteLength).toString("hex")
  const more = payload.length > HEX_PREFIX_BYTES ? "…" : ""
  return `<binary ${payload.length} bytes${payload.length === 0 ? "" : `: ${hex}${more}`}>`
}
