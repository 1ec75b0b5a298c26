import { dirname, join } from 'node:path'
import { bytesSerializer, Wal } from '@waltz/core'
import { walRoundTrip } from '../../../test-support/wal-round-trip.js'
import { binarySerializer, type RecordOf } from '../src/index.js'

type Events = {
  OrderPlaced: { orderId: string; price: bigint; quantity: number; at: Date; tags: Set<string> }
  OrderCancelled: { orderId: string; reason: string | null }
  TradeExecuted: { tradeId: string; legs: Map<string, number>; raw: Uint8Array }
}
type Rec = RecordOf<Events>

const single: Rec[] = [
  {
    type: 'OrderPlaced',
    data: { orderId: 'o-1', price: 2n ** 70n, quantity: 3, at: new Date(5), tags: new Set(['gtc']) },
  },
  { type: 'OrderCancelled', data: { orderId: 'o-1', reason: null } },
]
const batch: Rec[] = [
  {
    type: 'OrderPlaced',
    data: { orderId: 'o-2', price: 1999n, quantity: 1, at: new Date(6), tags: new Set() },
  },
  {
    type: 'TradeExecuted',
    data: { tradeId: 't-1', legs: new Map([['o-2', 1]]), raw: new Uint8Array([0, 255]) },
  },
  { type: 'OrderCancelled', data: { orderId: 'o-2', reason: 'filled' } },
]

walRoundTrip<Rec>('binarySerializer', {
  open: (dir) => Wal.open({ dir, serializer: binarySerializer<Events>(), sync: 'always' }),
  openMismatched: (dir) => Wal.open({ dir, serializer: bytesSerializer(), sync: 'always' }),
  single,
  batch,
})

// The structures file lives beside the WAL directory, as the README advises.
walRoundTrip<Rec>('binarySerializer with structuresPath', {
  open: (dir) =>
    Wal.open({
      dir,
      serializer: binarySerializer<Events>({ structuresPath: join(dirname(dir), 'structures.mp') }),
      sync: 'always',
    }),
  // The two modes are not interchangeable, so their names differ and the WAL refuses the other one.
  openMismatched: (dir) => Wal.open({ dir, serializer: binarySerializer(), sync: 'always' }),
  single,
  batch,
})
