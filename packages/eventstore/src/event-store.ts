import { join } from 'node:path'
import {
  type Archive,
  type EncryptionOptions,
  type FrameLocations,
  type KeyedRecord,
  type RawRecord,
  type RecordShape,
  type RetentionOptions,
  type Serializer,
  sealedKeyId,
  silentLogger,
  Wal,
  WalError,
  type WalLogger,
  type WalMetrics,
  type WalOptions,
  type WalRecord,
} from '@waltz/core'
import { summarizeArchive } from './archive-listing.js'
import { Consumer, type ConsumerOptions } from './consumer.js'
import { EventStoreError } from './errors.js'
import {
  CREATED_HEADER,
  checkEvent,
  checkExpected,
  checkStream,
  DELETED_TYPE,
  type EventInput,
  type ExpectedRevision,
  ID_HEADER,
  metadataOf,
  REVISION_HEADER,
  type RecordKind,
  type StoredEvent,
  TOMBSTONE_TYPE,
} from './events.js'
import type { EventLocations, StreamSummary } from './index-table.js'
import { logSerializer } from './log-serializer.js'
import type { NatsEventStoreOptions } from './nats/options.js'
import type { EventStoreApi, EventStoreApiMetrics } from './store-api.js'
import { StreamIndex, type StreamIndexStats } from './stream-index.js'
import { uuidv7 } from './uuid.js'

/** Options of {@link EventStore.open}: the WAL's options, plus the store's own. */
export interface EventStoreOptions<Rec extends RecordShape = RecordShape>
  extends Omit<WalOptions<Rec>, 'serializer' | 'dir' | 'logger' | 'encryption'> {
  /** The store's directory: WAL segments, `index/` and `consumers/` (created if missing). */
  dir: string
  /** Encodes event data (e.g. `jsonSerializer`, `msgpackrSerializer`). */
  serializer: Serializer<string, unknown, Rec>
  /** Where to report recovery, index rebuilds and consumer failures. Default: silent. */
  logger?: WalLogger
  /**
   * The WAL's retention, taken only together with an `archive` (the index and the reads need the
   * whole log, and read what retention removed locally from the archive). Its `keepFrom` is combined
   * with the store's own {@link EventStore.keepFrom}. Default: keep everything.
   */
  retention?: RetentionOptions
  /** Events the stream index holds in memory before writing them to a table file. Default 65,536. */
  indexFlushEvents?: number
  /** Stream summaries read from index tables that are cached in memory. Default 100,000. */
  indexCacheStreams?: number
  /**
   * With `expectedRevision: 'any'`, `'stream_exists'` or `'no_stream'`, an append whose events all carry
   * ids equal to consecutive events among the stream's last `idempotencyWindow` is a retry: it returns
   * the original result and writes nothing. Default 32; 0 turns this check off (with a revision
   * number, the events right after it are always checked).
   */
  idempotencyWindow?: number
  /**
   * Encryption at rest with crypto-shredding: each event's data is sealed with AES-256-GCM under the
   * data key of its data subject, and {@link EventStore.shredStream} destroys a subject's key so its
   * events read with `data: undefined` and `shredded: true` forever. `keyring` holds the master key
   * (`localKeyring` from `@waltz/core`, or a KMS); `keyFor(record)` picks an event's key id (default:
   * its stream). Stream names, types, times, ids, revisions, metadata and key ids stay readable:
   * use opaque ids (`customer-7`, not an e-mail address) and keep personal data out of metadata. The
   * store's deletion markers are sealed under the key id `''`, which `keyFor` must not return. A store
   * is encrypted from its creation on: opening it without `encryption` (or with a wrong master key)
   * is core's `WAL_KEYRING`.
   */
  encryption?: EncryptionOptions
}

/**
 * The key id the store seals its markers (`deleteStream`, `tombstoneStream`: no data) under, so a
 * stream can be deleted or tombstoned after its own key was shredded. Never shredded.
 */
const MARKER_KEY_ID = ''

/** The result of {@link EventStore.shredStream}. */
export interface ShredStreamResult {
  /**
   * The key ids destroyed: the stream itself with the default `keyFor`; with a custom one, every key
   * id its events were sealed with (every other stream sealed under one of them is erased too).
   */
  keyIds: string[]
}

/** Defaults of the store's own options. */
export const EVENTSTORE_DEFAULTS: {
  /** {@link EventStoreOptions.indexFlushEvents}. */
  readonly indexFlushEvents: number
  /** {@link EventStoreOptions.indexCacheStreams}. */
  readonly indexCacheStreams: number
  /** {@link EventStoreOptions.idempotencyWindow}. */
  readonly idempotencyWindow: number
} = Object.freeze({ indexFlushEvents: 65_536, indexCacheStreams: 100_000, idempotencyWindow: 32 })

/** Options of {@link EventStore.appendToStream}. */
export interface AppendOptions {
  /** What the stream's state must be for the append to happen. Default `'any'`. */
  expectedRevision?: ExpectedRevision
}

/** One stream's part of an {@link EventStore.appendToStreams} call. */
export interface StreamAppend<Rec extends RecordShape = RecordShape> {
  /** The stream. */
  stream: string
  /** Its events: at least one. */
  events: readonly EventInput<Rec>[]
  /** What the stream's state must be for the whole call to happen. Default `'any'`. */
  expectedRevision?: ExpectedRevision
}

/** The result of {@link EventStore.appendToStream}. */
export interface AppendResult {
  /** The stream's revision after the append: pass it as the next `expectedRevision`. */
  nextExpectedRevision: number
  /** The global position (WAL seq) of the last event appended. */
  position: number
  /** Whether the append created the stream (it had no visible events before). */
  created: boolean
}

/** The result of {@link EventStore.deleteStream} and {@link EventStore.tombstoneStream}. */
export interface DeleteResult {
  /** The global position (WAL seq) of the deletion marker. */
  position: number
}

/** Options of {@link EventStore.readStream}. */
export interface ReadStreamOptions {
  /** First revision to yield (inclusive). Default: the first (forwards) or the last (backwards). */
  from?: number
  /** Default `'forwards'`. */
  direction?: 'forwards' | 'backwards'
  /** The most events to yield. Default: all. */
  maxCount?: number
}

/** Which events of the whole log to yield. */
export interface EventFilter {
  /** Only streams whose name starts with this. */
  streamPrefix?: string
  /** Only events of these types. */
  types?: readonly string[]
}

/** Options of {@link EventStore.readAll}. */
export interface ReadAllOptions {
  /** First position to yield (inclusive). Default: the first (forwards) or the last (backwards). */
  from?: number
  /** Default `'forwards'`. */
  direction?: 'forwards' | 'backwards'
  /** The most events to yield. Default: all. */
  maxCount?: number
  /** Which events to yield. Default: all. */
  filter?: EventFilter
}

/** Options of {@link EventStore.subscribeToStream}. */
export interface SubscribeToStreamOptions {
  /** First revision to yield. Default 1: the whole stream, then new events. */
  from?: number
  /** Ends the subscription (the iteration ends without error). */
  signal?: AbortSignal
}

/** Options of {@link EventStore.subscribeToAll}. */
export interface SubscribeToAllOptions {
  /** First position to yield. Default: the first stored. */
  from?: number
  /** Which events to yield. */
  filter?: EventFilter
  /** Ends the subscription (the iteration ends without error). */
  signal?: AbortSignal
}

/** Options of {@link EventStore.aggregateStream}. */
export interface AggregateOptions<State, Rec extends RecordShape> {
  /** The state before the first event. */
  initialState: () => State
  /** Folds one event into the state. Not called for shredded events (see `onShredded`). */
  evolve: (state: State, event: StoredEvent<Rec>) => State
  /**
   * Folds a shredded event (encrypted stores: `shredded: true`, `data: undefined`) into the state.
   * Default: shredded events are skipped (they still count in the revision), so `evolve` never sees
   * an event without its data.
   */
  onShredded?: (state: State, event: StoredEvent<Rec>) => State
}

/** The result of {@link EventStore.aggregateStream}. */
export interface AggregateResult<State> {
  /** The folded state. */
  state: State
  /** The stream's revision (pass it as `expectedRevision` to append after deciding). */
  revision: number
  /** Whether the stream has visible events. */
  exists: boolean
}

/** Metrics of {@link EventStore.metrics}. */
export interface EventStoreMetrics extends EventStoreApiMetrics {
  /** The WAL's metrics. */
  wal: WalMetrics
  /** The stream index. */
  index: StreamIndexStats
}

