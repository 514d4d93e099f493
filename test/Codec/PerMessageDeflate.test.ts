import { describe, expect, it } from "vitest"
import * as FrameReader from "../../src/Codec/FrameReader.ts"
import * as FrameWriter from "../../src/Codec/FrameWriter.ts"
import * as PerMessageDeflate from "../../src/Codec/PerMessageDeflate.ts"

// The permessage-deflate negotiation (RFC 7692 §5, §7.1) as pure functions, and the framing
// rules it changes in the codec: RSV1 on a message's first frame only, never on a control frame.

const agreed = (fields: Partial<PerMessageDeflate.Agreed> = {}): PerMessageDeflate.Agreed => ({
  _tag: "Agreed",
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
  ...fields
})

describe("PerMessageDeflate negotiation", () => {
  it("offers client_max_window_bits always, and the requests of the config", () => {
    expect(PerMessageDeflate.offerHeader({})).toBe("permessage-deflate; client_max_window_bits")
    expect(PerMessageDeflate.offerHeader({ serverNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 12 })).toBe(
      "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12"
    )
    expect(() => PerMessageDeflate.offerHeader({ clientMaxWindowBits: 8 })).toThrow(RangeError)
  })

  it("a server takes the first acceptable offer, answers what binds the client, and echoes a requested server window", () => {
    expect(PerMessageDeflate.acceptOffer(["permessage-deflate; client_max_window_bits"], {})).toEqual({
      _tag: "AcceptedOffer",
      agreed: agreed(),
      header: "permessage-deflate"
    })
    expect(
      PerMessageDeflate.acceptOffer(
        ["permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=15; client_max_window_bits"],
        { serverNoContextTakeover: true, clientMaxWindowBits: 10 }
      )
    ).toEqual({
      _tag: "AcceptedOffer",
      agreed: agreed({ serverNoContextTakeover: true, clientMaxWindowBits: 10 }),
      header: "permessage-deflate; server_no_context_takeover; server_max_window_bits=15; client_max_window_bits=10"
    })
  })

  it("a server declines offers it cannot take (no extension), and refuses a malformed header", () => {
    expect(PerMessageDeflate.acceptOffer([], {})).toBe(undefined)
    expect(PerMessageDeflate.acceptOffer(["x-webkit-deflate-frame"], {})).toBe(undefined)
    expect(PerMessageDeflate.acceptOffer(["permessage-deflate; unknown=1"], {})).toBe(undefined)
    expect(PerMessageDeflate.acceptOffer(["permessage-deflate; server_max_window_bits"], {})).toBe(undefined)
    // we may limit the client's window only when it said it can take a limit
    expect(PerMessageDeflate.acceptOffer(["permessage-deflate"], { clientMaxWindowBits: 10 })).toBe(undefined)
    expect(PerMessageDeflate.acceptOffer(["permessage-deflate; a=\"open"], {})).toEqual({
      _tag: "InvalidExtensions",
      message: "Sec-WebSocket-Extensions \"permessage-deflate; a=\\\"open\" is invalid: unterminated quoted value of a",
      header: "permessage-deflate; a=\"open"
    })
  })

  it("a client agrees a valid answer, quoted values included, and a server window of 8", () => {
    expect(PerMessageDeflate.validateAnswer([], {})).toBe(undefined)
    expect(PerMessageDeflate.validateAnswer(["permessage-deflate; server_max_window_bits=\"8\"; client_no_context_takeover"], {}))
      .toEqual(agreed({ serverMaxWindowBits: 8, clientNoContextTakeover: true }))
    expect(PerMessageDeflate.inflateWindowBits(8)).toBe(9)
  })
})

describe("the codec under permessage-deflate", () => {
  const frame = (hex: string) => Buffer.from(hex.replace(/ /g, ""), "hex")
  const read = (bytes: Buffer, compression: boolean) => {
    const reader = FrameReader.make({ role: "client", compression })
    reader.feed(bytes)
    const out: Array<unknown> = []
    for (let r = reader.next(); r._tag !== "NeedMore"; r = reader.next()) {
      out.push("closeCode" in r ? r : { _tag: r._tag, compressed: r.compressed, hex: r.payload.toString("hex") })
      if ("closeCode" in r) break
    }
    return out
  }

  it("returns an RSV1 message compressed, unchecked as UTF-8, when compression is on", () => {
    // f2 48 cd c9 c9 07 00 is "Hello" deflated (RFC 7692 §7.2.3.1); c1 = FIN | RSV1 | text
    expect(read(frame("c1 07 f2 48 cd c9 c9 07 00"), true)).toEqual([{ _tag: "Text", compressed: true, hex: "f248cdc9c90700" }])
    expect(read(frame("81 02 6869"), true)).toEqual([{ _tag: "Text", compressed: false, hex: "6869" }])
  })

  it("refuses RSV1 without compression, on a continuation and on a control frame, with 1002", () => {
    const rsv1 = (compression: boolean) => ({
      _tag: "ReservedBitsSet",
      closeCode: 1002,
      message: compression
        ? "reserved bits set (RSV1) on a continuation or control frame: only a message's first frame may be compressed"
        : "reserved bits set (RSV1) but no extension was negotiated",
      bits: 0x40
    })
    expect(read(frame("c1 01 00"), false)).toEqual([rsv1(false)])
    expect(read(frame("41 01 00 c0 01 00"), true)).toEqual([rsv1(true)])
    expect(read(frame("c9 00"), true)).toEqual([rsv1(true)])
  })

  it("the writer sets RSV1 on the first fragment only, and never fragments a control frame", () => {
    const writer = FrameWriter.make({ role: "server", fragmentSize: 2 })
    const dst = new Uint8Array(64)
    const n = writer.encodeCompressedInto(dst, 0, FrameWriter.Kind.Text, frame("f248cdc9c90700"))
    expect(n).toBe(15)
    expect(Buffer.from(dst.subarray(0, 15)).toString("hex")).toBe("4102f248" + "0002cdc9" + "0002c907" + "800100")
    const p = writer.encodeInto(dst, 0, FrameWriter.Kind.Ping, frame("010203"))
    expect(p).toBe(5)
    expect(Buffer.from(dst.subarray(0, 5)).toString("hex")).toBe("8903010203")
  })
})
