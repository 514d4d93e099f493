/**
 * XOR masking (RFC 6455 §5.3), in place. Masking and unmasking are the same operation.
 *
 * A byte loop unrolled by four with the key in locals: for the small payloads that dominate
 * market-data feeds it beats creating a wider typed-array view, and it needs no alignment.
 *
 * @internal
 */

/**
 * XORs `bytes[start, end)` with the 4-byte key `mask` (read from `maskBytes` at `maskOffset`),
 * starting the key cycle at `phase` (0–3). Returns the phase to continue with.
 */
export const applyMask = (
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

/**
 * Copies `src[srcStart, srcEnd)` to `dst` at `dstOffset` while XORing with the key — one pass
 * for a masked send, so the caller's payload is never modified.
 */
export const copyMasked = (
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
