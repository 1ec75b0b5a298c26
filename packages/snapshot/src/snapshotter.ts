import { silentLogger, type WalLogger } from '@waltz/core'
import { SnapshotError } from './errors.js'
import type { PreparedSnapshot, SavedSnapshot, SnapshotStore } from './store.js'

/** What a {@link Snapshotter} needs of a WAL: any `Wal` from `@waltz/core` fits. */
export interface SnapshotterWal {
  /** Makes every appended record durable. */
  sync(): Promise<void>
  /** Deletes whole segments whose records are all below `seq`. */
  truncateBefore(seq: number): Promise<number>
}

/** Options of {@link Snapshotter}. */
export interface SnapshotterOptions<S> {
  /** The WAL the state is derived from. */
  wal: SnapshotterWal
  /** Where snapshots go. */
  store: SnapshotStore<S>
  /** Take a snapshot once this many records were applied since the last one (default 10,000; `Infinity`: never). */
  everyRecords?: number
  /**
   * Take a snapshot once this many milliseconds passed since the last one and at least one record was
   * applied since (default 60,000; `Infinity`: never). Checked on each `recordApplied`, and by a timer
   * when `current` is given.
   */
  everyMs?: number
  /**
   * Returns the application's current state and the seq it includes. When given, an (unref'd) timer
   * also takes the `everyMs` snapshot while no records arrive.
   */
  current?: () => {
    /** The application's state. */
    state: S
    /** The seq of the last record applied to `state`. */
    seq: number
  }
  /** The seq of the newest existing snapshot, e.g. `recovered.snapshotSeq` (default 0). */
  lastSnapshotSeq?: number
  /**
   * After each durable snapshot, call `wal.truncateBefore(oldestRetained + 1)`, deleting the WAL
   * segments no retained snapshot needs (default false). The WAL then no longer holds the full history:
   * a replay from zero, an audit, or a new aggregate over old records becomes impossible, and recovery
   * depends on the snapshots (if all retained ones were lost or corrupt, `recover` fails with
   * `SNAPSHOT_GAP`). The records after the *oldest* retained snapshot are kept, so a corrupt newest
   * snapshot can still fall back to an older one.
   */
  truncate?: boolean
  /** Reports snapshots taken (`debug`: `snapshot start`, `snapshot saved`) and failures (`error`). */
  logger?: WalLogger
  /** Called when a background snapshot fails (it is also logged); the next one is tried as usual. */
  onError?: (err: unknown) => void
}

const DEFAULT_EVERY_RECORDS = 10_000
const DEFAULT_EVERY_MS = 60_000

/**
 * Takes snapshots as the application applies records, without wrapping the WAL: call
 * {@link Snapshotter.recordApplied} after applying each record (or batch) to the state. When a snapshot
 * is due, the state is encoded synchronously (the only time appends wait: the cost of copying the
 * state) and written in the background; one snapshot is in flight at a time.
 *
 * Before writing, the snapshotter awaits `wal.sync()`: a snapshot at seq S must never be durable while
 * records up to S are not, or after a power loss it would be ahead of the log (stale).
 *
 * @typeParam S - the state type
 * @example
 * ```ts
 * const snapshotter = new Snapshotter({ wal, store, everyRecords: 50_000, lastSnapshotSeq: rec.snapshotSeq })
 * const record = { type: 'clicked', time: Date.now(), data } // its time set here: the stored one
 * const seq = await wal.append(record)
 * state = aggregate.apply(state, { ...record, seq })
 * snapshotter.recordApplied(seq, state)
 * ```
 */
export class Snapshotter<S> {
  private readonly wal: SnapshotterWal
  private readonly store: SnapshotStore<S>
  private readonly everyRecords: number
  private readonly everyMs: number
  private readonly truncate: boolean
  private readonly logger: WalLogger
  private readonly onError: ((err: unknown) => void) | undefined
  private readonly timer: NodeJS.Timeout | undefined
  private lastSeq: number
  /** The seq of the oldest snapshot the store kept after this snapshotter's last save; 0 before. */
  private oldestRetained = 0
  private lastAt = Date.now()
  private inFlight: Promise<SavedSnapshot> | undefined
  private closed = false

  /**
   * @param options - see {@link SnapshotterOptions}; `wal` and `store` are required
   * @throws SnapshotError `SNAPSHOT_INVALID_ARGUMENT` for a non-positive interval
   */
  constructor(options: SnapshotterOptions<S>) {
    this.wal = options.wal
    this.store = options.store
    this.everyRecords = positive('everyRecords', options.everyRecords ?? DEFAULT_EVERY_RECORDS)
    this.everyMs = positive('everyMs', options.everyMs ?? DEFAULT_EVERY_MS)
    this.truncate = options.truncate === true
    this.logger = options.logger ?? silentLogger
    this.onError = options.onError
    this.lastSeq = options.lastSnapshotSeq ?? 0
    const current = options.current
    if (current !== undefined && Number.isFinite(this.everyMs)) {
      this.timer = setInterval(
        () => {
          if (this.inFlight !== undefined || Date.now() - this.lastAt < this.everyMs) return
          const { state, seq } = current()
          if (seq > this.lastSeq) this.background(state, seq)
        },
        Math.min(this.everyMs, 2 ** 31 - 1),
      )
      this.timer.unref()
    }
  }

