/**
 * Word-at-a-time helpers for the frame reader's and writer's hot paths: an ASCII check and the
 * codec's one XOR masking loop (RFC 6455 §5.3), which touch four bytes per step through a
 * `Uint32Array` laid over the same memory.
 *
 * Measured on Node 24 (2-core box): a byte loop costs ~0.6 ns/byte, the word loop ~0.1 ns/byte,
 * and a `Buffer` view plus the native `isUtf8` ~60 ns flat — so ASCII payloads up to
 * {@link MAX_WORD_ASCII} bytes are checked here, longer ones go straight to SIMD `isUtf8`. The
 * masking loop's own measurement is on {@link maskInPlace}.
 *
 * @internal
 */

/** Longest payload the ASCII word loop checks before native `isUtf8` is cheaper. */
export const MAX_WORD_ASCII = 512

/**
 * Shorter payloads are masked by the unrolled byte loop alone (aligning to a word costs more
 * than it saves). The crossover itself was not re-measured in issue 10; see {@link maskInPlace}
 * for 8 and 40 B.
 */
const MIN_WORD_MASK = 16

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/**
 * A `Uint32Array` over the same memory as `bytes`. Throws `RangeError` unless `bytes` starts
 * at a 4-byte aligned offset (slabs from `allocUnsafe` start at 0) — a misuse, never peer input.
 */
export const wordsOf = (bytes: Uint8Array): Uint32Array => {
  if ((bytes.byteOffset & 3) !== 0) throw new RangeError("wordsOf needs a 4-byte aligned buffer")
  return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2)
}

/** Whether every byte of `bytes[start, end)` is below 0x80; `words` must be `wordsOf(bytes)`. */
export const isAscii = (bytes: Uint8Array, words: Uint32Array, start: number, end: number): boolean => {
  let acc = 0
  let i = start
  const alignedEnd = end & ~3
  if (alignedEnd - i >= 8) {
    while ((i & 3) !== 0) acc |= bytes[i++]!
    const kEnd = alignedEnd >> 2
    for (let k = i >> 2; k < kEnd; k++) acc |= words[k]!
    i = alignedEnd
  }
  while (i < end) acc |= bytes[i++]!
  return (acc & 0x80808080) === 0
}

/**
 * XORs `bytes[start, end)` in place with the 4-byte key at `bytes[keyOffset, keyOffset + 4)`,
 * the key cycle starting at `start` (RFC 6455 §5.3): masking and unmasking are the same
 * operation. `words` must be `wordsOf(bytes)`, or empty for a `bytes` that is not 4-byte
 * aligned (then only the byte loop runs); the key must not overlap the range. The codec's
 * only masking loop: `FrameReader` unmasks received frames with it, `FrameWriter` masks a
 * string encoded into the target and, after copying them there, the caller's bytes.
 *
 * From {@link MIN_WORD_MASK} bytes up it goes byte by byte to a word boundary, then a word at a
 * time with the key rotated into one 32-bit value; what is left (and any shorter or unaligned
 * payload) goes through a byte loop unrolled by four with the key in locals — the old word loop
 * with `applyMask`'s unrolled loop as its tail. Translating word indices by the view's
 * misalignment (so unaligned views could use words too) was measured ~1.4× slower at 64 KiB and
 * dropped.
 *
 * Measured 2026-12-02 (2-core VM, loaded by other jobs — 1-minute load 7–10; Node v24.21.0) with
 * `npx node bench/codec-mask.ts`, three runs, median of the in-run ratios (this loop's rate over
 * the other's; > 1 is faster; runs in `bench/RESULTS.md`), the payload after its key at offset
 * 6/8/14 as in a frame, this loop's median p50 ns per payload first:
 *
 * ```text
 * in place      8 B    40 B   128 B   512 B  4 KiB   64 KiB
 * this loop   32.3    55.1    58.0     118    790    12202 ns
 * old word    1.54×   0.76×   0.95×   0.95×  0.99×   1.02×
 * old byte    0.75×   0.88×   2.54×   3.81×  4.67×   4.85×
 * bufferutil  3.87×   2.07×   1.88×   1.22×  0.45×   0.45×
 * copying (FrameWriter: copy, then this loop) vs old copy+XOR byte loop and bufferutil.mask:
 * ours        36.6    63.2    80.7     118    992    45065 ns
 * old copy    0.72×   0.80×   1.94×   4.41×  5.16×   1.77×
 * bufferutil  3.65×   2.05×   1.55×   1.36×  0.35×   0.10×
 * ```
 *
 * So: the word loop from 128 B up (2.5–5× the byte loops). Below that it is 0.75–0.88× the best
 * old loop at 8 and 40 B (7–15 ns per payload; copying, 0.72–0.80× the fused copy loop); native
 * `bufferutil` only wins from ~4 KiB, and it is not a dependency of the codec, so there is no
 * native crossover. Single runs swing ±30% on this machine.
 */
export const maskInPlace = (
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
  if (end - start >= MIN_WORD_MASK && words.length !== 0) {
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
  // tail (or a short or unaligned payload): unrolled by four, the key rotated to where i is
  // (read again from memory: in an ad-hoc run four selects cost ~15 ns more at 8 B)
  const h = (i - start) & 3
  const m0 = bytes[keyOffset + h]!
  const m1 = bytes[keyOffset + ((h + 1) & 3)]!
  const m2 = bytes[keyOffset + ((h + 2) & 3)]!
  const m3 = bytes[keyOffset + ((h + 3) & 3)]!
  const stop4 = end - 3
  for (; i < stop4; i += 4) {
    bytes[i]! ^= m0
    bytes[i + 1]! ^= m1
    bytes[i + 2]! ^= m2
    bytes[i + 3]! ^= m3
  }
  if (i < end) {
    bytes[i]! ^= m0
    if (i + 1 < end) bytes[i + 1]! ^= m1
    if (i + 2 < end) bytes[i + 2]! ^= m2
  }
}
