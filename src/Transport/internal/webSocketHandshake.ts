/**
 * The opening handshake drivers of a WebSocket (RFC 6455 §4): the client's (send the upgrade
 * request, validate the 101) and the server's (read the upgrade request, answer 101 or refuse),
 * over one shared loop that reads a head until its reader parses it. Each returns what the
 * stream is opened with — the agreed subprotocol, the upgrade request (server), and the bytes
 * that arrived behind the head, which belong to the frame reader. Deadlines are the caller's.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Handshake from "../../Codec/Handshake.ts"
import * as HttpWrite from "../../Codec/HttpWrite.ts"
import * as PerMessageDeflate from "../../Codec/PerMessageDeflate.ts"
import type { NeedMore } from "../../Codec/NeedMore.ts"
import * as ReadBuf from "../../Codec/ReadBuf.ts"
import * as RequestReader from "../../Codec/RequestReader.ts"
import * as ResponseReader from "../../Codec/ResponseReader.ts"
import type * as Url from "../../Codec/Url.ts"
import type { Transport } from "../Transport.ts"
import {
  fromTransport,
  HandshakeError,
  type HandshakeViolation,
  InvalidMessage,
  type WebSocketError,
  wsError
} from "./webSocketErrors.ts"
import { type AcceptOptions, compressionOf, type ConnectOverOptions, type UpgradeInfo } from "./webSocketOptions.ts"

/** What a handshake agreed: the stream is opened with it. */
export interface Agreed {
  /** The subprotocol both sides speak, if any. */
  readonly protocol: string | undefined
  /** The upgrade request (server role only). */
  readonly upgrade: UpgradeInfo | undefined
  /** Bytes that arrived behind the head (frames sent right after it). */
  readonly leftover: Uint8Array
  /** The agreed permessage-deflate parameters, when compression was negotiated. */
  readonly deflate: PerMessageDeflate.Agreed | undefined
}

const HANDSHAKE_READ_CAPACITY = 4096

const handshakeError = (address: string, violation: HandshakeViolation) => wsError(address, new HandshakeError({ violation }))

/** How the head loop can stop short of a parsed head: the peer's end, or a head too large. */
type HeadCut = Extract<HandshakeViolation, { readonly _tag: "UnexpectedEnd" | "HandshakeTooLarge" }>

const unexpectedEnd: HeadCut = { _tag: "UnexpectedEnd", message: "the peer ended the stream during the handshake" }

const tooLarge = (what: string): HeadCut => ({ _tag: "HandshakeTooLarge", message: `the ${what} head is too large` })

const headerList = (headers: ConnectOverOptions["headers"]): Handshake.Headers | undefined =>
  headers === undefined ? undefined : Array.isArray(headers) ? headers as Handshake.Headers :
  Object.entries(headers as Readonly<Record<string, string>>)

/** The part of `RequestReader` and `ResponseReader` the head loop drives. */
interface HeadReader<R> {
  next(): R | NeedMore
  feed(chunk: Uint8Array): boolean
  endOfInput(): void
}

/**
 * Reads from `transport` until `reader` returns something other than `NeedMore` (a head or a
 * violation), and returns it; or `unexpectedEnd` when the peer ends the stream first (the
 * reader was told, so it may name the cut itself), or `tooLarge` when the head outgrows the
 * reader's buffer.
 */
const readHead = <R extends { readonly _tag: string }>(
  transport: Transport,
  reader: HeadReader<R>,
  what: "request" | "response"
): Effect.Effect<Exclude<R, NeedMore> | HeadCut, WebSocketError> =>
  Effect.gen(function*() {
    const buf = ReadBuf.make({ capacity: HANDSHAKE_READ_CAPACITY })
    while (true) {
      const result = reader.next()
      if (result._tag !== "NeedMore") return result as Exclude<R, NeedMore>
      buf.clear()
      const n = yield* Effect.mapError(transport.read(buf), fromTransport)
      if (n === 0) {
        reader.endOfInput()
        return unexpectedEnd
      }
      if (!reader.feed(buf.data())) return tooLarge(what)
    }
  })

/**
 * The client side: sends the upgrade request for `url` (host, path and query), reads the
 * answer and validates the 101 (RFC 6455 §4.1). A refused upgrade half-closes the transport.
 */
export const client = (
  transport: Transport,
  url: Url.ParsedUrl,
  options: ConnectOverOptions
): Effect.Effect<Agreed, WebSocketError> =>
  Effect.gen(function*() {
    const address = transport.remoteAddress
    const key = Handshake.generateKey()
    const compression = compressionOf(options.compression)
    const head = Handshake.upgradeRequestHead({
      extensions: compression === undefined ? undefined : PerMessageDeflate.offerHeader(compression),
      host: url.hostHeader,
      pathAndQuery: url.pathAndQuery,
      key,
      protocols: options.protocols,
      origin: options.origin,
      headers: headerList(options.headers)
    })
    if (head._tag === "InvalidHandshakeInput") {
      return yield* Effect.fail(wsError(address, new InvalidMessage({ detail: head.message })))
    }
    const request = HttpWrite.encodeRequest(head)
    if (!(request instanceof Uint8Array)) {
      return yield* Effect.fail(wsError(address, new InvalidMessage({ detail: request.message })))
    }
    yield* Effect.mapError(transport.write(request), fromTransport)
    const responses = ResponseReader.make()
    responses.expect("GET")
    const result = yield* readHead(transport, responses, "response")
    if (result._tag === "UnexpectedEnd") {
      // the reader knows how much of the head it had (`UnexpectedEndOfInput`)
      const after = responses.next()
      return yield* Effect.fail(handshakeError(address, after._tag === "NeedMore" || after._tag === "Response" ? unexpectedEnd : after))
    }
    if (result._tag !== "Response") return yield* Effect.fail(handshakeError(address, result))
    const verdict = Handshake.validateResponse(result, { key, protocols: options.protocols, deflate: compression })
    if (verdict._tag !== "Accepted") {
      yield* transport.end()
      return yield* Effect.fail(handshakeError(address, verdict))
    }
    return { protocol: verdict.protocol, upgrade: undefined, leftover: responses.takeLeftover(), deflate: verdict.deflate }
  })

