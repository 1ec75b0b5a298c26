import type { AppendInput, RecordShape, Serializer, WalRecordOf } from '@waltz/core'
import { Wal } from '@waltz/core'
import { describe, expectTypeOf, it } from 'vitest'
import { z } from 'zod'
import * as api from '../src/index.js'
import { type JsonRecordOf, jsonSerializer, type UpcastContext } from '../src/index.js'

const schemas = {
  OrderPlaced: z.object({ orderId: z.string(), price: z.int(), quantity: z.int() }),
  OrderCancelled: z.object({ orderId: z.string(), reason: z.string() }),
  Traded: z.object({
    at: z.codec(z.iso.datetime(), z.date(), { decode: (s) => new Date(s), encode: (d) => d.toISOString() }),
  }),
}
const serializer = jsonSerializer({ schemas })
type Rec = JsonRecordOf<typeof schemas>

describe('jsonSerializer types', () => {
  it('returns a serializer typed by its schemas', () => {
    expectTypeOf(serializer).toEqualTypeOf<
      Serializer<'OrderPlaced' | 'OrderCancelled' | 'Traded', Rec['data'], Rec>
    >()
    expectTypeOf<Rec>().toEqualTypeOf<
      | RecordShape<'OrderPlaced', { orderId: string; price: number; quantity: number }>
      | RecordShape<'OrderCancelled', { orderId: string; reason: string }>
      | RecordShape<'Traded', { at: Date }>
    >()
    expectTypeOf(serializer.encode).parameters.toEqualTypeOf<[Rec['data'], Rec['type']]>()
    expectTypeOf(serializer.decode).returns.toEqualTypeOf<Rec['data']>()
    // @ts-expect-error no such record type
    serializer.decode(new Uint8Array(), 'OrderAmended')
  })

  it('checks data against its type in AppendInput', () => {
    type Input = AppendInput<Rec>
    expectTypeOf<{
      type: 'OrderPlaced'
      data: { orderId: string; price: number; quantity: number }
    }>().toExtend<Input>()
    expectTypeOf<{ type: 'Traded'; data: { at: Date }; time: number }>().toExtend<Input>()
    expectTypeOf<{
      type: 'Traded'
      data: { at: Date }
      key: string
      headers: { 'correlation-id': string }
    }>().toExtend<Input>()
    // header values are strings
    expectTypeOf<{ type: 'Traded'; data: { at: Date }; headers: { n: number } }>().not.toExtend<Input>()
    // data of another type
    expectTypeOf<{ type: 'OrderPlaced'; data: { orderId: string; reason: string } }>().not.toExtend<Input>()
    // unknown type
    expectTypeOf<{ type: 'OrderAmended'; data: { orderId: string } }>().not.toExtend<Input>()
    // the stored (input) shape of a codec is not the data type
    expectTypeOf<{ type: 'Traded'; data: { at: string } }>().not.toExtend<Input>()
  })

  it('narrows data by type on WalRecordOf', () => {
    const handle = (record: WalRecordOf<Rec>): number => {
      if (record.type === 'OrderPlaced') {
        expectTypeOf(record.data.price).toEqualTypeOf<number>()
        // @ts-expect-error reason belongs to OrderCancelled
        return record.data.reason.length
      }
      if (record.type === 'Traded') return record.data.at.getTime()
      expectTypeOf(record.type).toEqualTypeOf<'OrderCancelled'>()
      expectTypeOf(record.key).toEqualTypeOf<string | undefined>()
      expectTypeOf(record.headers).toEqualTypeOf<Readonly<Record<string, string>> | undefined>()
      return record.seq
    }
    expectTypeOf(handle).returns.toEqualTypeOf<number>()
  })

  it('types the WAL opened with it', async () => {
    const wal = await Wal.open({ dir: '/tmp/never-opened', serializer })
    await wal.append({ type: 'OrderPlaced', data: { orderId: 'o', price: 1, quantity: 1 } })
    await wal.append({ type: 'Traded', data: { at: new Date() }, time: 5 })
    await wal.append({
      type: 'OrderCancelled',
      key: 'o',
      headers: { by: 'user' },
      data: { orderId: 'o', reason: 'r' },
    })
    await wal.appendBatch([
      { type: 'OrderCancelled', data: { orderId: 'o', reason: 'r' } },
      // @ts-expect-error data of OrderPlaced under OrderCancelled
      { type: 'OrderCancelled', data: { orderId: 'o', price: 1, quantity: 1 } },
    ])
    // @ts-expect-error price must be a number
    await wal.append({ type: 'OrderPlaced', data: { orderId: 'o', price: '1', quantity: 1 } })
    // @ts-expect-error unknown record type
    await wal.append({ type: 'OrderAmended', data: { orderId: 'o' } })
    // @ts-expect-error data of OrderCancelled under OrderPlaced
    await wal.append({ type: 'OrderPlaced', data: { orderId: 'o', reason: 'r' } })
    await wal.replayFrom(0, (record) => {
      if (record.type === 'OrderCancelled')
        expectTypeOf(record.data).toEqualTypeOf<{ orderId: string; reason: string }>()
    })
  })

  it('types the upcast hook by record type', () => {
    jsonSerializer({
      schemas,
      versions: { OrderPlaced: 2 },
      upcast: {
        OrderPlaced: (_data, context) => {
          expectTypeOf(context).toEqualTypeOf<UpcastContext<'OrderPlaced'>>()
          return { orderId: `${context.type}${context.version}`, price: 1, quantity: 1 }
        },
      },
    })
    // @ts-expect-error the context has no time: time is core's
    expectTypeOf<UpcastContext>().toHaveProperty('time')
    jsonSerializer({
      schemas,
      // @ts-expect-error the hook must return OrderPlaced's input shape
      upcast: { OrderPlaced: () => ({ orderId: 'o' }) },
    })
    jsonSerializer({
      schemas,
      // @ts-expect-error no such record type
      versions: { OrderAmended: 2 },
    })
  })

  it("exports no error class of its own: it throws core's SerializerError", () => {
    expectTypeOf(api).not.toHaveProperty('JsonSerializerError')
    expectTypeOf(api).not.toHaveProperty('isJsonSerializerError')
  })
})
