/**
 * Start and stop for the `ws` servers the promise-based suites use as peers: a server on
 * 127.0.0.1:0 whose port is known once it listens, and a stop that terminates every client so
 * `close` does not wait on them.
 */
import type * as net from "node:net"
import { type ServerOptions, WebSocketServer } from "ws"

/** A listening `ws` server and its port. */
export interface ListeningWs {
  readonly server: WebSocketServer
  readonly port: number
}

/** Starts a `ws` server on 127.0.0.1 with a port the kernel picks (`host` and `port` are set here). */
export const listenWs = (options: Omit<ServerOptions, "host" | "port" | "server" | "noServer"> = {}): Promise<ListeningWs> =>
  new Promise((resolve, reject) => {
    const server = new WebSocketServer({ ...options, host: "127.0.0.1", port: 0 })
    server.once("error", reject)
    server.once("listening", () => {
      server.off("error", reject)
      resolve({ server, port: (server.address() as net.AddressInfo).port })
    })
  })

/** Terminates every client of `server` (no close handshake) and resolves once it stopped. */
export const closeWs = (server: WebSocketServer): Promise<void> =>
  new Promise((resolve) => {
    for (const client of server.clients) client.terminate()
    server.close(() => resolve())
  })
