/**
 * `SessionRecorder` — appends a session to a file as it happens (issue #15): the
 * `Codec/SessionFile` writer behind a buffered, scoped file. The wrappers in `Recording` (feed,
 * REST client, WebSocket, pool) call it; its appends are synchronous and never fail, so recording
 * adds no Effect step to the paths it watches.
 *
 * Rules:
 * - **Time** is the Effect `Clock` (so `TestClock` in tests), in microseconds since the recorder
 *   was made; the `Meta` record written first holds the wall-clock start.
 * - **End**: closing the scope appends an `End` record, so a replay knows when the session ended
 *   (after its last event); a file without one was cut short (a crash).
 * - **Buffering**: records collect in one block; the block is written when it reaches
 *   `blockSize` (default 64 KiB), every `flushInterval` (default 100 ms), on `flush`, and when the
 *   scope closes (then the file is synced and closed). A crash loses at most the unflushed block;
 *   a block torn by it is dropped by the reader, never misread.
 * - **Secrets never reach the file**: header values named in `redactHeaders` (default
 *   {@link REDACTED_HEADERS}: `Authorization`, `Proxy-Authorization`, `Cookie`,
 *   `Set-Cookie`, `X-API-KEY`, `X-MBX-APIKEY`) are written as `<redacted>`, and the value of
 *   every such header, like every value in `secrets` (`Redacted` or string), is replaced by
 *   `<redacted>` wherever it appears later in any record: message texts and bytes, bodies, error
 *   messages.
 * - A failed write latches: later records are dropped and `flush` fails with the
 *   `SessionError`, so a full disk is reported, not hidden.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { Buffer } from "node:buffer"
import * as fs from "node:fs"
import * as SessionFile from "../Codec/SessionFile.ts"
import * as RecordedError from "./internal/recordedError.ts"
import { ioError, type SessionError } from "./SessionLog.ts"

/**
 * Header names (lower case) whose values are never written: `authorization`,
 * `proxy-authorization`, `cookie`, `set-cookie`, `x-api-key`, `x-mbx-apikey`.
 *
 * @since 0.1.0
 * @category constants
 */
export const REDACTED_HEADERS: ReadonlyArray<string> = [
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
  "x-api-key",
  "x-mbx-apikey"
]

/**
 * What a secret is written as: `<redacted>`.
 *
 * @since 0.1.0
 * @category constants
 */
export const REDACTED = "<redacted>"

/**
 * Default time between block writes: 100 ms.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_FLUSH_INTERVAL: Duration.Duration = Duration.millis(100)

/**
 * Options of {@link make}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** What was recorded (a URL), kept in the `Meta` record. */
  readonly source?: string | undefined
  /** Values never written (replaced by `<redacted>` wherever they appear). */
  readonly secrets?: ReadonlyArray<Redacted.Redacted<string> | string> | undefined
  /** More header names whose values are never written, added to {@link REDACTED_HEADERS}. */
  readonly redactHeaders?: ReadonlyArray<string> | undefined
  /** Time between block writes. Default {@link DEFAULT_FLUSH_INTERVAL}. */
  readonly flushInterval?: Duration.Input | undefined
  /** Block size. Default `SessionFile.DEFAULT_BLOCK_SIZE`. */
  readonly blockSize?: number | undefined
}

/**
 * The recorder. Appends are synchronous, stamped with the current `Clock` time.
 *
 * @since 0.1.0
 * @category models
 */
export interface SessionRecorder {
  /** The file written. */
  readonly file: string
  /** Records appended so far. */
  readonly records: number
  /** Appends a text record of `kind` (a message). */
  text(kind: SessionFile.Kind, text: string): void
  /** Appends a binary record of `kind`. */
  binary(kind: SessionFile.Kind, bytes: Uint8Array): void
  /** Appends a JSON record of `kind` (connect, gap, close, reconnect, subscriptions). */
  json(kind: SessionFile.Kind, value: unknown): void
  /** Appends a REST record (request, response or failure) for exchange `id`; header secrets are redacted here. */
  exchange(
    kind: SessionFile.Kind,
    id: number,
    head: { readonly headers?: ReadonlyArray<readonly [string, string]> } & Record<string, unknown>,
    body: Uint8Array
  ): void
  /** A failure as recorded (tag, message, fields; secrets removed). */
  error(error: unknown): SessionFile.RecordedError
  /** A fresh exchange id. */
  nextExchangeId(): number
  /** Microseconds since the recorder started, on its `Clock`: the time a record appended now gets. */
  now(): number
  /** Writes the current block now. */
  readonly flush: Effect.Effect<void, SessionError>
}

/**
 * The recorder a layer provides (see {@link layer}).
 *
 * @since 0.1.0
 * @category services
 */
export class Recorder extends Context.Service<Recorder, SessionRecorder>()("effect-nexus/SessionRecorder") {}

