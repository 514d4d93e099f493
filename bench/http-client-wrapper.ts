/**
 * `npx node bench/http-client-wrapper.ts` — what Effect's `HttpClient.make` and NexusHttpClient's
 * wrapper (`src/Layers/internal/clientWrapper.ts`) cost per request around one runner that answers
 * at once with a ready `NexusResponse` (no I/O), with tracing on (the default native tracer) and
 * off (`HttpClient.TracerDisabledWhen`), beside the bare runner. 200 000 executes per row, three
 * rounds in the same order; µs per request.
 */
import * as Effect from "effect/Effect"
import { constTrue } from "effect/Function"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as ClientWrapper from "../src/Layers/internal/clientWrapper.ts"
import { NexusResponse } from "../src/Layers/internal/nexusResponse.ts"
const request = HttpClientRequest.post(`http://127.0.0.1:8080/api/v3/order`).pipe(
  HttpClientRequest.setHeaders({ "x-a": "1", "content-type": "application/json" }),
  HttpClientRequest.bodyText("{}", "application/json"))
const body = new Uint8Array(10)
const runner = (req: any) => Effect.succeed(new NexusResponse(req, "x", { status: 200, copy: { headers: () => [["a", "b"]] }, body }))
const viaMake = HttpClient.make((req) => runner(req))
const viaWrap = ClientWrapper.make((req) => runner(req))
const raw = Effect.suspend(() => runner(request))
const N = 200000
const time = (name: string, eff: Effect.Effect<unknown, unknown>) => Effect.gen(function*() {
  for (let i = 0; i < N / 10; i++) yield* eff
  const t0 = performance.now()
  for (let i = 0; i < N; i++) yield* eff
  console.log(name, (((performance.now() - t0) * 1e3) / N).toFixed(2), "µs")
})
for (let r = 0; r < 3; r++) {
  await Effect.runPromise(time("raw runner     ", raw))
  await Effect.runPromise(time("HttpClient.make", viaMake.execute(request)))
  await Effect.runPromise(time("wrapper        ", viaWrap.execute(request)))
  await Effect.runPromise(time("make no trace  ", Effect.provideService(viaMake.execute(request), HttpClient.TracerDisabledWhen, constTrue)))
  await Effect.runPromise(time("wrap no trace  ", Effect.provideService(viaWrap.execute(request), HttpClient.TracerDisabledWhen, constTrue)))
}
