/**
 * `BufferTooSmall`, the one "does not fit" result of every codec writer (`FrameWriter`,
 * `HttpWrite`), defined once so both report the same shape: what was needed, what was there.
 *
 * @internal
 */

/** The output does not fit: `needed` bytes, `available` bytes of room. */
export interface BufferTooSmall {
  readonly _tag: "BufferTooSmall"
  readonly needed: number
  readonly available: number
  readonly message: string
}

/** A `BufferTooSmall` for `subject` ("frame", "message"): `needed` bytes against `available`. */
export const bufferTooSmall = (subject: string, needed: number, available: number): BufferTooSmall => ({
  _tag: "BufferTooSmall",
  needed,
  available,
  message: `the ${subject} needs ${needed} bytes but only ${available} are available`
})
