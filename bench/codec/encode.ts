/**
 * How fast does `FrameWriter` turn a 128-byte text or binary message into wire bytes, next to
 * `ws`'s `Sender.frame`?
 *
 * Every op encodes the same 128-byte ASCII JSON string 100 times. What each side ends with is
 * what its user hands to the socket:
 * - ours, WriteBuf: `encode(buf, Text, text)` — header and payload contiguous in
 *   `buf.buf[head, tail)`; and the same plus `buf.data()`, the one `Buffer` view a
 *   `socket.write` takes (~30 ns on its own on this machine, as much as the encode);
 * - ours, caller buffer: `encodeInto(dst, 0, Text, text)` — the frame is in `dst[0, n)`;
 * - ws: `Sender.frame(text, { fin, opcode: 1, mask, readOnly: false, rsv1: false })`, which
 *   returns `[header, payload]` (ws's `sendFrame` writes the two with a cork). The list is taken
 *   as ws's final bytes — no concat is charged to ws.
 *
 * - ours, send slab (text and binary): what `WebSocket`'s sender encodes per send — `encodeInto`
 *   the connection's 8 KiB slab at its bump offset (a fresh slab when the frame does not fit);
 *   the transport gets the slab range (`writeNow(slab, start, end)`), and a view is made once per
 *   batch of one tick, not per frame (`bench/codec/send-write.ts` counts those writes). For binary,
 *   ws gets a `Buffer` payload with `readOnly: true`, as `ws.send(buffer)` passes it: unmasked,
 *   ws hands the caller's payload on uncopied (`[header, payload]`); masked, it copies and masks
 *   into one fresh buffer.
 *
 * Masked (client role): ours draws keys from `MaskSource.crypto()` (a 4 KiB `randomFillSync`
 * pool), ws from its own 8 KiB `randomFillSync` pool; both mask the freshly encoded payload.
 * Unmasked (server role): no key. A sink keeps every result observable.
 */
import * as ws from "ws"
import type { Candidate, Suite } from "../harness.ts"
import * as FrameWriter from "../../src/Codec/FrameWriter.ts"
import * as MaskSource from "../../src/Codec/MaskSource.ts"
import * as WriteBuf from "../../src/Codec/WriteBuf.ts"

// ws's ESM entry exports its Sender, but @types/ws does not declare it
interface WsSender {
  frame(
    data: Buffer | string,
    options: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean }
  ): Array<Buffer>
}
/** `ws`'s Sender, typed (shared with the send-write rows). */
export const { Sender } = ws as unknown as { Sender: WsSender }

const MESSAGES_PER_OP = 100

let sink = 0

/** Keeps the sink observable so no encode is optimised away. */
export const sinkValue = (): number => sink

const TICK = "{\"e\":\"trade\",\"E\":1715678400123,\"s\":\"BTCUSDT\",\"t\":3344556677,\"p\":\"64250.10\",\"q\":\"0.015\",\"m\":true}"

/**
 * A 128-byte ASCII JSON-like text message, flattened (a fresh sequential string, like the
 * output of `JSON.stringify`, rather than a slice of a concatenation).
 */
export const TEXT_128: string = JSON.parse(JSON.stringify((TICK + TICK).slice(0, 128)))

const writerOf = (masked: boolean): FrameWriter.FrameWriter =>
  masked
    ? FrameWriter.make({ role: "client", maskSource: MaskSource.crypto() })
    : FrameWriter.make({ role: "server" })

/** The frame length both sides must produce. */
const frameLength = (masked: boolean): number => 4 + (masked ? 4 : 0) + 128

const oursWriteBuf = (masked: boolean, view: boolean): Candidate => {
  const writer = writerOf(masked)
  const buf = WriteBuf.make({ capacity: 4096 })
  const text = TEXT_128
  const expected = frameLength(masked)
  const fn = view
    ? () => {
      for (let i = 0; i < MESSAGES_PER_OP; i++) {
        writer.encode(buf, FrameWriter.Kind.Text, text)
        const bytes = buf.data()
        sink += bytes.length + bytes[1]!
      }
    }
    : () => {
      for (let i = 0; i < MESSAGES_PER_OP; i++) {
        const n = writer.encode(buf, FrameWriter.Kind.Text, text) as number
        sink += n + buf.buf[buf.head + 1]!
      }
    }
  fn()
  if (buf.length !== expected) throw new Error(`ours wrote ${buf.length} bytes, expected ${expected}`)
  return { name: view ? "FrameWriter.encode + WriteBuf.data()" : "FrameWriter.encode (WriteBuf)", fn }
}

const oursInto = (masked: boolean): Candidate => {
  const writer = writerOf(masked)
  const dst = Buffer.allocUnsafeSlow(4096)
  const text = TEXT_128
  const expected = frameLength(masked)
  const fn = () => {
    for (let i = 0; i < MESSAGES_PER_OP; i++) {
      const n = writer.encodeInto(dst, 0, FrameWriter.Kind.Text, text) as number
      sink += n + dst[1]!
    }
  }
  fn()
  const n = writer.encodeInto(dst, 0, FrameWriter.Kind.Text, text)
  if (n !== expected) throw new Error(`ours wrote ${JSON.stringify(n)} bytes, expected ${expected}`)
  return { name: "FrameWriter.encodeInto", fn }
}

