/**
 * `WsOptions` — what `effect-nexus ws` runs with once its arguments are parsed, shared by the
 * parser (`WsCommand`) and the session (`WsSession`) without either loading the other.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Option from "effect/Option"

/**
 * A heartbeat fails when nothing arrives for this many ping intervals.
 *
 * @since 0.1.0
 * @category constants
 */
export const HEARTBEAT_MISSES = 3

/**
 * The parsed `ws` arguments.
 *
 * @since 0.1.0
 * @category models
 */
export interface WsOptions {
  /** The `ws:`/`wss:` URL, as typed. */
  readonly url: string
  /** `--header` pairs, in order. */
  readonly headers: ReadonlyArray<readonly [string, string]>
  /** `--subprotocol` names, most preferred first. */
  readonly subprotocols: ReadonlyArray<string>
  /** `--ping-interval`, when given. */
  readonly pingInterval: Option.Option<Duration.Duration>
  /** `--connect-timeout`, when given. */
  readonly connectTimeout: Option.Option<Duration.Duration>
  /** `--proxy`, when given: an `http://[user:password@]host:port` CONNECT proxy. */
  readonly proxy: Option.Option<string>
  /** `--insecure-skip-tls-verify-dangerous`. */
  readonly insecure: boolean
  /** `--listen-only`: stdin is not read. */
  readonly listenOnly: boolean
}
