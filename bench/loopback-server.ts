/**
 * The servers `bench/loopback.ts` measures clients against, run in a child process of their own
 * so the client under test has the other core to itself. Every client in a comparison talks to
 * the same server, so the server's own cost is the same for all of them.
 *
 * - WebSocket firehose (`/stream?size=S&count=N`): after the upgrade, writes N unmasked binary
 *   frames of S bytes as fast as the socket takes them (pre-built batches of frames, waiting for
 *   `'drain'`), then a close frame.
 * - WebSocket echo (any other path): echoes every message back (text stays text), answers pings.
 * - HTTP: answers every request (read by head + Content-Length) with the codec bench's fixed
 *   order-entry 200 OK (seven headers, ~100 B JSON body), keep-alive.
 *
 * Deliberately hand-written on raw `node:net` sockets rather than `WebSocketServer.serve` or
 * `HttpServe.listen`: it is the fixed peer the *clients* are compared against, so it must not
 * change when the library does (the server side is measured by `bench/server.ts`).
 *
 * Prints one JSON line `{"ws":PORT,"http":PORT}` on stdout once both listen on 127.0.0.1, and
 * exits when stdin closes (the parent's exit closes it).
 */
import { createHash } from "node:crypto"
import * as net from "node:net"
import * as FrameReader from "../src/Codec/FrameReader.ts"
import * as FrameWriter from "../src/Codec/FrameWriter.ts"
import * as WriteBuf from "../src/Codec/WriteBuf.ts"
import { ORDER_RESPONSE } from "./codec/http-parse.ts"

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
const HEAD_END = Buffer.from("\r\n\r\n")

const HTTP_RESPONSE = ORDER_RESPONSE

/** An unmasked server frame: binary, FIN, `size` payload bytes. */
const serverFrame = (size: number): Buffer => {
  const header = size < 126 ? Buffer.from([0x82, size]) : Buffer.from([0x82, 126, size >> 8, size & 0xff])
  return Buffer.concat([header, Buffer.alloc(size, 0x61)])
}

const firehose = async (socket: net.Socket, size: number, count: number): Promise<void> => {
  const perBatch = Math.max(1, Math.floor(64 * 1024 / (size + 4)))
  const batch = Buffer.concat(Array.from({ length: perBatch }, () => serverFrame(size)))
  let sent = 0
  while (sent < count && !socket.destroyed) {
    const n = Math.min(perBatch, count - sent)
    const chunk = n === perBatch ? batch : batch.subarray(0, n * (batch.length / perBatch))
    sent += n
    if (!socket.write(chunk)) await new Promise<void>((resolve) => socket.once("drain", resolve))
  }
  if (!socket.destroyed) socket.end(Buffer.from([0x88, 2, 0x03, 0xe8]))
}

const echo = (socket: net.Socket, rest: Buffer): void => {
  const reader = FrameReader.make({ role: "server" })
  const writer = FrameWriter.make({ role: "server" })
  const out = WriteBuf.make({ capacity: 1 << 20 })
  const onBytes = (chunk: Buffer): void => {
    let fed = reader.feed(chunk)
    for (;;) {
      const m = reader.next()
      if (m._tag === "NeedMore") {
        if (fed === chunk.length) break
        fed += reader.feed(chunk.subarray(fed))
        continue
      }
      out.clear()
      switch (m._tag) {
        case "Text":
          writer.encode(out, FrameWriter.Kind.Text, m.payload)
          break
        case "Binary":
          writer.encode(out, FrameWriter.Kind.Binary, m.payload)
          break
        case "Ping":
          writer.encode(out, FrameWriter.Kind.Pong, m.payload)
          break
        case "Pong":
          continue
        case "Close":
          writer.encodeClose(out, 1000)
          socket.end(Buffer.from(out.data()))
          return
        default:
          socket.destroy()
          return
      }
      socket.write(Buffer.from(out.data()))
    }
  }
  socket.on("data", onBytes)
  if (rest.length > 0) onBytes(rest)
}

const wsServer = net.createServer({ noDelay: true }, (socket) => {
  socket.on("error", () => socket.destroy())
  let head: Buffer = Buffer.alloc(0)
  const onHead = (chunk: Buffer): void => {
    head = Buffer.concat([head, chunk])
    const end = head.indexOf(HEAD_END)
    if (end < 0) return
    socket.off("data", onHead)
    const text = head.subarray(0, end).toString("latin1")
    const key = /\r\nsec-websocket-key:\s*(\S+)/i.exec(text)?.[1] ?? ""
    const path = text.slice(text.indexOf(" ") + 1, text.indexOf(" HTTP/"))
    const accept = createHash("sha1").update(key + GUID).digest("base64")
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`
    )
    const url = new URL(path, "http://127.0.0.1")
    if (url.pathname === "/stream") {
      void firehose(socket, Number(url.searchParams.get("size")), Number(url.searchParams.get("count")))
    } else {
      echo(socket, head.subarray(end + 4))
    }
  }
  socket.on("data", onHead)
})

const httpServer = net.createServer({ noDelay: true }, (socket) => {
  socket.on("error", () => socket.destroy())
  let pending: Buffer = Buffer.alloc(0)
  socket.on("data", (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
    let replies = 0
    for (;;) {
      const end = pending.indexOf(HEAD_END)
      if (end < 0) break
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(pending.subarray(0, end).toString("latin1"))?.[1] ?? 0)
      if (pending.length < end + 4 + length) break
      pending = pending.subarray(end + 4 + length)
      replies++
    }
    if (replies === 1) socket.write(HTTP_RESPONSE)
    else if (replies > 1) socket.write(Buffer.concat(Array.from({ length: replies }, () => HTTP_RESPONSE)))
  })
})

const listen = (server: net.Server): Promise<number> =>
  new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port)))

const [ws, http] = await Promise.all([listen(wsServer), listen(httpServer)])
process.stdout.write(`${JSON.stringify({ ws, http })}\n`)
process.stdin.on("end", () => process.exit(0))
process.stdin.on("close", () => process.exit(0))
process.stdin.resume()
