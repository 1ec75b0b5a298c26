import {
  AggregateNotFoundError,
  EventStore as CastoreEventStore,
  Command,
  EventType,
  type EventTypeDetail,
  isEventAlreadyExistsError,
  tuple,
} from '@castore/core'
import { EventStore } from '@waltz/eventstore'
import { jsonSerializer } from '@waltz/serializer-json'
import { describe, expect, test } from 'vitest'
import { z } from 'zod'
import { tempDir } from '../../../test-support/temp-dir.js'
import { WaltzEventStorageAdapter } from '../src/index.js'
import { openStore, rejection } from './helpers.js'

const appeared = new EventType<
  'APPEARED',
  { name: string; level: number },
  { trigger?: 'random' | 'scripted' } | undefined
>({
  type: 'APPEARED',
})
const leveledUp = new EventType<'LEVELED_UP'>({ type: 'LEVELED_UP' })
const caught = new EventType<'CAUGHT', { trainerId: string }>({ type: 'CAUGHT' })
type PokemonEvent =
  | EventTypeDetail<typeof appeared>
  | EventTypeDetail<typeof leveledUp>
  | EventTypeDetail<typeof caught>

/** The event and aggregate of a second event store, on the same waltz store. */
const caughtPokemon = new EventType<'CAUGHT_POKEMON', { pokemonId: string }>({ type: 'CAUGHT_POKEMON' })
interface Trainer {
  aggregateId: string
  version: number
  pokemons: string[]
}

interface Pokemon {
  aggregateId: string
  version: number
  name: string
  level: number
  status: 'wild' | 'caught'
  trainerId?: string
}

const reducer = (pokemon: Pokemon, event: PokemonEvent): Pokemon => {
  const { aggregateId, version } = event
  switch (event.type) {
    case 'APPEARED':
      return { aggregateId, version, name: event.payload.name, level: event.payload.level, status: 'wild' }
    case 'LEVELED_UP':
      return { ...pokemon, version, level: pokemon.level + 1 }
    case 'CAUGHT':
      return { ...pokemon, version, status: 'caught', trainerId: event.payload.trainerId }
  }
}

function pokemonsOn(adapter: WaltzEventStorageAdapter) {
  return new CastoreEventStore({
    eventStoreId: 'pokemons',
    eventTypes: [appeared, leveledUp, caught],
    reducer,
    eventStorageAdapter: adapter,
  })
}

async function setup() {
  const store = await openStore()
  const adapter = new WaltzEventStorageAdapter({ store })
  return { store, adapter, pokemons: pokemonsOn(adapter) }
}

