/**
 * The options both HTTP readers take, their defaults, and their validation: a misused limit
 * (non-positive, non-integer, or a `maxBufferCapacity` below what a head needs) throws
 * `RangeError` naming the reader, once, at `make`.
 *
 * @internal
 */

/** Options of both readers. */
export interface ReaderOptions {
  /** Initial buffer capacity in bytes. Default 32 KiB. */
  readonly bufferCapacity?: number | undefined
  /**
   * Largest the buffer may grow to. Default `maxHeadBytes + maxBodySize + bufferCapacity`, so
   * any message within the limits fits (a message is parsed from one contiguous region).
   */
  readonly maxBufferCapacity?: number | undefined
  /** Largest head (start line, fields, empty line) in bytes. Default 16 KiB. */
  readonly maxHeadBytes?: number | undefined
  /** Most header fields per message (trailers too). Default 64. */
  readonly maxHeaders?: number | undefined
  /** Largest body in bytes (decoded, for chunked). Default 16 MiB. */
  readonly maxBodySize?: number | undefined
}

/** Default `bufferCapacity`: 32 KiB. */
export const DEFAULT_BUFFER_CAPACITY = 32 * 1024
/** Default `maxHeadBytes`: 16 KiB. */
export const DEFAULT_MAX_HEAD_BYTES = 16 * 1024
/** Default `maxHeaders`: 64. */
export const DEFAULT_MAX_HEADERS = 64
/** Default `maxBodySize`: 16 MiB. */
export const DEFAULT_MAX_BODY_SIZE = 16 * 1024 * 1024

/** Validates and defaults reader options; throws `RangeError` naming `who` on misuse. */
export const resolveReaderOptions = (options: ReaderOptions, who: string) => {
  const capacity = options.bufferCapacity ?? DEFAULT_BUFFER_CAPACITY
  const maxHeadBytes = options.maxHeadBytes ?? DEFAULT_MAX_HEAD_BYTES
  const maxHeaders = options.maxHeaders ?? DEFAULT_MAX_HEADERS
  const maxBodySize = options.maxBodySize ?? DEFAULT_MAX_BODY_SIZE
  const maxCapacity = options.maxBufferCapacity ?? Math.max(capacity, maxHeadBytes + maxBodySize + capacity)
  for (const [name, value] of [
    ["bufferCapacity", capacity],
    ["maxHeadBytes", maxHeadBytes],
    ["maxHeaders", maxHeaders]
  ] as const) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`${who} ${name} must be a positive integer, got ${value}`)
    }
  }
  if (!Number.isSafeInteger(maxBodySize) || maxBodySize < 0) {
    throw new RangeError(`${who} maxBodySize must be a non-negative integer, got ${maxBodySize}`)
  }
  if (!Number.isSafeInteger(maxCapacity) || maxCapacity < capacity || maxCapacity < maxHeadBytes) {
    throw new RangeError(
      `${who} maxBufferCapacity must be an integer >= bufferCapacity and >= maxHeadBytes, got ${maxCapacity}`
    )
  }
  return { capacity, maxBodySize, maxCapacity, maxHeadBytes, maxHeaders }
}
