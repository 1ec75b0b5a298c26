/**
 * emmett's `EventStore` on a `@waltz/eventstore` store: emmett streams are waltz streams (same name),
 * emmett stream versions are waltz revisions, global positions are WAL seqs, all as bigints.
 */
import {
  type AggregateStreamOptions,
  type AggregateStreamResult,
  type AppendToStreamOptions,
  type AppendToStreamResultWithGlobalPosition,
  type DefaultEventStoreOptions,
  downcastRecordedMessages,
  type EventStore as EmmettEventStore,
  type Event,
  type ReadEvent,
  type ReadStreamOptions,
  type ReadStreamResult,
  type StreamExistsResult,
  tryPublishMessagesAfterCommit,
  upcastRecordedMessage,
} from '@event-driven-io/emmett'
import type { RecordShape } from '@waltz/core'
import {
  type AppendResult,
  type EventInput,
  EventStoreError,
  uuidv7,
  type EventStore as WaltzStore,
} from '@waltz/eventstore'
import {
  type WaltzEventStoreConsumer,
  type WaltzEventStoreConsumerOptions,
  waltzEventStoreConsumer,
} from './consumer.js'
import { assertExpected, conflict, toExpectedRevision } from './expected.js'
import { type AppendedEvent, encodeMetadata } from './metadata.js'
import { readSlice } from './read.js'
import { toReadEvent, type WaltzReadEvent, type WaltzReadEventMetadata } from './read-event.js'

/**
 * emmett's `EventStore` on waltz, as returned by {@link getWaltzEventStore}. `appendToStream` also
 * returns the global position of the last event appended.
 */
export interface WaltzEventStore extends EmmettEventStore<WaltzReadEventMetadata> {
  /**
   * Appends events as one atomic WAL batch if the stream is at `expectedStreamVersion`.
   *
   * @param streamName - the stream (the waltz stream of the same name)
   * @param events - at least one event; `metadata.messageId` is kept as given (it is not a dedupe key)
   * @param options - `expectedStreamVersion` (default `NO_CONCURRENCY_CHECK`), `schema.versioning.downcast`
   * @returns the stream's next expected version, whether the append created it, and the global
   *   position of its last event
   * @throws ExpectedVersionConflictError (emmett's) when the stream is not at the expected version
   * @throws EventStoreError `EVENTSTORE_INVALID_ARGUMENT`, `STREAM_TOMBSTONED`, `EVENTSTORE_CLOSED`;
   *   WalError `WAL_SERIALIZER_ERROR` (data the serializer refused), `WAL_IO`
   */
  appendToStream<EventType extends Event, EventPayloadType extends Event = EventType>(
    streamName: string,
    events: EventType[],
    options?: AppendToStreamOptions<bigint, EventType, EventPayloadType>,
  ): Promise<AppendToStreamResultWithGlobalPosition>
  /** The waltz store underneath (owned by the caller: open it before, close it after). */
  readonly eventStore: WaltzStore<RecordShape>
  /**
   * emmett's message consumer on this store: runs emmett processors (`reactor`, `projector`) over its
   * events in global order, as {@link waltzEventStoreConsumer} does.
   *
   * @param options - `processors`, and optionally `consumerId`, `filter`, `batchSize`, `onError`
   * @returns the consumer (not started)
   */
  consumer(options?: Omit<WaltzEventStoreConsumerOptions, 'eventStore'>): WaltzEventStoreConsumer
}

/** Options of {@link getWaltzEventStore}. */
export interface WaltzEventStoreOptions<Rec extends RecordShape = RecordShape> {
  /**
   * An open `@waltz/eventstore` store. The adapter neither opens nor closes it: the same store can
   * serve waltz consumers, subscriptions and other code at the same time.
   */
  eventStore: WaltzStore<Rec>
  /**
   * emmett's store hooks. `onAfterCommit` runs after each successful append with the appended events
   * (read shape, positions included); as in emmett, its failure does not fail the append and a crash
   * before it runs loses the call: use a waltz consumer for delivery that survives crashes.
   */
  hooks?: DefaultEventStoreOptions<WaltzEventStore>['hooks']
}

