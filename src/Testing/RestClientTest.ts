/**
 * `RestClientTest` — the `RestClient` service over a scripted in-memory origin
 * (`TestPeers.makeHttpPeer`): a real `ClientPool` whose connections are `Memory` pairs, so the
 * application's REST code runs unchanged with no sockets and every timing on `TestClock`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { RestClient } from "../Layers/RestClient.ts"
import * as ClientPool from "../Pool/ClientPool.ts"
import type * as HttpConnection from "../Transport/HttpConnection.ts"
import type * as HttpServe from "../Transport/HttpServe.ts"
import * as TestPeers from "./TestPeers.ts"

/**
 * Options of {@link layer}: any `ClientPool.PoolOptions` (defaults `url` `https://origin.test`,
 * `connections` 2; `connect` is always the origin's) and `connection`, the
 * `HttpConnection.Options` of the origin's connections (default `{}`).
 *
 * @since 0.1.0
 * @category models
 */
export type Options = Partial<ClientPool.PoolOptions> & { readonly connection?: HttpConnection.Options | undefined }

/**
 * Connections of the {@link layer} pool unless `options.connections` says otherwise: 2.
 *
 * @since 0.1.0
 * @category testing
 */
export const DEFAULT_TEST_CONNECTIONS = 2

/**
 * `RestClient` (a real `ClientPool`, by default 2 connections to `https://origin.test`) over a
 * scripted origin answering with `handler`, plus the origin's control (`TestPeers.TestHttpPeer`)
 * for faults and the request log. Building it never fails: connecting to the origin cannot.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  handler: HttpServe.Handler,
  options: Options = {}
): Layer.Layer<RestClient | TestPeers.TestHttpPeer> =>
  Layer.effectContext(
    Effect.gen(function*() {
      const peer = yield* TestPeers.makeHttpPeer(handler, { connection: options.connection })
      const pool = yield* ClientPool.make({ url: "https://origin.test", connections: DEFAULT_TEST_CONNECTIONS, ...options, connect: peer.connect })
      return Context.make(RestClient, pool).pipe(Context.add(TestPeers.TestHttpPeer, peer))
    }).pipe(Effect.orDie)
  )
