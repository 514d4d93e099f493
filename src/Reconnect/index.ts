/**
 * Reconnect: backoff schedules (and, next, the WebSocket feed supervisor).
 *
 * @since 0.1.0
 */

/** Reconnect and acquire timings as composable `Schedule` values. */
export * as Backoff from "./Backoff.ts"
