/**
 * What a WebSocket is made with: the options of both roles (`StreamOptions`), of the client
 * (`ConnectOverOptions` for the handshake, `DialOptions` for the dial, `ConnectOptions` both)
 * and of the server (`AcceptOptions`, with the `UpgradeInfo` its `verify` sees), and the
 * defaults the stream applies. `WebSocket.ts` re-exports every name here.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import type * as Handshake from "../../Codec/Handshake.ts"
import type * as MaskSource from "../../Codec/MaskSource.ts"
import type * as PerMessageDeflate from "../../Codec/PerMessageDeflate.ts"
import type * as Dial from "../Dial.ts"

/**
 * Options shared by both roles. Defaults are given per field.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamOptions {
  /** Initial read slab in bytes; grows (doubling) only for a frame that does not fit. Default 8 KiB. */
  readonly bufferCapacity?: number | undefined
  /** Fraction of the slab the consumed head must pass before the slab is compacted before a read. Default 0.5. */
  readonly compactAt?: number | undefined
  /** Largest payload of one frame (bigger: close 1009). Default 16 MiB. */
  readonly maxFrameSize?: number | undefined
  /** Largest payload of one message, all fragments together (bigger: close 1009). Default 16 MiB. */
  readonly maxMessageSize?: number | undefined
  /** Most frames one message may span (more: close 1009). Default 1024. */
  readonly maxFragments?: number | undefined
  /** Bytes of the send slab frames are encoded into; a larger message gets a buffer of its own. Default 8 KiB. */
  readonly writeBufferCapacity?: number | undefined
  /** Split outgoing text/binary messages longer than this into fragments. Default: never. */
  readonly fragmentSize?: number | undefined
  /** Fail `recv` with `WebSocketTimeout` `"read"` when no byte arrives for this long. Default: none. */
  readonly readTimeout?: Duration.Input | undefined
  /** How long `close` waits for the peer's close and then its end of stream. Default 5 seconds. */
  readonly closeTimeout?: Duration.Input | undefined
  /** Answer pings with pongs inside `recv`. Default `true`. */
  readonly autoPong?: boolean | undefined
  /** Ping every `interval`; fail when nothing arrives for `timeout`. Default: off. */
  readonly heartbeat?: { readonly interval: Duration.Input; readonly timeout: Duration.Input } | undefined
  /** Messages `recv` / `run` deliver without suspending before they yield once. Default 1024 (`DEFAULT_MAX_BATCH`). */
  readonly maxBatch?: number | undefined
}

/**
 * permessage-deflate (RFC 7692) settings, for `compression` on either role. The negotiation
 * fields (`PerMessageDeflate.Config`) are requests on the client and decisions on the server;
 * the rest tune our own compressor. Defaults are given per field. A value out of its range (window
 * bits 9–15, level 0–9, memLevel 1–9, a negative threshold) is caller misuse: a `RangeError`
 * defect when the connection is made, as for the reader's limits.
 *
 * @since 0.1.0
 * @category models
 */
export interface CompressionOptions extends PerMessageDeflate.Config {
  /**
   * Text and binary messages shorter than this (bytes; for a string, UTF-16 code units) are
   * sent uncompressed: below it deflate saves little and costs a zlib call. Default 128 bytes.
   */
  readonly threshold?: number | undefined
  /** zlib compression level, 0–9. Default 6 (zlib's own default, as `ws` and Python `websockets` use). */
  readonly level?: number | undefined
  /** zlib memLevel, 1–9: the compressor's hash memory is 2^(memLevel + 9) bytes. Default 8. */
  readonly memLevel?: number | undefined
}
/**
 * Options of {@link connectOver}: the opening handshake and the stream. They hold nothing about
 * how the transport was dialed (`tls`, `proxy`, `noDelay`, … are {@link DialOptions}, which
 * `connectOver` does not take: the transport is already connected).
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectOverOptions extends StreamOptions {
  /** Extra handshake headers (API keys, cookies), in order. Default none. */
  readonly headers?: Handshake.Headers | Readonly<Record<string, string>> | undefined
  /** Subprotocols to offer, most preferred first. Default none. */
  readonly protocols?: ReadonlyArray<string> | undefined
  /** `Origin` header to send. Default none. */
  readonly origin?: string | undefined
  /**
   * Time for the opening handshake — for {@link connect} the dial (TCP, proxy tunnel, TLS) and
   * the handshake together. Default 10 seconds.
   */
  readonly connectTimeout?: Duration.Input | undefined
  /** Where masking keys come from. Default one `MaskSource.crypto()` pool shared by all connections. */
  readonly maskSource?: MaskSource.MaskSource | undefined
  /**
   * Offer permessage-deflate (`true` for the defaults, or settings). Default off: compression
   * costs CPU and per-connection memory on both ends, so it is opted into for feeds it pays for.
   */
  readonly compression?: boolean | CompressionOptions | undefined
}

/**
 * How {@link connect} reaches the server: `Dial.Options` (`tls`, `servername`, `proxy`,
 * `noDelay`, TCP `keepAlive`, `busyPoll`, `family`, `lookup`, `writeHighWaterMark`), each honoured for
 * `ws:` and `wss:`, direct or through a proxy. The dial's `connectTimeout` is the WebSocket's
 * (it bounds dial and handshake together) and its read high-water mark is `maxReadSize`.
 *
 * @since 0.1.0
 * @category models
 */
