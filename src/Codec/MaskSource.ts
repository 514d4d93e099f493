/**
 * `MaskSource` — where a client's frame writer takes its 4-byte masking keys (RFC 6455 §5.3).
 *
 * The codecs have no randomness of their own: a writer in the client role is handed a source
 * and calls `next(target, offset)` once per frame, which writes the key straight into the
 * frame header. Three sources:
 *
 * - {@link crypto}: keys from `crypto.randomFillSync`, drawn in batches into one pool (default
 *   4 KiB = 1024 keys per refill) and handed out 4 bytes at a time. No allocation per key; the
 *   pool is allocated once. This is the one to use on a real connection (RFC 6455 §10.3 asks for
 *   unpredictable keys).
 * - {@link seeded}: a deterministic xorshift32 stream for tests and reproducible benches. Not
 *   unpredictable — never use it against a real server.
 * - {@link fixed}: the same key every time, for byte-exact test vectors.
 *
 * None of them throws once built; the constructors throw `RangeError` on invalid options.
 *
 * @since 0.1.0
 */
import { randomFill } from "./internal/node.ts"

/**
 * A supplier of masking keys: `next` writes 4 key bytes to `target[offset .. offset + 4)`.
 * The writer guarantees the 4 bytes are inside `target`.
 *
 * @since 0.1.0
 */
export interface MaskSource {
  next(target: Uint8Array, offset: number): void
}

/** Default pool size of {@link crypto}: 4 KiB, 1024 keys per `randomFillSync`. */
export const DEFAULT_POOL_SIZE = 4096

/** Options for {@link crypto}. */
export interface CryptoOptions {
  /** Bytes of random data drawn per refill; a positive multiple of 4. Default 4096. */
  readonly poolSize?: number | undefined
}

/**
 * Cryptographically strong keys from a pool refilled with `randomFillSync` when exhausted
 * (lazily: the first refill happens on the first key).
 *
 * @since 0.1.0
 */
export class CryptoMaskSource implements MaskSource {
  /** The pool, allocated once; every key is copied out of it. */
  readonly pool: Uint8Array
  /** Offset of the next unused key byte in `pool` (`pool.length` when exhausted). */
  position: number
  /** How many times the pool was refilled (observable so tests can see the batching). */
  refills: number

  constructor(poolSize: number) {
    if (!Number.isSafeInteger(poolSize) || poolSize <= 0 || (poolSize & 3) !== 0) {
      throw new RangeError(`MaskSource pool size must be a positive multiple of 4, got ${poolSize}`)
    }
    this.pool = new Uint8Array(poolSize)
    this.position = poolSize
    this.refills = 0
  }

  next(target: Uint8Array, offset: number): void {
    const pool = this.pool
    let p = this.position
    if (p === pool.length) {
      randomFill(pool)
      this.refills++
      p = 0
    }
    target[offset] = pool[p]!
    target[offset + 1] = pool[p + 1]!
    target[offset + 2] = pool[p + 2]!
    target[offset + 3] = pool[p + 3]!
    this.position = p + 4
  }
}

/**
 * A crypto-backed source with its own pool. Default pool 4 KiB. Throws `RangeError` unless
 * `poolSize` is a positive multiple of 4.
 *
 * @since 0.1.0
 */
export const crypto = (options: CryptoOptions = {}): CryptoMaskSource =>
  new CryptoMaskSource(options.poolSize ?? DEFAULT_POOL_SIZE)

/**
 * A deterministic xorshift32 stream: each key is the next 32-bit state, big-endian.
 *
 * @since 0.1.0
 */
export class SeededMaskSource implements MaskSource {
  /** The xorshift32 state (never 0). */
  state: number

  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new RangeError(`MaskSource seed must be an integer, got ${seed}`)
    // xorshift has the all-zero fixed point, so a zero seed is replaced by a constant
    this.state = seed >>> 0 === 0 ? 0x9e3779b9 : seed >>> 0
  }

  next(target: Uint8Array, offset: number): void {
    let x = this.state
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    this.state = x
    target[offset] = x >>> 24
    target[offset + 1] = (x >>> 16) & 0xff
    target[offset + 2] = (x >>> 8) & 0xff
    target[offset + 3] = x & 0xff
  }
}

/**
 * A deterministic source for tests: the same seed gives the same keys. Only the low 32 bits of
 * `seed` count (0 is replaced by a fixed constant). Throws `RangeError` for a non-integer seed.
 *
 * @since 0.1.0
 */
export const seeded = (seed: number): SeededMaskSource => new SeededMaskSource(seed)

/**
 * The same key for every frame.
 *
 * @since 0.1.0
 */
export class FixedMaskSource implements MaskSource {
  /** The key bytes (a private copy). */
  readonly key: Uint8Array

  constructor(key: ArrayLike<number>) {
    if (key.length !== 4) throw new RangeError(`a mask key is 4 bytes, got ${key.length}`)
    this.key = Uint8Array.from(key)
  }

  next(target: Uint8Array, offset: number): void {
    const key = this.key
    target[offset] = key[0]!
    target[offset + 1] = key[1]!
    target[offset + 2] = key[2]!
    target[offset + 3] = key[3]!
  }
}

/**
 * A source that always yields `key` (copied). Throws `RangeError` unless `key` has 4 elements.
 *
 * @since 0.1.0
 */
export const fixed = (key: ArrayLike<number>): FixedMaskSource => new FixedMaskSource(key)
