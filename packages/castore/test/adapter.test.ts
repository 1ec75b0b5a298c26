import { randomBytes, randomUUID } from 'node:crypto'
import { type EventDetail, GroupedEvent, isEventAlreadyExistsError } from '@castore/core'
import { InMemoryEventStorageAdapter } from '@castore/event-storage-adapter-in-memory'
import { localKeyring } from '@waltz/core'
import { isEventStoreError } from '@waltz/eventstore'
import { describe, expect, test } from 'vitest'
import { collect } from '../../../test-support/collect.js'
import {
  type CastoreAdapterError,
  isCastoreAdapterError,
  WaltzEventAlreadyExistsError,
  WaltzEventStorageAdapter,
} from '../src/index.js'
import { json, openStore, rejection } from './helpers.js'

const eventStoreId = 'pokemons'
const context = { eventStoreId }
const aggregateId = randomUUID()

const event1 = {
  aggregateId,
  version: 1,
  type: 'APPEARED',
  timestamp: '2021-01-01T00:00:00.000Z',
  payload: { name: 'Pikachu', level: 5 },
  metadata: { trigger: 'random' },
}
const event2 = { aggregateId, version: 2, type: 'LEVELED_UP', timestamp: '2022-01-01T00:00:00.000Z' }
const event3 = {
  aggregateId,
  version: 3,
  type: 'CAUGHT',
  timestamp: '2023-01-01T00:00:00.000Z',
  payload: null,
}

async function setup() {
  const store = await openStore()
  return { store, adapter: new WaltzEventStorageAdapter({ store }) }
}

async function withThreeEvents() {
  const s = await setup()
  for (const e of [event1, event2, event3]) await s.adapter.pushEvent(e, context)
  return s
}

describe('getEvents / pushEvent', () => {
  test('an aggregate without events has none', async () => {
    const { adapter } = await setup()
    expect(await adapter.getEvents(aggregateId, context)).toStrictEqual({ events: [] })
  })

  test('events read back exactly as pushed: timestamp, payload (absent, null, object) and metadata', async () => {
    const { adapter } = await withThreeEvents()
    expect(await adapter.getEvents(aggregateId, context)).toStrictEqual({ events: [event1, event2, event3] })
  })

  test('pushEvent returns the event as stored, with a timestamp when none was given', async () => {
    const { adapter } = await setup()
    const { timestamp: _, ...withoutTimestamp } = event1
    const before = new Date().toISOString()
    const { event } = await adapter.pushEvent(withoutTimestamp, context)
    const after = new Date().toISOString()
    expect(event.timestamp >= before && event.timestamp <= after).toBe(true)
    expect(event).toStrictEqual({ ...event1, timestamp: event.timestamp })
    expect((await adapter.getEvents(aggregateId, context)).events).toStrictEqual([event])
  })

  test('a timestamp of any precision is kept as given', async () => {
    const { adapter } = await setup()
    const event = { ...event2, version: 1, timestamp: '2024-02-29T12:34:56.123456789+02:00' }
    await adapter.pushEvent(event, context)
    expect((await adapter.getEvents(aggregateId, context)).events).toStrictEqual([event])
  })

  test('minVersion, maxVersion, limit and reverse select as castore defines', async () => {
    const { adapter } = await withThreeEvents()
    const get = async (options: Parameters<typeof adapter.getEvents>[2]) =>
      (await adapter.getEvents(aggregateId, context, options)).events.map((e) => e.version)
    expect(await get({ maxVersion: 1 })).toEqual([1])
    expect(await get({ minVersion: 2 })).toEqual([2, 3])
    expect(await get({ minVersion: 2, maxVersion: 2 })).toEqual([2])
    expect(await get({ minVersion: 3, maxVersion: 2 })).toEqual([])
    expect(await get({ limit: 1 })).toEqual([1])
    expect(await get({ limit: 0 })).toEqual([])
    expect(await get({ reverse: true })).toEqual([3, 2, 1])
    expect(await get({ limit: 1, reverse: true })).toEqual([3])
    expect(await get({ reverse: true, maxVersion: 2 })).toEqual([2, 1])
    expect(await get({ reverse: true, minVersion: 2 })).toEqual([3, 2])
    expect(await get({ reverse: true, minVersion: 1, maxVersion: 2, limit: 1 })).toEqual([2])
    expect(await get({ minVersion: -5, maxVersion: 99 })).toEqual([1, 2, 3])
    expect(await get({ minVersion: 4 })).toEqual([])
    expect(await get({ maxVersion: 0 })).toEqual([])
  })

  test('getEvents answers as castore’s in-memory adapter for every combination of options', async () => {
    const { adapter } = await withThreeEvents()
    const reference = new InMemoryEventStorageAdapter()
    for (const e of [event1, event2, event3]) await reference.pushEvent(e, context)
    const values = {
      minVersion: [undefined, 0, 1, 2, 3, 4],
      maxVersion: [undefined, 0, 1, 2, 3, 4],
      limit: [undefined, 0, 1, 2, 5],
      reverse: [undefined, false, true],
    }
    let compared = 0
    for (const minVersion of values.minVersion)
      for (const maxVersion of values.maxVersion)
        for (const limit of values.limit)
          for (const reverse of values.reverse) {
            const options = JSON.parse(JSON.stringify({ minVersion, maxVersion, limit, reverse }))
            const ours = await adapter.getEvents(aggregateId, context, options)
            const theirs = await reference.getEvents(aggregateId, context, options)
            expect(ours, JSON.stringify(options)).toStrictEqual(theirs)
            compared++
          }
    expect(compared).toBe(6 * 6 * 5 * 3)
  })

  test('a version that exists fails with castore’s EventAlreadyExistsError and writes nothing', async () => {
    const { store, adapter } = await withThreeEvents()
    const err = await rejection(adapter.pushEvent({ ...event2, type: 'OTHER' }, context))
    expect(isEventAlreadyExistsError(err)).toBe(true)
    expect(err).toBeInstanceOf(WaltzEventAlreadyExistsError)
    expect(err).toMatchObject({ code: 'EventAlreadyExistsError', eventStoreId, aggregateId, version: 2 })
    expect(isEventStoreError((err as Error).cause, 'WRONG_EXPECTED_REVISION')).toBe(true)
    expect((await adapter.getEvents(aggregateId, context)).events).toStrictEqual([event1, event2, event3])
    expect(store.position).toBe(3)
  })

  test('a version past the next one fails with CASTORE_VERSION_GAP and writes nothing', async () => {
    const { store, adapter } = await setup()
    const err = await rejection(adapter.pushEvent({ ...event3 }, context))
    expect(isCastoreAdapterError(err, 'CASTORE_VERSION_GAP')).toBe(true)
    expect(err).toMatchObject({ eventStoreId, aggregateId, version: 3 })
    await adapter.pushEvent(event1, context)
    expect(
      isCastoreAdapterError(await rejection(adapter.pushEvent(event3, context)), 'CASTORE_VERSION_GAP'),
    ).toBe(true)
    expect(store.position).toBe(1)
  })

  test('of concurrent pushes of one version exactly one wins; the others get EventAlreadyExistsError', async () => {
    const { adapter } = await setup()
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) =>
        adapter.pushEvent({ ...event1, payload: { writer: i } }, { eventStoreId }),
      ),
    )
    const won = results.filter((r) => r.status === 'fulfilled')
    const lost = results.filter((r) => r.status === 'rejected')
    expect(won).toHaveLength(1)
    expect(lost.every((r) => isEventAlreadyExistsError(r.reason))).toBe(true)
    const [stored] = (await adapter.getEvents(aggregateId, context)).events
    expect(stored).toStrictEqual(won[0]!.value.event)
  })
})

