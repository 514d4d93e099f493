/**
 * `PerMessageDeflate` — the building blocks of RFC 7692 (permessage-deflate) for both roles:
 * the extension negotiation, and a per-connection `Deflater` / `Inflater` on `node:zlib` raw
 * deflate. Not wired into the WebSocket stream yet (see `docs/server.md`); nothing here reads
 * or writes frames.
 *
 * ```text
 * client: offerHeader(config) ──► Sec-WebSocket-Extensions ──► server: negotiate(header, config)
 *                                                                 │ Agreed | undefined (declined)
 * client: acceptResponse(header, config) ◄── responseHeader(agreed) ◄┘
 * both:   makeDeflater(agreed, role) · makeInflater(agreed, role, maxMessageSize)
 * ```
 *
 * Rules:
 * - **Negotiation** (§7.1): the server takes the first offer whose parameters it understands
 *   and can honour; an offer with an unknown or repeated parameter, or a bad value, is skipped
 *   (not an error). `server_no_context_takeover` and `server_max_window_bits` asked by the
 *   client are granted; `client_max_window_bits` is answered only when offered (with a value
 *   when the server config asks for one). The client refuses a response that names a parameter
 *   it did not allow (`client_max_window_bits` it did not offer, an unknown one):
 *   `NegotiationFault`.
 * - **Window bits**: zlib cannot deflate with a window of 8, so an 8 is used as 9 when
 *   deflating (the inflater still accepts an 8-bit window: 9 can inflate it), as `ws` does.
 * - **Context takeover**: without `*_no_context_takeover` the deflater (and the peer's
 *   inflater) keep their LZ77 window across messages; with it, each message starts fresh
 *   (`reset` after every message).
 * - **Size threshold**: `deflate` returns `undefined` for a payload under `threshold` bytes
 *   (default {@link DEFAULT_THRESHOLD}): send it uncompressed (RSV1 clear).
 * - **Limits**: `inflate` counts the inflated bytes as zlib produces them and stops at
 *   `maxMessageSize`: a deflate bomb fails with `InflateError` kind `"MessageTooBig"` carrying
 *   close code 1009 after at most `maxMessageSize` plus one zlib chunk (16 KiB) of output;
 *   corrupt data fails with kind `"Corrupt"`, close code 1007. Memory per connection: one zlib
 *   stream per direction (≈ 2^windowBits × 2 bytes for deflate plus ~256 KiB of zlib state at
 *   level 1..9's default memLevel 8, ≈ 2^windowBits for inflate).
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as zlib from "node:zlib"

/**
 * What one side is configured to ask for or allow.
 *
 * @since 0.1.0
 * @category models
 */
export interface Config {
  /** Ask (client) or require (server) that the server resets its context per message. Default `false`. */
  readonly serverNoContextTakeover?: boolean | undefined
  /** Ask (client) or require (server) that the client resets its context per message. Default `false`. */
  readonly clientNoContextTakeover?: boolean | undefined
  /** The server's LZ77 window, 8..15. Default 15 (not sent). */
  readonly serverMaxWindowBits?: number | undefined
  /** The client's LZ77 window, 8..15; a client sends `client_max_window_bits` (no value) to allow one. Default 15. */
  readonly clientMaxWindowBits?: number | undefined
  /** Payloads under this many bytes are not compressed. Default 1 KiB ({@link DEFAULT_THRESHOLD}). */
  readonly threshold?: number | undefined
}

/**
 * The parameters both sides agreed on.
 *
 * @since 0.1.0
 * @category models
 */
export interface Agreed {
  readonly serverNoContextTakeover: boolean
  readonly clientNoContextTakeover: boolean
  readonly serverMaxWindowBits: number
  readonly clientMaxWindowBits: number
  /** Whether the client's offer carried `client_max_window_bits` (the server may then answer it). */
  readonly clientWindowOffered: boolean
}

/**
 * Default size threshold: 1 KiB. Below it, deflate's header and the flush trailer cost more
 * than they save on typical JSON.
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_THRESHOLD = 1024

/**
 * Default (and largest) LZ77 window: 15 bits.
 *
 * @since 0.1.0
 * @category defaults
 */
export const DEFAULT_MAX_WINDOW_BITS = 15

