/**
 * Seek files: the writer writes one per sealed segment; a reader opened afresh starts a read in the
 * middle of a large segment from it instead of walking the segment; and a seek file is never trusted
 * over the frames: damaged, truncated, crafted (checksum valid, entries wrong), of another segment or
 * oversized, it is ignored and every read still returns exactly what a full scan returns. Stale ones
 * go at the next open, with their segments at `truncateBefore`.
 */
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { collect } from '../../../test-support/collect.js'
import { flipByte } from '../../../test-support/damage.js'
import { payloadFor } from '../../../test-support/payload.mjs'
import { seededRandom } from '../../../test-support/random.mjs'
import { tempDir } from '../../../test-support/temp-dir.js'
import { type Files, nodeFiles } from '../src/files.js'
import { parseSegmentHeader } from '../src/format.js'
import { Wal, type WalReader } from '../src/index.js'
import { repairLog } from '../src/inspect.js'
import { FrameWalker } from '../src/scanner.js'
import {
  decodeSeekFile,
  encodeSeekFile,
  SEEK_FILE_SPACING,
  type SeekEntries,
  seekFileName,
} from '../src/seek-file.js'
import { segmentFiles } from './helpers.js'

const MAX_RECORD = 1024 * 1024

/** The first seq of a segment file, from its name. */
const firstSeqOf = (path: string): number => Number(basename(path).slice(0, 20))

/** A closed log of `count` records (single appends and atomic batches of 7), of 60 to 360 bytes. */
async function writeLog(count: number, segmentSize: number, dir = tempDir()): Promise<string> {
  const wal = await Wal.open({ dir, segmentSize })
  const rnd = seededRandom(count)
  const record = (n: number) => ({
    type: 'r',
    key: `k${n % 13}`,
    data: payloadFor(n, 60 + Math.floor(rnd() * 300)),
  })
  const pending: Promise<number>[] = []
  for (let n = 1; n <= count; ) {
    if (n % 4 === 0 && n + 6 <= count) {
      pending.push(wal.appendBatch([0, 1, 2, 3, 4, 5, 6].map((k) => record(n + k))))
      n += 7
    } else {
      pending.push(wal.append(record(n++)))
    }
    if (pending.length >= 256) await Promise.all(pending.splice(0))
  }
  await Promise.all(pending)
  await wal.close()
  return dir
}

/** The seek files in `dir`, by segment first seq. */
function seekFiles(dir: string): number[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.seek'))
    .map((n) => Number(n.slice(0, 20)))
    .sort((a, b) => a - b)
}

/** What binds segment `path`'s seek file to it. */
function bindingOf(path: string) {
  const header = parseSegmentHeader(readFileSync(path))
  if (typeof header === 'string') throw new Error(`bad header in ${path}`)
  return { firstSeq: header.firstSeq, createdAt: header.createdAt, size: statSync(path).size, header }
}

/** Reads from `rounds` random seqs (each a fresh read) and compares with a full scan. */
async function expectReadsRight(reader: WalReader, seed: number, rounds = 40): Promise<void> {
  const all = await collect(reader.records())
  expect(all.map((r) => r.seq)).toEqual(Array.from({ length: reader.lastSeq }, (_, i) => i + 1))
  const rnd = seededRandom(seed)
  for (let round = 0; round < rounds; round++) {
    const from = 1 + Math.floor(rnd() * reader.lastSeq)
    const to = Math.min(reader.lastSeq, from + Math.floor(rnd() * 50))
    expect(await collect(reader.records({ from, to })), `${from}..${to}`).toEqual(all.slice(from - 1, to))
    const seqs = [from, Math.max(1, to - 3), 1 + Math.floor(rnd() * reader.lastSeq)]
    expect((await reader.recordsAt(seqs)).map((r) => r.seq)).toEqual(seqs)
  }
}

/** Files that count the bytes read. */
function counting(): { files: Files; bytesRead: () => number } {
  let bytes = 0
  return {
    files: {
      ...nodeFiles,
      read: async (fd, buf, offset, length, position) => {
        const n = await nodeFiles.read(fd, buf, offset, length, position)
        bytes += n
        return n
      },
    },
    bytesRead: () => bytes,
  }
}

