import { randomBytes } from 'node:crypto'
import {
  ExpectedVersionConflictError,
  isExpectedVersionConflictError,
  NO_CONCURRENCY_CHECK,
  type ReadEvent,
  STREAM_DOES_NOT_EXIST,
  STREAM_EXISTS,
} from '@event-driven-io/emmett'
import { localKeyring } from '@waltz/core'
import { type EventStore, isEventStoreError } from '@waltz/eventstore'
import { describe, expect, test, vi } from 'vitest'
import { rejection } from '../../../test-support/rejection.js'
import { tempDir } from '../../../test-support/temp-dir.js'
import { getWaltzEventStore, JSON_METADATA, type WaltzReadEvent } from '../src/index.js'
import {
  added,
  book,
  discounted,
  evolve,
  initialState,
  type JsonEvent,
  openStores,
  type ShoppingCart,
  type ShoppingCartEvent,
} from './helpers.js'

async function waltzEvents(waltz: EventStore<JsonEvent>, stream: string) {
  const out = []
  for await (const e of waltz.readStream(stream)) out.push(e)
  return out
}

describe('appendToStream', () => {
  test('returns the exact next version, creation and global position after each append', async () => {
    const { eventStore } = await openStores(tempDir())
    const first = await eventStore.appendToStream<ShoppingCartEvent>('cart-1', [added()])
    expect(first).toEqual({
      nextExpectedStreamVersion: 1n,
      createdNewStream: true,
      lastEventGlobalPosition: 1n,
    })
    await eventStore.appendToStream<ShoppingCartEvent>('cart-2', [added()])
    const second = await eventStore.appendToStream<ShoppingCartEvent>('cart-1', [added(), discounted()], {
      expectedStreamVersion: 1n,
    })
    expect(second).toEqual({
      nextExpectedStreamVersion: 3n,
      createdNewStream: false,
      lastEventGlobalPosition: 4n,
    })
    const third = await eventStore.appendToStream<ShoppingCartEvent>('cart-1', [added()], {
      expectedStreamVersion: STREAM_EXISTS,
    })
    expect(third.nextExpectedStreamVersion).toBe(4n)
    const { events, currentStreamVersion } = await eventStore.readStream<ShoppingCartEvent>('cart-1')
    expect(currentStreamVersion).toBe(4n)
    expect(events.map((e) => e.metadata.streamPosition)).toEqual([1n, 2n, 3n, 4n])
    expect(events.map((e) => e.metadata.globalPosition)).toEqual([1n, 3n, 4n, 5n])
    expect(events.at(-1)!.metadata.globalPosition).toBe(third.lastEventGlobalPosition)
  })

  test('a wrong expected version throws emmett ExpectedVersionConflictError and writes nothing', async () => {
    const { eventStore } = await openStores(tempDir())
    await eventStore.appendToStream('cart', [added()], { expectedStreamVersion: STREAM_DOES_NOT_EXIST })
    const cases = [STREAM_DOES_NOT_EXIST, 0n, 2n, 7n] as const
    for (const expected of cases) {
      const err = await rejection(
        eventStore.appendToStream('cart', [added()], { expectedStreamVersion: expected }),
      )
      expect(err).toBeInstanceOf(ExpectedVersionConflictError)
      expect(isExpectedVersionConflictError(err)).toBe(true)
      const conflict = err as ExpectedVersionConflictError
      expect(conflict.current).toBe('1')
      expect(conflict.expected).toBe(String(expected))
      expect(isEventStoreError(conflict.cause, 'WRONG_EXPECTED_REVISION')).toBe(true)
    }
    const missing = await rejection(
      eventStore.appendToStream('other', [added()], { expectedStreamVersion: STREAM_EXISTS }),
    )
    expect((missing as ExpectedVersionConflictError).current).toBe('0')
    expect((await eventStore.readStream('cart')).currentStreamVersion).toBe(1n)
    expect(await eventStore.streamExists('other')).toBe(false)
    const any = await eventStore.appendToStream('cart', [added()], {
      expectedStreamVersion: NO_CONCURRENCY_CHECK,
    })
    expect(any.nextExpectedStreamVersion).toBe(2n)
  })

  test('metadata round-trips, messageId included (kept as metadata, not as the waltz id); strings stay plain waltz metadata', async () => {
    const { waltz, eventStore } = await openStores(tempDir())
    type Tagged = ShoppingCartEvent & { metadata: Record<string, unknown> }
    const event = {
      ...added(),
      metadata: {
        messageId: 'msg-1',
        clientId: 'c-7',
        attempt: 2,
        tags: ['a', 'b'],
        $odd: 'dollar key',
        streamPosition: 99n, // emmett computes it on reads: not stored
      },
    } as Tagged
    await eventStore.appendToStream('cart', [event, added()])
    const [first, second] = (await eventStore.readStream<ShoppingCartEvent>('cart')).events
    expect(first!.metadata).toEqual({
      messageId: 'msg-1',
      clientId: 'c-7',
      attempt: 2,
      tags: ['a', 'b'],
      $odd: 'dollar key',
      streamName: 'cart',
      streamPosition: 1n,
      globalPosition: 1n,
    })
    expect(first!.kind).toBe('Event')
    expect(first!.data).toEqual(added().data)
    expect(typeof second!.metadata.messageId).toBe('string')
    expect(second!.metadata.messageId).not.toBe('msg-1')
    const [stored, storedSecond] = await waltzEvents(waltz, 'cart')
    expect(stored!.id).not.toBe('msg-1')
    expect(stored!.metadata.messageId).toBe('msg-1')
    expect(second!.metadata.messageId).toBe(storedSecond!.id) // none given: the waltz event id
    expect(stored!.metadata.clientId).toBe('c-7')
    expect(JSON.parse(stored!.metadata[JSON_METADATA]!)).toEqual({
      attempt: 2,
      tags: ['a', 'b'],
      $odd: 'dollar key',
    })
  })

  test('different events with the same messageId are all stored and read back with it (no dedupe on messageId)', async () => {
    const { waltz } = await openStores(tempDir())
    const published: WaltzReadEvent[] = []
    const eventStore = getWaltzEventStore({
      eventStore: waltz,
      hooks: { onAfterCommit: (events) => void published.push(...(events as WaltzReadEvent[])) },
    })
    // e.g. both copied the id of the command that caused them
    const first = await eventStore.appendToStream('cart', [{ ...added(), metadata: { messageId: 'cmd-42' } }])
    const second = await eventStore.appendToStream('cart', [
      { ...discounted(), metadata: { messageId: 'cmd-42' } },
    ])
    expect(first).toEqual({
      nextExpectedStreamVersion: 1n,
      createdNewStream: true,
      lastEventGlobalPosition: 1n,
    })
    expect(second).toEqual({
      nextExpectedStreamVersion: 2n,
      createdNewStream: false,
      lastEventGlobalPosition: 2n,
    })
    // The same event list again is a new append too, and an expectation it does not meet is a conflict.
    await eventStore.appendToStream('cart', [{ ...discounted(), metadata: { messageId: 'cmd-42' } }])
    const refused = await rejection(
      eventStore.appendToStream('cart', [{ ...added(), metadata: { messageId: 'cmd-42' } }], {
        expectedStreamVersion: STREAM_DOES_NOT_EXIST,
      }),
    )
    expect(refused).toBeInstanceOf(ExpectedVersionConflictError)
    const { events, currentStreamVersion } = await eventStore.readStream('cart')
    expect(currentStreamVersion).toBe(3n)
    expect(events.map((e) => [e.type, e.metadata.messageId, e.metadata.globalPosition])).toEqual([
      ['ProductItemAdded', 'cmd-42', 1n],
      ['DiscountApplied', 'cmd-42', 2n],
      ['DiscountApplied', 'cmd-42', 3n],
    ])
    // The hook saw exactly the stored events, nothing for the refused append.
    expect(published.map((e) => e.metadata)).toEqual(events.map((e) => e.metadata))
    expect(new Set((await waltzEvents(waltz, 'cart')).map((e) => e.id)).size).toBe(3)
  })

  test('onAfterCommit gets the appended events with ids and positions; its failure does not fail the append', async () => {
    const { waltz } = await openStores(tempDir())
    const seen: WaltzReadEvent[][] = []
    let fail = false
    const eventStore = getWaltzEventStore({
      eventStore: waltz,
      hooks: {
        onAfterCommit: (events) => {
          seen.push(events as WaltzReadEvent[])
          if (fail) throw new Error('hook failed')
        },
      },
    })
    await eventStore.appendToStream('other', [added()])
    await eventStore.appendToStream('cart', [added(), { ...discounted(), metadata: { messageId: 'given' } }])
    fail = true
    // emmett reports a failed hook on the console and lets the append succeed.
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {})
    const result = await eventStore.appendToStream('cart', [added()], { expectedStreamVersion: 2n })
    expect(result.nextExpectedStreamVersion).toBe(3n)
    expect(logged).toHaveBeenCalledTimes(1)
    logged.mockRestore()
    expect(seen).toHaveLength(3)
    const stored = (await eventStore.readStream('cart')).events
    expect(seen[1]!.map((e) => e.metadata)).toEqual(stored.slice(0, 2).map((e) => e.metadata))
    expect(seen[1]![1]!.metadata.messageId).toBe('given')
    expect(seen[2]![0]!.metadata).toEqual(stored[2]!.metadata)
  })
})

