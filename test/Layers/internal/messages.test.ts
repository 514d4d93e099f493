import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import fc from "fast-check"
import { Buffer } from "node:buffer"
import type * as FrameReader from "../../../src/Codec/FrameReader.ts"
import { FeedEvents, type Messages } from "../../../src/Layers/internal/messages.ts"
import * as Memory from "../../../src/Transport/Memory.ts"
import * as WebSocket from "../../../src/Transport/WebSocket.ts"

/** Lets queued microtasks and forked fibers run. */
const settle = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/** A reader-like view of `payload` inside a reused slab (overwritten after the call, as the reader's is). */
const slab = Buffer.alloc(256 * 1024)
const view = (tag: "Text" | "Binary", payload: Uint8Array, at: number): FrameReader.Text | FrameReader.Binary => {
  slab.set(payload, at)
  const start = at
  const end = at + payload.byteLength
  return {
    _tag: tag,
    buf: slab,
    start,
    end,
    length: end - start,
    compressed: false,
    get payload() {
      return slab.subarray(start, end)
    },
    text: () => slab.toString("utf8", start, end)
  } as FrameReader.Text & FrameReader.Binary
}

/** Every message of a list of events, copied out, with the other events as their tags. */
const flatten = (events: ReadonlyArray<Messages | "Gap">): Array<unknown> =>
  events.flatMap((event): Array<unknown> =>
    event === "Gap"
      ? ["Gap"]
      : Array.from({ length: event.count }, (_, i) => ({ text: event.isText(i), bytes: Buffer.from(event.bytes.subarray(event.start(i), event.end(i))).toString("hex") }))
  )

const item = fc.oneof(
  { weight: 8, arbitrary: fc.record({ text: fc.boolean(), bytes: fc.uint8Array({ maxLength: 200 }) }) },
  { weight: 1, arbitrary: fc.record({ text: fc.boolean(), bytes: fc.uint8Array({ minLength: 70 * 1024, maxLength: 70 * 1024 }) }) },
  { weight: 1, arbitrary: fc.constant("Gap" as const) },
  { weight: 1, arbitrary: fc.constant("take" as const) }
)

