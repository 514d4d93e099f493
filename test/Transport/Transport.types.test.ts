/**
 * A server socket's fault (`ListenError`) is the listener's alone: `TransportError` is generic in
 * its reason, a dial and a stream fail with `TransportError<TransportErrorReason>` (the default),
 * `Listener.listen` with `TransportError<ListenError>`. So no client-side error type admits a
 * `ListenError`, and a dial's error maps into `HttpError`/`WebSocketError` without a cast. Every
 * `@ts-expect-error` is checked by `tsc --noEmit` (part of `npm test`): if `ListenError` ever
 * rejoins a client-side reason union, the unused directive fails the type check.
 */
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import type * as Effect from "effect/Effect"
import type * as Dial from "../../src/Transport/Dial.ts"
import type * as HttpConnection from "../../src/Transport/HttpConnection.ts"
import type * as HttpServe from "../../src/Transport/HttpServe.ts"
import type * as Listener from "../../src/Transport/Listener.ts"
import type { Transport } from "../../src/Transport/Transport.ts"
import { ListenError, TransportError, transportError, type TransportErrorReason } from "../../src/Transport/Transport.ts"
import type * as WebSocket from "../../src/Transport/WebSocket.ts"
import type * as WebSocketServer from "../../src/Transport/WebSocketServer.ts"

type ErrorOf<F extends (...args: ReadonlyArray<never>) => Effect.Effect<unknown, unknown, unknown>> = Effect.Error<ReturnType<F>>

const listenError = new ListenError({ operation: "listen", kind: "AddressInUse" })

// Compile-time only: never called.
const forbidden = (): void => {
  // @ts-expect-error a WebSocket client never meets a server socket's fault
  const ws: WebSocket.WebSocketErrorReason = listenError
  // @ts-expect-error nor does an HTTP connection
  const http: HttpConnection.HttpErrorReason = listenError
  // @ts-expect-error nor a dial
  const dial: ErrorOf<typeof Dial.connect>["reason"] = listenError
  // @ts-expect-error nor a transport's read
  const read: Effect.Error<ReturnType<Transport["read"]>>["reason"] = listenError
  // @ts-expect-error a listener's error is not a dial's, so it cannot pass for one
  const asDial: TransportError = transportError("127.0.0.1:1", listenError)
  void [ws, http, dial, read, asDial]
}

describe("TransportError's reason by operation", () => {
  it("a dial, a stream and the client connects carry dial and stream reasons only", () => {
    expectTypeOf<ErrorOf<typeof Dial.connect>>().toEqualTypeOf<TransportError<TransportErrorReason>>()
    expectTypeOf<ErrorOf<typeof HttpConnection.connect>>().toEqualTypeOf<HttpConnection.HttpError>()
    expectTypeOf<ErrorOf<typeof WebSocket.connect>>().toEqualTypeOf<WebSocket.WebSocketError>()
    expectTypeOf<Extract<WebSocket.WebSocketErrorReason, { readonly _tag: "ListenError" }>>().toEqualTypeOf<never>()
    expectTypeOf<Extract<HttpConnection.HttpErrorReason, { readonly _tag: "ListenError" }>>().toEqualTypeOf<never>()
  })

  it("the servers fail with the listener's own reason, under the same wrapper", () => {
    expectTypeOf<ErrorOf<typeof Listener.listen>>().toEqualTypeOf<TransportError<ListenError>>()
    expectTypeOf<ErrorOf<typeof WebSocketServer.serve>>().toEqualTypeOf<Listener.ListenFailure>()
    expectTypeOf<ErrorOf<typeof HttpServe.listen>>().toEqualTypeOf<Listener.ListenFailure>()
    const error = transportError("127.0.0.1:9001", listenError)
    expectTypeOf(error).toEqualTypeOf<TransportError<ListenError>>()
    assert.instanceOf(error, TransportError)
    assert.strictEqual(error._tag, "TransportError")
    assert.strictEqual(error.reason, listenError)
    assert.strictEqual(error.message, "transport 127.0.0.1:9001: listen failed: address already in use")
    void forbidden
  })
})