/**
 * A response the client cannot accept (§7.1): names a parameter it did not allow, repeats
 * one, or carries a bad value.
 *
 * @since 0.1.0
 * @category errors
 */
export class NegotiationFault extends Data.TaggedError("NegotiationFault")<{ readonly detail: string }> {
  override get message(): string {
    return `permessage-deflate response refused: ${this.detail}`
  }
}

/**
 * Inflating a message failed: it grew past `limit` (`"MessageTooBig"`, close 1009) or is not
 * valid deflate data (`"Corrupt"`, close 1007).
 *
 * @since 0.1.0
 * @category errors
 */
export class InflateError extends Data.TaggedError("InflateError")<{
  readonly kind: "MessageTooBig" | "Corrupt"
  readonly limit: number
  readonly closeCode: 1007 | 1009
}> {
  override get message(): string {
    return this.kind === "MessageTooBig"
      ? `inflated message is larger than ${this.limit} bytes (close ${this.closeCode})`
      : `compressed message is not valid deflate data (close ${this.closeCode})`
  }
}

const NAME = "permessage-deflate"

/** One extension offer: its name and parameters (`true` for a parameter without value). */
type Params = ReadonlyArray<readonly [string, string | true]>

/** Splits a `Sec-WebSocket-Extensions` value into extensions and their parameters. */
export const parseExtensions = (header: string): Array<{ readonly name: string; readonly params: Params }> =>
  header.split(",").map((part) => part.trim()).filter((part) => part !== "").map((part) => {
    const [name, ...rest] = part.split(";").map((p) => p.trim())
    const params = rest.filter((p) => p !== "").map((p): readonly [string, string | true] => {
      const eq = p.indexOf("=")
      if (eq < 0) return [p.toLowerCase(), true]
      const value = p.slice(eq + 1).trim()
      return [p.slice(0, eq).trim().toLowerCase(), value.startsWith("\"") && value.endsWith("\"") ? value.slice(1, -1) : value]
    })
    return { name: name!.toLowerCase(), params }
  })

const windowBits = (value: string | true): number | undefined => {
  if (value === true || !/^\d+$/.test(value)) return undefined
  const n = Number(value)
  return n >= 8 && n <= 15 ? n : undefined
}

/** Reads the parameters of one offer or response; `undefined` when one is unknown, repeated or bad. */
const readParams = (params: Params) => {
  const seen = new Set<string>()
  let serverNoContextTakeover = false
  let clientNoContextTakeover = false
  let serverMaxWindowBits: number | undefined
  let clientMaxWindowBits: number | true | undefined
  for (const [key, value] of params) {
    if (seen.has(key)) return `parameter ${key} repeated`
    seen.add(key)
    switch (key) {
      case "server_no_context_takeover":
      case "client_no_context_takeover":
        if (value !== true) return `${key} takes no value`
        if (key === "server_no_context_takeover") serverNoContextTakeover = true
        else clientNoContextTakeover = true
        break
      case "server_max_window_bits": {
        const bits = windowBits(value)
        if (bits === undefined) return `server_max_window_bits must be 8..15`
        serverMaxWindowBits = bits
        break
      }
      case "client_max_window_bits": {
        if (value === true) clientMaxWindowBits = true
        else {
          const bits = windowBits(value)
          if (bits === undefined) return `client_max_window_bits must be 8..15`
          clientMaxWindowBits = bits
        }
        break
      }
      default:
        return `unknown parameter ${key}`
    }
  }
  return { serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits, clientMaxWindowBits }
}

/**
 * The client's offer for `Sec-WebSocket-Extensions`; it always allows `client_max_window_bits`.
 *
 * @since 0.1.0
 * @category negotiation
 */
export const offerHeader = (config: Config = {}): string => {
  const parts = [NAME]
  if (config.serverNoContextTakeover) parts.push("server_no_context_takeover")
  if (config.clientNoContextTakeover) parts.push("client_no_context_takeover")
  if (config.serverMaxWindowBits !== undefined) parts.push(`server_max_window_bits=${config.serverMaxWindowBits}`)
  parts.push(config.clientMaxWindowBits === undefined ? "client_max_window_bits" : `client_max_window_bits=${config.clientMaxWindowBits}`)
  return parts.join("; ")
}

/**
 * The server side: picks the first acceptable permessage-deflate offer in the client's
 * `Sec-WebSocket-Extensions` header, under the server's `config`; `undefined` declines (no
 * acceptable offer, or no header).
 *
 * @since 0.1.0
 * @category negotiation
 */