describe('force', () => {
  test('pushing an identical event again with force returns the stored one and writes nothing', async () => {
    const { store, adapter } = await withThreeEvents()
    expect(await adapter.pushEvent(event1, { eventStoreId, force: true })).toStrictEqual({ event: event1 })
    const { timestamp: _, ...noTimestamp } = event2
    expect(await adapter.pushEvent(noTimestamp, { eventStoreId, force: true })).toStrictEqual({
      event: event2,
    })
    expect(store.position).toBe(3)
  })

  test('force with a different event fails with CASTORE_OVERWRITE_UNSUPPORTED and keeps the stored one', async () => {
    const { store, adapter } = await withThreeEvents()
    for (const changed of [
      { ...event1, payload: { name: 'Raichu', level: 5 } },
      { ...event1, type: 'OTHER' },
      { ...event1, metadata: { trigger: 'scripted' } },
      { ...event1, timestamp: '2030-01-01T00:00:00.000Z' },
    ]) {
      const err = await rejection(adapter.pushEvent(changed, { eventStoreId, force: true }))
      expect(isCastoreAdapterError(err, 'CASTORE_OVERWRITE_UNSUPPORTED')).toBe(true)
      expect(err).toMatchObject({ eventStoreId, aggregateId, version: 1 })
    }
    expect((await adapter.getEvents(aggregateId, context)).events[0]).toStrictEqual(event1)
    expect(store.position).toBe(3)
  })

  const mew = {
    aggregateId,
    version: 1,
    type: 'APPEARED',
    timestamp: event1.timestamp,
    payload: { name: 'Mew', nick: undefined, seen: new Date(0) },
  }
  /** What a JSON store holds of `mew`: no `undefined` property, the Date as its string. */
  const storedMew = { ...mew, payload: { name: 'Mew', seen: '1970-01-01T00:00:00.000Z' } }

  test('with the store’s serializer, a retry whose payload the serializer changes is the same event', async () => {
    const store = await openStore()
    const adapter = new WaltzEventStorageAdapter({ store, serializer: json })
    await adapter.pushEvent(mew, context)
    expect(await adapter.pushEvent(mew, { eventStoreId, force: true })).toStrictEqual({ event: storedMew })
    const { eventGroup } = await adapter.pushEventGroup(
      { force: true },
      new GroupedEvent({ event: mew, eventStorageAdapter: adapter, context }),
      new GroupedEvent({
        event: { ...event2, timestamp: mew.timestamp },
        eventStorageAdapter: adapter,
        context,
      }),
    )
    expect(eventGroup.map((r) => r.event)).toStrictEqual([storedMew, { ...event2, timestamp: mew.timestamp }])
    expect(store.position).toBe(2)
  })

  test('with the store’s serializer, a different payload is still refused', async () => {
    const store = await openStore()
    const adapter = new WaltzEventStorageAdapter({ store, serializer: json })
    await adapter.pushEvent(mew, context)
    for (const payload of [
      { name: 'Mewtwo', nick: undefined, seen: new Date(0) },
      { name: 'Mew', nick: 'kitty', seen: new Date(0) },
      { name: 'Mew', seen: new Date(1) },
      undefined,
    ]) {
      const err = await rejection(adapter.pushEvent({ ...mew, payload }, { eventStoreId, force: true }))
      expect(isCastoreAdapterError(err, 'CASTORE_OVERWRITE_UNSUPPORTED'), JSON.stringify(payload)).toBe(true)
    }
    expect(store.position).toBe(1)
  })

  test('without the serializer, payloads compare as decoded values', async () => {
    const { store, adapter } = await setup()
    await adapter.pushEvent(mew, context)
    expect(await adapter.pushEvent(storedMew, { eventStoreId, force: true })).toStrictEqual({
      event: storedMew,
    })
    const err = await rejection(adapter.pushEvent(mew, { eventStoreId, force: true }))
    expect(isCastoreAdapterError(err, 'CASTORE_OVERWRITE_UNSUPPORTED')).toBe(true)
    expect(store.position).toBe(1)
  })

  test('a serializer that is not the store’s is refused', async () => {
    const store = await openStore()
    expect(() => new WaltzEventStorageAdapter({ store, serializer: { ...json, name: 'other/1' } })).toThrow(
      /CASTORE_INVALID_ARGUMENT/,
    )
  })

  test('racing identical pushes with force all return the stored event, though it is still in flight', async () => {
    // Appends stay in flight until their fdatasync: the losers' conflict counts an event reads do not
    // show yet, which must not read as a different event.
    const store = await openStore(undefined, { sync: 'always' })
    const adapter = new WaltzEventStorageAdapter({ store })
    const results = await Promise.all(
      Array.from({ length: 8 }, () => adapter.pushEvent(event1, { ...context, force: true })),
    )
    for (const { event } of results) expect(event).toStrictEqual(event1)
    expect(store.position).toBe(1)
  })

  test('force on a new version appends as usual', async () => {
    const { adapter } = await setup()
    await adapter.pushEvent(event1, { eventStoreId, force: true })
    expect((await adapter.getEvents(aggregateId, context)).events).toStrictEqual([event1])
  })
})

