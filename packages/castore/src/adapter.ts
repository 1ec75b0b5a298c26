import { isDeepStrictEqual } from 'node:util'
import {
  type EventDetail,
  type EventStorageAdapter,
  type EventStoreContext,
  type EventsQueryOptions,
  GroupedEvent,
  type ListAggregateIdsOptions,
  type ListAggregateIdsOutput,
  type OptionalTimestamp,
  type PushEventOptions,
} from '@castore/core'
import { type EventStore, isEventStoreError } from '@waltz/eventstore'
import { type AggregateEntry, listPage, listQuery } from './aggregate-ids.js'
import { CastoreAdapterError, WaltzEventAlreadyExistsError } from './errors.js'
import {
  checkEventDetail,
  METADATA_KEY,
  pushedDetail,
  SEPARATOR,
  streamOf,
  streamPrefix,
  timestampOf,
  toEventDetail,
  toWaltzEvent,
} from './mapping.js'

/** Options of the {@link WaltzEventStorageAdapter} constructor. */
export interface WaltzEventStorageAdapterOptions {
  /**
   * An open `@waltz/eventstore` store. The adapter neither opens nor closes it, so one store can serve
   * several castore event stores and the application's own waltz consumers. Its serializer encodes
   * castore payloads as event data, so it must know every castore event type.
   */
  store: EventStore
}

/** The result of {@link WaltzEventStorageAdapter.getEvents}. */
export interface GetEventsResult {
  /** The events, in the order asked for. */
  events: EventDetail[]
}

/** The result of {@link WaltzEventStorageAdapter.pushEvent}. */
export interface PushEventResult {
  /** The event as stored (with its timestamp). */
  event: EventDetail
}

/** The result of {@link WaltzEventStorageAdapter.pushEventGroup}. */
export interface PushEventGroupResult {
  /** The events as stored, in the group's order. */
  eventGroup: PushEventResult[]
}

/** One event to append to one stream, as pushed (the timestamp may be missing). */
type Pushed = OptionalTimestamp<EventDetail>

/**
 * castore's `EventStorageAdapter` on a `@waltz/eventstore` store: each aggregate is the stream
 * `<eventStoreId>-<aggregateId>` (event store ids may not hold `-`), castore's version is the stream revision (1 for the first
 * event), the payload is the event data, castore's timestamp and metadata ride in the metadata entries
 * `castore.timestamp` and `castore.metadata` (JSON).
 *
 * A version that already exists fails with castore's `EventAlreadyExistsError` (so castore's `Command`
 * retries); a version past the aggregate's next one fails with `CASTORE_VERSION_GAP`. The log is
 * append-only: `force` on an existing version succeeds only when the stored event is the same
 * (`CASTORE_OVERWRITE_UNSUPPORTED` otherwise). Event groups are atomic (one WAL batch) and may hold events
 * of one aggregate only (`CASTORE_GROUP_NOT_ATOMIC` otherwise).
 *
 * @example
 * ```ts
 * const store = await EventStore.open({ dir: './data', serializer, sync: 'always' })
 * const pokemons = new CastoreEventStore({
 *   eventStoreId: 'pokemons',
 *   eventTypes: [appearedEventType],
 *   reducer,
 *   eventStorageAdapter: new WaltzEventStorageAdapter({ store }),
 * })
 * ```
 */
export class WaltzEventStorageAdapter implements EventStorageAdapter {
  /** The waltz event store holding the events. */
  readonly store: EventStore

  /**
   * @param options - the open `store`
   * @throws CastoreAdapterError `CASTORE_INVALID_ARGUMENT`
   */
  constructor(options: WaltzEventStorageAdapterOptions) {
    if (typeof options?.store?.appendToStream !== 'function') {
      throw CastoreAdapterError.INVALID_ARGUMENT(
        'WaltzEventStorageAdapter needs { store }: an open EventStore',
      )
    }
    // Earlier builds took a separator: refuse one rather than silently name streams otherwise.
    const { separator } = options as { separator?: unknown }
    if (separator !== undefined && separator !== SEPARATOR) {
      throw CastoreAdapterError.INVALID_ARGUMENT(
        `the separator of stream names is always ${JSON.stringify(SEPARATOR)}, got ${JSON.stringify(separator)}`,
      )
    }
    this.store = options.store
  }

