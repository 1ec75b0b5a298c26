/**
 * Frame locations: what `appendBatch` reports equals what `recordsLocated` finds and what the segment
 * files hold (across rotations, sync policies and backpressure); `recordsAt` with locations returns
 * exactly what it returns without them, with one read per record; a wrong, stale or damaged location
 * costs a read through the seek index (counted as a miss), never a wrong record, and damage at a
 * located frame is still `WAL_CORRUPT`.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { collect } from '../../../test-support/collect.js'
import { flipByte } from '../../../test-support/damage.js'
import { payloadFor } from '../../../test-support/payload.mjs'
import { seededRandom } from '../../../test-support/random.mjs'
import { rejection } from '../../../test-support/rejection.js'
import { tempDir } from '../../../test-support/temp-dir.js'
import { FRAME_HEADER_SIZE } from '../src/format.js'
import {
  type FrameLocations,
  type LocatedRecord,
  type SyncPolicy,
  Wal,
  type WalReader,
} from '../src/index.js'
import { segmentFiles } from './helpers.js'

interface Appended {
  seq: number
  offset: number
  length: number
}

/**
 * Appends `count` records (keys, some headers, 10..700-byte payloads) in a seeded mix of single
 * appends and batches, all started without waiting (so groups share writes and, with a small
 * `maxPendingBytes`, wait for admission), and returns each record's reported location.
 */
async function appendAll(wal: Wal, count: number, seed: number): Promise<Appended[]> {
  const rnd = seededRandom(seed)
  const out: Appended[] = []
  const pending: Promise<void>[] = []
  let n = 1
  while (n <= count) {
    const size = rnd() < 0.6 ? 1 : Math.min(count - n + 1, 2 + Math.floor(rnd() * 9))
    const group = Array.from({ length: size }, (_, k) => ({
      type: 'e',
      key: `s-${(n + k) % 13}`,
      data: payloadFor(n + k, 10 + Math.floor(rnd() * 690)),
      ...((n + k) % 4 === 0 ? { headers: { n: String(n + k) } } : {}),
    }))
    const locations: FrameLocations = { offsets: [], lengths: [] }
    pending.push(
      wal.appendBatch(group, locations).then((last) => {
        for (let i = 0; i < size; i++) {
          out.push({ seq: last - size + 1 + i, offset: locations.offsets[i]!, length: locations.lengths[i]! })
        }
      }),
    )
    n += size
  }
  await Promise.all(pending)
  return out.sort((a, b) => a.seq - b.seq)
}

/** The segment file holding `seq` (segments are named after their first seq, oldest first). */
function segmentOf(dir: string, seq: number): string {
  const files = segmentFiles(dir)
  const firsts = files.map((f) => Number.parseInt(f.slice(f.lastIndexOf('/') + 1), 10))
  let i = firsts.length - 1
  while (i > 0 && firsts[i]! > seq) i--
  return files[i]!
}

async function located(reader: WalReader): Promise<Appended[]> {
  return (await collect(reader.recordsLocated())).map((r: LocatedRecord) => ({
    seq: r.seq,
    offset: r.frameOffset,
    length: r.frameLength,
  }))
}

function locationsOf(rows: readonly Appended[], seqs: readonly number[]): FrameLocations {
  const bySeq = new Map(rows.map((r) => [r.seq, r]))
  return { offsets: seqs.map((s) => bySeq.get(s)!.offset), lengths: seqs.map((s) => bySeq.get(s)!.length) }
}

