import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { TestClock } from "effect/testing"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as SessionFile from "../../src/Codec/SessionFile.ts"
import * as MarketFeed from "../../src/Layers/MarketFeed.ts"
import * as Recording from "../../src/Layers/Recording.ts"
import * as RestClient from "../../src/Layers/RestClient.ts"
import * as SessionLog from "../../src/Layers/SessionLog.ts"
import * as SessionRecorder from "../../src/Layers/SessionRecorder.ts"
import * as ClientPool from "../../src/Pool/ClientPool.ts"
import { NoRecordedExchange } from "../../src/Pool/NoRecordedExchange.ts"
import * as MarketFeedTest from "../../src/Testing/MarketFeedTest.ts"
import * as RestClientTest from "../../src/Testing/RestClientTest.ts"
import { TestFeedPeer, TestHttpPeer } from "../../src/Testing/TestPeers.ts"
import * as Memory from "../../src/Transport/Memory.ts"
import * as WebSocket from "../../src/Transport/WebSocket.ts"

// Recording (issue #15) on the scripted in-memory peers under TestClock, and replaying the file:
// the feed's events at their recorded times, REST exchanges by the matching rule, recorded
// failures rebuilt, secrets never in the file, torn and newer files.

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nexus-replay-layers-"))
let n = 0
const tempFile = () => path.join(dir, `session-${++n}.nxs`)

const settle = Effect.gen(function*() {
  for (let i = 0; i < 100; i++) yield* Effect.yieldNow
})

/** Runs `effect` while moving the TestClock a millisecond at a time until it is done. */
const advancing = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(effect)
    for (let i = 0; i < 10_000 && fiber.pollUnsafe() === undefined; i++) yield* TestClock.adjust("1 millis")
    return yield* Fiber.join(fiber)
  })

const API_KEY = "sk-live-0123456789abcdef"
const BEARER = "Bearer tok-SECRET-42"
const FEED_SECRET = Redacted.make("feed-login-SECRET-xyz")

/** What an application sees of an event: a label per message of a batch, else one for the event. */
const labels = (event: MarketFeed.FeedEvent): Array<string> =>
  event._tag === "Messages"
    ? [...event].map((message) => message._tag === "Text" ? message.text : message._tag)
    : [
      event._tag === "Connected"
        ? `connected ${event.session}`
        : `gap ${(event.gap.error as { _tag?: string } | undefined)?._tag ?? "clean"}`
    ]

/** What an application sees of the feed: each message and event with the Clock millis it was read at. */
const readFeed = Effect.gen(function*() {
  const feed = yield* MarketFeed.MarketFeed
  const seen: Array<string> = []
  const fiber = yield* Effect.forkChild(Stream.runForEach(feed.events, (event) =>
    Effect.map(Clock.currentTimeMillis, (at) => void seen.push(...labels(event).map((l) => `${at} ${l}`)))))
  return { seen, fiber }
})

/** Records a scripted feed session: quotes, a drop, a reconnect, more quotes, a login message carrying a secret. */
const recordFeed = (file: string) =>
  Effect.gen(function*() {
    const { seen, fiber } = yield* readFeed
    const exchange = yield* TestFeedPeer
    yield* settle
    yield* exchange.publish("q1")
    yield* TestClock.adjust("5 millis")
    yield* exchange.publish(`echo ${Redacted.value(FEED_SECRET)}`)
    yield* TestClock.adjust("20 millis")
    yield* exchange.publish("q2")
    yield* settle
    yield* exchange.dropAll
    yield* settle
    yield* TestClock.adjust("1 second")
    yield* settle
    yield* exchange.publish("q3")
    yield* TestClock.adjust("10 millis")
    yield* (yield* MarketFeed.MarketFeed).stop
    yield* Fiber.join(fiber)
    return seen
  }).pipe(
    Effect.provide(Recording.recordMarketFeed(MarketFeedTest.layer({ subscriptions: ["BTC-USD@quote"] })).pipe(
      Layer.provide(SessionRecorder.layer(file, { secrets: [FEED_SECRET] }))
    ))
  )

/**
 * A session of 200 binary messages of 50 bytes (message `i`'s bytes all `i`) and an End record,
 * as `blocks` of ~1000 bytes (the header first), the messages written before each block's end
 * (`counts`), and `damage(b)`: writes the session to `file` with a payload byte of block `b`'s
 * body flipped (its lengths intact: only its CRC can tell) and returns the error a checked read
 * fails with.
 */