describe('readStream and aggregateStream', () => {
  test('aggregateStream with read: { to } travels in time, with evolve of bare or read events', async () => {
    const { eventStore } = await openStores(tempDir())
    await eventStore.appendToStream<ShoppingCartEvent>('cart', [added()])
    await eventStore.appendToStream<ShoppingCartEvent>('cart', [added()])
    await eventStore.appendToStream<ShoppingCartEvent>('cart', [discounted(10)])
    const withMetadata = (state: ShoppingCart, event: ReadEvent<ShoppingCartEvent>) => {
      expect(event.metadata.streamName).toBe('cart')
      return evolve(state, event)
    }
    for (const fold of [evolve, withMetadata]) {
      const at = async (to: bigint) =>
        eventStore.aggregateStream('cart', { evolve: fold, initialState, read: { to } })
      expect(await at(1n)).toEqual({
        currentStreamVersion: 1n,
        state: { productItems: [book], totalAmount: 30 },
        streamExists: true,
      })
      expect(await at(2n)).toEqual({
        currentStreamVersion: 2n,
        state: { productItems: [book, book], totalAmount: 60 },
        streamExists: true,
      })
      expect(await at(3n)).toEqual({
        currentStreamVersion: 3n,
        state: { productItems: [book, book], totalAmount: 54 },
        streamExists: true,
      })
      expect((await at(9n)).currentStreamVersion).toBe(3n)
    }
  })

  test('from, to and maxCount are inclusive stream positions', async () => {
    const { eventStore } = await openStores(tempDir())
    await eventStore.appendToStream(
      's',
      [1, 2, 3, 4, 5].map((n) => ({ type: 'n', data: { n } })),
    )
    const read = async (options: { from?: bigint; to?: bigint; maxCount?: bigint }) => {
      const r = await eventStore.readStream('s', options)
      return {
        positions: r.events.map((e) => Number(e.metadata.streamPosition)),
        data: r.events.map((e) => (e.data as { n: number }).n),
        version: r.currentStreamVersion,
        exists: r.streamExists,
      }
    }
    expect(await read({})).toEqual({
      positions: [1, 2, 3, 4, 5],
      data: [1, 2, 3, 4, 5],
      version: 5n,
      exists: true,
    })
    expect((await read({ from: 2n })).positions).toEqual([2, 3, 4, 5])
    expect((await read({ from: 0n })).positions).toEqual([1, 2, 3, 4, 5])
    expect(await read({ to: 3n })).toMatchObject({ positions: [1, 2, 3], version: 3n })
    expect(await read({ from: 2n, to: 4n })).toMatchObject({ positions: [2, 3, 4], version: 4n })
    expect(await read({ maxCount: 2n })).toMatchObject({ positions: [1, 2], version: 2n })
    expect(await read({ from: 3n, maxCount: 2n })).toMatchObject({ positions: [3, 4], version: 4n })
    expect(await read({ from: 2n, to: 3n, maxCount: 5n })).toMatchObject({ positions: [2, 3], version: 3n })
    expect((await read({ maxCount: 0n })).positions).toEqual([1, 2, 3, 4, 5])
    // Past the end: no events, but the stream exists at version 5.
    expect(await read({ from: 6n })).toEqual({ positions: [], data: [], version: 5n, exists: true })
    expect(await read({ to: 0n })).toEqual({ positions: [], data: [], version: 0n, exists: false })
  })

  test('after a soft delete and re-creation, bounded reads and time travel return exactly the revisions asked for', async () => {
    const { waltz, eventStore } = await openStores(tempDir())
    const numbered = (...ns: number[]) => ns.map((n) => ({ type: 'n', data: { n } }))
    await eventStore.appendToStream('cart', numbered(1, 2, 3))
    await waltz.deleteStream('cart') // revisions 1-3 are no longer visible
    await eventStore.appendToStream('cart', numbered(4, 5, 6))
    const read = async (options: { from?: bigint; to?: bigint; maxCount?: bigint }) => {
      const r = await eventStore.readStream('cart', options)
      return { positions: r.events.map((e) => e.metadata.streamPosition), version: r.currentStreamVersion }
    }
    // Positions 1-3 are deleted: a read of them finds nothing, and never events past its bounds.
    expect(await read({ to: 2n })).toEqual({ positions: [], version: 2n })
    expect(await read({ from: 1n, maxCount: 1n })).toEqual({ positions: [], version: 1n })
    expect(await read({ from: 2n, to: 4n })).toEqual({ positions: [4n], version: 4n })
    expect(await read({ from: 1n, maxCount: 5n })).toEqual({ positions: [4n, 5n], version: 5n })
    expect(await read({ from: 5n, maxCount: 1n })).toEqual({ positions: [5n], version: 5n })
    expect(await read({ from: 4n })).toEqual({ positions: [4n, 5n, 6n], version: 6n })
    const at = (to: bigint) =>
      eventStore.aggregateStream('cart', {
        initialState: (): number[] => [],
        evolve: (seen: number[], e: { data: unknown }) => [...seen, (e.data as { n: number }).n],
        read: { to },
      })
    expect(await at(3n)).toEqual({ currentStreamVersion: 3n, state: [], streamExists: true })
    expect(await at(5n)).toEqual({ currentStreamVersion: 5n, state: [4, 5], streamExists: true })
    expect(await at(9n)).toEqual({ currentStreamVersion: 6n, state: [4, 5, 6], streamExists: true })
  })

  test('a missing stream reads as version 0, no events, not existing', async () => {
    const { eventStore } = await openStores(tempDir())
    await eventStore.appendToStream('other', [added()])
    expect(await eventStore.readStream('missing')).toEqual({
      currentStreamVersion: 0n,
      events: [],
      streamExists: false,
    })
    expect(await eventStore.readStream('missing', { from: 1n, to: 5n })).toEqual({
      currentStreamVersion: 0n,
      events: [],
      streamExists: false,
    })
    expect(await eventStore.aggregateStream('missing', { evolve, initialState })).toEqual({
      currentStreamVersion: 0n,
      state: initialState(),
      streamExists: false,
    })
  })

  test('a read-side expectedStreamVersion is enforced against the stream as it is', async () => {
    const { eventStore } = await openStores(tempDir())
    await eventStore.appendToStream('cart', [added(), added()])
    expect((await eventStore.readStream('cart', { expectedStreamVersion: 2n })).events).toHaveLength(2)
    expect(
      (await eventStore.readStream('cart', { expectedStreamVersion: STREAM_EXISTS, to: 1n })).events,
    ).toHaveLength(1)
    // The expectation is about the stream, not the read's upper bound.
    const timeTravel = await eventStore.aggregateStream('cart', {
      evolve,
      initialState,
      read: { to: 1n, expectedStreamVersion: 2n },
    })
    expect(timeTravel.currentStreamVersion).toBe(1n)
    for (const expectedStreamVersion of [1n, 3n, STREAM_DOES_NOT_EXIST]) {
      const err = await rejection(eventStore.readStream('cart', { expectedStreamVersion }))
      expect(err).toBeInstanceOf(ExpectedVersionConflictError)
      expect((err as ExpectedVersionConflictError).current).toBe('2')
    }
    const err = await rejection(
      eventStore.aggregateStream('cart', { evolve, initialState, read: { expectedStreamVersion: 5n } }),
    )
    expect(isExpectedVersionConflictError(err)).toBe(true)
    const missing = await rejection(eventStore.readStream('none', { expectedStreamVersion: STREAM_EXISTS }))
    expect((missing as ExpectedVersionConflictError).current).toBe('0')
    expect(
      (await eventStore.readStream('none', { expectedStreamVersion: STREAM_DOES_NOT_EXIST })).streamExists,
    ).toBe(false)
    expect((await eventStore.readStream('none', { expectedStreamVersion: 0n })).streamExists).toBe(false)
  })

  test('streams written by waltz directly are read by emmett, and the other way round', async () => {
    const { waltz, eventStore } = await openStores(tempDir())
    await waltz.appendToStream('cart', [
      { type: 'ProductItemAdded', data: { productItem: book }, metadata: { by: 'waltz' } },
    ])
    await eventStore.appendToStream('cart', [discounted(50)], { expectedStreamVersion: 1n })
    const { state, currentStreamVersion } = await eventStore.aggregateStream('cart', { evolve, initialState })
    expect(currentStreamVersion).toBe(1n + 1n)
    expect(state.totalAmount).toBe(15)
    const stored = await waltzEvents(waltz, 'cart')
    expect(stored.map((e) => [e.revision, e.type])).toEqual([
      [1, 'ProductItemAdded'],
      [2, 'DiscountApplied'],
    ])
    const [first] = (await eventStore.readStream('cart')).events
    expect(first!.metadata).toMatchObject({ by: 'waltz', streamPosition: 1n })
  })
})

