import { describe, expectTypeOf, it } from 'vitest'
import * as api from '../src/index.js'
import { protoSerializer } from '../src/index.js'
import { type OrderCancelled, reflectedTypes } from './fixtures.js'
import { waltz } from './generated/order_events.generated.js'

describe('protoSerializer types', () => {
  it('infers data from generated static classes', () => {
    const serializer = protoSerializer({ types: { OrderCancelled: waltz.example.OrderCancelled } })
    const record = serializer.decode(new Uint8Array())
    expectTypeOf(record.type).toEqualTypeOf<'OrderCancelled'>()
    expectTypeOf(record.data).toEqualTypeOf<waltz.example.OrderCancelled.$Properties>()
    // @ts-expect-error unknown record type
    serializer.encode({ type: 'OrderAmended', time: 1, data: {} })
  })

  it('takes data types from protoType for reflected types', () => {
    const serializer = protoSerializer({ types: reflectedTypes })
    const record = serializer.decode(new Uint8Array())
    if (record.type === 'OrderCancelled') expectTypeOf(record.data).toEqualTypeOf<OrderCancelled>()
    // @ts-expect-error reason must be a string
    serializer.encode({ type: 'OrderCancelled', time: 1, data: { orderId: 'o', reason: 1 } })
  })

  it("exports no error class of its own: it throws core's SerializerError", () => {
    expectTypeOf(api).not.toHaveProperty('ProtoSerializerError')
    expectTypeOf(api).not.toHaveProperty('isProtoSerializerError')
  })
})
