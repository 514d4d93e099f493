/**
 * The conformance suite's own wire layer: frame encoding that can break any rule on purpose,
 * an incremental frame reader that reports every rule the peer breaks, and the opening
 * handshake for both roles.
 *
 * It deliberately shares no framing code with `src/Codec`: an oracle that reused the codec it
 * grades would share its bugs. Everything here is plain `node:buffer` / `node:crypto`, and
 * `node:zlib` for permessage-deflate (RFC 7692): {@link Deflate} and {@link Inflate} are zlib's
 * raw deflate, with the LZ77 window carried from one message to the next as zlib's preset
 * dictionary (context takeover). Only the extension *negotiation* is the package's
 * (`src/Codec/PerMessageDeflate.ts`: pure header functions); the suite checks it against `ws`
 * and Python `websockets` with compression on, in both roles (test/conformance.deflate.test.ts).
 *
 * @since 0.1.0
 */
import { Buffer, isUtf8 } from "node:buffer"
import { createHash, randomBytes } from "node:crypto"
import * as zlib from "node:zlib"
import * as PerMessageDeflate from "../../src/Codec/PerMessageDeflate.ts"

/** The GUID of RFC 6455 §1.3. */
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/** Which side of the connection an endpoint is on. */
export type Role = "client" | "server"

/** `Sec-WebSocket-Accept` for a key (RFC 6455 §4.2.2). */
export const acceptKey = (key: string): string => createHash("sha1").update(key + GUID).digest("base64")

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/** One frame to put on the wire, any field may break the RFC. */
export interface FrameSpec {
  readonly opcode: number
  readonly payload?: Uint8Array | string | undefined
  /** Default true. */
  readonly fin?: boolean | undefined
  /** RSV1..3 as a 3-bit number. Default 0. */
  readonly rsv?: number | undefined
  /** Repeat `payload` until the frame payload has this many bytes (Autobahn's `payload_len`). */
  readonly payloadLen?: number | undefined
}

/** Payload bytes of a spec (strings are UTF-8, `payloadLen` repeats). */
export const payloadOf = (spec: Pick<FrameSpec, "payload" | "payloadLen">): Buffer => {
  const base =
    spec.payload === undefined
      ? Buffer.alloc(0)
      : typeof spec.payload === "string"
      ? Buffer.from(spec.payload, "utf8")
      : Buffer.from(spec.payload.buffer, spec.payload.byteOffset, spec.payload.byteLength)
  if (spec.payloadLen === undefined || spec.payloadLen === base.length) return base
  const out = Buffer.allocUnsafe(spec.payloadLen)
  if (base.length === 0) return out.fill(0)
  for (let i = 0; i < out.length; i += base.length) base.copy(out, i, 0, Math.min(base.length, out.length - i))
  return out
}

/**
 * Encodes one frame with the minimal length form. `mask` true masks with a random key (client
 * role).
 */
export const encodeFrame = (spec: FrameSpec, mask: boolean): Buffer => {
  const payload = payloadOf(spec)
  const len = payload.length
  const headLen = (len < 126 ? 2 : len < 65536 ? 4 : 10) + (mask ? 4 : 0)
  const out = Buffer.allocUnsafe(headLen + len)
  out[0] = ((spec.fin ?? true) ? 0x80 : 0) | (((spec.rsv ?? 0) & 7) << 4) | (spec.opcode & 0x0f)
  let at = 2
  if (len < 126) out[1] = len
  else if (len < 65536) {
    out[1] = 126
    out.writeUInt16BE(len, 2)
    at = 4
  } else {
    out[1] = 127
    out.writeUInt32BE(Math.floor(len / 2 ** 32), 2)
    out.writeUInt32BE(len >>> 0, 6)
    at = 10
  }
  if (mask) {
    out[1] |= 0x80
    const key = randomBytes(4)
    key.copy(out, at)
    at += 4
    for (let i = 0; i < len; i++) out[at + i] = payload[i] ^ key[i & 3]
  } else payload.copy(out, at)
  return out
}

/** A close frame payload: a code (optional) and reason bytes (may be invalid UTF-8). */
export const closePayload = (code?: number | undefined, reason?: Uint8Array | string | undefined): Buffer => {
  if (code === undefined) return payloadOf({ payload: reason })
  const r = payloadOf({ payload: reason })
  const out = Buffer.allocUnsafe(2 + r.length)
  out.writeUInt16BE(code & 0xffff, 0)
  r.copy(out, 2)
  return out
}

// ---------------------------------------------------------------------------------------------
// permessage-deflate (RFC 7692 §7.2), on node:zlib
// ---------------------------------------------------------------------------------------------

