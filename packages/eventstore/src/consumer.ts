import type { RecordShape, WalLogger } from '@waltz/core'
import { type CheckpointStore, checkConsumerName, fileCheckpoints } from './checkpoint-file.js'
import { EventStoreError } from './errors.js'
import type { EventFilter } from './event-store.js'
import type { StoredEvent } from './events.js'
import type { EventStoreApi } from './store-api.js'

/** What a consumer's handler is told besides its events. */
export interface ConsumerContext {
  /** The consumer's name. */
  name: string
  /** The position the checkpoint moves to once the batch is handled. */
  position: number
}

/** Options of {@link EventStoreApi.consumer}. */
export interface ConsumerOptions<Rec extends RecordShape = RecordShape> {
  /** A stable name: the key of its checkpoint (A-Z a-z 0-9 . _ -, up to 128 characters). */
  name: string
  /**
   * Handles a batch of events (in position order). When it throws, the consumer stops without
   * moving its checkpoint: the batch is handed over again after a restart. In an encrypted store,
   * events whose key was shredded come with `shredded: true` and no data (a read model may erase
   * what it derived from them).
   */
  handler: (events: StoredEvent<Rec>[], context: ConsumerContext) => void | Promise<void>
  /** Which events to handle. Default: all. */
  filter?: EventFilter
  /** Where a consumer without a checkpoint starts: `'start'` (default) or `'end'` (new events only). */
  from?: 'start' | 'end'
  /**
   * Where the checkpoint is kept. Default: a file in `<store>/consumers/` (embedded), a message in
   * the cluster (`EventStore.connect`).
   */
  checkpoints?: CheckpointStore
  /** The most events per batch. Default 1024. */
  batchSize?: number
  /** Positions without a matching event after which the checkpoint is stored anyway. Default 4096. */
  idleCheckpointEvery?: number
  /** Called when the handler or the checkpoint store fails (the consumer has stopped). Default: log it. */
  onError?: (err: unknown) => void
}

/** What the store gives its consumers. @internal */
export interface ConsumerHost {
  dir: string
  logger: WalLogger
  register(c: Consumer<never>): void
  unregister(c: Consumer<never>): void
  /** The default checkpoint store; without it, files in `dir`. */
  checkpoints?: CheckpointStore
  /** Brings the store's `position` up to date before a checkpoint is compared with it. */
  syncPosition?(): Promise<void>
}

/**
 * A durable consumer of a store's events: created by {@link EventStoreApi.consumer}. It handles events
 * in batches and stores its checkpoint after each one; after a restart or a crash it resumes after
 * the checkpoint, so every event is handled at least once (exactly once in effect when the
 * checkpoint store's `transaction` commits the handler's writes with the checkpoint).
 *
 * @typeParam Rec - the event union
 */
export class Consumer<Rec extends RecordShape = RecordShape> {
  /** The consumer's name. */
  readonly name: string
  /** Resolves when the consumer has stopped (after {@link stop}, a failure, or the store's close). */
  stopped: Promise<void> = Promise.resolve()
  /** The failure that stopped the consumer, if any. */
  error: unknown
  private readonly store: EventStoreApi<Rec>
  private readonly options: ConsumerOptions<Rec>
  private readonly host: ConsumerHost
  private readonly checkpoints: CheckpointStore
  private readonly batchSize: number
  private readonly idleEvery: number
  private controller: AbortController | undefined
  private checkpoint = 0

  /** @internal */
  constructor(store: EventStoreApi<Rec>, options: ConsumerOptions<Rec>, host: ConsumerHost) {
    if (typeof options !== 'object' || options === null || typeof options.handler !== 'function') {
      throw EventStoreError.INVALID_ARGUMENT('a consumer needs { name, handler }')
    }
    this.name = options.checkpoints ? checkName(options.name) : checkConsumerName(options.name)
    if (options.from !== undefined && options.from !== 'start' && options.from !== 'end') {
      throw EventStoreError.INVALID_ARGUMENT(
        `consumer from must be 'start' or 'end', got ${String(options.from)}`,
      )
    }
    this.store = store
    this.options = options
    this.host = host
    this.checkpoints = options.checkpoints ?? host.checkpoints ?? fileCheckpoints(host.dir)
    this.batchSize = positive('batchSize', options.batchSize, 1024)
    this.idleEvery = positive('idleCheckpointEvery', options.idleCheckpointEvery, 4096)
  }

  /** Positions acknowledged by the store but not yet handled and checkpointed. */
  get lag(): number {
    return Math.max(0, this.store.position - this.checkpoint)
  }

  /** The last position handled (0 before any). */
  get position(): number {
    return this.checkpoint
  }

