import { describe, expect, it } from 'vitest'
import { collect } from '../../../test-support/collect.js'
import { tempDir } from '../../../test-support/temp-dir.js'
import { bytesSerializer, isSerializerError, Wal } from '../src/index.js'

describe('bytesSerializer', () => {
  it('encodeInto writes the same bytes as encode, and asks for room when the target is too small', () => {
    const codec = bytesSerializer()
    const data = new Uint8Array([1, 2, 3, 4])
    const target = Buffer.alloc(64, 0xaa)
    const end = codec.encodeInto!(data, 'x', target, 5)
    expect(end).toBe(9)
    expect(target.subarray(5, end).equals(Buffer.from(codec.encode(data, 'x')))).toBe(true)
    expect(target[4]).toBe(0xaa)
    expect(codec.encodeInto!(data, 'x', Buffer.alloc(8), 5)).toBe(-1)
  })

  it('rejects data that is not a Uint8Array with a SerializerError', () => {
    const codec = bytesSerializer()
    const bad = 'no' as unknown as Uint8Array
    for (const call of [
      () => codec.encode(bad, 'x'),
      () => codec.encodeInto!(bad, 'x', Buffer.alloc(8), 0),
    ]) {
      let err: unknown
      try {
        call()
      } catch (e) {
        err = e
      }
      expect(isSerializerError(err, 'SERIALIZER_ENCODE_FAILED')).toBe(true)
      expect(err).toMatchObject({ serializer: 'waltz-bytes/1', type: 'x' })
    }
  })
})

describe('the record envelope (core)', () => {
  it('round-trips type, time, key and headers exactly; absent stays absent', async () => {
    const wal = await Wal.open({ dir: tempDir() })
    const types = Array.from({ length: 20 }, (_, i) => (i % 2 ? `type-${i}` : `тип-${i}-🎵`))
    const appended = types.map((type, i) => ({
      type,
      time: 1_700_000_000_000 + i,
      data: new Uint8Array([i]),
      ...(i % 3 === 0 ? { key: `stream-${i}-ü` } : {}),
      ...(i % 4 === 0 ? { headers: { 'correlation-id': `c${i}`, ['__proto__']: 'p', empty: '' } } : {}),
      ...(i === 5 ? { headers: {}, key: '' } : {}),
    }))
    for (const r of appended) await wal.append(r)
    const read = await collect(wal.records())
    expect(read.map(({ seq: _, ...r }) => r)).toEqual(appended)
    for (const [i, r] of read.entries()) {
      expect('key' in r).toBe(i % 3 === 0 || i === 5)
      expect('headers' in r).toBe(i % 4 === 0 || i === 5)
    }
    expect(Object.keys(read[0]!.headers!)).toEqual(['correlation-id', '__proto__', 'empty'])
    await wal.close()
  })

  it('rejects a bad envelope with WAL_INVALID_ARGUMENT, using no seq', async () => {
    const wal = await Wal.open({ dir: tempDir() })
    const data = new Uint8Array(1)
    const bad: unknown[] = [
      { type: 'x', data, time: Number.NaN },
      { type: 'x', data, time: 'yesterday' },
      { type: 'x', data, time: -1 },
      { type: 'x', data, time: 1.5 },
      { type: 'x', data, time: 2 ** 48 },
      { type: 'x'.repeat(256), data },
      { type: 7, data },
      { type: 'x', data, key: 5 },
      { type: 'x', data, key: 'k'.repeat(65_536) },
      { type: 'x', data, headers: { a: 1 } },
      { type: 'x', data, headers: 'a=b' },
      null,
    ]
    for (const record of bad) {
      await expect(wal.append(record as never)).rejects.toMatchObject({ code: 'WAL_INVALID_ARGUMENT' })
    }
    await expect(wal.appendBatch(undefined as never)).rejects.toMatchObject({ code: 'WAL_INVALID_ARGUMENT' })
    expect(await wal.append({ type: '', data, time: 0 })).toBe(1)
    await wal.close()
  })
})