describe("FeedEvents", () => {
  it("hands back every message's bytes and kind in order, across slabs, events and takes, and a run taken stays intact while later ones are written", () => {
    fc.assert(
      fc.property(fc.array(item, { maxLength: 3000 }), fc.nat(1000), (items, offset) => {
        const events = new FeedEvents<"Gap">(1 << 30)
        const taken: Array<Messages | "Gap"> = []
        const expected: Array<unknown> = []
        // what each take returned, checked again at the end: nothing written later changed it
        const snapshots: Array<[ReadonlyArray<Messages | "Gap">, ReadonlyArray<unknown>]> = []
        let queued = false
        const take = () => {
          // a take with nothing queued would park
          if (!queued) return
          queued = false
          const got = Effect.runSync(events.batch.take)
          taken.push(...got)
          snapshots.push([got, flatten(got)])
        }
        for (const it of items) {
          if (it === "take") take()
          else if (it === "Gap") {
            events.event("Gap")
            queued = true
            expected.push("Gap")
          } else {
            events.message(view(it.text ? "Text" : "Binary", it.bytes, offset))
            queued = true
            // the reader's slab is reused: the copy must not depend on it
            slab.fill(0xee, offset, offset + it.bytes.byteLength)
            expected.push({ text: it.text, bytes: Buffer.from(it.bytes).toString("hex") })
          }
        }
        take()
        assert.deepStrictEqual(flatten(taken), expected)
        for (const [events, copy] of snapshots) assert.deepStrictEqual(flatten(events), copy)
        for (const event of taken) if (event !== "Gap") assert.isAtLeast(event.count, 1)
      }),
      { numRuns: 60 }
    )
  })

  it("a batch longer than an index slab (4096 messages) continues in a second run", () => {
    const events = new FeedEvents<never>(1 << 30)
    const sent = Array.from({ length: 10_000 }, (_, i) => Buffer.from(String(i)))
    sent.forEach((bytes, i) => events.message(view("Text", bytes, i % 100)))
    const runs = Effect.runSync(events.batch.take) as ReadonlyArray<Messages>
    assert.deepStrictEqual(runs.map((run) => run.count), [4096, 4096, 1808])
    assert.deepStrictEqual(runs.flatMap((run) => Array.from({ length: run.count }, (_, i) => run.text(i))), sent.map(String))
  })

  it("text, payload, message and the iterator read the same messages", () => {
    const events = new FeedEvents<never>(100)
    events.message(view("Text", Buffer.from("héllo"), 3))
    events.message(view("Binary", Uint8Array.of(1, 2, 3), 40))
    events.message(view("Text", new Uint8Array(0), 0))
    const [run] = Effect.runSync(events.batch.take) as ReadonlyArray<Messages>
    assert.strictEqual(run!.count, 3)
    assert.deepStrictEqual([run!.text(0), run!.isText(0), run!.isText(1), run!.text(2)], ["héllo", true, false, ""])
    assert.deepStrictEqual([...run!.payload(1)], [1, 2, 3])
    assert.deepStrictEqual(run!.message(0), { _tag: "Text", text: "héllo" })
    assert.deepStrictEqual([...run!].map((m) => m._tag === "Binary" ? [...m.payload] : m), [
      { _tag: "Text", text: "héllo" },
      [1, 2, 3],
      { _tag: "Text", text: "" }
    ])
  })

  it.live("bufferSize counts messages: at the mark the push loop waits until the consumer takes the batch", () =>
    Effect.gen(function*() {
      const events = new FeedEvents<"Gap">(3)
      assert.isUndefined(events.message(view("Binary", Uint8Array.of(1), 0)))
      assert.isUndefined(events.event("Gap"))
      const wait = events.message(view("Binary", Uint8Array.of(2), 0))
      assert.isDefined(wait)
      const producer = yield* Effect.forkChild(wait!)
      yield* settle
      assert.isUndefined(producer.pollUnsafe())
      assert.deepStrictEqual(flatten(yield* events.batch.take), [{ text: false, bytes: "01" }, "Gap", { text: false, bytes: "02" }])
      assert.deepStrictEqual(yield* Fiber.await(producer), Exit.void)
    }))

  it.live("after the end, messages are dropped and the queued ones are still read", () =>
    Effect.gen(function*() {
      const events = new FeedEvents<never>(100)
      events.message(view("Text", Buffer.from("kept"), 0))
      events.batch.end("done" as never)
      assert.isUndefined(events.message(view("Text", Buffer.from("dropped"), 0)))
      assert.deepStrictEqual(flatten(yield* events.batch.take), [{ text: true, bytes: Buffer.from("kept").toString("hex") }])
      assert.deepStrictEqual(yield* Effect.flip(events.batch.take), "done" as never)
    }))
})

/** An unmasked server frame: `fin`, `opcode`, a 7- or 16-bit length. */
const frame = (fin: boolean, opcode: number, payload: Uint8Array): Buffer =>
  Buffer.concat([
    payload.byteLength < 126
      ? Buffer.from([(fin ? 0x80 : 0) | opcode, payload.byteLength])
      : Buffer.from([(fin ? 0x80 : 0) | opcode, 126, payload.byteLength >> 8, payload.byteLength & 0xff]),
    payload
  ])

