/**
 * Reconnect: backoff schedules and the feed supervisor.
 *
 * @since 0.1.0
 */

/** Reconnect and acquire timings as composable `Schedule` values. */
export * as Backoff from "./Backoff.ts"

/** A feed supervisor: reconnect with backoff, re-subscribe, report gaps, renew before a cut. */
export * as Supervisor from "./Supervisor.ts"

/** A WebSocket feed on the Supervisor: reconnect, re-subscribe, gaps, renewal. */
export * as Feed from "./Feed.ts"
