import fc from 'fast-check'
import { serializerConformance } from '../../../test-support/serializer-conformance.js'
import { type JsonRecordOf, jsonSerializer } from '../src/index.js'
import { orderSchemas } from './fixtures.js'

type Rec = JsonRecordOf<typeof orderSchemas>

const samples: Rec[] = [
  {
    type: 'OrderPlaced',
    time: 1_700_000_000_000,
    data: { orderId: 'o-1', side: 'buy', price: 1999, quantity: 3 },
  },
  {
    type: 'OrderPlaced',
    time: 1_700_000_000_000,
    data: { orderId: 'o-2', side: 'sell', price: -5, quantity: 1, tags: ['gtc', 'ünï'] },
  },
  { type: 'OrderCancelled', time: 2, data: { orderId: 'o-1', reason: 'user' } },
  {
    type: 'TradeExecuted',
    time: 3,
    data: { tradeId: 't-1', price: 1999, quantity: 3, at: new Date('2024-05-01T12:00:00.123Z') },
  },
  { type: 'Anything', time: 4, data: { nested: [1, 'two', null, true, { deep: [] }], n: 1.5e-7 } },
  { type: 'Anything', time: 5, data: null },
]

serializerConformance<Rec>('jsonSerializer', {
  create: () => jsonSerializer({ schemas: orderSchemas }),
  samples,
  empty: { type: 'Heartbeat', time: 0, data: {} },
  large: (bytes) => ({ type: 'Note', time: 1, data: { text: 'x'.repeat(bytes) } }),
  text: {
    make: (text) => ({ type: 'Note', time: 1, data: { text } }),
    read: (r) => (r.data as { text: string }).text,
  },
  withTime: (time) => ({ type: 'Heartbeat', time, data: {} }),
  loneSurrogates: 'exact',
  arbitrary: fc.oneof(
    fc.record({
      type: fc.constant('OrderPlaced' as const),
      time: fc.double({ noNaN: true, noDefaultInfinity: true }).filter((t) => !Object.is(t, -0)),
      data: fc.record({
        orderId: fc.string({ unit: 'binary' }),
        side: fc.constantFrom('buy' as const, 'sell' as const),
        price: fc.maxSafeInteger(),
        quantity: fc.integer({ min: 1 }),
      }),
    }),
    fc.record({
      type: fc.constant('Anything' as const),
      time: fc.integer(),
      data: fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as z.infer<typeof orderSchemas.Anything>),
    }),
  ),
  unknownType: { type: 'OrderAmended', time: 1, data: {} } as unknown as Rec,
})

import type { z } from 'zod'