const wireItem = fc.oneof(
  { weight: 10, arbitrary: fc.record({ kind: fc.constant("Binary" as const), bytes: fc.uint8Array({ maxLength: 300 }), fragments: fc.constant(1) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("Text" as const), bytes: fc.string({ maxLength: 200 }).map((s) => Buffer.from(s)), fragments: fc.constant(1) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("Binary" as const), bytes: fc.uint8Array({ minLength: 2, maxLength: 600 }), fragments: fc.integer({ min: 2, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("Ping" as const), bytes: fc.uint8Array({ maxLength: 125 }), fragments: fc.constant(1) }) }
)

describe("FeedEvents over a WebSocket's push loop", () => {
  it.live("copies a block of the socket's slab at a time, yet every payload is its own bytes, across refills, compactions, fragments and pings, and a taken run never changes (owned) or holds until the next pull (lent)", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.array(wireItem, { minLength: 1, maxLength: 300 }),
          fc.integer({ min: 1, max: 700 }),
          fc.integer({ min: 64, max: 2048 }),
          fc.integer({ min: 1, max: 64 }),
          fc.boolean(),
          (items, chunkSize, bufferCapacity, bufferSize, lent) =>
            Effect.runPromise(Effect.scoped(Effect.gen(function*() {
              const pair = yield* Memory.pair({ chunkSize })
              const [client, server] = yield* Effect.all([
                WebSocket.connectOver(pair.client, "ws://memory.test/feed", { bufferCapacity, compactAt: 0.25, closeTimeout: 1 }),
                // its closing handshake, at the scope's end, gets no answer: do not wait for one
                WebSocket.accept(pair.server, { closeTimeout: 1 })
              ], { concurrency: 2 })
              const events = new FeedEvents<never>(bufferSize, lent)
              const expected: Array<unknown> = []
              const wire: Array<Buffer> = []
              for (const item of items) {
                if (item.kind === "Ping") {
                  wire.push(frame(true, 0x9, item.bytes))
                  continue
                }
                expected.push({ text: item.kind === "Text", bytes: Buffer.from(item.bytes).toString("hex") })
                const step = Math.ceil(item.bytes.byteLength / item.fragments)
                for (let at = 0, first = true; first || at < item.bytes.byteLength; at += step, first = false) {
                  const last = at + step >= item.bytes.byteLength
                  wire.push(frame(last, first ? (item.kind === "Text" ? 0x1 : 0x2) : 0x0, item.bytes.subarray(at, at + step)))
                }
              }
              wire.push(frame(true, 0x8, Uint8Array.of(0x03, 0xe8)))
              // the server's socket end writes the frames as they are (the pongs and close echo pile up unread)
              yield* Effect.forkChild(server.transport.write(Buffer.concat(wire)))
              yield* Effect.forkChild(Effect.andThen(
                WebSocket.run(client, (message) => {
                  if (message._tag === "Text" || message._tag === "Binary") return events.message(message, client)
                }),
                Effect.sync(() => events.batch.end(Cause.Done()))
              ))
              const taken: Array<[Messages, unknown]> = []
              yield* Stream.runForEachArray(Stream.fromPull(Effect.succeed(events.batch.take)), (runs) =>
                Effect.sync(() => {
                  for (const run of runs) taken.push([run, flatten([run])])
                }))
              assert.deepStrictEqual(taken.flatMap(([, copy]) => copy as Array<unknown>), expected)
              // owned runs never change; lent ones are valid only until the next pull
              if (!lent) for (const [run, copy] of taken) assert.deepStrictEqual(flatten([run]), copy)
            })))
        ),
        { numRuns: 40 }
      )
    ))

  it.live("a run over a client's slab is the socket's block, the copy `messages` reads too: one copy a refill, and a run ends where the slab was refilled", () =>
    Effect.scoped(Effect.gen(function*() {
      const pair = yield* Memory.pair({ chunkSize: 64 * 1024 })
      const [client, server] = yield* Effect.all([
        WebSocket.connectOver(pair.client, "ws://memory.test/feed", { bufferCapacity: 1024, closeTimeout: 1 }),
        WebSocket.accept(pair.server, { closeTimeout: 1 })
      ], { concurrency: 2 })
      const sent = Array.from({ length: 40 }, (_, i) => Buffer.alloc(100, i))
      yield* server.transport.write(Buffer.concat([...sent.map((bytes) => frame(true, 0x2, bytes)), frame(true, 0x8, Uint8Array.of(0x03, 0xe8))]))
      const events = new FeedEvents<never>(1 << 30)
      const blocks: Array<Buffer> = []
      const socket = client as unknown as { readonly block: Buffer }
      yield* WebSocket.run(client, (message) => {
        if (message._tag !== "Binary") return
        const wait = events.message(message, client)
        if (blocks.at(-1) !== socket.block) blocks.push(socket.block)
        return wait
      })
      const runs = (yield* events.batch.take) as ReadonlyArray<Messages>
      // 40 frames of 102 bytes through a 1 KiB slab: several refills, one block and one run each
      assert.isAbove(blocks.length, 1)
      assert.strictEqual(runs.length, blocks.length)
      runs.forEach((run, i) => assert.strictEqual(run.bytes.buffer, blocks[i]!.buffer))
      assert.deepStrictEqual(flatten(runs), sent.map((bytes) => ({ text: false, bytes: bytes.toString("hex") })))
    })))
  it.live("lent runs reuse their memory once the consumer pulls again, and hold while it waits before reading: 4.9 MB through a few slabs", () =>
    Effect.scoped(Effect.gen(function*() {
      const sent = Array.from({ length: 48_000 }, (_, i) => Buffer.alloc(100, i & 0xff).fill(i >> 8, 0, 1))
      const wire = Buffer.concat([...sent.map((bytes) => frame(true, 0x2, bytes)), frame(true, 0x8, Uint8Array.of(0x03, 0xe8))])
      const expected = sent.map((bytes) => bytes.toString("hex"))
      for (const lent of [true, false]) {
        const pair = yield* Memory.pair({ chunkSize: 8 * 1024, capacity: 4 << 20 })
        const [client, server] = yield* Effect.all([
          WebSocket.connectOver(pair.client, "ws://memory.test/feed", { closeTimeout: 1 }),
          WebSocket.accept(pair.server, { closeTimeout: 1 })
        ], { concurrency: 2 })
        yield* Effect.forkChild(server.transport.write(wire))
        // batches of up to 4000 messages (~400 KB): each spans more than one 256 KiB slab
        const events = new FeedEvents<never>(4000, lent)
        yield* Effect.forkChild(Effect.andThen(
          WebSocket.run(client, (message) => {
            if (message._tag === "Binary") return events.message(message, client)
          }),
          Effect.sync(() => events.batch.end(Cause.Done()))
        ))
        const seen: Array<string> = []
        const memory = new Set<ArrayBufferLike>()
        let batches = 0
        yield* Stream.runForEachArray(Stream.fromPull(Effect.succeed(events.batch.take)), (runs) =>
          // the producer runs while this batch is held (until it waits for room): a lent batch
          // must still hold its bytes
          Effect.andThen(Effect.repeat(settle, { times: 20 }), Effect.sync(() => {
            batches++
            for (const run of runs as ReadonlyArray<Messages>) {
              memory.add(run.bytes.buffer)
              for (let i = 0; i < run.count; i++) seen.push(run.payload(i).toString("hex"))
            }
          })))
        assert.deepStrictEqual(seen, expected, `lent ${lent}`)
        assert.isAbove(batches, 10)
        // lent: a few 256 KiB slabs used in turn; owned: a fresh block (at most 64 KiB) per refill
        if (lent) assert.isAtMost(memory.size, 6)
        else assert.isAbove(memory.size, 30)
      }
    })))
  it.live("lent: a socket the feed left takes a fresh block when it comes back, so its old block's slab can be reused meanwhile", () =>
    Effect.scoped(Effect.gen(function*() {
      const connect = Effect.fn(function*(sent: ReadonlyArray<Buffer>) {
        const pair = yield* Memory.pair({ chunkSize: 64 * 1024, capacity: 4 << 20 })
        const [client, server] = yield* Effect.all([
          WebSocket.connectOver(pair.client, "ws://memory.test/feed", { closeTimeout: 1 }),
          WebSocket.accept(pair.server, { closeTimeout: 1 })
        ], { concurrency: 2 })
        yield* server.transport.write(Buffer.concat(sent.map((bytes) => frame(true, 0x2, bytes))))
        return client
      })
      const fromA = [Buffer.alloc(100, 0xa1), Buffer.alloc(100, 0xa2)]
      const fromB = Array.from({ length: 6000 }, (_, i) => Buffer.alloc(100, i & 0xff))
      const a = yield* connect(fromA)
      const b = yield* connect(fromB)
      const events = new FeedEvents<never>(1 << 30, true)
      const seen: Array<string> = []
      // what a consumer reads of each batch when it is handed out
      const take = Effect.map(events.batch.take, (runs) => {
        for (const run of runs as ReadonlyArray<Messages>) {
          for (let i = 0; i < run.count; i++) seen.push(run.payload(i).toString("hex"))
        }
      })
      const deliver = Effect.fn(function*(socket: WebSocket.WebSocket) {
        const message = yield* socket.recv
        assert.strictEqual(message._tag, "Binary")
        events.message(message as FrameReader.Binary, socket)
      })
      // A's first message: a block of both its buffered messages, in the first slab
      yield* deliver(a)
      yield* take
      // B's 600 KB, a batch taken every 100 messages: the first slab is retired, freed, reused
      for (let i = 0; i < fromB.length; i++) {
        yield* deliver(b)
        if (i % 100 === 99) yield* take
      }
      // A's second message is still buffered behind the first (no refill): it must not be read
      // from A's old block, whose slab now holds B's bytes
      yield* deliver(a)
      yield* take
      assert.deepStrictEqual(seen, [fromA[0]!, ...fromB, fromA[1]!].map((bytes) => bytes.toString("hex")))
    })))
})

