import * as ws from "ws"
import { describe, expect, it } from "vitest"
import * as FrameWriter from "../../src/Codec/FrameWriter.ts"
import * as MaskSource from "../../src/Codec/MaskSource.ts"
import * as WriteBuf from "../../src/Codec/WriteBuf.ts"
import { patterned, SIZES, textOf } from "../support/frames.ts"

// ws's ESM entry exports its Receiver, but @types/ws does not declare it
interface WsReceiver {
  write(chunk: Buffer): boolean
  on(event: "message", listener: (data: Buffer, isBinary: boolean) => void): this
  on(event: "ping" | "pong", listener: (data: Buffer) => void): this
  on(event: "conclude", listener: (code: number, reason: Buffer) => void): this
  on(event: "error", listener: (error: Error) => void): this
}
const { Receiver } = ws as unknown as {
  Receiver: new(options: { isServer: boolean; binaryType: "nodebuffer" }) => WsReceiver
}

const { Kind } = FrameWriter

type Event =
  | { readonly _tag: "Text"; readonly text: string }
  | { readonly _tag: "Binary" | "Ping" | "Pong"; readonly payload: Buffer }
  | { readonly _tag: "Close"; readonly code: number; readonly reason: string }
  | { readonly _tag: "Error"; readonly message: string }

/**
 * Feeds `stream` to a real ws Receiver in pieces of `piece` bytes and records every event. A
 * client's frames are read by a server-side receiver (`isServer: true`) and vice versa.
 */
const wsRead = async (role: FrameWriter.Role, stream: Buffer, piece: number): Promise<Array<Event>> => {
  const receiver = new Receiver({ isServer: role === "client", binaryType: "nodebuffer" })
  const events: Array<Event> = []
  receiver.on("message", (data, isBinary) =>
    events.push(isBinary ? { _tag: "Binary", payload: Buffer.from(data) } : { _tag: "Text", text: data.toString("utf8") })
  )
  receiver.on("ping", (data) => events.push({ _tag: "Ping", payload: Buffer.from(data) }))
  receiver.on("pong", (data) => events.push({ _tag: "Pong", payload: Buffer.from(data) }))
  receiver.on("conclude", (code, reason) => events.push({ _tag: "Close", code, reason: reason.toString("utf8") }))
  receiver.on("error", (error) => events.push({ _tag: "Error", message: error.message }))
  // ws unmasks in place, so it gets a copy and `stream` can be read again
  const copy = Buffer.from(stream)
  for (let offset = 0; offset < copy.length; offset += piece) {
    receiver.write(copy.subarray(offset, Math.min(copy.length, offset + piece)))
  }
  // ws reports errors through the stream machinery, a tick later
  await new Promise((resolve) => setImmediate(resolve))
  return events
}

const writerFor = (role: FrameWriter.Role, fragmentSize?: number): FrameWriter.FrameWriter =>
  role === "client"
    ? FrameWriter.make({ role, maskSource: MaskSource.crypto(), ...(fragmentSize === undefined ? {} : { fragmentSize }) })
    : FrameWriter.make({ role, ...(fragmentSize === undefined ? {} : { fragmentSize }) })

type Message =
  | { readonly kind: FrameWriter.Kind; readonly payload: string | Uint8Array }
  | { readonly kind: "close"; readonly code?: number; readonly reason?: string }

/** What ws should report for `message` (a string payload is sent as its UTF-8). */
const expectedEvent = (message: Message): Event => {
  if (message.kind === "close") {
    return { _tag: "Close", code: message.code ?? 1005, reason: message.reason ?? "" }
  }
  const payload = typeof message.payload === "string" ? Buffer.from(message.payload) : Buffer.from(message.payload)
  switch (message.kind) {
    case Kind.Text:
      return { _tag: "Text", text: payload.toString("utf8") }
    case Kind.Binary:
      return { _tag: "Binary", payload }
    case Kind.Ping:
      return { _tag: "Ping", payload }
    case Kind.Pong:
      return { _tag: "Pong", payload }
  }
}

