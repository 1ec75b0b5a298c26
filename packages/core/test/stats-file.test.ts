/**
 * The writer's stats file: what it publishes, that it keeps only the last minutes, that it stops with
 * the log, and that a reader never takes a damaged or half-written file for stats (cut at every
 * offset, flipped bytes, a writer SIGKILLed while readers read it).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { describe, expect, test } from 'vitest'
import { exited, onLines, waitForLine } from '../../../test-support/child-process.js'
import { tempDir } from '../../../test-support/temp-dir.js'
import { publishStats, readWriterStats, STATS_FILE, Wal, type WalLogger } from '../src/index.js'
import { decodeStats } from '../src/stats-file.js'
import { startFixture } from './helpers.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const data = new Uint8Array([1, 2, 3])

/** A valid stats file's bytes, from a short publishing run. */
async function published(): Promise<{ dir: string; bytes: Buffer }> {
  const dir = tempDir()
  const wal = await Wal.open({ dir, sync: 'always' })
  await wal.append({ type: 'a', data })
  const p = publishStats(wal, { everyMs: 10 })
  await wal.append({ type: 'a', data })
  await sleep(40)
  p.stop()
  await wal.close()
  return { dir, bytes: readFileSync(join(dir, STATS_FILE)) }
}

describe('publishStats and readWriterStats', () => {
  test("samples the writer's metrics: appends, seqs, fsyncs and their latency", async () => {
    const dir = tempDir()
    expect(await readWriterStats(dir)).toBeUndefined()
    const wal = await Wal.open({ dir, sync: 'always' })
    const p = publishStats(wal, { everyMs: 20 })
    expect(p.file).toBe(join(dir, STATS_FILE))
    // The first sample is written at once.
    expect((await readWriterStats(dir))?.samples).toHaveLength(1)
    for (let i = 0; i < 30; i++) await wal.append({ type: 'a', data })
    await sleep(120)
    p.stop()
    const stats = (await readWriterStats(dir))!
    expect(stats.pid).toBe(process.pid)
    expect(stats.everyMs).toBe(20)
    expect(stats.samples.length).toBeGreaterThanOrEqual(3)
    const times = stats.samples.map((s) => s.time)
    expect(times).toEqual([...times].sort((a, b) => a - b))
    const newest = stats.samples.at(-1)!
    const m = wal.metrics()
    expect(newest).toMatchObject({ lastSeq: 30, durableSeq: 30, appends: 30, fsyncs: m.fsyncs })
    expect(newest.bytes).toBe(m.bytes)
    expect(newest.fsyncs).toBeGreaterThanOrEqual(30)
    expect(newest.fsyncP99Ms).toBeGreaterThanOrEqual(newest.fsyncP50Ms)
    expect(newest.fsyncP50Ms).toBeGreaterThan(0)
    expect(stats.samples[0]!.appends).toBe(0)
    expect(stats.retention).toEqual({ passes: 0, segmentsRemoved: 0, bytesRemoved: 0 })
    expect(stats.archive).toEqual({ archived: 0, uploadedBytes: 0, failures: 0, pending: 0 })
    expect(stats.segments).toBe(1)
    await wal.close()
  })

  test('keeps only keepMs of samples', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir })
    const p = publishStats(wal, { everyMs: 10, keepMs: 50 })
    await sleep(200)
    p.stop()
    const stats = (await readWriterStats(dir))!
    expect(stats.samples).toHaveLength(6)
    await wal.close()
  })

  test('a closed log is never written for: its publisher stops by itself', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir })
    publishStats(wal, { everyMs: 10 })
    expect(wal.isClosed).toBe(false)
    await wal.close()
    expect(wal.isClosed).toBe(true)
    const before = readFileSync(join(dir, STATS_FILE))
    const mtime = statSync(join(dir, STATS_FILE)).mtimeMs
    await sleep(60)
    expect(readFileSync(join(dir, STATS_FILE))).toEqual(before)
    expect(statSync(join(dir, STATS_FILE)).mtimeMs).toBe(mtime)
    // The next writer's publisher replaces it.
    const next = await Wal.open({ dir })
    const p = publishStats(next, { everyMs: 1000 })
    expect((await readWriterStats(dir))!.samples).toHaveLength(1)
    p.stop()
    await next.close()
    expect(() => publishStats(next)).toThrow(expect.objectContaining({ code: 'WAL_CLOSED' }))
  })

  test('refuses bad options', async () => {
    const wal = await Wal.open({ dir: tempDir() })
    for (const options of [
      { everyMs: 0 },
      { everyMs: 1.5 },
      { everyMs: 4_000_000 },
      { everyMs: 100, keepMs: 50 },
    ]) {
      expect(() => publishStats(wal, options)).toThrow(
        expect.objectContaining({ code: 'WAL_INVALID_ARGUMENT' }),
      )
    }
    await wal.close()
  })

  test('a failing write is reported once and retried at the next sample', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir })
    const warnings: string[] = []
    const logger: WalLogger = { debug() {}, info() {}, error() {}, warn: (message) => warnings.push(message) }
    // A directory where the temp file goes: every write fails (EISDIR).
    mkdirSync(join(dir, `${STATS_FILE}.tmp`))
    const p = publishStats(wal, { everyMs: 10, logger })
    await sleep(50)
    expect(warnings).toEqual(['writing the stats file failed (retried at each sample)'])
    expect(existsSync(join(dir, STATS_FILE))).toBe(false)
    rmdirSync(join(dir, `${STATS_FILE}.tmp`))
    await sleep(50)
    expect((await readWriterStats(dir))?.samples.length).toBeGreaterThan(0)
    p.stop()
    await wal.close()
  })
})