const blockSession = (file: string) => {
  const writer = SessionFile.makeWriter({ blockSize: 1000 })
  const blocks: Array<Uint8Array> = [SessionFile.header()]
  const counts: Array<number> = [0]
  for (let i = 0; i < 200; i++) {
    writer.append(SessionFile.Kind.InBinary, i * 10, new Uint8Array(50).fill(i))
    if (writer.isFull) {
      blocks.push(Uint8Array.from(writer.flush()))
      counts.push(i + 1)
    }
  }
  writer.appendJson(SessionFile.Kind.End, 2000, {})
  blocks.push(Uint8Array.from(writer.flush()))
  counts.push(200)
  const damage = (b: number) => {
    const offset = blocks.slice(0, b).reduce((sum, block) => sum + block.byteLength, 0)
    const bytes = Buffer.concat(blocks)
    bytes[offset + 30]! ^= 0x01
    fs.writeFileSync(file, bytes)
    return new SessionLog.SessionError({
      file,
      reason: new SessionLog.SessionFileInvalid({ violation: SessionFile.corruptBlock(offset, "Checksum") })
    })
  }
  return { blocks, counts, damage }
}

/** Replays `file` through `MarketFeed.layerReplay`, collecting each message's first byte, and the events' exit. */
const replayFirstBytes = (file: string, options: Parameters<typeof MarketFeed.layerReplay>[1]) =>
  Effect.gen(function*() {
    const seen: Array<number> = []
    const exit = yield* Effect.gen(function*() {
      const feed = yield* MarketFeed.MarketFeed
      return yield* Effect.exit(Stream.runForEach(feed.events, (event) =>
        Effect.sync(() => {
          if (event._tag === "Messages") for (let i = 0; i < event.count; i++) seen.push(event.bytes[event.start(i)]!)
        })
      ))
    }).pipe(Effect.provide(MarketFeed.layerReplay(file, options)), options?.timing === "recorded" ? advancing : (e) => e)
    return { exit, seen }
  })

