import { describe, expect, it } from "vitest"
import * as Url from "../../src/Codec/Url.ts"

const ok = (
  scheme: Url.Scheme,
  host: string,
  hostHeader: string,
  port: number,
  pathAndQuery: string
): Url.ParsedUrl => ({
  _tag: "ParsedUrl",
  scheme,
  secure: scheme === "wss" || scheme === "https",
  host,
  hostHeader,
  port,
  pathAndQuery
})

describe("Url.parse", () => {
  it("gives each scheme its default port and leaves the port out of the Host header", () => {
    expect(Url.parse("ws://example.com")).toEqual(ok("ws", "example.com", "example.com", 80, "/"))
    expect(Url.parse("wss://example.com")).toEqual(ok("wss", "example.com", "example.com", 443, "/"))
    expect(Url.parse("http://example.com/")).toEqual(ok("http", "example.com", "example.com", 80, "/"))
    expect(Url.parse("https://example.com")).toEqual(ok("https", "example.com", "example.com", 443, "/"))
  })

  it("drops an explicit default port and keeps a non-default one in the Host header", () => {
    expect(Url.parse("wss://example.com:443/a")).toEqual(ok("wss", "example.com", "example.com", 443, "/a"))
    expect(Url.parse("ws://example.com:80/a")).toEqual(ok("ws", "example.com", "example.com", 80, "/a"))
    expect(Url.parse("ws://example.com:443/a")).toEqual(ok("ws", "example.com", "example.com:443", 443, "/a"))
    expect(Url.parse("https://api.example.com:8443/v3")).toEqual(
      ok("https", "api.example.com", "api.example.com:8443", 8443, "/v3")
    )
  })

  it("strips IPv6 brackets from host but keeps them in the Host header", () => {
    expect(Url.parse("ws://[::1]:9001/x")).toEqual(ok("ws", "::1", "[::1]:9001", 9001, "/x"))
    expect(Url.parse("wss://[2001:DB8::1]/")).toEqual(ok("wss", "2001:db8::1", "[2001:db8::1]", 443, "/"))
  })

  it("keeps the path and query, drops the fragment, and lower-cases scheme and host", () => {
    expect(Url.parse("WSS://Stream.Example.COM/ws/btcusdt@trade?x=1&y=%20#frag")).toEqual(
      ok("wss", "stream.example.com", "stream.example.com", 443, "/ws/btcusdt@trade?x=1&y=%20")
    )
    expect(Url.parse("http://h?q=1")).toEqual(ok("http", "h", "h", 80, "/?q=1"))
    expect(Url.parse("http://h/p#only")).toEqual(ok("http", "h", "h", 80, "/p"))
  })

  it("percent-encodes what WHATWG encodes and converts IDN hosts to punycode", () => {
    expect(Url.parse("ws://bücher.example/a b")).toEqual(
      ok("ws", "xn--bcher-kva.example", "xn--bcher-kva.example", 80, "/a%20b")
    )
  })

  it("accepts an IPv4 literal", () => {
    expect(Url.parse("ws://127.0.0.1:8080")).toEqual(ok("ws", "127.0.0.1", "127.0.0.1:8080", 8080, "/"))
  })

  it("rejects input that is not an absolute URL with MalformedUrl", () => {
    expect(Url.parse("not a url")).toEqual({
      _tag: "MalformedUrl",
      input: "not a url",
      message: `"not a url" is not a valid absolute URL`
    })
    expect(Url.parse("ws://example.com:99999")).toMatchObject({ _tag: "MalformedUrl" })
    expect(Url.parse("/relative/path")).toMatchObject({ _tag: "MalformedUrl" })
  })

  it("rejects other schemes with UnsupportedScheme naming the scheme", () => {
    expect(Url.parse("ftp://example.com/")).toEqual({
      _tag: "UnsupportedScheme",
      scheme: "ftp",
      message: `scheme "ftp" is not supported; use ws, wss, http or https`
    })
    expect(Url.parse("mailto:a@b.c")).toMatchObject({ _tag: "UnsupportedScheme", scheme: "mailto" })
  })

  it("rejects credentials without repeating them in the message", () => {
    expect(Url.parse("wss://alice:s3cret@example.com/x")).toEqual({
      _tag: "CredentialsInUrl",
      message: "credentials in wss://example.com/x (redacted) are not supported; send them as a header"
    })
    const userOnly = Url.parse("https://token@example.com/")
    expect(userOnly._tag).toBe("CredentialsInUrl")
    expect((userOnly as Url.CredentialsInUrl).message).not.toContain("token")
  })
})
