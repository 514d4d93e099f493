/**
 * WebSocket payload fixtures shared by the frame suites (ours against ws, and ws against ours):
 * the sizes around each length form and deterministic binary and text payloads of any size.
 */

/**
 * Payload sizes at the edges of RFC 6455 §5.2's length forms: empty, 1 and 125 (7-bit), 126,
 * 127 and 65535 (16-bit), 65536 and 1 MiB (64-bit).
 */
export const SIZES: ReadonlyArray<number> = [0, 1, 125, 126, 127, 65535, 65536, 1024 * 1024]

/**
 * `size` bytes of a fixed pattern (`(i * 131 + 17) & 0xff`, no two neighbours equal) in a plain
 * `Uint8Array`, not a `Buffer`: for suites that feed the codec typed arrays.
 */
export const patternedBytes = (size: number): Uint8Array => {
  const b = new Uint8Array(size)
  for (let i = 0; i < size; i++) b[i] = (i * 131 + 17) & 0xff
  return b
}

/** The same pattern as {@link patternedBytes}, in a `Buffer` (the shape ws hands around). */
export const patterned = (size: number): Buffer => {
  const b = patternedBytes(size)
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength)
}

/** A mix of 1- to 4-byte code points, exactly `size` UTF-8 bytes (cut on a code point boundary). */
export const textOf = (size: number): string => {
  const unit = "aé€😀" // 10 bytes
  const whole = Math.floor(size / 10)
  return unit.repeat(whole) + "z".repeat(size - whole * 10)
}