  /**
   * The stream name of an aggregate.
   *
   * @param eventStoreId - the castore event store id (non-empty, without `-`)
   * @param aggregateId - the aggregate id (non-empty, any characters)
   * @returns `<eventStoreId>-<aggregateId>`
   * @throws CastoreAdapterError `CASTORE_INVALID_ARGUMENT`
   */
  streamName(eventStoreId: string, aggregateId: string): string {
    return streamOf(streamPrefix(eventStoreId), aggregateId, eventStoreId)
  }

  /**
   * An aggregate's events, by version, through the stream index (no scan of the log).
   *
   * @param aggregateId - the aggregate
   * @param context - `eventStoreId`
   * @param options - `minVersion`, `maxVersion` (inclusive), `limit`, `reverse`
   * @returns the events (none for an unknown aggregate)
   * @throws CastoreAdapterError `CASTORE_INVALID_ARGUMENT`, `CASTORE_UNREADABLE_EVENT` (a `castore.metadata`
   *   entry that is not JSON, written by other code); errors of the event store and the log
   */
  async getEvents(
    aggregateId: string,
    context: EventStoreContext,
    options: EventsQueryOptions = {},
  ): Promise<GetEventsResult> {
    const eventStoreId = context?.eventStoreId
    const stream = this.streamName(eventStoreId, aggregateId)
    const { minVersion, maxVersion, limit, reverse } = checkEventsQuery(options, eventStoreId)
    const lo = Math.max(1, minVersion ?? 1)
    const hi = maxVersion ?? Number.POSITIVE_INFINITY
    const events: EventDetail[] = []
    if (lo > hi || limit === 0) return { events }
    const maxCount = Math.min(limit ?? Number.POSITIVE_INFINITY, hi - lo + 1)
    const read = this.store.readStream(stream, {
      direction: reverse ? 'backwards' : 'forwards',
      ...(reverse ? (hi === Number.POSITIVE_INFINITY ? {} : { from: hi }) : { from: lo }),
      ...(maxCount === Number.POSITIVE_INFINITY ? {} : { maxCount }),
    })
    for await (const e of read) {
      if (e.revision < lo || e.revision > hi) break
      events.push(toEventDetail(e, aggregateId, eventStoreId))
    }
    return { events }
  }

  /**
   * Appends an event as its aggregate's next version: one WAL batch, checked against the stream's
   * revision (`version - 1`) in the same synchronous step, so of concurrent pushes of one version
   * exactly one succeeds. Without a timestamp the event gets the current time.
   *
   * @param event - the event (`aggregateId`, `version`, `type`, optional `timestamp`, `payload`, `metadata`)
   * @param options - `eventStoreId`, and `force`: a version that exists is accepted only if the stored
   *   event is the same (type, payload, metadata, and timestamp when given); it is then returned as stored
   * @returns the event as stored
   * @throws WaltzEventAlreadyExistsError (castore's `EventAlreadyExistsError`) when the version exists;
   *   CastoreAdapterError `CASTORE_VERSION_GAP`, `CASTORE_OVERWRITE_UNSUPPORTED`, `CASTORE_INVALID_ARGUMENT`;
   *   errors of the event store and the log (a type the serializer does not know: `WAL_SERIALIZER_ERROR`)
   */
  async pushEvent(event: Pushed, options: PushEventOptions): Promise<PushEventResult> {
    const eventStoreId = options?.eventStoreId
    const prefix = streamPrefix(eventStoreId)
    const pushed = checkEventDetail(event, eventStoreId)
    const stream = streamOf(prefix, pushed.aggregateId, eventStoreId)
    const [stored] = await this.append(stream, eventStoreId, [pushed], options.force === true)
    return { event: stored! }
  }