describe("MarketFeed.layerReplay", () => {
  it.effect("serves the recorded events at their recorded times, gaps and reconnects included", () =>
    Effect.gen(function*() {
      const file = tempFile()
      const live = yield* recordFeed(file)
      assert.deepStrictEqual(live.map((l) => l.replace(/^\d+ /, "")), [
        "connected 1",
        "q1",
        "echo feed-login-SECRET-xyz",
        "q2",
        "gap WebSocketError",
        "connected 2",
        "q3"
      ])
      const replayed = yield* Effect.gen(function*() {
        const { seen, fiber } = yield* readFeed
        yield* settle // the reader takes what is due at 0 before the clock moves
        for (let i = 0; i < 2000 && fiber.pollUnsafe() === undefined; i++) yield* TestClock.adjust("1 millis")
        yield* Fiber.join(fiber)
        return seen
      }).pipe(Effect.provide(MarketFeed.layerReplay(file)), Effect.provide(TestClock.layer()))
      // the same events at the same clock millis; the secret was replaced before it was written
      assert.deepStrictEqual(replayed, live.map((l) => l.replace(Redacted.value(FEED_SECRET), SessionRecorder.REDACTED)))
    }))

  it.effect("as fast as possible: every event with no clock moved, the state ending Stopped", () =>
    Effect.gen(function*() {
      const file = tempFile()
      const live = yield* recordFeed(file)
      yield* Effect.gen(function*() {
        const feed = yield* MarketFeed.MarketFeed
        const events = yield* Stream.runCollect(feed.events)
        assert.deepStrictEqual([...events].flatMap(labels), live.map((l) => l.replace(/^\d+ /, "").replace(Redacted.value(FEED_SECRET), SessionRecorder.REDACTED)))
        assert.deepStrictEqual((yield* SubscriptionRef.get(feed.state))._tag, "Stopped")
        assert.deepStrictEqual(yield* feed.subscriptions, ["BTC-USD@quote"])
      }).pipe(Effect.provide(MarketFeed.layerReplay(file, { timing: "fast" })))
    }))

  it.effect("fast: messages of any size and kind come back in order as owned batches, whatever the read size, with gaps and connects between them", () =>
    Effect.gen(function*() {
      const file = tempFile()
      const writer = SessionFile.makeWriter({ blockSize: 512 })
      const blocks: Array<Uint8Array> = [SessionFile.header()]
      const expected: Array<string> = []
      let t = 0
      const flushIfFull = () => {
        if (writer.isFull) blocks.push(Uint8Array.from(writer.flush()))
      }
      writer.appendJson(SessionFile.Kind.Connected, t, { session: 1, renewal: false })
      expected.push("connected 1")
      for (let i = 0; i < 600; i++) {
        t += 7
        if (i % 3 === 0) {
          writer.appendText(SessionFile.Kind.InText, t, `q${i}`)
          expected.push(`q${i}`)
        } else {
          // 0 to 300 bytes: records straddle every read of 100 bytes
          const bytes = Uint8Array.from({ length: (i * 37) % 301 }, (_, j) => (i + j) & 0xff)
          writer.append(SessionFile.Kind.InBinary, t, bytes)
          expected.push(Buffer.from(bytes).toString("hex"))
        }
        if (i === 300) {
          writer.appendJson(SessionFile.Kind.Gap, t, { connectedForMicros: 2100, at: 2 })
          writer.appendJson(SessionFile.Kind.Connected, t, { session: 2, renewal: false })
          expected.push("gap clean", "connected 2")
        }
        flushIfFull()
      }
      writer.appendJson(SessionFile.Kind.End, t, {})
      blocks.push(Uint8Array.from(writer.flush()))
      fs.writeFileSync(file, Buffer.concat(blocks))
      for (const chunkSize of [100, 4096, 1 << 20]) {
        const events = yield* Effect.gen(function*() {
          return yield* Stream.runCollect((yield* MarketFeed.MarketFeed).events)
        }).pipe(Effect.provide(MarketFeed.layerReplay(file, { timing: "fast", chunkSize })))
        const seen = [...events].flatMap((event) =>
          event._tag === "Messages"
            ? [...event].map((m) => m._tag === "Text" ? m.text : Buffer.from(m.payload).toString("hex"))
            : labels(event)
        )
        assert.deepStrictEqual(seen, expected)
        // batches, not an event per message: a read's messages are one event (with 100-byte
        // reads most hold one message, or none)
        if (chunkSize >= 4096) assert.isBelow(events.length, 40)
      }
    }))

  it.effect("fast with lent: batches lent until the next pull, read in place, in two buffers; owned batches never share one", () =>
    Effect.gen(function*() {
      const file = tempFile()
      const writer = SessionFile.makeWriter()
      const blocks: Array<Uint8Array> = [SessionFile.header()]
      const expected: Array<string> = []
      // 40000 messages: the index slab (16384 messages) is filled and taken again twice
      for (let i = 0; i < 40_000; i++) {
        if (i % 5 === 0) {
          writer.appendText(SessionFile.Kind.InText, i, `t${i}`)
          expected.push(`t${i}`)
        } else {
          const bytes = Uint8Array.from({ length: 1 + (i % 97) }, (_, j) => (i * 7 + j) & 0xff)
          writer.append(SessionFile.Kind.InBinary, i, bytes)
          expected.push(Buffer.from(bytes).toString("hex"))
        }
        if (i === 20_000) {
          writer.appendJson(SessionFile.Kind.Gap, i, { connectedForMicros: 10, at: 1 })
          expected.push("gap clean")
        }
        if (writer.isFull) blocks.push(Uint8Array.from(writer.flush()))
      }
      writer.appendJson(SessionFile.Kind.End, 40_000, {})
      blocks.push(Uint8Array.from(writer.flush()))
      fs.writeFileSync(file, Buffer.concat(blocks))
      for (const lent of [true, false]) {
        for (const chunkSize of [1000, 64 * 1024]) {
          const seen: Array<string> = []
          const buffers = new Set<ArrayBufferLike>()
          let batches = 0
          yield* Effect.gen(function*() {
            // each batch read when it is handed out, as the lent contract allows
            yield* Stream.runForEach((yield* MarketFeed.MarketFeed).events, (event) =>
              Effect.sync(() => {
                if (event._tag !== "Messages") return void seen.push(...labels(event))
                batches++
                buffers.add(event.bytes.buffer)
                for (let i = 0; i < event.count; i++) {
                  seen.push(event.isText(i) ? event.text(i) : event.payload(i).toString("hex"))
                }
              }))
          }).pipe(Effect.provide(MarketFeed.layerReplay(file, { timing: "fast", chunkSize, lent })))
          assert.deepStrictEqual(seen, expected, `lent ${lent}, chunk ${chunkSize}`)
          assert.isAbove(batches, 20)
          // lent: the reads go to two buffers in turn (each grown a few times while a 64 KiB block
          // straddles many 1000-byte reads); owned: every read has its own buffer, so only the
          // batches one read was split into (at the gap, at the two full index slabs) share one
          if (lent) assert.isAtMost(buffers.size, chunkSize === 1000 ? 16 : 2, `chunk ${chunkSize}`)
          else assert.isAtLeast(buffers.size, batches - 3, `chunk ${chunkSize}`)
        }
      }
    }))

  it.effect("drops a torn last block (a crash while recording) and replays what came before", () =>
    Effect.gen(function*() {
      const file = tempFile()
      yield* recordFeed(file)
      const whole = fs.readFileSync(file)
      fs.writeFileSync(file, whole.subarray(0, whole.byteLength - 3))
      const torn: Array<{ offset: number; bytes: number }> = []
      const events = yield* Effect.gen(function*() {
        return yield* Stream.runCollect((yield* MarketFeed.MarketFeed).events)
      }).pipe(
        Effect.provide(MarketFeed.layerReplay(file, { timing: "fast", onTorn: (t) => torn.push(t) }))
      )
      assert.strictEqual(torn.length, 1)
      assert.strictEqual(torn[0]!.offset + torn[0]!.bytes, whole.byteLength - 3)
      // the last block held the last records (the End, and what the final flush wrote): a prefix survives
      const all = (yield* SessionLog.readAll(file)).length
      assert.isAbove(all, 0)
      assert.isAtMost(events.length, 7)
    }))

  it.effect("a damaged body in a middle block: the layer builds, the events before it are served and the stream dies with the whole SessionError, never a misread message", () =>
    Effect.gen(function*() {
      const file = tempFile()
      const { counts, damage } = blockSession(file)
      // among the first records (read when the layer is built, for the topics): the layer fails
      const early = damage(2)
      assert.deepStrictEqual(yield* Effect.flip(Layer.build(MarketFeed.layerReplay(file, { timing: "fast" }))), early)
      // past them (block 8, after the first 64 messages): found when the events get there
      const expected = damage(8)
      for (const timing of ["fast", "recorded"] as const) {
        for (const chunkSize of [256, 1 << 20]) {
          const { exit, seen } = yield* replayFirstBytes(file, { timing, chunkSize })
          assert.deepStrictEqual(exit, Exit.die(expected), `${timing}, chunk ${chunkSize}`)
          // the seven whole blocks before it (each of its messages once, in order), none after
          assert.deepStrictEqual(seen, Array.from({ length: counts[7]! }, (_, i) => i), `${timing}, chunk ${chunkSize}`)
        }
      }
    }).pipe(Effect.scoped))

  it.effect("checksums: false replays a middle block damaged in place as it reads, but a torn last block is still dropped", () =>
    Effect.gen(function*() {
      const file = tempFile()
      const { blocks, counts, damage } = blockSession(file)
      for (const timing of ["fast", "recorded"] as const) {
        // a middle block's body: no CRC read, so all 200 messages come, the damaged one as it reads
        damage(8)
        const middle = yield* replayFirstBytes(file, { timing, checksums: false })
        assert.deepStrictEqual(middle.exit, Exit.void, timing)
        assert.strictEqual(middle.seen.length, 200, timing)
        // the last block's body (a crash mid-write): found when the layer is built, and the
        // replay then checks every CRC, so the block's messages are never served
        damage(blocks.length - 1)
        const torn: Array<{ offset: number; bytes: number }> = []
        const tail = yield* replayFirstBytes(file, { timing, checksums: false, onTorn: (t) => torn.push(t) })
        assert.deepStrictEqual(tail.exit, Exit.void, timing)
        assert.deepStrictEqual(torn, [{ offset: blocks.slice(0, -1).reduce((sum, b) => sum + b.byteLength, 0), bytes: blocks.at(-1)!.byteLength }], timing)
        assert.deepStrictEqual(tail.seen, Array.from({ length: counts.at(-2)! }, (_, i) => i), timing)
      }
    }).pipe(Effect.scoped))

  it.effect("stop ends the events at once, fast or paced, and every later run of them is empty", () =>
    Effect.gen(function*() {
      const file = tempFile()
      const writer = SessionFile.makeWriter({ blockSize: 4096 })
      const blocks: Array<Uint8Array> = [SessionFile.header()]
      for (let i = 0; i < 5000; i++) {
        writer.append(SessionFile.Kind.InBinary, i * 1000, new Uint8Array(40).fill(i & 0xff))
        if (writer.isFull) blocks.push(Uint8Array.from(writer.flush()))
      }
      writer.appendJson(SessionFile.Kind.End, 5_000_000, {})
      blocks.push(Uint8Array.from(writer.flush()))
      fs.writeFileSync(file, Buffer.concat(blocks))
      for (const timing of ["fast", "recorded"] as const) {
        yield* Effect.gen(function*() {
          const feed = yield* MarketFeed.MarketFeed
          let messages = 0
          // fast: stopped by the consumer after the first batch; paced: after 10 messages
          yield* Stream.runForEach(feed.events, (event) =>
            event._tag === "Messages" && (messages += event.count) >= (timing === "fast" ? 1 : 10) ? feed.stop : Effect.void
          ).pipe(timing === "recorded" ? advancing : (e) => e)
          assert.isAtLeast(messages, timing === "fast" ? 1 : 10)
          assert.isBelow(messages, timing === "fast" ? 2000 : 11)
          assert.strictEqual((yield* SubscriptionRef.get(feed.state))._tag, "Stopped")
          assert.strictEqual((yield* Stream.runCollect(feed.events)).length, 0)
        }).pipe(Effect.provide(MarketFeed.layerReplay(file, { timing, chunkSize: 8192 })))
      }
    }))

  it.effect("refuses a file from a newer major version with the whole error", () =>
    Effect.gen(function*() {
      const file = tempFile()
      fs.writeFileSync(file, Uint8Array.of(0x4e, 0x58, 0x53, 0x46, 2, 0, 0, 0))
      const error = yield* Effect.flip(Layer.build(MarketFeed.layerReplay(file)))
      assert.deepStrictEqual(error, new SessionLog.SessionError({
        file,
        reason: new SessionLog.SessionFileInvalid({
          violation: {
            _tag: "UnsupportedSessionVersion",
            message: "session file format 2.0 is not supported (this reader reads major version 1)",
            major: 2,
            minor: 0,
            supported: 1
          }
        })
      }))
      assert.strictEqual(error.message, `session file ${file}: session file format 2.0 is not supported (this reader reads major version 1)`)
    }).pipe(Effect.scoped))

  it.effect("a missing file fails the layer with SessionIo naming ENOENT", () =>
    Effect.gen(function*() {
      const file = path.join(dir, "missing.nxs")
      const error = yield* Effect.flip(Layer.build(RestClient.layerReplay(file)))
      assert.strictEqual(error.reason._tag, "SessionIo")
      if (error.reason._tag === "SessionIo") {
        assert.deepStrictEqual([error.reason.operation, error.reason.code], ["open", "ENOENT"])
        assert.match(error.message, /^session file .*missing\.nxs: cannot open the file \(ENOENT\): ENOENT: no such file or directory/)
      }
    }).pipe(Effect.scoped))
})

