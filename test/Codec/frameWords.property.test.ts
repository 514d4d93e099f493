import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { isAscii, maskInPlace, wordsOf } from "../../src/Codec/internal/frameWords.ts"

/** The words argument the callers pass: a word view when `bytes` is 4-byte aligned, else none. */
const wordsFor = (bytes: Uint8Array): Uint32Array => (bytes.byteOffset & 3) === 0 ? wordsOf(bytes) : new Uint32Array(0)

/** The byte-by-byte definition of RFC 6455 §5.3: byte `i` of the payload XOR key[i mod 4]. */
const referenceMask = (bytes: Uint8Array, start: number, end: number, keyOffset: number): Uint8Array => {
  const out = Uint8Array.from(bytes)
  for (let i = start; i < end; i++) out[i] = bytes[i]! ^ bytes[keyOffset + ((i - start) & 3)]!
  return out
}

/**
 * A view of `length` bytes starting `viewOffset` bytes into a fresh ArrayBuffer with `slack`
 * bytes after it, filled with `fill`; the buffer too, so bytes outside the view can be checked.
 */
const viewOf = (viewOffset: number, length: number, slack: number, fill: Uint8Array) => {
  const whole = new Uint8Array(viewOffset + length + slack)
  for (let i = 0; i < whole.length; i++) whole[i] = fill[i % fill.length]!
  return { whole, view: whole.subarray(viewOffset, viewOffset + length) }
}

const layoutArb = fc.record({
  // where the view starts in its ArrayBuffer: aligned (word loop) or not (byte loop only)
  viewOffset: fc.integer({ min: 0, max: 11 }),
  // where the key sits in the view; the payload follows it (as in a frame) or is further on
  keyOffset: fc.integer({ min: 0, max: 9 }),
  gap: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 7 })),
  // every length around the word-loop threshold (16) and the unroll, and some long ones
  length: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 600 }), fc.integer({ min: 4000, max: 5000 })),
  after: fc.integer({ min: 0, max: 9 }),
  slack: fc.integer({ min: 0, max: 5 }),
  key: fc.uint8Array({ minLength: 4, maxLength: 4 }),
  fill: fc.uint8Array({ minLength: 1, maxLength: 64 })
})

describe("frameWords.maskInPlace", () => {
  it("equals the byte-by-byte XOR for any payload length, alignment, position and key, touching nothing else", () => {
    fc.assert(
      fc.property(layoutArb, ({ after, fill, gap, key, keyOffset, length, slack, viewOffset }) => {
        const start = keyOffset + 4 + gap
        const end = start + length
        const { view, whole } = viewOf(viewOffset, end + after, slack, fill)
        view.set(key, keyOffset)
        const expected = referenceMask(view, start, end, keyOffset)
        const wholeBefore = Uint8Array.from(whole)
        maskInPlace(view, wordsFor(view), start, end, keyOffset)
        expect(Buffer.from(view).toString("hex")).toBe(Buffer.from(expected).toString("hex"))
        // the bytes of the ArrayBuffer outside the view, which the first and last words may cover
        expect(whole.subarray(0, viewOffset)).toEqual(wholeBefore.subarray(0, viewOffset))
        expect(whole.subarray(viewOffset + view.length)).toEqual(wholeBefore.subarray(viewOffset + view.length))
      }),
      { numRuns: 2000 }
    )
  })

  it("masks Node Buffers from the shared pool (any byteOffset) the same way", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ minLength: 4, maxLength: 4 }), (payload, key) => {
        // Buffer.from copies small inputs into Node's shared 8 KiB pool at whatever offset is next
        const frame = Buffer.from([...key, ...payload])
        const expected = referenceMask(frame, 4, frame.length, 0)
        maskInPlace(frame, wordsFor(frame), 4, frame.length, 0)
        expect(frame.toString("hex")).toBe(Buffer.from(expected).toString("hex"))
      }),
      { numRuns: 500 }
    )
  })

  it("masks twice back to the original (masking and unmasking are one operation)", () => {
    const bytes = new Uint8Array(4 + 1000)
    bytes.set([0x37, 0xfa, 0x21, 0x3d])
    for (let i = 4; i < bytes.length; i++) bytes[i] = i & 0xff
    const original = Uint8Array.from(bytes)
    const words = wordsOf(bytes)
    maskInPlace(bytes, words, 4, bytes.length, 0)
    expect(bytes).not.toEqual(original)
    maskInPlace(bytes, words, 4, bytes.length, 0)
    expect(bytes).toEqual(original)
  })
})

describe("frameWords.isAscii", () => {
  it("agrees with a byte-by-byte check for any range and high byte position", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0, 4, 8), // isAscii needs an aligned view, like the reader's slabs
        fc.integer({ min: 0, max: 9 }),
        fc.integer({ min: 0, max: 700 }),
        fc.option(fc.nat(), { nil: undefined }),
        fc.integer({ min: 0x80, max: 0xff }),
        (viewOffset, start, length, high, highByte) => {
          const { view } = viewOf(viewOffset, start + length + 3, 0, Uint8Array.of(0x41, 0x7f, 0x00, 0x20))
          const end = start + length
          // a high byte somewhere in the view, inside or outside the range
          if (high !== undefined) view[high % view.length] = highByte
          let expected = true
          for (let i = start; i < end; i++) if (view[i]! >= 0x80) expected = false
          expect(isAscii(view, wordsOf(view), start, end)).toBe(expected)
        }
      ),
      { numRuns: 2000 }
    )
  })
})
