/**
 * `Feed` — a WebSocket market-data feed kept alive by the {@link Supervisor}: dial (or dial over
 * a transport you provide), authenticate, subscribe, hand every text and binary message to the
 * handler, and on any failure reconnect with backoff and subscribe again.
 *
 * Messages reach `onMessage` through the stream's push loop (`WebSocket.run`): every message
 * already buffered is handed over in the same Effect step when the handler returns nothing, with
 * a yield after the stream's `maxBatch` (default 1024) for fairness; a handler that returns an
 * Effect is waited for before the next message. Messages are the stream's zero-copy views (valid
 * until the handler returns, or its Effect ends; copy with `FrameReader.toOwned` what you keep). Pings are answered by the stream (`autoPong`)
 * and, like pongs, not shown to the handler. A close from the server ends the session cleanly
 * and the feed reconnects, because a feed is meant to run until stopped; the backoff restarts
 * only if the session lived `minSessionLifetime` (default 5 s), so a server that accepts and
 * closes at once is redialled along the schedule. A close with 1012 (Service Restart) or 1013
 * (Try Again Later) is not a clean end but a failed session ({@link TryAgainLater}): backed off.
 * For a dead peer that keeps the TCP connection open, set `heartbeat` in `socket` options.
 *
 * Subscriptions are values of any type; `subscribe(ws, subs)` turns them into frames (one JSON
 * message per batch, say). The registry, gap reporting, renewal and state are the Supervisor's.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { CloseCode } from "../Codec/CloseCode.ts"
import type * as FrameReader from "../Codec/FrameReader.ts"
import type * as Dial from "../Transport/Dial.ts"
import type { Transport } from "../Transport/Transport.ts"
import * as WebSocket from "../Transport/WebSocket.ts"
import * as Supervisor from "./Supervisor.ts"

/**
 * Options of {@link make}: where to connect, what to send, how to handle messages, and the
 * Supervisor's timing options; with either `WebSocket.connect`'s options or a `dial` of your own
 * ({@link Connection}).
 *
 * @since 0.1.0
 * @category models
 */
export type Options<Sub, EH, R> =
  & Supervisor.Handlers<WebSocket.WebSocket, FrameReader.Text | FrameReader.Binary, Sub, WebSocket.WebSocketError, EH, R>
  & {
    /** `ws://` or `wss://` URL of the feed. */
    readonly url: string
  }
  & Connection<R>

/**
 * How each connection is made: `WebSocket.connect(url, socket)` with every connection option
 * (headers such as API keys, TLS, a proxy, heartbeat, limits), or a transport you dial yourself
 * (an in-memory pair in tests, a custom transport) with the handshake run over it by
 * `connectOver`. With a `dial`, a dial option in `socket` (`tls`, `proxy`, `noDelay`, …) would do
 * nothing, so the type rejects it: `socket` is then `WebSocket.ConnectOverOptions` only. The
 * connect effect is built once, so every reconnect dials with the same `TlsConfig` and resumes.
 *
 * @since 0.1.0
 * @category models
 */
export type Connection<R> = Connect | CustomDial<R>

/**
 * {@link Connection} through `WebSocket.connect(url, socket)`, with every connection option.
 *
 * @since 0.1.0
 * @category models
 */
export interface Connect {
  /** Options of every connection. Default none. */
  readonly socket?: WebSocket.ConnectOptions | undefined
  /** Absent: every connection is `WebSocket.connect(url, socket)`. */
  readonly dial?: undefined
}

/**
 * {@link Connection} over a transport `dial` opens, with the handshake and stream options only.
 *
 * @since 0.1.0
 * @category models
 */
export interface CustomDial<R> {
  /** The handshake and stream options of every connection. Default none. */
  readonly socket?: (WebSocket.ConnectOverOptions & NoDialOptions) | undefined
  /** Dials the transport the handshake runs over. */
  readonly dial: Effect.Effect<Transport, WebSocket.WebSocketError, Scope.Scope | R>
}

