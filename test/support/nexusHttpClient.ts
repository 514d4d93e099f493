/**
 * What the NexusHttpClient suites share: the `HttpClient` that `NexusHttpClient.layer` builds,
 * for the test's scope, and a real-time wait for what a server saw.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as HttpClient from "effect/http/HttpClient"
import * as NexusHttpClient from "../../src/Layers/NexusHttpClient.ts"

/** Builds `NexusHttpClient.layer(options)` in the current scope and returns its `HttpClient`. */
export const client = (options: NexusHttpClient.Options = {}) =>
  Effect.map(Layer.build(NexusHttpClient.layer(options)), (context) => Context.get(context, HttpClient.HttpClient))

/**
 * Waits in real time (`setTimeout`, so also under the test clock) until `check()` holds, polling
 * every 5 ms; dies naming `what` after 5 s.
 */
export const until = (check: () => boolean, what: string) =>
  Effect.promise(() =>
    new Promise<boolean>((ok) => {
      const started = Date.now()
      const poll = () => (check() ? ok(true) : Date.now() - started > 5000 ? ok(false) : setTimeout(poll, 5))
      poll()
    })
  ).pipe(Effect.flatMap((reached) => (reached ? Effect.void : Effect.die(new Error(`not reached within 5 s: ${what}`)))))
