/**
 * The phase order query → headers → body → finish is enforced by the types. Every
 * `@ts-expect-error` below is checked by `tsc --noEmit` (part of `npm test`): if a forbidden call
 * ever compiles, the unused directive fails the type check. The runtime tests make vitest load
 * the file and confirm the allowed chains also run.
 */
import { describe, expect, expectTypeOf, it } from "vitest"
import * as RequestWriter from "../../src/Codec/RequestWriter.ts"

const writer = RequestWriter.make({ host: "h" })

// Compile-time only: wrapped in a function that is never called, so the forbidden calls never run.
const forbidden = (): void => {
  // @ts-expect-error no query after a header
  writer.get("/").header("a", "b").query("k", "v")
  // @ts-expect-error no query after a body
  writer.post("/").body("x").query("a", "b")
  // @ts-expect-error no header after a body
  writer.post("/").body("x").header("a", "b")
  // @ts-expect-error no second body
  writer.post("/").body("x").body("y")
  // @ts-expect-error no header after bodyWriter
  writer.post("/").bodyWriter(() => 0).header("a", "b")
  // @ts-expect-error no query after bodyFixed
  writer.post("/").bodyFixed(1, () => {}).query("a", "b")
  // @ts-expect-error no bodyWriter after bodyFixed
  writer.post("/").bodyFixed(1, () => {}).bodyWriter(() => 0)
  // @ts-expect-error the writer itself is not a builder: start a request first
  writer.query("a", "b")
  // @ts-expect-error nor can it finish one
  writer.finish()
  // @ts-expect-error the builder's state is not part of any phase type
  writer.get("/").pos
  // @ts-expect-error finish() returns a union: bytes needs narrowing on _tag first
  writer.get("/").finish().bytes
  // @ts-expect-error a body is bytes or a string
  writer.post("/").body(42)
  // @ts-expect-error header values are strings
  writer.get("/").header("a", 1)
}

describe("RequestWriter phase types", () => {
  it("narrows each step to the phase that may follow", () => {
    expectTypeOf(writer.get("/")).toEqualTypeOf<RequestWriter.QueryPhase>()
    expectTypeOf(writer.get("/").query("a", "b")).toEqualTypeOf<RequestWriter.QueryPhase>()
    expectTypeOf(writer.get("/").header("a", "b")).toEqualTypeOf<RequestWriter.HeaderPhase>()
    expectTypeOf(writer.get("/").query("a", "b").header("a", "b")).toEqualTypeOf<RequestWriter.HeaderPhase>()
    expectTypeOf(writer.post("/").body("x")).toEqualTypeOf<RequestWriter.Ready>()
    expectTypeOf(writer.post("/").header("a", "b").bodyWriter(() => 0)).toEqualTypeOf<RequestWriter.Ready>()
    expectTypeOf(writer.post("/").bodyFixed(0, () => {})).toEqualTypeOf<RequestWriter.Ready>()
    expectTypeOf(writer.get("/").finish()).toEqualTypeOf<RequestWriter.Request | RequestWriter.RequestError>()
    expectTypeOf<RequestWriter.HeaderPhase>().not.toHaveProperty("query")
    expectTypeOf<RequestWriter.Ready>().not.toHaveProperty("header")
    expectTypeOf<RequestWriter.Ready>().not.toHaveProperty("body")
  })

  it("runs every allowed chain, each phase on the one builder object", () => {
    const query = writer.post("/")
    const headers = query.query("a", "b").header("c", "d")
    const ready = headers.body("x")
    expect(headers).toBe(query)
    expect(ready).toBe(query)
    const result = ready.finish()
    expect(result._tag).toBe("Request")
    if (result._tag === "Request") {
      expectTypeOf(result.bytes).toEqualTypeOf<Uint8Array>()
      expect(Buffer.from(result.bytes).toString("latin1")).toBe(
        "POST /?a=b HTTP/1.1\r\nHost: h\r\nc: d\r\nContent-Length: 1\r\n\r\nx"
      )
    }
    expect(typeof forbidden).toBe("function")
  })
})
