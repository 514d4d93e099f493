/**
 * What does one WebSocket send cost up to the socket, the frame encode *and* the write the socket
 * needs, ours beside `ws` — and from which payload size would handing the caller's payload to the
 * socket uncopied (a gathered write: header in the slab, then the caller's buffer) beat copying it
 * into the send slab?
 *
 * The socket is a `node:stream` `Writable` whose `write`/`writev` take the bytes synchronously
 * (the same `Writable` machinery a `net.Socket` runs, without the syscall, which is the same for
 * every candidate): every `socket.write` call and every chunk of a flush is counted, not the
 * kernel. One op is one event-loop tick's worth of sends, as an echo of one read:
 *
 * - ours, copy (what `WebSocket`'s sender does): `encodeInto` the 8 KiB slab at its bump offset
 *   (a fresh slab when the frame does not fit; a frame larger than a slab into a buffer of its
 *   own) and `socket.write` the region; as `SocketTransport.writeNow`, the first write of the
 *   tick goes straight to the socket and the rest are corked until the tick's end.
 * - ours, gathered: the header alone into the slab, then `socket.write(header)` and
 *   `socket.write(payload)` — the caller's buffer uncopied — under the same per-tick cork.
 * - ws: `Sender.frame(payload, { readOnly: true, ... })` then what its `sendFrame` does with the
 *   list: one `write`, or `cork(); write(header); write(payload); uncork()` for two.
 *
 * Unmasked (server role) binary at 128 B, 1 KiB, 4 KiB, 16 KiB and 64 KiB, where a gathered write
 * is possible; masked (client role) 128 B binary and 128 B text, where it is not (the mask is
 * applied to a copy: the caller's bytes are never changed), so ours copies and ws copies too.
 */
import { Writable } from "node:stream"
import * as ws from "ws"
import type { Candidate, Suite } from "../harness.ts"
import * as FrameWriter from "../../src/Codec/FrameWriter.ts"
import * as MaskSource from "../../src/Codec/MaskSource.ts"
import { TEXT_128 } from "./encode.ts"

interface WsSender {
  frame(
    data: Buffer | string,
    options: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean }
  ): Array<Buffer>
}
const { Sender } = ws as unknown as { Sender: WsSender }

let sink = 0

/** Keeps the sink observable so no send is optimised away. */
export const sinkValue = (): number => sink

const SLAB_SIZE = 8 * 1024

/** Bytes every stand-in socket has been handed (checked per candidate before the runs). */
let written = 0

/** A socket stand-in: Node's `Writable` with a synchronous flush that counts what it is given. */
const socket = (): Writable =>
  new Writable({
    highWaterMark: 1 << 30,
    write(chunk: Buffer, _encoding, callback) {
      written += chunk.length
      sink += chunk[0]!
      callback()
    },
    writev(chunks, callback) {
      for (const { chunk } of chunks) {
        written += (chunk as Buffer).length
        sink += (chunk as Buffer)[0]!
      }
      callback()
    }
  })

/** Messages per op (one tick): fewer for large payloads, so an op stays comparable in bytes. */
const perOp = (size: number): number => Math.max(4, Math.min(100, Math.floor(256 * 1024 / size)))

const writerOf = (masked: boolean): FrameWriter.FrameWriter =>
  masked
    ? FrameWriter.make({ role: "client", maskSource: MaskSource.crypto() })
    : FrameWriter.make({ role: "server" })

const oursCopy = (masked: boolean, kind: FrameWriter.Kind, payload: string | Uint8Array, count: number): Candidate => {
  const writer = writerOf(masked)
  const out = socket()
  let slab = Buffer.allocUnsafeSlow(SLAB_SIZE)
  let at = 0
  const frameOf = (): Buffer => {
    let n = writer.encodeInto(slab, at, kind, payload)
    if (typeof n !== "number") {
      if (n._tag === "BufferTooSmall" && n.needed > SLAB_SIZE) {
        const own = Buffer.allocUnsafe(n.needed)
        return own.subarray(0, writer.encodeInto(own, 0, kind, payload) as number)
      }
      slab = Buffer.allocUnsafeSlow(SLAB_SIZE)
      at = 0
      n = writer.encodeInto(slab, 0, kind, payload) as number
    }
    const region = slab.subarray(at, at + n)
    at += n
    return region
  }
  const fn = () => {
    out.write(frameOf())
    out.cork()
    for (let i = 1; i < count; i++) out.write(frameOf())
    out.uncork()
  }
  return { name: "ours: copy into the slab, one write (per-tick cork)", fn }
}