/** Answers `status` with a plain-text `body` and `Connection: close`, then half-closes. */
const refuse = (transport: Transport, status: number, body: string) =>
  Effect.gen(function*() {
    const bytes = HttpWrite.encodeResponse({
      status,
      headers: [["Connection", "close"], ["Content-Type", "text/plain"]]
    }, body)
    if (bytes instanceof Uint8Array) yield* Effect.ignore(transport.write(bytes))
    yield* transport.end()
  })

/**
 * The server side: reads the upgrade request, checks it (RFC 6455 §4.2.1) and the caller's
 * `verify`, answers 101 with the first of `options.protocols` the client offered — or refuses
 * (the parser's 4xx/5xx, the check's 400 / 426, `verify`'s status), half-closes and fails.
 */
export const server = (transport: Transport, options: AcceptOptions): Effect.Effect<Agreed, WebSocketError> =>
  Effect.gen(function*() {
    const address = transport.remoteAddress
    const maxHead = options.maxHandshakeBytes
    // an upgrade request has no body; the buffer holds the head plus one read of what follows it
    const requests = maxHead === undefined ? RequestReader.make() : RequestReader.make({
      bufferCapacity: Math.min(HANDSHAKE_READ_CAPACITY, maxHead),
      maxHeadBytes: maxHead,
      maxBodySize: 0,
      maxBufferCapacity: maxHead + HANDSHAKE_READ_CAPACITY
    })
    const result = yield* readHead(transport, requests, "request")
    if (result._tag === "UnexpectedEnd") return yield* Effect.fail(handshakeError(address, unexpectedEnd))
    if (result._tag === "HandshakeTooLarge") {
      yield* refuse(transport, 431, "request head too large")
      return yield* Effect.fail(handshakeError(address, result))
    }
    if (result._tag !== "Request") {
      yield* refuse(transport, RequestReader.statusFor(result), result.message)
      return yield* Effect.fail(handshakeError(address, result))
    }
    const verdict = Handshake.validateUpgradeRequest(result)
    if (verdict._tag !== "UpgradeRequest") {
      const head = Handshake.rejectResponseHead(verdict)
      const bytes = HttpWrite.encodeResponse(head, head.body)
      if (bytes instanceof Uint8Array) yield* Effect.ignore(transport.write(bytes))
      yield* transport.end()
      return yield* Effect.fail(handshakeError(address, verdict))
    }
    const upgrade: UpgradeInfo = {
      target: verdict.target,
      headers: result.headers(),
      protocols: verdict.protocols,
      origin: verdict.origin
    }
    const picked = options.selectProtocol === undefined
      ? (options.protocols ?? []).find((p) => verdict.protocols.includes(p))
      : options.selectProtocol(verdict.protocols, upgrade)
    // the 101 may only name a protocol the client offered (RFC 6455 §4.2.2)
    const protocol = picked !== undefined && verdict.protocols.includes(picked) ? picked : undefined
    const refusal = options.verify?.(upgrade)
    if (refusal !== undefined) {
      yield* refuse(transport, refusal.status, refusal.reason)
      return yield* Effect.fail(handshakeError(address, {
        _tag: "RefusedByServer",
        status: refusal.status,
        message: `refused by the server's verify with ${refusal.status}: ${refusal.reason}`
      }))
    }
    const compression = compressionOf(options.compression)
    const offer = compression === undefined ? undefined : PerMessageDeflate.acceptOffer(verdict.extensions, compression)
    if (offer !== undefined && offer._tag === "InvalidExtensions") {
      yield* refuse(transport, 400, offer.message)
      return yield* Effect.fail(handshakeError(address, offer))
    }
    const deflate = offer?.agreed
    const accepted = Handshake.acceptResponseHead({
      key: verdict.key,
      protocol,
      headers: options.headers,
      extensions: offer?.header
    })
    if (accepted._tag === "InvalidHandshakeInput") {
      return yield* Effect.fail(wsError(address, new InvalidMessage({ detail: accepted.message })))
    }
    const response = HttpWrite.encodeResponse(accepted)
    if (!(response instanceof Uint8Array)) {
      return yield* Effect.fail(wsError(address, new InvalidMessage({ detail: response.message })))
    }
    const leftover = requests.takeLeftover()
    yield* Effect.mapError(transport.write(response), fromTransport)
    return { protocol, upgrade, leftover, deflate }
  })