/**
 * emmett's `EventStore` backed by an open `@waltz/eventstore` store.
 *
 * @param options - `eventStore` (open, owned by the caller) and emmett's `hooks`
 * @returns an object implementing emmett's `EventStore` (`readStream`, `appendToStream`,
 *   `aggregateStream`, `streamExists`)
 * @throws EventStoreError `EVENTSTORE_INVALID_ARGUMENT` when `options.eventStore` is not a waltz store
 * @example
 * ```ts
 * const waltz = await EventStore.open({ dir: './data', serializer: jsonSerializer({ schemas }), sync: 'always' })
 * const eventStore = getWaltzEventStore({ eventStore: waltz })
 * await handle(eventStore, 'cart-1', (state) => addProductItem(command, state))
 * await waltz.close()
 * ```
 */
export function getWaltzEventStore<Rec extends RecordShape>(
  options: WaltzEventStoreOptions<Rec>,
): WaltzEventStore {
  const store = options?.eventStore as unknown as WaltzStore<RecordShape> | undefined
  if (
    typeof store !== 'object' ||
    store === null ||
    typeof store.appendToStream !== 'function' ||
    typeof store.aggregateStream !== 'function'
  ) {
    throw EventStoreError.INVALID_ARGUMENT(
      'getWaltzEventStore needs { eventStore }: an open @waltz/eventstore store',
    )
  }
  return new WaltzEmmettStore(store, options.hooks)
}

/** The implementation behind {@link getWaltzEventStore}. */
class WaltzEmmettStore implements WaltzEventStore {
  readonly eventStore: WaltzStore<RecordShape>
  private readonly hooks: WaltzEventStoreOptions['hooks']

  constructor(store: WaltzStore<RecordShape>, hooks: WaltzEventStoreOptions['hooks']) {
    this.eventStore = store
    this.hooks = hooks
  }

  async readStream<EventType extends Event, EventPayloadType extends Event = EventType>(
    streamName: string,
    options?: ReadStreamOptions<bigint, EventType, EventPayloadType>,
  ): Promise<ReadStreamResult<EventType, WaltzReadEventMetadata>> {
    const slice = await readSlice(this.eventStore, streamName, options)
    assertExpected(options?.expectedStreamVersion, streamName, slice.revision, slice.exists)
    const upcast = options?.schema?.versioning
    const events = new Array<ReadEvent<EventType, WaltzReadEventMetadata>>(slice.events.length)
    for (let i = 0; i < events.length; i++) {
      const recorded = toReadEvent(slice.events[i]!) as unknown as ReadEvent<
        EventPayloadType,
        WaltzReadEventMetadata
      >
      // A shredded event has no data for an upcaster to read: it passes through as it is.
      events[i] =
        upcast?.upcast && recorded.metadata.shredded !== true
          ? upcastRecordedMessage(recorded, upcast)
          : (recorded as never)
    }
    return {
      currentStreamVersion: BigInt(slice.version),
      events,
      streamExists: slice.exists && slice.version > 0,
    }
  }

  async aggregateStream<State, EventType extends Event, EventPayloadType extends Event = EventType>(
    streamName: string,
    options: AggregateStreamOptions<State, EventType, WaltzReadEventMetadata, EventPayloadType>,
  ): Promise<AggregateStreamResult<State, bigint>> {
    const { evolve, initialState, read } = options
    const result = await this.readStream<EventType, EventPayloadType>(streamName, read)
    // emmett's Evolve takes either the bare event or the read one: a read event serves both.
    const fold = evolve as (state: State, event: ReadEvent<EventType, WaltzReadEventMetadata>) => State
    let state = initialState()
    // As waltz's own aggregateStream: an event whose key was shredded (encrypted stores) has no data
    // to fold, so evolve never sees it; it still counts in the stream version.
    for (const event of result.events) if (event.metadata.shredded !== true) state = fold(state, event)
    return { currentStreamVersion: result.currentStreamVersion, state, streamExists: result.streamExists }
  }

