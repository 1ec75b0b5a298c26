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
import type { Serializer } from '@waltz/core'
import { type EventInput, type EventStore, type EventStoreError, isEventStoreError } from '@waltz/eventstore'
import { type AggregateEntry, listPage, listQuery } from './aggregate-ids.js'
import { CastoreAdapterError, WaltzEventAlreadyExistsError } from './errors.js'
import { type AggregateAppend, planGroup } from './group.js'
import {
  checkEventDetail,
  pushedDetail,
  SEPARATOR,
  streamOf,
  streamPrefix,
  timestampOf,
  toEventDetail,
  toWaltzEvent,
} from './mapping.js'
import { sameEvent } from './same-event.js'

/** Options of the {@link WaltzEventStorageAdapter} constructor. */
export interface WaltzEventStorageAdapterOptions {
  /**
   * An open `@waltz/eventstore` store. The adapter neither opens nor closes it, so one store can serve
   * several castore event stores and the application's own waltz consumers. Its serializer encodes
   * castore payloads as event data, so it must know every castore event type.
   */
  store: EventStore
  /**
   * The serializer `store` was opened with. `force` then compares a pushed payload with the stored one
   * as the store holds them (both encoded by it), so a retry whose payload the serializer changes (an
   * `undefined` property JSON drops, keys a schema strips) is recognised as the same event. Without it,
   * payloads are compared as decoded values, and such a retry fails with `CASTORE_OVERWRITE_UNSUPPORTED`.
   * Its `name` must be the store's.
   */
  serializer?: Serializer | undefined
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

/** An event as pushed (the timestamp may be missing). */
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
 * (`CASTORE_OVERWRITE_UNSUPPORTED` otherwise). Event groups are atomic (one WAL batch), also across
 * aggregates and across castore event stores sharing the waltz store.
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
  /** The store's serializer, when given: `force` compares payloads by their encoding. */
  readonly serializer: Serializer | undefined