  /**
   * Reads the checkpoint and starts handling events in the background.
   *
   * @returns once the consumer runs
   * @throws EventStoreError `CONSUMER_RUNNING`, `CHECKPOINT_CORRUPT`, `CHECKPOINT_AHEAD` (the checkpoint
   *   is past the end of the log: reset the consumer), `EVENTSTORE_IO`
   */
  async start(): Promise<void> {
    if (this.controller) throw EventStoreError.CONSUMER_RUNNING(`consumer ${this.name} is already started`)
    this.host.register(this as unknown as Consumer<never>)
    const controller = new AbortController()
    this.controller = controller
    try {
      await this.host.syncPosition?.()
      let checkpoint = await this.checkpoints.read(this.name)
      if (checkpoint === undefined) {
        checkpoint = this.options.from === 'end' ? this.store.position : 0
        if (this.options.from === 'end') await this.checkpoints.store(this.name, checkpoint)
      }
      if (!Number.isSafeInteger(checkpoint) || checkpoint < 0) {
        throw EventStoreError.CHECKPOINT_CORRUPT(`consumer ${this.name}: checkpoint ${String(checkpoint)}`)
      }
      if (checkpoint > this.store.position) {
        // The projection saw events this log does not have (it lost an unsynced tail, or the
        // checkpoint belongs to another store): resuming would skip the events appended next.
        throw EventStoreError.CHECKPOINT_AHEAD(
          `consumer ${this.name}: checkpoint ${checkpoint} is past the end of the log (${this.store.position}); reset the consumer and rebuild its projection`,
        )
      }
      this.checkpoint = checkpoint
    } catch (err) {
      this.controller = undefined
      this.host.unregister(this as unknown as Consumer<never>)
      throw err
    }
    this.error = undefined
    this.stopped = this.run(controller.signal).then(
      () => this.ended(),
      (err: unknown) => {
        this.ended()
        this.error = err
        // After the consumer is unregistered: onError may start it again.
        if (this.options.onError) this.options.onError(err)
        else this.host.logger.error(`consumer ${this.name} stopped`, { error: (err as Error)?.message })
      },
    )
  }

  /** Whether the consumer is running (started, and not yet stopped or failed). */
  get running(): boolean {
    return this.controller !== undefined
  }

  private ended(): void {
    this.controller = undefined
    this.host.unregister(this as unknown as Consumer<never>)
  }

  /** Stops after the batch in hand (its checkpoint is stored) and resolves once stopped. */
  async stop(): Promise<void> {
    this.controller?.abort()
    await this.stopped
  }

  /**
   * Moves the checkpoint (the consumer must be stopped): to 0 to handle everything again, e.g. to
   * rebuild a projection from scratch after clearing it.
   *
   * @param position - the new checkpoint (default 0)
   */
  async reset(position = 0): Promise<void> {
    if (this.controller)
      throw EventStoreError.CONSUMER_RUNNING(`stop consumer ${this.name} before resetting it`)
    if (!Number.isSafeInteger(position) || position < 0) {
      throw EventStoreError.INVALID_ARGUMENT(`a checkpoint must be a position >= 0, got ${String(position)}`)
    }
    await this.checkpoints.store(this.name, position)
    this.checkpoint = position
  }

  private async run(signal: AbortSignal): Promise<void> {
    const { handler, filter } = this.options
    let stored = this.checkpoint
    while (!signal.aborted) {
      const end = this.store.position
      if (end <= this.checkpoint) {
        // Stopped while waiting: store how far it got (past events its filter skipped) below.
        if (!(await this.store.waitForPosition(this.checkpoint, signal))) break
        continue
      }
      const batch: StoredEvent<Rec>[] = []
      const read = filter === undefined ? {} : { filter }
      // A batch ends between positions, never inside one: on NATS the events of one append share a
      // position, and a checkpoint there would skip the rest of them.
      for await (const e of this.store.readAll({ ...read, from: this.checkpoint + 1 })) {
        if (batch.length >= this.batchSize && e.position !== batch.at(-1)!.position) break
        batch.push(e)
      }
      const last = batch.length > 0 ? Math.max(end, batch.at(-1)!.position) : end
      const upTo = batch.length >= this.batchSize ? batch.at(-1)!.position : last
      if (batch.length > 0) {
        const context = { name: this.name, position: upTo }
        const work = async () => {
          await handler(batch, context)
          await this.checkpoints.store(this.name, upTo)
        }
        if (this.checkpoints.transaction) await this.checkpoints.transaction(work)
        else await work()
        stored = upTo
      } else if (upTo - stored >= this.idleEvery) {
        await this.checkpoints.store(this.name, upTo)
        stored = upTo
      }
      this.checkpoint = upTo
    }
    if (stored !== this.checkpoint) await this.checkpoints.store(this.name, this.checkpoint)
  }
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw EventStoreError.INVALID_ARGUMENT(`a consumer name must be a non-empty string, got ${String(name)}`)
  }
  return name
}

function positive(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw EventStoreError.INVALID_ARGUMENT(`${name} must be an integer >= 1, got ${String(value)}`)
  }
  return value
}
