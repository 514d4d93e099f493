/**
 * Strict UTF-8 checks for the frame reader: whole messages, and the incremental check that lets
 * a fragmented text message fail as soon as an invalid sequence is visible.
 *
 * Short ranges are scanned in JavaScript straight from the reader's slab (no view, no native
 * call); longer ones go to Node's SIMD `isUtf8` through one view. Measured on Node 24: a view
 * plus `isUtf8` costs ~60 ns whatever the length, the JS scan ~0.5 ns per ASCII byte.
 *
 * @internal
 */
import { isUtf8 } from "./node.ts"

/** Ranges up to this many bytes are validated in JavaScript, longer ones with SIMD `isUtf8`. */
export const SHORT_UTF8 = 96

/**
 * Scans `bytes[start, end)` as strict UTF-8 (no overlongs, no surrogates, nothing above
 * U+10FFFF). Returns `end` when every code point is complete and valid; the index of the last
 * code point when it is a valid but incomplete prefix (1–3 bytes that more bytes could
 * complete); `-1` as soon as a byte makes the sequence invalid.
 */
export const scanUtf8 = (bytes: Uint8Array, start: number, end: number): number => {
  let i = start
  while (i < end) {
    const c = bytes[i]!
    if (c < 0x80) {
      i++
      continue
    }
    if (c < 0xc2) return -1 // a stray continuation byte, or an overlong 2-byte lead (C0, C1)
    if (c < 0xe0) {
      if (i + 1 >= end) return i
      if ((bytes[i + 1]! & 0xc0) !== 0x80) return -1
      i += 2
      continue
    }
    if (c < 0xf0) {
      // E0 needs A0–BF (no overlong), ED needs 80–9F (no surrogates)
      if (i + 1 >= end) return i
      const c1 = bytes[i + 1]!
      if (c1 < (c === 0xe0 ? 0xa0 : 0x80) || c1 > (c === 0xed ? 0x9f : 0xbf)) return -1
      if (i + 2 >= end) return i
      if ((bytes[i + 2]! & 0xc0) !== 0x80) return -1
      i += 3
      continue
    }
    if (c < 0xf5) {
      // F0 needs 90–BF (no overlong), F4 needs 80–8F (nothing above U+10FFFF)
      if (i + 1 >= end) return i
      const c1 = bytes[i + 1]!
      if (c1 < (c === 0xf0 ? 0x90 : 0x80) || c1 > (c === 0xf4 ? 0x8f : 0xbf)) return -1
      if (i + 2 >= end) return i
      if ((bytes[i + 2]! & 0xc0) !== 0x80) return -1
      if (i + 3 >= end) return i
      if ((bytes[i + 3]! & 0xc0) !== 0x80) return -1
      i += 4
      continue
    }
    return -1 // F5–FF never appear in UTF-8
  }
  return end
}

/** Whether `bytes[start, end)` is complete, strict UTF-8. */
export const isCompleteUtf8 = (bytes: Uint8Array, start: number, end: number): boolean => {
  if (end - start <= SHORT_UTF8) return scanUtf8(bytes, start, end) === end
  return isUtf8(bytes.subarray(start, end))
}

/**
 * Checks `bytes[start, end)` — which begins at a code point boundary — as a prefix of UTF-8
 * that more bytes may continue. Returns where the unfinished last code point starts (`end` when
 * none), to be passed as `start` once more bytes follow it, or `-1` if no continuation could
 * make the bytes valid (so `F5`, `ED A0` or an overlong `E0 80` fail at once).
 */
export const checkUtf8Prefix = (bytes: Uint8Array, start: number, end: number): number => {
  if (end - start <= SHORT_UTF8) return scanUtf8(bytes, start, end)
  // the last code point starts at most 3 bytes back: the first non-continuation byte
  let boundary = end
  const floor = Math.max(start, end - 3)
  for (let i = end - 1; i >= floor; i--) {
    if ((bytes[i]! & 0xc0) !== 0x80) {
      boundary = i
      break
    }
  }
  // no lead byte in the last three: either the bulk check fails on them, or they end a 4-byte point
  if (!isUtf8(bytes.subarray(start, boundary))) return -1
  return scanUtf8(bytes, boundary, end)
}
