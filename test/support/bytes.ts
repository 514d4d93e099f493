/**
 * Byte fixtures for the suites: frames written as hex (the house style, after ws's tests), HTTP
 * heads written as text, and bytes printed back as hex for exact comparison.
 */
import * as Effect from "effect/Effect"
import * as ReadBuf from "../../src/Codec/ReadBuf.ts"

/** The bytes of hex text; whitespace between digits is ignored, so `"81 05 48656c6c6f"` is one frame. */
export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex")

/** `bytes` as lowercase hex digits, no separators (a view's own window, not its whole buffer). */
export const toHex = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")

/** One byte per character (latin1): wire text such as an HTTP head, byte for byte as written. */
export const latin1 = (s: string): Buffer => Buffer.from(s, "latin1")

/** The UTF-8 encoding of `text` (what a body's `Content-Length` counts). */
export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)

/**
 * Reads from `transport` until `n` bytes arrived (or the stream ended) and returns them as latin1.
 * Typed structurally so the codec-only suites need not import the transport layer.
 */
export const readText = <E>(
  transport: { read(buf: ReadBuf.ReadBuf): Effect.Effect<number, E> },
  n: number
): Effect.Effect<string, E> =>
  Effect.gen(function*() {
    const buf = ReadBuf.make({ capacity: Math.max(n, 16) })
    while (buf.length < n) {
      if ((yield* transport.read(buf)) === 0) break
    }
    return buf.data().toString("latin1")
  })

/**
 * `bytes` cut at `cuts` — offsets taken modulo `length + 1`, deduplicated and sorted, so any
 * array of naturals (fast-check's) is a valid chopping; the pieces, some possibly empty, are
 * views that concatenate back to `bytes`.
 */
export const chop = <B extends Uint8Array>(bytes: B, cuts: ReadonlyArray<number>): Array<B> => {
  const points = [...new Set(cuts.map((c) => c % (bytes.byteLength + 1)))].sort((a, b) => a - b)
  const pieces: Array<B> = []
  let last = 0
  for (const p of points) {
    pieces.push(bytes.subarray(last, p) as B)
    last = p
  }
  pieces.push(bytes.subarray(last) as B)
  return pieces
}
