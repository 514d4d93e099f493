/**
 * `MarketFeedReplay` — the `MarketFeed` service served from a recorded session file (issue
 * #15), behind `MarketFeed.layerReplay(file, options)`: no network, the events the application
 * read when the session was recorded, in order, at their recorded times on the Effect `Clock`
 * (so under `TestClock` every timeout and schedule around them behaves as it did), or as fast as
 * the application reads (`timing: "fast"`).
 *
 * What is served: every recorded message (text and binary) in `Messages` batches (with recorded
 * timing a batch of one per message at its time; fast, the consecutive messages of one read of
 * the file as one batch that indexes the read's buffer in place, never reused, so owned), `Gap`
 * (its error rebuilt as the package's error of the same tag and fields, or a plain `{ _tag,
 * message }` value for a foreign one) and `Connected`; the `state` follows the recorded `Connected` and `Reconnecting` records
 * and ends `Stopped` with the session. `subscribe`/`unsubscribe` change only the topic list: the
 * recording is what it is. Records of other kinds (REST, sent messages) are skipped.
 *
 * The file is checked whole when the layer is built (every block's CRC-32: a bad file fails the
 * layer with `SessionError`; a torn last block is dropped), then read again in 256 KiB chunks as
 * the events are consumed, without checking the CRCs a second time. Each run of `events` replays from the start, with times counted from the
 * moment the layer was built; paced by the recording, it ends when the recorded session ended
 * (its `End` record), not at its last event.
 *
 * `MarketFeed.ts` imports this module, so the events and the service it serves come from
 * `internal/feedService.ts`, where both modules take them.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as SessionFile from "../Codec/SessionFile.ts"
import type * as Supervisor from "../Reconnect/Supervisor.ts"
import type { FeedEvent, MarketFeedService } from "./internal/feedService.ts"
import * as Messages from "./internal/messages.ts"
import * as RecordedError from "./internal/recordedError.ts"
import * as SessionLog from "./SessionLog.ts"

/**
 * How the replay paces the events: `"recorded"` (each at its recorded time on the `Clock`) or
 * `"fast"` (as fast as they are read). Default `"recorded"`.
 *
 * @since 0.1.0
 * @category models
 */
export type Timing = "recorded" | "fast"

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Pacing. Default `"recorded"`. */
  readonly timing?: Timing | undefined
  /** Told when the file's last block was torn and dropped. */
  readonly onTorn?: SessionLog.ReadOptions["onTorn"]
  /** Bytes read from the file at a time (the events of one read come as one array). Default `SessionLog.DEFAULT_READ_CHUNK`. */
  readonly chunkSize?: number | undefined
}

/** The events other than messages. */
type ControlEvent = Exclude<FeedEvent, Messages.Messages>

/** A decoded record: an event to deliver and/or a state to enter, at `time` µs. */
interface Item {
  readonly time: number
  readonly event: FeedEvent | undefined
  readonly state: Supervisor.FeedState | undefined
}

const stateOf = (entry: SessionFile.Entry, sinceMillis: number): Supervisor.FeedState | undefined => {
  switch (entry._tag) {
    case "Connected":
      return { _tag: "Connected", since: sinceMillis, sessions: entry.session }
    case "Reconnecting":
      return {
        _tag: "Reconnecting",
        attempt: entry.attempt,
        delay: Duration.millis(entry.delayMillis),
        error: entry.error === undefined ? undefined : RecordedError.decodeOrPlain(entry.error)
      }
    default:
      return undefined
  }
}

/** The `Gap` or `Connected` event of a record (decoded as an `Entry`: they are rare), or `undefined`. */
const controlEventOf = (record: SessionFile.RecordView): ControlEvent | undefined => {
  const entry = SessionFile.decodeEntry(record)
  if (entry._tag === "Connected") return { _tag: "Connected", session: entry.session, renewal: entry.renewal }
  if (entry._tag !== "Gap") return undefined
  return {
    _tag: "Gap",
    gap: {
      error: entry.error === undefined ? undefined : RecordedError.decodeOrPlain(entry.error),
      connectedFor: Duration.micros(BigInt(Math.max(0, Math.round(entry.connectedForMicros)))),
      at: entry.at
    }
  }
}

/** The event of a record on the paced path: a message as a run of its own, `Gap`, `Connected`, or `undefined`. */
const eventOf = (record: SessionFile.RecordView): FeedEvent | undefined => {
  switch (record.kind) {
    case SessionFile.Kind.InText:
    case SessionFile.Kind.InBinary:
      // the read buffers are never reused (SessionLog.records): the payload is owned where it lies
      return Messages.single(record.buf, record.start, record.end, record.kind === SessionFile.Kind.InText)
    case SessionFile.Kind.Connected:
    case SessionFile.Kind.Gap:
      return controlEventOf(record)
    default:
      return undefined
  }
}

