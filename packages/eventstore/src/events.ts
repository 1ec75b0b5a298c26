/**
 * The event model of the store and how an event maps onto a WAL record: the stream is the record
 * `key`, the event id and revision travel in reserved headers (`$id`, `$rev`), user metadata in the
 * other headers. Types starting with `$` are the store's own markers (stream deleted, tombstoned).
 */
import { MAX_KEY_BYTES, MAX_TYPE_BYTES, type RawRecord, type RecordShape } from '@waltz/core'
import { EventStoreError } from './errors.js'

/** A string map of user metadata stored with an event. Keys must not start with `$`. */
export type EventMetadata = Readonly<Record<string, string>>

/**
 * What `appendToStream` checks before it writes:
 * - `'any'`: nothing;
 * - `'no_stream'`: the stream has no visible events (never written, or soft-deleted);
 * - `'stream_exists'`: the stream has visible events;
 * - a number: the stream's revision (its number of events ever appended) equals it.
 */
export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | number

/**
 * An event to append, typed by the serializer's record union.
 *
 * @typeParam Rec - the record union (`type` and `data`)
 */
export type EventInput<Rec extends RecordShape = RecordShape> =
  Rec extends RecordShape<infer T, infer D>
    ? {
        /** The event type. */
        type: T
        /** The event data, encoded by the store's serializer. */
        data: D
        /** A unique id; default a fresh UUIDv7. Equal ids make a retried append idempotent. */
        id?: string
        /** A string map stored with the event (keys must not start with `$`). */
        metadata?: EventMetadata
      }
    : never

/**
 * An event as stored.
 *
 * @typeParam Rec - the record union (`type` and `data`)
 */
export type StoredEvent<Rec extends RecordShape = RecordShape> =
  Rec extends RecordShape<infer T, infer D>
    ? {
        /** The stream it belongs to. */
        stream: string
        /** Its revision in the stream: 1 for the stream's first event. */
        revision: number
        /** Its global position: the WAL seq. */
        position: number
        /** Its id. */
        id: string
        /** The event type. */
        type: T
        /** When it was appended, ms since the epoch. */
        time: number
        /** The decoded data; `undefined` when {@link shredded} is set, whatever `D` says. */
        data: D
        /** User metadata (`{}` when none). */
        metadata: EventMetadata
        /**
         * Set when the store is encrypted and the event's data key was shredded
         * (`EventStore.shredStream`, `EventStore.shred`): `data` is gone for good, and everything else
         * (stream, revision, position, id, type, time, metadata) is as it was.
         */
        shredded?: true
      }
    : never

/** Header holding the event id. */
export const ID_HEADER = '$id'
/** Header holding the stream revision of an event, or of the stream at a marker. */
export const REVISION_HEADER = '$rev'
/** Header on the first event of an append that created (or re-created) its stream: `'1'`. */
export const CREATED_HEADER = '$created'
/** Marker type: the stream was soft-deleted at the revision in `$rev`. */
export const DELETED_TYPE = '$deleted'
/** Marker type: the stream was tombstoned at the revision in `$rev`. */
export const TOMBSTONE_TYPE = '$tombstone'

/** What a stored record means to the store. */
export type RecordKind = 'event' | 'deleted' | 'tombstone'

/** The store's reading of a record's envelope (no data decoding). */
export interface RecordMeaning {
  kind: RecordKind
  stream: string
  revision: number
}

/**
 * Reads the store's fields from a record's envelope.
 *
 * @param record - a stored record
 * @returns its kind, stream and revision
 * @throws EventStoreError `EVENTSTORE_CORRUPT` when the record was not written by an event store
 */
export function recordMeaning(record: Omit<RawRecord, 'data'>): RecordMeaning {
  const stream = record.key
  const rev = record.headers?.[REVISION_HEADER]
  const revision = rev === undefined ? Number.NaN : Number(rev)
  if (stream === undefined || !Number.isSafeInteger(revision) || revision < 0) {
    throw EventStoreError.CORRUPT(
      `seq ${record.seq} is not an event-store record (it needs a key and a ${REVISION_HEADER} header)`,
    )
  }
  const kind: RecordKind =
    record.type === DELETED_TYPE ? 'deleted' : record.type === TOMBSTONE_TYPE ? 'tombstone' : 'event'
  if (kind === 'event' && (revision < 1 || record.headers?.[ID_HEADER] === undefined)) {
    throw EventStoreError.CORRUPT(`seq ${record.seq} is an event without a revision or an id`)
  }
  return { kind, stream, revision }
}

