import { CommandHandler, type Event } from '@event-driven-io/emmett'
import { isWalError } from '@waltz/core'
import { expect, test } from 'vitest'
import { tempDir } from '../../../test-support/temp-dir.js'
import { openStores } from './helpers.js'

// The stored (JSON) shape and the application's shape of the same events: dates as ISO strings and
// big integers as decimal strings in the store.
type Meta = { clientId: string }
type OpenedStored = Event<'CartOpened', { openedAt: string; loyaltyPoints: string }, Meta>
type Opened = Event<'CartOpened', { openedAt: Date; loyaltyPoints: bigint }, Meta>
type ConfirmedStored = Event<'CartConfirmed', { confirmedAt: string; totalCents: string }, Meta>
type Confirmed = Event<'CartConfirmed', { confirmedAt: Date; totalCents: bigint }, Meta>
type StoredEvent = OpenedStored | ConfirmedStored
type CartEvent = Opened | Confirmed

const upcast = (event: StoredEvent): CartEvent => {
  switch (event.type) {
    case 'CartOpened':
      return {
        ...event,
        data: { openedAt: new Date(event.data.openedAt), loyaltyPoints: BigInt(event.data.loyaltyPoints) },
      }
    case 'CartConfirmed':
      return {
        ...event,
        data: { confirmedAt: new Date(event.data.confirmedAt), totalCents: BigInt(event.data.totalCents) },
      }
  }
}
const downcast = (event: CartEvent): StoredEvent => {
  switch (event.type) {
    case 'CartOpened':
      return {
        ...event,
        data: {
          openedAt: event.data.openedAt.toISOString(),
          loyaltyPoints: event.data.loyaltyPoints.toString(),
        },
      }
    case 'CartConfirmed':
      return {
        ...event,
        data: {
          confirmedAt: event.data.confirmedAt.toISOString(),
          totalCents: event.data.totalCents.toString(),
        },
      }
  }
}

type Cart = { openedAt: Date | null; confirmedAt: Date | null; loyaltyPoints: bigint; totalCents: bigint }
const initialState = (): Cart => ({ openedAt: null, confirmedAt: null, loyaltyPoints: 0n, totalCents: 0n })
const evolve = (state: Cart, event: CartEvent): Cart =>
  event.type === 'CartOpened'
    ? { ...state, openedAt: event.data.openedAt, loyaltyPoints: event.data.loyaltyPoints }
    : { ...state, confirmedAt: event.data.confirmedAt, totalCents: event.data.totalCents }

const openedAt = '2024-01-15T10:30:00.000Z'
const confirmedAt = '2024-01-15T11:45:00.000Z'
const points = '9007199254740993' // above 2^53: a number would lose it
const cents = '123456789012345678'
const metadata = { clientId: 'client-1' }

test('upcast on reads turns stored strings into dates and bigints (readStream and aggregateStream)', async () => {
  const { eventStore } = await openStores(tempDir())
  await eventStore.appendToStream<StoredEvent>('cart', [
    { type: 'CartOpened', data: { openedAt, loyaltyPoints: points }, metadata },
    { type: 'CartConfirmed', data: { confirmedAt, totalCents: cents }, metadata },
  ])
  const { state, currentStreamVersion } = await eventStore.aggregateStream<Cart, CartEvent, StoredEvent>(
    'cart',
    {
      evolve,
      initialState,
      read: { schema: { versioning: { upcast } } },
    },
  )
  expect(currentStreamVersion).toBe(2n)
  expect(state).toEqual({
    openedAt: new Date(openedAt),
    confirmedAt: new Date(confirmedAt),
    loyaltyPoints: BigInt(points),
    totalCents: BigInt(cents),
  })
  const { events } = await eventStore.readStream<CartEvent, StoredEvent>('cart', {
    from: 2n,
    schema: { versioning: { upcast } },
  })
  expect(events).toHaveLength(1)
  expect(events[0]!.data).toEqual({ confirmedAt: new Date(confirmedAt), totalCents: BigInt(cents) })
  // Upcasting keeps what the store added to the metadata.
  expect(events[0]!.metadata).toMatchObject({ clientId: 'client-1', streamPosition: 2n, globalPosition: 2n })
  const raw = await eventStore.readStream<StoredEvent>('cart')
  expect(raw.events[0]!.data).toEqual({ openedAt, loyaltyPoints: points })
})

test('downcast on appends stores the stored shape; what is stored reads back upcast', async () => {
  const { waltz, eventStore } = await openStores(tempDir())
  const events: CartEvent[] = [
    { type: 'CartOpened', data: { openedAt: new Date(openedAt), loyaltyPoints: BigInt(points) }, metadata },
  ]
  const result = await eventStore.appendToStream<CartEvent, StoredEvent>('cart', events, {
    schema: { versioning: { downcast } },
  })
  expect(result.nextExpectedStreamVersion).toBe(1n)
  const stored = []
  for await (const e of waltz.readStream('cart')) stored.push(e)
  expect(stored[0]!.data).toEqual({ openedAt, loyaltyPoints: points })
  expect(stored[0]!.metadata.clientId).toBe('client-1')
  const { events: read } = await eventStore.readStream<CartEvent, StoredEvent>('cart', {
    schema: { versioning: { upcast } },
  })
  expect(read[0]!.data).toEqual(events[0]!.data)
})

test('a CommandHandler upcasts with its schema; emmett 0.42 downcasts only with the schema in the handle options', async () => {
  const { eventStore } = await openStores(tempDir())
  const handle = CommandHandler<Cart, CartEvent, StoredEvent>({
    evolve,
    initialState,
    schema: { versioning: { upcast, downcast } },
  })
  // emmett 0.42's CommandHandler reads with its `schema` but appends without it; the handle options
  // reach the append (and the read, so they carry the upcast too).
  const both = { schema: { versioning: { upcast, downcast } } } as never
  await handle(
    eventStore,
    'cart',
    () => ({
      type: 'CartOpened',
      data: { openedAt: new Date(openedAt), loyaltyPoints: BigInt(points) },
      metadata,
    }),
    both,
  )
  const confirmed = await handle(
    eventStore,
    'cart',
    (state) => {
      // The handler decides on upcast state: bigints and dates, not strings.
      expect(state.loyaltyPoints).toBe(BigInt(points))
      return {
        type: 'CartConfirmed',
        data: { confirmedAt: new Date(confirmedAt), totalCents: state.loyaltyPoints * 2n },
        metadata,
      }
    },
    both,
  )
  expect(confirmed.nextExpectedStreamVersion).toBe(2n)
  expect(confirmed.newState.totalCents).toBe(BigInt(points) * 2n)
  const raw = await eventStore.readStream<StoredEvent>('cart')
  expect(raw.events.map((e) => e.data)).toEqual([
    { openedAt, loyaltyPoints: points },
    { confirmedAt, totalCents: (BigInt(points) * 2n).toString() },
  ])
  // Without them the append gets the application's shape, which this store's JSON serializer refuses.
  const err = await handle(eventStore, 'cart', (state) => ({
    type: 'CartConfirmed',
    data: { confirmedAt: new Date(confirmedAt), totalCents: state.totalCents },
    metadata,
  })).catch((e: unknown) => e)
  expect(isWalError(err, 'WAL_SERIALIZER_ERROR')).toBe(true)
  expect((await eventStore.readStream('cart')).currentStreamVersion).toBe(2n)
})
