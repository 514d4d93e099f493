/**
 * `Handshake` — the WebSocket opening handshake (RFC 6455 §4) as pure functions over parsed
 * HTTP messages, for both roles.
 *
 * ```text
 * client                                              server
 * generateKey() ─► upgradeRequestHead() ──bytes──►  RequestReader.next()
 *                                                   validateUpgradeRequest(request)
 *                                                     ├─ ok  ─► acceptResponseHead()  (101)
 *                                                     └─ err ─► rejectResponseHead()  (400 / 426)
 * ResponseReader.next() ◄──────────────bytes──────
 * validateResponse(response, { key, protocols })
 * ```
 *
 * The heads are returned as data (`{ method, path, headers }`, `{ status, reason, headers,
 * body }`) ready for `HttpWrite`'s `writeRequest` / `writeResponse`, so this module holds no
 * HTTP serializer of its own. The bytes that follow the 101 response (client) or the upgrade
 * request (server) already belong to the frame reader: take them from the reader with
 * `leftover()` / `takeLeftover()` before dropping it.
 *
 * Leniency: header names and the `Upgrade` / `Connection` tokens compare case-insensitively,
 * `Connection` may list other tokens; the key must be 24 base64 characters decoding to 16
 * bytes; the client accepts a 101 without `Sec-WebSocket-Protocol` even when it offered some
 * (RFC 6455 §4.1 only forbids an unoffered choice). The only extension is permessage-deflate
 * (RFC 7692, negotiated by `PerMessageDeflate`): a 101 naming an extension when none was offered
 * is `UnrequestedExtension`, an answer to an offer is checked by `PerMessageDeflate.validateAnswer`. `upgradeRequestHead` and `acceptResponseHead`
 * never throw: input they cannot send (a subprotocol or header name that is not a token, CR/LF/NUL
 * in a header value, a space, CR, LF or NUL in the request target) is returned as
 * `InvalidHandshakeInput`.
 *
 * @since 0.1.0
 */
import { findInjection, isToken } from "./internal/http.ts"
import { asBuffer, randomFill, sha1Base64 } from "./internal/node.ts"
import * as PerMessageDeflate from "./PerMessageDeflate.ts"

/** The GUID appended to the key before hashing (RFC 6455 §1.3). */
export const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/** The only protocol version this codec speaks. */
export const VERSION = "13"

/** A header list in wire order. */
export type Headers = ReadonlyArray<readonly [name: string, value: string]>

/** What the handshake reads from a parsed HTTP message (both readers' messages fit). */
export interface HeaderSource {
  header(name: string): string | undefined
  headerAll(name: string): Array<string>
  hasToken(name: string, token: string): boolean
}

/**
 * A fresh `Sec-WebSocket-Key`: base64 of 16 random bytes. `randomSource` fills the bytes
 * (default: the crypto RNG); inject one for deterministic tests.
 *
 * @since 0.1.0
 */
export const generateKey = (randomSource: (bytes: Uint8Array) => Uint8Array = randomFill): string => {
  const bytes = new Uint8Array(16)
  randomSource(bytes)
  return asBuffer(bytes).toString("base64")
}

/**
 * The `Sec-WebSocket-Accept` value for `key`: base64(SHA-1(key + GUID)).
 *
 * @since 0.1.0
 */
export const acceptKey = (key: string): string => sha1Base64(key + GUID)

const KEY_PATTERN = /^[+/0-9A-Za-z]{22}==$/

/** Whether `key` is 24 base64 characters that decode to exactly 16 bytes. */
export const isValidKey = (key: string): boolean => KEY_PATTERN.test(key)

// ---------------------------------------------------------------------------------------------
// Client side
// ---------------------------------------------------------------------------------------------