/**
 * Reservation of a stream with appends in flight: its state as if they had all succeeded. An entry
 * whose appends all settled (`appends === 0`) stays in the map for the stream's next append, which
 * reuses it (a busy stream costs no map insert and delete per append), until a sweep drops it.
 */
interface InFlight extends StreamSummary {
  /** Appends of the stream not yet settled; 0: the entry is idle and the index holds the state. */
  appends: number
  /** The stream's latest append (it settles after every earlier one). */
  last: Promise<unknown>
}

/** An event prepared for appending (validated and encoded) before any revision is reserved. */
interface Prepared {
  type: string
  id: string
  userId: boolean
  bytes: Uint8Array
  metadata: Record<string, string> | undefined
}

/** One stream's records in a WAL batch, and the stream's state once they are appended. */
interface StreamPart {
  stream: string
  kind: RecordKind
  /** Revision of the first event (a marker: the stream's revision). */
  firstRevision: number
  revision: number
  deletedRevision: number
  tombstoned: boolean
  records: LogRecord[]
  /** Whether the part's first event creates the stream (false for a marker). */
  created: boolean
}

/** One stream's append in an {@link EventStore.appendToStreams} call, checked and prepared. */
interface StreamGroup {
  stream: string
  expected: ExpectedRevision
  prepared: Prepared[]
}

/**
 * Room for where `n` records' frames will lie, which the WAL fills in. Sized up front: the WAL sets
 * the entries by index, and an empty array would grow a backing store of 17 slots for one record.
 */
function frameLocations(n: number): FrameLocations {
  if (n === 1) return { offsets: [0], lengths: [0] }
  return { offsets: new Array<number>(n).fill(0), lengths: new Array<number>(n).fill(0) }
}

/** The records of appending `prepared` to a stream whose state is `head`. */
function eventPart(
  stream: string,
  head: Readonly<StreamSummary>,
  prepared: readonly Prepared[],
  time: number,
): StreamPart {
  const created = !exists(head)
  const first = head.revision + 1
  const n = prepared.length
  const records: LogRecord[] = new Array(n)
  for (let i = 0; i < n; i++) {
    const p = prepared[i]!
    let headers: Record<string, string>
    if (p.metadata) {
      headers = { ...p.metadata }
      headers[ID_HEADER] = p.id
      headers[REVISION_HEADER] = String(first + i)
    } else {
      // One literal: the common case gets its final shape at once.
      headers = { $id: p.id, $rev: String(first + i) }
    }
    if (created && i === 0) headers[CREATED_HEADER] = '1'
    records[i] = { type: p.type, data: p.bytes, key: stream, headers, time }
  }
  return {
    stream,
    kind: 'event',
    firstRevision: first,
    revision: first + n - 1,
    deletedRevision: head.deletedRevision,
    tombstoned: head.tombstoned,
    records,
    created,
  }
}

/** The result of an event part whose last event got the position `lastSeq`. */
function resultOf(part: StreamPart, lastSeq: number): AppendResult {
  return {
    nextExpectedRevision: part.revision,
    position: lastSeq,
    created: part.created,
  }
}

/** Entries of the in-flight map above which idle ones are dropped before a new one is added. */
const IN_FLIGHT_SWEEP = 4096

/**
 * Envelope bytes besides data, type, key, metadata and the event id, with room to spare (see
 * FORMAT.md): the frame's fixed fields and varints (under 40 bytes) and the reserved headers the
 * store adds besides `$id`: `$rev` (a revision of up to 16 digits) and `$created`.
 */
const ENVELOPE_SLACK = 64 + 32 + 16

/** Bytes the `$id` header takes at most: its name, its value (3 UTF-8 bytes per code unit at most), 2 varints. */
function idHeaderBound(id: string | undefined): number {
  return 3 + (id === undefined ? 36 : id.length * 3) + 6
}

/** A record's size as `prepare` bounds it, with exact UTF-8 lengths. */
function exactSize(
  bytes: Uint8Array,
  type: string,
  stream: string,
  metadata: Record<string, string> | undefined,
): number {
  let size = bytes.byteLength + Buffer.byteLength(type) + Buffer.byteLength(stream) + ENVELOPE_SLACK
  if (metadata) for (const k in metadata) size += Buffer.byteLength(k) + Buffer.byteLength(metadata[k]!) + 6
  return size
}

/** A record as the store hands it to its WAL (data already encoded). */
interface LogRecord {
  type: string
  data: Uint8Array
  key: string
  headers: Record<string, string>
  time: number
}

const DONE: Promise<unknown> = Promise.resolve()

/**
 * An event store on one waltz WAL: streams (the record `key`) with optimistic concurrency, reads of
 * a stream through a persistent stream index, reads and subscriptions over the whole log, durable
 * consumers, and soft and hard deletes. One process opens a directory at a time (the WAL's lock).
 *
 * @typeParam Rec - the event union (`type` and `data`), from the serializer
 * @example
 * ```ts
 * const store = await EventStore.open({ dir: './data', serializer: jsonSerializer({ schemas }), sync: 'always' })
 * const { nextExpectedRevision } = await store.appendToStream('cart-1', [{ type: 'opened', data: {} }], {
 *   expectedRevision: 'no_stream',
 * })
 * for await (const e of store.readStream('cart-1')) console.log(e.revision, e.type, e.data)
 * await store.close()
 * ```
 */
export class EventStore<Rec extends RecordShape = RecordShape> implements EventStoreApi<Rec> {
  /** The store's directory. */
  readonly dir: string
  /**
   * The WAL holding the events (use it for metrics, `sync` and `rotateMasterKey`; appending to it
   * directly breaks the store, and shredding through it may fail an append in flight, and with it
   * the store: use {@link EventStore.shred}).
   */
  readonly wal: Wal<Rec>
  private readonly serializer: Serializer<string, unknown, Rec>
  private readonly index: StreamIndex
  private readonly logger: WalLogger
  private readonly window: number
  private readonly maxRecordSize: number
  private readonly background: boolean
  private readonly inFlight = new Map<string, InFlight>()
  private inFlightSweepAt = IN_FLIGHT_SWEEP
  private readonly consumers = new Map<string, Consumer<Rec>>()
  /** Whether the WAL seals event data (the `encryption` option). */
  private readonly encrypted: boolean
  /** Whether key ids come from the user's `keyFor` (else: one per stream). */
  private readonly customKeyFor: boolean
  /** Shreds under way by key id: appends sealed under one are refused from the call on. */
  private readonly keyShreds = new Map<string, Promise<void>>()
  /** `shredStream` calls under way: appends to the stream are refused while one runs. */
  private readonly streamShreds = new Map<string, Promise<ShredStreamResult>>()
  /** With an archive: the log's first seq, counting the segments only the archive holds (see {@link origin}). */
  private readonly archivedOrigin: number | undefined
  /** Resolved (and dropped) at the next acknowledgement; created only when someone waits. */
  private ackSignal: { promise: Promise<void>; resolve: () => void } | undefined
  private failure: Error | undefined
  private closed = false
  private closing: Promise<void> | undefined

  private constructor(
    wal: Wal<Rec>,
    index: StreamIndex,
    o: EventStoreOptions<Rec> & { logger: WalLogger; idempotencyWindow: number },
    origin: number | undefined,
  ) {
    this.archivedOrigin = origin
    this.dir = o.dir
    this.wal = wal
    this.index = index
    this.serializer = o.serializer
    this.logger = o.logger
    this.window = o.idempotencyWindow
    this.maxRecordSize = o.maxRecordSize ?? 16 * 1024 * 1024
    this.background = o.sync === 'background'
    this.encrypted = o.encryption !== undefined
    this.customKeyFor = o.encryption?.keyFor !== undefined
  }

