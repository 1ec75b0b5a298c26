import type { AppendInput, Serializer } from '@waltz/core'
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
    expectTypeOf<{ type: 'OrderPlaced'; data: { orderId: string; price: bigint } }>().toExtend<
      AppendInput<RecordOf<Events>>
    >()
    expectTypeOf<{ type: 'OrderPlaced'; data: { orderId: string } }>().not.toExtend<
      AppendInput<RecordOf<Events>>
    >()
    // @ts-expect-error price must be a bigint
    serializer.encode({ type: 'OrderPlaced', time: 1, data: { orderId: 'o', price: 1 } })
  })

  it('accepts any record without an event map', () => {
    expectTypeOf(binarySerializer().decode(new Uint8Array())).toEqualTypeOf<{
      type: string
      time: number
      data: unknown
    }>()
  })

  it("exports no error class of its own: it throws core's SerializerError", () => {
    expectTypeOf(api).not.toHaveProperty('BinarySerializerError')
    expectTypeOf(api).not.toHaveProperty('isBinarySerializerError')
  })
})
