import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fc from "fast-check"
import { createRequire } from "node:module"
import * as path from "node:path"
import * as zlib from "node:zlib"
import * as PerMessageDeflate from "../../src/Transport/PerMessageDeflate.ts"

const plain = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 }

describe("PerMessageDeflate negotiation", () => {
  it("accepts ws's default client offer, with the client window allowed but not limited", () => {
    const agreed = PerMessageDeflate.negotiate("permessage-deflate; client_max_window_bits")
    assert.deepStrictEqual(agreed, { ...plain, clientWindowOffered: true })
    assert.strictEqual(PerMessageDeflate.responseHeader(agreed!), "permessage-deflate")
  })

  it("grants the client's no_context_takeover and window requests and answers them", () => {
    const agreed = PerMessageDeflate.negotiate(
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12"
    )!
    assert.deepStrictEqual(agreed, {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 12,
      clientWindowOffered: true
    })
    assert.strictEqual(
      PerMessageDeflate.responseHeader(agreed),
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12"
    )
  })

  it("skips an offer with an unknown, repeated or out-of-range parameter and takes the next one", () => {
    assert.deepStrictEqual(
      PerMessageDeflate.negotiate("permessage-deflate; x=1, permessage-deflate; server_max_window_bits=7, permessage-deflate; server_no_context_takeover"),
      { ...plain, serverNoContextTakeover: true, clientWindowOffered: false }
    )
    assert.strictEqual(PerMessageDeflate.negotiate("permessage-deflate; client_no_context_takeover; client_no_context_takeover"), undefined)
    assert.strictEqual(PerMessageDeflate.negotiate("x-webkit-deflate-frame"), undefined)
    assert.strictEqual(PerMessageDeflate.negotiate(undefined), undefined)
  })

  it("limits the client's window only when the client offered client_max_window_bits", () => {
    assert.strictEqual(PerMessageDeflate.negotiate("permessage-deflate", { clientMaxWindowBits: 10 }), undefined)
    const agreed = PerMessageDeflate.negotiate("permessage-deflate; client_max_window_bits", { clientMaxWindowBits: 10 })!
    assert.strictEqual(PerMessageDeflate.responseHeader(agreed), "permessage-deflate; client_max_window_bits=10")
  })

  it("client: reads the answer, refuses one naming what it did not allow", () => {
    assert.strictEqual(PerMessageDeflate.offerHeader(), "permessage-deflate; client_max_window_bits")
    assert.deepStrictEqual(PerMessageDeflate.acceptResponse("permessage-deflate; client_max_window_bits=9"), {
      ...plain,
      clientMaxWindowBits: 9,
      clientWindowOffered: true
    })
    assert.deepStrictEqual(
      PerMessageDeflate.acceptResponse("permessage-deflate; hello"),
      new PerMessageDeflate.NegotiationFault({ detail: "unknown parameter hello" })
    )
    assert.deepStrictEqual(
      PerMessageDeflate.acceptResponse("permessage-deflate", { serverNoContextTakeover: true }),
      new PerMessageDeflate.NegotiationFault({ detail: "server_no_context_takeover was asked for but not answered" })
    )
    assert.strictEqual(PerMessageDeflate.acceptResponse(undefined), undefined)
  })
})

