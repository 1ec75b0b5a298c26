import { readdirSync, utimesSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { collect } from '../../../test-support/collect.js'
import { payloadFor } from '../../../test-support/payload.mjs'
import { tempDir } from '../../../test-support/temp-dir.js'
import { Wal } from '../src/index.js'
import { faultyFiles } from './helpers.js'

describe('truncateBefore', () => {
  it('deletes whole segments below seq, oldest first, and the log still reads and continues', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir, segmentSize: 1024 })
    for (let i = 1; i <= 100; i++) await wal.append({ type: 'r', data: payloadFor(i, 60) })
    const segmentsBefore = wal.metrics().segments
    const removed = await wal.truncateBefore(50)
    expect(removed).toBeGreaterThan(0)
    expect(wal.metrics().segments).toBe(segmentsBefore - removed)
    // Only whole segments below 50 go: 50 itself is kept, and the first kept seq is at most 50.
    expect(wal.firstSeq).toBeLessThanOrEqual(50)
    expect(wal.firstSeq).toBeGreaterThan(1)
    const rest = await collect(wal.records())
    expect(rest[0]!.seq).toBe(wal.firstSeq)
    expect(rest[rest.length - 1]!.seq).toBe(100)
    await expect(wal.replayFrom(0, () => {})).rejects.toMatchObject({ code: 'WAL_TRUNCATED' })
    await wal.close()
    const reopened = await Wal.open({ dir })
    expect(reopened.firstSeq).toBe(rest[0]!.seq)
    expect(await reopened.append({ type: 'r', data: payloadFor(101, 60) })).toBe(101)
    await reopened.close()
  })

  it('never deletes the newest segment', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir, segmentSize: 1024 })
    for (let i = 1; i <= 30; i++) await wal.append({ type: 'r', data: payloadFor(i, 60) })
    await wal.truncateBefore(1_000_000)
    expect(wal.metrics().segments).toBe(1)
    expect(wal.lastSeq).toBe(30)
    expect(readdirSync(dir).filter((n) => n.endsWith('.wal'))).toHaveLength(1)
    await wal.close()
  })
})

describe('rotation by age', () => {
  it('starts a new segment when the current one is older than segmentMaxAgeMs, also after reopen', async () => {
    const dir = tempDir()
    let wal = await Wal.open({ dir, segmentMaxAgeMs: 50 })
    await wal.append({ type: 'r', data: payloadFor(1, 10) })
    await wal.append({ type: 'r', data: payloadFor(2, 10) })
    expect(wal.metrics().segments).toBe(1)
    await new Promise((r) => setTimeout(r, 80))
    await wal.append({ type: 'r', data: payloadFor(3, 10) })
    expect(wal.metrics().segments).toBe(2)
    await wal.close()
    // The creation time is in the segment header, so age survives a restart (file mtimes don't matter).
    for (const n of readdirSync(dir)) utimesSync(`${dir}/${n}`, new Date(), new Date())
    await new Promise((r) => setTimeout(r, 80))
    wal = await Wal.open({ dir, segmentMaxAgeMs: 50 })
    await wal.append({ type: 'r', data: payloadFor(4, 10) })
    expect(wal.metrics().segments).toBe(3)
    expect((await collect(wal.records())).map((r) => r.seq)).toEqual([1, 2, 3, 4])
    await wal.close()
  })
})

describe('truncateBefore when the directory fsync fails', () => {
  it('reports WAL_IO, keeps its segment list true, and a later call completes', async () => {
    const dir = tempDir()
    const fault = faultyFiles()
    const wal = await Wal.open({ dir, segmentSize: 1024, files: fault.files })
    for (let i = 1; i <= 60; i++) await wal.append({ type: 'r', data: payloadFor(i, 60) })
    fault.fail('syncDir', 'EIO')
    await expect(wal.truncateBefore(40)).rejects.toMatchObject({ code: 'WAL_IO' })
    fault.heal('syncDir')
    const files = readdirSync(dir).filter((n) => n.endsWith('.wal')).length
    expect(wal.metrics().segments).toBe(files)
    expect((await collect(wal.records()))[0]!.seq).toBe(wal.firstSeq)
    expect(await wal.truncateBefore(40)).toBeGreaterThan(0)
    expect((await collect(wal.records())).at(-1)!.seq).toBe(60)
    await wal.close()
  })
})