/** The four bytes a sender strips from each compressed message and the receiver puts back (§7.2.1). */
const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff])
const SYNC = { finishFlush: zlib.constants.Z_SYNC_FLUSH }

/**
 * The last `2^bits` bytes of everything a context has seen: what an LZ77 window holds, handed to
 * zlib as the preset dictionary of the next message (context takeover). A fresh engine per
 * message with the history as its dictionary emits (and reads) exactly the back references a
 * long-lived engine would allow, so everything stays synchronous.
 */
class History {
  private bytes: Buffer = Buffer.alloc(0)
  private readonly size: number
  constructor(bits: number) {
    this.size = 1 << bits
  }
  get dictionary(): Buffer | undefined {
    return this.bytes.length === 0 ? undefined : this.bytes
  }
  push(message: Buffer): void {
    const joined = message.length >= this.size ? message : Buffer.concat([this.bytes, message])
    this.bytes = Buffer.from(joined.subarray(Math.max(0, joined.length - this.size)))
  }
}

/** One side's compressor: `compress` returns a message's deflated payload, the trailer removed. */
export class Deflate {
  private readonly history: History | undefined
  private readonly windowBits: number
  /** `windowBits` 9–15; `noContextTakeover`: every message starts from an empty window. */
  constructor(windowBits: number, noContextTakeover: boolean) {
    this.windowBits = windowBits
    this.history = noContextTakeover ? undefined : new History(windowBits)
  }
  compress(payload: Buffer): Buffer {
    const dictionary = this.history?.dictionary
    const out = zlib.deflateRawSync(payload, { ...SYNC, windowBits: this.windowBits, ...(dictionary && { dictionary }) })
    this.history?.push(payload)
    // a sync flush ends in an empty stored block, 00 00 ff ff: the part a sender strips
    return out.subarray(0, out.length - TRAILER.length)
  }
}

/**
 * One side's decompressor for the peer's messages: `inflate` returns the message, or why it is
 * not one (zlib's error: bad data, a back reference past the window the peer agreed — or, under
 * no_context_takeover, into an earlier message — or more than `maxMessage` bytes).
 */
export class Inflate {
  private readonly history: History | undefined
  private readonly windowBits: number
  private readonly maxMessage: number
  /** `windowBits` is the peer's agreed window (read with at least 9, as zlib requires). */
  constructor(windowBits: number, noContextTakeover: boolean, maxMessage: number) {
    this.windowBits = PerMessageDeflate.inflateWindowBits(windowBits)
    this.history = noContextTakeover ? undefined : new History(this.windowBits)
    this.maxMessage = maxMessage
  }
  inflate(payload: Buffer): Buffer | { readonly error: string } {
    const dictionary = this.history?.dictionary
    try {
      const out = zlib.inflateRawSync(Buffer.concat([payload, TRAILER]), {
        ...SYNC,
        windowBits: this.windowBits,
        maxOutputLength: this.maxMessage,
        ...(dictionary && { dictionary })
      })
      this.history?.push(out)
      return out
    } catch (e) {
      const code = (e as { code?: unknown }).code
      return { error: code === "ERR_BUFFER_TOO_LARGE" ? `inflates past ${this.maxMessage} bytes` : `does not inflate (${(e as Error).message})` }
    }
  }
}