describe('frame locations', () => {
  for (const sync of ['always', 'os-cache', 'background'] as SyncPolicy[]) {
    it(`appendBatch reports where each frame lies ('${sync}', rotations, backpressure)`, async () => {
      const dir = tempDir()
      const wal = await Wal.open({ dir, sync, segmentSize: 16 * 1024, maxPendingBytes: 8 * 1024 })
      const appended = await appendAll(wal, 600, 7)
      expect(appended.map((a) => a.seq)).toEqual(Array.from({ length: 600 }, (_, i) => i + 1))
      await wal.close()
      expect(segmentFiles(dir).length).toBeGreaterThan(5)
      // Each location lies inside its segment file (what it holds is checked by the reads below).
      for (const a of appended) {
        const bytes = readFileSync(segmentOf(dir, a.seq))
        expect(a.offset + a.length).toBeLessThanOrEqual(bytes.length)
        expect(a.length).toBeGreaterThan(FRAME_HEADER_SIZE)
      }
      const reader = await Wal.openReader({ dir })
      expect(await located(reader)).toEqual(appended)
      // A location read returns what a seek read returns, one read each.
      const seqs = appended.map((a) => a.seq).reverse()
      const plain = await reader.recordsAtRaw(seqs)
      const before = reader.metrics().locatedReads
      expect(await reader.recordsAtRaw(seqs, locationsOf(appended, seqs))).toEqual(plain)
      expect(reader.metrics().locatedReads).toEqual({ hits: before.hits + 600, misses: before.misses })
      await reader.close()
    })
  }

  it('reads located records of the growing newest segment, in a writer and after reopening', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir, sync: 'always', segmentSize: 1 << 20 })
    const appended = await appendAll(wal, 300, 11)
    const seqs = [300, 1, 150, 150, 299]
    const want = await wal.recordsAt(seqs)
    expect(await wal.recordsAt(seqs, locationsOf(appended, seqs))).toEqual(want)
    // Seq 150 twice: one read, one record object.
    expect(wal.metrics().locatedReads).toEqual({ hits: 4, misses: 0 })
    await wal.close()
    const again = await Wal.open({ dir, sync: 'always' })
    expect(await again.recordsAt(seqs, locationsOf(appended, seqs))).toEqual(want)
    expect(again.metrics().locatedReads).toEqual({ hits: 4, misses: 0 })
    await again.close()
  })

  it('a wrong location costs a seek read and a counted miss, never a wrong record', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir, sync: 'always', segmentSize: 32 * 1024 })
    const appended = await appendAll(wal, 400, 3)
    const seqs = appended.map((a) => a.seq)
    const want = await wal.recordsAtRaw(seqs)
    const rnd = seededRandom(5)
    const bad: FrameLocations = { offsets: [], lengths: [] }
    const kinds = [
      // another record's frame (a valid frame, wrong seq)
      (i: number) => [appended[(i + 1) % 400]!.offset, appended[(i + 1) % 400]!.length],
      // a few bytes off
      (i: number) => [appended[i]!.offset + 1 + Math.floor(rnd() * 8), appended[i]!.length],
      // the right place, a wrong length
      (i: number) => [appended[i]!.offset, appended[i]!.length + 1],
      (i: number) => [appended[i]!.offset, appended[i]!.length - 1],
      // past the end of the segment, absurd lengths, nonsense
      () => [1 << 30, 200],
      (i: number) => [appended[i]!.offset, 2 ** 40],
      () => [-1, 100],
      () => [Number.NaN, 100],
    ]
    for (let i = 0; i < 400; i++) {
      const [offset, length] = kinds[i % kinds.length]!(i)
      bad.offsets.push(offset!)
      bad.lengths.push(length!)
    }
    expect(await wal.recordsAtRaw(seqs, bad)).toEqual(want)
    const { hits, misses } = wal.metrics().locatedReads
    expect(hits).toBe(0)
    // Locations that are not even plausible (negative, NaN, too long) are not tried, so not missed.
    expect(misses).toBe(400 - 3 * 50)
    // A location array shorter than seqs: the rest is read through the seek index.
    expect(
      await wal.recordsAtRaw(seqs, { offsets: [appended[0]!.offset], lengths: [appended[0]!.length] }),
    ).toEqual(want)
    await expect(wal.recordsAt([1], { offsets: 5 } as unknown as FrameLocations)).rejects.toMatchObject({
      code: 'WAL_INVALID_ARGUMENT',
    })
    await expect(
      wal.appendBatch([{ type: 'e', data: new Uint8Array(1) }], {} as FrameLocations),
    ).rejects.toMatchObject({ code: 'WAL_INVALID_ARGUMENT' })
    await wal.close()
  })

  it('damage inside a located frame is WAL_CORRUPT, not a record', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir, sync: 'always', segmentSize: 8 * 1024 })
    const appended = await appendAll(wal, 100, 9)
    await wal.close()
    // A sealed segment (damage in the newest one would end the readable log there).
    const target = appended[30]!
    expect(segmentOf(dir, target.seq)).not.toBe(segmentFiles(dir).at(-1))
    // A byte in the middle of the frame's body (inside its data).
    flipByte(segmentOf(dir, target.seq), target.offset + target.length - 5)
    const reader = await Wal.openReader({ dir })
    const err = await rejection(reader.recordsAtRaw([target.seq], locationsOf(appended, [target.seq])))
    expect(err).toMatchObject({ code: 'WAL_CORRUPT' })
    expect(reader.metrics().locatedReads.misses).toBe(1)
    // Its neighbours still read by location.
    const others = [appended[29]!.seq, appended[31]!.seq]
    expect((await reader.recordsAtRaw(others, locationsOf(appended, others))).map((r) => r.seq)).toEqual(
      others,
    )
    await reader.close()
  })

  it('a damaged segment header is reported before a located read of the segment', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir, sync: 'always', segmentSize: 8 * 1024 })
    const appended = await appendAll(wal, 100, 17)
    await wal.close()
    const [first] = segmentFiles(dir)
    flipByte(first!, 2) // the magic
    const reader = await Wal.openReader({ dir })
    const err = await rejection(reader.recordsAtRaw([1], locationsOf(appended, [1])))
    expect(err).toMatchObject({ code: 'WAL_CORRUPT' })
    expect(reader.metrics().locatedReads.hits).toBe(0)
    await reader.close()
  })

  it('a seq given twice with its location yields one record object; frozen arrays are refused', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir, sync: 'always' })
    const appended = await appendAll(wal, 20, 19)
    const seqs = [7, 7, 3, 7]
    const records = await wal.recordsAt(seqs, locationsOf(appended, seqs))
    expect(records.map((r) => r.seq)).toEqual(seqs)
    expect(records[0]).toBe(records[1])
    expect(records[0]).toBe(records[3])
    expect(wal.metrics().locatedReads).toEqual({ hits: 2, misses: 0 })
    const frozen = { offsets: Object.freeze([]) as unknown as number[], lengths: [] }
    await expect(wal.appendBatch([{ type: 'e', data: new Uint8Array(1) }], frozen)).rejects.toMatchObject({
      code: 'WAL_INVALID_ARGUMENT',
    })
    expect(wal.lastSeq).toBe(20)
    await wal.close()
  })

  it('recordsLocated yields each frame place for a range, from inside a segment', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir, sync: 'os-cache', segmentSize: 8 * 1024 })
    const appended = await appendAll(wal, 200, 13)
    const some = (await collect(wal.recordsLocated({ from: 77, to: 140 }))).map((r) => ({
      seq: r.seq,
      offset: r.frameOffset,
      length: r.frameLength,
    }))
    expect(some).toEqual(appended.slice(76, 140))
    await wal.close()
  })
})
