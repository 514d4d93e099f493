/**
 * Start and stop for the `node:http` servers the suites use as oracles: listen on 127.0.0.1:0
 * and learn the port, then close every connection and the listener so no socket outlives the
 * suite.
 */
import type * as http from "node:http"
import type * as net from "node:net"

/** Listens on 127.0.0.1 with a port the kernel picks and resolves with it; any `net.Server` (http, https, net). */
export const listen = (server: net.Server): Promise<number> =>
  new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject)
      resolve((server.address() as net.AddressInfo).port)
    })
  })

/** Destroys every connection the server holds (idle keep-alive ones too) and resolves once it stopped listening. */
export const closeHttp = (server: http.Server): Promise<void> =>
  new Promise((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  })