  async appendToStream<EventType extends Event, EventPayloadType extends Event = EventType>(
    streamName: string,
    events: EventType[],
    options?: AppendToStreamOptions<bigint, EventType, EventPayloadType>,
  ): Promise<AppendToStreamResultWithGlobalPosition> {
    const expected = options?.expectedStreamVersion
    const expectedRevision = toExpectedRevision(expected, streamName)
    if (!Array.isArray(events)) {
      throw EventStoreError.INVALID_ARGUMENT('appendToStream needs an array of events', {
        stream: streamName,
      })
    }
    const stored = downcastRecordedMessages(events, options?.schema?.versioning) as unknown as AppendedEvent[]
    const inputs = new Array<EventInput>(stored.length)
    const hook = this.hooks?.onAfterCommit !== undefined
    for (let i = 0; i < stored.length; i++) inputs[i] = toInput(stored[i]!, streamName, hook)
    let result: AppendResult
    try {
      result = await this.eventStore.appendToStream(streamName, inputs, { expectedRevision })
    } catch (err) {
      if (err instanceof EventStoreError && err.code === 'WRONG_EXPECTED_REVISION') {
        const error = conflict(err.actual ?? -1, expected)
        error.cause = err
        throw error
      }
      throw err
    }
    if (hook) await this.afterCommit(streamName, events, inputs, result)
    return {
      nextExpectedStreamVersion: BigInt(result.nextExpectedRevision),
      createdNewStream: result.created,
      lastEventGlobalPosition: BigInt(result.position),
    }
  }

  streamExists(streamName: string): Promise<StreamExistsResult> {
    return this.eventStore.streamExists(streamName)
  }

  consumer(options: Omit<WaltzEventStoreConsumerOptions, 'eventStore'> = {}): WaltzEventStoreConsumer {
    return waltzEventStoreConsumer({ ...options, eventStore: this.eventStore })
  }

  /** Hands the appended events, as a read would return them (before downcasting), to `onAfterCommit`. */
  private async afterCommit(
    stream: string,
    events: readonly Event[],
    inputs: readonly EventInput[],
    result: AppendResult,
  ): Promise<void> {
    const n = events.length
    // One append is one WAL batch: its events have consecutive revisions and positions.
    const firstRevision = result.nextExpectedRevision - n + 1
    const firstPosition = result.position - n + 1
    const recorded = events.map((event, i) => {
      const given = ('metadata' in event ? event.metadata : undefined) as Record<string, unknown> | undefined
      return {
        ...event,
        kind: 'Event' as const,
        metadata: {
          ...given,
          // As a read returns it: the given one, else the stored event id.
          messageId: given?.messageId ?? inputs[i]!.id!,
          streamName: stream,
          streamPosition: BigInt(firstRevision + i),
          globalPosition: BigInt(firstPosition + i),
        },
      }
    })
    await tryPublishMessagesAfterCommit<WaltzEventStore>(
      recorded as unknown as WaltzReadEvent[],
      this.hooks as Parameters<typeof tryPublishMessagesAfterCommit<WaltzEventStore>>[1],
    )
  }
}

/**
 * A waltz event of an emmett one. The store makes its id, unless `needId` (`onAfterCommit` must see the
 * stored id): then it is a fresh UUIDv7 made here. Such an id cannot equal a stored one, so the store
 * never takes the append for a retry of an earlier one (which it does when all ids match): what the
 * hook is handed is what was written. A caller's `metadata.messageId` is never used as the id.
 */
function toInput(event: AppendedEvent, stream: string, needId: boolean): EventInput {
  if (typeof event !== 'object' || event === null) {
    throw EventStoreError.INVALID_ARGUMENT('an event must be an object { type, data, metadata? }', { stream })
  }
  const metadata = encodeMetadata(event, stream)
  const input: { type: string; data: unknown; id?: string; metadata?: Record<string, string> } = {
    type: event.type,
    data: event.data,
  }
  if (needId) input.id = uuidv7()
  if (metadata !== undefined) input.metadata = metadata
  return input as EventInput
}
