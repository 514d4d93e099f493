/**
 * `SessionTool` — what `effect-nexus record` and `effect-nexus replay` run (see
 * `SessionCommands` for the behaviour the user sees).
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as SessionFile from "../Codec/SessionFile.ts"
import * as MarketFeed from "../Layers/MarketFeed.ts"
import * as Recording from "../Layers/Recording.ts"
import * as SessionLog from "../Layers/SessionLog.ts"
import * as SessionRecorder from "../Layers/SessionRecorder.ts"
import { Buffer } from "node:buffer"
import * as fs from "node:fs"
import * as Output from "./Output.ts"

/**
 * The parsed `record` arguments.
 *
 * @since 0.1.0
 * @category models
 */
export interface RecordOptions {
  readonly url: string
  readonly out: string
  readonly duration: Duration.Duration | undefined
  readonly headers: ReadonlyArray<readonly [string, string]>
  readonly subscriptions: ReadonlyArray<string>
}

/**
 * Records the feed at `url` into `out` until `duration` passes or the run is interrupted.
 *
 * @since 0.1.0
 * @category handlers
 */
export const record = (options: RecordOptions) =>
  Effect.gen(function*() {
    const secret = new Set(SessionRecorder.REDACTED_HEADERS)
    const recorder = yield* SessionRecorder.make(options.out, {
      source: options.url,
      secrets: options.headers.filter(([name]) => secret.has(name.toLowerCase())).map(([, value]) => value)
    })
    const live = yield* MarketFeed.make({ url: options.url, subscriptions: options.subscriptions, socket: { headers: options.headers } })
    const feed = yield* Recording.marketFeed(live, recorder)
    const counts = { messages: 0, gaps: 0, connects: 0 }
    const reader = yield* Effect.forkChild(Stream.runForEach(feed.events, (event) =>
      Effect.sync(() => {
        if (event._tag === "Messages") counts.messages += event.count
        else if (event._tag === "Gap") counts.gaps++
        else counts.connects++
      })))
    const line = () => `recorded ${counts.messages} messages, ${counts.gaps} gaps, ${counts.connects} connects to ${options.out}`
    const tty = process.stdout.isTTY === true
    const started = yield* Clock.currentTimeMillis
    const deadline = options.duration === undefined ? Infinity : started + Duration.toMillis(options.duration)
    yield* Effect.ensuring(
      Effect.gen(function*() {
        while ((yield* Clock.currentTimeMillis) < deadline && reader.pollUnsafe() === undefined) {
          const left = deadline - (yield* Clock.currentTimeMillis)
          yield* Effect.sleep(Duration.millis(Math.max(1, Math.min(1000, left))))
          yield* Output.stdout(tty ? `\r${line()}\x1b[K` : `${line()}\n`)
        }
      }),
      Effect.andThen(Fiber.interrupt(reader), Effect.sync(() => process.stdout.write(`${tty ? "\n" : ""}${line()}\n`)))
    )
    yield* recorder.flush
  }).pipe(Effect.scoped)

const KIND_NAMES: Record<string, string> = {
  Meta: "META",
  End: "END",
  Connected: "CONNECTED",
  Gap: "GAP",
  Close: "CLOSE",
  Reconnecting: "RECONNECTING",
  Subscriptions: "SUBSCRIPTIONS",
  Request: "REQUEST",
  Response: "RESPONSE",
  Failure: "FAILURE",
  Unknown: "UNKNOWN",
  Malformed: "MALFORMED"
}

/**
 * One entry as the line `replay` prints (without its time).
 *
 * @since 0.1.0
 * @category formatting
 */
export const describeEntry = (entry: SessionFile.Entry): string => {
  const { _tag, time: _time, ...rest } = entry
  switch (entry._tag) {
    case "Message":
      return `${entry.direction === "In" ? "IN " : "OUT"} ${JSON.stringify(entry.text)}`
    case "BinaryMessage":
      return `${entry.direction === "In" ? "IN " : "OUT"} ${Output.describeBinary(entry.payload)}`
    case "Request":
    case "Response":
      return `${KIND_NAMES[_tag]} #${entry.id} ${entry._tag === "Request" ? `${entry.method} ${entry.target}` : entry.status} ${
        entry.body.byteLength === 0 ? "" : JSON.stringify(Buffer.from(entry.body).toString("utf8").slice(0, 200))
      }`.trimEnd()
    default:
      return `${KIND_NAMES[_tag] ?? _tag} ${JSON.stringify(rest)}`
  }
}

/**
 * Prints `file`, one line per record (see `SessionCommands`).
 *
 * @since 0.1.0
 * @category handlers
 */
export const replay = (options: { readonly file: string; readonly realtime: boolean }) =>
  Effect.gen(function*() {
    let torn: { offset: number; bytes: number } | undefined
    let count = 0
    let last = 0
    let messages = 0
    const start = yield* Clock.currentTimeMillis
    yield* Stream.runForEach(
      SessionLog.entries(options.file, { onTorn: (t) => void (torn = t) }),
      (entry) =>
        Effect.gen(function*() {
          if (options.realtime) {
            const wait = start + entry.time / 1000 - (yield* Clock.currentTimeMillis)
            if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
          }
          count++
          last = entry.time
          if (entry._tag === "Message" || entry._tag === "BinaryMessage") messages++
          yield* Output.stdout(`+${(entry.time / 1e6).toFixed(6)}s ${Output.escapesForTerminal() ? Output.escapeControls(describeEntry(entry)) : describeEntry(entry)}\n`)
        })
    )
    const bytes = (yield* Effect.sync(() => fileSize(options.file)))
    yield* Output.stdout(`${count} records (${messages} messages) over ${(last / 1e6).toFixed(3)} s, ${bytes} bytes\n`)
    if (torn !== undefined) yield* Output.stderrLine(`the last block (${torn.bytes} bytes at offset ${torn.offset}) was torn and dropped`)
  })

const fileSize = (file: string): number => fs.statSync(file).size
