/**
 * `effect-nexus bench [codec|loopback|pool]` — runs the benchmark scripts of a source checkout
 * (`bench/codec.ts`, `bench/loopback.ts`, `bench/pool.ts`, each printing markdown tables) as
 * child processes of the same Node binary (`process.execPath`), their stdout and stderr passed
 * straight through. Without an argument all three run in sequence; the first failing script
 * stops the run with its exit status. `--filter REGEX` is handed to each script as its first
 * argument: `bench/codec.ts` and `bench/loopback.ts` then run only the benchmarks whose name
 * matches; `bench/pool.ts` takes no filter yet and runs everything. Environment variables pass through too (e.g.
 * `ROUNDS=3` for `bench/loopback.ts`).
 *
 * The scripts are found relative to this module (`../../bench/` from `src/bin/` or
 * `dist/bin/`): they need the checkout's dev dependencies (`ws`, `undici`, `tinybench`), so
 * they are not part of the published package, and a missing script is a `BenchScriptMissing`
 * error naming the path. An interrupted run (Ctrl-C) kills the running child (SIGTERM).
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Argument, Command, Flag } from "effect/cli"
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import * as Output from "./Output.ts"

/**
 * The benchmark suites, in the order `bench` without an argument runs them.
 *
 * @since 0.1.0
 * @category models
 */
export const SUITES = ["codec", "loopback", "pool"] as const

/**
 * One of {@link SUITES}.
 *
 * @since 0.1.0
 * @category models
 */
export type Suite = typeof SUITES[number]

/**
 * The script for `suite` is not where a source checkout keeps it.
 *
 * @since 0.1.0
 * @category errors
 */
export class BenchScriptMissing extends Data.TaggedError("BenchScriptMissing")<{
  readonly suite: Suite
  readonly path: string
}> {
  override get message(): string {
    return `bench ${this.suite}: ${this.path} not found (benchmarks run from a source checkout of effect-nexus)`
  }
}

/**
 * The script could not be started, or it exited with a non-zero status or a signal.
 *
 * @since 0.1.0
 * @category errors
 */
export class BenchFailed extends Data.TaggedError("BenchFailed")<{
  readonly suite: Suite
  readonly path: string
  readonly exitCode: number | null
  readonly signal: string | null
  readonly cause?: unknown
}> {
  override get message(): string {
    const how = this.cause !== undefined
      ? `could not start: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`
      : this.signal !== null
      ? `killed by ${this.signal}`
      : `exited with status ${this.exitCode}`
    return `bench ${this.suite}: ${this.path} ${how}`
  }
}

/**
 * Where the script for `suite` lives: `bench/<suite>.ts` two folders above this module.
 *
 * @since 0.1.0
 * @category utils
 */
export const scriptPath = (suite: Suite): string => fileURLToPath(new URL(`../../bench/${suite}.ts`, import.meta.url))

/**
 * Runs one suite's script with `process.execPath`, stdio inherited, `filter` (a regular
 * expression over benchmark names) passed as its first argument; succeeds on exit status 0.
 *
 * @since 0.1.0
 * @category running
 */
export const runSuite = (
  suite: Suite,
  filter?: string | undefined
): Effect.Effect<void, BenchScriptMissing | BenchFailed> =>
  Effect.suspend((): Effect.Effect<void, BenchScriptMissing | BenchFailed> => {
    const path = scriptPath(suite)
    if (!existsSync(path)) return Effect.fail(new BenchScriptMissing({ suite, path }))
    return Effect.callback<void, BenchFailed>((resume) => {
      const child = spawn(process.execPath, filter === undefined ? [path] : [path, filter], { stdio: "inherit" })
      child.once("error", (cause) =>
        resume(Effect.fail(new BenchFailed({ suite, path, exitCode: null, signal: null, cause }))))
      child.once("exit", (exitCode, signal) =>
        resume(
          exitCode === 0
            ? Effect.void
            : Effect.fail(new BenchFailed({ suite, path, exitCode, signal }))
        ))
      // interrupted (Ctrl-C): the child saw the terminal's SIGINT too, but a piped run may not
      return Effect.sync(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
      })
    })
  })

/**
 * The `bench` subcommand.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("bench", {
  suite: Argument.Literals("suite", SUITES).pipe(
    Argument.withDescription("Which benchmark to run (codec, loopback or pool); all three when omitted"),
    Argument.optional
  ),
  filter: Flag.String("filter").pipe(
    Flag.withMetavar("REGEX"),
    Flag.withDescription("Run only the benchmarks whose name matches REGEX (codec and loopback; pool runs all)"),
    Flag.optional
  )
}, ({ filter, suite }) =>
  Effect.gen(function*() {
    const suites = Option.match(suite, { onNone: () => SUITES, onSome: (one) => [one] as const })
    for (const one of suites) {
      if (suites.length > 1) yield* Output.stdout(`\n## bench ${one}\n\n`)
      yield* runSuite(one, Option.getOrUndefined(filter))
    }
  })).pipe(
    Command.withDescription(
      "Run the benchmarks (bench/codec.ts, bench/loopback.ts, bench/pool.ts) with this Node and print their markdown tables."
    ),
    Command.withShortDescription("Run the benchmarks and print their tables")
  )
