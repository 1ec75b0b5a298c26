import { isSerializerError, isWalError, type SerializerError, Wal } from '@waltz/core'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { expectSerializerError, type SerializerErrorShape } from '../../../test-support/serializer-error.js'
import { tempDir } from '../../../test-support/temp-dir.js'
import { JSON_SERIALIZER_NAME, jsonSerializer } from '../src/index.js'
import { orderSchemas } from './fixtures.js'

const encoder = new TextEncoder()
const serializer = jsonSerializer({ schemas: orderSchemas })

function caught(fn: () => unknown): SerializerErrorShape {
  return expectSerializerError(fn, JSON_SERIALIZER_NAME)
}

describe('jsonSerializer', () => {
  it('is named waltz-json/2 and writes the data and its schema version as readable JSON', () => {
    expect(serializer.name).toBe('waltz-json/2')
    expect(serializer.name).toBe(JSON_SERIALIZER_NAME)
    const bytes = serializer.encode({ orderId: 'o', reason: 'r' }, 'OrderCancelled')
    expect(new TextDecoder().decode(bytes)).toBe('{"v":1,"data":{"orderId":"o","reason":"r"}}')
  })

  it('stores undefined data without a data member, and reads it back', () => {
    const s = jsonSerializer({ schemas: { Tick: z.undefined(), Any: z.any() } })
    expect(new TextDecoder().decode(s.encode(undefined, 'Tick'))).toBe('{"v":1}')
    expect(s.decode(s.encode(undefined, 'Tick'), 'Tick')).toBeUndefined()
    expect(s.decode(encoder.encode('{"v":1,"data":null}'), 'Any')).toBeNull()
  })

  it('rejects invalid data on encode, naming the type and the field', () => {
    const err = caught(() =>
      serializer.encode({ orderId: 'o', side: 'buy', price: 1.5, quantity: 0 }, 'OrderPlaced'),
    )
    expect(err.code).toBe('SERIALIZER_VALIDATION_FAILED')
    expect(err.type).toBe('OrderPlaced')
    expect(err.message).toContain('data.price')
    expect(err.message).toContain('data.quantity')
  })

  it('rejects values JSON would silently change', () => {
    const loose = jsonSerializer({ schemas: { Any: z.any() } })
    const cases: [unknown, string][] = [
      [{ n: 1n }, 'bigint'],
      [{ at: new Date(0) }, 'Date'],
      [{ m: new Map() }, 'Map'],
      [{ s: new Set() }, 'Set'],
      [{ b: new Uint8Array(1) }, 'Uint8Array'],
      [{ x: Number.NaN }, 'NaN'],
      [{ x: Number.POSITIVE_INFINITY }, 'Infinity'],
      [[1, undefined], 'undefined'],
      [{ f: () => 1 }, 'function'],
    ]
    for (const [data, kind] of cases) {
      const err = caught(() => loose.encode(data, 'Any'))
      expect(err.code).toBe('SERIALIZER_ENCODE_FAILED')
      expect(err.type).toBe('Any')
      expect(err.message).toContain(kind)
    }
    const topLevel = caught(() => loose.encode(1n, 'Any'))
    expect(topLevel.code).toBe('SERIALIZER_ENCODE_FAILED')
    expect(topLevel.message).toContain('the value is a bigint')
  })

  it('omits undefined object properties, as JSON does', () => {
    const s = jsonSerializer({ schemas: { T: z.object({ a: z.string().optional() }) } })
    expect(s.decode(s.encode({ a: undefined }, 'T'), 'T')).toEqual({})
  })

  it('carries a Date through a zod codec', () => {
    const at = new Date('2024-05-01T12:00:00.123Z')
    const data = { tradeId: 't', price: 1, quantity: 1, at }
    const bytes = serializer.encode(data, 'TradeExecuted')
    expect(new TextDecoder().decode(bytes)).toContain('"at":"2024-05-01T12:00:00.123Z"')
    expect(serializer.decode(bytes, 'TradeExecuted')).toEqual(data)
  })

  it('wraps a unidirectional transform failing on encode', () => {
    const s = jsonSerializer({ schemas: { T: z.string().transform((v) => v.length) } })
    expect(caught(() => s.encode(3, 'T')).code).toBe('SERIALIZER_ENCODE_FAILED')
  })

  it('fails on decode when a stored record no longer matches its schema, naming the type', () => {
    const stored = encoder.encode('{"v":1,"data":{"orderId":"o","side":"hold","price":1,"quantity":1}}')
    const err = caught(() => serializer.decode(stored, 'OrderPlaced'))
    expect(err.code).toBe('SERIALIZER_VALIDATION_FAILED')
    expect(err.type).toBe('OrderPlaced')
    expect(err.message).toMatch(/stored OrderPlaced data does not match its schema: data.side/)
  })

  it('names an unknown type on decode', () => {
    const err = caught(() => serializer.decode(encoder.encode('{"v":1,"data":{}}'), 'OrderAmended' as never))
    expect(err.code).toBe('SERIALIZER_UNKNOWN_TYPE')
    expect(err.type).toBe('OrderAmended')
  })

  it('rejects JSON that is not {"v","data"} with a valid version, and invalid UTF-8, naming the type', () => {
    for (const text of [
      '[]',
      'null',
      '1',
      '"text"',
      '{}',
      '{"data":{"text":"t"}}',
      '{"v":0,"data":{"text":"t"}}',
      '{"v":1.5,"data":{"text":"t"}}',
      '{"v":"1","data":{"text":"t"}}',
    ]) {
      const err = caught(() => serializer.decode(encoder.encode(text), 'Note'))
      expect(err.code).toBe('SERIALIZER_DECODE_FAILED')
      expect(err.type).toBe('Note')
    }
    expect(caught(() => serializer.decode(new Uint8Array([0x22, 0xff, 0x22]), 'Note')).code).toBe(
      'SERIALIZER_DECODE_FAILED',
    )
  })

  it('does not resolve Object.prototype names as types', () => {
    for (const type of ['toString', 'constructor', '__proto__']) {
      expect(caught(() => serializer.encode({} as never, type as never)).code).toBe('SERIALIZER_UNKNOWN_TYPE')
      expect(caught(() => serializer.decode(encoder.encode('{"v":1,"data":{}}'), type as never)).code).toBe(
        'SERIALIZER_UNKNOWN_TYPE',
      )
    }
  })

  it('validates its options', () => {
    expect(() => jsonSerializer({ schemas: {} })).toThrow(/schemas must not be empty/)
    expect(() => jsonSerializer({ schemas: { T: z.any() }, versions: { T: 0 } })).toThrow(/positive integer/)
    // The schemas map passed without `{ schemas }`, no options, a schema that is not zod: typed errors.
    const wrong = [
      () => jsonSerializer({ T: z.any() } as never),
      () => jsonSerializer(undefined as never),
      () => jsonSerializer({ schemas: { T: { type: 'string' } } } as never),
    ]
    for (const call of wrong) expect(caught(call).code).toBe('SERIALIZER_VALIDATION_FAILED')
    expect(caught(wrong[0]!).message).toMatch(/needs \{ schemas \}/)
    expect(caught(wrong[2]!).message).toMatch(/the schema of T is not a zod schema/)
  })
})

