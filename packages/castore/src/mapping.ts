/**
 * How castore's concepts land on a waltz event store: one stream per aggregate, named
 * `<eventStoreId>-<aggregateId>`; castore's version is the stream revision; the payload is
 * the event data; castore's timestamp and metadata travel in two metadata entries.
 */
import type { EventDetail, OptionalTimestamp } from '@castore/core'
import type { EventInput, EventMetadata, StoredEvent } from '@waltz/eventstore'
import { CastoreAdapterError } from './errors.js'

/** Metadata entry holding castore's timestamp (an ISO 8601 string), exactly as pushed. */
export const TIMESTAMP_KEY = 'castore.timestamp'
/** Metadata entry holding castore's metadata as JSON (absent when the event has none). */
export const METADATA_KEY = 'castore.metadata'

/**
 * The separator between the event store id and the aggregate id in a stream name, the same for every
 * adapter. It is fixed because two adapters with different separators on one store could map two
 * aggregates to one stream (`x#y` + `-` + `z` and `x` + `#` + `y-z` are both `x#y-z`), and one adapter's
 * prefix could select another's streams in `listAggregateIds`.
 */
export const SEPARATOR = '-'

/**
 * The stream-name prefix of a castore event store: `<eventStoreId>-`. The id may not hold the separator,
 * so the first `-` of a stream name always ends it: no two (event store id, aggregate id) pairs share a
 * stream, and the prefix selects exactly one event store's streams.
 *
 * @throws CastoreAdapterError `CASTORE_INVALID_ARGUMENT` when the id is empty or holds the separator
 */
export function streamPrefix(eventStoreId: unknown): string {
  if (typeof eventStoreId !== 'string' || eventStoreId.length === 0) {
    throw CastoreAdapterError.INVALID_ARGUMENT(
      `an event store id must be a non-empty string, got ${String(eventStoreId)}`,
    )
  }
  if (eventStoreId.includes(SEPARATOR)) {
    throw CastoreAdapterError.INVALID_ARGUMENT(
      `event store id ${JSON.stringify(eventStoreId)} holds ${JSON.stringify(SEPARATOR)}, the separator of stream names: aggregates of two event stores could share a stream (rename it, e.g. with '_')`,
      { eventStoreId },
    )
  }
  return eventStoreId + SEPARATOR
}

/**
 * The stream of an aggregate. Any non-empty aggregate id is accepted (it may hold the separator); the
 * event store refuses names too long for a WAL key (`EVENTSTORE_INVALID_ARGUMENT`).
 *
 * @throws CastoreAdapterError `CASTORE_INVALID_ARGUMENT`
 */
export function streamOf(prefix: string, aggregateId: unknown, eventStoreId: string): string {
  if (typeof aggregateId !== 'string' || aggregateId.length === 0) {
    throw CastoreAdapterError.INVALID_ARGUMENT(
      `an aggregate id must be a non-empty string, got ${String(aggregateId)}`,
      { eventStoreId },
    )
  }
  return prefix + aggregateId
}

/**
 * Checks a pushed event's fields (the event store checks the type) and returns its version.
 *
 * @throws CastoreAdapterError `CASTORE_INVALID_ARGUMENT`
 */
export function checkEventDetail(event: unknown, eventStoreId: string): OptionalTimestamp<EventDetail> {
  if (typeof event !== 'object' || event === null) {
    throw CastoreAdapterError.INVALID_ARGUMENT(
      'an event must be an object { aggregateId, version, type, ... }',
      {
        eventStoreId,
      },
    )
  }
  const e = event as OptionalTimestamp<EventDetail>
  if (!Number.isSafeInteger(e.version) || e.version < 1) {
    throw CastoreAdapterError.INVALID_ARGUMENT(
      `a version must be an integer >= 1, got ${String(e.version)}`,
      {
        eventStoreId,
        aggregateId: e.aggregateId,
      },
    )
  }
  if (e.timestamp !== undefined && typeof e.timestamp !== 'string') {
    throw CastoreAdapterError.INVALID_ARGUMENT('a timestamp must be an ISO 8601 string', {
      eventStoreId,
      aggregateId: e.aggregateId,
      version: e.version,
    })
  }
  return e
}

/**
 * The waltz event of a castore event: its type, the payload as data, the timestamp and the JSON of the
 * metadata as metadata entries.
 *
 * @throws CastoreAdapterError `CASTORE_INVALID_ARGUMENT` when the metadata has no JSON form
 */
export function toWaltzEvent(event: EventDetail, eventStoreId: string): EventInput {
  const metadata: Record<string, string> = { [TIMESTAMP_KEY]: event.timestamp }
  const json = metadataJson(event, eventStoreId)
  if (json !== undefined) metadata[METADATA_KEY] = json
  return { type: event.type, data: event.payload, metadata }
}

/**
 * The `castore.metadata` entry of an event: the JSON of its metadata, or undefined when it has none.
 *
 * @throws CastoreAdapterError `CASTORE_INVALID_ARGUMENT` when the metadata has no JSON form
 */
export function metadataJson(
  event: OptionalTimestamp<EventDetail>,
  eventStoreId: string,
): string | undefined {
  if (event.metadata === undefined) return undefined
  const details = { eventStoreId, aggregateId: event.aggregateId, version: event.version }
  let json: string | undefined
  try {
    json = JSON.stringify(event.metadata)
  } catch (err) {
    throw CastoreAdapterError.INVALID_ARGUMENT(`event metadata must be JSON: ${(err as Error).message}`, {
      ...details,
      cause: err,
    })
  }
  if (json === undefined) throw CastoreAdapterError.INVALID_ARGUMENT('event metadata must be JSON', details)
  return json
}

/**
 * The castore event of a stored waltz event. Events appended by other waltz writers (no castore
 * entries) read with the store's time as timestamp and no metadata.
 *
 * @throws CastoreAdapterError `CASTORE_UNREADABLE_EVENT` when the `castore.metadata` entry is not JSON
 */
export function toEventDetail(event: StoredEvent, aggregateId: string, eventStoreId: string): EventDetail {
  const detail: EventDetail = {
    aggregateId,
    version: event.revision,
    type: event.type,
    timestamp: timestampOf(event),
  }
  if (event.data !== undefined) detail.payload = event.data
  const metadata = event.metadata[METADATA_KEY]
  if (metadata !== undefined) {
    try {
      detail.metadata = JSON.parse(metadata)
    } catch (err) {
      throw CastoreAdapterError.UNREADABLE_EVENT(event.stream, `its ${METADATA_KEY} entry is not JSON`, {
        eventStoreId,
        aggregateId,
        version: event.revision,
        cause: err,
      })
    }
  }
  return detail
}

/** Castore's timestamp of a stored event. */
export function timestampOf(event: { time: number; metadata: EventMetadata }): string {
  return event.metadata[TIMESTAMP_KEY] ?? new Date(event.time).toISOString()
}

/** An event as pushed, with the timestamp the adapter gave it and only the fields it has. */
export function pushedDetail(event: OptionalTimestamp<EventDetail>, timestamp: string): EventDetail {
  const detail: EventDetail = {
    aggregateId: event.aggregateId,
    version: event.version,
    type: event.type,
    timestamp,
  }
  if (event.payload !== undefined) detail.payload = event.payload
  if (event.metadata !== undefined) detail.metadata = event.metadata
  return detail
}
