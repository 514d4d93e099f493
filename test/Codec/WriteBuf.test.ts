import { describe, expect, it } from "vitest"
import * as WriteBuf from "../../src/Codec/WriteBuf.ts"

describe("WriteBuf", () => {
  it("prepends a header in front of an appended payload, contiguous", () => {
    const buf = WriteBuf.make({ capacity: 8, headroom: 4 })
    expect(buf.append(Uint8Array.of(7, 8, 9))).toBe(true)
    expect(buf.prepend(Uint8Array.of(1, 2))).toBe(true)
    expect([...buf.data()]).toEqual([1, 2, 7, 8, 9])
    expect(buf.headroomLeft).toBe(2)
  })

  it("reports capacity errors without writing anything", () => {
    const buf = WriteBuf.make({ capacity: 4, headroom: 2 })
    expect(buf.append(new Uint8Array(5))).toBe(false)
    expect(buf.length).toBe(0)
    expect(buf.prepend(new Uint8Array(3))).toBe(false)
    expect(buf.reserveFront(3)).toBe(-1)
    expect(buf.reserveFront(2)).toBe(0)
  })

  it("writes through spare()/filled() and clears back to full headroom", () => {
    const buf = WriteBuf.make({ capacity: 4, headroom: 2 })
    buf.spare().set([5, 6])
    buf.filled(2)
    expect([...buf.data()]).toEqual([5, 6])
    expect(() => buf.filled(3)).toThrow(/exceeds the 2 spare bytes/)
    buf.clear()
    expect(buf.length).toBe(0)
    expect(buf.headroomLeft).toBe(2)
  })
})
