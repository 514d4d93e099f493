/**
 * `MarketFeedReplay` — the `MarketFeed` service served from a recorded session file (issue
 * #15), behind `MarketFeed.layerReplay(file, options)`: no network, the events the application
 * read when the session was recorded, in order, at their recorded times on the Effect `Clock`
 * (so under `TestClock` every timeout and schedule around them behaves as it did), or as fast as
 * the application reads (`timing: "fast"`).
 *
 * What is served: every recorded message (text and binary) in `Messages` batches (with recorded
 * timing a batch of one per message at its time; fast, the consecutive messages of one read of
 * the file as one batch that indexes the read's buffer in place, never reused, so owned — or,
 * with `lent: true`, lent until the next pull; the reader writes the index in bulk,
 * `SessionReader.readMessages`), `Gap`
 * (its error rebuilt as the package's error of the same tag and fields, or a plain `{ _tag,
 * message }` value for a foreign one) and `Connected`; the `state` follows the recorded `Connected` and `Reconnecting` records
 * and ends `Stopped` with the session. `subscribe`/`unsubscribe` change only the topic list: the
 * recording is what it is. Records of other kinds (REST, sent messages) are skipped.
 *
 * The file is read once (issue #15: a fast replay keeps up with the live feed). When the layer
 * is built its framing is checked (`SessionLog.checkFraming`: the header and version, every
 * block's length, the last block whole) and its first records are read for the topics: a file
 * that is not a session, is newer, has an impossible length, or is damaged among its first
 * records fails the layer with `SessionError`; a torn last block is dropped (and told to
 * `onTorn`). The events then read the file in 256 KiB chunks, checking each block's CRC-32 as
 * they reach it (unless `checksums: false`, for a file checked once): a block further on whose
 * body was damaged (its lengths intact) ends the events after those before it, with the
 * `SessionError` as the stream's defect (`events` has no error channel) — never a misread
 * message. Each run of `events` replays from the start, with times counted from the
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
  /**
   * With `timing: "fast"`, read the file into two buffers in turn (`SessionLog.ReadsOptions`)
   * and reuse the batches' index memory: a `Messages` batch is then **lent**, its `bytes`, its
   * index and every `payload(i)` view valid only until the stream is pulled again — copy what you
   * keep (`text(i)` is a fresh string; `Buffer.from(payload(i))` a copy). It saves the fresh
   * memory that is about a third of a fast replay's time at 128 B (`bench:replay`), and suits a
   * consumer that reads each batch in place (`Stream.runForEach`, `runForEachArray`); a
   * combinator that pulls ahead of the consumer (`Stream.buffer`, `merge`, `mapEffect` with
   * concurrency) must not sit between this stream and the reads. Default `false`: every batch
   * is owned for ever. No effect with recorded timing (a batch of one per message, owned).
   */
  readonly lent?: boolean | undefined
  /**
   * Check the CRC-32 of every block as the events reach it. `false` skips it, for a file
   * replayed many times that `SessionLog.check` passed once: the CRC is about half of a fast
   * replay's main-thread CPU at 128 B (`bench:replay-parts`: `check` ~32 ms of `replay`'s ~66 ms
   * per million messages; zlib's `crc32` at ~4 GB/s). What still holds with `false`: the framing is
   * checked when the layer is built (`SessionLog.checkFraming`: header, version, every block's
   * length, the last block's CRC), so a torn last block is still found and dropped, and a file
   * with a torn last block is replayed with every CRC checked whatever this says. What is lost:
   * a middle block's body damaged in place with its lengths intact (a bad copy, bit rot) is
   * replayed as it reads, where `true` ends the events at it. Default `true`.
   */
  readonly checksums?: boolean | undefined
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

/** Index slots of a fast replay's index slab: 32768 (16384 messages). */
const INDEX_SLAB = 32 * 1024

const isStateKind = (kind: number) => kind === SessionFile.Kind.Connected || kind === SessionFile.Kind.Reconnecting

