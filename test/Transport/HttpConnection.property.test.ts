import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import fc from "fast-check"
import * as ReadBuf from "../../src/Codec/ReadBuf.ts"
import * as RequestWriter from "../../src/Codec/RequestWriter.ts"
import * as ResponseReader from "../../src/Codec/ResponseReader.ts"
import * as HttpConnection from "../../src/Transport/HttpConnection.ts"
import * as Memory from "../../src/Transport/Memory.ts"

// Any chopping of the server's bytes (memory pair chunkSize) and any mix of framings give the
// same responses over one keep-alive connection, which stays reusable throughout.

type Framing = "fixed" | "chunked" | "head" | "noContent"

interface Exchange {
  readonly framing: Framing
  readonly body: string
  readonly pieces: number
}

/** The response as wire text: UTF-8 for fixed bodies, latin1 (one char per byte) for chunked ones. */
const wire = ({ body, framing, pieces }: Exchange): string => {
  switch (framing) {
    case "fixed":
      return `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
    case "head":
      return `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body) + 5}\r\n\r\n`
    case "noContent":
      return "HTTP/1.1 204 No Content\r\n\r\n"
    case "chunked": {
      const bytes = Buffer.from(body)
      const size = Math.max(1, Math.ceil(bytes.length / pieces))
      let out = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      for (let i = 0; i < bytes.length; i += size) {
        const part = bytes.subarray(i, i + size)
        out += `${part.length.toString(16)}\r\n${part.toString("latin1")}\r\n`
      }
      return out + "0\r\n\r\n"
    }
  }
}

const expected = ({ body, framing }: Exchange) => framing === "head" || framing === "noContent" ? "" : body

const readHead = (server: Memory.MemoryTransport) =>
  Effect.gen(function*() {
    const buf = ReadBuf.make({ capacity: 4096 })
    while (!buf.data().toString("latin1").includes("\r\n\r\n")) {
      if ((yield* server.read(buf)) === 0) break
    }
  })

const exchange = fc.record({
  framing: fc.constantFrom<Framing>("fixed", "chunked", "head", "noContent"),
  body: fc.string({ unit: "grapheme", maxLength: 300 }),
  pieces: fc.integer({ min: 1, max: 8 })
})

describe("HttpConnection property", () => {
  it("any chopping of the response bytes and any mix of framings give the same responses", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(exchange, { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 64 }), (exchanges, chunkSize) =>
        Effect.runPromise(Effect.scoped(Effect.gen(function*() {
          const { client, server } = yield* Memory.pair({ chunkSize })
          const connection = yield* HttpConnection.make(client)
          const writer = RequestWriter.make({ host: "example.test" })
          const reader = ResponseReader.make({ bufferCapacity: 64 })
          for (const x of exchanges) {
            // latin1 on the wire: chunked bodies were built from UTF-8 bytes
            const bytes = x.framing === "chunked" ? Buffer.from(wire(x), "latin1") : Buffer.from(wire(x))
            const request = x.framing === "head" ? writer.head("/").finish() : writer.get("/").finish()
            const [response] = yield* Effect.all([
              connection.send(request, reader),
              Effect.andThen(readHead(server), server.write(bytes))
            ], { concurrency: 2 })
            assert.strictEqual(response.bodyText(), expected(x))
            assert.strictEqual(connection.status, "Ready")
          }
          assert.strictEqual(connection.requestCount, exchanges.length)
        })))),
      { numRuns: 150 }
    )
  })
})