export const negotiate = (header: string | undefined, config: Config = {}): Agreed | undefined => {
  if (header === undefined) return undefined
  for (const offer of parseExtensions(header)) {
    if (offer.name !== NAME) continue
    const params = readParams(offer.params)
    if (typeof params === "string") continue
    const clientOffered = params.clientMaxWindowBits
    // the server may only limit the client's window when the client said it can be limited
    if (config.clientMaxWindowBits !== undefined && clientOffered === undefined) continue
    const clientBits = Math.min(
      typeof clientOffered === "number" ? clientOffered : DEFAULT_MAX_WINDOW_BITS,
      config.clientMaxWindowBits ?? DEFAULT_MAX_WINDOW_BITS
    )
    return {
      serverNoContextTakeover: params.serverNoContextTakeover || (config.serverNoContextTakeover ?? false),
      clientNoContextTakeover: params.clientNoContextTakeover || (config.clientNoContextTakeover ?? false),
      serverMaxWindowBits: Math.min(params.serverMaxWindowBits ?? DEFAULT_MAX_WINDOW_BITS, config.serverMaxWindowBits ?? DEFAULT_MAX_WINDOW_BITS),
      clientMaxWindowBits: clientBits,
      clientWindowOffered: clientOffered !== undefined
    }
  }
  return undefined
}

/**
 * The server's `Sec-WebSocket-Extensions` answer for what it agreed.
 *
 * @since 0.1.0
 * @category negotiation
 */
export const responseHeader = (agreed: Agreed): string => {
  const parts = [NAME]
  if (agreed.serverNoContextTakeover) parts.push("server_no_context_takeover")
  if (agreed.clientNoContextTakeover) parts.push("client_no_context_takeover")
  if (agreed.serverMaxWindowBits < DEFAULT_MAX_WINDOW_BITS) parts.push(`server_max_window_bits=${agreed.serverMaxWindowBits}`)
  if (agreed.clientWindowOffered && agreed.clientMaxWindowBits < DEFAULT_MAX_WINDOW_BITS) {
    parts.push(`client_max_window_bits=${agreed.clientMaxWindowBits}`)
  }
  return parts.join("; ")
}

/**
 * The client side: reads the server's answer (the offer was {@link offerHeader} of `config`).
 * `undefined` when the server did not accept the extension.
 *
 * @since 0.1.0
 * @category negotiation
 */
export const acceptResponse = (header: string | undefined, config: Config = {}): Agreed | NegotiationFault | undefined => {
  if (header === undefined) return undefined
  const answers = parseExtensions(header).filter((e) => e.name === NAME)
  if (answers.length === 0) return undefined
  if (answers.length > 1) return new NegotiationFault({ detail: "permessage-deflate answered twice" })
  const params = readParams(answers[0]!.params)
  if (typeof params === "string") return new NegotiationFault({ detail: params })
  if (params.clientMaxWindowBits === true) return new NegotiationFault({ detail: "client_max_window_bits needs a value in a response" })
  if (config.serverMaxWindowBits !== undefined && params.serverMaxWindowBits === undefined) {
    return new NegotiationFault({ detail: "server_max_window_bits was asked for but not answered" })
  }
  if (config.serverNoContextTakeover && !params.serverNoContextTakeover) {
    return new NegotiationFault({ detail: "server_no_context_takeover was asked for but not answered" })
  }
  const clientBits = params.clientMaxWindowBits ?? config.clientMaxWindowBits ?? DEFAULT_MAX_WINDOW_BITS
  return {
    serverNoContextTakeover: params.serverNoContextTakeover,
    clientNoContextTakeover: params.clientNoContextTakeover || (config.clientNoContextTakeover ?? false),
    serverMaxWindowBits: params.serverMaxWindowBits ?? DEFAULT_MAX_WINDOW_BITS,
    clientMaxWindowBits: Math.min(clientBits, config.clientMaxWindowBits ?? DEFAULT_MAX_WINDOW_BITS),
    clientWindowOffered: true
  }
}

const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff])

