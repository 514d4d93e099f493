/**
 * A Node `Duplex` over any `Transport`, so `node:tls` can run over a memory pair, an
 * `effect/socket` adapter or a proxy tunnel. Node pulls (`read`) and pushes (`write`, `final`,
 * `destroy`); each call runs one Effect of the transport with the services the caller captured
 * (so a `TestClock` or tracer still applies). Reads copy out of one private `ReadBuf` (Node keeps
 * the pushed chunk), at most one read is in flight, and a `false` from `push` stops pulling
 * until Node asks again — the transport's own backpressure stays in force.
 *
 * Ownership: destroying the duplex destroys the transport (the TLS socket on top owns it).
 *
 * @internal
 */
import type * as Context from "effect/Context"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { Duplex } from "node:stream"
import * as ReadBuf from "../../Codec/ReadBuf.ts"
import type { Transport } from "../Transport.ts"

/** Bytes one pull asks the transport for: a TLS record is at most 16 KiB plus overhead. */
const PULL_CAPACITY = 32 * 1024

const toError = (cause: Cause.Cause<unknown>): Error => {
  const error = Cause.squash(cause)
  return error instanceof Error ? error : new Error(String(error))
}

/**
 * The duplex over `transport`, running its effects with `context`.
 *
 * @internal
 */
export const duplexOver = (transport: Transport, context: Context.Context<never>): Duplex => {
  const run = Effect.runCallbackWith(context)
  const buf = ReadBuf.make({ capacity: PULL_CAPACITY })
  let reading = false
  let interruptRead: (() => void) | undefined
  const pull = (): void => {
    if (reading || duplex.destroyed) return
    reading = true
    buf.clear()
    interruptRead = run(transport.read(buf), {
      onExit: (exit) => {
        reading = false
        interruptRead = undefined
        if (Exit.isFailure(exit)) {
          if (!Cause.hasInterruptsOnly(exit.cause)) duplex.destroy(toError(exit.cause))
          return
        }
        if (exit.value === 0) {
          duplex.push(null)
          return
        }
        // push copies nothing: hand Node its own copy, the buffer is reused by the next pull
        if (duplex.push(Buffer.from(buf.data()))) pull()
      }
    })
  }
  const duplex: Duplex = new Duplex({
    allowHalfOpen: true,
    read: pull,
    write(chunk: Buffer, _encoding, callback) {
      run(transport.write(chunk), {
        onExit: (exit) => callback(Exit.isFailure(exit) ? toError(exit.cause) : null)
      })
    },
    final(callback) {
      run(transport.end(), { onExit: () => callback(null) })
    },
    destroy(error, callback) {
      interruptRead?.()
      run(transport.destroy(), { onExit: () => callback(error) })
    }
  })
  return duplex
}
