import { readdirSync, statSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { collect } from '../../../test-support/collect.js'
import { payloadFor } from '../../../test-support/payload.mjs'
import { tempDir } from '../../../test-support/temp-dir.js'
import { type Serializer, Wal } from '../src/index.js'

describe('append and replay', () => {
  it('assigns seqs from 1 and replays every record with its bytes', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir })
    const sizes = [0, 1, 2, 100, 4095, 4096, 65_537, 1024 * 1024]
    for (let i = 0; i < sizes.length; i++) {
      const seq = await wal.append({ type: `t${i}`, time: 1000 + i, data: payloadFor(i + 1, sizes[i]!) })
      expect(seq).toBe(i + 1)
    }
    const records = await collect(wal.records())
    expect(records.map((r) => r.seq)).toEqual(sizes.map((_, i) => i + 1))
    for (const r of records) {
      expect(r.type).toBe(`t${r.seq - 1}`)
      expect(r.time).toBe(999 + r.seq)
      expect(Buffer.from(r.data).equals(Buffer.from(payloadFor(r.seq, sizes[r.seq - 1]!)))).toBe(true)
    }
    await wal.close()
  })

  it('continues the sequence after reopen', async () => {
    const dir = tempDir()
    let wal = await Wal.open({ dir })
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => wal.append({ type: 'a', data: payloadFor(i, 10) })),
    )
    await wal.close()
    wal = await Wal.open({ dir })
    expect(wal.lastSeq).toBe(50)
    expect(await wal.append({ type: 'b', data: payloadFor(51, 10) })).toBe(51)
    let count = 0
    const n = await wal.replayFrom(0, (r) => {
      count++
      expect(r.seq).toBe(count)
    })
    expect(n).toBe(51)
    await wal.close()
  })

  it('defaults time to Date.now()', async () => {
    const wal = await Wal.open({ dir: tempDir() })
    const before = Date.now()
    await wal.append({ type: 'x', data: new Uint8Array([1]) })
    const [r] = await collect(wal.records())
    expect(r!.time).toBeGreaterThanOrEqual(before)
    expect(r!.time).toBeLessThanOrEqual(Date.now())
    await wal.close()
  })

  it('replayFrom(seq) yields only records after seq; records({from,to}) is inclusive', async () => {
    const wal = await Wal.open({ dir: tempDir(), segmentSize: 2048 })
    for (let i = 1; i <= 300; i++) await wal.append({ type: 'r', data: payloadFor(i, 30) })
    expect(wal.metrics().segments).toBeGreaterThan(5)
    const seen: number[] = []
    expect(await wal.replayFrom(250, (r) => void seen.push(r.seq))).toBe(50)
    expect(seen[0]).toBe(251)
    const some = await collect(wal.records({ from: 100, to: 120 }))
    expect(some.map((r) => r.seq)).toEqual(Array.from({ length: 21 }, (_, i) => 100 + i))
    await wal.close()
  })

  it('records({ filter }) yields the records it keeps and decodes no other, across segments', async () => {
    let decoded = 0
    const serializer: Serializer<string, string> = {
      name: 'counting/1',
      encode: (d: string) => Buffer.from(d),
      decode: (b: Uint8Array) => {
        decoded++
        return Buffer.from(b).toString()
      },
    }
    const wal = await Wal.open({ dir: tempDir(), segmentSize: 2048, serializer })
    for (let i = 1; i <= 300; i++) {
      await wal.append({ type: i % 3 === 0 ? 'fizz' : 'n', key: `k${i % 7}`, data: `r${i}` })
    }
    const keep = (type: string, key: string | undefined) => type === 'fizz' && key === 'k1'
    const kept = await collect(wal.records({ from: 10, to: 290, filter: keep }))
    const expected = Array.from({ length: 300 }, (_, i) => i + 1).filter(
      (i) => i >= 10 && i <= 290 && i % 3 === 0 && i % 7 === 1,
    )
    expect(kept.map((r) => [r.seq, r.data])).toEqual(expected.map((i) => [i, `r${i}`]))
    expect(decoded).toBe(expected.length)
    // Raw reads take the filter too; a filter that is not a function is refused.
    expect((await collect(wal.recordsRaw({ filter: keep }))).map((r) => r.seq)).toEqual(
      Array.from({ length: 300 }, (_, i) => i + 1).filter((i) => i % 3 === 0 && i % 7 === 1),
    )
    await expect(collect(wal.records({ filter: 'fizz' as never }))).rejects.toMatchObject({
      code: 'WAL_INVALID_ARGUMENT',
    })
    await wal.close()
  })

  it('appendBatch assigns consecutive seqs and resolves to the last', async () => {
    const wal = await Wal.open({ dir: tempDir() })
    await wal.append({ type: 'a', data: new Uint8Array(1) })
    const last = await wal.appendBatch([
      { type: 'b', data: new Uint8Array(2) },
      { type: 'c', data: new Uint8Array(3) },
      { type: 'd', data: new Uint8Array(4) },
    ])
    expect(last).toBe(4)
    expect((await collect(wal.records())).map((r) => r.type)).toEqual(['a', 'b', 'c', 'd'])
    await expect(wal.appendBatch([])).rejects.toMatchObject({ code: 'WAL_INVALID_ARGUMENT' })
    await wal.close()
  })

  it('rejects a record over maxRecordSize with a typed error, using no seq', async () => {
    const wal = await Wal.open({ dir: tempDir(), maxRecordSize: 1000 })
    await expect(wal.append({ type: 'big', data: new Uint8Array(2000) })).rejects.toMatchObject({
      code: 'WAL_RECORD_TOO_LARGE',
    })
    expect(await wal.append({ type: 'ok', data: new Uint8Array(10) })).toBe(1)
    await wal.close()
  })

  it('round-trips a record of exactly maxRecordSize encoded bytes', async () => {
    const max = 256 * 1024
    const wal = await Wal.open({ dir: tempDir(), maxRecordSize: max })
    // The body: batch remaining and sync distance (one byte each here), flags, u48 time, u8 type
    // length, 'max', then the data.
    const overhead = 1 + 1 + 1 + 6 + 1 + 3
    const data = payloadFor(7, max - overhead)
    await wal.append({ type: 'max', data })
    await expect(wal.append({ type: 'max', data: payloadFor(7, max - overhead + 1) })).rejects.toMatchObject({
      code: 'WAL_RECORD_TOO_LARGE',
    })
    const [r] = await collect(wal.records())
    expect(Buffer.from(r!.data).equals(Buffer.from(data))).toBe(true)
    await wal.close()
  })

  it('names segment files by their zero-padded first seq', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir, segmentSize: 1024 })
    for (let i = 1; i <= 40; i++) await wal.append({ type: 'r', data: payloadFor(i, 100) })
    await wal.close()
    const names = readdirSync(dir).filter((n) => n.endsWith('.wal'))
    expect(names[0]).toBe('00000000000000000001.wal')
    expect(names.length).toBeGreaterThan(3)
    for (const n of names) expect(n).toMatch(/^\d{20}\.wal$/)
    // Each segment stays within segmentSize (a single record larger than it would get its own).
    for (const n of names) expect(statSync(`${dir}/${n}`).size).toBeLessThanOrEqual(1024)
  })
})