/** The origin the REST recordings talk to. */
const origin = (request: { method: string; target: string; body: string }) =>
  Effect.gen(function*() {
    yield* Effect.sleep("3 millis")
    if (request.target.startsWith("/api/v3/snapshot")) return { status: 200, headers: [["Content-Type", "application/json"]] as const, body: `{"seq":7,"echo":"${request.target}"}` }
    if (request.method === "POST") return { status: 201, body: `created ${request.body}` }
    return { status: 404, body: "not found" }
  })

const restLayer = (file: string, handler = origin) =>
  Recording.recordRestClient(RestClientTest.layer(handler, {
    basePath: "/api/v3",
    defaultHeaders: [["X-API-KEY", API_KEY]]
  })).pipe(Layer.provideMerge(SessionRecorder.layer(file)))

describe("RestClient.layerReplay", () => {
  it.effect("answers by method, path, query in any order and body, after the recorded latency; a miss names the closest", () =>
    Effect.gen(function*() {
      const file = tempFile()
      yield* advancing(Effect.gen(function*() {
        const rest = yield* RestClient.RestClient
        const snapshot = yield* rest.request((w) => w.get("/snapshot").query("symbol", "BTC").query("depth", "5").header("Authorization", BEARER).finish())
        assert.strictEqual(snapshot.status, 200)
        const order = yield* rest.request((w) => w.post("/order").body(`{"qty":1,"key":"${API_KEY}"}`).finish())
        assert.strictEqual(order.status, 201)
      })).pipe(Effect.provide(restLayer(file)))

      const bytes = fs.readFileSync(file)
      for (const secret of [API_KEY, BEARER, "tok-SECRET-42"]) assert.strictEqual(bytes.indexOf(secret), -1, `${secret} is in the file`)

      yield* Effect.gen(function*() {
        const rest = yield* RestClient.RestClient
        const t0 = yield* Clock.currentTimeMillis
        const fiber = yield* Effect.forkChild(rest.request((w) => w.get("/snapshot").query("depth", "5").query("symbol", "BTC").finish()))
        yield* TestClock.adjust("2 millis")
        assert.isUndefined(fiber.pollUnsafe(), "answered after the recorded latency, not before")
        yield* TestClock.adjust("5 millis")
        const snapshot = yield* Fiber.join(fiber)
        assert.isAtLeast((yield* Clock.currentTimeMillis) - t0, 3)
        assert.deepStrictEqual([snapshot.status, snapshot.text], [200, `{"seq":7,"echo":"/api/v3/snapshot?symbol=BTC&depth=5"}`])
        assert.deepStrictEqual(snapshot.headers.find(([n]) => n === "Content-Type"), ["Content-Type", "application/json"])

        const miss = yield* Effect.flip(rest.request((w) => w.post("/order").body(`{"qty":2}`).finish()))
        assert.deepStrictEqual(miss, new ClientPool.PoolError({
          origin: "replay",
          reason: new NoRecordedExchange({
            method: "POST",
            target: "/api/v3/order",
            closest: `POST /api/v3/order with body "{\\"qty\\":1,\\"key\\":\\"<redacted>\\"}" (differs in body)`
          })
        }))
        assert.strictEqual(
          miss.message,
          `pool replay: no recorded exchange matches POST /api/v3/order; the closest recorded is POST /api/v3/order with body "{\\"qty\\":1,\\"key\\":\\"<redacted>\\"}" (differs in body)`
        )
      }).pipe(Effect.provide(RestClient.layerReplay(file, { basePath: "/api/v3" })), Effect.provide(TestClock.layer()))
    }))

  it.effect("a recorded failure fails again as the same HttpError, so retryIdempotent retries as it did", () =>
    Effect.gen(function*() {
      const file = tempFile()
      const first = yield* Deferred.make<void>()
      let calls = 0
      const handler = () => (++calls === 1 ? Effect.andThen(Deferred.succeed(first, undefined), Effect.never) : Effect.succeed({ status: 200, body: "again" }))
      const liveError = yield* Effect.gen(function*() {
        const rest = yield* RestClient.RestClient
        const peer = yield* TestHttpPeer
        const call = yield* Effect.forkChild(Effect.flip(rest.request((w) => w.get("/book").finish())))
        yield* Deferred.await(first)
        yield* peer.dropAll
        const error = yield* Fiber.join(call)
        const again = yield* rest.request((w) => w.get("/book").finish())
        assert.strictEqual(again.text, "again")
        return error
      }).pipe(Effect.provide(restLayer(file, handler as never)))

      yield* Effect.gen(function*() {
        const rest = yield* RestClient.RestClient
        const replayedError = yield* Effect.flip(rest.request((w) => w.get("/book").finish()))
        assert.deepStrictEqual(replayedError, liveError)
        // the recorded retry: the same failure first, then the answer
        const retried = yield* RestClient.retryIdempotent("GET", rest.request((w) => w.get("/book").finish()))
        assert.strictEqual(retried.text, "again")
      }).pipe(Effect.provide(RestClient.layerReplay(file, { basePath: "/api/v3", timing: "fast" })))
    }))

  it.effect("slots from the replayed pool are served by the same rule over in-memory connections", () =>
    Effect.gen(function*() {
      const file = tempFile()
      yield* advancing(Effect.gen(function*() {
        const rest = yield* RestClient.RestClient
        yield* rest.request((w) => w.get("/snapshot").query("symbol", "ETH").finish())
        // a slot leased without waiting is recorded too
        const slot = yield* rest.tryAcquire
        assert.strictEqual(slot._tag, "Some")
        if (slot._tag === "Some") yield* slot.value.send(slot.value.writer.post("/order").body("via slot").finish())
      }).pipe(Effect.scoped)).pipe(Effect.provide(restLayer(file)))
      const exchanges = (yield* SessionLog.readAll(file)).filter((e) => e._tag === "Request" || e._tag === "Response")
      assert.deepStrictEqual(exchanges.map((e) => (e._tag === "Request" ? `${e.id} ${e.method} ${e.target}` : `${e.id} ${e.status}`)), [
        "1 GET /api/v3/snapshot?symbol=ETH",
        "1 200",
        "2 POST /api/v3/order",
        "2 201"
      ])
      yield* Effect.gen(function*() {
        const rest = yield* RestClient.RestClient
        const [hit, miss] = yield* rest.withSlot((slot) =>
          Effect.gen(function*() {
            const a = yield* slot.send(slot.writer.get("/snapshot").query("symbol", "ETH").finish())
            const hit = [a.status, a.bodyText()] as const
            const b = yield* slot.send(slot.writer.get("/other").finish())
            return [hit, [b.status, b.bodyText()] as const] as const
          }))
        assert.deepStrictEqual(hit, [200, `{"seq":7,"echo":"/api/v3/snapshot?symbol=ETH"}`])
        assert.deepStrictEqual(miss, [404, `no recorded exchange matches GET /api/v3/other; the closest recorded is GET /api/v3/snapshot?symbol=ETH (differs in path, query)`])
      }).pipe(Effect.provide(RestClient.layerReplay(file, { basePath: "/api/v3", timing: "fast" })))
    }))
})

