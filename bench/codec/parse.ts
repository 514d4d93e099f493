/**
 * How fast does `FrameReader` turn wire bytes into messages, next to `ws`'s `Receiver`?
 *
 * Inputs are built once, outside the timed functions. Every op hands over 100 frames: either
 * 100 chunks of one frame (a socket read per frame) or one chunk of 100 frames (a busy feed).
 * Both sides consume every message the same way — payload length plus its first byte into a
 * sink — and both validate text as UTF-8 (ws with `buffer.isUtf8`, JS below 24 bytes; ours
 * with `internal/frameUtf8.ts`). Ours copies each chunk into its slab with `feed` (the path a
 * socket chunk takes); `ws` keeps a reference to the chunk (its `write`, the path a socket
 * 'data' event takes).
 *
 * ws runs with `bufferutil`/`utf-8-validate` installed (ws 8 prefers Node's `buffer.isUtf8`).
 * The masked case unmasks in place on both sides; ws mutates the reused input chunk (XOR
 * toggles, harmless for binary), ours unmasks its own copy.
 */
import * as ws from "ws"
import type { Candidate, Suite } from "../harness.ts"
import * as FrameReader from "../../src/Codec/FrameReader.ts"

// ws's ESM entry exports its Receiver and Sender, but @types/ws does not declare them
interface WsReceiver {
  write(chunk: Buffer): boolean
  on(event: "message", listener: (data: Buffer, isBinary: boolean) => void): this
  on(event: "error", listener: (error: Error) => void): this
}
interface WsInternals {
  readonly Receiver: new(options: { isServer: boolean; binaryType: "nodebuffer" }) => WsReceiver
  readonly Sender: {
    frame(data: Buffer, options: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean }): Array<Buffer>
  }
}
const { Receiver, Sender } = ws as unknown as WsInternals

const FRAMES_PER_OP = 100

let sink = 0

/** Keeps the sink observable so no parse is optimised away. */
export const sinkValue = (): number => sink

const JSON_TICK = "{\"e\":\"trade\",\"E\":1715678400123,\"s\":\"BTCUSDT\",\"t\":3344556677,\"p\":\"64250.10\",\"q\":\"0.015\",\"m\":true}"

/** An ASCII JSON-like payload of exactly `size` bytes (text) or patterned bytes (binary). */
const payloadOf = (size: number, text: boolean): Buffer => {
  if (!text) {
    const bytes = Buffer.alloc(size)
    for (let i = 0; i < size; i++) bytes[i] = (i * 31 + 7) & 0xff
    return bytes
  }
  let s = ""
  while (s.length < size) s += JSON_TICK
  return Buffer.from(s.slice(0, size), "latin1")
}

/** One frame as ws's real sender writes it. */
const frameOf = (payload: Buffer, text: boolean, masked: boolean): Buffer => {
  const parts = Sender.frame(Buffer.from(payload), {
    fin: true,
    opcode: text ? 1 : 2,
    mask: masked,
    readOnly: true,
    rsv1: false
  })
  return Buffer.concat(parts)
}

interface Case {
  readonly label: string
  readonly size: number
  readonly text: boolean
  readonly masked: boolean
  readonly perChunk: number
  readonly target?: number | undefined
}

/** The chunks one op feeds: 100 single-frame chunks or one 100-frame chunk. */
const chunksOf = (c: Case): Array<Buffer> => {
  const frame = frameOf(payloadOf(c.size, c.text), c.text, c.masked)
  if (c.perChunk === 1) return Array.from({ length: FRAMES_PER_OP }, () => Buffer.from(frame))
  return [Buffer.concat(Array.from({ length: FRAMES_PER_OP }, () => frame))]
}

const oursCandidate = (c: Case, viaView: boolean): Candidate => {
  const reader = FrameReader.make({ role: c.masked ? "server" : "client" })
  const chunks = chunksOf(c)
  const tag = c.text ? "Text" : "Binary"
  const drain = viaView
    ? () => {
      let n = 0
      while (true) {
        const m = reader.next()
        if (m._tag !== tag) {
          if (m._tag === "NeedMore") return n
          throw new Error(`ours: unexpected ${m._tag}`)
        }
        const payload = (m as FrameReader.Binary).payload
        sink += payload.length + payload[0]!
        n++
      }
    }
    : () => {
      let n = 0
      while (true) {
        const m = reader.next()
        if (m._tag !== tag) {
          if (m._tag === "NeedMore") return n
          throw new Error(`ours: unexpected ${m._tag}`)
        }
        const b = m as FrameReader.Binary
        sink += b.end - b.start + b.buf[b.start]!
        n++
      }
    }
  const fn = () => {
    let n = 0
    for (let i = 0; i < chunks.length; i++) {
      reader.feed(chunks[i]!)
      n += drain()
    }
    if (n !== FRAMES_PER_OP) throw new Error(`ours read ${n} messages, expected ${FRAMES_PER_OP}`)
  }
  fn()
  return { name: viaView ? "FrameReader (.payload view)" : "FrameReader", fn }
}

const wsCandidate = (c: Case): Candidate => {
  const receiver = new Receiver({ isServer: c.masked, binaryType: "nodebuffer" })
  let n = 0
  receiver.on("message", (data: Buffer) => {
    sink += data.length + data[0]!
    n++
  })
  receiver.on("error", (error: Error) => {
    throw error
  })
  const chunks = chunksOf(c)
  const fn = () => {
    n = 0
    for (let i = 0; i < chunks.length; i++) receiver.write(chunks[i]!)
    if (n !== FRAMES_PER_OP) throw new Error(`ws read ${n} messages synchronously, expected ${FRAMES_PER_OP}`)
  }
  fn()
  return { name: "ws Receiver", fn }
}

const cases: Array<Case> = []
for (const text of [false, true]) {
  for (const size of [40, 128, 512, 2048]) {
    for (const perChunk of [1, FRAMES_PER_OP]) {
      cases.push({
        label: `server→client ${text ? "text" : "binary"} ${size} B, ${perChunk === 1 ? "1 frame" : "100 frames"}/chunk`,
        size,
        text,
        masked: false,
        perChunk,
        target: size <= 128 ? 3 : size === 512 ? 2 : undefined
      })
    }
  }
}
for (const perChunk of [1, FRAMES_PER_OP]) {
  cases.push({
    label: `client→server masked binary 128 B, ${perChunk === 1 ? "1 frame" : "100 frames"}/chunk`,
    size: 128,
    text: false,
    masked: true,
    perChunk
  })
}

/** Suites answered by this file: ours first, ws second; plus the cost of asking for a view. */
export const suites: ReadonlyArray<Suite> = [
  ...cases.map((c): Suite => ({
    name: `parse ${c.label}`,
    messagesPerOp: FRAMES_PER_OP,
    candidates: [oursCandidate(c, false), wsCandidate(c)],
    target: c.target
  })),
  ...cases.filter((c) => !c.text && !c.masked && c.size <= 128).map((c): Suite => ({
    name: `parse ${c.label}, consumer takes .payload`,
    messagesPerOp: FRAMES_PER_OP,
    candidates: [oursCandidate(c, true), wsCandidate(c)]
  }))
]