describe('seek files', () => {
  it('the writer writes one per sealed segment: bound to it, its entries verified batch boundaries about 32 KiB apart', async () => {
    const dir = await writeLog(6000, 256 * 1024)
    const segments = segmentFiles(dir)
    expect(segments.length).toBeGreaterThan(3)
    // Every sealed segment has one; the newest (still growing) has none.
    expect(seekFiles(dir)).toEqual(segments.slice(0, -1).map(firstSeqOf))
    for (let s = 0; s < segments.length - 1; s++) {
      const path = segments[s]!
      const { header, ...binding } = bindingOf(path)
      const entries = decodeSeekFile(
        readFileSync(join(dir, seekFileName(binding.firstSeq))),
        binding,
        header.headerSize,
      ) as SeekEntries
      expect(typeof entries).toBe('object')
      expect(entries.lastSeq).toBe(firstSeqOf(segments[s + 1]!) - 1)
      expect(entries.count).toBeGreaterThan(binding.size / (SEEK_FILE_SPACING + 8 * 1024))
      const fd = await nodeFiles.open(path, 'r')
      try {
        for (let i = 0; i < entries.count; i++) {
          if (i > 0)
            expect(entries.offsets[i]! - entries.offsets[i - 1]!).toBeGreaterThanOrEqual(SEEK_FILE_SPACING)
          // A walk may start there: the frame carries the entry's seq and begins a batch.
          const walker = new FrameWalker(nodeFiles, fd, entries.offsets[i]!, entries.seqs[i]!, MAX_RECORD)
          expect(await walker.next(binding.size)).toBe('ok')
          if (i > 0) {
            const before = new FrameWalker(
              nodeFiles,
              fd,
              entries.offsets[i - 1]!,
              entries.seqs[i - 1]!,
              MAX_RECORD,
            )
            while (before.frameEnd < entries.offsets[i]!) expect(await before.next(binding.size)).toBe('ok')
            expect(before.batchOpen).toBe(false)
          }
        }
      } finally {
        await nodeFiles.close(fd)
      }
    }
  })

  it('a reader opened afresh starts mid-segment from the seek file: a few KiB read, not the segment', async () => {
    const dir = await writeLog(40_000, 64 * 1024 * 1024)
    const [segment] = segmentFiles(dir)
    // Seal the one segment: the next append starts a new one (a small segmentSize forces rotation).
    const wal = await Wal.open({ dir, segmentSize: 1024 })
    await wal.append({ type: 'r', data: payloadFor(40_001, 100) })
    await wal.close()
    expect(seekFiles(dir)).toEqual([1])
    const size = statSync(segment!).size
    expect(size).toBeGreaterThan(6 * 1024 * 1024)
    const all = await (async () => {
      const r = await Wal.openReader({ dir })
      try {
        return await collect(r.records())
      } finally {
        await r.close()
      }
    })()
    for (const from of [20_000, 39_990, 2, 31_337]) {
      const c = counting()
      const reader = await Wal.openReader({ dir, files: c.files })
      const got = await collect(reader.records({ from, to: from + 5 }))
      expect(got).toEqual(all.slice(from - 1, from + 5))
      // The header, the seek file (16 bytes per entry), the entry's frame and a chunk from there.
      const seekBytes = statSync(join(dir, seekFileName(1))).size
      expect(c.bytesRead()).toBeLessThan(seekBytes + 512 * 1024)
      expect(c.bytesRead()).toBeLessThan(size / 8)
      await reader.close()
    }
    // Without the seek file, the same read walks the segment up to the seq.
    copyFileSync(join(dir, seekFileName(1)), join(dir, 'saved'))
    writeFileSync(join(dir, seekFileName(1)), '')
    const c = counting()
    const reader = await Wal.openReader({ dir, files: c.files })
    expect(await collect(reader.records({ from: 39_990, to: 39_995 }))).toEqual(all.slice(39_989, 39_995))
    expect(c.bytesRead()).toBeGreaterThan(size / 2)
    await reader.close()
  })

  /** Writes a crafted seek file that decodes (so only the check of the frames can refuse it). */
  function writeCrafted(
    path: string,
    binding: { firstSeq: number; createdAt: number; size: number },
    headerSize: number,
    entries: SeekEntries,
  ): void {
    const buf = encodeSeekFile(binding, entries)
    expect(typeof decodeSeekFile(buf, binding, headerSize)).toBe('object')
    writeFileSync(path, buf)
  }

  /** Each way a seek file can be wrong, applied to the seek file of `seg` (a segment path). */
  const damages: [string, (dir: string, seg: string) => void | Promise<void>][] = [
    ['a flipped byte (checksum fails)', (dir, seg) => flipByte(join(dir, seekFileName(firstSeqOf(seg))), 60)],
    [
      'cut short',
      (dir, seg) => {
        const path = join(dir, seekFileName(firstSeqOf(seg)))
        writeFileSync(path, readFileSync(path).subarray(0, 50))
      },
    ],
    [
      'empty (power loss after the rename)',
      (dir, seg) => writeFileSync(join(dir, seekFileName(firstSeqOf(seg))), ''),
    ],
    [
      'larger than its segment allows',
      (dir, seg) => {
        writeFileSync(join(dir, seekFileName(firstSeqOf(seg))), Buffer.alloc(statSync(seg).size))
      },
    ],
    [
      'checksum valid, every entry 8 bytes off',
      (dir, seg) => {
        const { header, ...binding } = bindingOf(seg)
        const path = join(dir, seekFileName(binding.firstSeq))
        const e = decodeSeekFile(readFileSync(path), binding, header.headerSize) as SeekEntries
        const offsets = e.offsets.map((o, i) => (i === 0 ? o : o + 8))
        writeCrafted(path, binding, header.headerSize, { ...e, offsets })
      },
    ],
    [
      'checksum valid, entries naming the wrong seqs',
      (dir, seg) => {
        const { header, ...binding } = bindingOf(seg)
        const path = join(dir, seekFileName(binding.firstSeq))
        const e = decodeSeekFile(readFileSync(path), binding, header.headerSize) as SeekEntries
        const seqs = e.seqs.map((q, i) => (i === 0 || q >= e.lastSeq ? q : q + 1))
        writeCrafted(path, binding, header.headerSize, { ...e, seqs })
      },
    ],
    [
      'checksum valid, a wrong last seq',
      (dir, seg) => {
        const { header, ...binding } = bindingOf(seg)
        const path = join(dir, seekFileName(binding.firstSeq))
        const e = decodeSeekFile(readFileSync(path), binding, header.headerSize) as SeekEntries
        writeFileSync(path, encodeSeekFile(binding, { ...e, lastSeq: e.lastSeq - 3 }))
      },
    ],
    [
      "another log's segment of the same name",
      async (dir, seg) => {
        const other = await writeLog(3000, 64 * 1024)
        copyFileSync(join(other, seekFileName(firstSeqOf(seg))), join(dir, seekFileName(firstSeqOf(seg))))
      },
    ],
  ]

  for (const [what, damage] of damages) {
    it(`a seek file ${what} is not trusted: reads are right, and a writer's walk writes a good one`, async () => {
      const dir = await writeLog(3000, 64 * 1024)
      const segments = segmentFiles(dir)
      expect(segments.length).toBeGreaterThan(4)
      for (const seg of segments.slice(1, 3)) await damage(dir, seg)
      const reader = await Wal.openReader({ dir })
      await expectReadsRight(reader, 7)
      await reader.close()
      // A reader changes nothing on disk; a writer whose read walks a whole segment rewrites its file.
      const damaged = segments.slice(1, 3).map((s) => readFileSync(join(dir, seekFileName(firstSeqOf(s)))))
      const wal = await Wal.open({ dir, segmentSize: 64 * 1024 })
      for (const seg of segments.slice(1, 3)) {
        // From the middle (a crafted entry there fails its check), then to the end of the segment.
        const last = firstSeqOf(segments[segments.indexOf(seg) + 1]!) - 1
        const mid = Math.floor((firstSeqOf(seg) + last) / 2)
        expect(await collect(wal.records({ from: mid, to: mid }))).toHaveLength(1)
        expect(await collect(wal.records({ from: last, to: last }))).toHaveLength(1)
      }
      await wal.close()
      for (const [k, seg] of segments.slice(1, 3).entries()) {
        const path = join(dir, seekFileName(firstSeqOf(seg)))
        const { header, ...binding } = bindingOf(seg)
        const now = readFileSync(path)
        expect(now.equals(damaged[k]!)).toBe(false)
        expect(typeof decodeSeekFile(now, binding, header.headerSize)).toBe('object')
      }
      const again = await Wal.openReader({ dir })
      await expectReadsRight(again, 8)
      await again.close()
    })
  }

  it('stale seek files go at the next open; truncateBefore removes them with their segments', async () => {
    const dir = await writeLog(3000, 64 * 1024)
    const segments = segmentFiles(dir)
    writeFileSync(join(dir, `${seekFileName(firstSeqOf(segments[1]!))}.tmp-123-4`), 'unfinished')
    writeFileSync(join(dir, seekFileName(999_999)), 'orphan')
    // A reader removes nothing.
    await (await Wal.openReader({ dir })).close()
    expect(existsSync(join(dir, seekFileName(999_999)))).toBe(true)
    const wal = await Wal.open({ dir, segmentSize: 64 * 1024 })
    expect(readdirSync(dir).filter((n) => n.includes('.seek.tmp'))).toEqual([])
    expect(existsSync(join(dir, seekFileName(999_999)))).toBe(false)
    const cut = firstSeqOf(segments[3]!)
    await wal.truncateBefore(cut)
    expect(seekFiles(dir)[0]).toBe(cut)
    await wal.close()
  })

  /** Entry changes a checksum-valid file could hold: each must end in a walk, never a throw. */
  const odd: [string, (e: SeekEntries) => SeekEntries][] = [
    ['offset NaN', (e) => ({ ...e, offsets: e.offsets.map((o, i) => (i === 2 ? Number.NaN : o)) })],
    [
      'offset Infinity',
      (e) => ({ ...e, offsets: e.offsets.map((o, i) => (i === 2 ? Number.POSITIVE_INFINITY : o)) }),
    ],
    ['offset -5', (e) => ({ ...e, offsets: e.offsets.map((o, i) => (i === 2 ? -5 : o)) })],
    ['offset + 0.5', (e) => ({ ...e, offsets: e.offsets.map((o, i) => (i === 2 ? o + 0.5 : o)) })],
    ['offset 2^60', (e) => ({ ...e, offsets: e.offsets.map((o, i) => (i === 2 ? 2 ** 60 : o)) })],
    ['seq NaN', (e) => ({ ...e, seqs: e.seqs.map((q, i) => (i === 2 ? Number.NaN : q)) })],
    ['seq + 0.5', (e) => ({ ...e, seqs: e.seqs.map((q, i) => (i === 2 ? q + 0.5 : q)) })],
  ]
  it('entries no frame can have (NaN, infinite, negative, fractional, huge) end in a walk, not a throw', async () => {
    const dir = await writeLog(3000, 256 * 1024)
    const seg = segmentFiles(dir)[0]!
    const { header, ...binding } = bindingOf(seg)
    const path = join(dir, seekFileName(binding.firstSeq))
    const good = readFileSync(path)
    const e = decodeSeekFile(Buffer.from(good), binding, header.headerSize) as SeekEntries
    expect(e.count).toBeGreaterThan(4)
    const from = e.seqs[2]! + 1
    for (const [what, change] of odd) {
      const copy = { ...e, seqs: Float64Array.from(e.seqs), offsets: Float64Array.from(e.offsets) }
      writeCrafted(path, binding, header.headerSize, change(copy))
      const reader = await Wal.openReader({ dir })
      const got = await collect(reader.records({ from, to: from + 2 }))
      expect(
        got.map((r) => r.seq),
        what,
      ).toEqual([from, from + 1, from + 2])
      await reader.close()
      const points = await Wal.openReader({ dir })
      expect(
        (await points.recordsAt([from])).map((r) => r.seq),
        what,
      ).toEqual([from])
      await points.close()
    }
  })

  it("a file whose entry 0 is not the segment's first frame is refused (a read could start late)", async () => {
    const dir = await writeLog(3000, 256 * 1024)
    const seg = segmentFiles(dir)[0]!
    const { header, ...binding } = bindingOf(seg)
    const path = join(dir, seekFileName(binding.firstSeq))
    const e = decodeSeekFile(readFileSync(path), binding, header.headerSize) as SeekEntries
    // Entry 1 made entry 0: binary search would start every read before entry 1's seq there.
    const shifted = { ...e, seqs: e.seqs.slice(1), offsets: e.offsets.slice(1), count: e.count - 1 }
    const buf = encodeSeekFile(binding, shifted)
    expect(decodeSeekFile(buf, binding, header.headerSize)).toBe(
      "its first entry is not the segment's first frame",
    )
    writeFileSync(path, buf)
    const reader = await Wal.openReader({ dir })
    expect((await collect(reader.records({ from: 5, to: 7 }))).map((r) => r.seq)).toEqual([5, 6, 7])
    await reader.close()
  })

  it('a segment sealed while a read takes its size: the seek index does not keep the old size', async () => {
    const dir = tempDir()
    let hold: Promise<void> | undefined
    const files: Files = {
      ...nodeFiles,
      size: async (fd) => {
        const n = await nodeFiles.size(fd)
        if (hold) await hold
        return n
      },
    }
    const wal = await Wal.open({ dir, segmentSize: 64 * 1024, files })
    for (let i = 1; i <= 100; i++) await wal.append({ type: 'r', data: payloadFor(i, 200) })
    // A point read opens segment 1 while it is the newest; its header read takes the size now.
    let release: () => void = () => {}
    hold = new Promise((r) => {
      release = r
    })
    const pending = wal.recordsAt([50])
    await new Promise((r) => setTimeout(r, 20))
    hold = undefined
    // Meanwhile the writer fills segment 1 and seals it.
    let n = 101
    while (segmentFiles(dir).length < 2) await wal.append({ type: 'r', data: payloadFor(n++, 200) })
    for (let k = 0; k < 10; k++) await wal.append({ type: 'r', data: payloadFor(n++, 200) })
    release()
    expect((await pending).map((r) => r.seq)).toEqual([50])
    const last = firstSeqOf(segmentFiles(dir)[1]!) - 1
    expect((await wal.recordsAt([last - 1, last])).map((r) => r.seq)).toEqual([last - 1, last])
    await wal.close()
    // The seek file the writer wrote at rotation still fits the segment.
    const { header, ...binding } = bindingOf(segmentFiles(dir)[0]!)
    expect(typeof decodeSeekFile(readFileSync(join(dir, seekFileName(1))), binding, header.headerSize)).toBe(
      'object',
    )
  })

  it('a seek file written while retention removes its segment is removed too', async () => {
    const dir = tempDir()
    // Slow seek-file writes: the rotation's background write lands after the removal.
    const files: Files = {
      ...nodeFiles,
      rename: async (from, to) => {
        if (to.endsWith('.seek')) await new Promise((r) => setTimeout(r, 30))
        return nodeFiles.rename(from, to)
      },
    }
    const wal = await Wal.open({ dir, segmentSize: 16 * 1024, files })
    for (let i = 1; i <= 200; i++) await wal.append({ type: 'r', data: payloadFor(i, 200) })
    await wal.truncateBefore(wal.lastSeq)
    await wal.close()
    const wals = segmentFiles(dir).map(firstSeqOf)
    expect(wals).toHaveLength(1)
    expect(seekFiles(dir).filter((f) => !wals.includes(f))).toEqual([])
  })

  it('waltz repair removes the seek files of the segments it cuts or drops', async () => {
    const dir = await writeLog(1500, 64 * 1024)
    const segments = segmentFiles(dir)
    expect(seekFiles(dir).length).toBeGreaterThan(3)
    flipByte(segments[1]!, 40_000)
    const plan = await repairLog(dir, { apply: true })
    expect(plan.applied).toBe(true)
    const kept = segmentFiles(dir).map(firstSeqOf)
    // The one segment before the damage keeps its (still true) seek file; the cut one and later have none.
    expect(seekFiles(dir)).toEqual([kept[0]])
    const reader = await Wal.openReader({ dir })
    await expectReadsRight(reader, 9, 20)
    await reader.close()
  })
})