describe("RestClient.layerReplay, bodies that are not UTF-8", () => {
  it.effect("slots match a binary request body and answer the recorded binary response body byte for byte, as request does", () =>
    Effect.gen(function*() {
      const file = tempFile()
      const requestBody = Uint8Array.of(0x08, 0x96, 0x01, 0xff, 0x00) // a protobuf-ish body
      const responseBody = Uint8Array.of(0x1f, 0x8b, 0x08, 0x00, 0xc3, 0xff, 0x80) // a gzip-ish body
      const writer = SessionFile.makeWriter()
      SessionFile.encodeEntry(writer, { _tag: "Request", time: 10, id: 1, method: "POST", target: "/api/v3/bin", headers: [], body: requestBody })
      SessionFile.encodeEntry(writer, {
        _tag: "Response", time: 20, id: 1, status: 200, headers: [["Content-Type", "application/octet-stream"]], body: responseBody
      })
      SessionFile.encodeEntry(writer, { _tag: "Request", time: 30, id: 2, method: "GET", target: "/api/v3/gz", headers: [], body: new Uint8Array(0) })
      SessionFile.encodeEntry(writer, { _tag: "Response", time: 40, id: 2, status: 200, headers: [["Content-Encoding", "gzip"]], body: responseBody })
      SessionFile.encodeEntry(writer, { _tag: "End", time: 50 })
      fs.writeFileSync(file, Buffer.concat([SessionFile.header(), writer.flush()]))
      yield* Effect.gen(function*() {
        const rest = yield* RestClient.RestClient
        const viaRequest = yield* rest.request((w) => w.post("/bin").body(requestBody).finish())
        assert.deepStrictEqual([viaRequest.status, [...viaRequest.body]], [200, [...responseBody]])
        // a text request, a binary response (a gzip body recorded as it came)
        const gz = yield* rest.withSlot((slot) => Effect.map(slot.send(slot.writer.get("/gz").finish()), (r) => [r.status, [...r.copyBody()]] as const))
        assert.deepStrictEqual(gz, [200, [...responseBody]])
        // a binary request body
        const viaSlot = yield* rest.withSlot((slot) =>
          Effect.map(slot.send(slot.writer.post("/bin").body(requestBody).finish()), (r) => [r.status, [...r.copyBody()]] as const))
        assert.deepStrictEqual(viaSlot, [200, [...responseBody]])
      }).pipe(Effect.provide(RestClient.layerReplay(file, { basePath: "/api/v3", timing: "fast" })))
    }))
})

