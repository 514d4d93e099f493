/**
 * The WebSocket error vocabulary: one wrapper, `WebSocketError { address, reason }`, and the
 * reasons this subsystem adds to the transport's own. `WebSocket.ts` re-exports every name here;
 * the stream, the sender and the handshake drivers build their failures with `wsError` and
 * `fromTransport`.
 *
 * @internal
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import type * as FrameReader from "../../Codec/FrameReader.ts"
import type * as Handshake from "../../Codec/Handshake.ts"
import type * as RequestReader from "../../Codec/RequestReader.ts"
import type * as ResponseReader from "../../Codec/ResponseReader.ts"
import type { ConnectionPoisoned, InvalidUrl, TransportError, TransportErrorReason } from "../Transport.ts"

/**
 * Why an opening handshake failed: the 101 check (`Handshake.ResponseViolation`), the upgrade
 * request check (`Handshake.UpgradeRejection`), an HTTP head the readers refused, a head larger
 * than the reader allows (`HandshakeTooLarge`), or the peer ending the stream (`UnexpectedEnd`).
 *
 * @since 0.1.0
 * @category errors
 */
export type HandshakeViolation =
  | Handshake.ResponseViolation
  | Handshake.UpgradeRejection
  | ResponseReader.ResponseViolation
  | RequestReader.RequestViolation
  | { readonly _tag: "HandshakeTooLarge"; readonly message: string }
  | { readonly _tag: "RefusedByServer"; readonly status: number; readonly message: string }
  | { readonly _tag: "UnexpectedEnd"; readonly message: string }

/**
 * The peer broke RFC 6455; `closeCode` (1002, 1007 or 1009) was sent to it before failing.
 *
 * @since 0.1.0
 * @category errors
 */
export class WebSocketProtocolError extends Data.TaggedError("WebSocketProtocolError")<{
  readonly violation: FrameReader.FrameViolation
  readonly closeCode: number
}> {
  override get message(): string {
    return `protocol violation by the peer: ${this.violation.message} (sent close ${this.closeCode})`
  }
}

/**
 * The opening handshake failed: the server's answer (`ResponseViolation`, or an unparseable
 * HTTP head), or — on the server side — the client's upgrade request (`UpgradeRejection`, already
 * answered with its 400/426 status), or the peer ended the stream mid-handshake.
 *
 * @since 0.1.0
 * @category errors
 */
export class HandshakeError extends Data.TaggedError("HandshakeError")<{
  readonly violation: HandshakeViolation
}> {
  override get message(): string {
    return `handshake failed: ${this.violation.message}`
  }
}

/**
 * The operation needs an open stream, but it is closed: the closing handshake finished (`by`
 * says who started it, `code` and `closeReason` are the close frame's), or the stream failed
 * earlier.
 *
 * @since 0.1.0
 * @category errors
 */
export class WebSocketClosed extends Data.TaggedError("WebSocketClosed")<{
  readonly operation: "recv" | "send"
  readonly code: number
  readonly closeReason: string
  readonly by: "local" | "peer"
}> {
  override get message(): string {
    return `${this.operation} after the stream was closed by the ${this.by} side (code ${this.code}${
      this.closeReason === "" ? "" : `, ${JSON.stringify(this.closeReason)}`
    })`
  }
}

/**
 * Something took too long: the connect (dial plus handshake), a read (`readTimeout`), the
 * closing handshake (`closeTimeout`), or the heartbeat saw no byte for its `timeout`.
 *
 * @since 0.1.0
 * @category errors
 */
export class WebSocketTimeout extends Data.TaggedError("WebSocketTimeout")<{
  readonly operation: "connect" | "handshake" | "read" | "close" | "heartbeat"
  readonly after: Duration.Duration
}> {
  override get message(): string {
    return `${this.operation} timed out after ${Duration.format(this.after)}`
  }
}

/**
 * The stream ended (TCP EOF) without a close frame — close code 1006 in RFC terms. `midMessage`
 * says whether a frame or fragmented message was cut short.
 *
 * @since 0.1.0
 * @category errors
 */
export class AbnormalClosure extends Data.TaggedError("AbnormalClosure")<{
  readonly midMessage: boolean
}> {
  override get message(): string {
    return `the peer ended the connection without a close frame${this.midMessage ? " in the middle of a message" : ""} (1006)`
  }
}

/**
 * A send was interrupted before the transport took all of its bytes, so the stream may hold a
 * partial frame; it is the `cause` of the `ConnectionPoisoned` every later send fails with.
 *
 * @since 0.1.0
 * @category errors
 */
export class WriteInterrupted extends Data.TaggedError("WriteInterrupted")<{}> {
  override get message(): string {
    return "a send was interrupted before the transport took the whole frame"
  }
}

/**
 * The message cannot be sent as asked: a control payload over 125 bytes, a close code that may
 * not be sent, or a header the handshake refuses. Nothing was written.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidMessage extends Data.TaggedError("InvalidMessage")<{
  readonly detail: string
}> {
  override get message(): string {
    return `invalid message: ${this.detail}`
  }
}

/**
 * Every reason a `WebSocketError` carries: this module's own, the shared `ConnectionPoisoned`
 * (a send after an earlier write failed; its `cause` is that first failure, itself one of
 * these reasons) and `InvalidUrl` (not a
 * `ws:`/`wss:` URL this client can dial), and the transport's reasons directly (dial, TLS, read,
 * write, use after a local destroy).
 *
 * @since 0.1.0
 * @category errors
 */
export type WebSocketErrorReason =
  | WebSocketProtocolError
  | HandshakeError
  | WebSocketClosed
  | WebSocketTimeout
  | AbnormalClosure
  | ConnectionPoisoned
  | WriteInterrupted
  | InvalidMessage
  | InvalidUrl
  | TransportErrorReason

/**
 * The one error of this module: what failed (`reason`) and with whom (`address`: `host:port`,
 * or the redacted URL when it could not be dialed). Its message names the address once, then the
 * reason's message: `WebSocket 127.0.0.1:9001: read timed out after 5s`.
 *
 * @since 0.1.0
 * @category errors
 */
export class WebSocketError extends Data.TaggedError("WebSocketError")<{
  readonly address: string
  readonly reason: WebSocketErrorReason
}> {
  override get message(): string {
    return `WebSocket ${this.address}: ${this.reason.message}`
  }
}

/** A `WebSocketError` with `address` and `reason`. */
export const wsError = (address: string, reason: WebSocketErrorReason): WebSocketError =>
  new WebSocketError({ address, reason })

/** The `WebSocketError` for a transport failure: its reason, under the WebSocket wrapper. */
export const fromTransport = (error: TransportError): WebSocketError =>
  new WebSocketError({ address: error.address, reason: error.reason })