describe('a castore EventStore on the adapter', () => {
  test('pushEvent folds the next aggregate; getAggregate rebuilds it from the log', async () => {
    const { pokemons } = await setup()
    const first = await pokemons.pushEvent({
      aggregateId: 'pikachu',
      version: 1,
      type: 'APPEARED',
      payload: { name: 'Pikachu', level: 5 },
      metadata: { trigger: 'random' },
    })
    expect(first.nextAggregate).toEqual({
      aggregateId: 'pikachu',
      version: 1,
      name: 'Pikachu',
      level: 5,
      status: 'wild',
    })
    const second = await pokemons.pushEvent(
      { aggregateId: 'pikachu', version: 2, type: 'LEVELED_UP' },
      { prevAggregate: first.nextAggregate! },
    )
    expect(second.nextAggregate).toMatchObject({ version: 2, level: 6 })
    await pokemons.pushEvent({
      aggregateId: 'pikachu',
      version: 3,
      type: 'CAUGHT',
      payload: { trainerId: 'ash' },
    })

    const { aggregate, events, lastEvent } = await pokemons.getAggregate('pikachu')
    expect(aggregate).toEqual({
      aggregateId: 'pikachu',
      version: 3,
      name: 'Pikachu',
      level: 6,
      status: 'caught',
      trainerId: 'ash',
    })
    expect(events.map((e) => e.type)).toEqual(['APPEARED', 'LEVELED_UP', 'CAUGHT'])
    expect(events[0]).toMatchObject({ type: 'APPEARED', metadata: { trigger: 'random' } })
    expect(lastEvent?.version).toBe(3)
  })

  test('getAggregate with maxVersion travels back in time; a missing aggregate is undefined or not found', async () => {
    const { pokemons } = await setup()
    await pokemons.pushEvent({
      aggregateId: 'p',
      version: 1,
      type: 'APPEARED',
      payload: { name: 'Mew', level: 1 },
    })
    for (let v = 2; v <= 5; v++)
      await pokemons.pushEvent({ aggregateId: 'p', version: v, type: 'LEVELED_UP' })
    expect((await pokemons.getAggregate('p', { maxVersion: 3 })).aggregate).toMatchObject({
      version: 3,
      level: 3,
    })
    expect((await pokemons.getExistingAggregate('p')).aggregate).toMatchObject({ version: 5, level: 5 })
    expect(await pokemons.getAggregate('missing')).toEqual({
      aggregate: undefined,
      events: [],
      lastEvent: undefined,
    })
    await expect(pokemons.getExistingAggregate('missing')).rejects.toBeInstanceOf(AggregateNotFoundError)
  })

  test('simulateAggregate folds stored and hypothetical events without writing', async () => {
    const { store, pokemons } = await setup()
    await pokemons.pushEvent({
      aggregateId: 'p',
      version: 1,
      type: 'APPEARED',
      payload: { name: 'Eevee', level: 10 },
      timestamp: '2021-01-01T00:00:00.000Z',
    })
    const { events } = await pokemons.getEvents('p')
    const next = {
      aggregateId: 'p',
      version: 2,
      type: 'LEVELED_UP',
      timestamp: '2022-01-01T00:00:00.000Z',
    } as const
    expect(pokemons.simulateAggregate([...events, next])).toMatchObject({ version: 2, level: 11 })
    expect(
      pokemons.simulateAggregate([...events, next], { simulationDate: '2021-06-01T00:00:00.000Z' }),
    ).toMatchObject({ version: 1, level: 10 })
    expect(store.position).toBe(1)
  })

  test('listAggregateIds of the event store', async () => {
    const { pokemons } = await setup()
    for (const [id, timestamp] of [
      ['b', '2022-01-01T00:00:00.000Z'],
      ['a', '2021-01-01T00:00:00.000Z'],
    ] as const) {
      await pokemons.pushEvent({
        aggregateId: id,
        version: 1,
        type: 'APPEARED',
        payload: { name: id, level: 1 },
        timestamp,
      })
    }
    const { aggregateIds, nextPageToken } = await pokemons.listAggregateIds({ limit: 1 })
    expect(aggregateIds).toEqual([{ aggregateId: 'a', initialEventTimestamp: '2021-01-01T00:00:00.000Z' }])
    expect((await pokemons.listAggregateIds({ pageToken: nextPageToken! })).aggregateIds).toEqual([
      { aggregateId: 'b', initialEventTimestamp: '2022-01-01T00:00:00.000Z' },
    ])
  })

  test('EventStore.pushEventGroup pushes events of one aggregate atomically and folds them', async () => {
    const { pokemons } = await setup()
    const { eventGroup } = await CastoreEventStore.pushEventGroup(
      pokemons.groupEvent({
        aggregateId: 'p',
        version: 1,
        type: 'APPEARED',
        payload: { name: 'Onix', level: 20 },
      }),
      pokemons.groupEvent({ aggregateId: 'p', version: 2, type: 'LEVELED_UP' }),
    )
    expect(eventGroup[0].nextAggregate).toMatchObject({ version: 1, level: 20 })
    expect((await pokemons.getAggregate('p')).aggregate).toMatchObject({ version: 2, level: 21 })
  })

  test('EventStore.pushEventGroup across two event stores (two adapters, one waltz store) stores both or neither', async () => {
    const { store, pokemons } = await setup()
    const trainers = new CastoreEventStore({
      eventStoreId: 'trainers',
      eventTypes: [caughtPokemon],
      reducer: (trainer: Trainer | undefined, e: EventTypeDetail<typeof caughtPokemon>): Trainer => ({
        aggregateId: e.aggregateId,
        version: e.version,
        pokemons: [...(trainer?.pokemons ?? []), e.payload.pokemonId],
      }),
      eventStorageAdapter: new WaltzEventStorageAdapter({ store }),
    })
    await pokemons.pushEvent({
      aggregateId: 'p',
      version: 1,
      type: 'APPEARED',
      payload: { name: 'Onix', level: 20 },
    })
    const { aggregate: before } = await pokemons.getExistingAggregate('p')
    const { eventGroup } = await CastoreEventStore.pushEventGroup(
      pokemons.groupEvent(
        { aggregateId: 'p', version: 2, type: 'CAUGHT', payload: { trainerId: 'ash' } },
        { prevAggregate: before },
      ),
      trainers.groupEvent({
        aggregateId: 'ash',
        version: 1,
        type: 'CAUGHT_POKEMON',
        payload: { pokemonId: 'p' },
      }),
    )
    expect(eventGroup[0].nextAggregate).toMatchObject({ version: 2, status: 'caught', trainerId: 'ash' })
    expect(eventGroup[1].nextAggregate).toStrictEqual({ aggregateId: 'ash', version: 1, pokemons: ['p'] })
    expect(eventGroup[0].event.timestamp).toBe(eventGroup[1].event.timestamp)
    expect((await pokemons.getExistingAggregate('p')).aggregate).toMatchObject({
      version: 2,
      status: 'caught',
    })
    expect((await trainers.getExistingAggregate('ash')).aggregate).toMatchObject({
      version: 1,
      pokemons: ['p'],
    })
    expect(store.position).toBe(3)

    // A second catch by a trainer whose version 1 exists: castore's EventAlreadyExistsError, nothing stored.
    const err = await rejection(
      CastoreEventStore.pushEventGroup(
        pokemons.groupEvent({
          aggregateId: 'q',
          version: 1,
          type: 'APPEARED',
          payload: { name: 'Abra', level: 1 },
        }),
        trainers.groupEvent({
          aggregateId: 'ash',
          version: 1,
          type: 'CAUGHT_POKEMON',
          payload: { pokemonId: 'q' },
        }),
      ),
    )
    expect(isEventAlreadyExistsError(err)).toBe(true)
    expect(err).toMatchObject({ eventStoreId: 'trainers', aggregateId: 'ash', version: 1 })
    expect(await pokemons.getAggregate('q')).toMatchObject({ aggregate: undefined })
    expect(store.position).toBe(3)
  })

  test('a castore Command retries on EventAlreadyExistsError: racing level-ups all land, in order', async () => {
    const { pokemons } = await setup()
    await pokemons.pushEvent({
      aggregateId: 'p',
      version: 1,
      type: 'APPEARED',
      payload: { name: 'Abra', level: 1 },
    })
    let conflicts = 0
    const levelUp = new Command({
      commandId: 'LEVEL_UP',
      requiredEventStores: tuple(pokemons),
      eventAlreadyExistsRetries: 10,
      onEventAlreadyExists: async (error) => {
        expect(isEventAlreadyExistsError(error)).toBe(true)
        conflicts++
      },
      handler: async (aggregateId: string, [store]) => {
        const { aggregate } = await store.getExistingAggregate(aggregateId)
        await store.pushEvent({ aggregateId, version: aggregate.version + 1, type: 'LEVELED_UP' })
      },
    })
    await Promise.all(Array.from({ length: 4 }, () => levelUp.handler('p', [pokemons])))
    const { aggregate, events } = await pokemons.getExistingAggregate('p')
    expect(aggregate).toMatchObject({ version: 5, level: 5 })
    expect(events.map((e) => e.version)).toEqual([1, 2, 3, 4, 5])
    expect(conflicts).toBeGreaterThan(0)
  })

  test('the aggregates survive closing and reopening the waltz store', async () => {
    const dir = tempDir()
    const first = await openStore(dir)
    const pokemons = pokemonsOn(new WaltzEventStorageAdapter({ store: first }))
    await pokemons.pushEvent({
      aggregateId: 'p',
      version: 1,
      type: 'APPEARED',
      payload: { name: 'Snorlax', level: 30 },
    })
    await pokemons.pushEvent({ aggregateId: 'p', version: 2, type: 'LEVELED_UP' })
    const before = await pokemons.getAggregate('p')
    await first.close()
    const reopened = pokemonsOn(new WaltzEventStorageAdapter({ store: await openStore(dir) }))
    expect(await reopened.getAggregate('p')).toEqual(before)
    expect(
      isEventAlreadyExistsError(
        await rejection(reopened.pushEvent({ aggregateId: 'p', version: 2, type: 'LEVELED_UP' })),
      ),
    ).toBe(true)
  })

  test('a store with zod-validated JSON payloads: an invalid payload is never written', async () => {
    const schemas = {
      APPEARED: z.object({ name: z.string(), level: z.int() }),
      LEVELED_UP: z.undefined(),
      CAUGHT: z.object({ trainerId: z.string() }),
    }
    const store = await EventStore.open({ dir: tempDir(), serializer: jsonSerializer({ schemas }) })
    try {
      const pokemons = pokemonsOn(new WaltzEventStorageAdapter({ store }))
      await pokemons.pushEvent({
        aggregateId: 'p',
        version: 1,
        type: 'APPEARED',
        payload: { name: 'Ditto', level: 7 },
      })
      await pokemons.pushEvent({ aggregateId: 'p', version: 2, type: 'LEVELED_UP' })
      const bad = { name: 'Ditto', level: 'high' } as unknown as { name: string; level: number }
      await expect(
        pokemons.pushEvent({ aggregateId: 'q', version: 1, type: 'APPEARED', payload: bad }),
      ).rejects.toMatchObject({ code: 'WAL_SERIALIZER_ERROR' })
      expect((await pokemons.getAggregate('p')).aggregate).toMatchObject({ version: 2, level: 8 })
      expect(store.position).toBe(2)
    } finally {
      await store.close()
    }
  })

  test('given the zod JSON serializer, force recognises a retry whose payload the schema strips', async () => {
    const serializer = jsonSerializer({
      schemas: { APPEARED: z.object({ name: z.string(), level: z.int() }), LEVELED_UP: z.undefined() },
    })
    const store = await EventStore.open({ dir: tempDir(), serializer })
    try {
      const pokemons = pokemonsOn(new WaltzEventStorageAdapter({ store, serializer }))
      // A key the schema does not know: stripped on write, so the stored payload never equals this one.
      const payload = { name: 'Ditto', level: 7, nickname: 'blob' } as { name: string; level: number }
      const event = { aggregateId: 'p', version: 1, type: 'APPEARED', payload } as const
      const timestamp = '2021-01-01T00:00:00.000Z'
      await pokemons.pushEvent({ ...event, timestamp })
      const retried = await pokemons.pushEvent({ ...event, timestamp }, { force: true })
      expect(retried.event).toMatchObject({ version: 1, payload: { name: 'Ditto', level: 7 } })
      expect((retried.event as { payload: object }).payload).not.toHaveProperty('nickname')
      const other = { ...event, timestamp, payload: { name: 'Ditto', level: 8 } }
      await expect(pokemons.pushEvent(other, { force: true })).rejects.toMatchObject({
        code: 'CASTORE_OVERWRITE_UNSUPPORTED',
      })
      expect(store.position).toBe(1)
    } finally {
      await store.close()
    }
  })
})
