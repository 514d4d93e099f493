/**
 * Pool: a self-healing REST connection pool.
 *
 * @since 0.1.0
 */

/** LIFO keep-alive connection pool with fail-fast `tryAcquire`, patient `acquire` and background heal. */
export * as ClientPool from "./ClientPool.ts"
/** The `PoolError` reason of a replayed pool whose request matches no recorded exchange. */
export * as NoRecordedExchange from "./NoRecordedExchange.ts"
