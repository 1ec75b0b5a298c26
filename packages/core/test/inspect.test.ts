import { existsSync, readFileSync, statSync, truncateSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { collect } from '../../../test-support/collect.js'
import { flipByte } from '../../../test-support/damage.js'
import { payloadFor } from '../../../test-support/payload.mjs'
import { tempDir } from '../../../test-support/temp-dir.js'
import { FRAME_HEADER_SIZE } from '../src/format.js'
import { Wal } from '../src/index.js'
import { repairLog, scanLog } from '../src/inspect.js'
import { segmentFiles } from './helpers.js'

async function writeLog(dir: string, count: number): Promise<void> {
  const wal = await Wal.open({ dir, segmentSize: 2048 })
  for (let i = 1; i <= count; i++) await wal.append({ type: `t${i}`, time: i, data: payloadFor(i, 100) })
  await wal.close()
}

describe('scanLog', () => {
  it('reports every segment of a clean log and no corruption', async () => {
    const dir = tempDir()
    await writeLog(dir, 60)
    const report = await scanLog(dir)
    expect(report.segments.length).toBeGreaterThan(3)
    expect(report.corruption).toEqual([])
    expect(report.segments.every((s) => s.problem === null && s.serializerName === 'waltz-bytes/1')).toBe(
      true,
    )
    expect(report.segments.reduce((n, s) => n + s.frames, 0)).toBe(60)
    expect(report.segments[report.segments.length - 1]!.lastSeq).toBe(60)
    expect(report.lock).toBeUndefined()
  })

  it('lists a bad frame in a sealed segment as corruption with file and offset; a torn tail is not', async () => {
    const dir = tempDir()
    await writeLog(dir, 60)
    const files = segmentFiles(dir)
    const headerSize = readFileSync(files[1]!).readUInt16LE(6)
    flipByte(files[1]!, headerSize + FRAME_HEADER_SIZE + 3)
    truncateSync(files[files.length - 1]!, statSync(files[files.length - 1]!).size - 5)
    const report = await scanLog(dir)
    expect(report.corruption).toEqual([
      { file: files[1], offset: headerSize, code: 'frame-checksum', reason: 'frame checksum mismatch' },
    ])
    const newest = report.segments[report.segments.length - 1]!
    expect(newest.verdict).toBe('torn')
    expect(newest.problem).toMatchObject({ code: 'frame-incomplete', reason: 'partial frame body' })
    expect(report.segments[1]!.verdict).toBe('corrupt')
    expect(report.segments[0]!.verdict).toBe('clean')
  })
})

describe('reading any log without its serializer (Wal.openReader)', () => {
  it('yields every record in seq order within a range: type, time, key, headers and the stored data', async () => {
    const dir = tempDir()
    await writeLog(dir, 40)
    const reader = await Wal.openReader({ dir })
    expect(reader.serializerName).toBe('waltz-bytes/1')
    const records = await collect(reader.recordsRaw({ from: 5, to: 30 }))
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 26 }, (_, i) => i + 5))
    expect(records[0]).toMatchObject({ type: 't5', time: 5 })
    expect(Buffer.from(records[0]!.data).equals(Buffer.from(payloadFor(5, 100)))).toBe(true)
    await reader.close()
  })

  it('throws WAL_CORRUPT with file and offset at corruption in a sealed segment', async () => {
    const dir = tempDir()
    await writeLog(dir, 40)
    const first = segmentFiles(dir)[0]!
    const headerSize = readFileSync(first).readUInt16LE(6)
    flipByte(first, headerSize + 30)
    const reader = await Wal.openReader({ dir })
    await expect(collect(reader.recordsRaw())).rejects.toMatchObject({
      code: 'WAL_CORRUPT',
      file: first,
      offset: headerSize,
    })
    await reader.close()
  })
})

describe('repairLog', () => {
  it('plans without changing anything, then cuts at the corruption, keeping copies of the dropped bytes', async () => {
    const dir = tempDir()
    await writeLog(dir, 60)
    const files = segmentFiles(dir)
    const headerSize = readFileSync(files[1]!).readUInt16LE(6)
    // Every frame of the second segment: header, body (2 varints, flags, time, type length, 't16'..), data.
    const frameSize = FRAME_HEADER_SIZE + 1 + 1 + 1 + 6 + 1 + 3 + 100
    flipByte(files[1]!, headerSize + 2 * frameSize + 25) // third frame of the second segment
    const before = files.map((f) => readFileSync(f))
    const plan = await repairLog(dir)
    expect(plan.applied).toBe(false)
    expect(plan.cutFile).toBe(files[1])
    expect(plan.cutOffset).toBe(headerSize + 2 * frameSize)
    expect(plan.droppedSegments).toEqual(files.slice(2))
    expect(segmentFiles(dir).map((f) => readFileSync(f))).toEqual(before)

    const applied = await repairLog(dir, { apply: true })
    expect(applied.applied).toBe(true)
    expect(segmentFiles(dir)).toEqual(files.slice(0, 2))
    for (const f of files.slice(2))
      expect(existsSync(join(applied.backupDir!, f.split('/').pop()!))).toBe(true)
    const tailCopy = readFileSync(
      join(applied.backupDir!, `${files[1]!.split('/').pop()}.from-${plan.cutOffset}`),
    )
    expect(tailCopy.equals(before[1]!.subarray(plan.cutOffset))).toBe(true)

    const wal = await Wal.open({ dir })
    expect(wal.lastSeq).toBe(plan.lastSeqAfter)
    expect((await collect(wal.records())).map((r) => r.seq)).toEqual(
      Array.from({ length: plan.lastSeqAfter }, (_, i) => i + 1),
    )
    await wal.close()
  })

  it('refuses while a writer holds the lock, and reports a clean log as clean', async () => {
    const dir = tempDir()
    await writeLog(dir, 10)
    expect(await repairLog(dir)).toMatchObject({ cutFile: null, lastSeqAfter: 10 })
    const wal = await Wal.open({ dir })
    truncateSync(segmentFiles(dir)[0]!, statSync(segmentFiles(dir)[0]!).size - 3)
    await expect(repairLog(dir, { apply: true })).rejects.toMatchObject({ code: 'WAL_LOCKED' })
    await wal.close().catch(() => {})
  })
})