const isStateKind = (kind: number) => kind === SessionFile.Kind.Connected || kind === SessionFile.Kind.Reconnecting

/**
 * Checks `file` whole (failing with `SessionError` if it cannot be replayed) and returns the
 * replayed feed; see the module doc.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (file: string, options: Options = {}): Effect.Effect<MarketFeedService, SessionLog.SessionError, Scope.Scope> =>
  Effect.gen(function*() {
    const timing = options.timing ?? "recorded"
    // one pass at CRC speed: a corrupt or newer file fails the layer, not the stream later
    yield* SessionLog.check(file, { onTorn: options.onTorn })
    // the topics: the first Subscriptions record (the recorder writes it before any message),
    // looked for among the first records only
    let seen = 0
    const first = yield* SessionLog.records(file, (record) =>
      record.kind === SessionFile.Kind.Subscriptions || ++seen === 64 ? SessionFile.decodeEntry(record) : undefined
    ).pipe(Stream.take(1), Stream.runCollect)
    let topics: ReadonlyArray<string> = first[0]?._tag === "Subscriptions" ? first[0].topics : []
    const state = yield* SubscriptionRef.make<Supervisor.FeedState>({ _tag: "Connecting", attempt: 0 })
    const stopped = yield* Deferred.make<void>()
    const originNanos = yield* Clock.currentTimeNanos
    const end = SubscriptionRef.set(state, { _tag: "Stopped", reason: "Stopped" })

    const fast: Stream.Stream<FeedEvent> = Stream.suspend(() => {
      // every read of the file is decoded in one go: consecutive messages become one run over
      // the read buffer (no copy, no object per message); state records are rare, collected per
      // read and entered when its events are emitted
      let pending: Array<Supervisor.FeedState> = []
      const runs = new Messages.RunBuilder()
      const decoded = SessionLog.records<FeedEvent>(file, (record) => {
        const kind = record.kind
        if (kind === SessionFile.Kind.InBinary || kind === SessionFile.Kind.InText) {
          return runs.add(record.buf, record.start, record.end, kind === SessionFile.Kind.InText)
        }
        if (kind !== SessionFile.Kind.Connected && kind !== SessionFile.Kind.Gap && kind !== SessionFile.Kind.Reconnecting) return undefined
        runs.seal()
        if (isStateKind(kind)) {
          const next = stateOf(SessionFile.decodeEntry(record), Math.floor(record.time / 1000))
          if (next !== undefined) pending.push(next)
        }
        return kind === SessionFile.Kind.Reconnecting ? undefined : controlEventOf(record)
      }, { checksums: false, chunkSize: options.chunkSize })
      return Stream.mapArrayEffect(decoded, (events) => {
        // the read's last run ends with it (the next read goes to a new buffer)
        runs.seal()
        if (pending.length === 0) return Effect.succeed(events)
        const states = pending
        pending = []
        return Effect.as(Effect.forEach(states, (s) => SubscriptionRef.set(state, s), { discard: true }), events)
      })
    }).pipe(Stream.orDie)

    const recorded: Stream.Stream<FeedEvent> = SessionLog.records<Item>(file, (record) => {
      const event = eventOf(record)
      const next = isStateKind(record.kind) ? stateOf(SessionFile.decodeEntry(record), 0) : undefined
      // the End record is kept for its time: the stream ends when the recorded session did
      return event === undefined && next === undefined && record.kind !== SessionFile.Kind.End ? undefined : { time: record.time, event, state: next }
    }, { checksums: false, chunkSize: options.chunkSize }).pipe(
      Stream.orDie,
      Stream.mapEffect((item) =>
        Effect.gen(function*() {
          const due = originNanos + BigInt(Math.round(item.time * 1000))
          const now = yield* Clock.currentTimeNanos
          if (due > now) yield* Effect.sleep(Duration.nanos(due - now))
          if (item.state !== undefined) {
            const since = item.state._tag === "Connected" ? { ...item.state, since: yield* Clock.currentTimeMillis } : item.state
            yield* SubscriptionRef.set(state, since)
          }
          return item.event
        })
      ),
      Stream.filter((event): event is FeedEvent => event !== undefined)
    )

    return {
      events: (timing === "fast" ? fast : recorded).pipe(Stream.interruptWhen(Deferred.await(stopped)), Stream.onEnd(end)),
      state,
      subscribe: (...added) => Effect.sync(() => void (topics = [...topics, ...added.filter((t) => !topics.includes(t))])),
      unsubscribe: (...removed) => Effect.sync(() => void (topics = topics.filter((t) => !removed.includes(t)))),
      subscriptions: Effect.sync(() => topics),
      stop: Effect.andThen(Deferred.succeed(stopped, undefined), end)
    }
  })