describe('the mapping onto waltz', () => {
  test('an aggregate is the stream <eventStoreId>-<aggregateId>; version is its revision', async () => {
    const { store, adapter } = await withThreeEvents()
    const stream = `pokemons-${aggregateId}`
    expect(adapter.streamName(eventStoreId, aggregateId)).toBe(stream)
    const stored = await collect(store.readStream(stream))
    expect(stored.map((e) => [e.revision, e.position, e.type])).toEqual([
      [1, 1, 'APPEARED'],
      [2, 2, 'LEVELED_UP'],
      [3, 3, 'CAUGHT'],
    ])
    expect(stored[0]!.data).toEqual(event1.payload)
    expect(stored[0]!.metadata).toEqual({
      'castore.timestamp': event1.timestamp,
      'castore.metadata': '{"trigger":"random"}',
    })
    expect(stored[1]!.data).toBeUndefined()
    expect(stored[1]!.metadata).toEqual({ 'castore.timestamp': event2.timestamp })
  })

  test('aggregate ids may hold the separator; event store ids may not', async () => {
    const { adapter } = await setup()
    await adapter.pushEvent({ ...event1, aggregateId: 'a-b' }, context)
    expect((await adapter.getEvents('a-b', context)).events).toHaveLength(1)
    const err = await rejection(adapter.pushEvent(event1, { eventStoreId: 'pokemons-v2' }))
    expect(isCastoreAdapterError(err, 'CASTORE_INVALID_ARGUMENT')).toBe(true)
    expect((err as CastoreAdapterError).eventStoreId).toBe('pokemons-v2')
    await expect(adapter.getEvents('b', { eventStoreId: 'a-b' })).rejects.toMatchObject({
      code: 'CASTORE_INVALID_ARGUMENT',
    })
    await expect(adapter.listAggregateIds({ eventStoreId: '' })).rejects.toMatchObject({
      code: 'CASTORE_INVALID_ARGUMENT',
    })
  })

  test('the separator is fixed, so no two (eventStoreId, aggregateId) pairs share a stream', async () => {
    const { store, adapter } = await setup()
    // With a per-adapter separator, 'x#y' + '-' + 'z' and 'x' + '#' + 'y-z' were both 'x#y-z'.
    for (const separator of ['#', ':', '', '::'])
      expect(() => new WaltzEventStorageAdapter({ store, separator } as never)).toThrow(
        /CASTORE_INVALID_ARGUMENT/,
      )
    expect(new WaltzEventStorageAdapter({ store, separator: '-' } as never).streamName('x', 'y')).toBe('x-y')
    const parts = ['x', 'y', 'z', '-', '#', ':', '/']
    const ids = new Set<string>()
    for (const a of parts) for (const b of parts) for (const c of parts) ids.add(a + b + c).add(a + b)
    const owner = new Map<string, string>()
    for (const eventStoreId of ids)
      for (const aggregateId of ids) {
        let stream: string
        try {
          stream = adapter.streamName(eventStoreId, aggregateId)
        } catch (err) {
          expect(isCastoreAdapterError(err, 'CASTORE_INVALID_ARGUMENT')).toBe(true)
          expect(eventStoreId).toContain('-')
          continue
        }
        const pair = JSON.stringify([eventStoreId, aggregateId])
        expect(owner.get(stream) ?? pair, stream).toBe(pair)
        owner.set(stream, pair)
        // The first '-' ends the event store id: listAggregateIds' prefix selects exactly its streams.
        expect(stream.slice(0, stream.indexOf('-'))).toBe(eventStoreId)
      }
    expect(owner.size).toBeGreaterThan(10_000)
  })

  test('event stores sharing one waltz store do not see each other’s aggregates', async () => {
    const { adapter } = await setup()
    await adapter.pushEvent(event1, { eventStoreId: 'pokemon' })
    await adapter.pushEvent({ ...event1, aggregateId: 'other' }, { eventStoreId: 'pokemons' })
    expect((await adapter.getEvents(aggregateId, { eventStoreId: 'pokemons' })).events).toEqual([])
    expect((await adapter.listAggregateIds({ eventStoreId: 'pokemon' })).aggregateIds).toEqual([
      { aggregateId, initialEventTimestamp: event1.timestamp },
    ])
    expect((await adapter.listAggregateIds({ eventStoreId: 'pokemons' })).aggregateIds).toEqual([
      { aggregateId: 'other', initialEventTimestamp: event1.timestamp },
    ])
  })

  test('events appended by plain waltz writers read with the store’s time and no metadata', async () => {
    const { store, adapter } = await setup()
    const before = Date.now()
    await store.appendToStream('pokemons-direct', [{ type: 'APPEARED', data: { name: 'Mew' } }])
    const [event] = (await adapter.getEvents('direct', context)).events
    expect(event).toStrictEqual({
      aggregateId: 'direct',
      version: 1,
      type: 'APPEARED',
      timestamp: event!.timestamp,
      payload: { name: 'Mew' },
    })
    expect(Date.parse(event!.timestamp)).toBeGreaterThanOrEqual(before)
  })

  test('in an encrypted store, a shredded aggregate reads at its versions without payloads', async () => {
    const keyring = localKeyring([{ id: 'm1', key: randomBytes(32) }])
    const store = await openStore(undefined, { encryption: { keyring } })
    const adapter = new WaltzEventStorageAdapter({ store })
    for (const e of [event1, event2, event3]) await adapter.pushEvent(e, context)
    const kept = randomUUID()
    await adapter.pushEvent({ ...event1, aggregateId: kept }, context)
    await store.shredStream(adapter.streamName(eventStoreId, aggregateId))

    const { events } = await adapter.getEvents(aggregateId, context)
    // Versions, types, timestamps and metadata stay (they are not encrypted); payloads are gone.
    const { payload: _p1, ...withoutPayload1 } = event1
    const { payload: _p3, ...withoutPayload3 } = event3
    expect(events).toStrictEqual([withoutPayload1, event2, withoutPayload3])
    // Its versions stay taken: castore's optimistic concurrency still holds over shredded events.
    expect(isEventAlreadyExistsError(await rejection(adapter.pushEvent(event3, context)))).toBe(true)
    expect((await adapter.getEvents(kept, context)).events[0]?.payload).toEqual(event1.payload)
  })

  test('a castore.metadata entry that is not JSON (plain waltz writers) fails with CASTORE_UNREADABLE_EVENT', async () => {
    const { store, adapter } = await setup()
    await store.appendToStream('pokemons-direct', [
      { type: 'APPEARED', data: { name: 'Mew' }, metadata: { 'castore.metadata': 'not json' } },
    ])
    const err = await rejection(adapter.getEvents('direct', context))
    expect(isCastoreAdapterError(err, 'CASTORE_UNREADABLE_EVENT')).toBe(true)
    expect(err).toMatchObject({ eventStoreId, aggregateId: 'direct', version: 1 })
    expect((err as Error).cause).toBeInstanceOf(SyntaxError)
    // Listing reads no metadata: the aggregate is still listed.
    expect((await adapter.listAggregateIds(context)).aggregateIds.map((a) => a.aggregateId)).toEqual([
      'direct',
    ])
  })

  test('malformed arguments fail with typed errors and write nothing', async () => {
    const { store, adapter } = await setup()
    const invalid = [
      adapter.getEvents(aggregateId, context, { limit: -1 }),
      adapter.getEvents(aggregateId, context, { minVersion: 1.5 }),
      adapter.getEvents(aggregateId, context, { maxVersion: Number.NaN }),
      adapter.getEvents('', context),
      adapter.pushEvent({ ...event1, version: 0 }, context),
      adapter.pushEvent({ ...event1, version: 1.5 }, context),
      adapter.pushEvent({ ...event1, aggregateId: '' }, context),
      adapter.pushEvent({ ...event1, timestamp: 5 as unknown as string }, context),
      adapter.pushEvent({ ...event1, metadata: { n: 1n } }, context),
      adapter.pushEvent(event1, { eventStoreId: undefined as unknown as string }),
    ]
    for (const p of invalid)
      expect(isCastoreAdapterError(await rejection(p), 'CASTORE_INVALID_ARGUMENT')).toBe(true)
    // The event store checks what it owns: a type starting with '$' is its own marker.
    expect(
      isEventStoreError(
        await rejection(adapter.pushEvent({ ...event1, type: '$deleted' }, context)),
        'EVENTSTORE_INVALID_ARGUMENT',
      ),
    ).toBe(true)
    expect(() => new WaltzEventStorageAdapter({} as never)).toThrow(/CASTORE_INVALID_ARGUMENT/)
    expect(store.position).toBe(0)
  })
})