/** What was agreed, seen from `role`: its own compressor and its decompressor for the peer. */
export const contexts = (agreed: PerMessageDeflate.Agreed, role: Role, maxMessage: number): { deflate: Deflate; inflate: Inflate } => {
  const client = { bits: agreed.clientMaxWindowBits, reset: agreed.clientNoContextTakeover }
  const server = { bits: agreed.serverMaxWindowBits, reset: agreed.serverNoContextTakeover }
  const [own, peer] = role === "client" ? [client, server] : [server, client]
  return { deflate: new Deflate(own.bits, own.reset), inflate: new Inflate(peer.bits, peer.reset, maxMessage) }
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/** What the reader produced from the peer's bytes. */
export type Incoming =
  | { readonly _tag: "Message"; readonly binary: boolean; readonly payload: Buffer; readonly compressed: boolean }
  | { readonly _tag: "Ping"; readonly payload: Buffer }
  | { readonly _tag: "Pong"; readonly payload: Buffer }
  | { readonly _tag: "Close"; readonly code: number | null; readonly reason: Buffer }
  | { readonly _tag: "Violation"; readonly rule: string }

/** Which checks the reader makes (all on by default; the deliberately broken peer turns some off). */
export interface ReaderChecks {
  readonly rsv?: boolean | undefined
  readonly utf8?: boolean | undefined
  readonly opcodes?: boolean | undefined
  readonly closeCodes?: boolean | undefined
}

/** Close codes a peer may send (RFC 6455 §7.4, IANA registry 1012–1014, private 3000–4999). */
export const isValidCloseCode = (code: number): boolean =>
  (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)

/**
 * An incremental frame reader for the bytes a peer sends to an endpoint in role `role` (a
 * server expects masked frames, a client unmasked ones). Every frame rule of RFC 6455 §5 is
 * checked, including the minimal length encoding Autobahn does not check; the first broken rule yields a `Violation` and the reader stops. Fragmented data
 * messages are joined; control frames between fragments are returned at once.
 */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0)
  private fragments: Array<Buffer> = []
  private fragmentOpcode = 0
  private fragmentCompressed = false
  private failed = false
  readonly role: Role
  readonly checks: Required<ReaderChecks>
  readonly maxMessage: number
  /** Set when permessage-deflate was agreed: RSV1 then marks a compressed message (RFC 7692 §6). */
  readonly inflate: Inflate | undefined

  constructor(role: Role, checks: ReaderChecks = {}, maxMessage = 64 * 1024 * 1024, inflate?: Inflate | undefined) {
    this.inflate = inflate
    this.role = role
    this.checks = {
      rsv: checks.rsv ?? true,
      utf8: checks.utf8 ?? true,
      opcodes: checks.opcodes ?? true,
      closeCodes: checks.closeCodes ?? true
    }
    this.maxMessage = maxMessage
  }

  /** Feeds bytes and returns everything complete so far. */
  push(chunk: Buffer): Array<Incoming> {
    const out: Array<Incoming> = []
    if (this.failed) return out
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk])
    for (;;) {
      const item = this.next()
      if (item === undefined) break
      out.push(item)
      if (item._tag === "Violation") {
        this.failed = true
        break
      }
    }
    return out
  }

  private violation(rule: string): Incoming {
    return { _tag: "Violation", rule }
  }

  private next(): Incoming | undefined {
    for (;;) {
      const b = this.buf
      if (b.length < 2) return undefined
      const fin = (b[0] & 0x80) !== 0
      const rsv = (b[0] >> 4) & 7
      const opcode = b[0] & 0x0f
      const masked = (b[1] & 0x80) !== 0
      let len = b[1] & 0x7f
      let at = 2
      if (len === 126) {
        if (b.length < 4) return undefined
        len = b.readUInt16BE(2)
        at = 4
        // RFC 6455 §5.2: "the minimal number of bytes MUST be used to encode the length"
        if (len < 126) return this.violation(`16-bit length form for a ${len}-byte payload`)
      } else if (len === 127) {
        if (b.length < 10) return undefined
        const hi = b.readUInt32BE(2)
        if (hi > 0x1fffff) return this.violation("64-bit payload length has its most significant bit set")
        len = hi * 2 ** 32 + b.readUInt32BE(6)
        at = 10
        if (len < 65536) return this.violation(`64-bit length form for a ${len}-byte payload`)
      }
      // header checks in RFC order, each before any payload is buffered
      const control = opcode >= 8
      if (this.checks.rsv && rsv !== 0) {
        // with permessage-deflate, RSV1 may mark the first frame of a data message, nothing else
        if (this.inflate === undefined || (rsv & 3) !== 0) return this.violation(`RSV bits ${rsv} set without an extension`)
        if (control) return this.violation(`RSV1 set on a control frame (opcode ${opcode})`)
        if (opcode === 0) return this.violation("RSV1 set on a continuation frame")
      }
      if (this.checks.opcodes && ((opcode >= 3 && opcode <= 7) || opcode >= 11)) {
        return this.violation(`reserved opcode ${opcode}`)
      }
      if (this.role === "server" && !masked) return this.violation("client frame is not masked")
      if (this.role === "client" && masked) return this.violation("server frame is masked")
      if (control && !fin) return this.violation(`fragmented control frame (opcode ${opcode})`)
      if (control && len > 125) return this.violation(`control frame payload of ${len} bytes (> 125)`)
      if (len > this.maxMessage) return this.violation(`frame of ${len} bytes exceeds ${this.maxMessage}`)
      const keyAt = at
      if (masked) at += 4
      if (b.length < at + len) return undefined
      const payload = Buffer.from(b.subarray(at, at + len))
      if (masked) for (let i = 0; i < len; i++) payload[i] ^= b[keyAt + (i & 3)]
      this.buf = b.subarray(at + len)

      if (control) {
        if (opcode === 9) return { _tag: "Ping", payload }
        if (opcode === 10) return { _tag: "Pong", payload }
        if (opcode === 8) {
          if (len === 1) return this.violation("close payload of 1 byte")
          if (len === 0) return { _tag: "Close", code: null, reason: payload }
          const code = payload.readUInt16BE(0)
          const reason = payload.subarray(2)
          if (this.checks.closeCodes && !isValidCloseCode(code)) return this.violation(`invalid close code ${code}`)
          if (this.checks.utf8 && !isUtf8(reason)) return this.violation("close reason is not valid UTF-8")
          return { _tag: "Close", code, reason }
        }
        // reserved control opcode with checks off: ignore
        continue
      }
      if (opcode === 0) {
        if (this.fragmentOpcode === 0) return this.violation("continuation frame without a message to continue")
        this.fragments.push(payload)
      } else if (opcode === 1 || opcode === 2) {
        if (this.fragmentOpcode !== 0) return this.violation("new data frame inside a fragmented message")
        this.fragmentOpcode = opcode
        this.fragmentCompressed = (rsv & 4) !== 0 && this.inflate !== undefined
        this.fragments = [payload]
      } else continue // reserved data opcode with checks off: ignore
      if (!fin) continue
      const joined = this.fragments.length === 1 ? this.fragments[0] : Buffer.concat(this.fragments)
      const binary = this.fragmentOpcode === 2
      const compressed = this.fragmentCompressed
      this.fragments = []
      this.fragmentOpcode = 0
      this.fragmentCompressed = false
      const whole = compressed ? this.inflate!.inflate(joined) : joined
      if (!Buffer.isBuffer(whole)) return this.violation(`compressed message ${whole.error}`)
      if (!binary && this.checks.utf8 && !isUtf8(whole)) return this.violation("text message is not valid UTF-8")
      return { _tag: "Message", binary, payload: whole, compressed }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Handshake
// ---------------------------------------------------------------------------------------------

/** A parsed HTTP head: first line and lower-cased headers. */
export interface HttpHead {
  readonly line: string
  readonly headers: ReadonlyMap<string, string>
}

/** Splits a complete HTTP head off `buf`: the head and the bytes after it, or undefined. */
export const takeHead = (buf: Buffer): { head: HttpHead; rest: Buffer } | undefined => {
  const end = buf.indexOf("\r\n\r\n")
  if (end < 0) return undefined
  const lines = buf.subarray(0, end).toString("latin1").split("\r\n")
  const headers = new Map<string, string>()
  for (const l of lines.slice(1)) {
    const c = l.indexOf(":")
    if (c > 0) {
      const name = l.slice(0, c).trim().toLowerCase()
      const value = l.slice(c + 1).trim()
      headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value)
    }
  }
  return { head: { line: lines[0], headers }, rest: buf.subarray(end + 4) }
}

/** The answer to an upgrade request the fuzzing server refuses. */
export const BAD_REQUEST = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"

/**
 * Validates an upgrade request (RFC 6455 §4.2.1) and returns the 101 response, or the error
 * response for a bad one.
 */
export const answerUpgrade = (head: HttpHead, extensions?: string | undefined): { ok: true; response: string; path: string } | {
  ok: false
  response: string
} => {
  const [method, path] = head.line.split(" ")
  const h = head.headers
  const key = h.get("sec-websocket-key")
  const bad = method !== "GET" ||
    !(h.get("upgrade") ?? "").toLowerCase().split(/\s*,\s*/).includes("websocket") ||
    !(h.get("connection") ?? "").toLowerCase().split(/\s*,\s*/).includes("upgrade") ||
    h.get("sec-websocket-version") !== "13" || key === undefined || Buffer.from(key, "base64").length !== 16
  if (bad) return { ok: false, response: BAD_REQUEST }
  return {
    ok: true,
    path: path ?? "/",
    response: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n` +
      (extensions === undefined ? "" : `Sec-WebSocket-Extensions: ${extensions}\r\n`) + "\r\n"
  }
}

/** An upgrade request for `path` on `host`, with its key; `extensions` is a `Sec-WebSocket-Extensions` offer. */
export const upgradeRequest = (host: string, path: string, extensions?: string | undefined): { request: string; key: string } => {
  const key = randomBytes(16).toString("base64")
  return {
    key,
    request: `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: effect-nexus-fuzzer\r\n` +
      (extensions === undefined ? "" : `Sec-WebSocket-Extensions: ${extensions}\r\n`) + "\r\n"
  }
}

/** Checks a server's answer to {@link upgradeRequest}; returns why it is wrong, or undefined. */
export const checkUpgradeResponse = (head: HttpHead, key: string): string | undefined => {
  if (!/^HTTP\/1\.1 101\b/.test(head.line)) return `expected 101, got "${head.line}"`
  if (head.headers.get("sec-websocket-accept") !== acceptKey(key)) return "wrong Sec-WebSocket-Accept"
  if ((head.headers.get("upgrade") ?? "").toLowerCase() !== "websocket") return "missing Upgrade: websocket"
  return undefined
}
