/**
 * Compression (the `compression` option): each atomic group is one compressed block frame. Round trips
 * through every read path and codec, sizes on disk, option checks, and damage: a block that fails its
 * checksum, or passes it but does not decompress, is `WAL_CORRUPT` (never garbage, never cut as torn).
 */
import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { collect } from '../../../test-support/collect.js'
import { payloadFor } from '../../../test-support/payload.mjs'
import { rejection } from '../../../test-support/rejection.js'
import { tempDir } from '../../../test-support/temp-dir.js'
import { crc32 } from '../src/checksum.js'
import { codecAvailable } from '../src/compression.js'
import { FRAME_HEADER_SIZE, parseSegmentHeader } from '../src/format.js'
import {
  type CompressionOption,
  type FrameLocations,
  isWalError,
  localKeyring,
  type RawRecord,
  Wal,
} from '../src/index.js'
import { segmentFiles } from './helpers.js'

const enc = new TextEncoder()

/** A JSON order event, like the ones an order-matching engine appends. */
function order(i: number): Uint8Array {
  const side = i % 2 === 0 ? 'buy' : 'sell'
  return enc.encode(
    JSON.stringify({
      orderId: `ord-${i}`,
      side,
      symbol: 'ACME',
      price: 100 + (i % 17),
      quantity: 1 + (i % 9),
    }),
  )
}

/** Groups of 1 to 20 order events, with keys and headers; the last record of each group is its size. */
function groups(
  count: number,
): { type: string; key: string; headers: Record<string, string>; data: Uint8Array }[][] {
  const out = []
  let i = 1
  for (let g = 0; g < count; g++) {
    const size = 1 + ((g * 7) % 20)
    out.push(
      Array.from({ length: size }, () => {
        const n = i++
        return {
          type: 'order-placed',
          key: `book-${n % 5}`,
          headers: { 'trace-id': `t${n}` },
          data: order(n),
        }
      }),
    )
  }
  return out
}

const CODECS = (['deflate', 'brotli', 'zstd'] as const).filter(codecAvailable)

function untimed<T extends { time: number }>(records: T[]): Omit<T, 'time'>[] {
  return records.map(({ time: _, ...r }) => r)
}

function diskBytes(dir: string): number {
  return segmentFiles(dir).reduce((n, f) => n + statSync(f).size, 0)
}

/** Frames of a segment file: offset, body length, and whether it is a compressed block. */
function frames(file: string): { at: number; length: number; block: boolean; flagsAt: number }[] {
  const buf = readFileSync(file)
  const header = parseSegmentHeader(buf)
  if (typeof header === 'string') throw new Error(header)
  const out = []
  for (let at = header.headerSize; at + FRAME_HEADER_SIZE <= buf.length; ) {
    const length = buf.readUInt32LE(at + 4)
    let p = at + FRAME_HEADER_SIZE
    while (buf[p]! >= 0x80) p++
    p++
    while (buf[p]! >= 0x80) p++
    p++
    out.push({ at, length, block: (buf[p]! & 16) !== 0, flagsAt: p })
    at += FRAME_HEADER_SIZE + length
  }
  return out
}

/** Rewrites a frame's body with `edit` and recomputes its checksum: damage that passes the check. */
function rewriteFrame(
  file: string,
  at: number,
  edit: (buf: Buffer, bodyAt: number, end: number) => void,
): void {
  const buf = readFileSync(file)
  const end = at + FRAME_HEADER_SIZE + buf.readUInt32LE(at + 4)
  edit(buf, at + FRAME_HEADER_SIZE, end)
  buf.writeUInt32LE(crc32(buf, at + 4, end), at)
  writeFileSync(file, buf)
}

