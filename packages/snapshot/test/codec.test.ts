import { createHash } from 'node:crypto'
import { bytesSerializer, type EncodableRecord, type Serializer } from '@waltz/core'
import { describe, expect, it } from 'vitest'
import { fromSerializer, msgpackrCodec } from '../src/index.js'
import { accounts, prng, randomTx } from './fixtures/accounts.mjs'

const hash = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

describe('msgpackrCodec', () => {
  it('round-trips Maps (any keys), Sets, nested objects, arrays, typed arrays, Dates and bigints', () => {
    const state = {
      balances: new Map<unknown, unknown>([
        ['alice', { balance: 10, tags: new Set(['vip']) }],
        [42, { balance: -3n, tags: new Set() }],
      ]),
      list: [1, 2.5, 'x', null, true, { deep: { deeper: [new Uint8Array([1, 2, 3])] } }],
      when: new Date(1_700_000_000_000),
      big: 2n ** 70n,
      empty: {},
    }
    const codec = msgpackrCodec<typeof state>()
    const decoded = codec.decode(codec.encode(state))
    expect(decoded).toEqual(state)
    expect(decoded.balances).toBeInstanceOf(Map)
    expect(Object.getPrototypeOf(decoded.list[5])).toBe(Object.prototype)
  })

  it('is deterministic: equal states give byte-identical encodings, also from a fresh codec', () => {
    const build = () => {
      const random = prng(7)
      let state = accounts.initial()
      for (let seq = 1; seq <= 2000; seq++)
        state = accounts.apply(state, { seq, time: 0, ...randomTx(random) })
      return state
    }
    const a = msgpackrCodec().encode(build())
    const codec = msgpackrCodec()
    codec.encode(new Map([['warm', { up: 1 }]]))
    expect(hash(codec.encode(build()))).toBe(hash(a))
    expect(hash(codec.encode(codec.decode(a)))).toBe(hash(a))
  })

  it('returns bytes that later encodes do not overwrite', () => {
    const codec = msgpackrCodec()
    const first = codec.encode({ a: 1 })
    const copy = Uint8Array.from(first)
    for (let i = 0; i < 1000; i++) codec.encode({ b: i, pad: 'x'.repeat(100) })
    expect(Buffer.compare(first, copy)).toBe(0)
  })
})

describe('fromSerializer', () => {
  it('stores the state as a { type: "snapshot", time: 0 } record of any WAL serializer', () => {
    const codec = fromSerializer(bytesSerializer())
    expect(codec.name).toBe('waltz-bytes/1')
    const bytes = codec.encode(new Uint8Array([9, 8, 7]))
    expect(bytesSerializer().decode(bytes)).toEqual({
      type: 'snapshot',
      time: 0,
      data: new Uint8Array([9, 8, 7]),
    })
    expect(codec.decode(bytes)).toEqual(new Uint8Array([9, 8, 7]))
    expect(hash(codec.encode(new Uint8Array([9, 8, 7])))).toBe(hash(bytes))
  })

  it('accepts a typed record-union serializer and rejects records of another type', () => {
    type Rec = EncodableRecord<'snapshot', { n: number }> | EncodableRecord<'other', string>
    const json: Serializer<Rec['type'], unknown, Rec> = {
      name: 'test-json/1',
      encode: (r) => new TextEncoder().encode(JSON.stringify(r)),
      decode: (b) => JSON.parse(new TextDecoder().decode(b)) as Rec,
    }
    const codec = fromSerializer<{ n: number }>(json)
    expect(codec.decode(codec.encode({ n: 5 }))).toEqual({ n: 5 })
    const other = json.encode({ type: 'other', time: 0, data: 'x' })
    expect(() => codec.decode(other)).toThrow(/expected a 'snapshot' record, got 'other'/)
    const named = fromSerializer<string, 'other'>(json, 'other')
    expect(named.decode(other)).toBe('x')
  })
})
