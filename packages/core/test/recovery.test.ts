import { cpSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { collect } from '../../../test-support/collect.js'
import { flipByte } from '../../../test-support/damage.js'
import { payloadFor } from '../../../test-support/payload.mjs'
import { tempDir } from '../../../test-support/temp-dir.js'
import { encodeSegmentHeader, FRAME_HEADER_SIZE, parseSegmentHeader } from '../src/format.js'
import { isWalError, type Serializer, Wal } from '../src/index.js'
import { faultyFiles, segmentFiles } from './helpers.js'

const RECORD_SIZE = 40

/** Writes `count` records (data = payloadFor(seq, RECORD_SIZE)) and closes. */
async function writeLog(dir: string, count: number, segmentSize?: number): Promise<void> {
  const wal = await Wal.open({ dir, sync: 'always', ...(segmentSize ? { segmentSize } : {}) })
  for (let i = 1; i <= count; i++) await wal.append({ type: 'r', time: i, data: payloadFor(i, RECORD_SIZE) })
  await wal.close()
}

/** Byte offsets of each frame in a segment file. */
function frameOffsets(file: string): number[] {
  const buf = readFileSync(file)
  const header = parseSegmentHeader(buf)
  if (typeof header === 'string') throw new Error(header)
  const offsets: number[] = []
  let at = header.headerSize
  while (at + FRAME_HEADER_SIZE <= buf.length) {
    offsets.push(at)
    at += FRAME_HEADER_SIZE + buf.readUInt32LE(at + 4)
  }
  return offsets
}

async function expectIntact(dir: string, lastSeq: number): Promise<Wal> {
  const wal = await Wal.open({ dir })
  expect(wal.lastSeq).toBe(lastSeq)
  const records = await collect(wal.records())
  expect(records.map((r) => r.seq)).toEqual(Array.from({ length: lastSeq }, (_, i) => i + 1))
  for (const r of records)
    expect(Buffer.from(r.data).equals(Buffer.from(payloadFor(r.seq, RECORD_SIZE)))).toBe(true)
  return wal
}

describe('torn tails', () => {
  it('cut at every byte inside the last frame: recovers the longest valid prefix and continues', async () => {
    const source = tempDir()
    await writeLog(source, 5)
    const [file] = segmentFiles(source)
    const offsets = frameOffsets(file!)
    const lastStart = offsets[4]!
    const size = statSync(file!).size
    for (let cut = lastStart + 1; cut < size; cut++) {
      const dir = tempDir()
      cpSync(source, dir, { recursive: true })
      const copy = segmentFiles(dir)[0]!
      truncateSync(copy, cut)
      const wal = await expectIntact(dir, 4)
      expect(wal.recovery.truncatedBytes).toBe(cut - lastStart)
      expect(wal.recovery.truncatedAt).toBe(lastStart)
      expect(statSync(copy).size).toBe(lastStart)
      // What was cut is kept beside the segments, byte for byte.
      expect(readFileSync(wal.recovery.cutFile!)).toEqual(readFileSync(file!).subarray(lastStart, cut))
      expect(await wal.append({ type: 'r', time: 5, data: payloadFor(5, RECORD_SIZE) })).toBe(5)
      await wal.close()
      await (await expectIntact(dir, 5)).close()
    }
  })

  it('an atomic batch cut at any byte is replayed wholly or not at all', async () => {
    const source = tempDir()
    const wal = await Wal.open({ dir: source, sync: 'always' })
    for (let i = 1; i <= 3; i++) await wal.append({ type: 'r', time: i, data: payloadFor(i, RECORD_SIZE) })
    await wal.appendBatch(
      [4, 5, 6, 7].map((seq) => ({ type: 'r', time: seq, data: payloadFor(seq, RECORD_SIZE) })),
    )
    await wal.close()
    const file = segmentFiles(source)[0]!
    const batchStart = frameOffsets(file)[3]!
    const size = statSync(file).size
    for (let cut = batchStart; cut <= size; cut += 7) {
      const dir = tempDir()
      cpSync(source, dir, { recursive: true })
      truncateSync(segmentFiles(dir)[0]!, cut)
      const reopened = await expectIntact(dir, cut === size ? 7 : 3)
      await reopened.close()
    }
  })

  it('zeros after the last frame (a file extended but never written) are cut', async () => {
    const dir = tempDir()
    await writeLog(dir, 3)
    const file = segmentFiles(dir)[0]!
    writeFileSync(file, Buffer.concat([readFileSync(file), Buffer.alloc(4096)]))
    const wal = await expectIntact(dir, 3)
    expect(wal.recovery.truncatedBytes).toBe(4096)
    expect(wal.recovery.reason).toMatch(/length 0/)
    await wal.close()
  })
})

describe('corruption', () => {
  it('a bit flip in an acknowledged frame of the tail segment is WAL_CORRUPT, and nothing is cut', async () => {
    const dir = tempDir()
    await writeLog(dir, 10)
    const file = segmentFiles(dir)[0]!
    const at = frameOffsets(file)[6]!
    flipByte(file, at + FRAME_HEADER_SIZE + 12, 0x10)
    const before = readFileSync(file)
    const err = await Wal.open({ dir }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'WAL_CORRUPT', file, offset: at, seq: 7 })
    expect(String(err)).toMatch(/checksum.*seq 8 .* written after seq 7 was durable/)
    expect(readFileSync(file)).toEqual(before)
    expect(readdirSync(dir).filter((n) => n.includes('.cut-'))).toEqual([])
    // A reader opens, delivers every record before the damage, then throws the same error.
    const reader = await Wal.openReader({ dir })
    expect(reader.recovery.problemCode).toBe('frame-checksum')
    const seen: number[] = []
    const readErr = await (async () => {
      for await (const r of reader.records()) seen.push(r.seq)
    })().catch((e: unknown) => e)
    expect(seen).toEqual([1, 2, 3, 4, 5, 6])
    expect(readErr).toMatchObject({ code: 'WAL_CORRUPT', file, offset: at })
    await reader.close()
  })

  it('a bit flip in a sealed segment is never hidden: reading it throws WAL_CORRUPT with file and offset', async () => {
    const dir = tempDir()
    await writeLog(dir, 60, 1024)
    const files = segmentFiles(dir)
    expect(files.length).toBeGreaterThan(2)
    const sealed = files[1]!
    const at = frameOffsets(sealed)[2]!
    flipByte(sealed, at + FRAME_HEADER_SIZE + 1, 0x10)
    const wal = await Wal.open({ dir }) // open scans only the tail: it succeeds
    expect(wal.recovery.truncatedBytes).toBe(0)
    const err = await collect(wal.records()).catch((e: unknown) => e)
    expect(isWalError(err, 'WAL_CORRUPT')).toBe(true)
    expect(err).toMatchObject({ file: sealed, offset: at })
    await wal.close()
  })

  it('a huge length field is corruption, detected before any allocation (sealed and tail)', async () => {
    const dir = tempDir()
    await writeLog(dir, 60, 1024)
    const files = segmentFiles(dir)
    for (const file of [files[0]!, files[files.length - 1]!]) {
      const buf = readFileSync(file)
      const at = frameOffsets(file)[1]!
      buf.writeUInt32LE(0xfffffff0, at + 4)
      writeFileSync(file, buf)
    }
    // In the tail, intact frames follow the damage: corruption, not a torn tail.
    const tail = files[files.length - 1]!
    const openErr = await Wal.open({ dir }).catch((e: unknown) => e)
    expect(openErr).toMatchObject({ code: 'WAL_CORRUPT', file: tail })
    expect(String(openErr)).toMatch(/length 4294967280 outside/)
    // Repair the tail by hand (drop the damaged frame and what follows), then read the sealed one.
    truncateSync(tail, frameOffsets(tail)[1]!)
    const wal = await Wal.open({ dir })
    const err = await collect(wal.records()).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'WAL_CORRUPT', file: files[0] })
    await wal.close()
  })

  it('a frame with a valid checksum but the wrong seq (stale bytes) breaks the chain', async () => {
    const dir = tempDir()
    await writeLog(dir, 6)
    const file = segmentFiles(dir)[0]!
    const buf = readFileSync(file)
    const offsets = frameOffsets(file)
    // Overwrite frame 5 with a verbatim copy of frame 2 (same size): checksum fine, seq wrong.
    buf.copy(buf, offsets[4]!, offsets[1]!, offsets[2]!)
    writeFileSync(file, buf)
    const err = await Wal.open({ dir }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'WAL_CORRUPT', offset: offsets[4] })
    expect(String(err)).toMatch(/seq 2 breaks the chain/)
  })

  it('a missing middle segment is reported as a gap, not skipped', async () => {
    const dir = tempDir()
    await writeLog(dir, 60, 1024)
    const files = segmentFiles(dir)
    const { unlinkSync } = await import('node:fs')
    unlinkSync(files[1]!)
    const wal = await Wal.open({ dir })
    await expect(collect(wal.records())).rejects.toMatchObject({ code: 'WAL_CORRUPT' })
    await wal.close()
  })
})

