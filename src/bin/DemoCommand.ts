/**
 * `effect-nexus demo [--duration SECONDS] [--drop-every SECONDS] [--record FILE]` — the main job (`npm start`):
 * the embedded demo exchange on 127.0.0.1 and the sample strategy with its live status line and
 * summary (see `src/Demo/Main.ts`). `--duration` defaults to the demo's own 20 s and
 * `--drop-every` (how often the exchange resets every connection) to its 5 s. Ctrl-C ends it
 * early with every socket closed.
 *
 * The demo module is imported when the subcommand runs, so the rest of the tool does not load
 * the exchange, the pool and the feed.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Command, Flag } from "effect/cli"

const seconds = (name: string) =>
  Flag.Int(name).pipe(
    Flag.withMetavar("SECONDS"),
    Flag.filter((n) => n > 0, () => "Expected a positive whole number of seconds")
  )

/**
 * The `demo` subcommand.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("demo", {
  duration: seconds("duration").pipe(
    Flag.withDescription("How long to run (default 20)"),
    Flag.optional
  ),
  dropEvery: seconds("drop-every").pipe(
    Flag.withDescription("How often the exchange resets every connection (default 5)"),
    Flag.optional
  ),
  record: Flag.String("record").pipe(
    Flag.withMetavar("FILE"),
    Flag.withDescription("Record the session the strategy saw into FILE (replay: effect-nexus replay FILE)"),
    Flag.optional
  )
}, ({ duration, dropEvery, record }) =>
  Effect.flatMap(
    Effect.promise(() => import("../Demo/Main.ts")),
    (Main) =>
      Main.run({
        ...(Option.isSome(duration) ? { durationSeconds: duration.value } : {}),
        ...(Option.isSome(dropEvery) ? { dropEverySeconds: dropEvery.value } : {}),
        ...(Option.isSome(record) ? { record: record.value } : {})
      })
  )).pipe(
    Command.withDescription(
      "Run the main job: a demo exchange on 127.0.0.1 and a sample strategy that survives its connection resets, with a live status line and a summary."
    ),
    Command.withShortDescription("Run the demo exchange and sample strategy")
  )
