import { describe, expect, it } from "vitest"
import * as ReadBuf from "../../src/Codec/ReadBuf.ts"

describe("ReadBuf", () => {
  it("exposes filled bytes through data() and resets when fully consumed", () => {
    const buf = ReadBuf.make({ capacity: 8 })
    buf.spare().set([1, 2, 3])
    buf.filled(3)
    expect([...buf.data()]).toEqual([1, 2, 3])
    buf.advance(2)
    expect([...buf.data()]).toEqual([3])
    buf.advance(1)
    expect(buf.start).toBe(0)
    expect(buf.end).toBe(0)
    expect(buf.spareLength).toBe(8)
  })

  it("rejects filled() beyond the spare space and advance() beyond the data", () => {
    const buf = ReadBuf.make({ capacity: 4 })
    expect(() => buf.filled(5)).toThrow(/exceeds the 4 spare bytes/)
    buf.filled(2)
    expect(() => buf.advance(3)).toThrow(/exceeds the 2 unconsumed bytes/)
  })

  it("compacts only past the compactAt fraction", () => {
    const buf = ReadBuf.make({ capacity: 10, compactAt: 0.5 })
    expect(buf.write(Uint8Array.of(0, 1, 2, 3, 4, 5, 6))).toBe(true)
    buf.advance(4)
    expect(buf.maybeCompact()).toBe(false)
    buf.advance(1)
    expect(buf.maybeCompact()).toBe(true)
    expect([...buf.data()]).toEqual([5, 6])
    expect(buf.start).toBe(0)
  })

  it("grows by doubling up to maxCapacity and reports a capacity error beyond it", () => {
    const buf = ReadBuf.make({ capacity: 4, maxCapacity: 16 })
    expect(buf.write(Uint8Array.of(1, 2, 3))).toBe(true)
    expect(buf.write(Uint8Array.of(4, 5, 6, 7, 8))).toBe(true)
    expect(buf.capacity).toBe(8)
    expect([...buf.data()]).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    expect(buf.write(new Uint8Array(9))).toBe(false)
    expect([...buf.data()]).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    expect(buf.write(new Uint8Array(8))).toBe(true)
    expect(buf.capacity).toBe(16)
  })

  it("swapOnCompact: a compaction swaps slabs, leaving the bytes read before it intact until the next one", () => {
    const buf = ReadBuf.make({ capacity: 8 })
    buf.swapOnCompact = true
    expect(buf.write(Uint8Array.of(1, 2, 3, 4, 5, 6))).toBe(true)
    const lent = buf.buf.subarray(0, 4)
    buf.advance(4)
    const first = buf.buf
    expect(buf.write(Uint8Array.of(7, 8, 9, 10))).toBe(true) // needs the head: compacts
    expect(buf.buf).not.toBe(first)
    expect([...buf.data()]).toEqual([5, 6, 7, 8, 9, 10])
    expect([...lent]).toEqual([1, 2, 3, 4])
    // the next compaction reuses the first slab
    buf.advance(5)
    buf.compact()
    expect(buf.buf).toBe(first)
    expect([...buf.data()]).toEqual([10])
    // without it, compaction moves bytes within the one slab
    const plain = ReadBuf.make({ capacity: 8 })
    plain.write(Uint8Array.of(1, 2, 3, 4, 5, 6))
    const view = plain.buf.subarray(0, 4)
    plain.advance(4)
    plain.compact()
    expect([...view]).toEqual([5, 6, 3, 4])
  })

  it("rejects invalid options", () => {
    expect(() => ReadBuf.make({ capacity: 0 })).toThrow(RangeError)
    expect(() => ReadBuf.make({ capacity: 8, maxCapacity: 4 })).toThrow(RangeError)
    expect(() => ReadBuf.make({ compactAt: 2 })).toThrow(RangeError)
  })
})