describe('encrypted stores: shredded events', () => {
  test('aggregateStream folds only the events with data; reads mark shredded ones and keep versions', async () => {
    const keyring = localKeyring([{ id: 'm1', key: randomBytes(32) }])
    const { waltz, eventStore } = await openStores(tempDir(), { encryption: { keyring } })
    await eventStore.appendToStream<ShoppingCartEvent>('cart-1', [added(), discounted(50)])
    await eventStore.appendToStream<ShoppingCartEvent>('cart-2', [added()])
    expect((await waltz.shredStream('cart-1')).keyIds).toEqual(['cart-1'])

    // emmett's evolve reads `data` of every event it gets: a shredded one would throw here.
    const shredded = await eventStore.aggregateStream<ShoppingCart, ShoppingCartEvent>('cart-1', {
      evolve,
      initialState,
    })
    expect(shredded).toEqual({ currentStreamVersion: 2n, state: initialState(), streamExists: true })
    const kept = await eventStore.aggregateStream<ShoppingCart, ShoppingCartEvent>('cart-2', {
      evolve,
      initialState,
    })
    expect(kept.state.totalAmount).toBe(30)

    const read = await eventStore.readStream<ShoppingCartEvent>('cart-1')
    expect(read.currentStreamVersion).toBe(2n)
    expect(read.events.map((e) => [e.type, e.data, e.metadata.shredded, e.metadata.streamPosition])).toEqual([
      ['ProductItemAdded', undefined, true, 1n],
      ['DiscountApplied', undefined, true, 2n],
    ])
    const bounded = await eventStore.readStream<ShoppingCartEvent>('cart-1', { from: 2n })
    expect(bounded.events.map((e) => [e.type, e.metadata.shredded])).toEqual([['DiscountApplied', true]])
    const other = await eventStore.readStream<ShoppingCartEvent>('cart-2')
    expect(other.events[0]?.metadata.shredded).toBeUndefined()
    expect(other.events[0]?.data).toEqual(added().data)
  })
})

