/**
 * Real peer processes for the integration suites: free loopback ports, start a server process,
 * wait until it accepts on 127.0.0.1, stop it by pid, and count the server side's established
 * TCP connections from `/proc/net/tcp` (so reuse and socket leaks are seen by the kernel, not
 * by our own bookkeeping).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as net from "node:net"

/** A port that was free on 127.0.0.1 a moment ago (listen on 0, read it, close). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

/** Whether `file` exists and is executable. */
export const executable = (file: string): boolean => {
  try {
    fs.accessSync(file, fs.constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** Whether `/usr/bin/python3` can import every module named. */
export const pythonHas = (...modules: Array<string>): boolean => {
  if (!executable("/usr/bin/python3")) return false
  try {
    execFileSync("/usr/bin/python3", ["-c", modules.map((m) => `import ${m}`).join("; ")], { stdio: "pipe" })
    return true
  } catch {
    return false
  }
}

/** A started peer. */
export interface Peer {
  readonly pid: number
  /** What the process printed so far (stdout and stderr), for failure messages. */
  readonly output: () => string
  /** Sends `signal` to the pid, waits for the exit, and SIGKILLs after 5 s. Idempotent. */
  readonly stop: () => Promise<void>
}

const canConnect = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port })
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })

/**
 * Spawns `command` and resolves once every port in `ports` accepts a TCP connection on
 * 127.0.0.1 (polling for up to 20 s), or rejects with the process output if it exits first.
 */
export const startPeer = async (options: {
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly ports: ReadonlyArray<number>
  readonly cwd?: string
  readonly stopSignal?: NodeJS.Signals
}): Promise<Peer> => {
  const child: ChildProcess = spawn(options.command, [...options.args], {
    cwd: options.cwd,
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()))
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()))
  let exited = false
  // last resort if the test process dies without running afterAll: take the peer with it
  const killOnExit = () => {
    if (!exited && child.pid !== undefined) process.kill(child.pid, "SIGKILL")
  }
  process.once("exit", killOnExit)
  const exit = new Promise<void>((resolve) =>
    child.once("exit", () => {
      exited = true
      process.off("exit", killOnExit)
      resolve()
    })
  )
  const stop = async () => {
    if (exited || child.pid === undefined) return
    process.kill(child.pid, options.stopSignal ?? "SIGTERM")
    const timer = setTimeout(() => {
      if (!exited && child.pid !== undefined) process.kill(child.pid, "SIGKILL")
    }, 5000)
    await exit
    clearTimeout(timer)
  }
  const deadline = Date.now() + 20_000
  for (const port of options.ports) {
    while (!(await canConnect(port))) {
      if (exited || Date.now() > deadline) {
        await stop()
        throw new Error(`${options.command} did not start listening on 127.0.0.1:${port}:\n${output}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  return { pid: child.pid!, output: () => output, stop }
}

/**
 * Established TCP connections whose local port is `port` — the server's side of every client
 * connection to it (IPv4 and IPv6 tables).
 */
export const establishedAt = (port: number): number => {
  const hex = port.toString(16).toUpperCase().padStart(4, "0")
  let count = 0
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = ""
    try {
      text = fs.readFileSync(table, "latin1")
    } catch {
      continue
    }
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/)
      if (fields.length < 4) continue
      // fields[1] is local "ADDR:PORT", fields[3] the state (01 = ESTABLISHED)
      if (fields[1]!.endsWith(`:${hex}`) && fields[3] === "01") count++
    }
  }
  return count
}

/** Polls until `establishedAt(port)` is `n` (up to `ms`), then returns the count seen. */
export const awaitEstablished = async (port: number, n: number, ms = 5000): Promise<number> => {
  const deadline = Date.now() + ms
  let seen = establishedAt(port)
  while (seen !== n && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    seen = establishedAt(port)
  }
  return seen
}

/** A child process whose stdout and stderr are collected, as a scoped resource. */
export interface CapturedChild {
  readonly child: ChildProcess
  /** Everything the child wrote to stdout and stderr so far, interleaved as it arrived. */
  readonly output: () => string
  /** The exit code once the child exits (`null` when a signal ended it). */
  readonly exited: Effect.Effect<number | null>
}

/**
 * Spawns `command args` with piped stdio, collecting its output; closing the scope kills it
 * (SIGKILL) when it is still running, also when the test failed.
 */
export const spawnCaptured = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd?: string | undefined } = {}
) =>
  Effect.acquireRelease(
    Effect.sync((): CapturedChild => {
      const child = spawn(command, args, { cwd: options.cwd, stdio: "pipe" })
      let out = ""
      child.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()))
      child.stderr!.on("data", (chunk: Buffer) => (out += chunk.toString()))
      const exited = Effect.callback<number | null>((resume) => {
        if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.succeed(child.exitCode))
        child.once("exit", (code) => resume(Effect.succeed(code)))
      })
      return { child, output: () => out, exited }
    }),
    ({ child }) =>
      Effect.sync(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      })
  )

/**
 * Whether httpbin under gunicorn can run here (Debian `python3-httpbin`, `gunicorn`); when not,
 * says on stderr that `suite` is skipped and how to install them.
 */
export const httpbinAvailable = (suite: string): boolean => {
  const available = pythonHas("gunicorn", "httpbin")
  if (!available) {
    console.warn(
      `${suite}: skipped — /usr/bin/python3 cannot import gunicorn and httpbin; install with ` +
        "`apt-get install -y python3-httpbin gunicorn` (.ci/run does)"
    )
  }
  return available
}

/**
 * Starts httpbin (Debian `python3-httpbin`) under gunicorn's threaded worker on `127.0.0.1:port`
 * — the worker that keeps connections alive (5 s) and streams chunked bodies (see PEERS.md);
 * stopped with SIGINT, gunicorn's quick shutdown (TERM waits for workers).
 */
export const startHttpbin = (port: number): Promise<Peer> =>
  startPeer({
    command: "/usr/bin/python3",
    args: ["-m", "gunicorn", "-b", `127.0.0.1:${port}`, "-k", "gthread", "--threads", "4", "--keep-alive", "5", "--graceful-timeout", "1", "httpbin:app"],
    ports: [port],
    stopSignal: "SIGINT"
  })
