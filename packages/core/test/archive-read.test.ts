/**
 * Reads over an archive: once retention has removed most segments locally, `replayFrom(0)`,
 * `records`, `tail` and `recordsAt` fetch the archived ones (into a bounded cache of copies) and
 * return every record in order, from a writer and from a reader; a segment missing from the archive
 * is `WAL_ARCHIVE` naming it, a damaged one `WAL_CORRUPT` naming it, never wrong records; the cache
 * stays within its bound and is gone after close.
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { exited, onLines } from '../../../test-support/child-process.js'
import { payloadFor } from '../../../test-support/payload.mjs'
import { tempDir } from '../../../test-support/temp-dir.js'
import { segmentHeaderSize } from '../src/format.js'
import {
  BYTES_SERIALIZER_NAME,
  directoryArchive,
  segmentFileName,
  Wal,
  type WalRecord,
} from '../src/index.js'
import { segmentFiles, startFixture } from './helpers.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
async function until(done: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!done() && Date.now() < end) await sleep(5)
}

const RECORDS = 2_000
const SEGMENT_SIZE = 16 * 1024

/**
 * A log of {@link RECORDS} records in ~16 KiB segments, every sealed one archived and all but the
 * newest two removed locally by retention.
 */
async function archivedLog() {
  const dir = tempDir()
  const archiveDir = tempDir()
  const cacheDir = tempDir()
  const archive = directoryArchive(archiveDir)
  const wal = await Wal.open({
    dir,
    segmentSize: SEGMENT_SIZE,
    archive,
    retention: { maxBytes: 2 * SEGMENT_SIZE },
    archiveCache: { dir: cacheDir },
  })
  let last = 0
  for (let i = 1; i <= RECORDS; i += 10) {
    const batch = Array.from({ length: 10 }, (_, j) => ({
      type: 'r',
      key: `k${(i + j) % 7}`,
      data: payloadFor(i + j, 100),
    }))
    last = await wal.appendBatch(batch)
  }
  await until(() => wal.metrics().archive.pending === 0 && wal.metrics().segments <= 3)
  expect(wal.metrics().archive.pending).toBe(0)
  expect(wal.metrics().segments).toBeLessThanOrEqual(3)
  expect(last).toBe(RECORDS)
  return { dir, archiveDir, cacheDir, archive, wal }
}

/** Checks that `records` are exactly seqs `from..to`, with their payloads. */
function expectRecords(records: WalRecord[], from: number, to: number): void {
  expect(records.length).toBe(to - from + 1)
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!
    expect(r.seq).toBe(from + i)
    expect(Buffer.from(r.data as Uint8Array).equals(Buffer.from(payloadFor(r.seq, 100)))).toBe(true)
    expect(r.key).toBe(`k${r.seq % 7}`)
  }
}

