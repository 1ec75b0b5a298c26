/**
 * emmett's message consumer on waltz: each emmett processor (`reactor`, `projector`, or any object with
 * emmett's `MessageProcessor` shape) is fed by a durable waltz consumer of its own, in global position
 * order. The processor's own checkpoints are the only ones: it stores them in `handle` (emmett's
 * `checkpoints` option), its `start` says where to resume, and the waltz consumer keeps none.
 */

import { randomUUID } from 'node:crypto'
import {
  type CurrentMessageProcessorPosition,
  EmmettError,
  type MessageConsumer,
  type MessageProcessor,
} from '@event-driven-io/emmett'
import type { RecordShape } from '@waltz/core'
import {
  type Consumer,
  type EventFilter,
  EventStoreError,
  type StoredEvent,
  type EventStore as WaltzStore,
} from '@waltz/eventstore'
import { toReadEvent } from './read-event.js'

/** A processor a {@link WaltzEventStoreConsumer} can run: emmett's `MessageProcessor`, any context. */
// biome-ignore lint/suspicious/noExplicitAny: emmett types a consumer's processors with `any` the same way
export type WaltzMessageProcessor = MessageProcessor<any, any, any, any>

/** Options of {@link waltzEventStoreConsumer}. */
export interface WaltzEventStoreConsumerOptions {
  /** The open waltz store to read (owned by the caller). */
  eventStore: WaltzStore<RecordShape>
  /** The consumer's id (emmett's `consumerId`). Default: a random one. */
  consumerId?: string
  /** The processors to run; more can be pushed onto `processors` before `start`. */
  processors?: WaltzMessageProcessor[]
  /** Which events the processors get (waltz's filter: `streamPrefix`, `types`). Default: all. */
  filter?: EventFilter
  /** The most events per `handle` call. Default: waltz's (1024). */
  batchSize?: number
  /**
   * Called when a processor's `handle` (or `start`) throws: that processor has stopped, the others run
   * on. Default: the waltz store's logger.
   */
  onError?: (error: unknown, processorId: string) => void
}

/** emmett's `MessageConsumer` on waltz, as returned by {@link waltzEventStoreConsumer}. */
export interface WaltzEventStoreConsumer extends MessageConsumer {
  /** The processors, in the order given. */
  readonly processors: WaltzMessageProcessor[]
  /** Events acknowledged by the store but not yet handled by the slowest running processor. */
  readonly lag: number
}

/**
 * emmett's message consumer on a waltz store: runs emmett processors (`reactor`, `projector`) over the
 * store's events in global position order, each from where its own checkpoint says; at-least-once.
 *
 * @param options - `eventStore`, `processors`, and optionally `consumerId`, `filter`, `batchSize`, `onError`
 * @returns the consumer (not started)
 * @throws EventStoreError `EVENTSTORE_INVALID_ARGUMENT` when `eventStore` is not a waltz store
 * @example
 * ```ts
 * const consumer = waltzEventStoreConsumer({ eventStore: waltz, processors: [cartsProjector] })
 * await consumer.start()
 * ```
 */
export function waltzEventStoreConsumer(options: WaltzEventStoreConsumerOptions): WaltzEventStoreConsumer {
  const store = options?.eventStore
  if (typeof store !== 'object' || store === null || typeof store.consumer !== 'function') {
    throw EventStoreError.INVALID_ARGUMENT(
      'waltzEventStoreConsumer needs { eventStore }: an open @waltz/eventstore store',
    )
  }
  return new WaltzConsumer(store, options)
}

/** The implementation behind {@link waltzEventStoreConsumer}. */
class WaltzConsumer implements WaltzEventStoreConsumer {
  readonly consumerId: string
  readonly processors: WaltzMessageProcessor[]
  private readonly store: WaltzStore<RecordShape>
  private readonly options: WaltzEventStoreConsumerOptions
  private readonly running = new Map<WaltzMessageProcessor, Consumer<RecordShape>>()
  /** Where each processor got to, for a restart while it is still active (its `start` says nothing then). */
  private readonly reached = new Map<WaltzMessageProcessor, number>()

  constructor(store: WaltzStore<RecordShape>, options: WaltzEventStoreConsumerOptions) {
    this.store = store
    this.options = options
    this.consumerId = options.consumerId ?? `emt:consumer:${randomUUID()}`
    this.processors = options.processors ?? []
  }

