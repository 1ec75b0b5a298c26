/**
 * The shopping-cart service: an event store of cart streams, a SQLite read model fed by a durable
 * consumer, and the HTTP API on Fastify.
 *
 * ```
 * <dir>/events/             the event store (WAL segments, stream index)
 * <dir>/read-model.sqlite   the carts table and the consumer's checkpoint
 * ```
 */
import { mkdirSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { type Consumer, EventStore } from '@waltz/eventstore'
import Fastify, { type FastifyInstance } from 'fastify'
import { CART_STREAM_PREFIX, type CartRecord, cartSerializer } from './events.js'
import { type ReadModelStatus, registerRoutes } from './http.js'
import { CartReadModel } from './read-model.js'

/** The name of the read model's consumer (its checkpoint row). */
export const READ_MODEL_CONSUMER = 'carts-read-model'

/** Options of {@link startServer}. */
export interface CartServiceOptions {
  /** The data directory (created if missing). */
  dir: string
  /** The TCP port; 0 picks a free one. Default 0. */
  port?: number
  /** Default `127.0.0.1`. */
  host?: string
  /** The event store's fsync policy. Default `'always'`: a command is answered once it is on disk. */
  sync?: 'always' | 'os-cache' | 'background'
  /** Re-reads after a write conflict before a command fails with 409. Default 3. */
  commandRetries?: number
  /** Fastify's request log (pino, to stdout). Default off. */
  log?: boolean
}

/** A running service. */
export interface CartService {
  /** `http://host:port`. */
  readonly url: string
  readonly port: number
  readonly store: EventStore<CartRecord>
  readonly readModel: CartReadModel
  /** The read model's consumer. */
  readonly projection: Consumer<CartRecord>
  /** The read model's progress (as GET /read-model). */
  readModelStatus(): ReadModelStatus
  /**
   * Rebuilds the read model: stops the consumer, deletes every row and resets the checkpoint to 0
   * in one transaction, and starts the consumer again, which replays every cart event.
   *
   * @returns once the consumer runs again (poll {@link readModelStatus} for lag 0)
   */
  rebuildReadModel(): Promise<void>
  /** Stops accepting requests, then stops the consumer and closes the store and the database. */
  close(): Promise<void>
}

/**
 * Opens the store and the read model in `options.dir`, starts the consumer and listens.
 *
 * @param options - `dir`, and optionally `port` (default 0), `host`, `sync`, `commandRetries`, `log`
 * @returns the running service
 * @example
 * ```ts
 * const service = await startServer({ dir: './cart-data', port: 3000 })
 * console.log(`listening on ${service.url}`)
 * ```
 */
export async function startServer(options: CartServiceOptions): Promise<CartService> {
  mkdirSync(options.dir, { recursive: true })
  const store = await EventStore.open<CartRecord>({
    dir: join(options.dir, 'events'),
    serializer: cartSerializer,
    sync: options.sync ?? 'always',
  })
  let readModel: CartReadModel | undefined
  try {
    readModel = CartReadModel.open(join(options.dir, 'read-model.sqlite'))
    const service = new RunningService(store, readModel, options)
    await service.start(options.port ?? 0, options.host ?? '127.0.0.1')
    return service
  } catch (err) {
    readModel?.close()
    await store.close()
    throw err
  }
}

class RunningService implements CartService {
  url = ''
  port = 0
  readonly store: EventStore<CartRecord>
  readonly readModel: CartReadModel
  readonly projection: Consumer<CartRecord>
  private readonly app: FastifyInstance
  private running = false
  /** The rebuild in progress: rebuilds and close wait for it rather than interleave with it. */
  private rebuilding: Promise<void> = Promise.resolve()

  constructor(store: EventStore<CartRecord>, readModel: CartReadModel, options: CartServiceOptions) {
    this.store = store
    this.readModel = readModel
    this.app = Fastify({ logger: options.log ?? false })
    this.projection = store.consumer({
      name: READ_MODEL_CONSUMER,
      filter: { streamPrefix: CART_STREAM_PREFIX },
      checkpoints: readModel.checkpoints,
      // One log read and one SQLite transaction per batch: large batches make a rebuild fast.
      batchSize: 2048,
      handler: (events) => readModel.apply(events),
      onError: (err) => {
        this.running = false
        this.app.log.error({ err }, 'the read model consumer stopped')
      },
    })
    registerRoutes(this.app, {
      store,
      readModel,
      commandRetries: options.commandRetries ?? 3,
      readModelStatus: () => this.readModelStatus(),
      rebuildReadModel: () => this.rebuildReadModel(),
    })
  }

  async start(port: number, host: string): Promise<void> {
    const checkpoint = await this.readModel.checkpoints.read(READ_MODEL_CONSUMER)
    if (checkpoint !== undefined && checkpoint > this.store.position) {
      // The read model has events the log does not (a log that lost its unsynced tail, or a database
      // from another data directory). The consumer would wait for the log to pass the checkpoint and
      // skip every event until then, so start the read model over.
      this.app.log.warn(
        { checkpoint, position: this.store.position },
        'read model ahead of the log: rebuilding',
      )
      await this.clearReadModel()
    }
    await this.startConsumer()
    try {
      await this.app.listen({ port, host })
    } catch (err) {
      await this.projection.stop()
      throw err
    }
    const address = this.app.server.address() as AddressInfo
    this.port = address.port
    this.url = `http://${host}:${address.port}`
  }

  readModelStatus(): ReadModelStatus {
    const error = this.projection.error
    return {
      position: this.projection.position,
      storePosition: this.store.position,
      lag: this.projection.lag,
      running: this.running,
      error: error === undefined ? null : String((error as Error)?.message ?? error),
    }
  }

  rebuildReadModel(): Promise<void> {
    const next = this.rebuilding.then(async () => {
      await this.projection.stop()
      this.running = false
      await this.clearReadModel()
      await this.startConsumer()
    })
    this.rebuilding = next.catch(() => {})
    return next
  }

  async close(): Promise<void> {
    await this.app.close()
    await this.rebuilding
    await this.projection.stop()
    await this.store.close()
    this.readModel.close()
  }

  /** Deletes every row and resets the checkpoint to 0, in one transaction (the consumer is stopped). */
  private clearReadModel(): Promise<void> {
    return this.readModel.transaction(async () => {
      this.readModel.clear()
      await this.projection.reset(0)
    })
  }

  private async startConsumer(): Promise<void> {
    await this.projection.start()
    this.running = true
  }
}
