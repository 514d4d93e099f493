/**
 * `effect-nexus record` and `effect-nexus replay` — record a WebSocket feed to a session file and
 * print one back (issue #15; the format is `docs/replay.md`).
 *
 * - `effect-nexus record URL --out FILE [--duration 60s] [-H "Name: value"]... [--subscribe TOPIC]...`
 *   runs a supervised `MarketFeed` on URL (reconnecting with backoff, re-subscribing), records
 *   every event into FILE, and prints a live count once a second (`recorded N messages, G gaps`).
 *   It stops after `--duration`, or on Ctrl-C, and the file is complete either way (the last
 *   block written, synced and closed). `--subscribe` topics are sent as Binance-style
 *   `{"method":"SUBSCRIBE","params":[…],"id":n}`. The values of `-H` headers named
 *   `Authorization`, `X-API-KEY`, `X-MBX-APIKEY`, `Cookie` (and the rest of
 *   `SessionRecorder.REDACTED_HEADERS`) are secrets: never written, wherever they appear.
 * - `effect-nexus replay FILE` prints every record as one line: the time since the recording
 *   started (`+1.234567s`), the kind, and the payload (texts as JSON strings, binary as
 *   `<binary N bytes: hex…>`), then a summary line; `--realtime` waits the recorded time
 *   between lines. A torn last block is reported on stderr; a corrupt or newer file is a one-line
 *   error and exit 1.
 *
 * This module only parses; the sessions (`SessionTool`) are imported when a command runs.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Argument, Command, Flag } from "effect/cli"
import * as Url from "../Codec/Url.ts"
import * as Flags from "./Flags.ts"

/** Whether `url` is one a feed can connect to: an absolute `ws://` or `wss://` URL. */
const isFeedUrl = (url: string): boolean => {
  const parsed = Url.parse(url)
  return parsed._tag === "ParsedUrl" && (parsed.scheme === "ws" || parsed.scheme === "wss")
}

/**
 * The `record` subcommand.
 *
 * @since 0.1.0
 * @category commands
 */
export const record = Command.make("record", {
  // checked here: the supervised feed retries whatever fails, so a URL that can never connect
  // would be retried (and the file truncated) until --duration or Ctrl-C
  url: Argument.String("url").pipe(
    Argument.withDescription("ws:// or wss:// URL of the feed"),
    Argument.filter(isFeedUrl, (url) => `Expected a ws:// or wss:// URL, got "${url}"`)
  ),
  out: Flag.String("out").pipe(Flag.withMetavar("FILE"), Flag.withDescription("The session file to write (truncated)")),
  duration: Flags.duration("duration").pipe(
    Flag.withDescription("Stop after DURATION (500ms, 60s, 5m); default: until Ctrl-C"),
    Flag.optional
  ),
  headers: Flags.headers("Extra handshake header (repeatable); API-key and Authorization values are never recorded"),
  subscribe: Flag.String("subscribe").pipe(
    Flag.withMetavar("TOPIC"),
    Flag.withDescription("Topic to subscribe to after every (re)connect (repeatable)"),
    Flag.atLeast(0)
  )
}, (options) =>
  Effect.flatMap(Effect.promise(() => import("./SessionTool.ts")), (tool) =>
    tool.record({
      url: options.url,
      out: options.out,
      duration: Option.getOrUndefined(options.duration),
      headers: options.headers,
      subscriptions: options.subscribe
    }))).pipe(
    Command.withDescription("Record a WebSocket feed (supervised: reconnects, re-subscribes) into a session file, printing a live count."),
    Command.withShortDescription("Record a feed into a session file")
  )

/**
 * The `replay` subcommand.
 *
 * @since 0.1.0
 * @category commands
 */
export const replay = Command.make("replay", {
  file: Argument.String("file").pipe(Argument.withDescription("A session file written by record (or by the library)")),
  realtime: Flag.Boolean("realtime").pipe(Flag.withDescription("Wait the recorded time between lines"), Flag.withDefault(false))
}, (options) => Effect.flatMap(Effect.promise(() => import("./SessionTool.ts")), (tool) => tool.replay(options))).pipe(
  Command.withDescription("Print a session file: every record with its time since the recording started, then a summary."),
  Command.withShortDescription("Print a session file with its timings")
)
