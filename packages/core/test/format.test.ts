import { cpSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import {
  checkFrame,
  encodeSegmentHeader,
  FRAME_HEADER_SIZE,
  newFrameCursor,
  parseSegmentFileName,
  parseSegmentHeader,
  segmentFileName,
  writeFrame,
} from '../src/format.js'
import { bytesSerializer, Wal } from '../src/index.js'
import { collect, tempDir } from './helpers.js'

const fixtureDir = fileURLToPath(new URL('./fixtures/v1/', import.meta.url))
const fixture = readFileSync(`${fixtureDir}00000000000000000001.wal`)
const codec = bytesSerializer()
const records = [
  { type: 'hello', time: 1_700_000_000_001, data: new Uint8Array([1, 2, 3]) },
  { type: 'batch', time: 1_700_000_000_002, data: new Uint8Array([]) },
  { type: 'batch', time: 1_700_000_000_003, data: new TextEncoder().encode('é') },
]

/** The fixture's bytes, built with today's encoder. */
function encodeFixture(): Buffer {
  const header = encodeSegmentHeader(1, 1_700_000_000_000, codec.name)
  const buf = Buffer.alloc(4096)
  header.copy(buf)
  let at = header.length
  at = writeFrame(buf, at, 1, 0, codec.encode(records[0]!))
  at = writeFrame(buf, at, 2, 1, codec.encode(records[1]!))
  at = writeFrame(buf, at, 3, 0, codec.encode(records[2]!))
  return buf.subarray(0, at)
}

describe('format v1 (golden bytes)', () => {
  it('the encoder produces exactly the checked-in v1 segment', () => {
    expect(encodeFixture().toString('hex')).toBe(fixture.toString('hex'))
  })

  it('the header layout is as documented in docs/FORMAT.md', () => {
    expect(fixture.subarray(0, 4).toString('latin1')).toBe('WLTZ')
    expect(fixture.readUInt16LE(4)).toBe(1)
    const size = fixture.readUInt16LE(6)
    expect(size).toBe(25 + codec.name.length + 4)
    expect(fixture.readUInt32LE(8)).toBe(1)
    expect(fixture.readUInt32LE(12)).toBe(0)
    expect(fixture.readUInt8(24)).toBe(codec.name.length)
    expect(parseSegmentHeader(fixture)).toEqual({
      version: 1,
      headerSize: size,
      firstSeq: 1,
      createdAt: 1_700_000_000_000,
      serializerName: 'waltz-bytes/1',
    })
    // First frame: crc, length, seq (u64), batch remaining, payload.
    const f = size
    expect(fixture.readUInt32LE(f + 4)).toBe(codec.encode(records[0]!).byteLength)
    expect(fixture.readUInt32LE(f + 8)).toBe(1)
    expect(fixture.readUInt32LE(f + 16)).toBe(0)
  })

  it('a WAL opens the checked-in v1 segment and reads its records', async () => {
    const dir = tempDir()
    cpSync(fixtureDir, dir, { recursive: true })
    const wal = await Wal.open({ dir, readOnly: true })
    const read = await collect(wal.records())
    expect(read.map((r) => ({ type: r.type, time: r.time, data: Array.from(r.data) }))).toEqual(
      records.map((r) => ({ type: r.type, time: r.time, data: Array.from(r.data) })),
    )
    expect(read.map((r) => r.seq)).toEqual([1, 2, 3])
    await wal.close()
  })
})

describe('frame checks', () => {
  const payload = new Uint8Array([9, 8, 7])
  const frame = Buffer.alloc(FRAME_HEADER_SIZE + 3)
  writeFrame(frame, 0, 5, 0, payload)
  const cursor = newFrameCursor()

  it('accepts a valid frame and reports its fields', () => {
    expect(checkFrame(frame, 0, frame.length, 5, 100, cursor)).toBe('ok')
    expect(cursor).toMatchObject({ length: 3, seq: 5, batchRemaining: 0 })
  })

  it('every prefix of a frame is incomplete, never ok', () => {
    for (let n = 0; n < frame.length; n++) expect(checkFrame(frame, 0, n, 5, 100, cursor)).toBe('incomplete')
  })

  it('zeros are invalid (zero length), whatever the checksum field says', () => {
    expect(checkFrame(Buffer.alloc(64), 0, 64, 1, 100, cursor)).toBe('invalid')
  })

  it('a length over maxRecordSize is invalid before the payload is needed', () => {
    const huge = Buffer.from(frame)
    huge.writeUInt32LE(0xffffffff, 4)
    expect(checkFrame(huge, 0, FRAME_HEADER_SIZE, 5, 100, cursor)).toBe('invalid')
  })

  it('the checksum covers length, seq and batch fields, not just the payload', () => {
    for (const offset of [4, 8, 16, FRAME_HEADER_SIZE]) {
      const bad = Buffer.from(frame)
      bad[offset] = bad[offset]! ^ 1
      // Flipping seq also breaks the chain check; either way it must not be ok.
      expect(checkFrame(bad, 0, bad.length, 5, 100, cursor)).not.toBe('ok')
    }
    const seqFlip = Buffer.from(frame)
    seqFlip.writeUInt32LE(6, 8)
    expect(checkFrame(seqFlip, 0, seqFlip.length, 6, 100, cursor)).toBe('invalid')
    expect(cursor.problem).toMatch(/checksum/)
  })

  it('segment file names sort by seq and round-trip', () => {
    expect(segmentFileName(1)).toBe('00000000000000000001.wal')
    expect(parseSegmentFileName(segmentFileName(2 ** 53 - 1))).toBe(2 ** 53 - 1)
    expect(parseSegmentFileName('00000000000000000000.wal')).toBeUndefined()
    expect(parseSegmentFileName('LOCK')).toBeUndefined()
  })
})
