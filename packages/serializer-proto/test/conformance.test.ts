import fc from 'fast-check'
import { serializerConformance } from '../../../test-support/serializer-conformance.js'
import { type ProtoRecordOf, protoSerializer } from '../src/index.js'
import { type OrderCancelled, reflectedTypes, samples } from './fixtures.js'
import { waltz } from './generated/order_events.generated.js'

type Rec = ProtoRecordOf<typeof reflectedTypes>

const text = {
  make: (reason: string): Rec => ({ type: 'OrderCancelled', data: { orderId: 'o', reason } }),
  read: (data: Rec['data']): string => (data as OrderCancelled).reason,
}

const arbitrary: fc.Arbitrary<Rec> = fc.oneof(
  fc.record({
    type: fc.constant('OrderPlaced' as const),
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
    data: fc.record({ orderId: fc.string(), reason: fc.string(), code: fc.nat() }),
  }),
)

const common = {
  samples,
  // Every field at its default: zero bytes on the wire.
  empty: { type: 'OrderCancelled', data: { orderId: '', reason: '' } } as Rec,
  large: (bytes: number): Rec => ({
    type: 'OrderCancelled',
    data: { orderId: 'o', reason: 'r'.repeat(bytes) },
  }),
  text,
  loneSurrogates: 'rejected' as const,
  // A message cut at a field boundary is a valid message with fewer fields, and an empty one has all
  // defaults: protobuf cannot tell them from an encoding.
  framing: 'open' as const,
  invalid: [
    new Uint8Array([0xff, 0xff, 0xff]), // a varint running past the end
    new Uint8Array([0x0a, 0x05, 0x61]), // field 1, 5 bytes long, holding 1
    new Uint8Array([0x07]), // wire type 7 does not exist
    new Uint8Array([0x00, 0x00]), // field number 0 does not exist
  ],
  arbitrary,
  unknownType: { type: 'OrderAmended', data: { orderId: 'o' } } as unknown as Rec,
}

serializerConformance<Rec>('protoSerializer (runtime-loaded .proto)', {
  ...common,
  create: () => protoSerializer({ types: reflectedTypes }),
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
