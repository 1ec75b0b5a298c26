import { isWalError, type RecordShape, silentLogger, type WalLogger, type WalRecordOf } from '@waltz/core'
import type { Aggregate } from './aggregate.js'
import { SnapshotError } from './errors.js'
import type { SkippedSnapshot, SnapshotStore } from './store.js'

/**
 * What `recover()` needs of a WAL: a `Wal` or a `WalReader` from `@waltz/core` fits.
 *
 * @typeParam Rec - the WAL's record union, e.g. `RecordShape<'Deposited', Deposit> | RecordShape<'Withdrawn', Withdrawal>`
 */
export interface RecoverableWal<Rec extends RecordShape> {
  /** Oldest stored seq. */
  readonly firstSeq: number
  /** Newest seq. */
  readonly lastSeq: number
  /** Replays records after `seq`. */
  replayFrom(seq: number, handler: (record: WalRecordOf<Rec>) => void | Promise<void>): Promise<number>
  /**
   * A `Wal` has it, a `WalReader` has not: only the writer sets aside snapshots ahead of the log (for a
   * reader, the writer may simply be ahead of it).
   */
  readonly append?: unknown
}

/** Options of {@link recover}. */
export interface RecoverOptions<Rec extends RecordShape, S> {
  /** The open WAL. */
  wal: RecoverableWal<Rec>
  /** The snapshot store. */
  store: SnapshotStore<S>
  /** How records change the state. */
  aggregate: Aggregate<S, WalRecordOf<Rec>>
  /**
   * What to do with a snapshot whose seq is above `wal.lastSeq` (the WAL lost records the snapshot
   * includes). `'fallback'` (default): set it aside (renamed `*.stale`, never loaded again) and use an
   * older snapshot or replay from zero; `'throw'`: fail with `SNAPSHOT_STALE`. For a `WalReader`
   * such snapshots are always just passed over (the writer may simply be ahead of this reader).
   */
  onStale?: 'fallback' | 'throw'
  /** Where skipped and set-aside snapshots are reported (default: silent). */
  logger?: WalLogger
}

/** The result of {@link recover}. */
export interface Recovered<S> {
  /** The state after every record up to `seq`. */
  state: S
  /** The seq of the last record applied (the snapshot's when no record came after it; 0 for none). */
  seq: number
  /** The seq of the snapshot started from (0 when replayed from zero). */
  snapshotSeq: number
  /** The snapshot file started from, if any. */
  snapshotFile: string | undefined
  /** How many records were replayed on top of the snapshot. */
  replayed: number
  /** Newer snapshots passed over (corrupt or stale), newest first. */
  skipped: SkippedSnapshot[]
  /** How long recovery took, in milliseconds. */
  durationMs: number
}

/**
 * Rebuilds the state: loads the newest valid snapshot whose seq is at most `wal.lastSeq` and applies
 * every record after it (`wal.replayFrom`); with no usable snapshot, replays from zero. Restart time is
 * thus bounded by the records since the last snapshot. A corrupt newest snapshot is skipped and
 * reported; a stale one (ahead of the WAL) is handled as `onStale` says.
 *
 * @param options - the WAL, the store, the aggregate, and `onStale`
 * @returns the state, the seq it includes records up to, and what was used and skipped
 * @throws SnapshotError `SNAPSHOT_GAP` (the WAL no longer holds the records after the newest usable
 *   snapshot, or holds no snapshot-free start), `SNAPSHOT_STALE` (with `onStale: 'throw'`), and what
 *   `store.loadLatest()` throws; WalError from `replayFrom` (`WAL_CORRUPT`, `WAL_SERIALIZER_ERROR`,
 *   `WAL_IO`)
 * @example
 * ```ts
 * const { state, seq } = await recover({ wal, store, aggregate: balances })
 * ```
 */
export async function recover<Rec extends RecordShape, S>(
  options: RecoverOptions<Rec, S>,
): Promise<Recovered<S>> {
  const started = performance.now()
  const { wal, store, aggregate } = options
  const logger = options.logger ?? silentLogger
  const lastSeq = wal.lastSeq
  const skipped: SkippedSnapshot[] = []
  const loaded = await store.loadLatest({ maxSeq: lastSeq, onSkip: (s) => skipped.push(s) })
  const writer = typeof wal.append === 'function'
  const stale = writer ? skipped.filter((s) => s.code === 'SNAPSHOT_STALE') : []
  if (stale.length > 0 && options.onStale === 'throw') {
    throw SnapshotError.STALE(
      `snapshot ${stale[0]!.file} includes records up to ${stale[0]!.seq}, the WAL ends at ${lastSeq}`,
      stale[0]!,
    )
  }
  for (const s of stale) {
    // Once new records reuse these seqs, the snapshot would look valid: it must never be loaded again.
    await store.quarantine(s.file)
    logger.warn('snapshot ahead of the WAL set aside', { file: s.file, seq: s.seq, lastSeq })
  }

  const from = loaded?.seq ?? 0
  if (from < wal.firstSeq - 1) throw gap(from, wal.firstSeq, skipped)
  let state = loaded === undefined ? aggregate.initial() : loaded.state
  let seq = from
  let replayed: number
  try {
    replayed = await wal.replayFrom(from, (record) => {
      state = aggregate.apply(state, record)
      seq = record.seq
    })
  } catch (err) {
    if (isWalError(err, 'WAL_TRUNCATED')) throw gap(from, wal.firstSeq, skipped, err)
    throw err
  }
  const durationMs = performance.now() - started
  logger.info('recovered', { snapshotSeq: from, replayed, seq, durationMs })
  return { state, seq, snapshotSeq: from, snapshotFile: loaded?.file, replayed, skipped, durationMs }
}

function gap(from: number, firstSeq: number, skipped: SkippedSnapshot[], cause?: unknown): SnapshotError {
  const start = from === 0 ? 'no usable snapshot' : `the newest usable snapshot is at seq ${from}`
  const passed =
    skipped.length > 0 ? ` (skipped: ${skipped.map((s) => `${s.file}: ${s.reason}`).join('; ')})` : ''
  return SnapshotError.GAP(
    `${start}, but the WAL starts at seq ${firstSeq}: records in between were truncated${passed}`,
    { seq: from, cause },
  )
}
