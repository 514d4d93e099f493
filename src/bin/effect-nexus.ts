#!/usr/bin/env node
/**
 * `effect-nexus` — the command-line tool, built with Effect's CLI module.
 *
 * ```text
 * effect-nexus ws URL [--header "Name: value"]... [--subprotocol NAME]...
 *                     [--ping-interval DURATION] [--connect-timeout DURATION]
 *                     [--listen-only] [--insecure-skip-tls-verify-dangerous]
 *     print every incoming message (text as a line, binary as <binary N bytes: hex…>),
 *     send every stdin line as a text message; stdin EOF closes with 1000
 * effect-nexus demo [--duration SECONDS] [--drop-every SECONDS] [--record FILE]
 *     the main job (npm start): demo exchange + sample strategy, live status, summary
 * effect-nexus record URL --out FILE [--duration 60s] [-H "Name: value"]... [--subscribe TOPIC]...
 *     record a supervised feed into a session file, printing a live count
 * effect-nexus replay FILE [--realtime]
 *     print a session file, every record with its time since the recording started
 * effect-nexus bench [codec|loopback|pool] [--filter REGEX]
 *     run the benchmark scripts with this Node and print their markdown tables (all by default)
 * effect-nexus --help | --version
 *
 * echo '{"op":"subscribe"}' | effect-nexus ws wss://example.com/feed -H "Authorization: Bearer $T"
 * node src/bin/effect-nexus.ts ws ws://127.0.0.1:9001 --ping-interval 5s     (or: npm run cli -- ws …)
 * effect-nexus ws wss://example.com/feed --listen-only >> feed.log             (from cron: stdin unused)
 * ```
 *
 * Exit status: 0 after a clean close, 1 on a failure (one line on stderr, e.g.
 * `effect-nexus: connect to 127.0.0.1:1 failed: connection refused`), 2 on bad arguments, 130
 * after Ctrl-C (the socket is closed first). See `ErrorReport` for the full table.
 *
 * Runs under Node ≥ 22.19 straight from the sources (type stripping) or from `dist/bin` after
 * `npm run build`. This entry only checks that the peer dependencies the tool runs on (`effect`,
 * `@effect/platform-node`, optional for the library) can be loaded — a missing one is a
 * one-line error naming the install command, not a module-resolution stack trace — and then
 * starts `Cli`.
 *
 * @since 0.1.0
 */
const required = ["effect", "@effect/platform-node"] as const

for (const name of required) {
  try {
    await import(name === "effect" ? "effect/Effect" : "@effect/platform-node/NodeRuntime")
  } catch (error) {
    if ((error as { code?: unknown }).code !== "ERR_MODULE_NOT_FOUND") throw error
    process.stderr.write(`effect-nexus: the command-line tool needs ${name}; install it with: npm install ${name}\n`)
    process.exit(1)
  }
}

await import("./Cli.ts")
