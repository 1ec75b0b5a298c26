import fc from 'fast-check'
import type { z } from 'zod'
import { serializerConformance } from '../../../test-support/serializer-conformance.js'
import { type JsonRecordOf, jsonSerializer } from '../src/index.js'
import { orderSchemas } from './fixtures.js'

type Rec = JsonRecordOf<typeof orderSchemas>

const samples: Rec[] = [
  { type: 'OrderPlaced', data: { orderId: 'o-1', side: 'buy', price: 1999, quantity: 3 } },
  {
    type: 'OrderPlaced',
    data: { orderId: 'o-2', side: 'sell', price: -5, quantity: 1, tags: ['gtc', 'ünï'] },
  },
  { type: 'OrderCancelled', data: { orderId: 'o-1', reason: 'user' } },
  {
    type: 'TradeExecuted',
    data: { tradeId: 't-1', price: 1999, quantity: 3, at: new Date('2024-05-01T12:00:00.123Z') },
  },
  { type: 'Anything', data: { nested: [1, 'two', null, true, { deep: [] }], n: 1.5e-7 } },
  { type: 'Anything', data: null },
]

const utf8 = new TextEncoder()

serializerConformance<Rec>('jsonSerializer', {
  create: () => jsonSerializer({ schemas: orderSchemas }),
  samples,
  empty: { type: 'Heartbeat', data: {} },
  large: (bytes) => ({ type: 'Note', data: { text: 'x'.repeat(bytes) } }),
  text: {
    make: (text) => ({ type: 'Note', data: { text } }),
    read: (data) => (data as { text: string }).text,
  },
  loneSurrogates: 'exact',
  framing: 'self-delimiting',
  invalid: [
    utf8.encode('not json'),
    utf8.encode('{"v":1,"data":{}'),
    utf8.encode('{"data":{}}'),
    utf8.encode('{"v":0,"data":{}}'),
    new Uint8Array([0x7b, 0xff, 0x7d]),
  ],
  arbitrary: fc.oneof(
    fc.record({
      type: fc.constant('OrderPlaced' as const),
      data: fc.record({
        orderId: fc.string({ unit: 'binary' }),
        side: fc.constantFrom('buy' as const, 'sell' as const),
        price: fc.maxSafeInteger(),
        quantity: fc.integer({ min: 1 }),
      }),
    }),
    fc.record({
      type: fc.constant('Anything' as const),
      data: fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as z.infer<typeof orderSchemas.Anything>),
    }),
  ),
  unknownType: { type: 'OrderAmended', data: {} } as unknown as Rec,
})