/** Options for {@link upgradeRequestHead}. */
export interface UpgradeRequestOptions {
  /** `Host` header value (`host[:port]`). */
  readonly host: string
  /** Request target: path plus query, e.g. `/ws/v1?stream=trades`. */
  readonly pathAndQuery: string
  /** The `Sec-WebSocket-Key` from {@link generateKey}. */
  readonly key: string
  /** Subprotocols to offer, in preference order. */
  readonly protocols?: ReadonlyArray<string> | undefined
  /** `Origin` header value, if any. */
  readonly origin?: string | undefined
  /** Extra headers (API keys, cookies), appended after the handshake headers. */
  readonly headers?: Headers | undefined
  /** A permessage-deflate offer (`PerMessageDeflate.offerHeader`) sent as `Sec-WebSocket-Extensions`. */
  readonly extensions?: string | undefined
}

/** A request head ready for `HttpWrite.writeRequest`. */
export interface RequestHead {
  readonly _tag: "RequestHead"
  readonly method: "GET"
  readonly path: string
  readonly headers: Array<[string, string]>
}

/**
 * Input a handshake head cannot be sent with (caller input, not peer input): `field` names which
 * input, `detail` the offending one — the header name, subprotocol or request target as given
 * (for a bad header value, the header's name: the value may be a secret and is left out).
 *
 * @since 0.1.0
 */
export interface InvalidHandshakeInput {
  readonly _tag: "InvalidHandshakeInput"
  /** `"headerName"` (not a token), `"headerValue"` (CR/LF/NUL), `"protocol"` (not a token), `"pathAndQuery"`. */
  readonly field: "headerName" | "headerValue" | "protocol" | "pathAndQuery"
  readonly detail: string
  readonly message: string
}

const notAToken = (field: "headerName" | "protocol", value: string): InvalidHandshakeInput => ({
  _tag: "InvalidHandshakeInput",
  field,
  detail: value,
  message: `Handshake: ${field === "protocol" ? "subprotocol" : "header name"} ${JSON.stringify(value)} is not a token`
})

/** The first header that cannot be sent, or `undefined`. */
const checkHeaders = (headers: ReadonlyArray<readonly [string, string]>): InvalidHandshakeInput | undefined => {
  for (const [name, value] of headers) {
    if (!isToken(name)) return notAToken("headerName", name)
    if (findInjection(value) !== -1) {
      return {
        _tag: "InvalidHandshakeInput",
        field: "headerValue",
        detail: name,
        message: `Handshake: header ${name} holds CR, LF or NUL`
      }
    }
  }
  return undefined
}

/**
 * The client's upgrade request head: `GET`, `Host`, `Upgrade: websocket`, `Connection: Upgrade`,
 * `Sec-WebSocket-Key`, `Sec-WebSocket-Version: 13`, then `Sec-WebSocket-Protocol` and `Origin`
 * when given, then the extra headers. Returns `InvalidHandshakeInput` for a subprotocol or header
 * name that is not a token, CR/LF/NUL in a header value, or a space, CR, LF or NUL in
 * `pathAndQuery` (checked in that order: protocols, headers in wire order, the target).
 *
 * @since 0.1.0
 */
export const upgradeRequestHead = (options: UpgradeRequestOptions): RequestHead | InvalidHandshakeInput => {
  const headers: Array<[string, string]> = [
    ["Host", options.host],
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Key", options.key],
    ["Sec-WebSocket-Version", VERSION]
  ]
  if (options.protocols !== undefined && options.protocols.length > 0) {
    for (const protocol of options.protocols) {
      if (!isToken(protocol)) return notAToken("protocol", protocol)
    }
    headers.push(["Sec-WebSocket-Protocol", options.protocols.join(", ")])
  }
  if (options.origin !== undefined) headers.push(["Origin", options.origin])
  if (options.extensions !== undefined) headers.push(["Sec-WebSocket-Extensions", options.extensions])
  for (const [name, value] of options.headers ?? []) headers.push([name, value])
  const invalid = checkHeaders(headers)
  if (invalid !== undefined) return invalid
  if (findInjection(options.pathAndQuery) !== -1 || options.pathAndQuery.includes(" ")) {
    return {
      _tag: "InvalidHandshakeInput",
      field: "pathAndQuery",
      detail: options.pathAndQuery,
      message: "Handshake: pathAndQuery holds a space, CR, LF or NUL"
    }
  }
  return { _tag: "RequestHead", method: "GET", path: options.pathAndQuery, headers }
}

