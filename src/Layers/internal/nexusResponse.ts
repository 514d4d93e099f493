/**
 * The `HttpClientResponse` of `NexusHttpClient`: status and headers copied off the wire, and a
 * body that is either an owned copy read whole (the connection already back in its pool) or a
 * {@link PendingBody} still on its connection, read as the consumer pulls.
 *
 * Rules of a pending body:
 * - `stream` pulls it chunk by chunk (each chunk an owned copy; memory is the slot's reader
 *   buffer plus the chunk in hand), at most once; `text`, `json`, `arrayBuffer`, `urlParamsBody`
 *   and `formData` collect it once (up to `maxBodySize`, else a `DecodeError`) and share the result.
 * - The connection goes back to its pool when the body ends. Given up before its end — the
 *   stream interrupted or ended early, the request's scope closed (`HttpClient.withScope`), the
 *   response garbage-collected (Effect's client aborts the request's signal then) — the
 *   connection is poisoned (`HttpConnection.abandon`) and the pool heals the slot.
 * - A failure while reading the body is a `DecodeError` whose `cause` is the connection's
 *   `HttpError` (`requestSent` and all), as Effect's undici client reports body faults.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Inspectable from "effect/Inspectable"
import * as Option from "effect/Option"
import { pipeArguments } from "effect/Pipeable"
import type * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import type * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import * as Cause from "effect/Cause"
import * as Cookies from "effect/http/Cookies"
import * as Headers from "effect/http/Headers"
import * as HttpClientError from "effect/http/HttpClientError"
import type * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as HttpIncomingMessage from "effect/http/HttpIncomingMessage"
import * as UrlParams from "effect/http/UrlParams"
import type { Response } from "../../Codec/ResponseReader.ts"
import * as HttpConnection from "../../Transport/HttpConnection.ts"

/** Why a pending body could not be read: the connection's error, or the body past `maxBodySize`. */
type BodyFault = HttpConnection.HttpError | { readonly _tag: "BodyTooLarge"; readonly message: string }

/**
 * A response body still on its connection, which stays leased (in `lease`) until the body ends
 * or is given up. It holds no reference to the response, so that Effect's client can abort a
 * garbage-collected response's signal and reach this through the listener.
 */
export class PendingBody {
  private readonly connection: HttpConnection.HttpConnection
  private readonly lease: Scope.Closeable
  private readonly releaseOrigin: () => void
  private readonly run: (effect: Effect.Effect<void>) => unknown
  private readonly maxBodySize: number
  /** Whether the lease was given back (the body ended, failed or was given up). */
  private finished: boolean
  /** Whether the body was read to its end (not given up before it). */
  private ended: boolean
  /** Whether a consumer took the body (`stream`, or a collecting accessor). */
  taken: boolean
  /** The whole body, once collected; shared by every collecting accessor. */
  readonly collected: Effect.Effect<Uint8Array, BodyFault>
  /** Gives the body up from outside a fiber (the request's abort signal). */
  readonly onAbort: () => void

  constructor(
    connection: HttpConnection.HttpConnection,
    lease: Scope.Closeable,
    releaseOrigin: () => void,
    run: (effect: Effect.Effect<void>) => unknown,
    maxBodySize: number
  ) {
    this.connection = connection
    this.lease = lease
    this.releaseOrigin = releaseOrigin
    this.run = run
    this.maxBodySize = maxBodySize
    this.finished = false
    this.ended = false
    this.taken = false
    this.collected = Effect.runSync(Effect.cached(Effect.suspend(() => this.collect())))
    this.onAbort = () => void this.run(this.giveUp)
  }

  /**
   * Returns the lease: after the body ended the connection is settled and goes back to its pool;
   * before, it is poisoned first (its socket closed) so the pool heals the slot. Idempotent.
   */
  readonly giveUp: Effect.Effect<void> = Effect.suspend(() => {
    if (this.finished) return Effect.void
    this.finished = true
    this.releaseOrigin()
    return Effect.andThen(this.connection.abandon, Scope.close(this.lease, Exit.void))
  })

