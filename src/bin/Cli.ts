/**
 * `Cli` — the `effect-nexus` command tree on Effect's CLI module, the platform layer it runs
 * on, and the process runner: parse `process.argv`, run the subcommand, print at most one
 * diagnostic line (`ErrorReport`), flush stdout and stderr, exit with the status. Started by
 * `src/bin/effect-nexus.ts` (see its doc for the usage).
 *
 * The process exits explicitly once the command is done (after stdout and stderr have
 * flushed), since a terminal or pipe on stdin would otherwise keep it alive after the server
 * closed first.
 *
 * @since 0.1.0
 */
import * as NodeChildProcessSpawner from "@effect/platform-node/NodeChildProcessSpawner"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeStdio from "@effect/platform-node/NodeStdio"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Command } from "effect/cli"
import { readFileSync } from "node:fs"
import * as BenchCommand from "./BenchCommand.ts"
import * as DemoCommand from "./DemoCommand.ts"
import * as ErrorReport from "./ErrorReport.ts"
import * as SessionCommands from "./SessionCommands.ts"
import * as WsCommand from "./WsCommand.ts"

const packageVersion = (): string => {
  try {
    const json = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: unknown }
    return typeof json.version === "string" ? json.version : "unknown"
  } catch {
    return "unknown"
  }
}

/**
 * The root command and its subcommands.
 *
 * @since 0.1.0
 * @category commands
 */
export const cli = Command.make("effect-nexus").pipe(
  Command.withDescription(
    "Low-latency WebSocket and HTTP/1.1 networking on Effect: a WebSocket client, the demo main job, the benchmarks, and recording and replaying a feed."
  ),
  Command.withSubcommands([WsCommand.command, DemoCommand.command, BenchCommand.command, SessionCommands.record, SessionCommands.replay])
)

/**
 * The platform services Effect's CLI runner needs (`Command.Environment`). Not
 * `NodeServices.layer`: it also loads `NodeCrypto`, whose import of `effect/Crypto` fails with
 * effect 4.1 (@effect/platform-node 4.0.6 predates the module's move), and the tool needs no
 * `Crypto` service.
 *
 * @since 0.1.0
 * @category layers
 */
export const platformLayer = Layer.provideMerge(
  NodeChildProcessSpawner.layer,
  Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeStdio.layer, NodeTerminal.layer)
)

/**
 * Parses `process.argv`, runs the chosen subcommand and resolves to the process exit status,
 * having printed at most one diagnostic line.
 *
 * @since 0.1.0
 * @category running
 */
export const main: Effect.Effect<number> = Command.run(cli, { version: packageVersion() }).pipe(
  Effect.provide(ErrorReport.presenterLayer),
  Effect.provide(platformLayer),
  Effect.exit,
  Effect.flatMap(ErrorReport.report)
)

/** Calls `then` once `stream` has handed every queued byte to the OS (or failed). */
const flushed = (stream: NodeJS.WriteStream, then: () => void): void => {
  if (stream.writableLength === 0 || stream.destroyed) then()
  else stream.write("", () => then())
}

NodeRuntime.runMain(main, {
  disableErrorReporting: true,
  teardown: (exit, onExit) => {
    // `main` never fails: a failure exit can only be the interruption of a signal
    const code = exit._tag === "Success" ? exit.value as number : ErrorReport.EXIT_INTERRUPTED
    // a pipe whose reader lags holds the last lines in Node's queue: flush before exiting
    flushed(process.stdout, () => flushed(process.stderr, () => {
      onExit(code)
      process.exit(code)
    }))
  }
})
