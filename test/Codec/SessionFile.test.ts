import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { NeedMore } from "../../src/Codec/NeedMore.ts"
import * as SessionFile from "../../src/Codec/SessionFile.ts"
import { chop } from "../support/bytes.ts"

// The session file codec (issue #15): every entry kind round-trips, any chopping of the bytes
// gives the same entries, every truncation point yields a prefix of whole blocks (the torn block
// dropped, never misread), a damaged block that is not the last is an error, a newer major
// version is refused.

const { Kind } = SessionFile

const bytesArb = fc.uint8Array({ maxLength: 300 })
const headersArb = fc.array(fc.tuple(fc.stringMatching(/^[A-Za-z-]{1,12}$/), fc.string({ maxLength: 30 })), { maxLength: 4 })
const errorArb = fc.record({ tag: fc.stringMatching(/^[A-Z][a-zA-Z]{0,10}$/), message: fc.string({ maxLength: 40 }) })

/** Entries without their time (the time is assigned in order below). */
const entryArb: fc.Arbitrary<Omit<SessionFile.Entry, "time">> = fc.oneof(
  fc.record({ _tag: fc.constant("Meta" as const), startedAt: fc.nat(), source: fc.option(fc.string(), { nil: undefined }) }),
  fc.record({ _tag: fc.constant("End" as const) }),
  fc.record({ _tag: fc.constant("Message" as const), direction: fc.constantFrom("In" as const, "Out" as const), text: fc.string({ unit: "binary", maxLength: 200 }) }),
  fc.record({ _tag: fc.constant("BinaryMessage" as const), direction: fc.constantFrom("In" as const, "Out" as const), payload: bytesArb }),
  fc.record({ _tag: fc.constant("Connected" as const), session: fc.nat(), renewal: fc.boolean() }),
  fc.record({ _tag: fc.constant("Gap" as const), connectedForMicros: fc.nat(), at: fc.nat(), error: fc.option(errorArb, { nil: undefined }) }),
  fc.record({ _tag: fc.constant("Close" as const), code: fc.integer({ min: 1000, max: 4999 }), reason: fc.string({ maxLength: 40 }) }),
  fc.record({ _tag: fc.constant("Reconnecting" as const), attempt: fc.nat(), delayMillis: fc.nat(), error: fc.option(errorArb, { nil: undefined }) }),
  fc.record({ _tag: fc.constant("Subscriptions" as const), topics: fc.array(fc.string({ maxLength: 20 }), { maxLength: 4 }) }),
  fc.record({
    _tag: fc.constant("Request" as const), id: fc.nat(), method: fc.constantFrom("GET", "POST", "DELETE"),
    target: fc.string({ maxLength: 40 }), headers: headersArb, body: bytesArb,
    calledAtMicros: fc.option(fc.nat(), { nil: undefined })
  }, { requiredKeys: ["_tag", "id", "method", "target", "headers", "body"] }),
  fc.record({ _tag: fc.constant("Response" as const), id: fc.nat(), status: fc.integer({ min: 100, max: 599 }), headers: headersArb, body: bytesArb }),
  fc.record({ _tag: fc.constant("Failure" as const), id: fc.nat(), error: errorArb }),
  fc.record({ _tag: fc.constant("Unsent" as const), id: fc.nat(), calledAtMicros: fc.nat(), error: fc.option(errorArb, { nil: undefined }) })
)

/** Entries with non-decreasing times from deltas (some 0, some past 2^32 µs). */
const sessionArb = fc.array(fc.tuple(entryArb, fc.oneof(fc.constant(0), fc.nat(2000), fc.nat(2 ** 40))), { maxLength: 40 }).map((pairs) => {
  let time = 0
  return pairs.map(([entry, delta]) => ({ ...entry, time: (time += delta) }) as SessionFile.Entry)
})

/** Writes `entries` with a flush every `flushEvery` entries; returns the file and the entry count at each block end. */
const write = (entries: ReadonlyArray<SessionFile.Entry>, flushEvery: number) => {
  const writer = SessionFile.makeWriter()
  const parts: Array<Uint8Array> = [SessionFile.header()]
  const blockEnds: Array<{ offset: number; entries: number }> = []
  let offset = SessionFile.HEADER_LENGTH
  entries.forEach((entry, i) => {
    SessionFile.encodeEntry(writer, entry)
    if ((i + 1) % flushEvery === 0 || i === entries.length - 1) {
      const block = new Uint8Array(writer.flush())
      parts.push(block)
      offset += block.byteLength
      blockEnds.push({ offset, entries: i + 1 })
    }
  })
  return { file: Buffer.concat(parts), blockEnds }
}

