/**
 * `npx node bench/codec-mask.ts [regex]`: which XOR loop should mask WebSocket payloads
 * (RFC 6455 §5.3)? Issue 10 found three JS loops whose comments contradicted each other; this
 * bench runs them side by side in one process, with `bufferutil`'s native mask (what `ws` calls
 * at 32/48 bytes and above) as the reference, for payloads of 8, 40, 128, 512, 4096 and 65536
 * bytes.
 *
 * Two operations, each the way the codec meets it:
 * - **in place** (`FrameReader` unmasking a received frame; `FrameWriter` masking a string it
 *   has just encoded into the target): the payload sits right after its 4-byte key, at the
 *   offset a frame at the start of a buffer has (6, 8 or 14: header plus key), so the start is
 *   as unaligned as it is on the wire;
 * - **copying** (`FrameWriter` masking the caller's bytes into the target, never modifying
 *   them): the same layout in the target, the payload in a separate buffer.
 *
 * Every timed call masks `max(1, 65536 / size)` payloads (so one call is ~64 KiB of work and
 * tinybench's per-call overhead does not swamp an 8-byte mask); the table's "ns/msg" is per
 * payload. Inputs are built once, outside the timed functions; every call adds a masked byte
 * to a sink that is checked at the end. Rounds are interleaved (`bench/harness.ts`).
 *
 * The loops that lost are kept verbatim below as candidates, so the measurement can be
 * repeated; the codec keeps only the winner, `maskInPlace` in `src/Codec/internal/frameWords.ts`
 * (the old word loop with its byte tail replaced by the unrolled byte loop of `applyMask`,
 * which also takes short payloads and targets that are not 4-byte aligned). The copying candidate of ours is what `FrameWriter` does with
 * the caller's bytes: copy, then mask the copy in place.
 */
import { createRequire } from "node:module"
import { cpus } from "node:os"
import { type Candidate, runSuites, type Suite, toMarkdown } from "./harness.ts"
import { maskInPlace, wordsOf } from "../src/Codec/internal/frameWords.ts"

interface BufferUtil {
  mask(source: Buffer, mask: Buffer, output: Buffer, offset: number, length: number): void
  unmask(buffer: Buffer, mask: Buffer): void
}
// the native helper ws loads (a devDependency); resolved from ws's directory like ws does
const bufferUtil = createRequire(import.meta.resolve("ws"))("bufferutil") as BufferUtil

// ---------------------------------------------------------------------------------------------
// The candidates that lost, verbatim: src/Codec/internal/frameWords.ts's `unmaskInPlace` and
// src/Codec/internal/mask.ts's `applyMask` and `copyMasked` as of commit 2c10475
// ---------------------------------------------------------------------------------------------

const MIN_WORD_MASK = 16

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/**
 * The word loop `frameWords.ts` held (in place): byte by byte with a per-byte key select below
 * 16 bytes and in the head and tail; needs a 4-byte aligned `bytes` (`words` over it from 0).
 */
const unmaskInPlace = (
  bytes: Uint8Array,
  words: Uint32Array,
  start: number,
  end: number,
  keyOffset: number
): void => {
  const k0 = bytes[keyOffset]!
  const k1 = bytes[keyOffset + 1]!
  const k2 = bytes[keyOffset + 2]!
  const k3 = bytes[keyOffset + 3]!
  let i = start
  if (end - start >= MIN_WORD_MASK) {
    // head: byte by byte up to a word boundary
    for (; (i & 3) !== 0; i++) {
      const r = (i - start) & 3
      bytes[i]! ^= r === 0 ? k0 : r === 1 ? k1 : r === 2 ? k2 : k3
    }
    // the key byte for position p is key[(p - start) & 3]; in a word starting at a multiple of
    // 4 the byte at lane j therefore takes key[(j - start) & 3]
    const s = start & 3
    const l0 = s === 0 ? k0 : s === 1 ? k3 : s === 2 ? k2 : k1
    const l1 = s === 0 ? k1 : s === 1 ? k0 : s === 2 ? k3 : k2
    const l2 = s === 0 ? k2 : s === 1 ? k1 : s === 2 ? k0 : k3
    const l3 = s === 0 ? k3 : s === 1 ? k2 : s === 2 ? k1 : k0
    const key = LITTLE_ENDIAN
      ? (l0 | (l1 << 8) | (l2 << 16) | (l3 << 24)) >>> 0
      : ((l0 << 24) | (l1 << 16) | (l2 << 8) | l3) >>> 0
    const kEnd = end >> 2
    for (let k = i >> 2; k < kEnd; k++) words[k] = words[k]! ^ key
    i = kEnd << 2 // at least three whole words fit in 16 bytes, so this never moves back
  }
  for (; i < end; i++) {
    const r = (i - start) & 3
    bytes[i]! ^= r === 0 ? k0 : r === 1 ? k1 : r === 2 ? k2 : k3
  }
}

/** The byte loop unrolled by four that `mask.ts` held (in place). */
const applyMask = (
  bytes: Uint8Array,
  start: number,
  end: number,
  maskBytes: Uint8Array,
  maskOffset: number,
  phase: number
): number => {
  let m0 = maskBytes[maskOffset + (phase & 3)]!
  let m1 = maskBytes[maskOffset + ((phase + 1) & 3)]!
  let m2 = maskBytes[maskOffset + ((phase + 2) & 3)]!
  let m3 = maskBytes[maskOffset + ((phase + 3) & 3)]!
  let i = start
  const stop4 = end - 3
  for (; i < stop4; i += 4) {
    bytes[i] ^= m0
    bytes[i + 1] ^= m1
    bytes[i + 2] ^= m2
    bytes[i + 3] ^= m3
  }
  const rest = end - i
  if (rest > 0) {
    bytes[i] ^= m0
    if (rest > 1) bytes[i + 1] ^= m1
    if (rest > 2) bytes[i + 2] ^= m2
    // rotate the key so the next call continues the cycle
    const t = m0
    m0 = m1
    m1 = m2
    m2 = m3
    m3 = t
  }
  return (phase + (end - start)) & 3
}