describe("RestClient.layerReplay, calls that never reached the wire", () => {
  it.effect("a call interrupted while waiting for a connection is replayed by its time: it waits again; another time is a miss", () =>
    Effect.gen(function*() {
      const file = tempFile()
      const live = yield* advancing(Effect.gen(function*() {
        const rest = yield* RestClient.RestClient
        const peer = yield* TestHttpPeer
        yield* TestClock.adjust("10 millis")
        yield* peer.setDown(true)
        yield* settle
        // no connection comes back: the order waits for one until its deadline
        return yield* rest.request((w) => w.post("/order").body("{}").finish()).pipe(Effect.timeoutOption("50 millis"))
      })).pipe(Effect.provide(restLayer(file)))
      assert.strictEqual(live._tag, "None")
      const unsent = (yield* SessionLog.readAll(file)).filter((e) => e._tag === "Unsent")
      assert.deepStrictEqual(unsent.map(({ time, calledAtMicros, ...rest }) => ({ ...rest, waited: time - calledAtMicros })), [
        { _tag: "Unsent", id: 1, error: undefined, waited: 50_000 }
      ])

      yield* Effect.gen(function*() {
        const rest = yield* RestClient.RestClient
        const order = rest.request((w) => w.post("/order").body("{}").finish())
        yield* TestClock.adjust(Duration.micros(BigInt(unsent[0]!.calledAtMicros)))
        // made when the recorded call was made: it stands for it and never answers, as live
        const fiber = yield* Effect.forkChild(order.pipe(Effect.timeoutOption("50 millis")))
        yield* TestClock.adjust("60 millis")
        assert.strictEqual((yield* Fiber.join(fiber))._tag, "None")
        // the recorded call is used up: the same request again matches nothing
        const miss = yield* Effect.flip(order)
        assert.strictEqual(miss._tag === "PoolError" ? miss.reason._tag : miss._tag, "NoRecordedExchange")
      }).pipe(Effect.provide(RestClient.layerReplay(file, { basePath: "/api/v3" })), Effect.provide(TestClock.layer()))
    }))
})