/**
 * Checks `file`'s framing and first records (failing with `SessionError` if it cannot be
 * replayed) and returns the replayed feed; see the module doc.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (file: string, options: Options = {}): Effect.Effect<MarketFeedService, SessionLog.SessionError, Scope.Scope> =>
  Effect.gen(function*() {
    const timing = options.timing ?? "recorded"
    // the framing only (header, block lengths, the last block whole): a file that is not a
    // session, is newer, or is torn or cut short is known now; the events check every block's
    // CRC as they read it (unless told not to), so the file is read once (issue #15: fast
    // replay at the live rate)
    let torn = false
    yield* SessionLog.checkFraming(file, {
      onTorn: (tail) => {
        torn = true
        options.onTorn?.(tail)
      }
    })
    // skipped only for a file whose last block checked out: the reads then need no CRC to drop a tail
    const checksums = options.checksums !== false || torn
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
      // the read buffer, their index written by the reader in bulk (no copy, no object and no
      // call per message); state records are rare, collected per read and entered when its
      // events are emitted
      let pending: Array<Supervisor.FeedState> = []
      let index: Uint32Array = new Uint32Array(0)
      let slot = 0
      // with lent: the index slab filled before this one, and the read that last wrote
      // it (reused only once neither this read's runs nor the last's point into it)
      const lent = options.lent === true
      let spare: Uint32Array | undefined
      let spareRead = 0
      let read = 0
      const nextIndex = (): Uint32Array => {
        const next = lent && spare !== undefined && spareRead <= read - 2 ? spare : new Uint32Array(INDEX_SLAB)
        if (lent) {
          spare = index
          spareRead = read
        }
        return next
      }
      const decoded = SessionLog.reads<FeedEvent>(file, (reader, buffer, out) => {
        read++
        let from = slot
        // the messages from `from` to `slot` as one run (the read's last ends with it: the next
        // read goes to a new buffer)
        const seal = (): undefined => {
          if (slot > from) out.push(new Messages.MessageRun(buffer, index.subarray(from, slot), (slot - from) >> 1))
          from = slot
          return undefined
        }
        for (;;) {
          if (slot === index.length) {
            seal()
            index = nextIndex()
            slot = from = 0
          }
          slot = reader.readMessages(index, slot, index.length)
          if (slot === index.length) continue
          const record = reader.next()
          if (record._tag === "NeedMore") return seal()
          if (record._tag !== "Record") {
            // the messages before a damaged block are served, then the stream fails
            seal()
            return record
          }
          const kind = record.kind
          if (kind === SessionFile.Kind.InBinary || kind === SessionFile.Kind.InText) {
            // one readMessages left to the general reader (a long length or Δt)
            index[slot] = record.start
            index[slot + 1] = SessionFile.indexWord(record.end, kind === SessionFile.Kind.InText)
            slot += 2
            continue
          }
          if (kind !== SessionFile.Kind.Connected && kind !== SessionFile.Kind.Gap && kind !== SessionFile.Kind.Reconnecting) continue
          seal()
          if (isStateKind(kind)) {
            const next = stateOf(SessionFile.decodeEntry(record), Math.floor(record.time / 1000))
            if (next !== undefined) pending.push(next)
          }
          const event = kind === SessionFile.Kind.Reconnecting ? undefined : controlEventOf(record)
          if (event !== undefined) out.push(event)
        }
      }, { chunkSize: options.chunkSize, lent, checksums })
      return Stream.mapArrayEffect(decoded, (events) => {
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
    }, { chunkSize: options.chunkSize, checksums }).pipe(
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
      // fast, a pull never waits, so `stop` is seen at the next one (`stopped` looked at: interruptWhen's merge
      // costs a fiber hand-off per read); paced, it interrupts the wait for the next event
      events: Stream.suspend(() =>
        Deferred.isDoneUnsafe(stopped)
          ? Stream.empty
          : timing === "fast"
          ? Stream.takeWhile(fast, () => !Deferred.isDoneUnsafe(stopped))
          : Stream.interruptWhen(recorded, Deferred.await(stopped))
      ).pipe(Stream.onEnd(end)),
      state,
      subscribe: (...added) => Effect.sync(() => void (topics = [...topics, ...added.filter((t) => !topics.includes(t))])),
      unsubscribe: (...removed) => Effect.sync(() => void (topics = topics.filter((t) => !removed.includes(t)))),
      subscriptions: Effect.sync(() => topics),
      stop: Effect.andThen(Deferred.succeed(stopped, undefined), end)
    }
  })
