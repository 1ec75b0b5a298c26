/**
 * The `retention` option: sealed segments go by total size and by age, oldest first and whole, never
 * the newest, never one holding a record at or above `keepFrom()`; passes run after rotations, on a
 * timer and at open, never on the append path; metrics count what went. And a writer SIGKILLed while
 * its retention removes segments leaves a log that is a gap-free suffix holding every acknowledged
 * record from its first seq on.
 */
import { readdirSync, statSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { exited, onLines } from '../../../test-support/child-process.js'
import { collect } from '../../../test-support/collect.js'
import { payloadFor } from '../../../test-support/payload.mjs'
import { tempDir } from '../../../test-support/temp-dir.js'
import { nodeFiles } from '../src/files.js'
import { type RetentionOptions, Wal, type WalLogger } from '../src/index.js'
import { segmentFiles, startFixture } from './helpers.js'

/** Bytes of the log's segment files. */
const segmentBytes = (dir: string) => segmentFiles(dir).reduce((sum, f) => sum + statSync(f).size, 0)
const firstSeqOf = (path: string) => Number(path.slice(-24, -4))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Polls until `done()` or `ms` pass. */
async function until(done: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!done() && Date.now() < end) await sleep(5)
}

/** A logger that keeps its warnings. */
function warnings(): { logger: WalLogger; seen: string[] } {
  const seen: string[] = []
  const noop = () => {}
  return { logger: { debug: noop, info: noop, error: noop, warn: (m) => seen.push(m) }, seen }
}

async function fill(wal: Wal, from: number, to: number): Promise<void> {
  for (let i = from; i <= to; i++) await wal.append({ type: 'r', data: payloadFor(i, 200) })
}

