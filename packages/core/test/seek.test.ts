/**
 * Reads by seq: `recordsAt`/`recordsAtRaw`, and `records({ from })` starting at a seek point, checked
 * against a full `records()` scan of the same log, over many small segments, atomic batches, the
 * growing newest segment, reopen, retention, a read-only reader following a writer, and damage.
 */
import { closeSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { collect } from '../../../test-support/collect.js'
import { flipByte } from '../../../test-support/damage.js'
import { payloadFor } from '../../../test-support/payload.mjs'
import { seededRandom } from '../../../test-support/random.mjs'
import { tempDir } from '../../../test-support/temp-dir.js'
import { nodeFiles } from '../src/files.js'
import { FRAME_HEADER_SIZE, parseSegmentHeader, writeFrame } from '../src/format.js'
import { bytesSerializer, type RecordShape, type Serializer, Wal, type WalReader } from '../src/index.js'
import { faultyFiles, segmentFiles } from './helpers.js'

type Doc = RecordShape<string, { n: number; text: string }>

/** A JSON serializer, so reads are seen to decode data, not hand over the stored bytes. */
const docs: Serializer<string, Doc['data'], Doc> = {
  name: 'test-json/1',
  encode: (data) => new TextEncoder().encode(JSON.stringify(data)),
  decode: (bytes) => JSON.parse(new TextDecoder().decode(bytes)) as Doc['data'],
}

/**
 * Appends records `from..to` in a seeded mix of single appends and atomic batches of 2 to 60 records
 * (some longer than a seek entry's spacing), with keys, headers and data from a few bytes to ~1.5 KiB.
 */
async function fill(wal: Wal<Doc>, from: number, to: number, seed: number): Promise<void> {
  const rnd = seededRandom(seed)
  const record = (n: number) => ({
    type: n % 3 === 0 ? 'big' : 'small',
    data: { n, text: 'x'.repeat(Math.floor(rnd() * (n % 3 === 0 ? 1500 : 120))) },
    ...(n % 2 === 0 ? { key: `stream-${n % 17}` } : {}),
    ...(n % 5 === 0 ? { headers: { causation: String(n - 1) } } : {}),
  })
  let n = from
  while (n <= to) {
    const size = rnd() < 0.7 ? 1 : Math.min(to - n + 1, 2 + Math.floor(rnd() * 59))
    const group = Array.from({ length: size }, (_, k) => record(n + k))
    if (size === 1) await wal.append(group[0]!)
    else await wal.appendBatch(group)
    n += size
  }
}

/** `count` seqs drawn from `lo..hi`, unsorted, with a duplicate now and then. */
function randomSeqs(rnd: () => number, count: number, lo: number, hi: number): number[] {
  const seqs: number[] = []
  for (let i = 0; i < count; i++) {
    seqs.push(i > 0 && rnd() < 0.1 ? seqs[i - 1]! : lo + Math.floor(rnd() * (hi - lo + 1)))
  }
  return seqs
}

/** Checks `recordsAt`, `recordsAtRaw` and `records({ from, to })` against a full scan, `rounds` times. */
async function expectSameAsScan(reader: WalReader<Doc>, seed: number, rounds = 30): Promise<void> {
  const all = await collect(reader.records())
  const raw = await collect(reader.recordsRaw())
  const first = reader.firstSeq
  const bySeq = (seq: number) => all[seq - first]!
  expect(all.map((r) => r.seq)).toEqual(
    Array.from({ length: reader.lastSeq - first + 1 }, (_, i) => first + i),
  )
  const rnd = seededRandom(seed)
  for (let round = 0; round < rounds; round++) {
    const seqs = randomSeqs(rnd, 1 + Math.floor(rnd() * 40), first, reader.lastSeq)
    expect(await reader.recordsAt(seqs), `seed ${seed}, seqs ${seqs.join(',')}`).toEqual(seqs.map(bySeq))
    const rawSeqs = randomSeqs(rnd, 5, first, reader.lastSeq)
    expect(await reader.recordsAtRaw(rawSeqs)).toEqual(rawSeqs.map((s) => raw[s - first]))
    const from = first + Math.floor(rnd() * (reader.lastSeq - first + 1))
    const to = Math.min(reader.lastSeq, from + Math.floor(rnd() * 200))
    expect(await collect(reader.records({ from, to })), `seed ${seed}, ${from}..${to}`).toEqual(
      all.slice(from - first, to - first + 1),
    )
  }
}

/** The file offset of the frame carrying `seq` in a segment file (walks the frame lengths). */
function frameOffset(file: string, seq: number): number {
  const bytes = readFileSync(file)
  const header = parseSegmentHeader(bytes)
  if (typeof header === 'string') throw new Error(header)
  let at = header.headerSize
  for (let s = header.firstSeq; s < seq; s++) at += FRAME_HEADER_SIZE + bytes.readUInt32LE(at + 4)
  expect(bytes.readUInt32LE(at + 8)).toBe(seq)
  return at
}

/** The first seq of a segment file, from its name. */
const firstSeqOf = (file: string): number => Number(file.slice(-24, -4))

describe('recordsAt', () => {
  it('returns what a full scan returns, over many small segments and atomic batches, decoded', async () => {
    const wal = await Wal.open({ dir: tempDir(), serializer: docs, segmentSize: 32 * 1024 })
    await fill(wal, 1, 3000, 1)
    expect(wal.metrics().segments).toBeGreaterThan(20)
    const [one] = await wal.recordsAt([2999])
    expect(one).toMatchObject({ seq: 2999, type: 'small', data: { n: 2999 } })
    await expectSameAsScan(wal, 11)
    expect(await wal.recordsAt([])).toEqual([])
    await wal.close()
  })

  it('reads the growing newest segment, also records appended after it was indexed', async () => {
    const wal = await Wal.open({ dir: tempDir(), serializer: docs, segmentSize: 64 * 1024 * 1024 })
    await fill(wal, 1, 400, 2)
    expect((await wal.recordsAt([400, 1, 200])).map((r) => r.data.n)).toEqual([400, 1, 200])
    for (let round = 0; round < 5; round++) {
      const from = wal.lastSeq + 1
      await fill(wal, from, from + 149, 20 + round)
      // The newest records, right after their appends resolved, and old ones in the same call.
      const seqs = [wal.lastSeq, from, 3, wal.lastSeq - 1, from + 70]
      expect((await wal.recordsAt(seqs)).map((r) => r.data.n)).toEqual(seqs)
    }
    expect(wal.metrics().segments).toBe(1)
    await expectSameAsScan(wal, 12, 10)
    await wal.close()
  })

  it('reads the same after reopen, as a writer and as a reader', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir, serializer: docs, segmentSize: 32 * 1024 })
    await fill(wal, 1, 1500, 3)
    const before = await wal.recordsAt([1500, 700, 1])
    await wal.close()
    const reopened = await Wal.open({ dir, serializer: docs, segmentSize: 32 * 1024 })
    expect(await reopened.recordsAt([1500, 700, 1])).toEqual(before)
    await fill(reopened, 1501, 1800, 4)
    await expectSameAsScan(reopened, 13, 10)
    await reopened.close()
    const reader = await Wal.openReader({ dir, serializer: docs })
    await expectSameAsScan(reader, 14, 10)
    await reader.close()
  })

  it('after truncateBefore: kept seqs read, removed ones are WAL_TRUNCATED', async () => {
    const wal = await Wal.open({ dir: tempDir(), serializer: docs, segmentSize: 32 * 1024 })
    await fill(wal, 1, 2000, 5)
    // Index every segment first, so retention has entries to drop.
    await wal.recordsAt(Array.from({ length: 200 }, (_, i) => (i + 1) * 10))
    expect(await wal.truncateBefore(1000)).toBeGreaterThan(0)
    const first = wal.firstSeq
    expect(first).toBeGreaterThan(1)
    expect(first).toBeLessThanOrEqual(1000)
    await expect(wal.recordsAt([first - 1])).rejects.toMatchObject({ code: 'WAL_TRUNCATED', seq: first - 1 })
    await expect(wal.recordsAt([2000, 1])).rejects.toMatchObject({ code: 'WAL_TRUNCATED' })
    expect((await wal.recordsAt([2000, first, 1000])).map((r) => r.seq)).toEqual([2000, first, 1000])
    await fill(wal, 2001, 2300, 6)
    await expectSameAsScan(wal, 15, 10)
    await wal.close()
  })

  it('a read-only reader reads records a writer appends while it is open', async () => {
    const dir = tempDir()
    const writer = await Wal.open({ dir, serializer: docs, segmentSize: 32 * 1024 })
    await fill(writer, 1, 500, 7)
    const reader = await Wal.openReader({ dir, serializer: docs })
    expect(reader.lastSeq).toBe(500)
    expect((await reader.recordsAt([500, 250])).map((r) => r.seq)).toEqual([500, 250])
    const rnd = seededRandom(16)
    for (let round = 0; round < 5; round++) {
      const from = writer.lastSeq + 1
      const appending = fill(writer, from, from + 199, 30 + round)
      // Reads of records already there, while the writer appends.
      const seqs = randomSeqs(rnd, 20, 1, from - 1)
      const [got] = await Promise.all([reader.recordsAt(seqs), appending])
      expect(got.map((r) => r.data.n)).toEqual(seqs)
      // Seqs above what the reader knew: it looks for them first.
      const fresh = [from + 199, from, from + 100]
      expect((await reader.recordsAt(fresh)).map((r) => r.data.n)).toEqual(fresh)
      expect(reader.lastSeq).toBe(from + 199)
    }
    await expect(reader.recordsAt([writer.lastSeq + 1])).rejects.toMatchObject({
      code: 'WAL_INVALID_ARGUMENT',
    })
    await expectSameAsScan(reader, 17, 10)
    await writer.close()
    await reader.close()
  })

  it('concurrent calls on a log nothing was indexed in yet all return the right records', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir, serializer: docs, segmentSize: 256 * 1024 })
    await fill(wal, 1, 3000, 8)
    await wal.close()
    const reader = await Wal.openReader({ dir, serializer: docs })
    const rnd = seededRandom(18)
    const sets = Array.from({ length: 12 }, () => randomSeqs(rnd, 15, 1, 3000))
    const results = await Promise.all(sets.map((seqs) => reader.recordsAt(seqs)))
    for (let i = 0; i < sets.length; i++) expect(results[i]!.map((r) => r.data.n)).toEqual(sets[i])
    await reader.close()
  })

  it('reads an indexed sealed segment with no open (kept from the first read) and one small read per scattered seq', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir, segmentSize: 128 * 1024 })
    for (let i = 1; i <= 2000; i++) await wal.append({ type: 'r', data: payloadFor(i, 200) })
    await wal.close()
    // Entries from a walk (seek-file.test.ts reads them from seek files).
    for (const name of readdirSync(dir)) if (name.endsWith('.seek')) unlinkSync(join(dir, name))
    const fault = faultyFiles()
    const reader = await Wal.openReader({ dir, files: fault.files })
    const last = firstSeqOf(segmentFiles(dir)[1]!) - 1
    await reader.recordsAt([last]) // indexes the whole first segment
    const before = { ...fault.calls }
    const seqs = [10, Math.floor(last / 2), last - 5, 200]
    const got = await reader.recordsAt(seqs)
    expect(got.map((r) => r.seq)).toEqual(seqs)
    expect(got.map((r) => r.data)).toEqual(seqs.map((s) => payloadFor(s, 200)))
    const delta = (op: string) => (fault.calls[op] ?? 0) - (before[op] ?? 0)
    expect(delta('open')).toBe(0)
    // Point reads are synchronous preads (readSync), one small one per scattered seq.
    expect(delta('read') + delta('readSync')).toBe(seqs.length)
    expect(delta('readSync')).toBe(seqs.length)
    expect(delta('size')).toBe(0)
    // A failing read is WAL_IO, through the same file interface.
    fault.fail('read', 'EIO')
    await expect(reader.recordsAt([20])).rejects.toMatchObject({ code: 'WAL_IO' })
    await reader.close()
  })

  it('keeps segment files open between point reads, closes them when retention removes them and at close', async () => {
    const dir = tempDir()
    // Opens of segment files (seek files are written and read besides, in the background).
    const opened: string[] = []
    const fault = faultyFiles({
      ...nodeFiles,
      open: (path, flags, mode) => {
        opened.push(path)
        return nodeFiles.open(path, flags, mode)
      },
    })
    const wal = await Wal.open({ dir, segmentSize: 16 * 1024, files: fault.files })
    for (let i = 1; i <= 400; i++) await wal.append({ type: 'r', data: payloadFor(i, 200) })
    const calls = (op: string) => fault.calls[op] ?? 0
    const segmentOpens = () => opened.filter((p) => p.endsWith('.wal')).length
    const opens = segmentOpens()
    await wal.recordsAt([1, 2, 3])
    expect(segmentOpens()).toBe(opens + 1)
    await wal.recordsAt([4, 1])
    expect(segmentOpens()).toBe(opens + 1)
    const closes = calls('close')
    await wal.truncateBefore(300)
    await new Promise((r) => setImmediate(r))
    expect(calls('close')).toBeGreaterThan(closes)
    await expect(wal.recordsAt([1])).rejects.toMatchObject({ code: 'WAL_TRUNCATED' })
    const last = wal.lastSeq
    await wal.recordsAt([last - 1])
    const beforeClose = calls('close')
    await wal.close()
    await new Promise((r) => setImmediate(r))
    // The active segment's writer descriptor and the point reader's cached one.
    expect(calls('close')).toBeGreaterThanOrEqual(beforeClose + 2)
  })

  it("a writer's own appends read as soon as they are acknowledged, in 'background' mode too", async () => {
    const wal = await Wal.open({
      dir: tempDir(),
      serializer: docs,
      sync: 'background',
      syncIntervalMs: 60_000,
    })
    await fill(wal, 1, 300, 12)
    const seqs = [300, 1, 150]
    expect((await wal.recordsAt(seqs)).map((r) => r.data.n)).toEqual(seqs)
    await wal.close()
  })

  it('refuses seqs that are not readable, removed or malformed, and calls after close', async () => {
    const wal = await Wal.open({ dir: tempDir(), serializer: docs, firstSeq: 100 })
    await fill(wal, 100, 150, 10)
    expect(wal.lastSeq).toBe(150)
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '120', null]) {
      await expect(wal.recordsAt([120, bad as number])).rejects.toMatchObject({
        code: 'WAL_INVALID_ARGUMENT',
      })
    }
    await expect(wal.recordsAt([151])).rejects.toMatchObject({ code: 'WAL_INVALID_ARGUMENT', seq: 151 })
    await expect(wal.recordsAtRaw([120, 10_000])).rejects.toMatchObject({ code: 'WAL_INVALID_ARGUMENT' })
    await expect(wal.recordsAt(120 as unknown as number[])).rejects.toMatchObject({
      code: 'WAL_INVALID_ARGUMENT',
    })
    // Below the first stored seq (this log starts at 100).
    await expect(wal.recordsAt([99, 120])).rejects.toMatchObject({ code: 'WAL_TRUNCATED', seq: 99 })
    expect((await wal.recordsAt([100, 150])).map((r) => r.data.n)).toEqual([100, 150])
    await wal.close()
    await expect(wal.recordsAt([120])).rejects.toMatchObject({ code: 'WAL_CLOSED' })
    await expect(wal.recordsAtRaw([120])).rejects.toMatchObject({ code: 'WAL_CLOSED' })
  })
})