  /**
   * Pushes grouped events all or none, as one WAL batch. The events must belong to one aggregate, with
   * consecutive versions in order, and come from `groupEvent` of adapters sharing this store. Events
   * without a timestamp share one.
   *
   * @param options - `force`, as in {@link pushEvent}
   * @param groupedEvents - the events, from castore's `eventStore.groupEvent(...)`
   * @returns the events as stored, in order
   * @throws CastoreAdapterError `CASTORE_GROUP_NOT_ATOMIC` (events of several aggregates: the event store
   *   has no atomic append to several streams), `CASTORE_INVALID_ARGUMENT`; and as {@link pushEvent}
   */
  async pushEventGroup(
    options: { force?: boolean },
    ...groupedEvents: [GroupedEvent, ...GroupedEvent[]]
  ): Promise<PushEventGroupResult> {
    if (groupedEvents.length === 0) {
      throw CastoreAdapterError.INVALID_ARGUMENT('an event group needs at least one event')
    }
    const streams = new Set<string>()
    let eventStoreId = ''
    const events: Pushed[] = []
    for (const [i, g] of groupedEvents.entries()) {
      const adapter = g?.eventStorageAdapter as Partial<WaltzEventStorageAdapter> | undefined
      if (adapter?.store !== this.store || typeof adapter.streamName !== 'function') {
        throw CastoreAdapterError.INVALID_ARGUMENT(
          `event group event #${i} is not connected to a WaltzEventStorageAdapter of this store`,
        )
      }
      if (g.context === undefined) {
        throw CastoreAdapterError.INVALID_ARGUMENT(
          `event group event #${i} misses its context: group it with eventStore.groupEvent`,
        )
      }
      eventStoreId = g.context.eventStoreId
      const prefix = streamPrefix(eventStoreId)
      const pushed = checkEventDetail(g.event, eventStoreId)
      streams.add(streamOf(prefix, pushed.aggregateId, eventStoreId))
      events.push(pushed)
    }
    if (streams.size > 1) throw CastoreAdapterError.GROUP_NOT_ATOMIC([...streams])
    const [stream] = streams
    const stored = await this.append(stream!, eventStoreId, events, options?.force === true)
    return { eventGroup: stored.map((event) => ({ event })) }
  }

  /**
   * Wraps an event for {@link pushEventGroup} (castore's `eventStore.groupEvent` adds the context).
   *
   * @param event - the event, as for {@link pushEvent}
   * @returns the grouped event
   */
  groupEvent(event: Pushed): GroupedEvent {
    return new GroupedEvent({ event, eventStorageAdapter: this })
  }

  /**
   * Lists the event store's aggregates by the timestamp of their first event (then by id). The event
   * store has no listing of streams: this reads every event under the prefix `<eventStoreId>-`
   * from the log (`readAll` with a stream-prefix filter, data decoded) and sorts the first events, on
   * every call and page: O(events of the event store) time and O(aggregates) memory.
   *
   * @param context - `eventStoreId`
   * @param options - `limit`, `pageToken`, `initialEventAfter`, `initialEventBefore` (inclusive), `reverse`
   * @returns the page, with `nextPageToken` when there is more
   * @throws CastoreAdapterError `CASTORE_INVALID_ARGUMENT` (bad options or page token); errors of the
   *   event store and the log
   */
  async listAggregateIds(
    context: EventStoreContext,
    options?: ListAggregateIdsOptions,
  ): Promise<ListAggregateIdsOutput> {
    const eventStoreId = context?.eventStoreId
    const prefix = streamPrefix(eventStoreId)
    const query = listQuery(options, eventStoreId)
    const all: AggregateEntry[] = []
    for await (const e of this.store.readAll({ filter: { streamPrefix: prefix } })) {
      // Deleted through waltz's own API: castore no longer sees the aggregate.
      if (e.revision !== 1 || !(await this.store.streamExists(e.stream))) continue
      all.push({ aggregateId: e.stream.slice(prefix.length), initialEventTimestamp: timestampOf(e) })
    }
    return listPage(all, query)
  }

