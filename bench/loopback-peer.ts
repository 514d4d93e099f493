/**
 * Starts `bench/loopback-server.ts` in a child process of its own (so the client under test has
 * the other core) and returns its ports; `stop` ends it. Shared by `loopback.ts` and `pool.ts`.
 */
import { spawn } from "node:child_process"

/** The running servers. */
export interface LoopbackServers {
  readonly ws: number
  readonly http: number
  /** The child's process id (for reading its CPU time from `/proc`). */
  readonly pid: number
  readonly stop: () => void
}

/** Spawns the servers with this process's Node and waits for their `{"ws","http"}` line. */
export const startLoopbackServers = (): Promise<LoopbackServers> => {
  const child = spawn(process.execPath, ["bench/loopback-server.ts"], { stdio: ["pipe", "pipe", "inherit"] })
  return new Promise((resolve, reject) => {
    child.once("error", reject)
    child.stdout.once("data", (line: Buffer) => {
      const ports = JSON.parse(line.toString()) as { ws: number; http: number }
      resolve({
        ...ports,
        pid: child.pid!,
        stop: () => {
          child.stdin.end()
          child.kill()
        }
      })
    })
  })
}