describe('crashes during rotation', () => {
  it('an empty newest segment (header only): the last seq comes from the one before it', async () => {
    const dir = tempDir()
    await writeLog(dir, 5)
    const name = `${String(6).padStart(20, '0')}.wal`
    writeFileSync(join(dir, name), encodeSegmentHeader(6, Date.now(), 'waltz-bytes/1'))
    const wal = await expectIntact(dir, 5)
    expect(await wal.append({ type: 'r', time: 6, data: payloadFor(6, RECORD_SIZE) })).toBe(6)
    await wal.close()
    await (await expectIntact(dir, 6)).close()
  })

  it('an unfinished segment creation (a .wal.tmp header never renamed) is removed and reported', async () => {
    const dir = tempDir()
    await writeLog(dir, 5)
    const temp = join(dir, `${String(6).padStart(20, '0')}.wal.tmp`)
    writeFileSync(temp, encodeSegmentHeader(6, Date.now(), 'waltz-bytes/1').subarray(0, 11))
    const wal = await expectIntact(dir, 5)
    expect(wal.recovery.removedSegments).toEqual([temp])
    expect(readdirSync(dir)).not.toContain(`${String(6).padStart(20, '0')}.wal.tmp`)
    expect(await wal.append({ type: 'r', time: 6, data: payloadFor(6, RECORD_SIZE) })).toBe(6)
    await wal.close()
  })

  it('a newest segment truncated inside its header is WAL_CORRUPT, never deleted', async () => {
    const dir = tempDir()
    await writeLog(dir, 60, 1024)
    const files = segmentFiles(dir)
    const newest = files[files.length - 1]!
    truncateSync(newest, 10)
    await expect(Wal.open({ dir })).rejects.toMatchObject({ code: 'WAL_CORRUPT', file: newest })
    // A reader reads the sealed segments, then reports the damaged one.
    const reader = await Wal.openReader({ dir })
    let count = 0
    const err = await reader.replayFrom(0, () => void count++).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'WAL_CORRUPT', file: newest })
    expect(count).toBe(Number(newest.slice(-24, -4)) - 1)
    await reader.close()
    expect(segmentFiles(dir)).toEqual(files)
    expect(statSync(newest).size).toBe(10)
  })

  it('a newest segment with a bad header and data after it is corruption, not a torn creation', async () => {
    const dir = tempDir()
    await writeLog(dir, 20)
    const file = segmentFiles(dir)[0]!
    flipByte(file, 10, 0x10)
    await expect(Wal.open({ dir })).rejects.toMatchObject({ code: 'WAL_CORRUPT', file })
  })
})