async function writeLog(dir: string, compression: CompressionOption, segmentSize = 16 * 1024) {
  const wal = await Wal.open({ dir, compression, segmentSize })
  const locations: { seq: number; offset: number; length: number }[] = []
  for (const group of groups(60)) {
    const loc: FrameLocations = { offsets: [], lengths: [] }
    const last = await wal.appendBatch(group, loc)
    group.forEach((_, i) => {
      locations.push({ seq: last - group.length + 1 + i, offset: loc.offsets[i]!, length: loc.lengths[i]! })
    })
  }
  const next = wal.lastSeq + 1
  const raw: RawRecord[] = [
    { seq: next, time: 1_700_000_000_000, type: 'raw', key: 'r', data: order(9000) },
    { seq: next + 1, time: 1_700_000_000_001, type: 'raw', data: order(9001) },
  ]
  await wal.appendRaw(raw)
  await wal.close()
  return locations
}

describe('compression', () => {
  for (const codec of CODECS) {
    it(`${codec}: every read path returns what was appended; the log takes a fraction of the bytes`, async () => {
      const plainDir = tempDir()
      await writeLog(plainDir, 'none')
      const dir = tempDir()
      const locations = await writeLog(dir, codec)
      const plain = await Wal.openReader({ dir: plainDir })
      // Times differ between the two logs (appended at different moments): compare the rest.
      const want = (await collect(plain.records())).map(({ time: _, ...r }) => r)
      await plain.close()
      expect(want.length).toBeGreaterThan(500)
      expect(frames(segmentFiles(dir)[0]!).some((f) => f.block)).toBe(true)
      // JSON order events compress well together.
      expect(diskBytes(dir)).toBeLessThan(diskBytes(plainDir) / 2.5)

      // A writer without the option reads the blocks and goes on appending plain frames.
      const wal = await Wal.open({ dir })
      expect(untimed(await collect(wal.records()))).toEqual(want)
      const tail = wal.tail({ from: wal.lastSeq - 2 })
      const next = await wal.append({ type: 'after', data: order(1) })
      const tailed = []
      for await (const r of tail) {
        tailed.push(r.seq)
        if (r.seq === next) break
      }
      expect(tailed).toEqual([next - 3, next - 2, next - 1, next])
      await wal.close()

      // A reader: from any seq (seek index into the middle of a block), by seq, by location.
      const reader = await Wal.openReader({ dir })
      for (const from of [1, 2, 17, 250, want.length - 3]) {
        expect(untimed(await collect(reader.records({ from, to: from + 3 })))).toEqual(
          want.slice(from - 1, from + 3),
        )
      }
      const seqs = [3, 4, 100, 101, 377, want.length]
      expect(untimed(await reader.recordsAt(seqs))).toEqual(seqs.map((s) => want[s - 1]))
      const located = locations.filter((l) => seqs.includes(l.seq))
      const byLocation = await reader.recordsAt(
        located.map((l) => l.seq),
        { offsets: located.map((l) => l.offset), lengths: located.map((l) => l.length) },
      )
      expect(untimed(byLocation)).toEqual(located.map((l) => want[l.seq - 1]))
      // The locations appendBatch reported are what recordsLocated finds: the block's frame.
      const found = new Map((await collect(reader.recordsLocated())).map((r) => [r.seq, r]))
      for (const l of locations) {
        expect([found.get(l.seq)?.frameOffset, found.get(l.seq)?.frameLength]).toEqual([l.offset, l.length])
      }
      await reader.close()
    })
  }

  it('zstd works where this Node has it, and is refused at open where it does not', async () => {
    const dir = tempDir()
    if (codecAvailable('zstd')) {
      const wal = await Wal.open({ dir, compression: { codec: 'zstd', level: 9 } })
      await wal.appendBatch([1, 2, 3].map((i) => ({ type: 'o', data: order(i) })))
      await wal.close()
      const reader = await Wal.openReader({ dir })
      expect((await collect(reader.records())).map((r) => r.data)).toEqual([1, 2, 3].map(order))
      await reader.close()
    } else {
      const err = await rejection(Wal.open({ dir, compression: 'zstd' }))
      expect(isWalError(err) && err.code).toBe('WAL_INVALID_ARGUMENT')
      expect((err as Error).message).toMatch(/Node 22\.15/)
    }
  })

  it('bad compression options are WAL_INVALID_ARGUMENT', async () => {
    const bad: unknown[] = [
      'gzip',
      7,
      { codec: 'deflate', level: 42 },
      { codec: 'brotli', level: 1.5 },
      { codec: 'deflate', speed: 1 },
      {},
    ]
    for (const compression of bad) {
      const err = await rejection(Wal.open({ dir: tempDir(), compression: compression as CompressionOption }))
      expect(isWalError(err) && err.code, JSON.stringify(compression)).toBe('WAL_INVALID_ARGUMENT')
    }
  })

  it('with encryption, each record is compressed and then sealed: smaller, no plaintext on disk, shredding works', async () => {
    const keyring = localKeyring([{ id: 'm', key: Buffer.alloc(32, 1) }])
    const big = (i: number) =>
      enc.encode(
        JSON.stringify({
          customer: `secret-name-${i}`,
          orders: [1, 2, 3].map(order).map((o) => new TextDecoder().decode(o)),
        }),
      )
    const sizes: number[] = []
    const dirs: string[] = []
    for (const compression of ['none', 'deflate'] as const) {
      const dir = tempDir()
      dirs.push(dir)
      const wal = await Wal.open({ dir, compression, encryption: { keyring } })
      for (let i = 0; i < 50; i++) await wal.append({ type: 'customer', key: `c${i % 5}`, data: big(i) })
      await wal.appendBatch([50, 51].map((i) => ({ type: 'customer', key: 'c1', data: big(i) })))
      await wal.shred('c2')
      await wal.close()
      sizes.push(diskBytes(dir))
    }
    expect(sizes[1]!).toBeLessThan(sizes[0]! * 0.75)
    const dir = dirs[1]!
    // Sealed after compression: no plaintext, and no compressed frame either (blocks would hold sealed bytes).
    for (const f of segmentFiles(dir)) {
      expect(readFileSync(f).includes('secret-name-')).toBe(false)
      expect(frames(f).some((x) => x.block)).toBe(false)
    }
    const reader = await Wal.openReader({ dir, encryption: { keyring } })
    const records = await collect(reader.records())
    expect(records).toHaveLength(52)
    for (const r of records) {
      const i = r.seq - 1
      if (r.key === 'c2') expect(r).toMatchObject({ shredded: true, data: undefined })
      else expect(Buffer.from(r.data!).equals(Buffer.from(big(i)))).toBe(true)
    }
    // Raw reads carry the sealed (compressed) bytes; a replica's appendRaw keeps them as they are (a
    // sealed copy, holding the source's sealed keys: the keyring reads it).
    const raw = await collect(reader.recordsRaw())
    const keys = (await reader.keyStore())!.entries
    await reader.close()
    const replicaDir = tempDir()
    const replica = await Wal.open({ dir: replicaDir, encryption: 'sealed' })
    await replica.importKeys(keys)
    await replica.appendRaw(raw)
    await replica.close()
    expect(segmentFiles(replicaDir).every((f) => !readFileSync(f).includes('secret-name-'))).toBe(true)
    const copy = await Wal.openReader({ dir: replicaDir, encryption: { keyring } })
    expect((await collect(copy.records())).map((r) => r.shredded ?? Buffer.from(r.data!).toString())).toEqual(
      records.map((r) => r.shredded ?? Buffer.from(r.data!).toString()),
    )
    await copy.close()
  })

  it('a group that would not shrink by an eighth, or is under 256 bytes, stays plain frames', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir, compression: 'deflate' })
    // Random bytes do not compress (the block would save only the frame headers of its records).
    await wal.appendBatch([1, 2, 3].map((i) => ({ type: 'r', data: payloadFor(i, 300) })))
    // Small groups are not worth a codec call.
    await wal.append({ type: 'r', data: enc.encode('a'.repeat(200)) })
    // This one is.
    await wal.append({ type: 'r', data: enc.encode('a'.repeat(300)) })
    await wal.close()
    expect(frames(segmentFiles(dir)[0]!).map((x) => x.block)).toEqual([false, false, false, false, true])
  })

  it('a flipped byte in a block of a sealed segment is WAL_CORRUPT after the records before it', async () => {
    const dir = tempDir()
    await writeLog(dir, 'deflate', 4096)
    const file = segmentFiles(dir)[1]!
    const blocks = frames(file).filter((f) => f.block)
    const target = blocks[1]!
    const buf = readFileSync(file)
    buf[target.at + FRAME_HEADER_SIZE + target.length - 3]! ^= 0x40
    writeFileSync(file, buf)
    const reader = await Wal.openReader({ dir })
    const got: number[] = []
    const err = await rejection(
      (async () => {
        for await (const r of reader.records()) got.push(r.seq)
      })(),
    )
    expect(isWalError(err) && err.code).toBe('WAL_CORRUPT')
    expect(got.length).toBeGreaterThan(0)
    expect(got).toEqual(got.map((_, i) => i + 1))
    await reader.close()
  })

  it('a block that passes its checksum but does not decompress is WAL_CORRUPT at open, and nothing is cut', async () => {
    const dir = tempDir()
    await writeLog(dir, 'deflate')
    const file = segmentFiles(dir).at(-1)!
    const last = frames(file)
      .filter((f) => f.block)
      .at(-1)!
    // Garbage where the compressed bytes are, with a matching checksum: a writer's bug, not a torn write.
    rewriteFrame(file, last.at, (buf, _body, end) => buf.fill(0x5a, end - 20, end))
    const size = statSync(file).size
    const err = await rejection(Wal.open({ dir }))
    expect(isWalError(err) && err.code).toBe('WAL_CORRUPT')
    expect((err as Error).message).toMatch(/compressed block/)
    expect(statSync(file).size).toBe(size)
  })

  it('a block that declares a huge size, or another count than it holds, is WAL_CORRUPT without allocating it', async () => {
    for (const edit of ['size', 'count'] as const) {
      const dir = tempDir()
      await writeLog(dir, 'deflate', 4096)
      const file = segmentFiles(dir)[0]!
      const block = frames(file).find((f) => f.block)!
      rewriteFrame(file, block.at, (buf) => {
        const countAt = block.flagsAt + 2
        if (edit === 'count') {
          buf[countAt] = buf[countAt]! + 1 // one-byte count in these groups
        } else {
          // count (one byte), then the size varint: make it 2^35 (five bytes, same length as before?
          // no: rewrite in place as the largest value its bytes can hold).
          let p = countAt + 1
          while (buf[p]! >= 0x80) buf[p++] = 0xff
          buf[p] = 0x7f
        }
      })
      const reader = await Wal.openReader({ dir })
      const err = await rejection(collect(reader.records()))
      expect(isWalError(err) && err.code, edit).toBe('WAL_CORRUPT')
      expect((err as Error).message).toMatch(/compressed block|maxRecordSize/)
      await reader.close()
    }
  })

  it('a torn last block is cut whole at open: its group is all gone, every group before it is there', async () => {
    const dir = tempDir()
    await writeLog(dir, 'deflate')
    const before = await Wal.openReader({ dir })
    const all = await collect(before.records())
    await before.close()
    const file = segmentFiles(dir).at(-1)!
    const last = frames(file)
      .filter((f) => f.block)
      .at(-1)!
    const blockSeq = readFileSync(file).readUInt32LE(last.at + 8)
    // A crash in the middle of writing the last block: it, and any frame after it, are torn.
    truncateSync(file, last.at + Math.floor((FRAME_HEADER_SIZE + last.length) / 2))
    const wal = await Wal.open({ dir })
    expect(wal.recovery.truncatedBytes).toBeGreaterThan(0)
    const got = await collect(wal.records())
    expect(got).toEqual(all.slice(0, blockSeq - 1))
    expect(await wal.append({ type: 'after', data: order(1) })).toBe(blockSeq)
    await wal.close()
  })
})
