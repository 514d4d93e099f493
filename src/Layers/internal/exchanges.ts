/**
 * The REST exchanges of a session and the matching rule of `RestClient.layerReplay` (written
 * out in `docs/replay.md`): a request matches a recorded one with the same method (exactly),
 * the same path (exactly, base path included), the same query parameters (as a multiset: their
 * order does not matter) and the same body bytes. Headers are not compared (they hold dates,
 * ids and redacted secrets). Of the matches, the first one not served yet, in recorded order;
 * once all are served, the last one again (a poller that asked more often than when recorded).
 *
 * @internal
 */
import type * as SessionFile from "../../Codec/SessionFile.ts"
import { Buffer } from "node:buffer"

/** One recorded exchange: the request, and its answer if one was recorded. */
export interface Exchange {
  readonly id: number
  readonly method: string
  readonly target: string
  readonly path: string
  /** The query parameters, sorted, joined: the multiset in one comparable string. */
  readonly query: string
  readonly body: Uint8Array
  /** Microseconds from request to answer (0 without an answer). */
  readonly latencyMicros: number
  readonly answer:
    | Extract<SessionFile.Entry, { _tag: "Response" }>
    | Extract<SessionFile.Entry, { _tag: "Failure" }>
    | undefined
  served: boolean
}

/** A recorded call that never built its request: answered by its time alone. */
export interface Unsent {
  /** Microseconds since the recording started when the application made the call. */
  readonly calledAtMicros: number
  /** Microseconds from the call to its end (a failure, or the interruption). */
  readonly waitMicros: number
  readonly error: SessionFile.RecordedError | undefined
  served: boolean
}

/** The unsent calls of a session's entries, in recorded order of their calls. */
export const unsentFromEntries = (entries: ReadonlyArray<SessionFile.Entry>): Array<Unsent> =>
  entries
    .flatMap((e) =>
      e._tag === "Unsent"
        ? [{ calledAtMicros: e.calledAtMicros, waitMicros: Math.max(0, e.time - e.calledAtMicros), error: e.error, served: false }]
        : []
    )
    .sort((a, b) => a.calledAtMicros - b.calledAtMicros)

/**
 * The unsent call a request that matched no exchange stands for: the first not served yet made
 * within `windowMicros` of `atMicros` (any, when `atMicros` is `undefined`: a fast replay has
 * no recorded time to compare), marked served.
 */
export const matchUnsent = (unsent: ReadonlyArray<Unsent>, atMicros: number | undefined, windowMicros: number): Unsent | undefined => {
  for (const u of unsent) {
    if (u.served) continue
    if (atMicros === undefined || Math.abs(u.calledAtMicros - atMicros) <= windowMicros) {
      u.served = true
      return u
    }
  }
  return undefined
}

/** Splits a target into path and its sorted query. */
export const splitTarget = (target: string): { readonly path: string; readonly query: string } => {
  const q = target.indexOf("?")
  if (q === -1) return { path: target, query: "" }
  const params = target.slice(q + 1).split("&").filter((p) => p.length > 0).sort()
  return { path: target.slice(0, q), query: params.join("&") }
}

/** The exchanges of a session's entries, in recorded order. */
export const fromEntries = (entries: ReadonlyArray<SessionFile.Entry>): Array<Exchange> => {
  const requests = new Map<number, Extract<SessionFile.Entry, { _tag: "Request" }>>()
  const answers = new Map<number, Exchange["answer"]>()
  const order: Array<number> = []
  for (const entry of entries) {
    if (entry._tag === "Request") {
      requests.set(entry.id, entry)
      order.push(entry.id)
    } else if ((entry._tag === "Response" || entry._tag === "Failure") && !answers.has(entry.id)) {
      answers.set(entry.id, entry)
    }
  }
  return order.map((id) => {
    const request = requests.get(id)!
    const answer = answers.get(id)
    const { path, query } = splitTarget(request.target)
    return {
      id,
      method: request.method,
      target: request.target,
      path,
      query,
      body: request.body,
      // from the call: a request that waited for a connection waits as long again
      latencyMicros: answer === undefined ? 0 : Math.max(0, answer.time - (request.calledAtMicros ?? request.time)),
      answer,
      served: false
    }
  })
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean =>
  a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)

/** The exchange that answers `method target body`, marked served; `undefined` when none matches. */
export const match = (
  exchanges: ReadonlyArray<Exchange>,
  method: string,
  target: string,
  body: Uint8Array
): Exchange | undefined => {
  const { path, query } = splitTarget(target)
  let last: Exchange | undefined
  for (const x of exchanges) {
    if (x.method !== method || x.path !== path || x.query !== query || !sameBytes(x.body, body)) continue
    if (!x.served) {
      x.served = true
      return x
    }
    last = x
  }
  return last
}

/**
 * The recorded request nearest to `method target body` and what differs, for the miss error:
 * scored path 4, method 2, query 2, body 1 (ties: the first recorded).
 */
export const closest = (exchanges: ReadonlyArray<Exchange>, method: string, target: string, body: Uint8Array): string | undefined => {
  const { path, query } = splitTarget(target)
  let best: Exchange | undefined
  let bestScore = -1
  for (const x of exchanges) {
    const score = (x.path === path ? 4 : 0) + (x.method === method ? 2 : 0) + (x.query === query ? 2 : 0) + (sameBytes(x.body, body) ? 1 : 0)
    if (score > bestScore) {
      best = x
      bestScore = score
    }
  }
  if (best === undefined) return undefined
  const differs = [
    best.method !== method ? "method" : "",
    best.path !== path ? "path" : "",
    best.query !== query ? "query" : "",
    sameBytes(best.body, body) ? "" : "body"
  ].filter((d) => d !== "")
  const preview = best.body.byteLength === 0 ? "" : ` with body ${JSON.stringify(Buffer.from(best.body).toString("utf8").slice(0, 80))}`
  return `${best.method} ${best.target}${preview} (differs in ${differs.join(", ")})`
}