describe('streamExists', () => {
  test('is true for a written stream and false for any other, with and without other streams', async () => {
    const { eventStore } = await openStores(tempDir())
    expect(await eventStore.streamExists('a')).toBe(false)
    await eventStore.appendToStream('a', [added()])
    expect(await eventStore.streamExists('a')).toBe(true)
    expect(await eventStore.streamExists('b')).toBe(false)
    await eventStore.appendToStream('b', [added()])
    expect(await eventStore.streamExists('a')).toBe(true)
    expect(await eventStore.streamExists('b')).toBe(true)
  })

  test('a stream soft-deleted through waltz does not exist; an append re-creates it with versions continuing', async () => {
    const { waltz, eventStore } = await openStores(tempDir())
    await eventStore.appendToStream('cart', [added(), added()])
    await waltz.deleteStream('cart')
    expect(await eventStore.streamExists('cart')).toBe(false)
    expect(await eventStore.readStream('cart')).toEqual({
      currentStreamVersion: 2n,
      events: [],
      streamExists: false,
    })
    const recreated = await eventStore.appendToStream('cart', [added()], {
      expectedStreamVersion: STREAM_DOES_NOT_EXIST,
    })
    expect(recreated).toMatchObject({ nextExpectedStreamVersion: 3n, createdNewStream: true })
    const { events } = await eventStore.readStream('cart')
    expect(events.map((e) => e.metadata.streamPosition)).toEqual([3n])
  })
})