  /**
   * The next chunk, as an owned copy, or `undefined` at the end (the lease given back then). Once
   * the lease is back the connection is never touched again: a body given up before its end
   * fails with `BodyAbandoned` rather than reading as ended (empty).
   */
  readonly next: Effect.Effect<Uint8Array | undefined, HttpConnection.HttpError> = Effect.onError(
    Effect.suspend(() => {
      if (this.finished) {
        return this.ended ? Effect.succeed(undefined) : Effect.fail(
          new HttpConnection.HttpError({
            address: this.connection.remoteAddress,
            reason: new HttpConnection.BodyAbandoned(),
            requestSent: true
          })
        )
      }
      return Effect.flatMap(this.connection.pull, (view) => {
        if (view !== undefined) return Effect.succeed(Uint8Array.prototype.slice.call(view) as Uint8Array)
        this.ended = true
        return Effect.as(this.giveUp, undefined)
      })
    }),
    () => this.giveUp
  )

  private collect(): Effect.Effect<Uint8Array, BodyFault> {
    this.taken = true
    const chunks: Array<Uint8Array> = []
    let size = 0
    const loop: Effect.Effect<Uint8Array, BodyFault> = Effect.flatMap(this.next, (chunk) => {
      if (chunk === undefined) return Effect.succeed(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks))
      size += chunk.length
      if (size > this.maxBodySize) {
        return Effect.andThen(
          this.giveUp,
          Effect.fail({
            _tag: "BodyTooLarge" as const,
            message: `the response body exceeds maxBodySize (${this.maxBodySize} bytes)`
          })
        )
      }
      chunks.push(chunk)
      return loop
    })
    return loop
  }
}

/** An owned copy of a complete response's head and body; the reader may be reused after it. */
export interface Owned {
  readonly status: number
  /** The header fields (an `OwnedMessage`: decoded on first use). */
  readonly copy: { headers(): ReadonlyArray<readonly [string, string]> }
  readonly body: Uint8Array | PendingBody
}

/** Copies a complete response (or the head of a streamed one, with its pending body). */
export const own = (response: Response, pending?: PendingBody): Owned => {
  if (pending !== undefined) return { status: response.status, copy: response.copyOwned(false), body: pending }
  const copy = response.copyOwned(true)
  return { status: response.status, copy, body: copy.body }
}

const decodeError = (response: NexusResponse, cause: unknown, description?: string) =>
  new HttpClientError.HttpClientError({
    reason: new HttpClientError.DecodeError({ request: response.request, response, cause, description })
  })

/** UTF-8 as `TextDecoder` decodes it (undici's `text`): a leading byte order mark is not part of the text. */
const utf8 = (bytes: Uint8Array): string => {
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0
  return Buffer.from(bytes.buffer, bytes.byteOffset + bom, bytes.byteLength - bom).toString("utf8")
}

/**
 * An `HttpClientResponse` over an {@link Owned} response: status and headers in memory, the body
 * an owned copy (every accessor synchronous work behind an Effect) or a pending body.
 */