/** The server answered with something other than 101; `status` is what it sent. */
export interface UnexpectedStatus {
  readonly _tag: "UnexpectedStatus"
  readonly message: string
  readonly status: number
}

/** The 101 lacks `Upgrade: websocket`. */
export interface MissingUpgradeHeader {
  readonly _tag: "MissingUpgradeHeader"
  readonly message: string
}

/** The 101's `Connection` header lacks the `upgrade` token. */
export interface MissingConnectionUpgrade {
  readonly _tag: "MissingConnectionUpgrade"
  readonly message: string
}

/** `Sec-WebSocket-Accept` is missing or does not match our key. */
export interface InvalidAcceptKey {
  readonly _tag: "InvalidAcceptKey"
  readonly message: string
  readonly expected: string
  readonly received: string | undefined
}

/** The server selected a subprotocol we did not offer (or several, or one when we offered none). */
export interface UnofferedProtocol {
  readonly _tag: "UnofferedProtocol"
  readonly message: string
  readonly protocol: string
}

/** The server selected extensions although we requested none. */
export interface UnrequestedExtension {
  readonly _tag: "UnrequestedExtension"
  readonly message: string
  readonly extensions: string
}

/** Every reason `validateResponse` fails the connection (RFC 6455 §4.1, checked in that order). */
export type ResponseViolation =
  | UnexpectedStatus
  | MissingUpgradeHeader
  | MissingConnectionUpgrade
  | InvalidAcceptKey
  | UnofferedProtocol
  | UnrequestedExtension
  | PerMessageDeflate.ExtensionViolation

/** A successful client handshake: the agreed subprotocol and compression, if any. */
export interface Accepted {
  readonly _tag: "Accepted"
  readonly protocol: string | undefined
  /** The agreed permessage-deflate parameters; `undefined` when the connection is uncompressed. */
  readonly deflate: PerMessageDeflate.Agreed | undefined
}

/**
 * Validates the server's answer to our upgrade request: status 101, `Upgrade: websocket`,
 * `Connection: upgrade`, the accept key, the subprotocol choice, and no extension unless
 * `expected.deflate` says permessage-deflate was offered with that config (then the answer is
 * checked against it).
 *
 * @since 0.1.0
 */
export const validateResponse = (
  response: HeaderSource & { readonly status: number },
  expected: {
    readonly key: string
    readonly protocols?: ReadonlyArray<string> | undefined
    readonly deflate?: PerMessageDeflate.Config | undefined
  }
): Accepted | ResponseViolation => {
  if (response.status !== 101) {
    return {
      _tag: "UnexpectedStatus",
      message: `expected 101 Switching Protocols, got ${response.status}`,
      status: response.status
    }
  }
  if (!response.hasToken("upgrade", "websocket")) {
    return { _tag: "MissingUpgradeHeader", message: "101 response without Upgrade: websocket" }
  }
  if (!response.hasToken("connection", "upgrade")) {
    return { _tag: "MissingConnectionUpgrade", message: "101 response without Connection: upgrade" }
  }
  const accept = acceptKey(expected.key)
  const accepts = response.headerAll("sec-websocket-accept")
  if (accepts.length !== 1 || accepts[0] !== accept) {
    return {
      _tag: "InvalidAcceptKey",
      message: accepts.length === 0
        ? "101 response without Sec-WebSocket-Accept"
        : `Sec-WebSocket-Accept ${JSON.stringify(accepts.join(", "))} does not match the key`,
      expected: accept,
      received: accepts.length === 0 ? undefined : accepts.join(", ")
    }
  }
  const selected = response.headerAll("sec-websocket-protocol")
  let protocol: string | undefined = undefined
  if (selected.length > 0) {
    const value = selected.join(", ")
    if (selected.length !== 1 || !(expected.protocols ?? []).includes(value)) {
      return {
        _tag: "UnofferedProtocol",
        message: `server selected subprotocol ${JSON.stringify(value)}, which was not offered`,
        protocol: value
      }
    }
    protocol = value
  }
  const extensions = response.headerAll("sec-websocket-extensions")
  if (extensions.length > 0 && expected.deflate === undefined) {
    return {
      _tag: "UnrequestedExtension",
      message: `server selected extensions ${JSON.stringify(extensions.join(", "))} that were not requested`,
      extensions: extensions.join(", ")
    }
  }
  const deflate = PerMessageDeflate.validateAnswer(extensions, expected.deflate)
  if (deflate !== undefined && deflate._tag !== "Agreed") return deflate
  return { _tag: "Accepted", protocol, deflate }
}

