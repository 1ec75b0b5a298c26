import { createHash } from 'node:crypto'
import { bytesSerializer, type RecordShape, type Serializer } from '@waltz/core'
import { describe, expect, it } from 'vitest'
import { seededRandom } from '../../../test-support/random.mjs'
import { tempDir } from '../../../test-support/temp-dir.js'
import { fromSerializer, msgpackrCodec, SnapshotStore } from '../src/index.js'
import { accounts, randomTx } from './fixtures/accounts.mjs'
import { rejectsWith } from './helpers.js'

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
      const random = seededRandom(7)
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

  it('refuses, at save, a state that would load back as something else, naming where', async () => {
    class Order {
      constructor(readonly id: string) {}
    }
    class InsufficientFunds extends Error {}
    const cycle: Record<string, unknown> = { name: 'root' }
    cycle.self = { back: cycle }
    const cases: [unknown, RegExp][] = [
      [{ orders: [{ id: 1, onFill: () => 0 }] }, /state\.orders\[0\]\.onFill is a function/],
      [{ book: new Map([['o-1', new Order('o-1')]]) }, /state\.book\.get\(key 0\) is an instance of Order/],
      [{ seen: new Set([new Number(3)]) }, /state\.seen \(member 0\) is an instance of Number/],
      [{ cache: new WeakMap() }, /state\.cache is an instance of WeakMap/],
      [
        { last: new InsufficientFunds('no') },
        /state\.last is an instance of InsufficientFunds, an Error subclass/,
      ],
      [
        cycle,
        /^[^\n]{0,400}state(\.self\.back)+…\(976 more steps\)…(\.self\.back)+ nests 1000 levels deep: a cycle/,
      ],
      [{ tag: Symbol('x') }, /state\.tag is a symbol/],
    ]
    const store = await SnapshotStore.open<unknown>({ dir: tempDir(), codec: msgpackrCodec() })
    for (const [state, where] of cases) {
      const err = await rejectsWith(store.save(state, 1), 'SNAPSHOT_SERIALIZER_ERROR')
      expect(String(err)).toMatch(where)
    }
    expect(await store.loadLatest()).toBeUndefined()
    // What does round-trip is saved: shared references, null-prototype objects, built-in errors,
    // RegExps, undefined and NaN.
    const shared = { n: 1 }
    const fine = {
      a: shared,
      b: shared,
      bare: Object.assign(Object.create(null), { x: 1 }),
      err: new TypeError('t'),
      re: /x/g,
      u: undefined,
      nan: Number.NaN,
      bytes: new Float64Array([1.5]),
    }
    await store.save(fine, 2)
    const loaded = (await store.loadLatest())!.state as typeof fine
    expect(loaded).toMatchObject({ a: { n: 1 }, b: { n: 1 }, bare: { x: 1 }, re: /x/g })
    expect(loaded.err).toBeInstanceOf(TypeError)
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
  it("stores the state as the data of a 'snapshot' record, under '<serializer>:<type>'", () => {
    const codec = fromSerializer(bytesSerializer())
    expect(codec.name).toBe('waltz-bytes/1:snapshot')
    const state = new Uint8Array([9, 8, 7])
    const bytes = codec.encode(state)
    expect(bytes).toEqual(new Uint8Array([9, 8, 7])) // the data only: no type, no time
    expect(bytes).not.toBe(state) // bytesSerializer returns the data itself: the codec copies it
    state[0] = 0
    expect(codec.decode(bytes)).toEqual(new Uint8Array([9, 8, 7]))
  })

  it('accepts a typed record-union serializer and encodes the data under the given type', () => {
    type Rec = RecordShape<'snapshot', { n: number }> | RecordShape<'other', string>
    const seen: string[] = []
    const json: Serializer<Rec['type'], unknown, Rec> = {
      name: 'test-json/2',
      encode: (data, type) => {
        seen.push(type)
        return new TextEncoder().encode(JSON.stringify(data))
      },
      decode: (b, type) => {
        seen.push(type)
        return JSON.parse(new TextDecoder().decode(b)) as Rec['data']
      },
    }
    const codec = fromSerializer<{ n: number }>(json)
    expect(codec.decode(codec.encode({ n: 5 }))).toEqual({ n: 5 })
    const named = fromSerializer<string, 'other'>(json, 'other')
    expect(named.name).toBe('test-json/2:other')
    expect(named.decode(named.encode('x'))).toBe('x')
    expect(seen).toEqual(['snapshot', 'snapshot', 'other', 'other'])
  })

  it('refuses a snapshot of another type, or of the envelope-era codec, with SNAPSHOT_SERIALIZER_MISMATCH', async () => {
    const dir = tempDir()
    const writer = await SnapshotStore.open({ dir, codec: fromSerializer(bytesSerializer(), 'a') })
    await writer.save(new Uint8Array([1]), 1)
    const other = await SnapshotStore.open({ dir, codec: fromSerializer(bytesSerializer(), 'b') })
    await rejectsWith(other.loadLatest(), 'SNAPSHOT_SERIALIZER_MISMATCH')
    // Before core v2, fromSerializer stored a whole record under the serializer's bare name.
    const legacy = { name: 'waltz-bytes/1', encode: (s: Uint8Array) => s, decode: (b: Uint8Array) => b }
    const old = await SnapshotStore.open({ dir: tempDir(), codec: legacy })
    await old.save(new Uint8Array([1]), 1)
    const current = await SnapshotStore.open({ dir: old.dir, codec: fromSerializer(bytesSerializer()) })
    await rejectsWith(current.loadLatest(), 'SNAPSHOT_SERIALIZER_MISMATCH')
  })
})
