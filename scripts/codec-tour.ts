/**
 * `npm run codec:tour`: a short tour of the sans-IO codecs that round-trips real bytes in
 * memory and prints what it did — no sockets, no timers, exits at once. (It was `npm start`
 * before the main job, `src/Demo`, existed.)
 *
 * - WebSocket: a client `FrameWriter` (masked) → a server `FrameReader`, and a server writer
 *   (unmasked, fragmenting) → a client reader, with text, binary, ping, a fragmented message
 *   with a ping between its fragments, and a close; the bytes are handed over in odd-sized
 *   chunks to show that chopping does not matter.
 * - HTTP/1.1: `RequestWriter` → `RequestReader` (a POST with a JSON body), and
 *   `HttpWrite.writeResponse` → `ResponseReader` for a fixed-length and a chunked response.
 *
 * Exits with status 1 if any round trip does not give back what went in.
 *
 * @since 0.1.0
 */
import * as FrameReader from "../src/Codec/FrameReader.ts"
import * as FrameWriter from "../src/Codec/FrameWriter.ts"
import * as HttpWrite from "../src/Codec/HttpWrite.ts"
import * as MaskSource from "../src/Codec/MaskSource.ts"
import * as RequestReader from "../src/Codec/RequestReader.ts"
import * as RequestWriter from "../src/Codec/RequestWriter.ts"
import * as ResponseReader from "../src/Codec/ResponseReader.ts"
import * as WriteBuf from "../src/Codec/WriteBuf.ts"

let failures = 0
const check = (ok: boolean, what: string): void => {
  if (!ok) failures++
  console.log(`  ${ok ? "ok  " : "FAIL"} ${what}`)
}

const hex = (bytes: Uint8Array, max = 16): string =>
  Buffer.from(bytes.subarray(0, max)).toString("hex").replace(/(..)/g, "$1 ").trim() +
  (bytes.length > max ? " …" : "")

/** Feeds `wire` to `reader` in chunks of `step` bytes and drains every message as an owned copy. */
const readAll = (reader: FrameReader.FrameReader, wire: Uint8Array, step: number): Array<string> => {
  const out: Array<string> = []
  for (let at = 0; at < wire.length; at += step) {
    reader.feed(wire.subarray(at, Math.min(at + step, wire.length)))
    for (let m = reader.next(); m._tag !== "NeedMore"; m = reader.next()) {
      switch (m._tag) {
        case "Text":
          out.push(`Text(${JSON.stringify(m.text())})`)
          break
        case "Close":
          out.push(`Close(${m.code}, ${JSON.stringify(m.reason)})`)
          break
        case "Binary":
        case "Ping":
        case "Pong":
          out.push(`${m._tag}(${m.length} B)`)
          break
        default:
          out.push(`violation ${m._tag}: ${m.message}`)
          return out
      }
    }
  }
  return out
}

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => Buffer.concat(parts)

/** Encodes one frame (or fragment run) into a fresh buffer and returns a copy of its bytes. */
const frame = (
  writer: FrameWriter.FrameWriter,
  kind: FrameWriter.Kind,
  payload: string | Uint8Array
): Uint8Array => {
  const buf = WriteBuf.make({ capacity: 4096 })
  const n = writer.encode(buf, kind, payload)
  if (typeof n !== "number") throw new Error(`encode failed: ${n.message}`)
  return Uint8Array.prototype.slice.call(buf.data())
}

const closeFrame = (writer: FrameWriter.FrameWriter, code: number, reason: string): Uint8Array => {
  const buf = WriteBuf.make({ capacity: 256 })
  const n = writer.encodeClose(buf, code, reason)
  if (typeof n !== "number") throw new Error(`encodeClose failed: ${n.message}`)
  return Uint8Array.prototype.slice.call(buf.data())
}

// --- WebSocket, client → server (masked) --------------------------------------------------------
console.log("WebSocket client → server (masked, seeded mask source)")
{
  const client = FrameWriter.make({ role: "client", maskSource: MaskSource.seeded(0x5eed) })
  const server = FrameReader.make({ role: "server" })
  const hello = frame(client, FrameWriter.Kind.Text, "hello, nexus ✓")
  console.log(`  text frame: ${hello.length} B  ${hex(hello)}`)
  const wire = concat([
    hello,
    frame(client, FrameWriter.Kind.Binary, new Uint8Array(300).fill(7)),
    frame(client, FrameWriter.Kind.Ping, "are you there?"),
    closeFrame(client, 1000, "bye")
  ])
  const got = readAll(server, wire, 7)
  console.log(`  ${wire.length} B fed in 7-byte chunks → ${got.join(", ")}`)
  check(
    got.join() === ["Text(\"hello, nexus ✓\")", "Binary(300 B)", "Ping(14 B)", "Close(1000, \"bye\")"].join(),
    "server read every client frame back"
  )
  const unmasked = frame(FrameWriter.make({ role: "server" }), FrameWriter.Kind.Text, "x")
  const wrong = readAll(FrameReader.make({ role: "server" }), unmasked, 64)
  console.log(`  an unmasked frame to a server → ${wrong[0]}`)
  check(wrong[0]?.startsWith("violation UnmaskedFrame") === true, "server refused an unmasked frame")
}

