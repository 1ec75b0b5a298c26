import { cpSync, readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { collect } from '../../../test-support/collect.js'
import { tempDir } from '../../../test-support/temp-dir.js'
import {
  checkFrame,
  type EnvelopeInput,
  type EnvelopeText,
  encodeSegmentHeader,
  FRAME_HEADER_SIZE,
  newFrameCursor,
  parseSegmentFileName,
  parseSegmentHeader,
  segmentFileName,
  writeFrame,
} from '../src/format.js'
import { isWalError, Wal } from '../src/index.js'

const v1Dir = fileURLToPath(new URL('./fixtures/v1/', import.meta.url))
const v2Dir = fileURLToPath(new URL('./fixtures/v2/', import.meta.url))
const v2File = `${v2Dir}00000000000000000001.wal`
const utf8 = (s: string) => Buffer.from(s, 'utf8')

/** The golden records: an unkeyed single, then an atomic batch of two with key and headers. */
const records = [
  { seq: 1, type: 'hello', time: 1_700_000_000_001, data: new Uint8Array([1, 2, 3]) },
  {
    seq: 2,
    type: 'batch',
    time: 1_700_000_000_002,
    key: 'cart-7',
    data: new Uint8Array([]),
  },
  {
    seq: 3,
    type: 'batch',
    time: 1_700_000_000_003,
    key: 'cart-7',
    headers: { 'correlation-id': 'c-1', é: 'ü' },
    data: utf8('é'),
  },
] as const

function envelopeOf(r: (typeof records)[number]): EnvelopeInput {
  const headers =
    'headers' in r ? Object.entries(r.headers).flatMap(([k, v]) => [utf8(k), utf8(v)]) : undefined
  return {
    time: r.time,
    typeBytes: utf8(r.type),
    keyBytes: 'key' in r ? utf8(r.key) : undefined,
    headerBytes: headers,
    encrypted: false,
  }
}

/** The fixture's bytes, built with today's encoder (sync distances as a fresh 'always' log has them). */
function encodeFixture(): Buffer {
  const header = encodeSegmentHeader(1, 1_700_000_000_000, 'waltz-bytes/1')
  const buf = Buffer.alloc(4096)
  header.copy(buf)
  let at = header.length
  const remaining = [0, 1, 0]
  const distance = [1, 1, 2]
  records.forEach((r, i) => {
    at = writeFrame(buf, at, {
      seq: r.seq,
      batchRemaining: remaining[i]!,
      syncDistance: distance[i]!,
      envelope: envelopeOf(r),
      data: r.data,
    })
  })
  return buf.subarray(0, at)
}

// Regenerate with WALTZ_WRITE_FIXTURES=1 only when the format version changes.
if (process.env.WALTZ_WRITE_FIXTURES === '1') writeFileSync(v2File, encodeFixture())
const fixture = readFileSync(v2File)

describe('format v2 (golden bytes)', () => {
  it('the encoder produces exactly the checked-in v2 segment', () => {
    expect(encodeFixture().toString('hex')).toBe(fixture.toString('hex'))
  })

  it('the header and first frame are laid out as documented in docs/FORMAT.md', () => {
    expect(fixture.subarray(0, 4).toString('latin1')).toBe('WLTZ')
    expect(fixture.readUInt16LE(4)).toBe(2)
    const size = fixture.readUInt16LE(6)
    expect(size).toBe(25 + 'waltz-bytes/1'.length + 4)
    expect(parseSegmentHeader(fixture)).toEqual({
      version: 2,
      headerSize: size,
      firstSeq: 1,
      createdAt: 1_700_000_000_000,
      serializerName: 'waltz-bytes/1',
    })
    // First frame: crc, body length, seq (u64), then the body: batch remaining, sync distance, flags,
    // time (u48), type length, type, data.
    const f = size
    const body = f + FRAME_HEADER_SIZE
    expect(fixture.readUInt32LE(f + 4)).toBe(1 + 1 + 1 + 6 + 1 + 5 + 3)
    expect(fixture.readUInt32LE(f + 8)).toBe(1)
    expect(fixture[body]).toBe(0) // batch remaining
    expect(fixture[body + 1]).toBe(1) // sync distance
    expect(fixture[body + 2]).toBe(0) // flags: no key, no headers
    expect(fixture.readUIntLE(body + 3, 6)).toBe(1_700_000_000_001)
    expect(fixture[body + 9]).toBe(5)
    expect(fixture.toString('utf8', body + 10, body + 15)).toBe('hello')
    expect([...fixture.subarray(body + 15, body + 18)]).toEqual([1, 2, 3])
  })

  it('a WAL reads the checked-in v2 segment: type, time, key and headers exactly as appended', async () => {
    const dir = tempDir()
    cpSync(v2Dir, dir, { recursive: true })
    const reader = await Wal.openReader({ dir })
    const read = await collect(reader.records())
    expect(read.map((r) => ({ ...r, data: Array.from(r.data) }))).toEqual(
      records.map((r) => ({ ...r, data: Array.from(r.data) })),
    )
    expect('key' in read[0]!).toBe(false)
    expect('headers' in read[1]!).toBe(false)
    await reader.close()
  })

  it('a 100-byte record with a 1-character type takes at most 130 bytes; a 16-character key adds 17', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir, sync: 'background' })
    const data = new Uint8Array(100)
    const before = wal.metrics().bytes
    await wal.append({ type: 'a', data })
    const plain = wal.metrics().bytes - before
    await wal.append({ type: 'a', data, key: 'k'.repeat(16) })
    const keyed = wal.metrics().bytes - before - plain
    expect(plain).toBeLessThanOrEqual(130)
    expect(keyed - plain).toBeLessThanOrEqual(17)
    await wal.close()
  })

  it('a v1 log is refused with WAL_FORMAT_UNSUPPORTED naming both versions', async () => {
    const dir = tempDir()
    cpSync(v1Dir, dir, { recursive: true })
    for (const open of [() => Wal.open({ dir }), () => Wal.openReader({ dir })]) {
      const err = await open().catch((e: unknown) => e)
      expect(isWalError(err, 'WAL_FORMAT_UNSUPPORTED')).toBe(true)
      expect((err as Error).message).toMatch(/format version 1.*version 2/)
    }
  })
})