/** The copying byte loop unrolled by four that `mask.ts` held. */
const copyMasked = (
  src: Uint8Array,
  srcStart: number,
  srcEnd: number,
  dst: Uint8Array,
  dstOffset: number,
  maskBytes: Uint8Array,
  maskOffset: number
): void => {
  const m0 = maskBytes[maskOffset]!
  const m1 = maskBytes[maskOffset + 1]!
  const m2 = maskBytes[maskOffset + 2]!
  const m3 = maskBytes[maskOffset + 3]!
  let i = srcStart
  let j = dstOffset
  const stop4 = srcEnd - 3
  for (; i < stop4; i += 4, j += 4) {
    dst[j] = src[i]! ^ m0
    dst[j + 1] = src[i + 1]! ^ m1
    dst[j + 2] = src[i + 2]! ^ m2
    dst[j + 3] = src[i + 3]! ^ m3
  }
  const rest = srcEnd - i
  if (rest > 0) dst[j] = src[i]! ^ m0
  if (rest > 1) dst[j + 1] = src[i + 1]! ^ m1
  if (rest > 2) dst[j + 2] = src[i + 2]! ^ m2
}

// ---------------------------------------------------------------------------------------------
// Suites
// ---------------------------------------------------------------------------------------------

const SIZES = [8, 40, 128, 512, 4096, 65536]

let sink = 0

/** Header plus key of a frame with an `n`-byte payload (client→server, masked). */
const payloadOffset = (n: number): number => (n < 126 ? 2 : n < 65536 ? 4 : 10) + 4

/** A target holding a key at `offset - 4` and `n` patterned payload bytes at `offset`. */
const frameBuffer = (n: number, offset: number): Buffer => {
  const buf = Buffer.allocUnsafeSlow(offset + n)
  buf.set([0x37, 0xfa, 0x21, 0x3d], offset - 4)
  for (let i = 0; i < n; i++) buf[offset + i] = (i * 31 + 7) & 0xff
  return buf
}

const inPlace = (n: number): Suite => {
  const reps = Math.max(1, 65536 / n)
  const s = payloadOffset(n)
  const e = s + n
  const candidate = (name: string, make: (buf: Buffer) => () => void): Candidate => {
    const buf = frameBuffer(n, s)
    const once = make(buf)
    return {
      name,
      fn: () => {
        for (let r = 0; r < reps; r++) once()
        sink += buf[s]! + buf[e - 1]!
      }
    }
  }
  return {
    name: `mask ${n} B in place`,
    messagesPerOp: reps,
    candidates: [
      candidate("frameWords.maskInPlace", (buf) => {
        const words = wordsOf(buf)
        return () => maskInPlace(buf, words, s, e, s - 4)
      }),
      candidate("old word loop (frameWords.unmaskInPlace)", (buf) => {
        const words = wordsOf(buf)
        return () => unmaskInPlace(buf, words, s, e, s - 4)
      }),
      candidate("old byte loop ×4 (mask.applyMask)", (buf) => () => applyMask(buf, s, e, buf, s - 4, 0)),
      candidate("bufferutil.unmask (native)", (buf) => {
        const view = buf.subarray(s, e)
        const key = buf.subarray(s - 4, s)
        return () => bufferUtil.unmask(view, key)
      })
    ]
  }
}

const copying = (n: number): Suite => {
  const reps = Math.max(1, 65536 / n)
  const s = payloadOffset(n)
  const e = s + n
  const data = frameBuffer(n, 4).subarray(4) // the caller's payload, in a buffer of its own
  const candidate = (name: string, make: (dst: Buffer) => () => void): Candidate => {
    const dst = frameBuffer(n, s)
    const once = make(dst)
    return {
      name,
      fn: () => {
        for (let r = 0; r < reps; r++) once()
        sink += dst[s]! + dst[e - 1]!
      }
    }
  }
  return {
    name: `mask ${n} B copying`,
    messagesPerOp: reps,
    candidates: [
      candidate("copy (loop ≤ 32 B, else set) + maskInPlace", (dst) => {
        const words = wordsOf(dst)
        return () => {
          // what FrameWriter does with the caller's bytes (COPY_LOOP_MAX = 32)
          if (n <= 32) for (let i = 0; i < n; i++) dst[s + i] = data[i]!
          else dst.set(data, s)
          maskInPlace(dst, words, s, e, s - 4)
        }
      }),
      candidate("old copy+XOR byte loop ×4 (mask.copyMasked)", (dst) => () => copyMasked(data, 0, n, dst, s, dst, s - 4)),
      candidate("bufferutil.mask (native)", (dst) => {
        const key = dst.subarray(s - 4, s)
        return () => bufferUtil.mask(data, key, dst, s, n)
      })
    ]
  }
}

const filter = process.argv[2] === undefined ? undefined : new RegExp(process.argv[2])
const suites = [...SIZES.map(inPlace), ...SIZES.map(copying)]

const started = new Date()
const results = await runSuites(suites, { rounds: 3, timeMs: 300, filter })
console.log(toMarkdown(results))
console.log(
  `\nnode ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "?"}; ` +
    `started ${started.toISOString()}, ${((Date.now() - started.getTime()) / 1000).toFixed(0)} s; ` +
    `sinks ${sink !== 0 ? "ok" : "EMPTY"}`
)