  /**
   * Opens (or creates) the store in `options.dir`: opens the WAL (recovering it), then the stream
   * index, which catches up with the log after its own checkpoint and rebuilds whatever it cannot
   * trust.
   *
   * @param options - see {@link EventStoreOptions}; `dir` and `serializer` are required
   * @returns the open store
   * @throws EventStoreError `EVENTSTORE_INVALID_ARGUMENT`, `EVENTSTORE_CORRUPT` (the log is not a
   *   consistent event store), `EVENTSTORE_IO`; WalError from opening the WAL (`WAL_LOCKED`,
   *   `WAL_KEYRING` for a wrong master key, or an encrypted store opened without `encryption`, ...)
   */
  static async open<Rec extends RecordShape>(options: EventStoreOptions<Rec>): Promise<EventStore<Rec>> {
    if (typeof options !== 'object' || options === null || typeof options.dir !== 'string') {
      throw EventStoreError.INVALID_ARGUMENT('EventStore.open needs { dir, serializer }')
    }
    const { indexFlushEvents, indexCacheStreams, idempotencyWindow, serializer, ...walOptions } = options
    if (typeof serializer?.encode !== 'function' || typeof serializer.decode !== 'function') {
      throw EventStoreError.INVALID_ARGUMENT('EventStore.open needs a serializer')
    }
    const { retention, archive } = walOptions
    if (retention !== undefined && archive === undefined) {
      // Revisions are counted from the log's first event: a stream index rebuilt from a log whose
      // oldest segments are gone would number every stream wrongly, and reads would miss events.
      throw EventStoreError.INVALID_ARGUMENT(
        "EventStore.open takes 'retention' only with an 'archive': the stream index and reads need the whole log",
      )
    }
    const encryption = sealing(walOptions.encryption)
    const flushEvery = positiveInt('indexFlushEvents', indexFlushEvents, EVENTSTORE_DEFAULTS.indexFlushEvents)
    const cacheSize = nonNegativeInt(
      'indexCacheStreams',
      indexCacheStreams,
      EVENTSTORE_DEFAULTS.indexCacheStreams,
    )
    const window = nonNegativeInt(
      'idempotencyWindow',
      idempotencyWindow,
      EVENTSTORE_DEFAULTS.idempotencyWindow,
    )
    const logger = options.logger ?? silentLogger
    // Retention passes run from the WAL's open on; until the store exists they remove nothing.
    let opened: EventStore<Rec> | undefined
    const keepFrom = retention?.keepFrom
    const wal = (await Wal.open({
      ...walOptions,
      ...(encryption && { encryption }),
      logger,
      serializer: logSerializer(serializer as Serializer<string, unknown, RecordShape>),
      ...(retention && {
        retention: {
          ...retention,
          keepFrom: () => Math.min(opened?.keepFrom() ?? 0, keepFrom?.() ?? Number.POSITIVE_INFINITY),
        },
      }),
    })) as unknown as Wal<Rec>
    try {
      const origin = archive ? await archivedOrigin(wal, archive) : undefined
      const index = await StreamIndex.open({
        dir: join(options.dir, 'index'),
        wal,
        origin: origin ?? wal.firstSeq,
        strictOrigin: origin !== undefined,
        logger,
        flushEvery,
        cacheSize,
      })
      opened = new EventStore(wal, index, { ...options, logger, idempotencyWindow: window }, origin)
      return opened
    } catch (err) {
      await wal.close().catch(() => {})
      throw err
    }
  }

  /**
   * Connects to an event store on a NATS JetStream stream (created if missing, else bound): the same
   * {@link EventStoreApi} as the embedded store, shared by every client connected to the stream, on a
   * single server or a replicated cluster. Needs the optional peer dependencies `@nats-io/jetstream`
   * and `@nats-io/transport-node`, loaded only by this call.
   *
   * Each `appendToStream` call is one JetStream message holding all of its events (atomic on every
   * server version); `position` is the JetStream stream sequence, shared by the events of one call.
   * Optimistic concurrency is the server's expected-last-subject-sequence check: two clients appending
   * to one stream with the same expected revision never both succeed. Retries with the same event ids
   * are idempotent (the stream's message-id duplicate window, and the embedded store's look at the
   * stream's recent events). Consumers keep their checkpoints in the cluster by default. Not on this
   * backend: `appendToStreams`, encryption and shredding, archives. See docs/FORMAT.md, "The event
   * store on NATS JetStream".
   *
   * @param options - `servers`, `stream`, `serializer`, and see {@link NatsEventStoreOptions}
   * @returns the connected store
   * @throws EventStoreError `EVENTSTORE_INVALID_ARGUMENT` (bad options, or the NATS packages are not
   *   installed), `EVENTSTORE_UNAVAILABLE` (the servers cannot be reached)
   * @example
   * ```ts
   * const store = await EventStore.connect({ servers: ['nats://n1:4222', 'nats://n2:4222'], stream: 'orders', replicas: 3, serializer })
   * await store.appendToStream('order-7', [{ type: 'placed', data: { total: 12 } }], { expectedRevision: 'no_stream' })
   * ```
   */
  static async connect<Rec extends RecordShape>(
    options: NatsEventStoreOptions<Rec>,
  ): Promise<EventStoreApi<Rec>> {
    let connectEventStore: typeof import('./nats/connect.js').connectEventStore
    try {
      ;({ connectEventStore } = await import('./nats/connect.js'))
    } catch (err) {
      throw EventStoreError.INVALID_ARGUMENT(
        'EventStore.connect needs the packages @nats-io/jetstream and @nats-io/transport-node (npm install @nats-io/jetstream @nats-io/transport-node)',
        { cause: err },
      )
    }
    return connectEventStore(options)
  }

