/**
 * `HttpServe` — the server side of HTTP/1.1 over any accepted `Transport`: a keep-alive loop
 * that parses each request with `RequestReader`, hands an owned copy to a handler, and writes
 * the handler's answer with `HttpWrite.writeResponse` and a `Content-Length`.
 *
 * Rules:
 * - One request at a time per connection, answered in order; pipelined requests already
 *   buffered are parsed after the answer to the one before (RFC 9112 §9.3.2).
 * - A malformed request (any `RequestReader` violation) destroys the connection without an
 *   answer; the client closing its side ends the loop after the last answer, and so does a
 *   request with `Connection: close` (or HTTP/1.0 without keep-alive): its answer is the last,
 *   then our side is ended (RFC 9112 §9.6).
 * - A `HEAD` request gets the handler's head with the `Content-Length` of its body, and no body.
 * - Transport failures end the loop quietly: `serve` never fails. A response the codec refuses
 *   to write (a CR/LF in a header, an invalid token) is the handler's bug and dies with the
 *   codec's message.
 * - The response buffer starts at 16 KiB and grows to fit the largest response; each write
 *   hands the transport a fresh copy, since a socket may hold the bytes after `write` returns.
 *
 * `listen(handler, options)` serves it on a `Listener` (each connection in its own fiber,
 * tagged with its accept order from 1): the demo exchange's REST endpoint. `serve` alone runs
 * over any transport — the scripted origin of `effect-nexus/testing` over `Memory` pairs.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as HttpWrite from "../Codec/HttpWrite.ts"
import * as RequestReader from "../Codec/RequestReader.ts"
import * as Listener from "./Listener.ts"
import type { Transport } from "./Transport.ts"

/**
 * A request as the handler sees it: owned copies, valid after the next request is parsed.
 *
 * @since 0.1.0
 * @category models
 */
export interface Request {
  readonly method: string
  readonly target: string
  /** Header fields in wire order. */
  readonly headers: ReadonlyArray<[string, string]>
  /** The body decoded as UTF-8 (de-chunked when it came chunked); `""` when there is none. */
  readonly body: string
  /** The same body's bytes as they came (de-chunked), for a body that is not text; an owned copy. */
  readonly bodyBytes: Uint8Array
  /** The `connection` option of {@link serve} (default 0): which connection it came on. */
  readonly connection: number
}

/**
 * What the handler answers; `Content-Length` is added from `body` (default `""`): text, sent as
 * UTF-8, or bytes, sent as they are.
 *
 * @since 0.1.0
 * @category models
 */
export interface Response {
  readonly status: number
  readonly headers?: ReadonlyArray<readonly [string, string]> | undefined
  readonly body?: string | Uint8Array | undefined
}

/**
 * Answers a request; may sleep on the `Clock` (a slow server) or never return (a black hole).
 *
 * @since 0.1.0
 * @category models
 */
export type Handler = (request: Request) => Effect.Effect<Response>

/**
 * Options of {@link serve}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Tags every request of this connection (`Request.connection`). Default 0. */
  readonly connection?: number | undefined
  /** Sees every parsed request before the handler (a request log). Default none. */
  readonly onRequest?: ((request: Request) => void) | undefined
}

/**
 * The response buffer's first size; it grows to fit a larger response.
 *
 * @since 0.1.0
 * @category defaults
 */
export const INITIAL_RESPONSE_BUFFER = 16 * 1024

const encoder = new TextEncoder()

const NO_BODY = new Uint8Array(0)

/**
 * Serves HTTP/1.1 on one connected transport until the client closes it or sends a malformed
 * request (see the module doc). Never fails; dies only when the handler's response cannot be
 * written.
 *
 * @since 0.1.0
 * @category servers
 */
export const serve = (transport: Transport, handler: Handler, options: Options = {}): Effect.Effect<void> =>
  Effect.gen(function*() {
    const reader = RequestReader.make()
    let out = Buffer.alloc(INITIAL_RESPONSE_BUFFER)
    for (;;) {
      const result = reader.next()
      if (result._tag === "NeedMore") {
        const n = yield* transport.read(reader.readBuf)
        if (n === 0) return
        continue
      }
      if (result._tag !== "Request") return yield* transport.destroy()
      const keepAlive = result.keepAlive
      const request: Request = {
        method: result.method,
        target: result.target,
        headers: result.headers(),
        body: result.bodyText(),
        bodyBytes: result.copyBody(),
        connection: options.connection ?? 0
      }
      options.onRequest?.(request)
      const response = yield* handler(request)
      const body = typeof response.body === "object" ? response.body : encoder.encode(response.body ?? "")
      const head = {
        status: response.status,
        headers: [...(response.headers ?? []), ["Content-Length", String(body.length)] as const]
      }
      // a HEAD answer is the GET's head without its content (RFC 9110 §9.3.2)
      const content = request.method === "HEAD" ? NO_BODY : body
      const need = HttpWrite.responseLength(head, content)
      if (need > out.length) out = Buffer.alloc(need)
      const length = HttpWrite.writeResponse(out, 0, head, content)
      if (typeof length !== "number") {
        return yield* Effect.die(
          new Error(`HttpServe.serve: the handler's ${response.status} response cannot be written: ${length.message}`)
        )
      }
      // a fresh copy: the socket may hold the bytes after write returns
      yield* transport.write(Buffer.from(out.subarray(0, length)))
      // `Connection: close`, or HTTP/1.0 without keep-alive: the last answer (RFC 9112 §9.6)
      if (!keepAlive) return yield* transport.end()
    }
  }).pipe(Effect.ignore)

/**
 * Listens (see `Listener.listen` for the options, limits and shutdown) and serves HTTP/1.1 on
 * every accepted connection; `Request.connection` counts connections from 1 in accept order.
 *
 * @since 0.1.0
 * @category servers
 */
export const listen = (
  handler: Handler,
  options: Listener.Options & Omit<Options, "connection"> = {}
): Effect.Effect<Listener.Listener, Listener.ListenFailure, Scope.Scope> =>
  Effect.suspend(() => {
    let connections = 0
    return Listener.listen((transport) => serve(transport, handler, { ...options, connection: ++connections }), options)
  })
