import { describe, expect, it } from 'vitest'
import { collect } from '../../../test-support/collect.js'
import { payloadFor } from '../../../test-support/payload.mjs'
import { tempDir } from '../../../test-support/temp-dir.js'
import { type RawRecord, type Serializer, Wal } from '../src/index.js'

describe('tail', () => {
  it('yields stored records from `from`, then new ones as they are appended, until aborted', async () => {
    const wal = await Wal.open({ dir: tempDir(), sync: 'always', segmentSize: 1024 })
    for (let i = 1; i <= 5; i++) await wal.append({ type: 'old', data: payloadFor(i, 100) })
    const controller = new AbortController()
    const seen: number[] = []
    const done = (async () => {
      for await (const r of wal.tail({ from: 3, signal: controller.signal })) {
        seen.push(r.seq)
        if (r.seq === 40) controller.abort()
      }
    })()
    for (let i = 6; i <= 40; i++) {
      await wal.append({ type: 'new', data: payloadFor(i, 100) })
      if (i % 7 === 0) await new Promise((r) => setTimeout(r, 5))
    }
    await done
    expect(seen).toEqual(Array.from({ length: 38 }, (_, i) => i + 3))
    expect(wal.metrics().rotations).toBeGreaterThan(2) // the tail followed across segments
    await wal.close()
  })

  it('defaults to the next record and ends when the WAL closes', async () => {
    const wal = await Wal.open({ dir: tempDir() })
    await wal.append({ type: 'before', data: new Uint8Array(1) })
    const seen: string[] = []
    const done = (async () => {
      for await (const r of wal.tail()) seen.push(r.type)
    })()
    await new Promise((r) => setTimeout(r, 10))
    await wal.appendBatch([
      { type: 'a', data: new Uint8Array(1) },
      { type: 'b', data: new Uint8Array(1) },
    ])
    await new Promise((r) => setTimeout(r, 10))
    await wal.close()
    await done
    expect(seen).toEqual(['a', 'b'])
  })

  it('a read-only instance tails records another writer appends', async () => {
    const dir = tempDir()
    const writer = await Wal.open({ dir, sync: 'os-cache', segmentSize: 2048 })
    await writer.append({ type: 'w', data: payloadFor(1, 50) })
    const reader = await Wal.openReader({ dir })
    const controller = new AbortController()
    const seen: number[] = []
    const done = (async () => {
      for await (const r of reader.tail({ from: 1, signal: controller.signal })) {
        seen.push(r.seq)
        if (r.seq === 60) controller.abort()
      }
    })()
    for (let i = 2; i <= 60; i++) await writer.append({ type: 'w', data: payloadFor(i, 50) })
    await done
    expect(seen).toEqual(Array.from({ length: 60 }, (_, i) => i + 1))
    await reader.close()
    await writer.close()
  })
})

describe('tailRaw, appendRaw and firstSeq (replication)', () => {
  it('tailRaw yields records as stored; a replica appending them with appendRaw from firstSeq matches', async () => {
    const source = await Wal.open({ dir: tempDir(), segmentSize: 1024 })
    for (let i = 1; i <= 30; i++) {
      await source.append({
        type: `t${i}`,
        time: i,
        data: payloadFor(i, 60),
        ...(i % 2 ? { key: `k${i % 5}` } : {}),
        ...(i % 3 ? {} : { headers: { n: String(i) } }),
      })
    }
    await source.truncateBefore(20)
    const from = source.firstSeq
    expect(from).toBeGreaterThan(1)
    // A data-only pass-through serializer carrying the source's name: appendRaw bypasses it anyway.
    const passThrough: Serializer<string, Uint8Array> = {
      name: source.serializerName,
      encode: (data) => data,
      decode: (bytes) => bytes,
    }
    const replicaDir = tempDir()
    const replica = await Wal.open({ dir: replicaDir, serializer: passThrough, firstSeq: from })
    const controller = new AbortController()
    const batch: RawRecord[] = []
    for await (const record of source.tailRaw({ from, signal: controller.signal })) {
      batch.push(record)
      if (batch.length === 3 || record.seq === source.lastSeq) {
        expect(await replica.appendRaw(batch.splice(0))).toBe(record.seq)
      }
      if (record.seq === source.lastSeq) controller.abort()
    }
    await expect(
      replica.appendRaw([{ seq: 1, time: 0, type: 'x', data: new Uint8Array() }]),
    ).rejects.toMatchObject({
      code: 'WAL_INVALID_ARGUMENT',
    })
    await replica.close()
    const reopened = await Wal.open({ dir: replicaDir })
    const copied = await collect(reopened.records())
    const original = await collect(source.records())
    expect(copied).toEqual(original)
    expect(copied.some((r) => r.key !== undefined && r.headers !== undefined)).toBe(true)
    expect(reopened.firstSeq).toBe(from)
    await reopened.close()
    await source.close()
    await expect(Wal.open({ dir: tempDir(), firstSeq: 0 })).rejects.toMatchObject({
      code: 'WAL_INVALID_ARGUMENT',
    })
  })
})

describe('tail edge cases', () => {
  it('a tail starting beyond the end follows across rotations without a false gap', async () => {
    const wal = await Wal.open({ dir: tempDir(), sync: 'always', segmentSize: 600 })
    for (let i = 1; i <= 5; i++) await wal.append({ type: 'a', data: payloadFor(i, 100) })
    const controller = new AbortController()
    const seen: number[] = []
    const done = (async () => {
      for await (const r of wal.tail({ from: wal.lastSeq + 4, signal: controller.signal })) {
        seen.push(r.seq)
        if (r.seq === 30) controller.abort()
      }
    })()
    for (let i = 6; i <= 30; i++) await wal.append({ type: 'a', data: payloadFor(i, 100) })
    await done
    expect(seen).toEqual(Array.from({ length: 22 }, (_, i) => i + 9))
    expect(wal.metrics().rotations).toBeGreaterThan(3)
    await wal.close()
  })

  it('several read-only tails polling together keep following across rotations and retention', async () => {
    const dir = tempDir()
    const writer = await Wal.open({ dir, segmentSize: 1024 })
    await writer.append({ type: 'w', data: payloadFor(1, 100) })
    await writer.flush()
    const reader = await Wal.openReader({ dir })
    const controllers = [0, 1, 2].map(() => new AbortController())
    const seen: number[][] = [[], [], []]
    const tails = controllers.map(async (controller, k) => {
      for await (const r of reader.tail({ from: 1, signal: controller.signal })) {
        seen[k]!.push(r.seq)
        if (r.seq === 80) controller.abort()
      }
    })
    for (let i = 2; i <= 80; i++) {
      await writer.append({ type: 'w', data: payloadFor(i, 100) })
      if (i % 20 === 0) {
        await writer.flush()
        await new Promise((r) => setTimeout(r, 250))
        await writer.truncateBefore(i - 10)
      }
    }
    await writer.flush()
    await Promise.all(tails)
    for (const s of seen) expect(s).toEqual(Array.from({ length: 80 }, (_, i) => i + 1))
    // The reader's view of retention follows the directory (as of its last poll).
    expect(reader.firstSeq).toBeGreaterThan(1)
    expect(reader.firstSeq).toBeLessThanOrEqual(writer.firstSeq)
    await reader.close()
    await writer.close()
  }, 20_000)
})
