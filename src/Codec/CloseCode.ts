/**
 * WebSocket close status codes (RFC 6455 §7.4) and the rule for which ones may appear on the
 * wire.
 *
 * @since 0.1.0
 */

/**
 * The registered close codes by name.
 *
 * @since 0.1.0
 */
export const CloseCode = {
  /** 1000: the purpose of the connection has been fulfilled. */
  Normal: 1000,
  /** 1001: an endpoint is going away (server shutdown, page navigation). */
  GoingAway: 1001,
  /** 1002: the peer violated the protocol. */
  ProtocolError: 1002,
  /** 1003: the endpoint cannot accept this data type. */
  UnsupportedData: 1003,
  /** 1005: reserved; means "no status code was present" and is never sent. */
  NoStatus: 1005,
  /** 1006: reserved; means "closed abnormally, no close frame" and is never sent. */
  Abnormal: 1006,
  /** 1007: a message's data was inconsistent with its type (invalid UTF-8 in text). */
  InvalidPayload: 1007,
  /** 1008: a message violated the endpoint's policy. */
  PolicyViolation: 1008,
  /** 1009: a message was too big to process. */
  MessageTooBig: 1009,
  /** 1010: the client expected an extension the server did not negotiate. */
  MandatoryExtension: 1010,
  /** 1011: the server met an unexpected condition. */
  InternalError: 1011,
  /** 1012: the service is restarting. */
  ServiceRestart: 1012,
  /** 1013: try again later. */
  TryAgainLater: 1013,
  /** 1014: a gateway received an invalid response upstream. */
  BadGateway: 1014
} as const

/** A close status code: one of {@link CloseCode} or an application code (3000–4999). */
export type CloseCode = number

/**
 * Whether `code` may be sent in (or accepted from) a close frame: 1000–1003, 1007–1014 and the
 * registered/private ranges 3000–4999. Rejects 0–999, 1004–1006, 1015, 1016–2999 and ≥ 5000.
 *
 * @since 0.1.0
 */
export const isValidOnWire = (code: number): boolean =>
  (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)
