import type { AppendInput, RecordShape, Serializer, WalRecordOf } from '@waltz/core'
import { Wal } from '@waltz/core'
import { describe, expectTypeOf, it } from 'vitest'
import * as api from '../src/index.js'
import { binarySerializer, type RecordOf } from '../src/index.js'

type Events = { OrderPlaced: { orderId: string; price: bigint }; OrderCancelled: { orderId: string } }

describe('binarySerializer types', () => {
  it('types records by the event map', () => {
    const serializer = binarySerializer<Events>()
    expectTypeOf(serializer).toEqualTypeOf<
      Serializer<'OrderPlaced' | 'OrderCancelled', Events[keyof Events], RecordOf<Events>>
    >()
    expectTypeOf<RecordOf<Events>>().toEqualTypeOf<
      | RecordShape<'OrderPlaced', Events['OrderPlaced']>
      | RecordShape<'OrderCancelled', Events['OrderCancelled']>
    >()
    expectTypeOf<{ type: 'OrderPlaced'; data: { orderId: string; price: bigint } }>().toExtend<
      AppendInput<RecordOf<Events>>
    >()
    expectTypeOf<{
      type: 'OrderPlaced'
      data: { orderId: string; price: bigint }
      key: string
      headers: { 'correlation-id': string }
    }>().toExtend<AppendInput<RecordOf<Events>>>()
    expectTypeOf<{ type: 'OrderPlaced'; data: { orderId: string } }>().not.toExtend<
      AppendInput<RecordOf<Events>>
    >()
    expectTypeOf(serializer.encode).parameters.toEqualTypeOf<
      [Events[keyof Events], 'OrderPlaced' | 'OrderCancelled']
    >()
    // @ts-expect-error no such record type
    serializer.decode(new Uint8Array(), 'OrderAmended')
  })

  it('narrows data by type on the records of a WAL', async () => {
    const wal = await Wal.open({ dir: '/tmp/never-opened', serializer: binarySerializer<Events>() })
    await wal.append({ type: 'OrderPlaced', key: 'o', data: { orderId: 'o', price: 1n } })
    await wal.append({ type: 'OrderCancelled', headers: { by: 'user' }, data: { orderId: 'o' } })
    // @ts-expect-error price must be a bigint
    await wal.append({ type: 'OrderPlaced', data: { orderId: 'o', price: 1 } })
    // @ts-expect-error OrderCancelled's data under OrderPlaced
    await wal.append({ type: 'OrderPlaced', data: { orderId: 'o' } })
    // @ts-expect-error no such record type
    await wal.append({ type: 'OrderAmended', data: { orderId: 'o' } })
    // @ts-expect-error header values are strings
    await wal.append({ type: 'OrderCancelled', headers: { attempt: 1 }, data: { orderId: 'o' } })
    await wal.replayFrom(0, (record) => {
      expectTypeOf(record).toEqualTypeOf<WalRecordOf<RecordOf<Events>>>()
      expectTypeOf(record.key).toEqualTypeOf<string | undefined>()
      if (record.type === 'OrderPlaced') expectTypeOf(record.data.price).toEqualTypeOf<bigint>()
      else expectTypeOf(record.data).toEqualTypeOf<{ orderId: string }>()
    })
  })

  it('accepts any type and data without an event map', () => {
    const serializer = binarySerializer()
    expectTypeOf(serializer.decode(new Uint8Array(), 'anything')).toEqualTypeOf<unknown>()
    expectTypeOf(serializer.encode).parameters.toEqualTypeOf<[unknown, string]>()
  })

  it("exports no error class of its own: it throws core's SerializerError", () => {
    expectTypeOf(api).not.toHaveProperty('BinarySerializerError')
    expectTypeOf(api).not.toHaveProperty('isBinarySerializerError')
  })
})