  /**
   * @param options - the open `store`, and optionally its `serializer`
   * @throws CastoreAdapterError `CASTORE_INVALID_ARGUMENT` (no store, a serializer that is not the
   *   store's, a `separator`)
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
    const { store, serializer } = options
    if (
      serializer !== undefined &&
      (typeof serializer?.encode !== 'function' || serializer.name !== store.wal.serializerName)
    ) {
      throw CastoreAdapterError.INVALID_ARGUMENT(
        `the serializer must be the one the store was opened with (${JSON.stringify(store.wal.serializerName)}), got ${JSON.stringify(serializer?.name)}`,
      )
    }
    this.store = store
    this.serializer = serializer
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
   *   event is the same (type, metadata, timestamp when given, and payload: by its encoding when the
   *   adapter has the store's `serializer`, else as decoded values); it is then returned as stored
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
    const timestamp = pushed.timestamp ?? new Date().toISOString()
    const [stored] = await this.appendAll(
      [{ stream, eventStoreId, events: [pushed], timestamp }],
      options.force === true,
    )
    return { event: stored![0]! }
  }

  /**
   * Pushes grouped events all or none, as one WAL batch (`appendToStreams` when they span several
   * aggregates): after any crash all of them are stored or none. The events come from `groupEvent` of
   * adapters on this store (any castore event store); each aggregate's events must have consecutive
   * versions, in order. Every aggregate must be at the version before its first event of the group,
   * or nothing is written and the first such aggregate (in the group's order) fails as in
   * {@link pushEvent}. As castore's own adapters mean to, the timestamps given must be equal, and events
   * without one take it (or the current time when none has one).
   *
   * @param options - `force`, as in {@link pushEvent}, per aggregate: its stored events equal to the
   *   group's are kept, and the rest of the group is appended, all or none
   * @param groupedEvents - the events, from castore's `eventStore.groupEvent(...)`
   * @returns the events as stored, in the group's order
   * @throws WaltzEventAlreadyExistsError for the first aggregate of the group whose version exists;
   *   CastoreAdapterError `CASTORE_INVALID_ARGUMENT` (among others different timestamps), and as
   *   {@link pushEvent}
   */
  async pushEventGroup(
    options: { force?: boolean },
    ...groupedEvents: [GroupedEvent, ...GroupedEvent[]]
  ): Promise<PushEventGroupResult> {
    const { appends, slots } = planGroup(groupedEvents, this.store, new Date().toISOString())
    const stored = await this.appendAll(appends, options?.force === true)
    return { eventGroup: slots.map(([append, index]) => ({ event: stored[append]![index]! })) }
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
   * Appends each aggregate's events to its stream, all or none, as one WAL batch: the one place that
   * writes. Each stream must be at the revision before its first event, and the event store checks and
   * reserves every stream's revision in one synchronous step, so nothing is written when one is not
   * (it rejects with `WRONG_EXPECTED_REVISION` naming the first such stream, which the caller turns into
   * castore's errors or, with `force`, compares with what is stored). One aggregate goes through
   * `appendToStream`, the path of every `pushEvent`; several through `appendToStreams`.
   *
   * @param appends - one per stream (distinct streams), each of consecutive versions in order
   * @throws EventStoreError `WRONG_EXPECTED_REVISION`; errors of the event store and the log
   */
  private async appendAtomically(appends: readonly AggregateAppend[]): Promise<void> {
    if (appends.length === 1) {
      const append = appends[0]!
      await this.store.appendToStream(append.stream, inputsOf(append), {
        expectedRevision: append.events[0]!.version - 1,
      })
      return
    }
    await this.store.appendToStreams(
      appends.map((append) => ({
        stream: append.stream,
        events: inputsOf(append),
        expectedRevision: append.events[0]!.version - 1,
      })),
    )
  }

  /**
   * Appends the events (see {@link appendAtomically}) and returns them as stored, per append. A stream
   * past the revision expected fails as castore defines (its `EventAlreadyExistsError`, or
   * `CASTORE_VERSION_GAP` below it); with `force`, the stored events equal to the pushed ones are kept
   * and the rest appended again, all or none.
   */
  private async appendAll(appends: readonly AggregateAppend[], force: boolean): Promise<EventDetail[][]> {
    const kept: EventDetail[][] = appends.map(() => [])
    let pending = appends
    while (pending.length > 0) {
      try {
        await this.appendAtomically(pending)
        break
      } catch (err) {
        if (!isEventStoreError(err, 'WRONG_EXPECTED_REVISION')) throw err
        const at = appends.findIndex((a) => a.stream === err.stream)
        const part = pending.find((a) => a.stream === err.stream)
        if (part === undefined) throw err
        const stored = await this.keepStored(part, err, force)
        kept[at]!.push(...stored)
        // Each round keeps at least one event or throws, so this ends.
        pending = pending.flatMap((a) =>
          a !== part
            ? [a]
            : stored.length < a.events.length
              ? [{ ...a, events: a.events.slice(stored.length) }]
              : [],
        )
      }
    }
    return appends.map((a, i) => {
      const done = kept[i]!
      for (const e of a.events.slice(done.length)) done.push(pushedDetail(e, e.timestamp ?? a.timestamp))
      return done
    })
  }

  /**
   * A stream was not at the revision before the append's first event. Below it: a gap. Above it: the
   * version exists, castore's `EventAlreadyExistsError`; with `force` the stored versions must be the
   * pushed events (the log cannot replace them), and they are returned.
   */
  private async keepStored(
    append: AggregateAppend,
    conflict: EventStoreError,
    force: boolean,
  ): Promise<EventDetail[]> {
    const { stream, eventStoreId, events } = append
    const first = events[0]!
    const current = conflict.actual ?? 0
    if (current < first.version - 1) {
      throw CastoreAdapterError.VERSION_GAP(eventStoreId, first.aggregateId, first.version, current)
    }
    if (!force) {
      throw new WaltzEventAlreadyExistsError({
        eventStoreId,
        aggregateId: first.aggregateId,
        version: first.version,
        cause: conflict,
      })
    }
    const overlap = Math.min(events.length, current - first.version + 1)
    let same = await this.storedSame(append, overlap)
    if (same.short) {
      // The conflict counted appends not yet acknowledged, and reads show acknowledged events only
      // (racing identical pushes with force): aggregateStream waits for the stream's appends in flight.
      // A read came up short, so this costs a read of the stream only on that rare path.
      await this.store.aggregateStream(stream, { initialState: () => 0, evolve: (n) => n })
      same = await this.storedSame(append, overlap)
    }
    const kept = same.events
    if (kept.length < overlap) {
      const version = first.version + kept.length
      throw CastoreAdapterError.OVERWRITE_UNSUPPORTED(eventStoreId, first.aggregateId, version)
    }
    return kept
  }

  /**
   * The acknowledged events from the append's first version on that equal its events, at most `count`;
   * `short` when the read ended before `count` events without meeting a different one.
   */
  private async storedSame(
    append: AggregateAppend,
    count: number,
  ): Promise<{ events: EventDetail[]; short: boolean }> {
    const { stream, eventStoreId, events } = append
    const first = events[0]!
    const same: EventDetail[] = []
    for await (const stored of this.store.readStream(stream, { from: first.version, maxCount: count })) {
      const pushed = events[same.length]!
      // A version read back at another revision (soft-deleted ones are skipped) is not the same event.
      if (stored.revision !== pushed.version || !sameEvent(stored, pushed, eventStoreId, this.serializer))
        return { events: same, short: false }
      same.push(toEventDetail(stored, first.aggregateId, eventStoreId))
    }
    return { events: same, short: same.length < count }
  }
}

/** An append's events as the event store takes them, each with its timestamp (or the append's). */
function inputsOf({ eventStoreId, events, timestamp }: AggregateAppend): EventInput[] {
  return events.map((e) => toWaltzEvent(pushedDetail(e, e.timestamp ?? timestamp), eventStoreId))
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
