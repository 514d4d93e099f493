/**
 * N worker processes sharing one port (the multi-core recipe of `docs/server.md`): the parent
 * forks this same program N times with `NEXUS_WORKER` set; each worker listens with
 * `reusePort: true` (Linux gives each its own accept queue). The first worker binds the port
 * asked for (0 picks one) and the others bind the port it got. Workers report with
 * `reportListening(port)`; the parent resolves once all have, relays every `relay(message)` of
 * one worker to the others (`onRelay` in a worker), and stops them all on SIGINT/SIGTERM or
 * when one exits.
 *
 * @since 0.1.0
 */
import { type ChildProcess, fork } from "node:child_process"

/** The worker number (1-based) in a worker, `undefined` in the parent or a lone process. */
export const workerNumber: number | undefined = process.env.NEXUS_WORKER === undefined
  ? undefined
  : Number(process.env.NEXUS_WORKER)

/** In a worker: tells the parent which port it listens on. */
export const reportListening = (port: number): void => {
  process.send?.({ _tag: "Listening", port })
}

/** In a worker: sends `message` to every other worker (through the parent). */
export const relay = (message: unknown): void => {
  process.send?.({ _tag: "Relay", message })
}

/** In a worker: calls `f` with every message another worker relayed. */
export const onRelay = (f: (message: unknown) => void): void => {
  process.on("message", (m: { _tag?: string; message?: unknown }) => {
    if (m._tag === "Relay") f(m.message)
  })
}

type FromWorker = { readonly _tag: "Listening"; readonly port: number } | { readonly _tag: "Relay"; readonly message: unknown }

/**
 * In the parent: forks `count` workers of the running script with `args` (the port replaced
 * per worker as above) and resolves with the shared port once every worker listens.
 */
export const startWorkers = (count: number, args: ReadonlyArray<string>, port: number): Promise<number> =>
  new Promise((resolve, reject) => {
    const children: Array<ChildProcess> = []
    const spawn = (n: number, on: number): ChildProcess => {
      const portAt = args.indexOf("--port")
      const argv = portAt < 0 ? [...args, "--port", String(on)] : args.map((a, i) => i === portAt + 1 ? String(on) : a)
      const child = fork(process.argv[1]!, argv, { env: { ...process.env, NEXUS_WORKER: String(n) }, stdio: "inherit" })
      children.push(child)
      child.on("message", (m: FromWorker) => {
        if (m._tag === "Relay") {
          for (const other of children) if (other !== child && other.connected) other.send(m)
        } else onListening(n, m.port)
      })
      child.on("exit", (code) => {
        // one worker gone: stop the others, the service is no longer whole
        stop(code ?? 1)
      })
      return child
    }
    let listening = 0
    const onListening = (n: number, bound: number) => {
      if (n === 1) for (let i = 2; i <= count; i++) spawn(i, bound)
      if (++listening === count) resolve(bound)
    }
    let stopping = false
    const stop = (code: number) => {
      if (stopping) return
      stopping = true
      for (const child of children) if (child.exitCode === null) child.kill("SIGTERM")
      if (listening < count) reject(new Error(`a worker exited with ${code} before every worker listened`))
      Promise.all(children.map((c) => c.exitCode === null ? new Promise((done) => c.once("exit", done)) : undefined))
        .then(() => process.exit(code))
    }
    process.once("SIGINT", () => stop(0))
    process.once("SIGTERM", () => stop(0))
    spawn(1, port)
  })