describe('headers', () => {
  it('opening with another serializer fails with WAL_SERIALIZER_MISMATCH', async () => {
    const dir = tempDir()
    await writeLog(dir, 2)
    const other: Serializer<string, Uint8Array> = {
      name: 'other/1',
      encode: (data) => data,
      decode: (bytes) => bytes,
    }
    const err = await Wal.open({ dir, serializer: other }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'WAL_SERIALIZER_MISMATCH' })
    expect(String(err)).toContain("'waltz-bytes/1'")
    // The lock was released: the right serializer opens fine.
    await (await Wal.open({ dir })).close()
  })

  it('an unknown format version fails with WAL_FORMAT_UNSUPPORTED naming both versions', async () => {
    const dir = tempDir()
    await writeLog(dir, 2)
    const file = segmentFiles(dir)[0]!
    const buf = readFileSync(file)
    const size = buf.readUInt16LE(6)
    buf.writeUInt16LE(99, 4)
    buf.writeUInt32LE(crc32(buf.subarray(0, size - 4)), size - 4)
    writeFileSync(file, buf)
    const err = await Wal.open({ dir }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'WAL_FORMAT_UNSUPPORTED' })
    expect(String(err)).toMatch(/format version 99; this build reads format version 2/)
  })
})

describe('a log written with a larger maxRecordSize', () => {
  it('is refused with WAL_RECORD_TOO_LARGE on open (tail) and on read (sealed), never cut', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir, maxRecordSize: 64 * 1024, segmentSize: 100 * 1024 })
    await wal.append({ type: 'small', data: payloadFor(1, 10) })
    await wal.append({ type: 'big', data: payloadFor(2, 40 * 1024) })
    await wal.append({ type: 'small', data: payloadFor(3, 10) })
    await wal.close()
    const before = segmentFiles(dir).map((f) => readFileSync(f))
    // The big record is in the newest segment: recovery must not treat it as a torn tail.
    const err = await Wal.open({ dir, maxRecordSize: 16 * 1024 }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'WAL_RECORD_TOO_LARGE', seq: 2 })
    expect(String(err)).toContain('maxRecordSize >=')
    expect(segmentFiles(dir).map((f) => readFileSync(f))).toEqual(before)
  })

  it('a big record in a sealed segment reads as WAL_RECORD_TOO_LARGE, not corruption', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir, maxRecordSize: 64 * 1024, segmentSize: 48 * 1024 })
    await wal.append({ type: 'big', data: payloadFor(1, 40 * 1024) })
    for (let i = 2; i <= 200; i++) await wal.append({ type: 'small', data: payloadFor(i, 100) })
    await wal.close()
    expect(segmentFiles(dir).length).toBeGreaterThan(1)
    const small = await Wal.open({ dir, maxRecordSize: 16 * 1024 })
    await expect(collect(small.records())).rejects.toMatchObject({ code: 'WAL_RECORD_TOO_LARGE', seq: 1 })
    await small.close()
    const right = await Wal.open({ dir, maxRecordSize: 64 * 1024 })
    expect((await collect(right.records())).length).toBe(200)
    await right.close()
  })
})

describe('recovery makes the recovered tail durable', () => {
  it('fdatasyncs the newest segment on every writer open (a crashed os-cache writer may have left it unsynced)', async () => {
    const dir = tempDir()
    await writeLog(dir, 3)
    const fault = faultyFiles()
    const wal = await Wal.open({ dir, files: fault.files })
    expect(fault.calls.fdatasync).toBe(1)
    expect(wal.metrics().durableSeq).toBe(3)
    await wal.close()
    const readOnly = faultyFiles()
    await (await Wal.openReader({ dir, files: readOnly.files })).close()
    expect(readOnly.calls.fdatasync ?? 0).toBe(0)
    expect(readOnly.calls.ftruncate ?? 0).toBe(0)
  })
})