// ---------------------------------------------------------------------------------------------
// Server side
// ---------------------------------------------------------------------------------------------

/** Common shape of a rejected upgrade request: the status and reason to answer with. */
interface Rejection<Tag extends string, Status extends number> {
  readonly _tag: Tag
  readonly message: string
  /** HTTP status to answer with. */
  readonly status: Status
  /** Short reason, used as the response body. */
  readonly reason: string
}

/** The upgrade request is not a `GET`. */
export type MethodNotGet = Rejection<"MethodNotGet", 400>
/** The upgrade request is HTTP/1.0. */
export type HttpVersionNot11 = Rejection<"HttpVersionNot11", 400>
/** No (or more than one) `Host` header. */
export type MissingHost = Rejection<"MissingHost", 400>
/** `Upgrade` does not name `websocket`. */
export type UpgradeNotWebSocket = Rejection<"UpgradeNotWebSocket", 400>
/** `Connection` lacks the `upgrade` token. */
export type ConnectionNotUpgrade = Rejection<"ConnectionNotUpgrade", 400>
/** `Sec-WebSocket-Key` missing, repeated, or not base64 of 16 bytes. */
export type InvalidKey = Rejection<"InvalidKey", 400>
/** `Sec-WebSocket-Protocol` holds something other than a token list. */
export type InvalidProtocols = Rejection<"InvalidProtocols", 400>
/** `Sec-WebSocket-Version` is not 13: answered with 426 and `Sec-WebSocket-Version: 13`. */
export type UnsupportedWebSocketVersion = Rejection<"UnsupportedWebSocketVersion", 426>

/** Every reason `validateUpgradeRequest` refuses a request (RFC 6455 §4.2.1 order). */
export type UpgradeRejection =
  | MethodNotGet
  | HttpVersionNot11
  | MissingHost
  | UpgradeNotWebSocket
  | ConnectionNotUpgrade
  | InvalidKey
  | InvalidProtocols
  | UnsupportedWebSocketVersion

/** A valid upgrade request, reduced to what the server decides on. */
export interface UpgradeRequest {
  readonly _tag: "UpgradeRequest"
  readonly key: string
  /** Offered subprotocols in the client's order (empty when none). */
  readonly protocols: Array<string>
  readonly host: string
  readonly origin: string | undefined
  /** The request target (path plus query). */
  readonly target: string
  /** The `Sec-WebSocket-Extensions` values as sent (for `PerMessageDeflate.acceptOffer`). */
  readonly extensions: Array<string>
}

const reject = <Tag extends string, Status extends number>(
  _tag: Tag,
  status: Status,
  reason: string
): Rejection<Tag, Status> => ({ _tag, message: `WebSocket upgrade refused: ${reason}`, status, reason })

/** Splits comma-separated token lists (all lines); `undefined` if an element is not a token. */
const tokenList = (values: ReadonlyArray<string>): Array<string> | undefined => {
  const out: Array<string> = []
  for (const value of values) {
    for (const part of value.split(",")) {
      const token = part.trim()
      if (token === "") continue
      if (!isToken(token)) return undefined
      out.push(token)
    }
  }
  return out
}

/**
 * Validates a client's upgrade request (RFC 6455 §4.2.1): `GET`, HTTP/1.1, one `Host`,
 * `Upgrade: websocket`, `Connection: upgrade`, a valid key, version 13. A refusal carries the
 * status (400, or 426 for a wrong version) and reason to answer with via `rejectResponseHead`.
 *
 * @since 0.1.0
 */
