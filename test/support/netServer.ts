/**
 * A raw `node:net` (or `node:tls`) server on 127.0.0.1:0 for one test's scope, the peer of the
 * transport suites: each accepted socket is set up by the test's `onSocket`, and the server
 * counts connections and closes on the raw TCP sockets, so waits are event-driven and leaks are
 * seen from the server's side.
 */
import * as Effect from "effect/Effect"
import * as net from "node:net"
import * as tls from "node:tls"

/** A listening server and what it saw. */
export interface NetServer {
  readonly port: number
  readonly server: net.Server
  /** The sockets handed to `onSocket`, in accept order (for TLS, the secure sockets). */
  readonly sockets: Array<net.Socket>
  /** Raw TCP connections closed so far, including TLS ones whose handshake failed. */
  readonly closes: () => number
  /** Resolves once `n` raw connections have closed. */
  readonly closed: (n: number) => Promise<void>
  /** Resolves with the `n`-th socket handed to `onSocket` (1-based) once it is accepted. */
  readonly connected: (n: number) => Promise<net.Socket>
}

/** Options of {@link serve}. */
export interface ServeOptions {
  /** Serve TLS with these options (key, cert, ...) instead of plain TCP. Default: plain TCP. */
  readonly tls?: tls.TlsOptions | undefined
}

/**
 * Starts a server on 127.0.0.1:0; closing the test's scope destroys every accepted socket and
 * stops listening. Sockets swallow their errors; plain TCP ones are half-open capable (TLS ones
 * are not, so a connection whose handshake failed still closes when the client's does). Unless
 * `onSocket` adds its own listeners, a socket ends its side when the client ends (so `close`
 * follows) and its input is drained.
 */
export const serve = (onSocket: (socket: net.Socket) => void = () => {}, options: ServeOptions = {}) =>
  Effect.acquireRelease(
    Effect.callback<NetServer>((resume) => {
      const sockets: Array<net.Socket> = []
      let closes = 0
      const waiters: Array<() => void> = []
      const notify = () => waiters.splice(0).forEach((f) => f())
      const accept = (socket: net.Socket) => {
        sockets.push(socket)
        socket.on("error", () => {})
        const [ends, datas] = [socket.listenerCount("end"), socket.listenerCount("data")]
        onSocket(socket)
        // by default the server half-closes when the client does, so 'close' (counted below) follows
        if (socket.listenerCount("end") === ends) socket.on("end", () => socket.end())
        if (socket.listenerCount("data") === datas) socket.resume()
        notify()
      }
      const server: net.Server = options.tls === undefined
        ? net.createServer({ allowHalfOpen: true }, accept)
        : tls.createServer(options.tls, accept)
      // closes are counted on the raw TCP sockets: a TLS handshake that fails never reaches `accept`
      server.on("connection", (socket: net.Socket) => {
        socket.on("error", () => {})
        socket.on("close", () => {
          closes++
          notify()
        })
      })
      server.on("tlsClientError", () => {})
      const until = <A>(ready: () => A | undefined) =>
        new Promise<A>((resolve) => {
          const check = () => {
            const value = ready()
            if (value === undefined) waiters.push(check)
            else resolve(value)
          }
          check()
        })
      server.listen(0, "127.0.0.1", () => {
        resume(Effect.succeed({
          port: (server.address() as net.AddressInfo).port,
          server,
          sockets,
          closes: () => closes,
          closed: (n) => until(() => (closes >= n ? true : undefined)).then(() => {}),
          connected: (n) => until(() => sockets[n - 1])
        }))
      })
    }),
    (s) =>
      Effect.sync(() => {
        for (const socket of s.sockets) socket.destroy()
        s.server.close()
      })
  )
