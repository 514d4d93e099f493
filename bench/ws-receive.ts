/**
 * The `ws` side of every firehose question: a `ws` client that receives `count` messages from
 * `url`, hands each to `touch` (the work a `ws` `message` listener gets) and resolves with the
 * rate in messages per second, timed from `open`.
 */
import WebSocket from "ws"

/** Options of {@link wsReceiveRate}. */
export interface WsReceiveOptions {
  /** Reads the message (each candidate keeps its own sink). */
  readonly touch: (data: Buffer) => void
  /** `ws` client options, e.g. `perMessageDeflate`. Default `ws`'s. */
  readonly client?: WebSocket.ClientOptions | undefined
  /** Runs on `open`; a throw fails the run (e.g. "no compression agreed"). */
  readonly onOpen?: ((socket: WebSocket) => void) | undefined
}

/** Receives `count` messages from `url` with a `ws` client; messages per second. */
export const wsReceiveRate = (url: string, count: number, options: WsReceiveOptions): Promise<number> =>
  new Promise((resolve, reject) => {
    const socket = new WebSocket(url, options.client)
    let received = 0
    let started = 0
    socket.on("open", () => {
      try {
        options.onOpen?.(socket)
      } catch (error) {
        reject(error)
      }
      started = performance.now()
    })
    socket.on("message", (data: Buffer) => {
      options.touch(data)
      if (++received === count) {
        const elapsed = performance.now() - started
        socket.terminate()
        resolve(count / (elapsed / 1000))
      }
    })
    socket.on("error", reject)
  })