describe('reads over an archive', () => {
  it('replayFrom(0) returns every record in order when most segments exist only in the archive', async () => {
    const { wal, archiveDir } = await archivedLog()
    const archived = readdirSync(archiveDir).length
    expect(wal.firstSeq).toBeGreaterThan(RECORDS * 0.8) // at least 80% of the log is archive-only
    const seen: WalRecord[] = []
    expect(await wal.replayFrom(0, (r) => void seen.push(r))).toBe(RECORDS)
    expectRecords(seen, 1, RECORDS)
    const fetched = wal.metrics().archive
    expect(fetched.fetched).toBeGreaterThanOrEqual(archived - 3)
    expect(fetched.fetchedBytes).toBeGreaterThan(0)
    await wal.close()
  })

  it('records({ from }) and tail({ from }) start in the middle of an archived segment', async () => {
    const { wal } = await archivedLog()
    const from = 777
    const ranged: WalRecord[] = []
    for await (const r of wal.records({ from, to: from + 300 })) ranged.push(r)
    expectRecords(ranged, from, from + 300)

    const ac = new AbortController()
    const tailed: WalRecord[] = []
    const done = (async () => {
      for await (const r of wal.tail({ from: 5, signal: ac.signal })) {
        tailed.push(r)
        if (r.seq === RECORDS + 1) ac.abort()
      }
    })()
    await until(() => tailed.length >= RECORDS - 4)
    await wal.append({ type: 'r', key: `k${(RECORDS + 1) % 7}`, data: payloadFor(RECORDS + 1, 100) })
    await done
    expectRecords(tailed, 5, RECORDS + 1)
    await wal.close()
  })

  it('recordsAt reads seqs from the archive and from local segments together', async () => {
    const { wal } = await archivedLog()
    const seqs = [RECORDS, 3, 1500, 3, 250, wal.firstSeq]
    const got = await wal.recordsAt(seqs)
    expect(got.map((r) => r.seq)).toEqual(seqs)
    for (const r of got) expectRecords([r], r.seq, r.seq)
    await wal.close()
  })

  it('a reader (Wal.openReader) reads the archive too, while the writer runs', async () => {
    const { wal, dir, archive, cacheDir } = await archivedLog()
    const reader = await Wal.openReader({ dir, archive, archiveCache: { dir: cacheDir } })
    const seen: WalRecord[] = []
    await reader.replayFrom(0, (r) => void seen.push(r))
    expectRecords(seen, 1, RECORDS)
    await reader.close()
    await wal.close()
  })

  it('without the archive option, a removed seq is WAL_TRUNCATED as before', async () => {
    const { wal, dir } = await archivedLog()
    await wal.close()
    const reader = await Wal.openReader({ dir })
    await expect(reader.replayFrom(0, () => {})).rejects.toMatchObject({ code: 'WAL_TRUNCATED' })
    await reader.close()
  })

  it('keeps the cache within maxBytes and deletes it at close', async () => {
    const { wal, dir, archive } = await archivedLog()
    await wal.close()
    const cacheDir = tempDir()
    const maxBytes = 3 * SEGMENT_SIZE
    const reader = await Wal.openReader({ dir, archive, archiveCache: { dir: cacheDir, maxBytes } })
    let largest = 0
    let count = 0
    await reader.replayFrom(0, () => {
      if (++count % 100 !== 0) return
      const [home] = readdirSync(cacheDir)
      const bytes = readdirSync(join(cacheDir, home!)).reduce(
        (n, f) => n + statSync(join(cacheDir, home!, f)).size,
        0,
      )
      largest = Math.max(largest, bytes)
    })
    expect(count).toBe(RECORDS)
    expect(largest).toBeGreaterThan(0)
    // The bound, plus the copy being read and the one being prefetched.
    expect(largest).toBeLessThanOrEqual(maxBytes + 2 * SEGMENT_SIZE)
    await reader.close()
    expect(readdirSync(cacheDir)).toEqual([])
  })

  it('a segment missing from the archive is WAL_ARCHIVE naming it, after every record before it', async () => {
    const { wal, archiveDir } = await archivedLog()
    const names = readdirSync(archiveDir).sort()
    const missing = names[3]!
    unlinkSync(join(archiveDir, missing))
    const seen: number[] = []
    const err = await wal.replayFrom(0, (r) => void seen.push(r.seq)).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'WAL_ARCHIVE' })
    expect((err as Error).message).toContain(missing)
    const firstMissing = Number(missing.slice(0, 20))
    expect(seen).toEqual(Array.from({ length: firstMissing - 1 }, (_, i) => i + 1))
    await wal.close()
  })

  it('a damaged archived copy is WAL_CORRUPT naming it, never a wrong record', async () => {
    const { wal, archiveDir } = await archivedLog()
    const names = readdirSync(archiveDir).sort()
    const damaged = join(archiveDir, names[2]!)
    const bytes = readFileSync(damaged)
    bytes[bytes.length - 50]! ^= 0xff
    writeFileSync(damaged, bytes)
    const seen: WalRecord[] = []
    const err = await wal.replayFrom(0, (r) => void seen.push(r)).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'WAL_CORRUPT' })
    expect((err as Error).message).toContain(names[2])
    // Every record delivered is intact and in order; the damage is in the last one or two frames.
    expectRecords(seen, 1, seen.length)
    expect(seen.length).toBeGreaterThan(Number(names[2]!.slice(0, 20)) - 1)
    await wal.close()
  })

  it('seqs before the archive begins are WAL_TRUNCATED', async () => {
    const { wal, archiveDir } = await archivedLog()
    unlinkSync(join(archiveDir, segmentFileName(1)))
    await expect(wal.replayFrom(0, () => {})).rejects.toMatchObject({ code: 'WAL_TRUNCATED' })
    await wal.close()
  })

  it('leaves no cache directory behind a closed instance', async () => {
    const { wal, cacheDir } = await archivedLog()
    await wal.replayFrom(0, () => {})
    expect(readdirSync(cacheDir).length).toBe(1)
    await wal.close()
    expect(readdirSync(cacheDir)).toEqual([])
    expect(existsSync(cacheDir)).toBe(true)
    expect(segmentFiles(cacheDir)).toEqual([])
  })

  it('a reader SIGKILLed while fetching leaves a cache the next instance removes; nothing is trusted from it', async () => {
    const { wal, dir, archiveDir } = await archivedLog()
    await wal.close()
    const cacheDir = tempDir()
    for (const killAt of [1, 400, 900, 1300]) {
      const child = startFixture('archive-reader.mjs', [dir, archiveDir, cacheDir])
      let last = 0
      onLines(child, (line) => {
        if (line.startsWith('rec ')) last = Number(line.slice(4))
        if (last >= killAt) child.kill('SIGKILL')
      })
      await exited(child)
      expect(child.signalCode, `killed at ${killAt}`).toBe('SIGKILL')
      expect(last).toBeLessThan(RECORDS)
      // The dead process's cache directory is left behind, with what it had fetched.
      expect(readdirSync(cacheDir).length).toBeGreaterThan(0)
    }
    // Damage whatever the dead processes left: a later instance must not read any of it.
    for (const home of readdirSync(cacheDir)) {
      for (const name of readdirSync(join(cacheDir, home)))
        writeFileSync(join(cacheDir, home, name), 'garbage')
    }
    const reader = await Wal.openReader({
      dir,
      archive: directoryArchive(archiveDir),
      archiveCache: { dir: cacheDir },
    })
    const seen: WalRecord[] = []
    await reader.replayFrom(0, (r) => void seen.push(r))
    expectRecords(seen, 1, RECORDS)
    // Only this instance's directory is left, and it goes at close.
    expect(readdirSync(cacheDir)).toHaveLength(1)
    expect(readdirSync(cacheDir)[0]).toMatch(new RegExp(`^waltz-cache-${process.pid}-`))
    await reader.close()
    expect(readdirSync(cacheDir)).toEqual([])
  }, 60_000)

  it('closing the log while a tail fetches from the archive ends the tail without error', async () => {
    for (let ticks = 0; ticks < 6; ticks++) {
      const { wal } = await archivedLog()
      const seen: number[] = []
      const tail = (async () => {
        for await (const r of wal.tail({ from: 1 })) seen.push(r.seq)
      })()
      for (let i = 0; i < ticks; i++) await new Promise((r) => setImmediate(r))
      await wal.close()
      await tail // resolves: no error, no crash
      expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => i + 1))
    }
  })

  it("a reader whose view predates the writer's retention reads on through the archive", async () => {
    const dir = tempDir()
    const archive = directoryArchive(tempDir())
    const wal = await Wal.open({
      dir,
      segmentSize: SEGMENT_SIZE,
      archive,
      retention: { maxBytes: 2 * SEGMENT_SIZE },
      archiveCache: { dir: tempDir() },
    })
    const put = async (from: number, n: number) => {
      for (let i = from; i < from + n; i += 10) {
        await wal.appendBatch(
          Array.from({ length: 10 }, (_, j) => ({
            type: 'r',
            key: `k${(i + j) % 7}`,
            data: payloadFor(i + j, 100),
          })),
        )
      }
    }
    await put(1, 200)
    await until(() => wal.metrics().archive.pending === 0)
    const reader = await Wal.openReader({ dir, archive, archiveCache: { dir: tempDir() } })
    await put(201, 1000)
    await until(() => wal.metrics().archive.pending === 0 && wal.metrics().segments <= 3)
    expect(wal.firstSeq).toBeGreaterThan(reader.lastSeq) // everything the reader knew is gone locally
    const seen: WalRecord[] = []
    for await (const r of reader.tail({ from: 1, signal: AbortSignal.timeout(3000) })) {
      seen.push(r)
      if (r.seq === 1200) break
    }
    expectRecords(seen, 1, 1200)
    const some = await reader.recordsAt([150, 3, 1100])
    expect(some.map((r) => r.seq)).toEqual([150, 3, 1100])
    await reader.close()
    await wal.close()
  })

  it('an archived segment with no record is WAL_CORRUPT, not an endless read', async () => {
    const { wal, archiveDir } = await archivedLog()
    const names = readdirSync(archiveDir).sort()
    const victim = join(archiveDir, names[1]!)
    // Cut to its header: a sealed segment that holds no frame.
    writeFileSync(victim, readFileSync(victim).subarray(0, segmentHeaderSize(BYTES_SERIALIZER_NAME)))
    const err = await wal.replayFrom(0, () => {}).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'WAL_CORRUPT' })
    expect((err as Error).message).toContain(`${names[1]} holds no record`)
    await wal.close()
  })

  it('a copy deleted from under the cache is fetched again', async () => {
    const { wal, cacheDir } = await archivedLog()
    expect((await wal.recordsAt([5]))[0]!.seq).toBe(5)
    const home = join(cacheDir, readdirSync(cacheDir)[0]!)
    for (const f of readdirSync(home)) unlinkSync(join(home, f))
    expect((await wal.recordsAt([6]))[0]!.seq).toBe(6)
    expect((await wal.recordsAt([7, 6]))!.map((r) => r.seq)).toEqual([7, 6])
    await wal.close()
  })

  it("leaves alone what it did not create in the cache's directory", async () => {
    const { wal, cacheDir } = await archivedLog()
    mkdirSync(join(cacheDir, '2024-backup'))
    writeFileSync(join(cacheDir, '2024-backup', 'important.db'), 'x')
    writeFileSync(join(cacheDir, '20240101-report.csv'), 'y')
    mkdirSync(join(cacheDir, 'waltz-cache-999999999-dead')) // a dead process's copies
    await wal.replayFrom(0, () => {})
    await wal.close()
    expect(readdirSync(cacheDir).sort()).toEqual(['2024-backup', '20240101-report.csv'])
  })
})