// --- WebSocket, server → client (unmasked, fragmented) -----------------------------------------
console.log("WebSocket server → client (unmasked, fragmentSize 1000)")
{
  const server = FrameWriter.make({ role: "server", fragmentSize: 1000 })
  const client = FrameReader.make({ role: "client" })
  const big = "é".repeat(1500) // 3000 B of UTF-8: three fragments, a code point split at 1000
  const fragmented = frame(server, FrameWriter.Kind.Text, big)
  // a ping may sit between the fragments of a message: splice one in after the first fragment
  const firstFragment = 4 + 1000 // 16-bit length header + payload
  const wire = concat([
    fragmented.subarray(0, firstFragment),
    frame(server, FrameWriter.Kind.Ping, "mid-message"),
    fragmented.subarray(firstFragment),
    closeFrame(server, 1001, "going away")
  ])
  const got = readAll(client, wire, 333)
  console.log(`  ${wire.length} B fed in 333-byte chunks → ${got.map((s) => (s.length > 40 ? `${s.slice(0, 40)}…` : s)).join(", ")}`)
  check(
    got.length === 3 && got[0] === "Ping(11 B)" && got[1] === `Text(${JSON.stringify(big)})` &&
      got[2] === "Close(1001, \"going away\")",
    "client reassembled the fragmented text around the ping"
  )
}

// --- HTTP/1.1 request ---------------------------------------------------------------------------
console.log("HTTP/1.1 RequestWriter → RequestReader")
{
  const writer = RequestWriter.make({
    host: "api.example.com",
    basePath: "/api/v3",
    defaultHeaders: [["User-Agent", "effect-nexus-demo"]]
  })
  const body = JSON.stringify({ symbol: "BTC-USD", side: "BUY", price: "64250.10", quantity: "0.015" })
  const request = writer.post("/order").query("test", "yes & no").header("Content-Type", "application/json")
    .body(body).finish()
  if (request._tag !== "Request") throw new Error(`request did not build: ${request.message}`)
  const head = Buffer.from(request.bytes).toString("latin1").split("\r\n\r\n")[0]!
  console.log(head.split("\r\n").map((line) => `  > ${line}`).join("\n"))
  const reader = RequestReader.make()
  reader.feed(request.bytes)
  const parsed = reader.next()
  if (parsed._tag !== "Request") throw new Error(`request did not parse: ${parsed._tag}`)
  console.log(`  parsed: ${parsed.method} ${parsed.target}, Host ${parsed.header("host")}, ${parsed.bodyLength} B body`)
  check(
    parsed.method === "POST" && parsed.target === "/api/v3/order?test=yes%20%26%20no" &&
      parsed.header("content-type") === "application/json" && parsed.bodyText() === body,
    "request reader got method, target, headers and body back"
  )
  const bad = writer.get("/x").header("X-Injected", "a\r\nEvil: 1").finish()
  console.log(`  a header value with CR LF → ${bad._tag}: ${"message" in bad ? bad.message : ""}`)
  check(bad._tag === "CrlfInjection", "request writer refused CR LF in a header")
}

// --- HTTP/1.1 responses -------------------------------------------------------------------------
console.log("HTTP/1.1 writeResponse → ResponseReader (fixed length, then chunked)")
{
  const target = Buffer.alloc(1024)
  const json = "{\"orderId\":1234567890,\"status\":\"NEW\"}"
  const n = HttpWrite.writeResponse(target, 0, { status: 200, headers: [["Content-Type", "application/json"]] }, json)
  if (typeof n !== "number") throw new Error(`response did not write: ${n.message}`)
  // with a framing header of its own, writeResponse adds no Content-Length: the body is sent as
  // given, here already chunk-encoded (a chunk extension and a trailer included)
  const m = HttpWrite.writeResponse(target, n, {
    status: 200,
    headers: [["Transfer-Encoding", "chunked"], ["Connection", "close"]]
  }, "5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Checksum: 42\r\n\r\n")
  if (typeof m !== "number") throw new Error(`response did not write: ${m.message}`)
  const wire = target.subarray(0, n + m)
  const reader = ResponseReader.make()
  const responses: Array<string> = []
  for (let at = 0; at < wire.length; at += 10) {
    reader.feed(wire.subarray(at, Math.min(at + 10, wire.length)))
    for (let r = reader.next(); r._tag !== "NeedMore"; r = reader.next()) {
      if (r._tag !== "Response") throw new Error(`response did not parse: ${r.message}`)
      responses.push(
        `${r.status} ${r.chunked ? "chunked" : `Content-Length ${r.contentLength}`} ` +
          `${JSON.stringify(r.bodyText())}${r.trailer("x-checksum") === undefined ? "" : ` trailer X-Checksum ${r.trailer("x-checksum")}`}` +
          ` reusable=${r.reusable}`
      )
    }
  }
  for (const r of responses) console.log(`  ${r}`)
  check(
    responses.length === 2 && responses[0] === `200 Content-Length ${json.length} ${JSON.stringify(json)} reusable=true` &&
      responses[1] === "200 chunked \"hello, world\" trailer X-Checksum 42 reusable=false",
    "response reader got both responses, fed in 10-byte chunks"
  )
}

console.log(failures === 0 ? "all round trips ok" : `${failures} round trip(s) FAILED`)
process.exitCode = failures === 0 ? 0 : 1
