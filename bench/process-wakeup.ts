/**
 * How long a sequential ping-pong between two processes takes on loopback, with nothing of the
 * library in it: a `node:net` echo server in a child process and a client sending 1 byte at a
 * time. On an idle VM the other process's wake-up can dominate every round-trip benchmark (the
 * raw floor included); run it once idle and once with a core kept busy (`yes > /dev/null &`).
 *
 *   npx node bench/process-wakeup.ts [count]
 */
import { fork } from "node:child_process"
import * as net from "node:net"

const COUNT = Number(process.argv[3] ?? process.argv[2] ?? 5000)

if (process.argv[2] === "server") {
  const server = net.createServer({ noDelay: true }, (socket) => socket.on("data", (data) => socket.write(data)))
  server.listen(0, "127.0.0.1", () => process.send!((server.address() as net.AddressInfo).port))
} else {
  const child = fork(new URL(import.meta.url).pathname, ["server"])
  child.once("message", (port) => {
    const socket = net.connect({ port: port as number, host: "127.0.0.1", noDelay: true }, () => {
      const samples: Array<number> = []
      let sentAt = 0n
      const ping = () => {
        sentAt = process.hrtime.bigint()
        socket.write("x")
      }
      socket.on("data", () => {
        samples.push(Number(process.hrtime.bigint() - sentAt) / 1000)
        if (samples.length < COUNT) return ping()
        samples.sort((a, b) => a - b)
        const at = (q: number) => samples[Math.floor(q * (samples.length - 1))]!.toFixed(1)
        console.log(`two-process node:net ping-pong, ${COUNT} rounds: p50 ${at(0.5)} µs, p99 ${at(0.99)} µs`)
        child.kill()
        socket.destroy()
      })
      ping()
    })
  })
}