describe("PerMessageDeflate deflate and inflate", () => {
  const agreements = fc.record({
    serverNoContextTakeover: fc.boolean(),
    clientNoContextTakeover: fc.boolean(),
    serverMaxWindowBits: fc.integer({ min: 8, max: 15 }),
    clientMaxWindowBits: fc.integer({ min: 8, max: 15 }),
    clientWindowOffered: fc.constant(true)
  })
  const payloads = fc.array(
    fc.oneof(fc.uint8Array({ maxLength: 3000 }), fc.string({ maxLength: 2000 }).map((s) => new TextEncoder().encode(s.repeat(3)))),
    { minLength: 1, maxLength: 6 }
  )

  it.effect("round-trips every sequence of messages, both roles, every agreement (context taken over or not)", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(agreements, payloads, fc.constantFrom("client" as const, "server" as const), async (agreed, messages, role) => {
          const peer = role === "client" ? "server" : "client"
          const deflater = PerMessageDeflate.makeDeflater(agreed, role, { threshold: 0 })
          const inflater = PerMessageDeflate.makeInflater(agreed, peer, 1 << 20)
          try {
            for (const message of messages) {
              const compressed = await Effect.runPromise(deflater.deflate(message))
              assert.isDefined(compressed)
              const back = await Effect.runPromise(inflater.inflate(compressed!))
              assert.deepStrictEqual(Buffer.from(back), Buffer.from(message))
            }
          } finally {
            deflater.close()
            inflater.close()
          }
        }),
        { numRuns: 60 }
      )
    ))

  it.effect("without context takeover each message inflates alone (zlib.inflateRawSync is the oracle)", () =>
    Effect.gen(function*() {
      const agreed = { ...plain, serverNoContextTakeover: true, clientWindowOffered: true }
      const deflater = PerMessageDeflate.makeDeflater(agreed, "server", { threshold: 0 })
      const text = Buffer.from(JSON.stringify({ bids: Array.from({ length: 50 }, (_, i) => [64000 + i, 0.5]) }))
      for (let i = 0; i < 3; i++) {
        const out = (yield* deflater.deflate(text))!
        assert.deepStrictEqual(zlib.inflateRawSync(Buffer.concat([out, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: zlib.constants.Z_SYNC_FLUSH }), text)
        assert.isBelow(out.length, text.length / 2)
      }
      deflater.close()
    }))

  it.effect("sends a payload under the threshold uncompressed", () =>
    Effect.gen(function*() {
      const deflater = PerMessageDeflate.makeDeflater({ ...plain, clientWindowOffered: true }, "client")
      assert.strictEqual(yield* deflater.deflate(new Uint8Array(PerMessageDeflate.DEFAULT_THRESHOLD - 1)), undefined)
      assert.isDefined(yield* deflater.deflate(new Uint8Array(PerMessageDeflate.DEFAULT_THRESHOLD)))
      deflater.close()
    }))

  it.effect("a deflate bomb (64 MiB of zeros) fails with MessageTooBig and close code 1009 at maxMessageSize; the inflater then works again", () =>
    Effect.gen(function*() {
      const bomb = zlib.deflateRawSync(Buffer.alloc(64 * 1024 * 1024), { finishFlush: zlib.constants.Z_SYNC_FLUSH })
      const agreed = { ...plain, clientWindowOffered: true }
      const inflater = PerMessageDeflate.makeInflater(agreed, "server", 1024 * 1024)
      const error = yield* Effect.flip(inflater.inflate(bomb.subarray(0, bomb.length - 4)))
      assert.deepStrictEqual(error, new PerMessageDeflate.InflateError({ kind: "MessageTooBig", limit: 1024 * 1024, closeCode: 1009 }))
      assert.strictEqual(error.message, "inflated message is larger than 1048576 bytes (close 1009)")
      const small = zlib.deflateRawSync(Buffer.from("ok"), { finishFlush: zlib.constants.Z_SYNC_FLUSH })
      assert.strictEqual(Buffer.from(yield* inflater.inflate(small.subarray(0, small.length - 4))).toString(), "ok")
      inflater.close()
    }))

  it.effect("corrupt data fails with Corrupt and close code 1007", () =>
    Effect.gen(function*() {
      const inflater = PerMessageDeflate.makeInflater({ ...plain, clientWindowOffered: true }, "client", 1024)
      const error = yield* Effect.flip(inflater.inflate(Buffer.from([0xff, 0xff, 0xff, 0xff])))
      assert.deepStrictEqual(error, new PerMessageDeflate.InflateError({ kind: "Corrupt", limit: 1024, closeCode: 1007 }))
      inflater.close()
    }))
})

describe("PerMessageDeflate against ws's permessage-deflate", () => {
  // ws's own implementation, negotiated through its extension header parser: the oracle both ways
  const require = createRequire(import.meta.url)
  // not in ws's "exports": reached by path from the package's main file
  const wsLib = path.join(path.dirname(require.resolve("ws")), "lib")
  const WsDeflate = require(path.join(wsLib, "permessage-deflate.js"))
  const extension = require(path.join(wsLib, "extension.js"))

  const wsPair = (ourOffer: string) => {
    const wsServer = new WsDeflate({ isServer: true, maxPayload: 1 << 20, threshold: 0 })
    const answer = extension.format({ "permessage-deflate": [wsServer.accept(extension.parse(ourOffer)["permessage-deflate"])] })
    return { wsServer, answer }
  }
  const call = (f: (cb: (err: Error | null, out: Buffer) => void) => void) =>
    new Promise<Buffer>((resolve, reject) => f((err, out) => (err ? reject(err) : resolve(out))))

  it.effect("our client's messages inflate in ws's server, ws's server messages inflate in our client", () =>
    Effect.promise(async () => {
      const config = { clientNoContextTakeover: true }
      const { answer, wsServer } = wsPair(PerMessageDeflate.offerHeader(config))
      const agreed = PerMessageDeflate.acceptResponse(answer, config)
      assert.isTrue(agreed !== undefined && !(agreed instanceof PerMessageDeflate.NegotiationFault))
      const ours = agreed as PerMessageDeflate.Agreed
      const deflater = PerMessageDeflate.makeDeflater(ours, "client", { threshold: 0 })
      const inflater = PerMessageDeflate.makeInflater(ours, "client", 1 << 20)
      const messages = ["{\"bid\":64000.5}", "x".repeat(5000), JSON.stringify(Array.from({ length: 200 }, (_, i) => i))]
      for (const text of messages) {
        const compressed = (await Effect.runPromise(deflater.deflate(Buffer.from(text))))!
        assert.strictEqual((await call((cb) => wsServer.decompress(Buffer.from(compressed), true, cb))).toString(), text)
        const fromWs = await call((cb) => wsServer.compress(Buffer.from(text), true, cb))
        assert.strictEqual(Buffer.from(await Effect.runPromise(inflater.inflate(fromWs))).toString(), text)
      }
      deflater.close()
      inflater.close()
      wsServer.cleanup()
    }))
})
