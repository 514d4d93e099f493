import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as RestClient from "../../src/Layers/RestClient.ts"
import * as ClientPool from "../../src/Pool/ClientPool.ts"
import * as RestClientTest from "../../src/Testing/RestClientTest.ts"
import { TestHttpPeer } from "../../src/Testing/TestPeers.ts"

/**
 * An origin whose first request hangs (and signals `first`) until the test drops every
 * connection under it; every later request is answered 200 at once.
 */
const dropFirst = (first: Deferred.Deferred<void>) => {
  let calls = 0
  return () =>
    ++calls === 1
      ? Effect.andThen(Deferred.succeed(first, undefined), Effect.never)
      : Effect.succeed({ status: 200, body: "again" })
}

/** Sends `method /book` through the service with `RestClient.retryIdempotent`, dropping the first try. */
const retriedThroughService = (method: "GET" | "POST", first: Deferred.Deferred<void>) =>
  Effect.gen(function*() {
    const rest = yield* RestClient.RestClient
    const peer = yield* TestHttpPeer
    const call = yield* Effect.forkChild(Effect.result(RestClient.retryIdempotent(
      method,
      rest.request((w) => (method === "GET" ? w.get("/book") : w.post("/book").body("{}")).finish())
    )))
    yield* Deferred.await(first)
    yield* peer.dropAll
    const outcome = yield* Fiber.join(call)
    return { outcome, requests: peer.requests.map((r) => `${r.method} ${r.target}`), connections: peer.requests.map((r) => r.connection) }
  })

describe("RestClient", () => {
  it("retryIdempotent is ClientPool's one definition, so code on the service needs nothing from Pool", () => {
    assert.strictEqual(RestClient.retryIdempotent, ClientPool.retryIdempotent)
  })

  it.effect("retryIdempotent sends a GET again on another connection when the first dies under it", () =>
    Effect.gen(function*() {
      const first = yield* Deferred.make<void>()
      const { connections, outcome, requests } = yield* retriedThroughService("GET", first).pipe(
        Effect.provide(RestClientTest.layer(dropFirst(first)))
      )
      assert.strictEqual(outcome._tag, "Success")
      if (outcome._tag === "Success") assert.strictEqual(new TextDecoder().decode(outcome.success.body), "again")
      assert.deepStrictEqual(requests, ["GET /book", "GET /book"])
      assert.notStrictEqual(connections[1], connections[0], "the retry rides a connection that did not die")
    }))

  it.effect("retryIdempotent never sends a POST again once its bytes reached the origin", () =>
    Effect.gen(function*() {
      const first = yield* Deferred.make<void>()
      const { outcome, requests } = yield* retriedThroughService("POST", first).pipe(
        Effect.provide(RestClientTest.layer(dropFirst(first)))
      )
      assert.strictEqual(outcome._tag, "Failure")
      if (outcome._tag === "Failure") {
        assert.strictEqual(outcome.failure._tag, "HttpError")
        if (outcome.failure._tag === "HttpError") assert.isTrue(outcome.failure.requestSent)
      }
      assert.deepStrictEqual(requests, ["POST /book"])
    }))
})