const oursGathered = (payload: Uint8Array, count: number): Candidate => {
  const out = socket()
  let slab = Buffer.allocUnsafeSlow(SLAB_SIZE)
  let at = 0
  const n = payload.length
  const header = (): Buffer => {
    if (at + FrameWriter.MAX_HEADER_SIZE > SLAB_SIZE) {
      slab = Buffer.allocUnsafeSlow(SLAB_SIZE)
      at = 0
    }
    // the server-role header for an n-byte binary frame (what FrameWriter writes)
    const h = n < 126 ? 2 : n < 65536 ? 4 : 10
    slab[at] = 0x82
    if (h === 2) slab[at + 1] = n
    else if (h === 4) {
      slab[at + 1] = 126
      slab.writeUInt16BE(n, at + 2)
    } else {
      slab[at + 1] = 127
      slab.writeBigUInt64BE(BigInt(n), at + 2)
    }
    const region = slab.subarray(at, at + h)
    at += h
    return region
  }
  const fn = () => {
    out.write(header())
    out.cork()
    out.write(payload)
    for (let i = 1; i < count; i++) {
      out.write(header())
      out.write(payload)
    }
    out.uncork()
  }
  return { name: "ours: gathered [header, caller's payload] (per-tick cork)", fn }
}

const wsSend = (masked: boolean, opcode: number, payload: string | Buffer, count: number): Candidate => {
  const out = socket()
  const options = { fin: true, opcode, mask: masked, readOnly: typeof payload !== "string", rsv1: false }
  const fn = () => {
    for (let i = 0; i < count; i++) {
      const list = Sender.frame(payload, options)
      if (list.length === 2) {
        out.cork()
        out.write(list[0])
        out.write(list[1])
        out.uncork()
      } else {
        out.write(list[0])
      }
    }
  }
  return { name: "ws: Sender.frame + sendFrame's writes", fn }
}

/** Checks that one op of `candidate` hands the socket `count` frames of `frameBytes` each. */
const checked = (candidate: Candidate, count: number, frameBytes: number): Candidate => {
  const before = written
  candidate.fn()
  if (written - before !== count * frameBytes) {
    throw new Error(`${candidate.name} wrote ${written - before} bytes, expected ${count * frameBytes}`)
  }
  return candidate
}

const binary = (size: number): Buffer => Buffer.alloc(size, 0x61)
const headerOf = (n: number, masked: boolean): number => (n < 126 ? 2 : n < 65536 ? 4 : 10) + (masked ? 4 : 0)

const binarySuite = (size: number, masked: boolean): Suite => {
  const payload = binary(size)
  const count = perOp(size)
  const frameBytes = headerOf(size, masked) + size
  const label = masked ? "client→server masked" : "server→client unmasked"
  const candidates = [
    checked(oursCopy(masked, FrameWriter.Kind.Binary, payload, count), count, frameBytes),
    checked(wsSend(masked, 2, payload, count), count, frameBytes),
    ...(masked ? [] : [checked(oursGathered(payload, count), count, frameBytes)])
  ]
  return {
    name: `send + write binary ${size < 1024 ? `${size} B` : `${size / 1024} KiB`} ${label}`,
    messagesPerOp: count,
    candidates,
    target: size === 128 ? 2 : undefined
  }
}

/** The suites of this file: ours (copy) first, ws second, then ours gathered where it applies. */
export const suites: ReadonlyArray<Suite> = [
  ...[128, 1024, 4096, 16384, 65536].map((size) => binarySuite(size, false)),
  binarySuite(128, true),
  {
    name: "send + write text 128 B client→server masked",
    messagesPerOp: 100,
    candidates: [
      checked(oursCopy(true, FrameWriter.Kind.Text, TEXT_128, 100), 100, 8 + 128),
      checked(wsSend(true, 1, TEXT_128, 100), 100, 8 + 128)
    ],
    target: 2
  },
  {
    name: "send + write text 128 B server→client unmasked",
    messagesPerOp: 100,
    candidates: [
      checked(oursCopy(false, FrameWriter.Kind.Text, TEXT_128, 100), 100, 4 + 128),
      checked(wsSend(false, 1, TEXT_128, 100), 100, 4 + 128)
    ],
    target: 2
  }
]
