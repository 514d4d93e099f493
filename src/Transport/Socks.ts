/**
 * `Socks` — the SOCKS5 tunnel (RFC 1928) for a `Proxy` whose `protocol` is `"socks5"`, the
 * sibling of `Proxy.tunnel`'s HTTP `CONNECT`. `Dial.connect` picks it by the proxy's protocol.
 *
 * ```text
 *   → 05 01 00            (or 05 02 00 02 with credentials)   methods: none (/ username)
 *   ← 05 mm               mm = 00 none, 02 username/password, FF none acceptable
 *   → 01 ul user pl pass  ← 01 00                              RFC 1929, when mm = 02
 *   → 05 01 00 at addr port                                    CONNECT; at 01 IPv4, 04 IPv6, 03 name
 *   ← 05 rr 00 at addr port                                    rr = 00 succeeded, else the refusal
 * ```
 *
 * Host names are sent as names (the proxy resolves them, as `socks5h://` means to curl); IP
 * literals as addresses. A refusal is a `ProxyError` kind `"TunnelRefused"` whose `status` is
 * the SOCKS reply code (1–8, or 255 for "no acceptable authentication method") and whose
 * `statusText` is its RFC 1928 meaning; a failed username/password check is `TunnelRefused`
 * with `statusText` "authentication failed" and `status` the server's RFC 1929 code.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as net from "node:net"
import * as ReadBuf from "../Codec/ReadBuf.ts"
import * as Proxy from "./Proxy.ts"
import { ConnectError, formatAddress, type Transport, type TransportError, transportError } from "./Transport.ts"

/**
 * The meaning of each SOCKS5 reply code (RFC 1928 §6), and 255 for a method refusal.
 *
 * @since 0.1.0
 * @category constants
 */
export const REPLY_TEXT: Readonly<Record<number, string>> = {
  1: "general SOCKS server failure",
  2: "connection not allowed by ruleset",
  3: "network unreachable",
  4: "host unreachable",
  5: "connection refused",
  6: "TTL expired",
  7: "command not supported",
  8: "address type not supported",
  255: "no acceptable authentication method"
}

/** The 16 bytes of an IPv6 literal: "::" expanded, an embedded IPv4 tail as two groups, no zone. */
const ipv6Bytes = (host: string): Buffer => {
  let text = host.split("%")[0]!
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (v4 !== null) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number]
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const split = text.indexOf("::")
  const left = (split < 0 ? text : text.slice(0, split)).split(":").filter((g) => g !== "")
  const right = split < 0 ? [] : text.slice(split + 2).split(":").filter((g) => g !== "")
  const groups = split < 0 ? left : [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right]
  const out = Buffer.alloc(16)
  groups.forEach((group, i) => out.writeUInt16BE(parseInt(group, 16), 2 * i))
  return out
}

/** The address part of a CONNECT request: type byte, address, big-endian port. */
const addressBytes = (host: string, port: number): Buffer => {
  const family = net.isIP(host)
  const name = Buffer.from(host, "utf8")
  const head = family === 4
    ? Buffer.from([0x01, ...host.split(".").map(Number)])
    : family === 6
    ? Buffer.concat([Buffer.from([0x04]), ipv6Bytes(host)])
    : Buffer.concat([Buffer.from([0x03, name.length]), name])
  const tail = Buffer.alloc(2)
  tail.writeUInt16BE(port)
  return Buffer.concat([head, tail])
}

/**
 * The CONNECT request for `host:port` (RFC 1928 §4). Throws `RangeError` for a host name longer
 * than 255 bytes (caller misuse: no DNS name is).
 *
 * @since 0.1.0
 * @category utils
 */
export const connectRequest = (host: string, port: number): Uint8Array => {
  if (net.isIP(host) === 0 && Buffer.byteLength(host, "utf8") > 255) {
    throw new RangeError(`SOCKS5 host names are at most 255 bytes, got ${Buffer.byteLength(host, "utf8")}`)
  }
  return Buffer.concat([Buffer.from([0x05, 0x01, 0x00]), addressBytes(host, port)])
}

/**
 * Runs the SOCKS5 greeting, authentication and CONNECT on `transport` (connected to `proxy`) for
 * `host:port`. On success the transport is the tunnel. Errors name the target and carry a
 * `ProxyError` with the proxy's address (`TunnelRefused`, `Closed`, `MalformedResponse`;
 * `InvalidProxyUrl` for a user name or password over RFC 1929's 255 bytes), or a `ConnectError`
 * kind `"Other"` for a host name over 255 bytes; nothing is sent in either case.
 *
 * @since 0.1.0
 * @category constructors
 */