describe('listAggregateIds', () => {
  const ids = ['id-1', 'id-2', 'id-3', 'id-4']
  const timestamps = [
    '2021-01-01T00:00:00.000Z',
    '2022-01-01T00:00:00.000Z',
    '2023-01-01T00:00:00.000Z',
    '2024-01-01T00:00:00.000Z',
  ]
  const listed = (i: number) => ({ aggregateId: ids[i]!, initialEventTimestamp: timestamps[i]! })

  /** Four aggregates pushed out of timestamp order, each with a later second event. */
  async function withFour() {
    const s = await setup()
    for (const i of [2, 0, 3, 1]) {
      await s.adapter.pushEvent(
        { aggregateId: ids[i]!, version: 1, type: 'T', timestamp: timestamps[i]! },
        context,
      )
    }
    for (const i of [0, 1, 2, 3]) {
      await s.adapter.pushEvent(
        { aggregateId: ids[i]!, version: 2, type: 'T', timestamp: '2099-01-01T00:00:00.000Z' },
        context,
      )
    }
    return s
  }

  test('lists the aggregates by the timestamp of their first event', async () => {
    const { adapter } = await withFour()
    expect(await adapter.listAggregateIds(context)).toStrictEqual({ aggregateIds: [0, 1, 2, 3].map(listed) })
  })

  test('pages with a token that carries the options', async () => {
    const { adapter } = await withFour()
    const first = await adapter.listAggregateIds(context, { limit: 2 })
    expect(first.aggregateIds).toStrictEqual([listed(0), listed(1)])
    expect(JSON.parse(first.nextPageToken!)).toStrictEqual({ limit: 2, lastEvaluatedKey: listed(1) })
    const second = await adapter.listAggregateIds(context, { pageToken: first.nextPageToken! })
    expect(second).toStrictEqual({ aggregateIds: [listed(2), listed(3)] })
  })

  test('applies initialEventAfter and initialEventBefore (inclusive), reverse and limit', async () => {
    const { adapter } = await withFour()
    const options = {
      limit: 1,
      initialEventAfter: '2021-02-01T00:00:00.000Z',
      initialEventBefore: '2023-02-01T00:00:00.000Z',
      reverse: true,
    }
    const first = await adapter.listAggregateIds(context, options)
    expect(first.aggregateIds).toStrictEqual([listed(2)])
    expect(JSON.parse(first.nextPageToken!)).toStrictEqual({ ...options, lastEvaluatedKey: listed(2) })
    const second = await adapter.listAggregateIds(context, { pageToken: first.nextPageToken! })
    expect(second).toStrictEqual({ aggregateIds: [listed(1)] })
    const inclusive = await adapter.listAggregateIds(context, {
      initialEventAfter: timestamps[1]!,
      initialEventBefore: timestamps[2]!,
    })
    expect(inclusive.aggregateIds).toStrictEqual([listed(1), listed(2)])
  })

  test('options given with a page token override the token’s', async () => {
    const { adapter } = await withFour()
    const { nextPageToken } = await adapter.listAggregateIds(context, { limit: 1 })
    const next = await adapter.listAggregateIds(context, { pageToken: nextPageToken!, limit: 2 })
    expect(next.aggregateIds).toStrictEqual([listed(1), listed(2)])
    expect(JSON.parse(next.nextPageToken!).limit).toBe(2)
  })

  test('answers as castore’s in-memory adapter, page after page, for every combination of options', async () => {
    const { adapter } = await withFour()
    const reference = new InMemoryEventStorageAdapter()
    for (const i of [2, 0, 3, 1]) {
      await reference.pushEvent(
        { aggregateId: ids[i]!, version: 1, type: 'T', timestamp: timestamps[i]! },
        context,
      )
    }
    const bounds = [undefined, '2020-06-01T00:00:00.000Z', timestamps[1], '2023-06-01T00:00:00.000Z']
    let pages = 0
    for (const limit of [undefined, 1, 2, 3, 4, 5])
      for (const reverse of [undefined, true, false])
        for (const initialEventAfter of bounds)
          for (const initialEventBefore of bounds) {
            const options = JSON.parse(
              JSON.stringify({ limit, reverse, initialEventAfter, initialEventBefore }),
            )
            let ours = await adapter.listAggregateIds(context, options)
            let theirs = await reference.listAggregateIds(context, options)
            for (;;) {
              pages++
              expect(ours.aggregateIds, JSON.stringify(options)).toStrictEqual(theirs.aggregateIds)
              expect(ours.nextPageToken === undefined).toBe(theirs.nextPageToken === undefined)
              if (ours.nextPageToken === undefined || theirs.nextPageToken === undefined) break
              ours = await adapter.listAggregateIds(context, { pageToken: ours.nextPageToken })
              theirs = await reference.listAggregateIds(context, { pageToken: theirs.nextPageToken })
            }
          }
    expect(pages).toBeGreaterThan(6 * 3 * 16)
  })

  test('aggregates with the same initial timestamp page in id order, none lost or repeated', async () => {
    const { adapter } = await setup()
    const same = '2021-01-01T00:00:00.000Z'
    const names = ['e', 'b', 'd', 'a', 'c']
    for (const id of names)
      await adapter.pushEvent({ aggregateId: id, version: 1, type: 'T', timestamp: same }, context)
    for (const reverse of [false, true]) {
      const seen: string[] = []
      let page = await adapter.listAggregateIds(context, { limit: 2, reverse })
      for (;;) {
        seen.push(...page.aggregateIds.map((a) => a.aggregateId))
        if (page.nextPageToken === undefined) break
        page = await adapter.listAggregateIds(context, { pageToken: page.nextPageToken })
      }
      const sorted = [...names].sort()
      expect(seen).toEqual(reverse ? sorted.reverse() : sorted)
    }
  })

  test('an aggregate deleted through waltz is not listed', async () => {
    const { store, adapter } = await withFour()
    await store.deleteStream(adapter.streamName(eventStoreId, ids[0]!))
    expect((await adapter.listAggregateIds(context)).aggregateIds).toStrictEqual([1, 2, 3].map(listed))
    expect((await adapter.getEvents(ids[0]!, context)).events).toEqual([])
  })

  test('a malformed page token or option fails with CASTORE_INVALID_ARGUMENT', async () => {
    const { adapter } = await withFour()
    for (const options of [
      { pageToken: 'nope' },
      { pageToken: 'null' },
      { pageToken: '{"limit":2}' },
      { limit: 0 },
      { limit: 1.5 },
      { reverse: 'yes' as unknown as boolean },
      { initialEventAfter: 5 as unknown as string },
    ]) {
      const err = await rejection(adapter.listAggregateIds(context, options))
      expect(isCastoreAdapterError(err, 'CASTORE_INVALID_ARGUMENT'), JSON.stringify(options)).toBe(true)
    }
  })
})

