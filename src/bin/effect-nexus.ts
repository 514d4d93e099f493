#!/usr/bin/env node
/**
 * `effect-nexus` — the command-line tool, built with Effect's CLI module.
 *
 * ```text
 * effect-nexus ws URL [--header "Name: value"]... [--subprotocol NAME]...
 *                     [--ping-interval DURATION] [--connect-timeout DURATION]
 *                     [--insecure-skip-tls-verify-dangerous]
 *     print every incoming message (text as a line, binary as <binary N bytes: hex…>),
 *     send every stdin line as a text message; stdin EOF closes with 1000
 * effect-nexus demo [--duration SECONDS] [--drop-every SECONDS]
 *     the main job (npm start): demo exchange + sample strategy, live status, summary
 * effect-nexus bench [codec|loopback|pool]
 *     run the benchmark scripts with this Node and print their markdown tables (all by default)
 * effect-nexus --help | --version
 *
 * echo '{"op":"subscribe"}' | effect-nexus ws wss://example.com/feed -H "Authorization: Bearer $T"
 * node src/bin/effect-nexus.ts ws ws://127.0.0.1:9001 --ping-interval 5s     (or: npm run cli -- ws …)
 * ```
 *
 * Exit status: 0 after a clean close, 1 on a failure (one line on stderr, e.g.
 * `effect-nexus: connect to 127.0.0.1:1 failed: connection refused`), 2 on bad arguments, 130
 * after Ctrl-C (the socket is closed first). See `ErrorReport` for the full table.
 *
 * Runs under Node ≥ 22.19 straight from the sources (type stripping) or from `dist/bin` after
 * `npm run build`. The process exits explicitly once the command is done (after stdout and
 * stderr have flushed), since a terminal or pipe on stdin would otherwise keep it alive after
 * the server closed first.
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
    "Low-latency WebSocket and HTTP/1.1 networking on Effect: a WebSocket client, the demo main job and the benchmarks."
  ),
  Command.withSubcommands([WsCommand.command, DemoCommand.command, BenchCommand.command])
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
