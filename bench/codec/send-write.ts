/**
 * What does one WebSocket send cost up to the socket, the frame encode *and* the write the socket
 * needs, ours beside `ws` — and from which payload size would handing the caller's payload to the
 * socket uncopied (a gathered write: header in the slab, then the caller's buffer) beat copying it
 * into the send slab?
 *
 * The socket is a `node:stream` `Duplex` whose `write`/`writev` take the bytes synchronously
 * (the same `Writable` machinery a `net.Socket` runs, without the syscall, which is the same for
 * every candidate): every `socket.write` call and every chunk of a flush is counted, not the
 * kernel. One op is one event-loop tick's worth of sends, as an echo of one read:
 *
 * - ours: the WebSocket's own send path — `Sender.frame` over a `SocketTransport` on the
 *   stand-in: a frame that fits the 8 KiB send slab is encoded into it and handed to
 *   `writeNow` (the first of the tick written at once, the rest held and written as one region
 *   when the tick ends); a server's larger one goes gathered through `writeBorrowed` (header in
 *   the slab, the caller's payload uncopied);
 * - ours, gathered at every size (a model, for the crossover): the header alone into the slab, then `socket.write(header)` and
 *   `socket.write(payload)` — the caller's buffer uncopied — under the same per-tick cork.
 * - ws: `Sender.frame(payload, { readOnly: true, ... })` then what its `sendFrame` does with the
 *   list: one `write`, or `cork(); write(header); write(payload); uncork()` for two.
 *
 * Unmasked (server role) binary at 128 B, 1 KiB, 4 KiB, 16 KiB and 64 KiB, where a gathered write
 * is possible; masked (client role) 128 B binary and 128 B text, where it is not (the mask is
 * applied to a copy: the caller's bytes are never changed), so ours copies and ws copies too.
 */
import * as Effect from "effect/Effect"
import type * as net from "node:net"
import { Duplex } from "node:stream"
import type { Candidate, Suite } from "../harness.ts"
import * as FrameWriter from "../../src/Codec/FrameWriter.ts"
import * as MaskSource from "../../src/Codec/MaskSource.ts"
import * as WebSocketSender from "../../src/Transport/internal/webSocketSender.ts"
import { SocketTransport } from "../../src/Transport/SocketTransport.ts"
import { Sender, TEXT_128 } from "./encode.ts"


let sink = 0

/** Keeps the sink observable so no send is optimised away. */
export const sinkValue = (): number => sink

const SLAB_SIZE = 8 * 1024

/** Bytes every stand-in socket has been handed (checked per candidate before the runs). */
let written = 0

/** A socket stand-in: Node's stream with a synchronous flush that counts what it is given. */
const socket = (): Duplex =>
  new Duplex({
    read() {},
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

/**
 * The real send path: `Sender.frame` (the WebSocket's send serializer, as `sendBinary` /
 * `sendText` reach it) over a `SocketTransport` attached to the stand-in socket. Each op ends its
 * tick with `endBatch`, which the transport's `nextTick` would run (a synchronous benchmark loop
 * gives Node no tick in between). A send must complete at once (`Effect.void`): nothing here waits.
 */
const oursSender = (masked: boolean, kind: FrameWriter.Kind, payload: string | Uint8Array, count: number): Candidate => {
  const transport = new SocketTransport("bench", 64 * 1024)
  transport.attach(socket() as unknown as net.Socket)
  const sender = new WebSocketSender.Sender(transport, {
    role: masked ? "client" : "server",
    maskSource: masked ? MaskSource.crypto() : undefined,
    fragmentSize: undefined,
    writeBufferCapacity: SLAB_SIZE,
    onPoisoned: () => {},
    compression: undefined
  })
  const fn = () => {
    for (let i = 0; i < count; i++) {
      if (sender.frame(kind, payload) !== Effect.void) throw new Error("a send had to wait")
    }
    transport.endBatch()
  }
  return { name: "ours: Sender.frame → SocketTransport.writeNow / writeBorrowed", fn }
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
  return { name: "model: gathered [header, caller's payload] at any size (per-tick cork)", fn }
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
    checked(oursSender(masked, FrameWriter.Kind.Binary, payload, count), count, frameBytes),
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

/** 128 B text sends, masked (client→server, 8-byte header) or not (server→client, 4 bytes). */
const textSuite = (masked: boolean): Suite => ({
  name: `send + write text 128 B ${masked ? "client→server masked" : "server→client unmasked"}`,
  messagesPerOp: 100,
  candidates: [
    checked(oursSender(masked, FrameWriter.Kind.Text, TEXT_128, 100), 100, (masked ? 8 : 4) + 128),
    checked(wsSend(masked, 1, TEXT_128, 100), 100, (masked ? 8 : 4) + 128)
  ],
  target: 2
})

/** The suites of this file: ours first, ws second, then the gathered model where it applies. */
export const suites: ReadonlyArray<Suite> = [
  ...[128, 1024, 4096, 16384, 65536].map((size) => binarySuite(size, false)),
  binarySuite(128, true),
  textSuite(true),
  textSuite(false)
]
