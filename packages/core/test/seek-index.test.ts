/**
 * The seek index on its own: its entries are verified batch boundaries about 4 KiB apart, it walks
 * each frame about once however seeks arrive, never reads past the readable end of the newest
 * segment, keeps 16 bytes per entry, and forgets a segment the log state removes.
 */
import { readdirSync, statSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { payloadFor } from '../../../test-support/payload.mjs'
import { seededRandom } from '../../../test-support/random.mjs'
import { tempDir } from '../../../test-support/temp-dir.js'
import { type Files, nodeFiles } from '../src/files.js'
import { FRAME_HEADER_SIZE } from '../src/format.js'
import { Wal } from '../src/index.js'
import { LogState } from '../src/log-state.js'
import { silentLogger } from '../src/logger.js'
import { FrameWalker, listSegments, type SegmentRef } from '../src/scanner.js'
import { SEEK_SPACING, SeekIndex } from '../src/seek-index.js'

const MAX_RECORD = 1024 * 1024

/**
 * A closed log of `count` records of 100 to 300 bytes, a third of them in atomic batches of 5, and a
 * log state over it as a reader would have it.
 */
async function log(count: number, segmentSize: number) {
  const dir = tempDir()
  const wal = await Wal.open({ dir, segmentSize })
  const rnd = seededRandom(count)
  const record = (n: number) => ({ type: 'r', data: payloadFor(n, 100 + Math.floor(rnd() * 200)) })
  for (let n = 1; n <= count; ) {
    if (n % 3 === 0 && n + 4 <= count) {
      await wal.appendBatch([0, 1, 2, 3, 4].map((k) => record(n + k)))
      n += 5
    } else {
      await wal.append(record(n++))
    }
  }
  await wal.close()
  // These tests are about walks: without seek files (seek-file.test.ts has those).
  for (const name of readdirSync(dir)) if (name.endsWith('.seek')) unlinkSync(join(dir, name))
  const { segments } = await listSegments(nodeFiles, dir)
  const newest = segments[segments.length - 1]!
  const end = { segmentFirstSeq: newest.firstSeq, end: statSync(newest.path).size, seq: count }
  return { dir, segments, end }
}

/** The index options of a reader of the log in `dir` (it writes no seek file). */
function walkOnly(dir: string) {
  return { dir, writeSeekFiles: false, fileMode: 0o600, logger: silentLogger }
}

/** Files that count the bytes read. */
function countingFiles(): { files: Files; bytesRead: () => number } {
  let bytes = 0
  const files: Files = {
    ...nodeFiles,
    read: async (fd, buf, offset, length, position) => {
      const n = await nodeFiles.read(fd, buf, offset, length, position)
      bytes += n
      return n
    },
  }
  return { files, bytesRead: () => bytes }
}

async function withFd<T>(ref: SegmentRef, use: (fd: number) => Promise<T>): Promise<T> {
  const fd = await nodeFiles.open(ref.path, 'r')
  try {
    return await use(fd)
  } finally {
    await nodeFiles.close(fd)
  }
}

describe('SeekIndex', () => {
  it('answers with a verified batch boundary at most about 4 KiB before the seq', async () => {
    const { dir, segments, end } = await log(6000, 512 * 1024)
    expect(segments.length).toBeGreaterThan(2)
    const state = new LogState(segments, end)
    const index = new SeekIndex({
      files: nodeFiles,
      maxRecordSize: MAX_RECORD,
      serializerName: undefined,
      state,
      ...walkOnly(dir),
    })
    const rnd = seededRandom(3)
    for (let i = 0; i < 300; i++) {
      const seq = 1 + Math.floor(rnd() * 6000)
      const ref = state.segmentFor(seq)!
      await withFd(ref, async (fd) => {
        const point = await index.seek(ref, fd, seq)
        expect(point.seq).toBeLessThanOrEqual(seq)
        // A walker may start there: every frame up to seq checks, and the first one starts a batch.
        const walker = new FrameWalker(nodeFiles, fd, point.offset, point.seq, MAX_RECORD)
        let frames = 0
        do {
          expect(await walker.next(point.end)).toBe('ok')
          frames++
        } while (walker.seq < seq)
        // Entries are at least SEEK_SPACING apart, and a batch holds 5 frames of at most 330 bytes.
        expect(walker.frameStart - point.offset).toBeLessThan(SEEK_SPACING + 5 * 330)
        expect(frames).toBeGreaterThan(0)
      })
    }
  })

  it('walks each frame about once, reads nothing for what it has, and holds 16 bytes per entry', async () => {
    const { dir, segments, end } = await log(20_000, 8 * 1024 * 1024)
    const ref = segments[0]!
    const size = statSync(ref.path).size
    expect(size).toBeGreaterThan(3 * 1024 * 1024)
    const counting = countingFiles()
    const state = new LogState(segments, end)
    const index = new SeekIndex({
      files: counting.files,
      maxRecordSize: MAX_RECORD,
      serializerName: undefined,
      state,
      ...walkOnly(dir),
    })
    await withFd(ref, async (fd) => {
      // Ascending seqs, each a little further: the walk goes on from where it stopped.
      for (let seq = 10; seq <= 20_000; seq += 97) await index.seek(ref, fd, seq)
      expect(counting.bytesRead()).toBeLessThan(size * 1.1)
      const read = counting.bytesRead()
      for (let seq = 20_000; seq >= 1; seq -= 89) await index.seek(ref, fd, seq)
      expect(counting.bytesRead()).toBe(read)
    })
    const [stats] = index.stats()
    expect(stats).toMatchObject({ firstSeq: 1, walkedTo: size })
    // Boundaries come about every SEEK_SPACING bytes, a little more (a frame or a batch overshoots).
    expect(stats!.entries).toBeLessThanOrEqual(Math.ceil(size / SEEK_SPACING) + 1)
    expect(stats!.entries).toBeGreaterThan(size / (SEEK_SPACING + 5 * (FRAME_HEADER_SIZE + 320)))
    expect(stats!.bytes).toBeLessThanOrEqual(16 * (Math.ceil(size / SEEK_SPACING) + 1))
  })

  it('indexes the newest segment up to its readable end, never past it, and on as it grows', async () => {
    const { dir, segments, end } = await log(3000, 64 * 1024 * 1024)
    expect(segments).toHaveLength(1)
    const ref = segments[0]!
    // A reader that knows only part of the newest segment: the boundary of seq 2000 (found by a walk).
    const full = new SeekIndex({
      files: nodeFiles,
      maxRecordSize: MAX_RECORD,
      serializerName: undefined,
      state: new LogState(segments, end),
      ...walkOnly(dir),
    })
    const known = await withFd(ref, async (fd) => {
      const point = await full.seek(ref, fd, 2000)
      const walker = new FrameWalker(nodeFiles, fd, point.offset, point.seq, MAX_RECORD)
      while (walker.seq < 2000 || walker.batchOpen) expect(await walker.next(point.end)).toBe('ok')
      return { segmentFirstSeq: 1, end: walker.frameEnd, seq: walker.seq }
    })
    const state = new LogState(segments, known)
    const index = new SeekIndex({
      files: nodeFiles,
      maxRecordSize: MAX_RECORD,
      serializerName: undefined,
      state,
      ...walkOnly(dir),
    })
    await withFd(ref, async (fd) => {
      const point = await index.seek(ref, fd, 2900)
      expect(point.end).toBe(known.end)
      expect(index.stats()[0]!.walkedTo).toBe(known.end)
      state.advance(end)
      expect((await index.seek(ref, fd, 2900)).end).toBe(end.end)
      expect(index.stats()[0]!.walkedTo).toBeGreaterThan(known.end)
      expect(index.stats()[0]!.walkedTo).toBeLessThanOrEqual(end.end)
    })
  })

  it('forgets a segment the log state removes, by retention or by a refresh', async () => {
    const { dir, segments, end } = await log(4000, 128 * 1024)
    expect(segments.length).toBeGreaterThan(4)
    const state = new LogState(segments, end)
    const index = new SeekIndex({
      files: nodeFiles,
      maxRecordSize: MAX_RECORD,
      serializerName: undefined,
      state,
      ...walkOnly(dir),
    })
    for (const ref of segments) await withFd(ref, (fd) => index.seek(ref, fd, ref.firstSeq + 50))
    expect(index.stats().map((s) => s.firstSeq)).toEqual(segments.map((s) => s.firstSeq))
    state.removeOldest()
    expect(index.stats().map((s) => s.firstSeq)).toEqual(segments.slice(1).map((s) => s.firstSeq))
    state.replace(segments.slice(3), end)
    expect(index.stats().map((s) => s.firstSeq)).toEqual(segments.slice(3).map((s) => s.firstSeq))
  })
})
