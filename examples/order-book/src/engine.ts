// The engine: sequential decisions, concurrent durability. Each command is decided and applied to the
// in-memory book synchronously, in arrival order, and its events are handed to `wal.appendBatch` in the
// same synchronous step, so the WAL's order is the decision order. The command is acknowledged when its
// batch is durable; meanwhile later commands go on being decided, and their appends share fsyncs with
// it (group commit).
import { join } from 'node:path'
import { Wal } from '@waltz/core'
import { type Recovered, recover, SnapshotStore, Snapshotter } from '@waltz/snapshot'
import { applyEvent, type Book, orderBook } from './book.js'
import { decide } from './decide.js'
import type { Command, OrderEvent } from './events.js'
import { engineSerializer, type OrderRecord, type SerializerName, serializers } from './serializers.js'

/** What the engine needs of the WAL (any `Wal<OrderRecord>` fits). */
export interface EngineWal {
  readonly lastSeq: number
  appendBatch(events: readonly OrderEvent[]): Promise<number>
}

/** A durable command: the seq of its batch's last event, and the events. */
export interface Ack {
  seq: number
  events: OrderEvent[]
}

interface Queued {
  command: Command
  resolve: (ack: Ack) => void
  reject: (err: unknown) => void
}

/** Thrown for every command after the engine stopped. */
export class EngineStoppedError extends Error {
  constructor(cause: unknown) {
    super(`the engine stopped after a failed append; restart it from disk (${String(cause)})`, { cause })
    this.name = 'EngineStoppedError'
  }
}

export class Engine {
  /** The live book: includes decided commands whose append is not yet durable. */
  readonly book: Book
  private seq: number
  private readonly queue: Queued[] = []
  private gated = false
  private failure: EngineStoppedError | undefined
  /** Snapshots the snapshotter started on this engine's behalf. */
  snapshotsStarted = 0

  /**
   * @param wal - the open WAL, already replayed into `book`
   * @param book - the book as of `seq` (e.g. `recover()`'s state)
   * @param seq - the seq of the last event `book` includes
   * @param snapshotter - told about every applied batch, so it snapshots when due
   */
  constructor(
    private readonly wal: EngineWal,
    book: Book,
    seq: number,
    private readonly snapshotter?: Snapshotter<Book>,
  ) {
    this.book = book
    this.seq = seq
  }

  /** The seq of the last event applied to {@link book}. */
  get lastSeq(): number {
    return this.seq
  }

  /** Set once an append failed: the book is then ahead of the log and must not be used. */
  get stopped(): EngineStoppedError | undefined {
    return this.failure
  }

  /**
   * Decides, applies and appends a command. Resolves once its events are durable (for a WAL in
   * `'always'` mode); rejects if the append fails, which stops the engine.
   */
  submit(command: Command): Promise<Ack> {
    if (this.failure !== undefined) return Promise.reject(this.failure)
    if (this.gated || this.queue.length > 0) {
      return new Promise((resolve, reject) => this.queue.push({ command, resolve, reject }))
    }
    return this.process(command)
  }

  private process(command: Command): Promise<Ack> {
    let events: OrderEvent[]
    let appended: Promise<number>
    let sequenced: boolean
    try {
      events = decide(this.book, command)
      for (const event of events) applyEvent(this.book, event)
      const before = this.wal.lastSeq
      appended = this.wal.appendBatch(events)
      // The WAL numbers a batch synchronously unless it is waiting for buffer space, or failed to encode
      // it. Either way no later command may be decided until it settles: in the second case the book
      // already holds events that will never be in the log.
      sequenced = this.wal.lastSeq === before + events.length
    } catch (err) {
      return Promise.reject(this.stop(err))
    }
    if (sequenced) this.applied(this.wal.lastSeq)
    else this.gated = true
    return appended.then(
      (seq) => {
        if (!sequenced) {
          this.applied(seq)
          this.gated = false
          this.drain()
        }
        return { seq, events }
      },
      (err: unknown) => {
        throw this.stop(err)
      },
    )
  }

  private applied(seq: number): void {
    this.seq = seq
    if (this.snapshotter?.recordApplied(seq, this.book)) this.snapshotsStarted++
  }

  private drain(): void {
    while (!this.gated && this.failure === undefined && this.queue.length > 0) {
      const { command, resolve, reject } = this.queue.shift()!
      this.process(command).then(resolve, reject)
    }
  }

  private stop(err: unknown): EngineStoppedError {
    this.failure ??= new EngineStoppedError(err)
    for (const queued of this.queue.splice(0)) queued.reject(this.failure)
    return this.failure
  }
}

/** Options of {@link openEngine}. */
export interface OpenEngineOptions {
  /** The data directory: the WAL in `wal/`, snapshots in `snapshots/`. */
  dir: string
  /** Default: {@link engineSerializer}. */
  serializer?: SerializerName
  /** Snapshot every this many events (default 10,000). */
  snapshotEvery?: number
  /** WAL segment size (default 4 MiB: a restart from a snapshot reads at most about one segment). */
  segmentSize?: number
}

/** An engine on its WAL and snapshot store. */
export interface OpenedEngine {
  engine: Engine
  wal: Wal<OrderRecord>
  store: SnapshotStore<Book>
  snapshotter: Snapshotter<Book>
  /** How the book was rebuilt from disk. */
  recovered: Recovered<Book>
  /** Waits for the snapshot in flight, then closes the WAL (making every append durable). */
  close(): Promise<void>
}

/** Paths of a data directory. */
export function dataDirs(dir: string): { wal: string; snapshots: string } {
  return { wal: join(dir, 'wal'), snapshots: join(dir, 'snapshots') }
}

/**
 * Opens the WAL in `'always'` mode and the snapshot store, rebuilds the book with `recover()` (newest
 * snapshot + the WAL after it), and starts an engine and a snapshotter on it.
 */
export async function openEngine(options: OpenEngineOptions): Promise<OpenedEngine> {
  const dirs = dataDirs(options.dir)
  const wal = await Wal.open({
    dir: dirs.wal,
    serializer: serializers[options.serializer ?? engineSerializer](),
    sync: 'always',
    segmentSize: options.segmentSize ?? 4 * 1024 * 1024,
  })
  try {
    const store = await SnapshotStore.open<Book>({ dir: dirs.snapshots, keep: 2 })
    const recovered = await recover<OrderRecord, Book>({ wal, store, aggregate: orderBook })
    const snapshotter = new Snapshotter<Book>({
      wal,
      store,
      everyRecords: options.snapshotEvery ?? 10_000,
      everyMs: Number.POSITIVE_INFINITY,
      lastSnapshotSeq: recovered.snapshotSeq,
    })
    const engine = new Engine(wal, recovered.state, recovered.seq, snapshotter)
    const close = async (): Promise<void> => {
      await snapshotter.close()
      await wal.close()
    }
    return { engine, wal, store, snapshotter, recovered, close }
  } catch (err) {
    await wal.close().catch(() => {})
    throw err
  }
}
