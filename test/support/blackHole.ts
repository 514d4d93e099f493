/**
 * A black-holed address on loopback for connect-timeout tests: a listener (a `/usr/bin/python3`
 * child, since a Node server always accepts) with `listen(0)` that never accepts, its accept
 * queue filled by raw connects, so the kernel drops every further SYN and a connect hangs until
 * the OS gives up (minutes). Nothing leaves 127.0.0.1.
 */
import { spawn } from "node:child_process"
import * as Effect from "effect/Effect"
import * as net from "node:net"

const LISTENER = [
  "import socket, sys",
  "s = socket.socket()",
  "s.bind(('127.0.0.1', 0))",
  "s.listen(0)",
  "print(s.getsockname()[1], flush=True)",
  "sys.stdin.read()"
].join("\n")

/** Resolves whether a raw connect to `port` completes within `ms`; the socket is kept in `held`. */
const fills = (port: number, ms: number, held: Array<net.Socket>): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port })
    held.push(socket)
    socket.on("error", () => {})
    const timer = setTimeout(() => resolve(false), ms)
    socket.once("connect", () => {
      clearTimeout(timer)
      resolve(true)
    })
  })

/**
 * The black hole for the test's scope: `port` drops SYNs. Fails the test (defect) when the queue
 * does not fill within 16 connects. Closing the scope ends the child and the filler sockets.
 */
export const blackHole = Effect.acquireRelease(
  Effect.promise(async () => {
    const child = spawn("/usr/bin/python3", ["-c", LISTENER], { stdio: ["pipe", "pipe", "inherit"] })
    const held: Array<net.Socket> = []
    const release = () => {
      for (const socket of held) socket.destroy()
      child.stdin?.end()
      child.kill("SIGTERM")
    }
    const port = await new Promise<number>((resolve, reject) => {
      child.once("exit", (code) => reject(new Error(`black-hole listener exited with ${code}`)))
      child.stdout!.once("data", (chunk: Buffer) => resolve(Number(chunk.toString().trim())))
    })
    // fill the accept queue: connects complete (the kernel queues them) until it is full; the
    // first that does not complete within a generous second shows SYNs are dropped now
    for (let i = 0; i < 16; i++) {
      if (!(await fills(port, 1000, held))) return { port, release }
    }
    release()
    throw new Error(`the accept queue of 127.0.0.1:${port} did not fill after 16 connects`)
  }),
  ({ release }) => Effect.sync(release)
)