/** Encodes every message, alternating the WriteBuf and caller-buffer targets, into one stream. */
const encodeAll = (writer: FrameWriter.FrameWriter, messages: ReadonlyArray<Message>): Buffer => {
  const buf = WriteBuf.make({ capacity: 3 * 1024 * 1024 })
  const dst = Buffer.alloc(3 * 1024 * 1024)
  const parts: Array<Buffer> = []
  messages.forEach((message, i) => {
    let r: number | FrameWriter.EncodeError
    if (i % 2 === 0) {
      r = message.kind === "close"
        ? writer.encodeClose(buf, message.code, message.reason)
        : writer.encode(buf, message.kind, message.payload)
      if (typeof r === "number") parts.push(Buffer.from(buf.data()))
    } else {
      r = message.kind === "close"
        ? writer.encodeCloseInto(dst, 7, message.code, message.reason)
        : writer.encodeInto(dst, 7, message.kind, message.payload)
      if (typeof r === "number") parts.push(Buffer.from(dst.subarray(7, 7 + r)))
    }
    if (typeof r !== "number") throw new Error(`encode failed: ${r.message}`)
  })
  return Buffer.concat(parts)
}

describe("ws's Receiver reads what FrameWriter writes", () => {
  for (const role of ["client", "server"] as const) {
    describe(`${role} role (${role === "client" ? "masked" : "unmasked"} frames)`, () => {
      it("reads text (string and bytes) and binary messages of every length form", async () => {
        const messages: Array<Message> = []
        for (const size of SIZES) {
          messages.push({ kind: Kind.Text, payload: textOf(size) })
          messages.push({ kind: Kind.Text, payload: Buffer.from(textOf(size)) })
          messages.push({ kind: Kind.Binary, payload: patterned(size) })
        }
        const stream = encodeAll(writerFor(role), messages)
        const expected = messages.map(expectedEvent)
        expect(await wsRead(role, stream, stream.length)).toEqual(expected)
        expect(await wsRead(role, stream, 4093)).toEqual(expected)
      })

      it("reads ping, pong and close frames, the close last", async () => {
        const messages: Array<Message> = [
          { kind: Kind.Ping, payload: "" },
          { kind: Kind.Ping, payload: patterned(125) },
          { kind: Kind.Pong, payload: "pong ✓" },
          { kind: Kind.Pong, payload: patterned(1) },
          { kind: "close", code: 4000, reason: "é".repeat(61) + "x" }
        ]
        const stream = encodeAll(writerFor(role), messages)
        expect(await wsRead(role, stream, stream.length)).toEqual(messages.map(expectedEvent))
      })

      it("reads a close with a code only and a close without payload", async () => {
        for (const message of [{ kind: "close", code: 1000 }, { kind: "close" }] as const) {
          const stream = encodeAll(writerFor(role), [message])
          expect(await wsRead(role, stream, 1)).toEqual([expectedEvent(message)])
        }
      })

      it("reassembles fragmented text and binary messages, with control frames between messages", async () => {
        const messages: Array<Message> = [
          { kind: Kind.Text, payload: textOf(1000) }, // 8 fragments, code points split across them
          { kind: Kind.Ping, payload: "between" },
          { kind: Kind.Binary, payload: patterned(70000) },
          { kind: Kind.Text, payload: Buffer.from(textOf(300)) },
          { kind: Kind.Binary, payload: patterned(128) }, // exactly one fragment
          { kind: Kind.Text, payload: "short" },
          { kind: Kind.Binary, payload: patterned(1024 * 1024) },
          { kind: Kind.Text, payload: textOf(65536 * 3 + 7) }
        ]
        const stream = encodeAll(writerFor(role, 128), messages)
        const expected = messages.map(expectedEvent)
        expect(await wsRead(role, stream, stream.length)).toEqual(expected)
        const big = encodeAll(writerFor(role, 65536), messages)
        expect(await wsRead(role, big, 5000)).toEqual(expected)
      })
    })
  }

  it("rejects masked frames as a client and unmasked frames as a server (the oracle is strict)", async () => {
    const masked = encodeAll(writerFor("client"), [{ kind: Kind.Text, payload: "x" }])
    const unmasked = encodeAll(writerFor("server"), [{ kind: Kind.Text, payload: "x" }])
    expect(await wsRead("server", masked, masked.length)).toEqual([
      { _tag: "Error", message: "Invalid WebSocket frame: MASK must be clear" }
    ])
    expect(await wsRead("client", unmasked, unmasked.length)).toEqual([
      { _tag: "Error", message: "Invalid WebSocket frame: MASK must be set" }
    ])
  })
})