/** Reads `chunks` to the end: the entries, and the tail or violation. */
const read = (chunks: ReadonlyArray<Uint8Array>, into = false) => {
  const reader = SessionFile.makeReader()
  const entries: Array<SessionFile.Entry> = []
  const drain = (): SessionFile.Violation | undefined => {
    for (;;) {
      const result = reader.next()
      if (result._tag === "NeedMore") return undefined
      if (result._tag !== "Record") return result
      entries.push(SessionFile.decodeEntry(result))
    }
  }
  for (const chunk of chunks) {
    if (into) {
      // the file reader's way: the pending bytes moved to a fresh buffer, the chunk read after them
      const target = Buffer.alloc(reader.pending + chunk.byteLength)
      target.set(chunk, reader.moveTo(target))
      reader.filled(chunk.byteLength)
    } else {
      reader.feed(chunk)
    }
    const violation = drain()
    if (violation !== undefined) return { entries, end: violation }
  }
  return { entries, end: reader.finish() }
}

/** What a reader sees of an entry (empty `source` and `undefined` both survive JSON as written). */
const normal = (entry: SessionFile.Entry) => JSON.parse(JSON.stringify(entry, (_k, v) => (v instanceof Uint8Array ? [...v] : v)))

describe("SessionFile", () => {
  it("round-trips every entry kind, whatever the chopping and block boundaries, fed or read into its buffer", () => {
    fc.assert(
      fc.property(sessionArb, fc.integer({ min: 1, max: 7 }), fc.array(fc.nat(), { maxLength: 12 }), (entries, flushEvery, cuts) => {
        const { file } = write(entries, flushEvery)
        for (const into of [false, true]) {
          const { entries: back, end } = read(chop(file, cuts), into)
          expect(end).toEqual({ _tag: "Complete" })
          expect(back.map(normal)).toEqual(entries.map(normal))
        }
      }),
      { numRuns: 300 }
    )
  })

  it("readMessages indexes the same received messages as next, leaving every other record, time and violation to next", () => {
    /** Each record as `next` alone reads it: kind, time (of non-messages) and payload hex. */
    const label = (kind: number, time: number | undefined, buf: Uint8Array, start: number, end: number) =>
      `${kind}@${time ?? "-"}:${Buffer.from(buf.subarray(start, end)).toString("hex")}`
    const plain = (chunks: ReadonlyArray<Uint8Array>) => {
      const reader = SessionFile.makeReader()
      const out: Array<string> = []
      for (const chunk of chunks) {
        reader.feed(chunk)
        for (let r = reader.next(); r._tag === "Record"; r = reader.next()) {
          const message = r.kind === Kind.InText || r.kind === Kind.InBinary
          out.push(label(r.kind, message ? undefined : r.time, r.buf, r.start, r.end))
        }
      }
      return { out, end: reader.finish() }
    }
    /** The same with readMessages first, into an index of `slots` slots (the limit cuts runs). */
    const bulk = (chunks: ReadonlyArray<Uint8Array>, slots: number) => {
      const reader = SessionFile.makeReader()
      const out: Array<string> = []
      const index = new Uint32Array(slots)
      for (const chunk of chunks) {
        // the file reader's way: the chunk read after the pending bytes
        const target = Buffer.alloc(reader.pending + chunk.byteLength)
        target.set(chunk, reader.moveTo(target))
        reader.filled(chunk.byteLength)
        for (;;) {
          const at = reader.readMessages(index, 0, slots)
          for (let i = 0; i < at; i += 2) {
            const end = index[i + 1]! >>> 1
            out.push(label(index[i + 1]! & 1 ? Kind.InText : Kind.InBinary, undefined, target, index[i]!, end))
          }
          if (at === slots) continue
          const r = reader.next()
          if (r._tag !== "Record") break
          const message = r.kind === Kind.InText || r.kind === Kind.InBinary
          out.push(label(r.kind, message ? undefined : r.time, r.buf, r.start, r.end))
        }
      }
      return { out, end: reader.finish() }
    }
    const messages = fc.array(
      fc.tuple(fc.boolean(), fc.uint8Array({ maxLength: 300 }), fc.oneof(fc.constant(0), fc.nat(20_000), fc.nat(2 ** 40))),
      { maxLength: 60 }
    )
    fc.assert(
      fc.property(messages, sessionArb, fc.integer({ min: 1, max: 9 }), fc.array(fc.nat(), { maxLength: 12 }), fc.integer({ min: 1, max: 8 }), (runs, others, flushEvery, cuts, half) => {
        // message runs between other records, some messages with Δt or length varints of 3 bytes
        let time = 0
        const entries: Array<SessionFile.Entry> = []
        runs.forEach(([text, payload, delta], i) => {
          time += delta
          entries.push(text
            ? { _tag: "Message", time, direction: "In", text: Buffer.from(payload).toString("latin1") }
            : { _tag: "BinaryMessage", time, direction: "In", payload })
          const other = others[i]
          if (other !== undefined && i % 3 === 0) entries.push({ ...other, time } as SessionFile.Entry)
        })
        const { file } = write(entries, flushEvery)
        const chunks = chop(file, cuts)
        const expected = plain(chunks)
        expect(expected.end).toEqual({ _tag: "Complete" })
        expect(bulk(chunks, half * 2)).toEqual(expected)
      }),
      { numRuns: 300 }
    )
    // a damaged block that more follow: the same violation, after the same records
    const { file } = write([
      { _tag: "BinaryMessage", time: 1, direction: "In", payload: Uint8Array.of(1, 2) },
      { _tag: "BinaryMessage", time: 2, direction: "In", payload: Uint8Array.of(3) }
    ], 1)
    const damaged = Buffer.from(file)
    damaged[SessionFile.HEADER_LENGTH + 6]! ^= 0x01 // the first block's body
    const expected = plain([damaged])
    expect(expected.end).toMatchObject({ _tag: "CorruptBlock", fault: "Checksum" })
    expect(bulk([damaged], 8)).toEqual(expected)
    // and it is the bulk path that read the run: three short messages in one call, then Complete
    const reader = SessionFile.makeReader()
    const three = write([1, 2, 3].map((t): SessionFile.Entry => ({ _tag: "BinaryMessage", time: t, direction: "In", payload: Uint8Array.of(t) })), 2).file
    reader.feed(three)
    const index = new Uint32Array(8)
    expect(reader.readMessages(index, 0, 8)).toBe(6)
    // [start, end * 2 + isText] of each one-byte binary payload
    expect([0, 2, 4].map((i) => [three[index[i]!], index[i + 1]! - index[i]! * 2])).toEqual([[1, 2], [2, 2], [3, 2]])
    expect(reader.next()).toBe(NeedMore)
    expect(reader.finish()).toEqual({ _tag: "Complete" })
  })

  it("never writes a block longer than MAX_BLOCK_SIZE: a big record after others, or a block size of MAX_BLOCK_SIZE, still reads back", () => {
    const big = new Uint8Array(SessionFile.MAX_BLOCK_SIZE - 10).fill(3) // the largest record the writer takes
    const cases = {
      bigAfterSmall: (writer: SessionFile.SessionWriter) => {
        writer.appendText(Kind.InText, 1, "x".repeat(100))
        writer.append(Kind.InBinary, 2, big)
        return 2
      },
      maxBlockSize: (writer: SessionFile.SessionWriter) => {
        let records = 0
        while (!writer.isFull) writer.append(Kind.InBinary, records, new Uint8Array(1000).fill(records++ & 0xff))
        return records
      }
    }
    for (const [name, fill] of Object.entries(cases)) {
      const writer = SessionFile.makeWriter(name === "maxBlockSize" ? { blockSize: SessionFile.MAX_BLOCK_SIZE } : {})
      const records = fill(writer)
      const file = Buffer.concat([SessionFile.header(), writer.flush()])
      const { entries, end } = read([file])
      expect(end, name).toEqual({ _tag: "Complete" })
      expect(entries.length, name).toBe(records)
    }
  })

  it("readBlockHead reads a block's length and CRC, and refuses what no block can start with", () => {
    const writer = SessionFile.makeWriter()
    writer.append(Kind.InBinary, 1, new Uint8Array(200).fill(7))
    const block = Buffer.from(writer.flush())
    const head = SessionFile.readBlockHead(block)
    expect(head).toEqual({ _tag: "BlockHead", headLength: 6, bodyLength: block.byteLength - 6, crc: block.readUInt32BE(2) })
    expect(SessionFile.blockChecksum(block.subarray(6))).toBe(block.readUInt32BE(2))
    expect(SessionFile.readBlockHead(block.subarray(0, 1))).toBe(NeedMore)
    expect(SessionFile.readBlockHead(block.subarray(0, 5))).toBe(NeedMore)
    expect(SessionFile.readBlockHead(Uint8Array.of(0, 0, 0, 0, 0))).toEqual({ _tag: "BlockHead", headLength: 5, bodyLength: 0, crc: 0 })
    expect(SessionFile.readBlockHead(new Uint8Array(8).fill(0xff))).toBeUndefined()
    // 16 MiB + 1: over MAX_BLOCK_SIZE
    expect(SessionFile.readBlockHead(Uint8Array.of(0x81, 0x80, 0x80, 0x08, 0, 0, 0, 0))).toBeUndefined()
  })

  it("at every truncation point reads exactly the whole blocks before it and reports the torn rest", () => {
    fc.assert(
      fc.property(sessionArb.filter((e) => e.length > 0), fc.integer({ min: 1, max: 4 }), (entries, flushEvery) => {
        const { file, blockEnds } = write(entries, flushEvery)
        for (let cut = 0; cut <= file.byteLength; cut++) {
          const { entries: back, end } = read([file.subarray(0, cut)])
          if (cut < SessionFile.HEADER_LENGTH) {
            expect(end).toMatchObject({ _tag: "NotASessionFile" })
            continue
          }
          const whole = blockEnds.filter((b) => b.offset <= cut).at(-1)
          const wholeOffset = whole?.offset ?? SessionFile.HEADER_LENGTH
          expect(back.map(normal)).toEqual(entries.slice(0, whole?.entries ?? 0).map(normal))
          expect(end).toEqual(cut === wholeOffset ? { _tag: "Complete" } : { _tag: "Torn", offset: wholeOffset, bytes: cut - wholeOffset })
        }
      }),
      { numRuns: 40 }
    )
  })

  it("drops a last block whose bytes were damaged, and a zero-filled tail", () => {
    const entries: Array<SessionFile.Entry> = [
      { _tag: "Message", time: 10, direction: "In", text: "first" },
      { _tag: "Message", time: 20, direction: "In", text: "second" }
    ]
    const { file, blockEnds } = write(entries, 1)
    const damaged = Buffer.from(file)
    damaged[damaged.byteLength - 2]! ^= 0x40
    expect(read([damaged])).toEqual({
      entries: [entries[0]],
      end: { _tag: "Torn", offset: blockEnds[0]!.offset, bytes: file.byteLength - blockEnds[0]!.offset }
    })
    const zeros = Buffer.concat([file, Buffer.alloc(4096)])
    expect(read([zeros]).end).toEqual({ _tag: "Torn", offset: file.byteLength, bytes: 4096 })
  })

  it("refuses a damaged block that more blocks follow, naming its offset", () => {
    const entries: Array<SessionFile.Entry> = [
      { _tag: "Message", time: 10, direction: "In", text: "first" },
      { _tag: "Message", time: 20, direction: "In", text: "second" }
    ]
    const { file } = write(entries, 1)
    const damaged = Buffer.from(file)
    damaged[SessionFile.HEADER_LENGTH + 7]! ^= 0x01 // inside the first block's body
    expect(read([damaged])).toEqual({
      entries: [],
      end: {
        _tag: "CorruptBlock",
        offset: 8,
        fault: "Checksum",
        message: "session file block at offset 8 is corrupt (CRC-32 mismatch) and is not the last block"
      }
    })
  })

  it("refuses a file from a newer major version and a file that is not a session", () => {
    expect(read([Uint8Array.of(0x4e, 0x58, 0x53, 0x46, 2, 3, 0, 0)])).toEqual({
      entries: [],
      end: {
        _tag: "UnsupportedSessionVersion",
        major: 2,
        minor: 3,
        supported: 1,
        message: "session file format 2.3 is not supported (this reader reads major version 1)"
      }
    })
    expect(read([Buffer.from("GET / HTTP/1.1\r\n")])).toEqual({
      entries: [],
      end: { _tag: "NotASessionFile", message: "not a session file: the first bytes are not the NXSF magic" }
    })
  })

  it("reads a newer minor version, returning its new record kinds as Unknown", () => {
    const writer = SessionFile.makeWriter()
    writer.appendText(0x7e as SessionFile.Kind, 5, "from the future")
    writer.appendText(Kind.InText, 6, "hello")
    const file = Buffer.concat([Uint8Array.of(0x4e, 0x58, 0x53, 0x46, 1, 9, 0, 0), writer.flush()])
    expect(read([file]).entries).toEqual([
      { _tag: "Unknown", time: 5, kind: 0x7e },
      { _tag: "Message", time: 6, direction: "In", text: "hello" }
    ])
  })

  it("costs at most 1.2× the raw payload for 40–128 byte messages a millisecond apart", () => {
    for (const size of [40, 64, 128]) {
      const writer = SessionFile.makeWriter()
      const text = "x".repeat(size)
      let bytes = SessionFile.HEADER_LENGTH
      for (let i = 0; i < 10_000; i++) {
        writer.appendText(Kind.InText, i * 1000, text)
        if (writer.isFull) bytes += writer.flush().byteLength
      }
      bytes += writer.flush().byteLength
      expect(bytes / (size * 10_000)).toBeLessThanOrEqual(1.2)
    }
  })
})
