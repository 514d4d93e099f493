/**
 * The fuzzing client: connects to an echo server once per case and runs the case against it in
 * the client role (every frame masked; after the closing handshake the server is expected to
 * close TCP, as RFC 6455 §7.1.1 asks). A compression case (`deflate`) offers permessage-deflate
 * as the case says and checks the answer against the offers (`PerMessageDeflate.validateAnswer`);
 * every other case offers no extension.
 *
 * @since 0.1.0
 */
import { Buffer } from "node:buffer"
import * as net from "node:net"
import * as PerMessageDeflate from "../../src/Codec/PerMessageDeflate.ts"
import * as Cases from "./Cases.ts"
import { type CaseDef, type CaseResult, runCase, type SessionOptions } from "./Fuzzer.ts"
import * as Wire from "./Wire.ts"

/** Options for {@link runAll}. */
export interface Options extends SessionOptions {
  /** The cases to run. Default: the whole suite. */
  readonly cases?: ReadonlyArray<CaseDef> | undefined
  /** Opening handshake limit in milliseconds. Default 5000. */
  readonly handshakeTimeoutMs?: number | undefined
}

const failedHandshake = (def: CaseDef, why: string, started: number): CaseResult => ({
  id: def.id,
  grade: "FAILED",
  behavior: "FAILED",
  behaviorClose: "FAILED",
  result: `The WebSocket opening handshake was never completed: ${why}`,
  resultClose: "The WebSocket opening handshake was never completed!",
  received: [],
  remoteCloseCode: null,
  durationMs: Date.now() - started
})

/** Runs one case against the echo server at `host:port`. Never rejects. */
export const runOne = (def: CaseDef, host: string, port: number, options: Options = {}): Promise<CaseResult> =>
  new Promise((resolve) => {
    const started = Date.now()
    const socket = net.connect({ host, port })
    const offers = def.deflate?.offers ?? []
    const offer = offers.length === 0 ? undefined : offers.map(PerMessageDeflate.offerHeader).join(", ")
    const { request, key } = Wire.upgradeRequest(`${host}:${port}`, `/runCase?case=${encodeURIComponent(def.id)}`, offer)
    let buf = Buffer.alloc(0)
    const fail = (why: string) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(failedHandshake(def, why, started))
    }
    const timer = setTimeout(() => fail("timed out"), options.handshakeTimeoutMs ?? 5000)
    socket.on("error", (e) => fail(e.message))
    socket.on("connect", () => socket.write(request))
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk])
      const taken = Wire.takeHead(buf)
      if (taken === undefined) return
      clearTimeout(timer)
      socket.off("data", onData)
      socket.removeAllListeners("error")
      const wrong = Wire.checkUpgradeResponse(taken.head, key)
      if (wrong !== undefined) return fail(wrong)
      const answer = taken.head.headers.get("sec-websocket-extensions")
      let agreed: PerMessageDeflate.Agreed | undefined
      if (answer !== undefined) {
        // the server took one of the offers: the first it satisfies is the one
        const verdicts = (offers.length === 0 ? [undefined] : offers).map((o) => PerMessageDeflate.validateAnswer([answer], o))
        const found = verdicts.find((v) => v?._tag === "Agreed")
        if (found?._tag !== "Agreed") {
          const first = verdicts[0]
          return fail(`Sec-WebSocket-Extensions answer refused: ${first === undefined || first._tag === "Agreed" ? answer : first.message}`)
        }
        agreed = found
      }
      runCase(def, socket, "client", taken.rest, options, agreed).then(resolve)
    }
    socket.on("data", onData)
  })

/** Runs every case (sequentially, one connection each) against `host:port`. */
export const runAll = async (host: string, port: number, options: Options = {}): Promise<Array<CaseResult>> => {
  const out: Array<CaseResult> = []
  for (const def of options.cases ?? Cases.all) out.push(await runOne(def, host, port, options))
  return out
}
