import { describe, expect, it } from 'vitest'
import { bytesSerializer } from '../src/index.js'

describe('bytesSerializer', () => {
  it('round-trips records whose types cycle through more names than its type cache holds', () => {
    const codec = bytesSerializer()
    const types = Array.from({ length: 20 }, (_, i) => (i % 2 ? `type-${i}` : `тип-${i}-🎵`))
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < types.length; i++) {
        const record = { type: types[i]!, time: round * 1000 + i + 0.5, data: new Uint8Array([i, round]) }
        const decoded = codec.decode(codec.encode(record))
        expect(decoded).toEqual(record)
      }
    }
  })

  it('encodeInto writes the same bytes as encode, and asks for room when the target is too small', () => {
    const codec = bytesSerializer()
    const record = { type: 'éèê', time: -12.25, data: new Uint8Array([1, 2, 3, 4]) }
    const encoded = Buffer.from(codec.encode(record))
    const target = Buffer.alloc(64, 0xaa)
    const end = codec.encodeInto!(record, target, 5)
    expect(end).toBe(5 + encoded.length)
    expect(target.subarray(5, end).equals(encoded)).toBe(true)
    expect(target[4]).toBe(0xaa)
    expect(codec.encodeInto!(record, Buffer.alloc(encoded.length + 4), 5)).toBe(-1)
  })

  it('rejects bad input with errors the WAL turns into WAL_SERIALIZER_ERROR', () => {
    const codec = bytesSerializer()
    expect(() => codec.encode({ type: 'x'.repeat(256), time: 0, data: new Uint8Array() })).toThrow(RangeError)
    expect(() => codec.encode({ type: 'x', time: 0, data: 'no' as unknown as Uint8Array })).toThrow(TypeError)
    const bytesType = Uint8Array.of(0xff) as unknown as string
    expect(() => codec.encode({ type: bytesType, time: 0, data: new Uint8Array() })).toThrow(TypeError)
    expect(() =>
      codec.encodeInto!({ type: bytesType, time: 0, data: new Uint8Array() }, Buffer.alloc(64), 0),
    ).toThrow(TypeError)
    expect(() => codec.decode(new Uint8Array(3))).toThrow(RangeError)
    const truncated = codec.encode({ type: 'abcdef', time: 0, data: new Uint8Array() }).subarray(0, 11)
    expect(() => codec.decode(truncated)).toThrow(RangeError)
  })
})