/**
 * Every `WebSocket.DialOptions` key as `never`: what `socket` may not hold beside a custom `dial`.
 *
 * @since 0.1.0
 * @category models
 */
export type NoDialOptions = Dial.NoneOf<WebSocket.DialOptions>

/**
 * The server closed the feed with 1012 (Service Restart) or 1013 (Try Again Later): it asks to
 * be left alone for a while, so the session ends as a failure — reported to `onGap` as its
 * `error` and backed off like a dropped connection — rather than as a clean close.
 *
 * @since 0.1.0
 * @category errors
 */
export class TryAgainLater extends Data.TaggedError("TryAgainLater")<{
  /** The server's address, as the stream names it. */
  readonly address: string
  /** 1012 or 1013. */
  readonly code: number
  /** The close reason the server sent (often empty); named as in `WebSocket.WebSocketClosed`. */
  readonly closeReason: string
}> {
  override get message(): string {
    const name = this.code === CloseCode.ServiceRestart ? "Service Restart" : "Try Again Later"
    const reason = this.closeReason === "" ? "" : `, ${JSON.stringify(this.closeReason)}`
    return `WebSocket ${this.address}: the server closed the feed with ${this.code} (${name}${reason})`
  }
}

/** A close with 1012 or 1013 asks us to come back later: a failed session, not a clean end. */
const isTryAgainLater = (code: number): boolean => code === CloseCode.TryAgainLater || code === CloseCode.ServiceRestart

/**
 * The feed's push loop: text and binary messages go to `handler`; pings (already answered) and
 * pongs are not the handler's business; a close from the peer ends the session, a clean one
 * unless it asks us to come back later (1012, 1013).
 */
const run = <X>(
  ws: WebSocket.WebSocket,
  handler: (message: FrameReader.Text | FrameReader.Binary) => Effect.Effect<void, X> | void
): Effect.Effect<void, WebSocket.WebSocketError | TryAgainLater | X> => {
  let closeCode = 0
  let closeReason = ""
  const loop = WebSocket.run(ws, (message) => {
    switch (message._tag) {
      case "Text":
      case "Binary":
        return handler(message)
      case "Close":
        // the view's fields are read now: the close ends the loop
        closeCode = message.code
        closeReason = message.reason
    }
  })
  return Effect.flatMap(loop, () =>
    // issue #9: a server shedding load closes at once with 1013; a clean end would restart
    // the backoff and redial it every 100 ms
    isTryAgainLater(closeCode)
      ? Effect.fail(new TryAgainLater({ address: ws.remoteAddress, code: closeCode, closeReason }))
      : Effect.void)
}

/**
 * Starts a feed in the current scope; closing the scope stops it and closes the connection.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <Sub, EH, R>(
  options: Options<Sub, EH, R>
): Effect.Effect<Supervisor.Supervisor<Sub, EH>, never, R | Scope.Scope> => {
  const { dial, socket, url, ...rest } = options
  const connect = dial === undefined
    ? WebSocket.connect(url, socket)
    : Effect.flatMap(dial, (transport) => WebSocket.connectOver(transport, url, socket))
  return Supervisor.make<WebSocket.WebSocket, FrameReader.Text | FrameReader.Binary, Sub, WebSocket.WebSocketError | TryAgainLater, EH, R>({
    ...rest,
    connect,
    run
  })
}

/**
 * A `subscribe` for the common JSON protocol: sends `{ method, params: subs, id }` as one text
 * message (`SUBSCRIBE`/`UNSUBSCRIBE` as Binance spells them). Use it for `subscribe` and
 * `unsubscribe` or write your own.
 *
 * @since 0.1.0
 * @category helpers
 */
export const jsonRpcSubscribe = (method: string) => {
  let id = 0
  return (ws: WebSocket.WebSocket, subs: ReadonlyArray<string>): Effect.Effect<void, WebSocket.WebSocketError> =>
    ws.sendText(JSON.stringify({ method, params: subs, id: ++id }))
}
