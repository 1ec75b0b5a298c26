import type { EncodableRecord } from '@waltz/core'
import fc from 'fast-check'
import { serializerConformance } from '../../../test-support/serializer-conformance.js'
import { protoSerializer } from '../src/index.js'
import {
  type OrderCancelled,
  type OrderPlaced,
  type OrderRejected,
  placed,
  reflectedTypes,
} from './fixtures.js'
import { waltz } from './generated/order_events.generated.js'

type Rec =
  | EncodableRecord<'OrderPlaced', OrderPlaced>
  | EncodableRecord<'OrderCancelled', OrderCancelled>
  | EncodableRecord<'OrderRejected', OrderRejected>
  | EncodableRecord<
      'TradeExecuted',
      { tradeId: string; buyOrderId: string; sellOrderId: string; price: number; quantity: number }
    >

const samples: Rec[] = [
  { type: 'OrderPlaced', time: 1_700_000_000_000, data: placed },
  {
    type: 'OrderPlaced',
    time: 1,
    data: {
      ...placed,
      price: Number.MAX_SAFE_INTEGER,
      quantity: -Number.MAX_SAFE_INTEGER,
      side: 2,
      tags: [],
    },
  },
  { type: 'OrderCancelled', time: 1_700_000_000_001, data: { orderId: 'o-1', reason: 'user request' } },
  {
    type: 'TradeExecuted',
    time: 1_700_000_000_002,
    data: { tradeId: 't-1', buyOrderId: 'o-1', sellOrderId: 'o-2', price: 1_999_000, quantity: 3 },
  },
  {
    type: 'OrderRejected',
    time: 1_700_000_000_003,
    data: { orderId: 'o-3', reason: 'insufficient funds', code: 4001 },
  },
]

const text = {
  make: (reason: string): Rec => ({ type: 'OrderCancelled', time: 1, data: { orderId: 'o', reason } }),
  read: (r: Rec): string => (r.data as OrderCancelled).reason,
}

const arbitrary: fc.Arbitrary<Rec> = fc.oneof(
  fc.record({
    type: fc.constant('OrderPlaced' as const),
    time: fc.double({ noNaN: true, noDefaultInfinity: true }).filter((t) => !Object.is(t, -0)),
    data: fc.record({
      orderId: fc.string(),
      accountId: fc.string(),
      symbol: fc.string({ maxLength: 8 }),
      side: fc.constantFrom(0, 1, 2),
      price: fc.maxSafeInteger(),
      quantity: fc.maxSafeNat(),
      tags: fc.array(fc.string(), { maxLength: 4 }),
    }),
  }),
  fc.record({
    type: fc.constant('OrderRejected' as const),
    time: fc.integer(),
    data: fc.record({ orderId: fc.string(), reason: fc.string(), code: fc.nat() }),
  }),
)

const common = {
  errorName: 'ProtoSerializerError',
  samples,
  empty: { type: 'OrderCancelled', time: 0, data: { orderId: '', reason: '' } } as Rec,
  large: (bytes: number): Rec => ({
    type: 'OrderCancelled',
    time: 1,
    data: { orderId: 'o', reason: 'r'.repeat(bytes) },
  }),
  text,
  withTime: (time: number): Rec => ({ type: 'OrderCancelled', time, data: { orderId: 'o', reason: 'r' } }),
  loneSurrogates: 'rejected' as const,
  arbitrary,
  unknownType: { type: 'OrderAmended', time: 1, data: { orderId: 'o' } } as unknown as Rec,
}

serializerConformance<Rec>('protoSerializer (runtime-loaded .proto)', {
  ...common,
  create: () => protoSerializer({ types: reflectedTypes }) as never,
})

serializerConformance<Rec>('protoSerializer (pbjs static code)', {
  ...common,
  create: () =>
    protoSerializer({
      types: {
        OrderPlaced: waltz.example.OrderPlaced,
        OrderCancelled: waltz.example.OrderCancelled,
        TradeExecuted: waltz.example.TradeExecuted,
        OrderRejected: waltz.example.OrderRejected,
      },
    }) as never,
})
