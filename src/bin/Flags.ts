/**
 * `Flags` — the option parsing the `effect-nexus` commands share: `-H/--header "Name: value"`
 * and durations (`250ms`, `5s`, `1.5s`, `2m`, `1h`, bare seconds or Effect's spelling).
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import { Flag } from "effect/cli"

// RFC 9110 §5.6.2 token characters: what a header name may be made of
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/**
 * Parses `"Name: value"` (the value trimmed; it may be empty) into a header pair.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseHeader = (text: string): Option.Option<readonly [string, string]> => {
  const colon = text.indexOf(":")
  if (colon <= 0) return Option.none()
  const name = text.slice(0, colon).trim()
  const value = text.slice(colon + 1).trim()
  if (!HEADER_NAME.test(name) || /[\r\n\0]/.test(value)) return Option.none()
  return Option.some([name, value] as const)
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/
const UNIT_MILLIS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const

/**
 * Parses a positive duration: `250ms`, `5s`, `1.5s`, `2m`, `1h`, a bare number of seconds, or
 * Effect's own spelling (`"5 seconds"`).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseDuration = (text: string): Option.Option<Duration.Duration> => {
  const match = DURATION.exec(text.trim())
  if (match !== null) {
    const millis = Number(match[1]) * UNIT_MILLIS[(match[2] ?? "s") as keyof typeof UNIT_MILLIS]
    return millis > 0 ? Option.some(Duration.millis(millis)) : Option.none()
  }
  return Option.filter(Duration.fromInput(text as Duration.Input), (d) => Duration.isGreaterThan(d, Duration.zero))
}

/**
 * `--NAME DURATION`, parsed with {@link parseDuration}; add a description and `Flag.optional`.
 *
 * @since 0.1.0
 * @category flags
 */
export const duration = (name: string): Flag.Flag<Duration.Duration> =>
  Flag.String(name).pipe(
    Flag.withMetavar("DURATION"),
    Flag.filterMap(parseDuration, () => "Expected a positive duration such as 500ms, 5s or 2m")
  )

/**
 * `-H/--header "NAME: VALUE"`, repeatable, parsed with {@link parseHeader}, in order.
 *
 * @since 0.1.0
 * @category flags
 */
export const headers = (description: string): Flag.Flag<ReadonlyArray<readonly [string, string]>> =>
  Flag.String("header").pipe(
    Flag.withAlias("H"),
    Flag.withMetavar("\"NAME: VALUE\""),
    Flag.withDescription(description),
    Flag.filterMap(parseHeader, () => "Expected \"Name: value\" with a token (RFC 9110) name"),
    Flag.atLeast(0)
  )
