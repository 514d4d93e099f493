/**
 * What every recipe needs to run as a program: argument checks and one way to end. Bad
 * arguments print one line and the usage and exit 2; a failure prints its message on one line
 * and exits 1 (no cause dump, no stack trace); success exits 0. Ctrl-C interrupts the recipe,
 * so its scope closes every socket (`NodeRuntime.runMain`).
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"

/**
 * A bad command-line argument or environment variable.
 *
 * @since 0.1.0
 * @category errors
 */
export class UsageError extends Error {
  override readonly name = "UsageError"
}

/**
 * Parses `value` (named `name` in the message) as a number of at least `min`, or throws a
 * `UsageError`; `undefined` gives `fallback`.
 *
 * @since 0.1.0
 * @category options
 */
export const numberOption = (name: string, value: string | undefined, fallback: number, min = 0): number => {
  if (value === undefined) return fallback
  const n = Number(value)
  if (value.trim() === "" || !Number.isFinite(n) || n < min) {
    throw new UsageError(`${name} must be a number of at least ${min}, got ${JSON.stringify(value)}`)
  }
  return n
}

/**
 * Runs `main(parse())` as the process: see the module doc for the exit codes.
 *
 * @since 0.1.0
 * @category running
 */
export const runProgram = <O, A, E extends { readonly message: string }>(
  name: string,
  usage: string,
  parse: () => O,
  main: (options: O) => Effect.Effect<A, E>
): void => {
  let options: O
  try {
    options = parse()
  } catch (error) {
    // parseArgs throws TypeError for unknown or malformed flags; ours throw UsageError
    console.error(`${name}: ${(error as Error).message}\nusage: ${usage}`)
    process.exitCode = 2
    return
  }
  NodeRuntime.runMain(
    Effect.tapError(main(options), (error) => Effect.sync(() => console.error(`${name}: ${error.message}`))),
    { disableErrorReporting: true }
  )
}
