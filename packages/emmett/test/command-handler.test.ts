import {
  CommandHandler,
  DeciderCommandHandler,
  DeciderSpecification,
  ExpectedVersionConflictError,
  isExpectedVersionConflictError,
  STREAM_DOES_NOT_EXIST,
} from '@event-driven-io/emmett'
import { describe, expect, test } from 'vitest'
import { rejection } from '../../../test-support/rejection.js'
import { tempDir } from '../../../test-support/temp-dir.js'
import {
  type AddProductItem,
  added,
  book,
  CartError,
  decide,
  discounted,
  evolve,
  initialState,
  openStores,
  type ShoppingCart,
  type ShoppingCartCommand,
  type ShoppingCartEvent,
} from './helpers.js'

const handle = CommandHandler<ShoppingCart, ShoppingCartEvent>({ evolve, initialState })
const addBook: AddProductItem = { type: 'AddProductItem', data: { productItem: book } }
/** emmett's retry on conflicts with short waits, so the tests stay fast. */
const fastRetries = { onVersionConflict: { retries: 5, minTimeout: 1, maxTimeout: 5, factor: 1 } }

describe('CommandHandler on waltz', () => {
  test('creates the stream, then returns the exact next version after each command', async () => {
    const { eventStore } = await openStores(tempDir())
    const first = await handle(eventStore, 'cart', (state) => decide(addBook, state))
    expect(first).toMatchObject({
      nextExpectedStreamVersion: 1n,
      createdNewStream: true,
      lastEventGlobalPosition: 1n,
    })
    expect(first.newState).toEqual({ productItems: [book], totalAmount: 30 })
    const second = await handle(eventStore, 'cart', (state) => decide(addBook, state), {
      expectedStreamVersion: first.nextExpectedStreamVersion,
    })
    expect(second).toMatchObject({ nextExpectedStreamVersion: 2n, createdNewStream: false })
    const third = await handle(eventStore, 'cart', [
      (state) => decide({ type: 'ApplyDiscount', data: { percent: 50, couponId: 'half' } }, state),
      () => [added(), added()],
    ])
    expect(third.nextExpectedStreamVersion).toBe(5n)
    expect(third.newEvents).toHaveLength(3)
    expect(third.newState.totalAmount).toBe(90)
    const { state, currentStreamVersion } = await eventStore.aggregateStream('cart', { evolve, initialState })
    expect(currentStreamVersion).toBe(5n)
    expect(state).toEqual(third.newState)
  })

  test('a handler returning no events appends nothing and returns the current state', async () => {
    const { eventStore } = await openStores(tempDir())
    const empty = await handle(eventStore, 'cart', () => [])
    expect(empty).toMatchObject({ newEvents: [], nextExpectedStreamVersion: 0n, createdNewStream: false })
    await handle(eventStore, 'cart', (state) => decide(addBook, state))
    const again = await handle(eventStore, 'cart', () => [])
    expect(again).toMatchObject({ nextExpectedStreamVersion: 1n, newState: { totalAmount: 30 } })
    expect(await eventStore.streamExists('nothing')).toBe(false)
  })

  test('a given expectedStreamVersion that does not match fails before the handler runs', async () => {
    const { eventStore } = await openStores(tempDir())
    await handle(eventStore, 'cart', (state) => decide(addBook, state), {
      expectedStreamVersion: STREAM_DOES_NOT_EXIST,
    })
    let decided = 0
    const err = await rejection(
      handle(
        eventStore,
        'cart',
        (state) => {
          decided++
          return decide(addBook, state)
        },
        { expectedStreamVersion: 7n },
      ),
    )
    expect(err).toBeInstanceOf(ExpectedVersionConflictError)
    expect(decided).toBe(0)
    expect((await eventStore.readStream('cart')).currentStreamVersion).toBe(1n)
  })

  test('without retries a conflict fails the command once; its events are not written', async () => {
    const { eventStore } = await openStores(tempDir())
    await handle(eventStore, 'cart', (state) => decide(addBook, state))
    let tried = 0
    const err = await rejection(
      handle(eventStore, 'cart', async (state) => {
        tried++
        // Another writer appends between this command's read and its append.
        await eventStore.appendToStream('cart', [discounted(10, 'other')])
        return decide(addBook, state)
      }),
    )
    expect(isExpectedVersionConflictError(err)).toBe(true)
    expect((err as ExpectedVersionConflictError).current).toBe('2')
    expect((err as ExpectedVersionConflictError).expected).toBe('1')
    expect(tried).toBe(1)
    const { events } = await eventStore.readStream<ShoppingCartEvent>('cart')
    expect(events.map((e) => e.type)).toEqual(['ProductItemAdded', 'DiscountApplied'])
  })

  test('a handler throwing a conflict itself is not retried without retry options', async () => {
    const { eventStore } = await openStores(tempDir())
    let tried = 0
    const err = await rejection(
      handle(eventStore, 'cart', () => {
        tried++
        throw new ExpectedVersionConflictError(0, 1)
      }),
    )
    expect(err).toBeInstanceOf(ExpectedVersionConflictError)
    expect(tried).toBe(1)
  })

  test('with retries a conflicting command reads the stream again and succeeds on the new state', async () => {
    const { eventStore } = await openStores(tempDir())
    await handle(eventStore, 'cart', (state) => decide(addBook, state))
    const states: ShoppingCart[] = []
    const result = await handle(
      eventStore,
      'cart',
      async (state) => {
        states.push(state)
        if (states.length === 1) await eventStore.appendToStream('cart', [discounted(50, 'other')])
        return decide(addBook, state)
      },
      { retry: fastRetries },
    )
    expect(states.map((s) => s.totalAmount)).toEqual([30, 15])
    expect(result).toMatchObject({ nextExpectedStreamVersion: 3n, newState: { totalAmount: 45 } })
    const { events } = await eventStore.readStream<ShoppingCartEvent>('cart')
    expect(events.map((e) => e.type)).toEqual(['ProductItemAdded', 'DiscountApplied', 'ProductItemAdded'])
  })

  test("concurrent commands on one stream with retries all land, each deciding on the state before it (sync 'always')", async () => {
    const { eventStore } = await openStores(tempDir(), { sync: 'always' })
    const commands = 12
    const seenCounts: number[] = []
    const results = await Promise.all(
      Array.from({ length: commands }, () =>
        handle(
          eventStore,
          'cart',
          (state) => {
            seenCounts.push(state.productItems.length)
            return decide(addBook, state)
          },
          { retry: { onVersionConflict: { retries: 50, minTimeout: 1, maxTimeout: 10, factor: 1 } } },
        ),
      ),
    )
    const versions = results.map((r) => r.nextExpectedStreamVersion).sort((a, b) => Number(a - b))
    expect(versions).toEqual(Array.from({ length: commands }, (_, i) => BigInt(i + 1)))
    for (const r of results) expect(BigInt(r.newState.productItems.length)).toBe(r.nextExpectedStreamVersion)
    // They all read the empty stream first: all but one conflicted and decided again.
    expect(seenCounts.length).toBeGreaterThan(commands)
    const { state, currentStreamVersion } = await eventStore.aggregateStream('cart', { evolve, initialState })
    expect(currentStreamVersion).toBe(BigInt(commands))
    expect(state.totalAmount).toBe(30 * commands)
  })

  test('DeciderCommandHandler decides with a decider; a refused command writes nothing', async () => {
    const { eventStore } = await openStores(tempDir())
    const handleDecider = DeciderCommandHandler<ShoppingCart, ShoppingCartCommand, ShoppingCartEvent>({
      decide,
      evolve,
      initialState,
    })
    const err = await rejection(
      handleDecider(eventStore, 'cart', { type: 'ApplyDiscount', data: { percent: 10, couponId: 'c' } }),
    )
    expect(err).toBeInstanceOf(CartError)
    expect(await eventStore.streamExists('cart')).toBe(false)
    const result = await handleDecider(eventStore, 'cart', [
      addBook,
      { type: 'ApplyDiscount', data: { percent: 10, couponId: 'c' } },
    ])
    expect(result).toMatchObject({ nextExpectedStreamVersion: 2n, createdNewStream: true })
    expect(result.newState.totalAmount).toBe(27)
  })
})

describe('DeciderSpecification', () => {
  const given = DeciderSpecification.for({ decide, evolve, initialState })

  test('the decider that runs on waltz, tested without a store', () => {
    given([]).when(addBook).then([added()])
    given([added()])
      .when({ type: 'ApplyDiscount', data: { percent: 10, couponId: 'c-1' } })
      .then([discounted(10, 'c-1')])
    given([])
      .when({ type: 'ApplyDiscount', data: { percent: 10, couponId: 'c-1' } })
      .thenThrows(CartError, (error) => error.message === 'an empty cart gets no discount')
  })
})
