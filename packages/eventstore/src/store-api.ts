/**
 * The interface both backends of the event store share: the embedded store on one WAL
 * ({@link EventStore.open}) and the store on a NATS JetStream stream ({@link EventStore.connect}).
 * What only one backend can do (multi-stream atomic appends, shredding, the WAL itself) stays on the
 * `EventStore` class.
 */
import type { RecordShape } from '@waltz/core'
import type { Consumer, ConsumerOptions } from './consumer.js'
import type {
  AggregateOptions,
  AggregateResult,
  AppendOptions,
  AppendResult,
  DeleteResult,
  EventStore,
  ReadAllOptions,
  ReadStreamOptions,
  SubscribeToAllOptions,
  SubscribeToStreamOptions,
} from './event-store.js'
import type { EventInput, StoredEvent } from './events.js'

/** Metrics every backend reports (the embedded store's {@link EventStore.metrics} adds the WAL's and the index's). */
export interface EventStoreApiMetrics {
  /** Streams with appends in flight. */
  streamsInFlight: number
  /** Lag of each running consumer: positions acknowledged but not yet handled and checkpointed. */
  consumers: Record<string, number>
}

/**
 * An event store, whatever holds it: streams with optimistic concurrency, reads, subscriptions,
 * durable consumers. `EventStore` implements it on one WAL; {@link EventStore.connect} returns one on
 * a NATS JetStream stream. {@link handleCommand} and {@link Consumer} take any implementation.
 *
 * Positions are the backend's global order: the WAL seq embedded (one per event), the JetStream
 * stream sequence on NATS (one per `appendToStream` call, shared by all of its events).
 *
 * @typeParam Rec - the event union (`type` and `data`), from the serializer
 */
export interface EventStoreApi<Rec extends RecordShape = RecordShape> {
  /**
   * Appends events to a stream, all or none, if the stream is in the expected state.
   *
   * @throws EventStoreError `WRONG_EXPECTED_REVISION` (nothing written), `STREAM_TOMBSTONED`,
   *   `EVENTSTORE_INVALID_ARGUMENT`, `EVENTSTORE_CLOSED`, and the backend's own
   */
  appendToStream(
    stream: string,
    events: readonly EventInput<Rec>[],
    options?: AppendOptions,
  ): Promise<AppendResult>
  /** Reads a stream's events (`from` a revision, inclusive). */
  readStream(stream: string, options?: ReadStreamOptions): AsyncGenerator<StoredEvent<Rec>, void, undefined>
  /** Reads the events of every stream in position order (`from` a position, inclusive). */
  readAll(options?: ReadAllOptions): AsyncGenerator<StoredEvent<Rec>, void, undefined>
  /** Folds a stream's events into a state; returns it with the stream's revision. */
  aggregateStream<State>(
    stream: string,
    options: AggregateOptions<State, Rec>,
  ): Promise<AggregateResult<State>>
  /** Whether the stream has visible events. */
  streamExists(stream: string): Promise<boolean>
  /** Soft-deletes a stream (a later append continues its revisions). */
  deleteStream(stream: string, options?: AppendOptions): Promise<DeleteResult>
  /** Tombstones a stream: appends fail with `STREAM_TOMBSTONED` forever. */
  tombstoneStream(stream: string, options?: AppendOptions): Promise<DeleteResult>
  /** A stream's events from `from`, then each new one, until `signal` aborts or the store closes. */
  subscribeToStream(
    stream: string,
    options?: SubscribeToStreamOptions,
  ): AsyncGenerator<StoredEvent<Rec>, void, undefined>
  /** Every stream's events from `from`, then each new one, until `signal` aborts or the store closes. */
  subscribeToAll(options?: SubscribeToAllOptions): AsyncGenerator<StoredEvent<Rec>, void, undefined>
  /** A durable consumer (not started). */
  consumer(options: ConsumerOptions<Rec>): Consumer<Rec>
  /**
   * Resolves once a position above `after` is acknowledged: true, or false when `signal` aborted or
   * the store closed first.
   */
  waitForPosition(after: number, signal?: AbortSignal): Promise<boolean>
  /** The last acknowledged position this client knows of (every event up to it is readable). */
  readonly position: number
  /** Counters and gauges. */
  metrics(): EventStoreApiMetrics
  /** Stops consumers and subscriptions, waits for appends in flight, and releases the backend. */
  close(): Promise<void>
}