describe('retention', () => {
  it('maxBytes: the oldest sealed segments go after rotations, whole; what stays reads and continues', async () => {
    const dir = tempDir()
    const wal = await Wal.open({
      dir,
      segmentSize: 4096,
      retention: { maxBytes: 24 * 1024, intervalMs: 60_000 },
    })
    await fill(wal, 1, 600)
    // Passes queued by the last rotations finish: then the log is at most maxBytes, and less than a
    // segment under it (whole segments go).
    await until(() => segmentBytes(dir) <= 24 * 1024)
    expect(segmentBytes(dir)).toBeLessThanOrEqual(24 * 1024)
    expect(segmentBytes(dir)).toBeGreaterThan(24 * 1024 - 4096)
    const m = wal.metrics().retention
    expect(m.segmentsRemoved).toBeGreaterThan(10)
    expect(m.bytesRemoved).toBeGreaterThan(m.segmentsRemoved * 3000)
    // Whole segments, oldest first: the log is the suffix from the oldest file's first seq.
    expect(wal.firstSeq).toBe(firstSeqOf(segmentFiles(dir)[0]!))
    const rest = await collect(wal.records())
    expect(rest.map((r) => r.seq)).toEqual(
      Array.from({ length: 600 - wal.firstSeq + 1 }, (_, i) => wal.firstSeq + i),
    )
    for (const r of rest) expect(Buffer.from(r.data).equals(Buffer.from(payloadFor(r.seq, 200)))).toBe(true)
    // Seek files went with their segments.
    const seekFiles = readdirSync(dir).filter((n) => n.endsWith('.seek'))
    for (const name of seekFiles) expect(Number(name.slice(0, 20))).toBeGreaterThanOrEqual(wal.firstSeq)
    expect(await wal.append({ type: 'r', data: payloadFor(601, 200) })).toBe(601)
    await wal.close()
  })

  it('never removes the newest segment, even when it alone is over maxBytes', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir, segmentSize: 64 * 1024, retention: { maxBytes: 1024, intervalMs: 10 } })
    await fill(wal, 1, 100)
    await sleep(60)
    expect(wal.metrics().segments).toBe(1)
    expect(wal.firstSeq).toBe(1)
    await wal.close()
  })

  it('maxAgeMs: on the timer, segments sealed longer ago go; the newest and the recently sealed stay', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir, segmentSize: 4096, retention: { maxAgeMs: 300, intervalMs: 20 } })
    await fill(wal, 1, 200)
    const oldSegments = wal.metrics().segments
    expect(oldSegments).toBeGreaterThan(5)
    await sleep(400)
    // Sealed now: young, they stay while the old ones go.
    await fill(wal, 201, 300)
    const young = segmentFiles(dir).filter((f) => firstSeqOf(f) > 200).length
    await until(() => wal.firstSeq > 150)
    expect(wal.firstSeq).toBeGreaterThan(150)
    expect(wal.firstSeq).toBeLessThanOrEqual(201)
    expect(segmentFiles(dir).filter((f) => firstSeqOf(f) > 200)).toHaveLength(young)
    expect((await collect(wal.records())).at(-1)!.seq).toBe(300)
    await wal.close()
  })

  it('applies the policy at open to a log written earlier (sizes and sealing times read from the files)', async () => {
    const dir = tempDir()
    const first = await Wal.open({ dir, segmentSize: 4096 })
    await fill(first, 1, 400)
    await first.close()
    const before = segmentFiles(dir).length
    await sleep(120)
    const wal = await Wal.open({ dir, segmentSize: 4096, retention: { maxAgeMs: 100, intervalMs: 60_000 } })
    await until(() => wal.metrics().segments === 1)
    expect(before).toBeGreaterThan(10)
    expect(wal.metrics().retention.segmentsRemoved).toBe(before - 1)
    expect(wal.firstSeq).toBe(firstSeqOf(segmentFiles(dir)[0]!))
    await wal.close()
  })

  it('keepFrom: no segment holding a record at or above it goes, whatever maxBytes says', async () => {
    const dir = tempDir()
    let floor = 120
    const wal = await Wal.open({
      dir,
      segmentSize: 4096,
      retention: { maxBytes: 4096, keepFrom: () => floor, intervalMs: 10 },
    })
    await fill(wal, 1, 600)
    await until(() => wal.firstSeq > 60)
    await sleep(50)
    // Every segment left but those wholly below 120: record 120 and everything after it are there.
    expect(wal.firstSeq).toBeLessThanOrEqual(120)
    expect(wal.firstSeq).toBeGreaterThan(60)
    expect((await wal.recordsAt([120]))[0]!.seq).toBe(120)
    floor = 500
    await until(() => wal.firstSeq > 400)
    expect(wal.firstSeq).toBeGreaterThan(400)
    expect(wal.firstSeq).toBeLessThanOrEqual(500)
    await wal.close()
  })

  it('a keepFrom that throws or returns no seq removes nothing, says why, and the WAL goes on', async () => {
    for (const keepFrom of [
      () => {
        throw new Error('consumer store unreachable')
      },
      () => Number.NaN,
      () => -1,
      () => '12' as unknown as number,
    ]) {
      const dir = tempDir()
      const { logger, seen } = warnings()
      const wal = await Wal.open({
        dir,
        segmentSize: 4096,
        logger,
        retention: { maxBytes: 4096, keepFrom, intervalMs: 10 },
      })
      await fill(wal, 1, 300)
      await sleep(50)
      expect(wal.firstSeq).toBe(1)
      expect(wal.metrics().retention.segmentsRemoved).toBe(0)
      expect(seen.some((m) => m.startsWith('retention: keepFrom()'))).toBe(true)
      expect(await wal.append({ type: 'r', data: payloadFor(301, 10) })).toBe(301)
      await wal.close()
    }
  })

  it('runs off the append path: appends are acknowledged while a pass is stuck deleting a file', async () => {
    const dir = tempDir()
    let release: () => void = () => {}
    const stuck = new Promise<void>((r) => {
      release = r
    })
    let unlinks = 0
    const files = {
      ...nodeFiles,
      unlink: async (path: string) => {
        if (path.endsWith('.wal')) {
          unlinks++
          await stuck
        }
        return nodeFiles.unlink(path)
      },
    }
    const wal = await Wal.open({
      dir,
      files,
      segmentSize: 4096,
      retention: { maxBytes: 8192, intervalMs: 10 },
    })
    await fill(wal, 1, 100)
    await until(() => unlinks > 0)
    expect(unlinks).toBe(1)
    // The pass waits in unlink; appends and rotations go on.
    const rotations = wal.metrics().rotations
    await fill(wal, 101, 300)
    expect(wal.metrics().rotations).toBeGreaterThan(rotations)
    expect(unlinks).toBe(1)
    release()
    await until(() => segmentBytes(dir) <= 8192 + 4096)
    expect(segmentBytes(dir)).toBeLessThanOrEqual(8192 + 4096)
    await wal.close()
  })

  it('refuses options that are not a policy', async () => {
    const bad: unknown[] = [
      'big',
      { maxBytes: 0 },
      { maxAgeMs: -5 },
      { keepFrom: 12 },
      { maxbytes: 10 },
      { intervalMs: Number.POSITIVE_INFINITY },
    ]
    for (const retention of bad) {
      await expect(
        Wal.open({ dir: tempDir(), retention: retention as RetentionOptions }),
        JSON.stringify(retention),
      ).rejects.toMatchObject({ code: 'WAL_INVALID_ARGUMENT' })
    }
  })

  it('SIGKILLed while retention removes segments: a gap-free suffix with every acknowledged record from its first seq', async () => {
    const dir = tempDir()
    const acked = new Map<number, { id: number; size: number }>()
    let checked = 0
    for (let round = 0; round < 6; round++) {
      const child = startFixture('appender.mjs', [
        dir,
        'always',
        '8',
        String(16 * 1024),
        'false',
        String(96 * 1024),
      ])
      await new Promise<void>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`appender exited early with ${code}`)))
        onLines(child, (line) => {
          const [kind, seq, id, size] = line.split(' ')
          if (kind === 'ready') setTimeout(resolve, 150 + round * 40)
          else if (kind === 'ack') acked.set(Number(seq), { id: Number(id), size: Number(size) })
        })
      })
      child.removeAllListeners('exit')
      child.kill('SIGKILL')
      await exited(child)
      const wal = await Wal.open({ dir })
      const records = await collect(wal.records())
      expect(records.map((r) => r.seq)).toEqual(records.map((_, i) => wal.firstSeq + i))
      for (const [seq, ack] of acked) {
        if (seq < wal.firstSeq) continue
        checked++
        const r = records[seq - wal.firstSeq]
        expect(r && Buffer.from(r.data).equals(Buffer.from(payloadFor(ack.id, ack.size))), `seq ${seq}`).toBe(
          true,
        )
      }
      // Retention ran in the child: the oldest segments are gone.
      if (round > 1) expect(wal.firstSeq).toBeGreaterThan(1)
      await wal.close()
    }
    expect(checked).toBeGreaterThan(300)
  }, 120_000)
})