  /**
   * Appends events to a stream as one atomic WAL batch, if the stream is in the expected state. The
   * check and the reservation of the revisions are one synchronous step, so of two concurrent appends
   * expecting the same revision exactly one succeeds.
   *
   * @param stream - the stream name (a non-empty string)
   * @param events - at least one event
   * @param options - `expectedRevision` (default `'any'`)
   * @returns the stream's next expected revision, the position of the last event, and whether the
   *   stream was created
   * @throws EventStoreError `WRONG_EXPECTED_REVISION` (nothing written), `STREAM_TOMBSTONED`,
   *   `STREAM_SHREDDED` (encrypted stores: the events' key was shredded; nothing written),
   *   `EVENTSTORE_INVALID_ARGUMENT`, `EVENTSTORE_CLOSED`; WalError `WAL_SERIALIZER_ERROR` (data the
   *   serializer refused; nothing written), `WAL_INVALID_ARGUMENT` (`encryption.keyFor` threw;
   *   nothing written), `WAL_IO` (the store is failed: reopen it)
   */
  appendToStream(
    stream: string,
    events: readonly EventInput<Rec>[],
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    // No await on the common path: the check and the hand-over to the WAL happen in this call.
    try {
      this.requireOpen()
      checkStream(stream)
      const expected = checkExpected(options.expectedRevision ?? 'any', stream)
      if (!Array.isArray(events) || events.length === 0) {
        throw EventStoreError.INVALID_ARGUMENT('appendToStream needs an array of at least one event', {
          stream,
        })
      }
      const n = events.length
      const prepared: Prepared[] = new Array(n)
      let allIds = true
      for (let i = 0; i < n; i++) {
        const p = this.prepare(stream, events[i]!)
        prepared[i] = p
        allIds &&= p.userId
      }
      const head = this.head(stream)
      if (head.tombstoned) throw EventStoreError.STREAM_TOMBSTONED(stream)
      if (allIds) return this.appendWithIds(stream, expected, prepared, head)
      if (!matches(head, expected)) {
        throw EventStoreError.WRONG_EXPECTED_REVISION(stream, expected, head.revision)
      }
      return this.commit(stream, head, prepared)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /**
   * Appends to several streams as one atomic WAL batch: after any crash all of the events are stored
   * or none is. Every stream's expected revision is checked, and all of them reserved, in one
   * synchronous step before the batch is handed to the WAL, as {@link appendToStream} does for one:
   * if any check fails, nothing is written. Each stream may appear once per call.
   *
   * Retries: when every event of the call has an `id`, a call whose events are all stored already
   * (each stream's right after its expected revision, or within the idempotency window for
   * `'any'`, `'no_stream'` and `'stream_exists'`) returns the original results and writes nothing.
   *
   * @param appends - per stream: `stream`, `events` (at least one) and `expectedRevision` (default `'any'`)
   * @returns one result per append, in the order given
   * @throws EventStoreError `WRONG_EXPECTED_REVISION` (for the first stream whose check fails),
   *   `STREAM_TOMBSTONED`, `STREAM_SHREDDED`, `EVENTSTORE_INVALID_ARGUMENT`, `EVENTSTORE_CLOSED`;
   *   WalError as {@link appendToStream}
   * @example
   * ```ts
   * // Move stock between two warehouses: both events, or neither.
   * const [from, to] = await store.appendToStreams([
   *   { stream: 'warehouse-a', events: [{ type: 'shipped', data: { sku: 'x', n: 2 } }], expectedRevision: 7 },
   *   { stream: 'warehouse-b', events: [{ type: 'received', data: { sku: 'x', n: 2 } }], expectedRevision: 3 },
   * ])
   * ```
   */
  appendToStreams(appends: readonly StreamAppend<Rec>[]): Promise<AppendResult[]> {
    try {
      this.requireOpen()
      if (!Array.isArray(appends) || appends.length === 0) {
        throw EventStoreError.INVALID_ARGUMENT(
          'appendToStreams needs an array of at least one { stream, events, expectedRevision? }',
        )
      }
      const groups: StreamGroup[] = []
      const seen = new Set<string>()
      let allIds = true
      for (const a of appends) {
        if (typeof a !== 'object' || a === null) {
          throw EventStoreError.INVALID_ARGUMENT(
            'an append must be an object { stream, events, expectedRevision? }',
          )
        }
        const stream = checkStream(a.stream)
        if (seen.has(stream)) {
          throw EventStoreError.INVALID_ARGUMENT('a stream may appear only once in an appendToStreams call', {
            stream,
          })
        }
        seen.add(stream)
        const expected = checkExpected(a.expectedRevision ?? 'any', stream)
        const events = a.events
        if (!Array.isArray(events) || events.length === 0) {
          throw EventStoreError.INVALID_ARGUMENT('each append needs an array of at least one event', {
            stream,
          })
        }
        const prepared: Prepared[] = new Array(events.length)
        for (let i = 0; i < events.length; i++) {
          const p = this.prepare(stream, events[i]!)
          prepared[i] = p
          allIds &&= p.userId
        }
        groups.push({ stream, expected, prepared })
      }
      if (allIds) return this.appendGroupWithIds(groups)
      return this.commitGroup(groups)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /**
   * {@link appendToStreams} when every event has an id: a call already stored is a retry (its original
   * results are returned), else it is appended. As {@link appendWithIds} does for one stream, the look
   * is repeated while streams moved during it (a retry racing its original, in flight meanwhile).
   */
  private async appendGroupWithIds(groups: readonly StreamGroup[]): Promise<AppendResult[]> {
    for (;;) {
      // The original was one atomic batch: it can only be stored if every stream may hold it, so no
      // stream is looked at (up to `idempotencyWindow` reads each) unless all of them may.
      const mayHold = groups.every((g) => {
        const head = this.head(g.stream)
        return (
          head.revision > 0 && (typeof g.expected === 'number' ? !matches(head, g.expected) : this.window > 0)
        )
      })
      if (!mayHold) break
      const found = await Promise.all(groups.map((g) => this.findRetry(g.stream, g.expected, g.prepared)))
      if (found.every((f) => f.original !== undefined)) return found.map((f) => f.original!)
      this.requireOpen()
      // Nothing appended to any of the streams since the look (acknowledged or in flight): it holds.
      if (groups.every((g, k) => this.head(g.stream).revision === found[k]!.covered)) break
    }
    this.requireOpen()
    return this.commitGroup(groups)
  }

  /** An append whose events all carry caller ids: it may be a retry of one already stored. */
  private async appendWithIds(
    stream: string,
    expected: ExpectedRevision,
    prepared: readonly Prepared[],
    head: Readonly<StreamSummary>,
  ): Promise<AppendResult> {
    // With a revision number the retried events can only sit right after it; otherwise look in the
    // window of recent events ('no_stream' too: the stream may have been deleted since).
    // (`idempotencyWindow: 0` turns the look off for every expectation but a number.)
    const look = (h: Readonly<StreamSummary>) =>
      h.revision > 0 && (typeof expected === 'number' ? !matches(h, expected) : this.window > 0)
    while (look(head)) {
      const { original, covered } = await this.findRetry(stream, expected, prepared)
      if (original) return original
      this.requireOpen()
      head = this.head(stream)
      if (head.tombstoned) throw EventStoreError.STREAM_TOMBSTONED(stream)
      // Nothing appended to the stream since the read (acknowledged or in flight): the answer holds.
      // Otherwise those events may be the same ones (a retry racing its original): look again.
      if (head.revision === covered) break
    }
    if (!matches(head, expected)) {
      throw EventStoreError.WRONG_EXPECTED_REVISION(stream, expected, head.revision)
    }
    return this.commit(stream, head, prepared)
  }

  /**
   * Soft-deletes a stream: reads return nothing and it does not exist, but its revision is kept; a
   * later append recreates it with revisions continuing.
   *
   * @param stream - the stream
   * @param options - `expectedRevision` (default `'any'`)
   * @returns the position of the deletion marker
   * @throws EventStoreError `WRONG_EXPECTED_REVISION`, `STREAM_TOMBSTONED`, and as {@link appendToStream}
   */
  deleteStream(stream: string, options: AppendOptions = {}): Promise<DeleteResult> {
    return this.mark(stream, options, DELETED_TYPE)
  }

  /**
   * Tombstones a stream: reads return nothing and every later append or delete fails with
   * `STREAM_TOMBSTONED`, forever.
   *
   * @param stream - the stream
   * @param options - `expectedRevision` (default `'any'`)
   * @returns the position of the tombstone
   * @throws EventStoreError `WRONG_EXPECTED_REVISION`, `STREAM_TOMBSTONED`, and as {@link appendToStream}
   */
  tombstoneStream(stream: string, options: AppendOptions = {}): Promise<DeleteResult> {
    return this.mark(stream, options, TOMBSTONE_TYPE)
  }

  /**
   * Erases a stream's event data (encrypted stores): destroys the data key(s) its events are sealed
   * with, durably (the key store is rewritten and fsynced before this resolves; a crash or restart
   * never brings the data back). Its events still read, in order, with stream, revision, position,
   * id, type, time and metadata, but `data: undefined` and `shredded: true`; revisions and positions
   * never change. Appends to the stream in flight land first and are erased with it; appends from
   * the call on are refused with `STREAM_SHREDDED` while it runs.
   *
   * With the default `keyFor` the key is the stream's own: the stream is erased, and every later
   * append to it is `STREAM_SHREDDED` (it can still be deleted or tombstoned). With a custom `keyFor`
   * (one key per customer, shared by several streams) the key ids its events were actually sealed
   * with are destroyed: **every other stream sealed under them is erased too**, and the stream takes
   * new events under other key ids. Segments are not rewritten: the sealed bytes stay, unreadable.
   *
   * @param stream - the stream
   * @returns the key ids destroyed
   * @throws EventStoreError `EVENTSTORE_INVALID_ARGUMENT` (the store is not encrypted),
   *   `EVENTSTORE_CORRUPT` (the index points at other records: nothing is shredded),
   *   `EVENTSTORE_CLOSED`; WalError `WAL_IO`
   * @example
   * ```ts
   * await store.shredStream('customer-7') // the customer asked to be forgotten
   * for await (const e of store.readStream('customer-7')) console.log(e.revision, e.type, e.shredded) // 1 Registered true
   * ```
   */
  shredStream(stream: string): Promise<ShredStreamResult> {
    try {
      this.requireOpen()
      checkStream(stream)
      this.requireEncrypted('shredStream')
    } catch (err) {
      return Promise.reject(err)
    }
    let running = this.streamShreds.get(stream)
    if (running === undefined) {
      running = this.eraseStream(stream).finally(() => this.streamShreds.delete(stream))
      this.streamShreds.set(stream, running)
    }
    return running
  }

  /**
   * Destroys one data key (encrypted stores), durably: every event sealed under `keyId` reads with
   * `data: undefined` and `shredded: true` from then on, in every stream, and appends of events under
   * it are refused with `STREAM_SHREDDED` from the call on. With a custom `keyFor` this erases one data
   * subject (a customer) wherever its events are; with the default one, `keyId` is a stream name.
   *
   * @param keyId - the key id, as `keyFor` returns it (not `''`, the store's own)
   * @throws EventStoreError `EVENTSTORE_INVALID_ARGUMENT` (not encrypted, `''`), `EVENTSTORE_CLOSED`;
   *   WalError `WAL_INVALID_ARGUMENT` (a malformed key id), `WAL_IO`
   */
  shred(keyId: string): Promise<void> {
    try {
      this.requireOpen()
      this.requireEncrypted('shred')
      if (typeof keyId !== 'string' || keyId === MARKER_KEY_ID) {
        throw EventStoreError.INVALID_ARGUMENT(
          `shred needs a non-empty key id ('' seals the store's markers), got ${JSON.stringify(keyId)}`,
        )
      }
    } catch (err) {
      return Promise.reject(err)
    }
    let running = this.keyShreds.get(keyId)
    if (running === undefined) {
      running = this.destroyKey(keyId).finally(() => this.keyShreds.delete(keyId))
      this.keyShreds.set(keyId, running)
    }
    return running
  }

  /**
   * Whether the stream has visible events (appended, and not deleted since).
   *
   * @param stream - the stream
   * @returns true when a read of it would yield events
   */
  streamExists(stream: string): Promise<boolean> {
    try {
      this.requireOpen()
      checkStream(stream)
    } catch (err) {
      return Promise.reject(err)
    }
    return Promise.resolve(exists(this.index.summary(stream)))
  }

  /**
   * Reads a stream's acknowledged events through the stream index.
   *
   * @param stream - the stream
   * @param options - `from` (a revision, inclusive), `direction`, `maxCount`
   * @returns an async iterable of events
   * @throws EventStoreError `EVENTSTORE_INVALID_ARGUMENT`, `EVENTSTORE_CLOSED`; WalError from reading
   */
  async *readStream(
    stream: string,
    options: ReadStreamOptions = {},
  ): AsyncGenerator<StoredEvent<Rec>, void, undefined> {
    this.requireOpen()
    checkStream(stream)
    const backwards = checkDirection(options.direction) === 'backwards'
    const from = optionalInt('from', options.from, 0)
    const maxCount = optionalInt('maxCount', options.maxCount, 0) ?? Number.POSITIVE_INFINITY
    const s = this.index.summary(stream)
    if (s.tombstoned || maxCount === 0) return
    const first = s.deletedRevision + 1
    let lo: number
    let hi: number
    if (backwards) {
      hi = Math.min(from ?? s.revision, s.revision)
      lo = Math.max(first, hi - maxCount + 1)
    } else {
      lo = Math.max(from ?? first, first)
      hi = Math.min(s.revision, lo + maxCount - 1)
    }
    if (lo > hi) return
    const events = this.index.locate(stream, lo, hi)
    if (backwards) {
      events.seqs.reverse()
      events.offsets.reverse()
      events.lengths.reverse()
    }
    yield* this.eventsAt(events, { stream, first: backwards ? hi : lo, step: backwards ? -1 : 1 })
  }

  /**
   * Reads acknowledged events of the whole log in position order (markers are skipped).
   *
   * @param options - `from` (a position, inclusive), `direction`, `maxCount`, `filter`
   * @returns an async iterable of events
   * @throws EventStoreError `EVENTSTORE_INVALID_ARGUMENT`, `EVENTSTORE_CLOSED`; WalError from reading
   */
  async *readAll(options: ReadAllOptions = {}): AsyncGenerator<StoredEvent<Rec>, void, undefined> {
    this.requireOpen()
    const backwards = checkDirection(options.direction) === 'backwards'
    const from = optionalInt('from', options.from, 0)
    let left = optionalInt('maxCount', options.maxCount, 0) ?? Number.POSITIVE_INFINITY
    const accept = filterOf(options.filter)
    const end = this.index.checkpoint
    const start = this.origin
    if (left === 0) return
    await this.readable()
    if (!backwards) {
      for await (const r of this.logRecords(Math.max(from ?? start, start), end, accept)) {
        yield this.eventOf(r)
        if (--left === 0) return
      }
      return
    }
    let pos = Math.min(from ?? end, end)
    while (pos >= start) {
      const lo = Math.max(start, pos - 1023)
      const chunk: WalRecord[] = []
      for await (const r of this.logRecords(lo, pos, accept)) chunk.push(r)
      for (let i = chunk.length - 1; i >= 0; i--) {
        yield this.eventOf(chunk[i]!)
        if (--left === 0) return
      }
      pos = lo - 1
    }
  }

  /**
   * Folds a stream's events into a state. In an encrypted store, shredded events are skipped (their
   * revisions still count) unless `onShredded` is given: `evolve` only ever sees events with their
   * data. Appends to the stream still in flight (handed to the WAL, not yet acknowledged) are
   * waited for first, so the state includes them: after a
   * `WRONG_EXPECTED_REVISION`, the state read here is at least at the revision the error named (reads
   * such as {@link readStream} show acknowledged events only, and may be behind it for a moment).
   *
   * @param stream - the stream
   * @param options - `initialState` and `evolve`
   * @returns the state, the stream's revision and whether it exists
   * @throws as {@link readStream}
   */
  async aggregateStream<State>(
    stream: string,
    options: AggregateOptions<State, Rec>,
  ): Promise<AggregateResult<State>> {
    this.requireOpen()
    checkStream(stream)
    // Appends in flight on the stream land first: a state that missed them would only conflict.
    await this.inFlight.get(stream)?.last.catch(() => {})
    const s = this.index.summary(stream)
    let state = options.initialState()
    let revision = s.revision
    const { evolve, onShredded } = options
    for await (const e of this.readStream(stream, { from: s.deletedRevision + 1 })) {
      if (e.shredded !== true) state = evolve(state, e)
      else if (onShredded !== undefined) state = onShredded(state, e)
      revision = e.revision
    }
    return { state, revision: Math.max(revision, s.revision), exists: exists(s) }
  }

  /**
   * Yields a stream's events from `from`, then each new one once it is acknowledged, until `signal`
   * aborts, the stream is tombstoned or the store closes (the iteration then ends without error).
   *
   * @param stream - the stream
   * @param options - `from` (a revision, default 1) and `signal`
   * @returns an async iterable of events
   */
  async *subscribeToStream(
    stream: string,
    options: SubscribeToStreamOptions = {},
  ): AsyncGenerator<StoredEvent<Rec>, void, undefined> {
    this.requireOpen()
    checkStream(stream)
    let next = optionalInt('from', options.from, 1) ?? 1
    const signal = options.signal
    while (!this.closed && !signal?.aborted) {
      const changed = this.nextAck()
      const s = this.index.summary(stream)
      next = Math.max(next, s.deletedRevision + 1)
      if (next <= s.revision) {
        const events = this.index.locate(stream, next, s.revision)
        for await (const e of this.eventsAt(events, { stream, first: next, step: 1 })) {
          yield e
          if (signal?.aborted) return
        }
        next = s.revision + 1
        continue
      }
      if (s.tombstoned) return
      if (!(await this.waitAcked(changed, signal))) return
    }
  }

  /**
   * Yields the events of the whole log from `from`, then each new one once it is acknowledged, until
   * `signal` aborts or the store closes (the iteration then ends without error).
   *
   * @param options - `from` (a position, default the first stored), `filter` and `signal`
   * @returns an async iterable of events
   */
  async *subscribeToAll(
    options: SubscribeToAllOptions = {},
  ): AsyncGenerator<StoredEvent<Rec>, void, undefined> {
    this.requireOpen()
    let next = optionalInt('from', options.from, 0) ?? this.origin
    const accept = filterOf(options.filter)
    const signal = options.signal
    while (!this.closed && !signal?.aborted) {
      const changed = this.nextAck()
      const end = this.index.checkpoint
      if (next <= end) {
        await this.readable()
        for await (const r of this.logRecords(next, end, accept)) {
          next = r.seq + 1
          yield this.eventOf(r)
          if (signal?.aborted || this.closed) return
        }
        next = Math.max(next, end + 1)
        continue
      }
      if (!(await this.waitAcked(changed, signal))) return
    }
  }

  /**
   * A durable consumer: handles the events matching `filter` in batches, and stores its position
   * (the checkpoint) after each batch, by default in `<dir>/consumers/<name>.ckpt`. After a restart
   * or crash it resumes after its checkpoint: at-least-once. Call `start()` to run it.
   *
   * @param options - `name`, `handler`, and optionally `filter`, `from`, `checkpoints`, `batchSize`
   * @returns the consumer (not started)
   */
  consumer(options: ConsumerOptions<Rec>): Consumer<Rec> {
    this.requireOpen()
    return new Consumer(this, options, {
      dir: join(this.dir, 'consumers'),
      logger: this.logger,
      register: (c) => {
        if (this.consumers.has(c.name))
          throw EventStoreError.CONSUMER_RUNNING(`consumer ${c.name} is already running`)
        this.consumers.set(c.name, c)
      },
      unregister: (c) => {
        if (this.consumers.get(c.name) === c) this.consumers.delete(c.name)
      },
    })
  }

  /**
   * Resolves once the store has acknowledged a position above `after`: true, or false when `signal`
   * aborted or the store closed first.
   *
   * @param after - a position
   * @param signal - stops waiting
   * @returns whether a position above `after` is acknowledged
   * @internal
   */
  async waitForPosition(after: number, signal?: AbortSignal): Promise<boolean> {
    while (this.index.checkpoint <= after) {
      if (!(await this.waitAcked(this.nextAck(), signal))) return false
    }
    return true
  }

  /**
   * The oldest position the store wants on local disk, for the WAL's `retention.keepFrom` (the store
   * passes it there itself when opened with `retention`): the first one its stream index has not
   * written to a table file (a restart re-indexes from there), and the next one of each running
   * consumer. What retention removes below it is read from the archive when needed.
   *
   * @returns a position (1 or more)
   */
  keepFrom(): number {
    let keep = this.index.flushedTo + 1
    for (const consumer of this.consumers.values()) keep = Math.min(keep, consumer.position + 1)
    return keep
  }

  /** The first position of the log: its first local record, or with an archive its first archived one. */
  private get origin(): number {
    return this.archivedOrigin ?? this.wal.firstSeq
  }

  /** The last acknowledged position (every event up to it is readable). */
  get position(): number {
    return this.index.checkpoint
  }

  /**
   * Counters and gauges of the WAL, the index and the consumers.
   *
   * @returns a snapshot of the metrics
   */
  metrics(): EventStoreMetrics {
    const consumers: Record<string, number> = {}
    for (const [name, c] of this.consumers) consumers[name] = c.lag
    return {
      wal: this.wal.metrics(),
      index: this.index.stats(),
      streamsInFlight: this.streamsInFlight(),
      consumers,
    }
  }

  /**
   * Stops consumers, waits for appends in flight, writes the in-memory index to a table and closes
   * the WAL (fdatasync'ing it).
   *
   * @throws EventStoreError `EVENTSTORE_IO`; WalError `WAL_IO`
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  private async shutdown(): Promise<void> {
    this.closed = true
    this.signalAcked()
    await Promise.allSettled([...this.consumers.values()].map((c) => c.stop()))
    await Promise.allSettled([...this.inFlight.values()].map((f) => f.last))
    let error: unknown
    try {
      if (!this.failure) await this.index.close()
    } catch (err) {
      error = err
    }
    try {
      await this.wal.close()
    } catch (err) {
      error ??= err
    }
    if (error) throw error
  }

  private requireOpen(): void {
    if (this.failure) throw this.failure
    if (this.closed) throw EventStoreError.CLOSED()
  }

  /**
   * A stream's state including appends in flight. Not a copy (an in-flight entry or the index's own
   * summary): read it in the synchronous step that checks and reserves, never across an await.
   */
  private head(stream: string): Readonly<StreamSummary> {
    const f = this.inFlight.get(stream)
    return f !== undefined && f.appends > 0 ? f : this.index.current(stream)
  }

  private prepare(stream: string, event: EventInput<Rec>): Prepared {
    const { type, id } = checkEvent(event, stream)
    let bytes: Uint8Array
    try {
      bytes = this.serializer.encode(event.data, type)
    } catch (err) {
      throw WalError.SERIALIZER_ERROR(`encoding a ${type} event of ${JSON.stringify(stream)} failed`, {
        cause: err,
      })
    }
    if (!(bytes instanceof Uint8Array)) {
      throw WalError.SERIALIZER_ERROR(`the serializer returned no bytes for a ${type} event`)
    }
    const metadata = event.metadata as Record<string, string> | undefined
    // An upper bound first (a UTF-16 code unit is at most 3 UTF-8 bytes): exact sizes only near the limit.
    let size = bytes.byteLength + (type.length + stream.length) * 3 + ENVELOPE_SLACK + idHeaderBound(id)
    if (metadata) for (const k in metadata) size += (k.length + metadata[k]!.length) * 3 + 6
    if (size > this.maxRecordSize) size = exactSize(bytes, type, stream, metadata) + idHeaderBound(id)
    if (size > this.maxRecordSize) {
      throw EventStoreError.INVALID_ARGUMENT(
        `a ${type} event of ${size} bytes exceeds maxRecordSize (${this.maxRecordSize})`,
        { stream },
      )
    }
    return { type, id: id ?? uuidv7(), userId: id !== undefined, bytes, metadata }
  }

  /**
   * Reserves the revisions and hands the batch to the WAL, in one synchronous step. Acknowledged
   * records are applied to the index in seq order as the WAL resolves them.
   */
  private commit(
    stream: string,
    head: Readonly<StreamSummary>,
    prepared: readonly Prepared[],
  ): Promise<AppendResult> {
    const part = eventPart(stream, head, prepared, Date.now())
    this.checkSealable(part)
    return this.submit([part], (lastSeq) => resultOf(part, lastSeq))
  }

  /** Checks every append of a multi-stream group against its stream, then submits them as one batch. */
  private commitGroup(groups: readonly StreamGroup[]): Promise<AppendResult[]> {
    const time = Date.now()
    const parts: StreamPart[] = []
    for (const g of groups) {
      const head = this.head(g.stream)
      if (head.tombstoned) throw EventStoreError.STREAM_TOMBSTONED(g.stream)
      if (!matches(head, g.expected)) {
        throw EventStoreError.WRONG_EXPECTED_REVISION(g.stream, g.expected, head.revision)
      }
      const part = eventPart(g.stream, head, g.prepared, time)
      this.checkSealable(part)
      parts.push(part)
    }
    return this.submit(parts, (lastSeq) => {
      // Parts are appended in order: each one's last event sits before the following parts' events.
      const results: AppendResult[] = new Array(parts.length)
      let end = lastSeq
      for (let k = parts.length - 1; k >= 0; k--) {
        results[k] = resultOf(parts[k]!, end)
        end -= parts[k]!.records.length
      }
      return results
    })
  }

  private async mark(stream: string, options: AppendOptions, type: string): Promise<DeleteResult> {
    this.requireOpen()
    checkStream(stream)
    const expected = checkExpected(options.expectedRevision ?? 'any', stream)
    const head = this.head(stream)
    if (head.tombstoned) throw EventStoreError.STREAM_TOMBSTONED(stream)
    if (!matches(head, expected)) {
      throw EventStoreError.WRONG_EXPECTED_REVISION(stream, expected, head.revision)
    }
    const record: LogRecord = {
      type,
      data: new Uint8Array(0),
      key: stream,
      headers: { [ID_HEADER]: uuidv7(), [REVISION_HEADER]: String(head.revision) },
      time: Date.now(),
    }
    const tombstone = type === TOMBSTONE_TYPE
    const part: StreamPart = {
      stream,
      kind: tombstone ? 'tombstone' : 'deleted',
      firstRevision: head.revision,
      revision: head.revision,
      deletedRevision: head.revision,
      tombstoned: tombstone,
      records: [record],
      created: false,
    }
    return this.submit([part], (position) => ({ position }))
  }

  /**
   * Records each stream's state after the append as its in-flight state and hands the records of all
   * parts to the WAL as one atomic batch; once acknowledged, applies them to the index (in seq order)
   * and returns `done(lastSeq)`.
   */
  private submit<T>(parts: readonly StreamPart[], done: (lastSeq: number) => T): Promise<T> {
    const flights: InFlight[] = new Array(parts.length)
    let records: LogRecord[] = parts[0]!.records
    for (let k = 0; k < parts.length; k++) {
      const part = parts[k]!
      let f = this.inFlight.get(part.stream)
      if (f === undefined) {
        if (this.inFlight.size >= this.inFlightSweepAt) this.sweepInFlight()
        f = {
          revision: part.revision,
          deletedRevision: part.deletedRevision,
          tombstoned: part.tombstoned,
          lastSeq: 0,
          appends: 0,
          last: DONE,
        }
        this.inFlight.set(part.stream, f)
      } else {
        f.revision = part.revision
        f.deletedRevision = part.deletedRevision
        f.tombstoned = part.tombstoned
      }
      f.appends++
      flights[k] = f
      if (k > 0) records = records.concat(part.records)
    }
    const located = frameLocations(records.length)
    const appended = this.appendLog(records, located).then(
      (lastSeq) => {
        for (const f of flights) this.release(f)
        try {
          let seq = lastSeq - records.length + 1
          let k = 0
          for (const part of parts) {
            const { stream, kind, firstRevision } = part
            for (let i = 0; i < part.records.length; i++, k++) {
              const rev = kind === 'event' ? firstRevision + i : firstRevision
              const { time } = part.records[i]!
              this.index.applyMeaning(
                seq++,
                time,
                kind,
                stream,
                rev,
                located.offsets[k]!,
                located.lengths[k]!,
              )
            }
          }
        } catch (err) {
          this.fail(err as Error)
          throw err
        }
        this.signalAcked()
        return done(lastSeq)
      },
      (err: unknown) => {
        for (const f of flights) this.release(f)
        // The WAL refused or lost a batch others may build on: stop, so no stream gets a gap.
        this.fail(err as Error)
        throw err
      },
    )
    for (const f of flights) f.last = appended
    return appended
  }

  /** Appends prepared records as one batch (their data is already encoded), noting where they lie. */
  private appendLog(records: LogRecord[], located: FrameLocations): Promise<number> {
    const appendBatch = this.wal.appendBatch as unknown as (
      r: LogRecord[],
      l: FrameLocations,
    ) => Promise<number>
    return appendBatch.call(this.wal, records, located)
  }

  /** A promise resolved at the next acknowledgement (or failure, or close). */
  private nextAck(): Promise<void> {
    this.ackSignal ??= deferred()
    return this.ackSignal.promise
  }

  private signalAcked(): void {
    const signal = this.ackSignal
    if (signal) {
      this.ackSignal = undefined
      signal.resolve()
    }
  }

  private release(f: InFlight): void {
    f.appends--
  }

  /** Drops idle entries of the in-flight map, so it holds at most the streams appended to lately. */
  private sweepInFlight(): void {
    for (const [stream, f] of this.inFlight) if (f.appends === 0) this.inFlight.delete(stream)
    // Many streams busy at once: sweep again only once the map has doubled (amortised O(1)).
    this.inFlightSweepAt = Math.max(IN_FLIGHT_SWEEP, 2 * this.inFlight.size)
  }

  private streamsInFlight(): number {
    let n = 0
    for (const f of this.inFlight.values()) if (f.appends > 0) n++
    return n
  }

  private fail(err: Error): void {
    if (this.failure || this.closed) return
    this.failure = err
    this.logger.error('the event store failed; reopen it', { error: err.message })
    this.signalAcked()
  }

  /**
   * Whether the events are already stored: an earlier call with the same ids that succeeded (a retry
   * after a lost reply or a crash). Returns that call's result.
   */
  private async findRetry(
    stream: string,
    expected: ExpectedRevision,
    prepared: readonly Prepared[],
  ): Promise<{ original: AppendResult | undefined; covered: number }> {
    // Let appends in flight land, so their events are readable.
    const flight = this.inFlight.get(stream)
    if (flight) await flight.last.catch(() => {})
    const s = this.index.summary(stream)
    const n = prepared.length
    let lo: number
    let hi: number
    if (typeof expected === 'number') {
      lo = expected + 1
      hi = expected + n
    } else {
      const window = Math.max(this.window, n)
      // Deleted events count: the append they came from did happen.
      lo = Math.max(1, s.revision - window + 1)
      hi = s.revision
    }
    const covered = s.revision
    if (hi > s.revision || hi - lo + 1 < n) return { original: undefined, covered }
    const events = this.index.locate(stream, lo, hi)
    const stored = await this.wal.recordsAtRaw(events.seqs, events)
    for (let i = 0; i + n <= stored.length; i++) {
      let same = true
      for (let j = 0; j < n && same; j++) same = stored[i + j]!.headers?.[ID_HEADER] === prepared[j]!.id
      if (!same) continue
      const firstRevision = lo + i
      const created = stored[i]!.headers?.[CREATED_HEADER] === '1'
      // 'no_stream' was met by the original only if it created the stream.
      if (expected === 'no_stream' && !created) continue
      const position = stored[i + n - 1]!.seq
      return { original: { nextExpectedRevision: firstRevision + n - 1, position, created }, covered }
    }
    return { original: undefined, covered }
  }

  /**
   * Reads a stream's events where the index says they lie, in the order given (256 at a time), and
   * checks that each is the event wanted: its stream and revision. A record that is not (an index that
   * points elsewhere) is read again without the index's frame locations; still not, the store refuses
   * to answer with `EVENTSTORE_CORRUPT` rather than hand over another stream's event.
   *
   * @param want - the stream, the revision of the first event, and +1 (forwards) or -1 (backwards)
   */
  private async *eventsAt(
    events: EventLocations,
    want: { stream: string; first: number; step: 1 | -1 },
  ): AsyncGenerator<StoredEvent<Rec>, void, undefined> {
    const { seqs, offsets, lengths } = events
    if (seqs.length === 0) return
    await this.readable()
    for (let i = 0; i < seqs.length; i += 256) {
      const chunk = seqs.length <= 256 ? seqs : seqs.slice(i, i + 256)
      const at =
        seqs.length <= 256
          ? events
          : { offsets: offsets.slice(i, i + 256), lengths: lengths.slice(i, i + 256) }
      let stored = (await this.wal.recordsAt(chunk, at)).map(toStoredEvent)
      const revision = want.first + i * want.step
      if (!eventsAre(stored, want.stream, revision, want.step)) {
        stored = ((await this.wal.recordsAt(chunk)) as WalRecord[]).map(toStoredEvent)
        if (!eventsAre(stored, want.stream, revision, want.step)) {
          throw EventStoreError.CORRUPT(
            `the stream index points ${JSON.stringify(want.stream)} at records of other streams or revisions; delete ${join(this.wal.dir, 'index')} to rebuild it`,
            { stream: want.stream },
          )
        }
      }
      for (const e of stored) yield e as StoredEvent<Rec>
    }
  }

  /** In `'background'` mode an acknowledged record may not be written yet: write it first. */
  private async readable(): Promise<void> {
    if (this.background) await this.wal.flush()
  }

  /**
   * The log's records `from..to` that `filter` keeps. A plain store reads them as stored and decodes
   * their data itself (see {@link eventOf}); an encrypted one has the WAL open and decode them. Either
   * way the WAL skips the records the filter refuses before their data is touched, so a filtered read
   * of an encrypted store decrypts only the events it returns.
   */
  private logRecords(
    from: number,
    to: number,
    filter: (type: string, key: string | undefined) => boolean,
  ): AsyncGenerator<WalRecord, void, undefined> {
    return this.encrypted ? this.wal.records({ from, to, filter }) : this.wal.recordsRaw({ from, to, filter })
  }

  /** The event of a record from {@link logRecords}. */
  private eventOf(r: WalRecord): StoredEvent<Rec> {
    return this.encrypted ? (toStoredEvent(r) as StoredEvent<Rec>) : this.decode(r as RawRecord)
  }

  private requireEncrypted(what: string): void {
    if (!this.encrypted) {
      throw EventStoreError.INVALID_ARGUMENT(`${what} needs an encrypted store (the encryption option)`)
    }
  }

  /**
   * Refuses a part whose events the WAL would refuse to seal (their key was shredded, or a shred of it
   * is under way) before any revision is reserved: a refusal after it would leave a hole that later
   * appends build on, and the store would have to fail.
   *
   * @throws EventStoreError `STREAM_SHREDDED`; WalError `WAL_INVALID_ARGUMENT` (`keyFor` threw)
   */
  private checkSealable(part: StreamPart): void {
    if (!this.encrypted) return
    const { stream, records } = part
    if (this.streamShreds.has(stream)) throw EventStoreError.STREAM_SHREDDED(stream)
    if (!this.customKeyFor) {
      if (this.keyShreds.has(stream) || this.wal.isShredded(stream)) {
        throw EventStoreError.STREAM_SHREDDED(stream)
      }
      return
    }
    for (const r of records) {
      const keyId = this.wal.keyIdOf(r)
      if (this.keyShreds.has(keyId) || this.wal.isShredded(keyId)) {
        throw EventStoreError.STREAM_SHREDDED(stream, keyId)
      }
    }
  }

  /** {@link shredStream}: the stream's key ids, then each destroyed. */
  private async eraseStream(stream: string): Promise<ShredStreamResult> {
    if (!this.customKeyFor) {
      await this.shred(stream)
      return { keyIds: [stream] }
    }
    // Appends to the stream are refused from now on: those in flight land, and are read, first.
    await this.inFlight.get(stream)?.last.catch(() => {})
    const keyIds = await this.sealedKeyIds(stream)
    for (const keyId of keyIds) await this.shred(keyId)
    return { keyIds }
  }

  /** {@link shred}, once appends checked before it began (some may be sealed under `keyId`) landed. */
  private async destroyKey(keyId: string): Promise<void> {
    const landing: Promise<unknown>[] = []
    if (this.customKeyFor) {
      for (const f of this.inFlight.values()) if (f.appends > 0) landing.push(f.last)
    } else {
      // The default key id is the stream: only its own appends can be sealed under it.
      const f = this.inFlight.get(keyId)
      if (f !== undefined && f.appends > 0) landing.push(f.last)
    }
    await Promise.allSettled(landing)
    this.requireOpen()
    await this.wal.shred(keyId)
  }

  /**
   * The key ids a stream's events were sealed with, read from their sealed fields (those of events
   * hidden by a soft delete too). Each record is checked to be the stream's event the index says it
   * is: a wrong index must never make a shred destroy another subject's key.
   *
   * @throws EventStoreError `EVENTSTORE_CORRUPT`
   */
  private async sealedKeyIds(stream: string): Promise<string[]> {
    const last = this.index.summary(stream).revision
    const keyIds = new Set<string>()
    await this.readable()
    for (let lo = 1; lo <= last; lo += 256) {
      const hi = Math.min(last, lo + 255)
      const events = this.index.locate(stream, lo, hi)
      let stored = await this.wal.recordsAtRaw(events.seqs, events)
      if (stored.length !== hi - lo + 1 || !eventsAre(stored.map(toStoredEvent), stream, lo, 1)) {
        stored = await this.wal.recordsAtRaw(events.seqs)
        if (stored.length !== hi - lo + 1 || !eventsAre(stored.map(toStoredEvent), stream, lo, 1)) {
          throw EventStoreError.CORRUPT(
            `the stream index points ${JSON.stringify(stream)} at records of other streams or revisions; nothing was shredded; delete ${join(this.wal.dir, 'index')} to rebuild it`,
            { stream },
          )
        }
      }
      for (const r of stored) {
        const keyId = sealedKeyId(r)
        if (keyId !== undefined) keyIds.add(keyId)
      }
    }
    return [...keyIds]
  }

  private decode(r: RawRecord): StoredEvent<Rec> {
    let data: unknown
    try {
      data = this.serializer.decode(r.data, r.type)
    } catch (err) {
      throw WalError.SERIALIZER_ERROR(`decoding the event at position ${r.seq} failed`, {
        cause: err,
        seq: r.seq,
      })
    }
    return toStoredEvent({ ...r, data }) as StoredEvent<Rec>
  }

  /** Waits until more records are acknowledged; false when the store closed or `signal` aborted. */
  private async waitAcked(changed: Promise<void>, signal: AbortSignal | undefined): Promise<boolean> {
    if (signal?.aborted || this.closed) return false
    let onAbort: (() => void) | undefined
    const aborted = new Promise<void>((resolve) => {
      onAbort = () => resolve()
      signal?.addEventListener('abort', onAbort, { once: true })
    })
    try {
      await Promise.race([changed, aborted])
    } finally {
      if (onAbort) signal?.removeEventListener('abort', onAbort)
    }
    if (this.failure) throw this.failure
    return !(signal?.aborted || this.closed)
  }
}

function toStoredEvent(r: WalRecord): StoredEvent {
  const headers = r.headers ?? {}
  const event: StoredEvent = {
    stream: r.key!,
    revision: Number(headers[REVISION_HEADER]),
    position: r.seq,
    id: headers[ID_HEADER]!,
    type: r.type,
    time: r.time,
    data: r.data,
    metadata: metadataOf(headers),
  }
  if (r.shredded === true) event.shredded = true
  return event
}

/**
 * The encryption the store opens its WAL with: the user's keyring, and key ids by {@link storeKeyFor}.
 *
 * @throws EventStoreError `EVENTSTORE_INVALID_ARGUMENT` for an `encryption` that is not an object or
 *   a `keyFor` that is not a function (the WAL checks the rest)
 */
function sealing(encryption: EncryptionOptions | undefined): EncryptionOptions | undefined {
  if (encryption === undefined) return undefined
  if (typeof encryption !== 'object' || encryption === null) {
    throw EventStoreError.INVALID_ARGUMENT('encryption must be an object { keyring, keyFor? }')
  }
  const { keyFor } = encryption
  if (keyFor !== undefined && typeof keyFor !== 'function') {
    throw EventStoreError.INVALID_ARGUMENT('encryption.keyFor must be a function of the record')
  }
  return { ...encryption, keyFor: storeKeyFor(keyFor) }
}

/**
 * Key ids as the store's WAL seals with them: markers under {@link MARKER_KEY_ID}, events under the
 * user's `keyFor`, by default their stream (never `''`: a stream name is not empty).
 */
function storeKeyFor(user: ((record: KeyedRecord) => string) | undefined): (record: KeyedRecord) => string {
  return (record) => {
    if (record.type.startsWith('$')) return MARKER_KEY_ID
    if (user === undefined) return record.key ?? MARKER_KEY_ID
    const keyId = user(record)
    if (keyId === MARKER_KEY_ID) {
      throw new TypeError("keyFor returned '': the event store keeps that key id for its deletion markers")
    }
    return keyId
  }
}

/** Whether `events` are events of `stream` with revisions `first`, `first + step`, ... */
function eventsAre(events: readonly StoredEvent[], stream: string, first: number, step: number): boolean {
  for (let i = 0; i < events.length; i++) {
    if (events[i]!.stream !== stream || events[i]!.revision !== first + i * step) return false
  }
  return true
}

/** Whether a stream in state `s` has visible events. @internal */
export function exists(s: Pick<StreamSummary, 'tombstoned' | 'revision' | 'deletedRevision'>): boolean {
  return !s.tombstoned && s.revision > s.deletedRevision
}

/** Whether a stream in state `s` meets `expected`. @internal */
export function matches(
  s: Pick<StreamSummary, 'tombstoned' | 'revision' | 'deletedRevision'>,
  expected: ExpectedRevision,
): boolean {
  if (expected === 'any') return true
  if (expected === 'no_stream') return !exists(s)
  if (expected === 'stream_exists') return exists(s)
  return s.revision === expected
}

/**
 * The records an event filter keeps, as a WAL read filter: events only (no `$` markers), then the
 * filter's. The store on NATS applies it to each message's stream and types too.
 *
 * @throws EventStoreError `EVENTSTORE_INVALID_ARGUMENT`
 * @internal
 */
export function filterOf(
  filter: EventFilter | undefined,
): (type: string, key: string | undefined) => boolean {
  const prefix = filter?.streamPrefix
  const types = filter?.types ? new Set(filter.types) : undefined
  if (prefix !== undefined && typeof prefix !== 'string') {
    throw EventStoreError.INVALID_ARGUMENT('filter.streamPrefix must be a string')
  }
  return (type, key) =>
    !type.startsWith('$') &&
    (prefix === undefined || key?.startsWith(prefix) === true) &&
    (types === undefined || types.has(type))
}

/** Checks a read's direction. @internal */
export function checkDirection(d: unknown): 'forwards' | 'backwards' {
  if (d === undefined || d === 'forwards' || d === 'backwards') return d ?? 'forwards'
  throw EventStoreError.INVALID_ARGUMENT(`direction must be 'forwards' or 'backwards', got ${String(d)}`)
}

/** Checks an optional integer option. @internal */
export function optionalInt(name: string, value: unknown, min: number): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw EventStoreError.INVALID_ARGUMENT(`${name} must be an integer >= ${min}, got ${String(value)}`)
  }
  return value
}

function positiveInt(name: string, value: unknown, fallback: number): number {
  return optionalInt(name, value, 1) ?? fallback
}

function nonNegativeInt(name: string, value: unknown, fallback: number): number {
  return optionalInt(name, value, 0) ?? fallback
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

/**
 * The first seq of a log with an archive: its first local record, or the first record of the oldest
 * archived segment when retention removed segments locally (a listing of the archive, only then).
 */
async function archivedOrigin(wal: Wal<RecordShape>, archive: Archive): Promise<number> {
  const local = wal.firstSeq
  if (local <= 1) return local
  const { oldestPosition } = await summarizeArchive(archive)
  return Math.min(local, oldestPosition ?? local)
}
