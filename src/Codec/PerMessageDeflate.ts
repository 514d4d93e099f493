/**
 * `PerMessageDeflate` — the negotiation of the permessage-deflate extension (RFC 7692) as pure
 * functions over `Sec-WebSocket-Extensions` header values: the client's offer, the server's
 * choice and answer, the client's check of that answer. No compression happens here (that is
 * `node:zlib`, driven by the transport); this module only agrees the parameters.
 *
 * ```text
 * client                                          server
 * offerHeader(config) ──Sec-WebSocket-Extensions──► acceptOffer(values, config)
 *                                                    ├─ AcceptedOffer { agreed, header }  (101)
 *                                                    ├─ undefined: no acceptable offer (no extension)
 *                                                    └─ InvalidExtensions  (400)
 * validateAnswer(values, config) ◄──────────────────
 *   → Agreed | undefined | ExtensionViolation
 * ```
 *
 * Parameters (RFC 7692 §7.1): `server_no_context_takeover`, `client_no_context_takeover`,
 * `server_max_window_bits` (8–15) and `client_max_window_bits` (8–15; valueless in an offer:
 * "I can take a value"). Window 8 is never agreed: zlib's raw deflate cannot use a 256-byte
 * window (it silently widens to 512, which an 8-bit peer could not inflate), so a server
 * declines an offer that demands 8 for its own window and a client fails an answer that
 * demands 8 for its own (`UnsupportedWindowBits`).
 *
 * @since 0.1.0
 */
import { isToken } from "./internal/http.ts"

/** The extension token. */
export const EXTENSION = "permessage-deflate"

/** The largest LZ77 window, in bits (32 KiB): zlib's and RFC 7692's default. */
export const MAX_WINDOW_BITS = 15

/** The window each side uses when no `*_max_window_bits` limits it: 15 bits, the largest (RFC 7692 §7.1.2). */
export const DEFAULT_WINDOW_BITS = MAX_WINDOW_BITS

/** The smallest window this codec agrees to: 9 bits (see the module doc for why not 8). */
export const MIN_WINDOW_BITS = 9

/**
 * What both sides agreed: whether each side resets its compression context after every
 * message, and each side's LZ77 window (the compressor uses it; the decompressor must accept it).
 *
 * @since 0.1.0
 */
export interface Agreed {
  readonly _tag: "Agreed"
  readonly serverNoContextTakeover: boolean
  readonly clientNoContextTakeover: boolean
  /**
   * The server's window limit (8–15; a server never agrees to 8 for itself). The decompressor
   * reading it uses {@link inflateWindowBits}.
   */
  readonly serverMaxWindowBits: number
  /** The client's window limit (8–15; a client never agrees to 8 for itself). */
  readonly clientMaxWindowBits: number
}

/**
 * What one side asks for (both roles use it; a field about the other side is a request to it).
 * Omitted fields mean "no restriction": context takeover kept, 15-bit windows.
 *
 * @since 0.1.0
 */
export interface Config {
  /** Ask (client) or decide (server) that the server resets its context after every message. */
  readonly serverNoContextTakeover?: boolean | undefined
  /** Ask (client) or decide (server) that the client resets its context after every message. */
  readonly clientNoContextTakeover?: boolean | undefined
  /** The server's window limit, 9–15. */
  readonly serverMaxWindowBits?: number | undefined
  /** The client's window limit, 9–15. */
  readonly clientMaxWindowBits?: number | undefined
}

/**
 * The window to inflate a peer's `bits`-limited stream with: at least 9, since zlib refuses an
 * 8-bit raw inflater and a wider window reads a narrower stream.
 *
 * @since 0.1.0
 */
export const inflateWindowBits = (bits: number): number => Math.max(bits, MIN_WINDOW_BITS)

/** One extension of a `Sec-WebSocket-Extensions` list: its name and parameters in order. */
export interface Extension {
  readonly name: string
  readonly params: ReadonlyArray<readonly [name: string, value: string | undefined]>
}

/** A `Sec-WebSocket-Extensions` header that is not a valid extension list (RFC 6455 §9.1). 400 on the server. */
export interface InvalidExtensions {
  readonly _tag: "InvalidExtensions"
  readonly message: string
  readonly header: string
}

