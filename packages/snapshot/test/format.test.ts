import { crc32 } from 'node:zlib'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  decodeSnapshot,
  encodeSnapshot,
  isSnapshotError,
  parseSnapshotFileName,
  SNAPSHOT_FORMAT_VERSION,
  snapshotFileName,
} from '../src/index.js'

const sample = () =>
  encodeSnapshot({
    seq: 1234,
    time: 1_700_000_000_000,
    codec: 'msgpackr/1',
    state: new Uint8Array([1, 2, 3, 4]),
  })

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return isSnapshotError(err) ? err.code : `not a SnapshotError: ${String(err)}`
  }
  return undefined
}

describe('snapshot file format', () => {
  it('round-trips seq, time, codec name and state', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        fc.double({ noNaN: true }),
        fc.string({ minLength: 1, maxLength: 60 }),
        fc.uint8Array({ maxLength: 300 }),
        (seq, time, codec, state) => {
          const decoded = decodeSnapshot(encodeSnapshot({ seq, time, codec, state }), 'f')
          expect(decoded).toEqual({ seq, time, codec, state: Buffer.from(state) })
        },
      ),
    )
  })

  it('starts with the magic and the format version', () => {
    const bytes = Buffer.from(sample())
    expect(bytes.subarray(0, 8).toString('latin1')).toBe('WALTZSNP')
    expect(bytes.readUInt16LE(8)).toBe(SNAPSHOT_FORMAT_VERSION)
    expect(bytes.readBigUInt64LE(12)).toBe(1234n)
  })

  it('rejects every truncation and every single-bit flip as SNAPSHOT_CORRUPT', () => {
    const bytes = sample()
    for (let length = 0; length < bytes.length; length++) {
      expect(codeOf(() => decodeSnapshot(bytes.subarray(0, length), 'f'))).toBe('SNAPSHOT_CORRUPT')
    }
    for (let i = 0; i < bytes.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const copy = Uint8Array.from(bytes)
        copy[i]! ^= 1 << bit
        expect(
          codeOf(() => decodeSnapshot(copy, 'f')),
          `byte ${i} bit ${bit}`,
        ).toBe('SNAPSHOT_CORRUPT')
      }
    }
  })

  it('bounds a huge state length (with a valid checksum) by the file size', () => {
    const bytes = Buffer.from(sample())
    const lengthAt = 29 + 'msgpackr/1'.length
    bytes.writeBigUInt64LE(2n ** 62n, lengthAt)
    const end = bytes.length - 4
    bytes.writeUInt32LE(crc32(bytes.subarray(0, end)), end)
    expect(codeOf(() => decodeSnapshot(bytes, 'f'))).toBe('SNAPSHOT_CORRUPT')
  })

  it('reports an intact file of another version as SNAPSHOT_FORMAT_UNSUPPORTED', () => {
    const bytes = Buffer.from(sample())
    bytes.writeUInt16LE(SNAPSHOT_FORMAT_VERSION + 1, 8)
    const end = bytes.length - 4
    bytes.writeUInt32LE(crc32(bytes.subarray(0, end)), end)
    expect(codeOf(() => decodeSnapshot(bytes, 'f'))).toBe('SNAPSHOT_FORMAT_UNSUPPORTED')
  })

  it('rejects a bad seq or codec name on encode', () => {
    const state = new Uint8Array()
    expect(codeOf(() => encodeSnapshot({ seq: -1, time: 0, codec: 'c', state }))).toBe(
      'SNAPSHOT_INVALID_ARGUMENT',
    )
    expect(codeOf(() => encodeSnapshot({ seq: 1.5, time: 0, codec: 'c', state }))).toBe(
      'SNAPSHOT_INVALID_ARGUMENT',
    )
    expect(codeOf(() => encodeSnapshot({ seq: 1, time: 0, codec: '', state }))).toBe(
      'SNAPSHOT_INVALID_ARGUMENT',
    )
    expect(codeOf(() => encodeSnapshot({ seq: 1, time: 0, codec: 'x'.repeat(256), state }))).toBe(
      'SNAPSHOT_INVALID_ARGUMENT',
    )
  })

  it('names files by zero-padded seq, so they sort by seq, and parses only those names', () => {
    expect(snapshotFileName(1234)).toBe('snapshot-00000000000000001234.snap')
    expect(parseSnapshotFileName(snapshotFileName(1234))).toBe(1234)
    expect(parseSnapshotFileName(snapshotFileName(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER)
    expect(parseSnapshotFileName(`${snapshotFileName(5)}.123-abcd.tmp`)).toBeUndefined()
    expect(parseSnapshotFileName(`${snapshotFileName(5)}.stale`)).toBeUndefined()
    expect(parseSnapshotFileName('snapshot-99999999999999999999.snap')).toBeUndefined()
    expect(parseSnapshotFileName('snapshot-1.snap')).toBeUndefined()
    const names = [30, 2, 1000, 100].map(snapshotFileName).sort()
    expect(names.map(parseSnapshotFileName)).toEqual([2, 30, 100, 1000])
  })
})