  get isRunning(): boolean {
    for (const c of this.running.values()) if (c.running) return true
    return false
  }

  get lag(): number {
    let lag = 0
    for (const c of this.running.values()) if (c.running) lag = Math.max(lag, c.lag)
    return lag
  }

  /**
   * Starts each processor, then a waltz consumer per processor from the position its `start` returns.
   * When one fails, the feeds this call started are stopped again before the error is thrown.
   *
   * @throws EmmettError without processors; EventStoreError `EVENTSTORE_INVALID_ARGUMENT` when a
   *   processor's checkpoint is not a global position, `CONSUMER_RUNNING` when a processor of the same id
   *   already runs on the store, `CHECKPOINT_AHEAD` when a checkpoint is past the end of the log
   */
  async start(): Promise<void> {
    if (this.processors.length === 0) {
      throw new EmmettError('Cannot start consumer without at least a single processor')
    }
    const started: Consumer<RecordShape>[] = []
    try {
      for (const processor of this.processors) {
        if (this.running.get(processor)?.running) continue
        const from = this.positionOf(processor, await processor.start({}))
        const consumer = this.consumerFor(processor, from)
        this.running.set(processor, consumer)
        await consumer.start()
        started.push(consumer)
      }
    } catch (err) {
      // All or nothing: a consumer that failed to start leaves no feed of this call running.
      await Promise.all(started.map((c) => c.stop()))
      throw err
    }
  }

  /** Stops feeding the processors (each after the batch in hand); they stay active. */
  async stop(): Promise<void> {
    await Promise.all([...this.running.values()].map((c) => c.stop()))
  }

  /** Stops, then closes the processors (their `onClose` hooks run). The waltz store stays open. */
  async close(): Promise<void> {
    await this.stop()
    this.running.clear()
    this.reached.clear()
    await Promise.all(this.processors.map((p) => p.close({})))
  }

  /**
   * The last position a processor handled, from what its `start` returned.
   *
   * @throws EventStoreError `EVENTSTORE_INVALID_ARGUMENT` for a checkpoint that is not a position
   */
  private positionOf(
    processor: WaltzMessageProcessor,
    start: CurrentMessageProcessorPosition | undefined,
  ): number {
    // undefined: the processor was active already (stopped, not closed): it continues where it was.
    if (start === undefined) return this.reached.get(processor) ?? 0
    if (start === 'BEGINNING') return 0
    if (start === 'END') return this.store.position
    const checkpoint: unknown = start.lastCheckpoint
    if (checkpoint === null || checkpoint === undefined) return 0
    if (typeof checkpoint === 'bigint' && checkpoint >= 0n && checkpoint <= BigInt(Number.MAX_SAFE_INTEGER)) {
      return Number(checkpoint)
    }
    throw EventStoreError.INVALID_ARGUMENT(
      `processor ${processor.id}: a checkpoint must be a global position (a bigint >= 0), got ${String(checkpoint)}`,
    )
  }

  private consumerFor(processor: WaltzMessageProcessor, from: number): Consumer<RecordShape> {
    const { filter, batchSize, onError } = this.options
    const consumer = this.store.consumer({
      name: processor.id,
      handler: (events) => this.handle(processor, consumer, events),
      // The processor stores its checkpoints itself (emmett's `checkpoints`, inside `handle`): the
      // waltz consumer only starts from the processor's and remembers how far it got in memory.
      checkpoints: {
        read: () => from,
        store: (_name, position) => void this.reached.set(processor, position),
      },
      ...(filter === undefined ? {} : { filter }),
      ...(batchSize === undefined ? {} : { batchSize }),
      ...(onError === undefined ? {} : { onError: (error: unknown) => onError(error, processor.id) }),
    })
    return consumer
  }

  private async handle(
    processor: WaltzMessageProcessor,
    consumer: Consumer<RecordShape>,
    events: StoredEvent<RecordShape>[],
  ): Promise<void> {
    const messages = new Array(events.length)
    for (let i = 0; i < events.length; i++) messages[i] = toReadEvent(events[i]!)
    const result = await processor.handle(messages, {})
    // A processor that returned STOP (or was closed) is inactive: end its feed after this batch. Not
    // awaited: stop() waits for this very handler to return.
    if ((result && result.type === 'STOP') || !processor.isActive) void consumer.stop()
  }
}