export const validateUpgradeRequest = (
  request: HeaderSource & { readonly method: string; readonly version: string; readonly target: string }
): UpgradeRequest | UpgradeRejection => {
  if (request.method !== "GET") return reject("MethodNotGet", 400, `method ${request.method} is not GET`)
  if (request.version !== "1.1") return reject("HttpVersionNot11", 400, "HTTP/1.1 is required")
  const hosts = request.headerAll("host")
  if (hosts.length !== 1 || hosts[0] === "") return reject("MissingHost", 400, "exactly one Host header is required")
  if (!request.hasToken("upgrade", "websocket")) {
    return reject("UpgradeNotWebSocket", 400, "Upgrade header must be websocket")
  }
  if (!request.hasToken("connection", "upgrade")) {
    return reject("ConnectionNotUpgrade", 400, "Connection header must contain upgrade")
  }
  const keys = request.headerAll("sec-websocket-key")
  if (keys.length !== 1 || !isValidKey(keys[0]!)) {
    return reject("InvalidKey", 400, "Sec-WebSocket-Key must be base64 of 16 bytes")
  }
  const versions = request.headerAll("sec-websocket-version")
  if (versions.length !== 1 || versions[0] !== VERSION) {
    return reject("UnsupportedWebSocketVersion", 426, "Sec-WebSocket-Version must be 13")
  }
  const protocols = tokenList(request.headerAll("sec-websocket-protocol"))
  if (protocols === undefined) return reject("InvalidProtocols", 400, "Sec-WebSocket-Protocol must be a token list")
  return {
    _tag: "UpgradeRequest",
    key: keys[0]!,
    protocols,
    host: hosts[0]!,
    origin: request.header("origin"),
    target: request.target,
    extensions: request.headerAll("sec-websocket-extensions")
  }
}

/** A response head ready for `HttpWrite.writeResponse`, with its body (empty for 101). */
export interface ResponseHead {
  readonly _tag: "ResponseHead"
  readonly status: number
  readonly reason: string
  readonly headers: Array<[string, string]>
  readonly body: string
}

/**
 * The server's 101 answer: `Upgrade: websocket`, `Connection: Upgrade`, `Sec-WebSocket-Accept`,
 * `Sec-WebSocket-Protocol` when a protocol was chosen (pick one the client offered),
 * `Sec-WebSocket-Extensions` when compression was agreed (`PerMessageDeflate.acceptOffer`'s `header`),
 * then the extra headers. Returns `InvalidHandshakeInput` for a protocol or header name that is not a
 * token, or CR/LF/NUL in a header value.
 *
 * @since 0.1.0
 */
export const acceptResponseHead = (options: {
  readonly key: string
  readonly protocol?: string | undefined
  readonly headers?: Headers | undefined
  readonly extensions?: string | undefined
}): ResponseHead | InvalidHandshakeInput => {
  const headers: Array<[string, string]> = [
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Accept", acceptKey(options.key)]
  ]
  if (options.protocol !== undefined) {
    if (!isToken(options.protocol)) return notAToken("protocol", options.protocol)
    headers.push(["Sec-WebSocket-Protocol", options.protocol])
  }
  if (options.extensions !== undefined) headers.push(["Sec-WebSocket-Extensions", options.extensions])
  for (const [name, value] of options.headers ?? []) headers.push([name, value])
  const invalid = checkHeaders(headers)
  if (invalid !== undefined) return invalid
  return { _tag: "ResponseHead", status: 101, reason: "Switching Protocols", headers, body: "" }
}

/**
 * The refusal for `rejection`: its status (400 Bad Request or 426 Upgrade Required with
 * `Sec-WebSocket-Version: 13`), `Connection: close`, and the reason as a text body.
 *
 * @since 0.1.0
 */
export const rejectResponseHead = (rejection: UpgradeRejection): ResponseHead => {
  const headers: Array<[string, string]> = [["Connection", "close"], ["Content-Type", "text/plain"]]
  if (rejection.status === 426) headers.push(["Sec-WebSocket-Version", VERSION])
  return {
    _tag: "ResponseHead",
    status: rejection.status,
    reason: rejection.status === 426 ? "Upgrade Required" : "Bad Request",
    headers,
    body: rejection.reason
  }
}