const wsFrame = (masked: boolean): Candidate => {
  const text = TEXT_128
  const options = { fin: true, opcode: 1, mask: masked, readOnly: false, rsv1: false }
  const expected = frameLength(masked)
  const fn = () => {
    for (let i = 0; i < MESSAGES_PER_OP; i++) {
      const list = Sender.frame(text, options)
      sink += list.length + list[0]![1]! + list[list.length - 1]!.length
    }
  }
  fn()
  const list = Sender.frame(text, options)
  const got = list.reduce((n, b) => n + b.length, 0)
  if (got !== expected) throw new Error(`ws wrote ${got} bytes, expected ${expected}`)
  return { name: "ws Sender.frame ([header, payload])", fn }
}

/** A 128-byte binary payload (a `Buffer`, as a `ws` user would hand it over). */
const BINARY_128: Buffer = Buffer.from(TEXT_128, "latin1")

const SLAB_SIZE = 8 * 1024

const oursSlab = (masked: boolean, binary: boolean): Candidate => {
  const writer = writerOf(masked)
  const kind = binary ? FrameWriter.Kind.Binary : FrameWriter.Kind.Text
  const payload: string | Uint8Array = binary ? BINARY_128 : TEXT_128
  let slab = Buffer.allocUnsafeSlow(SLAB_SIZE)
  let at = 0
  const expected = frameLength(masked)
  const fn = () => {
    for (let i = 0; i < MESSAGES_PER_OP; i++) {
      let n = writer.encodeInto(slab, at, kind, payload)
      if (typeof n !== "number") {
        slab = Buffer.allocUnsafeSlow(SLAB_SIZE)
        at = 0
        n = writer.encodeInto(slab, 0, kind, payload) as number
      }
      sink += n + slab[at + 1]!
      at += n
    }
  }
  fn()
  const n = writer.encodeInto(Buffer.allocUnsafe(4096), 0, kind, payload)
  if (n !== expected) throw new Error(`ours wrote ${JSON.stringify(n)} bytes, expected ${expected}`)
  return { name: "send slab: encodeInto at the bump offset", fn }
}

/**
 * The sender before the send slab (kept as a yardstick): encode into the reused `WriteBuf`, then
 * copy the frame into a fresh pooled `Buffer` the transport may keep.
 */
const previousSender = (masked: boolean, binary: boolean): Candidate => {
  const writer = writerOf(masked)
  const kind = binary ? FrameWriter.Kind.Binary : FrameWriter.Kind.Text
  const payload: string | Uint8Array = binary ? BINARY_128 : TEXT_128
  const buf = WriteBuf.make({ capacity: SLAB_SIZE })
  const fn = () => {
    for (let i = 0; i < MESSAGES_PER_OP; i++) {
      writer.encode(buf, kind, payload)
      const view = buf.data()
      const copy = Buffer.allocUnsafe(view.length)
      copy.set(view)
      sink += copy.length + copy[1]!
    }
  }
  fn()
  if (buf.length !== frameLength(masked)) throw new Error(`ours wrote ${buf.length} bytes, expected ${frameLength(masked)}`)
  return { name: "previous sender: WriteBuf + owned copy", fn }
}

const wsBinary = (masked: boolean): Candidate => {
  const data = BINARY_128
  const options = { fin: true, opcode: 2, mask: masked, readOnly: true, rsv1: false }
  const expected = frameLength(masked)
  const fn = () => {
    for (let i = 0; i < MESSAGES_PER_OP; i++) {
      const list = Sender.frame(data, options)
      sink += list.length + list[0]![1]! + list[list.length - 1]!.length
    }
  }
  fn()
  const got = Sender.frame(data, options).reduce((n, b) => n + b.length, 0)
  if (got !== expected) throw new Error(`ws wrote ${got} bytes, expected ${expected}`)
  return { name: "ws Sender.frame (readOnly Buffer)", fn }
}

/**
 * The suites answered by this file, ours first, ws second, target 2× ws: the caller-buffer
 * target, the WriteBuf target (frame contiguous in `buf.buf[head, tail)`), and the WriteBuf
 * target plus the `data()` view a socket write takes.
 */
export const suites: ReadonlyArray<Suite> = [false, true].flatMap((masked): Array<Suite> => {
  const label = masked ? "client→server masked (crypto keys)" : "server→client unmasked"
  const suite = (target: string, ours: Candidate): Suite => ({
    name: `encode text 128 B ${label}, ${target}`,
    messagesPerOp: MESSAGES_PER_OP,
    candidates: [ours, wsFrame(masked)],
    target: 2
  })
  return [
    suite("caller buffer", oursInto(masked)),
    suite("WriteBuf", oursWriteBuf(masked, false)),
    suite("WriteBuf + data() view", oursWriteBuf(masked, true)),
    {
      name: `encode text 128 B ${label}, send slab`,
      messagesPerOp: MESSAGES_PER_OP,
      candidates: [oursSlab(masked, false), wsFrame(masked), previousSender(masked, false)],
      target: 2
    },
    {
      name: `encode binary 128 B ${label}, send slab`,
      messagesPerOp: MESSAGES_PER_OP,
      candidates: [oursSlab(masked, true), wsBinary(masked), previousSender(masked, true)],
      target: 2
    }
  ]
})