/** The server's answer names an extension we did not offer (or several, or one twice). */
export interface UnofferedExtension {
  readonly _tag: "UnofferedExtension"
  readonly message: string
  readonly extensions: string
}

/**
 * The server's permessage-deflate answer has a parameter that is unknown, repeated, valueless
 * where a value is needed (or the reverse), out of 8–15, or looser than what we offered.
 */
export interface InvalidDeflateParameter {
  readonly _tag: "InvalidDeflateParameter"
  readonly message: string
  readonly parameter: string
}

/** The answer demands an 8-bit window for our compressor, which zlib's raw deflate cannot honour. */
export interface UnsupportedWindowBits {
  readonly _tag: "UnsupportedWindowBits"
  readonly message: string
  readonly bits: number
}

/** Every reason {@link validateAnswer} fails the handshake. */
export type ExtensionViolation = InvalidExtensions | UnofferedExtension | InvalidDeflateParameter | UnsupportedWindowBits

/** Throws `RangeError` for a window limit outside 9–15 (caller misuse). */
const checkBits = (name: string, value: number | undefined): void => {
  if (value !== undefined && (!Number.isInteger(value) || value < MIN_WINDOW_BITS || value > MAX_WINDOW_BITS)) {
    throw new RangeError(`PerMessageDeflate ${name} must be an integer from 9 to 15, got ${value}`)
  }
}

/** Checks a config's window limits; throws `RangeError` (caller misuse) outside 9–15. */
export const checkConfig = (config: Config): Config => {
  checkBits("serverMaxWindowBits", config.serverMaxWindowBits)
  checkBits("clientMaxWindowBits", config.clientMaxWindowBits)
  return config
}

// ---------------------------------------------------------------------------------------------
// Parsing (RFC 6455 §9.1: extension-list with token or quoted-string parameter values)
// ---------------------------------------------------------------------------------------------

/**
 * Parses header values (all lines) into extensions, or `InvalidExtensions` when a name or
 * parameter is not a token or a quoted value is unterminated.
 *
 * @since 0.1.0
 */
