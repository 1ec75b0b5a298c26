import type { AppendInput, RecordShape, WalRecordOf } from '@waltz/core'
import { Wal } from '@waltz/core'
import { describe, expectTypeOf, it } from 'vitest'
import * as api from '../src/index.js'
import { type ProtoRecordOf, protoSerializer } from '../src/index.js'
import { type OrderCancelled, type OrderPlaced, reflectedTypes } from './fixtures.js'
import { waltz } from './generated/order_events.generated.js'

type Rec = ProtoRecordOf<typeof reflectedTypes>

describe('protoSerializer types', () => {
  it('infers data from generated static classes', () => {
    const types = { OrderCancelled: waltz.example.OrderCancelled }
    const serializer = protoSerializer({ types })
    expectTypeOf<ProtoRecordOf<typeof types>>().toEqualTypeOf<
      RecordShape<'OrderCancelled', waltz.example.OrderCancelled.$Properties>
    >()
    expectTypeOf(
      serializer.decode(new Uint8Array(), 'OrderCancelled'),
    ).toEqualTypeOf<waltz.example.OrderCancelled.$Properties>()
    // @ts-expect-error unknown record type
    serializer.encode({}, 'OrderAmended')
  })

  it('takes data types from protoType for reflected types', () => {
    expectTypeOf<Rec>().toExtend<RecordShape>()
    expectTypeOf<Extract<Rec, { type: 'OrderCancelled' }>>().toEqualTypeOf<
      RecordShape<'OrderCancelled', OrderCancelled>
    >()
    expectTypeOf<{ type: 'OrderCancelled'; data: OrderCancelled; key: string }>().toExtend<AppendInput<Rec>>()
    // data of OrderCancelled under OrderPlaced
    expectTypeOf<{ type: 'OrderPlaced'; data: OrderCancelled }>().not.toExtend<AppendInput<Rec>>()
  })

  it('narrows data by type on the records of a WAL', async () => {
    const wal = await Wal.open({
      dir: '/tmp/never-opened',
      serializer: protoSerializer({ types: reflectedTypes }),
    })
    await wal.append({
      type: 'OrderCancelled',
      key: 'o',
      headers: { by: 'user' },
      data: { orderId: 'o', reason: 'r' },
    })
    // @ts-expect-error reason must be a string
    await wal.append({ type: 'OrderCancelled', data: { orderId: 'o', reason: 1 } })
    // @ts-expect-error unknown record type
    await wal.append({ type: 'OrderAmended', data: { orderId: 'o', reason: 'r' } })
    await wal.replayFrom(0, (record) => {
      expectTypeOf(record).toEqualTypeOf<WalRecordOf<Rec>>()
      expectTypeOf(record.headers).toEqualTypeOf<Readonly<Record<string, string>> | undefined>()
      if (record.type === 'OrderCancelled') expectTypeOf(record.data).toEqualTypeOf<OrderCancelled>()
      if (record.type === 'OrderPlaced') expectTypeOf(record.data).toEqualTypeOf<OrderPlaced>()
    })
  })

  it("exports no error class of its own: it throws core's SerializerError", () => {
    expectTypeOf(api).not.toHaveProperty('ProtoSerializerError')
    expectTypeOf(api).not.toHaveProperty('isProtoSerializerError')
  })
})
