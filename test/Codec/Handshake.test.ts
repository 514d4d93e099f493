import * as net from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { WebSocket, type WebSocketServer } from "ws"
import * as Handshake from "../../src/Codec/Handshake.ts"
import * as RequestReader from "../../src/Codec/RequestReader.ts"
import * as ResponseReader from "../../src/Codec/ResponseReader.ts"
import { listen } from "../support/httpServer.ts"
import { closeWs, listenWs } from "../support/wsServer.ts"

/** The head, or a thrown test failure naming the input Handshake refused. */
const sendable = <H>(head: H | Handshake.InvalidHandshakeInput): H => {
  if ((head as { _tag?: string })._tag === "InvalidHandshakeInput") throw new Error((head as Handshake.InvalidHandshakeInput).message)
  return head as H
}

// Test-side serialisation of the heads Handshake returns (the library leaves bytes to HttpWrite).
const requestBytes = (h: Handshake.RequestHead): Buffer =>
  Buffer.from(`${h.method} ${h.path} HTTP/1.1\r\n${h.headers.map(([n, v]) => `${n}: ${v}\r\n`).join("")}\r\n`, "latin1")
const responseBytes = (h: Omit<Handshake.ResponseHead, "_tag">): Buffer => {
  const length = h.status === 101 ? "" : `Content-Length: ${Buffer.byteLength(h.body)}\r\n`
  return Buffer.from(
    `HTTP/1.1 ${h.status} ${h.reason}\r\n${h.headers.map(([n, v]) => `${n}: ${v}\r\n`).join("")}${length}\r\n${h.body}`,
    "latin1"
  )
}

const parseResponse = (raw: string | Buffer) => {
  const reader = ResponseReader.make()
  reader.feed(typeof raw === "string" ? Buffer.from(raw, "latin1") : raw)
  const response = reader.next()
  if (response._tag !== "Response") throw new Error(response._tag)
  return { response, reader }
}

const parseRequest = (raw: string) => {
  const reader = RequestReader.make()
  reader.feed(Buffer.from(raw, "latin1"))
  const request = reader.next()
  if (request._tag !== "Request") throw new Error(request._tag)
  return request
}

const KEY = "dGhlIHNhbXBsZSBub25jZQ=="
const ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

describe("Handshake keys", () => {
  it("generates base64 of 16 bytes from the injected random source", () => {
    const key = Handshake.generateKey((bytes) => {
      bytes.forEach((_, i) => (bytes[i] = i))
      return bytes
    })
    expect(key).toBe("AAECAwQFBgcICQoLDA0ODw==")
    const random = Handshake.generateKey()
    expect(Handshake.isValidKey(random)).toBe(true)
    expect(Buffer.from(random, "base64").length).toBe(16)
  })

  it("computes the accept key of RFC 6455 §1.3", () => {
    expect(Handshake.acceptKey(KEY)).toBe(ACCEPT)
  })

  it("accepts only 24-character base64 keys that decode to 16 bytes", () => {
    expect(Handshake.isValidKey(KEY)).toBe(true)
    expect(Handshake.isValidKey("dGhlIHNhbXBsZSBub25jZQ=")).toBe(false)
    expect(Handshake.isValidKey("dGhlIHNhbXBsZSBub25jZQ==a")).toBe(false)
    expect(Handshake.isValidKey("dGhlIHNhbXBsZSBub25jZ===")).toBe(false)
    expect(Handshake.isValidKey("dGhlIHNhbXBsZSBub25j*Q==")).toBe(false)
  })
})