export const parse = (values: ReadonlyArray<string>): Array<Extension> | InvalidExtensions => {
  const header = values.join(", ")
  const invalid = (why: string): InvalidExtensions => ({
    _tag: "InvalidExtensions",
    message: `Sec-WebSocket-Extensions ${JSON.stringify(header)} is invalid: ${why}`,
    header
  })
  const out: Array<Extension> = []
  let i = 0
  const n = header.length
  const skipSpace = () => {
    while (i < n && (header[i] === " " || header[i] === "\t")) i++
  }
  const token = (): string => {
    const from = i
    while (i < n && !" \t,;=\"".includes(header[i]!)) i++
    return header.slice(from, i)
  }
  while (i < n) {
    skipSpace()
    if (header[i] === ",") {
      i++
      continue
    }
    if (i >= n) break
    const name = token()
    if (!isToken(name)) return invalid(`extension name ${JSON.stringify(name)} is not a token`)
    const params: Array<readonly [string, string | undefined]> = []
    skipSpace()
    while (header[i] === ";") {
      i++
      skipSpace()
      const param = token()
      if (!isToken(param)) return invalid(`parameter ${JSON.stringify(param)} of ${name} is not a token`)
      skipSpace()
      let value: string | undefined = undefined
      if (header[i] === "=") {
        i++
        skipSpace()
        if (header[i] === "\"") {
          const close = header.indexOf("\"", i + 1)
          if (close < 0) return invalid(`unterminated quoted value of ${param}`)
          value = header.slice(i + 1, close)
          i = close + 1
        } else {
          value = token()
        }
        if (!isToken(value)) return invalid(`value of ${param} is not a token`)
        skipSpace()
      }
      params.push([param, value])
    }
    if (i < n && header[i] !== ",") return invalid(`unexpected ${JSON.stringify(header[i])} after ${name}`)
    out.push({ name, params })
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Client side
// ---------------------------------------------------------------------------------------------

/**
 * The client's offer for `Sec-WebSocket-Extensions`: `permessage-deflate; client_max_window_bits`
 * (we accept any window limit the server sets for us) plus the requests of `config`.
 *
 * @since 0.1.0
 */
export const offerHeader = (config: Config): string => {
  checkConfig(config)
  let header = EXTENSION
  if (config.clientNoContextTakeover === true) header += "; client_no_context_takeover"
  if (config.serverNoContextTakeover === true) header += "; server_no_context_takeover"
  if (config.serverMaxWindowBits !== undefined) header += `; server_max_window_bits=${config.serverMaxWindowBits}`
  header += config.clientMaxWindowBits !== undefined
    ? `; client_max_window_bits=${config.clientMaxWindowBits}`
    : "; client_max_window_bits"
  return header
}

const WINDOW_VALUE = /^(?:8|9|1[0-5])$/

/** Reads the parameters of one permessage-deflate element; the error names the first bad one. */
const readParams = (
  params: Extension["params"]
): Map<string, string | undefined> | { readonly parameter: string; readonly why: string } => {
  const seen = new Map<string, string | undefined>()
  for (const [name, value] of params) {
    if (seen.has(name)) return { parameter: name, why: "appears twice" }
    switch (name) {
      case "server_no_context_takeover":
      case "client_no_context_takeover":
        if (value !== undefined) return { parameter: name, why: "takes no value" }
        break
      case "server_max_window_bits":
        if (value === undefined || !WINDOW_VALUE.test(value)) return { parameter: name, why: "needs a value from 8 to 15" }
        break
      case "client_max_window_bits":
        if (value !== undefined && !WINDOW_VALUE.test(value)) return { parameter: name, why: "needs a value from 8 to 15" }
        break
      default:
        return { parameter: name, why: "is not a permessage-deflate parameter" }
    }
    seen.set(name, value)
  }
  return seen
}

/**
 * Checks the server's `Sec-WebSocket-Extensions` answer against the offer made from `config`
 * (`undefined`: nothing was offered): no extension (`undefined`: uncompressed), or one
 * permessage-deflate whose parameters are valid and no looser than offered.
 *
 * @since 0.1.0
 */
export const validateAnswer = (
  values: ReadonlyArray<string>,
  config: Config | undefined
): Agreed | undefined | ExtensionViolation => {
  if (values.length === 0) return undefined
  const parsed = parse(values)
  if (!Array.isArray(parsed)) return parsed
  const header = values.join(", ")
  if (parsed.length === 0) return undefined
  if (config === undefined || parsed.length !== 1 || parsed[0]!.name.toLowerCase() !== EXTENSION) {
    return {
      _tag: "UnofferedExtension",
      message: `server selected extensions ${JSON.stringify(header)} that were not offered`,
      extensions: header
    }
  }
  const params = readParams(parsed[0]!.params)
  const bad = (parameter: string, why: string): InvalidDeflateParameter => ({
    _tag: "InvalidDeflateParameter",
    message: `permessage-deflate parameter ${parameter} in the server's answer ${why}`,
    parameter
  })
  if (!(params instanceof Map)) return bad(params.parameter, params.why)
  const serverBits = params.get("server_max_window_bits")
  const server = serverBits === undefined ? DEFAULT_WINDOW_BITS : Number(serverBits)
  if (config.serverMaxWindowBits !== undefined && (serverBits === undefined || server > config.serverMaxWindowBits)) {
    return bad("server_max_window_bits", `is ${serverBits ?? "absent"}, looser than the offered ${config.serverMaxWindowBits}`)
  }
  if (config.serverNoContextTakeover === true && !params.has("server_no_context_takeover")) {
    return bad("server_no_context_takeover", "is missing although it was requested")
  }
  const hasClientBits = params.has("client_max_window_bits")
  const clientBits = params.get("client_max_window_bits")
  if (hasClientBits && clientBits === undefined) return bad("client_max_window_bits", "needs a value in an answer")
  let client = clientBits === undefined ? DEFAULT_WINDOW_BITS : Number(clientBits)
  if (config.clientMaxWindowBits !== undefined) {
    if (client > config.clientMaxWindowBits) {
      return bad("client_max_window_bits", `is ${client}, looser than the offered ${config.clientMaxWindowBits}`)
    }
    client = Math.min(client, config.clientMaxWindowBits)
  }
  if (client < MIN_WINDOW_BITS) {
    return { _tag: "UnsupportedWindowBits", message: "the server asked for client_max_window_bits=8, which zlib's raw deflate cannot honour", bits: client }
  }
  return {
    _tag: "Agreed",
    serverMaxWindowBits: server,
    clientMaxWindowBits: client,
    serverNoContextTakeover: params.has("server_no_context_takeover"),
    clientNoContextTakeover: params.has("client_no_context_takeover") || config.clientNoContextTakeover === true
  }
}

// ---------------------------------------------------------------------------------------------
// Server side
// ---------------------------------------------------------------------------------------------

/** A client offer the server takes: what is agreed, and the `Sec-WebSocket-Extensions` answer for the 101. */
export interface AcceptedOffer {
  readonly _tag: "AcceptedOffer"
  readonly agreed: Agreed
  readonly header: string
}

/**
 * Picks the first of the client's permessage-deflate offers that `config` can accept (RFC 7692
 * §5: an offer with an unknown or invalid parameter is declined, not refused) and returns what
 * is agreed with the answer to send; `undefined` when no offer is acceptable (the connection runs uncompressed), or
 * `InvalidExtensions` for a header that is not an extension list (answer 400).
 *
 * @since 0.1.0
 */
export const acceptOffer = (
  values: ReadonlyArray<string>,
  config: Config
): AcceptedOffer | undefined | InvalidExtensions => {
  if (values.length === 0) return undefined
  const parsed = parse(values)
  if (!Array.isArray(parsed)) return parsed
  for (const offer of parsed) {
    if (offer.name.toLowerCase() !== EXTENSION) continue
    const params = readParams(offer.params)
    if (!(params instanceof Map)) continue
    const asked = params.get("server_max_window_bits")
    // the client limits our window: take the smaller of its limit and ours; 8 we cannot do
    const server = Math.min(asked === undefined ? DEFAULT_WINDOW_BITS : Number(asked), config.serverMaxWindowBits ?? DEFAULT_WINDOW_BITS)
    if (server < MIN_WINDOW_BITS) continue
    const clientOffered = params.has("client_max_window_bits")
    const clientLimit = params.get("client_max_window_bits")
    // we may limit the client's window only when it said it can take a limit
    if (config.clientMaxWindowBits !== undefined && !clientOffered) continue
    const client = Math.min(
      clientLimit === undefined ? DEFAULT_WINDOW_BITS : Number(clientLimit),
      config.clientMaxWindowBits ?? DEFAULT_WINDOW_BITS
    )
    const agreed: Agreed = {
      _tag: "Agreed",
      serverNoContextTakeover: params.has("server_no_context_takeover") || config.serverNoContextTakeover === true,
      clientNoContextTakeover: params.has("client_no_context_takeover") || config.clientNoContextTakeover === true,
      serverMaxWindowBits: server,
      clientMaxWindowBits: client
    }
    return { _tag: "AcceptedOffer", agreed, header: responseHeader(agreed, asked !== undefined) }
  }
  return undefined
}

/**
 * The answer for what was agreed: every parameter that binds the client stated explicitly;
 * `server_max_window_bits` when below 15 or when the client asked for it (RFC 7692 §7.1.2.1:
 * the server accepts that request by answering it), `client_max_window_bits` when below 15.
 */
const responseHeader = (agreed: Agreed, serverBitsAsked: boolean): string => {
  let header = EXTENSION
  if (agreed.serverNoContextTakeover) header += "; server_no_context_takeover"
  if (agreed.clientNoContextTakeover) header += "; client_no_context_takeover"
  if (serverBitsAsked || agreed.serverMaxWindowBits < MAX_WINDOW_BITS) {
    header += `; server_max_window_bits=${agreed.serverMaxWindowBits}`
  }
  if (agreed.clientMaxWindowBits < MAX_WINDOW_BITS) header += `; client_max_window_bits=${agreed.clientMaxWindowBits}`
  return header
}
