/**
 * Errors in a session file: what is written for a failure (its tag, message and own fields as
 * JSON), and how replay builds the same error back — the package's own error classes by tag, so
 * a replayed `HttpError` is retried (or not) exactly as the recorded one was.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import type * as SessionFile from "../../Codec/SessionFile.ts"
import * as ClientPool from "../../Pool/ClientPool.ts"
import * as NoRecordedExchange from "../../Pool/NoRecordedExchange.ts"
import * as Feed from "../../Reconnect/Feed.ts"
import * as Supervisor from "../../Reconnect/Supervisor.ts"
import * as HttpConnection from "../../Transport/HttpConnection.ts"
import * as Transport from "../../Transport/Transport.ts"
import * as WebSocket from "../../Transport/WebSocket.ts"

/** What a failure is written as: `{ tag, message, fields }`. */
export const encode = (error: unknown): SessionFile.RecordedError => {
  if (typeof error !== "object" || error === null) return { tag: typeof error, message: String(error) }
  const e = error as { readonly _tag?: unknown; readonly name?: unknown; readonly message?: unknown }
  const tag = typeof e._tag === "string" ? e._tag : typeof e.name === "string" ? e.name : "Error"
  const message = typeof e.message === "string" ? e.message : String(error)
  try {
    return { tag, message, fields: JSON.parse(JSON.stringify(error, foreignErrors)) }
  } catch {
    return { tag, message }
  }
}

/** A JSON replacer keeping a foreign `Error` (a `cause` from Node) as its name and message. */
function foreignErrors(this: unknown, _key: string, value: unknown): unknown {
  return value instanceof Error && !("_tag" in value) ? { "~error": value.name, message: value.message } : value
}

type ErrorClass = new(fields: object) => Error

/** The package's error classes by tag, read from the modules whose errors a session can hold. */
const classes: ReadonlyMap<string, ErrorClass> = (() => {
  const out = new Map<string, ErrorClass>()
  for (const module of [HttpConnection, Transport, WebSocket, ClientPool, NoRecordedExchange, Feed, Supervisor]) {
    for (const value of Object.values(module as Record<string, unknown>)) {
      if (typeof value !== "function" || !(value.prototype instanceof Error)) continue
      try {
        const tag = (new (value as ErrorClass)({}) as { _tag?: unknown })._tag
        if (typeof tag === "string") out.set(tag, value as ErrorClass)
      } catch {
        // not a fields-object error class
      }
    }
  }
  return out
})()

/** Rebuilds a JSON value: Durations, and nested tagged errors of the package. */
const revive = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(revive)
  if (typeof value !== "object" || value === null) return value
  const record = value as Record<string, unknown>
  if (typeof record["~error"] === "string") {
    const error = new Error(String(record.message ?? ""))
    error.name = record["~error"] as string
    return error
  }
  if (record._id === "Duration") {
    if (record._tag === "Millis" && typeof record.millis === "number") return Duration.millis(record.millis)
    if (record._tag === "Nanos" && typeof record.nanos === "string") return Duration.nanos(BigInt(record.nanos))
    if (record._tag === "Infinity") return Duration.infinity
  }
  const fields: Record<string, unknown> = {}
  for (const [key, field] of Object.entries(record)) if (key !== "_tag") fields[key] = revive(field)
  const Class = typeof record._tag === "string" ? classes.get(record._tag) : undefined
  return Class === undefined ? value : new Class(fields)
}

/** The recorded error rebuilt as the package's error of the same tag and fields, or `undefined`. */
export const decode = (recorded: SessionFile.RecordedError): Error | undefined => {
  if (!classes.has(recorded.tag) || typeof recorded.fields !== "object" || recorded.fields === null) return undefined
  const rebuilt = revive({ ...(recorded.fields as object), _tag: recorded.tag })
  return rebuilt instanceof Error ? rebuilt : undefined
}

/** The recorded error rebuilt, or a plain `{ _tag, message }` value when the class is not the package's. */
export const decodeOrPlain = (recorded: SessionFile.RecordedError): unknown =>
  decode(recorded) ?? { _tag: recorded.tag, message: recorded.message }