export class NexusResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [HttpIncomingMessage.TypeId]: typeof HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  readonly [HttpClientResponse.TypeId]: typeof HttpClientResponse.TypeId = HttpClientResponse.TypeId
  readonly request: HttpClientRequest.HttpClientRequest
  readonly url: string
  readonly status: number
  private readonly owned: Owned
  private cachedHeaders: Headers.Headers | undefined
  private cachedCookies: Cookies.Cookies | undefined
  private cachedText: string | undefined
  /** A collecting accessor took the pending body: the others share its result. */
  private collecting: boolean

  constructor(request: HttpClientRequest.HttpClientRequest, url: string, owned: Owned) {
    super()
    this.request = request
    this.url = url
    this.status = owned.status
    this.owned = owned
    this.cachedHeaders = undefined
    this.cachedCookies = undefined
    this.cachedText = undefined
    this.collecting = false
  }

  /** Lower-case names; repeated fields joined with `", "`, as undici's client presents them. */
  get headers(): Headers.Headers {
    if (this.cachedHeaders !== undefined) return this.cachedHeaders
    const record: Record<string, string> = {}
    for (const [name, value] of this.owned.copy.headers()) {
      const key = name.toLowerCase()
      const before = record[key]
      record[key] = before === undefined ? value : `${before}, ${value}`
    }
    return (this.cachedHeaders = Headers.fromRecordUnsafe(record))
  }

  get cookies(): Cookies.Cookies {
    if (this.cachedCookies !== undefined) return this.cachedCookies
    const lines: Array<string> = []
    for (const [name, value] of this.owned.copy.headers()) if (name.toLowerCase() === "set-cookie") lines.push(value)
    return (this.cachedCookies = lines.length === 0 ? Cookies.empty : Cookies.fromSetCookie(lines))
  }

  get remoteAddress(): Option.Option<string> {
    return Option.none()
  }

  /** The whole body: the owned copy, or the pending body collected (once). */
  private get bytes(): Effect.Effect<Uint8Array, HttpClientError.HttpClientError> {
    const body = this.owned.body
    if (body instanceof Uint8Array) return Effect.succeed(body)
    if (body.taken && !this.collecting) {
      return Effect.fail(decodeError(this, undefined, "the response body was already consumed as a stream"))
    }
    this.collecting = true
    return Effect.mapError(body.collected, (fault) => decodeError(this, fault, fault.message))
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.HttpClientError> {
    return Effect.map(this.bytes, (body) =>
      // an owned copy holds its whole buffer; anything else is copied out to the body — with
      // Uint8Array's slice: a collected body is a Buffer (Buffer.concat, often carved from Node's
      // shared pool), whose own `slice` is a view of that memory, not a copy
      body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer
        ? body.buffer
        : (Uint8Array.prototype.slice.call(body) as Uint8Array).buffer as ArrayBuffer)
  }

  get text(): Effect.Effect<string, HttpClientError.HttpClientError> {
    if (this.cachedText !== undefined) return Effect.succeed(this.cachedText)
    const body = this.owned.body
    // an owned copy: one step that decodes it, instead of the bytes' Effect and a map over it
    if (body instanceof Uint8Array) return Effect.sync(() => (this.cachedText ??= utf8(body)))
    return Effect.map(this.bytes, (body) => (this.cachedText ??= utf8(body)))
  }

  get json(): Effect.Effect<Schema.Json, HttpClientError.HttpClientError> {
    return Effect.flatMap(this.text, (text) =>
      Effect.try({
        try: () => text === "" ? null : JSON.parse(text),
        catch: (cause) => decodeError(this, cause, "the response body is not JSON")
      }))
  }

  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.HttpClientError> {
    return Effect.flatMap(this.text, (text) =>
      Effect.try({
        try: () => UrlParams.fromInput(new URLSearchParams(text)),
        catch: (cause) => decodeError(this, cause, "the response body is not URL-encoded")
      }))
  }

  get formData(): Effect.Effect<FormData, HttpClientError.HttpClientError> {
    return Effect.flatMap(this.bytes, (body) =>
      Effect.tryPromise({
        try: () => new globalThis.Response(body as Uint8Array<ArrayBuffer>, { headers: this.headers }).formData(),
        catch: (cause) => decodeError(this, cause, "the response body is not form data")
      }))
  }

  /**
   * The body as it arrives: the owned copy as one chunk (none when empty), or the pending body
   * chunk by chunk — once; ending the stream early gives the rest of the body up.
   */
  get stream(): Stream.Stream<Uint8Array, HttpClientError.HttpClientError> {
    const body = this.owned.body
    if (body instanceof Uint8Array) return body.length === 0 ? Stream.empty : Stream.succeed(body)
    return Stream.suspend(() => {
      if (this.collecting) return Stream.fromEffect(this.bytes)
      if (body.taken) return Stream.fail(decodeError(this, undefined, "the response body was already consumed"))
      body.taken = true
      const pull = Effect.flatMap(
        Effect.mapError(body.next, (error) => decodeError(this, error, error.message)),
        (chunk) => chunk === undefined ? Cause.done() : Effect.succeed([chunk] as const)
      )
      return Stream.ensuring(Stream.fromPull(Effect.succeed(pull)), body.giveUp)
    })
  }

  get upgrade(): Effect.Effect<Socket.Socket, HttpClientError.HttpClientError> {
    return Effect.fail(
      new HttpClientError.HttpClientError({
        reason: new HttpClientError.StatusCodeError({
          request: this.request,
          response: this,
          description: "the effect-nexus HttpClient does not hand over connections (HTTP upgrade)"
        })
      })
    )
  }

  toJSON(): unknown {
    return HttpIncomingMessage.inspect(this, {
      _id: "HttpClientResponse",
      request: this.request.toJSON(),
      status: this.status
    })
  }

  pipe() {
    return pipeArguments(this, arguments)
  }
}
