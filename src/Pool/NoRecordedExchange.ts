/**
 * `NoRecordedExchange` — the `PoolError` reason of a replayed `RestClient` (issue #15,
 * `RestClient.layerReplay`) when a request matches no exchange of the recorded session: the
 * replay cannot answer what the venue was never asked. It lives beside the pool because the
 * pool's error is what `ClientPool.request` fails with; nothing in the pool itself raises it.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * No recorded exchange matches `method target` (with its body) under the matching rule of
 * `docs/replay.md`; `closest` names the nearest recorded request and what differs, or is
 * `undefined` when the session recorded no request at all.
 *
 * @since 0.1.0
 * @category errors
 */
export class NoRecordedExchange extends Data.TaggedError("NoRecordedExchange")<{
  readonly method: string
  readonly target: string
  readonly closest: string | undefined
}> {
  override get message(): string {
    return `no recorded exchange matches ${this.method} ${this.target}; ${
      this.closest === undefined ? "the session recorded no request" : `the closest recorded is ${this.closest}`
    }`
  }
}