describe('frame checks', () => {
  const frame = Buffer.alloc(256)
  const end = writeFrame(frame, 0, {
    seq: 5,
    batchRemaining: 0,
    syncDistance: 3,
    envelope: {
      time: 7,
      typeBytes: utf8('t'),
      keyBytes: utf8('k'),
      headerBytes: [utf8('h'), utf8('v')],
      encrypted: false,
    },
    data: new Uint8Array([9, 8, 7]),
  })
  const valid = frame.subarray(0, end)
  const cursor = newFrameCursor()

  it('accepts a valid frame and reports its fields', () => {
    expect(checkFrame(valid, 0, valid.length, 5, 100, cursor)).toBe('ok')
    expect(cursor).toMatchObject({ seq: 5, batchRemaining: 0, syncDistance: 3, end: valid.length })
    expect([...valid.subarray(cursor.dataAt, cursor.end)]).toEqual([9, 8, 7])
  })

  it('an ASCII string field encodes to the same bytes as its UTF-8 bytes', () => {
    const asBytes = Buffer.alloc(256)
    const asText = Buffer.alloc(256)
    const frame = (keyBytes: EnvelopeText, headerBytes: EnvelopeText[]) => ({
      seq: 5,
      batchRemaining: 0,
      syncDistance: 3,
      envelope: { time: 7, typeBytes: utf8('t'), keyBytes, headerBytes, encrypted: false },
      data: new Uint8Array([9, 8, 7]),
    })
    const a = writeFrame(
      asBytes,
      0,
      frame(utf8('stream-1'), [utf8('$id'), utf8('0192-x'), utf8('h'), utf8('')]),
    )
    const b = writeFrame(asText, 0, frame('stream-1', ['$id', '0192-x', 'h', '']))
    expect(b).toBe(a)
    expect(asText.subarray(0, b).equals(asBytes.subarray(0, a))).toBe(true)
  })

  it('every prefix of a frame is incomplete, never ok', () => {
    for (let n = 0; n < valid.length; n++) expect(checkFrame(valid, 0, n, 5, 100, cursor)).toBe('incomplete')
  })

  it('zeros are invalid (zero length), whatever the checksum field says', () => {
    expect(checkFrame(Buffer.alloc(64), 0, 64, 1, 100, cursor)).toBe('invalid')
    expect(cursor.code).toBe('frame-length')
  })

  it('a length over maxRecordSize is invalid before the body is needed', () => {
    const huge = Buffer.from(valid)
    huge.writeUInt32LE(0xffffffff, 4)
    expect(checkFrame(huge, 0, FRAME_HEADER_SIZE, 5, 100, cursor)).toBe('invalid')
    expect(cursor.oversize).toBe(true)
  })

  it('the checksum covers length, seq and the whole body, not just the data', () => {
    for (let offset = 4; offset < valid.length; offset++) {
      const bad = Buffer.from(valid)
      bad[offset] = bad[offset]! ^ 1
      // Flipping seq or length also fails other checks; either way it must not be ok.
      expect(checkFrame(bad, 0, bad.length, 5, 100, cursor)).not.toBe('ok')
    }
    const seqFlip = Buffer.from(valid)
    seqFlip.writeUInt32LE(6, 8)
    expect(checkFrame(seqFlip, 0, seqFlip.length, 6, 100, cursor)).toBe('invalid')
    expect(cursor.code).toBe('frame-checksum')
  })

  it('segment file names sort by seq and round-trip', () => {
    expect(segmentFileName(1)).toBe('00000000000000000001.wal')
    expect(parseSegmentFileName(segmentFileName(2 ** 53 - 1))).toBe(2 ** 53 - 1)
    expect(parseSegmentFileName('00000000000000000000.wal')).toBeUndefined()
    expect(parseSegmentFileName('00000000000000000001.wal.tmp')).toBeUndefined()
    expect(parseSegmentFileName('LOCK')).toBeUndefined()
  })
})