describe('errors', () => {
  test('bad arguments get EVENTSTORE_INVALID_ARGUMENT and write nothing', async () => {
    const { eventStore } = await openStores(tempDir())
    await eventStore.appendToStream('cart', [added()])
    const invalid = [
      () => eventStore.appendToStream('', [added()]),
      () => eventStore.appendToStream('cart', []),
      () => eventStore.appendToStream('cart', [{ type: '$system', data: {} }]),
      () => eventStore.appendToStream('cart', [added()], { expectedStreamVersion: 'LATEST' as never }),
      () => eventStore.appendToStream('cart', [added()], { expectedStreamVersion: -1n }),
      () => eventStore.appendToStream('cart', [{ ...added(), metadata: { big: 1n } }] as never),
      () => eventStore.appendToStream('cart', [{ ...added(), metadata: 'text' }] as never),
      () => eventStore.appendToStream('cart', [null] as never),
      () => eventStore.readStream('cart', { from: -1n }),
      () => eventStore.readStream('cart', { to: 1.5 as never }),
      () => eventStore.readStream('cart', { maxCount: 'all' as never }),
      () => eventStore.readStream(''),
      () =>
        eventStore.aggregateStream('cart', {
          evolve,
          initialState,
          read: { expectedStreamVersion: {} as never },
        }),
      () => eventStore.streamExists(''),
    ]
    for (const attempt of invalid) {
      const err = await rejection(attempt())
      expect(isEventStoreError(err, 'EVENTSTORE_INVALID_ARGUMENT'), String(err)).toBe(true)
    }
    expect((await eventStore.readStream('cart')).currentStreamVersion).toBe(1n)
    expect(() => getWaltzEventStore({} as never)).toThrow(/EVENTSTORE_INVALID_ARGUMENT/)
  })

  test('a tombstoned stream and a closed store give their waltz error codes', async () => {
    const { waltz, eventStore } = await openStores(tempDir())
    await eventStore.appendToStream('cart', [added()])
    await waltz.tombstoneStream('cart')
    expect(
      isEventStoreError(await rejection(eventStore.appendToStream('cart', [added()])), 'STREAM_TOMBSTONED'),
    ).toBe(true)
    expect(await eventStore.readStream('cart')).toMatchObject({ events: [], streamExists: false })
    await waltz.close()
    for (const attempt of [
      () => eventStore.appendToStream('x', [added()]),
      () => eventStore.readStream('x'),
      () => eventStore.aggregateStream('x', { evolve, initialState }),
      () => eventStore.streamExists('x'),
    ]) {
      expect(isEventStoreError(await rejection(attempt()), 'EVENTSTORE_CLOSED')).toBe(true)
    }
  })
})
