import { randomBytes } from 'node:crypto'
import { crc32 as zlibCrc32 } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { crc32 } from '../src/checksum.js'

describe('crc32 of a byte range', () => {
  const bytes = randomBytes(5000)

  it('equals zlib.crc32 for every length from 0 to 4 KiB, at unaligned offsets', () => {
    for (let length = 0; length <= 4096; length++) {
      const start = length % 13
      const expected = zlibCrc32(bytes.subarray(start, start + length))
      expect(crc32(bytes, start, start + length), `length ${length}`).toBe(expected)
    }
  })

  it('matches the standard check value of "123456789"', () => {
    expect(crc32(Buffer.from('123456789'), 0, 9)).toBe(0xcbf43926)
  })

  it('changes with any single flipped bit of a short range', () => {
    const frame = Buffer.from(bytes.subarray(0, 120))
    const original = crc32(frame, 0, frame.length)
    for (let bit = 0; bit < frame.length * 8; bit++) {
      frame[bit >> 3]! ^= 1 << (bit & 7)
      expect(crc32(frame, 0, frame.length)).not.toBe(original)
      frame[bit >> 3]! ^= 1 << (bit & 7)
    }
  })
})