describe("Handshake client side", () => {
  it("builds the upgrade request head with protocols, origin and extra headers", () => {
    expect(Handshake.upgradeRequestHead({
      host: "api.exchange.com:443",
      pathAndQuery: "/ws/v1?stream=trades",
      key: KEY,
      protocols: ["v2.json", "v1.json"],
      origin: "https://app.exchange.com",
      headers: [["X-Api-Key", "k-123"]]
    })).toEqual({
      _tag: "RequestHead",
      method: "GET",
      path: "/ws/v1?stream=trades",
      headers: [
        ["Host", "api.exchange.com:443"],
        ["Upgrade", "websocket"],
        ["Connection", "Upgrade"],
        ["Sec-WebSocket-Key", KEY],
        ["Sec-WebSocket-Version", "13"],
        ["Sec-WebSocket-Protocol", "v2.json, v1.json"],
        ["Origin", "https://app.exchange.com"],
        ["X-Api-Key", "k-123"]
      ]
    })
  })

  it("returns InvalidHandshakeInput, without throwing, for input the request cannot carry", () => {
    const base = { host: "h", pathAndQuery: "/", key: KEY }
    const cases: ReadonlyArray<readonly [Partial<Handshake.UpgradeRequestOptions>, Handshake.InvalidHandshakeInput]> = [
      [{ protocols: ["chat", "a b"] }, {
        _tag: "InvalidHandshakeInput",
        field: "protocol",
        detail: "a b",
        message: `Handshake: subprotocol "a b" is not a token`
      }],
      [{ headers: [["X", "a\r\nInjected: 1"]] }, {
        _tag: "InvalidHandshakeInput",
        field: "headerValue",
        detail: "X",
        message: "Handshake: header X holds CR, LF or NUL"
      }],
      [{ headers: [["X-Token", "a\u0000b"]] }, {
        _tag: "InvalidHandshakeInput",
        field: "headerValue",
        detail: "X-Token",
        message: "Handshake: header X-Token holds CR, LF or NUL"
      }],
      [{ origin: "https://a\nb" }, {
        _tag: "InvalidHandshakeInput",
        field: "headerValue",
        detail: "Origin",
        message: "Handshake: header Origin holds CR, LF or NUL"
      }],
      [{ headers: [["X Y", "1"]] }, {
        _tag: "InvalidHandshakeInput",
        field: "headerName",
        detail: "X Y",
        message: `Handshake: header name "X Y" is not a token`
      }],
      [{ headers: [["", "1"]] }, {
        _tag: "InvalidHandshakeInput",
        field: "headerName",
        detail: "",
        message: `Handshake: header name "" is not a token`
      }],
      [{ pathAndQuery: "/a b" }, {
        _tag: "InvalidHandshakeInput",
        field: "pathAndQuery",
        detail: "/a b",
        message: "Handshake: pathAndQuery holds a space, CR, LF or NUL"
      }],
      [{ pathAndQuery: "/a\r\nHost: evil" }, {
        _tag: "InvalidHandshakeInput",
        field: "pathAndQuery",
        detail: "/a\r\nHost: evil",
        message: "Handshake: pathAndQuery holds a space, CR, LF or NUL"
      }],
      // the first fault in check order wins: protocols, then headers in wire order, then the target
      [{ protocols: ["a b"], headers: [["X Y", "1"]], pathAndQuery: "/a b" }, {
        _tag: "InvalidHandshakeInput",
        field: "protocol",
        detail: "a b",
        message: `Handshake: subprotocol "a b" is not a token`
      }],
      [{ headers: [["X Y", "1"], ["Z", "\r"]], pathAndQuery: "/a b" }, {
        _tag: "InvalidHandshakeInput",
        field: "headerName",
        detail: "X Y",
        message: `Handshake: header name "X Y" is not a token`
      }]
    ]
    for (const [options, expected] of cases) {
      expect(Handshake.upgradeRequestHead({ ...base, ...options })).toEqual(expected)
    }
  })

  const ok101 = (extra = "") =>
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${ACCEPT}\r\n${extra}\r\n`

  it("accepts a valid 101, with case-insensitive tokens and a Connection list", () => {
    expect(Handshake.validateResponse(parseResponse(ok101()).response, { key: KEY })).toEqual({
      _tag: "Accepted",
      protocol: undefined
    })
    const relaxed = `HTTP/1.1 101 OK\r\nupgrade: WebSocket\r\nconnection: keep-alive, UPGRADE\r\nsec-websocket-accept: ${ACCEPT}\r\n\r\n`
    expect(Handshake.validateResponse(parseResponse(relaxed).response, { key: KEY })).toEqual({
      _tag: "Accepted",
      protocol: undefined
    })
  })

  it("agrees on an offered subprotocol and tolerates none chosen", () => {
    const chosen = parseResponse(ok101("Sec-WebSocket-Protocol: v1.json\r\n")).response
    expect(Handshake.validateResponse(chosen, { key: KEY, protocols: ["v2.json", "v1.json"] })).toEqual({
      _tag: "Accepted",
      protocol: "v1.json"
    })
    expect(Handshake.validateResponse(parseResponse(ok101()).response, { key: KEY, protocols: ["v2.json"] })).toEqual({
      _tag: "Accepted",
      protocol: undefined
    })
  })

  it("rejects each violation of RFC 6455 §4.1 with its own tag", () => {
    expect(Handshake.validateResponse(parseResponse("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n").response, { key: KEY }))
      .toEqual({ _tag: "UnexpectedStatus", message: "expected 101 Switching Protocols, got 403", status: 403 })
    expect(Handshake.validateResponse(
      parseResponse(`HTTP/1.1 101 OK\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${ACCEPT}\r\n\r\n`).response,
      { key: KEY }
    )).toEqual({ _tag: "MissingUpgradeHeader", message: "101 response without Upgrade: websocket" })
    expect(Handshake.validateResponse(
      parseResponse(`HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: keep-alive\r\nSec-WebSocket-Accept: ${ACCEPT}\r\n\r\n`)
        .response,
      { key: KEY }
    )).toEqual({ _tag: "MissingConnectionUpgrade", message: "101 response without Connection: upgrade" })
    expect(Handshake.validateResponse(
      parseResponse("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAA\r\n\r\n").response,
      { key: KEY }
    )).toEqual({
      _tag: "InvalidAcceptKey",
      message: "Sec-WebSocket-Accept \"AAAA\" does not match the key",
      expected: ACCEPT,
      received: "AAAA"
    })
    expect(Handshake.validateResponse(
      parseResponse("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n").response,
      { key: KEY }
    )).toEqual({
      _tag: "InvalidAcceptKey",
      message: "101 response without Sec-WebSocket-Accept",
      expected: ACCEPT,
      received: undefined
    })
    expect(Handshake.validateResponse(parseResponse(ok101("Sec-WebSocket-Protocol: v3\r\n")).response, {
      key: KEY,
      protocols: ["v1", "v2"]
    })).toEqual({
      _tag: "UnofferedProtocol",
      message: "server selected subprotocol \"v3\", which was not offered",
      protocol: "v3"
    })
    expect(Handshake.validateResponse(parseResponse(ok101("Sec-WebSocket-Protocol: v1\r\n")).response, { key: KEY }))
      .toEqual({
        _tag: "UnofferedProtocol",
        message: "server selected subprotocol \"v1\", which was not offered",
        protocol: "v1"
      })
    expect(Handshake.validateResponse(parseResponse(ok101("Sec-WebSocket-Protocol: v1, v2\r\n")).response, {
      key: KEY,
      protocols: ["v1", "v2"]
    })._tag).toBe("UnofferedProtocol")
    expect(Handshake.validateResponse(
      parseResponse(ok101("Sec-WebSocket-Extensions: permessage-deflate\r\n")).response,
      { key: KEY }
    )).toEqual({
      _tag: "UnrequestedExtension",
      message: "server selected extensions \"permessage-deflate\" that were not requested",
      extensions: "permessage-deflate"
    })
  })

  it("keeps the frame bytes that arrive with the 101 for the frame reader", () => {
    const { reader, response } = parseResponse(Buffer.concat([Buffer.from(ok101(), "latin1"), Buffer.from("81026869", "hex")]))
    expect(Handshake.validateResponse(response, { key: KEY })._tag).toBe("Accepted")
    expect(Buffer.from(reader.takeLeftover()).toString("hex")).toBe("81026869")
  })
})

describe("Handshake server side", () => {
  const upgrade = (lines: string, requestLine = "GET /chat HTTP/1.1") =>
    Handshake.validateUpgradeRequest(parseRequest(`${requestLine}\r\n${lines}\r\n`))
  const valid = `Host: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n`

  it("accepts a valid upgrade request and reports key, protocols, host, origin, target and extensions", () => {
    expect(upgrade(
      valid + "Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Protocol: v3\r\n" +
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    ))
      .toEqual({
        _tag: "UpgradeRequest",
        key: KEY,
        protocols: ["chat", "superchat", "v3"],
        host: "server.example.com",
        origin: "http://example.com",
        target: "/chat",
        extensions: ["permessage-deflate; client_max_window_bits"]
      })
  })

  it("refuses each malformed upgrade request with 400, or 426 for the version", () => {
    const rejection = (tag: string, status: number, reason: string) => ({
      _tag: tag,
      message: `WebSocket upgrade refused: ${reason}`,
      status,
      reason
    })
    expect(upgrade(valid, "POST /chat HTTP/1.1")).toEqual(rejection("MethodNotGet", 400, "method POST is not GET"))
    expect(upgrade(valid, "GET /chat HTTP/1.0")).toEqual(rejection("HttpVersionNot11", 400, "HTTP/1.1 is required"))
    expect(upgrade(valid.replace("Host: server.example.com\r\n", ""))).toEqual(
      rejection("MissingHost", 400, "exactly one Host header is required")
    )
    expect(upgrade(valid + "Host: other\r\n")).toEqual(rejection("MissingHost", 400, "exactly one Host header is required"))
    expect(upgrade(valid.replace("Upgrade: websocket", "Upgrade: h2c"))).toEqual(
      rejection("UpgradeNotWebSocket", 400, "Upgrade header must be websocket")
    )
    expect(upgrade(valid.replace("Connection: Upgrade", "Connection: keep-alive"))).toEqual(
      rejection("ConnectionNotUpgrade", 400, "Connection header must contain upgrade")
    )
    expect(upgrade(valid.replace(KEY, "c2hvcnQ="))).toEqual(
      rejection("InvalidKey", 400, "Sec-WebSocket-Key must be base64 of 16 bytes")
    )
    expect(upgrade(valid.replace(`Sec-WebSocket-Key: ${KEY}\r\n`, ""))).toEqual(
      rejection("InvalidKey", 400, "Sec-WebSocket-Key must be base64 of 16 bytes")
    )
    expect(upgrade(valid.replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8"))).toEqual(
      rejection("UnsupportedWebSocketVersion", 426, "Sec-WebSocket-Version must be 13")
    )
    expect(upgrade(valid + "Sec-WebSocket-Protocol: a b\r\n")).toEqual(
      rejection("InvalidProtocols", 400, "Sec-WebSocket-Protocol must be a token list")
    )
  })

  it("returns InvalidHandshakeInput, without throwing, for a 101 it cannot send", () => {
    expect(Handshake.acceptResponseHead({ key: KEY, protocol: "a b" })).toEqual({
      _tag: "InvalidHandshakeInput",
      field: "protocol",
      detail: "a b",
      message: `Handshake: subprotocol "a b" is not a token`
    })
    expect(Handshake.acceptResponseHead({ key: KEY, headers: [["X-Server", "a\nb"]] })).toEqual({
      _tag: "InvalidHandshakeInput",
      field: "headerValue",
      detail: "X-Server",
      message: "Handshake: header X-Server holds CR, LF or NUL"
    })
    expect(Handshake.acceptResponseHead({ key: KEY, protocol: "chat", headers: [["X:Server", "1"]] })).toEqual({
      _tag: "InvalidHandshakeInput",
      field: "headerName",
      detail: "X:Server",
      message: `Handshake: header name "X:Server" is not a token`
    })
  })

  it("builds the 101 answer and the 400/426 refusals", () => {
    expect(Handshake.acceptResponseHead({ key: KEY, protocol: "chat", headers: [["X-Server", "nexus"]] })).toEqual({
      _tag: "ResponseHead",
      status: 101,
      reason: "Switching Protocols",
      headers: [
        ["Upgrade", "websocket"],
        ["Connection", "Upgrade"],
        ["Sec-WebSocket-Accept", ACCEPT],
        ["Sec-WebSocket-Protocol", "chat"],
        ["X-Server", "nexus"]
      ],
      body: ""
    })
    const version = upgrade(valid.replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8"))
    expect(Handshake.rejectResponseHead(version as Handshake.UpgradeRejection)).toEqual({
      _tag: "ResponseHead",
      status: 426,
      reason: "Upgrade Required",
      headers: [["Connection", "close"], ["Content-Type", "text/plain"], ["Sec-WebSocket-Version", "13"]],
      body: "Sec-WebSocket-Version must be 13"
    })
    const method = upgrade(valid, "PUT /chat HTTP/1.1")
    expect(Handshake.rejectResponseHead(method as Handshake.UpgradeRejection)).toEqual({
      _tag: "ResponseHead",
      status: 400,
      reason: "Bad Request",
      headers: [["Connection", "close"], ["Content-Type", "text/plain"]],
      body: "method PUT is not GET"
    })
  })
})

// ---------------------------------------------------------------------------------------------
// Against `ws` as the real peer
// ---------------------------------------------------------------------------------------------

/** Reads from `socket` into `reader` until `next()` yields something other than NeedMore. */
const readOne = <R extends { next(): { _tag: string }; feed(b: Uint8Array): boolean }>(socket: net.Socket, reader: R) =>
  new Promise<ReturnType<R["next"]>>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      reader.feed(chunk)
      const result = reader.next()
      if (result._tag === "NeedMore") return
      socket.off("data", onData)
      resolve(result as ReturnType<R["next"]>)
    }
    socket.on("data", onData)
    socket.once("error", reject)
  })

/** Collects at least `n` more bytes from `socket`, starting with `initial`. */
const collect = (socket: net.Socket, initial: Uint8Array, n: number) =>
  new Promise<Buffer>((resolve) => {
    let bytes = Buffer.from(initial)
    if (bytes.length >= n) return resolve(bytes)
    const onData = (chunk: Buffer) => {
      bytes = Buffer.concat([bytes, chunk])
      if (bytes.length >= n) {
        socket.off("data", onData)
        resolve(bytes)
      }
    }
    socket.on("data", onData)
  })

describe("Handshake against ws", () => {
  let wss: WebSocketServer
  let wssPort = 0
  let ours: net.Server
  let oursPort = 0
  const sockets = new Set<net.Socket>()

  beforeAll(async () => {
    ;({ server: wss, port: wssPort } = await listenWs())
    // ws sends a frame as soon as the connection opens: it may share a TCP segment with the 101
    wss.on("connection", (socket) => socket.send("hello"))

    // our server: RequestReader + validateUpgradeRequest + acceptResponseHead on a raw socket
    ours = net.createServer((socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
      const reader = RequestReader.make()
      readOne(socket, reader).then((request) => {
        if (request._tag !== "Request") {
          const violation = request as RequestReader.RequestViolation
          const status = RequestReader.statusFor(violation)
          socket.end(responseBytes({ status, reason: "Bad Request", headers: [], body: violation.message }))
          return
        }
        const upgrade = Handshake.validateUpgradeRequest(request)
        if (upgrade._tag !== "UpgradeRequest") {
          socket.end(responseBytes(Handshake.rejectResponseHead(upgrade)))
          return
        }
        const protocol = upgrade.protocols.find((p) => p === "superchat" || p === "chat")
        socket.write(responseBytes(sendable(Handshake.acceptResponseHead({ key: upgrade.key, protocol }))))
        // an unmasked text frame "hi" from the server
        socket.write(Buffer.from("81026869", "hex"))
        // whatever the client sent after its request is the start of its frame stream
        const leftover = reader.takeLeftover()
        collect(socket, leftover, 2).then((frames) => socket.write(Buffer.concat([Buffer.from([0x81, 2]), Buffer.from(frames[0] === 0x81 ? "ok" : "no")])))
      })
    })
    oursPort = await listen(ours)
  })

  afterAll(async () => {
    for (const socket of sockets) socket.destroy()
    await closeWs(wss)
    await new Promise<void>((resolve) => ours.close(() => resolve()))
  })

  it("our upgrade request is accepted by a ws server and its first frame is not lost", async () => {
    const key = Handshake.generateKey()
    const socket = net.connect(wssPort, "127.0.0.1")
    try {
      socket.write(requestBytes(sendable(Handshake.upgradeRequestHead({
        host: `127.0.0.1:${wssPort}`,
        pathAndQuery: "/feed?x=1",
        key,
        protocols: ["v2.json", "v1.json"]
      }))))
      const reader = ResponseReader.make()
      const response = await readOne(socket, reader)
      if (response._tag !== "Response") throw new Error(response._tag)
      expect(response.status).toBe(101)
      // ws picks the first offered subprotocol by default
      expect(Handshake.validateResponse(response, { key, protocols: ["v2.json", "v1.json"] })).toEqual({
        _tag: "Accepted",
        protocol: "v2.json"
      })
      const frames = await collect(socket, reader.takeLeftover(), 7)
      expect(frames.toString("hex")).toBe("810568656c6c6f")
    } finally {
      socket.destroy()
    }
  })

  it("a ws client opens against our server, agrees on a subprotocol and exchanges frames", async () => {
    const client = new WebSocket(`ws://127.0.0.1:${oursPort}/chat?room=1`, ["superchat", "chat"])
    try {
      const messages: Array<string> = []
      await new Promise<void>((resolve, reject) => {
        client.on("open", () => client.send("x"))
        client.on("message", (data) => {
          messages.push(String(data))
          if (messages.length === 2) resolve()
        })
        client.on("error", reject)
      })
      expect(client.protocol).toBe("superchat")
      expect(messages).toEqual(["hi", "ok"])
    } finally {
      client.terminate()
    }
  })

  it("a ws client without subprotocols opens with none agreed", async () => {
    const client = new WebSocket(`ws://127.0.0.1:${oursPort}/`)
    try {
      const first = await new Promise<string>((resolve, reject) => {
        client.on("message", (data) => resolve(String(data)))
        client.on("error", reject)
      })
      expect(first).toBe("hi")
      expect(client.protocol).toBe("")
    } finally {
      client.terminate()
    }
  })

  it("bad upgrade requests get our 400 and 426 answers", async () => {
    const send = async (raw: string) => {
      const socket = net.connect(oursPort, "127.0.0.1")
      try {
        socket.write(raw)
        const response = await readOne(socket, ResponseReader.make())
        if (response._tag !== "Response") throw new Error(response._tag)
        return { status: response.status, version: response.header("sec-websocket-version"), body: response.bodyText() }
      } finally {
        socket.destroy()
      }
    }
    const request = (version: string, method = "GET") =>
      `${method} / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: ${version}\r\n\r\n`
    expect(await send(request("8"))).toEqual({ status: 426, version: "13", body: "Sec-WebSocket-Version must be 13" })
    expect(await send(request("13", "POST"))).toEqual({ status: 400, version: undefined, body: "method POST is not GET" })
    expect(await send(request("13").replace(KEY, "short"))).toEqual({
      status: 400,
      version: undefined,
      body: "Sec-WebSocket-Key must be base64 of 16 bytes"
    })
  })
})