export const tunnel = (
  transport: Transport,
  proxy: Proxy.Proxy,
  target: { readonly host: string; readonly port: number }
): Effect.Effect<void, TransportError> =>
  Effect.gen(function*() {
    const fail = Proxy.tunnelFailure(proxy, target)
    const malformed = (detail: string) => fail({ kind: "MalformedResponse", cause: new Error(detail) })
    const refused = (status: number, statusText: string) => fail({ kind: "TunnelRefused", status, statusText })
    const buf = ReadBuf.make({ capacity: 512 })
    const send = (bytes: Uint8Array) => Effect.catch(transport.write(bytes), (error) => fail({ kind: "Closed", cause: error }))
    /** Reads until `n` bytes are buffered; the proxy closing first is `Closed`. */
    const need = (n: number) =>
      Effect.gen(function*() {
        while (buf.length < n) {
          const read = yield* Effect.catch(transport.read(buf), (error) => fail({ kind: "Closed", cause: error }))
          if (read === 0) {
            return yield* fail({ kind: "Closed", cause: new Error("the proxy closed the connection during the SOCKS5 exchange") })
          }
        }
        return buf.data()
      })

    const credentials = proxy.credentials
    // one length byte each: longer fields cannot be sent, and a wrapped length would desync the exchange
    if (net.isIP(target.host) === 0 && Buffer.byteLength(target.host, "utf8") > 255) {
      return yield* Effect.fail(transportError(
        formatAddress(target.host, target.port),
        new ConnectError({
          kind: "Other",
          cause: new RangeError(`SOCKS5 host names are at most 255 bytes, got ${Buffer.byteLength(target.host, "utf8")}`)
        })
      ))
    }
    if (credentials !== undefined) {
      const user = Buffer.byteLength(credentials.username, "utf8")
      const pass = Buffer.byteLength(Redacted.value(credentials.password), "utf8")
      if (user > 255 || pass > 255) {
        return yield* fail({
          kind: "InvalidProxyUrl",
          cause: new RangeError(
            `SOCKS5 user names and passwords are at most 255 bytes (RFC 1929); the ${user > 255 ? `user name has ${user}` : `password has ${pass}`}`
          )
        })
      }
    }
    yield* send(Buffer.from(credentials === undefined ? [0x05, 0x01, 0x00] : [0x05, 0x02, 0x00, 0x02]))
    const choice = yield* need(2)
    if (choice[0] !== 0x05) return yield* malformed(`not a SOCKS5 server (version byte ${choice[0]})`)
    const method = choice[1]!
    buf.advance(2)
    if (method === 0xff) return yield* refused(255, REPLY_TEXT[255]!)
    if (method === 0x02 && credentials !== undefined) {
      const user = Buffer.from(credentials.username, "utf8")
      const pass = Buffer.from(Redacted.value(credentials.password), "utf8")
      yield* send(Buffer.concat([Buffer.from([0x01, user.length]), user, Buffer.from([pass.length]), pass]))
      const verdict = yield* need(2)
      const status = verdict[1]!
      buf.advance(2)
      if (status !== 0x00) return yield* refused(status, "authentication failed")
    } else if (method !== 0x00) {
      return yield* malformed(`the proxy chose authentication method ${method}, which was not offered`)
    }

    yield* send(connectRequest(target.host, target.port))
    const head = yield* need(5)
    if (head[0] !== 0x05) return yield* malformed(`not a SOCKS5 reply (version byte ${head[0]})`)
    const reply = head[1]!
    if (reply !== 0x00) return yield* refused(reply, REPLY_TEXT[reply] ?? `reply code ${reply}`)
    const type = head[3]
    const length = type === 0x01 ? 4 + 6 : type === 0x04 ? 16 + 6 : type === 0x03 ? 1 + head[4]! + 6 : -1
    if (length < 0) return yield* malformed(`unknown address type ${type} in the reply`)
    yield* need(length)
    buf.advance(length)
    // the target has not been spoken to yet: any byte here is not its
    if (buf.length > 0) return yield* malformed("bytes followed the SOCKS5 reply before the client spoke")
  })