/** Runs one write + sync flush through `stream`, handing each output chunk to `onData`. */
const pump = (
  stream: zlib.DeflateRaw | zlib.InflateRaw,
  input: ReadonlyArray<Uint8Array>,
  onData: (chunk: Buffer) => boolean
): Effect.Effect<void, Error | "Stop"> =>
  Effect.callback<void, Error | "Stop">((resume) => {
    let done = false
    const finish = (effect: Effect.Effect<void, Error | "Stop">) => {
      if (done) return
      done = true
      stream.off("data", data)
      stream.off("error", error)
      resume(effect)
    }
    const data = (chunk: Buffer) => {
      if (!onData(chunk)) finish(Effect.fail("Stop"))
    }
    const error = (cause: Error) => finish(Effect.fail(cause))
    stream.on("data", data)
    stream.on("error", error)
    for (const chunk of input) stream.write(chunk)
    stream.flush(zlib.constants.Z_SYNC_FLUSH, () => finish(Effect.void))
  })

/**
 * One connection's compressor for the messages *this* side sends.
 *
 * @since 0.1.0
 * @category models
 */
export interface Deflater {
  /** The compressed payload (trailer removed), or `undefined` under the threshold: send it uncompressed. */
  deflate(payload: Uint8Array): Effect.Effect<Uint8Array | undefined>
  /** Frees the zlib stream. */
  close(): void
}

/**
 * One connection's decompressor for the messages the *peer* sends.
 *
 * @since 0.1.0
 * @category models
 */
export interface Inflater {
  /** The inflated message (all its frames' payloads, joined), or an `InflateError`. */
  inflate(payload: Uint8Array): Effect.Effect<Uint8Array, InflateError>
  /** Frees the zlib stream. */
  close(): void
}

/**
 * The deflater for `role`'s outgoing messages under `agreed`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeDeflater = (agreed: Agreed, role: "client" | "server", config: Config = {}): Deflater => {
  const bits = role === "server" ? agreed.serverMaxWindowBits : agreed.clientMaxWindowBits
  const reset = role === "server" ? agreed.serverNoContextTakeover : agreed.clientNoContextTakeover
  const threshold = config.threshold ?? DEFAULT_THRESHOLD
  // zlib refuses an 8-bit window for deflate: 9 is what ws uses too
  const stream = zlib.createDeflateRaw({ windowBits: Math.max(9, bits) })
  return {
    deflate: (payload) =>
      Effect.suspend(() => {
        if (payload.length < threshold) return Effect.succeed(undefined)
        const chunks: Array<Buffer> = []
        return pump(stream, [payload], (chunk) => {
          chunks.push(chunk)
          return true
        }).pipe(
          Effect.orDie,
          Effect.map(() => {
            const out = Buffer.concat(chunks)
            if (reset) stream.reset()
            // §7.2.1: the sync flush's 00 00 ff ff is removed from the message
            return out.subarray(0, out.length - 4)
          })
        )
      }),
    close: () => stream.close()
  }
}

/**
 * The inflater for the peer of `role` under `agreed`; a message inflating past
 * `maxMessageSize` fails with close code 1009 (see the module doc).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeInflater = (agreed: Agreed, role: "client" | "server", maxMessageSize: number): Inflater => {
  // the peer's window: a server inflates what the client deflated, and the other way round
  const bits = role === "server" ? agreed.clientMaxWindowBits : agreed.serverMaxWindowBits
  const reset = role === "server" ? agreed.clientNoContextTakeover : agreed.serverNoContextTakeover
  const fresh = () => zlib.createInflateRaw({ windowBits: Math.max(9, bits) })
  let stream = fresh()
  return {
    inflate: (payload) =>
      Effect.suspend(() => {
        const chunks: Array<Buffer> = []
        let total = 0
        return pump(stream, [payload, TRAILER], (chunk) => {
          total += chunk.length
          chunks.push(chunk)
          return total <= maxMessageSize
        }).pipe(
          Effect.mapError((cause) => {
            // the stream is mid-message or broken: it cannot inflate another one
            stream.close()
            stream = fresh()
            return cause === "Stop"
              ? new InflateError({ kind: "MessageTooBig", limit: maxMessageSize, closeCode: 1009 })
              : new InflateError({ kind: "Corrupt", limit: maxMessageSize, closeCode: 1007 })
          }),
          Effect.map(() => {
            if (reset) stream.reset()
            return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
          })
        )
      }),
    close: () => stream.close()
  }
}