describe("Recording.webSocket", () => {
  it.effect("records what a WebSocket receives and sends, secrets removed", () =>
    Effect.gen(function*() {
      const file = tempFile()
      yield* Effect.gen(function*() {
        const recorder = yield* SessionRecorder.Recorder
        const pair = yield* Memory.pair()
        const [client, server] = yield* Effect.all([WebSocket.connectOver(pair.client, "ws://memory.test/"), WebSocket.accept(pair.server)], { concurrency: 2 })
        const ws = Recording.webSocket(client, recorder)
        yield* ws.sendText(`{"op":"login","key":"${Redacted.value(FEED_SECRET)}"}`)
        yield* server.recv
        yield* server.sendText("hello")
        yield* server.sendBinary(Uint8Array.of(1, 2, 3))
        yield* Effect.forkChild(server.close(4000, "bye"))
        assert.strictEqual((yield* ws.recv)._tag, "Text")
        assert.strictEqual((yield* ws.recv)._tag, "Binary")
        assert.strictEqual((yield* ws.recv)._tag, "Close")
      }).pipe(Effect.provide(SessionRecorder.layer(file, { secrets: [FEED_SECRET] })), Effect.scoped)
      const entries = (yield* SessionLog.readAll(file)).map(({ time: _t, ...rest }) => rest)
      assert.deepStrictEqual(entries.slice(1), [
        { _tag: "Message", direction: "Out", text: `{"op":"login","key":"<redacted>"}` },
        { _tag: "Message", direction: "In", text: "hello" },
        { _tag: "BinaryMessage", direction: "In", payload: Uint8Array.of(1, 2, 3) },
        { _tag: "Close", code: 4000, reason: "bye" },
        { _tag: "End" }
      ])
      assert.strictEqual(fs.readFileSync(file).indexOf(Redacted.value(FEED_SECRET)), -1)
      assert.strictEqual(SessionFile.MAJOR_VERSION, 1)
    }))
})