describe('jsonSerializer schema evolution', () => {
  // v1 stored a single `qty` and a price in whole units; v2 has `quantity` and `price` in cents.
  const v1 = jsonSerializer({
    schemas: { OrderPlaced: z.object({ orderId: z.string(), qty: z.int(), price: z.int() }) },
  })
  const v2 = jsonSerializer({
    schemas: { OrderPlaced: z.object({ orderId: z.string(), quantity: z.int(), priceCents: z.int() }) },
    versions: { OrderPlaced: 2 },
    upcast: {
      OrderPlaced: (data, { version }) => {
        expect(version).toBe(1)
        const old = data as { orderId: string; qty: number; price: number }
        return { orderId: old.orderId, quantity: old.qty, priceCents: old.price * 100 }
      },
    },
  })

  it('reads records written under v1 through the upcast hook, and v2 records directly', () => {
    const old = v1.encode({ orderId: 'o-1', qty: 3, price: 20 }, 'OrderPlaced')
    expect(v2.decode(old, 'OrderPlaced')).toEqual({ orderId: 'o-1', quantity: 3, priceCents: 2000 })
    const current = v2.encode({ orderId: 'o-2', quantity: 1, priceCents: 5 }, 'OrderPlaced')
    expect(new TextDecoder().decode(current)).toBe(
      '{"v":2,"data":{"orderId":"o-2","quantity":1,"priceCents":5}}',
    )
    expect(v2.decode(current, 'OrderPlaced')).toEqual({ orderId: 'o-2', quantity: 1, priceCents: 5 })
  })

  it('validates what the upcast hook returns', () => {
    const broken = jsonSerializer({
      schemas: { OrderPlaced: z.object({ orderId: z.string(), quantity: z.int(), priceCents: z.int() }) },
      versions: { OrderPlaced: 2 },
      upcast: { OrderPlaced: (data) => data as never },
    })
    const old = v1.encode({ orderId: 'o-1', qty: 3, price: 20 }, 'OrderPlaced')
    expect(caught(() => broken.decode(old, 'OrderPlaced')).code).toBe('SERIALIZER_VALIDATION_FAILED')
  })

  it('fails typed when the hook throws, is missing, or the record is newer', () => {
    const old = v1.encode({ orderId: 'o-1', qty: 3, price: 20 }, 'OrderPlaced')
    const schemas = { OrderPlaced: z.object({ orderId: z.string() }) }
    const throwing = jsonSerializer({
      schemas,
      versions: { OrderPlaced: 2 },
      upcast: {
        OrderPlaced: () => {
          throw new Error('boom')
        },
      },
    })
    const err = caught(() => throwing.decode(old, 'OrderPlaced'))
    expect(err.code).toBe('SERIALIZER_UPCAST_FAILED')
    expect((err.cause as Error).message).toBe('boom')
    const noHook = jsonSerializer({ schemas, versions: { OrderPlaced: 2 } })
    expect(caught(() => noHook.decode(old, 'OrderPlaced')).code).toBe('SERIALIZER_UPCAST_FAILED')
    const newer = v2.encode({ orderId: 'o-2', quantity: 1, priceCents: 5 }, 'OrderPlaced')
    expect(caught(() => v1.decode(newer, 'OrderPlaced')).code).toBe('SERIALIZER_DECODE_FAILED')
  })

  it('replays a WAL written with v1 through v2 with upcasting', async () => {
    const dir = tempDir()
    const writer = await Wal.open({ dir, serializer: v1 })
    await writer.append({
      type: 'OrderPlaced',
      key: 'o-1',
      data: { orderId: 'o-1', qty: 3, price: 20 },
      time: 10,
    })
    await writer.appendBatch([
      { type: 'OrderPlaced', headers: { v: '1' }, data: { orderId: 'o-2', qty: 1, price: 5 }, time: 11 },
    ])
    await writer.close()
    const reader = await Wal.open({ dir, serializer: v2 })
    const seen: unknown[] = []
    const count = await reader.replayFrom(0, (record) => {
      seen.push(record)
    })
    await reader.close()
    expect(count).toBe(2)
    expect(seen).toEqual([
      {
        seq: 1,
        type: 'OrderPlaced',
        time: 10,
        key: 'o-1',
        data: { orderId: 'o-1', quantity: 3, priceCents: 2000 },
      },
      {
        seq: 2,
        type: 'OrderPlaced',
        time: 11,
        headers: { v: '1' },
        data: { orderId: 'o-2', quantity: 1, priceCents: 500 },
      },
    ])
  })

  it('surfaces a record that no longer matches as WAL_SERIALIZER_ERROR with seq and our error as cause', async () => {
    const dir = tempDir()
    const writer = await Wal.open({ dir, serializer: v1 })
    await writer.append({ type: 'OrderPlaced', data: { orderId: 'o-1', qty: 3, price: 20 }, time: 10 })
    await writer.close()
    const strict = jsonSerializer({
      schemas: { OrderPlaced: z.object({ orderId: z.string(), quantity: z.int() }) },
    })
    const reader = await Wal.open({ dir, serializer: strict })
    let caughtErr: unknown
    try {
      await reader.replayFrom(0, () => {})
    } catch (err) {
      caughtErr = err
    } finally {
      await reader.close()
    }
    expect(isWalError(caughtErr, 'WAL_SERIALIZER_ERROR')).toBe(true)
    expect((caughtErr as { seq?: number }).seq).toBe(1)
    const cause = (caughtErr as Error).cause
    expect(isSerializerError(cause, 'SERIALIZER_VALIDATION_FAILED')).toBe(true)
    expect((cause as SerializerError).serializer).toBe(JSON_SERIALIZER_NAME)
    expect((cause as SerializerError).type).toBe('OrderPlaced')
  })
})