  /**
   * Appends events of consecutive versions to one stream as one batch, expecting the revision before
   * the first. A conflict becomes castore's error, or with `force` a comparison with what is stored.
   */
  private async append(
    stream: string,
    eventStoreId: string,
    events: readonly Pushed[],
    force: boolean,
  ): Promise<EventDetail[]> {
    const first = events[0]!
    for (const [i, e] of events.entries()) {
      if (e.version !== first.version + i) {
        throw CastoreAdapterError.INVALID_ARGUMENT(
          `the versions of an event group must be consecutive, in order: #${i} is ${e.version}, not ${first.version + i}`,
          { eventStoreId, aggregateId: e.aggregateId, version: e.version },
        )
      }
    }
    const now = new Date().toISOString()
    const details = events.map((e) => pushedDetail(e, e.timestamp ?? now))
    const inputs = details.map((d) => toWaltzEvent(d, eventStoreId))
    try {
      await this.store.appendToStream(stream, inputs, { expectedRevision: first.version - 1 })
      return details
    } catch (err) {
      if (!isEventStoreError(err, 'WRONG_EXPECTED_REVISION')) throw err
      const current = err.actual ?? 0
      if (current < first.version - 1) {
        throw CastoreAdapterError.VERSION_GAP(eventStoreId, first.aggregateId, first.version, current)
      }
      if (!force) {
        throw new WaltzEventAlreadyExistsError({
          eventStoreId,
          aggregateId: first.aggregateId,
          version: first.version,
          cause: err,
        })
      }
      return this.keepStored(stream, eventStoreId, events, current)
    }
  }

  /**
   * `force` met stored versions: the log cannot replace them, so they must equal the pushed events.
   * Then the stored ones are returned, and the rest (a group reaching past the stream's end) appended.
   */
  private async keepStored(
    stream: string,
    eventStoreId: string,
    events: readonly Pushed[],
    current: number,
  ): Promise<EventDetail[]> {
    const first = events[0]!
    const overlap = Math.min(events.length, current - first.version + 1)
    const kept: EventDetail[] = []
    for await (const e of this.store.readStream(stream, { from: first.version, maxCount: overlap })) {
      kept.push(toEventDetail(e, first.aggregateId, eventStoreId))
    }
    for (let i = 0; i < overlap; i++) {
      const stored = kept[i]
      const pushed = events[i]!
      // A version read back at another revision (soft-deleted ones are skipped) is not the same event.
      if (stored?.version !== pushed.version || !sameEvent(stored, pushed, eventStoreId)) {
        throw CastoreAdapterError.OVERWRITE_UNSUPPORTED(eventStoreId, pushed.aggregateId, pushed.version)
      }
    }
    if (overlap === events.length) return kept
    return [...kept, ...(await this.append(stream, eventStoreId, events.slice(overlap), true))]
  }
}

/** Whether a stored event is the one pushed (the pushed timestamp counts only when given). */
function sameEvent(stored: EventDetail, pushed: Pushed, eventStoreId: string): boolean {
  if (stored.type !== pushed.type) return false
  if (pushed.timestamp !== undefined && pushed.timestamp !== stored.timestamp) return false
  if (!isDeepStrictEqual(stored.payload, pushed.payload)) return false
  // Metadata is stored as JSON: compare the JSON (what a read returns), not the objects.
  const pushedJson = toWaltzEvent(pushedDetail(pushed, ''), eventStoreId).metadata?.[METADATA_KEY]
  const storedJson = stored.metadata === undefined ? undefined : JSON.stringify(stored.metadata)
  return pushedJson === storedJson
}

/** The checked options of a `getEvents`. */
interface EventsQuery {
  minVersion: number | undefined
  maxVersion: number | undefined
  limit: number | undefined
  reverse: boolean
}

/** Checks `getEvents` options: versions are integers, `limit` a count. */
function checkEventsQuery(options: EventsQueryOptions, eventStoreId: string): EventsQuery {
  const { minVersion, maxVersion, limit, reverse } = options ?? {}
  const bad = (name: string, value: unknown, what: string) =>
    CastoreAdapterError.INVALID_ARGUMENT(`${name} must be ${what}, got ${String(value)}`, { eventStoreId })
  if (minVersion !== undefined && !Number.isSafeInteger(minVersion))
    throw bad('minVersion', minVersion, 'an integer')
  if (maxVersion !== undefined && !Number.isSafeInteger(maxVersion))
    throw bad('maxVersion', maxVersion, 'an integer')
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 0))
    throw bad('limit', limit, 'an integer >= 0')
  if (reverse !== undefined && typeof reverse !== 'boolean') throw bad('reverse', reverse, 'a boolean')
  return { minVersion, maxVersion, limit, reverse: reverse === true }
}