export interface DialOptions extends Omit<Dial.Options, "connectTimeout" | "readHighWaterMark"> {
  /** Read high-water mark of the socket: bytes read ahead of `recv` before it stops reading. Default 64 KiB. */
  readonly maxReadSize?: number | undefined
}

/**
 * Options of {@link connect}: the handshake and stream options plus the dial options.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectOptions extends ConnectOverOptions, DialOptions {}

/**
 * Options for {@link accept}.
 *
 * @since 0.1.0
 * @category models
 */
export interface AcceptOptions extends StreamOptions {
  /** Subprotocols this server speaks, most preferred first. Default none (no protocol is selected). */
  readonly protocols?: ReadonlyArray<string> | undefined
  /** Extra headers for the 101 response. Default none. */
  readonly headers?: Handshake.Headers | undefined
  /** Time allowed for the upgrade request to arrive and be answered. Default 10 seconds. */
  readonly handshakeTimeout?: Duration.Input | undefined
  /**
   * Largest upgrade request head in bytes; a longer one is answered 431 and fails with
   * `HandshakeError` violation `HeadTooLarge`. Default the `RequestReader`'s 16 KiB.
   */
  readonly maxHandshakeBytes?: number | undefined
  /**
   * Picks the subprotocol from those the client offered (in its order), instead of the first
   * of `protocols` the client offered; `undefined` selects none. A protocol the client did not
   * offer is never selected (it is treated as `undefined`). Default: by `protocols`.
   */
  readonly selectProtocol?: ((offered: ReadonlyArray<string>, upgrade: UpgradeInfo) => string | undefined) | undefined
  /**
   * Decides on a valid upgrade request before the 101 (path, `Origin`, an API key header...):
   * return `undefined` to accept, or a refusal whose `status` (e.g. 401, 403, 404) and `reason`
   * are answered instead; `accept` then fails with `HandshakeError` violation
   * `RefusedByServer`. Default: accept every valid request.
   */
  readonly verify?: ((upgrade: UpgradeInfo) => { readonly status: number; readonly reason: string } | undefined) | undefined
  /**
   * Accept a client's permessage-deflate offer (`true` for the defaults, or settings). Default
   * off: a server takes the compressor's memory once per client, so it is configured, not assumed.
   */
  readonly compression?: boolean | CompressionOptions | undefined
}

/** Default initial read slab: 8 KiB. */
export const DEFAULT_BUFFER_CAPACITY = 8 * 1024
/** Default write buffer: 8 KiB. */
export const DEFAULT_WRITE_BUFFER_CAPACITY = 8 * 1024
/** Default closing-handshake timeout: 5 seconds. */
export const DEFAULT_CLOSE_TIMEOUT: Duration.Duration = Duration.seconds(5)
/** Default connect (dial + handshake) timeout: 10 seconds. */
export const DEFAULT_CONNECT_TIMEOUT: Duration.Duration = Duration.seconds(10)
/** Default `compression.threshold`: messages under 128 bytes are sent uncompressed. */
export const DEFAULT_COMPRESSION_THRESHOLD = 128
/** Default `compression.level`: 6, zlib's default. */
export const DEFAULT_COMPRESSION_LEVEL = 6
/** Default `compression.memLevel`: 8, zlib's default. */
export const DEFAULT_COMPRESSION_MEM_LEVEL = 8

/** The settings `compression` stands for, or `undefined` when it is off. */
export const compressionOf = (option: boolean | CompressionOptions | undefined): CompressionOptions | undefined =>
  option === true ? {} : option === false || option === undefined ? undefined : option

/**
 * Default messages delivered before `recv` / `run` yields: 1024. The yield is one turn of the
 * event loop (Effect's scheduler runs yielded fibers from `setImmediate`), a few microseconds
 * that a consumer on another fiber (`messages`, `MarketFeed`) also pays as its wake-up: two
 * back-to-back pairs of `bench:loopback` firehose runs (2 M messages a round, 2026-12-04,
 * "The fairness bound at 1024" in `bench/RESULTS.md`) put 1024 ahead of 256 in both pairs on
 * `run`, `recv`, `messages` and the lent `MarketFeed` (by 0.2–0.7× ws), within the noise on
 * `Feed` and the owned `MarketFeed`. 1024 messages are still well under 100 µs of
 * handler time at the feed rates measured — shorter than the whole 64 KiB chunk `ws` delivers
 * in one synchronous burst (1600 messages of 40 B).
 */
export const DEFAULT_MAX_BATCH = 1024

/**
 * What the server learned from the upgrade request.
 *
 * @since 0.1.0
 * @category models
 */
export interface UpgradeInfo {
  /** Request target (path plus query). */
  readonly target: string
  /** The request's headers in wire order (owned). */
  readonly headers: ReadonlyArray<readonly [string, string]>
  /** Subprotocols the client offered. */
  readonly protocols: ReadonlyArray<string>
  /** `Origin`, when sent. */
  readonly origin: string | undefined
}