  /** The seq of the newest snapshot started (or given as `lastSnapshotSeq`). */
  get lastSnapshotSeq(): number {
    return this.lastSeq
  }

  /**
   * For the WAL's `retention.keepFrom`: the first seq that recovery can still need, the one after the
   * oldest snapshot the store retained at this snapshotter's last save (so a damaged newest snapshot
   * can fall back to an older one). 0 until this snapshotter saved a snapshot: nothing is removed
   * before.
   *
   * @returns the lowest seq the WAL must keep
   * @example
   * ```ts
   * let snapshotter: Snapshotter<State> | undefined
   * const wal = await Wal.open({ dir, retention: { maxAgeMs: 7 * 86_400_000, keepFrom: () => snapshotter?.keepFrom() ?? 0 } })
   * snapshotter = new Snapshotter({ wal, store, lastSnapshotSeq: recovered.snapshotSeq })
   * ```
   */
  keepFrom(): number {
    return this.oldestRetained === 0 ? 0 : this.oldestRetained + 1
  }

  /** Whether a snapshot is being written. */
  get busy(): boolean {
    return this.inFlight !== undefined
  }

  /**
   * Tells the snapshotter the application's state now includes every record up to `seq`. When a
   * snapshot is due (and none is in flight) it encodes `state` now and saves it in the background;
   * failures go to `onError` and the logger.
   *
   * @param seq - the seq of the last record applied to `state`
   * @param state - the application's state
   * @returns true when a snapshot was started (or its encoding failed, which is reported to `onError`)
   * @throws SnapshotError `SNAPSHOT_CLOSED`
   */
  recordApplied(seq: number, state: S): boolean {
    if (this.closed) throw SnapshotError.CLOSED('the snapshotter is closed')
    if (this.inFlight !== undefined || seq <= this.lastSeq) return false
    const due = seq - this.lastSeq >= this.everyRecords || Date.now() - this.lastAt >= this.everyMs
    if (due) this.background(state, seq)
    return due
  }

  /**
   * Takes a snapshot now (after the one in flight, if any), whether due or not.
   *
   * @param state - the application's state
   * @param seq - the seq of the last record applied to `state`
   * @returns the saved snapshot
   * @throws SnapshotError `SNAPSHOT_CLOSED`, `SNAPSHOT_SERIALIZER_ERROR`, `SNAPSHOT_IO`; WalError from
   *   `wal.sync()` or `wal.truncateBefore()`
   */
  async snapshot(state: S, seq: number): Promise<SavedSnapshot> {
    if (this.closed) throw SnapshotError.CLOSED('the snapshotter is closed')
    const prepared = this.store.prepare(state, seq) // the copy, taken before waiting
    while (this.inFlight !== undefined) await this.inFlight.catch(() => {})
    return this.run(prepared)
  }

  /**
   * Resolves when no snapshot is in flight (never rejects: failures are reported to `onError`).
   *
   * @returns a promise for the moment the snapshotter is idle
   */
  async idle(): Promise<void> {
    while (this.inFlight !== undefined) await this.inFlight.catch(() => {})
  }

  /**
   * Stops the timer and waits for the snapshot in flight. The WAL and the store stay open.
   *
   * @returns a promise for the moment the snapshotter is closed
   */
  async close(): Promise<void> {
    this.closed = true
    if (this.timer !== undefined) clearInterval(this.timer)
    await this.idle()
  }

  private background(state: S, seq: number): void {
    const failed = (err: unknown): void => {
      this.logger.error('snapshot failed', { seq, error: String(err) })
      this.onError?.(err)
    }
    let prepared: PreparedSnapshot
    try {
      prepared = this.store.prepare(state, seq)
    } catch (err) {
      // Try again once due again, not on the very next record.
      this.lastAt = Date.now()
      this.lastSeq = seq
      failed(err)
      return
    }
    this.run(prepared).catch(failed)
  }

  private run(prepared: PreparedSnapshot): Promise<SavedSnapshot> {
    this.lastSeq = Math.max(this.lastSeq, prepared.seq)
    this.lastAt = Date.now()
    this.logger.debug('snapshot start', { seq: prepared.seq, bytes: prepared.bytes.byteLength })
    const run = (async () => {
      await this.wal.sync()
      const saved = await this.store.commit(prepared)
      this.logger.debug('snapshot saved', { seq: saved.seq, file: saved.file })
      if (saved.retained.length > 0) this.oldestRetained = Math.max(this.oldestRetained, saved.retained[0]!)
      if (this.truncate && saved.retained.length > 0) {
        const removed = await this.wal.truncateBefore(saved.retained[0]! + 1)
        this.logger.debug('wal truncated', { before: saved.retained[0]! + 1, removed })
      }
      return saved
    })()
    const tracked = run.finally(() => {
      if (this.inFlight === tracked) this.inFlight = undefined
    })
    this.inFlight = tracked
    tracked.catch(() => {}) // reported by the caller of run(); keep the tracking promise quiet
    return run
  }
}

function positive(name: string, value: number): number {
  if (!(value > 0)) {
    throw SnapshotError.INVALID_ARGUMENT(`${name} must be a positive number, got ${value}`)
  }
  return value
}