describe('groupEvent / pushEventGroup', () => {
  function grouped(
    adapter: WaltzEventStorageAdapter | InMemoryEventStorageAdapter,
    event: object,
    id = eventStoreId,
  ) {
    return new GroupedEvent({
      event: event as EventDetail,
      eventStorageAdapter: adapter,
      context: { eventStoreId: id },
    })
  }

  test('groupEvent wraps the event with the adapter', async () => {
    const { adapter } = await setup()
    const { timestamp: _, ...event } = event1
    const g = adapter.groupEvent(event)
    expect(g).toBeInstanceOf(GroupedEvent)
    expect(g).toMatchObject({ event, eventStorageAdapter: adapter })
  })

  test('events of one aggregate are pushed as one batch, sharing a timestamp when they have none', async () => {
    const { store, adapter } = await setup()
    const { eventGroup } = await adapter.pushEventGroup(
      {},
      grouped(adapter, { aggregateId, version: 1, type: 'APPEARED', payload: { name: 'Pikachu' } }),
      grouped(adapter, { aggregateId, version: 2, type: 'LEVELED_UP' }),
    )
    const [a, b] = eventGroup.map((r) => r.event)
    expect(a!.timestamp).toBe(b!.timestamp)
    expect((await adapter.getEvents(aggregateId, context)).events).toStrictEqual([a, b])
    // One append: consecutive positions, and the stream was created by the first of them.
    const stored = await collect(store.readStream(adapter.streamName(eventStoreId, aggregateId)))
    expect(stored.map((e) => e.position)).toEqual([1, 2])
  })

  test('a group meeting an existing version fails with EventAlreadyExistsError and writes nothing', async () => {
    const { store, adapter } = await setup()
    await adapter.pushEvent(event1, context)
    const err = await rejection(
      adapter.pushEventGroup(
        {},
        grouped(adapter, { ...event2, version: 1 }),
        grouped(adapter, { ...event2 }),
      ),
    )
    expect(isEventAlreadyExistsError(err)).toBe(true)
    expect(err).toMatchObject({ eventStoreId, aggregateId, version: 1 })
    expect(store.position).toBe(1)
  })

  test('a group with a foreign adapter, another store, no context or unordered versions is refused', async () => {
    const { store, adapter } = await setup()
    const elsewhere = new WaltzEventStorageAdapter({ store: await openStore() })
    const noContext = new GroupedEvent({ event: event2, eventStorageAdapter: adapter })
    for (const group of [
      [grouped(adapter, event1), grouped(new InMemoryEventStorageAdapter(), event2)],
      [grouped(adapter, event1), grouped(elsewhere, event2)],
      [grouped(adapter, event1), noContext],
      [grouped(adapter, event2), grouped(adapter, event1)],
      [grouped(adapter, event1), grouped(adapter, event3)],
    ] as const) {
      const err = await rejection(adapter.pushEventGroup({}, ...group))
      expect(isCastoreAdapterError(err, 'CASTORE_INVALID_ARGUMENT')).toBe(true)
    }
    expect(store.position).toBe(0)
  })

  test('force: stored events equal to the group are kept, and the rest appended', async () => {
    const { store, adapter } = await setup()
    await adapter.pushEvent(event1, context)
    const { timestamp: _, ...event2WithoutTimestamp } = event2
    const { eventGroup } = await adapter.pushEventGroup(
      { force: true },
      grouped(adapter, event1),
      grouped(adapter, event2WithoutTimestamp),
    )
    const stored2 = { ...event2, timestamp: event1.timestamp }
    expect(eventGroup.map((r) => r.event)).toStrictEqual([event1, stored2])
    expect(store.position).toBe(2)
    const err = await rejection(
      adapter.pushEventGroup(
        { force: true },
        grouped(adapter, { ...stored2, type: 'X' }),
        grouped(adapter, { ...event3, timestamp: event1.timestamp }),
      ),
    )
    expect(isCastoreAdapterError(err, 'CASTORE_OVERWRITE_UNSUPPORTED')).toBe(true)
    expect(store.position).toBe(2)
  })

  test('a group whose events carry different timestamps fails with CASTORE_INVALID_ARGUMENT and writes nothing', async () => {
    const { store, adapter } = await setup()
    const err = await rejection(
      adapter.pushEventGroup({}, grouped(adapter, event1), grouped(adapter, event2)),
    )
    expect(isCastoreAdapterError(err, 'CASTORE_INVALID_ARGUMENT')).toBe(true)
    expect((err as Error).message).toMatch(/#1 and #0 have different timestamps/)
    expect(store.position).toBe(0)
  })

  test('events of a group without a timestamp take the one another event of the group gives', async () => {
    const { adapter } = await setup()
    const { timestamp: _, ...first } = event1
    const { eventGroup } = await adapter.pushEventGroup(
      {},
      grouped(adapter, first),
      grouped(adapter, { ...event2, timestamp: event3.timestamp }),
    )
    const stored = [
      { ...event1, timestamp: event3.timestamp },
      { ...event2, timestamp: event3.timestamp },
    ]
    expect(eventGroup.map((r) => r.event)).toStrictEqual(stored)
    expect((await adapter.getEvents(aggregateId, context)).events).toStrictEqual(stored)
  })
})

describe('groups across aggregates', () => {
  const trainers = { eventStoreId: 'trainers' }
  function grouped(adapter: WaltzEventStorageAdapter, event: object, context = { eventStoreId }) {
    return new GroupedEvent({ event: event as EventDetail, eventStorageAdapter: adapter, context })
  }
  const ts = event1.timestamp
  const at = (aggregateId: string) => (version: number) => ({
    aggregateId,
    version,
    type: 'T',
    timestamp: ts,
  })
  const pikachu = at('pikachu')
  const bulbasaur = at('bulbasaur')
  const ash = at('ash')
  /** The aggregates of the tests with their event stores, and a group of each one's given version. */
  const aggregates = [
    { of: pikachu, context },
    { of: ash, context: trainers },
    { of: bulbasaur, context },
  ] as const
  const groupAt = (adapter: WaltzEventStorageAdapter, versions: readonly number[]) =>
    aggregates.map((a, i) => grouped(adapter, a.of(versions[i]!), a.context)) as [
      GroupedEvent,
      ...GroupedEvent[],
    ]
  async function eventsOf(adapter: WaltzEventStorageAdapter) {
    return Promise.all(
      aggregates.map(async (a) => (await adapter.getEvents(a.of(1).aggregateId, a.context)).events),
    )
  }

  test('a group over three aggregates of two event stores is one batch: all stored, at adjacent positions, in the group’s order', async () => {
    const { store, adapter } = await setup()
    await adapter.pushEvent(pikachu(1), context)
    const { eventGroup } = await adapter.pushEventGroup(
      {},
      grouped(adapter, pikachu(2)),
      grouped(adapter, ash(1), trainers),
      grouped(adapter, pikachu(3)),
      grouped(adapter, bulbasaur(1)),
    )
    expect(eventGroup.map((r) => r.event)).toStrictEqual([pikachu(2), ash(1), pikachu(3), bulbasaur(1)])
    expect(await eventsOf(adapter)).toStrictEqual([[1, 2, 3].map(pikachu), [ash(1)], [bulbasaur(1)]])
    // One appendToStreams: the four events follow each other in the log, each aggregate's in order.
    const logged = await collect(store.readAll({ from: 2 }))
    expect(logged.map((e) => [e.position, e.stream, e.revision])).toEqual([
      [2, 'pokemons-pikachu', 2],
      [3, 'pokemons-pikachu', 3],
      [4, 'trainers-ash', 1],
      [5, 'pokemons-bulbasaur', 1],
    ])
  })

  test('a version that exists in any one aggregate fails with its EventAlreadyExistsError and writes to none', async () => {
    for (const [i, taken] of aggregates.entries()) {
      const { store, adapter } = await setup()
      await adapter.pushEvent(taken.of(1), taken.context)
      const err = await rejection(adapter.pushEventGroup({}, ...groupAt(adapter, [1, 1, 1])))
      expect(isEventAlreadyExistsError(err)).toBe(true)
      expect(err).toMatchObject({ ...taken.context, aggregateId: taken.of(1).aggregateId, version: 1 })
      expect((err as Error).cause).toMatchObject({ code: 'WRONG_EXPECTED_REVISION', expected: 0, actual: 1 })
      expect(store.position).toBe(1)
      expect(await eventsOf(adapter)).toStrictEqual(aggregates.map((a, j) => (j === i ? [a.of(1)] : [])))
    }
  })

  test('with several conflicts, the first aggregate of the group that conflicts is reported, as castore’s in-memory adapter does', async () => {
    const { store, adapter } = await setup()
    await adapter.pushEvent(bulbasaur(1), context)
    await adapter.pushEvent(ash(1), trainers)
    const err = await rejection(adapter.pushEventGroup({}, ...groupAt(adapter, [1, 1, 1])))
    expect(err).toMatchObject({ eventStoreId: 'trainers', aggregateId: 'ash', version: 1 })
    expect(store.position).toBe(2)
  })

  test('a version past one aggregate’s next fails with CASTORE_VERSION_GAP and writes to none', async () => {
    const { store, adapter } = await setup()
    const gap = await rejection(adapter.pushEventGroup({}, ...groupAt(adapter, [1, 2, 1])))
    expect(isCastoreAdapterError(gap, 'CASTORE_VERSION_GAP')).toBe(true)
    expect(gap).toMatchObject({ eventStoreId: 'trainers', aggregateId: 'ash', version: 2 })
    expect(store.position).toBe(0)
  })

  test('force keeps the stored events of each aggregate that equal the group’s and appends the rest, in one batch', async () => {
    const { store, adapter } = await setup()
    await adapter.pushEvent(pikachu(1), context)
    await adapter.pushEvent(ash(1), trainers)
    const { eventGroup } = await adapter.pushEventGroup(
      { force: true },
      grouped(adapter, pikachu(1)),
      grouped(adapter, ash(1), trainers),
      grouped(adapter, pikachu(2)),
      grouped(adapter, bulbasaur(1)),
    )
    expect(eventGroup.map((r) => r.event)).toStrictEqual([pikachu(1), ash(1), pikachu(2), bulbasaur(1)])
    const logged = await collect(store.readAll({ from: 3 }))
    expect(logged.map((e) => [e.position, e.stream, e.revision])).toEqual([
      [3, 'pokemons-pikachu', 2],
      [4, 'pokemons-bulbasaur', 1],
    ])
    // Everything stored already: the stored events come back and nothing is written.
    const again = await adapter.pushEventGroup({ force: true }, ...groupAt(adapter, [2, 1, 1]))
    expect(again.eventGroup.map((r) => r.event)).toStrictEqual([pikachu(2), ash(1), bulbasaur(1)])
    expect(store.position).toBe(4)
  })

  test('force with a different stored event in one aggregate fails with CASTORE_OVERWRITE_UNSUPPORTED and writes to none', async () => {
    const { store, adapter } = await setup()
    await adapter.pushEvent(pikachu(1), context)
    await adapter.pushEvent(ash(1), trainers)
    const err = await rejection(
      adapter.pushEventGroup(
        { force: true },
        grouped(adapter, pikachu(2)),
        grouped(adapter, { ...ash(1), type: 'OTHER' }, trainers),
        grouped(adapter, bulbasaur(1)),
      ),
    )
    expect(isCastoreAdapterError(err, 'CASTORE_OVERWRITE_UNSUPPORTED')).toBe(true)
    expect(err).toMatchObject({ eventStoreId: 'trainers', aggregateId: 'ash', version: 1 })
    expect(store.position).toBe(2)
    expect(await eventsOf(adapter)).toStrictEqual([[pikachu(1)], [ash(1)], []])
  })

  test('of 8 identical groups racing for the same versions exactly one is stored; the others get EventAlreadyExistsError', async () => {
    const store = await openStore(undefined, { sync: 'always' })
    const adapter = new WaltzEventStorageAdapter({ store })
    await adapter.pushEvent(pikachu(1), context)
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () => adapter.pushEventGroup({}, ...groupAt(adapter, [2, 1, 1]))),
    )
    const won = results.filter((r) => r.status === 'fulfilled')
    const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []))
    expect(won).toHaveLength(1)
    expect(lost).toHaveLength(7)
    for (const err of lost) {
      expect(isEventAlreadyExistsError(err)).toBe(true)
      expect(err).toMatchObject({ eventStoreId, aggregateId: 'pikachu', version: 2 })
    }
    expect(store.position).toBe(4)
    expect(await eventsOf(adapter)).toStrictEqual([[pikachu(1), pikachu(2)], [ash(1)], [bulbasaur(1)]])
  })

  test('of 8 identical groups racing with force, all return the stored events and one is written', async () => {
    const store = await openStore(undefined, { sync: 'always' })
    const adapter = new WaltzEventStorageAdapter({ store })
    await adapter.pushEvent(pikachu(1), context)
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        adapter.pushEventGroup({ force: true }, ...groupAt(adapter, [2, 1, 1])),
      ),
    )
    for (const { eventGroup } of results)
      expect(eventGroup.map((r) => r.event)).toStrictEqual([pikachu(2), ash(1), bulbasaur(1)])
    expect(store.position).toBe(4)
    expect(await eventsOf(adapter)).toStrictEqual([[pikachu(1), pikachu(2)], [ash(1)], [bulbasaur(1)]])
  })

  test('of two racing groups sharing one aggregate’s version, one is stored and the other writes to none', async () => {
    const { store, adapter } = await setup()
    const results = await Promise.allSettled([
      adapter.pushEventGroup({}, grouped(adapter, pikachu(1)), grouped(adapter, ash(1), trainers)),
      adapter.pushEventGroup({}, grouped(adapter, ash(1), trainers), grouped(adapter, bulbasaur(1))),
    ])
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected'])
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ aggregateId: 'ash', version: 1 })
    expect(store.position).toBe(2)
    expect(await eventsOf(adapter)).toStrictEqual([[pikachu(1)], [ash(1)], []])
  })
})