describe('recordsAt on a damaged sealed segment', () => {
  /** A closed log of many segments, a sealed one of them, and a seq in the middle of it. */
  async function damagedLog(): Promise<{ dir: string; file: string; seq: number; offset: number }> {
    const dir = tempDir()
    const wal = await Wal.open({ dir, serializer: docs, segmentSize: 64 * 1024 })
    await fill(wal, 1, 2000, 11)
    await wal.close()
    const files = segmentFiles(dir)
    expect(files.length).toBeGreaterThan(3)
    const file = files[1]!
    const seq = Math.floor((firstSeqOf(file) + firstSeqOf(files[2]!)) / 2)
    return { dir, file, seq, offset: frameOffset(file, seq) }
  }

  it('a flipped byte found while indexing is WAL_CORRUPT with file and offset', async () => {
    const { dir, file, seq, offset } = await damagedLog()
    flipByte(file, offset + FRAME_HEADER_SIZE + 12)
    const reader = await Wal.openReader({ dir, serializer: docs })
    await expect(reader.recordsAt([seq + 3])).rejects.toMatchObject({ code: 'WAL_CORRUPT', file, offset })
    await expect(reader.recordsAt([seq])).rejects.toMatchObject({ code: 'WAL_CORRUPT', file, offset })
    // Records before the damage, and in other segments, still read.
    const ok = [seq - 1, firstSeqOf(file), 1, reader.lastSeq]
    expect((await reader.recordsAt(ok)).map((r) => r.seq)).toEqual(ok)
    await expect(collect(reader.records({ from: seq - 2 }))).rejects.toMatchObject({
      code: 'WAL_CORRUPT',
      offset,
    })
    await reader.close()
  })

  it("a damaged length on the way cannot step onto a frame hidden in a record's data", async () => {
    // Record 2's data ends with bytes shaped as a valid frame with seq 3. Flipping one bit of record 2's
    // length makes it end right before them: a walk that trusted the length would return them as seq 3.
    const dir = tempDir()
    const wal = await Wal.open({ dir, serializer: bytesSerializer() })
    await wal.append({ type: 'note', data: Buffer.from('first') })
    const forged = Buffer.alloc(128)
    writeFrame(forged, 0, {
      seq: 3,
      batchRemaining: 0,
      syncDistance: 1,
      envelope: {
        time: 1,
        typeBytes: Buffer.from('forged'),
        keyBytes: 'victim',
        headerBytes: undefined,
        encrypted: false,
      },
      data: Buffer.from('{"amount":1000000}'),
    })
    await wal.append({ type: 'note', data: Buffer.concat([Buffer.alloc(72, 0x61), forged]) })
    await wal.append({ type: 'victim', key: 'victim', data: Buffer.from('{"amount":5}') })
    expect((await wal.recordsAt([3]))[0]!.type).toBe('victim') // indexes the segment
    const file = segmentFiles(dir)[0]!
    const bytes = readFileSync(file)
    const first = (parseSegmentHeader(bytes) as { headerSize: number }).headerSize
    const second = first + FRAME_HEADER_SIZE + bytes.readUInt32LE(first + 4)
    const length = bytes.readUInt32LE(second + 4)
    expect(length & 0x80).not.toBe(0) // the fixture's premise: clearing bit 7 lands on the forged frame
    const patched = Buffer.alloc(4)
    patched.writeUInt32LE(length ^ 0x80)
    const fd = openSync(file, 'r+')
    writeSync(fd, patched, 0, 4, second + 4)
    closeSync(fd)
    await expect(wal.recordsAt([3])).rejects.toMatchObject({ code: 'WAL_CORRUPT' })
    await wal.close()
  })

  it('a decode failure in one segment and a slow read of another: one error, the oldest, nothing unhandled', async () => {
    const serializer: Serializer<string, unknown, RecordShape> = {
      name: 'picky/1',
      encode: (d) => Buffer.from(JSON.stringify(d)),
      decode: (b, type) => {
        if (type === 'bad') throw new Error('cannot decode a bad record')
        return JSON.parse(Buffer.from(b).toString())
      },
    }
    const dir = tempDir()
    const wal = await Wal.open({ dir, serializer, segmentSize: 4096 })
    const pad = 'x'.repeat(100)
    await wal.append({ type: 'bad', data: { pad } })
    while (wal.lastSeq < 60) await wal.append({ type: 'ok', data: { pad } })
    const bad = wal.lastSeq + 1
    await wal.append({ type: 'bad', data: { pad } })
    while (wal.lastSeq < 140) await wal.append({ type: 'ok', data: { pad } })
    await wal.recordsAt([bad + 5]) // the newer segment is open and indexed: it is read without a wait
    const unhandled: unknown[] = []
    const onUnhandled = (err: unknown) => unhandled.push(err)
    process.on('unhandledRejection', onUnhandled)
    try {
      const err = await wal.recordsAt([1, bad]).catch((e: unknown) => e)
      expect(err).toMatchObject({ code: 'WAL_SERIALIZER_ERROR', seq: 1 })
      await new Promise((r) => setTimeout(r, 50))
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', onUnhandled)
      await wal.close()
    }
  })

  it('a frame damaged on the way to a wanted one never yields a wrong record', async () => {
    for (const field of ['body', 'length'] as const) {
      const { dir, file, seq, offset } = await damagedLog()
      const reader = await Wal.openReader({ dir, serializer: docs })
      const after = Array.from({ length: 60 }, (_, k) => seq + 1 + k)
      const before = await reader.recordsAt(after) // builds the seek index over intact bytes
      flipByte(file, offset + (field === 'body' ? FRAME_HEADER_SIZE + 12 : 4))
      await expect(reader.recordsAt([seq])).rejects.toMatchObject({ code: 'WAL_CORRUPT', file })
      // A later frame is walked to from a seek point, through the damaged one when it lies before it.
      // It reads exactly as before (the damage is not in it) or fails as damage: never anything else.
      let failed = 0
      for (let k = 0; k < after.length; k++) {
        const read = await reader.recordsAt([after[k]!]).catch((err: unknown) => err)
        if (Array.isArray(read)) expect(read[0]).toEqual(before[k])
        else {
          expect(read).toMatchObject({ code: 'WAL_CORRUPT', file })
          failed++
        }
      }
      // Frames walked over are checksummed: a read that passes the damaged frame fails.
      expect(failed).toBeGreaterThan(0)
      await reader.close()
    }
  })

  it('a flipped byte under an index built before is WAL_CORRUPT with file and offset', async () => {
    const { dir, file, seq, offset } = await damagedLog()
    const reader = await Wal.openReader({ dir, serializer: docs })
    expect((await reader.recordsAt([reader.lastSeq, seq])).map((r) => r.seq)).toEqual([reader.lastSeq, seq])
    flipByte(file, offset + 4) // the length field
    await expect(reader.recordsAt([seq])).rejects.toMatchObject({ code: 'WAL_CORRUPT', file, offset })
    const seen: number[] = []
    const failed = await (async () => {
      for await (const r of reader.records({ from: seq - 1 })) seen.push(r.seq)
    })().catch((err: unknown) => err)
    expect(seen).toEqual([seq - 1])
    expect(failed).toMatchObject({ code: 'WAL_CORRUPT', file, offset })
    await reader.close()
  })
})