describe('a damaged stats file is WAL_CORRUPT, never stats', () => {
  test('cut at every offset', async () => {
    const { dir, bytes } = await published()
    const file = join(dir, STATS_FILE)
    expect(decodeStats(bytes, file).samples.length).toBeGreaterThan(0)
    for (let cut = 0; cut < bytes.length; cut++) {
      writeFileSync(file, bytes.subarray(0, cut))
      const err = await readWriterStats(dir).catch((e: unknown) => e)
      expect(err, `cut at ${cut}`).toMatchObject({ code: 'WAL_CORRUPT', file })
    }
  })

  test('a flipped bit anywhere', async () => {
    const { dir, bytes } = await published()
    const file = join(dir, STATS_FILE)
    for (let at = 0; at < bytes.length; at++) {
      const damaged = Buffer.from(bytes)
      damaged[at]! ^= 0x10
      writeFileSync(file, damaged)
      const err = await readWriterStats(dir).catch((e: unknown) => e)
      // The version field's bits give another version; anything else is damage.
      const code = at === 4 || at === 5 ? 'WAL_FORMAT_UNSUPPORTED' : 'WAL_CORRUPT'
      expect(err, `flipped at ${at}`).toMatchObject({ code })
    }
  })

  test('a checksum-valid body that is not the stats is refused too', async () => {
    const { dir, bytes } = await published()
    const file = join(dir, STATS_FILE)
    const tooMany = JSON.stringify({ columns: { time: Array.from({ length: 1001 }, (_, i) => i) } })
    for (const body of [
      '[]',
      'null',
      '{"columns":{"time":[1]}}',
      '{not json',
      '{"columns":{"time":[-1]}}',
      tooMany,
    ]) {
      const b = Buffer.from(body)
      const header = Buffer.from(bytes.subarray(0, 16))
      header.writeUInt32LE(b.length, 8)
      header.writeUInt32LE(crc32(b), 12)
      writeFileSync(file, Buffer.concat([header, b]))
      await expect(readWriterStats(dir), body.slice(0, 40)).rejects.toMatchObject({ code: 'WAL_CORRUPT' })
    }
  })
})

describe('a writer SIGKILLed while publishing', () => {
  test('readers only ever see whole files, before and after the kill; the next writer takes over', async () => {
    const dir = tempDir()
    for (let round = 0; round < 3; round++) {
      const child = startFixture('stats-writer.mjs', [dir])
      await waitForLine(child, (line) => line.startsWith('ready '))
      let acked = 0
      onLines(child, (line) => {
        if (line.startsWith('ack ')) acked = Number(line.slice(4))
      })
      // Read while the child rewrites the file every 10 ms: never a partial file.
      let reads = 0
      const end = Date.now() + 150 + Math.random() * 200
      while (Date.now() < end) {
        const stats = await readWriterStats(dir)
        if (stats?.pid === child.pid) reads++
        await sleep(1)
      }
      child.kill('SIGKILL')
      await exited(child)
      expect(reads).toBeGreaterThan(10)
      const stats = (await readWriterStats(dir))!
      expect(stats.pid).toBe(child.pid)
      const wal = await Wal.openReader({ dir })
      // What the file says was appended is in the log (sync: 'always': appends are durable first).
      expect(stats.samples.at(-1)!.durableSeq).toBeLessThanOrEqual(wal.lastSeq)
      expect(wal.lastSeq).toBeGreaterThanOrEqual(acked)
      await wal.close()
    }
    // A killed writer's temp file is only ever the stats' next version: the next publisher reuses it.
    expect(readdirSync(dir).filter((n) => n.startsWith(STATS_FILE)).length).toBeLessThanOrEqual(2)
  }, 60_000)
})
