/**
 * An echo server built on the npm `ws` package, for the fuzzing client. CLI:
 * `node ws-echo-server.ts --port PORT` (0 picks a free one); prints `listening PORT` on stdout
 * once bound to 127.0.0.1, echoes every text and binary message (`ws` answers pings itself),
 * and exits on SIGTERM. `--compression` turns on `perMessageDeflate` (ws's defaults: any offer
 * it can take is accepted) for the compression cases.
 *
 * @since 0.1.0
 */
import { WebSocketServer } from "ws"

const i = process.argv.indexOf("--port")
const port = i >= 0 ? Number(process.argv[i + 1]) : 0
// Section 9 tests limits, not policy: lift ws's default caps (100 MiB payload, and the
// 16384-fragment cap of ws 8.18+, which 9.3.1/9.4.1's 65536 fragments would hit).
const perMessageDeflate = process.argv.includes("--compression")
const server = new WebSocketServer({ host: "127.0.0.1", port, maxPayload: 64 * 1024 * 1024, maxFragments: 0, perMessageDeflate })
server.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }))
  ws.on("error", () => {}) // protocol violations close the connection; nothing else to do
})
server.on("listening", () => {
  const address = server.address()
  process.stdout.write(`listening ${typeof address === "object" && address !== null ? address.port : port}\n`)
})
process.on("SIGTERM", () => server.close(() => process.exit(0)))
