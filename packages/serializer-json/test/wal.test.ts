import { bytesSerializer, Wal } from '@waltz/core'
import { walRoundTrip } from '../../../test-support/wal-round-trip.js'
import { type JsonRecordOf, jsonSerializer } from '../src/index.js'
import { orderSchemas } from './fixtures.js'

type Rec = JsonRecordOf<typeof orderSchemas>

walRoundTrip<Rec>('jsonSerializer', {
  open: (dir) => Wal.open({ dir, serializer: jsonSerializer({ schemas: orderSchemas }), sync: 'always' }),
  openMismatched: (dir) => Wal.open({ dir, serializer: bytesSerializer(), sync: 'always' }),
  single: [
    { type: 'OrderPlaced', data: { orderId: 'o-1', side: 'buy', price: 1999, quantity: 3, tags: ['gtc'] } },
    { type: 'OrderCancelled', data: { orderId: 'o-1', reason: 'user' } },
  ],
  batch: [
    {
      type: 'TradeExecuted',
      data: { tradeId: 't-1', price: 1999, quantity: 3, at: new Date('2024-05-01T12:00:00.123Z') },
    },
    { type: 'Heartbeat', data: {} },
    { type: 'Anything', data: { nested: [1, 'two', null, true] } },
  ],
})