/**
 * Opens `file` for writing (truncating it), writes the header and the `Meta` record, and
 * returns the recorder; closing the scope writes the last block, syncs and closes the file.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (file: string, options: Options = {}): Effect.Effect<SessionRecorder, SessionError, Scope.Scope> =>
  Effect.gen(function*() {
    const clock = yield* Clock.Clock
    const fd = yield* Effect.acquireRelease(
      Effect.try({ try: () => fs.openSync(file, "w"), catch: (cause) => ioError(file, "open", cause) }),
      (fd) => Effect.sync(() => {
        if (failure === undefined) writer.appendJson(SessionFile.Kind.End, now(), {})
        writeBlock()
        try {
          fs.fsyncSync(fd)
        } catch {
          // a file system without fsync (a pipe): the bytes are written
        }
        fs.closeSync(fd)
      })
    )
    const writer = SessionFile.makeWriter({ blockSize: options.blockSize })
    const origin = clock.currentTimeNanosUnsafe()
    const now = () => Number(clock.currentTimeNanosUnsafe() - origin) / 1000
    const redactedNames = new Set([...REDACTED_HEADERS, ...(options.redactHeaders ?? []).map((n) => n.toLowerCase())])
    const secrets: Array<string> = []
    const secretBytes: Array<Buffer> = []
    const addSecret = (secret: string) => {
      if (secret.length === 0 || secret === REDACTED || secrets.includes(secret)) return
      secrets.push(secret)
      secretBytes.push(Buffer.from(secret, "utf8"))
    }
    for (const s of options.secrets ?? []) addSecret(typeof s === "string" ? s : Redacted.value(s))

    const scrub = (text: string): string => {
      for (let i = 0; i < secrets.length; i++) if (text.includes(secrets[i]!)) text = text.split(secrets[i]!).join(REDACTED)
      return text
    }
    // bytes are scrubbed as latin1 so that any byte sequence survives; the secrets are matched as latin1 too
    const latin1Secrets = () => secrets.map((s) => Buffer.from(s, "utf8").toString("latin1"))
    let latin1 = latin1Secrets()
    const scrubBytes = (bytes: Uint8Array): Uint8Array => {
      if (secretBytes.length === 0) return bytes
      const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      if (!secretBytes.some((s) => buf.indexOf(s) !== -1)) return bytes
      let text = buf.toString("latin1")
      for (const s of latin1) text = text.split(s).join(REDACTED)
      return Buffer.from(text, "latin1")
    }

    let failure: SessionError | undefined
    let nextId = 0
    const writeBlock = () => {
      if (failure !== undefined || writer.isEmpty) return
      const block = writer.flush()
      try {
        let off = 0
        while (off < block.byteLength) off += fs.writeSync(fd, block, off, block.byteLength - off)
      } catch (cause) {
        failure = ioError(file, "write", cause)
      }
    }
    const after = () => {
      if (writer.isFull) writeBlock()
    }
    try {
      fs.writeSync(fd, SessionFile.header())
    } catch (cause) {
      return yield* Effect.fail(ioError(file, "write", cause))
    }
    writer.appendJson(SessionFile.Kind.Meta, 0, { startedAt: clock.currentTimeMillisUnsafe(), source: options.source })

    const recorder: SessionRecorder = {
      file,
      get records() {
        return writer.records
      },
      text: (kind, text) => {
        if (failure !== undefined) return
        writer.appendText(kind, now(), secrets.length === 0 ? text : scrub(text))
        after()
      },
      binary: (kind, bytes) => {
        if (failure !== undefined) return
        writer.append(kind, now(), scrubBytes(bytes))
        after()
      },
      json: (kind, value) => {
        if (failure !== undefined) return
        writer.appendText(kind, now(), scrub(JSON.stringify(value)))
        after()
      },
      exchange: (kind, id, head, body) => {
        if (failure !== undefined) return
        let headers = head.headers
        if (headers !== undefined) {
          // learn the secret values first, so a body or a later record that echoes them is scrubbed too
          for (const [name, value] of headers) {
            if (redactedNames.has(name.toLowerCase())) {
              addSecret(value)
              latin1 = latin1Secrets()
            }
          }
          headers = headers.map(([name, value]) => [name, redactedNames.has(name.toLowerCase()) ? REDACTED : value] as const)
        }
        const scrubbed = JSON.parse(scrub(JSON.stringify({ ...head, headers }))) as Record<string, unknown>
        writer.appendExchange(kind, now(), id, scrubbed, scrubBytes(body))
        after()
      },
      error: (error) => {
        const recorded = RecordedError.encode(error)
        return JSON.parse(scrub(JSON.stringify(recorded))) as SessionFile.RecordedError
      },
      nextExchangeId: () => ++nextId,
      now,
      flush: Effect.suspend(() => {
        writeBlock()
        return failure === undefined ? Effect.void : Effect.fail(failure)
      })
    }
    const interval = Duration.fromInputUnsafe(options.flushInterval ?? DEFAULT_FLUSH_INTERVAL)
    yield* Effect.forkScoped(Effect.forever(Effect.andThen(Effect.sleep(interval), Effect.sync(writeBlock))))
    return recorder
  })

/**
 * A layer recording to `file` (see {@link make}); the file is closed when the layer's scope closes.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (file: string, options: Options = {}): Layer.Layer<Recorder, SessionError> =>
  Layer.effect(Recorder, make(file, options))