/** User metadata of a stored record: its headers without the reserved ones. */
export function metadataOf(headers: Readonly<Record<string, string>> | undefined): EventMetadata {
  const out: Record<string, string> = {}
  if (headers) {
    for (const k of Object.keys(headers)) if (!k.startsWith('$')) out[k] = headers[k]!
  }
  return out
}

/** Whether `s` has no lone surrogate (the WAL stores UTF-8, which cannot hold one). */
function isWellFormed(s: string): boolean {
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed()
}

/** Whether `s` fits in `max` UTF-8 bytes (a UTF-16 code unit takes at most 3 of them). */
function fitsUtf8(s: string, max: number): boolean {
  return s.length * 3 <= max || Buffer.byteLength(s, 'utf8') <= max
}

/**
 * Checks a stream name: a non-empty string the WAL can hold as a key.
 *
 * @throws EventStoreError `EVENTSTORE_INVALID_ARGUMENT`
 */
export function checkStream(stream: unknown): string {
  if (typeof stream !== 'string' || stream.length === 0) {
    throw EventStoreError.INVALID_ARGUMENT(`a stream name must be a non-empty string, got ${String(stream)}`)
  }
  if (!isWellFormed(stream) || !fitsUtf8(stream, MAX_KEY_BYTES)) {
    throw EventStoreError.INVALID_ARGUMENT(
      `a stream name must be well-formed UTF-16 of at most ${MAX_KEY_BYTES} UTF-8 bytes`,
      { stream },
    )
  }
  return stream
}

/**
 * Checks an expected revision.
 *
 * @throws EventStoreError `EVENTSTORE_INVALID_ARGUMENT`
 */
export function checkExpected(expected: unknown, stream: string): ExpectedRevision {
  if (expected === 'any' || expected === 'no_stream' || expected === 'stream_exists') return expected
  if (typeof expected === 'number' && Number.isSafeInteger(expected) && expected >= 0) return expected
  throw EventStoreError.INVALID_ARGUMENT(
    `expectedRevision must be 'any', 'no_stream', 'stream_exists' or a revision >= 0, got ${String(expected)}`,
    { stream },
  )
}

/** Event types already checked (a store sees few distinct types). */
const CHECKED_TYPES = new Set<string>()

/** Checks an event type not seen before, and remembers it. */
function checkNewType(type: unknown, stream: string): void {
  if (typeof type !== 'string' || type.length === 0 || type.startsWith('$')) {
    throw EventStoreError.INVALID_ARGUMENT(
      `an event type must be a non-empty string not starting with '$', got ${String(type)}`,
      { stream },
    )
  }
  if (!isWellFormed(type) || !fitsUtf8(type, MAX_TYPE_BYTES)) {
    throw EventStoreError.INVALID_ARGUMENT(`event type ${JSON.stringify(type)} is too long or malformed`, {
      stream,
    })
  }
  if (CHECKED_TYPES.size >= 1024) CHECKED_TYPES.clear() // unbounded type names must not grow memory
  CHECKED_TYPES.add(type)
}

/**
 * Checks one event to append; returns its headers (`$id`, `$rev` are added by the caller).
 *
 * @throws EventStoreError `EVENTSTORE_INVALID_ARGUMENT`
 */
export function checkEvent(event: unknown, stream: string): { type: string; id: string | undefined } {
  if (typeof event !== 'object' || event === null) {
    throw EventStoreError.INVALID_ARGUMENT('an event must be an object { type, data, id?, metadata? }', {
      stream,
    })
  }
  const { type, id, metadata } = event as { type?: unknown; id?: unknown; metadata?: unknown }
  if (typeof type !== 'string' || !CHECKED_TYPES.has(type)) checkNewType(type, stream)
  if (id !== undefined && (typeof id !== 'string' || id.length === 0 || !isWellFormed(id))) {
    throw EventStoreError.INVALID_ARGUMENT(`an event id must be a non-empty string, got ${String(id)}`, {
      stream,
    })
  }
  if (metadata !== undefined) {
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
      throw EventStoreError.INVALID_ARGUMENT('event metadata must be a string map', { stream })
    }
    for (const [k, v] of Object.entries(metadata)) {
      if (k.startsWith('$') || typeof v !== 'string' || !isWellFormed(k) || !isWellFormed(v)) {
        throw EventStoreError.INVALID_ARGUMENT(
          `metadata ${JSON.stringify(k)}: keys must not start with '$' and values must be strings`,
          { stream },
        )
      }
    }
  }
  return { type: type as string, id: id as string | undefined }
}
