/**
 * A fuzzing-server client driver built on the npm `ws` package — the reference the suite is
 * validated with. CLI: `node ws-client-driver.ts --url ws://127.0.0.1:PORT --agent NAME`.
 * Asks `/getCaseCount`, runs `/runCase?case=N&agent=NAME` for every case (echoing every text
 * and binary message; `ws` answers pings itself), then calls `/updateReports?agent=NAME`.
 * Offers permessage-deflate on every connection (ws's client default), which the fuzzing server
 * takes only in the compression cases.
 * Exits 0 when every connection ended, 1 on a driver error.
 *
 * @since 0.1.0
 */
import WebSocket from "ws"

const arg = (name: string): string => {
  const i = process.argv.indexOf(`--${name}`)
  const value = i >= 0 ? process.argv[i + 1] : undefined
  if (value === undefined) {
    process.stderr.write(`ws-client-driver: missing --${name}\n`)
    process.exit(2)
  }
  return value
}
const base = arg("url").replace(/\/$/, "")
const agent = arg("agent")

/** Opens `path`, echoes data messages, resolves with the first text message (if any) on close. */
const session = (path: string): Promise<string | undefined> =>
  new Promise((resolve, reject) => {
    // section 9 tests limits, not policy: lift ws's 16384-fragment cap (9.3.1 sends 65536)
    const ws = new WebSocket(`${base}${path}`, { maxPayload: 64 * 1024 * 1024, maxFragments: 0 })
    let first: string | undefined
    ws.on("message", (data, isBinary) => {
      if (first === undefined && !isBinary) first = data.toString()
      ws.send(data, { binary: isBinary })
    })
    ws.on("error", () => {}) // a case may make the connection fail on purpose; "close" follows
    ws.on("close", () => resolve(first))
    ws.on("unexpected-response", (_req, res) => reject(new Error(`${path}: HTTP ${res.statusCode}`)))
  })

const main = async () => {
  const count = Number(await session("/getCaseCount"))
  if (!Number.isInteger(count) || count <= 0) throw new Error(`bad case count ${count}`)
  const q = encodeURIComponent(agent)
  for (let n = 1; n <= count; n++) await session(`/runCase?case=${n}&agent=${q}`)
  await session(`/updateReports?agent=${q}`)
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`ws-client-driver: ${String(e)}\n`)
    process.exit(1)
  }
)
