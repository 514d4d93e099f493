/**
 * Reconnect: backoff schedules and the feed supervisor.
 *
 * @since 0.1.0
 */

/**
 * Reconnect and acquire timings as composable `Schedule` values: the same module as
 * `Transport.Backoff` (it lives in the layer below, where the pool reaches it too), re-exported
 * here beside the supervisor that uses it.
 */
export * as Backoff from "../Transport/Backoff.ts"

/** A feed supervisor: reconnect with backoff, re-subscribe, report gaps, renew before a cut. */
export * as Supervisor from "./Supervisor.ts"

/** A WebSocket feed on the Supervisor: reconnect, re-subscribe, gaps, renewal. */
export * as Feed from "./Feed.ts"
