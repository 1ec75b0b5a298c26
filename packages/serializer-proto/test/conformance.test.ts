import fc from 'fast-check'
import { serializerConformance } from '../../../test-support/serializer-conformance.js'
import { type ProtoRecordOf, protoSerializer } from '../src/index.js'
import { type OrderCancelled, reflectedTypes, samples } from './fixtures.js'
import { waltz } from './generated/order_events.generated.js'

type Rec = ProtoRecordOf<typeof reflectedTypes>

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
