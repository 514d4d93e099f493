/**
 * The floors of the loopback WebSocket questions: `node:net` clients that speak just enough of
 * the protocol to drive `bench/loopback-server.ts` and parse nothing. `rawFirehoseRate` counts
 * bytes only (the server's ceiling: no client can receive faster than this one);
 * `rawRoundTrip` writes one pre-masked 40 B frame and waits for the known echo length (the
 * round-trip floor: the sockets, the kernel and the server, with no client work at all).
 */
import * as net from "node:net"

const KEY = "dGhlIHNhbXBsZSBub25jZQ=="

/**
 * Dials `port`, sends the upgrade for `path`, and calls `onData` with every byte after the 101
 * head (a head split over reads is gathered first). `onError` hears a failed dial.
 */
export const upgraded = (
  port: number,
  path: string,
  onOpen: (socket: net.Socket) => void,
  onData: (chunk: Buffer, socket: net.Socket) => void,
  onError?: (error: Error) => void
): net.Socket => {
  const socket = net.connect({ host: "127.0.0.1", port, noDelay: true })
  if (onError !== undefined) socket.once("error", onError)
  let head: Buffer | undefined = Buffer.alloc(0)
  socket.on("data", (chunk: Buffer) => {
    if (head === undefined) return onData(chunk, socket)
    head = head.length === 0 ? chunk : Buffer.concat([head, chunk])
    const end = head.indexOf("\r\n\r\n")
    if (end < 0) return
    const rest = head.subarray(end + 4)
    head = undefined
    onOpen(socket)
    if (rest.length > 0) onData(rest, socket)
  })
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`
  )
  return socket
}

/** Receives the firehose of `count` `size`-byte frames counting bytes only; frames per second. */
export const rawFirehoseRate = (port: number, size: number, count: number, touch: (chunk: Buffer) => void): Promise<number> =>
  new Promise((resolve, reject) => {
    // every frame's bytes, then the 4-byte close frame
    const want = count * (size + (size < 126 ? 2 : 4)) + 4
    let got = 0
    let started = 0
    const socket = upgraded(port, `/stream?size=${size}&count=${count}`, () => {
      started = performance.now()
    }, (chunk) => {
      touch(chunk)
      got += chunk.length
      if (got >= want) {
        socket.destroy()
        resolve(count / ((performance.now() - started) / 1000))
      }
    })
    socket.on("error", reject)
  })

/** A masked 40 B binary client frame (mask key 0: the payload bytes stay as they are). */
const ECHO_FRAME = Buffer.concat([Buffer.from([0x82, 0x80 | 40, 0, 0, 0, 0]), Buffer.alloc(40, 0x62)])
/** The server's unmasked echo: 2 header bytes and the payload. */
const ECHO_LENGTH = 2 + 40

/**
 * Opens an echo connection and hands `measure` a `step` that writes the frame and resolves
 * when the echo's bytes are in; closes the socket when `measure` settles.
 */
export const rawRoundTrip = <A>(port: number, measure: (step: () => Promise<void>) => Promise<A>): Promise<A> =>
  new Promise((resolve, reject) => {
    let got = 0
    let wake: () => void = () => {}
    const socket = upgraded(port, "/echo", (socket) => {
      measure(() =>
        new Promise<void>((done) => {
          wake = done
          socket.write(ECHO_FRAME)
        })
      ).then((a) => {
        socket.destroy()
        resolve(a)
      }, reject)
    }, (chunk) => {
      got += chunk.length
      if (got >= ECHO_LENGTH) {
        got -= ECHO_LENGTH
        wake()
      }
    })
    socket.on("error", reject)
  })
