import * as ws from "ws"
import { describe, expect, it } from "vitest"
import * as FrameReader from "../../src/Codec/FrameReader.ts"
import { patterned, SIZES, textOf } from "../support/frames.ts"

// ws's ESM entry exports its Sender, but @types/ws does not declare it
interface FrameOptions {
  readonly fin: boolean
  readonly opcode: number
  readonly mask: boolean
  readonly readOnly: boolean
  readonly rsv1: boolean
  readonly maskBuffer?: Buffer
}
const { Sender } = ws as unknown as { Sender: { frame(data: Buffer, options: FrameOptions): Array<Buffer> } }

const MASK = Buffer.from([0x9a, 0x01, 0x7f, 0xe3])

/** One frame exactly as ws's sender writes it (ws masks a copy, never our payload). */
const wsFrame = (payload: Buffer, opcode: number, fin: boolean, mask: boolean): Buffer =>
  Buffer.concat(
    Sender.frame(Buffer.from(payload), {
      fin,
      opcode,
      mask,
      readOnly: false,
      rsv1: false,
      ...(mask ? { maskBuffer: Buffer.from(MASK) } : {})
    })
  )

/** Feeds the stream in pieces of `piece` bytes and drains every message as an owned copy. */
const readStream = (role: FrameReader.Role, stream: Buffer, piece: number) => {
  const reader = FrameReader.make({ role, bufferCapacity: 1024 })
  const out: Array<FrameReader.OwnedMessage | FrameReader.FrameViolation> = []
  let offset = 0
  while (true) {
    const r = reader.next()
    if (r._tag === "NeedMore") {
      if (offset === stream.length) return out
      offset += reader.feed(stream.subarray(offset, Math.min(stream.length, offset + piece)))
    } else if ("closeCode" in r) {
      out.push(r)
      return out
    } else {
      out.push(FrameReader.toOwned(r))
    }
  }
}

describe("FrameReader reads frames written by ws's Sender", () => {
  for (const [role, mask] of [["client", false], ["server", true]] as const) {
    describe(`as ${role} (${mask ? "masked" : "unmasked"} frames)`, () => {
      for (const size of SIZES) {
        it(`reads a ${size}-byte binary message and a ${size}-byte text message`, () => {
          const bin = patterned(size)
          const txt = textOf(size)
          expect(Buffer.byteLength(txt)).toBe(size)
          const stream = Buffer.concat([wsFrame(bin, 2, true, mask), wsFrame(Buffer.from(txt), 1, true, mask)])
          const expected = [{ _tag: "Binary", payload: new Uint8Array(bin) }, { _tag: "Text", text: txt }]
          expect(readStream(role, stream, stream.length)).toEqual(expected)
          expect(readStream(role, stream, 4093)).toEqual(expected)
        })
      }

      it("reassembles fragmented text and binary messages with control frames interleaved", () => {
        const txt = "fragmented ✓ text 😀 across frames"
        const bytes = Buffer.from(txt)
        const bin = patterned(70000)
        const stream = Buffer.concat([
          // text split inside the 4-byte emoji, a ping between fragments
          wsFrame(bytes.subarray(0, 21), 1, false, mask),
          wsFrame(Buffer.from("are you there"), 9, true, mask),
          wsFrame(bytes.subarray(21, 23), 0, false, mask),
          wsFrame(bytes.subarray(23), 0, true, mask),
          // binary in three fragments of 126, 65536 and the rest bytes, a pong in the middle
          wsFrame(bin.subarray(0, 126), 2, false, mask),
          wsFrame(bin.subarray(126, 126 + 65536), 0, false, mask),
          wsFrame(Buffer.alloc(0), 10, true, mask),
          wsFrame(bin.subarray(126 + 65536), 0, true, mask),
          wsFrame(Buffer.from([0x03, 0xe8, 0x62, 0x79, 0x65]), 8, true, mask)
        ])
        const expected = [
          { _tag: "Ping", payload: new Uint8Array(Buffer.from("are you there")) },
          { _tag: "Text", text: txt },
          { _tag: "Pong", payload: new Uint8Array() },
          { _tag: "Binary", payload: new Uint8Array(bin) },
          { _tag: "Close", code: 1000, reason: "bye" }
        ]
        expect(readStream(role, stream, stream.length)).toEqual(expected)
        expect(readStream(role, stream, 1)).toEqual(expected)
        expect(readStream(role, stream, 1000)).toEqual(expected)
      })

      it(`rejects ws's frames in the other role`, () => {
        const frame = wsFrame(Buffer.from("hi"), 1, true, mask)
        const other = role === "client" ? "server" : "client"
        expect(readStream(other, frame, frame.length)).toMatchObject([
          { _tag: role === "client" ? "UnmaskedFrame" : "MaskedFrame", closeCode: 1002 }
        ])
      })
    })
  }
})
